/* vecutil.h - what the byte-exact vector tests (test_vectors*.c) share: the
 * files under tests/vectors/, the fixed test keys, writing the vectors again
 * (LIC_REGEN_VECTORS=1) and checking a stored signature with OpenSSL alone. */
#ifndef LIC_VECUTIL_H
#define LIC_VECUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "lic/keys.h"

typedef struct {
  uint8_t *p;
  size_t n;
} tu_blob;

/* tests/vectors/NAME (two static slots: copy it to keep it). */
const char *tu_vec_path(const char *name);
/* The stored vector NAME, or a failed test that says how to regenerate it. */
tu_blob tu_vec_stored(const char *name);
/* A private key of keys/test/ (made 0600 first, as the loader insists). */
lic_key *tu_vec_key(const char *rel);
/* With LIC_REGEN_VECTORS=1, write each of the n blobs to its file: 0 when
 * done or not asked, -1 on a write failure. */
int tu_vec_regen(const char *const *files, const tu_blob *b, size_t n);
/* Fail unless the stored file equals what the fixed inputs give now. */
void tu_vec_compare(const char *file, const tu_blob *now);
/* OpenSSL alone: the stored envelope ENVFILE carries BODYFILE as its body, and
 * its signature verifies over "LICSRV1 " typ "\n" body with the key PUBPEM,
 * whose SHA-256 starts the envelope's key id. */
void tu_vec_openssl_check(const char *envfile, const char *bodyfile, const char *typ,
                          const char *pubpem);

#endif
