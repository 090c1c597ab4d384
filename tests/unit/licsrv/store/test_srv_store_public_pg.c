/* test_srv_store_public_pg.c - the store interface for public mode, one suite
 * run against both backends: LMDB in a temp directory and PostgreSQL at
 * LIC_TEST_PG_URL (tests/unit/with_pg.py starts a server for it; without one
 * the PostgreSQL group is skipped, saying so). Account revocation (kept across
 * re-import), certificates by id, registrations as the writer sees them,
 * last_valid and the TTL release with its audit entries, meta, tokens, the
 * node batch, purge and forget, a failing operation inside a group. LMDB
 * alone: records written before these fields. PostgreSQL alone: the schema
 * versions and migrate, private mode refused, and capacity checked through
 * two store handles (two processes) at once without overshooting. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "lic/err.h"
#include "store/store.h"
#include "pgtest.h"
#include "testutil.h"

enum { BK_LMDB, BK_PG };
static const int BACKEND_LMDB = BK_LMDB, BACKEND_PG = BK_PG;

static const uint8_t A1[LIC_ID_LEN] = {0xa1};
static const uint8_t A2[LIC_ID_LEN] = {0xa2};
#define DAY 86400

typedef struct {
  int backend;
  char *dir;
  const char *where; /* the directory or the URL */
  store *s;
  store_reader *rd;
} fx;

/* An empty database for each PostgreSQL test. */

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->backend = *(const int *)*state;
  f->dir = tu_tmpdir();
  f->where = tu_pg_store_where(f->backend == BK_PG, f->dir);
  assert_int_equal(store_open(f->where, STORE_CREATE, &f->s), LIC_OK);
  assert_string_equal(store_backend_name(f->s), f->backend == BK_PG ? "postgresql" : "lmdb");
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
  n = 99; /* the days range, checked above the backends (store.c): nothing released */
  assert_int_equal(store_registration_release_idle(f->s, now, STORE_MAX_DAYS + 1, &n),
                   LIC_INVALID);
  assert_int_equal(n, 0);
  assert_non_null(strstr(lic_errdetail(), "1..36500"));
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

/* ---- meta, clock mark, tokens, nodes, purge, forget (both backends) ------ */

typedef struct {
  int what;
  const char *name;
  uint8_t hash[STORE_TOKEN_HASH_LEN];
  int64_t now;
} op2;

enum { W_META, W_TOKEN_PUT, W_TOKEN_REVOKE, W_AUDIT, W_LICENSE_PUT, W_FAIL };

static int apply2(store_wtxn *w, void *arg) {
  op2 *o = arg;
  static const uint8_t kid[LIC_KID_LEN] = {1}, pub[LIC_PUBKEY_LEN] = {2}, pid[LIC_ID_LEN] = {3};
  switch (o->what) {
  case W_META: return store_w_meta_init(w, "public", kid, pub, pid, o->now);
  case W_TOKEN_PUT: return store_w_token_put(w, o->hash, o->name, o->now);
  case W_TOKEN_REVOKE: return store_w_token_revoke(w, o->name);
  case W_AUDIT: return store_w_audit_append(w, o->now, "cli", "test.action", o->name);
  case W_LICENSE_PUT: return store_w_license_put(w, pid, (const uint8_t *)"env", 3, o->now);
  default: return lic_fail(LIC_INVALID, "this operation fails on purpose");
  }
}

static int run2(fx *f, op2 *o) { return store_write(f->s, apply2, o); }

static void test_meta_once_and_clock_mark(void **state) {
  fx *f = *state;
  store_meta m;
  op2 o = {.what = W_META, .now = 1000};
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_meta_get(f->rd, &m), LIC_OK);
  assert_false(m.has_node_key);
  assert_string_equal(m.mode, "");
  assert_int_equal(run2(f, &o), LIC_OK);
  assert_int_equal(run2(f, &o), LIC_EXISTS);
  assert_int_equal(store_reader_begin(f->rd), LIC_OK); /* the newest snapshot */
  assert_int_equal(store_meta_get(f->rd, &m), LIC_OK);
  assert_true(m.has_node_key);
  assert_string_equal(m.mode, "public");
  assert_int_equal(m.created, 1000);
  assert_int_equal(m.node_pub[0], 2);
  assert_int_equal(m.project_id[0], 3);
  assert_true(m.schema >= 1);
  int64_t t = -1;
  store_clock_hwm_note(f->s, 5000);
  store_clock_hwm_note(f->s, 4000); /* never lowers */
  assert_int_equal(store_clock_hwm_get(f->rd, &t), LIC_OK);
  assert_int_equal(t, 5000); /* noted, not yet flushed: still counted */
  assert_int_equal(store_flush(f->s), LIC_OK);
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_clock_hwm_get(f->rd, &t), LIC_OK);
  assert_int_equal(t, 5000);
  store_reader_end(f->rd);
}

