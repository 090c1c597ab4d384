/* store/pg/records.c - public mode's records on PostgreSQL: certificates,
 * accounts, registrations, nodes, audit entries, admin tokens, with the
 * semantics store/store.h gives them (the LMDB backend's, record for record).
 * Private-mode records (licenses, activations) are refused here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "store/pg/internal.h"

static int rq(store_reader *r, const char *sql, const pgs_params *p, PGresult **res) {
  PGconn *c;
  int rc = pgs__rconn((pgs_reader *)r, &c);
  *res = NULL;
  return rc != LIC_OK ? rc : pgs__exec(c, sql, p, res);
}

static PGconn *wc(store_wtxn *w) { return ((pgs_wtxn *)w)->c; }

/* The number of rows a statement changed. */
static int changed(PGconn *c, const char *sql, const pgs_params *p, int *n) {
  PGresult *res;
  int rc = pgs__exec(c, sql, p, &res);
  if (rc == LIC_OK) {
    *n = (int)strtol(PQcmdTuples(res), NULL, 10); /* libpq's own decimal count */
    PQclear(res);
  }
  return rc;
}

/* ---- certificates -------------------------------------------------------------- */

int pgs_w_cert_add(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env, size_t len,
                   int64_t now) {
  pgs_params p = {0};
  if (len == 0 || len > LIC_MAX_ENVELOPE)
    return lic_fail(LIC_LIMIT, "certificate envelope of %zu bytes", len);
  pgs__p_bytes(&p, id, LIC_ID_LEN);
  pgs__p_bytes(&p, env, len);
  pgs__p_i64(&p, now);
  pgs__dirty_certs(w);
  return pgs__run(wc(w),
                  "INSERT INTO licsrv_certs (id, env, imported) VALUES ($1, $2, $3::bigint)"
                  " ON CONFLICT (id) DO UPDATE SET env = EXCLUDED.env, imported = EXCLUDED.imported",
                  &p);
}

int pgs_cert_each(store_reader *r, store_cert_cb cb, void *arg) {
  PGresult *res;
  if (((pgs_reader *)r)->s->cached)
    return pgs__cache_cert_each(((pgs_reader *)r)->s, cb, arg);
  int rc = rq(r, "SELECT id, env, imported FROM licsrv_certs ORDER BY id", NULL, &res);
  for (int i = 0; rc == LIC_OK && i < PQntuples(res); i++) {
    store_cert c = {0};
    if ((rc = pgs__fixed(res, i, 0, c.id, LIC_ID_LEN)) == LIC_OK &&
        (rc = pgs__blob(res, i, 1, &c.env, &c.env_len)) == LIC_OK) {
      c.imported = pgs__i64(res, i, 2);
      rc = cb(&c, arg);
    }
    store_cert_clear(&c);
  }
  PQclear(res);
  return rc;
}

/* ---- accounts ---------------------------------------------------------------------- */

static int account_row(const PGresult *res, int i, store_account *a) {
  int rc;
  memset(a, 0, sizeof *a);
  if ((rc = pgs__fixed(res, i, 0, a->id, LIC_ID_LEN)) != LIC_OK ||
      (rc = pgs__blob(res, i, 1, &a->env, &a->env_len)) != LIC_OK)
    return rc;
  a->imported = pgs__i64(res, i, 2);
  a->revoked_at = pgs__i64(res, i, 3);
  return LIC_OK;
}

static int account_one(PGresult *res, store_account *out) {
  int rc = PQntuples(res) == 1 ? account_row(res, 0, out) : LIC_NOTFOUND;
  PQclear(res);
  return rc;
}

int pgs_account_get(store_reader *r, const uint8_t id[LIC_ID_LEN], store_account *out) {
  pgs_params p = {0};
  PGresult *res;
  int rc;
  if (((pgs_reader *)r)->s->cached)
    return pgs__cache_account(((pgs_reader *)r)->s, id, out);
  memset(out, 0, sizeof *out);
  pgs__p_bytes(&p, id, LIC_ID_LEN);
  if ((rc = rq(r, "SELECT id, env, imported, revoked_at FROM licsrv_accounts WHERE id = $1", &p,
               &res)) != LIC_OK)
    return rc;
  return account_one(res, out);
}

