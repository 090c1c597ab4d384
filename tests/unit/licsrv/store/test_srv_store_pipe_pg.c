/* test_srv_store_pipe_pg.c - store/pg/pipe.c: a group of registration claims
 * goes to PostgreSQL in one pipeline with its BEGIN and its COMMIT, one round
 * trip (store_stats.round_trips, /metrics licsrv_store_round_trips); a claim
 * that fails aborts the pipeline, and the COMMIT behind it is not taken as
 * committed: the group is rolled back and replayed one operation at a time,
 * each answered its own outcome, nothing committed twice, the read copy given
 * only the rows committed; a connection lost inside the pipeline answers the
 * group 503 and commits nothing; heartbeat rows and the clock mark go in
 * the same pipeline, and when they fail the claims still commit. Runs
 * against the server tests/unit/with_pg.py starts (LIC_TEST_PG_URL);
 * without it the tests are skipped, saying so. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "lic/err.h"
#include "lic/util.h"
#include "store/store.h"
#include "pgtest.h"
#include "testutil.h"

static const uint8_t A1[LIC_ID_LEN] = {0xa1};
static const uint8_t A2[LIC_ID_LEN] = {0xa2};

typedef struct {
  const char *url;
  store *s;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  tu_pg_reset();
  f->url = getenv("LIC_TEST_PG_URL");
  assert_int_equal(store_open(f->url, STORE_CREATE, &f->s), LIC_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  store_close(f->s);
  free(f);
  return 0;
}

/* ---- operations --------------------------------------------------------------- */

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  bool entered, released; /* the blocker's */
} waiter;

typedef struct {
  waiter *w;
  const uint8_t *acct;
  uint8_t project;
  int64_t capacity;
  bool put_account; /* the account, not a claim */
  bool blocker;     /* holds the writer until released (its group: nothing else) */
  store_claim claim;
  int rc;
  char detail[320];
} gop;

static int gapply(store_wtxn *w, void *arg) {
  gop *g = arg;
  if (g->blocker) {
    pthread_mutex_lock(&g->w->mu);
    g->w->entered = true;
    pthread_cond_broadcast(&g->w->cv);
    while (!g->w->released)
      pthread_cond_wait(&g->w->cv, &g->w->mu);
    pthread_mutex_unlock(&g->w->mu);
    return LIC_OK;
  }
  if (g->put_account)
    return store_w_account_put(w, g->acct, (const uint8_t *)"env", 3, 10);
  store_registration r = {0};
  memcpy(r.account, g->acct, LIC_ID_LEN);
  r.project_id[0] = g->project;
  snprintf(r.project, sizeof r.project, "P%u", g->project);
  r.created = r.last_valid = 100;
  /* routes/public.c's subject: a merged repeat is the account's own row */
  char acc[LIC_UUID_LEN + 1], pr[LIC_UUID_LEN + 1], subject[STORE_MAX_SUBJECT + 1];
  lic_uuid_format(r.account, acc);
  lic_uuid_format(r.project_id, pr);
  snprintf(subject, sizeof subject, "account:%s project:%s", acc, pr);
  return store_w_registration_claim(w, &r, g->capacity, 0, "public", "registration.add", subject,
                                    &g->claim);
}

static void gdone(void *arg, int rc, const char *detail) {
  gop *g = arg;
  g->rc = rc;
  snprintf(g->detail, sizeof g->detail, "%s", detail != NULL ? detail : "");
  pthread_mutex_lock(&g->w->mu);
  g->w->done++;
  pthread_cond_broadcast(&g->w->cv);
  pthread_mutex_unlock(&g->w->mu);
}

static void wait_done(waiter *w, int n) {
  pthread_mutex_lock(&w->mu);
  while (w->done < n)
    pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
}

/* g[0..n) as one group: the writer held by a blocker (a group of its own)
 * while they are queued; between hold and release the caller may queue more
 * (a heartbeat). */
