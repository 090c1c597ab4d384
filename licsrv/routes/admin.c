/* routes/admin.c - the admin API (SPEC §4.1) on its own listener: bearer
 * tokens, license import/list/show/revoke, nodes, failures, audit log. Every
 * mutation is audited in the same durable transaction, before the reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/app.h"
#include "core/lineage_store.h"
#include "core/request.h"
#include "cli.h"
#include "util/array.h"
#include "util/log.h"
#include "lic/envelope.h"
#include "lic/machine.h"
#include "routes/common.h"
#include "routes/routes.h"

/* {"id": "UUID"} from a JSON body. */
static bool body_id(srv_req *r, route_call *c, uint8_t id[LIC_ID_LEN]) {
  size_t len;
  const uint8_t *b = srv_req_body(r, &len);
  json_error_t e;
  json_t *doc = json_loadb((const char *)b, len, JSON_REJECT_DUPLICATES, &e);
  json_t *v = json_object_get(doc, "id");
  bool ok = json_is_string(v) &&
            lic_uuid_parse(json_string_value(v), json_string_length(v), id) == LIC_OK;
  json_decref(doc);
  if (!ok)
    route_call_error(c, 400, "bad_request", "send a JSON body {\"id\": \"LICENSE-UUID\"}");
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
  bool listed; /* an import on the kept revocation list: revoked in the same write */
  store_import_outcome outcome;
  lic_license lic; /* an import's license, for the binding check */
  char token[STORE_MAX_TOKEN_NAME + 1];
  char subject[STORE_MAX_SUBJECT + 1];
} admin_op;

static void op_free(void *arg);

static int op_apply(store_wtxn *wt, void *arg) {
  admin_op *op = arg;
  int rc = op->revoke ? store_w_license_revoke(wt, op->id, op->now)
                      : store_w_license_import(wt, op->id, op->env, op->len, op->now,
                                               &op->outcome);
  if (rc == LIC_OK && !op->revoke && op->listed)
    rc = store_w_license_revoke(wt, op->id, op->now);
  if (rc == LIC_OK)
    rc = store_w_audit_append(wt, op->now, op->token, op->revoke ? "revoke" : "import", op->subject);
  return rc;
}

static void op_done(void *arg, int rc, const char *detail) {
  admin_op *op = arg;
  if (rc == LIC_OK) {
    char id[LIC_UUID_LEN + 1], body[200];
    lic_uuid_format(op->id, id);
    int n = !op->revoke && op->outcome == STORE_IMPORT_REVOKED
                ? snprintf(body, sizeof body,
                           "{\"id\":\"%s\",\"imported\":false,\"revoked\":true,"
                           "\"message\":\"already imported (revoked)\"}", id)
            : !op->revoke && op->listed
                ? snprintf(body, sizeof body,
                           "{\"id\":\"%s\",\"imported\":true,\"revoked\":true,"
                           "\"message\":\"on the vendor's revocation list\"}", id)
                : snprintf(body, sizeof body, "{\"id\":\"%s\",\"%s\":true}", id,
                           op->revoke ? "revoked" : "imported");
    srv_reply_deferred(op->d, 200, "application/json", body, (size_t)n);
  } else {
    srv_reply_deferred_error(op->d, rc == LIC_NOTFOUND ? 404 : rc == LIC_UNAVAILABLE ? 503 : 500,
                             rc == LIC_NOTFOUND      ? "not_found"
                             : rc == LIC_UNAVAILABLE ? "store_unavailable"
                                                     : "store_error",
                             detail != NULL && *detail ? detail : lic_strerror(rc));
  }
  op_free(op);
}

static void op_free(void *arg) {
  admin_op *op = arg;
  lic_license_clear(&op->lic);
  free(op->env);
  free(op);
}

static void submit(route_call *c, admin_op *op) {
  route_call_write(c, &op->d, op->token, op_apply, op_done, op, op_free);
}