int pgs_account_each(store_reader *r, store_account_cb cb, void *arg) {
  PGresult *res;
  int rc = rq(r, "SELECT id, env, imported, revoked_at FROM licsrv_accounts ORDER BY id", NULL,
              &res);
  for (int i = 0; rc == LIC_OK && i < PQntuples(res); i++) {
    store_account a;
    if ((rc = account_row(res, i, &a)) == LIC_OK)
      rc = cb(&a, arg);
    store_account_clear(&a);
  }
  PQclear(res);
  return rc;
}

/* The row lock: every write that reads an account (a registration's capacity
 * check first of all) holds it until its group commits, so two processes
 * registering on one account take turns and each counts the other's rows. */
int pgs_w_account_get(store_wtxn *w, const uint8_t id[LIC_ID_LEN], store_account *out) {
  pgs_wtxn *t = (pgs_wtxn *)w;
  pgs_params p = {0};
  PGresult *res;
  int rc;
  memset(out, 0, sizeof *out);
  t->count_ok = false;
  pgs__p_bytes(&p, id, LIC_ID_LEN);
  if ((rc = pgs__wexec(w, PGS_STMT_ACCOUNT_LOCK, "SELECT id, env, imported, revoked_at, nregs"
                       " FROM licsrv_accounts WHERE id = $1 FOR UPDATE", &p, &res)) != LIC_OK)
    return rc;
  if (PQntuples(res) == 1) { /* the count comes with the lock: the check reads no more */
    memcpy(t->count_id, id, LIC_ID_LEN);
    t->count = (size_t)pgs__i64(res, 0, 4);
    t->count_ok = true;
  }
  return account_one(res, out);
}

int pgs_w_account_put(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env, size_t len,
                      int64_t now) {
  pgs_params p = {0};
  if (len == 0 || len > LIC_MAX_ENVELOPE)
    return lic_fail(LIC_LIMIT, "account envelope of %zu bytes", len);
  pgs__p_bytes(&p, id, LIC_ID_LEN);
  pgs__p_bytes(&p, env, len);
  pgs__p_i64(&p, now);
  pgs__dirty(w, id);
  /* A revoked account stays revoked: revoked_at is not in the update. */
  return pgs__run(wc(w),
                  "INSERT INTO licsrv_accounts (id, env, imported) VALUES ($1, $2, $3::bigint)"
                  " ON CONFLICT (id) DO UPDATE SET env = EXCLUDED.env, imported = EXCLUDED.imported",
                  &p);
}

int pgs_w_account_delete(store_wtxn *w, const uint8_t id[LIC_ID_LEN]) {
  pgs_params p = {0};
  int n = 0, rc;
  pgs__p_bytes(&p, id, LIC_ID_LEN);
  pgs__dirty(w, id);
  rc = changed(wc(w), "DELETE FROM licsrv_accounts WHERE id = $1", &p, &n);
  return rc != LIC_OK ? rc : n == 1 ? LIC_OK : LIC_NOTFOUND;
}

int pgs_w_account_revoke(store_wtxn *w, const uint8_t id[LIC_ID_LEN], int64_t now) {
  pgs_params p = {0};
  int n = 0, rc;
  pgs__p_bytes(&p, id, LIC_ID_LEN);
  pgs__p_i64(&p, now);
  pgs__dirty(w, id);
  rc = changed(wc(w), "UPDATE licsrv_accounts SET revoked_at = CASE WHEN revoked_at = 0"
                      " THEN $2::bigint ELSE revoked_at END WHERE id = $1", &p, &n);
  return rc != LIC_OK ? rc : n == 1 ? LIC_OK : LIC_NOTFOUND;
}

/* ---- registrations -------------------------------------------------------------------- */

#define REG_COLS "account, project_id, project, domain, created, last_valid"

static int reg_row(const PGresult *res, int i, store_registration *g) {
  int rc;
  memset(g, 0, sizeof *g);
  if ((rc = pgs__fixed(res, i, 0, g->account, LIC_ID_LEN)) != LIC_OK ||
      (rc = pgs__fixed(res, i, 1, g->project_id, LIC_ID_LEN)) != LIC_OK ||
      (rc = pgs__text(res, i, 2, g->project, sizeof g->project)) != LIC_OK ||
      (rc = pgs__text(res, i, 3, g->domain, sizeof g->domain)) != LIC_OK)
    return rc;
  g->created = pgs__i64(res, i, 4);
  g->last_valid = pgs__i64(res, i, 5);
  return LIC_OK;
}

