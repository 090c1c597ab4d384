/* test_srv_store_cache_pg.c - the PostgreSQL backend's per-process read copy
 * (store/pg/cache.c) never goes back to an older state when two reloads
 * overlap: a full reload (the listener's snapshot after a reconnect or at the
 * age bound) and an account reload (the writer's after its commit, or the
 * listener's after a NOTIFY). Each case puts the other reload between the
 * first one's read and its swap through the cache hook (pgs_open_opts), then checks what a
 * verify would read. The change listener is stopped first, so no NOTIFY can
 * mend the copy behind the test's back: what is checked is the copy itself.
 * Runs against the server tests/unit/with_pg.py starts (LIC_TEST_PG_URL). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "lic/err.h"
#include "store/pg/internal.h"
#include "store/store.h"
#include "pgtest.h"
#include "testutil.h"

static const uint8_t A1[LIC_ID_LEN] = {0xa1};
static const uint8_t A2[LIC_ID_LEN] = {0xa2};
static const uint8_t C1[LIC_ID_LEN] = {0xc1};

typedef struct {
  store *s;     /* cached, as `licsrv serve` opens it */
  store *other; /* not cached: another process writing */
  store_reader *rd;
  PGconn *c, *side; /* the test's own reloads; the hook's */
} fx;

static fx *F;           /* the hook's view of the running case */
static int hook_what;   /* the reload the hook acts in */
static int hook_action; /* what it does there, once */
static int hook_fired;
static pthread_t hook_thread;
/* The hook the case wants now: the store's (set at open) calls it. */
static pgs_cache_hook_fn cur_hook;

static int hook_of_store(pgs_store *s, int what, const uint8_t *id) {
  return cur_hook != NULL ? cur_hook(s, what, id) : LIC_OK;
}

/* No NOTIFY reaches the copy from here on: only the test's reloads do. */
static void listener_stop(store *st) { pgs__listen_stop((pgs_store *)st); }

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  const char *url = getenv("LIC_TEST_PG_URL");
  tu_pg_reset();
  assert_int_equal(store_open(url, STORE_CREATE, &f->other), LIC_OK);
  const pgs_open_opts o = {.cache_hook = hook_of_store};
  assert_int_equal(pgs_open_with(url, STORE_CACHED, &o, &f->s), LIC_OK);
  listener_stop(f->s);
  assert_int_equal(store_reader_new(f->s, &f->rd), LIC_OK);
  f->c = tu_pg_conn();
  f->side = tu_pg_conn();
  hook_fired = 0;
  hook_thread = pthread_self();
  F = f;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  cur_hook = NULL;
  F = NULL;
  store_reader_free(f->rd);
  store_close(f->s);
  store_close(f->other);
  PQfinish(f->c);
  PQfinish(f->side);
  free(f);
  return 0;
}

/* ---- writes ------------------------------------------------------------------ */

enum { W_ACCT_PUT, W_ACCT_DELETE, W_REG_PUT, W_CERT_ADD, W_REG_PUT2 };

typedef struct {
  int what;
  const uint8_t *id;
  uint8_t project;
} op;

static int apply(store_wtxn *w, void *arg) {
  op *o = arg;
  store_registration g = {0};
  switch (o->what) {
  case W_ACCT_PUT: return store_w_account_put(w, o->id, (const uint8_t *)"env", 3, 10);
  case W_ACCT_DELETE: return store_w_account_delete(w, o->id);
  case W_CERT_ADD: return store_w_cert_add(w, o->id, (const uint8_t *)"cert", 4, 10);
  case W_REG_PUT2: { /* two registrations of one account in one operation */
    op first = {W_REG_PUT, o->id, o->project};
    op second = {W_REG_PUT, o->id, (uint8_t)(o->project + 1)};
    int rc = apply(w, &first);
    return rc != LIC_OK ? rc : apply(w, &second);
  }
  default:
    memcpy(g.account, o->id, LIC_ID_LEN);
    g.project_id[0] = o->project;
    snprintf(g.project, sizeof g.project, "P%u", o->project);
    snprintf(g.domain, sizeof g.domain, "r.example.com");
    g.created = g.last_valid = 20;
    return store_w_registration_put(w, &g);
  }
}

static void write_on(store *st, int what, const uint8_t *id, uint8_t project) {
  op o = {what, id, project};
  assert_int_equal(store_write(st, apply, &o), LIC_OK);
}

/* ---- what a verify reads ----------------------------------------------------- */

static int reg_rc(const uint8_t *acct, uint8_t project) {
  uint8_t p[LIC_ID_LEN] = {project};
  store_registration g;
  assert_int_equal(store_reader_begin(F->rd), LIC_OK);
  int rc = store_registration_get(F->rd, acct, p, &g);
  store_reader_end(F->rd);
  return rc;
}