typedef struct {
  int n;
  char last[STORE_MAX_TOKEN_NAME + 1];
} tok_seen;

static int tok_cb(const store_token *t, void *arg) {
  tok_seen *s = arg;
  s->n++;
  snprintf(s->last, sizeof s->last, "%s", t->name);
  return 0;
}

static void test_tokens(void **state) {
  fx *f = *state;
  op2 a = {.what = W_TOKEN_PUT, .name = "ops", .hash = {0x11}, .now = 7};
  op2 b = {.what = W_TOKEN_PUT, .name = "ops", .hash = {0x22}, .now = 8};
  op2 bad = {.what = W_TOKEN_PUT, .name = "no spaces", .hash = {0x33}, .now = 8};
  store_token t;
  assert_int_equal(run2(f, &a), LIC_OK);
  assert_int_equal(run2(f, &b), LIC_EXISTS); /* the name is taken */
  assert_int_equal(run2(f, &bad), LIC_INVALID);
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_token_lookup(f->rd, a.hash, &t), LIC_OK);
  assert_string_equal(t.name, "ops");
  assert_int_equal(t.created, 7);
  assert_int_equal(store_token_lookup(f->rd, b.hash, &t), LIC_NOTFOUND);
  tok_seen seen = {0};
  assert_int_equal(store_token_each(f->rd, tok_cb, &seen), LIC_OK);
  assert_int_equal(seen.n, 1);
  op2 rv = {.what = W_TOKEN_REVOKE, .name = "ops"};
  assert_int_equal(run2(f, &rv), LIC_OK);
  assert_int_equal(run2(f, &rv), LIC_NOTFOUND);
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_token_lookup(f->rd, a.hash, &t), LIC_NOTFOUND);
  store_reader_end(f->rd);
}

static int node_count_cb(const store_node *n, void *arg) {
  (void)n;
  (*(int *)arg)++;
  return 0;
}

static void test_node_batch_and_purge(void **state) {
  fx *f = *state;
  int64_t now = 1800000000;
  store_node n;
  store_counts c;
  assert_int_equal(store_node_seen(f->s, A1, "rs-1", now - 100), LIC_OK);
  assert_int_equal(store_node_seen(f->s, A1, "rs-1", now - 200), LIC_OK); /* older: ignored */
  assert_int_equal(store_node_failure(f->s, A1, "rs-2", now - 50, "denied", "why"), LIC_OK);
  assert_int_equal(store_node_seen(f->s, A2, "old", now - 400 * DAY), LIC_OK);
  assert_int_equal(store_node_failure(f->s, A2, "oldfail", now - 300 * DAY, "denied", "x"), LIC_OK);
  assert_int_equal(store_node_seen(f->s, A2, "", now), LIC_LIMIT);
  assert_int_equal(store_flush(f->s), LIC_OK);
  store_stats st;
  store_stats_get(f->s, &st);
  assert_true(st.flushes >= 1);
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_node_get(f->rd, A1, "rs-1", &n), LIC_OK);
  assert_int_equal(n.last_seen, now - 100);
  assert_int_equal(n.fail_time, 0);
  assert_int_equal(store_node_get(f->rd, A1, "rs-2", &n), LIC_OK);
  assert_int_equal(n.fail_time, now - 50);
  assert_string_equal(n.fail_status, "denied");
  assert_string_equal(n.fail_reason, "why");
  assert_int_equal(store_node_get(f->rd, A1, "nope", &n), LIC_NOTFOUND);
  /* a second batch merges: a later failure on a seen node keeps its last_seen */
  assert_int_equal(store_node_failure(f->s, A1, "rs-1", now - 10, "expired", "late"), LIC_OK);
  assert_int_equal(store_flush(f->s), LIC_OK);
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_node_get(f->rd, A1, "rs-1", &n), LIC_OK);
  assert_int_equal(n.last_seen, now - 100);
  assert_int_equal(n.fail_time, now - 10);
  int k = 0;
  assert_int_equal(store_node_each(f->rd, A1, node_count_cb, &k), LIC_OK);
  assert_int_equal(k, 2);
  k = 0;
  assert_int_equal(store_node_each(f->rd, NULL, node_count_cb, &k), LIC_OK);
  assert_int_equal(k, 4);
  store_reader_end(f->rd);
  op2 old = {.what = W_AUDIT, .name = "old", .now = now - 500 * DAY};
  assert_int_equal(run2(f, &old), LIC_OK);
  assert_int_equal(store_purge(f->s, now, 0, "cli:test", &c), LIC_INVALID);
  memset(&c, 0x5a, sizeof c);
  assert_int_equal(store_purge(f->s, now, STORE_MAX_DAYS + 1, "cli:test", &c), LIC_INVALID);
  assert_int_equal(c.nodes + c.failures + c.audit + c.registrations, 0);
  assert_int_equal(store_purge(f->s, now, 180, "cli:test", &c), LIC_OK);
  assert_int_equal(c.nodes, 2);    /* "old" and "oldfail" */
  assert_int_equal(c.failures, 1); /* "oldfail" */
  assert_int_equal(c.audit, 1);
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  k = 0;
  assert_int_equal(store_node_each(f->rd, NULL, node_count_cb, &k), LIC_OK);
  assert_int_equal(k, 2);
  store_reader_end(f->rd);
}