#define REG_ONE_SQL "SELECT " REG_COLS " FROM licsrv_registrations WHERE account = $1 AND project_id = $2"
/* The count kept with the account (schema version 3) when the account row is
 * there; counted when it is not (registrations can outlive their account). */
#define REG_COUNT_SQL                                                                      \
  "SELECT COALESCE((SELECT nregs FROM licsrv_accounts WHERE id = $1),"                     \
  " (SELECT count(*) FROM licsrv_registrations WHERE account = $1))"

/* On a writer transaction (w) the statement is prepared, else c's plain. */
static int reg_one(PGconn *c, store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                   const uint8_t project_id[LIC_ID_LEN], store_registration *out) {
  pgs_params p = {0};
  PGresult *res;
  int rc;
  memset(out, 0, sizeof *out);
  pgs__p_bytes(&p, account, LIC_ID_LEN);
  pgs__p_bytes(&p, project_id, LIC_ID_LEN);
  if ((rc = w != NULL ? pgs__wexec(w, PGS_STMT_REG_GET, REG_ONE_SQL, &p, &res)
                      : pgs__exec(c, REG_ONE_SQL, &p, &res)) != LIC_OK)
    return rc;
  rc = PQntuples(res) == 1 ? reg_row(res, 0, out) : LIC_NOTFOUND;
  PQclear(res);
  return rc;
}

static int reg_count(PGconn *c, store_wtxn *w, const uint8_t account[LIC_ID_LEN], size_t *n) {
  pgs_params p = {0};
  PGresult *res;
  int rc;
  *n = 0;
  pgs__p_bytes(&p, account, LIC_ID_LEN);
  if ((rc = w != NULL ? pgs__wexec(w, PGS_STMT_REG_COUNT, REG_COUNT_SQL, &p, &res)
                      : pgs__exec(c, REG_COUNT_SQL, &p, &res)) != LIC_OK)
    return rc;
  *n = (size_t)pgs__i64(res, 0, 0);
  PQclear(res);
  return LIC_OK;
}

int pgs_registration_get(store_reader *r, const uint8_t account[LIC_ID_LEN],
                         const uint8_t project_id[LIC_ID_LEN], store_registration *out) {
  PGconn *c;
  if (((pgs_reader *)r)->s->cached)
    return pgs__cache_registration(((pgs_reader *)r)->s, account, project_id, out, NULL);
  int rc = pgs__rconn((pgs_reader *)r, &c);
  return rc != LIC_OK ? rc : reg_one(c, NULL, account, project_id, out);
}

int pgs_registration_each(store_reader *r, const uint8_t account[LIC_ID_LEN],
                          store_registration_cb cb, void *arg) {
  pgs_params p = {0};
  PGresult *res;
  pgs__p_bytes(&p, account, LIC_ID_LEN);
  int rc = rq(r, "SELECT " REG_COLS " FROM licsrv_registrations WHERE account = $1"
                 " ORDER BY project_id", &p, &res);
  for (int i = 0; rc == LIC_OK && i < PQntuples(res); i++) {
    store_registration g;
    if ((rc = reg_row(res, i, &g)) == LIC_OK)
      rc = cb(&g, arg);
  }
  PQclear(res);
  return rc;
}

int pgs_registration_count(store_reader *r, const uint8_t account[LIC_ID_LEN], size_t *n) {
  PGconn *c;
  if (((pgs_reader *)r)->s->cached)
    return pgs__cache_registration(((pgs_reader *)r)->s, account, NULL, NULL, n);
  int rc = pgs__rconn((pgs_reader *)r, &c);
  return rc != LIC_OK ? rc : reg_count(c, NULL, account, n);
}

/* A registration's checks and its six parameters, in REG_COLS order (the
 * put and the claim send the same row). */
static int reg_params(const store_registration *g, store_registration *d, pgs_params *p) {
  if (g->project[0] == '\0' || strlen(g->project) > LIC_MAX_NAME ||
      strlen(g->domain) > LIC_MAX_DOMAIN)
    return lic_fail(LIC_LIMIT, "registration fields out of range");
  *d = *g;
  if (d->last_valid == 0)
    d->last_valid = d->created; /* as on LMDB */
  pgs__p_bytes(p, d->account, LIC_ID_LEN);
  pgs__p_bytes(p, d->project_id, LIC_ID_LEN);
  pgs__p_text(p, d->project);
  pgs__p_text(p, d->domain);
  pgs__p_i64(p, d->created);
  pgs__p_i64(p, d->last_valid);
  return LIC_OK;
}

