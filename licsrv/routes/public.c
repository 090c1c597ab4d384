/* routes/public.c - public mode's endpoints (SPEC §4): POST /v1/register and
 * /v1/unregister, and POST /v1/verify by account. Registrations are decided
 * on the writer thread (capacity cannot overshoot) and durable before the
 * answer; every well-formed request gets a verdict signed by the certified
 * online key, with that certificate as its chain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/app.h"
#include "core/decide.h"
#include "core/public.h"
#include "core/quota.h"
#include "core/request.h"
#include "lic/b64.h"
#include "routes/common.h"
#include "routes/routes.h"
#include "util/log.h"

#define PUB_AUDIT_TOKEN "public" /* registrations come from the public listener */

/* The verdict of a public request: the account's terms when the credentials
 * held (a wrong token learns nothing about the account). */
static void verdict_init(lic_verdict *v, const srv_verify_req *q, int64_t now, lic_status st,
                         const char *reason, const lic_account *a, size_t used) {
  memset(v, 0, sizeof *v);
  memcpy(v->nonce, q->nonce, q->nonce_len);
  v->nonce_len = q->nonce_len;
  v->time = now;
  v->has_account = true;
  memcpy(v->account, q->account, LIC_ID_LEN);
  snprintf(v->node, sizeof v->node, "%s", q->node);
  v->status = st;
  snprintf(v->reason, sizeof v->reason, "%s", reason);
  v->heartbeat = LIC_DEFAULT_HEARTBEAT;
  v->grace = LIC_DEFAULT_GRACE;
  if (a != NULL) {
    app_public_verdict_terms(v, a);
    v->seats_used = (int64_t)used;
    v->seats_max = a->capacity;
  }
}

/* Sign v with ps (brought to the current online key) into a reply body. */
static int sign_body(app *a, app_pub_signer *ps, const lic_verdict *v, bool msgpack, char **out,
                     size_t *outlen) {
  msgpack_sbuffer body, env;
  int rc;
  msgpack_sbuffer_init(&body);
  msgpack_sbuffer_init(&env);
  if ((rc = app_public_signer(a->pub, ps, v->time)) == LIC_OK &&
      (rc = lic_verdict_pack(v, &body)) == LIC_OK &&
      (rc = lic_signer_seal(ps->signer, "verdict", (const uint8_t *)body.data, body.size, &env)) ==
          LIC_OK)
    rc = route_signed_body(msgpack, "verdict", (const uint8_t *)env.data, env.size, ps->cert, ps->cert_len, out,
                      outlen);
  if (rc == LIC_OK)
    srv_counter_add(a->verdicts[v->status], 1);
  msgpack_sbuffer_destroy(&body);
  msgpack_sbuffer_destroy(&env);
  return rc;
}

static const char *ctype(bool msgpack) {
  return msgpack ? "application/msgpack" : "application/json";
}

static void reply_verdict(srv_req *r, app_worker *w, const lic_verdict *v) {
  char *out = NULL;
  size_t len = 0;
  bool mp = srv_req_wants_msgpack(r);
  int rc = sign_body(w->a, &w->psign, v, mp, &out, &len);
  if (rc == LIC_NOTFOUND)
    srv_reply_error(r, 503, "no_certificate", lic_errdetail());
  else if (rc != LIC_OK)
    srv_reply_error(r, 503, "unavailable", lic_errfull(rc));
  else
    srv_reply(r, 200, ctype(mp), out, len);
  free(out);
}

/* On the writer thread: its own signer (a->wsign), answered through d. */
static void reply_deferred_verdict(app *a, srv_deferred *d, bool mp, const lic_verdict *v) {
  char *out = NULL;
  size_t len = 0;
  int rc = sign_body(a, &a->wsign, v, mp, &out, &len);
  if (rc == LIC_NOTFOUND)
    srv_reply_deferred_error(d, 503, "no_certificate", lic_errdetail());
  else if (rc != LIC_OK)
    srv_reply_deferred_error(d, 503, "unavailable", lic_errfull(rc));
  else
    srv_reply_deferred(d, 200, ctype(mp), out, len);
  free(out);
}

static void subject_of(const uint8_t account[LIC_ID_LEN], const uint8_t project[LIC_ID_LEN],
                       char *buf, size_t cap) {
  char a[LIC_UUID_LEN + 1], p[LIC_UUID_LEN + 1];
  lic_uuid_format(account, a);
  lic_uuid_format(project, p);
  snprintf(buf, cap, "account:%s project:%s", a, p);
}

