/* test_srv_store_renew_pg.c - an account renewed in place (SPEC §3.4, §4.6:
 * core/renew.c over the store), one suite run against both backends: LMDB in
 * a temp directory and PostgreSQL at LIC_TEST_PG_URL (tests/unit/with_pg.py
 * starts a server; without one the PostgreSQL group is skipped, saying so).
 * The decision alone (pure); a later issued replaces the envelope and keeps
 * the registrations and the revocation; the same bytes again are stored as
 * before; an older or equal issued is refused naming both dates and changes
 * nothing; a new token is audited; a lowered capacity drops nobody and takes
 * no new registration until the count is under it. PostgreSQL alone: a
 * second process's read copy (STORE_CACHED, its change listener running)
 * holds the renewed envelope within a second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "core/renew.h"
#include "lic/envelope.h"
#include "lic/err.h"
#include "store/store.h"
#include "pgtest.h"
#include "testutil.h"

enum { BK_LMDB, BK_PG };
static const int BACKEND_LMDB = BK_LMDB, BACKEND_PG = BK_PG;

static const char TOKEN[] = "lsk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
static const char TOKEN2[] = "lsk_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
#define T0 1800000000 /* 2027-01-15 */

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

/* ---- signed accounts -------------------------------------------------------- */

typedef struct {
  lic_account a;
  uint8_t *env;
  size_t len;
} signed_acct;

/* Account 0x5a.. with capacity, issued and token, signed by the test root. */
static void mk(signed_acct *sa, int64_t capacity, int64_t issued, const char *token) {
  lic_key *root = tu_test_root_key();
  uint8_t *body = NULL;
  size_t blen = 0;
  memset(sa, 0, sizeof *sa);
  memset(sa->a.id, 0x5a, LIC_ID_LEN);
  sa->a.customer = strdup("Cloud Customer AG");
  sa->a.capacity = capacity;
  sa->a.not_before = T0 - 86400;
  sa->a.expires = T0 + 365 * 86400;
  sa->a.heartbeat = 7200;
  sa->a.grace = 86400;
  sa->a.issued = issued;
  lic_token_hash(token, strlen(token), sa->a.token_hash);
  assert_int_equal(lic_account_pack(&sa->a, &body, &blen), LIC_OK);
  assert_int_equal(lic_envelope_seal("account", body, blen, root, &sa->env, &sa->len), LIC_OK);
  free(body);
  lic_key_free(root);
}

static void sa_clear(signed_acct *sa) {
  lic_account_clear(&sa->a);
  free(sa->env);
}

/* ---- writes ------------------------------------------------------------------ */

enum { W_IMPORT, W_REVOKE, W_REG, W_CLAIM };

typedef struct {
  int what;
  const signed_acct *sa;
  uint8_t project;
  int64_t capacity;
  pub_import res;
  store_claim claim;
} op;

static int apply(store_wtxn *w, void *arg) {
  op *o = arg;
  store_registration g = {0};
  switch (o->what) {
  case W_IMPORT:
    return pub_w_account_import(w, o->sa->env, o->sa->len, &o->sa->a, T0, "cli:test", &o->res);
  case W_REVOKE: return store_w_account_revoke(w, o->sa->a.id, T0);
  default:
    memcpy(g.account, o->sa->a.id, LIC_ID_LEN);
    g.project_id[0] = o->project;
    snprintf(g.project, sizeof g.project, "P%u", o->project);
    snprintf(g.domain, sizeof g.domain, "r.example.com");
    g.created = g.last_valid = T0;
    if (o->what == W_REG)
      return store_w_registration_put(w, &g);
    return store_w_registration_claim(w, &g, o->capacity, 0, "cli:test", "registration.add",
                                      "account:x", &o->claim);
  }
}

static int import(fx *f, const signed_acct *sa, pub_import *res) {
  op o = {.what = W_IMPORT, .sa = sa};
  int rc = store_write(f->s, apply, &o);
  if (res != NULL)
    *res = o.res;
  return rc;
}

