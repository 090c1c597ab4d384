/* request.c - strict decoding of verify requests: MessagePack and JSON. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "lic/b64.h"
#include "lic/err.h"
#include "lic/license.h"
#include "lic/mp.h"
#include "lic/rif.h"
#include "core/request.h"

static int copy_str(const char *key, const char *s, size_t n, size_t min, size_t max, char *out) {
  if (n < min || n > max)
    return lic_fail(LIC_LIMIT, "field '%s': length %zu outside %zu..%zu", key, n, min, max);
  if (memchr(s, '\0', n) != NULL || !lic_utf8_valid(s, n))
    return lic_fail(LIC_FORMAT, "field '%s': not a valid UTF-8 string", key);
  memcpy(out, s, n);
  out[n] = '\0';
  return LIC_OK;
}

/* "11.0.18" -> 11: the version must start with its major number. */
static int major_of(const char *v, int64_t *major) {
  char num[12];
  size_t n = 0;
  while (isdigit((unsigned char)v[n]) && n < 9)
    n++;
  if (n == 0 || (v[n] != '\0' && v[n] != '.' && v[n] != '-'))
    return lic_fail(LIC_FORMAT, "field 'version': must start with the major number (e.g. 11.0.18)");
  memcpy(num, v, n);
  num[n] = '\0';
  return lic_parse_int(num, 0, INT32_MAX, major);
}

/* Code points a node name may not hold: C0 and C1 controls, DEL, the line
 * and paragraph separators, and the bidirectional marks, embeddings,
 * overrides and isolates (a name that reorders or recolours the admin's log
 * or terminal is an attack, not a name). */
