/* verdict.c - verdict body pack/parse and the per-loop reusable signer. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "internal.h"
#include "lic/envelope.h"
#include "lic/verdict.h"

int lic_verdict_pack(const lic_verdict *v, msgpack_sbuffer *sb) {
  msgpack_packer pk;
  int bad = 0;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  bad |= msgpack_pack_map(&pk, 15);
  bad |= lic_mp_pack_cstr(&pk, "typ") | lic_mp_pack_cstr(&pk, "verdict");
  bad |= lic_mp_pack_cstr(&pk, "nonce") | lic_mp_pack_bin(&pk, v->nonce, v->nonce_len);
  bad |= lic_mp_pack_cstr(&pk, "time") | msgpack_pack_int64(&pk, v->time);
  if (v->has_account)
    bad |= lic_mp_pack_cstr(&pk, "account") | lic_mp_pack_bin(&pk, v->account, LIC_ID_LEN);
  else if (v->has_license)
    bad |= lic_mp_pack_cstr(&pk, "license") | lic_mp_pack_bin(&pk, v->license, LIC_ID_LEN);
  else /* unknown license with none named: a nil id keeps the key set fixed */
    bad |= lic_mp_pack_cstr(&pk, "license") | msgpack_pack_nil(&pk);
  bad |= lic_mp_pack_cstr(&pk, "node") | lic_mp_pack_cstr(&pk, v->node);
  bad |= lic_mp_pack_cstr(&pk, "status") | lic_mp_pack_cstr(&pk, lic_status_name(v->status));
  bad |= lic_mp_pack_cstr(&pk, "reason") | lic_mp_pack_cstr(&pk, v->reason);
  bad |= lic_mp_pack_cstr(&pk, "features") | lic_mp_pack_strlist(&pk, &v->features);
  bad |= lic_mp_pack_cstr(&pk, "domains") | lic_mp_pack_strlist(&pk, &v->domains);
  bad |= lic_mp_pack_cstr(&pk, "ports") | msgpack_pack_array(&pk, v->nports);
  for (size_t i = 0; i < v->nports; i++)
    bad |= msgpack_pack_int64(&pk, v->ports[i]);
  bad |= lic_mp_pack_cstr(&pk, "apps") | lic_mp_pack_strlist(&pk, &v->apps);
  bad |= lic_mp_pack_cstr(&pk, "expires") | msgpack_pack_int64(&pk, v->expires);
  bad |= lic_mp_pack_cstr(&pk, "heartbeat") | msgpack_pack_int64(&pk, v->heartbeat);
  bad |= lic_mp_pack_cstr(&pk, "grace") | msgpack_pack_int64(&pk, v->grace);
  bad |= lic_mp_pack_cstr(&pk, "seats") | msgpack_pack_map(&pk, 2);
  bad |= lic_mp_pack_cstr(&pk, "used") | msgpack_pack_int64(&pk, v->seats_used);
  bad |= lic_mp_pack_cstr(&pk, "max") | msgpack_pack_int64(&pk, v->seats_max);
  return bad ? LIC_NOMEM : LIC_OK;
}

void lic_verdict_clear(lic_verdict *v) {
  if (v == NULL)
    return;
  lic_strlist_free(&v->features);
  lic_strlist_free(&v->domains);
  lic_strlist_free(&v->apps);
  free(v->ports);
  memset(v, 0, sizeof *v);
}

static int id_field(const lic_mp_obj *o, const char *key, bool *has, uint8_t id[LIC_ID_LEN]) {
  if (!lic_mp_obj_has(o, key))
    return LIC_OK;
  for (size_t i = 0; i < o->n; i++)
    if (o->e[i].klen == strlen(key) && memcmp(o->e[i].k, key, o->e[i].klen) == 0 &&
        lic_mp_peek(&o->e[i].v) == LIC_MP_NIL)
      return LIC_OK;
  *has = true;
  return lic_mp_get_binx(o, key, id, LIC_ID_LEN);
}

