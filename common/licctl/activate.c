/* activate.c - licctl activate / activation: a designer's offline activation
 * code bound to this machine, and the check that it still holds here. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "cli.h"
#include "licctl.h"
#include "lic/activation.h"
#include "lic/fileio.h"

static const char USAGE_ACTIVATE[] =
    "usage: licctl activate [CODE|-] --product ID [--server URL] [--state DIR]\n"
    "         [--trust PUB.pem]... [--cacert FILE | --pin PIN...] [--revocations F]\n"
    "         [--json]\n\n"
    "Activates this machine with a designer activation code (offline). The code is\n"
    "checked against the vendor's keys (its check symbols catch typos and name the\n"
    "group that holds one), then bound to this machine: the activation file in the\n"
    "state directory (mode 0600) records the code, the machine code and the hashed\n"
    "MAC addresses of the physical network adapters. Without CODE on a terminal it\n"
    "asks 'activation code: ' (paste it there: codes hold $ * ~ =, which a shell\n"
    "expands inside double quotes; on the command line single-quote it). Without\n"
    "CODE otherwise, or with '-', the code is read from standard input. Case, spaces\n"
    "and dashes do not matter; I and L read as 1, O as 0.\n\n"
    "  --product ID    the product id of this designer, 0..255 (required: a code for\n"
    "                  another product is refused)\n"
    "  --server URL    also claim the code online at this license server\n"
    "                  (https://HOST:PORT or http://): one machine per code; the server's signed\n"
    "                  receipt is kept in the activation file. Refused (nothing\n"
    "                  written) when the code is activated on another machine\n"
    "  --state DIR     state directory (default $XDG_STATE_HOME/licctl)\n"
    "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
    CLI_TLS_HELP
    "  --revocations F a signed revocation list (docs/revocation.md): a code on it, or\n"
    "                  on the newest list kept in the state directory, is refused\n"
    "  --json          print the activation as JSON\n";

static const char USAGE_ACTIVATION[] =
    "usage: licctl activation [--product ID] [--state DIR] [--trust PUB.pem]...\n"
    "         [--revocations F] [--json]\n\n"
    "Shows the local designer activation and checks that it holds on this machine:\n"
    "the code is re-verified (vendor signature, product, expiry) and the machine must\n"
    "have the same machine code and at least one of the recorded network adapters.\n"
    "An activation on the vendor's revocation list reads revoked: the newest list\n"
    "seen (--revocations, or kept in the state directory from an earlier check)\n"
    "counts, and an older list never replaces a newer one (docs/revocation.md).\n"
    "Exit 0 only when the activation holds here.\n\n"
    "  --product ID    require this product id (default: any)\n"
    "  --state DIR     state directory (default $XDG_STATE_HOME/licctl)\n"
    "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
    "  --revocations F a signed revocation list (shipped beside the product); kept\n"
    "                  in the state directory when newer than the one there\n"
    "  --json          print serial, product, edition, expires, activated, status\n";

enum { O_PRODUCT = 256, O_STATE, O_TRUST, O_JSON, O_SERVER, O_CACERT, O_PIN, O_REVOC };

/* A code from the command line that does not parse and looks like a shell
 * ate a check symbol '$': codes are printed in capitals, and the "$-" at
 * a group's end turns into the shell's lower-case flags ("hB", "himBHs"). */
static bool shell_expanded(const char *code, int rc) {
  bool lower = false, upper = false;
  if (rc != LIC_FORMAT && rc != LIC_TYPO)
    return false;
  for (const char *p = code; *p != '\0'; p++) {
    if (*p == '$')
      return false; /* the '$' arrived: not expanded */
    lower |= *p >= 'a' && *p <= 'z';
    upper |= *p >= 'A' && *p <= 'Z';
  }
  return lower && upper;
}

/* Short machine-readable status for a lic_designer_check result. */
static const char *status_name(int rc) {
  switch (rc) {
  case LIC_OK: return "valid";
  case LIC_NOTFOUND: return "not_activated";
  case LIC_EXPIRED: return "expired";
  case LIC_PRODUCT: return "other_product";
  case LIC_NOTGENUINE: return "not_genuine";
  case LIC_DENIED: return "other_machine";
  case LIC_MACHINE: return "machine_unreadable";
  case LIC_TYPO:
  case LIC_FORMAT:
  case LIC_TYPE:
  case LIC_LIMIT: return "malformed";
  default: return "error";
  }
}

static json_t *info_json(const lic_activation_info *a, int rc) {
  char ex[11], at[21];
  lic_date_format(a->expires, ex);
  lic_time_format(a->activated, at);
  json_t *o = json_pack("{s:I, s:i, s:i, s:s, s:s, s:I, s:s, s:s}", "serial",
                        (json_int_t)a->serial, "product", a->product, "edition", a->edition,
                        "expires", a->expires == 0 ? "never" : ex, "activated_at", at,
                        "activated", (json_int_t)a->activated, "machine_code", a->machine_code,
                        "status", status_name(rc));
  if (o != NULL)
    json_object_set_new(o, "claimed_online", json_boolean(a->has_receipt));
  if (o != NULL && rc != LIC_OK)
    json_object_set_new(o, "reason", json_string(lic_errfull(rc)));
  return o;
}

