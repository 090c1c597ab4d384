/* test_srv_store_counts_pg.c - an account's registration count, which the
 * capacity check reads (store_w_registration_count) and a verify reports
 * (store_registration_count), after every kind of change: register, register
 * again, unregister, delete_all, the TTL release, purge, forget, an account
 * deleted and imported again, the claim (store_w_registration_claim) and the
 * unregistration in one call (store_w_registration_release); on
 * both backends, each keeping it stored (LMDB in its regcounts database since
 * schema 2, PostgreSQL in licsrv_accounts.nregs since schema version 3) and
 * equal to the rows. LMDB alone: a schema 1 store with registrations is
 * counted at its first writable open, and walked when opened read-only.
 * PostgreSQL alone: a
 * database of schema version 2 with registrations migrates to the right
 * counts, and a cached store (`licsrv serve`'s) puts its own registration
 * changes in its copy without reading the account again while another
 * process's arrive row by row within a second. Runs against the server
 * tests/unit/with_pg.py starts (LIC_TEST_PG_URL); without it the PostgreSQL
 * group is skipped, saying so. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <lmdb.h>

#include "lic/err.h"
#include "lic/util.h"
#include "store/pg/internal.h"
#include "store/store.h"
#include "pgtest.h"
#include "testutil.h"

enum { BK_LMDB, BK_PG };
static const int BACKEND_LMDB = BK_LMDB, BACKEND_PG = BK_PG;

static const uint8_t A1[LIC_ID_LEN] = {0xa1};
static const uint8_t A2[LIC_ID_LEN] = {0xa2};
static const uint8_t A3[LIC_ID_LEN] = {0xa3};
#define DAY 86400

typedef struct {
  int backend;
  char *dir;
  const char *where;
  store *s;
  store_reader *rd;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->backend = *(const int *)*state;
  f->dir = tu_tmpdir();
  f->where = tu_pg_store_where(f->backend == BK_PG, f->dir);
  assert_int_equal(store_open(f->where, STORE_CREATE, &f->s), LIC_OK);
  assert_int_equal(store_reader_new(f->s, &f->rd), LIC_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  store_reader_free(f->rd);
  store_close(f->s);
  tu_rmtree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

/* ---- writes ----------------------------------------------------------------- */

enum { W_ACCT_PUT, W_ACCT_DELETE, W_ACCT_REVOKE, W_REG_PUT, W_REG_DELETE, W_REG_DELALL,
       W_CLAIM, W_RELEASE, W_COUNT };

typedef struct {
  int what;
  const uint8_t *id;
  uint8_t project;
  int64_t when;
  size_t n;
  int64_t capacity; /* W_CLAIM */
  store_claim claim;
  store_release release; /* W_RELEASE */
} op;

static int apply(store_wtxn *w, void *arg) {
  op *o = arg;
  store_account a;
  store_registration g = {0};
  uint8_t pid[LIC_ID_LEN] = {0};
  int rc;
  pid[0] = o->project;
  switch (o->what) {
  case W_ACCT_PUT: return store_w_account_put(w, o->id, (const uint8_t *)"env", 3, 10);
  case W_ACCT_DELETE: return store_w_account_delete(w, o->id);
  case W_ACCT_REVOKE: return store_w_account_revoke(w, o->id, 20);
  case W_REG_PUT:
  case W_CLAIM:
    memcpy(g.account, o->id, LIC_ID_LEN);
    memcpy(g.project_id, pid, LIC_ID_LEN);
    snprintf(g.project, sizeof g.project, "P%u", o->project);
    g.created = g.last_valid = o->when;
    if (o->what == W_CLAIM) {
      /* the subject of routes/public.c: merged repeats (token "public") are
       * one row per account and project, taken under that account's lock */
      char acc[LIC_UUID_LEN + 1], pr[LIC_UUID_LEN + 1], subject[STORE_MAX_SUBJECT + 1];
      lic_uuid_format(o->id, acc);
      lic_uuid_format(pid, pr);
      snprintf(subject, sizeof subject, "account:%s project:%s", acc, pr);
      return store_w_registration_claim(w, &g, o->capacity, 0, "public", "registration.add",
                                        subject, &o->claim);
    }
    return store_w_registration_put(w, &g);
  case W_REG_DELETE: return store_w_registration_delete(w, o->id, pid);
  case W_REG_DELALL: return store_w_registration_delete_all(w, o->id, &o->n);
  case W_RELEASE:
    return store_w_registration_release(w, o->id, pid, o->when, "public", "registration.remove",
                                        "release-test", &o->release);
  default:
    /* as the capacity check reads it: with the account's lock first, when
     * there is an account */
    rc = store_w_account_get(w, o->id, &a);
    if (rc == LIC_OK)
      store_account_clear(&a);
    else if (rc != LIC_NOTFOUND)
      return rc;
    return store_w_registration_count(w, o->id, &o->n);
  }
}

static void write_on(store *s, int what, const uint8_t *id, uint8_t project, int64_t when) {
  op o = {.what = what, .id = id, .project = project, .when = when};
  assert_int_equal(store_write(s, apply, &o), LIC_OK);
}

