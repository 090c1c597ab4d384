/* keys.c - Ed25519 keys on OpenSSL 3 EVP, PEM files, kid, trust store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "internal.h"
#include "lic/fileio.h"
#include "lic/keys.h"

struct lic_key {
  EVP_PKEY *pkey;
  bool priv;
  uint8_t pub[LIC_PUBKEY_LEN];
  uint8_t kid[LIC_KID_LEN];
  lic_key_signer ext; /* ext.sign != NULL: the private half is elsewhere */
  void *ext_ctx;
};

void lic_kid_of(const uint8_t pub[LIC_PUBKEY_LEN], uint8_t kid[LIC_KID_LEN]) {
  uint8_t h[SHA256_DIGEST_LENGTH];
  SHA256(pub, LIC_PUBKEY_LEN, h);
  memcpy(kid, h, LIC_KID_LEN);
}

void lic_kid_hex(const uint8_t kid[LIC_KID_LEN], char out[2 * LIC_KID_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < LIC_KID_LEN; i++) {
    out[2 * i] = hex[kid[i] >> 4];
    out[2 * i + 1] = hex[kid[i] & 15];
  }
  out[2 * LIC_KID_LEN] = '\0';
}

/* Take ownership of pkey (freed on failure). */
static int wrap(EVP_PKEY *pkey, bool priv, lic_key **out) {
  size_t len = LIC_PUBKEY_LEN;
  lic_key *k;

  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(pkey);
    return lic__fail(LIC_KEY, "not an Ed25519 key");
  }
  if ((k = calloc(1, sizeof *k)) == NULL) {
    EVP_PKEY_free(pkey);
    return LIC_NOMEM;
  }
  if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &len) != 1 || len != LIC_PUBKEY_LEN) {
    EVP_PKEY_free(pkey);
    free(k);
    return lic__fail_ssl(LIC_CRYPTO, "cannot read the public key");
  }
  k->pkey = pkey;
  k->priv = priv;
  lic_kid_of(k->pub, k->kid);
  *out = k;
  return LIC_OK;
}

int lic_key_generate(lic_key **out) {
  EVP_PKEY *pkey = NULL;
  EVP_PKEY_CTX *ctx;

  *out = NULL;
  if ((ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) == NULL)
    return lic__fail_ssl(LIC_CRYPTO, "EVP_PKEY_CTX_new_id");
  if (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1) {
    EVP_PKEY_CTX_free(ctx);
    return lic__fail_ssl(LIC_CRYPTO, "Ed25519 key generation");
  }
  EVP_PKEY_CTX_free(ctx);
  return wrap(pkey, true, out);
}

struct pass {
  const char *p;
  bool asked;
};

static int pass_cb(char *buf, int size, int rwflag, void *u) {
  struct pass *pw = u;
  (void)rwflag;
  pw->asked = true;
  if (pw->p == NULL)
    return -1;
  size_t n = strlen(pw->p);
  if (n > (size_t)size)
    return -1;
  memcpy(buf, pw->p, n);
  return (int)n;
}

int lic_key_from_private_pem(const uint8_t *pem, size_t len, const char *passphrase,
                             lic_key **out) {
  struct pass pw = {passphrase, false};
  BIO *bio;
  EVP_PKEY *pkey;

  *out = NULL;
  if (len > INT32_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
    return LIC_NOMEM;
  pkey = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, &pw);
  BIO_free(bio);
  if (pkey == NULL) {
    if (pw.asked)
      return lic__fail_ssl(LIC_PASSPHRASE, passphrase == NULL
                                               ? "the key is encrypted: give --passphrase-file"
                                               : "cannot decrypt the key");
    return lic__fail_ssl(LIC_KEY, "not a PEM private key");
  }
  return wrap(pkey, true, out);
}

/* buf (NUL-terminated by lic_file_read) holds a public key and no private one. */
static bool is_public_pem(const uint8_t *buf) {
  return strstr((const char *)buf, "-----BEGIN PUBLIC KEY-----") != NULL &&
         strstr((const char *)buf, "PRIVATE KEY-----") == NULL;
}

static int not_private(const char *path) {
  return lic__fail(LIC_KEY, "%s: this is a public key; give the private key (the file without "
                   ".pub)", path);
}

