/* test_srv_store_usage_pg.c - each account's record count (store_usage, the
 * per-account quota of issue 23 item 1, docs/server.md "Store quota") on both
 * backends, one scenario with the same figures: the claim and the release in
 * one call, audit entries of other paths, durable node puts and deletes (a
 * push-out), the heartbeat batch's upserts, registrations put and deleted,
 * purge and forget. On PostgreSQL (schema version 5) the count also equals
 * the rows counted by SQL at every step, and a schema 4 database with records
 * migrates to the right counts; the claim refuses a registration past the
 * account's quota (STORE_CLAIM_QUOTA, the count with it, nothing written),
 * sent ahead in a group too; the public listener's audit repeats merge into
 * one entry per action, subject and hour across two processes (schema
 * version 6; a schema 5 database's repeats merged by the migration), a
 * merge adding no record; a node's drop takes its pending heartbeat out of
 * the batch (a push-out's delete is not undone by it). Runs against the server tests/unit/with_pg.py
 * starts (LIC_TEST_PG_URL); without it the PostgreSQL group is skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "lic/err.h"
#include "lic/util.h"
#include "store/pg/internal.h"
#include "store/store.h"
#include "pgtest.h"
#include "testutil.h"

enum { BK_LMDB, BK_PG };
static const int BACKEND_LMDB = BK_LMDB, BACKEND_PG = BK_PG;

static const uint8_t A1[LIC_ID_LEN] = {0xa1, 1};
static const uint8_t A2[LIC_ID_LEN] = {0xa2, 2};
#define DAY 86400
#define NOW (1000 * DAY)
#define OLD (NOW - 40 * DAY)

typedef struct {
  int backend;
  char *dir;
  const char *where;
  store *s;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->backend = *(const int *)*state;
  f->dir = tu_tmpdir();
  f->where = tu_pg_store_where(f->backend == BK_PG, f->dir);
  assert_int_equal(store_open(f->where, STORE_CREATE, &f->s), LIC_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  store_close(f->s);
  tu_rmtree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

/* ---- writes ------------------------------------------------------------------ */

typedef enum { W_ACCT, W_PCLAIM, W_PRELEASE, W_PAUDIT, W_CLAIM, W_RELEASE, W_AUDIT, W_AUDIT_NONE, W_NODE, W_NODE_DEL, W_REG,
               W_UNREG } wkind;

typedef struct {
  wkind k;
  const uint8_t *acct;
  int n;
  int64_t when;
  uint64_t quota; /* W_CLAIM */
  store_claim claim;
  store_release rel;
} wop;

static void subject(const uint8_t *acct, int n, char *out, size_t len) {
  char id[LIC_UUID_LEN + 1];
  lic_uuid_format(acct, id);
  snprintf(out, len, "account:%s project:%d", id, n);
}

static int apply(store_wtxn *w, void *arg) {
  wop *o = arg;
  char subj[STORE_MAX_SUBJECT + 1];
  store_registration g;
  store_node nd;
  memset(&g, 0, sizeof g);
  memcpy(g.account, o->acct, LIC_ID_LEN);
  g.project_id[0] = (uint8_t)o->n;
  snprintf(g.project, sizeof g.project, "p%d", o->n);
  g.created = g.last_valid = o->when;
  subject(o->acct, o->n, subj, sizeof subj);
  memset(&nd, 0, sizeof nd);
  memcpy(nd.owner, o->acct, LIC_ID_LEN);
  snprintf(nd.node, sizeof nd.node, "n%d", o->n);
  nd.last_seen = o->when;
  switch (o->k) {
  /* the public listener's, whose repeats merge */
  case W_PCLAIM:
    return store_w_registration_claim(w, &g, 10, 0, "public", "registration.add", subj, &o->claim);
  case W_PRELEASE:
    return store_w_registration_release(w, o->acct, g.project_id, o->when, "public",
                                        "registration.remove", subj, &o->rel);
  case W_PAUDIT: return store_w_audit_append(w, o->when, "public", "registration.add", subj);
  case W_ACCT: return store_w_account_put(w, o->acct, (const uint8_t *)"env", 3, 10);
  /* the CLI's token: no merging of repeats on LMDB (the public listener's) */
  case W_CLAIM:
    return store_w_registration_claim(w, &g, 10, o->quota, "cli:test", "registration.add", subj, &o->claim);
  case W_RELEASE:
    return store_w_registration_release(w, o->acct, g.project_id, o->when, "cli:test",
                                        "registration.remove", subj, &o->rel);
  case W_AUDIT: return store_w_audit_append(w, o->when, "cli:test", "note", subj);
  case W_AUDIT_NONE: return store_w_audit_append(w, o->when, "cli:test", "note", "license:x");
  case W_NODE: return store_w_node_put(w, &nd);
  case W_NODE_DEL: return store_w_node_delete(w, o->acct, nd.node);
  case W_REG: return store_w_registration_put(w, &g);
  case W_UNREG: return store_w_registration_delete(w, o->acct, g.project_id);
  }
  return LIC_INVALID;
}

