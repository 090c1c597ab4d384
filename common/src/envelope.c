/* envelope.c - strict decode, seal and verify of signed envelopes (SPEC §2.1). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lic/envelope.h"
#include "lic/fileio.h"

static const char *const TYPES[] = {"license", "rif",     "verdict",
                                     "cert",    "receipt", "account", "revocations"};

bool lic_typ_known(const char *typ) {
  for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
    if (strcmp(typ, TYPES[i]) == 0)
      return true;
  return false;
}

int lic_envelope_decode(const uint8_t *buf, size_t len, lic_envelope *env) {
  lic_mp_obj o;
  const char *typ;
  size_t tl;
  int rc;

  memset(env, 0, sizeof *env);
  if (len > LIC_MAX_ENVELOPE)
    return lic__fail(LIC_LIMIT, "envelope larger than %d bytes", LIC_MAX_ENVELOPE);
  if ((rc = lic_mp_obj_parse(buf, len, &o)) != LIC_OK)
    return rc;
  if (o.n != 4)
    return lic__fail(LIC_FORMAT, "envelope has %zu keys, expected typ, kid, body, sig", o.n);
  for (size_t i = 0; i < o.n; i++) {
    lic_mp v = o.e[i].v;
    const char *k = o.e[i].k;
    size_t kl = o.e[i].klen;
    if (kl == 3 && memcmp(k, "typ", 3) == 0) {
      if ((rc = lic_mp_str(&v, &typ, &tl)) != LIC_OK)
        return lic__fail(rc, "envelope typ is not a string");
      if (tl == 0 || tl > LIC_MAX_TYP)
        return lic__fail(LIC_FORMAT, "envelope typ has a bad length");
      memcpy(env->typ, typ, tl);
      env->typ[tl] = '\0';
      if (!lic_typ_known(env->typ))
        return lic__fail(LIC_TYPE, "unknown envelope typ '%s'", env->typ);
    } else if (!((kl == 3 && memcmp(k, "kid", 3) == 0) || (kl == 4 && memcmp(k, "body", 4) == 0) ||
                 (kl == 3 && memcmp(k, "sig", 3) == 0))) {
      return lic__fail(LIC_FORMAT, "unexpected envelope key '%.*s'", (int)(kl > 32 ? 32 : kl), k);
    }
  }
  /* Four distinct known keys: all present. */
  if ((rc = lic_mp_get_binx(&o, "kid", env->kid, LIC_KID_LEN)) != LIC_OK ||
      (rc = lic_mp_get_binx(&o, "sig", env->sig, LIC_SIG_LEN)) != LIC_OK ||
      (rc = lic_mp_get_bin(&o, "body", 1, LIC_MAX_BODY, &env->body, &env->body_len)) != LIC_OK)
    return rc;
  return LIC_OK;
}

int lic_envelope_seal(const char *typ, const uint8_t *body, size_t len, const lic_key *key,
                      uint8_t **out, size_t *outlen) {
  uint8_t pre[LIC_MAX_TYP + 16], sig[LIC_SIG_LEN];
  size_t tl = strlen(typ);
  int rc;

  *out = NULL;
  *outlen = 0;
  if (!lic_typ_known(typ))
    return lic__fail(LIC_TYPE, "unknown envelope typ '%s'", typ);
  if (len == 0 || len > LIC_MAX_BODY)
    return lic__fail(LIC_LIMIT, "body of %zu bytes (at most %d)", len, LIC_MAX_BODY);
  memcpy(pre, LIC_SIG_DOMAIN, 8);
  memcpy(pre + 8, typ, tl);
  pre[8 + tl] = '\n';
  if ((rc = lic_key_sign2(key, pre, 9 + tl, body, len, sig)) != LIC_OK)
    return rc;

  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  if (msgpack_pack_map(&pk, 4) != 0 || lic_mp_pack_cstr(&pk, "typ") != 0 ||
      lic_mp_pack_cstr(&pk, typ) != 0 || lic_mp_pack_cstr(&pk, "kid") != 0 ||
      lic_mp_pack_bin(&pk, lic_key_kid(key), LIC_KID_LEN) != 0 ||
      lic_mp_pack_cstr(&pk, "body") != 0 || lic_mp_pack_bin(&pk, body, len) != 0 ||
      lic_mp_pack_cstr(&pk, "sig") != 0 || lic_mp_pack_bin(&pk, sig, LIC_SIG_LEN) != 0) {
    msgpack_sbuffer_destroy(&sb);
    return LIC_NOMEM;
  }
  *out = (uint8_t *)sb.data; /* sbuffer memory is malloc'd: the caller frees it */
  *outlen = sb.size;
  return LIC_OK;
}