static size_t wcount(store *s, const uint8_t *id) {
  op o = {.what = W_COUNT, .id = id, .n = 99};
  assert_int_equal(store_write(s, apply, &o), LIC_OK);
  return o.n;
}

static size_t rcount(store_reader *rd, const uint8_t *id) {
  size_t n = 99;
  assert_int_equal(store_reader_begin(rd), LIC_OK);
  assert_int_equal(store_registration_count(rd, id, &n), LIC_OK);
  store_reader_end(rd);
  return n;
}

static int count_row(const store_registration *g, void *arg) {
  (void)g;
  (*(size_t *)arg)++;
  return 0;
}

/* The registrations themselves, walked. */
static size_t rows(store_reader *rd, const uint8_t *id) {
  size_t n = 0;
  assert_int_equal(store_reader_begin(rd), LIC_OK);
  assert_int_equal(store_registration_each(rd, id, count_row, &n), LIC_OK);
  store_reader_end(rd);
  return n;
}

/* The writer's count, the reader's, and the rows agree (the counts are
 * stored: LMDB's regcounts, PostgreSQL's nregs). */
static void counts(fx *f, const uint8_t *id, size_t want) {
  assert_int_equal(wcount(f->s, id), want);
  assert_int_equal(rcount(f->rd, id), want);
  assert_int_equal(rows(f->rd, id), want);
}

/* ---- both backends ------------------------------------------------------------ */

static void test_counts_follow_every_change(void **state) {
  fx *f = *state;
  store_counts c;
  size_t n;
  int64_t now = 1000 * DAY;
  write_on(f->s, W_ACCT_PUT, A1, 0, 0);
  write_on(f->s, W_ACCT_PUT, A2, 0, 0);
  counts(f, A1, 0);
  for (uint8_t p = 1; p <= 4; p++)
    write_on(f->s, W_REG_PUT, A1, p, now - (p <= 2 ? 40 : 1) * DAY);
  write_on(f->s, W_REG_PUT, A2, 1, now);
  counts(f, A1, 4);
  write_on(f->s, W_REG_PUT, A1, 4, now); /* the same project again: no second slot */
  counts(f, A1, 4);
  write_on(f->s, W_REG_DELETE, A1, 3, 0); /* unregister */
  counts(f, A1, 3);
  op miss = {.what = W_REG_DELETE, .id = A1, .project = 3};
  assert_int_equal(store_write(f->s, apply, &miss), LIC_NOTFOUND); /* twice: nothing */
  counts(f, A1, 3);
  /* the TTL release: projects 1 and 2 were last valid 40 days ago */
  assert_int_equal(store_registration_release_idle(f->s, now, 30, &n), LIC_OK);
  assert_int_equal(n, 2);
  counts(f, A1, 1);
  counts(f, A2, 1);
  /* purge keeps registrations */
  assert_int_equal(store_purge(f->s, now, 1, "cli:test", &c), LIC_OK);
  counts(f, A1, 1);
  op all = {.what = W_REG_DELALL, .id = A1};
  assert_int_equal(store_write(f->s, apply, &all), LIC_OK);
  assert_int_equal(all.n, 1);
  counts(f, A1, 0);
  counts(f, A2, 1);
  /* forget: the account and its registrations */
  write_on(f->s, W_REG_PUT, A1, 7, now);
  write_on(f->s, W_REG_PUT, A1, 8, now);
  counts(f, A1, 2);
  assert_int_equal(store_forget(f->s, STORE_SUBJECT_ACCOUNT, A1, "cli:test", &c), LIC_OK);
  assert_int_equal(c.registrations, 2);
  counts(f, A1, 0);
  write_on(f->s, W_ACCT_PUT, A1, 0, 0); /* imported again: starts empty */
  counts(f, A1, 0);
  counts(f, A2, 1);
}

/* The claim (a registration's steps in one call): each outcome, the count it
 * reports, and an audit entry for a new registration only. */
static int audit_cb(const store_audit *a, void *arg) {
  /* events: LMDB merges the public listener's repeats into one entry */
  if (strncmp(a->subject, "account:", 8) == 0 && strcmp(a->action, "registration.add") == 0)
    (*(int *)arg) += a->count > 1 ? (int)a->count : 1;
  return LIC_OK;
}

static store_claim claim(fx *f, const uint8_t *id, uint8_t project, int64_t capacity) {
  op o = {.what = W_CLAIM, .id = id, .project = project, .when = 500, .capacity = capacity};
  memset(&o.claim, 0x5a, sizeof o.claim);
  assert_int_equal(store_write(f->s, apply, &o), LIC_OK);
  return o.claim;
}

