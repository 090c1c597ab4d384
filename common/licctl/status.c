/* status.c - licctl status: the state a report server's state directory
 * proves now, from the signed verdict the agent keeps (never from the
 * unsigned STATE/status.json), for people and for scripts (exit 0 while
 * licensed or in grace). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "licctl.h"
#include "lic/session.h"

static const char USAGE[] =
    "usage: licctl status [--state DIR] [--trust PUB.pem]... [--json]\n\n"
    "Checks the last valid verdict that 'licctl agent' keeps in STATE/session.state\n"
    "again, as the agent does when it restarts: its signature chain against the\n"
    "trust store, that it answers the agent's question (domain, port, node, license\n"
    "or account), its time, the grace that is left and the clock mark. Then prints\n"
    "the state it proves now. STATE/status.json is not read: it is not signed, and a\n"
    "hand-written one makes nobody licensed (docs/integration.md).\n"
    "Exit 0 when licensed or in grace, 1 otherwise (also when the agent has stopped\n"
    "and its grace has run out), 2 when there is no state to check.\n\n"
    "  --json          the status document (the fields of status.json), as checked\n"
    "  --trust FILE    trusted vendor root public key (repeatable; replaces the\n"
    "                  built-in store): give the agent's --trust\n"
    "  --state DIR     state directory (default $XDG_STATE_HOME/licctl)\n";

enum { O_JSON = 256, O_STATE, O_TRUST };

static void line(const char *label, const char *v) {
  if (v != NULL && *v != '\0')
    printf("%-12s %s\n", label, v);
}

static void time_line(const char *label, int64_t t) {
  char buf[21];
  if (t <= 0)
    return;
  lic_time_format(t, buf);
  line(label, buf);
}

static void print_people(const lic_session_info *in) {
  char st[160];
  snprintf(st, sizeof st, "%s (%s)", lic_session_state_name(in->state), in->reason);
  line("state:", st);
  line("detail:", in->detail);
  line("server:", in->server);
  if (in->features->n > 0) {
    printf("%-12s", "features:");
    for (size_t i = 0; i < in->features->n; i++)
      printf("%s%s", i == 0 ? " " : ", ", in->features->v[i]);
    putchar('\n');
  }
  if (in->last_valid > 0) {
    char until[LIC_UNTIL_LEN];
    lic_until_format(in->expires, until);
    line("expires:", until);
  }
  time_line("last valid:", in->last_valid);
  time_line("grace until:", in->grace_until);
  time_line("checked at:", in->checked_at);
  line("last error:", in->last_error);
}

int licctl_status(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, O_JSON},
                                       {"state", required_argument, NULL, O_STATE},
                                       {"trust", required_argument, NULL, O_TRUST},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *state_opt = NULL;
  bool as_json = false;
  cli_trust trust;
  lic_session *s = NULL;
  lic_session_info in;
  int c, rc, r;

  cli_trust_init(&trust);
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_JSON: as_json = true; break;
    case O_STATE: state_opt = optarg; break;
    case O_TRUST:
      if ((r = cli_trust_add(&trust, optarg)) != EXIT_OK)
        return r;
      break;
    case 'h': fputs(USAGE, stdout); return EXIT_OK;
    default: return cli_bad_option("status", argv, opts);
    }
  }
  if (optind != argc)
    return cli_usage("status", "no arguments expected");
  const char *dir = licctl_state_dir(state_opt);
  rc = lic_session_read_state(dir, &trust.t, NULL, (int64_t)time(NULL), &s);
  if (rc == LIC_NOTFOUND) {
    char path[4096];
    snprintf(path, sizeof path, "%s/status.json", dir);
    if (access(path, F_OK) == 0) /* a status file alone proves nothing: it is not signed */
      return cli_error(EXIT_FAIL, path, "not signed, and there is no session state to check: "
                                        "unlicensed (is 'licctl agent' running with this --state?)");
    return cli_error(EXIT_USAGE, dir,
                     "no session state to check (is 'licctl agent' running with this --state?)");
  }
  if (rc != LIC_OK)
    return cli_lic_error(dir, rc);
  lic_session_info_get(s, &in);
  if (as_json) {
    char *doc = licctl_status_json(&in, "");
    r = doc != NULL && printf("%s\n", doc) > 0 && fflush(stdout) == 0
            ? EXIT_OK
            : cli_error(EXIT_FAIL, "stdout", "write failed");
    free(doc);
  } else {
    print_people(&in);
    r = fflush(stdout) == 0 ? EXIT_OK : cli_error(EXIT_FAIL, "stdout", "write failed");
  }
  bool ok = in.state == LIC_SESSION_LICENSED || in.state == LIC_SESSION_GRACE;
  lic_session_free(s);
  return r != EXIT_OK ? r : ok ? EXIT_OK : EXIT_FAIL;
}