/* server NULL: the command takes no --server. */
static int parse_common(const char *cmd, int argc, char **argv, const char **product,
                        const char **state, const char **server, const char **revfile,
                        cli_trust *ct, cli_tls *tls, bool *json, const char *usage) {
  static const struct option opts[] = {{"product", required_argument, NULL, O_PRODUCT},
                                       {"server", required_argument, NULL, O_SERVER},
                                       {"state", required_argument, NULL, O_STATE},
                                       {"trust", required_argument, NULL, O_TRUST},
                                       {"json", no_argument, NULL, O_JSON},
                                       {"cacert", required_argument, NULL, O_CACERT},
                                       {"pin", required_argument, NULL, O_PIN},
                                       {"revocations", required_argument, NULL, O_REVOC},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c, r;
  cli_trust_init(ct);
  cli_tls_init(tls);
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_PRODUCT: *product = optarg; break;
    case O_STATE: *state = optarg; break;
    case O_SERVER:
      if (server == NULL)
        return cli_usage(cmd, "--server is an option of 'licctl activate'");
      *server = optarg;
      break;
    case O_TRUST:
      if ((r = cli_trust_add(ct, optarg)) != EXIT_OK)
        return r;
      break;
    case O_CACERT:
    case O_PIN:
      if (server == NULL)
        return cli_usage(cmd, "--%s is an option of 'licctl activate'", c == O_PIN ? "pin" : "cacert");
      if (c == O_CACERT)
        tls->o.cacert = optarg;
      else if ((r = cli_tls_pin_add(tls, cmd, optarg)) != EXIT_OK)
        return r;
      break;
    case O_REVOC: *revfile = optarg; break;
    case O_JSON: *json = true; break;
    case 'h': fputs(usage, stdout); return -1;
    default: return cli_bad_option(cmd, argv, opts);
    }
  }
  return EXIT_OK;
}