static void test_claim_outcomes(void **state) {
  fx *f = *state;
  store_claim c = claim(f, A1, 1, 2);
  assert_int_equal(c.outcome, STORE_CLAIM_NO_ACCOUNT);
  assert_int_equal(c.used, 0);
  counts(f, A1, 0);
  write_on(f->s, W_ACCT_PUT, A1, 0, 0);
  c = claim(f, A1, 1, 2);
  assert_int_equal(c.outcome, STORE_CLAIM_NEW);
  assert_int_equal(c.used, 1);
  c = claim(f, A1, 1, 2);
  assert_int_equal(c.outcome, STORE_CLAIM_EXISTS);
  assert_int_equal(c.used, 1);
  c = claim(f, A1, 2, 2);
  assert_int_equal(c.outcome, STORE_CLAIM_NEW);
  assert_int_equal(c.used, 2);
  c = claim(f, A1, 3, 2);
  assert_int_equal(c.outcome, STORE_CLAIM_FULL);
  assert_int_equal(c.used, 2);
  c = claim(f, A1, 2, 2); /* registered already, full or not */
  assert_int_equal(c.outcome, STORE_CLAIM_EXISTS);
  c = claim(f, A1, 3, 0);
  assert_int_equal(c.outcome, STORE_CLAIM_FULL);
  counts(f, A1, 2);
  store_registration g;
  uint8_t pid[LIC_ID_LEN] = {2};
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_registration_get(f->rd, A1, pid, &g), LIC_OK);
  assert_string_equal(g.project, "P2");
  assert_int_equal(g.created, 500);
  assert_int_equal(g.last_valid, 500);
  int k = 0;
  assert_int_equal(store_audit_each(f->rd, 0, NULL, audit_cb, &k), LIC_OK);
  assert_int_equal(k, 2); /* one per new registration */
  store_reader_end(f->rd);
  write_on(f->s, W_ACCT_REVOKE, A1, 0, 0);
  c = claim(f, A1, 4, 10);
  assert_int_equal(c.outcome, STORE_CLAIM_REVOKED);
  counts(f, A1, 2);
}

/* The unregistration in one call: each outcome, the count it reports, an
 * audit entry only when a registration went. */
static int audit_rm_cb(const store_audit *a, void *arg) {
  if (strcmp(a->subject, "release-test") == 0 && strcmp(a->action, "registration.remove") == 0 &&
      a->time == 700)
    (*(int *)arg)++;
  return LIC_OK;
}

static store_release release(fx *f, const uint8_t *id, uint8_t project) {
  op o = {.what = W_RELEASE, .id = id, .project = project, .when = 700};
  memset(&o.release, 0x5a, sizeof o.release);
  assert_int_equal(store_write(f->s, apply, &o), LIC_OK);
  return o.release;
}

static void test_release_outcomes(void **state) {
  fx *f = *state;
  store_release r = release(f, A1, 1);
  assert_int_equal(r.outcome, STORE_RELEASE_NO_ACCOUNT);
  assert_int_equal(r.used, 0);
  write_on(f->s, W_ACCT_PUT, A1, 0, 0);
  r = release(f, A1, 1);
  assert_int_equal(r.outcome, STORE_RELEASE_ABSENT);
  assert_int_equal(r.used, 0);
  for (uint8_t p = 1; p <= 3; p++)
    assert_int_equal(claim(f, A1, p, 10).outcome, STORE_CLAIM_NEW);
  r = release(f, A1, 2);
  assert_int_equal(r.outcome, STORE_RELEASE_REMOVED);
  assert_int_equal(r.used, 2);
  counts(f, A1, 2);
  r = release(f, A1, 2); /* twice: nothing more */
  assert_int_equal(r.outcome, STORE_RELEASE_ABSENT);
  assert_int_equal(r.used, 2);
  counts(f, A1, 2);
  int k = 0;
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_audit_each(f->rd, 0, NULL, audit_rm_cb, &k), LIC_OK);
  store_reader_end(f->rd);
  assert_int_equal(k, 1); /* the one that removed a registration */
  assert_int_equal(claim(f, A1, 2, 3).outcome, STORE_CLAIM_NEW); /* the slot is free again */
  write_on(f->s, W_ACCT_REVOKE, A1, 0, 0);
  r = release(f, A1, 1);
  assert_int_equal(r.outcome, STORE_RELEASE_REVOKED);
  assert_int_equal(r.used, 0);
  counts(f, A1, 3); /* a revoked account's registrations stay */
}

/* PostgreSQL: the writer's connection dies while idle (the server
 * restarted, a failover). The next group's BEGIN, sent ahead with its
 * claims, fails on it; nothing of the group reached a commit, so the writer
 * reconnects and runs it again instead of answering 503. */
static void test_pg_dead_idle_connection(void **state) {
  fx *f = *state;
  write_on(f->s, W_ACCT_PUT, A1, 0, 0);
  for (int round = 0; round < 3; round++) {
    assert_true(tu_pg_long("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND backend_type = 'client backend'") >= 1);
    /* a claim (sent ahead), an unregistration (a statement that waits) */
    assert_int_equal(claim(f, A1, (uint8_t)(round + 1), 10).outcome, STORE_CLAIM_NEW);
    assert_true(tu_pg_long("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND backend_type = 'client backend'") >= 1);
    assert_int_equal(release(f, A1, (uint8_t)(round + 1)).outcome, STORE_RELEASE_REMOVED);
  }
  counts(f, A1, 0);
}

/* A group of claims (PostgreSQL sends them ahead without waiting for each):
 * one fails in the database; the others still count and are in, the failed
 * one alone answers its error, and the count matches the rows. */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
} waiter;

typedef struct {
  waiter *w;
  op o;
  int rc;
} gop;

static int gapply(store_wtxn *w, void *arg) { return apply(w, &((gop *)arg)->o); }

