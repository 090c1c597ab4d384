/* test_srv_store_public.c - the store's public-mode records: account
 * revocation (kept across re-import), certificates by id, registrations as
 * the writer sees them (count, get, delete_all), last_valid and the TTL
 * release with its audit entries, and records written before these fields. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "store/store.h"
#include "testutil.h"

static const uint8_t A1[LIC_ID_LEN] = {0xa1};
static const uint8_t A2[LIC_ID_LEN] = {0xa2};
#define DAY 86400

typedef struct {
  char *dir;
  store *s;
  store_reader *rd;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->dir = tu_tmpdir();
  assert_int_equal(store_open(f->dir, STORE_CREATE, &f->s), LIC_OK);
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

enum { W_ACCT_PUT, W_ACCT_REVOKE, W_REG_PUT, W_REG_COUNT, W_REG_DELALL, W_CERT_ADD, W_ACCT_GET,
       W_REG_GET, W_RAW };

typedef struct {
  int what;
  const uint8_t *id;
  const char *env;
  int64_t now;
  store_registration reg;
  size_t n;
  int rc2;
  const char *db;
  const void *k, *v;
  size_t kl, vl;
} op;

static int apply(store_wtxn *w, void *arg) {
  op *o = arg;
  store_account a;
  store_registration g;
  switch (o->what) {
  case W_ACCT_PUT:
    return store_w_account_put(w, o->id, (const uint8_t *)o->env, strlen(o->env), o->now);
  case W_ACCT_REVOKE: return store_w_account_revoke(w, o->id, o->now);
  case W_REG_PUT: return store_w_registration_put(w, &o->reg);
  case W_REG_COUNT: return store_w_registration_count(w, o->id, &o->n);
  case W_REG_DELALL: return store_w_registration_delete_all(w, o->id, &o->n);
  case W_CERT_ADD:
    return store_w_cert_add(w, o->id, (const uint8_t *)o->env, strlen(o->env), o->now);
  case W_ACCT_GET:
    o->rc2 = store_w_account_get(w, o->id, &a);
    store_account_clear(&a);
    return LIC_OK;
  case W_REG_GET:
    o->rc2 = store_w_registration_get(w, o->reg.account, o->reg.project_id, &g);
    o->reg = g;
    return LIC_OK;
  default: return store_w_raw_put(w, o->db, o->k, o->kl, o->v, o->vl);
  }
}

static int run(fx *f, op *o) { return store_write(f->s, apply, o); }

static void reg(fx *f, const uint8_t *acct, uint8_t p, int64_t created, int64_t last_valid) {
  op o = {.what = W_REG_PUT};
  memcpy(o.reg.account, acct, LIC_ID_LEN);
  o.reg.project_id[0] = p;
  snprintf(o.reg.project, sizeof o.reg.project, "P%u", p);
  snprintf(o.reg.domain, sizeof o.reg.domain, "r.example.com");
  o.reg.created = created;
  o.reg.last_valid = last_valid;
  assert_int_equal(run(f, &o), LIC_OK);
}

static size_t count(fx *f, const uint8_t *acct) {
  size_t n = 99;
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_registration_count(f->rd, acct, &n), LIC_OK);
  store_reader_end(f->rd);
  return n;
}

static void test_account_revoke_survives_reimport(void **state) {
  fx *f = *state;
  op put = {.what = W_ACCT_PUT, .id = A1, .env = "env-1", .now = 10};
  op rev = {.what = W_ACCT_REVOKE, .id = A1, .now = 20};
  store_account a;
  assert_int_equal(run(f, &rev), LIC_NOTFOUND);
  assert_int_equal(run(f, &put), LIC_OK);
  assert_int_equal(run(f, &rev), LIC_OK);
  rev.now = 30; /* twice: the first time stays */
  assert_int_equal(run(f, &rev), LIC_OK);
  put.env = "env-2";
  put.now = 40;
  assert_int_equal(run(f, &put), LIC_OK);
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_account_get(f->rd, A1, &a), LIC_OK);
  store_reader_end(f->rd);
  assert_int_equal(a.revoked_at, 20);
  assert_int_equal(a.imported, 40);
  assert_int_equal(a.env_len, 5);
  assert_memory_equal(a.env, "env-2", 5);
  store_account_clear(&a);
  op get = {.what = W_ACCT_GET, .id = A2};
  assert_int_equal(run(f, &get), LIC_OK);
  assert_int_equal(get.rc2, LIC_NOTFOUND);
  get.id = A1;
  assert_int_equal(run(f, &get), LIC_OK);
  assert_int_equal(get.rc2, LIC_OK);
}