int lic_key_load_private(const char *path, const char *passphrase, lic_key **out) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc;

  *out = NULL;
  if ((rc = lic_file_check_private(path)) != LIC_OK) {
    /* A world-readable public key given as --key is a wrong file, not a
     * permissions problem: say that first (reading it exposes nothing). */
    if (rc == LIC_INSECURE && lic_file_read(path, 64 * 1024, &buf, &len) == LIC_OK) {
      bool pub = is_public_pem(buf);
      lic_secret_free(buf, len);
      if (pub)
        return not_private(path);
      lic_file_check_private(path); /* the detail again */
    }
    return rc;
  }
  if ((rc = lic_file_read(path, 64 * 1024, &buf, &len)) != LIC_OK)
    return rc;
  if (is_public_pem(buf)) {
    lic_secret_free(buf, len);
    return not_private(path);
  }
  rc = lic_key_from_private_pem(buf, len, passphrase, out);
  lic_secret_free(buf, len);
  if (rc != LIC_OK) {
    char d[320];
    snprintf(d, sizeof d, "%s", lic_errdetail());
    return lic__fail(rc, "%s: %s", path, d);
  }
  return LIC_OK;
}

int lic_key_from_public_pem(const uint8_t *pem, size_t len, lic_key **out) {
  BIO *bio;
  EVP_PKEY *pkey;

  *out = NULL;
  if (len > INT32_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
    return LIC_NOMEM;
  pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (pkey == NULL)
    return lic__fail_ssl(LIC_KEY, "not a PEM public key (BEGIN PUBLIC KEY)");
  return wrap(pkey, false, out);
}

int lic_key_load_public(const char *path, lic_key **out) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc;

  *out = NULL;
  if ((rc = lic_file_read(path, 64 * 1024, &buf, &len)) != LIC_OK)
    return rc;
  rc = lic_key_from_public_pem(buf, len, out);
  free(buf);
  if (rc != LIC_OK) {
    char d[320];
    snprintf(d, sizeof d, "%s", lic_errdetail());
    return lic__fail(rc, "%s: %s", path, d);
  }
  return LIC_OK;
}

int lic_key_from_raw_public(const uint8_t pub[LIC_PUBKEY_LEN], lic_key **out) {
  EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, LIC_PUBKEY_LEN);
  *out = NULL;
  if (pkey == NULL)
    return lic__fail_ssl(LIC_KEY, "invalid Ed25519 public key");
  return wrap(pkey, false, out);
}

static int bio_take(BIO *bio, char **pem, size_t *len) {
  char *data;
  long n = BIO_get_mem_data(bio, &data);
  char *c;
  if (n <= 0 || (c = malloc((size_t)n + 1)) == NULL)
    return LIC_NOMEM;
  memcpy(c, data, (size_t)n);
  c[n] = '\0';
  *pem = c;
  *len = (size_t)n;
  return LIC_OK;
}

int lic_key_private_pem(const lic_key *k, const char *passphrase, char **pem, size_t *len) {
  BIO *bio;
  int ok, rc;

  *pem = NULL;
  *len = 0;
  if (!k->priv)
    return lic__fail(LIC_KEY, "not a private key");
  if (k->ext.sign != NULL)
    return lic__fail(LIC_KEY, "the private key stays inside its token: it cannot be written "
                     "out");
  if ((bio = BIO_new(BIO_s_mem())) == NULL)
    return LIC_NOMEM;
  if (passphrase != NULL)
    ok = PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, EVP_aes_256_cbc(), passphrase,
                                       (int)strlen(passphrase), NULL, NULL);
  else
    ok = PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL);
  rc = ok == 1 ? bio_take(bio, pem, len) : lic__fail_ssl(LIC_CRYPTO, "PEM encoding");
  /* The memory BIO held the key in clear: wipe it before freeing. */
  char *data;
  long n = BIO_get_mem_data(bio, &data);
  if (n > 0)
    OPENSSL_cleanse(data, (size_t)n);
  BIO_free(bio);
  return rc;
}

int lic_key_public_pem(const lic_key *k, char **pem, size_t *len) {
  BIO *bio;
  int rc;

  *pem = NULL;
  *len = 0;
  if ((bio = BIO_new(BIO_s_mem())) == NULL)
    return LIC_NOMEM;
  rc = PEM_write_bio_PUBKEY(bio, k->pkey) == 1 ? bio_take(bio, pem, len)
                                               : lic__fail_ssl(LIC_CRYPTO, "PEM encoding");
  BIO_free(bio);
  return rc;
}