static void import_prep(route_call *c, srv_req *r, app_worker *w) {
  app *a = w->a;
  size_t len, envlen;
  const uint8_t *b = srv_req_body(r, &len);
  uint8_t *env = NULL;
  lic_license l;
  int rc;
  if ((rc = lic_unarmor_any(b, len, &env, &envlen)) != LIC_OK ||
      (rc = lic_license_open(env, envlen, route_trust(w), &l)) != LIC_OK) {
    free(env);
    char why[700];
    route_call_error(c, rc == LIC_UNTRUSTED || rc == LIC_SIGNATURE ? 422 : 400,
                     rc == LIC_UNTRUSTED || rc == LIC_SIGNATURE ? "untrusted" : "bad_request",
                     route_trust_error(rc, why, sizeof why));
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
    route_call_error(c, 422, "wrong_license", refuse);
    return;
  }
  admin_op *op = calloc(1, sizeof *op);
  if (op == NULL) {
    lic_license_clear(&l);
    free(env);
    route_call_error(c, 503, "unavailable", "out of memory");
    return;
  }
  memcpy(op->id, l.id, LIC_ID_LEN);
  op->listed = lic_revocations_has_license(route_revocations_kept(w, NULL, NULL), l.id);
  op->lic = l; /* transferred */
  op->env = env;
  op->len = envlen;
  op->now = (int64_t)time(NULL);
  char id[LIC_UUID_LEN + 1];
  lic_uuid_format(op->id, id);
  snprintf(op->subject, sizeof op->subject, "license:%s", id);
  c->arg = op;
  c->arg_free = op_free;
}

/* With the stored licenses at hand: a renewal keeps the binding of the
 * license it renews (SPEC §4.6), else 422 naming the field. */
static void import_run(route_call *c, store_reader *rd) {
  admin_op *op = c->arg;
  char why[300];
  int rc;
  if (op == NULL)
    return; /* prep answered */
  if ((rc = srv_lineage_import_check(rd, &op->lic, why, sizeof why)) != LIC_OK) {
    if (rc == LIC_INVALID)
      route_call_error(c, 422, "wrong_license", why);
    else
      route_call_store_error(c, rc);
    return;
  }
  c->arg = NULL; /* the write's now */
  submit(c, op);
}

void route_admin_import(srv_req *r) { route_admin_call(r, import_prep, import_run); }

static void revoke_prep(route_call *c, srv_req *r, app_worker *w) {
  uint8_t id[LIC_ID_LEN];
  (void)w;
  if (!body_id(r, c, id))
    return;
  admin_op *op = calloc(1, sizeof *op);
  if (op == NULL) {
    route_call_error(c, 503, "unavailable", "out of memory");
    return;
  }
  memcpy(op->id, id, LIC_ID_LEN);
  op->revoke = true;
  op->now = (int64_t)time(NULL);
  char u[LIC_UUID_LEN + 1];
  lic_uuid_format(id, u);
  snprintf(op->subject, sizeof op->subject, "license:%s", u);
  submit(c, op);
}

void route_admin_revoke(srv_req *r) { route_admin_call(r, revoke_prep, NULL); }