static void gdone(void *arg, int rc, const char *detail) {
  gop *g = arg;
  (void)detail;
  g->rc = rc;
  pthread_mutex_lock(&g->w->mu);
  g->w->done++;
  pthread_cond_broadcast(&g->w->cv);
  pthread_mutex_unlock(&g->w->mu);
}

#define NGROUP 12

static void run_group(fx *f, gop *g, int n) {
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
  for (int i = 0; i < n; i++) {
    g[i].w = &w;
    assert_int_equal(store_submit(f->s, gapply, gdone, &g[i]), LIC_OK);
  }
  pthread_mutex_lock(&w.mu);
  while (w.done < n)
    pthread_cond_wait(&w.cv, &w.mu);
  pthread_mutex_unlock(&w.mu);
}

static void test_claims_in_one_group(void **state) {
  fx *f = *state;
  gop g[NGROUP];
  write_on(f->s, W_ACCT_PUT, A1, 0, 0);
  write_on(f->s, W_ACCT_PUT, A2, 0, 0);
  if (f->backend == BK_PG) /* project 5 fails in the database, after its count */
    tu_pg_sql("CREATE FUNCTION fail5() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
           " IF NEW.project = 'P5' THEN RAISE EXCEPTION 'test: P5 refused'; END IF;"
           " RETURN NEW; END $f$;"
           "CREATE TRIGGER fail5 BEFORE INSERT ON licsrv_registrations"
           " FOR EACH ROW EXECUTE FUNCTION fail5()");
  memset(g, 0, sizeof g);
  for (int i = 0; i < NGROUP; i++) {
    g[i].o.what = W_CLAIM;
    g[i].o.id = i % 2 ? A2 : A1;
    g[i].o.project = (uint8_t)(i + 1);
    g[i].o.when = 100;
    g[i].o.capacity = 4;
  }
  g[NGROUP - 1].o.project = 1; /* A2's project 1 is not A1's: new */
  run_group(f, g, NGROUP);
  int news = 0, full = 0;
  for (int i = 0; i < NGROUP; i++) {
    if (f->backend == BK_PG && g[i].o.project == 5) {
      assert_int_not_equal(g[i].rc, LIC_OK);
      continue;
    }
    assert_int_equal(g[i].rc, LIC_OK);
    news += g[i].o.claim.outcome == STORE_CLAIM_NEW;
    full += g[i].o.claim.outcome == STORE_CLAIM_FULL;
    assert_true(g[i].o.claim.outcome == STORE_CLAIM_NEW ||
                g[i].o.claim.outcome == STORE_CLAIM_FULL);
  }
  assert_int_equal(news, 8); /* 4 each: capacity, never more */
  assert_int_equal(full, f->backend == BK_PG ? NGROUP - 8 - 1 : NGROUP - 8);
  counts(f, A1, 4);
  counts(f, A2, 4);
  if (f->backend == BK_PG)
    assert_int_equal(tu_pg_long("SELECT count(*) FROM licsrv_registrations"), 8);
}

/* Registrations may outlive their account (a plain delete leaves them): the
 * count is of the registrations, with or without the account's row. */
static void test_counts_without_the_account(void **state) {
  fx *f = *state;
  write_on(f->s, W_REG_PUT, A3, 1, 100); /* no account */
  write_on(f->s, W_REG_PUT, A3, 2, 100);
  counts(f, A3, 2);
  write_on(f->s, W_ACCT_PUT, A3, 0, 0); /* the account comes after them */
  counts(f, A3, 2);
  write_on(f->s, W_REG_PUT, A3, 3, 100);
  counts(f, A3, 3);
  write_on(f->s, W_ACCT_DELETE, A3, 0, 0);
  counts(f, A3, 3);
  write_on(f->s, W_REG_DELETE, A3, 1, 0);
  counts(f, A3, 2);
  write_on(f->s, W_ACCT_PUT, A3, 0, 0);
  counts(f, A3, 2);
}

/* ---- LMDB: a store from before the counts (schema 1) -------------------------- */

/* What a licsrv without the counts left: no regcounts database, schema 1. */
static void lmdb_to_schema1(const char *dir) {
  char path[4096];
  MDB_env *e = NULL;
  MDB_txn *t = NULL;
  MDB_dbi meta, rc;
  uint8_t one[8] = {0, 0, 0, 0, 0, 0, 0, 1};
  MDB_val k = {6, (void *)(uintptr_t) "schema"}, v = {8, one};
  snprintf(path, sizeof path, "%s/store", dir);
  assert_int_equal(mdb_env_create(&e), 0);
  assert_int_equal(mdb_env_set_maxdbs(e, 16), 0);
  assert_int_equal(mdb_env_set_mapsize(e, (size_t)1 << 30), 0);
  assert_int_equal(mdb_env_open(e, path, MDB_NOTLS, 0600), 0);
  assert_int_equal(mdb_txn_begin(e, NULL, 0, &t), 0);
  assert_int_equal(mdb_dbi_open(t, "regcounts", 0, &rc), 0);
  assert_int_equal(mdb_drop(t, rc, 1), 0);
  assert_int_equal(mdb_dbi_open(t, "meta", 0, &meta), 0);
  assert_int_equal(mdb_put(t, meta, &k, &v, 0), 0);
  assert_int_equal(mdb_txn_commit(t), 0);
  mdb_env_close(e);
}

