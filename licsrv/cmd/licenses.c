/* cmd/licenses.c - `licsrv licenses`: the imported licenses, their terms and
 * how many days each has left, read from the store (safe while serving). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "cmd/table.h"
#include "core/expiry.h"
#include "core/lineage_store.h"

static const char HELP[] =
    "usage: licsrv licenses [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "List the imported licenses: id, customer, expiry (UTC) and days left,\n"
    "max nodes, heartbeat, and state (active, expired, not yet valid, revoked,\n"
    "or superseded: active, but a renewal of it is in force and answers for its\n"
    "lineage; docs/server.md). --json adds each license's lineage (the id its\n"
    "nodes are listed under) and the license it supersedes.\n"
    "Read-only; safe while the server runs.\n"
    "\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print {\"licenses\": [...]} (times as Unix seconds and *_at)\n";

typedef struct {
  licsrv_table t;
  json_t *arr;
  int64_t now;
  srv_lineages lin;
} ctx;

bool licsrv_license_superseded(const srv_lineages *lin, const licsrv_terms *t, int64_t now,
                               uint8_t by[LIC_ID_LEN]) {
  const lic_license *in = srv_lineages_answer(lin, t->id, now);
  if (strcmp(licsrv_license_state(t, now), "active") != 0 || in == NULL ||
      memcmp(in->id, t->id, LIC_ID_LEN) == 0)
    return false;
  memcpy(by, in->id, LIC_ID_LEN);
  return true;
}

void licsrv_license_lineage_json(json_t *o, const srv_lineages *lin, const licsrv_terms *t,
                                 int64_t now) {
  char key[LIC_UUID_LEN + 1], sup[LIC_UUID_LEN + 1], bys[LIC_UUID_LEN + 1];
  uint8_t k[LIC_ID_LEN], by[LIC_ID_LEN];
  size_t i = srv_lineage_find(&lin->g, t->id);
  const lic_license *in = srv_lineages_answer(lin, t->id, now);
  bool superseded = licsrv_license_superseded(lin, t, now, by);
  bool in_force = i != SRV_LIN_NONE && in != NULL && memcmp(in->id, t->id, LIC_ID_LEN) == 0 &&
                  srv_lineage_in_force(&lin->e[i], now);
  srv_lineages_key(lin, t->id, k);
  lic_uuid_format(k, key);
  if (i != SRV_LIN_NONE && lin->l[i].has_supersedes)
    lic_uuid_format(lin->l[i].supersedes, sup);
  if (superseded) {
    lic_uuid_format(by, bys);
    json_object_set_new(o, "state", json_string("superseded"));
  }
  json_object_set_new(o, "lineage", json_string(key));
  json_object_set_new(o, "supersedes", i != SRV_LIN_NONE && lin->l[i].has_supersedes
                                           ? json_string(sup)
                                           : json_null());
  json_object_set_new(o, "superseded_by", superseded ? json_string(bys) : json_null());
  json_object_set_new(o, "in_force", json_boolean(in_force));
}

const char *licsrv_license_state(const licsrv_terms *t, int64_t now) {
  if (t->revoked)
    return "revoked";
  if (!t->readable)
    return "unreadable";
  if (t->expires != 0 && now >= t->expires)
    return "expired";
  if (t->not_before != 0 && now < t->not_before)
    return "not yet valid";
  return "active";
}

json_t *licsrv_license_json(const licsrv_terms *t, int64_t now) {
  char id[LIC_UUID_LEN + 1];
  lic_uuid_format(t->id, id);
  json_t *o = json_pack("{s:s, s:s, s:b}", "id", id, "state", licsrv_license_state(t, now),
                        "revoked", t->revoked);
  if (o == NULL)
    return NULL;
  licsrv_json_time(o, "imported", t->imported);
  licsrv_json_time(o, "revoked", t->revoked_at);
  json_object_set_new(o, "revoked", json_boolean(t->revoked)); /* the flag, not the time */
  if (t->readable) {
    json_object_set_new(o, "customer", json_string(t->customer));
    licsrv_json_time(o, "expires", t->expires);
    licsrv_json_time(o, "not_before", t->not_before);
    json_object_set_new(o, "days_left", t->expires == 0 ? json_null()
                                                        : json_integer(licsrv_days_left(t->expires, now)));
    json_object_set_new(o, "max_nodes", json_integer(t->max_nodes));
    json_object_set_new(o, "heartbeat", json_integer(t->heartbeat));
  }
  return o;
}