int lic_verdict_parse(const uint8_t *body, size_t len, lic_verdict *v) {
  lic_mp_obj o, so;
  const uint8_t *nonce;
  char *s = NULL;
  int rc;

  memset(v, 0, sizeof *v);
  if ((rc = lic_mp_obj_parse(body, len, &o)) != LIC_OK)
    goto out;
  if ((rc = lic_mp_get_str(&o, "typ", 1, 16, &s)) != LIC_OK)
    goto out;
  if (strcmp(s, "verdict") != 0) {
    rc = lic__fail(LIC_TYPE, "body typ is '%s', not verdict", s);
    goto out;
  }
  free(s);
  s = NULL;
  if ((rc = lic_mp_get_bin(&o, "nonce", LIC_NONCE_MIN, LIC_NONCE_MAX, &nonce, &v->nonce_len)) != LIC_OK)
    goto out;
  memcpy(v->nonce, nonce, v->nonce_len);
  if ((rc = lic_mp_get_int(&o, "time", 0, INT64_MAX, &v->time)) != LIC_OK ||
      (rc = id_field(&o, "license", &v->has_license, v->license)) != LIC_OK ||
      (rc = id_field(&o, "account", &v->has_account, v->account)) != LIC_OK)
    goto out;
  if ((rc = lic_mp_get_str(&o, "node", 1, LIC_MAX_NAME, &s)) != LIC_OK)
    goto out;
  memcpy(v->node, s, strlen(s) + 1);
  free(s);
  s = NULL;
  if ((rc = lic_mp_get_str(&o, "status", 1, 32, &s)) != LIC_OK)
    goto out;
  int st = lic_status_from_name(s);
  if (st < 0) {
    rc = lic__fail(LIC_FORMAT, "unknown verdict status '%.32s'", s);
    goto out;
  }
  v->status = (lic_status)st;
  free(s);
  s = NULL;
  if ((rc = lic_mp_get_str(&o, "reason", 0, LIC_MAX_REASON, &s)) != LIC_OK)
    goto out;
  memcpy(v->reason, s, strlen(s) + 1);
  if ((rc = lic_mp_get_strlist(&o, "features", LIC_MAX_LIST, 1, LIC_MAX_NAME, &v->features)) != LIC_OK ||
      (rc = lic_mp_get_strlist(&o, "domains", LIC_MAX_LIST, 1, LIC_MAX_DOMAIN, &v->domains)) != LIC_OK ||
      (rc = lic_mp_get_intlist(&o, "ports", LIC_MAX_LIST, 1, 65535, &v->ports, &v->nports)) != LIC_OK ||
      (rc = lic_mp_get_strlist(&o, "apps", LIC_MAX_LIST, 1, LIC_MAX_NAME, &v->apps)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "expires", 0, INT64_MAX, &v->expires)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "heartbeat", 0, INT32_MAX, &v->heartbeat)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "grace", 0, INT32_MAX, &v->grace)) != LIC_OK ||
      (rc = lic_mp_get_obj(&o, "seats", &so)) != LIC_OK ||
      (rc = lic_mp_get_int(&so, "used", 0, INT32_MAX, &v->seats_used)) != LIC_OK ||
      (rc = lic_mp_get_int(&so, "max", 0, INT32_MAX, &v->seats_max)) != LIC_OK)
    goto out;
out:
  free(s);
  if (rc != LIC_OK)
    lic_verdict_clear(v);
  return rc;
}

struct lic_signer {
  EVP_MD_CTX *ctx;
  EVP_PKEY *pkey;
  uint8_t kid[LIC_KID_LEN];
  uint8_t *msg;
  size_t cap;
};

int lic_signer_new(const lic_key *key, lic_signer **out) {
  lic_signer *s;
  char *pem = NULL;
  size_t len;
  int rc;

  *out = NULL;
  if ((s = calloc(1, sizeof *s)) == NULL)
    return LIC_NOMEM;
  /* Own copy of the key: signers live on other threads than the loader. */
  if ((rc = lic_key_private_pem(key, NULL, &pem, &len)) != LIC_OK)
    goto fail;
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  s->pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  lic_secret_free(pem, len);
  if (s->pkey == NULL || (s->ctx = EVP_MD_CTX_new()) == NULL) {
    rc = lic__fail_ssl(LIC_CRYPTO, "signer setup");
    goto fail;
  }
  memcpy(s->kid, lic_key_kid(key), LIC_KID_LEN);
  *out = s;
  return LIC_OK;
fail:
  lic_signer_free(s);
  return rc;
}

void lic_signer_free(lic_signer *s) {
  if (s == NULL)
    return;
  EVP_MD_CTX_free(s->ctx);
  EVP_PKEY_free(s->pkey);
  free(s->msg);
  free(s);
}

int lic_signer_seal(lic_signer *s, const char *typ, const uint8_t *body, size_t len,
                    msgpack_sbuffer *out) {
  size_t tl = strlen(typ), need = 9 + tl + len, siglen = LIC_SIG_LEN;
  uint8_t sig[LIC_SIG_LEN];
  msgpack_packer pk;

  if (len == 0 || len > LIC_MAX_BODY || tl > LIC_MAX_TYP)
    return lic__fail(LIC_LIMIT, "body of %zu bytes", len);
  if (need > s->cap) {
    uint8_t *m = realloc(s->msg, need);
    if (m == NULL)
      return LIC_NOMEM;
    s->msg = m;
    s->cap = need;
  }
  memcpy(s->msg, LIC_SIG_DOMAIN, 8);
  memcpy(s->msg + 8, typ, tl);
  s->msg[8 + tl] = '\n';
  memcpy(s->msg + 9 + tl, body, len);
  if (EVP_DigestSignInit(s->ctx, NULL, NULL, NULL, s->pkey) != 1 ||
      EVP_DigestSign(s->ctx, sig, &siglen, s->msg, need) != 1)
    return lic__fail_ssl(LIC_CRYPTO, "Ed25519 signing");
  msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
  if (msgpack_pack_map(&pk, 4) != 0 || lic_mp_pack_cstr(&pk, "typ") != 0 ||
      lic_mp_pack_cstr(&pk, typ) != 0 || lic_mp_pack_cstr(&pk, "kid") != 0 ||
      lic_mp_pack_bin(&pk, s->kid, LIC_KID_LEN) != 0 || lic_mp_pack_cstr(&pk, "body") != 0 ||
      lic_mp_pack_bin(&pk, body, len) != 0 || lic_mp_pack_cstr(&pk, "sig") != 0 ||
      lic_mp_pack_bin(&pk, sig, LIC_SIG_LEN) != 0)
    return LIC_NOMEM;
  return LIC_OK;
}
