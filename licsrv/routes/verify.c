/* routes/verify.c - POST /v1/verify: decode, decide, hold a seat, sign a verdict. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/app.h"
#include "core/decide.h"
#include "lic/b64.h"
#include "core/request.h"
#include "routes/common.h"
#include "routes/routes.h"

/* {verdict, chain[, revocations]} as JSON: binary values as base64url strings. */
static void reply_json(srv_req *r, const msgpack_sbuffer *env, const uint8_t *lic, size_t liclen,
                       const uint8_t *rev, size_t revlen) {
  char *v = NULL, *l = NULL, *rv = NULL, *text = NULL;
  size_t vn, ln, rn;
  json_t *chain = json_array(), *doc = NULL;
  if (lic_b64_encode((const uint8_t *)env->data, env->size, LIC_B64_URL, &v, &vn) != LIC_OK ||
      (lic != NULL && lic_b64_encode(lic, liclen, LIC_B64_URL, &l, &ln) != LIC_OK) ||
      (rev != NULL && lic_b64_encode(rev, revlen, LIC_B64_URL, &rv, &rn) != LIC_OK))
    goto fail;
  if (l != NULL)
    json_array_append_new(chain, json_string(l));
  doc = json_pack("{s:s, s:O}", "verdict", v, "chain", chain);
  if (doc != NULL && rv != NULL && json_object_set_new(doc, "revocations", json_string(rv)) != 0)
    goto fail;
  if (doc == NULL || (text = json_dumps(doc, JSON_COMPACT)) == NULL)
    goto fail;
  srv_reply(r, 200, "application/json", text, strlen(text));
  goto out;
fail:
  srv_reply_error(r, 503, "unavailable", "out of memory");
out:
  free(text);
  json_decref(doc);
  json_decref(chain);
  free(v);
  free(l);
  free(rv);
}

