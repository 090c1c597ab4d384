/* cmd/nodes.c - `licsrv nodes [--license L]`: report-server nodes, whether
 * each holds a seat now, last valid check and last failure, from the store. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "cmd/table.h"
#include "core/lineage_store.h"

static const char HELP[] =
    "usage: licsrv nodes [--license ID | --account ID] [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "List the report-server nodes that checked in (all licenses, or one): the\n"
    "seat state (held while the last valid check is younger than 2 x heartbeat),\n"
    "last valid check and last failure (UTC). Read from the store, which the\n"
    "running server updates in batches (at most a few seconds behind). Seats\n"
    "belong to a license's lineage (its renewals): its nodes are listed under\n"
    "the lineage's first license (docs/server.md). A check that named no\n"
    "license the server holds is listed under license '-'.\n"
    "\n"
    "  --license ID   only the nodes of this license's lineage (any id of it)\n"
    "  --account ID   public mode: only the nodes of this account (no seats: its\n"
    "                 capacity counts projects)\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print {\"nodes\": [...]} (times as Unix seconds and *_at)\n";

typedef struct {
  store_reader *rd;
  licsrv_table t;
  json_t *arr;
  int64_t now;
  int err;
  bool account; /* --account: owners are accounts */
  srv_lineages lin;
} ctx;

/* Whether a node holds a seat now: its last valid check is younger than
 * twice the heartbeat of the license its lineage answers for. */
static bool holds_seat(const ctx *c, const store_node *n) {
  const lic_license *l = srv_lineages_answer(&c->lin, n->owner, c->now);
  return n->last_seen != 0 && l != NULL && c->now - n->last_seen < 2 * l->heartbeat;
}

static const uint8_t NO_LICENSE[LIC_ID_LEN]; /* a check that resolved none */

static int row(const store_node *n, void *arg) {
  ctx *c = arg;
  char lic[LIC_UUID_LEN + 1], seen[40], fail[40];
  bool seat = !c->account && holds_seat(c, n);
  if (memcmp(n->owner, NO_LICENSE, LIC_ID_LEN) == 0)
    snprintf(lic, sizeof lic, "-");
  else
    lic_uuid_format(n->owner, lic);
  if (c->arr != NULL) {
    json_t *o = json_pack("{s:o, s:s, s:b}", c->account ? "account" : "license",
                          strcmp(lic, "-") == 0 ? json_null() : json_string(lic), "node", n->node,
                          "seat", seat);
    if (o == NULL)
      return c->err = LIC_NOMEM;
    licsrv_json_time(o, "last_valid", n->last_seen);
    if (n->fail_time != 0) {
      json_t *f = json_pack("{s:s, s:s}", "status", n->fail_status, "reason", n->fail_reason);
      if (f != NULL)
        licsrv_json_time(f, "time", n->fail_time);
      json_object_set_new(o, "last_failure", f);
    } else {
      json_object_set_new(o, "last_failure", json_null());
    }
    json_array_append_new(c->arr, o);
    return 0;
  }
  licsrv_time_text(n->last_seen, seen, sizeof seen);
  licsrv_time_text(n->fail_time, fail, sizeof fail);
  const char *cells[] = {lic, n->node, c->account ? "-" : seat ? "held" : "free", seen, fail,
                         n->fail_time != 0 ? n->fail_status : "-"};
  licsrv_table_row(&c->t, cells);
  return 0;
}

int licsrv_cmd_nodes(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'},    {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"license", required_argument, NULL, 'l'}, {"json", no_argument, NULL, 'j'},
      {"account", required_argument, NULL, 'a'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  static const char *const head[] = {"LICENSE", "NODE", "SEAT", "LAST VALID", "LAST FAILURE",
                                     "STATUS", NULL};
  static const char *const head_acct[] = {"ACCOUNT", "NODE", "SEAT", "LAST VALID",
                                          "LAST FAILURE", "STATUS", NULL};
  licsrv_opts o;
  store *s = NULL;
  ctx c;
  uint8_t id[LIC_ID_LEN];
  const char *lic_text = NULL, *acct_text = NULL;
  int ch, ex, r;

  memset(&c, 0, sizeof c);
  licsrv_opts_init(&o);
  while ((ch = licsrv_next_opt("nodes", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    if (ch == 'l')
      lic_text = optarg;
    else if (ch == 'a')
      acct_text = optarg;
  if (ch < 0)
    return ex;
  if (lic_text != NULL && acct_text != NULL)
    return cli_usage("nodes", "give --license or --account, not both");
  if (acct_text != NULL) {
    if ((ex = licsrv_parse_id("nodes", "--account", acct_text, id)) != EXIT_OK)
      return ex;
    c.account = true;
    lic_text = acct_text; /* the owner filter below */
  }
  if (optind != argc)
    return cli_usage("nodes", "unexpected argument '%s'", argv[optind]);
  if (!c.account && lic_text != NULL &&
      (ex = licsrv_parse_id("nodes", "--license", lic_text, id)) != EXIT_OK)
    return ex;
  if ((ex = licsrv_opts_finish(&o, "nodes")) != EXIT_OK ||
      (ex = licsrv_open_store(&o, STORE_RDONLY, &s)) != EXIT_OK)
    return ex;
  c.now = (int64_t)time(NULL);
  licsrv_table_init(&c.t, c.account ? head_acct : head);
  if (o.json && (c.arr = json_array()) == NULL) {
    ex = cli_error(EXIT_FAIL, "output", "out of memory");
    goto out;
  }
  if ((r = store_reader_new(s, &c.rd)) != LIC_OK || (r = store_reader_begin(c.rd)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  if (c.account) {
    store_account sa;
    if ((r = store_account_get(c.rd, id, &sa)) != LIC_OK) {
      ex = r == LIC_NOTFOUND ? cli_error(EXIT_FAIL, lic_text, "no such account on this server")
                             : cli_lic_error("store", r);
      goto out;
    }
    store_account_clear(&sa);
  } else if (lic_text != NULL) {
    store_license sl;
    if ((r = store_license_get(c.rd, id, &sl)) != LIC_OK) {
      ex = r == LIC_NOTFOUND ? cli_error(EXIT_FAIL, lic_text, "no such license on this server")
                             : cli_lic_error("store", r);
      goto out;
    }
    store_license_clear(&sl);
  }
  if (!c.account && (r = srv_lineages_read(c.rd, &c.lin)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  if (!c.account && lic_text != NULL)
    srv_lineages_key(&c.lin, id, id); /* the lineage's nodes */
  if ((r = store_node_each(c.rd, lic_text != NULL ? id : NULL, row, &c)) != LIC_OK ||
      (r = c.err) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  if (o.json) {
    ex = cli_json_print(json_pack("{s:O}", "nodes", c.arr));
  } else {
    ex = licsrv_table_print(&c.t, stdout);
    /* People read the table right after a check and found it empty. */
    fprintf(stderr, "licsrv: note: a running server writes checks to the store every %d s: the "
            "last ones may not show yet\n", STORE_FLUSH_MS / 1000);
  }
out:
  json_decref(c.arr);
  srv_lineages_clear(&c.lin);
  licsrv_table_free(&c.t);
  store_reader_free(c.rd);
  store_close(s);
  return ex;
}
