/* test_srv_store_usage.c - each account's record count in the LMDB store
 * (schema 3, the per-account quota of issue 23 item 1): registrations, node
 * records (durable puts and the heartbeat batch) and audit entries naming the
 * account count; every delete (unregister, batch drop, purge, forget) takes
 * its record off; other owners and other subjects are apart; a schema 2
 * store is counted at its first writable open. And the public listener's
 * audit repeats (register/unregister churn) are merged per action, subject
 * and hour into one entry with a count, counted once against the account. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "lic/err.h"
#include "lic/util.h"
#include "store/store.h"
#include "testutil.h"

static const uint8_t A1[LIC_ID_LEN] = {0xa1, 1};
static const uint8_t A2[LIC_ID_LEN] = {0xa2, 2};

typedef enum { W_REG, W_UNREG, W_AUDIT, W_AUDIT_OTHER, W_NODE, W_USAGE, W_CHURN } wkind;

typedef struct {
  wkind k;
  const uint8_t *acct;
  int n;
  store_usage u; /* W_USAGE: what the writer reads */
} wop;

static int apply(store_wtxn *w, void *arg) {
  wop *o = arg;
  char id[LIC_UUID_LEN + 1], subj[STORE_MAX_SUBJECT + 1];
  int64_t now = time(NULL);
  lic_uuid_format(o->acct, id);
  switch (o->k) {
  case W_REG:
  case W_UNREG: {
    store_registration g;
    memset(&g, 0, sizeof g);
    memcpy(g.account, o->acct, LIC_ID_LEN);
    g.project_id[0] = (uint8_t)o->n;
    snprintf(g.project, sizeof g.project, "p%d", o->n);
    g.created = g.last_valid = now;
    return o->k == W_REG ? store_w_registration_put(w, &g)
                         : store_w_registration_delete(w, o->acct, g.project_id);
  }
  case W_AUDIT:
    snprintf(subj, sizeof subj, "account:%s project:%d", id, o->n);
    return store_w_audit_append(w, now, "public", "registration.add", subj);
  case W_AUDIT_OTHER: /* names the account, but not as its subject */
    snprintf(subj, sizeof subj, "token:ops account:%s", id);
    return store_w_audit_append(w, now, "cli", "token.add", subj);
  case W_NODE: {
    store_node n;
    memset(&n, 0, sizeof n);
    memcpy(n.owner, o->acct, LIC_ID_LEN);
    snprintf(n.node, sizeof n.node, "n%d", o->n);
    n.last_seen = now;
    return store_w_node_put(w, &n);
  }
  case W_USAGE:
    return store_w_usage_get(w, o->acct, &o->u);
  case W_CHURN: /* o->n: 0 add, 1 remove, 2 add by the CLI; at a fixed time (one hour) */
    snprintf(subj, sizeof subj, "account:%s project:1", id);
    return store_w_audit_append(w, 7200 * 1000 + 60 * (o->u.records), o->n == 2 ? "cli" : "public",
                                o->n == 1 ? "registration.remove" : "registration.add", subj);
  }
  return LIC_INVALID;
}

static void wr(store *s, wkind k, const uint8_t *acct, int n) {
  wop o = {k, acct, n, {0}};
  assert_int_equal(store_write(s, apply, &o), LIC_OK);
}

static uint64_t records(store *s, const uint8_t *acct) {
  store_reader *rd = NULL;
  store_usage u;
  assert_int_equal(store_reader_new(s, &rd), LIC_OK);
  assert_int_equal(store_reader_begin(rd), LIC_OK);
  assert_int_equal(store_usage_get(rd, acct, &u), LIC_OK);
  store_reader_end(rd);
  store_reader_free(rd);
  assert_true(u.counted);
  assert_true(u.mapsize > 0 && u.used > 0 && u.used < u.mapsize);
  return u.records;
}

static store_usage w_usage(store *s, const uint8_t *acct) {
  wop o = {W_USAGE, acct, 0, {0}};
  assert_int_equal(store_write(s, apply, &o), LIC_OK);
  return o.u;
}