static int audit_count_cb(const store_audit *a, void *arg) {
  (void)a;
  (*(int *)arg)++;
  return 0;
}

static void test_forget_account(void **state) {
  fx *f = *state;
  char uuid[LIC_UUID_LEN + 1], subj[80];
  store_counts c;
  store_account a;
  op put = {.what = W_ACCT_PUT, .id = A1, .env = "env-1", .now = 10};
  assert_int_equal(run(f, &put), LIC_OK);
  reg(f, A1, 1, 100, 100);
  reg(f, A1, 2, 100, 100);
  reg(f, A2, 1, 100, 100);
  assert_int_equal(store_node_failure(f->s, A1, "rs-1", 100, "denied", "r"), LIC_OK);
  assert_int_equal(store_flush(f->s), LIC_OK);
  lic_uuid_format(A1, uuid);
  snprintf(subj, sizeof subj, "account:%s", uuid);
  op2 au = {.what = W_AUDIT, .name = subj, .now = 100};
  assert_int_equal(run2(f, &au), LIC_OK);
  assert_int_equal(store_forget(f->s, STORE_SUBJECT_ACCOUNT, A1, "cli:test", &c), LIC_OK);
  assert_int_equal(c.accounts, 1);
  assert_int_equal(c.registrations, 2);
  assert_int_equal(c.nodes, 1);
  assert_int_equal(c.failures, 1);
  assert_int_equal(c.audit, 1);
  assert_int_equal(count(f, A1), 0);
  assert_int_equal(count(f, A2), 1);
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_account_get(f->rd, A1, &a), LIC_NOTFOUND);
  int k = 0;
  assert_int_equal(store_audit_each(f->rd, 0, uuid, audit_count_cb, &k), LIC_OK);
  assert_int_equal(k, 0);
  k = 0;
  assert_int_equal(store_audit_each(f->rd, 0, "(erased)", audit_count_cb, &k), LIC_OK);
  assert_int_equal(k, 1);
  store_reader_end(f->rd);
}

/* One failing operation in a group leaves the others committed. */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, ok, failed;
} waiter;