/* ---- registration last_valid (for registration_ttl_days) ----------------- */

typedef struct {
  uint8_t account[LIC_ID_LEN], project[LIC_ID_LEN];
  int64_t now;
} touch_op;

static int touch_apply(store_wtxn *wt, void *arg) {
  touch_op *op = arg;
  store_registration g;
  int rc = store_w_registration_get(wt, op->account, op->project, &g);
  if (rc == LIC_NOTFOUND)
    return LIC_OK; /* released meanwhile */
  if (rc != LIC_OK || g.last_valid >= op->now)
    return rc;
  g.last_valid = op->now;
  return store_w_registration_put(wt, &g);
}

static void touch_done(void *arg, int rc, const char *detail) {
  if (rc != LIC_OK) {
    char q[400];
    srv_log(SRV_LOG_WARN, "registration_touch_failed", "error=%s",
            SRV_LOG_Q(detail != NULL && *detail ? detail : lic_strerror(rc), q));
  }
  free(arg);
}

/* At most hourly per project: a verify must not cost a sync. */
static void touch(app *a, const srv_verify_req *q, const store_registration *g, int64_t now) {
  if (now - g->last_valid < PUB_TOUCH_S)
    return;
  touch_op *op = calloc(1, sizeof *op);
  if (op == NULL)
    return;
  memcpy(op->account, q->account, LIC_ID_LEN);
  memcpy(op->project, q->project_id, LIC_ID_LEN);
  op->now = now;
  if (store_submit(a->st, touch_apply, touch_done, op) != LIC_OK)
    free(op);
}

/* ---- requests per account ------------------------------------------------ */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An authenticated request spends one of its account's; past the limit 429
 * with Retry-After, the signal every per-account or per-address limit gives
 * and clients honour. false: answered. */
static bool account_rate_ok(srv_req *r, app *a, const uint8_t account[LIC_ID_LEN]) {
  uint32_t retry = 0;
  char hdr[48], msg[160];
  if (srv_acctlimit_take(a->acctrate, account, now_ms(), &retry))
    return true;
  snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n", retry);
  snprintf(msg, sizeof msg,
           "too many requests for this account (account_requests_per_minute = %u); retry in %u s",
           srv_acctlimit_get(a->acctrate), retry);
  srv_reply_error_extra(r, 429, "rate_limited", msg, hdr);
  return false;
}

/* ---- node records per account -------------------------------------------- */

typedef struct {
  app *a;
  store_node n; /* owner and name; the rest zero: a released record */
} node_forget_op;

/* The node left the account's bounded table: zero its record (unless it came
 * back meanwhile), then the batch deletes it (store_node_drop deletes only a
 * record without a valid check). A drop is noted first too: it cancels a
 * last-seen still pending in the batch, which would otherwise be written
 * after the zeroing (a group applies its operations, then the batch). */
static int node_forget_apply(store_wtxn *wt, void *arg) {
  node_forget_op *op = arg;
  if (srv_seats_known(op->a->seats, op->n.owner, op->n.node))
    return LIC_OK;
  return store_w_node_put(wt, &op->n);
}

static void node_forget_done(void *arg, int rc, const char *detail) {
  node_forget_op *op = arg;
  (void)detail;
  if (rc == LIC_OK && !srv_seats_known(op->a->seats, op->n.owner, op->n.node))
    store_node_drop(op->a->st, op->n.owner, op->n.node);
  free(op);
}

/* PostgreSQL: its batch keeps no deletes, so the record is deleted by a
 * durable write of its own (unless the node came back meanwhile); the drop
 * noted first takes the node's pending heartbeat out of the batch, which
 * would write the row back. */
static int node_delete_apply(store_wtxn *wt, void *arg) {
  node_forget_op *op = arg;
  if (srv_seats_known(op->a->seats, op->n.owner, op->n.node))
    return LIC_OK;
  return store_w_node_delete(wt, op->n.owner, op->n.node);
}

static void node_delete_done(void *arg, int rc, const char *detail) {
  (void)rc, (void)detail;
  free(arg);
}

