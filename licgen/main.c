/* main.c - licgen, the sales-ops tool: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "licgen.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *help;
} CMDS[] = {
    {"codes", licgen_codes, "issue designer activation codes (CSV, ledger of serials)"},
    {"inspect", licgen_inspect, "show any envelope or activation code and check its signature"},
    {"keygen", licgen_keygen, "create a vendor root key pair"},
    {"sign", licgen_sign, "sign a registration information file into a license"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: licgen COMMAND [OPTIONS]\n\n"
             "Signs licenses for licsrv from customers' registration information files.\n\n"
             "commands:\n");
  for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++)
    fprintf(f, "  %-10s %s\n", CMDS[i].name, CMDS[i].help);
  fprintf(f, "\n'licgen COMMAND --help' shows a command's options. --version prints the version.\n"
             "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int main(int argc, char **argv) {
  cli_set_tool("licgen");
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("licgen %s\n", LIC_VERSION);
    return EXIT_OK;
  }
  for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++)
    if (strcmp(argv[1], CMDS[i].name) == 0)
      return CMDS[i].fn(argc - 1, argv + 1);
  return cli_usage(NULL, "unknown command '%.40s'", argv[1]);
}