static void wdone(void *arg, int rc, const char *detail) {
  waiter *w = arg;
  (void)detail;
  pthread_mutex_lock(&w->mu);
  w->done++;
  if (rc == LIC_OK)
    w->ok++;
  else
    w->failed++;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

typedef struct {
  waiter *w;
  op o;
  bool fail;
} gop;

static int gapply(store_wtxn *w, void *arg) {
  gop *g = arg;
  int rc = apply(w, &g->o);
  return rc == LIC_OK && g->fail ? lic_fail(LIC_INVALID, "fails after its write") : rc;
}

static void gdone(void *arg, int rc, const char *detail) { wdone(((gop *)arg)->w, rc, detail); }

static void test_failing_op_in_a_group(void **state) {
  fx *f = *state;
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
  gop g[9];
  memset(g, 0, sizeof g);
  for (int i = 0; i < 9; i++) {
    g[i].w = &w;
    g[i].o.what = W_REG_PUT;
    memcpy(g[i].o.reg.account, A1, LIC_ID_LEN);
    g[i].o.reg.project_id[0] = (uint8_t)(i + 1);
    snprintf(g[i].o.reg.project, sizeof g[i].o.reg.project, "P%d", i);
    g[i].o.reg.created = g[i].o.reg.last_valid = 100;
    g[i].fail = i % 3 == 1;
    assert_int_equal(store_submit(f->s, gapply, gdone, &g[i]), LIC_OK);
  }
  pthread_mutex_lock(&w.mu);
  while (w.done < 9)
    pthread_cond_wait(&w.cv, &w.mu);
  pthread_mutex_unlock(&w.mu);
  assert_int_equal(w.ok, 6);
  assert_int_equal(w.failed, 3);
  assert_int_equal(count(f, A1), 6); /* the failing ones' writes were undone */
}

/* ---- LMDB alone ---------------------------------------------------------- */
/* (test_records_before_the_new_fields above writes raw LMDB records.) */

/* ---- PostgreSQL alone ------------------------------------------------------- */

static void test_pg_private_mode_refused(void **state) {
  fx *f = *state;
  op2 o = {.what = W_LICENSE_PUT, .now = 1};
  store_license l;
  assert_int_equal(run2(f, &o), LIC_INVALID);
  assert_non_null(strstr(lic_errdetail(), "private mode is LMDB only"));
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(store_license_only(f->rd, &l), LIC_INVALID);
  store_reader_end(f->rd);
  uint64_t used = 0, cap = 1;
  assert_int_equal(store_size(f->s, &used, &cap), LIC_OK);
  assert_true(used > 0);
  assert_int_equal(store_backup(f->s, "/tmp/nowhere"), LIC_INVALID);
  assert_non_null(strstr(lic_errdetail(), "pg_dump"));
}

static void test_pg_schema_versions(void **state) {
  fx *f = *state;
  const char *url = f->where;
  store *s2 = NULL;
  store_meta m;
  store_reader_free(f->rd);
  f->rd = NULL;
  store_close(f->s);
  f->s = NULL;
  /* version 1 (as an older licsrv left it): refused until migrated */
  tu_pg_sql("DROP INDEX licsrv_audit_coalesce; ALTER TABLE licsrv_audit DROP COLUMN count,"
         " DROP COLUMN last; DROP FUNCTION licsrv_usage_counted() CASCADE; DROP FUNCTION licsrv_subject_owner(text);"
         " DROP TABLE licsrv_usage; ALTER TABLE licsrv_accounts DROP COLUMN nrecords;"
         " DROP FUNCTION licsrv_notify() CASCADE; DROP FUNCTION licsrv_reg_change() CASCADE;"
         " DROP FUNCTION licsrv_account_nregs() CASCADE; DROP FUNCTION licsrv_origin();"
         " DROP FUNCTION licsrv_claim; DROP FUNCTION licsrv_release;"
         " ALTER TABLE licsrv_accounts DROP COLUMN nregs; UPDATE licsrv_meta SET schema = 1");
  assert_int_equal(store_open(url, 0, &s2), LIC_FORMAT);
  assert_non_null(strstr(lic_errdetail(), "licsrv migrate"));
  assert_int_equal(store_open(url, STORE_MIGRATE, &s2), LIC_OK);
  assert_int_equal(store_reader_new(s2, &f->rd), LIC_OK);
  assert_int_equal(store_meta_get(f->rd, &m), LIC_OK);
  assert_int_equal(m.schema, 6); /* store/pg/internal.h PGS_SCHEMA_VERSION */
  store_reader_free(f->rd);
  f->rd = NULL;
  store_close(s2);
  assert_int_equal(store_open(url, 0, &s2), LIC_OK); /* current: opens */
  store_close(s2);
  tu_pg_sql("UPDATE licsrv_meta SET schema = 99");
  assert_int_equal(store_open(url, STORE_MIGRATE, &s2), LIC_FORMAT);
  assert_non_null(strstr(lic_errdetail(), "newer"));
  tu_pg_reset();
  assert_int_equal(store_open(url, 0, &s2), LIC_NOTFOUND);
  assert_non_null(strstr(lic_errdetail(), "licsrv init"));
  assert_int_equal(store_open("postgresql://127.0.0.1:1/none?connect_timeout=2", 0, &s2),
                   LIC_UNAVAILABLE);
  assert_int_equal(store_open(url, STORE_CREATE, &f->s), LIC_OK);
  assert_int_equal(store_reader_new(f->s, &f->rd), LIC_OK);
}

/* Two store handles are two processes: each registers through its own writer;
 * the account's row lock makes the capacity check see the other's rows. */
#define CAP 3
#define ATTEMPTS 24

typedef struct {
  waiter *w;
  uint8_t project;
  bool taken;
} cap_op;

static int cap_apply(store_wtxn *wt, void *arg) {
  cap_op *o = arg;
  store_account a;
  store_registration g;
  size_t n;
  int rc;
  o->taken = false;
  if ((rc = store_w_account_get(wt, A1, &a)) != LIC_OK)
    return rc;
  store_account_clear(&a);
  if ((rc = store_w_registration_count(wt, A1, &n)) != LIC_OK || n >= CAP)
    return rc;
  memset(&g, 0, sizeof g);
  memcpy(g.account, A1, LIC_ID_LEN);
  g.project_id[0] = o->project;
  snprintf(g.project, sizeof g.project, "P%u", o->project);
  g.created = g.last_valid = 100;
  if ((rc = store_w_registration_put(wt, &g)) == LIC_OK)
    o->taken = true;
  return rc;
}

static void cap_done(void *arg, int rc, const char *detail) {
  cap_op *o = arg;
  if (rc != LIC_OK)
    o->taken = false;
  wdone(o->w, rc, detail);
}

static void test_pg_capacity_across_two_handles(void **state) {
  fx *f = *state;
  store *other = NULL;
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
  cap_op ops[ATTEMPTS];
  op put = {.what = W_ACCT_PUT, .id = A1, .env = "env-1", .now = 10};
  assert_int_equal(run(f, &put), LIC_OK);
  assert_int_equal(store_open(f->where, 0, &other), LIC_OK);
  for (int i = 0; i < ATTEMPTS; i++) {
    ops[i].w = &w;
    ops[i].project = (uint8_t)(i + 1);
    assert_int_equal(store_submit(i % 2 ? other : f->s, cap_apply, cap_done, &ops[i]), LIC_OK);
  }
  pthread_mutex_lock(&w.mu);
  while (w.done < ATTEMPTS)
    pthread_cond_wait(&w.cv, &w.mu);
  pthread_mutex_unlock(&w.mu);
  int taken = 0;
  for (int i = 0; i < ATTEMPTS; i++)
    taken += ops[i].taken;
  assert_int_equal(taken, CAP);
  assert_int_equal(count(f, A1), CAP);
  store_close(other);
}

/* ---- store_read_submit: reads off the caller's thread ---------------------- */

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  const uint8_t *hash; /* the token to look up */
  bool gate_wait;      /* read: wait until gate_open */
  bool gate_open, in_read;
  int reads, dones, rc;
  char name[STORE_MAX_TOKEN_NAME + 1];
  char detail[320];
  pthread_t read_thread, done_thread;
  size_t regs;
} rjob;

