/* main.c - licctl, run by report servers and designers: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "licctl.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *help;
} CMDS[] = {
    {"activate", licctl_activate, "activate this machine with a designer activation code"},
    {"activation", licctl_activation, "show the designer activation and check it holds here"},
    {"check", licctl_check, "check a local-mode license on this machine (offline)"},
    {"rif", licctl_rif, "export this machine's registration information file"},
    {"verify", licctl_verify, "ask a license server for a signed verdict and check it"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: licctl COMMAND [OPTIONS]\n\n"
             "Registration and license checks for report servers and designers.\n\n"
             "commands:\n");
  for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++)
    fprintf(f, "  %-11s %s\n", CMDS[i].name, CMDS[i].help);
  fprintf(f, "\n'licctl COMMAND --help' shows a command's options. --version prints the version.\n"
             "Every command takes --state DIR (default $XDG_STATE_HOME/licctl or\n"
             "~/.local/state/licctl). Exit status: 0 success, 1 failure or denied, 2 usage.\n");
}

int main(int argc, char **argv) {
  cli_set_tool("licctl");
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("licctl %s\n", LIC_VERSION);
    return EXIT_OK;
  }
  for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++)
    if (strcmp(argv[1], CMDS[i].name) == 0)
      return CMDS[i].fn(argc - 1, argv + 1);
  return cli_usage(NULL, "unknown command '%.40s'", argv[1]);
}
