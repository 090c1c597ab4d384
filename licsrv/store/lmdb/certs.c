/* store/lmdb/certs.c - online-key certificates (public mode), kept in the meta
 * database under "cert:" + cert id: every imported one, so a rotation keeps
 * the old certificate usable until the new one is in. */
#include <stdlib.h>
#include <string.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "store/lmdb/internal.h"

#define CERT_PREFIX     "cert:"
#define CERT_PREFIX_LEN 5

int lmdb_w_cert_add(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env, size_t len,
                     int64_t now) {
  uint8_t key[CERT_PREFIX_LEN + LIC_ID_LEN];
  wbuf b = {0};
  if (len == 0 || len > LIC_MAX_ENVELOPE)
    return lic_fail(LIC_LIMIT, "cert envelope of %zu bytes", len);
  memcpy(key, CERT_PREFIX, CERT_PREFIX_LEN);
  memcpy(key + CERT_PREFIX_LEN, id, LIC_ID_LEN);
  lmdb__wb_u8(&b, REC_VERSION);
  lmdb__wb_i64(&b, now);
  lmdb__wb_blob(&b, env, len);
  return lmdb__put_wbuf(w, DB_META, key, sizeof key, &b);
}

typedef struct {
  store_cert_cb cb;
  void *arg;
} cert_walk;

static int cert_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  cert_walk *cw = arg;
  store_cert c;
  rbuf r;
  memset(&c, 0, sizeof c);
  if (k->mv_size != CERT_PREFIX_LEN + LIC_ID_LEN)
    return lmdb__corrupt("cert", "key length");
  memcpy(c.id, (const uint8_t *)k->mv_data + CERT_PREFIX_LEN, LIC_ID_LEN);
  lmdb__rb_begin(&r, v);
  c.imported = lmdb__rb_i64(&r);
  lmdb__rb_blob(&r, LIC_MAX_ENVELOPE, &c.env, &c.env_len);
  if (!lmdb__rb_done(&r) || c.env_len == 0) {
    store_cert_clear(&c);
    return lmdb__corrupt("cert", "layout");
  }
  int rc = cw->cb(&c, cw->arg);
  store_cert_clear(&c);
  return rc;
}

int lmdb_cert_each(store_reader *rd, store_cert_cb cb, void *arg) {
  MDB_txn *t;
  cert_walk cw = {cb, arg};
  int r;
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  return lmdb__walk(rd->s, t, DB_META, CERT_PREFIX, CERT_PREFIX_LEN, cert_visit, &cw);
}