/* A registration written or deleted goes into the read copy as that change
 * (pgs__delta), not as a reload of its account; the count read with the
 * account's lock no longer holds. */
int pgs_w_registration_put(store_wtxn *w, const store_registration *g) {
  pgs_params p = {0};
  store_registration d;
  int rc;
  if ((rc = reg_params(g, &d, &p)) != LIC_OK)
    return rc;
  ((pgs_wtxn *)w)->count_ok = false;
  rc = pgs__wrun(w, PGS_STMT_REG_PUT,
                 "INSERT INTO licsrv_registrations (" REG_COLS ") VALUES"
                 " ($1, $2, $3, $4, $5::bigint, $6::bigint) ON CONFLICT (account, project_id)"
                 " DO UPDATE SET project = EXCLUDED.project, domain = EXCLUDED.domain,"
                 " created = EXCLUDED.created, last_valid = EXCLUDED.last_valid",
                 &p);
  if (rc == LIC_OK)
    pgs__delta(w, PGS_DELTA_PUT, &d);
  return rc;
}

int pgs_w_registration_delete(store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                              const uint8_t project_id[LIC_ID_LEN]) {
  pgs_params p = {0};
  store_registration d = {0};
  PGresult *res;
  int rc;
  ((pgs_wtxn *)w)->count_ok = false;
  pgs__p_bytes(&p, account, LIC_ID_LEN);
  pgs__p_bytes(&p, project_id, LIC_ID_LEN);
  if ((rc = pgs__wexec(w, PGS_STMT_REG_DELETE, "DELETE FROM licsrv_registrations"
                       " WHERE account = $1 AND project_id = $2", &p, &res)) != LIC_OK)
    return rc;
  bool hit = strcmp(PQcmdTuples(res), "1") == 0;
  PQclear(res);
  if (!hit)
    return LIC_NOTFOUND;
  memcpy(d.account, account, LIC_ID_LEN);
  memcpy(d.project_id, project_id, LIC_ID_LEN);
  pgs__delta(w, PGS_DELTA_DELETE, &d);
  return LIC_OK;
}

int pgs_w_registration_get(store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                           const uint8_t project_id[LIC_ID_LEN], store_registration *out) {
  return reg_one(wc(w), w, account, project_id, out);
}

int pgs_w_registration_count(store_wtxn *w, const uint8_t account[LIC_ID_LEN], size_t *n) {
  pgs_wtxn *t = (pgs_wtxn *)w;
  if (t->count_ok && memcmp(t->count_id, account, LIC_ID_LEN) == 0) {
    *n = t->count;
    return LIC_OK;
  }
  return reg_count(wc(w), w, account, n);
}

/* One round trip: licsrv_claim() (schema version 3; the quota since 5) runs
 * the steps of store_claim_steps in the database, under the account's row
 * lock. */
int pgs_w_registration_claim(store_wtxn *w, const store_registration *r, int64_t capacity,
                             uint64_t quota, const char *audit_token, const char *audit_action,
                             const char *audit_subject, store_claim *out) {
  pgs_params p = {0};
  PGresult *res;
  store_registration d;
  int rc;
  memset(out, 0, sizeof *out);
  if (strlen(audit_token) > STORE_MAX_TOKEN_NAME || strlen(audit_action) > STORE_MAX_ACTION ||
      strlen(audit_subject) > STORE_MAX_SUBJECT)
    return lic_fail(LIC_LIMIT, "audit entry fields too long");
  if ((rc = reg_params(r, &d, &p)) != LIC_OK)
    return rc;
  ((pgs_wtxn *)w)->count_ok = false;
  pgs__p_i64(&p, capacity);
  pgs__p_text(&p, audit_token);
  pgs__p_text(&p, audit_action);
  pgs__p_text(&p, audit_subject);
  pgs__p_i64(&p, quota > INT64_MAX ? INT64_MAX : (int64_t)quota); /* checked in the claim */
  pgs_store *s = ((pgs_wtxn *)w)->s;
  if (pgs__pipe_ahead(s, wc(w))) /* sent ahead: answered by the pass's end */
    return pgs__pipe_claim(s, &p, out, &d);
  if ((rc = pgs__wexec(w, PGS_STMT_CLAIM, PGS_CLAIM_SQL, &p, &res)) != LIC_OK)
    return rc;
  rc = pgs__claim_answer(res, out);
  PQclear(res);
  if (rc != LIC_OK)
    return rc;
  if (out->outcome == STORE_CLAIM_NEW)
    pgs__delta(w, PGS_DELTA_PUT, &d);
  return LIC_OK;
}

