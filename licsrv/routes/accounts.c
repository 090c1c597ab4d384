/* routes/accounts.c - the admin API of public mode (SPEC §4.1): accounts
 * import/list/show/revoke/delete, an account's registrations list/release,
 * certificates import/list. Every mutation is audited in its own durable
 * transaction before the reply; none names a token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "core/app.h"
#include "core/public.h"
#include "core/renew.h"
#include "lic/account.h"
#include "lic/cert.h"
#include "lic/envelope.h"
#include "routes/common.h"
#include "routes/routes.h"
#include "util/log.h"

#define ACCT_LIST_MAX 100000 /* rows in one listing */

typedef enum { A_IMPORT, A_REVOKE, A_DELETE, A_RELEASE, A_CERT } acct_kind;

typedef struct {
  srv_deferred *d;
  app *a;
  acct_kind kind;
  uint8_t id[LIC_ID_LEN], project[LIC_ID_LEN];
  uint8_t *env;
  size_t len;
  int64_t now;
  int key_role; /* A_CERT: 0 current key, 1 pending (promoted after the commit) */
  size_t released; /* A_DELETE: registrations freed (assigned by apply) */
  lic_account acct;   /* A_IMPORT: parsed, for the renewal decision */
  pub_import renewal; /* A_IMPORT: what the import did (assigned by apply) */
  bool listed;        /* A_IMPORT: on the kept revocation list, revoked in the same write */
  char token[STORE_MAX_TOKEN_NAME + 1];
  char subject[STORE_MAX_SUBJECT + 1];
} acct_op;

static void op_free(void *arg) {
  acct_op *op = arg;
  free(op->env);
  lic_account_clear(&op->acct);
  free(op);
}

static int op_apply(store_wtxn *wt, void *arg) {
  acct_op *op = arg;
  const char *action = NULL;
  int rc = LIC_OK;
  op->released = 0;
  switch (op->kind) {
  case A_IMPORT:
    /* a later issued renews the account in place; an older one is refused */
    rc = pub_w_account_import(wt, op->env, op->len, &op->acct, op->now, op->token, &op->renewal);
    if (rc == LIC_OK && op->listed)
      rc = store_w_account_revoke(wt, op->id, op->now);
    action = "import";
    break;
  case A_CERT:
    rc = store_w_cert_add(wt, op->id, op->env, op->len, op->now);
    action = "import";
    break;
  case A_REVOKE:
    rc = store_w_account_revoke(wt, op->id, op->now);
    action = "revoke";
    break;
  case A_DELETE: /* a deleted account frees its registrations */
    if ((rc = store_w_account_delete(wt, op->id)) == LIC_OK)
      rc = store_w_registration_delete_all(wt, op->id, &op->released);
    action = "delete";
    break;
  case A_RELEASE:
    rc = store_w_registration_delete(wt, op->id, op->project);
    action = "registration.release";
    break;
  }
  if (rc == LIC_OK)
    rc = store_w_audit_append(wt, op->now, op->token, action, op->subject);
  return rc;
}