static json_t *license_json(const store_license *sl, bool terms) {
  char id[LIC_UUID_LEN + 1];
  lic_envelope e;
  json_t *o;
  lic_uuid_format(sl->id, id);
  o = json_pack("{s:s, s:I, s:b, s:I}", "id", id, "imported", (json_int_t)sl->imported, "revoked",
                sl->revoked, "revoked_time", (json_int_t)sl->revoked_at);
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

typedef struct {
  json_t *a;
  route_page pg;
  uint8_t after[LIC_ID_LEN];
  char next[LIC_UUID_LEN + 1];
  srv_lineages lin;
  int64_t now;
} license_walk;

/* A license's lineage (SPEC §4.6): its key, the id its nodes and failures
 * are listed under, and whether it is the license in force answering for it. */
static void lineage_json(json_t *o, const license_walk *lw, const uint8_t id[LIC_ID_LEN]) {
  char key[LIC_UUID_LEN + 1];
  uint8_t k[LIC_ID_LEN];
  bool in_force = false;
  const lic_license *l = srv_lineages_answer(&lw->lin, id, lw->now);
  size_t i = srv_lineage_find(&lw->lin.g, id);
  if (l != NULL && i != SRV_LIN_NONE && memcmp(l->id, id, LIC_ID_LEN) == 0)
    in_force = srv_lineage_in_force(&lw->lin.e[i], lw->now);
  srv_lineages_key(&lw->lin, id, k);
  lic_uuid_format(k, key);
  json_object_set_new(o, "lineage", json_string(key));
  json_object_set_new(o, "in_force", json_boolean(in_force));
}

static int list_cb(const store_license *sl, void *arg) {
  license_walk *lw = arg;
  if (lw->pg.has_after && memcmp(sl->id, lw->after, LIC_ID_LEN) <= 0)
    return 0;
  if (json_array_size(lw->a) >= lw->pg.limit)
    return 1; /* one more exists: the page has a next */
  json_t *o = license_json(sl, false);
  if (o != NULL)
    lineage_json(o, lw, sl->id);
  json_array_append_new(lw->a, o);
  lic_uuid_format(sl->id, lw->next);
  return 0;
}

static void walk_free(void *arg) {
  license_walk *lw = arg;
  json_decref(lw->a);
  srv_lineages_clear(&lw->lin);
  free(lw);
}

static void list_prep(route_call *c, srv_req *r, app_worker *w) {
  license_walk *lw = calloc(1, sizeof *lw);
  (void)w;
  if (lw == NULL) {
    route_call_error(c, 503, "unavailable", "out of memory");
    return;
  }
  c->arg = lw;
  c->arg_free = walk_free;
  if (!route_page_args(r, c, &lw->pg))
    return;
  if (lw->pg.has_after && lic_uuid_parse(lw->pg.after, strlen(lw->pg.after), lw->after) != LIC_OK)
    route_call_error(c, 400, "bad_request", "after: a license id (UUID)");
}

static void list_run(route_call *c, store_reader *rd) {
  license_walk *lw = c->arg;
  if ((lw->a = json_array()) == NULL) {
    route_call_error(c, 503, "unavailable", "out of memory");
    return;
  }
  lw->now = (int64_t)time(NULL);
  int rc = srv_lineages_read(rd, &lw->lin);
  if (rc == LIC_OK)
    rc = store_license_each(rd, list_cb, lw);
  if (rc != LIC_OK && rc != 1) {
    route_call_store_error(c, rc);
    return;
  }
  json_t *doc = json_pack("{s:O, s:o}", "licenses", lw->a, "next",
                          rc == 1 ? json_string(lw->next) : json_null());
  route_call_json(c, 200, doc);
}

void route_admin_list(srv_req *r) { route_admin_call(r, list_prep, list_run); }

static void show_prep(route_call *c, srv_req *r, app_worker *w) {
  uint8_t *id = malloc(LIC_ID_LEN);
  (void)w;
  if (id == NULL) {
    route_call_error(c, 503, "unavailable", "out of memory");
    return;
  }
  c->arg = id;
  body_id(r, c, id);
}

static void show_run(route_call *c, store_reader *rd) {
  store_license sl;
  int rc = store_license_get(rd, c->arg, &sl);
  if (rc == LIC_NOTFOUND) {
    route_call_error(c, 404, "not_found", "no such license");
    return;
  }
  if (rc != LIC_OK) {
    route_call_store_error(c, rc);
    return;
  }
  json_t *o = license_json(&sl, true);
  store_license_clear(&sl);
  route_call_json(c, 200, o);
}

void route_admin_show(srv_req *r) { route_admin_call(r, show_prep, show_run); }

/* Page cursors of the node listings: "UUID/NODE" (nodes) or
 * "UUID/TIME/NODE" (failures, newest first within a license). */
typedef struct {
  uint8_t license[LIC_ID_LEN];
  int64_t time;
  char node[LIC_MAX_NAME + 1];
} node_cursor;

static bool cursor_parse(const char *s, bool with_time, node_cursor *c) {
  memset(c, 0, sizeof *c);
  if (strlen(s) < LIC_UUID_LEN + 2 || s[LIC_UUID_LEN] != '/' ||
      lic_uuid_parse(s, LIC_UUID_LEN, c->license) != LIC_OK)
    return false;
  s += LIC_UUID_LEN + 1;
  if (with_time) {
    char *e = NULL;
    if (*s < '0' || *s > '9')
      return false;
    c->time = (int64_t)strtoll(s, &e, 10);
    if (*e != '/')
      return false;
    s = e + 1;
  }
  return snprintf(c->node, sizeof c->node, "%s", s) < (int)sizeof c->node && c->node[0] != '\0';
}

static int fail_cmp(const void *x, const void *y) {
  const srv_failure *a = x, *b = y;
  int d = memcmp(a->license, b->license, LIC_ID_LEN);
  if (d != 0)
    return d;
  if (a->time != b->time)
    return a->time > b->time ? -1 : 1; /* newest first */
  return strcmp(a->node, b->node);
}

static int fail_after(const srv_failure *f, const node_cursor *c) {
  srv_failure k;
  memcpy(k.license, c->license, LIC_ID_LEN);
  k.time = c->time;
  snprintf(k.node, sizeof k.node, "%s", c->node);
  return fail_cmp(f, &k);
}

/* Most recently seen first; then by name, so equal times list stably. */
static int by_last_seen(const void *x, const void *y) {
  const srv_node *a = x, *b = y;
  if (a->last_seen != b->last_seen)
    return a->last_seen > b->last_seen ? -1 : 1;
  return strcmp(a->node, b->node);
}

/* Public mode has no seat table: its nodes (an account's report servers,
 * with their last valid check and last failure) are the store's, read off
 * the loop, a page at a time in (account, node) order like the seats'. */
typedef struct {
  route_page pg;
  node_cursor cur;
  store_node *v;
  size_t n, cap;
  int rc;
} store_nodes;

static int node_key_cmp(const uint8_t *oa, const char *na, const uint8_t *ob, const char *nb) {
  int d = memcmp(oa, ob, LIC_ID_LEN);
  return d != 0 ? d : strcmp(na, nb);
}

static int pub_node_cb(const store_node *n, void *arg) {
  store_nodes *q = arg;
  if (q->pg.has_after && node_key_cmp(n->owner, n->node, q->cur.license, q->cur.node) <= 0)
    return 0;
  if (srv_array_reserve(&q->v, &q->cap, q->n + 1, 256) != LIC_OK)
    return q->rc = LIC_NOMEM;
  q->v[q->n++] = *n;
  return 0;
}

static int store_node_sort(const void *x, const void *y) {
  const store_node *a = x, *b = y;
  return node_key_cmp(a->owner, a->node, b->owner, b->node);
}

static void store_nodes_free(void *arg) {
  store_nodes *q = arg;
  if (q != NULL)
    free(q->v);
  free(q);
}

static void store_nodes_run(route_call *c, store_reader *rd) {
  store_nodes *q = c->arg;
  if (q == NULL) /* private mode: prep answered from the seat table */
    return;
  int rc = store_node_each(rd, NULL, pub_node_cb, q);
  if (rc != LIC_OK || q->rc != LIC_OK) {
    route_call_store_error(c, rc != LIC_OK ? rc : q->rc);
    return;
  }
  if (q->n > 1)
    qsort(q->v, q->n, sizeof *q->v, store_node_sort);
  size_t n = q->n < q->pg.limit ? q->n : q->pg.limit;
  char next[LIC_UUID_LEN + LIC_MAX_NAME + 8] = "";
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) {
    const store_node *s = &q->v[i];
    char id[LIC_UUID_LEN + 1];
    lic_uuid_format(s->owner, id);
    json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "license", id, "node", s->node, "last_valid",
                          (json_int_t)s->last_seen, "last_seen",
                          (json_int_t)(s->fail_time > s->last_seen ? s->fail_time : s->last_seen));
    if (s->fail_time != 0)
      json_object_set_new(o, "last_failure", json_pack("{s:I, s:s, s:s}", "time",
                                                       (json_int_t)s->fail_time, "status",
                                                       s->fail_status, "reason", s->fail_reason));
    json_array_append_new(a, o);
    snprintf(next, sizeof next, "%s/%s", id, s->node);
  }
  route_call_json(c, 200, json_pack("{s:o, s:o}", "nodes", a, "next",
                                    q->n > n ? json_string(next) : json_null()));
}

