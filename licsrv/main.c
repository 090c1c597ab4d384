/* main.c - licsrv's command dispatch: one table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "serve.h"

typedef struct {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *help;
} licsrv_command;

/* Alphabetical. */
static const licsrv_command COMMANDS[] = {
    {"backup", licsrv_cmd_backup, "hot copy of the store and keys into a new directory"},
    {"export", licsrv_cmd_export, "everything stored about a license or account, as JSON"},
    {"forget", licsrv_cmd_forget, "erase everything about a license or account"},
    {"import", licsrv_cmd_import, "import a license, account or certificate"},
    {"init", licsrv_cmd_init, "create the data directory, the store and the node key"},
    {"purge", licsrv_cmd_purge, "delete node, failure and audit records past retention"},
    {"rif", licsrv_cmd_rif, "write this server machine's registration information file"},
    {"serve", licsrv_cmd_serve, "run the license server (HTTP verify and admin APIs)"},
    {"status", licsrv_cmd_status, "mode, keys, licenses and store size"},
    {"token", licsrv_cmd_token, "add, list or revoke admin API tokens"},
};

static void usage(FILE *f) {
  fputs("usage: licsrv COMMAND [OPTIONS]   (licsrv COMMAND --help for each)\n\ncommands:\n", f);
  for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
    fprintf(f, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].help);
  fputs("\n  --help     this text\n  --version  print the version\n", f);
}

int main(int argc, char **argv) {
  cli_set_tool("licsrv");
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("licsrv %s\n", LIC_VERSION);
    return EXIT_OK;
  }
  for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
    if (strcmp(argv[1], COMMANDS[i].name) == 0)
      return COMMANDS[i].fn(argc - 1, argv + 1);
  return cli_usage(NULL, "unknown command '%s'", argv[1]);
}