static void test_counts_follow_writes(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  store *s = NULL;
  store_counts c;
  assert_int_equal(store_open(dir, STORE_CREATE, &s), LIC_OK);
  assert_int_equal(records(s, A1), 0);
  wr(s, W_REG, A1, 1);
  wr(s, W_REG, A1, 2);
  wr(s, W_REG, A1, 2); /* the same again: rewritten, not counted twice */
  wr(s, W_AUDIT, A1, 1);
  wr(s, W_AUDIT, A1, 2);
  wr(s, W_AUDIT_OTHER, A1, 0);
  wr(s, W_NODE, A1, 1);
  wr(s, W_NODE, A1, 1); /* rewritten */
  wr(s, W_REG, A2, 1);
  assert_int_equal(records(s, A1), 2 + 2 + 1);
  assert_int_equal(records(s, A2), 1);
  wr(s, W_UNREG, A1, 1);
  assert_int_equal(records(s, A1), 4);
  /* The heartbeat batch: a new node counts, a dropped failure leaves. */
  assert_int_equal(store_node_seen(s, A1, "seen", time(NULL)), LIC_OK);
  assert_int_equal(store_node_failure(s, A1, "bad", time(NULL), "bad_signature", "x"), LIC_OK);
  assert_int_equal(store_flush(s), LIC_OK);
  assert_int_equal(records(s, A1), 6);
  assert_int_equal(store_node_drop(s, A1, "bad"), LIC_OK);
  assert_int_equal(store_flush(s), LIC_OK);
  assert_int_equal(records(s, A1), 5);
  /* The writer's view: the largest account it saw. */
  store_usage u = w_usage(s, A2);
  assert_int_equal(u.records, 1);
  assert_int_equal(u.top_records, 5);
  /* Purge: every node and audit entry older than the cutoff (a year on). */
  assert_int_equal(store_purge(s, time(NULL) + 400 * 86400, 180, "cli:test", &c), LIC_OK);
  assert_int_equal(c.nodes, 2);
  assert_int_equal(c.audit, 3);
  assert_int_equal(records(s, A1), 1); /* its registration */
  assert_int_equal(records(s, A2), 1);
  /* Forget: nothing left of it. */
  assert_int_equal(store_forget(s, STORE_SUBJECT_ACCOUNT, A1, "cli:test", &c), LIC_OK);
  assert_int_equal(records(s, A1), 0);
  assert_int_equal(records(s, A2), 1);
  store_close(s);
  tu_rmtree(dir);
  free(dir);
}

/* A store written before the counts (schema 2): no usage database. */
static void to_schema2(const char *dir) {
  char path[4096];
  MDB_env *e = NULL;
  MDB_txn *t = NULL;
  MDB_dbi meta, us;
  uint8_t two[8] = {0, 0, 0, 0, 0, 0, 0, 2};
  MDB_val k = {6, (void *)(uintptr_t) "schema"}, v = {8, two};
  snprintf(path, sizeof path, "%s/store", dir);
  assert_int_equal(mdb_env_create(&e), 0);
  assert_int_equal(mdb_env_set_maxdbs(e, 16), 0);
  assert_int_equal(mdb_env_set_mapsize(e, (size_t)1 << 30), 0);
  assert_int_equal(mdb_env_open(e, path, MDB_NOTLS, 0600), 0);
  assert_int_equal(mdb_txn_begin(e, NULL, 0, &t), 0);
  assert_int_equal(mdb_dbi_open(t, "usage", 0, &us), 0);
  assert_int_equal(mdb_drop(t, us, 1), 0);
  assert_int_equal(mdb_dbi_open(t, "meta", 0, &meta), 0);
  assert_int_equal(mdb_put(t, meta, &k, &v, 0), 0);
  assert_int_equal(mdb_txn_commit(t), 0);
  mdb_env_close(e);
}

