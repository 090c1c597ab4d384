/* revoke.c - licgen revoke: the next signed revocation list (SPEC §3.8),
 * appending licenses, accounts and activations to the previous list. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "licgen.h"
#include "lic/envelope.h"
#include "lic/fileio.h"
#include "lic/revocations.h"
#include "lic/util.h"

static const char USAGE[] =
    "usage: licgen revoke --key KEY [--list OLD.rev] [--license ID]... [--account ID]...\n"
    "         [--serial PRODUCT:SERIAL]... -o NEW.rev [--trust PUB.pem]... [--force]\n"
    "         [--passphrase-file F] [--json]\n\n"
    "Signs the next revocation list: every entry of OLD (its signature checked as\n"
    "'licgen renew' checks its input) plus the ones given, with seq = OLD's + 1\n"
    "(1 without --list). Ship NEW.rev beside the product ('--revocations F') and\n"
    "import it into license servers; the newest list wins (docs/revocation.md).\n"
    "  --key KEY            the vendor's root private key\n"
    "  --list OLD.rev       the current list, to extend\n"
    "  --license ID         a license id (UUID) to revoke (repeatable)\n"
    "  --account ID         a public-mode account id (UUID) to revoke (repeatable)\n"
    "  --serial P:S         a designer activation: product id 0..255 and serial (repeatable)\n"
    "  -o, --out FILE       the new list to write (refused if it exists, unless --force)\n"
    "  --trust FILE         trusted root public key (repeatable): checks OLD when another\n"
    "                       root signed it\n"
    "  --force              replace -o; extend a list signed by another trusted root\n"
    "  --passphrase-file F  the key's passphrase (first line of F)\n"
    LICGEN_KEY_HELP
    "  --json               print the new list's summary as JSON\n";

enum { O_KEY = 256, O_LIST, O_LICENSE, O_ACCOUNT, O_SERIAL, O_TRUST, O_PASS, O_JSON, O_FORCE };

/* "P:S": product 0..255, serial 0..2^32-1, both decimal. */
static int parse_serial(const char *s, uint8_t *product, uint32_t *serial) {
  const char *colon = strchr(s, ':');
  char p[8];
  int64_t pv, sv;
  int rc;
  if (colon == NULL || (size_t)(colon - s) >= sizeof p)
    return lic_fail(LIC_FORMAT, "'%s' is not PRODUCT:SERIAL (e.g. 7:4242)", s);
  memcpy(p, s, (size_t)(colon - s));
  p[colon - s] = '\0';
  if ((rc = lic_parse_int(p, 0, 255, &pv)) != LIC_OK ||
      (rc = lic_parse_int(colon + 1, 0, UINT32_MAX, &sv)) != LIC_OK)
    return lic_fail(rc, "'%s': product 0..255 and serial 0..4294967295", s);
  *product = (uint8_t)pv;
  *serial = (uint32_t)sv;
  return LIC_OK;
}

static int add_uuid(lic_revocations *r, const char *s, bool account) {
  uint8_t id[LIC_ID_LEN];
  int rc;
  if ((rc = lic_uuid_parse(s, strlen(s), id)) != LIC_OK)
    return lic_fail(rc, "'%s' is not an id (UUID)", s);
  return account ? lic_revocations_add_account(r, id) : lic_revocations_add_license(r, id);
}

static json_t *list_json(const lic_revocations *r) {
  char at[21];
  lic_time_format(r->issued, at);
  return json_pack("{s:s, s:I, s:I, s:s, s:I, s:I, s:I}", "typ", LIC_REVOCATIONS_TYP, "seq",
                   (json_int_t)r->seq, "issued", (json_int_t)r->issued, "issued_at", at,
                   "licenses", (json_int_t)r->nlicenses, "accounts", (json_int_t)r->naccounts,
                   "activations", (json_int_t)r->nactivations);
}

typedef struct {
  int opt;
  const char *arg;
} pending;