static void reg(fx *f, const signed_acct *sa, uint8_t project) {
  op o = {.what = W_REG, .sa = sa, .project = project};
  assert_int_equal(store_write(f->s, apply, &o), LIC_OK);
}

static store_claim_outcome claim(fx *f, const signed_acct *sa, uint8_t project) {
  op o = {.what = W_CLAIM, .sa = sa, .project = project, .capacity = sa->a.capacity};
  assert_int_equal(store_write(f->s, apply, &o), LIC_OK);
  return o.claim.outcome;
}

static void stored(fx *f, const uint8_t id[LIC_ID_LEN], store_account *out) {
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_account_get(f->rd, id, out), LIC_OK);
  store_reader_end(f->rd);
}

static size_t count(fx *f, const uint8_t id[LIC_ID_LEN]) {
  size_t n = 99;
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_registration_count(f->rd, id, &n), LIC_OK);
  store_reader_end(f->rd);
  return n;
}

typedef struct {
  int token_entries;
} audit_seen;

static int audit_cb(const store_audit *a, void *arg) {
  audit_seen *s = arg;
  if (strcmp(a->action, "account.token") == 0 && strstr(a->subject, "account:") == a->subject &&
      strcmp(a->token, "cli:test") == 0)
    s->token_entries++;
  return 0;
}

static int token_audits(fx *f) {
  audit_seen s = {0};
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_audit_each(f->rd, 0, NULL, audit_cb, &s), LIC_OK);
  store_reader_end(f->rd);
  return s.token_entries;
}

/* ---- the decision alone ------------------------------------------------------ */

static void test_decide(void **state) {
  (void)state;
  signed_acct old, same, later, older, newtok, undated;
  pub_import r;
  mk(&old, 2, T0, TOKEN);
  mk(&same, 2, T0, TOKEN);
  mk(&later, 5, T0 + 1, TOKEN);
  mk(&older, 9, T0 - 1, TOKEN);
  mk(&newtok, 2, T0 + 10, TOKEN2);
  mk(&undated, 3, 0, TOKEN);
  pub_account_import_decide(NULL, 0, old.env, old.len, &old.a, &r);
  assert_int_equal(r.kind, PUB_IMPORT_NEW);
  pub_account_import_decide(old.env, old.len, same.env, same.len, &same.a, &r);
  assert_int_equal(r.kind, PUB_IMPORT_SAME); /* Ed25519 is deterministic: the same bytes */
  pub_account_import_decide(old.env, old.len, later.env, later.len, &later.a, &r);
  assert_int_equal(r.kind, PUB_IMPORT_RENEWED);
  assert_false(r.token_changed);
  assert_int_equal(r.old_issued, T0);
  assert_int_equal(r.old_capacity, 2);
  pub_account_import_decide(later.env, later.len, old.env, old.len, &old.a, &r);
  assert_int_equal(r.kind, PUB_IMPORT_STALE);
  pub_account_import_decide(old.env, old.len, older.env, older.len, &older.a, &r);
  assert_int_equal(r.kind, PUB_IMPORT_STALE);
  pub_account_import_decide(old.env, old.len, newtok.env, newtok.len, &newtok.a, &r);
  assert_int_equal(r.kind, PUB_IMPORT_RENEWED);
  assert_true(r.token_changed);
  /* an account signed before 'issued' existed is renewed by any dated one,
   * and an undated one never replaces a different envelope */
  pub_account_import_decide(undated.env, undated.len, old.env, old.len, &old.a, &r);
  assert_int_equal(r.kind, PUB_IMPORT_RENEWED);
  assert_int_equal(r.old_issued, 0);
  pub_account_import_decide(old.env, old.len, undated.env, undated.len, &undated.a, &r);
  assert_int_equal(r.kind, PUB_IMPORT_STALE);
  /* an unreadable stored envelope is replaced */
  pub_account_import_decide((const uint8_t *)"junk", 4, old.env, old.len, &old.a, &r);
  assert_int_equal(r.kind, PUB_IMPORT_RENEWED);
  assert_int_equal(r.old_issued, -1);
  assert_false(r.token_changed);
  sa_clear(&old);
  sa_clear(&same);
  sa_clear(&later);
  sa_clear(&older);
  sa_clear(&newtok);
  sa_clear(&undated);
}

