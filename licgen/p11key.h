/* p11key.h - vendor root keys inside a PKCS#11 token (docs/keys.md): the
 * module dlopen'ed on demand, Ed25519 (CKM_EDDSA) signing in the token. */
#ifndef LICGEN_P11KEY_H
#define LICGEN_P11KEY_H

#include "lic/keys.h"

#define P11_MODULE_ENV "LICGEN_PKCS11_MODULE"

/* The Ed25519 private key the URI names, as a lic_key that signs inside the
 * token (every lic_key_open'ed context is a session of its own). module: the
 * --pkcs11-module value or NULL (then $LICGEN_PKCS11_MODULE, then the URI's
 * module-path). pinfile: --pin-file (mode 0600) or NULL. A LIC_ error with
 * lic_errdetail() one line "WHAT: WHY" (WHAT an option name). */
int p11_key_load(const char *uri, const char *module, const char *pinfile, lic_key **out);

/* licgen keygen --pkcs11: a new Ed25519 pair inside the token, labelled
 * object= (and id= when given), the private half CKA_SENSITIVE and not
 * CKA_EXTRACTABLE. Refuses when an object of that label/id exists. */
int p11_key_generate(const char *uri, const char *module, const char *pinfile, lic_key **out);

#endif