static int row(const store_license *sl, void *arg) {
  ctx *c = arg;
  licsrv_terms t;
  char id[LIC_UUID_LEN + 1], exp[40], days[32], maxn[24], hb[24];
  licsrv_terms_read(sl, &t);
  if (c->arr != NULL) {
    json_t *o = licsrv_license_json(&t, c->now);
    if (o != NULL)
      licsrv_license_lineage_json(o, &c->lin, &t, c->now);
    json_array_append_new(c->arr, o);
    return 0;
  }
  lic_uuid_format(t.id, id);
  if (!t.readable) {
    snprintf(exp, sizeof exp, "?");
    snprintf(days, sizeof days, "?");
  } else if (t.expires == 0) {
    snprintf(exp, sizeof exp, "never");
    snprintf(days, sizeof days, "-");
  } else {
    licsrv_time_text(t.expires, exp, sizeof exp);
    snprintf(days, sizeof days, "%lld", (long long)licsrv_days_left(t.expires, c->now));
  }
  snprintf(maxn, sizeof maxn, t.max_nodes == 0 ? "unlimited" : "%lld", (long long)t.max_nodes);
  snprintf(hb, sizeof hb, "%llds", (long long)t.heartbeat);
  uint8_t by[LIC_ID_LEN];
  const char *cells[] = {id, t.readable ? t.customer : "?", exp, days, maxn, hb,
                         licsrv_license_superseded(&c->lin, &t, c->now, by)
                             ? "superseded"
                             : licsrv_license_state(&t, c->now)};
  licsrv_table_row(&c->t, cells);
  return 0;
}

int licsrv_cmd_licenses(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"json", no_argument, NULL, 'j'},       {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  static const char *const head[] = {"ID", "CUSTOMER", "EXPIRES", "DAYS LEFT", "MAX NODES",
                                     "HEARTBEAT", "STATE", NULL};
  licsrv_opts o;
  store *s = NULL;
  store_reader *rd = NULL;
  ctx c;
  int ch, ex, r;

  memset(&c, 0, sizeof c);
  licsrv_opts_init(&o);
  while ((ch = licsrv_next_opt("licenses", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    ;
  if (ch < 0)
    return ex;
  if (optind != argc)
    return cli_usage("licenses", "unexpected argument '%s'", argv[optind]);
  if ((ex = licsrv_opts_finish(&o, "licenses")) != EXIT_OK ||
      (ex = licsrv_open_store(&o, STORE_RDONLY, &s)) != EXIT_OK)
    return ex;
  c.now = (int64_t)time(NULL);
  licsrv_table_init(&c.t, head);
  if (o.json && (c.arr = json_array()) == NULL) {
    ex = cli_error(EXIT_FAIL, "output", "out of memory");
    goto out;
  }
  if ((r = store_reader_new(s, &rd)) != LIC_OK || (r = store_reader_begin(rd)) != LIC_OK ||
      (r = srv_lineages_read(rd, &c.lin)) != LIC_OK ||
      (r = store_license_each(rd, row, &c)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  if (o.json) {
    ex = cli_json_print(json_pack("{s:O}", "licenses", c.arr));
  } else {
    ex = licsrv_table_print(&c.t, stdout);
  }
out:
  json_decref(c.arr);
  srv_lineages_clear(&c.lin);
  licsrv_table_free(&c.t);
  store_reader_free(rd);
  store_close(s);
  return ex;
}