/* ---- over the store ---------------------------------------------------------- */

static void test_renew_keeps_registrations(void **state) {
  fx *f = *state;
  signed_acct v1, v2;
  pub_import r;
  store_account a;
  mk(&v1, 2, T0, TOKEN);
  mk(&v2, 5, T0 + 60, TOKEN);
  assert_int_equal(import(f, &v1, &r), LIC_OK);
  assert_int_equal(r.kind, PUB_IMPORT_NEW);
  reg(f, &v1, 1);
  reg(f, &v1, 2);
  assert_int_equal(claim(f, &v1, 3), STORE_CLAIM_FULL);
  assert_int_equal(import(f, &v1, &r), LIC_OK); /* the same bytes: as before */
  assert_int_equal(r.kind, PUB_IMPORT_SAME);
  assert_int_equal(import(f, &v2, &r), LIC_OK);
  assert_int_equal(r.kind, PUB_IMPORT_RENEWED);
  assert_int_equal(r.old_capacity, 2);
  stored(f, v1.a.id, &a);
  assert_int_equal(a.env_len, v2.len);
  assert_memory_equal(a.env, v2.env, v2.len);
  assert_int_equal(a.revoked_at, 0);
  store_account_clear(&a);
  assert_int_equal(count(f, v1.a.id), 2);
  assert_int_equal(claim(f, &v2, 3), STORE_CLAIM_NEW); /* the new capacity */
  assert_int_equal(count(f, v1.a.id), 3);
  assert_int_equal(token_audits(f), 0);
  sa_clear(&v1);
  sa_clear(&v2);
}

static void test_stale_refused_unchanged(void **state) {
  fx *f = *state;
  signed_acct v1, v2, v3;
  pub_import r;
  store_account a;
  mk(&v1, 2, T0, TOKEN);
  mk(&v2, 4, T0 + 60, TOKEN);
  mk(&v3, 9, T0 + 60, TOKEN); /* the same issued as v2, other terms */
  assert_int_equal(import(f, &v2, &r), LIC_OK);
  reg(f, &v2, 1);
  assert_int_equal(import(f, &v1, &r), LIC_EXISTS);
  assert_int_equal(r.kind, PUB_IMPORT_STALE);
  const char *d = lic_errdetail();
  assert_non_null(strstr(d, "issued 2027-01-15 08:00:00 UTC"));
  assert_non_null(strstr(d, "the one in the store 2027-01-15 08:01:00 UTC"));
  assert_int_equal(import(f, &v3, &r), LIC_EXISTS);
  stored(f, v2.a.id, &a);
  assert_memory_equal(a.env, v2.env, v2.len);
  store_account_clear(&a);
  assert_int_equal(count(f, v2.a.id), 1);
  sa_clear(&v1);
  sa_clear(&v2);
  sa_clear(&v3);
}

static void test_revoked_stays_and_token_audited(void **state) {
  fx *f = *state;
  signed_acct v1, v2;
  pub_import r;
  store_account a;
  mk(&v1, 2, T0, TOKEN);
  mk(&v2, 2, T0 + 60, TOKEN2);
  assert_int_equal(import(f, &v1, &r), LIC_OK);
  op rev = {.what = W_REVOKE, .sa = &v1};
  assert_int_equal(store_write(f->s, apply, &rev), LIC_OK);
  assert_int_equal(import(f, &v2, &r), LIC_OK);
  assert_int_equal(r.kind, PUB_IMPORT_RENEWED);
  assert_true(r.token_changed);
  stored(f, v1.a.id, &a);
  assert_int_equal(a.revoked_at, T0); /* a renewal does not lift a revocation */
  assert_memory_equal(a.env, v2.env, v2.len);
  store_account_clear(&a);
  assert_int_equal(token_audits(f), 1);
  sa_clear(&v1);
  sa_clear(&v2);
}

