/* account.c - public-mode account body build/parse, tokens and the decision
 * on an account's terms (SPEC §3.4, §4 public mode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "internal.h"
#include "lic/account.h"
#include "lic/b64.h"
#include "lic/fileio.h"
#include "lic/rif.h"

void lic_account_clear(lic_account *a) {
  if (a == NULL)
    return;
  free(a->customer);
  lic_strlist_free(&a->features);
  lic_strlist_free(&a->domains);
  lic_strlist_free(&a->apps);
  free(a->ports);
  memset(a, 0, sizeof *a);
}

int lic_account_pack(const lic_account *a, uint8_t **body, size_t *len) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  int bad = 0;

  *body = NULL;
  *len = 0;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  /* the fourteen keys of docs/formats.md, and issued when set */
  bad |= msgpack_pack_map(&pk, a->issued != 0 ? 15 : 14);
  bad |= lic_mp_pack_cstr(&pk, "typ") | lic_mp_pack_cstr(&pk, LIC_ACCOUNT_TYP);
  bad |= lic_mp_pack_cstr(&pk, "id") | lic_mp_pack_bin(&pk, a->id, LIC_ID_LEN);
  bad |= lic_mp_pack_cstr(&pk, "customer") | lic_mp_pack_cstr(&pk, a->customer);
  bad |= lic_mp_pack_cstr(&pk, "capacity") | msgpack_pack_int64(&pk, a->capacity);
  bad |= lic_mp_pack_cstr(&pk, "features") | lic_mp_pack_strlist(&pk, &a->features);
  bad |= lic_mp_pack_cstr(&pk, "domains") | lic_mp_pack_strlist(&pk, &a->domains);
  bad |= lic_mp_pack_cstr(&pk, "ports") | msgpack_pack_array(&pk, a->nports);
  for (size_t i = 0; i < a->nports; i++)
    bad |= msgpack_pack_int64(&pk, a->ports[i]);
  bad |= lic_mp_pack_cstr(&pk, "apps") | lic_mp_pack_strlist(&pk, &a->apps);
  bad |= lic_mp_pack_cstr(&pk, "major") | msgpack_pack_int64(&pk, a->major);
  bad |= lic_mp_pack_cstr(&pk, "not_before") | msgpack_pack_int64(&pk, a->not_before);
  bad |= lic_mp_pack_cstr(&pk, "expires") | msgpack_pack_int64(&pk, a->expires);
  bad |= lic_mp_pack_cstr(&pk, "heartbeat") | msgpack_pack_int64(&pk, a->heartbeat);
  bad |= lic_mp_pack_cstr(&pk, "grace") | msgpack_pack_int64(&pk, a->grace);
  bad |= lic_mp_pack_cstr(&pk, "token_hash") | lic_mp_pack_bin(&pk, a->token_hash, LIC_TOKEN_HASH_LEN);
  if (a->issued != 0)
    bad |= lic_mp_pack_cstr(&pk, "issued") | msgpack_pack_int64(&pk, a->issued);
  if (bad) {
    msgpack_sbuffer_destroy(&sb);
    return LIC_NOMEM;
  }
  *body = (uint8_t *)sb.data;
  *len = sb.size;
  return LIC_OK;
}

int lic_account_parse(const uint8_t *body, size_t len, lic_account *a) {
  lic_mp_obj o;
  char *s = NULL;
  int rc;

  memset(a, 0, sizeof *a);
  if ((rc = lic_mp_obj_parse(body, len, &o)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "typ", 1, LIC_MAX_TYP, &s)) != LIC_OK)
    goto out;
  if (strcmp(s, LIC_ACCOUNT_TYP) != 0) {
    rc = lic__fail(LIC_TYPE, "body typ is '%s', not account", s);
    goto out;
  }
  if ((rc = lic_mp_get_binx(&o, "id", a->id, LIC_ID_LEN)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "customer", 1, LIC_MAX_NAME, &a->customer)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "capacity", 1, LIC_MAX_CAPACITY, &a->capacity)) != LIC_OK ||
      (rc = lic_mp_get_strlist(&o, "features", LIC_MAX_LIST, 1, LIC_MAX_NAME, &a->features)) != LIC_OK ||
      (rc = lic_mp_get_strlist(&o, "domains", LIC_MAX_LIST, 1, LIC_MAX_DOMAIN, &a->domains)) != LIC_OK ||
      (rc = lic_mp_get_intlist(&o, "ports", LIC_MAX_LIST, 1, 65535, &a->ports, &a->nports)) != LIC_OK ||
      (rc = lic_mp_get_strlist(&o, "apps", LIC_MAX_LIST, 1, LIC_MAX_NAME, &a->apps)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "major", 0, INT32_MAX, &a->major)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "not_before", 0, INT64_MAX, &a->not_before)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "expires", 0, INT64_MAX, &a->expires)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "heartbeat", LIC_MIN_HEARTBEAT, LIC_MAX_HEARTBEAT, &a->heartbeat)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "grace", 0, 365 * 86400, &a->grace)) != LIC_OK ||
      (rc = lic_mp_get_binx(&o, "token_hash", a->token_hash, LIC_TOKEN_HASH_LEN)) != LIC_OK)
    goto out;
  if (lic_mp_obj_has(&o, "issued") &&
      (rc = lic_mp_get_int(&o, "issued", 1, INT64_MAX, &a->issued)) != LIC_OK)
    goto out;
  for (size_t i = 0; i < a->features.n; i++)
    if ((rc = lic_name_check("feature", a->features.v[i])) != LIC_OK)
      goto out;
  for (size_t i = 0; i < a->apps.n; i++)
    if ((rc = lic_name_check("app", a->apps.v[i])) != LIC_OK)
      goto out;
  /* lic_domain_check's LIC_INVALID is a bad argument; in a signed body the
   * same fault is malformed data (as in license.c). */
  for (size_t i = 0; i < a->domains.n; i++)
    if ((rc = lic_domain_check(a->domains.v[i], true)) != LIC_OK) {
      rc = rc == LIC_INVALID ? LIC_FORMAT : rc;
      goto out;
    }
  /* As for licenses: a grace shorter than one heartbeat expires between checks. */
  if (a->grace < a->heartbeat) {
    rc = lic__fail(LIC_FORMAT, "grace (%lld s) is shorter than heartbeat (%lld s)",
                   (long long)a->grace, (long long)a->heartbeat);
    goto out;
  }
  if (a->expires != 0 && a->expires < a->not_before) {
    rc = lic__fail(LIC_FORMAT, "expires before not_before");
    goto out;
  }
