/* verify_client.c - the report server's side of POST /v1/verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

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

typedef enum { REQ_VERIFY, REQ_REGISTER, REQ_UNREGISTER } req_kind;

static int pack_request(const lic_verify_opts *o, req_kind kind, const uint8_t *nonce, size_t nlen,
                        msgpack_sbuffer *sb) {
  msgpack_packer pk;
  int bad = 0;
  bool pub = o->account != NULL, full = kind != REQ_UNREGISTER;
  bool rseq = kind == REQ_VERIFY && !pub && o->revocations_seq > 0;
  size_t n = 2 + (full ? 2 : 0) + (o->license != NULL && !pub) + (full && o->app != NULL) +
             (full && o->version != NULL) + (pub ? 3 : 0) + (kind == REQ_REGISTER) +
             (full && !pub && o->secret != NULL) + rseq;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  bad |= msgpack_pack_map(&pk, n);
  bad |= lic_mp_pack_cstr(&pk, "nonce") | lic_mp_pack_bin(&pk, nonce, nlen);
  if (full) {
    bad |= lic_mp_pack_cstr(&pk, "domain") | lic_mp_pack_cstr(&pk, o->domain);
    bad |= lic_mp_pack_cstr(&pk, "port") | msgpack_pack_int64(&pk, o->port);
  }
  bad |= lic_mp_pack_cstr(&pk, "node") | lic_mp_pack_cstr(&pk, o->node);
  if (pub) {
    bad |= lic_mp_pack_cstr(&pk, "account") | lic_mp_pack_bin(&pk, o->account, LIC_ID_LEN);
    bad |= lic_mp_pack_cstr(&pk, "token") | lic_mp_pack_cstr(&pk, o->token);
    bad |= lic_mp_pack_cstr(&pk, "project_id") | lic_mp_pack_bin(&pk, o->project_id, LIC_ID_LEN);
    if (kind == REQ_REGISTER)
      bad |= lic_mp_pack_cstr(&pk, "project") | lic_mp_pack_cstr(&pk, o->project);
  }
  if (!full || pub) {
    if (full && o->app != NULL)
      bad |= lic_mp_pack_cstr(&pk, "app") | lic_mp_pack_cstr(&pk, o->app);
    if (full && o->version != NULL)
      bad |= lic_mp_pack_cstr(&pk, "version") | lic_mp_pack_cstr(&pk, o->version);
    return bad ? LIC_NOMEM : LIC_OK;
  }
  if (o->license != NULL)
    bad |= lic_mp_pack_cstr(&pk, "license") | lic_mp_pack_bin(&pk, o->license, LIC_ID_LEN);
  if (o->app != NULL)
    bad |= lic_mp_pack_cstr(&pk, "app") | lic_mp_pack_cstr(&pk, o->app);
  if (o->version != NULL)
    bad |= lic_mp_pack_cstr(&pk, "version") | lic_mp_pack_cstr(&pk, o->version);
  if (o->secret != NULL)
    bad |= lic_mp_pack_cstr(&pk, "secret") | lic_mp_pack_cstr(&pk, o->secret);
  if (rseq)
    bad |= lic_mp_pack_cstr(&pk, "revocations_seq") | msgpack_pack_int64(&pk, o->revocations_seq);
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

/* Public mode: root -> cert -> verdict (SPEC §3.7), then the same checks of
 * the answer as for a license; a "valid" must agree with the verdict's own
 * terms for our domain, port and app. */