#define PGS_RELEASE_SQL                                                                    \
  "SELECT outcome, used FROM licsrv_release($1, $2, $3::bigint, $4, $5, $6)"

/* One round trip: licsrv_release() (schema version 4). */
int pgs_w_registration_release(store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                               const uint8_t project_id[LIC_ID_LEN], int64_t now,
                               const char *audit_token, const char *audit_action,
                               const char *audit_subject, store_release *out) {
  pgs_params p = {0};
  PGresult *res;
  int rc;
  memset(out, 0, sizeof *out);
  if (strlen(audit_token) > STORE_MAX_TOKEN_NAME || strlen(audit_action) > STORE_MAX_ACTION ||
      strlen(audit_subject) > STORE_MAX_SUBJECT)
    return lic_fail(LIC_LIMIT, "audit entry fields too long");
  ((pgs_wtxn *)w)->count_ok = false;
  pgs__p_bytes(&p, account, LIC_ID_LEN);
  pgs__p_bytes(&p, project_id, LIC_ID_LEN);
  pgs__p_i64(&p, now);
  pgs__p_text(&p, audit_token);
  pgs__p_text(&p, audit_action);
  pgs__p_text(&p, audit_subject);
  if ((rc = pgs__wexec(w, PGS_STMT_RELEASE, PGS_RELEASE_SQL, &p, &res)) != LIC_OK)
    return rc;
  int32_t outcome = PQntuples(res) == 1 ? pgs__i32(res, 0, 0) : -1;
  int64_t used = PQntuples(res) == 1 ? pgs__i64(res, 0, 1) : 0;
  PQclear(res);
  if (outcome < STORE_RELEASE_NO_ACCOUNT || outcome > STORE_RELEASE_REMOVED)
    return lic_fail(LIC_FORMAT, "postgresql: licsrv_release answered outcome %d", (int)outcome);
  out->outcome = (store_release_outcome)outcome;
  out->used = used > 0 ? (size_t)used : 0;
  if (out->outcome == STORE_RELEASE_REMOVED) {
    store_registration d = {0};
    memcpy(d.account, account, LIC_ID_LEN);
    memcpy(d.project_id, project_id, LIC_ID_LEN);
    pgs__delta(w, PGS_DELTA_DELETE, &d);
  }
  return LIC_OK;
}

int pgs_w_registration_delete_all(store_wtxn *w, const uint8_t account[LIC_ID_LEN], size_t *n) {
  pgs_params p = {0};
  store_registration d = {0};
  int k = 0, rc;
  ((pgs_wtxn *)w)->count_ok = false;
  memcpy(d.account, account, LIC_ID_LEN);
  pgs__delta(w, PGS_DELTA_DELETE_ALL, &d);
  pgs__p_bytes(&p, account, LIC_ID_LEN);
  rc = changed(wc(w), "DELETE FROM licsrv_registrations WHERE account = $1", &p, &k);
  *n = rc == LIC_OK ? (size_t)k : 0;
  return rc;
}

/* ---- nodes ------------------------------------------------------------------------------ */

#define NODE_COLS "owner, node, last_seen, fail_time, fail_status, fail_reason"

static int node_row(const PGresult *res, int i, store_node *n) {
  int rc;
  memset(n, 0, sizeof *n);
  if ((rc = pgs__fixed(res, i, 0, n->owner, LIC_ID_LEN)) != LIC_OK ||
      (rc = pgs__text(res, i, 1, n->node, sizeof n->node)) != LIC_OK ||
      (rc = pgs__text(res, i, 4, n->fail_status, sizeof n->fail_status)) != LIC_OK ||
      (rc = pgs__text(res, i, 5, n->fail_reason, sizeof n->fail_reason)) != LIC_OK)
    return rc;
  n->last_seen = pgs__i64(res, i, 2);
  n->fail_time = pgs__i64(res, i, 3);
  return LIC_OK;
}

