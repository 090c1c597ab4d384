/* session_check.c - what a report server written in C runs: the license
 * session of liblic (docs/integration.md). Built by the test suite and run by
 * tests/e2e/test_agent.py against a real license server.
 *
 * usage: session_check [--once] [--trust PUB.pem] STATE_DIR URL [URL...] */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lic/err.h"
#include "lic/session.h"

int main(int argc, char **argv) {
  lic_trust trust;
  int once = 0, i = 1, r;

  lic_trust_builtin(&trust); /* the vendor keys compiled into liblic */

  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--once") == 0) {
      once = 1;
    } else if (strcmp(argv[i], "--trust") == 0 && i + 1 < argc) { /* tests: the test key */
      lic_trust_init(&trust);
      if ((r = lic_trust_add_file(&trust, argv[++i])) != LIC_OK) {
        fprintf(stderr, "report-server: %s: %s\n", argv[i], lic_errfull(r));
        return 2;
      }
    } else {
      break;
    }
  }
  if (argc - i < 2) {
    fprintf(stderr, "usage: session_check [--once] [--trust PUB.pem] STATE_DIR URL [URL...]\n");
    return 2;
  }

  lic_session_opts o = {
      .verify = {.trust = &trust, .domain = "localhost", .port = 8443, .node = "rs-example",
                 .app = NULL, .version = "11.0.18"},
      .urls = (const char *const *)&argv[i + 1], /* primary, then standbys */
      .nurls = (size_t)(argc - i - 1),
      .state_dir = argv[i], /* the last valid verdict survives a restart here */
  };
  lic_session *s;
  if ((r = lic_session_new(&o, (int64_t)time(NULL), &s)) != LIC_OK) {
    fprintf(stderr, "report-server: %s\n", lic_errfull(r));
    return 2;
  }
  lic_session_info in;
  for (;;) {
    int64_t now = (int64_t)time(NULL);
    int64_t wake = lic_session_tick(s, now); /* checks when due, never blocks longer */
    lic_session_info_get(s, &in);
    /* licensed and grace: serve reports (in.features says which); grace also
     * warns the administrator (in.last_error, in.grace_until). unlicensed:
     * stop serving, show in.reason / in.detail. */
    printf("report-server: %s (%s) server=%s grace_until=%lld%s%s\n",
           lic_session_state_name(in.state), in.reason, in.server, (long long)in.grace_until,
           in.last_error[0] ? " error=" : "", in.last_error);
    fflush(stdout);
    if (once)
      break;
    if (wake > now)
      sleep((unsigned)(wake - now)); /* a real server runs this on a timer of its loop */
  }
  r = in.state == LIC_SESSION_UNLICENSED ? 1 : 0;
  lic_session_free(s);
  return r;
}
