/* cmd/status.c - `licsrv status`: mode, keys, licenses and the store. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/license.h"
#include "core/lineage_store.h"
#include "core/public.h"
#include <time.h>
#include <unistd.h>

static const char HELP[] =
    "usage: licsrv status [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "Show the server mode, the node key id, the project id, the imported\n"
    "licenses (id, customer, expiry and days left, revoked, 'superseded by ID'\n"
    "when a renewal of it is in force; --json: state, lineage, in_force,\n"
    "superseded_by, as licsrv licenses and the admin API; docs/server.md), the\n"
    "store size and schema version (LMDB: bytes used of the map; PostgreSQL: the\n"
    "database's size, pg_database_size).\n"
    "In public mode: the online key that signs now and its certificate's expiry,\n"
    "when the last usable certificate ends (days left; 'renew soon' within 30),\n"
    "a pending key of 'licsrv rekey', the accounts and their registrations.\n"
    "Read-only; safe while the server runs.\n"
    "\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print as JSON\n";

typedef struct {
  json_t *arr;
  bool json;
  int64_t now;
  srv_lineages lin; /* a renewal imported ahead: "renewed", not "renew soon" */
} status_ctx;

typedef struct {
  store_reader *rd;
  size_t accounts, revoked, registrations;
} pub_counts;

static int account_count(const store_account *a, void *arg) {
  pub_counts *c = arg;
  size_t n = 0;
  c->accounts++;
  c->revoked += a->revoked_at != 0;
  if (store_registration_count(c->rd, a->id, &n) == LIC_OK)
    c->registrations += n;
  return 0;
}

/* Public mode: what signs now (the server's own selection) and the counts. */
static int public_status(const licsrv_opts *o, store *s, store_reader *rd, json_t *j) {
  app_public *p = NULL;
  pub_counts c = {rd, 0, 0, 0};
  char kid[2 * LIC_KID_LEN + 1] = "", why[LIC_ERRDETAIL_MAX] = "", exp[21] = "", next[4200];
  int64_t cert_exp = 0, last_end = 0, now = (int64_t)time(NULL);
  int r;
  if ((r = store_account_each(rd, account_count, &c)) != LIC_OK)
    return cli_lic_error("store", r);
  if (app_public_new(s, o->data, &p) != LIC_OK)
    snprintf(why, sizeof why, "%s", lic_errdetail());
  else if (app_public_current(p, now, kid, &cert_exp, why, sizeof why) == LIC_OK)
    lic_time_format(cert_exp, exp);
  if (p != NULL) /* the certificate that ends last warns, as on /healthz (SPEC §4.6) */
    last_end = app_public_cert_end(p, now);
  app_public_free(p);
  int64_t days = last_end != 0 ? licsrv_days_left(last_end, now) : 0;
  char end[21] = "";
  if (last_end != 0)
    lic_time_format(last_end, end);
  snprintf(next, sizeof next, "%s/%s", o->data, LICSRV_ONLINE_NEXT);
  bool pending = access(next, F_OK) == 0;
  if (j != NULL) {
    json_object_set_new(j, "signing_kid", kid[0] ? json_string(kid) : json_null());
    json_object_set_new(j, "cert_expires", json_integer(cert_exp));
    json_object_set_new(j, "cert_expires_at", exp[0] ? json_string(exp) : json_null());
    json_object_set_new(j, "cert_end", last_end != 0 ? json_integer(last_end) : json_null());
    json_object_set_new(j, "cert_end_at", end[0] ? json_string(end) : json_null());
    json_object_set_new(j, "cert_days_left", last_end != 0 ? json_integer(days) : json_null());
    if (why[0] != '\0')
      json_object_set_new(j, "signing_error", json_string(why));
    json_object_set_new(j, "pending_key", json_boolean(pending));
    json_object_set_new(j, "accounts", json_integer((json_int_t)c.accounts));
    json_object_set_new(j, "accounts_revoked", json_integer((json_int_t)c.revoked));
    json_object_set_new(j, "registrations", json_integer((json_int_t)c.registrations));
  } else {
    if (kid[0])
      printf("signing key: %s (certificate expires %s)\n", kid, exp);
    else
      printf("signing key: none: %s\n", why);
    if (last_end != 0)
      printf("last usable certificate ends %s (%lld days left%s)\n", end, (long long)days,
             days < LICSRV_EXPIRY_WARN_DAYS ? ", renew soon" : "");
    printf("pending key: %s\naccounts: %zu (%zu revoked)\nregistrations: %zu\n",
           pending ? LICSRV_ONLINE_NEXT " (import its certificate)" : "none", c.accounts,
           c.revoked, c.registrations);
  }
  return EXIT_OK;
}