int lic_envelope_verify_with(const lic_envelope *env, const uint8_t pub[LIC_PUBKEY_LEN]) {
  uint8_t pre[LIC_MAX_TYP + 16], kid[LIC_KID_LEN];
  size_t tl = strlen(env->typ);

  lic_kid_of(pub, kid);
  if (memcmp(kid, env->kid, LIC_KID_LEN) != 0)
    return lic__fail(LIC_UNTRUSTED, "signed by another key than the expected one");
  memcpy(pre, LIC_SIG_DOMAIN, 8);
  memcpy(pre + 8, env->typ, tl);
  pre[8 + tl] = '\n';
  return lic_sig_verify2(pub, pre, 9 + tl, env->body, env->body_len, env->sig);
}

int lic_envelope_verify(const lic_envelope *env, const lic_trust *t) {
  const uint8_t *pub = lic_trust_find(t, env->kid);
  if (pub == NULL) {
    char hex[2 * LIC_KID_LEN + 1];
    lic_kid_hex(env->kid, hex);
    return lic__fail(LIC_UNTRUSTED, "kid %s is not in the trust store (%zu key%s%s)", hex, t->n,
                     t->n == 1 ? "" : "s",
                     t->n == 0 ? ": no vendor key is trusted" : "");
  }
  return lic_envelope_verify_with(env, pub);
}

int lic_envelope_body(const lic_envelope *env, lic_mp_obj *body) {
  char *typ = NULL;
  int rc;
  if ((rc = lic_mp_obj_parse(env->body, env->body_len, body)) != LIC_OK)
    return rc;
  if ((rc = lic_mp_get_str(body, "typ", 1, LIC_MAX_TYP, &typ)) != LIC_OK)
    return rc;
  if (strcmp(typ, env->typ) != 0)
    rc = lic__fail(LIC_TYPE, "body typ '%s' differs from envelope typ '%s'", typ, env->typ);
  free(typ);
  return rc;
}

int lic_envelope_load(const char *path, const char *typ, const lic_trust *t,
                      const uint8_t *pub, uint8_t **raw, lic_envelope *env) {
  uint8_t *file = NULL, *bytes = NULL;
  size_t flen, blen;
  int rc;

  *raw = NULL;
  if ((rc = lic_file_read(path, LIC_MAX_FILE, &file, &flen)) != LIC_OK)
    return rc;
  rc = lic_unarmor_any(file, flen, &bytes, &blen);
  free(file);
  if (rc != LIC_OK)
    return rc;
  if ((rc = lic_envelope_decode(bytes, blen, env)) != LIC_OK)
    goto out;
  if (typ != NULL && strcmp(env->typ, typ) != 0) {
    rc = lic__fail(LIC_TYPE, "this is a %s, not a %s", env->typ, typ);
    goto out;
  }
  if ((rc = pub != NULL ? lic_envelope_verify_with(env, pub) : lic_envelope_verify(env, t)) != LIC_OK)
    goto out;
  *raw = bytes;
  bytes = NULL;
out:
  free(bytes);
  return rc;
}

int lic__envelope_open(const uint8_t *buf, size_t len, const char *typ, const char *noun,
                       const lic_trust *t, lic_envelope *env) {
  int rc;
  if ((rc = lic_envelope_decode(buf, len, env)) != LIC_OK)
    return rc;
  if (strcmp(env->typ, typ) != 0)
    return lic__fail(LIC_TYPE, "this is a %s, not %s", env->typ, noun);
  return lic_envelope_verify(env, t);
}

int lic__signed_load(const char *path, const lic_trust *t, lic__open_fn open, void *out,
                     uint8_t **env_out, size_t *env_len) {
  uint8_t *file = NULL, *bytes = NULL;
  size_t flen, blen;
  int rc;

  if (env_out != NULL) {
    *env_out = NULL;
    *env_len = 0;
  }
  if ((rc = lic_file_read(path, LIC_MAX_FILE, &file, &flen)) != LIC_OK)
    return rc;
  rc = lic_unarmor_any(file, flen, &bytes, &blen);
  free(file);
  if (rc != LIC_OK)
    return rc;
  if ((rc = open(bytes, blen, t, out)) == LIC_OK && env_out != NULL) {
    *env_out = bytes; /* transferred */
    *env_len = blen;
    bytes = NULL;
  }
  free(bytes);
  return rc;
}
