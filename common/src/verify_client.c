/* verify_client.c - the report server's side of POST /v1/verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "lic/envelope.h"
#include "lic/fileio.h"
#include "lic/keys.h"
#include "lic/verify_client.h"

void lic_verify_result_clear(lic_verify_result *res) {
  if (res == NULL)
    return;
  lic_verdict_clear(&res->verdict);
  lic_license_clear(&res->license);
  free(res->body);
  memset(res, 0, sizeof *res);
}

static int pack_request(const lic_verify_opts *o, const uint8_t *nonce, size_t nlen,
                        msgpack_sbuffer *sb) {
  msgpack_packer pk;
  int bad = 0;
  size_t n = 4 + (o->license != NULL) + (o->app != NULL) + (o->version != NULL) +
             (o->secret != NULL);
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  bad |= msgpack_pack_map(&pk, n);
  bad |= lic_mp_pack_cstr(&pk, "nonce") | lic_mp_pack_bin(&pk, nonce, nlen);
  bad |= lic_mp_pack_cstr(&pk, "domain") | lic_mp_pack_cstr(&pk, o->domain);
  bad |= lic_mp_pack_cstr(&pk, "port") | msgpack_pack_int64(&pk, o->port);
  bad |= lic_mp_pack_cstr(&pk, "node") | lic_mp_pack_cstr(&pk, o->node);
  if (o->license != NULL)
    bad |= lic_mp_pack_cstr(&pk, "license") | lic_mp_pack_bin(&pk, o->license, LIC_ID_LEN);
  if (o->app != NULL)
    bad |= lic_mp_pack_cstr(&pk, "app") | lic_mp_pack_cstr(&pk, o->app);
  if (o->version != NULL)
    bad |= lic_mp_pack_cstr(&pk, "version") | lic_mp_pack_cstr(&pk, o->version);
  if (o->secret != NULL)
    bad |= lic_mp_pack_cstr(&pk, "secret") | lic_mp_pack_cstr(&pk, o->secret);
  return bad ? LIC_NOMEM : LIC_OK;
}

int lic_secret_file_read(const char *path, char out[LIC_MAX_NODE_SECRET + 1]) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc;
  out[0] = '\0';
  if ((rc = lic_file_check_private(path)) != LIC_OK)
    return rc;
  if ((rc = lic_file_read(path, LIC_MAX_NODE_SECRET + 2, &buf, &len)) != LIC_OK)
    return rc == LIC_LIMIT ? lic__fail(LIC_LIMIT, "%s: a node secret is at most %d bytes", path,
                                       LIC_MAX_NODE_SECRET)
                           : rc;
  size_t got = len; /* all of it is wiped */
  if (len > 0 && buf[len - 1] == '\n')
    len--;
  if (len > 0 && buf[len - 1] == '\r')
    len--;
  if (len == 0 || len > LIC_MAX_NODE_SECRET || memchr(buf, '\0', len) != NULL ||
      memchr(buf, '\n', len) != NULL) {
    lic_secret_free(buf, got);
    return lic__fail(LIC_FORMAT, "%s: a node secret is one line of 1..%d bytes", path,
                     LIC_MAX_NODE_SECRET);
  }
  memcpy(out, buf, len);
  out[len] = '\0';
  lic_secret_free(buf, got);
  return LIC_OK;
}