int pgs_node_get(store_reader *r, const uint8_t owner[LIC_ID_LEN], const char *node,
                 store_node *out) {
  pgs_params p = {0};
  PGresult *res;
  int rc;
  memset(out, 0, sizeof *out);
  pgs__p_bytes(&p, owner, LIC_ID_LEN);
  pgs__p_text(&p, node);
  if ((rc = rq(r, "SELECT " NODE_COLS " FROM licsrv_nodes WHERE owner = $1 AND node = $2", &p,
               &res)) != LIC_OK)
    return rc;
  rc = PQntuples(res) == 1 ? node_row(res, 0, out) : LIC_NOTFOUND;
  PQclear(res);
  return rc;
}

int pgs_node_each(store_reader *r, const uint8_t *owner, store_node_cb cb, void *arg) {
  pgs_params p = {0};
  PGresult *res;
  int rc;
  if (owner != NULL) {
    pgs__p_bytes(&p, owner, LIC_ID_LEN);
    rc = rq(r, "SELECT " NODE_COLS " FROM licsrv_nodes WHERE owner = $1 ORDER BY owner, node", &p,
            &res);
  } else {
    rc = rq(r, "SELECT " NODE_COLS " FROM licsrv_nodes ORDER BY owner, node", NULL, &res);
  }
  for (int i = 0; rc == LIC_OK && i < PQntuples(res); i++) {
    store_node n;
    if ((rc = node_row(res, i, &n)) == LIC_OK)
      rc = cb(&n, arg);
  }
  PQclear(res);
  return rc;
}

int pgs_w_node_put(store_wtxn *w, const store_node *n) {
  pgs_params p = {0};
  pgs__p_bytes(&p, n->owner, LIC_ID_LEN);
  pgs__p_text(&p, n->node);
  pgs__p_i64(&p, n->last_seen);
  pgs__p_i64(&p, n->fail_time);
  pgs__p_text(&p, n->fail_status);
  pgs__p_text(&p, n->fail_reason);
  return pgs__run(wc(w),
                  "INSERT INTO licsrv_nodes (" NODE_COLS ") VALUES ($1, $2, $3::bigint,"
                  " $4::bigint, $5, $6) ON CONFLICT (owner, node) DO UPDATE SET"
                  " last_seen = EXCLUDED.last_seen, fail_time = EXCLUDED.fail_time,"
                  " fail_status = EXCLUDED.fail_status, fail_reason = EXCLUDED.fail_reason",
                  &p);
}

int pgs_w_node_delete(store_wtxn *w, const uint8_t owner[LIC_ID_LEN], const char *node) {
  pgs_params p = {0};
  pgs__p_bytes(&p, owner, LIC_ID_LEN);
  pgs__p_text(&p, node);
  return pgs__run(wc(w), "DELETE FROM licsrv_nodes WHERE owner = $1 AND node = $2", &p);
}

/* ---- audit -------------------------------------------------------------------------------- */

/* The public listener's repeats within an hour merge into one entry, across
 * processes (PGS_AUDIT_MERGE, schema version 6), as on LMDB. */
int pgs_w_audit_append(store_wtxn *w, int64_t time, const char *token, const char *action,
                       const char *subject) {
  pgs_params p = {0};
  if (strlen(token) > STORE_MAX_TOKEN_NAME || strlen(action) > STORE_MAX_ACTION ||
      strlen(subject) > STORE_MAX_SUBJECT)
    return lic_fail(LIC_LIMIT, "audit entry fields too long");
  pgs__p_i64(&p, time);
  pgs__p_text(&p, token);
  pgs__p_text(&p, action);
  pgs__p_text(&p, subject);
  return pgs__wrun(w, PGS_STMT_AUDIT, "INSERT INTO licsrv_audit (time, token, action, subject)"
                                      " VALUES ($1::bigint, $2, $3, $4)" PGS_AUDIT_MERGE, &p);
}