static wop wr(store *s, wkind k, const uint8_t *acct, int n, int64_t when) {
  wop o = {.k = k, .acct = acct, .n = n, .when = when};
  assert_int_equal(store_write(s, apply, &o), LIC_OK);
  return o;
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
  return u.records;
}

/* What SQL counts for the account: its registrations, node rows and audit
 * entries whose subject starts with "account:ID". */
static long sql_records(const uint8_t *acct) {
  char q[640], id[LIC_UUID_LEN + 1], hex[2 * LIC_ID_LEN + 1];
  lic_uuid_format(acct, id);
  for (int i = 0; i < LIC_ID_LEN; i++)
    snprintf(hex + 2 * i, 3, "%02x", acct[i]);
  snprintf(q, sizeof q,
           "SELECT (SELECT count(*) FROM licsrv_registrations WHERE account = '\\x%s')"
           " + (SELECT count(*) FROM licsrv_nodes WHERE owner = '\\x%s')"
           " + (SELECT count(*) FROM licsrv_audit WHERE subject ILIKE 'account:%s%%')",
           hex, hex, id);
  return tu_pg_long(q);
}

/* The count is want, and on PostgreSQL the rows SQL counts too. */
static void expect(fx *f, const uint8_t *acct, uint64_t want) {
  assert_int_equal(records(f->s, acct), want);
  if (f->backend == BK_PG)
    assert_int_equal(sql_records(acct), (long)want);
}

/* ---- both backends -------------------------------------------------------------- */

