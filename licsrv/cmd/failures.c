/* cmd/failures.c - `licsrv failures`: the registration failure list, newest
 * first: which node failed a check, when, with which status and reason. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "cmd/table.h"
#include "core/lineage_store.h"
#include "util/array.h"

static const char HELP[] =
    "usage: licsrv failures [--license ID] [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "The registration failure list: every node whose last check failed, newest\n"
    "first, with the time (UTC), the verdict status and the reason. Read from\n"
    "the store, which the running server updates in batches. A license's\n"
    "renewals share its list, under the lineage's first license; a check that\n"
    "named no license the server holds is listed under license '-'\n"
    "(docs/server.md).\n"
    "\n"
    "  --license ID   only the failures of this license's lineage (any id of it)\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print {\"failures\": [...]} (times as Unix seconds and *_at)\n";

typedef struct {
  store_node *v;
  size_t n, cap;
} list;

static int collect(const store_node *n, void *arg) {
  list *l = arg;
  if (n->fail_time == 0)
    return 0;
  /* Every failure the store holds, to sort them newest first: memory is
   * the bound (the array's growth is overflow-checked). A cap of 200,000
   * checked against the doubled capacity failed at 131,072 records. */
  if (srv_array_reserve(&l->v, &l->cap, l->n + 1, 64) != LIC_OK)
    return LIC_NOMEM;
  l->v[l->n++] = *n;
  return 0;
}

static int newest_first(const void *a, const void *b) {
  const store_node *x = a, *y = b;
  return x->fail_time < y->fail_time ? 1 : x->fail_time > y->fail_time ? -1 : strcmp(x->node, y->node);
}

int licsrv_cmd_failures(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'},    {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"license", required_argument, NULL, 'l'}, {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  static const char *const head[] = {"TIME", "LICENSE", "NODE", "STATUS", "REASON", NULL};
  licsrv_opts o;
  store *s = NULL;
  store_reader *rd = NULL;
  licsrv_table t;
  list l = {NULL, 0, 0};
  json_t *arr = NULL;
  uint8_t id[LIC_ID_LEN];
  const char *lic_text = NULL;
  int ch, ex, r;

  licsrv_table_init(&t, head);
  licsrv_opts_init(&o);
  while ((ch = licsrv_next_opt("failures", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    if (ch == 'l')
      lic_text = optarg;
  if (ch < 0)
    return ex;
  if (optind != argc)
    return cli_usage("failures", "unexpected argument '%s'", argv[optind]);
  if (lic_text != NULL && (ex = licsrv_parse_id("failures", "--license", lic_text, id)) != EXIT_OK)
    return ex;
  if ((ex = licsrv_opts_finish(&o, "failures")) != EXIT_OK ||
      (ex = licsrv_open_store(&o, STORE_RDONLY, &s)) != EXIT_OK)
    return ex;
  if ((r = store_reader_new(s, &rd)) != LIC_OK || (r = store_reader_begin(rd)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  if (lic_text != NULL) { /* the lineage's list */
    srv_lineages lin;
    if ((r = srv_lineages_read(rd, &lin)) != LIC_OK) {
      ex = cli_lic_error("store", r);
      goto out;
    }
    srv_lineages_key(&lin, id, id);
    srv_lineages_clear(&lin);
  }
  if ((r = store_node_each(rd, lic_text != NULL ? id : NULL, collect, &l)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  if (l.n > 1) /* qsort of NULL (no failure at all) is undefined */
    qsort(l.v, l.n, sizeof *l.v, newest_first);
  if (o.json && (arr = json_array()) == NULL) {
    ex = cli_error(EXIT_FAIL, "output", "out of memory");
    goto out;
  }
  for (size_t i = 0; i < l.n; i++) {
    static const uint8_t no_license[LIC_ID_LEN]; /* the check resolved none */
    char lic[LIC_UUID_LEN + 1], when[40];
    bool none = memcmp(l.v[i].owner, no_license, LIC_ID_LEN) == 0;
    if (none)
      snprintf(lic, sizeof lic, "-");
    else
      lic_uuid_format(l.v[i].owner, lic);
    if (arr != NULL) {
      json_t *e = json_pack("{s:o, s:s, s:s, s:s}", "license",
                            none ? json_null() : json_string(lic), "node", l.v[i].node, "status",
                            l.v[i].fail_status, "reason", l.v[i].fail_reason);
      if (e != NULL)
        licsrv_json_time(e, "time", l.v[i].fail_time);
      json_array_append_new(arr, e);
      continue;
    }
    licsrv_time_text(l.v[i].fail_time, when, sizeof when);
    const char *cells[] = {when, lic, l.v[i].node, l.v[i].fail_status, l.v[i].fail_reason};
    licsrv_table_row(&t, cells);
  }
  ex = o.json ? cli_json_print(json_pack("{s:O}", "failures", arr)) : licsrv_table_print(&t, stdout);
out:
  json_decref(arr);
  free(l.v);
  licsrv_table_free(&t);
  store_reader_free(rd);
  store_close(s);
  return ex;
}
