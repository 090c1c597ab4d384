/* routes/admin.c - the admin API (SPEC §4.1) on its own listener: bearer
 * tokens, license import/list/show/revoke, nodes, failures, audit log. Every
 * mutation is audited in the same durable transaction, before the reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/app.h"
#include "cli.h"
#include "util/log.h"
#include "lic/envelope.h"
#include "lic/machine.h"
#include "routes/common.h"
#include "routes/routes.h"

/* {"id": "UUID"} from a JSON body. */
static bool body_id(srv_req *r, uint8_t id[LIC_ID_LEN]) {
  size_t len;
  const uint8_t *b = srv_req_body(r, &len);
  json_error_t e;
  json_t *doc = json_loadb((const char *)b, len, JSON_REJECT_DUPLICATES, &e);
  json_t *v = json_object_get(doc, "id");
  bool ok = json_is_string(v) &&
            lic_uuid_parse(json_string_value(v), json_string_length(v), id) == LIC_OK;
  json_decref(doc);
  if (!ok)
    srv_reply_error(r, 400, "bad_request", "send a JSON body {\"id\": \"LICENSE-UUID\"}");
  return ok;
}

/* A durable, audited write answered from the writer thread. */
typedef struct {
  srv_deferred *d;
  uint8_t id[LIC_ID_LEN];
  uint8_t *env;
  size_t len;
  int64_t now;
  bool revoke;
  char token[STORE_MAX_TOKEN_NAME + 1];
  char subject[STORE_MAX_SUBJECT + 1];
} admin_op;

static int op_apply(store_wtxn *wt, void *arg) {
  admin_op *op = arg;
  int rc = op->revoke ? store_w_license_revoke(wt, op->id, op->now)
                      : store_w_license_put(wt, op->id, op->env, op->len, op->now);
  if (rc == LIC_OK)
    rc = store_w_audit_append(wt, op->now, op->token, op->revoke ? "revoke" : "import", op->subject);
  return rc;
}

static void op_done(void *arg, int rc, const char *detail) {
  admin_op *op = arg;
  if (rc == LIC_OK) {
    char id[LIC_UUID_LEN + 1], body[160];
    lic_uuid_format(op->id, id);
    int n = snprintf(body, sizeof body, "{\"id\":\"%s\",\"%s\":true}", id,
                     op->revoke ? "revoked" : "imported");
    srv_reply_deferred(op->d, 200, "application/json", body, (size_t)n);
  } else {
    srv_reply_deferred_error(op->d, rc == LIC_NOTFOUND ? 404 : rc == LIC_UNAVAILABLE ? 503 : 500,
                             rc == LIC_NOTFOUND      ? "not_found"
                             : rc == LIC_UNAVAILABLE ? "store_unavailable"
                                                     : "store_error",
                             detail != NULL && *detail ? detail : lic_strerror(rc));
  }
  free(op->env);
  free(op);
}

static void submit(srv_req *r, admin_op *op) {
  if (!route_submit(r, &op->d, op_apply, op_done, op)) {
    free(op->env);
    free(op);
  }
}

void route_admin_import(srv_req *r) {
  store_token tok;
  app_worker *w = route_admin_begin(r, &tok);
  if (w == NULL)
    return;
  app *a = w->a;
  size_t len, envlen;
  const uint8_t *b = srv_req_body(r, &len);
  uint8_t *env = NULL;
  lic_license l;
  int rc;
  if ((rc = lic_unarmor_any(b, len, &env, &envlen)) != LIC_OK ||
      (rc = lic_license_open(env, envlen, route_trust(w), &l)) != LIC_OK) {
    free(env);
    srv_reply_error(r, rc == LIC_UNTRUSTED || rc == LIC_SIGNATURE ? 422 : 400,
                    rc == LIC_UNTRUSTED || rc == LIC_SIGNATURE ? "untrusted" : "bad_request",
                    lic_errfull(rc));
    return;
  }
  /* A license for this node key but another machine would turn the whole
   * server into machine_mismatch at its next check: refuse it here. */
  lic_machine m;
  const char *refuse = l.mode != LIC_MODE_PRIVATE ? "not a private-mode license"
                       : memcmp(l.node_key, a->meta.node_pub, LIC_PUBKEY_LEN) != 0
                           ? "the license certifies another license server's node key"
                       : lic_machine_read(&m) != LIC_OK ? "cannot read this machine's identity"
                       : !lic_machine_matches(&m, l.machine_code, l.macs, l.nmacs)
                           ? "the license is bound to another machine"
                           : NULL;
  if (refuse != NULL) {
    lic_license_clear(&l);
    free(env);
    srv_reply_error(r, 422, "wrong_license", refuse);
    return;
  }
  admin_op *op = calloc(1, sizeof *op);
  if (op == NULL) {
    lic_license_clear(&l);
    free(env);
    srv_reply_error(r, 503, "unavailable", "out of memory");
    return;
  }
  memcpy(op->id, l.id, LIC_ID_LEN);
  lic_license_clear(&l);
  op->env = env;
  op->len = envlen;
  op->now = (int64_t)time(NULL);
  snprintf(op->token, sizeof op->token, "%s", tok.name);
  char id[LIC_UUID_LEN + 1];
  lic_uuid_format(op->id, id);
  snprintf(op->subject, sizeof op->subject, "license:%s", id);
  submit(r, op);
}