static int acct_rc(const uint8_t *id) {
  store_account a;
  assert_int_equal(store_reader_begin(F->rd), LIC_OK);
  int rc = store_account_get(F->rd, id, &a);
  store_reader_end(F->rd);
  if (rc == LIC_OK)
    store_account_clear(&a);
  return rc;
}

static int count_cert(const store_cert *c, void *arg) {
  (void)c;
  (*(int *)arg)++;
  return 0;
}

static int certs(void) {
  int n = 0;
  assert_int_equal(store_reader_begin(F->rd), LIC_OK);
  assert_int_equal(store_cert_each(F->rd, count_cert, &n), LIC_OK);
  store_reader_end(F->rd);
  return n;
}

/* ---- the hook: the other reload, between this one's read and its swap ------ */

enum {
  ACT_OWN_REG,       /* this process registers P1 on A1 (its writer reloads A1) */
  ACT_OWN_ACCOUNT,   /* this process imports A2 */
  ACT_OWN_CERT,      /* this process imports a certificate */
  ACT_OTHER_DELETE,  /* another process deletes A2; the feed reloads A2 */
  ACT_OTHER_REG_ALL, /* another process registers P1 on A1; a full reload follows */
};

static int the_hook(pgs_store *s, int what, const uint8_t *id) {
  (void)s;
  (void)id;
  /* once, in the test thread's own reload (the writer's nested ones pass) */
  if (what != hook_what || hook_fired || !pthread_equal(pthread_self(), hook_thread))
    return LIC_OK;
  hook_fired = 1;
  switch (hook_action) {
  case ACT_OWN_REG: write_on(F->s, W_REG_PUT, A1, 1); break;
  case ACT_OWN_ACCOUNT: write_on(F->s, W_ACCT_PUT, A2, 0); break;
  case ACT_OWN_CERT: write_on(F->s, W_CERT_ADD, C1, 0); break;
  case ACT_OTHER_DELETE:
    write_on(F->other, W_ACCT_DELETE, A2, 0);
    assert_int_equal(pgs__cache_load_account((pgs_store *)F->s, F->side, A2), LIC_OK);
    break;
  default:
    write_on(F->other, W_REG_PUT, A1, 1);
    assert_int_equal(pgs__cache_load_all((pgs_store *)F->s, F->side), LIC_OK);
  }
  return LIC_OK;
}

static void arm(int what, int action) {
  hook_what = what;
  hook_action = action;
  cur_hook = the_hook;
}

static pgs_store *S(void) { return (pgs_store *)F->s; }

/* ---- the cases --------------------------------------------------------------- */

/* An acknowledged registration (its writer reloaded the account after the
 * commit) is not undone by a full reload whose snapshot predates it: the
 * race of a reconnect under load. */
static void test_full_reload_keeps_a_newer_account_reload(void **state) {
  (void)state;
  write_on(F->s, W_ACCT_PUT, A1, 0);
  arm(PGS_HOOK_FULL, ACT_OWN_REG);
  assert_int_equal(reg_rc(A1, 1), LIC_NOTFOUND);
  assert_int_equal(pgs__cache_load_all(S(), F->c), LIC_OK);
  assert_true(hook_fired);
  assert_int_equal(reg_rc(A1, 1), LIC_OK);
  cur_hook = NULL; /* and a later full reload agrees */
  assert_int_equal(pgs__cache_load_all(S(), F->c), LIC_OK);
  assert_int_equal(reg_rc(A1, 1), LIC_OK);
}

/* An account imported during a full reload is kept. */
static void test_full_reload_keeps_an_account_created_during_it(void **state) {
  (void)state;
  arm(PGS_HOOK_FULL, ACT_OWN_ACCOUNT);
  assert_int_equal(pgs__cache_load_all(S(), F->c), LIC_OK);
  assert_true(hook_fired);
  assert_int_equal(acct_rc(A2), LIC_OK);
}

/* A certificate imported during a full reload is kept. */
static void test_full_reload_keeps_a_newer_cert_reload(void **state) {
  (void)state;
  arm(PGS_HOOK_FULL, ACT_OWN_CERT);
  assert_int_equal(pgs__cache_load_all(S(), F->c), LIC_OK);
  assert_true(hook_fired);
  assert_int_equal(certs(), 1);
}

/* An account deleted (and reloaded as gone) during a full reload that still
 * saw it does not come back; a later full reload keeps it gone. */