static uint32_t schema_of(store_reader *rd) {
  store_meta m;
  assert_int_equal(store_reader_begin(rd), LIC_OK);
  assert_int_equal(store_meta_get(rd, &m), LIC_OK);
  store_reader_end(rd);
  return m.schema;
}

static void test_lmdb_old_store_counted(void **state) {
  fx *f = *state;
  write_on(f->s, W_ACCT_PUT, A1, 0, 0);
  write_on(f->s, W_ACCT_PUT, A2, 0, 0);
  for (uint8_t p = 1; p <= 5; p++)
    write_on(f->s, W_REG_PUT, A1, p, 100);
  write_on(f->s, W_REG_PUT, A2, 1, 100);
  write_on(f->s, W_REG_PUT, A3, 1, 100); /* without its account */
  assert_int_equal(schema_of(f->rd), STORE_SCHEMA_VERSION);
  store_reader_free(f->rd);
  f->rd = NULL;
  store_close(f->s);
  f->s = NULL;
  lmdb_to_schema1(f->dir);
  /* read-only: nothing written, the counts walked */
  store *ro = NULL;
  store_reader *rrd = NULL;
  assert_int_equal(store_open(f->where, STORE_RDONLY, &ro), LIC_OK);
  assert_int_equal(store_reader_new(ro, &rrd), LIC_OK);
  assert_int_equal(schema_of(rrd), 1);
  assert_int_equal(rcount(rrd, A1), 5);
  assert_int_equal(rcount(rrd, A2), 1);
  assert_int_equal(rcount(rrd, A3), 1);
  store_reader_free(rrd);
  store_close(ro);
  /* the first writable open counts them once and says the newest schema
   * (3 since the per-account record counts, test_srv_store_usage.c) */
  assert_int_equal(store_open(f->where, 0, &f->s), LIC_OK);
  assert_int_equal(store_reader_new(f->s, &f->rd), LIC_OK);
  assert_int_equal(schema_of(f->rd), STORE_SCHEMA_VERSION);
  counts(f, A1, 5);
  counts(f, A2, 1);
  counts(f, A3, 1);
  /* and kept from here on, across a reopen */
  write_on(f->s, W_REG_PUT, A1, 10, 100);
  write_on(f->s, W_REG_DELETE, A1, 1, 0);
  write_on(f->s, W_REG_DELETE, A1, 2, 0);
  write_on(f->s, W_REG_DELETE, A3, 1, 0);
  counts(f, A1, 4);
  counts(f, A3, 0);
  store_reader_free(f->rd);
  f->rd = NULL;
  store_close(f->s);
  f->s = NULL;
  assert_int_equal(store_open(f->where, STORE_RDONLY, &ro), LIC_OK);
  assert_int_equal(store_reader_new(ro, &rrd), LIC_OK);
  assert_int_equal(schema_of(rrd), STORE_SCHEMA_VERSION);
  assert_int_equal(rcount(rrd, A1), 4);
  assert_int_equal(rcount(rrd, A2), 1);
  store_reader_free(rrd);
  store_close(ro);
  assert_int_equal(store_open(f->where, 0, &f->s), LIC_OK);
  assert_int_equal(store_reader_new(f->s, &f->rd), LIC_OK);
  counts(f, A1, 4);
}

/* PostgreSQL: two processes' groups of claims on the same accounts, each
 * group's accounts in the opposite order. Sent in the order they came, the
 * two transactions took the accounts' row locks crosswise and deadlocked
 * (PostgreSQL broke it after a second); sent ordered by account they queue
 * behind each other and none deadlocks. */
static void test_pg_groups_of_two_processes_never_deadlock(void **state) {
  fx *f = *state;
  store *s2 = NULL;
  const uint8_t *accts[4] = {A1, A2, A3, A1};
  for (int a = 0; a < 3; a++)
    write_on(f->s, W_ACCT_PUT, accts[a], 0, 0);
  assert_int_equal(store_open(f->where, 0, &s2), LIC_OK);
  long dl0 = tu_pg_long("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()");
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
  enum { ROUNDS = 60, PER = 6 };
  static gop g[ROUNDS][2][PER];
  int expect = 0;
  for (int r = 0; r < ROUNDS; r++) /* both handles' queues fill at once: large groups */
    for (int k = 0; k < PER; k++)
      for (int h = 0; h < 2; h++) {
        gop *o = &g[r][h][k];
        memset(o, 0, sizeof *o);
        o->w = &w;
        o->o.what = W_CLAIM;
        /* handle 0: A1, A2, A3...; handle 1: A3, A2, A1... */
        o->o.id = accts[h == 0 ? k % 3 : 2 - k % 3];
        o->o.when = 100;
        o->o.capacity = 1000;
        o->o.project = (uint8_t)(k + 1); /* the same projects again: cheap, still locked */
        assert_int_equal(store_submit(h == 0 ? f->s : s2, gapply, gdone, o), LIC_OK);
        expect++;
      }
  pthread_mutex_lock(&w.mu);
  while (w.done < expect)
    pthread_cond_wait(&w.cv, &w.mu);
  pthread_mutex_unlock(&w.mu);
  for (int r = 0; r < ROUNDS; r++)
    for (int h = 0; h < 2; h++)
      for (int k = 0; k < PER; k++)
        assert_int_equal(g[r][h][k].rc, LIC_OK);
  store_close(s2);
  struct timespec ts = {1, 500000000}; /* backends report their counts within a second */
  nanosleep(&ts, NULL);
  assert_int_equal(tu_pg_long("SELECT deadlocks FROM pg_stat_database WHERE datname ="
                           " current_database()"),
                   dl0);
  size_t total = 0;
  for (int a = 0; a < 3; a++)
    total += wcount(f->s, accts[a]);
  assert_int_equal(total, rows(f->rd, A1) + rows(f->rd, A2) + rows(f->rd, A3));
}

