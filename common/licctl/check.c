/* check.c - licctl check: a local-mode license checked offline on this machine. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "licctl.h"
#include "lic/license.h"

static const char USAGE[] =
    "usage: licctl check LICENSE --domain D --port P [--app A] [--version V | --major N]\n"
    "         [--trust PUB.pem]... [--revocations F] [--state DIR] [--json]\n\n"
    "Checks a local-mode license offline: its vendor signature (trust store), this\n"
    "machine (machine code and at least one licensed network adapter), the dates,\n"
    "the major version, the domain, port and application. Exit 0 only when valid.\n"
    "The latest time a check saw is kept in the state directory: a clock set back\n"
    "more than an hour below it reads clock_rollback (docs/integration.md).\n"
    "A license on the vendor's revocation list reads revoked: the newest list seen\n"
    "(--revocations, or kept in the state directory from an earlier check) counts,\n"
    "and an older list never replaces a newer one (docs/revocation.md).\n\n"
    "  --domain D      the access domain name the report server answers on\n"
    "  --port P        its port\n"
    "  --app A         application name (required when the license restricts them)\n"
    "  --version V     product version (11.0.18), as for licctl verify: its leading\n"
    "                  number is the major version\n"
    "  --major N       product major version (required when the license names one)\n"
    "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
    "  --revocations F a signed revocation list (shipped beside the product); kept\n"
    "                  in the state directory when newer than the one there\n"
    "  --json          print the result as JSON\n"
    "  --state DIR     state directory, where the clock's high-water mark and the\n"
    "                  newest revocation list are kept\n"
    "                  (default $XDG_STATE_HOME/licctl or ~/.local/state/licctl)\n";

enum { O_DOMAIN = 256, O_PORT, O_APP, O_MAJOR, O_VERSION, O_TRUST, O_JSON, O_STATE, O_REVOC };

int licctl_check(int argc, char **argv) {
  static const struct option opts[] = {
      {"domain", required_argument, NULL, O_DOMAIN}, {"port", required_argument, NULL, O_PORT},
      {"app", required_argument, NULL, O_APP}, {"major", required_argument, NULL, O_MAJOR},
      {"version", required_argument, NULL, O_VERSION},
      {"trust", required_argument, NULL, O_TRUST}, {"json", no_argument, NULL, O_JSON},
      {"state", required_argument, NULL, O_STATE},
      {"revocations", required_argument, NULL, O_REVOC}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  cli_trust ct;
  lic_check_req q = {NULL, -1, NULL, -1};
  const char *port = NULL, *major = NULL, *version = NULL, *state = NULL, *revfile = NULL;
  bool json = false;
  lic_license l;
  lic_machine m;
  char reason[300];
  int c, r, rc;

  cli_trust_init(&ct);
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_DOMAIN: q.domain = optarg; break;
    case O_PORT: port = optarg; break;
    case O_APP: q.app = optarg; break;
    case O_MAJOR: major = optarg; break;
    case O_VERSION: version = optarg; break;
    case O_TRUST:
      if ((r = cli_trust_add(&ct, optarg)) != EXIT_OK)
        return r;
      break;
    case O_JSON: json = true; break;
    case O_STATE: state = optarg; break;
    case O_REVOC: revfile = optarg; break;
    case 'h': fputs(USAGE, stdout); return EXIT_OK;
    default: return cli_bad_option("check", argv, opts);
    }
  }
  if (argc - optind != 1)
    return cli_usage("check", "give exactly one LICENSE file");
  if (q.domain == NULL || port == NULL)
    return cli_usage("check", "%s is required", q.domain == NULL ? "--domain" : "--port");
  if ((rc = lic_domain_check(q.domain, false)) != LIC_OK)
    return cli_usage("check", "--domain: %s", lic_errfull(rc));
  if ((rc = lic_parse_int(port, 1, 65535, &q.port)) != LIC_OK)
    return cli_usage("check", "--port: %s", lic_errfull(rc));
  if (major != NULL && version != NULL)
    return cli_usage("check", "give --version or --major, not both");
  if (major != NULL && (rc = lic_parse_int(major, 0, INT32_MAX, &q.major)) != LIC_OK)
    return cli_usage("check", "--major: %s", lic_errfull(rc));
  if (version != NULL) {
    /* The leading number, as the license server reads a verify's version. */
    char lead[16];
    size_t n = strspn(version, "0123456789");
    if (n == 0 || n >= sizeof lead || (version[n] != '\0' && version[n] != '.'))
      return cli_usage("check", "--version: '%.40s' does not start with a major version number",
                       version);
    memcpy(lead, version, n);
    lead[n] = '\0';
    if ((rc = lic_parse_int(lead, 0, INT32_MAX, &q.major)) != LIC_OK)
      return cli_usage("check", "--version: %s", lic_errfull(rc));
  }

  const char *path = argv[optind];
  if ((rc = lic_license_load(path, &ct.t, &l, NULL, NULL)) != LIC_OK)
    return cli_lic_error(path, rc);
  if (l.mode != LIC_MODE_LOCAL) {
    /* The name before the clear: lic_license_clear zeroes the mode, which
     * read "local" in the message. */
    const char *mname = lic_mode_name(l.mode);
    lic_license_clear(&l);
    return cli_error(EXIT_FAIL, path, "this is a %s license: report servers check it with "
                     "'licctl verify' against the license server", mname);
  }
  if ((rc = lic_machine_read(&m)) != LIC_OK) {
    lic_license_clear(&l);
    return cli_lic_error("machine", rc);
  }
  int64_t now = (int64_t)time(NULL), behind;
  if ((r = licctl_clock_check(licctl_state_dir(state), now, &behind, reason, sizeof reason)) !=
      EXIT_OK) {
    lic_license_clear(&l);
    return r;
  }
  lic_revocations rv;
  bool have_rv = false;
  if ((r = licctl_revocations(licctl_state_dir(state), revfile, &ct.t, &rv, &have_rv)) !=
      EXIT_OK) {
    lic_license_clear(&l);
    return r;
  }
  lic_status st;
  if (behind > 0) {
    st = LIC_STATUS_CLOCK_ROLLBACK;
  } else if (have_rv && lic_revocations_has_license(&rv, l.id)) {
    st = LIC_STATUS_REVOKED;
    snprintf(reason, sizeof reason, "the license is on the vendor's revocation list (seq %lld)",
             (long long)rv.seq);
  } else {
    st = lic_license_check_local(&l, &m, &q, now, reason, sizeof reason);
  }
  lic_revocations_clear(&rv);
  char id[LIC_UUID_LEN + 1], ex[11], until[LIC_UNTIL_LEN];
  lic_uuid_format(l.id, id);
  lic_date_format(l.expires, ex);
  lic_until_format(l.expires, until);
  if (json) {
    json_t *feat = json_array();
    for (size_t i = 0; i < l.features.n; i++)
      json_array_append_new(feat, json_string(l.features.v[i]));
    cli_json_print(json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "status", lic_status_name(st),
                             "reason", reason, "license", id, "customer", l.customer, "expires",
                             l.expires == 0 ? "never" : ex, "features", feat));
  } else if (st == LIC_STATUS_VALID) {
    printf("valid: license %s for %s, %s, features:", id, l.customer, until);
    for (size_t i = 0; i < l.features.n; i++)
      printf("%s%s", i ? "," : " ", l.features.v[i]);
    printf("\n");
  } else {
    printf("denied: %s: %s\n", lic_status_name(st), reason);
  }
  lic_license_clear(&l);
  return st == LIC_STATUS_VALID ? EXIT_OK : EXIT_FAIL;
}