static void test_records_follow_every_writer(void **state) {
  fx *f = *state;
  store_counts c;
  wr(f->s, W_ACCT, A1, 0, 0);
  wr(f->s, W_ACCT, A2, 0, 0);
  expect(f, A1, 0);
  /* claim: a registration and its audit entry; again: nothing */
  assert_int_equal(wr(f->s, W_CLAIM, A1, 1, NOW).claim.outcome, STORE_CLAIM_NEW);
  expect(f, A1, 2);
  assert_int_equal(wr(f->s, W_CLAIM, A1, 1, NOW).claim.outcome, STORE_CLAIM_EXISTS);
  expect(f, A1, 2);
  assert_int_equal(wr(f->s, W_CLAIM, A1, 2, OLD).claim.outcome, STORE_CLAIM_NEW);
  expect(f, A1, 4);
  /* release: the registration goes, its audit entry comes */
  assert_int_equal(wr(f->s, W_RELEASE, A1, 2, OLD).rel.outcome, STORE_RELEASE_REMOVED);
  expect(f, A1, 4);
  assert_int_equal(wr(f->s, W_RELEASE, A1, 2, OLD).rel.outcome, STORE_RELEASE_ABSENT);
  expect(f, A1, 4);
  /* audit entries of other paths: the account's own, another's, nobody's */
  wr(f->s, W_AUDIT, A1, 7, OLD);
  wr(f->s, W_AUDIT, A2, 7, NOW);
  wr(f->s, W_AUDIT_NONE, A1, 0, OLD);
  expect(f, A1, 5);
  expect(f, A2, 1);
  /* durable node puts (a second put updates), a push-out's delete */
  wr(f->s, W_NODE, A1, 1, OLD);
  wr(f->s, W_NODE, A1, 2, OLD);
  wr(f->s, W_NODE, A1, 1, OLD);
  expect(f, A1, 7);
  wr(f->s, W_NODE_DEL, A1, 2, 0);
  wr(f->s, W_NODE_DEL, A1, 2, 0); /* none: nothing */
  expect(f, A1, 6);
  /* the heartbeat batch: n1 again (an update), n3 and n4 new, A2's n1 */
  assert_int_equal(store_node_seen(f->s, A1, "n1", NOW), LIC_OK);
  assert_int_equal(store_node_seen(f->s, A1, "n3", NOW), LIC_OK);
  assert_int_equal(store_node_failure(f->s, A1, "n4", OLD, "revoked", "r"), LIC_OK);
  assert_int_equal(store_node_seen(f->s, A2, "n1", NOW), LIC_OK);
  assert_int_equal(store_flush(f->s), LIC_OK);
  expect(f, A1, 8);
  expect(f, A2, 2);
  /* registrations put and deleted by other paths */
  wr(f->s, W_REG, A1, 5, NOW);
  expect(f, A1, 9);
  wr(f->s, W_REG, A1, 5, NOW); /* the same row again */
  expect(f, A1, 9);
  wr(f->s, W_UNREG, A1, 5, 0);
  expect(f, A1, 8);
  /* purge (retention 30 days): A1's old audit entries (claim 2, release 2,
   * its note) and its old node n4 go; n1 and n3 were seen now; the
   * registration of project 1 and its entry stay */
  assert_int_equal(store_purge(f->s, NOW, 30, "cli:test", &c), LIC_OK);
  assert_int_equal(c.audit, 4);
  expect(f, A1, 4);
  expect(f, A2, 2);
  /* forget A2: nothing of it left, A1 untouched */
  assert_int_equal(store_forget(f->s, STORE_SUBJECT_ACCOUNT, A2, "cli:test", &c), LIC_OK);
  expect(f, A1, 4);
  wr(f->s, W_ACCT, A2, 0, 0); /* imported again: starts empty */
  expect(f, A2, 0);
  wr(f->s, W_NODE, A2, 9, NOW);
  expect(f, A2, 1);
}

/* ---- PostgreSQL: the quota inside the claim -------------------------------------- */

static store_claim claim_q(fx *f, const uint8_t *acct, int n, uint64_t quota) {
  wop o = {.k = W_CLAIM, .acct = acct, .n = n, .when = NOW, .quota = quota};
  assert_int_equal(store_write(f->s, apply, &o), LIC_OK);
  return o.claim;
}

typedef struct {
  wop o;
  int rc;
} pend;

static void pend_done(void *arg, int rc, const char *detail) {
  (void)detail;
  ((pend *)arg)->rc = rc;
}

