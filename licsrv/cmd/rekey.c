/* cmd/rekey.c - `licsrv rekey` (public mode): a new online key, pending in
 * DATA/online.next.pem until its certificate is imported; the current key
 * keeps signing until then, so a rotation has no gap. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/err.h"
#include "lic/keys.h"

static const char HELP[] =
    "usage: licsrv rekey [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "Public mode: make a new online key, DIR/online.next.pem (0600) and\n"
    "DIR/online.next.pub.pem. Certify the public half with 'licgen certify\n"
    "--pubkey DIR/online.next.pub.pem ...' and import the certificate with\n"
    "'licsrv import': from then on new verdicts are signed with the new key,\n"
    "which becomes DIR/online.pem (the old one is kept as online.prev.pem).\n"
    "Until that import the current key and its certificate stay in use.\n"
    "Refuses while a pending key exists. Works while 'licsrv serve' runs.\n"
    "\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print the result as JSON\n";

int licsrv_cmd_rekey(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"json", no_argument, NULL, 'j'},       {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  licsrv_opts o;
  char keypath[4200], pubpath[4200];
  store *s = NULL;
  store_meta meta;
  lic_key *key = NULL;
  int c, r, ex;

  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt("rekey", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    ;
  if (c < 0)
    return ex;
  if (optind != argc)
    return cli_usage("rekey", "unexpected argument '%s'", argv[optind]);
  if ((ex = licsrv_opts_finish(&o, "rekey")) != EXIT_OK ||
      (ex = licsrv_data_path(&o, LICSRV_ONLINE_NEXT, keypath, sizeof keypath)) != EXIT_OK ||
      (ex = licsrv_data_path(&o, LICSRV_ONLINE_NEXT_PUB, pubpath, sizeof pubpath)) != EXIT_OK)
    return ex;
  if ((ex = licsrv_open_store(&o, STORE_RDONLY, &s)) != EXIT_OK)
    return ex;
  if ((ex = licsrv_read_meta(&o, s, true, &meta)) != EXIT_OK)
    goto out;
  if (strcmp(meta.mode, "public") != 0) {
    ex = cli_error(EXIT_FAIL, o.data, "rekey is for public mode (this server is %s: its node "
                   "key is bound into its license)", meta.mode);
    goto out;
  }
  if (access(keypath, F_OK) == 0) {
    ex = cli_error(EXIT_FAIL, keypath, "a pending key exists already: certify and import it "
                   "first (or remove it)");
    goto out;
  }
  if ((r = lic_key_generate(&key)) != LIC_OK || (r = lic_key_save_private(key, keypath, NULL)) != LIC_OK) {
    ex = cli_lic_error(keypath, r);
    goto out;
  }
  if ((r = lic_key_save_public(key, pubpath)) != LIC_OK) {
    unlink(keypath);
    ex = cli_lic_error(pubpath, r);
    goto out;
  }
  char kid[2 * LIC_KID_LEN + 1];
  lic_kid_hex(lic_key_kid(key), kid);
  if (o.json) {
    ex = cli_json_print(json_pack("{s:s, s:s, s:s}", "kid", kid, "key", keypath, "pubkey", pubpath));
  } else {
    printf("pending online key: %s (kid %s)\ncertify %s, then 'licsrv import' the certificate\n",
           keypath, kid, pubpath);
    ex = EXIT_OK;
  }
out:
  lic_key_free(key);
  store_close(s);
  return ex;
}
