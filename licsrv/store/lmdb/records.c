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