out:
  free(s);
  if (rc != LIC_OK)
    lic_account_clear(a);
  return rc;
}

int lic_account_open(const uint8_t *buf, size_t len, const lic_trust *t, lic_account *a) {
  lic_envelope env;
  int rc;
  memset(a, 0, sizeof *a);
  if ((rc = lic__envelope_open(buf, len, LIC_ACCOUNT_TYP, "an account", t, &env)) != LIC_OK)
    return rc;
  return lic_account_parse(env.body, env.body_len, a);
}

static int open_account(const uint8_t *buf, size_t len, const lic_trust *t, void *out) {
  return lic_account_open(buf, len, t, out);
}

int lic_account_load(const char *path, const lic_trust *t, lic_account *a, uint8_t **env_out,
                     size_t *env_len) {
  memset(a, 0, sizeof *a);
  return lic__signed_load(path, t, open_account, a, env_out, env_len);
}

int lic_token_generate(char out[LIC_TOKEN_LEN + 1]) {
  uint8_t raw[LIC_TOKEN_RAW];
  char *b = NULL;
  size_t n = 0;
  int rc;

  memset(out, 0, LIC_TOKEN_LEN + 1);
  if ((rc = lic_random(raw, sizeof raw)) != LIC_OK)
    goto out;
  if ((rc = lic_b64_encode(raw, sizeof raw, LIC_B64_URL, &b, &n)) != LIC_OK)
    goto out;
  if (n != LIC_TOKEN_LEN - 4) {
    rc = lic__fail(LIC_CRYPTO, "token encoding has %zu characters", n);
    goto out;
  }
  memcpy(out, LIC_TOKEN_PREFIX, 4);
  memcpy(out + 4, b, n);
  out[LIC_TOKEN_LEN] = '\0';
out:
  OPENSSL_cleanse(raw, sizeof raw);
  if (b != NULL)
    lic_secret_free(b, n);
  return rc;
}

int lic_token_check_format(const char *tok, size_t len) {
  if (len != LIC_TOKEN_LEN || memcmp(tok, LIC_TOKEN_PREFIX, 4) != 0)
    return lic__fail(LIC_FORMAT, "a token is '%s' and %d base64url characters", LIC_TOKEN_PREFIX,
                     LIC_TOKEN_LEN - 4);
  for (size_t i = 4; i < len; i++) {
    char c = tok[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_'))
      return lic__fail(LIC_FORMAT, "a token holds base64url characters only");
  }
  return LIC_OK;
}

void lic_token_hash(const char *tok, size_t len, uint8_t out[LIC_TOKEN_HASH_LEN]) {
  SHA256((const unsigned char *)tok, len, out);
}

bool lic_account_token_ok(const lic_account *a, const char *tok, size_t len) {
  uint8_t h[LIC_TOKEN_HASH_LEN];
  lic_token_hash(tok, len, h);
  bool ok = CRYPTO_memcmp(h, a->token_hash, sizeof h) == 0;
  OPENSSL_cleanse(h, sizeof h);
  return ok;
}

lic_status lic_account_decide(const lic_account *a, const lic_check_req *q, int64_t now,
                              bool registered, char *reason, size_t cap) {
  lic_status st = lic_window_decide("account", a->not_before, a->expires, now, reason, cap);
  if (st != LIC_STATUS_VALID)
    return st;
  if (!registered) {
    snprintf(reason, cap, "%s", lic_status_reason(LIC_STATUS_NOT_REGISTERED));
    return LIC_STATUS_NOT_REGISTERED;
  }
  lic_terms t = {a->major, &a->domains, a->ports, a->nports, &a->apps};
  return lic_terms_decide("account", &t, q, reason, cap);
}