static void test_pg_claim_quota(void **state) {
  fx *f = *state;
  wr(f->s, W_ACCT, A1, 0, 0);
  wr(f->s, W_ACCT, A2, 0, 0);
  wr(f->s, W_NODE, A1, 1, NOW);
  wr(f->s, W_NODE, A1, 2, NOW); /* 2 records, by the triggers' sum */
  /* 2 + 2 <= 4: taken; then 4 + 2 > 5: refused with the count */
  store_claim c = claim_q(f, A1, 1, 4);
  assert_int_equal(c.outcome, STORE_CLAIM_NEW);
  assert_int_equal(c.records, 4);
  c = claim_q(f, A1, 2, 5);
  assert_int_equal(c.outcome, STORE_CLAIM_QUOTA);
  assert_int_equal(c.records, 4);
  expect(f, A1, 4); /* nothing written */
  assert_int_equal(tu_pg_long("SELECT nregs FROM licsrv_accounts WHERE id = '\\xa1010000000000000000000000000000'"), 1);
  /* the project it holds: refused too, as LMDB's check before the claim */
  assert_int_equal(claim_q(f, A1, 1, 5).outcome, STORE_CLAIM_QUOTA);
  /* 0: no quota; another account is not affected */
  assert_int_equal(claim_q(f, A1, 2, 0).outcome, STORE_CLAIM_NEW);
  expect(f, A1, 6);
  assert_int_equal(claim_q(f, A2, 1, 5).outcome, STORE_CLAIM_NEW);
  /* a group's claims go ahead in the pipeline: each decided in its turn */
  pend g[3];
  memset(g, 0, sizeof g);
  for (int i = 0; i < 3; i++) {
    g[i].o = (wop){.k = W_CLAIM, .acct = A2, .n = 10 + i, .when = NOW, .quota = 6};
    g[i].rc = -1;
    assert_int_equal(store_submit(f->s, apply, pend_done, &g[i].o), LIC_OK);
  }
  assert_int_equal(store_flush(f->s), LIC_OK);
  wr(f->s, W_NODE, A2, 1, NOW); /* a write after them: the group is done */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(g[i].rc, LIC_OK);
    assert_int_equal(g[i].o.claim.outcome, i < 2 ? STORE_CLAIM_NEW : STORE_CLAIM_QUOTA);
  }
  expect(f, A2, 7);
}

/* ---- PostgreSQL: the audit repeats merged ------------------------------------------- */

typedef struct {
  int n;
  uint64_t count[8];
  int64_t time[8], last[8];
  char action[8][STORE_MAX_ACTION + 1];
} seen;

static int seen_cb(const store_audit *a, void *arg) {
  seen *s = arg;
  if (strncmp(a->subject, "account:", 8) == 0 && s->n < 8) {
    s->count[s->n] = a->count;
    s->time[s->n] = a->time;
    s->last[s->n] = a->last;
    snprintf(s->action[s->n], sizeof s->action[0], "%s", a->action);
    s->n++;
  }
  return 0;
}

static seen audit_of(store *st) {
  store_reader *rd = NULL;
  seen s;
  memset(&s, 0, sizeof s);
  assert_int_equal(store_reader_new(st, &rd), LIC_OK);
  assert_int_equal(store_reader_begin(rd), LIC_OK);
  assert_int_equal(store_audit_each(rd, 0, NULL, seen_cb, &s), LIC_OK);
  store_reader_end(rd);
  store_reader_free(rd);
  return s;
}

static void test_pg_audit_merged(void **state) {
  fx *f = *state;
  store *s2 = NULL; /* another process's writer: its own connection */
  assert_int_equal(store_open(f->where, 0, &s2), LIC_OK);
  wr(f->s, W_ACCT, A1, 0, 0);
  /* 5 register/unregister pairs of one project within an hour, through both */
  for (int i = 0; i < 5; i++) {
    store *st = i % 2 ? s2 : f->s;
    assert_int_equal(wr(st, W_PCLAIM, A1, 1, NOW + 10 * i).claim.outcome, STORE_CLAIM_NEW);
    assert_int_equal(wr(i % 2 ? f->s : s2, W_PRELEASE, A1, 1, NOW + 10 * i + 5).rel.outcome,
                     STORE_RELEASE_REMOVED);
  }
  seen s = audit_of(f->s);
  assert_int_equal(s.n, 2);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(s.count[i], 5);
    assert_int_equal(s.time[i], NOW + 5 * i);
    assert_int_equal(s.last[i], NOW + 40 + 5 * i);
  }
  assert_string_equal(s.action[0], "registration.add");
  expect(f, A1, 2); /* two entries, no registration */
  /* a merge by another path counts nothing more; the next hour is apart */
  wr(s2, W_PAUDIT, A1, 1, NOW + 50);
  expect(f, A1, 2);
  assert_int_equal(wr(f->s, W_PCLAIM, A1, 1, NOW + 3600 - NOW % 3600).claim.outcome,
                   STORE_CLAIM_NEW);
  expect(f, A1, 4);
  s = audit_of(f->s);
  assert_int_equal(s.n, 3);
  assert_int_equal(s.count[0] + s.count[2], 7);
  assert_int_equal(s.count[2], 1);
  assert_int_equal(s.last[2], s.time[2]);
  store_close(s2);
}