/* ---- PostgreSQL: the migration from version 2 --------------------------------- */

/* What schema version 2 made, from what versions 3 to 6 made (store/pg/schema.c). */
static const char TO_V2[] =
    "DROP INDEX licsrv_audit_coalesce; ALTER TABLE licsrv_audit DROP COLUMN count, DROP COLUMN last;" /* version 6 */
    "DROP FUNCTION licsrv_usage_counted() CASCADE; DROP FUNCTION licsrv_subject_owner(text);"
    "DROP TABLE licsrv_usage; ALTER TABLE licsrv_accounts DROP COLUMN nrecords;" /* version 5 */
    "DROP TRIGGER licsrv_registrations_change ON licsrv_registrations;"
    "DROP TRIGGER licsrv_accounts_nregs ON licsrv_accounts;"
    "DROP TRIGGER licsrv_accounts_notify_update ON licsrv_accounts;"
    "DROP FUNCTION licsrv_reg_change(); DROP FUNCTION licsrv_account_nregs(); DROP FUNCTION licsrv_claim;"
    "DROP FUNCTION licsrv_release;" /* version 4 */
    "ALTER TABLE licsrv_accounts DROP COLUMN nregs;"
    "CREATE OR REPLACE FUNCTION licsrv_notify() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " DECLARE k text; BEGIN"
    "  IF TG_NARGS > 1 THEN"
    "   k := (CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END) ->> TG_ARGV[1];"
    "  END IF;"
    "  PERFORM pg_notify('licsrv_changes', TG_ARGV[0] || ' ' || COALESCE(substr(k, 3), ''));"
    "  RETURN NULL; END $f$;"
    "DROP FUNCTION licsrv_origin();"
    "DROP TRIGGER licsrv_accounts_notify ON licsrv_accounts;"
    "CREATE TRIGGER licsrv_accounts_notify AFTER INSERT OR UPDATE OR DELETE ON licsrv_accounts"
    " FOR EACH ROW EXECUTE FUNCTION licsrv_notify('a', 'id');"
    "CREATE TRIGGER licsrv_registrations_notify AFTER INSERT OR UPDATE OR DELETE"
    " ON licsrv_registrations FOR EACH ROW EXECUTE FUNCTION licsrv_notify('r', 'account');"
    "UPDATE licsrv_meta SET schema = 2";

static void test_pg_migrate_v2_counts(void **state) {
  fx *f = *state;
  store *s2 = NULL;
  write_on(f->s, W_ACCT_PUT, A1, 0, 0);
  write_on(f->s, W_ACCT_PUT, A2, 0, 0);
  for (uint8_t p = 1; p <= 5; p++)
    write_on(f->s, W_REG_PUT, A1, p, 100);
  write_on(f->s, W_REG_PUT, A2, 1, 100);
  write_on(f->s, W_REG_PUT, A3, 1, 100); /* an account's registration without the account */
  store_reader_free(f->rd);
  f->rd = NULL;
  store_close(f->s);
  f->s = NULL;
  tu_pg_sql(TO_V2);
  /* version 2 writes as an older licsrv would, counts kept by nobody */
  tu_pg_sql("INSERT INTO licsrv_registrations VALUES ('\\xa1000000000000000000000000000000',"
         " '\\x09000000000000000000000000000000', 'P9', '', 100, 100)");
  assert_int_equal(store_open(f->where, 0, &s2), LIC_FORMAT);
  assert_non_null(strstr(lic_errdetail(), "licsrv migrate"));
  assert_int_equal(store_open(f->where, STORE_MIGRATE, &f->s), LIC_OK);
  assert_int_equal(store_reader_new(f->s, &f->rd), LIC_OK);
  assert_int_equal(tu_pg_long("SELECT schema FROM licsrv_meta"), PGS_SCHEMA_VERSION);
  assert_int_equal(tu_pg_long("SELECT nregs FROM licsrv_accounts WHERE id = '\\xa1000000000000000000000000000000'"), 6);
  assert_int_equal(tu_pg_long("SELECT nregs FROM licsrv_accounts WHERE id = '\\xa2000000000000000000000000000000'"), 1);
  counts(f, A1, 6);
  counts(f, A2, 1);
  counts(f, A3, 1);
  /* and kept from here on */
  write_on(f->s, W_REG_PUT, A1, 10, 100);
  write_on(f->s, W_REG_DELETE, A1, 1, 0);
  write_on(f->s, W_REG_DELETE, A1, 2, 0);
  counts(f, A1, 5);
  assert_int_equal(tu_pg_long("SELECT nregs FROM licsrv_accounts WHERE id = '\\xa1000000000000000000000000000000'"), 5);
}