static int public_check(const lic_verify_opts *o, const uint8_t *nonce, size_t nonce_len,
                        int64_t now, const uint8_t *vbytes, size_t vlen, const uint8_t *cbytes,
                        size_t clen, lic_verify_result *res) {
  int rc;
  if ((rc = lic_public_chain_check(cbytes, clen, vbytes, vlen, o->trust, &res->cert,
                                   &res->verdict)) != LIC_OK)
    return rc;
  res->public_mode = true;
  lic_verdict *v = &res->verdict;
  if (v->nonce_len != nonce_len || memcmp(v->nonce, nonce, nonce_len) != 0)
    return lic__fail(LIC_MISMATCHED, "the verdict does not answer our nonce (replayed?)");
  if (!v->has_account || memcmp(v->account, o->account, LIC_ID_LEN) != 0)
    return lic__fail(LIC_MISMATCHED, "the verdict names another account");
  if (strcmp(v->node, o->node) != 0)
    return lic__fail(LIC_MISMATCHED, "the verdict is for another node");
  int64_t skew = o->max_skew > 0 ? o->max_skew : LIC_VERIFY_DEFAULT_SKEW;
  if (v->time > now + skew || v->time < now - skew)
    return lic__fail(LIC_MISMATCHED, "server time differs from ours by %lld s (allowed %lld)",
                     (long long)(v->time - now), (long long)skew);
  if (v->status == LIC_STATUS_VALID && o->domain != NULL) {
    char reason[LIC_MAX_REASON + 1];
    lic_check_req q = {o->domain, o->port, o->app, -1};
    lic_terms t = {0, &v->domains, v->ports, v->nports, &v->apps};
    lic_status st = lic_terms_decide("account", &t, &q, reason, sizeof reason);
    if (st == LIC_STATUS_VALID && v->expires != 0 && now >= v->expires)
      st = LIC_STATUS_EXPIRED;
    if (st != LIC_STATUS_VALID)
      return lic__fail(LIC_MISMATCHED, "server said valid but the verdict's own terms say %s",
                       lic_status_name(st));
  }
  return LIC_OK;
}

/* The status of a verdict envelope before its signature is checked: only
 * to know which chain checks apply (the signature is checked next). */
static bool verdict_peek_unknown(const uint8_t *vbytes, size_t vlen) {
  lic_envelope e;
  lic_verdict v;
  bool unknown = false;
  if (lic_envelope_decode(vbytes, vlen, &e) == LIC_OK &&
      lic_verdict_parse(e.body, e.body_len, &v) == LIC_OK) {
    unknown = v.status == LIC_STATUS_UNKNOWN_LICENSE;
    lic_verdict_clear(&v);
  }
  return unknown;
}

/* A response without a license in its chain: the server has none to name
 * (none imported, none current, an unknown id, or its clock went back). Its
 * signature cannot be checked, but a denial needs no trust: it only ever
 * makes us deny. Taken when it answers our nonce and node and is not valid. */
static int unchecked_denial(const lic_verify_opts *o, const uint8_t *nonce, size_t nonce_len,
                            const uint8_t *vbytes, size_t vlen, lic_verify_result *res) {
  lic_envelope venv;
  int rc;
  if ((rc = lic_envelope_decode(vbytes, vlen, &venv)) != LIC_OK)
    return rc;
  if (strcmp(venv.typ, "verdict") != 0)
    return lic__fail(LIC_TYPE, "expected a verdict, got a %s", venv.typ);
  if ((rc = lic_verdict_parse(venv.body, venv.body_len, &res->verdict)) != LIC_OK)
    return rc;
  lic_verdict *v = &res->verdict;
  if (v->status == LIC_STATUS_VALID)
    return lic__fail(LIC_FORMAT, "a valid verdict without a license in its chain");
  if (v->nonce_len != nonce_len || memcmp(v->nonce, nonce, nonce_len) != 0)
    return lic__fail(LIC_MISMATCHED, "the verdict does not answer our nonce (replayed?)");
  if (strcmp(v->node, o->node) != 0)
    return lic__fail(LIC_MISMATCHED, "the verdict is for another node");
  res->unchecked = true;
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
  if (nchain == 0)
    return unchecked_denial(o, nonce, nonce_len, vbytes, vlen, res);
  if (nchain != 1)
    return lic__fail(LIC_FORMAT, "expected a chain of one license, got %u entries", nchain);
  if ((rc = lic_mp_bin(&chain, &lbytes, &llen)) != LIC_OK)
    return rc;
  if (o->account != NULL) {
    if ((rc = public_check(o, nonce, nonce_len, now, vbytes, vlen, lbytes, llen, res)) != LIC_OK) {
      lic_verify_result_clear(res); /* nothing half-checked is handed out */
      return rc;
    }
    goto keep;
  }

  /* root -> license */
  if ((rc = lic_license_open(lbytes, llen, o->trust, &res->license)) != LIC_OK)
    return rc;
  if (res->license.mode != LIC_MODE_PRIVATE || !res->license.has_node_key)
    return lic__fail(LIC_FORMAT, "the chain's license is not a private-mode license");
  /* An unknown_license verdict names no license of the chain: the chain's
   * license only certifies the node key that signed it. */
  bool unknown = verdict_peek_unknown(vbytes, vlen);
  /* A renewal answers for the license we named (docs/operations.md,
   * "Renewing and upgrading"): the chain's license is then a successor. */
  if (!unknown && o->license != NULL && memcmp(o->license, res->license.id, LIC_ID_LEN) != 0 &&
      !res->license.has_supersedes)
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
  if (unknown != (v->status == LIC_STATUS_UNKNOWN_LICENSE))
    return lic__fail(LIC_FORMAT, "verdict status unreadable");
  if (!unknown && (!v->has_license || memcmp(v->license, res->license.id, LIC_ID_LEN) != 0))
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
keep:
  if ((res->body = malloc(len > 0 ? len : 1)) == NULL)
    return LIC_NOMEM;
  memcpy(res->body, body, len);
  res->body_len = len;
  /* A newer revocation list beside the answer (private mode): its bytes in
   * our copy, verified by whoever keeps it. */
  if (lic_mp_obj_parse(res->body, len, &doc) == LIC_OK && lic_mp_obj_has(&doc, "revocations") &&
      (rc = lic_mp_get_bin(&doc, "revocations", 1, LIC_MAX_ENVELOPE, &res->revocations,
                           &res->revocations_len)) != LIC_OK) {
    lic_verify_result_clear(res); /* the detail names the field */
    return rc;
  }
  memcpy(res->nonce, nonce, nonce_len);
  res->nonce_len = nonce_len;
  res->checked_at = now;
  return LIC_OK;
}