/* Nodes from the live seat table (fresher than the batched store), a page at
 * a time in (license, node) order (this runs on the admin loop); in public
 * mode from the store (store_nodes_run). */
static void nodes_prep(route_call *c, srv_req *r, app_worker *w) {
  route_page pg;
  node_cursor cur = {{0}, 0, ""};
  srv_node *ns;
  size_t n;
  if (!route_page_args(r, c, &pg))
    return;
  if (pg.has_after && !cursor_parse(pg.after, false, &cur)) {
    route_call_error(c, 400, "bad_request", "after: LICENSE-UUID/NODE (a page's next)");
    return;
  }
  if (w->a->public_mode) {
    store_nodes *q = calloc(1, sizeof *q);
    if (q == NULL) {
      route_call_error(c, 503, "unavailable", "out of memory");
      return;
    }
    q->pg = pg;
    q->cur = cur;
    c->arg = q;
    c->arg_free = store_nodes_free;
    return;
  }
  bool more;
  if (srv_seats_page(w->a->seats, pg.has_after ? cur.license : NULL, cur.node, pg.limit, &ns, &n,
                     &more) != LIC_OK) {
    route_call_error(c, 503, "unavailable", "out of memory");
    return;
  }
  /* The page is the next keys in (license, node) order, so the cursor is its
   * last key; shown most recently seen first. */
  char next[LIC_UUID_LEN + LIC_MAX_NAME + 8] = "";
  if (n > 0) {
    char lid[LIC_UUID_LEN + 1];
    lic_uuid_format(ns[n - 1].license, lid);
    snprintf(next, sizeof next, "%s/%s", lid, ns[n - 1].node);
  }
  if (n > 1) /* ns may be NULL when there is no node */
    qsort(ns, n, sizeof *ns, by_last_seen);
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) {
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
  route_call_json(c, 200, json_pack("{s:o, s:o}", "nodes", a, "next",
                                    more ? json_string(next) : json_null()));
}