#define RJOB_INIT {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER}

static int rj_read(store_reader *rd, void *arg) {
  rjob *j = arg;
  store_token t;
  pthread_mutex_lock(&j->mu);
  j->reads++;
  j->in_read = true;
  j->read_thread = pthread_self();
  pthread_cond_broadcast(&j->cv);
  while (j->gate_wait && !j->gate_open)
    pthread_cond_wait(&j->cv, &j->mu);
  pthread_mutex_unlock(&j->mu);
  if (j->hash == NULL)
    return LIC_OK;
  /* The reader works: a database read (tokens) and a cached one (count). */
  int rc = store_token_lookup(rd, j->hash, &t);
  if (rc == LIC_OK) {
    snprintf(j->name, sizeof j->name, "%s", t.name);
    rc = store_registration_count(rd, A1, &j->regs);
  }
  return rc;
}

static void rj_done(void *arg, int rc, const char *detail) {
  rjob *j = arg;
  pthread_mutex_lock(&j->mu);
  j->dones++;
  j->rc = rc;
  j->done_thread = pthread_self();
  snprintf(j->detail, sizeof j->detail, "%s", detail != NULL ? detail : "(null)");
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
}

static void rj_wait(rjob *j) {
  pthread_mutex_lock(&j->mu);
  while (j->dones == 0)
    pthread_cond_wait(&j->cv, &j->mu);
  pthread_mutex_unlock(&j->mu);
}