int licctl_activate(int argc, char **argv) {
  const char *product_s = NULL, *state = NULL, *code = NULL, *server = NULL, *revfile = NULL;
  bool json = false;
  cli_trust ct;
  cli_tls tls;
  lic_activation_info info;
  int64_t product;
  uint8_t *in = NULL;
  size_t inlen;
  int r, rc;

  if ((r = parse_common("activate", argc, argv, &product_s, &state, &server, &revfile, &ct, &tls,
                        &json, USAGE_ACTIVATE)) != EXIT_OK)
    return r < 0 ? EXIT_OK : r;
  if (argc - optind > 1)
    return cli_usage("activate", "give one CODE (quote it if it holds spaces)");
  if (product_s == NULL)
    return cli_usage("activate", "--product is required");
  /* A usage error before any work, as for licctl verify's URL. */
  if (server != NULL && !((strncmp(server, "http://", 7) == 0 && server[7] != '\0') ||
                          (strncmp(server, "https://", 8) == 0 && server[8] != '\0')))
    return cli_usage("activate", "--server: '%.100s' is not a URL this client speaks "
                     "(https://HOST:PORT or http://HOST:PORT)", server);
  if ((tls.o.cacert != NULL || tls.o.npins > 0) && server == NULL)
    return cli_usage("activate", "--cacert and --pin go with --server");
  if (tls.o.cacert != NULL && tls.o.npins > 0)
    return cli_usage("activate", "give --cacert or --pin, not both");
  if ((rc = lic_parse_int(product_s, 0, 255, &product)) != LIC_OK)
    return cli_usage("activate", "--product: %s", lic_errfull(rc));
  code = argc - optind == 1 ? argv[optind] : NULL;
  if (code == NULL && isatty(STDIN_FILENO)) {
    /* Pasted at a prompt, the code's $ * ~ = never meet a shell. */
    char line[LIC_CODE_MAX_INPUT + 2];
    fputs("activation code: ", stderr);
    fflush(stderr);
    if (fgets(line, sizeof line, stdin) == NULL)
      return cli_error(EXIT_FAIL, "activate", "no activation code given");
    size_t n = strcspn(line, "\r\n");
    if (line[n] == '\0' && n >= LIC_CODE_MAX_INPUT)
      return cli_error(EXIT_FAIL, "activate", "standard input: too long for an activation code");
    line[n] = '\0';
    if ((in = (uint8_t *)strdup(line)) == NULL)
      return cli_lic_error("activate", LIC_NOMEM);
    code = (const char *)in;
  } else if (code == NULL || strcmp(code, "-") == 0) {
    /* Bounded: anything longer than a code with generous spacing is refused. */
    if ((rc = lic_file_read("-", LIC_CODE_MAX_INPUT, &in, &inlen)) != LIC_OK)
      return cli_error(EXIT_FAIL, "activate", "standard input: %s",
                       rc == LIC_LIMIT ? "too long for an activation code" : lic_errfull(rc));
    if (strlen((const char *)in) != inlen) {
      free(in);
      return cli_error(EXIT_FAIL, "activate", "standard input holds a NUL byte");
    }
    code = (const char *)in;
  }
  state = licctl_state_dir(state);
  {
    /* A code on the newest revocation list is never bound (nothing written). */
    lic_revocations rv;
    lic_code pc;
    bool have_rv = false;
    if ((r = licctl_revocations(state, revfile, &ct.t, &rv, &have_rv)) != EXIT_OK) {
      free(in);
      return r;
    }
    bool revoked = have_rv && lic_code_parse(code, &pc) == LIC_OK &&
                   lic_revocations_has_activation(&rv, pc.product, pc.serial);
    long long seq = (long long)rv.seq;
    lic_revocations_clear(&rv);
    if (revoked) {
      free(in);
      return cli_error(EXIT_FAIL, "activate",
                       "revoked: product %d, serial %u is on the vendor's revocation list "
                       "(seq %lld): not activated", pc.product, pc.serial, seq);
    }
  }
  rc = server != NULL ? lic_designer_activate_online_tls(state, code, &ct.t, (int)product,
                                                         (int64_t)time(NULL), server, &tls.o, 0,
                                                         &info)
                      : lic_designer_activate(state, code, &ct.t, (int)product,
                                              (int64_t)time(NULL), &info);
  if (rc != LIC_OK && in == NULL && shell_expanded(code, rc)) {
    free(in);
    return cli_error(EXIT_FAIL, "activate", "%s (a shell may have expanded a '$' of the code: "
                     "inside double quotes \"$-\" becomes its flags, such as 'hB'; put the code "
                     "in single quotes, or give none and paste it at the prompt)",
                     lic_errfull(rc));
  }
  free(in);
  if (rc != LIC_OK)
    return cli_lic_error("activate", rc);
  if (json)
    return cli_json_print(info_json(&info, LIC_OK));
  char ex[11];
  lic_date_format(info.expires, ex);
  printf("activated: product %d, serial %u, edition %d, expires %s, machine %s%s\n",
         info.product, info.serial, info.edition, info.expires == 0 ? "never" : ex,
         info.machine_code, info.has_receipt ? " (claimed online)" : "");
  return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

int licctl_activation(int argc, char **argv) {
  const char *product_s = NULL, *state = NULL, *revfile = NULL;
  bool json = false, have_rv = false;
  cli_trust ct;
  cli_tls tls;
  lic_activation_info info;
  lic_revocations rv;
  int64_t product = -1;
  int r, rc;

  if ((r = parse_common("activation", argc, argv, &product_s, &state, NULL, &revfile, &ct, &tls,
                        &json, USAGE_ACTIVATION)) != EXIT_OK)
    return r < 0 ? EXIT_OK : r;
  if (optind != argc)
    return cli_usage("activation", "unexpected argument '%.40s'", argv[optind]);
  if (product_s != NULL && (rc = lic_parse_int(product_s, 0, 255, &product)) != LIC_OK)
    return cli_usage("activation", "--product: %s", lic_errfull(rc));
  state = licctl_state_dir(state);
  if ((r = licctl_revocations(state, revfile, &ct.t, &rv, &have_rv)) != EXIT_OK)
    return r;
  rc = lic_designer_check(state, &ct.t, (int)product, &info);
  /* A genuine code's serial on the list: revoked, whatever else holds. */
  bool revoked = have_rv && info.code[0] != '\0' && rc != LIC_NOTGENUINE &&
                 lic_revocations_has_activation(&rv, (uint8_t)info.product, info.serial);
  long long seq = have_rv ? (long long)rv.seq : 0;
  lic_revocations_clear(&rv);
  if (revoked) {
    char why[160];
    snprintf(why, sizeof why,
             "product %d, serial %u is on the vendor's revocation list (seq %lld)", info.product,
             info.serial, seq);
    if (json) {
      json_t *o = info_json(&info, LIC_OK);
      json_object_set_new(o, "status", json_string("revoked"));
      json_object_set_new(o, "reason", json_string(why));
      (void)cli_json_print(o);
      return EXIT_FAIL;
    }
    return cli_error(EXIT_FAIL, "activation", "revoked: %s", why);
  }
  if (json) {
    json_t *o = info.code[0] != '\0'
                    ? info_json(&info, rc)
                    : json_pack("{s:s, s:s}", "status", status_name(rc), "reason",
                                lic_errfull(rc));
    r = cli_json_print(o);
    return rc == LIC_OK && r == EXIT_OK ? EXIT_OK : EXIT_FAIL;
  }
  if (rc != LIC_OK)
    return cli_error(EXIT_FAIL, "activation", "%s", lic_errfull(rc));
  char ex[11], at[21];
  lic_date_format(info.expires, ex);
  lic_time_format(info.activated, at);
  printf("valid: product %d, serial %u, edition %d, expires %s, activated %s on this machine "
         "(%s)\n", info.product, info.serial, info.edition, info.expires == 0 ? "never" : ex,
         at, info.machine_code);
  return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}
