/* routes/activation.c - the online claim of designer activation codes (SPEC
 * §3.6, POST /v1/activations): one machine per (product, serial), a signed
 * receipt, durable before the reply; admin list and release of claims. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/app.h"
#include "lic/actcode.h"
#include "lic/b64.h"
#include "lic/receipt.h"
#include "util/log.h"
#include "core/request.h"
#include "routes/common.h"
#include "routes/routes.h"

#define CLAIM_AUDIT_TOKEN "public"     /* claims come from the public listener */
#define CLAIM_LIST_MAX    100000       /* claims in one admin listing */

static const char *ctype(bool msgpack) {
  return msgpack ? "application/msgpack" : "application/json";
}

static void already_message(char *buf, size_t cap, unsigned product, uint32_t serial) {
  snprintf(buf, cap,
           "serial %u of product %u is already activated on another machine (an administrator "
           "can release it)", serial, product);
}

/* A claim queued for the writer: the new receipt, or (set by apply) the one
 * stored by a claim of the same machine that got there first. */
typedef struct {
  srv_deferred *d;
  store_activation act;
  uint8_t *chain;
  size_t chain_len;
  bool msgpack;
} claim_op;

static void claim_op_free(claim_op *op) {
  store_activation_clear(&op->act);
  free(op->chain);
  free(op);
}

static int claim_apply(store_wtxn *wt, void *arg) {
  claim_op *op = arg;
  store_activation cur;
  char subject[STORE_MAX_SUBJECT + 1];
  int rc = store_w_activation_put(wt, &op->act);
  if (rc == LIC_EXISTS) {
    /* Claimed between our read and this write: same machine keeps the
     * stored receipt, another machine is refused. */
    if ((rc = store_w_activation_get(wt, op->act.product, op->act.serial, &cur)) != LIC_OK)
      return rc;
    if (strcmp(cur.machine_code, op->act.machine_code) != 0 || cur.receipt == NULL) {
      store_activation_clear(&cur);
      return lic_fail(LIC_EXISTS, "already activated on another machine");
    }
    free(op->act.receipt);
    op->act.receipt = cur.receipt; /* transferred */
    op->act.receipt_len = cur.receipt_len;
    return LIC_OK;
  }
  if (rc != LIC_OK)
    return rc;
  snprintf(subject, sizeof subject, "activation:%u/%u machine:%s", op->act.product,
           op->act.serial, op->act.machine_code);
  return store_w_audit_append(wt, op->act.time, CLAIM_AUDIT_TOKEN, "activation.claim", subject);
}

static void claim_done(void *arg, int rc, const char *detail) {
  claim_op *op = arg;
  char *body = NULL, msg[200];
  size_t len = 0;
  if (rc == LIC_OK) {
    if (route_signed_body(op->msgpack, "receipt", op->act.receipt, op->act.receipt_len, op->chain, op->chain_len,
                   &body, &len) == LIC_OK)
      srv_reply_deferred(op->d, 200, ctype(op->msgpack), body, len);
    else
      srv_reply_deferred_error(op->d, 503, "unavailable", "out of memory");
  } else if (rc == LIC_EXISTS) {
    already_message(msg, sizeof msg, op->act.product, op->act.serial);
    srv_reply_deferred_error(op->d, 409, "already_activated", msg);
  } else {
    char q[900];
    srv_log(SRV_LOG_ERROR, "activation_claim_not_stored", "error=%s",
            SRV_LOG_Q(detail != NULL && *detail ? detail : lic_strerror(rc), q));
    srv_reply_deferred_error(op->d, 500, "store_error",
                             detail != NULL && *detail ? detail : lic_strerror(rc));
  }
  free(body);
  claim_op_free(op);
}

/* The code: shape and check symbols (400), then genuine and current (422). */
static bool claim_code(srv_req *r, app_worker *w, const char *text, int64_t now, lic_code *c) {
  int rc = lic_code_parse(text, c);
  if (rc != LIC_OK) {
    srv_reply_error(r, 400, rc == LIC_TYPO ? "typo" : "bad_code", lic_errfull(rc));
    return false;
  }
  if ((rc = lic_code_verify(c, route_trust(w), -1, now)) != LIC_OK) {
    srv_reply_error(r, 422,
                    rc == LIC_NOTGENUINE ? "not_genuine" : rc == LIC_EXPIRED ? "expired" : "bad_code",
                    lic_errfull(rc));
    return false;
  }
  return true;
}

