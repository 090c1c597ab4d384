/* store/lmdb/tokens.c - the tokens database: admin tokens by the SHA-256 of
 * their text, with a unique name; lookup compares every hash in constant time. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lic/err.h"
#include "store/lmdb/internal.h"

static int token_decode(const MDB_val *k, const MDB_val *v, store_token *tk) {
  rbuf r;
  memset(tk, 0, sizeof *tk);
  if (k->mv_size != STORE_TOKEN_HASH_LEN)
    return lmdb__corrupt("token", "key length");
  memcpy(tk->hash, k->mv_data, STORE_TOKEN_HASH_LEN);
  lmdb__rb_begin(&r, v);
  tk->created = lmdb__rb_i64(&r);
  lmdb__rb_str(&r, tk->name, sizeof tk->name);
  return lmdb__rb_done(&r) && tk->name[0] != '\0' ? LIC_OK : lmdb__corrupt("token", "layout");
}

typedef struct {
  store_token_cb cb;
  void *arg;
} token_walk;

static int token_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  token_walk *tw = arg;
  store_token tk;
  int r = token_decode(k, v, &tk);
  return r != LIC_OK ? r : tw->cb(&tk, tw->arg);
}

int lmdb_token_each(store_reader *rd, store_token_cb cb, void *arg) {
  MDB_txn *t;
  token_walk tw = {cb, arg};
  int r;
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  return lmdb__walk(rd->s, t, DB_TOKENS, NULL, 0, token_visit, &tw);
}

typedef struct {
  const uint8_t *hash;
  store_token found;
  bool hit;
} token_find;

/* Every token is compared, in constant time, and the walk never stops early:
 * the time taken does not depend on which stored hash (if any) matches. */
static int token_find_cb(const store_token *t, void *arg) {
  token_find *tf = arg;
  if (CRYPTO_memcmp(t->hash, tf->hash, STORE_TOKEN_HASH_LEN) == 0) {
    tf->found = *t;
    tf->hit = true;
  }
  return 0;
}

int lmdb_token_lookup(store_reader *rd, const uint8_t hash[STORE_TOKEN_HASH_LEN],
                       store_token *out) {
  token_find tf;
  int r;
  memset(out, 0, sizeof *out);
  memset(&tf, 0, sizeof tf);
  tf.hash = hash;
  if ((r = lmdb_token_each(rd, token_find_cb, &tf)) != LIC_OK)
    return r;
  if (!tf.hit)
    return LIC_NOTFOUND;
  *out = tf.found;
  return LIC_OK;
}

typedef struct {
  const char *name;
  uint8_t hash[STORE_TOKEN_HASH_LEN];
  bool hit;
} token_byname;

static int token_name_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  token_byname *tb = arg;
  store_token tk;
  int r = token_decode(k, v, &tk);
  if (r != LIC_OK)
    return r;
  if (strcmp(tk.name, tb->name) == 0) {
    memcpy(tb->hash, tk.hash, STORE_TOKEN_HASH_LEN);
    tb->hit = true;
    return 1;
  }
  return 0;
}

static int token_by_name(store_wtxn *w, const char *name, token_byname *tb) {
  int r;
  memset(tb, 0, sizeof *tb);
  tb->name = name;
  r = lmdb__walk(w->s, w->txn, DB_TOKENS, NULL, 0, token_name_visit, tb);
  return r == 1 ? LIC_OK : r;
}

int lmdb_w_token_put(store_wtxn *w, const uint8_t hash[STORE_TOKEN_HASH_LEN], const char *name,
                      int64_t now) {
  token_byname tb;
  wbuf b = {0};
  int r;
  if ((r = store_token_name_check(name)) != LIC_OK || (r = token_by_name(w, name, &tb)) != LIC_OK)
    return r;
  if (tb.hit)
    return lic_fail(LIC_EXISTS, "a token named '%s' exists (revoke it first)", name);
  lmdb__wb_u8(&b, REC_VERSION);
  lmdb__wb_i64(&b, now);
  lmdb__wb_str(&b, name);
  r = b.bad ? LIC_NOMEM
            : lmdb__put(w, DB_TOKENS, hash, STORE_TOKEN_HASH_LEN, b.p, b.n, MDB_NOOVERWRITE);
  free(b.p);
  return r == LIC_EXISTS ? lic_fail(LIC_EXISTS, "token already stored") : r;
}

int lmdb_w_token_revoke(store_wtxn *w, const char *name) {
  token_byname tb;
  int r;
  if ((r = token_by_name(w, name, &tb)) != LIC_OK)
    return r;
  if (!tb.hit)
    return lic_fail(LIC_NOTFOUND, "no token named '%s'", name);
  return lmdb__del(w->s, w->txn, DB_TOKENS, tb.hash, STORE_TOKEN_HASH_LEN);
}