static void test_read_submit(void **state) {
  fx *f = *state;
  op2 put = {.what = W_TOKEN_PUT, .name = "ops", .hash = {0x11}, .now = 7};
  const uint8_t other[STORE_TOKEN_HASH_LEN] = {0x99};
  assert_int_equal(run2(f, &put), LIC_OK);
  reg(f, A1, 1, 100, 100);
  reg(f, A1, 2, 100, 100);
  for (int k = 0; k < 3; k++) {
    /* the caller's reader (LMDB reads on it), none, and a miss */
    rjob j = RJOB_INIT;
    j.hash = k < 2 ? put.hash : other;
    assert_int_equal(store_read_submit(f->s, k == 1 ? NULL : f->rd, rj_read, rj_done, &j), LIC_OK);
    if (f->backend == BK_LMDB) { /* at once, on this thread */
      assert_int_equal(j.dones, 1);
      assert_true(pthread_equal(j.read_thread, pthread_self()));
      assert_true(pthread_equal(j.done_thread, pthread_self()));
    }
    rj_wait(&j);
    if (f->backend == BK_PG) { /* on the store's reader thread, read then done */
      assert_false(pthread_equal(j.read_thread, pthread_self()));
      assert_true(pthread_equal(j.done_thread, j.read_thread));
    }
    usleep(20000); /* a second done would come now */
    assert_int_equal(j.reads, 1);
    assert_int_equal(j.dones, 1);
    if (k < 2) {
      assert_int_equal(j.rc, LIC_OK);
      assert_string_equal(j.name, "ops");
      assert_int_equal(j.regs, 2);
      assert_string_equal(j.detail, "");
    } else {
      assert_int_equal(j.rc, LIC_NOTFOUND); /* read's own return */
    }
  }
  /* The caller's reader is left usable. */
  assert_int_equal(count(f, A1), 2);
}

typedef struct {
  store *s;
  atomic_int returned;
} quiesce_arg;

static void *quiesce_main(void *arg) {
  quiesce_arg *qa = arg;
  store_read_quiesce(qa->s);
  atomic_fetch_add(&qa->returned, 1);
  return NULL;
}

/* One read holds the reader thread; STORE_READQ_MAX more wait; the next is
 * refused at once. Quiescing answers the waiting ones LIC_UNAVAILABLE, waits
 * for the running one, and refuses later ones. Each done runs exactly once. */
