/* public.c - licctl register / unregister (public mode, SPEC §5) and the
 * account credentials licctl verify --account shares: the token comes from a
 * 0600 file only, never from the command line, and is never printed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "licctl.h"
#include "lic/account.h"
#include "lic/fileio.h"
#include "lic/rif.h"
#include "lic/verify_client.h"

int licctl_token_read(const char *path, char token[LIC_TOKEN_LEN + 1]) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc;
  memset(token, 0, LIC_TOKEN_LEN + 1);
  /* A secret file: refused when group or others may read it. */
  if ((rc = lic_file_check_private(path)) != LIC_OK ||
      (rc = lic_file_read(path, 1024, &buf, &len)) != LIC_OK)
    return cli_lic_error("--token-file", rc);
  size_t n = strcspn((const char *)buf, "\r\n");
  rc = lic_token_check_format((const char *)buf, n);
  if (rc == LIC_OK)
    memcpy(token, buf, n);
  lic_secret_free(buf, len);
  return rc == LIC_OK ? EXIT_OK
                      : cli_error(EXIT_FAIL, "--token-file", "%s does not hold a token (lsk_...)",
                                  path);
}

int licctl_account_opts(const char *cmd, const char *state, const char *account,
                        const char *token_file, licctl_account *out) {
  int r;
  memset(out, 0, sizeof *out);
  if (lic_uuid_parse(account, strlen(account), out->account) != LIC_OK)
    return cli_usage(cmd, "--account: '%.40s' is not a UUID", account);
  if (token_file == NULL)
    return cli_usage(cmd, "--token-file is required with --account");
  if ((r = licctl_token_read(token_file, out->token)) != EXIT_OK)
    return r;
  const char *dir = licctl_state_dir(state);
  if ((r = licctl_state_ensure(dir)) != EXIT_OK || (r = licctl_project_id(dir, out->project_id)) != EXIT_OK)
    return r;
  return EXIT_OK;
}

void licctl_account_clear(licctl_account *a) {
  OPENSSL_cleanse(a, sizeof *a);
}

static const char REG_USAGE[] =
    "usage: licctl register URL --account ID --token-file F --project NAME --domain D\n"
    "         --port P --node N [--app A] [--version V] [--trust PUB.pem]... [--state DIR]\n"
    "         [--cacert FILE | --pin PIN...] [--timeout MS] [--json]\n\n"
    "Public mode: registers this install's project (its id is the state directory's)\n"
    "with the vendor's license server under the account, taking one of its slots.\n"
    "Registering again takes no second slot. The answer is a signed verdict, checked\n"
    "root -> certificate -> verdict; exit 0 only when the project holds a slot.\n"
    "The token is read from F (mode 0600; never give it on the command line) and is\n"
    "sent over https:// (checked against the system store, --cacert or --pin) or\n"
    "plain HTTP to loopback only.\n\n"
    "  URL             https://HOST:PORT of the vendor's license server\n"
    "  --account ID    the account (UUID) the vendor gave you\n"
    "  --token-file F  the account's token (a 0600 file, never printed)\n"
    "  --project NAME  a name for this install's project, shown to the vendor\n"
    "  --domain D      the access domain name this report server answers on\n"
    "  --port P        its port\n"
    "  --node N        this report-server instance id\n"
    "  --app A         application name\n"
    "  --version V     product version, e.g. 11.0.18 (its major number is checked)\n"
    "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
    CLI_TLS_HELP
    "  --timeout MS    whole exchange: connect, TLS handshake, answer (default 10000)\n"
    "  --json          print the answer as JSON\n"
    "  --state DIR     the state directory holding the project id (default\n"
    "                  $XDG_STATE_HOME/licctl)\n";

static const char UNREG_USAGE[] =
    "usage: licctl unregister URL --account ID --token-file F [--node N]\n"
    "         [--trust PUB.pem]... [--state DIR] [--cacert FILE | --pin PIN...]\n"
    "         [--timeout MS] [--json]\n\n"
    "Public mode: frees this install's project slot (the project id is the state\n"
    "directory's). Exit 0 when the server confirms the slot is free.\n\n"
    "  URL             https://HOST:PORT of the vendor's license server\n"
    "  --account ID    the account (UUID) the project is registered under\n"
    "  --token-file F  the account's token (a 0600 file, never printed)\n"
    "  --node N        the instance id sent with the request (default licctl)\n"
    "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
    CLI_TLS_HELP
    "  --timeout MS    whole exchange: connect, TLS handshake, answer (default 10000)\n"
    "  --json          print the answer as JSON\n"
    "  --state DIR     the state directory holding the project id (default\n"
    "                  $XDG_STATE_HOME/licctl)\n";

enum { O_ACCOUNT = 256, O_TOKEN_FILE, O_PROJECT, O_DOMAIN, O_PORT, O_NODE, O_APP, O_VERSION,
       O_TRUST, O_TIMEOUT, O_JSON, O_STATE, O_CACERT, O_PIN };