void route_activation_claim(srv_req *r) {
  app_worker *w;
  srv_claim_req *q = NULL;
  claim_op *op = NULL;
  store_activation cur;
  lic_code c;
  char why[200];
  const uint8_t *body;
  size_t blen;
  bool msgpack_in;
  int rc;

  memset(&cur, 0, sizeof cur);
  if ((w = route_public_begin(r, &msgpack_in)) == NULL)
    return;
  int64_t now = (int64_t)time(NULL);
  if ((q = malloc(sizeof *q)) == NULL || (op = calloc(1, sizeof *op)) == NULL) {
    srv_reply_error(r, 503, "unavailable", "out of memory");
    goto out;
  }
  body = srv_req_body(r, &blen);
  rc = msgpack_in ? srv_claim_req_msgpack(body, blen, q) : srv_claim_req_json(body, blen, q);
  if (rc != LIC_OK) {
    srv_reply_error(r, 400, "bad_request", lic_errdetail()[0] ? lic_errdetail() : lic_strerror(rc));
    goto out;
  }
  if (!claim_code(r, w, q->code, now, &c))
    goto out;
  /* A code the vendor revoked is never bound, not even again to its machine. */
  const lic_revocations *kept = route_revocations_kept(w, NULL, NULL);
  if (lic_revocations_has_activation(kept, c.product, c.serial)) {
    snprintf(why, sizeof why, "product %u, serial %u is on the vendor's revocation list (seq %lld)",
             (unsigned)c.product, c.serial, (long long)kept->seq);
    srv_reply_error(r, 403, "revoked", why);
    goto out;
  }
  op->msgpack = srv_req_wants_msgpack(r);
  /* Without a license certifying our node key nobody could check a receipt. */
  if ((rc = app_certifying_license(w, &op->chain, &op->chain_len)) != LIC_OK) {
    srv_reply_error(r, 503, "no_license",
                    rc == LIC_NOTFOUND ? "this server holds no valid license to certify receipts"
                                       : lic_errfull(rc));
    goto out;
  }
  /* Already claimed: answered from the store without a write. */
  if ((rc = store_reader_begin(w->rd)) == LIC_OK) {
    rc = store_activation_get(w->rd, c.product, c.serial, &cur);
    store_reader_end(w->rd);
  }
  if (rc == LIC_OK) {
    if (strcmp(cur.machine_code, q->machine) != 0 || cur.receipt == NULL) {
      already_message(why, sizeof why, c.product, c.serial);
      srv_reply_error(r, 409, "already_activated", why);
    } else {
      char *out = NULL;
      size_t olen = 0;
      if (route_signed_body(op->msgpack, "receipt", cur.receipt, cur.receipt_len, op->chain, op->chain_len, &out,
                     &olen) == LIC_OK)
        srv_reply(r, 200, ctype(op->msgpack), out, olen);
      else
        srv_reply_error(r, 503, "unavailable", "out of memory");
      free(out);
    }
    goto out;
  }
  if (rc != LIC_NOTFOUND) {
    srv_reply_error(r, 500, "store_error", lic_errfull(rc));
    goto out;
  }
  /* First claim: sign the receipt here (the worker's signer), store it with
   * the claim, answer once it is committed and synced. */
  lic_receipt rec;
  memset(&rec, 0, sizeof rec);
  rec.product = c.product;
  rec.serial = c.serial;
  memcpy(rec.machine, q->machine, sizeof rec.machine);
  rec.time = now;
  memcpy(rec.node_kid, w->a->meta.node_kid, LIC_KID_LEN);
  msgpack_sbuffer_clear(&w->body);
  msgpack_sbuffer_clear(&w->env);
  if ((rc = lic_receipt_pack(&rec, &w->body)) != LIC_OK ||
      (rc = lic_signer_seal(w->signer, LIC_RECEIPT_TYP, (const uint8_t *)w->body.data,
                            w->body.size, &w->env)) != LIC_OK ||
      (op->act.receipt = malloc(w->env.size)) == NULL) {
    srv_reply_error(r, 503, "unavailable", lic_errfull(rc != LIC_OK ? rc : LIC_NOMEM));
    goto out;
  }
  memcpy(op->act.receipt, w->env.data, w->env.size);
  op->act.receipt_len = w->env.size;
  op->act.product = c.product;
  op->act.serial = c.serial;
  op->act.time = now;
  memcpy(op->act.machine_code, q->machine, sizeof q->machine);
  if (route_submit(r, &op->d, claim_apply, claim_done, op))
    op = NULL; /* transferred: claim_done frees it */
out:
  if (op != NULL)
    claim_op_free(op);
  store_activation_clear(&cur);
  srv_claim_req_wipe(q);
  free(q);
}

