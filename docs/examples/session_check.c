/* session_check.c - what a report server written in C runs: the license
 * session of liblic (docs/integration.md). Built by the test suite and run by
 * tests/e2e/test_agent.py and test_newuser_walk.py against real license
 * servers, one of them set up as in the README.
 *
 * usage: session_check [--once] [--trust PUB.pem] [--cacert FILE] [--domain D]
 *                      [--port P] [--node N] [--version V] STATE_DIR URL [URL...]
 *
 * Against the README's server (https://localhost:7470, licensed for domain
 * localhost and port 8080, its certificate in /tmp/tls.pem):
 *   session_check --once --trust vendor.pub.pem --cacert /tmp/tls.pem \
 *     --port 8080 /tmp/rs-state https://localhost:7470 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lic/err.h"
#include "lic/session.h"

static int usage(void) {
  fprintf(stderr, "usage: session_check [--once] [--trust PUB.pem] [--cacert FILE] [--domain D]\n"
                  "                     [--port P] [--node N] [--version V] STATE_DIR URL "
                  "[URL...]\n");
  return 2;
}

int main(int argc, char **argv) {
  lic_trust trust;
  lic_tls_opts tls = {0}; /* {0}: https:// checked against the system store */
  /* This report server's own identity: what the license's terms are checked
   * against (its access domain and port, not the license server's). */
  const char *domain = "localhost", *node = "rs-example", *version = "11.0.18";
  long port = 8080;
  int once = 0, i = 1, r;

  lic_trust_builtin(&trust); /* the vendor keys compiled into liblic */

  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--once") == 0) {
      once = 1;
      continue;
    }
    if (v == NULL)
      return usage();
    i++;
    if (strcmp(a, "--trust") == 0) { /* tests: the test key */
      lic_trust_init(&trust);
      if ((r = lic_trust_add_file(&trust, v)) != LIC_OK) {
        fprintf(stderr, "report-server: %s: %s\n", v, lic_errfull(r));
        return 2;
      }
    } else if (strcmp(a, "--cacert") == 0) { /* a private CA, or a self-signed certificate */
      tls.cacert = v;
    } else if (strcmp(a, "--domain") == 0) {
      domain = v;
    } else if (strcmp(a, "--port") == 0) {
      char *end;
      port = strtol(v, &end, 10);
      if (*v == '\0' || *end != '\0' || port < 1 || port > 65535)
        return usage();
    } else if (strcmp(a, "--node") == 0) {
      node = v;
    } else if (strcmp(a, "--version") == 0) {
      version = v;
    } else {
      return usage();
    }
  }
  if (argc - i < 2)
    return usage();

  lic_session_opts o = {
      .verify = {.trust = &trust, .domain = domain, .port = (int)port, .node = node,
                 .app = NULL, .version = version, .tls = &tls},
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
