/* store/lmdb/registrations.c - the registrations database: one record per
 * (account, project), keyed so an account's registrations are one prefix;
 * and the regcounts database: each account's count of them, changed in the
 * same write transaction as the registrations, so that a verify and a
 * register read one record whatever the account's size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "store/lmdb/internal.h"

static int registration_decode(const MDB_val *k, const MDB_val *v, store_registration *g) {
  rbuf r;
  memset(g, 0, sizeof *g);
  if (k->mv_size != 2 * LIC_ID_LEN)
    return lmdb__corrupt("registration", "key length");
  memcpy(g->account, k->mv_data, LIC_ID_LEN);
  memcpy(g->project_id, (const uint8_t *)k->mv_data + LIC_ID_LEN, LIC_ID_LEN);
  lmdb__rb_begin(&r, v);
  g->created = lmdb__rb_i64(&r);
  lmdb__rb_str(&r, g->project, sizeof g->project);
  lmdb__rb_str(&r, g->domain, sizeof g->domain);
  g->last_valid = g->created;
  if (!r.bad && r.n >= 8) /* written since the TTL release existed */
    g->last_valid = lmdb__rb_i64(&r);
  return lmdb__rb_done(&r) ? LIC_OK : lmdb__corrupt("registration", "layout");
}

/* ---- the count (regcounts: account id -> u8 ver, i64 count; absent = 0) ---- */

static int regcount_get(store *s, MDB_txn *t, const uint8_t account[LIC_ID_LEN], int64_t *n) {
  return lmdb__counter_get(s, t, DB_REGCOUNTS, account, "registration count", n);
}

static int regcount_put(store *s, MDB_txn *t, const uint8_t account[LIC_ID_LEN], int64_t n) {
  return lmdb__counter_put(s, t, DB_REGCOUNTS, account, n);
}

int lmdb__regcount_add(store_wtxn *w, const uint8_t account[LIC_ID_LEN], int64_t delta) {
  int64_t n;
  int r = regcount_get(w->s, w->txn, account, &n);
  if (r != LIC_OK)
    return r;
  if (n + delta < 0)
    return lmdb__corrupt("registration count", "below zero");
  if ((r = lmdb__usage_add(w->s, w->txn, account, delta)) != LIC_OK)
    return r;
  return regcount_put(w->s, w->txn, account, n + delta);
}

int lmdb__regcount_clear(store_wtxn *w, const uint8_t account[LIC_ID_LEN]) {
  int64_t n;
  int r = regcount_get(w->s, w->txn, account, &n);
  if (r == LIC_OK && n > 0)
    r = lmdb__usage_add(w->s, w->txn, account, -n);
  if (r != LIC_OK && r != LIC_FORMAT)
    return r;
  return regcount_put(w->s, w->txn, account, 0);
}

int lmdb__regcount_rebuild(store *s, MDB_txn *t) {
  MDB_cursor *c = NULL;
  MDB_val k, v;
  uint8_t cur[LIC_ID_LEN];
  int64_t n = 0;
  int mrc, r = LIC_OK;
  if ((mrc = mdb_drop(t, s->dbi[DB_REGCOUNTS], 0)) != 0)
    return lmdb__fail(mrc, "regcounts");
  if ((mrc = mdb_cursor_open(t, s->dbi[DB_REGISTRATIONS], &c)) != 0)
    return lmdb__fail(mrc, "registrations");
  /* Keys are in order: an account's registrations are one run. */
  for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
       mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 2 * LIC_ID_LEN)
      continue; /* not a registration (as every read says) */
    if (n > 0 && memcmp(cur, k.mv_data, LIC_ID_LEN) != 0) {
      if ((r = regcount_put(s, t, cur, n)) != LIC_OK)
        goto out;
      n = 0;
    }
    memcpy(cur, k.mv_data, LIC_ID_LEN);
    n++;
  }
  if (mrc != MDB_NOTFOUND) {
    r = lmdb__fail(mrc, "registrations");
    goto out;
  }
  if (n > 0)
    r = regcount_put(s, t, cur, n);
out:
  mdb_cursor_close(c);
  return r;
}

/* ---- registrations ---------------------------------------------------------- */