/* http://HOST... with HOST an IPv4 literal in 127/8, [::1] or localhost
 * (a name such as 127.0.0.1.example.com is not loopback). */
static bool url_loopback(const char *url) {
  const char *h = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
  char host[64];
  struct in_addr a4;
  if (h == NULL)
    return false;
  if (strncmp(h, "[::1]", 5) == 0)
    return h[5] == '\0' || h[5] == ':' || h[5] == '/';
  size_t n = strcspn(h, ":/?#");
  if (n == 0 || n >= sizeof host)
    return false;
  memcpy(host, h, n);
  host[n] = '\0';
  if (strcmp(host, "localhost") == 0)
    return true;
  return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

static int exchange(const lic_verify_opts *o, req_kind kind, lic_verify_result *res) {
  static const char *const PATHS[] = {"/v1/verify", "/v1/register", "/v1/unregister"};
  uint8_t nonce[32], *body = NULL;
  size_t blen = 0;
  msgpack_sbuffer sb;
  int rc, status = 0;

  memset(res, 0, sizeof *res);
  if (o->url == NULL || o->trust == NULL || o->node == NULL ||
      (o->domain == NULL && kind != REQ_UNREGISTER))
    return lic__fail(LIC_INVALID, "url, trust, domain and node are required");
  if (kind != REQ_VERIFY && o->account == NULL)
    return lic__fail(LIC_INVALID, "registration is public mode's: give an account");
  if (o->account != NULL) {
    if (o->token == NULL || o->project_id == NULL || (kind == REQ_REGISTER && o->project == NULL))
      return lic__fail(LIC_INVALID, "public mode needs the account, token and project id%s",
                       kind == REQ_REGISTER ? " and the project name" : "");
    /* The token is the account's secret: never in clear over a network
     * (https:// is checked by the TLS client; plain HTTP only to loopback). */
    if (strncmp(o->url, "https://", 8) != 0 && !url_loopback(o->url))
      return lic__fail(LIC_INVALID, "refusing to send the account token over plain HTTP to a "
                       "host other than loopback (use https://, or a local TLS proxy)");
  }
  if ((rc = lic_random(nonce, sizeof nonce)) != LIC_OK)
    return rc;
  msgpack_sbuffer_init(&sb);
  if ((rc = pack_request(o, kind, nonce, sizeof nonce, &sb)) != LIC_OK)
    goto out;
  if ((rc = lic__http_post_tls(o->url, o->tls, PATHS[kind], (const uint8_t *)sb.data, sb.size,
                               o->timeout_ms,
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
    if (status == 404 || status == 405)
      /* Most often the admin port, or another web server: say what answered. */
      rc = lic__fail(LIC_NOTFOUND, "no license server's verify API here: it answered HTTP %d%s "
                     "to POST /v1/verify (the admin port, or another server?)", status, msg);
    else
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

int lic_verify(const lic_verify_opts *o, lic_verify_result *res) {
  return exchange(o, REQ_VERIFY, res);
}

int lic_register(const lic_verify_opts *o, lic_verify_result *res) {
  return exchange(o, REQ_REGISTER, res);
}

int lic_unregister(const lic_verify_opts *o, lic_verify_result *res) {
  return exchange(o, REQ_UNREGISTER, res);
}