int pgs_audit_each(store_reader *r, int64_t since, const char *needle, store_audit_cb cb,
                   void *arg) {
  pgs_params p = {0};
  PGresult *res;
  pgs__p_i64(&p, since);
  pgs__p_text(&p, needle != NULL ? needle : "");
  int rc = rq(r, "SELECT seq, time, token, action, subject, count, GREATEST(last, time)"
                 " FROM licsrv_audit"
                 " WHERE time >= $1::bigint AND ($2 = '' OR strpos(subject, $2) > 0)"
                 " ORDER BY time, seq", &p, &res);
  for (int i = 0; rc == LIC_OK && i < PQntuples(res); i++) {
    store_audit a;
    memset(&a, 0, sizeof a);
    a.seq = (uint64_t)pgs__i64(res, i, 0);
    a.time = pgs__i64(res, i, 1);
    int64_t n = pgs__i64(res, i, 5);
    a.count = n > 1 ? (uint64_t)n : 1; /* merged repeats (schema version 6) */
    a.last = pgs__i64(res, i, 6);
    if ((rc = pgs__text(res, i, 2, a.token, sizeof a.token)) == LIC_OK &&
        (rc = pgs__text(res, i, 3, a.action, sizeof a.action)) == LIC_OK &&
        (rc = pgs__text(res, i, 4, a.subject, sizeof a.subject)) == LIC_OK)
      rc = cb(&a, arg);
  }
  PQclear(res);
  return rc;
}

/* ---- admin tokens ---------------------------------------------------------------------------- */

static int token_row(const PGresult *res, int i, store_token *t) {
  int rc;
  memset(t, 0, sizeof *t);
  if ((rc = pgs__fixed(res, i, 0, t->hash, STORE_TOKEN_HASH_LEN)) != LIC_OK ||
      (rc = pgs__text(res, i, 1, t->name, sizeof t->name)) != LIC_OK)
    return rc;
  t->created = pgs__i64(res, i, 2);
  return LIC_OK;
}

int pgs_token_each(store_reader *r, store_token_cb cb, void *arg) {
  PGresult *res;
  int rc = rq(r, "SELECT hash, name, created FROM licsrv_tokens ORDER BY hash", NULL, &res);
  for (int i = 0; rc == LIC_OK && i < PQntuples(res); i++) {
    store_token t;
    if ((rc = token_row(res, i, &t)) == LIC_OK)
      rc = cb(&t, arg);
  }
  PQclear(res);
  return rc;
}

/* Every stored hash is compared, in constant time, as the LMDB backend does:
 * the database's index would answer faster for a near match. */
int pgs_token_lookup(store_reader *r, const uint8_t hash[STORE_TOKEN_HASH_LEN],
                     store_token *out) {
  PGresult *res;
  bool hit = false;
  int rc = rq(r, "SELECT hash, name, created FROM licsrv_tokens", NULL, &res);
  memset(out, 0, sizeof *out);
  for (int i = 0; rc == LIC_OK && i < PQntuples(res); i++) {
    store_token t;
    if ((rc = token_row(res, i, &t)) == LIC_OK &&
        CRYPTO_memcmp(t.hash, hash, STORE_TOKEN_HASH_LEN) == 0) {
      *out = t;
      hit = true;
    }
  }
  PQclear(res);
  return rc != LIC_OK ? rc : hit ? LIC_OK : LIC_NOTFOUND;
}

int pgs_w_token_put(store_wtxn *w, const uint8_t hash[STORE_TOKEN_HASH_LEN], const char *name,
                    int64_t now) {
  pgs_params p = {0};
  PGresult *res;
  int rc;
  if ((rc = store_token_name_check(name)) != LIC_OK)
    return rc;
  pgs__p_text(&p, name);
  if ((rc = pgs__exec(wc(w), "SELECT 1 FROM licsrv_tokens WHERE name = $1", &p, &res)) != LIC_OK)
    return rc;
  bool taken = PQntuples(res) > 0;
  PQclear(res);
  if (taken)
    return lic_fail(LIC_EXISTS, "a token named '%s' exists (revoke it first)", name);
  memset(&p, 0, sizeof p);
  pgs__p_bytes(&p, hash, STORE_TOKEN_HASH_LEN);
  pgs__p_text(&p, name);
  pgs__p_i64(&p, now);
  rc = pgs__run(wc(w), "INSERT INTO licsrv_tokens (hash, name, created) VALUES ($1, $2, $3::bigint)",
                &p);
  return rc == LIC_EXISTS ? lic_fail(LIC_EXISTS, "token already stored") : rc;
}