static int run(int argc, char **argv, bool reg) {
  static const struct option opts[] = {
      {"account", required_argument, NULL, O_ACCOUNT},
      {"token-file", required_argument, NULL, O_TOKEN_FILE},
      {"project", required_argument, NULL, O_PROJECT}, {"domain", required_argument, NULL, O_DOMAIN},
      {"port", required_argument, NULL, O_PORT}, {"node", required_argument, NULL, O_NODE},
      {"app", required_argument, NULL, O_APP}, {"version", required_argument, NULL, O_VERSION},
      {"trust", required_argument, NULL, O_TRUST}, {"timeout", required_argument, NULL, O_TIMEOUT},
      {"json", no_argument, NULL, O_JSON}, {"state", required_argument, NULL, O_STATE},
      {"cacert", required_argument, NULL, O_CACERT}, {"pin", required_argument, NULL, O_PIN},
      {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  const char *cmd = reg ? "register" : "unregister";
  const char *account = NULL, *token_file = NULL, *port = NULL, *state = NULL;
  lic_verify_opts o;
  lic_verify_result res;
  licctl_account cred;
  cli_trust ct;
  cli_tls tls;
  bool json = false;
  int64_t v;
  int c, r, rc;

  memset(&o, 0, sizeof o);
  memset(&cred, 0, sizeof cred);
  cli_trust_init(&ct);
  cli_tls_init(&tls);
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (!reg && (c == O_PROJECT || c == O_DOMAIN || c == O_PORT || c == O_APP || c == O_VERSION)) {
      const struct option *op = opts;
      while (op->val != c)
        op++;
      return cli_usage(cmd, "--%s is an option of 'licctl register' only", op->name);
    }
    switch (c) {
    case O_ACCOUNT: account = optarg; break;
    case O_TOKEN_FILE: token_file = optarg; break;
    case O_PROJECT: o.project = optarg; break;
    case O_DOMAIN: o.domain = optarg; break;
    case O_PORT: port = optarg; break;
    case O_NODE: o.node = optarg; break;
    case O_APP: o.app = optarg; break;
    case O_VERSION: o.version = optarg; break;
    case O_TRUST:
      if ((r = cli_trust_add(&ct, optarg)) != EXIT_OK)
        return r;
      break;
    case O_TIMEOUT:
      if ((rc = lic_parse_int(optarg, 1, 600000, &v)) != LIC_OK)
        return cli_usage(cmd, "--timeout: %s", lic_errfull(rc));
      o.timeout_ms = (int)v;
      break;
    case O_JSON: json = true; break;
    case O_STATE: state = optarg; break;
    case O_CACERT: tls.o.cacert = optarg; break;
    case O_PIN:
      if ((r = cli_tls_pin_add(&tls, cmd, optarg)) != EXIT_OK)
        return r;
      break;
    case 'h': fputs(reg ? REG_USAGE : UNREG_USAGE, stdout); return EXIT_OK;
    default: return cli_bad_option(cmd, argv, opts);
    }
  }
  if (argc - optind != 1)
    return cli_usage(cmd, "give exactly one URL");
  o.url = argv[optind];
  const char *missing = account == NULL ? "--account" : token_file == NULL ? "--token-file"
                      : !reg ? NULL : o.project == NULL ? "--project" : o.domain == NULL ? "--domain"
                      : port == NULL ? "--port" : o.node == NULL ? "--node" : NULL;
  if (missing != NULL)
    return cli_usage(cmd, "%s is required", missing);
  if (reg) {
    if ((rc = lic_parse_int(port, 1, 65535, &o.port)) != LIC_OK)
      return cli_usage(cmd, "--port: %s", lic_errfull(rc));
    if ((rc = lic_domain_check(o.domain, false)) != LIC_OK)
      return cli_usage(cmd, "--domain: %s", lic_errfull(rc));
    if ((rc = lic_name_check("--project", o.project)) != LIC_OK)
      return cli_usage(cmd, "%s", lic_errfull(rc));
  }
  if (tls.o.cacert != NULL && tls.o.npins > 0)
    return cli_usage(cmd, "give --cacert or --pin, not both");
  o.tls = &tls.o;
  if (o.node == NULL)
    o.node = "licctl";
  if ((rc = lic_name_check("--node", o.node)) != LIC_OK)
    return cli_usage(cmd, "%s", lic_errfull(rc));
  if ((r = licctl_account_opts(cmd, state, account, token_file, &cred)) != EXIT_OK)
    goto out;
  o.account = cred.account;
  o.token = cred.token;
  o.project_id = cred.project_id;
  o.trust = &ct.t;
  rc = reg ? lic_register(&o, &res) : lic_unregister(&o, &res);
  if (rc != LIC_OK) {
    /* LIC_INVALID is the command line's fault (a bad URL, a token that would
     * go over plain HTTP beyond loopback): exit 2, as in licctl verify. */
    r = cli_lic_error(o.url, rc);
    goto out;
  }
  lic_verdict *vd = &res.verdict;
  char pid[LIC_UUID_LEN + 1];
  lic_uuid_format(cred.project_id, pid);
  bool ok = reg ? vd->status == LIC_STATUS_VALID : vd->status == LIC_STATUS_NOT_REGISTERED;
  if (json) {
    cli_json_print(json_pack("{s:s, s:s, s:s, s:s, s:I, s:{s:I, s:I}}", "status",
                             lic_status_name(vd->status), "reason", vd->reason, "account", account,
                             "project_id", pid, "time", (json_int_t)vd->time, "registrations",
                             "used", (json_int_t)vd->seats_used, "max",
                             (json_int_t)vd->seats_max));
  } else if (ok) {
    printf("%s: project %s %s (%lld of %lld registrations used)\n", lic_status_name(vd->status),
           pid, reg ? "holds a slot" : "holds no slot", (long long)vd->seats_used,
           (long long)vd->seats_max);
  } else {
    printf("denied: %s: %s\n", lic_status_name(vd->status), vd->reason);
  }
  r = ok ? EXIT_OK : EXIT_FAIL;
  lic_verify_result_clear(&res);
out:
  licctl_account_clear(&cred);
  return r;
}

int licctl_register(int argc, char **argv) { return run(argc, argv, true); }

int licctl_unregister(int argc, char **argv) { return run(argc, argv, false); }
