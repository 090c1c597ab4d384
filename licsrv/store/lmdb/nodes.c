/* store/lmdb/nodes.c - the nodes database: per (owner, node) the last valid
 * check and the last failure. Heartbeats reach it through the writer's batch
 * (writer.c), purge and forget through purge.c. */
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "store/lmdb/internal.h"

static int node_key(const uint8_t owner[LIC_ID_LEN], const char *node, uint8_t *key, size_t *kl) {
  size_t n = strlen(node);
  if (n == 0 || n > STORE_MAX_NODE)
    return lic_fail(LIC_LIMIT, "node name must be 1..%d bytes", STORE_MAX_NODE);
  memcpy(key, owner, LIC_ID_LEN);
  memcpy(key + LIC_ID_LEN, node, n);
  *kl = LIC_ID_LEN + n;
  return LIC_OK;
}

int lmdb__node_decode(const MDB_val *k, const MDB_val *v, store_node *n) {
  rbuf r;
  memset(n, 0, sizeof *n);
  if (k->mv_size <= LIC_ID_LEN || k->mv_size > LIC_ID_LEN + STORE_MAX_NODE ||
      memchr((const uint8_t *)k->mv_data + LIC_ID_LEN, '\0', k->mv_size - LIC_ID_LEN) != NULL)
    return lmdb__corrupt("node", "key");
  memcpy(n->owner, k->mv_data, LIC_ID_LEN);
  memcpy(n->node, (const uint8_t *)k->mv_data + LIC_ID_LEN, k->mv_size - LIC_ID_LEN);
  lmdb__rb_begin(&r, v);
  n->last_seen = lmdb__rb_i64(&r);
  n->fail_time = lmdb__rb_i64(&r);
  lmdb__rb_str(&r, n->fail_status, sizeof n->fail_status);
  lmdb__rb_str(&r, n->fail_reason, sizeof n->fail_reason);
  return lmdb__rb_done(&r) ? LIC_OK : lmdb__corrupt("node", "layout");
}

void lmdb__node_encode(wbuf *b, const store_node *n) {
  lmdb__wb_u8(b, REC_VERSION);
  lmdb__wb_i64(b, n->last_seen);
  lmdb__wb_i64(b, n->fail_time);
  lmdb__wb_str(b, n->fail_status);
  lmdb__wb_str(b, n->fail_reason);
}

int lmdb_w_node_put(store_wtxn *w, const store_node *n) {
  uint8_t key[LIC_ID_LEN + STORE_MAX_NODE];
  size_t kl;
  wbuf b = {0};
  int r;
  if ((r = node_key(n->owner, n->node, key, &kl)) != LIC_OK)
    return r;
  lmdb__node_encode(&b, n);
  if (b.bad) {
    free(b.p);
    return LIC_NOMEM;
  }
  /* A new record counts against its owner (usage.c); a rewrite does not. */
  r = lmdb__put(w, DB_NODES, key, kl, b.p, b.n, MDB_NOOVERWRITE);
  if (r == LIC_OK)
    r = lmdb__usage_add(w->s, w->txn, n->owner, 1);
  else if (r == LIC_EXISTS)
    r = lmdb__put(w, DB_NODES, key, kl, b.p, b.n, 0);
  free(b.p);
  return r;
}

int lmdb_w_node_delete(store_wtxn *w, const uint8_t owner[LIC_ID_LEN], const char *node) {
  uint8_t key[LIC_ID_LEN + STORE_MAX_NODE];
  size_t kl;
  int r;
  if ((r = node_key(owner, node, key, &kl)) != LIC_OK)
    return r;
  r = lmdb__del(w->s, w->txn, DB_NODES, key, kl);
  if (r == LIC_NOTFOUND)
    return LIC_OK;
  return r != LIC_OK ? r : lmdb__usage_add(w->s, w->txn, owner, -1);
}

int lmdb__node_get(store *s, MDB_txn *t, const uint8_t owner[LIC_ID_LEN], const char *node,
                   store_node *out) {
  uint8_t key[LIC_ID_LEN + STORE_MAX_NODE];
  size_t kl;
  MDB_val v, k;
  int r;
  memset(out, 0, sizeof *out);
  if ((r = node_key(owner, node, key, &kl)) != LIC_OK ||
      (r = lmdb__get(s, t, DB_NODES, key, kl, &v)) != LIC_OK)
    return r;
  k = lmdb__val(key, kl);
  return lmdb__node_decode(&k, &v, out);
}

int lmdb_node_get(store_reader *rd, const uint8_t owner[LIC_ID_LEN], const char *node,
                   store_node *out) {
  MDB_txn *t;
  int r;
  memset(out, 0, sizeof *out);
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  return lmdb__node_get(rd->s, t, owner, node, out);
}

typedef struct {
  store_node_cb cb;
  void *arg;
} node_walk;

static int node_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  node_walk *nw = arg;
  store_node n;
  int r = lmdb__node_decode(k, v, &n);
  return r != LIC_OK ? r : nw->cb(&n, nw->arg);
}

int lmdb_node_each(store_reader *rd, const uint8_t *owner, store_node_cb cb, void *arg) {
  MDB_txn *t;
  node_walk nw = {cb, arg};
  int r;
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  return lmdb__walk(rd->s, t, DB_NODES, owner, owner != NULL ? LIC_ID_LEN : 0, node_visit, &nw);
}
