/* store/lmdb/activations.c - the activations database: one record per
 * (product, serial), written once (MDB_NOOVERWRITE: a serial activates once). */
#include <stdlib.h>
#include <string.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "store/lmdb/internal.h"

static void activation_key(uint8_t product, uint32_t serial, uint8_t key[5]) {
  key[0] = product;
  lmdb__be_put(key + 1, serial, 4);
}

static int activation_decode(const MDB_val *k, const MDB_val *v, store_activation *out) {
  rbuf r;
  memset(out, 0, sizeof *out);
  if (k->mv_size != 5)
    return lmdb__corrupt("activation", "key length");
  out->product = ((const uint8_t *)k->mv_data)[0];
  out->serial = (uint32_t)lmdb__be_get((const uint8_t *)k->mv_data + 1, 4);
  lmdb__rb_begin(&r, v);
  out->time = lmdb__rb_i64(&r);
  lmdb__rb_str(&r, out->machine_code, sizeof out->machine_code);
  lmdb__rb_blob(&r, LIC_MAX_ENVELOPE, &out->receipt, &out->receipt_len);
  if (!lmdb__rb_done(&r)) {
    store_activation_clear(out);
    return lmdb__corrupt("activation", "layout");
  }
  return LIC_OK;
}

static int activation_get_t(store *s, MDB_txn *t, uint8_t product, uint32_t serial,
                            store_activation *out) {
  uint8_t key[5];
  MDB_val k, v;
  int rc;
  memset(out, 0, sizeof *out);
  activation_key(product, serial, key);
  k = lmdb__val(key, 5);
  if ((rc = lmdb__get(s, t, DB_ACTIVATIONS, key, 5, &v)) != LIC_OK)
    return rc;
  return activation_decode(&k, &v, out);
}

int lmdb_activation_get(store_reader *rd, uint8_t product, uint32_t serial,
                         store_activation *out) {
  MDB_txn *t;
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = lmdb__rtxn(rd, &t)) != LIC_OK)
    return rc;
  return activation_get_t(rd->s, t, product, serial, out);
}

int lmdb_w_activation_get(store_wtxn *w, uint8_t product, uint32_t serial,
                           store_activation *out) {
  return activation_get_t(w->s, w->txn, product, serial, out);
}

typedef struct {
  store_activation_cb cb;
  void *arg;
} activation_walk;

static int activation_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  activation_walk *aw = arg;
  store_activation a;
  int r = activation_decode(k, v, &a);
  if (r != LIC_OK)
    return r;
  r = aw->cb(&a, aw->arg);
  store_activation_clear(&a);
  return r;
}

int lmdb_activation_each(store_reader *rd, store_activation_cb cb, void *arg) {
  MDB_txn *t;
  activation_walk aw = {cb, arg};
  int r;
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  return lmdb__walk(rd->s, t, DB_ACTIVATIONS, NULL, 0, activation_visit, &aw);
}

int lmdb_w_activation_delete(store_wtxn *w, uint8_t product, uint32_t serial) {
  uint8_t key[5];
  activation_key(product, serial, key);
  int r = lmdb__del(w->s, w->txn, DB_ACTIVATIONS, key, 5);
  return r == LIC_NOTFOUND ? lic_fail(LIC_NOTFOUND, "serial %u of product %u is not activated",
                                      serial, product)
                           : r;
}

int lmdb_w_activation_put(store_wtxn *w, const store_activation *a) {
  uint8_t key[5];
  wbuf b = {0};
  int r;
  activation_key(a->product, a->serial, key);
  lmdb__wb_u8(&b, REC_VERSION);
  lmdb__wb_i64(&b, a->time);
  lmdb__wb_str(&b, a->machine_code);
  lmdb__wb_blob(&b, a->receipt, a->receipt_len);
  r = b.bad ? LIC_NOMEM : lmdb__put(w, DB_ACTIVATIONS, key, 5, b.p, b.n, MDB_NOOVERWRITE);
  free(b.p);
  return r == LIC_EXISTS ? lic_fail(LIC_EXISTS, "serial already activated") : r;
}
