/* cmd/init.c - `licsrv init`: the data directory, the LMDB environment and the
 * node key (private mode) or online key (public mode), never overwriting. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/keys.h"
#include "lic/util.h"

static const char HELP[] =
    "usage: licsrv init [--data DIR] [--store URL] [--config FILE] [--mode private|public] [--json]\n"
    "\n"
    "Create the data directory (mode 0700), its LMDB store and the server's key:\n"
    "the node key (private mode: its public half goes into the RIF and the\n"
    "license) or the online key (public mode: certify it with 'licgen certify').\n"
    "Writes DIR/node.pem (0600) and DIR/node.pub.pem, or in public mode\n"
    "DIR/online.pem (0600) and DIR/online.pub.pem. Refuses an initialized\n"
    "directory and changes nothing there. With --store URL (public mode) the state\n"
    "lives in that PostgreSQL database: its schema is created when absent, and a\n"
    "store another licsrv initialized is joined (this server gets its own key).\n"
    "\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file (other keys: licsrv serve)\n"
    "  --mode MODE    private (default) or public\n"
    "  --json         print the result as JSON\n";

typedef struct {
  const char *mode;
  const uint8_t *kid, *pub, *project_id;
  int64_t now;
  bool joined; /* the shared store's identity stays; only the audit entry */
} init_op;

static int init_apply(store_wtxn *w, void *arg) {
  init_op *o = arg;
  return o->joined ? LIC_OK : store_w_meta_init(w, o->mode, o->kid, o->pub, o->project_id, o->now);
}

int licsrv_cmd_init(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"mode", required_argument, NULL, 'm'}, {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
  licsrv_opts o;
  const char *mode = "private";
  char keypath[4200], pubpath[4200];
  uint8_t project_id[LIC_ID_LEN];
  lic_key *key = NULL;
  store *s = NULL;
  store_meta meta;
  bool wrote_key = false;
  int c, r, ex;

  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt("init", HELP, argc, argv, ":h", opts, &o, &ex)) > 0) {
    switch (c) {
    case 'm': mode = optarg; break;
    }
  }
  if (c < 0)
    return ex;
  if (optind != argc)
    return cli_usage("init", "unexpected argument '%s'", argv[optind]);
  if (strcmp(mode, "private") != 0 && strcmp(mode, "public") != 0)
    return cli_usage("init", "--mode must be private or public, not '%s'", mode);
  if ((ex = licsrv_opts_finish(&o, "init")) != EXIT_OK)
    return ex;
  bool pub = strcmp(mode, "public") == 0;
  if (o.store != NULL && !pub)
    return cli_usage("init", "--store is for public mode (private mode is LMDB only)");
  if ((ex = licsrv_data_path(&o, pub ? LICSRV_ONLINE_KEY : LICSRV_NODE_KEY, keypath,
                             sizeof keypath)) != EXIT_OK ||
      (ex = licsrv_data_path(&o, pub ? LICSRV_ONLINE_PUB : LICSRV_NODE_PUB, pubpath,
                             sizeof pubpath)) != EXIT_OK)
    return ex;
  char otherpath[4200];
  if ((ex = licsrv_data_path(&o, pub ? LICSRV_NODE_KEY : LICSRV_ONLINE_KEY, otherpath,
                             sizeof otherpath)) != EXIT_OK)
    return ex;
  if (access(otherpath, F_OK) == 0)
    return cli_error(EXIT_FAIL, o.data, "already initialized (%s exists); nothing changed",
                     otherpath);
  /* An existing key means an initialized server: its license is bound to it. */
  if (access(keypath, F_OK) == 0)
    return cli_error(EXIT_FAIL, o.data, "already initialized (%s exists); nothing changed", keypath);
  if ((r = lic_mkdirs(o.data, 0700)) != LIC_OK)
    return cli_lic_error(o.data, r);
  if (chmod(o.data, 0700) != 0)
    return cli_error(EXIT_FAIL, o.data, "%s", strerror(errno));
  if ((ex = licsrv_open_store(&o, STORE_CREATE, &s)) != EXIT_OK)
    return ex;
  if ((ex = licsrv_read_meta(&o, s, false, &meta)) != EXIT_OK)
    goto out;
  /* A shared store initialized by another licsrv: this one brings its own
   * online key (its certificate is imported into the shared store). */
  bool joined = o.store != NULL && meta.has_node_key && strcmp(meta.mode, "public") == 0;
  if (meta.has_node_key && !joined) {
    ex = cli_error(EXIT_FAIL, o.data, "already initialized (the store holds a node key); nothing changed");
    goto out;
  }
  if ((r = lic_key_generate(&key)) != LIC_OK || (r = lic_random(project_id, sizeof project_id)) != LIC_OK) {
    ex = cli_lic_error("key", r);
    goto out;
  }
  if (joined)
    memcpy(project_id, meta.project_id, LIC_ID_LEN);
  if ((r = lic_key_save_private(key, keypath, NULL)) != LIC_OK) {
    ex = cli_lic_error(keypath, r);
    goto out;
  }
  wrote_key = true;
  if ((r = lic_key_save_public(key, pubpath)) != LIC_OK) {
    ex = cli_lic_error(pubpath, r);
    goto out;
  }
  init_op op = {mode, lic_key_kid(key), lic_key_raw_public(key), project_id, (int64_t)time(NULL),
                joined};
  char kid[2 * LIC_KID_LEN + 1], pid[LIC_UUID_LEN + 1], subj[64];
  lic_kid_hex(lic_key_kid(key), kid);
  lic_uuid_format(project_id, pid);
  snprintf(subj, sizeof subj, "%s:%s", pub ? "online_key" : "node_key", kid);
  if ((r = licsrv_write_audited(s, init_apply, &op, "init", subj)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  wrote_key = false; /* committed: keep it */
  if (o.json) {
    ex = cli_json_print(json_pack("{s:s, s:s, s:s, s:s}", "data", o.data, "mode", mode, "kid", kid,
                                  "project_id", pid));
  } else {
    printf("initialized %s (%s mode)\n%s key: %s (kid %s)\nproject id: %s\n", o.data, mode,
           strcmp(mode, "private") == 0 ? "node" : "online", keypath, kid, pid);
    ex = EXIT_OK;
  }
out:
  if (wrote_key) { /* the store did not take it: leave the directory re-initializable */
    unlink(keypath);
    unlink(pubpath);
  }
  store_close(s);
  lic_key_free(key);
  return ex;
}