static void node_forget(app *a, const uint8_t account[LIC_ID_LEN], const char *node) {
  bool lmdb = strcmp(store_backend_name(a->st), "lmdb") == 0;
  node_forget_op *op = calloc(1, sizeof *op);
  if (op == NULL)
    return;
  op->a = a;
  memcpy(op->n.owner, account, LIC_ID_LEN);
  snprintf(op->n.node, sizeof op->n.node, "%s", node);
  store_node_drop(a->st, account, node); /* before the submit: see above */
  if (store_submit(a->st, lmdb ? node_forget_apply : node_delete_apply,
                   lmdb ? node_forget_done : node_delete_done, op) != LIC_OK)
    free(op);
}

/* A valid check of an authenticated account's node: a new name past
 * account_new_nodes_per_hour is 429 with Retry-After (false: answered);
 * the account's table keeps its unlimited_max_nodes most recent nodes, the
 * one pushed out deleted from the store too. */
static bool account_node_ok(srv_req *r, app *a, const srv_verify_req *q, int64_t now) {
  char evicted[LIC_MAX_NAME + 1], hdr[48], msg[160];
  uint32_t retry = 0;
  bool fresh = !srv_seats_known(a->seats, q->account, q->node);
  if (fresh && !srv_nodelimit_allow_id(a->acctnodes, q->account, now, &retry)) {
    snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n", retry);
    snprintf(msg, sizeof msg,
             "too many new node names for this account (account_new_nodes_per_hour = %u); "
             "retry in %u s",
             srv_nodelimit_get(a->acctnodes), retry);
    srv_reply_error_extra(r, 429, "rate_limited", msg, hdr);
    return false;
  }
  if (!srv_seats_note(a->seats, q->account, q->node, now, evicted, sizeof evicted))
    return true; /* memory short: the check still gets its verdict */
  if (fresh)
    srv_nodelimit_note_id(a->acctnodes, q->account, now);
  if (evicted[0] != '\0')
    node_forget(a, q->account, evicted);
  return true;
}

/* A refused check or register of an authenticated account: the failure
 * list per account is bounded (failure_list_size), the entry it pushes out
 * goes from the store too (as in private mode). */
static void account_failure(app *a, const srv_verify_req *q, int64_t now, lic_status st,
                            const char *reason) {
  char evicted[LIC_MAX_NAME + 1];
  srv_seats_fail(a->seats, q->account, q->node, now, st, reason, evicted, sizeof evicted);
  store_node_failure(a->st, q->account, q->node, now, lic_status_name(st), reason);
  if (evicted[0] == '\0')
    return;
  if (strcmp(store_backend_name(a->st), "lmdb") == 0)
    store_node_drop(a->st, q->account, evicted);
  else
    node_forget(a, q->account, evicted); /* PostgreSQL: a durable delete */
}

/* ---- POST /v1/verify by account ------------------------------------------ */

void route_public_verify(srv_req *r, app_worker *w, const srv_verify_req *q) {
  app *a = w->a;
  srv_public_state ps;
  store_registration g;
  char reason[LIC_MAX_REASON + 1];
  size_t used = 0;
  int64_t now = (int64_t)time(NULL);
  int rc;

  if (!q->has_account) {
    srv_reply_error(r, 400, "bad_request",
                    "this is a public-mode license server: give 'account', 'token' and 'project_id'");
    return;
  }
  if ((rc = app_public_lookup(w->rd, &w->pcache, q, &ps, &used, &g)) != LIC_OK) {
    srv_reply_error(r, 503, "unavailable", lic_errfull(rc));
    return;
  }
  if (ps.token_ok && ps.acct != NULL && !account_rate_ok(r, a, q->account))
    return;
  lic_status st = srv_decide_public(q, &ps, now, atomic_load(&a->hwm), reason, sizeof reason);
  const lic_account *acct = ps.token_ok ? ps.acct : NULL;
  if (acct != NULL) { /* bookkeeping for a real account only: batched */
    if (st == LIC_STATUS_VALID) {
      if (!account_node_ok(r, a, q, now))
        return;
      store_node_seen(a->st, q->account, q->node, now);
      touch(a, q, &g, now);
    } else {
      account_failure(a, q, now, st, reason);
    }
  }
  if (st != LIC_STATUS_CLOCK_ROLLBACK)
    app_clock_note(a, now);
  lic_verdict v;
  verdict_init(&v, q, now, st, reason, acct, used);
  reply_verdict(r, w, &v);
}

