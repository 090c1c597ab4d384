/* cmd/release_node.c - `licsrv release --node N --license L` (a form of
 * release.c): free a node's seat (a squatted name, a retired report server).
 * Durable and audited; a running server's next verify sees it (it watches
 * the audit log for releases, and looks again before denying a seat). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "core/lineage_store.h"
#include "core/request.h"
#include "core/seats.h"
#include "lic/err.h"
#include "lic/util.h"

static const char HELP_NODE[] =
    "usage: licsrv release --node N --license ID [--data DIR] [--store URL] [--config FILE]\n"
    "\n"
    "Free the seat node N holds on license ID at once: when the command returns,\n"
    "the next verify of a running server can take the seat. The node gets a seat\n"
    "again with its next valid check if one is free. Audited as 'release'. A node\n"
    "that checked in the last 2 s may not be in the store yet (the server writes\n"
    "checks in batches): retry then.\n"
    "\n"
    "  --node N       the report-server node name\n"
    "  --license ID   the license id (UUID; in public mode the account id, which\n"
    "                 owns the nodes that check through it)\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` and `store =` from this INI file\n";

static int release_apply(store_wtxn *w, void *arg) { return store_w_node_put(w, arg); }

int licsrv_release_node(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"node", required_argument, NULL, 'n'}, {"license", required_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
  licsrv_opts o;
  store *s = NULL;
  store_reader *rd = NULL;
  store_node n;
  const char *node = NULL, *lic = NULL;
  char subject[STORE_MAX_SUBJECT + 1];
  int c, r, ex;

  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt("release", HELP_NODE, argc, argv, ":h", opts, &o, &ex)) > 0) {
    if (c == 'n')
      node = optarg;
    else if (c == 'l')
      lic = optarg;
  }
  if (c < 0)
    return ex;
  if (optind != argc)
    return cli_usage("release", "unexpected argument '%s'", argv[optind]);
  if (node == NULL || lic == NULL)
    return cli_usage("release", "give --node N and --license ID");
  memset(&n, 0, sizeof n);
  if ((ex = licsrv_parse_id("release", "--license", lic, n.owner)) != EXIT_OK)
    return ex;
  if (srv_node_name_check(node) != LIC_OK)
    return cli_usage("release", "--node: %s", lic_errdetail());
  if ((ex = licsrv_opts_finish(&o, "release")) != EXIT_OK)
    return ex;
  if ((ex = licsrv_open_store(&o, 0, &s)) != EXIT_OK)
    return ex;
  store_node cur;
  if ((r = store_reader_new(s, &rd)) == LIC_OK && (r = store_reader_begin(rd)) == LIC_OK) {
    srv_lineages lin; /* seats belong to the license's lineage */
    if ((r = srv_lineages_read(rd, &lin)) == LIC_OK) {
      srv_lineages_key(&lin, n.owner, n.owner);
      srv_lineages_clear(&lin);
      r = store_node_get(rd, n.owner, node, &cur);
    }
    store_reader_end(rd);
  }
  store_reader_free(rd);
  if (r == LIC_NOTFOUND || (r == LIC_OK && cur.last_seen == 0)) {
    ex = cli_error(EXIT_FAIL, "release", "node '%s' holds no seat of license %s (a check of "
                   "the last %d s may not be in the store yet: retry then)", node, lic,
                   STORE_FLUSH_MS / 1000);
    goto out;
  }
  if (r != LIC_OK) {
    ex = cli_lic_error("release", r);
    goto out;
  }
  n = cur;
  n.last_seen = 0; /* no valid check on record: no seat, also after a restart */
  srv_release_subject(n.owner, n.node, subject, sizeof subject);
  if ((r = licsrv_write_audited(s, release_apply, &n, SRV_RELEASE_ACTION, subject)) != LIC_OK) {
    ex = cli_lic_error("release", r);
    goto out;
  }
  printf("released node %s of license %s\n", node, lic);
  ex = EXIT_OK;
out:
  store_close(s);
  return ex;
}
