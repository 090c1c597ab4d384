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

static const char HELP[] =
    "usage: licsrv status [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "Show the server mode, the node key id, the project id, the imported\n"
    "licenses (id, customer, expiry and days left, revoked), the store size and\n"
    "schema version.\n"
    "Read-only; safe while the server runs.\n"
    "\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print as JSON\n";

typedef struct {
  json_t *arr;
  bool json;
  int64_t now;
} status_ctx;

static int license_row(const store_license *sl, void *arg) {
  status_ctx *ctx = arg;
  licsrv_terms t;
  char id[LIC_UUID_LEN + 1], exp[11] = "never", left[48] = "";

  /* The envelope was verified at import; show its terms. */
  licsrv_terms_read(sl, &t);
  if (ctx->json) {
    json_t *o = licsrv_license_json(&t, ctx->now);
    if (o != NULL && !t.readable)
      json_object_set_new(o, "error", json_string("unreadable license envelope"));
    json_array_append_new(ctx->arr, o);
    return 0;
  }
  lic_uuid_format(sl->id, id);
  if (t.readable && t.expires != 0) {
    int64_t d = licsrv_days_left(t.expires, ctx->now);
    lic_date_format(t.expires, exp);
    if (d >= 0)
      snprintf(left, sizeof left, " (%lld day%s left%s)", (long long)d, d == 1 ? "" : "s",
               licsrv_expiry_near(&t, ctx->now) ? ", renew soon" : "");
    else
      snprintf(left, sizeof left, " (EXPIRED)");
  }
  printf("license %s  %s  expires %s%s%s\n", id, t.readable ? t.customer : "?",
         t.readable ? exp : "?", left, sl->revoked ? "  REVOKED" : "");
  return 0;
}

int licsrv_cmd_status(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"json", no_argument, NULL, 'j'},       {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  licsrv_opts o;
  store *s = NULL;
  store_reader *rd = NULL;
  store_meta meta;
  status_ctx ctx = {NULL, false, 0};
  uint64_t used = 0, mapsize = 0;
  char kid[2 * LIC_KID_LEN + 1] = "", pid[LIC_UUID_LEN + 1] = "";
  int c, r, ex;

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
  if (o.json) {
    ctx.arr = json_array();
  } else {
    printf("data: %s\nmode: %s\nnode key: %s\nproject id: %s\nschema: %u\nstore: %llu bytes used of %llu\n",
           o.data, meta.mode[0] ? meta.mode : "(not initialized)", kid[0] ? kid : "(none)",
           pid[0] ? pid : "(none)", meta.schema, (unsigned long long)used,
           (unsigned long long)mapsize);
  }
  if ((r = store_license_each(rd, license_row, &ctx)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  if (o.json) {
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:o}", "data", o.data, "mode",
                          meta.mode, "node_kid", kid, "project_id", pid, "schema", (int)meta.schema,
                          "store_bytes", (json_int_t)used, "map_bytes", (json_int_t)mapsize,
                          "licenses", ctx.arr);
    ctx.arr = NULL;
    ex = cli_json_print(j);
  } else {
    ex = EXIT_OK;
  }
out:
  json_decref(ctx.arr);
  store_reader_free(rd);
  store_close(s);
  return ex;
}