/* ---- POST /v1/register ----------------------------------------------------- */

typedef struct {
  srv_deferred *d;
  app *a;
  bool msgpack, unregister;
  srv_verify_req q;
  lic_account acct; /* own copy: the worker's cache may move on */
  int64_t now;
  /* set by apply (it may run twice: assigned, never accumulated) */
  lic_status st;
  char reason[LIC_MAX_REASON + 1];
  size_t used;
  bool claimed; /* a registration: the verdict comes from claim, in done */
  bool removed; /* an unregistration that freed a slot (counted in done) */
  srv_quota_verdict quota; /* a registration refused for the store's room: nothing written */
  uint64_t records;        /* the account's records then */
  store_claim claim;
} reg_op;

static void reg_op_free(reg_op *op) {
  lic_account_clear(&op->acct);
  srv_verify_req_wipe(&op->q);
  free(op);
}

static int reg_apply(store_wtxn *wt, void *arg) {
  reg_op *op = arg;
  store_registration g;
  char subject[STORE_MAX_SUBJECT + 1];
  int rc;

  op->used = 0;
  op->claimed = op->removed = false;
  op->quota = SRV_QUOTA_OK;
  subject_of(op->q.account, op->q.project_id, subject, sizeof subject);
  if (op->unregister) { /* one call: one round trip on PostgreSQL */
    store_release rel;
    if ((rc = store_w_registration_release(wt, op->q.account, op->q.project_id, op->now,
                                           PUB_AUDIT_TOKEN, "registration.remove", subject,
                                           &rel)) != LIC_OK)
      return rc;
    if (rel.outcome == STORE_RELEASE_NO_ACCOUNT) {
      op->st = LIC_STATUS_BAD_CREDENTIALS;
      snprintf(op->reason, sizeof op->reason, "%s", lic_status_reason(op->st));
    } else if (rel.outcome == STORE_RELEASE_REVOKED) {
      op->st = LIC_STATUS_REVOKED;
      snprintf(op->reason, sizeof op->reason, "account was revoked");
    } else {
      op->st = LIC_STATUS_NOT_REGISTERED;
      snprintf(op->reason, sizeof op->reason, "project is not registered (its slot is free)");
      op->used = rel.used;
      op->removed = rel.outcome == STORE_RELEASE_REMOVED;
    }
    return LIC_OK;
  }
  memset(&g, 0, sizeof g);
  memcpy(g.account, op->q.account, LIC_ID_LEN);
  memcpy(g.project_id, op->q.project_id, LIC_ID_LEN);
  snprintf(g.project, sizeof g.project, "%s", op->q.project);
  snprintf(g.domain, sizeof g.domain, "%s", op->q.domain);
  g.created = g.last_valid = op->now;
  /* The account's room in the store (a registration and its audit entry),
   * read in this write transaction: O(1), the count kept by the store. A
   * refusal writes nothing and fails nothing (no replay of the group). */
  store_usage u;
  if ((rc = store_w_usage_get(wt, op->q.account, &u)) != LIC_OK)
    return rc;
  op->records = u.records;
  op->quota = srv_quota_check(&u, atomic_load(&op->a->store_quota), 2);
  if (op->quota != SRV_QUOTA_OK)
    return LIC_OK;
  /* Decided on the one writer, under the account's lock (the store's claim):
   * concurrent registrations, through any process, see each other's slots,
   * so capacity cannot overshoot. The account may have been revoked or
   * deleted since the worker looked. A store that counts in the claim
   * (PostgreSQL, u.counted false above) checks the quota there too. */
  op->claimed = true; /* its outcome is read after the commit (store.h) */
  return store_w_registration_claim(wt, &g, op->acct.capacity, atomic_load(&op->a->store_quota),
                                    PUB_AUDIT_TOKEN, "registration.add", subject, &op->claim);
}

/* The claim's outcome as a verdict (in done: the store may fill it in only
 * when the group commits). */