/* ---- admin: list and release -------------------------------------------- */

static int list_cb(const store_activation *act, void *arg) {
  json_array_append_new(arg, json_pack("{s:i, s:I, s:s, s:I}", "product", (int)act->product,
                                       "serial", (json_int_t)act->serial, "machine",
                                       act->machine_code, "time", (json_int_t)act->time));
  return json_array_size(arg) >= CLAIM_LIST_MAX; /* bounded answer */
}

static void list_run(route_call *c, store_reader *rd) {
  json_t *arr = json_array();
  int rc = store_activation_each(rd, list_cb, arr);
  if (rc != LIC_OK && rc != 1) {
    json_decref(arr);
    route_call_store_error(c, rc);
    return;
  }
  route_call_json(c, 200, json_pack("{s:o, s:b}", "activations", arr, "truncated", rc == 1));
}

void route_activation_list(srv_req *r) { route_admin_call(r, NULL, list_run); }

typedef struct {
  srv_deferred *d;
  uint8_t product;
  uint32_t serial;
  int64_t now;
  char token[STORE_MAX_TOKEN_NAME + 1];
} release_op;

static int release_apply(store_wtxn *wt, void *arg) {
  release_op *op = arg;
  char subject[STORE_MAX_SUBJECT + 1];
  int rc = store_w_activation_delete(wt, op->product, op->serial);
  if (rc != LIC_OK)
    return rc;
  snprintf(subject, sizeof subject, "activation:%u/%u", op->product, op->serial);
  return store_w_audit_append(wt, op->now, op->token, "activation.release", subject);
}

static void release_done(void *arg, int rc, const char *detail) {
  release_op *op = arg;
  if (rc == LIC_OK) {
    char body[120];
    int n = snprintf(body, sizeof body, "{\"product\":%u,\"released\":true,\"serial\":%u}",
                     op->product, op->serial);
    srv_reply_deferred(op->d, 200, "application/json", body, (size_t)n);
  } else {
    srv_reply_deferred_error(op->d, rc == LIC_NOTFOUND ? 404 : 500,
                             rc == LIC_NOTFOUND ? "not_found" : "store_error",
                             detail != NULL && *detail ? detail : lic_strerror(rc));
  }
  free(op);
}

static void release_prep(route_call *c, srv_req *r, app_worker *w) {
  size_t len;
  (void)w;
  const uint8_t *b = srv_req_body(r, &len);
  json_error_t e;
  json_t *doc = json_loadb((const char *)b, len, JSON_REJECT_DUPLICATES, &e);
  json_t *p = json_object_get(doc, "product"), *s = json_object_get(doc, "serial");
  bool ok = json_is_integer(p) && json_is_integer(s) && json_integer_value(p) >= 0 &&
            json_integer_value(p) <= 255 && json_integer_value(s) >= 0 &&
            json_integer_value(s) <= (json_int_t)UINT32_MAX;
  release_op *op = ok ? calloc(1, sizeof *op) : NULL;
  if (op != NULL) {
    op->product = (uint8_t)json_integer_value(p);
    op->serial = (uint32_t)json_integer_value(s);
  }
  json_decref(doc);
  if (!ok) {
    route_call_error(c, 400, "bad_request",
                     "send a JSON body {\"product\": 0..255, \"serial\": 0..4294967295}");
    return;
  }
  if (op == NULL) {
    route_call_error(c, 503, "unavailable", "out of memory");
    return;
  }
  op->now = (int64_t)time(NULL);
  route_call_write(c, &op->d, op->token, release_apply, release_done, op, free);
}

void route_activation_release(srv_req *r) { route_admin_call(r, release_prep, NULL); }