static void op_done(void *arg, int rc, const char *detail) {
  acct_op *op = arg;
  if (rc == LIC_OK && op->kind == A_CERT && op->key_role == 1) {
    char dir[SRV_MAX_PATHNAME];
    snprintf(dir, sizeof dir, "%s", srv_server_config(op->a->srv)->data);
    if ((rc = pub_promote_next(dir)) != LIC_OK)
      detail = lic_errdetail();
  }
  if (rc == LIC_OK) {
    char id[LIC_UUID_LEN + 1];
    static const char *const WHAT[] = {"imported", "revoked", "deleted", "released", "imported"};
    lic_uuid_format(op->id, id);
    json_t *o = json_pack("{s:s, s:b}", "id", id, WHAT[op->kind], 1);
    if (op->kind == A_DELETE)
      json_object_set_new(o, "registrations_released", json_integer((json_int_t)op->released));
    if (op->kind == A_CERT)
      json_object_set_new(o, "signs_now", json_boolean(op->key_role == 1));
    if (op->kind == A_IMPORT) {
      json_object_set_new(o, "renewed", json_boolean(op->renewal.kind == PUB_IMPORT_RENEWED));
      json_object_set_new(o, "token_changed", json_boolean(op->renewal.token_changed));
      json_object_set_new(o, "capacity", json_integer(op->acct.capacity));
      if (op->listed) /* on the vendor's revocation list (docs/revocation.md) */
        json_object_set_new(o, "revoked", json_true());
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text != NULL)
      srv_reply_deferred(op->d, 200, "application/json", text, strlen(text));
    else
      srv_reply_deferred_error(op->d, 503, "unavailable", "out of memory");
    free(text);
  } else if (rc == LIC_EXISTS && op->kind == A_IMPORT) {
    /* an envelope older than (or as old as) the stored one: the detail names both */
    srv_reply_deferred_error(op->d, 409, "stale_account",
                             detail != NULL && *detail ? detail : lic_strerror(rc));
  } else {
    srv_reply_deferred_error(op->d, rc == LIC_NOTFOUND ? 404 : rc == LIC_UNAVAILABLE ? 503 : 500,
                             rc == LIC_NOTFOUND      ? "not_found"
                             : rc == LIC_UNAVAILABLE ? "store_unavailable"
                                                     : "store_error",
                             detail != NULL && *detail ? detail : lic_strerror(rc));
  }
  op_free(op);
}

static acct_op *op_new(route_call *c, app_worker *w, acct_kind kind) {
  acct_op *op = calloc(1, sizeof *op);
  if (op == NULL) {
    route_call_error(c, 503, "unavailable", "out of memory");
    return NULL;
  }
  op->a = w->a;
  op->kind = kind;
  op->now = (int64_t)time(NULL);
  return op;
}

/* The token's name is filled in once it was found (route_call_write). */
static void submit(route_call *c, acct_op *op) {
  route_call_write(c, &op->d, op->token, op_apply, op_done, op, op_free);
}

/* Whether this is a public-mode server (else c answers 404, once the token
 * was found). */
static bool begin(route_call *c) {
  if (c->a->public_mode)
    return true;
  route_call_error(c, 404, "not_found", "accounts and certificates are public mode's");
  return false;
}

/* {"id": UUID[, "project_id": UUID]} from a JSON body. */
static bool body_ids(srv_req *r, route_call *c, uint8_t id[LIC_ID_LEN], uint8_t *project) {
  size_t len;
  const uint8_t *b = srv_req_body(r, &len);
  json_error_t e;
  json_t *doc = json_loadb((const char *)b, len, JSON_REJECT_DUPLICATES, &e);
  json_t *v = json_object_get(doc, "id"), *p = json_object_get(doc, "project_id");
  bool ok = json_is_string(v) &&
            lic_uuid_parse(json_string_value(v), json_string_length(v), id) == LIC_OK;
  if (ok && project != NULL)
    ok = json_is_string(p) &&
         lic_uuid_parse(json_string_value(p), json_string_length(p), project) == LIC_OK;
  json_decref(doc);
  if (!ok)
    route_call_error(c, 400, "bad_request",
                     project != NULL ? "send a JSON body {\"id\": \"ACCOUNT-UUID\", \"project_id\": \"UUID\"}"
                                    : "send a JSON body {\"id\": \"ACCOUNT-UUID\"}");
  return ok;
}

static void subject(const char *kind, const uint8_t id[LIC_ID_LEN], const uint8_t *project,
                    char *buf, size_t cap) {
  char u[LIC_UUID_LEN + 1], p[LIC_UUID_LEN + 1];
  lic_uuid_format(id, u);
  if (project != NULL) {
    lic_uuid_format(project, p);
    snprintf(buf, cap, "%s:%s project:%s", kind, u, p);
  } else {
    snprintf(buf, cap, "%s:%s", kind, u);
  }
}

