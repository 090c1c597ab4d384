/* store/lmdb/audit.c - the audit database: append-only entries keyed by time
 * and a global sequence number, read from a point in time on. */
#include <string.h>

#include "lic/err.h"
#include "store/lmdb/internal.h"

int lmdb__audit_decode(const MDB_val *k, const MDB_val *v, store_audit *a) {
  rbuf r;
  memset(a, 0, sizeof *a);
  if (k->mv_size != 16)
    return lmdb__corrupt("audit", "key length");
  a->seq = lmdb__be_get((const uint8_t *)k->mv_data + 8, 8);
  lmdb__rb_begin(&r, v);
  a->time = lmdb__rb_i64(&r);
  lmdb__rb_str(&r, a->token, sizeof a->token);
  lmdb__rb_str(&r, a->action, sizeof a->action);
  lmdb__rb_str(&r, a->subject, sizeof a->subject);
  return lmdb__rb_done(&r) ? LIC_OK : lmdb__corrupt("audit", "layout");
}

static int bounded(const char *what, const char *s, size_t max) {
  size_t n = s != NULL ? strlen(s) : 0;
  if (n > max)
    return lic_fail(LIC_LIMIT, "audit %s longer than %zu bytes", what, max);
  return LIC_OK;
}

int lmdb_w_audit_append(store_wtxn *w, int64_t time, const char *token, const char *action,
                         const char *subject) {
  uint8_t key[16];
  uint64_t seq;
  int64_t last = 0;
  wbuf b = {0};
  int r;

  if ((r = bounded("token", token, STORE_MAX_TOKEN_NAME)) != LIC_OK ||
      (r = bounded("action", action, STORE_MAX_ACTION)) != LIC_OK ||
      (r = bounded("subject", subject, STORE_MAX_SUBJECT)) != LIC_OK)
    return r;
  /* Key: time then a global sequence number (meta "audit_seq"), so entries
   * stay unique and in order even when the clock repeats or steps back. */
  if ((r = lmdb__meta_get_int(w->s, w->txn, "audit_seq", &last)) != LIC_OK && r != LIC_NOTFOUND)
    return r;
  seq = (uint64_t)last + 1;
  if ((r = lmdb__meta_put_int(w->s, w->txn, "audit_seq", (int64_t)seq)) != LIC_OK)
    return r;
  if (time < 0)
    time = 0;
  lmdb__be_put(key, (uint64_t)time, 8);
  lmdb__be_put(key + 8, seq, 8);
  lmdb__wb_u8(&b, REC_VERSION);
  lmdb__wb_i64(&b, time);
  lmdb__wb_str(&b, token);
  lmdb__wb_str(&b, action);
  lmdb__wb_str(&b, subject);
  if ((r = lmdb__put_wbuf(w, DB_AUDIT, key, sizeof key, &b)) != LIC_OK)
    return r;
  return lmdb__usage_audit(w->s, w->txn, subject, 1); /* an account's entry counts */
}

typedef struct {
  store_audit_cb cb;
  void *arg;
  const char *needle;
} audit_walk;

static int audit_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  audit_walk *aw = arg;
  store_audit a;
  int r = lmdb__audit_decode(k, v, &a);
  if (r != LIC_OK)
    return r;
  if (aw->needle != NULL && strstr(a.subject, aw->needle) == NULL)
    return 0;
  return aw->cb(&a, aw->arg);
}

int lmdb_audit_each(store_reader *rd, int64_t since, const char *needle, store_audit_cb cb,
                     void *arg) {
  MDB_txn *t;
  MDB_cursor *c = NULL;
  MDB_val k, v;
  uint8_t key[16] = {0};
  audit_walk aw = {cb, arg, needle};
  int mrc, r;

  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  if ((mrc = mdb_cursor_open(t, rd->s->dbi[DB_AUDIT], &c)) != 0)
    return lmdb__fail(mrc, "audit");
  lmdb__be_put(key, (uint64_t)(since < 0 ? 0 : since), 8);
  k = lmdb__val(key, sizeof key);
  r = LIC_OK;
  for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0;
       mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
    if ((r = audit_visit(&k, &v, &aw)) != 0)
      break;
  if (r == 0 && mrc != MDB_NOTFOUND)
    r = lmdb__fail(mrc, "audit");
  mdb_cursor_close(c);
  return r;
}
