/* main.c - licsrv: dispatch to a subcommand from one table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "serve.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
} command;

static const command commands[] = {
    {"serve", licsrv_cmd_serve, "run the license server (HTTP verify and admin APIs)"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: licsrv COMMAND [OPTIONS]  (licsrv COMMAND --help)\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
  fprintf(f, "\n  --version  print the version\n  --help     this text\n");
}

int main(int argc, char **argv) {
  cli_set_tool("licsrv");
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("licsrv %s\n", LIC_VERSION);
    return EXIT_OK;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0)
      return commands[i].run(argc - 1, argv + 1);
  return cli_usage(NULL, "unknown command '%s'", argv[1]);
}