int lic_key_save_private(const lic_key *k, const char *path, const char *passphrase) {
  char *pem;
  size_t len;
  int rc;
  if ((rc = lic_key_private_pem(k, passphrase, &pem, &len)) != LIC_OK)
    return rc;
  rc = lic_file_write(path, pem, len, 0600, LIC_WRITE_NOREPLACE);
  lic_secret_free(pem, len);
  return rc;
}

int lic_key_save_public(const lic_key *k, const char *path) {
  char *pem;
  size_t len;
  int rc;
  if ((rc = lic_key_public_pem(k, &pem, &len)) != LIC_OK)
    return rc;
  rc = lic_file_write(path, pem, len, 0644, 0);
  free(pem);
  return rc;
}

int lic_key_from_signer(const uint8_t pub[LIC_PUBKEY_LEN], const lic_key_signer *ops,
                        void *ctx, lic_key **out) {
  int rc;
  *out = NULL;
  if (ops == NULL || ops->sign == NULL || ops->free == NULL) {
    if (ops != NULL && ops->free != NULL)
      ops->free(ctx);
    return lic__fail(LIC_INVALID, "a signer needs sign and free");
  }
  if ((rc = lic_key_from_raw_public(pub, out)) != LIC_OK) {
    ops->free(ctx);
    return rc;
  }
  (*out)->ext = *ops;
  (*out)->ext_ctx = ctx;
  (*out)->priv = true;
  return LIC_OK;
}

bool lic_key_is_external(const lic_key *k) { return k->ext.sign != NULL; }

int lic_key_signer_open(const lic_key *k, void **ctx) {
  *ctx = NULL;
  if (k->ext.sign == NULL)
    return lic__fail(LIC_KEY, "not a key held outside this process");
  return k->ext.open != NULL ? k->ext.open(k->ext_ctx, ctx) : LIC_OK;
}

void lic_key_signer_close(const lic_key *k, void *ctx) {
  if (ctx != NULL && k->ext.free != NULL)
    k->ext.free(ctx);
}

int lic_key_signer_sign(const lic_key *k, void *ctx, const uint8_t *msg, size_t len,
                        uint8_t sig[LIC_SIG_LEN]) {
  if (k->ext.sign == NULL)
    return lic__fail(LIC_KEY, "not a key held outside this process");
  return k->ext.sign(ctx != NULL ? ctx : k->ext_ctx, msg, len, sig);
}

bool lic_key_has_private(const lic_key *k) { return k->priv; }
const uint8_t *lic_key_raw_public(const lic_key *k) { return k->pub; }
const uint8_t *lic_key_kid(const lic_key *k) { return k->kid; }
EVP_PKEY *lic__key_pkey(const lic_key *k) { return k->pkey; }

void lic_key_free(lic_key *k) {
  if (k == NULL)
    return;
  EVP_PKEY_free(k->pkey);
  if (k->ext.free != NULL)
    k->ext.free(k->ext_ctx);
  OPENSSL_cleanse(k, sizeof *k);
  free(k);
}

/* Ed25519 signs the whole message in one shot, so parts are joined first;
 * the bodies we sign are small (bounded by LIC_MAX_BODY). */
static uint8_t *join(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  uint8_t *m = malloc(alen + blen + 1);
  if (m != NULL) {
    memcpy(m, a, alen);
    if (blen > 0)
      memcpy(m + alen, b, blen);
  }
  return m;
}

int lic_key_sign2(const lic_key *k, const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen, uint8_t sig[LIC_SIG_LEN]) {
  EVP_MD_CTX *ctx;
  size_t siglen = LIC_SIG_LEN;
  uint8_t *m;
  int rc = LIC_OK;

  if (!k->priv)
    return lic__fail(LIC_KEY, "signing needs a private key");
  if ((m = join(a, alen, b, blen)) == NULL)
    return LIC_NOMEM;
  if (k->ext.sign != NULL) {
    rc = k->ext.sign(k->ext_ctx, m, alen + blen, sig);
    free(m);
    return rc;
  }
  if ((ctx = EVP_MD_CTX_new()) == NULL) {
    free(m);
    return LIC_NOMEM;
  }
  if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
      EVP_DigestSign(ctx, sig, &siglen, m, alen + blen) != 1 || siglen != LIC_SIG_LEN)
    rc = lic__fail_ssl(LIC_CRYPTO, "Ed25519 signing");
  EVP_MD_CTX_free(ctx);
  free(m);
  return rc;
}

