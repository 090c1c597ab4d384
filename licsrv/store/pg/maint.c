/* store/pg/maint.c - maintenance on the PostgreSQL store: registration TTL
 * release, the retention purge, erasure of one account (everything naming it),
 * the database size. Each is one write on the writer thread that audits itself,
 * as on LMDB. A backup is PostgreSQL's own job (pg_dump, or a base backup and
 * WAL archiving), said so rather than half done here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "lic/util.h"
#include "store/pg/internal.h"

static PGconn *wc(store_wtxn *w) { return ((pgs_wtxn *)w)->c; }

static int del_count(PGconn *c, const char *sql, const pgs_params *p, size_t *n) {
  PGresult *res;
  int rc = pgs__exec(c, sql, p, &res);
  if (rc == LIC_OK) {
    *n += (size_t)PQntuples(res);
    PQclear(res);
  }
  return rc;
}

typedef struct {
  int64_t cutoff, days;
  size_t n;
} idle_op;

static int idle_apply(store_wtxn *w, void *arg) {
  idle_op *o = arg;
  pgs_params p = {0};
  PGresult *res;
  int rc;
  o->n = 0;
  pgs__p_i64(&p, o->cutoff);
  if ((rc = pgs__exec(wc(w), "DELETE FROM licsrv_registrations WHERE"
                             " (CASE WHEN last_valid = 0 THEN created ELSE last_valid END) < $1::bigint"
                             " RETURNING account, project_id", &p, &res)) != LIC_OK)
    return rc;
  for (int i = 0; rc == LIC_OK && i < PQntuples(res); i++) {
    uint8_t acct[LIC_ID_LEN], proj[LIC_ID_LEN];
    char a[LIC_UUID_LEN + 1], pr[LIC_UUID_LEN + 1], subj[STORE_MAX_SUBJECT + 1];
    if ((rc = pgs__fixed(res, i, 0, acct, LIC_ID_LEN)) != LIC_OK ||
        (rc = pgs__fixed(res, i, 1, proj, LIC_ID_LEN)) != LIC_OK)
      break;
    pgs__dirty(w, acct);
    lic_uuid_format(acct, a);
    lic_uuid_format(proj, pr);
    snprintf(subj, sizeof subj, "account:%s project:%s ttl:%lldd", a, pr, (long long)o->days);
    if ((rc = pgs_w_audit_append(w, pgs_wtxn_now(w), "purge", "registration.expire", subj)) ==
        LIC_OK)
      o->n++;
  }
  PQclear(res);
  return rc;
}

int pgs_registration_release_idle(store *s, int64_t now, int64_t ttl_days, size_t *n) {
  idle_op o = {now - ttl_days * 86400, ttl_days, 0};
  int r;
  *n = 0; /* ttl_days is 1..36500: store_registration_release_idle checked it */
  if ((r = store_write(s, idle_apply, &o)) != LIC_OK)
    return r;
  *n = o.n;
  return LIC_OK;
}

typedef struct {
  int64_t cutoff, days;
  store_counts c;
  const char *actor; /* the audit entry's token name */
  uint8_t id[LIC_ID_LEN];
} maint;

static int purge_apply(store_wtxn *w, void *arg) {
  maint *m = arg;
  pgs_params p = {0};
  int rc;
  memset(&m->c, 0, sizeof m->c);
  pgs__p_i64(&p, m->cutoff);
  /* As on LMDB: a node is dropped when both its times are old; an old failure
   * alone is cleared. Failures are counted in both. */
  if ((rc = del_count(wc(w), "DELETE FROM licsrv_nodes WHERE last_seen < $1::bigint AND"
                             " fail_time < $1::bigint AND fail_time <> 0 RETURNING 1", &p,
                      &m->c.failures)) != LIC_OK)
    return rc;
  m->c.nodes = m->c.failures;
  if ((rc = del_count(wc(w), "DELETE FROM licsrv_nodes WHERE last_seen < $1::bigint AND"
                             " fail_time < $1::bigint RETURNING 1", &p, &m->c.nodes)) != LIC_OK ||
      (rc = del_count(wc(w), "UPDATE licsrv_nodes SET fail_time = 0, fail_status = '',"
                             " fail_reason = '' WHERE fail_time <> 0 AND fail_time < $1::bigint"
                             " RETURNING 1", &p, &m->c.failures)) != LIC_OK ||
      (rc = del_count(wc(w), "DELETE FROM licsrv_audit WHERE time < $1::bigint RETURNING 1", &p,
                      &m->c.audit)) != LIC_OK)
    return rc;
  if (m->c.nodes + m->c.failures + m->c.audit > 0) {
    char subj[64];
    snprintf(subj, sizeof subj, "retention:%lldd", (long long)m->days);
    return pgs_w_audit_append(w, pgs_wtxn_now(w), m->actor, "purge", subj);
  }
  return LIC_OK;
}