int licgen_revoke(int argc, char **argv) {
  static const struct option opts[] = {
      {"key", required_argument, NULL, O_KEY}, {"list", required_argument, NULL, O_LIST},
      {"license", required_argument, NULL, O_LICENSE},
      {"account", required_argument, NULL, O_ACCOUNT},
      {"serial", required_argument, NULL, O_SERIAL}, {"trust", required_argument, NULL, O_TRUST},
      {"passphrase-file", required_argument, NULL, O_PASS}, LICGEN_KEY_OPTIONS,
      {"json", no_argument, NULL, O_JSON}, {"force", no_argument, NULL, O_FORCE},
      {"out", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *keyfile = NULL, *list = NULL, *out = NULL, *passfile = NULL;
  bool json = false, force = false;
  cli_trust trust;
  lic_revocations rv;
  lic_key *key = NULL;
  pending *adds = NULL;
  size_t nadds = 0;
  char *armored = NULL;
  uint8_t *oldenv = NULL, *body = NULL, *env = NULL;
  size_t oldlen = 0, blen = 0, elen = 0, alen = 0;
  int c, r = EXIT_FAIL, rc;
  int64_t now = (int64_t)time(NULL);

  memset(&rv, 0, sizeof rv);
  cli_trust_init(&trust);
  licgen_p11 p11 = {NULL, NULL};
  adds = calloc((size_t)argc, sizeof *adds);
  if (adds == NULL)
    return cli_lic_error("revoke", LIC_NOMEM);
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case O_KEY: keyfile = optarg; break;
    case O_LIST: list = optarg; break;
    case O_LICENSE:
    case O_ACCOUNT:
    case O_SERIAL: adds[nadds++] = (pending){c, optarg}; break;
    case O_TRUST:
      if ((r = cli_trust_add(&trust, optarg)) != EXIT_OK)
        goto out;
      break;
    case O_PASS: passfile = optarg; break;
    case LICGEN_O_P11MOD: p11.module = optarg; break;
    case LICGEN_O_PIN: p11.pinfile = optarg; break;
    case O_JSON: json = true; break;
    case O_FORCE: force = true; break;
    case 'o': out = optarg; break;
    case 'h': fputs(USAGE, stdout); r = EXIT_OK; goto out;
    default: r = cli_bad_option("revoke", argv, opts); goto out;
    }
  }
  r = EXIT_USAGE;
  if (argc != optind) {
    r = cli_usage("revoke", "unexpected argument '%s'", argv[optind]);
    goto out;
  }
  const char *missing = keyfile == NULL ? "--key" : out == NULL ? "-o" : NULL;
  if (missing != NULL) {
    r = cli_usage("revoke", "%s is required", missing);
    goto out;
  }
  if (nadds == 0 && list == NULL) {
    r = cli_usage("revoke", "give what to revoke: --license, --account or --serial");
    goto out;
  }
  /* Entries first: a typo is a usage error before any key is touched. */
  for (size_t i = 0; i < nadds; i++) {
    uint8_t product;
    uint32_t serial;
    if (adds[i].opt == O_SERIAL && (rc = parse_serial(adds[i].arg, &product, &serial)) != LIC_OK) {
      r = cli_error(EXIT_USAGE, "--serial", "%s", lic_errdetail());
      goto out;
    }
    if (adds[i].opt != O_SERIAL) {
      uint8_t id[LIC_ID_LEN];
      if (lic_uuid_parse(adds[i].arg, strlen(adds[i].arg), id) != LIC_OK) {
        r = cli_error(EXIT_USAGE, adds[i].opt == O_LICENSE ? "--license" : "--account",
                      "'%s' is not an id (UUID, as licgen inspect shows it)", adds[i].arg);
        goto out;
      }
    }
  }
  if (!force && strcmp(out, "-") != 0 && access(out, F_OK) == 0) {
    r = cli_error(EXIT_FAIL, out, "exists; give --force to replace it");
    goto out;
  }
  if ((r = licgen_key_load(keyfile, passfile, &p11, &key)) != EXIT_OK)
    goto out;
  r = EXIT_FAIL;
  if (list != NULL) {
    lic_envelope e;
    if ((r = licgen_load_predecessor(list, LIC_REVOCATIONS_TYP, key, &trust.t, force, &oldenv,
                                     &oldlen)) != EXIT_OK)
      goto out;
    r = EXIT_FAIL;
    if ((rc = lic_envelope_decode(oldenv, oldlen, &e)) != LIC_OK ||
        (rc = lic_revocations_parse(e.body, e.body_len, &rv)) != LIC_OK) {
      r = cli_lic_error(list, rc);
      goto out;
    }
    if (rv.seq == INT64_MAX) {
      r = cli_error(EXIT_FAIL, list, "its seq is the largest there is");
      goto out;
    }
  }
  size_t before = lic_revocations_count(&rv);
  for (size_t i = 0; i < nadds; i++) {
    if (adds[i].opt == O_SERIAL) {
      uint8_t product;
      uint32_t serial;
      (void)parse_serial(adds[i].arg, &product, &serial); /* checked above */
      rc = lic_revocations_add_activation(&rv, product, serial);
    } else {
      rc = add_uuid(&rv, adds[i].arg, adds[i].opt == O_ACCOUNT);
    }
    if (rc != LIC_OK) {
      r = cli_lic_error(adds[i].arg, rc);
      goto out;
    }
  }
  rv.seq++;
  rv.issued = now;
  if ((rc = lic_revocations_pack(&rv, &body, &blen)) != LIC_OK ||
      (rc = lic_envelope_seal(LIC_REVOCATIONS_TYP, body, blen, key, &env, &elen)) != LIC_OK) {
    r = cli_lic_error("sign", rc);
    goto out;
  }
  {
    char kid[2 * LIC_KID_LEN + 1], at[21], comments[512];
    lic_kid_hex(lic_key_kid(key), kid);
    lic_time_format(rv.issued, at);
    snprintf(comments, sizeof comments,
             "licsrv revocation list seq %lld\nissued: %s\nrevoked: %zu licenses, %zu accounts, "
             "%zu activations\nsigned by: %s",
             (long long)rv.seq, at, rv.nlicenses, rv.naccounts, rv.nactivations, kid);
    if ((rc = lic_armor_encode(LIC_REVOCATIONS_TYP, comments, env, elen, &armored, &alen)) !=
            LIC_OK ||
        (rc = lic_file_write(out, armored, alen, 0644, 0)) != LIC_OK) {
      r = cli_lic_error(out, rc);
      goto out;
    }
    if (json)
      cli_json_print(list_json(&rv));
    else
      fprintf(stderr, "licgen: wrote revocation list seq %lld (%zu new, %zu entries) to %s\n",
              (long long)rv.seq, lic_revocations_count(&rv) - before, lic_revocations_count(&rv),
              out);
  }
  r = EXIT_OK;
out:
  free(adds);
  lic_key_free(key);
  lic_revocations_clear(&rv);
  free(oldenv);
  free(body);
  free(env);
  free(armored);
  return r;
}