static void hold(store *s, waiter *w, gop *blk) {
  memset(blk, 0, sizeof *blk);
  blk->w = w;
  blk->blocker = true;
  assert_int_equal(store_submit(s, gapply, gdone, blk), LIC_OK);
  pthread_mutex_lock(&w->mu);
  while (!w->entered)
    pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
}

static void queue(store *s, waiter *w, gop *g, int n) {
  for (int i = 0; i < n; i++) {
    g[i].w = w;
    assert_int_equal(store_submit(s, gapply, gdone, &g[i]), LIC_OK);
  }
}

static void release(waiter *w, int n) {
  pthread_mutex_lock(&w->mu);
  w->released = true;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  wait_done(w, n + 1);
}

static void one(store *s, gop *g) {
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, false};
  queue(s, &w, g, 1);
  wait_done(&w, 1);
}

static void accounts(store *s) {
  gop a = {.acct = A1, .put_account = true}, b = {.acct = A2, .put_account = true};
  one(s, &a);
  one(s, &b);
  assert_int_equal(a.rc, LIC_OK);
  assert_int_equal(b.rc, LIC_OK);
  gop warm = {.acct = A1, .project = 200, .capacity = 1000}; /* the claim's statement prepared */
  one(s, &warm);
  assert_int_equal(warm.rc, LIC_OK);
  assert_int_equal(warm.claim.outcome, STORE_CLAIM_NEW);
}

static void claims(gop *g, int n, int64_t capacity) {
  memset(g, 0, sizeof *g * (size_t)n);
  for (int i = 0; i < n; i++) {
    g[i].acct = i % 2 ? A2 : A1;
    g[i].project = (uint8_t)(i + 1);
    g[i].capacity = capacity;
  }
}

static uint64_t trips(store *s, uint64_t *commits) {
  store_stats st;
  store_stats_get(s, &st);
  if (commits != NULL)
    *commits = st.commits;
  return st.round_trips;
}

#define N 16

/* ---- tests -------------------------------------------------------------------- */

/* A group of claims: BEGIN, the claims and COMMIT in one pipeline, one wait
 * for PostgreSQL (before: two, the COMMIT a round trip of its own). The
 * blocker's group, with no statement, is one too. */
static void test_a_group_of_claims_is_one_round_trip(void **state) {
  fx *f = *state;
  gop blk, g[N];
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, false};
  accounts(f->s);
  uint64_t c0, c1, t0 = trips(f->s, &c0);
  claims(g, N, 1000);
  hold(f->s, &w, &blk);
  queue(f->s, &w, g, N);
  release(&w, N);
  uint64_t t1 = trips(f->s, &c1);
  for (int i = 0; i < N; i++) {
    assert_int_equal(g[i].rc, LIC_OK);
    assert_int_equal(g[i].claim.outcome, STORE_CLAIM_NEW);
  }
  assert_int_equal(c1 - c0, 2); /* the blocker's group and the claims' */
  assert_int_equal(t1 - t0, 2); /* one wait each */
  assert_int_equal(tu_pg_long("SELECT count(*) FROM licsrv_registrations"), N + 1);
  assert_int_equal(tu_pg_long("SELECT COALESCE(sum(count), 0) FROM licsrv_audit WHERE action = 'registration.add'"),
                   N + 1);
}

/* One claim fails in the database: the pipeline aborts, the COMMIT behind it
 * answers PGRES_PIPELINE_ABORTED and is not taken as committed. The group is
 * rolled back and replayed one by one: the failed claim alone answers its
 * error, each other one its own outcome (capacity 4 an account: new, then
 * full), every row and audit entry once, and the copy of a cached store
 * (licsrv serve's) holds exactly the committed rows. */