int lic_verify_response(const lic_verify_opts *o, const uint8_t *nonce, size_t nonce_len,
                        int64_t now, const uint8_t *body, size_t len, lic_verify_result *res) {
  lic_mp_obj doc;
  lic_mp chain;
  const uint8_t *vbytes, *lbytes;
  size_t vlen, llen;
  uint32_t nchain;
  lic_envelope venv;
  int rc;

  memset(res, 0, sizeof *res);
  if (nonce_len > LIC_NONCE_MAX)
    return lic__fail(LIC_INVALID, "nonce longer than %d bytes", LIC_NONCE_MAX);
  if ((rc = lic_mp_obj_parse(body, len, &doc)) != LIC_OK ||
      (rc = lic_mp_get_bin(&doc, "verdict", 1, LIC_MAX_ENVELOPE, &vbytes, &vlen)) != LIC_OK)
    return rc;
  for (size_t i = 0; i < doc.n; i++)
    if (doc.e[i].klen == 5 && memcmp(doc.e[i].k, "chain", 5) == 0)
      chain = doc.e[i].v;
  if (!lic_mp_obj_has(&doc, "chain"))
    return lic__fail(LIC_FORMAT, "response has no chain");
  if ((rc = lic_mp_array(&chain, &nchain)) != LIC_OK)
    return rc;
  if (nchain != 1)
    return lic__fail(LIC_FORMAT, "expected a chain of one license, got %u entries", nchain);
  if ((rc = lic_mp_bin(&chain, &lbytes, &llen)) != LIC_OK)
    return rc;

  /* root -> license */
  if ((rc = lic_license_open(lbytes, llen, o->trust, &res->license)) != LIC_OK)
    return rc;
  if (res->license.mode != LIC_MODE_PRIVATE || !res->license.has_node_key)
    return lic__fail(LIC_FORMAT, "the chain's license is not a private-mode license");
  if (o->license != NULL && memcmp(o->license, res->license.id, LIC_ID_LEN) != 0)
    return lic__fail(LIC_MISMATCHED, "the server answered for another license");
  /* license -> verdict (signed by the node key the license certifies) */
  if ((rc = lic_envelope_decode(vbytes, vlen, &venv)) != LIC_OK)
    return rc;
  if (strcmp(venv.typ, "verdict") != 0)
    return lic__fail(LIC_TYPE, "expected a verdict, got a %s", venv.typ);
  if ((rc = lic_envelope_verify_with(&venv, res->license.node_key)) != LIC_OK)
    return rc;
  if ((rc = lic_verdict_parse(venv.body, venv.body_len, &res->verdict)) != LIC_OK)
    return rc;
  lic_verdict *v = &res->verdict;
  if (v->nonce_len != nonce_len || memcmp(v->nonce, nonce, nonce_len) != 0)
    return lic__fail(LIC_MISMATCHED, "the verdict does not answer our nonce (replayed?)");
  if (!v->has_license || memcmp(v->license, res->license.id, LIC_ID_LEN) != 0)
    return lic__fail(LIC_MISMATCHED, "the verdict names another license than its chain");
  if (strcmp(v->node, o->node) != 0)
    return lic__fail(LIC_MISMATCHED, "the verdict is for another node");
  int64_t skew = o->max_skew > 0 ? o->max_skew : LIC_VERIFY_DEFAULT_SKEW;
  if (v->time > now + skew || v->time < now - skew)
    return lic__fail(LIC_MISMATCHED, "server time differs from ours by %lld s (allowed %lld)",
                     (long long)(v->time - now), (long long)skew);
  /* Trust but verify: a "valid" verdict must agree with the license's own
   * terms for our domain and port. */
  if (v->status == LIC_STATUS_VALID) {
    char reason[LIC_MAX_REASON + 1];
    int64_t major = -1;
    if (o->version != NULL)
      major = strtoll(o->version, NULL, 10);
    lic_check_req q = {o->domain, o->port, o->app, major};
    lic_status st = lic_license_decide(&res->license, &q, now, reason, sizeof reason);
    if (st != LIC_STATUS_VALID)
      return lic__fail(LIC_MISMATCHED, "server said valid but the license says %s: %s",
                       lic_status_name(st), reason);
  }
  if ((res->body = malloc(len > 0 ? len : 1)) == NULL)
    return LIC_NOMEM;
  memcpy(res->body, body, len);
  res->body_len = len;
  memcpy(res->nonce, nonce, nonce_len);
  res->nonce_len = nonce_len;
  res->checked_at = now;
  return LIC_OK;
}

int lic_verify(const lic_verify_opts *o, lic_verify_result *res) {
  uint8_t nonce[32], *body = NULL;
  size_t blen = 0;
  msgpack_sbuffer sb;
  int rc, status = 0;

  memset(res, 0, sizeof *res);
  if (o->url == NULL || o->trust == NULL || o->domain == NULL || o->node == NULL)
    return lic__fail(LIC_INVALID, "url, trust, domain and node are required");
  if ((rc = lic_random(nonce, sizeof nonce)) != LIC_OK)
    return rc;
  msgpack_sbuffer_init(&sb);
  if ((rc = pack_request(o, nonce, sizeof nonce, &sb)) != LIC_OK)
    goto out;
  if ((rc = lic__http_post_tls(o->url, o->tls, "/v1/verify", (const uint8_t *)sb.data, sb.size, o->timeout_ms,
                           LIC_VERIFY_MAX_RESPONSE, &status, &body, &blen)) != LIC_OK)
    goto out;
  res->http_status = status;
  if (status != 200) {
    /* The error body is {error, message}: show it, bounded. */
    char msg[200] = "";
    lic_mp_obj eo;
    char *m = NULL;
    if (lic_mp_obj_parse(body, blen, &eo) == LIC_OK && lic_mp_get_str(&eo, "message", 0, 190, &m) == LIC_OK)
      snprintf(msg, sizeof msg, ": %s", m);
    free(m);
    rc = lic__fail(LIC_DENIED, "license server answered HTTP %d%s", status, msg);
    goto out;
  }
  rc = lic_verify_response(o, nonce, sizeof nonce, (int64_t)time(NULL), body, blen, res);
out:
  msgpack_sbuffer_destroy(&sb);
  free(body);
  if (rc != LIC_OK) {
    int hs = res->http_status;
    lic_verify_result_clear(res);
    res->http_status = hs;
  }
  return rc;
}