int pgs_w_token_revoke(store_wtxn *w, const char *name) {
  pgs_params p = {0};
  int n = 0, rc;
  pgs__p_text(&p, name);
  rc = changed(wc(w), "DELETE FROM licsrv_tokens WHERE name = $1", &p, &n);
  if (rc != LIC_OK)
    return rc;
  return n > 0 ? LIC_OK : lic_fail(LIC_NOTFOUND, "no token named '%s'", name);
}

/* ---- private mode: LMDB only ------------------------------------------------------------------ */

int pgs_license_get(store_reader *r, const uint8_t id[LIC_ID_LEN], store_license *out) {
  (void)r, (void)id;
  memset(out, 0, sizeof *out);
  return pgs__private_only("licenses");
}
int pgs_license_only(store_reader *r, store_license *out) {
  (void)r;
  memset(out, 0, sizeof *out);
  return pgs__private_only("licenses");
}
/* Listing: a public-mode store holds no licenses (so `licsrv licenses` prints
 * an empty table, as on an LMDB store in public mode). */
int pgs_license_each(store_reader *r, store_license_cb cb, void *arg) {
  (void)r, (void)cb, (void)arg;
  return LIC_OK;
}
int pgs_w_license_put(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env, size_t len,
                      int64_t now) {
  (void)w, (void)id, (void)env, (void)len, (void)now;
  return pgs__private_only("licenses");
}
int pgs_w_license_revoke(store_wtxn *w, const uint8_t id[LIC_ID_LEN], int64_t now) {
  (void)w, (void)id, (void)now;
  return pgs__private_only("licenses");
}
int pgs_activation_get(store_reader *r, uint8_t product, uint32_t serial, store_activation *out) {
  (void)r, (void)product, (void)serial;
  memset(out, 0, sizeof *out);
  return pgs__private_only("activations");
}
int pgs_activation_each(store_reader *r, store_activation_cb cb, void *arg) {
  (void)r, (void)cb, (void)arg;
  return LIC_OK;
}
int pgs_w_activation_get(store_wtxn *w, uint8_t product, uint32_t serial, store_activation *out) {
  (void)w, (void)product, (void)serial;
  memset(out, 0, sizeof *out);
  return pgs__private_only("activations");
}
int pgs_w_activation_put(store_wtxn *w, const store_activation *a) {
  (void)w, (void)a;
  return pgs__private_only("activations");
}
int pgs_w_activation_delete(store_wtxn *w, uint8_t product, uint32_t serial) {
  (void)w, (void)product, (void)serial;
  return pgs__private_only("activations");
}
int pgs_w_license_import(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env,
                         size_t len, int64_t now, store_import_outcome *out) {
  (void)w, (void)id, (void)env, (void)len, (void)now;
  if (out != NULL)
    *out = STORE_IMPORT_NEW;
  return pgs__private_only("licenses");
}

/* ---- per-account store use ------------------------------------------------- */

/* The account's records (schema version 5): its row's count plus what the
 * other writers' triggers summed in licsrv_usage (store/pg/schema.c). An
 * account without a row counts 0. No map: used and mapsize stay 0, so the
 * headroom rule never applies. */
#define USAGE_SQL                                                                          \
  "SELECT GREATEST(a.nrecords + COALESCE(u.records, 0), 0) FROM licsrv_accounts a"         \
  " LEFT JOIN licsrv_usage u ON u.owner = a.id WHERE a.id = $1"

int pgs_usage_get(store_reader *rd, const uint8_t account[LIC_ID_LEN], store_usage *u) {
  pgs_params p = {0};
  PGresult *res;
  int rc;
  memset(u, 0, sizeof *u);
  pgs__p_bytes(&p, account, LIC_ID_LEN);
  if ((rc = rq(rd, USAGE_SQL, &p, &res)) != LIC_OK)
    return rc;
  u->counted = true;
  if (PQntuples(res) == 1)
    u->records = (uint64_t)pgs__i64(res, 0, 0);
  PQclear(res);
  return LIC_OK;
}

/* A registration's quota is checked inside licsrv_claim() (its parameter q,
 * no round trip more): here nothing is read, counted false, so the caller's
 * own check lets it through to the claim. */
int pgs_w_usage_get(store_wtxn *w, const uint8_t account[LIC_ID_LEN], store_usage *u) {
  (void)w, (void)account;
  memset(u, 0, sizeof *u);
  return LIC_OK;
}