static void test_a_failed_claim_aborts_the_commit_behind_it(void **state) {
  fx *f = *state;
  store *srv = NULL;
  store_reader *rd = NULL;
  gop blk, g[N];
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, false};
  tu_pg_sql("CREATE FUNCTION fail5() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
         " IF NEW.project = 'P5' THEN RAISE EXCEPTION 'test: P5 refused'; END IF;"
         " RETURN NEW; END $f$;"
         "CREATE TRIGGER fail5 BEFORE INSERT ON licsrv_registrations"
         " FOR EACH ROW EXECUTE FUNCTION fail5()");
  assert_int_equal(store_open(f->url, STORE_CACHED, &srv), LIC_OK);
  assert_int_equal(store_reader_new(srv, &rd), LIC_OK);
  accounts(srv);
  uint64_t c0, c1;
  trips(srv, &c0);
  claims(g, N, 5); /* A1 holds project 200 already: 4 more */
  hold(srv, &w, &blk);
  queue(srv, &w, g, N);
  release(&w, N);
  trips(srv, &c1);
  assert_int_equal(c1 - c0, 2); /* the blocker's, and the claims' once (the replay) */
  int news = 0;
  for (int i = 0; i < N; i++) {
    store_registration r = {0};
    uint8_t pid[LIC_ID_LEN] = {0};
    pid[0] = g[i].project;
    assert_int_equal(store_reader_begin(rd), LIC_OK);
    int got = store_registration_get(rd, g[i].acct, pid, &r);
    store_reader_end(rd);
    if (g[i].project == 5) {
      assert_int_equal(g[i].rc, LIC_IO);
      assert_non_null(strstr(g[i].detail, "P5 refused"));
      assert_int_equal(got, LIC_NOTFOUND);
      continue;
    }
    assert_int_equal(g[i].rc, LIC_OK);
    assert_true(g[i].claim.outcome == STORE_CLAIM_NEW || g[i].claim.outcome == STORE_CLAIM_FULL);
    news += g[i].claim.outcome == STORE_CLAIM_NEW;
    assert_int_equal(got, g[i].claim.outcome == STORE_CLAIM_NEW ? LIC_OK : LIC_NOTFOUND);
  }
  assert_int_equal(news, 4 + 5); /* A1: 4 beside project 200; A2: 5 */
  assert_int_equal(tu_pg_long("SELECT count(*) FROM licsrv_registrations"), news + 1);
  assert_int_equal(tu_pg_long("SELECT COALESCE(sum(count), 0) FROM licsrv_audit WHERE action = 'registration.add'"),
                   news + 1);
  assert_int_equal(tu_pg_long("SELECT sum(nregs) FROM licsrv_accounts"), news + 1);
  store_reader_free(rd);
  store_close(srv);
}

/* The connection breaks inside the pipeline (a claim's trigger ends its own
 * backend): PostgreSQL's error came before the COMMIT, so nothing of the
 * group committed; the group is answered 503 (LIC_UNAVAILABLE), never
 * replayed, and the next group runs on a new connection. */
static void test_a_connection_lost_in_the_pipeline(void **state) {
  fx *f = *state;
  gop blk, g[N];
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, false};
  accounts(f->s);
  tu_pg_sql("CREATE FUNCTION kill7() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
         " IF NEW.project = 'P7' THEN PERFORM pg_terminate_backend(pg_backend_pid());"
         " PERFORM pg_sleep(5); END IF; RETURN NEW; END $f$;"
         "CREATE TRIGGER kill7 BEFORE INSERT ON licsrv_registrations"
         " FOR EACH ROW EXECUTE FUNCTION kill7()");
  claims(g, N, 1000);
  hold(f->s, &w, &blk);
  queue(f->s, &w, g, N);
  release(&w, N);
  for (int i = 0; i < N; i++)
    assert_int_equal(g[i].rc, LIC_UNAVAILABLE);
  assert_int_equal(tu_pg_long("SELECT count(*) FROM licsrv_registrations"), 1); /* the warm-up */
  assert_int_equal(tu_pg_long("SELECT sum(nregs) FROM licsrv_accounts"), 1);
  gop again = {.acct = A2, .project = 9, .capacity = 1000};
  one(f->s, &again);
  assert_int_equal(again.rc, LIC_OK);
  assert_int_equal(again.claim.outcome, STORE_CLAIM_NEW);
}

/* Heartbeat rows and a clock mark to write: they go behind the claims in
 * the same pipeline, before the COMMIT: still one wait, all in one commit. */