/* A schema 5 database's repeats (each its own row) merged by the migration. */
static void test_pg_migrate_v5_merges(void **state) {
  fx *f = *state;
  char subj[STORE_MAX_SUBJECT + 1], q[2048];
  store_close(f->s);
  f->s = NULL;
  tu_pg_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  PGconn *c = tu_pg_conn();
  assert_int_equal(pgs__migrate_to(c, 5), LIC_OK);
  PQfinish(c);
  subject(A1, 1, subj, sizeof subj);
  snprintf(q, sizeof q,
           "INSERT INTO licsrv_accounts (id, env, imported) VALUES"
           " ('\\xa1010000000000000000000000000000', 'e', 1);"
           "INSERT INTO licsrv_audit (time, token, action, subject) VALUES"
           " (%d, 'public', 'registration.add', '%s'), (%d, 'public', 'registration.add', '%s'),"
           " (%d, 'public', 'registration.add', '%s'), (%d, 'cli', 'registration.add', '%s'),"
           " (%d, 'public', 'registration.add', '%s')",
           NOW, subj, NOW + 7, subj, NOW + 3, subj, NOW + 1, subj, NOW + 3600, subj);
  tu_pg_sql(q);
  assert_int_equal(store_open(f->where, STORE_MIGRATE, &f->s), LIC_OK);
  seen s = audit_of(f->s);
  assert_int_equal(s.n, 3); /* the hour's three, the CLI's, the next hour's */
  assert_int_equal(s.count[0], 3);
  assert_int_equal(s.time[0], NOW);
  assert_int_equal(s.last[0], NOW + 7);
  assert_int_equal(s.count[1] + s.count[2], 2);
  expect(f, A1, 3);
}

/* ---- PostgreSQL: a push-out's drop -------------------------------------------------- */

static void test_pg_drop_forgets_pending(void **state) {
  fx *f = *state;
  wr(f->s, W_ACCT, A1, 0, 0);
  wr(f->s, W_NODE, A1, 1, OLD);
  expect(f, A1, 1);
  /* n1 seen again and n2 new, both pending; n1 pushed out: dropped, deleted */
  assert_int_equal(store_node_seen(f->s, A1, "n1", NOW), LIC_OK);
  assert_int_equal(store_node_seen(f->s, A1, "n2", NOW), LIC_OK);
  assert_int_equal(store_node_drop(f->s, A1, "n1"), LIC_OK);
  wr(f->s, W_NODE_DEL, A1, 1, 0);
  /* a drop of a node the batch never held writes nothing either */
  assert_int_equal(store_node_drop(f->s, A1, "n9"), LIC_OK);
  assert_int_equal(store_flush(f->s), LIC_OK);
  assert_int_equal(tu_pg_long("SELECT count(*) FROM licsrv_nodes WHERE node IN ('n1', 'n9')"), 0);
  assert_int_equal(tu_pg_long("SELECT count(*) FROM licsrv_nodes WHERE node = 'n2'"), 1);
  expect(f, A1, 1);
  /* a heartbeat after the drop is the node back */
  assert_int_equal(store_node_drop(f->s, A1, "n2"), LIC_OK);
  assert_int_equal(store_node_seen(f->s, A1, "n2", NOW + 1), LIC_OK);
  assert_int_equal(store_flush(f->s), LIC_OK);
  assert_int_equal(tu_pg_long("SELECT last_seen FROM licsrv_nodes WHERE node = 'n2'"), NOW + 1);
}

/* ---- PostgreSQL: a schema 4 database migrated ------------------------------------ */