int lic_sig_verify2(const uint8_t pub[LIC_PUBKEY_LEN], const uint8_t *a, size_t alen,
                    const uint8_t *b, size_t blen, const uint8_t sig[LIC_SIG_LEN]) {
  EVP_PKEY *pkey;
  EVP_MD_CTX *ctx;
  uint8_t *m;
  int rc;

  if ((pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, LIC_PUBKEY_LEN)) == NULL)
    return lic__fail_ssl(LIC_KEY, "invalid Ed25519 public key");
  if ((m = join(a, alen, b, blen)) == NULL || (ctx = EVP_MD_CTX_new()) == NULL) {
    free(m);
    EVP_PKEY_free(pkey);
    return LIC_NOMEM;
  }
  if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
      EVP_DigestVerify(ctx, sig, LIC_SIG_LEN, m, alen + blen) == 1)
    rc = LIC_OK;
  else {
    ERR_clear_error();
    rc = lic__fail(LIC_SIGNATURE, "Ed25519 signature check failed");
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  free(m);
  return rc;
}

void lic_trust_init(lic_trust *t) { t->n = 0; }

int lic_trust_add_raw(lic_trust *t, const uint8_t pub[LIC_PUBKEY_LEN]) {
  uint8_t kid[LIC_KID_LEN];
  lic_kid_of(pub, kid);
  if (lic_trust_find(t, kid) != NULL)
    return LIC_OK;
  if (t->n >= LIC_MAX_TRUST)
    return lic__fail(LIC_LIMIT, "more than %d trusted keys", LIC_MAX_TRUST);
  memcpy(t->k[t->n].pub, pub, LIC_PUBKEY_LEN);
  memcpy(t->k[t->n].kid, kid, LIC_KID_LEN);
  t->n++;
  return LIC_OK;
}

int lic_trust_add_file(lic_trust *t, const char *path) {
  lic_key *k;
  int rc = lic_key_load_public(path, &k);
  if (rc != LIC_OK)
    return rc;
  rc = lic_trust_add_raw(t, k->pub);
  lic_key_free(k);
  return rc;
}

const uint8_t *lic_trust_find(const lic_trust *t, const uint8_t kid[LIC_KID_LEN]) {
  for (size_t i = 0; i < t->n; i++)
    if (memcmp(t->k[i].kid, kid, LIC_KID_LEN) == 0)
      return t->k[i].pub;
  return NULL;
}

/* Generated at build time from the PEM files in keys/trusted (trusted_keys.c). */
extern const char *const lic__trusted_pem[];
extern const size_t lic__trusted_count;

size_t lic_trust_builtin_count(void) { return lic__trusted_count; }

int lic_trust_builtin(lic_trust *t) {
  lic_trust_init(t);
  for (size_t i = 0; i < lic__trusted_count; i++) {
    lic_key *k;
    const char *pem = lic__trusted_pem[i];
    int rc = lic_key_from_public_pem((const uint8_t *)pem, strlen(pem), &k);
    if (rc != LIC_OK)
      return rc;
    rc = lic_trust_add_raw(t, k->pub);
    lic_key_free(k);
    if (rc != LIC_OK)
      return rc;
  }
  return LIC_OK;
}

int lic_passphrase_read(const char *path, char **out) {
  uint8_t *buf;
  size_t len;
  int rc;

  *out = NULL;
  if ((rc = lic_file_read(path, LIC_MAX_PASSPHRASE, &buf, &len)) != LIC_OK)
    return rc;
  size_t n = strcspn((char *)buf, "\r\n");
  if (n == 0) {
    lic_secret_free(buf, len);
    return lic__fail(LIC_PASSPHRASE, "%s: empty passphrase", path);
  }
  buf[n] = '\0';
  *out = (char *)buf;
  return LIC_OK;
}

void lic_secret_free(void *p, size_t len) {
  if (p == NULL)
    return;
  OPENSSL_cleanse(p, len);
  free(p);
}
