/* cli.c - shared plumbing of licgen, licctl and licsrv's command line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lic/err.h"

static const char *tool = "lic";
static const char *subcmd = NULL;

void cli_set_tool(const char *t) { tool = t; }
const char *cli_tool(void) { return tool; }

int cli_error(int code, const char *what, const char *fmt, ...) {
  va_list ap;
  char why[512];
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  /* One line, always: strip any newline a detail may carry. */
  for (char *p = why; *p != '\0'; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  if (what != NULL && *what != '\0')
    fprintf(stderr, "%s: error: %s: %s\n", tool, what, why);
  else
    fprintf(stderr, "%s: error: %s\n", tool, why);
  return code;
}

int cli_lic_error(const char *what, int rc) {
  int code = rc == LIC_INVALID ? EXIT_USAGE : EXIT_FAIL;
  return cli_error(code, what, "%s", lic_errfull(rc));
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  char why[512];
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  (void)subcmd;
  fprintf(stderr, "%s: error: %s%s%s (see '%s %s%s--help')\n", tool, cmd ? cmd : "",
          cmd ? ": " : "", why, tool, cmd ? cmd : "", cmd ? " " : "");
  return EXIT_USAGE;
}

void cli_trust_init(cli_trust *ct) {
  ct->replaced = false;
  if (lic_trust_builtin(&ct->t) != LIC_OK)
    lic_trust_init(&ct->t);
}

int cli_trust_add(cli_trust *ct, const char *path) {
  if (!ct->replaced) {
    lic_trust_init(&ct->t);
    ct->replaced = true;
  }
  int rc = lic_trust_add_file(&ct->t, path);
  return rc == LIC_OK ? EXIT_OK : cli_lic_error("--trust", rc);
}

int cli_json_print(json_t *v) {
  if (v == NULL)
    return cli_error(EXIT_FAIL, NULL, "out of memory");
  int r = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(v);
  fputc('\n', stdout);
  return r == 0 && fflush(stdout) == 0 ? EXIT_OK : cli_error(EXIT_FAIL, "stdout", "write failed");
}

char *cli_hex(const uint8_t *b, size_t n) {
  static const char hex[] = "0123456789abcdef";
  char *s = malloc(2 * n + 1);
  if (s == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    s[2 * i] = hex[b[i] >> 4];
    s[2 * i + 1] = hex[b[i] & 15];
  }
  s[2 * n] = '\0';
  return s;
}

int cli_passphrase(const char *path, char **pass) {
  *pass = NULL;
  if (path == NULL)
    return EXIT_OK;
  int rc = lic_passphrase_read(path, pass);
  return rc == LIC_OK ? EXIT_OK : cli_lic_error("--passphrase-file", rc);
}