static void test_lowered_capacity_drops_nobody(void **state) {
  fx *f = *state;
  signed_acct v1, v2;
  mk(&v1, 3, T0, TOKEN);
  mk(&v2, 1, T0 + 60, TOKEN);
  assert_int_equal(import(f, &v1, NULL), LIC_OK);
  for (uint8_t p = 1; p <= 3; p++)
    assert_int_equal(claim(f, &v1, p), STORE_CLAIM_NEW);
  assert_int_equal(import(f, &v2, NULL), LIC_OK);
  assert_int_equal(count(f, v1.a.id), 3);
  assert_int_equal(claim(f, &v2, 2), STORE_CLAIM_EXISTS); /* kept: still registered */
  assert_int_equal(claim(f, &v2, 4), STORE_CLAIM_FULL);   /* waits: 3 is not under 1 */
  assert_int_equal(count(f, v1.a.id), 3);
  sa_clear(&v1);
  sa_clear(&v2);
}

/* PostgreSQL: another process's read copy takes the renewal within a second
 * (the change notice names the account; its listener reloads it). */
static void test_pg_other_process_within_a_second(void **state) {
  fx *f = *state;
  signed_acct v1, v2;
  store *other = NULL;
  store_reader *ord = NULL;
  store_account a;
  mk(&v1, 2, T0, TOKEN);
  mk(&v2, 7, T0 + 60, TOKEN);
  assert_int_equal(import(f, &v1, NULL), LIC_OK);
  assert_int_equal(store_open(f->where, STORE_CACHED, &other), LIC_OK);
  assert_int_equal(store_reader_new(other, &ord), LIC_OK);
  assert_int_equal(store_reader_begin(ord), LIC_OK);
  assert_int_equal(store_account_get(ord, v1.a.id, &a), LIC_OK);
  store_reader_end(ord);
  assert_memory_equal(a.env, v1.env, v1.len);
  store_account_clear(&a);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(import(f, &v2, NULL), LIC_OK);
  bool seen = false;
  double waited = 0;
  while (!seen && waited < 1.0) {
    assert_int_equal(store_reader_begin(ord), LIC_OK);
    assert_int_equal(store_account_get(ord, v1.a.id, &a), LIC_OK);
    store_reader_end(ord);
    seen = a.env_len == v2.len && memcmp(a.env, v2.env, v2.len) == 0;
    store_account_clear(&a);
    if (!seen)
      usleep(10000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  }
  assert_true(seen);
  store_reader_free(ord);
  store_close(other);
  sa_clear(&v1);
  sa_clear(&v2);
}

#define BOTH(t) cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, (void *)&BACKEND)

int main(void) {
  const struct CMUnitTest pure[] = {cmocka_unit_test(test_decide)};
#define BACKEND BACKEND_LMDB
  const struct CMUnitTest lmdb[] = {
      BOTH(test_renew_keeps_registrations), BOTH(test_stale_refused_unchanged),
      BOTH(test_revoked_stays_and_token_audited), BOTH(test_lowered_capacity_drops_nobody),
  };
#undef BACKEND
#define BACKEND BACKEND_PG
  const struct CMUnitTest pg[] = {
      BOTH(test_renew_keeps_registrations),       BOTH(test_stale_refused_unchanged),
      BOTH(test_revoked_stays_and_token_audited), BOTH(test_lowered_capacity_drops_nobody),
      BOTH(test_pg_other_process_within_a_second),
  };
#undef BACKEND
  int failed = _cmocka_run_group_tests("renew_decide", pure, 1, NULL, NULL);
  failed += _cmocka_run_group_tests("renew_lmdb", lmdb, sizeof lmdb / sizeof lmdb[0], NULL, NULL);
  if (getenv("LIC_TEST_PG_URL") == NULL || getenv("LIC_TEST_PG_URL")[0] == '\0') {
    printf("SKIPPED: the PostgreSQL backend group (LIC_TEST_PG_URL is not set; "
           "tests/unit/with_pg.py sets it)\n");
    return failed;
  }
  return failed +
         _cmocka_run_group_tests("renew_postgresql", pg, sizeof pg / sizeof pg[0], NULL, NULL);
}