static void test_heartbeat_rows_ride_in_the_pipeline(void **state) {
  fx *f = *state;
  gop blk, g[N];
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, false};
  accounts(f->s);
  uint64_t c0, c1, t0 = trips(f->s, &c0);
  claims(g, N, 1000);
  hold(f->s, &w, &blk);
  queue(f->s, &w, g, N);
  assert_int_equal(store_node_seen(f->s, A1, "node-1", 1234), LIC_OK);
  store_clock_hwm_note(f->s, 5678);
  release(&w, N);
  uint64_t t1 = trips(f->s, &c1);
  for (int i = 0; i < N; i++)
    assert_int_equal(g[i].rc, LIC_OK);
  assert_int_equal(c1 - c0, 2);
  assert_int_equal(t1 - t0, 2);
  assert_int_equal(tu_pg_long("SELECT last_seen FROM licsrv_nodes WHERE node = 'node-1'"), 1234);
  assert_int_equal(tu_pg_long("SELECT clock_hwm FROM licsrv_meta"), 5678);
  assert_int_equal(tu_pg_long("SELECT count(*) FROM licsrv_registrations"), N + 1);
  /* a flush with nothing else: one wait too */
  assert_int_equal(store_node_seen(f->s, A1, "node-2", 2345), LIC_OK);
  t0 = trips(f->s, &c0);
  assert_int_equal(store_flush(f->s), LIC_OK);
  t1 = trips(f->s, &c1);
  assert_int_equal(c1 - c0, 1);
  assert_int_equal(t1 - t0, 1);
  assert_int_equal(tu_pg_long("SELECT last_seen FROM licsrv_nodes WHERE node = 'node-2'"), 2345);
}

/* The heartbeat rows fail in the database behind the claims: the pipeline
 * aborts, the COMMIT is not taken; the replay commits the claims and drops
 * the rows (their own savepoint), as a failed batch always was. */
static void test_heartbeat_rows_that_fail_do_not_fail_the_claims(void **state) {
  fx *f = *state;
  gop blk, g[N];
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, false};
  accounts(f->s);
  tu_pg_sql("CREATE FUNCTION failnode() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
         " RAISE EXCEPTION 'test: node refused'; END $f$;"
         "CREATE TRIGGER failnode BEFORE INSERT ON licsrv_nodes"
         " FOR EACH ROW EXECUTE FUNCTION failnode()");
  uint64_t c0, c1;
  trips(f->s, &c0);
  claims(g, N, 1000);
  hold(f->s, &w, &blk);
  queue(f->s, &w, g, N);
  assert_int_equal(store_node_seen(f->s, A1, "node-1", 1234), LIC_OK);
  release(&w, N);
  trips(f->s, &c1);
  for (int i = 0; i < N; i++) {
    assert_int_equal(g[i].rc, LIC_OK);
    assert_int_equal(g[i].claim.outcome, STORE_CLAIM_NEW);
  }
  assert_int_equal(c1 - c0, 2);
  assert_int_equal(tu_pg_long("SELECT count(*) FROM licsrv_nodes"), 0);
  assert_int_equal(tu_pg_long("SELECT count(*) FROM licsrv_registrations"), N + 1);
  assert_int_equal(tu_pg_long("SELECT COALESCE(sum(count), 0) FROM licsrv_audit WHERE action = 'registration.add'"),
                   N + 1);
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_a_group_of_claims_is_one_round_trip),
      T(test_a_failed_claim_aborts_the_commit_behind_it),
      T(test_a_connection_lost_in_the_pipeline),
      T(test_heartbeat_rows_ride_in_the_pipeline),
      T(test_heartbeat_rows_that_fail_do_not_fail_the_claims),
  };
  if (getenv("LIC_TEST_PG_URL") == NULL || getenv("LIC_TEST_PG_URL")[0] == '\0') {
    printf("SKIPPED: the pipeline tests need LIC_TEST_PG_URL (tests/unit/with_pg.py sets it)\n");
    return 0;
  }
  return _cmocka_run_group_tests("store_pipe_pg", tests, sizeof tests / sizeof tests[0], NULL,
                                 NULL);
}
