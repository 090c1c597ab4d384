/* store/lmdb/accounts.c - the accounts database: signed account envelopes by
 * account id (public mode). */
#include <stdlib.h>
#include <string.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "store/lmdb/internal.h"

static int account_decode(const MDB_val *k, const MDB_val *v, store_account *a) {
  rbuf r;
  memset(a, 0, sizeof *a);
  if (k->mv_size != LIC_ID_LEN)
    return lmdb__corrupt("account", "key length");
  memcpy(a->id, k->mv_data, LIC_ID_LEN);
  lmdb__rb_begin(&r, v);
  a->imported = lmdb__rb_i64(&r);
  lmdb__rb_blob(&r, LIC_MAX_ENVELOPE, &a->env, &a->env_len);
  if (!r.bad && r.n >= 8) /* written since revocation existed */
    a->revoked_at = lmdb__rb_i64(&r);
  if (!lmdb__rb_done(&r) || a->env_len == 0) {
    store_account_clear(a);
    return lmdb__corrupt("account", "layout");
  }
  return LIC_OK;
}

int lmdb_account_get(store_reader *rd, const uint8_t id[LIC_ID_LEN], store_account *out) {
  MDB_txn *t;
  MDB_val k = lmdb__val(id, LIC_ID_LEN), v;
  int r;
  memset(out, 0, sizeof *out);
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK ||
      (r = lmdb__get(rd->s, t, DB_ACCOUNTS, id, LIC_ID_LEN, &v)) != LIC_OK)
    return r;
  return account_decode(&k, &v, out);
}

typedef struct {
  store_account_cb cb;
  void *arg;
} account_walk;

static int account_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  account_walk *aw = arg;
  store_account a;
  int r = account_decode(k, v, &a);
  if (r != LIC_OK)
    return r;
  r = aw->cb(&a, aw->arg);
  store_account_clear(&a);
  return r;
}

int lmdb_account_each(store_reader *rd, store_account_cb cb, void *arg) {
  MDB_txn *t;
  account_walk aw = {cb, arg};
  int r;
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  return lmdb__walk(rd->s, t, DB_ACCOUNTS, NULL, 0, account_visit, &aw);
}

static int account_write(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env,
                         size_t len, int64_t imported, int64_t revoked_at) {
  wbuf b = {0};
  if (len == 0 || len > LIC_MAX_ENVELOPE)
    return lic_fail(LIC_LIMIT, "account envelope of %zu bytes", len);
  lmdb__wb_u8(&b, REC_VERSION);
  lmdb__wb_i64(&b, imported);
  lmdb__wb_blob(&b, env, len);
  lmdb__wb_i64(&b, revoked_at);
  return lmdb__put_wbuf(w, DB_ACCOUNTS, id, LIC_ID_LEN, &b);
}

int lmdb_w_account_get(store_wtxn *w, const uint8_t id[LIC_ID_LEN], store_account *out) {
  MDB_val k = lmdb__val(id, LIC_ID_LEN), v;
  int r;
  memset(out, 0, sizeof *out);
  if ((r = lmdb__get(w->s, w->txn, DB_ACCOUNTS, id, LIC_ID_LEN, &v)) != LIC_OK)
    return r;
  return account_decode(&k, &v, out);
}

int lmdb_w_account_put(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env,
                        size_t len, int64_t now) {
  store_account cur;
  int64_t revoked_at = 0;
  int r = lmdb_w_account_get(w, id, &cur);
  if (r == LIC_OK)
    revoked_at = cur.revoked_at;
  else if (r != LIC_NOTFOUND)
    return r;
  store_account_clear(&cur);
  return account_write(w, id, env, len, now, revoked_at);
}

int lmdb_w_account_revoke(store_wtxn *w, const uint8_t id[LIC_ID_LEN], int64_t now) {
  store_account cur;
  int r = lmdb_w_account_get(w, id, &cur);
  if (r != LIC_OK)
    return r;
  if (cur.revoked_at == 0)
    r = account_write(w, id, cur.env, cur.env_len, cur.imported, now);
  store_account_clear(&cur);
  return r;
}

int lmdb_w_account_delete(store_wtxn *w, const uint8_t id[LIC_ID_LEN]) {
  return lmdb__del(w->s, w->txn, DB_ACCOUNTS, id, LIC_ID_LEN);
}