static void account_import_prep(route_call *c, srv_req *r, app_worker *w) {
  if (!begin(c))
    return;
  size_t len, envlen;
  const uint8_t *b = srv_req_body(r, &len);
  uint8_t *env = NULL;
  lic_account acct;
  int rc;
  if ((rc = lic_unarmor_any(b, len, &env, &envlen)) != LIC_OK ||
      (rc = lic_account_open(env, envlen, route_trust(w), &acct)) != LIC_OK) {
    free(env);
    bool trust = rc == LIC_UNTRUSTED || rc == LIC_SIGNATURE;
    char why[700];
    route_call_error(c, trust ? 422 : 400, trust ? "untrusted" : "bad_request",
                     route_trust_error(rc, why, sizeof why));
    return;
  }
  acct_op *op = op_new(c, w, A_IMPORT);
  if (op == NULL) {
    lic_account_clear(&acct);
    free(env);
    return;
  }
  memcpy(op->id, acct.id, LIC_ID_LEN);
  op->listed = lic_revocations_has_account(route_revocations_kept(w, NULL, NULL), acct.id);
  op->acct = acct; /* transferred */
  op->env = env;
  op->len = envlen;
  subject("account", op->id, NULL, op->subject, sizeof op->subject);
  submit(c, op);
}

void route_admin_account_import(srv_req *r) { route_admin_call(r, account_import_prep, NULL); }

static void cert_import_prep(route_call *call, srv_req *r, app_worker *w) {
  if (!begin(call))
    return;
  size_t len, envlen;
  const uint8_t *b = srv_req_body(r, &len);
  uint8_t *env = NULL;
  lic_cert c;
  int rc;
  if ((rc = lic_unarmor_any(b, len, &env, &envlen)) != LIC_OK ||
      (rc = lic_cert_open(env, envlen, route_trust(w), &c)) != LIC_OK) {
    free(env);
    bool trust = rc == LIC_UNTRUSTED || rc == LIC_SIGNATURE;
    char why[700];
    route_call_error(call, trust ? 422 : 400, trust ? "untrusted" : "bad_request",
                     route_trust_error(rc, why, sizeof why));
    return;
  }
  int role = pub_key_role(srv_server_config(w->a->srv)->data, c.pubkey);
  const char *refuse = strcmp(c.role, LIC_CERT_ROLE) != 0 ? "the certificate's role is not verdict"
                       : c.expires <= (int64_t)time(NULL) ? "the certificate has expired"
                       : role != 0 && role != 1
                           ? "the certificate is for another online key than this server's"
                           : NULL;
  if (refuse != NULL) {
    free(env);
    route_call_error(call, 422, "wrong_certificate", refuse);
    return;
  }
  acct_op *op = op_new(call, w, A_CERT);
  if (op == NULL) {
    free(env);
    return;
  }
  memcpy(op->id, c.id, LIC_ID_LEN);
  op->env = env;
  op->len = envlen;
  op->key_role = role;
  uint8_t kid[LIC_KID_LEN];
  char kh[2 * LIC_KID_LEN + 1];
  lic_kid_of(c.pubkey, kid);
  lic_kid_hex(kid, kh);
  snprintf(op->subject, sizeof op->subject, "cert:%s", kh);
  submit(call, op);
}

void route_admin_cert_import(srv_req *r) { route_admin_call(r, cert_import_prep, NULL); }

static void mutate(route_call *c, srv_req *r, app_worker *w, acct_kind kind) {
  uint8_t id[LIC_ID_LEN], project[LIC_ID_LEN];
  if (!begin(c) || !body_ids(r, c, id, kind == A_RELEASE ? project : NULL))
    return;
  acct_op *op = op_new(c, w, kind);
  if (op == NULL)
    return;
  memcpy(op->id, id, LIC_ID_LEN);
  memcpy(op->project, project, kind == A_RELEASE ? LIC_ID_LEN : 0);
  subject("account", id, kind == A_RELEASE ? project : NULL, op->subject, sizeof op->subject);
  submit(c, op);
}