static void test_full_reload_does_not_resurrect_a_deleted_account(void **state) {
  (void)state;
  write_on(F->s, W_ACCT_PUT, A2, 0);
  assert_int_equal(acct_rc(A2), LIC_OK);
  arm(PGS_HOOK_FULL, ACT_OTHER_DELETE);
  assert_int_equal(pgs__cache_load_all(S(), F->c), LIC_OK);
  assert_true(hook_fired);
  assert_int_equal(acct_rc(A2), LIC_NOTFOUND);
  assert_int_equal(reg_rc(A2, 1), LIC_NOTFOUND);
  cur_hook = NULL;
  assert_int_equal(pgs__cache_load_all(S(), F->c), LIC_OK);
  assert_int_equal(acct_rc(A2), LIC_NOTFOUND);
  write_on(F->s, W_ACCT_PUT, A2, 0); /* and it can be imported again */
  assert_int_equal(acct_rc(A2), LIC_OK);
}

/* The listener's reload after a NOTIFY read the account before this
 * process's writer committed and reloaded it: the older read loses. */
static void test_account_reload_does_not_replace_a_newer_one(void **state) {
  (void)state;
  write_on(F->s, W_ACCT_PUT, A1, 0);
  arm(PGS_HOOK_ACCOUNT, ACT_OWN_REG);
  assert_int_equal(pgs__cache_load_account(S(), F->c, A1), LIC_OK);
  assert_true(hook_fired);
  assert_int_equal(reg_rc(A1, 1), LIC_OK);
}

/* An account reload that read before a full reload swaps after it: the
 * older read loses to the newer snapshot. */
static void test_account_reload_does_not_replace_a_newer_full_reload(void **state) {
  (void)state;
  write_on(F->s, W_ACCT_PUT, A1, 0);
  arm(PGS_HOOK_ACCOUNT, ACT_OTHER_REG_ALL);
  assert_int_equal(pgs__cache_load_account(S(), F->c, A1), LIC_OK);
  assert_true(hook_fired);
  assert_int_equal(reg_rc(A1, 1), LIC_OK);
}

/* Without overlap, reloads still follow the database both ways. */
/* A group with two registration changes of one account: the second delta
 * finds the entry at the group's own number (cache.h), and both are read
 * from the copy at once. */
static void test_own_group_with_two_deltas_of_one_account(void **state) {
  (void)state;
  write_on(F->s, W_ACCT_PUT, A1, 0);
  assert_int_equal(acct_rc(A1), LIC_OK);
  write_on(F->s, W_REG_PUT2, A1, 1);
  assert_int_equal(reg_rc(A1, 1), LIC_OK);
  assert_int_equal(reg_rc(A1, 2), LIC_OK);
}

static void test_reloads_follow_the_database(void **state) {
  (void)state;
  write_on(F->other, W_ACCT_PUT, A1, 0);
  assert_int_equal(acct_rc(A1), LIC_NOTFOUND); /* another process's: no feed */
  assert_int_equal(pgs__cache_load_account(S(), F->c, A1), LIC_OK);
  assert_int_equal(acct_rc(A1), LIC_OK);
  write_on(F->other, W_REG_PUT, A1, 1);
  assert_int_equal(pgs__cache_load_all(S(), F->c), LIC_OK);
  assert_int_equal(reg_rc(A1, 1), LIC_OK);
  write_on(F->other, W_ACCT_DELETE, A1, 0);
  assert_int_equal(pgs__cache_load_account(S(), F->c, A1), LIC_OK);
  assert_int_equal(acct_rc(A1), LIC_NOTFOUND);
  write_on(F->other, W_ACCT_PUT, A1, 0);
  assert_int_equal(pgs__cache_load_all(S(), F->c), LIC_OK);
  assert_int_equal(acct_rc(A1), LIC_OK);
}

/* ---- with the change listener running ----------------------------------------- */

