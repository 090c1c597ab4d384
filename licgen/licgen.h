/* licgen.h - the sales-ops tool's subcommands, one file each. */
#ifndef LICGEN_H
#define LICGEN_H

int licgen_keygen(int argc, char **argv);   /* keygen.c */
int licgen_sign(int argc, char **argv);     /* sign.c */
int licgen_inspect(int argc, char **argv);  /* inspect.c */
int licgen_codes(int argc, char **argv);    /* codes.c (designer activation codes) */
int licgen_account(int argc, char **argv);  /* account.c (public-mode accounts) */
int licgen_certify(int argc, char **argv);  /* certify.c (online-key certificates) */

/* What the signing subcommands share (common.c). */
struct lic_key;
/* The root key of --key, decrypted with --passphrase-file when given (the
 * passphrase wiped at once). Exit code; a one-line error said. */
int licgen_key_load(const char *keyfile, const char *passfile, struct lic_key **key);

#endif
