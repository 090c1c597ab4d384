/* cmd/rif.c - `licsrv rif`: the license server machine's registration
 * information file, signed by the node key (SPEC §3.2). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/keys.h"
#include "lic/machine.h"
#include "lic/rif.h"

static const char HELP[] =
    "usage: licsrv rif --project P --product X --version V -o RIF [--data DIR] [--config FILE]\n"
    "\n"
    "Write this license server machine's registration information file: its\n"
    "machine code, hashed MAC addresses (masked for display), the node public\n"
    "key and the server's project id, signed by the node key. Send it to your\n"
    "vendor; the license they return is bound to this machine and this key.\n"
    "No host name, user name or IP address is included.\n"
    "\n"
    "  --project P    project name\n"
    "  --product X    product name\n"
    "  --version V    product version (e.g. 11.0.18)\n"
    "  -o, --out RIF     file to write ('-': standard output; --output alike)\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n";

int licsrv_cmd_rif(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'},    {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"project", required_argument, NULL, 'P'}, {"product", required_argument, NULL, 'X'},
      {"version", required_argument, NULL, 'V'}, {"output", required_argument, NULL, 'o'},
      {"out", required_argument, NULL, 'o'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  licsrv_opts o;
  const char *project = NULL, *product = NULL, *version = NULL, *out_path = NULL;
  char keypath[4200], *armored = NULL;
  size_t alen = 0;
  lic_key *key = NULL;
  lic_machine m;
  store *s = NULL;
  store_meta meta;
  int c, r, ex;

  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt("rif", HELP, argc, argv, ":ho:", opts, &o, &ex)) > 0) {
    switch (c) {
    case 'P': project = optarg; break;
    case 'X': product = optarg; break;
    case 'V': version = optarg; break;
    case 'o': out_path = optarg; break;
    }
  }
  if (c < 0)
    return ex;
  if (optind != argc)
    return cli_usage("rif", "unexpected argument '%s'", argv[optind]);
  if (project == NULL || product == NULL || version == NULL || out_path == NULL)
    return cli_usage("rif", "--project, --product, --version and -o are required");
  if ((ex = licsrv_opts_finish(&o, "rif")) != EXIT_OK)
    return ex;
  if ((ex = licsrv_open_store(&o, STORE_RDONLY, &s)) != EXIT_OK)
    return ex;
  if ((ex = licsrv_read_meta(&o, s, true, &meta)) != EXIT_OK)
    goto out;
  if (strcmp(meta.mode, "private") != 0) {
    ex = cli_error(EXIT_FAIL, "rif", "a %s-mode server is not bound to a machine: no RIF", meta.mode);
    goto out;
  }
  if ((ex = licsrv_data_path(&o, LICSRV_NODE_KEY, keypath, sizeof keypath)) != EXIT_OK)
    goto out;
  if ((r = lic_key_load_private(keypath, NULL, &key)) != LIC_OK) {
    ex = cli_lic_error(keypath, r);
    goto out;
  }
  if (memcmp(lic_key_raw_public(key), meta.node_pub, LIC_PUBKEY_LEN) != 0) {
    ex = cli_error(EXIT_FAIL, keypath, "is not the node key recorded in the store");
    goto out;
  }
  if ((r = lic_machine_read(&m)) != LIC_OK) {
    ex = cli_lic_error("machine", r);
    goto out;
  }
  if (m.nmacs == 0) {
    ex = cli_error(EXIT_FAIL, "machine", "no physical network adapter found: a license cannot be bound to it");
    goto out;
  }
  if ((r = lic_rif_make(&m, project, product, version, meta.project_id, "private", key,
                        (int64_t)time(NULL), &armored, &alen)) != LIC_OK) {
    ex = cli_lic_error("rif", r);
    goto out;
  }
  if ((r = lic_file_write(out_path, armored, alen, 0644, 0)) != LIC_OK) {
    ex = cli_lic_error(out_path, r);
    goto out;
  }
  if (strcmp(out_path, "-") != 0)
    fprintf(stderr, "wrote %s (machine code %s, %zu network adapter%s)\n", out_path, m.code,
            m.nmacs, m.nmacs == 1 ? "" : "s");
  ex = EXIT_OK;
out:
  free(armored);
  lic_key_free(key);
  store_close(s);
  return ex;
}