static int setup_live(void **state) {
  fx *f = calloc(1, sizeof *f);
  const char *url = getenv("LIC_TEST_PG_URL");
  tu_pg_reset();
  assert_int_equal(store_open(url, STORE_CREATE, &f->other), LIC_OK);
  const pgs_open_opts o = {.cache_hook = hook_of_store};
  assert_int_equal(pgs_open_with(url, STORE_CACHED, &o, &f->s), LIC_OK);
  assert_int_equal(store_reader_new(f->s, &f->rd), LIC_OK);
  f->c = tu_pg_conn();
  f->side = tu_pg_conn();
  F = f;
  *state = f;
  return 0;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls until the copy reads want (a second at most, SPEC section 4.5). */
#define WITHIN_1S(expr, want)                                                              \
  do {                                                                                     \
    int64_t t0_ = now_ms();                                                                \
    while ((expr) != (want) && now_ms() - t0_ < 1000) {                                    \
      struct timespec ts_ = {0, 10 * 1000000};                                             \
      nanosleep(&ts_, NULL);                                                               \
    }                                                                                      \
    assert_int_equal((expr), (want));                                                      \
  } while (0)

static bool fresh(void) {
  store_health h;
  store_health_get(F->s, &h);
  return h.cache_fresh;
}

/* Another process's changes arrive through the real trigger's payloads. */
static void test_feed_brings_another_process_changes(void **state) {
  (void)state;
  write_on(F->other, W_ACCT_PUT, A1, 0);
  WITHIN_1S(acct_rc(A1), LIC_OK);
  write_on(F->other, W_REG_PUT, A1, 1);
  WITHIN_1S(reg_rc(A1, 1), LIC_OK);
  write_on(F->other, W_CERT_ADD, C1, 0);
  WITHIN_1S(certs(), 1);
  write_on(F->other, W_ACCT_DELETE, A1, 0);
  WITHIN_1S(acct_rc(A1), LIC_NOTFOUND);
}

/* A payload that does not parse names a change the copy cannot place: the
 * listener reloads everything (it used to drop it, stale for a minute). */
static void test_garbled_payload_reloads_everything(void **state) {
  (void)state;
  tu_pg_exec(F->side, "ALTER TABLE licsrv_accounts DISABLE TRIGGER licsrv_accounts_notify");
  write_on(F->other, W_ACCT_PUT, A2, 0); /* announced to nobody */
  struct timespec ts = {0, 300 * 1000000};
  nanosleep(&ts, NULL);
  assert_int_equal(acct_rc(A2), LIC_NOTFOUND);
  tu_pg_exec(F->side, "NOTIFY " PGS_NOTIFY_CHANNEL ", 'a not-an-id'");
  WITHIN_1S(acct_rc(A2), LIC_OK);
}

/* The listener's reload after a reconnect fails once: it must not stay
 * LISTENing without the reload (stale and not fresh until the age bound). */
static int fail_listener_full_once(pgs_store *s, int what, const uint8_t *id) {
  (void)s;
  (void)id;
  if (what != PGS_HOOK_FULL || hook_fired)
    return LIC_OK;
  hook_fired = 1;
  return lic_fail(LIC_IO, "test: the reload fails once");
}

static void test_listener_retries_a_failed_reload(void **state) {
  (void)state;
  WITHIN_1S(fresh(), true);
  tu_pg_exec(F->side, "ALTER TABLE licsrv_accounts DISABLE TRIGGER licsrv_accounts_notify");
  write_on(F->other, W_ACCT_PUT, A2, 0); /* announced to nobody: only a reload brings it */
  assert_int_equal(acct_rc(A2), LIC_NOTFOUND);
  hook_fired = 0;
  cur_hook = fail_listener_full_once;
  /* end the listener's connection (the writers' too: they reconnect) */
  tu_pg_exec(F->side, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
               " WHERE application_name = 'licsrv' AND pid <> pg_backend_pid()");
  int64_t t0 = now_ms();
  while (acct_rc(A2) != LIC_OK && now_ms() - t0 < 2000) {
    struct timespec ts = {0, 10 * 1000000};
    nanosleep(&ts, NULL);
  }
  assert_true(hook_fired);
  assert_int_equal(acct_rc(A2), LIC_OK);
  assert_true(fresh());
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
#define LIVE(t) cmocka_unit_test_setup_teardown(t, setup_live, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_full_reload_keeps_a_newer_account_reload),
      T(test_full_reload_keeps_an_account_created_during_it),
      T(test_full_reload_keeps_a_newer_cert_reload),
      T(test_full_reload_does_not_resurrect_a_deleted_account),
      T(test_account_reload_does_not_replace_a_newer_one),
      T(test_account_reload_does_not_replace_a_newer_full_reload),
      T(test_reloads_follow_the_database),
      T(test_own_group_with_two_deltas_of_one_account),
      LIVE(test_feed_brings_another_process_changes),
      LIVE(test_garbled_payload_reloads_everything),
      LIVE(test_listener_retries_a_failed_reload),
  };
  if (getenv("LIC_TEST_PG_URL") == NULL || getenv("LIC_TEST_PG_URL")[0] == '\0') {
    printf("SKIPPED: the read copy's tests need PostgreSQL (LIC_TEST_PG_URL is not set; "
           "tests/unit/with_pg.py sets it)\n");
    return 0;
  }
  return cmocka_run_group_tests_name("store_pg_cache", tests, NULL, NULL);
}