/* The seat table is memory: built on the loop, sent once the token is found. */
void route_admin_nodes(srv_req *r) { route_admin_call(r, nodes_prep, store_nodes_run); }

/* The failure lists: per license the most recent failing nodes, newest
 * first, a page at a time. */
static void failures_prep(route_call *c, srv_req *r, app_worker *w) {
  route_page pg;
  node_cursor cur;
  srv_failure *fs;
  size_t n;
  if (!route_page_args(r, c, &pg))
    return;
  if (pg.has_after && !cursor_parse(pg.after, true, &cur)) {
    route_call_error(c, 400, "bad_request", "after: LICENSE-UUID/TIME/NODE (a page's next)");
    return;
  }
  if (srv_seats_failures(w->a->seats, NULL, &fs, &n) != LIC_OK) {
    route_call_error(c, 503, "unavailable", "out of memory");
    return;
  }
  qsort(fs, n, sizeof *fs, fail_cmp);
  size_t i = 0;
  while (pg.has_after && i < n && fail_after(&fs[i], &cur) <= 0)
    i++;
  json_t *a = json_array();
  char next[LIC_UUID_LEN + LIC_MAX_NAME + 32] = "";
  size_t end = i + pg.limit < n ? i + pg.limit : n;
  for (; i < end; i++) {
    char id[LIC_UUID_LEN + 1];
    lic_uuid_format(fs[i].license, id);
    json_array_append_new(
        a, json_pack("{s:s, s:s, s:I, s:{s:I, s:s, s:s}}", "license", id, "node", fs[i].node,
                     "last_seen", (json_int_t)fs[i].time, "last_failure", "time",
                     (json_int_t)fs[i].time, "status", lic_status_name(fs[i].status), "reason",
                     fs[i].reason));
    snprintf(next, sizeof next, "%s/%lld/%s", id, (long long)fs[i].time, fs[i].node);
  }
  bool more = end < n;
  free(fs);
  route_call_json(c, 200, json_pack("{s:o, s:o}", "failures", a, "next",
                                    more ? json_string(next) : json_null()));
}