static int license_row(const store_license *sl, void *arg) {
  status_ctx *ctx = arg;
  licsrv_terms t;
  char id[LIC_UUID_LEN + 1], exp[11] = "never", left[48] = "";

  /* The envelope was verified at import; show its terms. */
  licsrv_terms_read(sl, &t);
  if (ctx->json) {
    json_t *o = licsrv_license_json(&t, ctx->now);
    if (o != NULL)
      licsrv_license_lineage_json(o, &ctx->lin, &t, ctx->now);
    if (o != NULL && !t.readable)
      json_object_set_new(o, "error", json_string("unreadable license envelope"));
    json_array_append_new(ctx->arr, o);
    return 0;
  }
  lic_uuid_format(sl->id, id);
  if (t.readable && t.expires != 0) {
    int64_t d = licsrv_days_left(t.expires, ctx->now);
    lic_date_format(t.expires, exp);
    bool renewed = srv_lineages_renewed(&ctx->lin, t.id, t.expires);
    if (d >= 0)
      snprintf(left, sizeof left, " (%lld day%s left%s)", (long long)d, d == 1 ? "" : "s",
               renewed                              ? ", renewed"
               : licsrv_expiry_near(&t, ctx->now) ? ", renew soon"
                                                  : "");
    else
      snprintf(left, sizeof left, " (EXPIRED)");
  }
  char until[LIC_UNTIL_LEN], sup[LIC_UUID_LEN + 16 + 1] = "";
  uint8_t by[LIC_ID_LEN];
  lic_until_format(t.expires, until);
  if (licsrv_license_superseded(&ctx->lin, &t, ctx->now, by)) {
    memcpy(sup, "  superseded by ", 16);
    lic_uuid_format(by, sup + 16);
  }
  printf("license %s  %s  %s%s%s%s\n", id, t.readable ? t.customer : "?",
         t.readable ? until : "?", left, sl->revoked ? "  REVOKED" : "", sup);
  return 0;
}

int licsrv_cmd_status(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"json", no_argument, NULL, 'j'},       {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  licsrv_opts o;
  store *s = NULL;
  store_reader *rd = NULL;
  store_meta meta;
  status_ctx ctx;
  uint64_t used = 0, mapsize = 0;
  char kid[2 * LIC_KID_LEN + 1] = "", pid[LIC_UUID_LEN + 1] = "";
  int c, r, ex;

  memset(&ctx, 0, sizeof ctx);
  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt("status", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    ; /* no options of its own */
  if (c < 0)
    return ex;
  if (optind != argc)
    return cli_usage("status", "unexpected argument '%s'", argv[optind]);
  if ((ex = licsrv_opts_finish(&o, "status")) != EXIT_OK)
    return ex;
  if ((ex = licsrv_open_store(&o, STORE_RDONLY, &s)) != EXIT_OK)
    return ex;
  if ((r = store_reader_new(s, &rd)) != LIC_OK || (r = store_reader_begin(rd)) != LIC_OK ||
      (r = store_meta_get(rd, &meta)) != LIC_OK || (r = store_size(s, &used, &mapsize)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  if (meta.has_node_key) {
    lic_kid_hex(meta.node_kid, kid);
    lic_uuid_format(meta.project_id, pid);
  }
  ctx.json = o.json;
  ctx.now = (int64_t)time(NULL);
  bool pg = strcmp(store_backend_name(s), "lmdb") != 0;
  if (o.json) {
    ctx.arr = json_array();
  } else {
    char size[96];
    if (pg) /* no map: what the database takes on disk (pg_database_size) */
      snprintf(size, sizeof size, "postgresql, database size %llu bytes (%.1f MiB)",
               (unsigned long long)used, (double)used / (1024.0 * 1024.0));
    else
      snprintf(size, sizeof size, "%llu bytes used of %llu", (unsigned long long)used,
               (unsigned long long)mapsize);
    printf("data: %s\nmode: %s\n%s key: %s\nproject id: %s\nschema: %u\nstore: %s\n", o.data,
           meta.mode[0] ? meta.mode : "(not initialized)",
           strcmp(meta.mode, "public") == 0 ? "first online" : "node", kid[0] ? kid : "(none)",
           pid[0] ? pid : "(none)", meta.schema, size);
  }
  if ((r = srv_lineages_read(rd, &ctx.lin)) != LIC_OK ||
      (r = store_license_each(rd, license_row, &ctx)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  if (o.json) {
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:o, s:o}", "data", o.data, "mode",
                          meta.mode, "node_kid", kid, "project_id", pid, "schema", (int)meta.schema,
                          "store_backend", store_backend_name(s), "store_bytes", (json_int_t)used,
                          "map_bytes", pg ? json_null() : json_integer((json_int_t)mapsize),
                          "licenses", ctx.arr);
    ctx.arr = NULL;
    if (strcmp(meta.mode, "public") == 0 && (ex = public_status(&o, s, rd, j)) != EXIT_OK) {
      json_decref(j);
      goto out;
    }
    ex = cli_json_print(j);
  } else {
    ex = strcmp(meta.mode, "public") == 0 ? public_status(&o, s, rd, NULL) : EXIT_OK;
  }
out:
  json_decref(ctx.arr);
  srv_lineages_clear(&ctx.lin);
  store_reader_free(rd);
  store_close(s);
  return ex;
}