static void claim_verdict(reg_op *op) {
  op->used = op->claim.used;
  switch (op->claim.outcome) {
  case STORE_CLAIM_NO_ACCOUNT:
    op->st = LIC_STATUS_BAD_CREDENTIALS;
    snprintf(op->reason, sizeof op->reason, "%s", lic_status_reason(op->st));
    break;
  case STORE_CLAIM_REVOKED:
    op->st = LIC_STATUS_REVOKED;
    snprintf(op->reason, sizeof op->reason, "account was revoked");
    break;
  case STORE_CLAIM_EXISTS: /* idempotent: the same project takes no second slot */
    op->st = LIC_STATUS_VALID;
    snprintf(op->reason, sizeof op->reason, "project is registered");
    break;
  case STORE_CLAIM_FULL:
    op->st = LIC_STATUS_CAPACITY_EXHAUSTED;
    snprintf(op->reason, sizeof op->reason, "all %lld registrations of the account are taken",
             (long long)op->acct.capacity);
    break;
  default:
    op->st = LIC_STATUS_VALID;
    snprintf(op->reason, sizeof op->reason, "project registered");
  }
}

static void reg_done(void *arg, int rc, const char *detail) {
  reg_op *op = arg;
  if (rc == LIC_OK && op->claimed && op->claim.outcome == STORE_CLAIM_QUOTA) {
    op->quota = SRV_QUOTA_ACCOUNT; /* refused inside the claim: the same answer */
    op->records = op->claim.records;
  }
  if (rc == LIC_OK && op->quota != SRV_QUOTA_OK) {
    char msg[320];
    if (op->quota == SRV_QUOTA_ACCOUNT)
      snprintf(msg, sizeof msg,
               "this account holds %llu records in the license store, its quota "
               "(account_store_quota = %u): nothing was changed; the operator frees room with "
               "'licsrv purge' or raises account_store_quota",
               (unsigned long long)op->records, atomic_load(&op->a->store_quota));
    else
      snprintf(msg, sizeof msg,
               "the license store is %d%% full and this account (%llu records) is among its "
               "largest: nothing was changed; the operator frees room with 'licsrv purge' or "
               "raises store_map_size",
               SRV_STORE_HEADROOM_PCT, (unsigned long long)op->records);
    srv_reply_deferred_error(op->d, 507, "account_store_full", msg);
    reg_op_free(op);
    return;
  }
  if (rc == LIC_OK && op->claimed)
    claim_verdict(op);
  if (rc == LIC_OK && op->removed) /* a freed slot: one more step of churn */
    srv_nodelimit_note_id(op->a->acctchurn, op->q.account, op->now);
  if (rc == LIC_OK) {
    lic_verdict v;
    bool creds = op->st != LIC_STATUS_BAD_CREDENTIALS;
    verdict_init(&v, &op->q, op->now, op->st, op->reason, creds ? &op->acct : NULL, op->used);
    reply_deferred_verdict(op->a, op->d, op->msgpack, &v);
  } else {
    char q[400];
    srv_log(SRV_LOG_ERROR, op->unregister ? "unregistration_failed" : "registration_failed",
            "error=%s", SRV_LOG_Q(detail != NULL && *detail ? detail : lic_strerror(rc), q));
    /* Unreachable store (PostgreSQL down): 503, nothing stored, retry. A
     * full map: 507, saying what frees room (not a 500: nothing is broken). */
    bool down = rc == LIC_UNAVAILABLE;
    store_stats sst;
    store_stats_get(op->a->st, &sst);
    if (rc == LIC_LIMIT && sst.full)
      srv_reply_deferred_error(op->d, 507, "store_full",
                               "the license store is full: nothing was changed; the operator "
                               "frees room with 'licsrv purge' or raises store_map_size");
    else
      srv_reply_deferred_error(op->d, down ? 503 : 500, down ? "store_unavailable" : "store_error",
                               detail != NULL && *detail ? detail : lic_strerror(rc));
  }
  reg_op_free(op);
}

/* Copy the account for the writer: re-parse from its fields' owner. */
static int account_copy(const lic_account *src, lic_account *dst) {
  uint8_t *body = NULL;
  size_t len = 0;
  int rc = lic_account_pack(src, &body, &len);
  if (rc == LIC_OK)
    rc = lic_account_parse(body, len, dst);
  free(body);
  return rc;
}