static void revoke_prep(route_call *c, srv_req *r, app_worker *w) { mutate(c, r, w, A_REVOKE); }
static void delete_prep(route_call *c, srv_req *r, app_worker *w) { mutate(c, r, w, A_DELETE); }
static void release_prep(route_call *c, srv_req *r, app_worker *w) { mutate(c, r, w, A_RELEASE); }
void route_admin_account_revoke(srv_req *r) { route_admin_call(r, revoke_prep, NULL); }
void route_admin_account_delete(srv_req *r) { route_admin_call(r, delete_prep, NULL); }
void route_admin_registration_release(srv_req *r) { route_admin_call(r, release_prep, NULL); }

/* Unix seconds and their RFC 3339 twin (SPEC §4.1). */
static void set_time(json_t *o, const char *key, int64_t t) {
  char at[64], ts[21];
  json_object_set_new(o, key, json_integer((json_int_t)t));
  snprintf(at, sizeof at, "%s_at", key);
  if (t == 0) {
    json_object_set_new(o, at, json_null());
  } else {
    lic_time_format(t, ts);
    json_object_set_new(o, at, json_string(ts));
  }
}

typedef struct {
  store_reader *rd;
  json_t *rows;
  bool terms;
} acct_walk;

static json_t *account_json(store_reader *rd, const store_account *sa, bool terms) {
  char id[LIC_UUID_LEN + 1];
  lic_envelope e;
  lic_account a;
  size_t used = 0;
  lic_uuid_format(sa->id, id);
  json_t *o = json_pack("{s:s, s:b}", "id", id, "revoked", sa->revoked_at != 0);
  set_time(o, "imported", sa->imported);
  set_time(o, "revoked", sa->revoked_at);
  json_object_set_new(o, "revoked", json_boolean(sa->revoked_at != 0));
  if (lic_envelope_decode(sa->env, sa->env_len, &e) == LIC_OK &&
      lic_account_parse(e.body, e.body_len, &a) == LIC_OK) {
    store_registration_count(rd, sa->id, &used);
    json_object_set_new(o, "customer", json_string(a.customer));
    json_object_set_new(o, "capacity", json_integer(a.capacity));
    json_object_set_new(o, "registrations", json_integer((json_int_t)used));
    store_usage u;
    if (store_usage_get(rd, sa->id, &u) == LIC_OK && u.counted)
      json_object_set_new(o, "store_records", json_integer((json_int_t)u.records));
    set_time(o, "not_before", a.not_before);
    set_time(o, "expires", a.expires);
    if (terms) { /* the body as signed, token_hash left out: it is not for display */
      lic_mp br = {e.body, e.body_len};
      json_t *b = NULL;
      if (cli_mp_to_json(&br, NULL, 0, &b) == LIC_OK) {
        json_object_del(b, "token_hash");
        json_object_set_new(o, "terms", b);
      }
    }
    lic_account_clear(&a);
  }
  return o;
}

static int acct_cb(const store_account *sa, void *arg) {
  acct_walk *aw = arg;
  json_array_append_new(aw->rows, account_json(aw->rd, sa, aw->terms));
  return json_array_size(aw->rows) >= ACCT_LIST_MAX;
}

static void public_prep(route_call *c, srv_req *r, app_worker *w) {
  (void)r, (void)w;
  begin(c);
}

/* The listing reads the database (every account, each one's count): off the
 * loop on PostgreSQL. */
static void account_list_run(route_call *c, store_reader *rd) {
  acct_walk aw = {rd, json_array(), false};
  int rc = store_account_each(rd, acct_cb, &aw);
  if (rc != LIC_OK && rc != 1) {
    json_decref(aw.rows);
    route_call_store_error(c, rc);
    return;
  }
  route_call_json(c, 200, json_pack("{s:o}", "accounts", aw.rows));
}

