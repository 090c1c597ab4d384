/* certify.c - licgen certify: a root key certifies a public-mode server's
 * online key for signing verdicts (SPEC §3.7). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "licgen.h"
#include "lic/cert.h"
#include "lic/envelope.h"
#include "lic/fileio.h"

static const char USAGE[] =
    "usage: licgen certify --key KEY.pem --pubkey ONLINE.pub.pem --role verdict --days N\n"
    "         -o CERT [--not-before YYYY-MM-DD] [--passphrase-file F] [--dry-run] [--json]\n\n"
    "Certifies the online key of a public-mode licsrv (DATA/online.pub.pem, or\n"
    "DATA/online.next.pub.pem after 'licsrv rekey') to sign verdicts, from\n"
    "--not-before (default: now) for N days. Import the certificate with\n"
    "'licsrv import CERT'.\n"
    "  --key KEY.pem     the vendor's root private key (from 'licgen keygen')\n"
    "  --pubkey FILE     the online key's public half (SubjectPublicKeyInfo PEM)\n"
    "  --role verdict    what the key may sign (verdict is the only role)\n"
    "  --days N          validity, 1..825 days\n"
    "  --not-before D    first valid day (default: now)\n"
    "  -o, --out FILE    certificate file to write\n"
    "  --passphrase-file F  the key's passphrase (first line of F)\n"
    LICGEN_KEY_HELP
    "  --dry-run         print what would be signed; write nothing\n"
    "  --json            print the certificate's terms as JSON\n";

enum { O_KEY = 256, O_PUBKEY, O_ROLE, O_DAYS, O_NOTBEFORE, O_PASS, O_DRY, O_JSON };

static json_t *cert_json(const lic_cert *c) {
  char id[LIC_UUID_LEN + 1], kid[2 * LIC_KID_LEN + 1], nb[21], ex[21];
  uint8_t k[LIC_KID_LEN];
  lic_uuid_format(c->id, id);
  lic_kid_of(c->pubkey, k);
  lic_kid_hex(k, kid);
  lic_time_format(c->not_before, nb);
  lic_time_format(c->expires, ex);
  return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:s}", "id", id, "role", c->role,
                   "pubkey_kid", kid, "not_before_at", nb, "not_before", (json_int_t)c->not_before,
                   "expires_at", ex, "expires", (json_int_t)c->expires, "typ", "cert");
}

int licgen_certify(int argc, char **argv) {
  static const struct option opts[] = {
      {"key", required_argument, NULL, O_KEY}, {"pubkey", required_argument, NULL, O_PUBKEY},
      {"role", required_argument, NULL, O_ROLE}, {"days", required_argument, NULL, O_DAYS},
      {"not-before", required_argument, NULL, O_NOTBEFORE},
      {"passphrase-file", required_argument, NULL, O_PASS}, LICGEN_KEY_OPTIONS,
      {"dry-run", no_argument, NULL, O_DRY}, {"json", no_argument, NULL, O_JSON},
      {"out", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *keyfile = NULL, *pubfile = NULL, *role = NULL, *days = NULL, *out = NULL,
             *notbefore = NULL, *passfile = NULL;
  bool dry = false, json = false;
  lic_cert cert;
  lic_key *key = NULL, *pub = NULL;
  char *armored = NULL;
  uint8_t *body = NULL, *env = NULL;
  size_t blen = 0, elen = 0, alen = 0;
  int c, r = EXIT_FAIL, rc;
  int64_t now = (int64_t)time(NULL), ndays;

  memset(&cert, 0, sizeof cert);
  licgen_p11 p11 = {NULL, NULL};
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case O_KEY: keyfile = optarg; break;
    case O_PUBKEY: pubfile = optarg; break;
    case O_ROLE: role = optarg; break;
    case O_DAYS: days = optarg; break;
    case O_NOTBEFORE: notbefore = optarg; break;
    case O_PASS: passfile = optarg; break;
    case LICGEN_O_P11MOD: p11.module = optarg; break;
    case LICGEN_O_PIN: p11.pinfile = optarg; break;
    case O_DRY: dry = true; break;
    case O_JSON: json = true; break;
    case 'o': out = optarg; break;
    case 'h': fputs(USAGE, stdout); return EXIT_OK;
    default: return cli_bad_option("certify", argv, opts);
    }
  }
  if (argc != optind)
    return cli_usage("certify", "unexpected argument '%s'", argv[optind]);
  const char *missing = keyfile == NULL ? "--key" : pubfile == NULL ? "--pubkey"
                      : role == NULL ? "--role" : days == NULL ? "--days"
                      : out == NULL && !dry ? "-o" : NULL;
  if (missing != NULL)
    return cli_usage("certify", "%s is required", missing);
  if (strcmp(role, LIC_CERT_ROLE) != 0)
    return cli_usage("certify", "--role must be %s (the only role an online key has)",
                     LIC_CERT_ROLE);
  if ((rc = lic_parse_int(days, 1, LIC_CERT_MAX_DAYS, &ndays)) != LIC_OK)
    return cli_usage("certify", "--days: %s", lic_errfull(rc));
  cert.not_before = now;
  if (notbefore != NULL && (rc = lic_date_parse(notbefore, &cert.not_before)) != LIC_OK)
    return cli_usage("certify", "--not-before: %s", lic_errfull(rc));
  cert.issued = now;
  cert.expires = cert.not_before + ndays * 86400;
  if (cert.expires <= now)
    return cli_usage("certify", "the certificate would have expired already");
  snprintf(cert.role, sizeof cert.role, "%s", role);
  if ((rc = lic_key_load_public(pubfile, &pub)) != LIC_OK)
    return cli_lic_error(pubfile, rc);
  memcpy(cert.pubkey, lic_key_raw_public(pub), LIC_PUBKEY_LEN);
  if ((rc = lic_random(cert.id, LIC_ID_LEN)) != LIC_OK) {
    r = cli_lic_error("random", rc);
    goto out;
  }

  if (dry || json) {
    json_t *t = cert_json(&cert);
    if (json) {
      cli_json_print(t);
    } else {
      printf("would sign (dry run, nothing written):\n");
      cli_print_flat(t, "");
      json_decref(t);
    }
    if (dry) {
      r = EXIT_OK;
      goto out;
    }
  }
  if ((r = licgen_key_load(keyfile, passfile, &p11, &key)) != EXIT_OK)
    goto out;
  r = EXIT_FAIL;
  /* A root key certifying itself would let its holder skip the online key. */
  if (memcmp(lic_key_raw_public(key), cert.pubkey, LIC_PUBKEY_LEN) == 0) {
    r = cli_error(EXIT_USAGE, "--pubkey", "is the public half of --key: certify an online key");
    goto out;
  }
  if ((rc = lic_cert_pack(&cert, &body, &blen)) != LIC_OK ||
      (rc = lic_envelope_seal(LIC_CERT_TYP, body, blen, key, &env, &elen)) != LIC_OK) {
    r = cli_lic_error("sign", rc);
    goto out;
  }
  {
    char id[LIC_UUID_LEN + 1], kid[2 * LIC_KID_LEN + 1], okid[2 * LIC_KID_LEN + 1], ex[21],
        comments[512];
    uint8_t k[LIC_KID_LEN];
    lic_uuid_format(cert.id, id);
    lic_kid_hex(lic_key_kid(key), kid);
    lic_kid_of(cert.pubkey, k);
    lic_kid_hex(k, okid);
    lic_time_format(cert.expires, ex);
    snprintf(comments, sizeof comments,
             "licsrv online-key certificate %s\nrole: %s\nonline key: %s\nexpires: %s\n"
             "signed by: %s", id, cert.role, okid, ex, kid);
    if ((rc = lic_armor_encode(LIC_CERT_TYP, comments, env, elen, &armored, &alen)) != LIC_OK ||
        (rc = lic_file_write(out, armored, alen, 0644, 0)) != LIC_OK) {
      r = cli_lic_error(out, rc);
      goto out;
    }
    if (!json)
      fprintf(stderr, "licgen: wrote certificate %s for online key %s (until %s) to %s\n", id,
              okid, ex, out);
  }
  r = EXIT_OK;
out:
  lic_key_free(key);
  lic_key_free(pub);
  free(body);
  free(env);
  free(armored);
  return r;
}
