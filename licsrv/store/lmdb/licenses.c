/* store/lmdb/licenses.c - the licenses database: imported license envelopes
 * by license id, with their revocation (a re-import never un-revokes). */
#include <stdlib.h>
#include <string.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "store/lmdb/internal.h"

static int license_decode(const MDB_val *k, const MDB_val *v, store_license *l) {
  rbuf r;
  memset(l, 0, sizeof *l);
  if (k->mv_size != LIC_ID_LEN)
    return lmdb__corrupt("license", "key length");
  memcpy(l->id, k->mv_data, LIC_ID_LEN);
  lmdb__rb_begin(&r, v);
  uint64_t flags = lmdb__rb_uint(&r, 1);
  l->imported = lmdb__rb_i64(&r);
  l->revoked_at = lmdb__rb_i64(&r);
  lmdb__rb_blob(&r, LIC_MAX_ENVELOPE, &l->env, &l->env_len);
  if (!lmdb__rb_done(&r) || (flags & ~1u) != 0 || l->env_len == 0) {
    store_license_clear(l);
    return lmdb__corrupt("license", "layout");
  }
  l->revoked = (flags & 1u) != 0;
  return LIC_OK;
}

static int license_encode_put(store_wtxn *w, const store_license *l) {
  wbuf b = {0};
  lmdb__wb_u8(&b, REC_VERSION);
  lmdb__wb_u8(&b, l->revoked ? 1 : 0);
  lmdb__wb_i64(&b, l->imported);
  lmdb__wb_i64(&b, l->revoked_at);
  lmdb__wb_blob(&b, l->env, l->env_len);
  return lmdb__put_wbuf(w, DB_LICENSES, l->id, LIC_ID_LEN, &b);
}

static int license_get_t(store *s, MDB_txn *t, const uint8_t id[LIC_ID_LEN], store_license *out) {
  MDB_val k = lmdb__val(id, LIC_ID_LEN), v;
  int r;
  memset(out, 0, sizeof *out);
  if ((r = lmdb__get(s, t, DB_LICENSES, id, LIC_ID_LEN, &v)) != LIC_OK)
    return r;
  return license_decode(&k, &v, out);
}

int lmdb_license_get(store_reader *rd, const uint8_t id[LIC_ID_LEN], store_license *out) {
  MDB_txn *t;
  int r;
  memset(out, 0, sizeof *out);
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  return license_get_t(rd->s, t, id, out);
}

int lmdb_license_only(store_reader *rd, store_license *out) {
  MDB_txn *t;
  MDB_cursor *c = NULL;
  MDB_val k, v;
  int mrc, r;

  memset(out, 0, sizeof *out);
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  if ((mrc = mdb_cursor_open(t, rd->s->dbi[DB_LICENSES], &c)) != 0)
    return lmdb__fail(mrc, "licenses");
  if ((mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) != 0) {
    r = mrc == MDB_NOTFOUND ? lic_fail(LIC_NOTFOUND, "no license imported")
                            : lmdb__fail(mrc, "licenses");
    goto out;
  }
  if ((r = license_decode(&k, &v, out)) != LIC_OK)
    goto out;
  mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  if (mrc == 0) {
    store_license_clear(out);
    r = lic_fail(LIC_EXISTS, "several licenses are imported: name one");
  } else if (mrc != MDB_NOTFOUND) {
    store_license_clear(out);
    r = lmdb__fail(mrc, "licenses");
  }
out:
  mdb_cursor_close(c);
  return r;
}

typedef struct {
  store_license_cb cb;
  void *arg;
} license_walk;

static int license_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  license_walk *lw = arg;
  store_license l;
  int r = license_decode(k, v, &l);
  if (r != LIC_OK)
    return r;
  r = lw->cb(&l, lw->arg);
  store_license_clear(&l);
  return r;
}

int lmdb_license_each(store_reader *rd, store_license_cb cb, void *arg) {
  MDB_txn *t;
  license_walk lw = {cb, arg};
  int r;
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  return lmdb__walk(rd->s, t, DB_LICENSES, NULL, 0, license_visit, &lw);
}

void lmdb__tombstone_key(const uint8_t id[LIC_ID_LEN], char key[LMDB_TOMBSTONE_KEY]) {
  static const char hex[] = "0123456789abcdef";
  memcpy(key, "forgotten-revoked:", 18);
  for (size_t i = 0; i < LIC_ID_LEN; i++) {
    key[18 + 2 * i] = hex[id[i] >> 4];
    key[19 + 2 * i] = hex[id[i] & 15];
  }
  key[18 + 2 * LIC_ID_LEN] = '\0';
}

int lmdb_w_license_put(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env,
                        size_t len, int64_t now) {
  return lmdb_w_license_import(w, id, env, len, now, NULL);
}

int lmdb_w_license_import(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env,
                           size_t len, int64_t now, store_import_outcome *out) {
  store_license old, l;
  char tomb[LMDB_TOMBSTONE_KEY];
  int64_t revoked_at;
  int r;
  if (out != NULL)
    *out = STORE_IMPORT_NEW;
  if (len == 0 || len > LIC_MAX_ENVELOPE)
    return lic_fail(LIC_LIMIT, "license envelope of %zu bytes", len);
  memset(&l, 0, sizeof l);
  memcpy(l.id, id, LIC_ID_LEN);
  l.env = (uint8_t *)(uintptr_t)env;
  l.env_len = len;
  l.imported = now;
  r = license_get_t(w->s, w->txn, id, &old);
  if (r == LIC_OK) {
    l.revoked = old.revoked; /* re-importing never un-revokes */
    l.revoked_at = old.revoked_at;
    store_license_clear(&old);
  } else if (r != LIC_NOTFOUND && r != LIC_FORMAT) {
    return r; /* a corrupt old record is replaced */
  }
  if (r == LIC_OK && out != NULL)
    *out = STORE_IMPORT_AGAIN;
  /* Revoked, then forgotten: the tombstone brings the revocation back. */
  lmdb__tombstone_key(id, tomb);
  if (!l.revoked && (r = lmdb__meta_get_int(w->s, w->txn, tomb, &revoked_at)) != LIC_NOTFOUND) {
    if (r != LIC_OK)
      return r;
    l.revoked = true;
    l.revoked_at = revoked_at;
  }
  if (l.revoked && out != NULL)
    *out = STORE_IMPORT_REVOKED;
  return license_encode_put(w, &l);
}

int lmdb_w_license_revoke(store_wtxn *w, const uint8_t id[LIC_ID_LEN], int64_t now) {
  store_license l;
  int r;
  if ((r = license_get_t(w->s, w->txn, id, &l)) != LIC_OK)
    return r == LIC_NOTFOUND ? lic_fail(LIC_NOTFOUND, "no such license") : r;
  if (!l.revoked) {
    l.revoked = true;
    l.revoked_at = now;
    r = license_encode_put(w, &l);
  }
  store_license_clear(&l);
  return r;
}