int lmdb_registration_get(store_reader *rd, const uint8_t account[LIC_ID_LEN],
                           const uint8_t project_id[LIC_ID_LEN], store_registration *out) {
  uint8_t key[2 * LIC_ID_LEN];
  MDB_txn *t;
  MDB_val k, v;
  int r;
  memset(out, 0, sizeof *out);
  memcpy(key, account, LIC_ID_LEN);
  memcpy(key + LIC_ID_LEN, project_id, LIC_ID_LEN);
  k = lmdb__val(key, sizeof key);
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK ||
      (r = lmdb__get(rd->s, t, DB_REGISTRATIONS, key, sizeof key, &v)) != LIC_OK)
    return r;
  return registration_decode(&k, &v, out);
}

typedef struct {
  store_registration_cb cb;
  void *arg;
  size_t n;
} reg_walk;

static int registration_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  reg_walk *rw = arg;
  store_registration g;
  int r = registration_decode(k, v, &g);
  if (r != LIC_OK)
    return r;
  rw->n++;
  return rw->cb != NULL ? rw->cb(&g, rw->arg) : 0;
}

int lmdb_registration_each(store_reader *rd, const uint8_t account[LIC_ID_LEN],
                            store_registration_cb cb, void *arg) {
  MDB_txn *t;
  reg_walk rw = {cb, arg, 0};
  int r;
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  return lmdb__walk(rd->s, t, DB_REGISTRATIONS, account, LIC_ID_LEN, registration_visit, &rw);
}

int lmdb_registration_count(store_reader *rd, const uint8_t account[LIC_ID_LEN], size_t *n) {
  MDB_txn *t;
  reg_walk rw = {NULL, NULL, 0};
  int64_t kept;
  int r;
  *n = 0;
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  if (rd->s->regcounts) {
    if ((r = regcount_get(rd->s, t, account, &kept)) == LIC_OK)
      *n = (size_t)kept;
    return r;
  }
  /* a read-only look at a store never upgraded (schema 1): walked */
  if ((r = lmdb__walk(rd->s, t, DB_REGISTRATIONS, account, LIC_ID_LEN, registration_visit,
                      &rw)) != LIC_OK)
    return r;
  *n = rw.n;
  return LIC_OK;
}

/* A new (account, project) counts one more; the same again (a touch of
 * last_valid, a registration again) rewrites it and counts nothing. */
int lmdb_w_registration_put(store_wtxn *w, const store_registration *g) {
  uint8_t key[2 * LIC_ID_LEN];
  wbuf b = {0};
  int r;
  memcpy(key, g->account, LIC_ID_LEN);
  memcpy(key + LIC_ID_LEN, g->project_id, LIC_ID_LEN);
  lmdb__wb_u8(&b, REC_VERSION);
  lmdb__wb_i64(&b, g->created);
  lmdb__wb_str(&b, g->project);
  lmdb__wb_str(&b, g->domain);
  lmdb__wb_i64(&b, g->last_valid != 0 ? g->last_valid : g->created);
  if (b.bad) {
    free(b.p);
    return LIC_NOMEM;
  }
  r = lmdb__put(w, DB_REGISTRATIONS, key, sizeof key, b.p, b.n, MDB_NOOVERWRITE);
  if (r == LIC_OK)
    r = lmdb__regcount_add(w, g->account, 1);
  else if (r == LIC_EXISTS)
    r = lmdb__put(w, DB_REGISTRATIONS, key, sizeof key, b.p, b.n, 0);
  free(b.p);
  return r;
}

int lmdb_w_registration_delete(store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                                const uint8_t project_id[LIC_ID_LEN]) {
  uint8_t key[2 * LIC_ID_LEN];
  int r;
  memcpy(key, account, LIC_ID_LEN);
  memcpy(key + LIC_ID_LEN, project_id, LIC_ID_LEN);
  if ((r = lmdb__del(w->s, w->txn, DB_REGISTRATIONS, key, sizeof key)) != LIC_OK)
    return r;
  return lmdb__regcount_add(w, account, -1);
}

int lmdb_w_registration_get(store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                             const uint8_t project_id[LIC_ID_LEN], store_registration *out) {
  uint8_t key[2 * LIC_ID_LEN];
  MDB_val k, v;
  int r;
  memset(out, 0, sizeof *out);
  memcpy(key, account, LIC_ID_LEN);
  memcpy(key + LIC_ID_LEN, project_id, LIC_ID_LEN);
  k = lmdb__val(key, sizeof key);
  if ((r = lmdb__get(w->s, w->txn, DB_REGISTRATIONS, key, sizeof key, &v)) != LIC_OK)
    return r;
  return registration_decode(&k, &v, out);
}