void route_admin_failures(srv_req *r) { route_admin_call(r, failures_prep, NULL); }

/* POST /v1/admin/nodes/release {"license": UUID, "node": NAME}: the seat is
 * free at once (memory), and the node's stored record loses its last valid
 * check so a restart does not give the seat back. */
typedef struct {
  srv_deferred *d;
  app *a;
  store_node n;
  char token[STORE_MAX_TOKEN_NAME + 1];
  bool audited; /* the first run audits; a second run beats a batched heartbeat */
} release_op;

static int release_apply(store_wtxn *wt, void *arg) {
  release_op *op = arg;
  char subject[STORE_MAX_SUBJECT + 1];
  int rc;
  if (srv_seats_known(op->a->seats, op->n.owner, op->n.node))
    return LIC_OK; /* it came back with a valid check meanwhile: that seat is its own */
  if ((rc = store_w_node_put(wt, &op->n)) != LIC_OK || op->audited)
    return rc;
  srv_release_subject(op->n.owner, op->n.node, subject, sizeof subject);
  return store_w_audit_append(wt, store_wtxn_now(wt), op->token, SRV_RELEASE_ACTION, subject);
}

static void release_again_done(void *arg, int rc, const char *detail) {
  (void)rc;
  (void)detail;
  free(arg);
}

static void release_done(void *arg, int rc, const char *detail) {
  release_op *op = arg;
  if (rc == LIC_OK) {
    char id[LIC_UUID_LEN + 1];
    lic_uuid_format(op->n.owner, id);
    json_t *o = json_pack("{s:s, s:s, s:b}", "license", id, "node", op->n.node, "released", 1);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text != NULL)
      srv_reply_deferred(op->d, 200, "application/json", text, strlen(text));
    else
      srv_reply_deferred_error(op->d, 503, "unavailable", "out of memory");
    free(text);
    /* A heartbeat of the node batched before the release may be flushed
     * after it: write the record once more in a later group. */
    op->audited = true;
    op->d = NULL;
    if (store_submit(op->a->st, release_apply, release_again_done, op) == LIC_OK)
      return;
  } else {
    srv_reply_deferred_error(op->d, 500, "store_error",
                             detail != NULL && *detail ? detail : lic_strerror(rc));
  }
  free(op);
}

static void release_prep(route_call *c, srv_req *r, app_worker *w) {
  size_t len;
  const uint8_t *b = srv_req_body(r, &len);
  json_error_t e;
  json_t *doc = json_loadb((const char *)b, len, JSON_REJECT_DUPLICATES, &e);
  json_t *lv = json_object_get(doc, "license"), *nv = json_object_get(doc, "node");
  uint8_t id[LIC_ID_LEN];
  bool ok = json_is_string(lv) && json_is_string(nv) &&
            lic_uuid_parse(json_string_value(lv), json_string_length(lv), id) == LIC_OK &&
            json_string_length(nv) == strlen(json_string_value(nv)) &&
            srv_node_name_check(json_string_value(nv)) == LIC_OK;
  release_op *op = ok ? calloc(1, sizeof *op) : NULL;
  if (op != NULL) {
    memcpy(op->n.owner, id, LIC_ID_LEN);
    snprintf(op->n.node, sizeof op->n.node, "%s", json_string_value(nv));
  }
  json_decref(doc);
  if (!ok) {
    route_call_error(c, 400, "bad_request",
                     "send a JSON body {\"license\": \"LICENSE-UUID\", \"node\": \"NODE\"}");
    return;
  }
  if (op == NULL) {
    route_call_error(c, 503, "unavailable", "out of memory");
    return;
  }
  op->a = w->a;
  c->arg = op;
}