void route_verify(srv_req *r) {
  app_worker *w;
  srv_verify_req q SRV_VERIFY_REQ_WIPED; /* on every exit: the token, the node secret */
  char why[LIC_MAX_REASON + 1], reason[LIC_MAX_REASON + 1];
  const uint8_t *body, *licenv = NULL;
  size_t blen, liclen = 0;
  bool msgpack_in;
  int rc;

  if ((w = route_public_begin(r, &msgpack_in)) == NULL)
    return;
  app *a = w->a;
  int64_t now = (int64_t)time(NULL);
  body = srv_req_body(r, &blen);
  rc = msgpack_in ? srv_verify_req_msgpack(body, blen, &q) : srv_verify_req_json(body, blen, &q);
  if (rc != LIC_OK) {
    srv_reply_error(r, 400, "bad_request", lic_errdetail()[0] ? lic_errdetail() : lic_strerror(rc));
    return;
  }
  if (a->public_mode) {
    route_public_verify(r, w, &q);
    return;
  }
  if (q.has_account) {
    srv_reply_error(r, 400, "bad_request",
                    "this is a private-mode license server: name a license, not an account");
    return;
  }

  app_audit_poll(w, now);
  /* The license in force of the lineage named (or of the only one). */
  app_answer ans;
  app_license(w, q.has_license ? q.license : NULL, now, &ans, why, sizeof why);
  const lic_license *lic = ans.lic;
  licenv = ans.env;
  liclen = ans.len;
  /* Seats and failures are kept under the lineage's key; a request that
   * resolves no license fails under the zero id (one bounded list). */
  static const uint8_t no_license[LIC_ID_LEN];
  const uint8_t *owner = lic != NULL ? ans.key : no_license;
  /* The vendor's list this server keeps: a license on it is revoked here
   * whenever it was imported, and a client holding an older list (or none:
   * revocations_seq absent is 0) gets it with the answer (docs/revocation.md). */
  const uint8_t *revenv = NULL;
  size_t revlen = 0;
  const lic_revocations *kept = route_revocations_kept(w, &revenv, &revlen);
  bool revoked = ans.revoked || (lic != NULL && lic_revocations_has_license(kept, lic->id));
  if (kept->seq <= q.revocations_seq)
    revenv = NULL;
  lic_status st;
  uint8_t *certenv = NULL; /* malloc'd chain license of an unknown_license verdict */
  if (!app_secret_ok(a, q.secret)) { /* private-mode node_secret: no seat without it */
    st = LIC_STATUS_BAD_CREDENTIALS;
    snprintf(reason, sizeof reason, "%s", q.secret[0] == '\0' ? "this server needs the node secret"
                                                              : "wrong node secret");
  } else if ((st = srv_decide(&q, lic, revoked, now, atomic_load(&a->hwm), reason,
                              sizeof reason)) == LIC_STATUS_UNKNOWN_LICENSE) {
    snprintf(reason, sizeof reason, "%s", why);
    /* Any license certifying our node key lets the client check this denial's
     * signature (it names no license); without one the chain stays empty. */
    if (app_certifying_license(w, &certenv, &liclen) == LIC_OK)
      licenv = certenv;
    else
      liclen = 0;
  }
  int64_t used = 0, max = lic != NULL ? lic->max_nodes : 0;
  int64_t window = lic != NULL ? 2 * lic->heartbeat : 0;
  /* A name this server has not seen is a new seat: one address may bring at
   * most new_nodes_per_hour of them. */
  bool fresh = st == LIC_STATUS_VALID && !srv_seats_known(a->seats, owner, q.node);
  if (fresh && !srv_nodelimit_allow(a->newnodes, srv_req_remote(r), now)) {
    st = LIC_STATUS_SEATS_EXHAUSTED;
    snprintf(reason, sizeof reason,
             "this address brought %u new node names within the hour (new_nodes_per_hour)",
             srv_nodelimit_get(a->newnodes));
    used = srv_seats_used(a->seats, owner, now, window);
  } else if (st == LIC_STATUS_VALID &&
             !srv_seats_acquire(a->seats, owner, q.node, now, window, max, &used) &&
             /* `licsrv release --node` returns once its release is durable;
              * this second's poll may have run before it: look again. */
             (!app_audit_poll_now(w) ||
              !srv_seats_acquire(a->seats, owner, q.node, now, window, max, &used))) {
    st = LIC_STATUS_SEATS_EXHAUSTED;
    if (max == 1)
      snprintf(reason, sizeof reason, "the one node seat is taken");
    else
      snprintf(reason, sizeof reason, "all %lld node seats are taken", (long long)max);
  } else if (st != LIC_STATUS_VALID && lic != NULL) {
    used = srv_seats_used(a->seats, owner, now, window);
  } else if (fresh) {
    srv_nodelimit_note(a->newnodes, srv_req_remote(r), now);
  }
  /* Heartbeat bookkeeping: batched, never a sync per request. */
  if (st == LIC_STATUS_VALID) {
    store_node_seen(a->st, owner, q.node, now);
  } else {
    /* Every denial is in the failure list. The store keeps what the bounded
     * list keeps: the node it pushed out loses its stored record (when it
     * never held a seat). */
    char evicted[LIC_MAX_NAME + 1];
    srv_seats_fail(a->seats, owner, q.node, now, st, reason, evicted, sizeof evicted);
    store_node_failure(a->st, owner, q.node, now, lic_status_name(st), reason);
    if (evicted[0] != '\0')
      store_node_drop(a->st, owner, evicted);
  }
  if (st != LIC_STATUS_CLOCK_ROLLBACK)
    app_clock_note(a, now);

  lic_verdict v;
  memset(&v, 0, sizeof v);
  memcpy(v.nonce, q.nonce, q.nonce_len);
  v.nonce_len = q.nonce_len;
  v.time = now;
  if (lic != NULL || q.has_license) {
    v.has_license = true;
    memcpy(v.license, lic != NULL ? lic->id : q.license, LIC_ID_LEN);
  }
  snprintf(v.node, sizeof v.node, "%s", q.node);
  v.status = st;
  snprintf(v.reason, sizeof v.reason, "%s", reason);
  v.heartbeat = LIC_DEFAULT_HEARTBEAT;
  v.grace = LIC_DEFAULT_GRACE;
  if (lic != NULL) { /* borrowed: v is not cleared */
    v.features = lic->features;
    v.domains = lic->domains;
    v.apps = lic->apps;
    v.ports = lic->ports;
    v.nports = lic->nports;
    v.expires = lic->expires;
    v.heartbeat = lic->heartbeat;
    v.grace = lic->grace;
  }
  v.seats_used = used;
  v.seats_max = max;

  msgpack_sbuffer_clear(&w->body);
  msgpack_sbuffer_clear(&w->env);
  if ((rc = lic_verdict_pack(&v, &w->body)) != LIC_OK ||
      (rc = lic_signer_seal(w->signer, "verdict", (const uint8_t *)w->body.data, w->body.size,
                            &w->env)) != LIC_OK) {
    srv_reply_error(r, 503, "unavailable", lic_errfull(rc));
    goto out;
  }
  srv_counter_add(a->verdicts[st], 1);
  if (!srv_req_wants_msgpack(r)) {
    reply_json(r, &w->env, licenv, liclen, revenv, revlen);
    goto out;
  }
  msgpack_packer pk;
  msgpack_sbuffer_clear(&w->out);
  msgpack_packer_init(&pk, &w->out, msgpack_sbuffer_write);
  int bad = msgpack_pack_map(&pk, revenv != NULL ? 3 : 2);
  bad |= lic_mp_pack_cstr(&pk, "verdict") | lic_mp_pack_bin(&pk, w->env.data, w->env.size);
  bad |= lic_mp_pack_cstr(&pk, "chain") | msgpack_pack_array(&pk, licenv != NULL ? 1 : 0);
  if (licenv != NULL)
    bad |= lic_mp_pack_bin(&pk, licenv, liclen);
  if (revenv != NULL)
    bad |= lic_mp_pack_cstr(&pk, "revocations") | lic_mp_pack_bin(&pk, revenv, revlen);
  if (bad)
    srv_reply_error(r, 503, "unavailable", "out of memory");
  else
    srv_reply(r, 200, "application/msgpack", w->out.data, w->out.size);
out:
  free(certenv);
}