int lmdb_w_registration_count(store_wtxn *w, const uint8_t account[LIC_ID_LEN], size_t *n) {
  int64_t kept;
  int r = regcount_get(w->s, w->txn, account, &kept);
  *n = r == LIC_OK ? (size_t)kept : 0;
  return r;
}

/* The steps one by one: every read is this write transaction's, and LMDB has
 * one writer, so nothing comes between them. */
int lmdb_w_registration_claim(store_wtxn *w, const store_registration *r, int64_t capacity,
                              uint64_t quota, const char *audit_token, const char *audit_action,
                              const char *audit_subject, store_claim *out) {
  (void)quota; /* checked by the caller, with store_w_usage_get (store.h) */
  return store_claim_steps(w, r, capacity, audit_token, audit_action, audit_subject, out);
}

int lmdb_w_registration_release(store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                                const uint8_t project_id[LIC_ID_LEN], int64_t now,
                                const char *audit_token, const char *audit_action,
                                const char *audit_subject, store_release *out) {
  return store_release_steps(w, account, project_id, now, audit_token, audit_action,
                             audit_subject, out);
}

int lmdb_w_registration_delete_all(store_wtxn *w, const uint8_t account[LIC_ID_LEN], size_t *n) {
  MDB_cursor *c = NULL;
  MDB_val k = lmdb__val(account, LIC_ID_LEN), v;
  int mrc;
  *n = 0;
  if ((mrc = mdb_cursor_open(w->txn, w->s->dbi[DB_REGISTRATIONS], &c)) != 0)
    return lmdb__fail(mrc, "registrations");
  mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  while (mrc == 0 && k.mv_size >= LIC_ID_LEN && memcmp(k.mv_data, account, LIC_ID_LEN) == 0) {
    if ((mrc = mdb_cursor_del(c, 0)) != 0)
      break;
    (*n)++;
    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* after a delete: the next record */
  }
  mdb_cursor_close(c);
  if (mrc != 0 && mrc != MDB_NOTFOUND)
    return lmdb__fail(mrc, "registrations");
  return lmdb__regcount_clear(w, account);
}

typedef struct {
  int64_t cutoff, days;
  size_t n;
} idle_op;

static int idle_apply(store_wtxn *w, void *arg) {
  idle_op *o = arg;
  MDB_cursor *c = NULL;
  MDB_val k, v;
  int mrc, r = LIC_OK;
  o->n = 0;
  if ((mrc = mdb_cursor_open(w->txn, w->s->dbi[DB_REGISTRATIONS], &c)) != 0)
    return lmdb__fail(mrc, "registrations");
  mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
  while (mrc == 0) {
    store_registration g;
    if (registration_decode(&k, &v, &g) == LIC_OK && g.last_valid < o->cutoff) {
      char acct[LIC_UUID_LEN + 1], proj[LIC_UUID_LEN + 1], subj[STORE_MAX_SUBJECT + 1];
      if ((mrc = mdb_cursor_del(c, 0)) != 0)
        break;
      if ((r = lmdb__regcount_add(w, g.account, -1)) != LIC_OK)
        goto out;
      lic_uuid_format(g.account, acct);
      lic_uuid_format(g.project_id, proj);
      snprintf(subj, sizeof subj, "account:%s project:%s ttl:%lldd", acct, proj,
               (long long)o->days);
      if ((r = lmdb_w_audit_append(w, w->now, "purge", "registration.expire", subj)) != LIC_OK)
        goto out;
      o->n++;
      mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* after a delete: the next record */
      continue;
    }
    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  if (mrc != 0 && mrc != MDB_NOTFOUND)
    r = lmdb__fail(mrc, "registrations");
out:
  mdb_cursor_close(c);
  return r;
}

int lmdb_registration_release_idle(store *s, int64_t now, int64_t ttl_days, size_t *n) {
  idle_op o = {now - ttl_days * 86400, ttl_days, 0};
  int r;
  *n = 0; /* ttl_days is 1..36500: store_registration_release_idle checked it */
  if ((r = store_write(s, idle_apply, &o)) != LIC_OK)
    return r;
  *n = o.n;
  return LIC_OK;
}