static void test_pg_read_queue_full_and_closing(void **state) {
  fx *f = *state;
  static rjob q[STORE_READQ_MAX];
  rjob hold = RJOB_INIT, extra = RJOB_INIT, late = RJOB_INIT;
  pthread_t th, th2;
  quiesce_arg qa = {f->s, 0};
  hold.gate_wait = true;
  assert_int_equal(store_read_submit(f->s, f->rd, rj_read, rj_done, &hold), LIC_OK);
  pthread_mutex_lock(&hold.mu);
  while (!hold.in_read)
    pthread_cond_wait(&hold.cv, &hold.mu);
  pthread_mutex_unlock(&hold.mu);
  for (int i = 0; i < STORE_READQ_MAX; i++) {
    rjob z = RJOB_INIT;
    q[i] = z;
    assert_int_equal(store_read_submit(f->s, f->rd, rj_read, rj_done, &q[i]), LIC_OK);
  }
  lic_errdetail_clear();
  assert_int_equal(store_read_submit(f->s, f->rd, rj_read, rj_done, &extra), LIC_UNAVAILABLE);
  assert_non_null(strstr(lic_errdetail(), "waiting"));
  assert_int_equal(pthread_create(&th, NULL, quiesce_main, &qa), 0);
  assert_int_equal(pthread_create(&th2, NULL, quiesce_main, &qa), 0); /* two at once */
  for (int i = 0; i < STORE_READQ_MAX; i++) { /* answered without running */
    rj_wait(&q[i]);
    assert_int_equal(q[i].rc, LIC_UNAVAILABLE);
    assert_non_null(strstr(q[i].detail, "closing"));
    assert_int_equal(q[i].reads, 0);
  }
  usleep(50000);
  assert_int_equal(hold.dones, 0); /* still running: both quiesce calls wait for it */
  assert_int_equal(atomic_load(&qa.returned), 0);
  pthread_mutex_lock(&hold.mu);
  hold.gate_open = true;
  pthread_cond_broadcast(&hold.cv);
  pthread_mutex_unlock(&hold.mu);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(pthread_join(th2, NULL), 0);
  assert_int_equal(hold.dones, 1); /* before quiesce returned */
  assert_int_equal(atomic_load(&qa.returned), 2);
  assert_int_equal(hold.rc, LIC_OK);
  assert_int_equal(store_read_submit(f->s, f->rd, rj_read, rj_done, &late), LIC_UNAVAILABLE);
  assert_non_null(strstr(lic_errdetail(), "closing"));
  usleep(20000);
  assert_int_equal(extra.dones + late.dones, 0);
  for (int i = 0; i < STORE_READQ_MAX; i++)
    assert_int_equal(q[i].dones, 1);
}

/* LMDB: no queue, nothing to quiesce; reads keep working. */
static void test_lmdb_quiesce_is_a_no_op(void **state) {
  fx *f = *state;
  rjob j = RJOB_INIT;
  store_read_quiesce(f->s);
  assert_int_equal(store_read_submit(f->s, NULL, rj_read, rj_done, &j), LIC_OK);
  assert_int_equal(j.dones, 1);
  assert_int_equal(j.rc, LIC_OK);
}

#define BOTH(t)                                                                  \
  cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, (void *)&BACKEND)

int main(void) {
#define BACKEND BACKEND_LMDB
  const struct CMUnitTest lmdb[] = {
      BOTH(test_account_revoke_survives_reimport), BOTH(test_certs_by_id),
      BOTH(test_registrations_in_the_writer),      BOTH(test_release_idle_audited),
      BOTH(test_meta_once_and_clock_mark),         BOTH(test_tokens),
      BOTH(test_node_batch_and_purge),             BOTH(test_forget_account),
      BOTH(test_failing_op_in_a_group),            BOTH(test_records_before_the_new_fields),
      BOTH(test_read_submit),                      BOTH(test_lmdb_quiesce_is_a_no_op),
  };
#undef BACKEND
#define BACKEND BACKEND_PG
  const struct CMUnitTest pg[] = {
      BOTH(test_account_revoke_survives_reimport), BOTH(test_certs_by_id),
      BOTH(test_registrations_in_the_writer),      BOTH(test_release_idle_audited),
      BOTH(test_meta_once_and_clock_mark),         BOTH(test_tokens),
      BOTH(test_node_batch_and_purge),             BOTH(test_forget_account),
      BOTH(test_failing_op_in_a_group),            BOTH(test_pg_private_mode_refused),
      BOTH(test_pg_schema_versions),               BOTH(test_pg_capacity_across_two_handles),
      BOTH(test_read_submit),                      BOTH(test_pg_read_queue_full_and_closing),
  };
#undef BACKEND
  int failed = _cmocka_run_group_tests("store_lmdb", lmdb, sizeof lmdb / sizeof lmdb[0], NULL, NULL);
  if (getenv("LIC_TEST_PG_URL") == NULL || getenv("LIC_TEST_PG_URL")[0] == '\0') {
    printf("SKIPPED: the PostgreSQL backend group (LIC_TEST_PG_URL is not set; "
           "tests/unit/with_pg.py sets it)\n");
    return failed;
  }
  return failed + _cmocka_run_group_tests("store_postgresql", pg, sizeof pg / sizeof pg[0], NULL,
                                          NULL);
}