static void register_common(srv_req *r, srv_public_kind kind) {
  app_worker *w;
  srv_verify_req q SRV_VERIFY_REQ_WIPED; /* on every exit, a parse failure's too */
  srv_public_state ps;
  store_registration g;
  char reason[LIC_MAX_REASON + 1];
  const uint8_t *body;
  size_t blen, used = 0;
  bool msgpack_in;
  int rc;

  if ((w = route_public_begin(r, &msgpack_in)) == NULL)
    return;
  app *a = w->a;
  if (!a->public_mode) {
    srv_reply_error(r, 404, "not_found", "registration is public mode's; this server is private");
    return;
  }
  int64_t now = (int64_t)time(NULL);
  body = srv_req_body(r, &blen);
  rc = msgpack_in ? srv_public_req_msgpack(body, blen, kind, &q)
                  : srv_public_req_json(body, blen, kind, &q);
  if (rc != LIC_OK) {
    srv_reply_error(r, 400, "bad_request", lic_errdetail()[0] ? lic_errdetail() : lic_strerror(rc));
    return;
  }
  if ((rc = app_public_lookup(w->rd, &w->pcache, &q, &ps, &used, &g)) != LIC_OK) {
    srv_reply_error(r, 503, "unavailable", lic_errfull(rc));
    return;
  }
  OPENSSL_cleanse(q.token, sizeof q.token); /* hashed; not needed further */
  if (ps.token_ok && ps.acct != NULL && !account_rate_ok(r, a, q.account))
    return;
  /* Registrations are bounded by capacity, so bounding the slots an account
   * frees per hour bounds its register/unregister churn, and the audit
   * entries it writes, to about twice that plus its capacity. */
  uint32_t retry = 0;
  if (kind == SRV_PUB_UNREGISTER && ps.token_ok && ps.acct != NULL && ps.registered &&
      !srv_nodelimit_allow_id(a->acctchurn, q.account, now, &retry)) {
    char hdr[48], msg[160];
    snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n", retry);
    snprintf(msg, sizeof msg,
             "too many registrations freed for this account (account_unregisters_per_hour = %u); "
             "retry in %u s",
             srv_nodelimit_get(a->acctchurn), retry);
    srv_reply_error_extra(r, 429, "rate_limited", msg, hdr);
    return;
  }
  lic_status st;
  if (kind == SRV_PUB_REGISTER) {
    st = srv_decide_register(&q, &ps, used, now, atomic_load(&a->hwm), reason, sizeof reason);
  } else {
    /* Unregister needs the credentials only: freeing a slot is always allowed. */
    bool creds = ps.acct != NULL && ps.token_ok;
    st = creds ? LIC_STATUS_VALID : LIC_STATUS_BAD_CREDENTIALS;
    snprintf(reason, sizeof reason, "%s", lic_status_reason(st));
  }
  const lic_account *acct = ps.token_ok ? ps.acct : NULL;
  /* A refusal, or a project that holds its slot already: no write. */
  if (st != LIC_STATUS_VALID || (kind == SRV_PUB_REGISTER && ps.registered)) {
    if (acct != NULL && kind == SRV_PUB_REGISTER && st != LIC_STATUS_VALID)
      account_failure(a, &q, now, st, reason); /* bounded, as a verify's */
    if (acct != NULL && st == LIC_STATUS_VALID)
      touch(a, &q, &g, now);
    lic_verdict v;
    verdict_init(&v, &q, now, st, reason, acct, used);
    reply_verdict(r, w, &v);
    return;
  }
  /* No certified key to sign the answer with: take no slot the client would
   * never hear about. */
  if ((rc = app_public_signer(a->pub, &w->psign, now)) != LIC_OK) {
    srv_reply_error(r, 503, rc == LIC_NOTFOUND ? "no_certificate" : "unavailable",
                    lic_errfull(rc));
    return;
  }
  reg_op *op = calloc(1, sizeof *op);
  if (op == NULL || account_copy(acct, &op->acct) != LIC_OK) {
    if (op != NULL)
      reg_op_free(op);
    srv_reply_error(r, 503, "unavailable", "out of memory");
    return;
  }
  op->a = a;
  op->q = q;
  op->now = now;
  op->unregister = kind == SRV_PUB_UNREGISTER;
  op->msgpack = srv_req_wants_msgpack(r);
  if (!route_submit(r, &op->d, reg_apply, reg_done, op))
    reg_op_free(op);
}

void route_register(srv_req *r) { register_common(r, SRV_PUB_REGISTER); }

void route_unregister(srv_req *r) { register_common(r, SRV_PUB_UNREGISTER); }
