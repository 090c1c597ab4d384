/* cert.c - online-key certificates: body build/parse and the public-mode
 * verdict chain (SPEC §3.7). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lic/cert.h"
#include "lic/fileio.h"

int lic_cert_pack(const lic_cert *c, uint8_t **body, size_t *len) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  int bad = 0;

  *body = NULL;
  *len = 0;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  bad |= msgpack_pack_map(&pk, 7); /* the seven keys of SPEC §3.7 */
  bad |= lic_mp_pack_cstr(&pk, "typ") | lic_mp_pack_cstr(&pk, LIC_CERT_TYP);
  bad |= lic_mp_pack_cstr(&pk, "id") | lic_mp_pack_bin(&pk, c->id, LIC_ID_LEN);
  bad |= lic_mp_pack_cstr(&pk, "pubkey") | lic_mp_pack_bin(&pk, c->pubkey, LIC_PUBKEY_LEN);
  bad |= lic_mp_pack_cstr(&pk, "role") | lic_mp_pack_cstr(&pk, c->role);
  bad |= lic_mp_pack_cstr(&pk, "issued") | msgpack_pack_int64(&pk, c->issued);
  bad |= lic_mp_pack_cstr(&pk, "not_before") | msgpack_pack_int64(&pk, c->not_before);
  bad |= lic_mp_pack_cstr(&pk, "expires") | msgpack_pack_int64(&pk, c->expires);
  if (bad) {
    msgpack_sbuffer_destroy(&sb);
    return LIC_NOMEM;
  }
  *body = (uint8_t *)sb.data;
  *len = sb.size;
  return LIC_OK;
}

int lic_cert_parse(const uint8_t *body, size_t len, lic_cert *c) {
  lic_mp_obj o;
  char *s = NULL;
  int rc;

  memset(c, 0, sizeof *c);
  if ((rc = lic_mp_obj_parse(body, len, &o)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "typ", 1, LIC_MAX_TYP, &s)) != LIC_OK)
    goto out;
  if (strcmp(s, LIC_CERT_TYP) != 0) {
    rc = lic__fail(LIC_TYPE, "body typ is '%s', not cert", s);
    goto out;
  }
  free(s);
  s = NULL;
  if ((rc = lic_mp_get_binx(&o, "id", c->id, LIC_ID_LEN)) != LIC_OK ||
      (rc = lic_mp_get_binx(&o, "pubkey", c->pubkey, LIC_PUBKEY_LEN)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "role", 1, LIC_MAX_ROLE, &s)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "issued", 0, INT64_MAX, &c->issued)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "not_before", 0, INT64_MAX, &c->not_before)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "expires", 1, INT64_MAX, &c->expires)) != LIC_OK)
    goto out;
  for (const char *p = s; *p != '\0'; p++)
    if ((*p < 'a' || *p > 'z') && *p != '_') {
      rc = lic__fail(LIC_FORMAT, "cert role holds characters other than a-z and '_'");
      goto out;
    }
  memcpy(c->role, s, strlen(s) + 1);
  if (c->expires <= c->not_before) {
    rc = lic__fail(LIC_FORMAT, "cert expires before it is valid");
    goto out;
  }
  if (c->expires - c->not_before > LIC_CERT_MAX_SPAN) {
    rc = lic__fail(LIC_LIMIT, "cert is valid for more than %d days", LIC_CERT_MAX_DAYS);
    goto out;
  }
out:
  free(s);
  if (rc != LIC_OK)
    memset(c, 0, sizeof *c);
  return rc;
}

int lic_cert_open(const uint8_t *buf, size_t len, const lic_trust *t, lic_cert *c) {
  lic_envelope env;
  int rc;
  memset(c, 0, sizeof *c);
  if ((rc = lic__envelope_open(buf, len, LIC_CERT_TYP, "a cert", t, &env)) != LIC_OK)
    return rc;
  return lic_cert_parse(env.body, env.body_len, c);
}

static int open_cert(const uint8_t *buf, size_t len, const lic_trust *t, void *out) {
  return lic_cert_open(buf, len, t, out);
}

int lic_cert_load(const char *path, const lic_trust *t, lic_cert *c, uint8_t **env_out,
                  size_t *env_len) {
  memset(c, 0, sizeof *c);
  return lic__signed_load(path, t, open_cert, c, env_out, env_len);
}

int lic_cert_usable(const lic_cert *c, int64_t t) {
  char a[21], b[21];
  if (strcmp(c->role, LIC_CERT_ROLE) != 0)
    return lic__fail(LIC_TYPE, "cert role is '%s', not %s", c->role, LIC_CERT_ROLE);
  if (t < c->not_before || t >= c->expires) {
    lic_time_format(c->not_before, a);
    lic_time_format(c->expires, b);
    return lic__fail(LIC_EXPIRED, "time %lld is outside the cert's window %s..%s", (long long)t,
                     a, b);
  }
  return LIC_OK;
}

int lic_public_chain_check(const uint8_t *cert_env, size_t cert_len, const uint8_t *verdict_env,
                           size_t verdict_len, const lic_trust *t, lic_cert *cert,
                           lic_verdict *v) {
  lic_cert c;
  lic_verdict vd;
  lic_envelope venv;
  uint8_t kid[LIC_KID_LEN];
  int rc;

  if (cert != NULL)
    memset(cert, 0, sizeof *cert);
  memset(v, 0, sizeof *v);
  memset(&vd, 0, sizeof vd);
  /* root -> cert */
  if ((rc = lic_cert_open(cert_env, cert_len, t, &c)) != LIC_OK)
    return rc;
  if (strcmp(c.role, LIC_CERT_ROLE) != 0)
    return lic__fail(LIC_TYPE, "cert role is '%s', not %s", c.role, LIC_CERT_ROLE);
  /* cert -> verdict: the kid first, then the signature over the exact body */
  if ((rc = lic_envelope_decode(verdict_env, verdict_len, &venv)) != LIC_OK)
    return rc;
  if (strcmp(venv.typ, "verdict") != 0)
    return lic__fail(LIC_TYPE, "expected a verdict, got a %s", venv.typ);
  lic_kid_of(c.pubkey, kid);
  if (memcmp(kid, venv.kid, LIC_KID_LEN) != 0)
    return lic__fail(LIC_MISMATCHED, "the verdict is signed by another key than the cert's");
  if ((rc = lic_envelope_verify_with(&venv, c.pubkey)) != LIC_OK ||
      (rc = lic_verdict_parse(venv.body, venv.body_len, &vd)) != LIC_OK)
    return rc;
  if ((rc = lic_cert_usable(&c, vd.time)) != LIC_OK) {
    lic_verdict_clear(&vd);
    return rc;
  }
  if (cert != NULL)
    *cert = c;
  *v = vd;
  return LIC_OK;
}