static void test_records_before_the_new_fields(void **state) {
  fx *f = *state;
  /* account: u8 ver, i64 imported, u32 len + envelope (no revoked_at) */
  static const uint8_t av[] = {1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 3, 'e', 'n', 'v'};
  op raw = {.what = W_RAW, .db = "accounts", .k = A2, .kl = LIC_ID_LEN, .v = av, .vl = sizeof av};
  store_account a;
  assert_int_equal(run(f, &raw), LIC_OK);
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_account_get(f->rd, A2, &a), LIC_OK);
  store_reader_end(f->rd);
  assert_int_equal(a.imported, 7);
  assert_int_equal(a.revoked_at, 0);
  assert_int_equal(a.env_len, 3);
  store_account_clear(&a);
  /* registration: u8 ver, i64 created, str project, str domain (no last_valid) */
  uint8_t key[2 * LIC_ID_LEN] = {0};
  memcpy(key, A2, LIC_ID_LEN);
  key[LIC_ID_LEN] = 5;
  static const uint8_t rv[] = {1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 'P', 0, 1, 'd'};
  op raw2 = {.what = W_RAW, .db = "registrations", .k = key, .kl = sizeof key, .v = rv,
             .vl = sizeof rv};
  assert_int_equal(run(f, &raw2), LIC_OK);
  op g = {.what = W_REG_GET};
  memcpy(g.reg.account, A2, LIC_ID_LEN);
  g.reg.project_id[0] = 5;
  assert_int_equal(run(f, &g), LIC_OK);
  assert_int_equal(g.rc2, LIC_OK);
  assert_int_equal(g.reg.created, 9);
  assert_int_equal(g.reg.last_valid, 9); /* defaults to created */
  assert_string_equal(g.reg.project, "P");
  /* a trailing byte too many is corruption, not a new field */
  static const uint8_t bad[] = {1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 3, 'e', 'n', 'v', 0};
  op raw3 = {.what = W_RAW, .db = "accounts", .k = A1, .kl = LIC_ID_LEN, .v = bad, .vl = sizeof bad};
  assert_int_equal(run(f, &raw3), LIC_OK);
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_account_get(f->rd, A1, &a), LIC_FORMAT);
  store_reader_end(f->rd);
}

typedef struct {
  int n;
  char envs[4][16];
} cert_seen;

static int cert_cb(const store_cert *c, void *arg) {
  cert_seen *s = arg;
  if (s->n < 4)
    snprintf(s->envs[s->n], sizeof s->envs[0], "%.*s", (int)c->env_len, (const char *)c->env);
  s->n++;
  return 0;
}

static void test_certs_by_id(void **state) {
  fx *f = *state;
  static const uint8_t C1[LIC_ID_LEN] = {0xc1}, C2[LIC_ID_LEN] = {0xc2};
  op c1 = {.what = W_CERT_ADD, .id = C1, .env = "cert-1", .now = 5};
  op c2 = {.what = W_CERT_ADD, .id = C2, .env = "cert-2", .now = 6};
  assert_int_equal(run(f, &c1), LIC_OK);
  assert_int_equal(run(f, &c2), LIC_OK);
  c1.env = "cert-1b"; /* the same id again replaces */
  assert_int_equal(run(f, &c1), LIC_OK);
  cert_seen seen = {0};
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_cert_each(f->rd, cert_cb, &seen), LIC_OK);
  store_reader_end(f->rd);
  assert_int_equal(seen.n, 2);
  assert_string_equal(seen.envs[0], "cert-1b");
  assert_string_equal(seen.envs[1], "cert-2");
}

static void test_registrations_in_the_writer(void **state) {
  fx *f = *state;
  reg(f, A1, 1, 100, 100);
  reg(f, A1, 2, 100, 200);
  reg(f, A1, 3, 100, 300);
  reg(f, A2, 1, 100, 100);
  op c = {.what = W_REG_COUNT, .id = A1};
  assert_int_equal(run(f, &c), LIC_OK);
  assert_int_equal(c.n, 3);
  op g = {.what = W_REG_GET};
  memcpy(g.reg.account, A1, LIC_ID_LEN);
  g.reg.project_id[0] = 2;
  assert_int_equal(run(f, &g), LIC_OK);
  assert_int_equal(g.rc2, LIC_OK);
  assert_int_equal(g.reg.last_valid, 200);
  g.reg.project_id[0] = 9;
  memcpy(g.reg.account, A1, LIC_ID_LEN);
  assert_int_equal(run(f, &g), LIC_OK);
  assert_int_equal(g.rc2, LIC_NOTFOUND);
  op d = {.what = W_REG_DELALL, .id = A1};
  assert_int_equal(run(f, &d), LIC_OK);
  assert_int_equal(d.n, 3);
  assert_int_equal(count(f, A1), 0);
  assert_int_equal(count(f, A2), 1); /* another account's prefix is untouched */
  assert_int_equal(run(f, &d), LIC_OK);
  assert_int_equal(d.n, 0);
}

typedef struct {
  int expire;
  char subject[200];
} audit_seen;

static int audit_cb(const store_audit *a, void *arg) {
  audit_seen *s = arg;
  if (strcmp(a->action, "registration.expire") == 0) {
    s->expire++;
    snprintf(s->subject, sizeof s->subject, "%s", a->subject);
  }
  return 0;
}

static void test_release_idle_audited(void **state) {
  fx *f = *state;
  int64_t now = 1800000000;
  size_t n = 99;
  reg(f, A1, 1, now - 10 * DAY, now - 3 * DAY); /* idle 3 days */
  reg(f, A1, 2, now - 10 * DAY, now - 1 * DAY);
  reg(f, A2, 7, now - 5 * DAY, 0);              /* no last_valid: its creation counts */
  assert_int_equal(store_registration_release_idle(f->s, now, 0, &n), LIC_INVALID);
  assert_int_equal(store_registration_release_idle(f->s, now, 2, &n), LIC_OK);
  assert_int_equal(n, 2);
  assert_int_equal(count(f, A1), 1);
  assert_int_equal(count(f, A2), 0);
  audit_seen seen = {0};
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_audit_each(f->rd, 0, NULL, audit_cb, &seen), LIC_OK);
  store_reader_end(f->rd);
  assert_int_equal(seen.expire, 2);
  assert_non_null(strstr(seen.subject, "account:"));
  assert_non_null(strstr(seen.subject, "project:"));
  assert_int_equal(store_registration_release_idle(f->s, now, 2, &n), LIC_OK);
  assert_int_equal(n, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_account_revoke_survives_reimport, setup, teardown),
      cmocka_unit_test_setup_teardown(test_records_before_the_new_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_certs_by_id, setup, teardown),
      cmocka_unit_test_setup_teardown(test_registrations_in_the_writer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_release_idle_audited, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