static bool cp_forbidden(uint32_t c) {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
         c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

int srv_node_name_check(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > LIC_MAX_NAME)
    return lic_fail(LIC_LIMIT, "field 'node': length %zu outside 1..%d", n, LIC_MAX_NAME);
  if (!lic_utf8_valid(s, n))
    return lic_fail(LIC_FORMAT, "field 'node': not a valid UTF-8 string");
  for (size_t i = 0; i < n;) {
    const unsigned char *p = (const unsigned char *)s + i;
    uint32_t c;
    size_t k = p[0] < 0x80 ? 1 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
    if (k == 1)
      c = p[0];
    else if (k == 2)
      c = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
    else if (k == 3)
      c = (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
    else
      c = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
          (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
    if (cp_forbidden(c))
      return lic_fail(LIC_FORMAT,
                      "field 'node': U+%04X at byte %zu: names are printable text without "
                      "control or bidirectional-override characters",
                      (unsigned)c, i);
    i += k;
  }
  return LIC_OK;
}

/* Checks shared by both encodings, after the fields are in. */
static int finish(srv_verify_req *q) {
  int rc;
  if ((rc = srv_node_name_check(q->node)) != LIC_OK)
    return rc;
  if ((rc = lic_domain_check(q->domain, false)) != LIC_OK)
    return lic_fail(LIC_FORMAT, "field 'domain': not a host name");
  if (q->port < 1 || q->port > 65535)
    return lic_fail(LIC_LIMIT, "field 'port': %lld outside 1..65535", (long long)q->port);
  if (q->has_account && (q->token[0] == '\0' || !q->has_project_id))
    return lic_fail(LIC_NOTFOUND, "public mode needs 'account', 'token' and 'project_id'");
  if (q->has_account && q->has_license)
    return lic_fail(LIC_FORMAT, "give 'license' or 'account', not both");
  q->major = -1;
  if (q->version[0] != '\0' && (rc = major_of(q->version, &q->major)) != LIC_OK)
    return rc;
  return LIC_OK;
}

/* An id is bin 16 or UUID text. */
static int mp_id(const lic_mp_obj *o, const char *key, bool *has, uint8_t id[LIC_ID_LEN]) {
  for (size_t i = 0; i < o->n; i++) {
    if (o->e[i].klen != strlen(key) || memcmp(o->e[i].k, key, o->e[i].klen) != 0)
      continue;
    lic_mp v = o->e[i].v;
    *has = true;
    if (lic_mp_peek(&v) == LIC_MP_BIN)
      return lic_mp_get_binx(o, key, id, LIC_ID_LEN);
    const char *s;
    size_t n;
    if (lic_mp_str(&v, &s, &n) != LIC_OK || lic_uuid_parse(s, n, id) != LIC_OK)
      return lic_fail(LIC_FORMAT, "field '%s': an id is bin 16 or UUID text", key);
    return LIC_OK;
  }
  return LIC_OK;
}

static int mp_opt_str(const lic_mp_obj *o, const char *key, size_t min, size_t max, char *out) {
  for (size_t i = 0; i < o->n; i++) {
    if (o->e[i].klen != strlen(key) || memcmp(o->e[i].k, key, o->e[i].klen) != 0)
      continue;
    lic_mp v = o->e[i].v;
    const char *s;
    size_t n;
    if (lic_mp_str(&v, &s, &n) != LIC_OK)
      return lic_fail(LIC_FORMAT, "field '%s': expected a string", key);
    return copy_str(key, s, n, min, max, out);
  }
  return LIC_OK;
}

static int mp_req_str(const lic_mp_obj *o, const char *key, size_t min, size_t max, char *out) {
  if (!lic_mp_obj_has(o, key))
    return lic_fail(LIC_NOTFOUND, "missing field '%s'", key);
  return mp_opt_str(o, key, min, max, out);
}

void srv_verify_req_wipe(srv_verify_req *q) {
  OPENSSL_cleanse(q->token, sizeof q->token);
  OPENSSL_cleanse(q->secret, sizeof q->secret);
}

int srv_verify_req_msgpack(const uint8_t *body, size_t len, srv_verify_req *q) {
  lic_mp_obj o;
  const uint8_t *nonce;
  int rc;

  memset(q, 0, sizeof *q);
  if ((rc = lic_mp_obj_parse(body, len, &o)) != LIC_OK)
    return rc;
  if ((rc = lic_mp_get_bin(&o, "nonce", LIC_NONCE_MIN, LIC_NONCE_MAX, &nonce, &q->nonce_len)) != LIC_OK)
    return rc;
  memcpy(q->nonce, nonce, q->nonce_len);
  if ((rc = mp_req_str(&o, "domain", 1, LIC_MAX_DOMAIN, q->domain)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "port", 1, 65535, &q->port)) != LIC_OK ||
      (rc = mp_req_str(&o, "node", 1, LIC_MAX_NAME, q->node)) != LIC_OK ||
      (rc = mp_id(&o, "license", &q->has_license, q->license)) != LIC_OK ||
      (rc = mp_id(&o, "account", &q->has_account, q->account)) != LIC_OK ||
      (rc = mp_id(&o, "project_id", &q->has_project_id, q->project_id)) != LIC_OK ||
      (rc = mp_opt_str(&o, "token", 1, SRV_MAX_TOKEN, q->token)) != LIC_OK ||
      (rc = mp_opt_str(&o, "app", 1, LIC_MAX_NAME, q->app)) != LIC_OK ||
      (rc = mp_opt_str(&o, "version", 1, LIC_MAX_NAME, q->version)) != LIC_OK ||
      (rc = mp_opt_str(&o, "secret", 1, SRV_MAX_NODE_SECRET, q->secret)) != LIC_OK ||
      (lic_mp_obj_has(&o, "revocations_seq") &&
       (rc = lic_mp_get_int(&o, "revocations_seq", 0, INT64_MAX, &q->revocations_seq)) != LIC_OK))
    return rc;
  return finish(q);
}

static int js_str(json_t *o, const char *key, bool required, size_t min, size_t max, char *out) {
  json_t *v = json_object_get(o, key);
  if (v == NULL) {
    if (required)
      return lic_fail(LIC_NOTFOUND, "missing field '%s'", key);
    return LIC_OK;
  }
  if (!json_is_string(v))
    return lic_fail(LIC_FORMAT, "field '%s': expected a string", key);
  return copy_str(key, json_string_value(v), json_string_length(v), min, max, out);
}

/* Binary in JSON: base64url (or standard base64), padding optional. */
static int js_bin(json_t *v, const char *key, size_t min, size_t max, uint8_t *out, size_t *outlen) {
  uint8_t *b;
  size_t n;
  if (!json_is_string(v))
    return lic_fail(LIC_FORMAT, "field '%s': expected a base64url string", key);
  if (lic_b64_decode(json_string_value(v), json_string_length(v), &b, &n) != LIC_OK)
    return lic_fail(LIC_FORMAT, "field '%s': not base64", key);
  if (n < min || n > max) {
    free(b);
    return lic_fail(LIC_FORMAT, "field '%s': %zu bytes, expected %zu..%zu", key, n, min, max);
  }
  memcpy(out, b, n);
  *outlen = n;
  free(b);
  return LIC_OK;
}

static int js_id(json_t *o, const char *key, bool *has, uint8_t id[LIC_ID_LEN]) {
  json_t *v = json_object_get(o, key);
  size_t n;
  if (v == NULL)
    return LIC_OK;
  *has = true;
  if (json_is_string(v) && json_string_length(v) == LIC_UUID_LEN)
    return lic_uuid_parse(json_string_value(v), LIC_UUID_LEN, id) == LIC_OK
               ? LIC_OK
               : lic_fail(LIC_FORMAT, "field '%s': not a UUID", key);
  return js_bin(v, key, LIC_ID_LEN, LIC_ID_LEN, id, &n);
}

/* An optional count >= 0 (absent: 0). */
static int js_seq(json_t *o, const char *key, int64_t *out) {
  json_t *v = json_object_get(o, key);
  if (v == NULL)
    return LIC_OK;
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return lic_fail(LIC_FORMAT, "field '%s': expected an integer >= 0", key);
  *out = json_integer_value(v);
  return LIC_OK;
}

/* The body as one JSON object without duplicate keys (*o: a new reference). */
static int js_object(const uint8_t *body, size_t len, json_t **o) {
  json_error_t jerr;
  if ((*o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
    return lic_fail(LIC_FORMAT, "JSON: %s at line %d", jerr.text, jerr.line);
  if (!json_is_object(*o)) {
    json_decref(*o);
    *o = NULL;
    return lic_fail(LIC_FORMAT, "JSON: the body must be an object");
  }
  return LIC_OK;
}

int srv_verify_req_json(const uint8_t *body, size_t len, srv_verify_req *q) {
  json_t *o, *v;
  int rc;

  memset(q, 0, sizeof *q);
  if ((rc = js_object(body, len, &o)) != LIC_OK)
    return rc;
  if ((v = json_object_get(o, "nonce")) == NULL) {
    rc = lic_fail(LIC_NOTFOUND, "missing field 'nonce'");
    goto out;
  }
  if ((rc = js_bin(v, "nonce", LIC_NONCE_MIN, LIC_NONCE_MAX, q->nonce, &q->nonce_len)) != LIC_OK)
    goto out;
  if ((v = json_object_get(o, "port")) == NULL) {
    rc = lic_fail(LIC_NOTFOUND, "missing field 'port'");
    goto out;
  }
  if (!json_is_integer(v)) {
    rc = lic_fail(LIC_FORMAT, "field 'port': expected an integer");
    goto out;
  }
  q->port = json_integer_value(v);
  if ((rc = js_str(o, "domain", true, 1, LIC_MAX_DOMAIN, q->domain)) != LIC_OK ||
      (rc = js_str(o, "node", true, 1, LIC_MAX_NAME, q->node)) != LIC_OK ||
      (rc = js_id(o, "license", &q->has_license, q->license)) != LIC_OK ||
      (rc = js_id(o, "account", &q->has_account, q->account)) != LIC_OK ||
      (rc = js_id(o, "project_id", &q->has_project_id, q->project_id)) != LIC_OK ||
      (rc = js_str(o, "token", false, 1, SRV_MAX_TOKEN, q->token)) != LIC_OK ||
      (rc = js_str(o, "app", false, 1, LIC_MAX_NAME, q->app)) != LIC_OK ||
      (rc = js_str(o, "version", false, 1, LIC_MAX_NAME, q->version)) != LIC_OK ||
      (rc = js_str(o, "secret", false, 1, SRV_MAX_NODE_SECRET, q->secret)) != LIC_OK ||
      (rc = js_seq(o, "revocations_seq", &q->revocations_seq)) != LIC_OK)
    goto out;
  rc = finish(q);
out:
  json_decref(o);
  return rc;
}

/* Register/unregister after the fields are in: the credentials are required. */
static int public_finish(srv_public_kind k, srv_verify_req *q) {
  if (!q->has_account)
    return lic_fail(LIC_NOTFOUND, "missing field 'account'");
  if (!q->has_project_id)
    return lic_fail(LIC_NOTFOUND, "missing field 'project_id'");
  if (q->token[0] == '\0')
    return lic_fail(LIC_NOTFOUND, "missing field 'token'");
  if (q->has_license)
    return lic_fail(LIC_FORMAT, "a public-mode request names an account, not a license");
  if (k == SRV_PUB_REGISTER)
    return finish(q);
  if (q->node[0] == '\0')
    snprintf(q->node, sizeof q->node, "-");
  q->major = -1;
  return LIC_OK;
}

int srv_public_req_msgpack(const uint8_t *body, size_t len, srv_public_kind k, srv_verify_req *q) {
  lic_mp_obj o;
  const uint8_t *nonce;
  bool reg = k == SRV_PUB_REGISTER;
  int rc;

  memset(q, 0, sizeof *q);
  if ((rc = lic_mp_obj_parse(body, len, &o)) != LIC_OK)
    return rc;
  if ((rc = lic_mp_get_bin(&o, "nonce", LIC_NONCE_MIN, LIC_NONCE_MAX, &nonce, &q->nonce_len)) != LIC_OK)
    return rc;
  memcpy(q->nonce, nonce, q->nonce_len);
  if ((rc = mp_id(&o, "license", &q->has_license, q->license)) != LIC_OK ||
      (rc = mp_id(&o, "account", &q->has_account, q->account)) != LIC_OK ||
      (rc = mp_id(&o, "project_id", &q->has_project_id, q->project_id)) != LIC_OK ||
      (rc = mp_opt_str(&o, "token", 1, SRV_MAX_TOKEN, q->token)) != LIC_OK ||
      (rc = mp_opt_str(&o, "node", 1, LIC_MAX_NAME, q->node)) != LIC_OK)
    return rc;
  if (reg) {
    if ((rc = mp_req_str(&o, "project", 1, LIC_MAX_NAME, q->project)) != LIC_OK ||
        (rc = mp_req_str(&o, "domain", 1, LIC_MAX_DOMAIN, q->domain)) != LIC_OK ||
        (rc = lic_mp_get_int(&o, "port", 1, 65535, &q->port)) != LIC_OK ||
        (rc = mp_req_str(&o, "node", 1, LIC_MAX_NAME, q->node)) != LIC_OK ||
        (rc = mp_opt_str(&o, "app", 1, LIC_MAX_NAME, q->app)) != LIC_OK ||
        (rc = mp_opt_str(&o, "version", 1, LIC_MAX_NAME, q->version)) != LIC_OK)
      return rc;
    if ((rc = lic_name_check("field 'project'", q->project)) != LIC_OK)
      return rc;
  }
  return public_finish(k, q);
}

int srv_public_req_json(const uint8_t *body, size_t len, srv_public_kind k, srv_verify_req *q) {
  json_t *o, *v;
  bool reg = k == SRV_PUB_REGISTER;
  int rc;

  memset(q, 0, sizeof *q);
  if ((rc = js_object(body, len, &o)) != LIC_OK)
    return rc;
  if ((v = json_object_get(o, "nonce")) == NULL) {
    rc = lic_fail(LIC_NOTFOUND, "missing field 'nonce'");
    goto out;
  }
  if ((rc = js_bin(v, "nonce", LIC_NONCE_MIN, LIC_NONCE_MAX, q->nonce, &q->nonce_len)) != LIC_OK ||
      (rc = js_id(o, "license", &q->has_license, q->license)) != LIC_OK ||
      (rc = js_id(o, "account", &q->has_account, q->account)) != LIC_OK ||
      (rc = js_id(o, "project_id", &q->has_project_id, q->project_id)) != LIC_OK ||
      (rc = js_str(o, "token", false, 1, SRV_MAX_TOKEN, q->token)) != LIC_OK ||
      (rc = js_str(o, "node", reg, 1, LIC_MAX_NAME, q->node)) != LIC_OK)
    goto out;
  if (reg) {
    if ((v = json_object_get(o, "port")) == NULL) {
      rc = lic_fail(LIC_NOTFOUND, "missing field 'port'");
      goto out;
    }
    if (!json_is_integer(v)) {
      rc = lic_fail(LIC_FORMAT, "field 'port': expected an integer");
      goto out;
    }
    q->port = json_integer_value(v);
    if ((rc = js_str(o, "project", true, 1, LIC_MAX_NAME, q->project)) != LIC_OK ||
        (rc = js_str(o, "domain", true, 1, LIC_MAX_DOMAIN, q->domain)) != LIC_OK ||
        (rc = js_str(o, "app", false, 1, LIC_MAX_NAME, q->app)) != LIC_OK ||
        (rc = js_str(o, "version", false, 1, LIC_MAX_NAME, q->version)) != LIC_OK ||
        (rc = lic_name_check("field 'project'", q->project)) != LIC_OK)
      goto out;
  }
  rc = public_finish(k, q);
out:
  json_decref(o);
  return rc;
}

static int claim_finish(srv_claim_req *q) {
  if (!lic_machine_code_valid(q->machine))
    return lic_fail(LIC_FORMAT, "field 'machine': not a machine code (XXXX-XXXX-XXXX-XXXX)");
  return LIC_OK;
}

void srv_claim_req_wipe(srv_claim_req *q) {
  if (q != NULL)
    OPENSSL_cleanse(q->code, sizeof q->code);
}

int srv_claim_req_msgpack(const uint8_t *body, size_t len, srv_claim_req *q) {
  lic_mp_obj o;
  uint8_t *macs = NULL;
  int rc;

  memset(q, 0, sizeof *q);
  if ((rc = lic_mp_obj_parse(body, len, &o)) != LIC_OK ||
      (rc = mp_req_str(&o, "code", 1, LIC_CODE_MAX_INPUT, q->code)) != LIC_OK ||
      (rc = mp_req_str(&o, "machine", 1, LIC_MACHINE_CODE_LEN, q->machine)) != LIC_OK)
    return rc;
  if (lic_mp_obj_has(&o, "macs")) {
    if ((rc = lic_mp_get_binlist(&o, "macs", LIC_CLAIM_MAX_MACS, LIC_MAC_HASH_LEN, &macs,
                                 &q->nmacs)) != LIC_OK)
      return rc;
    if (q->nmacs > 0)
      memcpy(q->macs, macs, q->nmacs * LIC_MAC_HASH_LEN);
    free(macs);
  }
  return claim_finish(q);
}

int srv_claim_req_json(const uint8_t *body, size_t len, srv_claim_req *q) {
  json_t *o, *v;
  int rc;

  memset(q, 0, sizeof *q);
  if ((rc = js_object(body, len, &o)) != LIC_OK)
    return rc;
  if ((rc = js_str(o, "code", true, 1, LIC_CODE_MAX_INPUT, q->code)) != LIC_OK ||
      (rc = js_str(o, "machine", true, 1, LIC_MACHINE_CODE_LEN, q->machine)) != LIC_OK)
    goto out;
  if ((v = json_object_get(o, "macs")) != NULL) {
    size_t i, n;
    json_t *m;
    if (!json_is_array(v)) {
      rc = lic_fail(LIC_FORMAT, "field 'macs': expected an array");
      goto out;
    }
    if (json_array_size(v) > LIC_CLAIM_MAX_MACS) {
      rc = lic_fail(LIC_LIMIT, "field 'macs': more than %d entries", LIC_CLAIM_MAX_MACS);
      goto out;
    }
    json_array_foreach(v, i, m) {
      if ((rc = js_bin(m, "macs", LIC_MAC_HASH_LEN, LIC_MAC_HASH_LEN, q->macs[i], &n)) != LIC_OK)
        goto out;
      q->nmacs = i + 1;
    }
  }
  rc = claim_finish(q);
out:
  json_decref(o);
  return rc;
}