static void test_old_store_counted(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  store *s = NULL;
  store_reader *rd = NULL;
  store_usage u;
  store_meta m;
  assert_int_equal(store_open(dir, STORE_CREATE, &s), LIC_OK);
  wr(s, W_REG, A1, 1);
  wr(s, W_AUDIT, A1, 1);
  wr(s, W_NODE, A1, 1);
  wr(s, W_NODE, A1, 2);
  wr(s, W_AUDIT, A2, 1);
  store_close(s);
  to_schema2(dir);
  /* read-only: nothing counted, nothing refused */
  assert_int_equal(store_open(dir, STORE_RDONLY, &s), LIC_OK);
  assert_int_equal(store_reader_new(s, &rd), LIC_OK);
  assert_int_equal(store_reader_begin(rd), LIC_OK);
  assert_int_equal(store_usage_get(rd, A1, &u), LIC_OK);
  assert_false(u.counted);
  assert_int_equal(u.records, 0);
  assert_int_equal(store_meta_get(rd, &m), LIC_OK);
  assert_int_equal(m.schema, 2);
  store_reader_end(rd);
  store_reader_free(rd);
  store_close(s);
  /* writable: counted once, schema 3 */
  assert_int_equal(store_open(dir, 0, &s), LIC_OK);
  assert_int_equal(records(s, A1), 4);
  assert_int_equal(records(s, A2), 1);
  assert_int_equal(w_usage(s, A2).top_records, 4);
  assert_int_equal(store_reader_new(s, &rd), LIC_OK);
  assert_int_equal(store_reader_begin(rd), LIC_OK);
  assert_int_equal(store_meta_get(rd, &m), LIC_OK);
  assert_int_equal(m.schema, STORE_SCHEMA_VERSION);
  store_reader_end(rd);
  store_reader_free(rd);
  store_close(s);
  tu_rmtree(dir);
  free(dir);
}

typedef struct {
  int n;
  store_audit e[8];
} audit_rows;

static int audit_row(const store_audit *a, void *arg) {
  audit_rows *r = arg;
  if (r->n < 8)
    r->e[r->n] = *a;
  r->n++;
  return 0;
}

static void test_churn_coalesced(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  store *s = NULL;
  store_reader *rd = NULL;
  audit_rows rows = {0};
  assert_int_equal(store_open(dir, STORE_CREATE, &s), LIC_OK);
  /* 50 register/unregister pairs of one project within the hour */
  for (int i = 0; i < 50; i++) {
    wop add = {W_CHURN, A1, 0, {0}}, rem = {W_CHURN, A1, 1, {0}};
    add.u.records = rem.u.records = (uint64_t)(i % 50); /* minute offsets inside the hour */
    assert_int_equal(store_write(s, apply, &add), LIC_OK);
    assert_int_equal(store_write(s, apply, &rem), LIC_OK);
  }
  /* the command line's entries are never merged */
  wr(s, W_CHURN, A1, 2);
  wr(s, W_CHURN, A1, 2);
  assert_int_equal(records(s, A1), 4);
  assert_int_equal(store_reader_new(s, &rd), LIC_OK);
  assert_int_equal(store_reader_begin(rd), LIC_OK);
  assert_int_equal(store_audit_each(rd, 0, NULL, audit_row, &rows), LIC_OK);
  store_reader_end(rd);
  assert_int_equal(rows.n, 4);
  assert_string_equal(rows.e[0].action, "registration.add");
  assert_int_equal(rows.e[0].count, 50);
  assert_int_equal(rows.e[0].time, 7200 * 1000);
  assert_int_equal(rows.e[0].last, 7200 * 1000 + 60 * 49);
  assert_string_equal(rows.e[1].action, "registration.remove");
  assert_int_equal(rows.e[1].count, 50);
  assert_int_equal(rows.e[2].count, 1);
  assert_int_equal(rows.e[3].count, 1);
  /* the next hour starts a new entry */
  {
    wop add = {W_CHURN, A1, 0, {0}};
    add.u.records = 60;
    assert_int_equal(store_write(s, apply, &add), LIC_OK);
  }
  assert_int_equal(records(s, A1), 5);
  /* a purge of the hour deletes the merged entry: counted off once */
  store_counts c;
  assert_int_equal(store_purge(s, 7200 * 1000 + 3600 + 86400, 1, "cli:test", &c), LIC_OK);
  assert_int_equal(c.audit, 4);
  assert_int_equal(records(s, A1), 1);
  /* a merge into a purged entry appends anew */
  {
    wop add = {W_CHURN, A1, 0, {0}};
    add.u.records = 0;
    assert_int_equal(store_write(s, apply, &add), LIC_OK);
  }
  assert_int_equal(records(s, A1), 2);
  store_reader_free(rd);
  store_close(s);
  tu_rmtree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_churn_coalesced),
      cmocka_unit_test(test_counts_follow_writes),
      cmocka_unit_test(test_old_store_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
