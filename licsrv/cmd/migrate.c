/* cmd/migrate.c - `licsrv migrate`: upgrade a PostgreSQL store's schema to
 * this licsrv's version (every other subcommand refuses an older one, so that
 * no process writes rows an older schema cannot hold). An LMDB store is
 * upgraded by any writable open, this one included. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/err.h"

static const char HELP[] =
    "usage: licsrv migrate [--store URL] [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "Upgrade the schema of a PostgreSQL store (public mode) to this version of\n"
    "licsrv, in one transaction; safe to run from several machines at once (one\n"
    "does it, the others wait). Prints the schema version. An LMDB store\n"
    "(DIR/store) is upgraded by any writable open, this one included: a store\n"
    "from before schema 2 gets its registration counts (docs/storage.md).\n"
    "\n"
    "  --store URL    the PostgreSQL store (postgresql://...)\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --config FILE  read `store =` and `data =` from this INI file\n"
    "  --json         print the result as JSON\n";

int licsrv_cmd_migrate(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'}, {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
  licsrv_opts o;
  store *s = NULL;
  store_meta meta;
  int c, ex;

  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt("migrate", HELP, argc, argv, ":h", opts, &o, &ex)) > 0) {
  }
  if (c < 0)
    return ex;
  if (optind != argc)
    return cli_usage("migrate", "unexpected argument '%s'", argv[optind]);
  if ((ex = licsrv_opts_finish(&o, "migrate")) != EXIT_OK)
    return ex;
  if ((ex = licsrv_open_store(&o, STORE_MIGRATE, &s)) != EXIT_OK)
    return ex;
  if ((ex = licsrv_read_meta(&o, s, false, &meta)) != EXIT_OK)
    goto out;
  if (o.json)
    ex = cli_json_print(json_pack("{s:s, s:i}", "store", store_backend_name(s), "schema",
                                  (int)meta.schema));
  else {
    printf("%s store: schema version %u (current)\n", store_backend_name(s), meta.schema);
    ex = EXIT_OK;
  }
out:
  store_close(s);
  return ex;
}