/* ---- PostgreSQL: a cached store's copy ------------------------------------------ */

static atomic_int whole_reads; /* the copy's whole-account reads (its cache hook) */
static atomic_bool counting;    /* while the case counts them */

static int count_whole(pgs_store *s, int what, const uint8_t *id) {
  (void)s;
  (void)id;
  if (what == PGS_HOOK_ACCOUNT && atomic_load(&counting))
    atomic_fetch_add(&whole_reads, 1);
  return LIC_OK;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int reg_rc(store_reader *rd, const uint8_t *id, uint8_t project) {
  store_registration g;
  uint8_t pid[LIC_ID_LEN] = {0};
  pid[0] = project;
  assert_int_equal(store_reader_begin(rd), LIC_OK);
  int rc = store_registration_get(rd, id, pid, &g);
  store_reader_end(rd);
  return rc;
}

static int64_t reg_last_valid(store_reader *rd, const uint8_t *id, uint8_t project) {
  store_registration g = {0};
  uint8_t pid[LIC_ID_LEN] = {0};
  pid[0] = project;
  assert_int_equal(store_reader_begin(rd), LIC_OK);
  int rc = store_registration_get(rd, id, pid, &g);
  store_reader_end(rd);
  return rc == LIC_OK ? g.last_valid : -1;
}

#define WITHIN_1S(expr, want)                                                              \
  do {                                                                                     \
    int64_t t0_ = now_ms();                                                                \
    while ((expr) != (want) && now_ms() - t0_ < 1000) {                                    \
      struct timespec ts_ = {0, 10 * 1000000};                                             \
      nanosleep(&ts_, NULL);                                                               \
    }                                                                                      \
    assert_int_equal((expr), (want));                                                      \
  } while (0)

static void test_pg_cached_own_and_other_changes(void **state) {
  fx *f = *state; /* f->s: another process, not cached */
  store *srv = NULL;
  store_reader *rd = NULL;
  write_on(f->s, W_ACCT_PUT, A1, 0, 0);
  write_on(f->s, W_REG_PUT, A1, 1, 100);
  const pgs_open_opts o = {.cache_hook = count_whole};
  assert_int_equal(pgs_open_with(f->where, STORE_CACHED, &o, &srv), LIC_OK);
  assert_int_equal(store_reader_new(srv, &rd), LIC_OK);
  assert_int_equal(rcount(rd, A1), 1);
  /* the notifications of the writes before the open may still come in */
  struct timespec ts = {0, 300 * 1000000};
  nanosleep(&ts, NULL);
  atomic_store(&whole_reads, 0);
  atomic_store(&counting, true);
  /* its own: in the copy before the answer, no account read again, and the
   * listener skips their notifications (its origin) */
  for (uint8_t p = 2; p <= 6; p++) {
    write_on(srv, W_REG_PUT, A1, p, 100);
    assert_int_equal(reg_rc(rd, A1, p), LIC_OK);
    assert_int_equal(rcount(rd, A1), p);
  }
  op cl = {.what = W_CLAIM, .id = A1, .project = 7, .when = 100, .capacity = 10};
  assert_int_equal(store_write(srv, apply, &cl), LIC_OK); /* the claim too */
  assert_int_equal(cl.claim.outcome, STORE_CLAIM_NEW);
  assert_int_equal(reg_rc(rd, A1, 7), LIC_OK);
  write_on(srv, W_REG_DELETE, A1, 7, 0);
  write_on(srv, W_REG_DELETE, A1, 2, 0);
  assert_int_equal(reg_rc(rd, A1, 2), LIC_NOTFOUND);
  assert_int_equal(rcount(rd, A1), 5);
  assert_int_equal(wcount(srv, A1), 5);
  nanosleep(&ts, NULL);
  assert_int_equal(atomic_load(&whole_reads), 0);
  /* another process's: that row, within a second, no account read either */
  write_on(f->s, W_REG_PUT, A1, 20, 100);
  WITHIN_1S(reg_rc(rd, A1, 20), LIC_OK);
  assert_int_equal(rcount(rd, A1), 6);
  write_on(f->s, W_REG_PUT, A1, 20, 4000); /* a touch (last_valid) of another process */
  WITHIN_1S(reg_last_valid(rd, A1, 20), 4000);
  write_on(f->s, W_REG_DELETE, A1, 3, 0);
  WITHIN_1S(reg_rc(rd, A1, 3), LIC_NOTFOUND);
  assert_int_equal(rcount(rd, A1), 5);
  assert_int_equal(atomic_load(&whole_reads), 0);
  /* delete_all on its own writer: empty at once */
  op all = {.what = W_REG_DELALL, .id = A1};
  assert_int_equal(store_write(srv, apply, &all), LIC_OK);
  assert_int_equal(all.n, 5);
  assert_int_equal(rcount(rd, A1), 0);
  assert_int_equal(reg_rc(rd, A1, 20), LIC_NOTFOUND);
  /* an account the copy does not hold yet (its creation announced to
   * nobody): read whole after the registration's commit, then counted */
  tu_pg_sql("ALTER TABLE licsrv_accounts DISABLE TRIGGER licsrv_accounts_notify");
  write_on(f->s, W_ACCT_PUT, A2, 0, 0);
  tu_pg_sql("ALTER TABLE licsrv_accounts ENABLE TRIGGER licsrv_accounts_notify");
  assert_int_equal(reg_rc(rd, A2, 1), LIC_NOTFOUND);
  write_on(srv, W_REG_PUT, A2, 1, 100);
  assert_int_equal(reg_rc(rd, A2, 1), LIC_OK);
  assert_int_equal(rcount(rd, A2), 1);
  atomic_store(&counting, false);
  /* and the copy agrees with a fresh one (a full reload of another process) */
  store *fresh = NULL;
  store_reader *frd = NULL;
  assert_int_equal(store_open(f->where, STORE_CACHED, &fresh), LIC_OK);
  assert_int_equal(store_reader_new(fresh, &frd), LIC_OK);
  for (uint8_t p = 1; p <= 20; p++) {
    assert_int_equal(reg_rc(rd, A1, p), reg_rc(frd, A1, p));
    assert_int_equal(reg_rc(rd, A2, p), reg_rc(frd, A2, p));
  }
  assert_int_equal(rcount(frd, A1), 0);
  assert_int_equal(rcount(frd, A2), 1);
  store_reader_free(frd);
  store_close(fresh);
  store_reader_free(rd);
  store_close(srv);
}

/* Many registrations on one account: the copy's lookups by project (an
 * index) after puts, deletions (every third), and a put again. */
static void test_pg_cached_many(void **state) {
  fx *f = *state;
  store *srv = NULL;
  store_reader *rd = NULL;
  write_on(f->s, W_ACCT_PUT, A1, 0, 0);
  assert_int_equal(store_open(f->where, STORE_CACHED, &srv), LIC_OK);
  assert_int_equal(store_reader_new(srv, &rd), LIC_OK);
  for (int p = 1; p <= 200; p++)
    write_on(srv, W_REG_PUT, A1, (uint8_t)p, 100);
  for (int p = 3; p <= 200; p += 3)
    write_on(srv, W_REG_DELETE, A1, (uint8_t)p, 0);
  write_on(srv, W_REG_PUT, A1, 99, 100); /* 99 was deleted: back */
  size_t live = 0;
  for (int p = 1; p <= 255; p++) {
    bool want = p <= 200 && (p % 3 != 0 || p == 99);
    assert_int_equal(reg_rc(rd, A1, (uint8_t)p), want ? LIC_OK : LIC_NOTFOUND);
    live += want;
  }
  assert_int_equal(rcount(rd, A1), live);
  assert_int_equal(wcount(srv, A1), live);
  store_reader_free(rd);
  store_close(srv);
  /* a fresh copy (loaded whole) indexes the same */
  assert_int_equal(store_open(f->where, STORE_CACHED, &srv), LIC_OK);
  assert_int_equal(store_reader_new(srv, &rd), LIC_OK);
  for (int p = 1; p <= 255; p++)
    assert_int_equal(reg_rc(rd, A1, (uint8_t)p),
                     p <= 200 && (p % 3 != 0 || p == 99) ? LIC_OK : LIC_NOTFOUND);
  store_reader_free(rd);
  store_close(srv);
}

#define BOTH(t) cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, (void *)&BACKEND)

int main(void) {
#define BACKEND BACKEND_LMDB
  const struct CMUnitTest lmdb[] = {
      BOTH(test_counts_follow_every_change),
      BOTH(test_counts_without_the_account),
      BOTH(test_claim_outcomes),
      BOTH(test_release_outcomes),
      BOTH(test_claims_in_one_group),
      BOTH(test_lmdb_old_store_counted),
  };
#undef BACKEND
#define BACKEND BACKEND_PG
  const struct CMUnitTest pg[] = {
      BOTH(test_counts_follow_every_change),
      BOTH(test_counts_without_the_account),
      BOTH(test_claim_outcomes),
      BOTH(test_release_outcomes),
      BOTH(test_pg_dead_idle_connection),
      BOTH(test_pg_groups_of_two_processes_never_deadlock),
      BOTH(test_claims_in_one_group),
      BOTH(test_pg_migrate_v2_counts),
      BOTH(test_pg_cached_own_and_other_changes),
      BOTH(test_pg_cached_many),
  };
#undef BACKEND
  int failed = _cmocka_run_group_tests("store_counts_lmdb", lmdb, sizeof lmdb / sizeof lmdb[0],
                                       NULL, NULL);
  if (getenv("LIC_TEST_PG_URL") == NULL || getenv("LIC_TEST_PG_URL")[0] == '\0') {
    printf("SKIPPED: the PostgreSQL counts need LIC_TEST_PG_URL (tests/unit/with_pg.py sets it)\n");
    return failed;
  }
  return failed | _cmocka_run_group_tests("store_counts_pg", pg, sizeof pg / sizeof pg[0], NULL,
                                          NULL);
}