static void test_pg_migrate_v4_counts(void **state) {
  fx *f = *state;
  store_close(f->s);
  f->s = NULL;
  tu_pg_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  PGconn *c = tu_pg_conn();
  assert_int_equal(pgs__migrate_to(c, 4), LIC_OK);
  PQfinish(c);
  char subj[STORE_MAX_SUBJECT + 1], q[1400], upper[LIC_UUID_LEN + 1];
  subject(A1, 1, subj, sizeof subj);
  lic_uuid_format(A1, upper);
  for (char *p = upper; *p; p++)
    if (*p >= 'a' && *p <= 'f')
      *p = (char)(*p - 'a' + 'A');
  /* what a licsrv of schema 4 wrote: A1 with 2 registrations, 3 nodes, 2 audit
   * entries naming it (one with its id in upper case) and one not; records of a deleted
   * account (A2: 1 node) */
  snprintf(q, sizeof q,
           "INSERT INTO licsrv_accounts (id, env, imported) VALUES"
           " ('\\xa1010000000000000000000000000000', 'e', 1);"
           "INSERT INTO licsrv_registrations VALUES"
           " ('\\xa1010000000000000000000000000000', '\\x01000000000000000000000000000000', 'p1',"
           " '', 1, 1), ('\\xa1010000000000000000000000000000',"
           " '\\x02000000000000000000000000000000', 'p2', '', 1, 1);"
           "INSERT INTO licsrv_nodes (owner, node) VALUES"
           " ('\\xa1010000000000000000000000000000', 'a'), ('\\xa1010000000000000000000000000000', 'b'),"
           " ('\\xa1010000000000000000000000000000', 'c'), ('\\xa2020000000000000000000000000000', 'a');"
           "INSERT INTO licsrv_audit (time, token, action, subject) VALUES"
           " (1, 'cli', 'x', '%s'), (1, 'cli', 'x', 'account:%s'), (1, 'cli', 'x', 'token:x');",
           subj, upper);
  tu_pg_sql(q);
  assert_int_equal(tu_pg_long("SELECT schema FROM licsrv_meta"), 4);
  assert_int_equal(store_open(f->where, 0, &f->s), LIC_FORMAT);
  assert_non_null(strstr(lic_errdetail(), "licsrv migrate"));
  assert_int_equal(store_open(f->where, STORE_MIGRATE, &f->s), LIC_OK);
  assert_int_equal(tu_pg_long("SELECT schema FROM licsrv_meta"), PGS_SCHEMA_VERSION);
  assert_int_equal(records(f->s, A1), 7);
  assert_int_equal(records(f->s, A2), 0); /* no account row */
  /* and kept from here on */
  wr(f->s, W_NODE, A1, 1, NOW);
  assert_int_equal(wr(f->s, W_CLAIM, A1, 3, NOW).claim.outcome, STORE_CLAIM_NEW);
  expect(f, A1, 10);
  /* A2 imported again: counted from the tables */
  wr(f->s, W_ACCT, A2, 0, 0);
  expect(f, A2, 1);
}

#define BOTH(t) cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, (void *)&BACKEND)

int main(void) {
#define BACKEND BACKEND_LMDB
  const struct CMUnitTest lmdb[] = {
      BOTH(test_records_follow_every_writer),
  };
#undef BACKEND
#define BACKEND BACKEND_PG
  const struct CMUnitTest pg[] = {
      BOTH(test_records_follow_every_writer),
      BOTH(test_pg_migrate_v4_counts),
      BOTH(test_pg_claim_quota),
      BOTH(test_pg_audit_merged),
      BOTH(test_pg_migrate_v5_merges),
      BOTH(test_pg_drop_forgets_pending),
  };
#undef BACKEND
  int failed = _cmocka_run_group_tests("store_usage_lmdb", lmdb, sizeof lmdb / sizeof lmdb[0],
                                       NULL, NULL);
  if (getenv("LIC_TEST_PG_URL") == NULL || getenv("LIC_TEST_PG_URL")[0] == '\0') {
    printf("SKIPPED: the PostgreSQL counts need LIC_TEST_PG_URL (tests/unit/with_pg.py sets it)\n");
    return failed;
  }
  return failed | _cmocka_run_group_tests("store_usage_pg", pg, sizeof pg / sizeof pg[0], NULL,
                                          NULL);
}