void route_admin_revoke(srv_req *r) {
  store_token tok;
  app_worker *w = route_admin_begin(r, &tok);
  uint8_t id[LIC_ID_LEN];
  if (w == NULL || !body_id(r, id))
    return;
  admin_op *op = calloc(1, sizeof *op);
  if (op == NULL) {
    srv_reply_error(r, 503, "unavailable", "out of memory");
    return;
  }
  memcpy(op->id, id, LIC_ID_LEN);
  op->revoke = true;
  op->now = (int64_t)time(NULL);
  snprintf(op->token, sizeof op->token, "%s", tok.name);
  char u[LIC_UUID_LEN + 1];
  lic_uuid_format(id, u);
  snprintf(op->subject, sizeof op->subject, "license:%s", u);
  submit(r, op);
}

static json_t *license_json(const store_license *sl, bool terms) {
  char id[LIC_UUID_LEN + 1];
  lic_envelope e;
  json_t *o;
  lic_uuid_format(sl->id, id);
  o = json_pack("{s:s, s:I, s:b, s:I}", "id", id, "imported", (json_int_t)sl->imported, "revoked",
                sl->revoked, "revoked_at", (json_int_t)sl->revoked_at);
  if (lic_envelope_decode(sl->env, sl->env_len, &e) == LIC_OK) {
    lic_mp rd = {e.body, e.body_len};
    json_t *b = NULL;
    if (cli_mp_to_json(&rd, NULL, 0, &b) == LIC_OK) {
      if (terms) {
        json_object_set_new(o, "terms", b);
      } else {
        json_object_set(o, "customer", json_object_get(b, "customer"));
        json_object_set(o, "expires", json_object_get(b, "expires"));
        json_object_set(o, "max_nodes", json_object_get(b, "max_nodes"));
        json_object_set(o, "heartbeat", json_object_get(b, "heartbeat")); /* seats: 2 x heartbeat */
        json_decref(b);
      }
    }
  }
  return o;
}

static int list_cb(const store_license *sl, void *arg) {
  json_array_append_new(arg, license_json(sl, false));
  return 0;
}

void route_admin_list(srv_req *r) {
  store_token tok;
  app_worker *w = route_admin_begin(r, &tok);
  if (w == NULL)
    return;
  json_t *a = json_array();
  int rc = store_reader_begin(w->rd);
  if (rc == LIC_OK) {
    rc = store_license_each(w->rd, list_cb, a);
    store_reader_end(w->rd);
  }
  if (rc != LIC_OK) {
    json_decref(a);
    srv_reply_error(r, 500, "store_error", lic_errfull(rc));
    return;
  }
  route_reply_json(r, 200, json_pack("{s:o}", "licenses", a));
}

void route_admin_show(srv_req *r) {
  store_token tok;
  app_worker *w = route_admin_begin(r, &tok);
  uint8_t id[LIC_ID_LEN];
  store_license sl;
  if (w == NULL || !body_id(r, id))
    return;
  int rc = store_reader_begin(w->rd);
  if (rc == LIC_OK) {
    rc = store_license_get(w->rd, id, &sl);
    store_reader_end(w->rd);
  }
  if (rc != LIC_OK) {
    srv_reply_error(r, rc == LIC_NOTFOUND ? 404 : 500, rc == LIC_NOTFOUND ? "not_found" : "store_error",
                    lic_errfull(rc));
    return;
  }
  json_t *o = license_json(&sl, true);
  store_license_clear(&sl);
  route_reply_json(r, 200, o);
}

/* Nodes from the live seat table (fresher than the batched store). */
static void nodes(srv_req *r, bool failures_only) {
  store_token tok;
  app_worker *w = route_admin_begin(r, &tok);
  srv_node *ns;
  size_t n;
  if (w == NULL)
    return;
  if (srv_seats_snapshot(w->a->seats, NULL, false, &ns, &n) != LIC_OK) {
    srv_reply_error(r, 503, "unavailable", "out of memory");
    return;
  }
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) {
    if (failures_only && ns[i].fail_time == 0)
      continue;
    char id[LIC_UUID_LEN + 1];
    lic_uuid_format(ns[i].license, id);
    json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "license", id, "node", ns[i].node, "last_valid",
                          (json_int_t)ns[i].last_valid, "last_seen", (json_int_t)ns[i].last_seen);
    if (ns[i].fail_time != 0)
      json_object_set_new(o, "last_failure",
                          json_pack("{s:I, s:s, s:s}", "time", (json_int_t)ns[i].fail_time, "status",
                                    lic_status_name(ns[i].fail_status), "reason", ns[i].fail_reason));
    json_array_append_new(a, o);
  }
  free(ns);
  route_reply_json(r, 200, json_pack("{s:o}", failures_only ? "failures" : "nodes", a));
}

void route_admin_nodes(srv_req *r) { nodes(r, false); }
void route_admin_failures(srv_req *r) { nodes(r, true); }

static int audit_cb(const store_audit *e, void *arg) {
  json_array_append_new(arg, json_pack("{s:I, s:I, s:s, s:s, s:s}", "seq", (json_int_t)e->seq,
                                       "time", (json_int_t)e->time, "token", e->token, "action",
                                       e->action, "subject", e->subject));
  return json_array_size(arg) >= 10000; /* bounded answer */
}

void route_admin_audit(srv_req *r) {
  store_token tok;
  app_worker *w = route_admin_begin(r, &tok);
  if (w == NULL)
    return;
  json_t *a = json_array();
  int rc = store_reader_begin(w->rd);
  if (rc == LIC_OK) {
    rc = store_audit_each(w->rd, 0, NULL, audit_cb, a);
    store_reader_end(w->rd);
  }
  if (rc != LIC_OK && rc != 1) {
    json_decref(a);
    srv_reply_error(r, 500, "store_error", lic_errfull(rc));
    return;
  }
  route_reply_json(r, 200, json_pack("{s:o}", "audit", a));
}
