/* licgen.h - the sales-ops tool's subcommands, one file each. */
#ifndef LICGEN_H
#define LICGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lic/keys.h"
#include "lic/license.h"

int licgen_keygen(int argc, char **argv);   /* keygen.c */
int licgen_sign(int argc, char **argv);     /* sign.c */
int licgen_inspect(int argc, char **argv);  /* inspect.c */
int licgen_codes(int argc, char **argv);    /* codes.c (designer activation codes) */
int licgen_account(int argc, char **argv);  /* account.c (public-mode accounts) */
int licgen_certify(int argc, char **argv);  /* certify.c (online-key certificates) */
int licgen_renew(int argc, char **argv);    /* renew.c (a license's successor) */
int licgen_revoke(int argc, char **argv);   /* revoke.c (the next revocation list) */

/* What the signing subcommands share (common.c). */
struct lic_key;
/* --key in a token (docs/keys.md): the options every signing subcommand takes. */
enum { LICGEN_O_P11MOD = 2000, LICGEN_O_PIN }; /* after terms.h's 1000.. */
#define LICGEN_KEY_OPTIONS                                             \
  {"pkcs11-module", required_argument, NULL, LICGEN_O_P11MOD},        \
  {"pin-file", required_argument, NULL, LICGEN_O_PIN}
#define LICGEN_KEY_HELP                                                               \
  "  --key KEY            a PEM private key file, or a pkcs11: URI of a key in a\n"    \
  "                       token (pkcs11:token=T;object=O, docs/keys.md)\n"            \
  "  --pkcs11-module F    the token's PKCS#11 module (else $LICGEN_PKCS11_MODULE)\n"   \
  "  --pin-file F         the token's user PIN: first line of F, mode 0600\n"
typedef struct {
  const char *module;  /* --pkcs11-module */
  const char *pinfile; /* --pin-file */
} licgen_p11;
/* The root key of --key: a PEM file decrypted with --passphrase-file when
 * given (the passphrase wiped at once), or a pkcs11: URI signing inside its
 * token. Exit code; a one-line error said. */
int licgen_key_load(const char *keyfile, const char *passfile, const licgen_p11 *p11,
                    struct lic_key **key);
/* A token's error (p11key.h) as the one line: exit 2 for a malformed URI. */
int licgen_p11_error(int rc);

/* The envelope of a license, account or revocation list being renewed or
 * extended (typ), its signature
 * checked: with --key's public half when the same root signed it, else
 * against the trust store, and then only with force (a key rotation). The
 * envelope bytes go to *env (to free). Exit code; a one-line error said. */
int licgen_load_predecessor(const char *path, const char *typ, const lic_key *key,
                            const lic_trust *trust, bool force, uint8_t **env,
                            size_t *len);

/* A license's terms as JSON (sign --json/--dry-run, renew). */
json_t *licgen_license_json(const lic_license *l);
/* The armor's human summary lines of a license signed by key. */
void licgen_license_comments(const lic_license *l, const lic_key *key, char *out, size_t cap);

/* --dry-run of a renewal: the terms of old and new side by side (keys in
 * order), '*' before each line that changed. */
void licgen_print_side_by_side(json_t *old, json_t *neu, const char *const *keys, size_t n);

#endif