/* After the token was found: the seat is freed only for a known caller. */
static void release_run(route_call *c, store_reader *rd) {
  release_op *op = c->arg;
  srv_lineages lin; /* seats belong to the license's lineage: any id of it */
  if (srv_lineages_read(rd, &lin) == LIC_OK) {
    srv_lineages_key(&lin, op->n.owner, op->n.owner);
    srv_lineages_clear(&lin);
  }
  if (!srv_seats_release(op->a->seats, op->n.owner, op->n.node)) {
    route_call_error(c, 404, "not_found", "no such node holds or held a seat of that license");
    return;
  }
  c->arg = NULL; /* the write's now */
  route_call_write(c, &op->d, op->token, release_apply, release_done, op, free);
}

void route_admin_release(srv_req *r) { route_admin_call(r, release_prep, release_run); }

typedef struct {
  json_t *a;
  route_page pg;
  uint64_t after, last;
} audit_walk;

static int audit_cb(const store_audit *e, void *arg) {
  audit_walk *aw = arg;
  if (aw->pg.has_after && e->seq <= aw->after)
    return 0;
  if (json_array_size(aw->a) >= aw->pg.limit)
    return 1; /* one more exists */
  json_array_append_new(aw->a, json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:I}", "seq",
                                         (json_int_t)e->seq, "time", (json_int_t)e->time, "token",
                                         e->token, "action", e->action, "subject", e->subject,
                                         "count", (json_int_t)(e->count > 1 ? e->count : 1),
                                         "last", (json_int_t)(e->count > 1 ? e->last : e->time)));
  aw->last = e->seq;
  return 0;
}

static void audit_free(void *arg) {
  audit_walk *aw = arg;
  json_decref(aw->a);
  free(aw);
}

static void audit_prep(route_call *c, srv_req *r, app_worker *w) {
  audit_walk *aw = calloc(1, sizeof *aw);
  (void)w;
  if (aw == NULL) {
    route_call_error(c, 503, "unavailable", "out of memory");
    return;
  }
  c->arg = aw;
  c->arg_free = audit_free;
  if (!route_page_args(r, c, &aw->pg) || !aw->pg.has_after)
    return;
  char *e = NULL;
  aw->after = strtoull(aw->pg.after, &e, 10);
  if (aw->pg.after[0] < '0' || aw->pg.after[0] > '9' || *e != '\0')
    route_call_error(c, 400, "bad_request", "after: an audit seq (a page's next)");
}

static void audit_run(route_call *c, store_reader *rd) {
  audit_walk *aw = c->arg;
  if ((aw->a = json_array()) == NULL) {
    route_call_error(c, 503, "unavailable", "out of memory");
    return;
  }
  int rc = store_audit_each(rd, 0, NULL, audit_cb, aw);
  if (rc != LIC_OK && rc != 1) {
    route_call_store_error(c, rc);
    return;
  }
  char next[24];
  snprintf(next, sizeof next, "%llu", (unsigned long long)aw->last);
  route_call_json(c, 200, json_pack("{s:O, s:o}", "audit", aw->a, "next",
                                    rc == 1 ? json_string(next) : json_null()));
}

void route_admin_audit(srv_req *r) { route_admin_call(r, audit_prep, audit_run); }
