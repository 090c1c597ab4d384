/* store/lmdb/records.c - get, put, delete and walk one record of a named
 * database: the LMDB calls the database files share, so each of them holds
 * only its own key and value layout. */
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "store/lmdb/internal.h"

/* An MDB_val over caller memory (LMDB takes it non-const; it does not write). */
MDB_val lmdb__val(const void *p, size_t n) {
  MDB_val v = {n, (void *)(uintptr_t)p};
  return v;
}

int lmdb__put(store_wtxn *w, int db, const void *k, size_t kl, const void *v, size_t vl,
              unsigned flags) {
  MDB_val key = lmdb__val(k, kl), val = lmdb__val(v, vl);
  int mrc = mdb_put(w->txn, w->s->dbi[db], &key, &val, flags);
  if (mrc == MDB_KEYEXIST)
    return LIC_EXISTS;
  return mrc == 0 ? LIC_OK : lmdb__fail(mrc, lmdb__db_names[db]);
}

int lmdb__put_wbuf(store_wtxn *w, int db, const void *k, size_t kl, wbuf *b) {
  int r = b->bad ? LIC_NOMEM : lmdb__put(w, db, k, kl, b->p, b->n, 0);
  free(b->p);
  memset(b, 0, sizeof *b);
  return r;
}

int lmdb__get(store *s, MDB_txn *t, int db, const void *k, size_t kl, MDB_val *v) {
  MDB_val key = lmdb__val(k, kl);
  int mrc = mdb_get(t, s->dbi[db], &key, v);
  if (mrc == MDB_NOTFOUND)
    return LIC_NOTFOUND;
  return mrc == 0 ? LIC_OK : lmdb__fail(mrc, lmdb__db_names[db]);
}

int lmdb__del(store *s, MDB_txn *t, int db, const void *k, size_t kl) {
  MDB_val key = lmdb__val(k, kl);
  int mrc = mdb_del(t, s->dbi[db], &key, NULL);
  if (mrc == MDB_NOTFOUND)
    return LIC_NOTFOUND;
  return mrc == 0 ? LIC_OK : lmdb__fail(mrc, lmdb__db_names[db]);
}

int lmdb__counter_get(store *s, MDB_txn *t, int db, const uint8_t id[LIC_ID_LEN],
                      const char *what, int64_t *n) {
  MDB_val v;
  rbuf r;
  int rc;
  *n = 0;
  rc = lmdb__get(s, t, db, id, LIC_ID_LEN, &v);
  if (rc == LIC_NOTFOUND)
    return LIC_OK;
  if (rc != LIC_OK)
    return rc;
  lmdb__rb_begin(&r, &v);
  *n = lmdb__rb_i64(&r);
  if (!lmdb__rb_done(&r) || *n < 0) {
    *n = 0;
    return lmdb__corrupt(what, "layout");
  }
  return LIC_OK;
}

int lmdb__counter_put(store *s, MDB_txn *t, int db, const uint8_t id[LIC_ID_LEN], int64_t n) {
  uint8_t b[1 + 8];
  MDB_val k = lmdb__val(id, LIC_ID_LEN), v = lmdb__val(b, sizeof b);
  int mrc;
  if (n <= 0) { /* nothing kept for an id without any */
    mrc = mdb_del(t, s->dbi[db], &k, NULL);
    return mrc == 0 || mrc == MDB_NOTFOUND ? LIC_OK : lmdb__fail(mrc, lmdb__db_names[db]);
  }
  b[0] = REC_VERSION;
  lmdb__be_put(b + 1, (uint64_t)n, 8);
  mrc = mdb_put(t, s->dbi[db], &k, &v, 0);
  return mrc == 0 ? LIC_OK : lmdb__fail(mrc, lmdb__db_names[db]);
}

int lmdb_w_raw_put(store_wtxn *w, const char *db, const void *key, size_t klen, const void *val,
                    size_t vlen) {
  for (int i = 0; i < DB_COUNT; i++)
    if (strcmp(db, lmdb__db_names[i]) == 0)
      return lmdb__put(w, i, key, klen, val, vlen, 0);
  return lic_fail(LIC_INVALID, "no database '%s'", db);
}

int lmdb__walk(store *s, MDB_txn *t, int db, const void *prefix, size_t plen, kv_fn fn,
               void *arg) {
  MDB_cursor *c = NULL;
  MDB_val k = lmdb__val(prefix, plen), v;
  int mrc, r = LIC_OK;

  if ((mrc = mdb_cursor_open(t, s->dbi[db], &c)) != 0)
    return lmdb__fail(mrc, lmdb__db_names[db]);
  mrc = mdb_cursor_get(c, &k, &v, plen > 0 ? MDB_SET_RANGE : MDB_FIRST);
  while (mrc == 0) {
    if (plen > 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
      break;
    if ((r = fn(&k, &v, arg)) != 0)
      goto out;
    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  if (mrc != 0 && mrc != MDB_NOTFOUND)
    r = lmdb__fail(mrc, lmdb__db_names[db]);
out:
  mdb_cursor_close(c);
  return r;
}
