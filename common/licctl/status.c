/* status.c - licctl status: the agent's STATE/status.json, for people and
 * for scripts (exit 0 while licensed or in grace). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "licctl.h"
#include "lic/fileio.h"

static const char USAGE[] =
    "usage: licctl status [--state DIR] [--json]\n\n"
    "Prints the state that 'licctl agent' last wrote to STATE/status.json. Exit 0\n"
    "when licensed or in grace, 1 otherwise (also when the file says licensed but\n"
    "its grace_until has passed: the agent is not running), 2 when there is no\n"
    "status file.\n\n"
    "  --json          print the file as it is\n"
    "  --state DIR     state directory (default $XDG_STATE_HOME/licctl)\n";

enum { O_JSON = 256, O_STATE };

#define MAX_STATUS (64 * 1024)

/* "YYYY-MM-DDTHH:MM:SSZ" (as the agent writes it) to Unix seconds; -1 if not. */
static int64_t parse_time(const char *s) {
  unsigned y, mo, d, h, mi, se;
  char z;
  if (s == NULL || strlen(s) != 20 ||
      sscanf(s, "%4u-%2u-%2uT%2u:%2u:%2u%c", &y, &mo, &d, &h, &mi, &se, &z) != 7 || z != 'Z' ||
      mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
    return -1;
  return lic_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
}

static const char *str(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static void line(const char *label, const char *v) {
  if (v != NULL && *v != '\0')
    printf("%-12s %s\n", label, v);
}

int licctl_status(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, O_JSON},
                                       {"state", required_argument, NULL, O_STATE},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *state_opt = NULL;
  bool as_json = false;
  char path[PATH_MAX];
  uint8_t *buf = NULL;
  size_t len;
  json_error_t jerr;
  int c, rc, r;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_JSON: as_json = true; break;
    case O_STATE: state_opt = optarg; break;
    case 'h': fputs(USAGE, stdout); return EXIT_OK;
    default: return cli_bad_option("status", argv, opts);
    }
  }
  if (optind != argc)
    return cli_usage("status", "no arguments expected");
  snprintf(path, sizeof path, "%s/status.json", licctl_state_dir(state_opt));
  rc = lic_file_read_regular(path, MAX_STATUS, &buf, &len);
  if (rc == LIC_NOTFOUND)
    return cli_error(EXIT_USAGE, path, "no status file (is 'licctl agent' running with this --state?)");
  if (rc != LIC_OK)
    return cli_lic_error(path, rc);
  json_t *o = json_loadb((const char *)buf, len, 0, &jerr);
  const char *state = o != NULL ? str(o, "state") : NULL;
  if (state == NULL || (strcmp(state, "licensed") != 0 && strcmp(state, "grace") != 0 &&
                        strcmp(state, "unlicensed") != 0)) {
    json_decref(o);
    free(buf);
    return cli_error(EXIT_FAIL, path, "not a status file of licctl agent");
  }
  bool ok = strcmp(state, "unlicensed") != 0;
  /* The file cannot say the agent died: its own deadline can. */
  int64_t gu = parse_time(str(o, "grace_until"));
  bool stale = ok && (gu < 0 || (int64_t)time(NULL) >= gu);
  if (stale)
    ok = false;
  if (as_json) {
    fwrite(buf, 1, len, stdout);
    r = fflush(stdout) == 0 ? EXIT_OK : cli_error(EXIT_FAIL, "stdout", "write failed");
  } else {
    char st[160];
    snprintf(st, sizeof st, "%s (%s)%s", stale ? "unlicensed" : state,
             str(o, "reason") != NULL ? str(o, "reason") : "?",
             stale ? ": the file is stale, grace_until has passed; is the agent running?" : "");
    line("state:", st);
    line("detail:", str(o, "detail"));
    line("server:", str(o, "server"));
    json_t *f = json_object_get(o, "features");
    if (json_is_array(f) && json_array_size(f) > 0) {
      printf("%-12s", "features:");
      for (size_t i = 0; i < json_array_size(f); i++)
        printf("%s%s", i == 0 ? " " : ", ",
               json_is_string(json_array_get(f, i)) ? json_string_value(json_array_get(f, i)) : "?");
      putchar('\n');
    }
    line("expires:", str(o, "expires"));
    line("last valid:", str(o, "last_valid"));
    line("grace until:", str(o, "grace_until"));
    line("checked at:", str(o, "checked_at"));
    line("next check:", str(o, "next_check"));
    line("last error:", str(o, "last_error"));
    r = fflush(stdout) == 0 ? EXIT_OK : cli_error(EXIT_FAIL, "stdout", "write failed");
  }
  json_decref(o);
  free(buf);
  return r != EXIT_OK ? r : ok ? EXIT_OK : EXIT_FAIL;
}
