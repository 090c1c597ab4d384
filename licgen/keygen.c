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

static const char USAGE[] =
    "usage: licgen keygen -o KEY.pem [--passphrase-file FILE] [--json]\n\n"
    "Creates an Ed25519 vendor root key. The private key goes to KEY.pem (PKCS#8,\n"
    "mode 0600, encrypted when --passphrase-file is given); the public key to\n"
    "KEY.pub.pem (copy that one into keys/trusted/ of the verifiers). Prints the\n"
    "key id. Never replaces an existing key file.\n\n"
    "  -o, --out FILE            private key file (required; --output alike)\n"
    "  --passphrase-file FILE    encrypt the private key with the first line of FILE\n"
    "  --json                    print {kid, private, public} as JSON\n";

/* KEY.pem -> KEY.pub.pem; KEY -> KEY.pub.pem */
static void pub_path(const char *priv, char *out, size_t cap) {
  size_t n = strlen(priv);
  if (n > 4 && strcmp(priv + n - 4, ".pem") == 0)
    n -= 4;
  snprintf(out, cap, "%.*s.pub.pem", (int)n, priv);
}

int licgen_keygen(int argc, char **argv) {
  static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"passphrase-file", required_argument, NULL, 'P'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *out = NULL, *passfile = NULL;
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
    case 'h': fputs(USAGE, stdout); return EXIT_OK;
    default: return cli_bad_option("keygen", argv, opts);
    }
  }
  if (optind != argc)
    return cli_usage("keygen", "unexpected argument '%.40s'", argv[optind]);
  if (out == NULL)
    return cli_usage("keygen", "-o KEY.pem is required");
  pub_path(out, pub, sizeof pub);
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