int pgs_purge(store *s, int64_t now, int64_t retention_days, const char *actor,
             store_counts *c) {
  maint m;
  int r;
  memset(c, 0, sizeof *c);
  memset(&m, 0, sizeof m);
  /* retention_days is 1..36500: store_purge checked it */
  m.cutoff = now - retention_days * 86400;
  m.days = retention_days;
  m.actor = actor;
  if ((r = store_write(s, purge_apply, &m)) != LIC_OK)
    return r;
  *c = m.c;
  return LIC_OK;
}

static int forget_apply(store_wtxn *w, void *arg) {
  maint *m = arg;
  pgs_params p = {0}, q = {0};
  char uuid[LIC_UUID_LEN + 1];
  size_t failures = 0;
  int rc;
  memset(&m->c, 0, sizeof m->c);
  lic_uuid_format(m->id, uuid);
  pgs__dirty(w, m->id);
  pgs__p_bytes(&p, m->id, LIC_ID_LEN);
  pgs__p_text(&q, uuid);
  if ((rc = del_count(wc(w), "DELETE FROM licsrv_accounts WHERE id = $1 RETURNING 1", &p,
                      &m->c.accounts)) != LIC_OK ||
      (rc = del_count(wc(w), "DELETE FROM licsrv_registrations WHERE account = $1 RETURNING 1",
                      &p, &m->c.registrations)) != LIC_OK ||
      (rc = del_count(wc(w), "SELECT 1 FROM licsrv_nodes WHERE owner = $1 AND fail_time <> 0", &p,
                      &failures)) != LIC_OK ||
      (rc = del_count(wc(w), "DELETE FROM licsrv_nodes WHERE owner = $1 RETURNING 1", &p,
                      &m->c.nodes)) != LIC_OK ||
      (rc = del_count(wc(w), "DELETE FROM licsrv_audit WHERE strpos(subject, $1) > 0 RETURNING 1",
                      &q, &m->c.audit)) != LIC_OK ||
      /* the sum the triggers kept for it (schema version 5): nothing of it left */
      (rc = pgs__run(wc(w), "DELETE FROM licsrv_usage WHERE owner = $1", &p)) != LIC_OK)
    return rc;
  m->c.failures = failures;
  return pgs_w_audit_append(w, pgs_wtxn_now(w), m->actor, "forget", "account:(erased)");
}

int pgs_forget(store *s, store_subject kind, const uint8_t id[LIC_ID_LEN], const char *actor,
              store_counts *c) {
  maint m;
  int r;
  memset(c, 0, sizeof *c);
  if (kind == STORE_SUBJECT_LICENSE)
    return pgs__private_only("licsrv forget --license");
  memset(&m, 0, sizeof m);
  m.actor = actor;
  memcpy(m.id, id, LIC_ID_LEN);
  if ((r = store_write(s, forget_apply, &m)) != LIC_OK)
    return r;
  *c = m.c;
  return LIC_OK;
}

int pgs_backup(store *s, const char *dest_dir) {
  (void)s, (void)dest_dir;
  return lic_fail(LIC_INVALID, "a PostgreSQL store is backed up with PostgreSQL's own tools "
                               "(pg_dump DBNAME, or pg_basebackup with WAL archiving)");
}

int pgs_size(store *st, uint64_t *used, uint64_t *mapsize) {
  pgs_store *s = (pgs_store *)st;
  store_reader *r = NULL;
  PGconn *c;
  PGresult *res = NULL;
  int rc;
  *used = *mapsize = 0;
  if ((rc = pgs_reader_new((store *)s, &r)) != LIC_OK)
    return rc;
  if ((rc = pgs__rconn((pgs_reader *)r, &c)) == LIC_OK &&
      (rc = pgs__exec(c, "SELECT pg_database_size(current_database())", NULL, &res)) == LIC_OK)
    *used = (uint64_t)pgs__i64(res, 0, 0);
  PQclear(res);
  pgs_reader_free(r);
  return rc;
}

int pgs_w_raw_put(store_wtxn *w, const char *db, const void *key, size_t klen, const void *val,
                  size_t vlen) {
  (void)w, (void)key, (void)klen, (void)val, (void)vlen;
  return lic_fail(LIC_INVALID, "%s: raw records are an LMDB test hook", db);
}
