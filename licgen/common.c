/* common.c - what licgen's signing subcommands share. */
#include <string.h>

#include "cli.h"
#include "lic/keys.h"
#include "licgen.h"

int licgen_key_load(const char *keyfile, const char *passfile, lic_key **key) {
  char *pass = NULL;
  int r, rc;
  *key = NULL;
  if ((r = cli_passphrase(passfile, &pass)) != EXIT_OK)
    return r;
  rc = lic_key_load_private(keyfile, pass, key);
  if (pass != NULL)
    lic_secret_free(pass, strlen(pass));
  return rc == LIC_OK ? EXIT_OK : cli_lic_error("--key", rc);
}