void route_admin_account_list(srv_req *r) { route_admin_call(r, public_prep, account_list_run); }

/* The id of a body {"id": UUID} into c->arg. */
static void id_prep(route_call *c, srv_req *r, app_worker *w) {
  (void)w;
  if (!begin(c))
    return;
  if ((c->arg = malloc(LIC_ID_LEN)) == NULL) {
    route_call_error(c, 503, "unavailable", "out of memory");
    return;
  }
  body_ids(r, c, c->arg, NULL);
}

static void account_show_run(route_call *c, store_reader *rd) {
  store_account sa;
  int rc = store_account_get(rd, c->arg, &sa);
  if (rc != LIC_OK) {
    route_call_store_error(c, rc);
    return;
  }
  json_t *o = account_json(rd, &sa, true);
  store_account_clear(&sa);
  route_call_json(c, 200, o);
}

void route_admin_account_show(srv_req *r) { route_admin_call(r, id_prep, account_show_run); }

static int reg_cb(const store_registration *g, void *arg) {
  char p[LIC_UUID_LEN + 1];
  lic_uuid_format(g->project_id, p);
  json_t *o = json_pack("{s:s, s:s, s:s}", "project_id", p, "project", g->project, "domain",
                        g->domain);
  set_time(o, "created", g->created);
  set_time(o, "last_valid", g->last_valid);
  json_array_append_new(arg, o);
  return json_array_size(arg) >= ACCT_LIST_MAX;
}

static void registrations_run(route_call *c, store_reader *rd) {
  const uint8_t *id = c->arg;
  json_t *rows = json_array();
  int rc = store_registration_each(rd, id, reg_cb, rows);
  if (rc != LIC_OK && rc != 1) {
    json_decref(rows);
    route_call_store_error(c, rc);
    return;
  }
  char u[LIC_UUID_LEN + 1];
  lic_uuid_format(id, u);
  route_call_json(c, 200, json_pack("{s:s, s:o}", "account", u, "registrations", rows));
}

void route_admin_registrations(srv_req *r) { route_admin_call(r, id_prep, registrations_run); }

static int cert_cb(const store_cert *sc, void *arg) {
  lic_envelope e;
  lic_cert c;
  char id[LIC_UUID_LEN + 1], kh[2 * LIC_KID_LEN + 1];
  uint8_t kid[LIC_KID_LEN];
  if (lic_envelope_decode(sc->env, sc->env_len, &e) != LIC_OK ||
      lic_cert_parse(e.body, e.body_len, &c) != LIC_OK)
    return 0;
  lic_uuid_format(c.id, id);
  lic_kid_of(c.pubkey, kid);
  lic_kid_hex(kid, kh);
  json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "id", id, "role", c.role, "pubkey_kid", kh,
                        "usable_now", lic_cert_usable(&c, (int64_t)time(NULL)) == LIC_OK);
  set_time(o, "not_before", c.not_before);
  set_time(o, "expires", c.expires);
  set_time(o, "imported", sc->imported);
  json_array_append_new(arg, o);
  return 0;
}

static void cert_list_run(route_call *c, store_reader *rd) {
  json_t *rows = json_array();
  int rc = store_cert_each(rd, cert_cb, rows);
  if (rc != LIC_OK) {
    json_decref(rows);
    route_call_store_error(c, rc);
    return;
  }
  char kid[2 * LIC_KID_LEN + 1], why[200];
  int64_t exp = 0;
  json_t *o = json_pack("{s:o}", "certificates", rows);
  if (app_public_current(c->a->pub, (int64_t)time(NULL), kid, &exp, why, sizeof why) == LIC_OK)
    json_object_set_new(o, "signing_kid", json_string(kid));
  else
    json_object_set_new(o, "signing_error", json_string(why));
  route_call_json(c, 200, o);
}

void route_admin_cert_list(srv_req *r) { route_admin_call(r, public_prep, cert_list_run); }
