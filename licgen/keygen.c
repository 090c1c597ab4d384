/* keygen.c - licgen keygen: a vendor root key pair (private 0600, public PEM). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "licgen.h"
#include "lic/keys.h"
#include "p11key.h"
#include "p11uri.h"

static const char USAGE[] =
    "usage: licgen keygen -o KEY.pem [--passphrase-file FILE] [--json]\n"
    "       licgen keygen --pkcs11 URI -o KEY.pub.pem [--pkcs11-module F] [--pin-file F]\n\n"
    "Creates an Ed25519 vendor root key. The private key goes to KEY.pem (PKCS#8,\n"
    "mode 0600, encrypted when --passphrase-file is given); the public key to\n"
    "KEY.pub.pem (copy that one into keys/trusted/ of the verifiers). Prints the\n"
    "key id. Never replaces an existing key file.\n\n"
    "  -o, --out FILE            private key file (required; --output alike)\n"
    "  --passphrase-file FILE    encrypt the private key with the first line of FILE\n"
    "  --json                    print {kid, private, public} as JSON\n\n"
    "With --pkcs11 the pair is made inside a PKCS#11 token (docs/keys.md): the\n"
    "private key never leaves it (sensitive, not extractable) and only the\n"
    "public key is written, to -o (KEY.pub.pem; KEY.pem names KEY.pub.pem too).\n"
    "Sign with --key URI afterwards.\n\n"
    "  --pkcs11 URI              pkcs11:token=T;object=LABEL[;id=%xx...]: the token and\n"
    "                            the new key's label (an existing label is refused)\n"
    "  --pkcs11-module F         the token's PKCS#11 module (else $LICGEN_PKCS11_MODULE)\n"
    "  --pin-file F              the token's user PIN: first line of F, mode 0600\n";

/* KEY.pem -> KEY.pub.pem; KEY -> KEY.pub.pem. With a token (keep_pub) the
 * -o names the public key: KEY.pub.pem stays. */
static void pub_path(const char *priv, bool keep_pub, char *out, size_t cap) {
  size_t n = strlen(priv);
  if (keep_pub && n > 8 && strcmp(priv + n - 8, ".pub.pem") == 0)
    n -= 8;
  else
  if (n > 4 && strcmp(priv + n - 4, ".pem") == 0)
    n -= 4;
  snprintf(out, cap, "%.*s.pub.pem", (int)n, priv);
}

/* keygen --pkcs11: the pair inside the token, the public key to pub. */
static int keygen_token(const char *uri, const char *passfile, const licgen_p11 *p11,
                        const char *pub, bool json) {
  char kid[2 * LIC_KID_LEN + 1];
  lic_key *k = NULL;
  int r, rc;
  if (passfile != NULL)
    return cli_usage("keygen", "--passphrase-file: a key in a token is not written out (its "
                     "PIN comes from --pin-file)");
  if (!p11_uri_is(uri))
    return cli_usage("keygen", "--pkcs11: '%.40s' is not a pkcs11: URI", uri);
  /* Fail before the token holds a key nobody gets the public half of. */
  if (access(pub, F_OK) == 0)
    return cli_error(EXIT_FAIL, pub, "exists; a key file is never replaced");
  if ((rc = p11_key_generate(uri, p11->module, p11->pinfile, &k)) != LIC_OK)
    return licgen_p11_error(rc);
  lic_kid_hex(lic_key_kid(k), kid);
  if ((rc = lic_key_save_public(k, pub)) != LIC_OK) {
    char d[400];
    snprintf(d, sizeof d, "%s", lic_errfull(rc));
    r = cli_error(EXIT_FAIL, pub, "%s; the key (kid %s) is in the token: read its public "
                  "half with pkcs11-tool --read-object --type pubkey (docs/keys.md)", d, kid);
  } else if (json) {
    r = cli_json_print(json_pack("{s:s, s:s, s:s}", "kid", kid, "private", uri, "public", pub));
  } else {
    printf("kid %s\nprivate key: in the token, %s (never leaves it)\npublic key:  %s\n", kid,
           uri, pub);
    r = EXIT_OK;
  }
  lic_key_free(k);
  return r;
}

int licgen_keygen(int argc, char **argv) {
  static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"passphrase-file", required_argument, NULL, 'P'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"pkcs11", required_argument, NULL, 'K'},
                                       LICGEN_KEY_OPTIONS,
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *out = NULL, *passfile = NULL, *uri = NULL;
  licgen_p11 p11 = {NULL, NULL};
  char *pass = NULL, pub[PATH_MAX], kid[2 * LIC_KID_LEN + 1];
  bool json = false;
  lic_key *k = NULL;
  int c, r;

  optind = 1;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 'P': passfile = optarg; break;
    case 'j': json = true; break;
    case 'K': uri = optarg; break;
    case LICGEN_O_P11MOD: p11.module = optarg; break;
    case LICGEN_O_PIN: p11.pinfile = optarg; break;
    case 'h': fputs(USAGE, stdout); return EXIT_OK;
    default: return cli_bad_option("keygen", argv, opts);
    }
  }
  if (optind != argc)
    return cli_usage("keygen", "unexpected argument '%.40s'", argv[optind]);
  if (out == NULL)
    return cli_usage("keygen", "-o KEY.pem is required");
  pub_path(out, uri != NULL, pub, sizeof pub);
  if (uri != NULL)
    return keygen_token(uri, passfile, &p11, pub, json);
  if (p11.module != NULL || p11.pinfile != NULL)
    return cli_usage("keygen", "%s: only with --pkcs11",
                     p11.module != NULL ? "--pkcs11-module" : "--pin-file");
  if ((r = cli_passphrase(passfile, &pass)) != EXIT_OK)
    return r;
  int rc = lic_key_generate(&k);
  if (rc == LIC_OK)
    rc = lic_key_save_private(k, out, pass);
  if (rc != LIC_OK) {
    r = cli_lic_error(out, rc);
    goto done;
  }
  if ((rc = lic_key_save_public(k, pub)) != LIC_OK) {
    r = cli_lic_error(pub, rc);
    unlink(out); /* ours (written NOREPLACE just now); a retry would hit "exists" */
    goto done;
  }
  lic_kid_hex(lic_key_kid(k), kid);
  if (json) {
    r = cli_json_print(json_pack("{s:s, s:s, s:s}", "kid", kid, "private", out, "public", pub));
  } else {
    printf("kid %s\nprivate key: %s (keep it secret)\npublic key:  %s\n", kid, out, pub);
    r = EXIT_OK;
  }
done:
  lic_key_free(k);
  if (pass != NULL)
    lic_secret_free(pass, strlen(pass));
  return r;
}
