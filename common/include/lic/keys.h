/* keys.h - Ed25519 keys through OpenSSL EVP: generate, PEM load/save, kid,
 * sign/verify, and the trust store of vendor root public keys. */
#ifndef LIC_KEYS_H
#define LIC_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/api.h"

#define LIC_PUBKEY_LEN 32
#define LIC_SIG_LEN    64
#define LIC_KID_LEN    8
#define LIC_MAX_TRUST  64  /* root keys in one trust store */
#define LIC_MAX_PASSPHRASE 1024

typedef struct lic_key lic_key; /* opaque: an Ed25519 key, private or public */

LIC_API int lic_key_generate(lic_key **out);
/* Load a PKCS#8 PEM private key; refuses files readable by group/others.
 * passphrase may be NULL (an encrypted key then fails with LIC_PASSPHRASE). */
LIC_API int lic_key_load_private(const char *path, const char *passphrase, lic_key **out);
LIC_API int lic_key_from_private_pem(const uint8_t *pem, size_t len, const char *passphrase,
                                     lic_key **out);
/* A SubjectPublicKeyInfo PEM public key (a private key PEM is refused). */
LIC_API int lic_key_load_public(const char *path, lic_key **out);
LIC_API int lic_key_from_public_pem(const uint8_t *pem, size_t len, lic_key **out);
LIC_API int lic_key_from_raw_public(const uint8_t pub[LIC_PUBKEY_LEN], lic_key **out);
/* PEM text (malloc'd, NUL-terminated). The private form is PKCS#8, encrypted
 * with AES-256-CBC (PBES2) when passphrase is non-NULL. */
LIC_API int lic_key_private_pem(const lic_key *k, const char *passphrase, char **pem,
                                size_t *len);
LIC_API int lic_key_public_pem(const lic_key *k, char **pem, size_t *len);
/* Write the private key (0600, never replacing a file) / public key (0644). */
LIC_API int lic_key_save_private(const lic_key *k, const char *path, const char *passphrase);
LIC_API int lic_key_save_public(const lic_key *k, const char *path);
LIC_API bool lic_key_has_private(const lic_key *k);
LIC_API const uint8_t *lic_key_raw_public(const lic_key *k);
LIC_API const uint8_t *lic_key_kid(const lic_key *k);
LIC_API void lic_key_free(lic_key *k);

/* A key whose private half lives outside this process (a hardware token,
 * docs/keys.md): liblic signs through these callbacks and never sees the
 * private key. ctx belongs to the key and is released with free(ctx). open
 * makes another context for one more thread of signing (a PKCS#11 session of
 * its own, for licgen codes --jobs); NULL when the context may be shared.
 * sign writes the Ed25519 signature of msg; both return a LIC_ error, with
 * lic__fail's detail set. */
typedef struct {
  int (*sign)(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[LIC_SIG_LEN]);
  int (*open)(void *ctx, void **out);
  void (*free)(void *ctx);
} lic_key_signer;
/* The key of public key pub signing through ops (copied). ctx is owned by
 * the key from here on, also on failure. */
LIC_API int lic_key_from_signer(const uint8_t pub[LIC_PUBKEY_LEN], const lic_key_signer *ops,
                                void *ctx, lic_key **out);
/* True for a key made by lic_key_from_signer: its private half cannot be
 * written out. */
LIC_API bool lic_key_is_external(const lic_key *k);
/* For one more signing thread: a context of its own (*ctx, to release with
 * lic_key_signer_close) when the signer has open, else *ctx NULL and the
 * key's own context is used. */
LIC_API int lic_key_signer_open(const lic_key *k, void **ctx);
LIC_API void lic_key_signer_close(const lic_key *k, void *ctx);
/* Sign msg with the external key through ctx (NULL: the key's own). */
LIC_API int lic_key_signer_sign(const lic_key *k, void *ctx, const uint8_t *msg, size_t len,
                                uint8_t sig[LIC_SIG_LEN]);

/* kid = first 8 bytes of SHA-256(raw public key). */
LIC_API void lic_kid_of(const uint8_t pub[LIC_PUBKEY_LEN], uint8_t kid[LIC_KID_LEN]);
/* 16 lowercase hex digits + NUL. */
LIC_API void lic_kid_hex(const uint8_t kid[LIC_KID_LEN], char out[2 * LIC_KID_LEN + 1]);

/* Sign the concatenation of the parts (avoids a copy for prefix + body). */
LIC_API int lic_key_sign2(const lic_key *k, const uint8_t *a, size_t alen, const uint8_t *b,
                          size_t blen, uint8_t sig[LIC_SIG_LEN]);
LIC_API int lic_sig_verify2(const uint8_t pub[LIC_PUBKEY_LEN], const uint8_t *a, size_t alen,
                            const uint8_t *b, size_t blen, const uint8_t sig[LIC_SIG_LEN]);

/* The trust store: vendor root public keys. */
typedef struct {
  size_t n;
  struct {
    uint8_t pub[LIC_PUBKEY_LEN];
    uint8_t kid[LIC_KID_LEN];
  } k[LIC_MAX_TRUST];
} lic_trust;

/* The store compiled in from the keys/trusted directory (PEM files). */
LIC_API int lic_trust_builtin(lic_trust *t);
LIC_API size_t lic_trust_builtin_count(void);
LIC_API void lic_trust_init(lic_trust *t);
LIC_API int lic_trust_add_raw(lic_trust *t, const uint8_t pub[LIC_PUBKEY_LEN]);
LIC_API int lic_trust_add_file(lic_trust *t, const char *path);
/* The public key with this kid, or NULL. */
LIC_API const uint8_t *lic_trust_find(const lic_trust *t, const uint8_t kid[LIC_KID_LEN]);

/* Passphrase from a file: first line, without its line end. */
LIC_API int lic_passphrase_read(const char *path, char **out);
/* OPENSSL_cleanse + free. */
LIC_API void lic_secret_free(void *p, size_t len);

#endif
