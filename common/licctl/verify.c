/* verify.c - licctl verify: one verify exchange with a license server. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "licctl.h"
#include "lic/rif.h"
#include "lic/verify_client.h"

static const char USAGE[] =
    "usage: licctl verify URL --domain D --port P --node N [--license ID | --account ID\n"
    "         --token-file F] [--app A] [--version V] [--secret-file F] [--trust PUB.pem]...\n"
    "         [--cacert FILE | --pin PIN...] [--timeout MS] [--json]\n\n"
    "Asks the license server at URL (https://HOST:PORT, checked against the system\n"
    "store, --cacert or --pin; or http://) for a signed verdict and checks the whole\n"
    "chain: the license is signed by a trusted root key, the verdict by the node key\n"
    "the license certifies (public mode: the online-key certificate, then the\n"
    "verdict); the verdict answers our fresh nonce, names our node and license or\n"
    "account, its time is within 5 minutes of ours, and a 'valid' verdict agrees with\n"
    "the terms for our domain and port. Prints the verdict; exit 0 only on a valid\n"
    "one (1 on a denial or any failed check).\n\n"
    "  --domain D      the access domain name this report server answers on\n"
    "  --port P        its port\n"
    "  --node N        this report-server instance id (holds a seat)\n"
    "  --license ID    license id (UUID); optional when the server holds one license\n"
    "  --account ID    public mode: the account (UUID); the project id is the state\n"
    "                  directory's, the chain is root -> certificate -> verdict\n"
    "  --token-file F  public mode: the account's token (a 0600 file, never printed)\n"
    "  --app A         application name\n"
    "  --version V     product version, e.g. 11.0.18 (its major number is checked)\n"
    "  --secret-file F the server's node_secret (one line, file mode 0600)\n"
    "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
    CLI_TLS_HELP
    "  --timeout MS    whole exchange: connect, TLS handshake, answer (default 10000)\n"
    "  --json          print the verdict as JSON\n"
    "  --state DIR     the state directory (public mode: its project id)\n";

enum { O_DOMAIN = 256, O_PORT, O_NODE, O_LICENSE, O_APP, O_VERSION, O_TRUST, O_TIMEOUT, O_JSON,
       O_STATE, O_CACERT, O_PIN, O_ACCOUNT, O_TOKEN_FILE, O_SECRET };

static json_t *list_json(const lic_strlist *l) {
  json_t *a = json_array();
  for (size_t i = 0; i < l->n; i++)
    json_array_append_new(a, json_string(l->v[i]));
  return a;
}

int licctl_verify(int argc, char **argv) {
  static const struct option opts[] = {
      {"domain", required_argument, NULL, O_DOMAIN}, {"port", required_argument, NULL, O_PORT},
      {"node", required_argument, NULL, O_NODE}, {"license", required_argument, NULL, O_LICENSE},
      {"app", required_argument, NULL, O_APP}, {"version", required_argument, NULL, O_VERSION},
      {"trust", required_argument, NULL, O_TRUST}, {"timeout", required_argument, NULL, O_TIMEOUT},
      {"json", no_argument, NULL, O_JSON}, {"state", required_argument, NULL, O_STATE},
      {"cacert", required_argument, NULL, O_CACERT}, {"pin", required_argument, NULL, O_PIN},
      {"account", required_argument, NULL, O_ACCOUNT},
      {"token-file", required_argument, NULL, O_TOKEN_FILE},
      {"secret-file", required_argument, NULL, O_SECRET},
      {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  lic_verify_opts o;
  lic_verify_result res;
  cli_trust ct;
  cli_tls tls;
  uint8_t id[LIC_ID_LEN];
  const char *port = NULL, *account = NULL, *token_file = NULL, *state = NULL;
  const char *secret_file = NULL;
  char secret[LIC_MAX_NODE_SECRET + 1] = "";
  licctl_account cred;
  bool json = false;
  int64_t v;
  int c, r, rc;

  memset(&o, 0, sizeof o);
  cli_trust_init(&ct);
  cli_tls_init(&tls);
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_DOMAIN: o.domain = optarg; break;
    case O_PORT: port = optarg; break;
    case O_NODE: o.node = optarg; break;
    case O_LICENSE:
      if (lic_uuid_parse(optarg, strlen(optarg), id) != LIC_OK)
        return cli_usage("verify", "--license: '%.40s' is not a UUID", optarg);
      o.license = id;
      break;
    case O_APP: o.app = optarg; break;
    case O_VERSION: o.version = optarg; break;
    case O_TRUST:
      if ((r = cli_trust_add(&ct, optarg)) != EXIT_OK)
        return r;
      break;
    case O_TIMEOUT:
      if ((rc = lic_parse_int(optarg, 1, 600000, &v)) != LIC_OK)
        return cli_usage("verify", "--timeout: %s", lic_errfull(rc));
      o.timeout_ms = (int)v;
      break;
    case O_CACERT: tls.o.cacert = optarg; break;
    case O_PIN:
      if ((r = cli_tls_pin_add(&tls, "verify", optarg)) != EXIT_OK)
        return r;
      break;
    case O_JSON: json = true; break;
    case O_STATE: state = optarg; break;
    case O_ACCOUNT: account = optarg; break;
    case O_TOKEN_FILE: token_file = optarg; break;
    case O_SECRET: secret_file = optarg; break;
    case 'h': fputs(USAGE, stdout); return EXIT_OK;
    default: return cli_bad_option("verify", argv, opts);
    }
  }
  if (argc - optind != 1)
    return cli_usage("verify", "give exactly one URL");
  o.url = argv[optind];
  const char *missing = o.domain == NULL ? "--domain" : port == NULL ? "--port"
                      : o.node == NULL ? "--node" : NULL;
  if (missing != NULL)
    return cli_usage("verify", "%s is required", missing);
  if ((rc = lic_parse_int(port, 1, 65535, &o.port)) != LIC_OK)
    return cli_usage("verify", "--port: %s", lic_errfull(rc));
  if ((rc = lic_domain_check(o.domain, false)) != LIC_OK)
    return cli_usage("verify", "--domain: %s", lic_errfull(rc));
  if ((rc = lic_name_check("--node", o.node)) != LIC_OK)
    return cli_usage("verify", "%s", lic_errfull(rc));
  o.trust = &ct.t;
  if (tls.o.cacert != NULL && tls.o.npins > 0)
    return cli_usage("verify", "give --cacert or --pin, not both");
  o.tls = &tls.o;
  memset(&cred, 0, sizeof cred);
  if (account != NULL && o.license != NULL)
    return cli_usage("verify", "give --license or --account, not both");
  if (account == NULL && token_file != NULL)
    return cli_usage("verify", "--token-file goes with --account");
  if (account != NULL) {
    if ((r = licctl_account_opts("verify", state, account, token_file, &cred)) != EXIT_OK)
      return r;
    o.account = cred.account;
    o.token = cred.token;
    o.project_id = cred.project_id;
  }

  if (secret_file != NULL) {
    if ((rc = lic_secret_file_read(secret_file, secret)) != LIC_OK) {
      licctl_account_clear(&cred);
      return cli_lic_error(secret_file, rc);
    }
    o.secret = secret;
  }

  rc = lic_verify(&o, &res);
  licctl_account_clear(&cred);
  OPENSSL_cleanse(secret, sizeof secret);
  if (rc != LIC_OK)
    return cli_lic_error(o.url, rc); /* LIC_INVALID: a bad URL, a usage error (exit 2) */
  lic_verdict *vd = &res.verdict;
  char lid[LIC_UUID_LEN + 1], ex[11], until[LIC_UNTIL_LEN];
  /* An unknown_license or unchecked denial names no license of a chain. */
  bool named = res.public_mode || vd->has_license;
  lic_uuid_format(res.public_mode ? vd->account : vd->has_license ? vd->license : res.license.id,
                  lid);
  lic_date_format(vd->expires, ex);
  lic_until_format(vd->expires, until);
  if (json) {
    cli_json_print(json_pack("{s:s, s:s, s:o, s:b, s:s, s:I, s:s, s:o, s:o, s:I, s:I, s:{s:I, s:I}}",
                             "status", lic_status_name(vd->status), "reason", vd->reason,
                             res.public_mode ? "account" : "license",
                             named ? json_string(lid) : json_null(), "signed", !res.unchecked,
                             "node", vd->node, "time", (json_int_t)vd->time,
                             "expires", vd->expires == 0 ? "never" : ex, "features",
                             list_json(&vd->features), "domains", list_json(&vd->domains),
                             "heartbeat", (json_int_t)vd->heartbeat, "grace",
                             (json_int_t)vd->grace, "seats", "used", (json_int_t)vd->seats_used,
                             "max", (json_int_t)vd->seats_max));
  } else if (vd->status == LIC_STATUS_VALID) {
    printf("valid: %s %s, node %s, %s %lld/%lld, %s, next check in %lld s\n",
           res.public_mode ? "account" : "license", lid,
           vd->node, res.public_mode ? "registrations" : "seats", (long long)vd->seats_used,
           (long long)vd->seats_max, until, (long long)vd->heartbeat);
  } else {
    printf("denied: %s: %s%s\n", lic_status_name(vd->status), vd->reason,
           res.unchecked ? " (unsigned: the server sent no license to check it with)" : "");
  }
  r = vd->status == LIC_STATUS_VALID ? EXIT_OK : EXIT_FAIL;
  lic_verify_result_clear(&res);
  return r;
}
