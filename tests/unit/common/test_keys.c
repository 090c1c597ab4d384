/* test_keys.c - tests Ed25519 keys: generate, PEM save/load, passphrases, kid, sign/verify, trust store. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/actcode.h"
#include "lic/keys.h"
#include "testutil.h"

static char *g_dir;

static int setup(void **state) {
  (void)state;
  g_dir = tu_tmpdir();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_rmtree(g_dir);
  free(g_dir);
  return 0;
}

static const char *tmp(const char *name) {
  static char buf[4][512];
  static int slot;
  char *b = buf[slot++ % 4];
  snprintf(b, 512, "%s/%s", g_dir, name);
  return b;
}

static char *slurp(const char *path) {
  uint8_t *b = NULL;
  size_t n = 0;
  assert_int_equal(lic_file_read(path, 1 << 20, &b, &n), LIC_OK);
  return (char *)b;
}

static EVP_PKEY *openssl_read_pub(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
  fclose(f);
  return k;
}

static void raw_pub_of(EVP_PKEY *k, uint8_t pub[32]) {
  size_t n = 32;
  assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &n), 1);
  assert_int_equal(n, 32);
}

static void test_generate_save_load_private(void **state) {
  (void)state;
  lic_key *k = NULL, *l = NULL;
  struct stat st;
  assert_int_equal(lic_key_generate(&k), LIC_OK);
  assert_true(lic_key_has_private(k));
  assert_int_equal(lic_key_save_private(k, tmp("gen.pem"), NULL), LIC_OK);
  assert_int_equal(stat(tmp("gen.pem"), &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  char *pem = slurp(tmp("gen.pem"));
  assert_true(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
  free(pem);
  assert_int_equal(lic_key_load_private(tmp("gen.pem"), NULL, &l), LIC_OK);
  assert_true(lic_key_has_private(l));
  assert_memory_equal(lic_key_raw_public(k), lic_key_raw_public(l), 32);
  assert_memory_equal(lic_key_kid(k), lic_key_kid(l), 8);
  /* OpenSSL reads the file as an Ed25519 key with the same public half. */
  FILE *f = fopen(tmp("gen.pem"), "r");
  EVP_PKEY *ok = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  assert_non_null(ok);
  assert_int_equal(EVP_PKEY_get_base_id(ok), EVP_PKEY_ED25519);
  uint8_t pub[32];
  raw_pub_of(ok, pub);
  assert_memory_equal(pub, lic_key_raw_public(k), 32);
  EVP_PKEY_free(ok);
  /* Two generated keys differ. */
  lic_key *m = NULL;
  assert_int_equal(lic_key_generate(&m), LIC_OK);
  assert_memory_not_equal(lic_key_raw_public(k), lic_key_raw_public(m), 32);
  lic_key_free(m);
  lic_key_free(k);
  lic_key_free(l);
  lic_key_free(NULL);
}

static void test_save_private_no_overwrite(void **state) {
  (void)state;
  lic_key *k = NULL, *k2 = NULL;
  assert_int_equal(lic_key_generate(&k), LIC_OK);
  assert_int_equal(lic_key_generate(&k2), LIC_OK);
  assert_int_equal(lic_key_save_private(k, tmp("once.pem"), NULL), LIC_OK);
  char *before = slurp(tmp("once.pem"));
  assert_int_equal(lic_key_save_private(k2, tmp("once.pem"), NULL), LIC_EXISTS);
  char *after = slurp(tmp("once.pem"));
  assert_string_equal(before, after);
  free(before);
  free(after);
  lic_key_free(k);
  lic_key_free(k2);
}

static void test_refuse_readable_private(void **state) {
  (void)state;
  lic_key *k = NULL, *l = NULL;
  assert_int_equal(lic_key_generate(&k), LIC_OK);
  assert_int_equal(lic_key_save_private(k, tmp("perm.pem"), NULL), LIC_OK);
  static const mode_t bad[] = {0640, 0604, 0644, 0660, 0606, 0666};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(chmod(tmp("perm.pem"), bad[i]), 0);
    assert_int_equal(lic_key_load_private(tmp("perm.pem"), NULL, &l), LIC_INSECURE);
    assert_null(l);
  }
  assert_int_equal(chmod(tmp("perm.pem"), 0400), 0);
  assert_int_equal(lic_key_load_private(tmp("perm.pem"), NULL, &l), LIC_OK);
  lic_key_free(l);
  assert_int_equal(lic_key_load_private(tmp("nonexistent.pem"), NULL, &l), LIC_NOTFOUND);
  lic_key_free(k);
}

static void test_passphrase(void **state) {
  (void)state;
  lic_key *k = NULL, *l = NULL;
  assert_int_equal(lic_key_generate(&k), LIC_OK);
  assert_int_equal(lic_key_save_private(k, tmp("enc.pem"), "correct horse"), LIC_OK);
  char *pem = slurp(tmp("enc.pem"));
  assert_true(strncmp(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n", 38) == 0);
  free(pem);
  assert_int_equal(lic_key_load_private(tmp("enc.pem"), NULL, &l), LIC_PASSPHRASE);
  assert_null(l);
  assert_int_equal(lic_key_load_private(tmp("enc.pem"), "wrong horse", &l), LIC_PASSPHRASE);
  assert_null(l);
  assert_int_equal(lic_key_load_private(tmp("enc.pem"), "", &l), LIC_PASSPHRASE);
  assert_int_equal(lic_key_load_private(tmp("enc.pem"), "correct horse", &l), LIC_OK);
  assert_memory_equal(lic_key_raw_public(k), lic_key_raw_public(l), 32);
  lic_key_free(l);
  /* OpenSSL decrypts it with the passphrase (standard PKCS#8). */
  FILE *f = fopen(tmp("enc.pem"), "r");
  EVP_PKEY *ok = PEM_read_PrivateKey(f, NULL, NULL, (void *)"correct horse");
  fclose(f);
  assert_non_null(ok);
  uint8_t pub[32];
  raw_pub_of(ok, pub);
  assert_memory_equal(pub, lic_key_raw_public(k), 32);
  EVP_PKEY_free(ok);
  /* A passphrase on an unencrypted key is harmless. */
  assert_int_equal(lic_key_save_private(k, tmp("plain.pem"), NULL), LIC_OK);
  assert_int_equal(lic_key_load_private(tmp("plain.pem"), "unused", &l), LIC_OK);
  lic_key_free(l);
  lic_key_free(k);
}

static void test_passphrase_read(void **state) {
  (void)state;
  char *p = NULL;
  tu_write(g_dir, "pp1", "s3cret\r\nsecond line\n");
  assert_int_equal(lic_passphrase_read(tmp("pp1"), &p), LIC_OK);
  assert_string_equal(p, "s3cret");
  lic_secret_free(p, strlen(p));
  tu_write(g_dir, "pp2", "no newline");
  assert_int_equal(lic_passphrase_read(tmp("pp2"), &p), LIC_OK);
  assert_string_equal(p, "no newline");
  lic_secret_free(p, strlen(p));
  tu_write(g_dir, "pp3", "\nafter empty line\n");
  assert_int_equal(lic_passphrase_read(tmp("pp3"), &p), LIC_PASSPHRASE);
  assert_null(p);
  assert_int_equal(lic_passphrase_read(tmp("nope"), &p), LIC_NOTFOUND);
}

static void test_public_pem(void **state) {
  (void)state;
  lic_key *root = tu_test_root_key(), *pub = NULL, *again = NULL;
  assert_int_equal(lic_key_load_public(tu_src("keys/test/test-root.pub.pem"), &pub), LIC_OK);
  assert_false(lic_key_has_private(pub));
  assert_memory_equal(lic_key_raw_public(pub), lic_key_raw_public(root), 32);
  /* What OpenSSL reads from the same file. */
  EVP_PKEY *ok = openssl_read_pub(tu_src("keys/test/test-root.pub.pem"));
  assert_non_null(ok);
  uint8_t raw[32];
  raw_pub_of(ok, raw);
  assert_memory_equal(raw, lic_key_raw_public(pub), 32);
  EVP_PKEY_free(ok);
  /* Save and reload; OpenSSL agrees with the saved file. */
  assert_int_equal(lic_key_save_public(root, tmp("root.pub.pem")), LIC_OK);
  char *pem = slurp(tmp("root.pub.pem"));
  assert_true(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
  free(pem);
  struct stat st;
  assert_int_equal(stat(tmp("root.pub.pem"), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  assert_int_equal(lic_key_load_public(tmp("root.pub.pem"), &again), LIC_OK);
  assert_memory_equal(lic_key_raw_public(again), raw, 32);
  /* A public key cannot make a private PEM nor sign. */
  char *p = NULL;
  size_t n = 0;
  uint8_t sig[64];
  assert_int_equal(lic_key_private_pem(pub, NULL, &p, &n), LIC_KEY);
  assert_int_equal(lic_key_sign2(pub, (const uint8_t *)"a", 1, NULL, 0, sig), LIC_KEY);
  lic_key_free(again);
  lic_key_free(pub);
  lic_key_free(root);
}

static void test_private_pem_as_public_and_back(void **state) {
  (void)state;
  lic_key *k = NULL;
  chmod(tu_src("keys/test/test-root.pem"), 0600);
  assert_int_equal(lic_key_load_public(tu_src("keys/test/test-root.pem"), &k), LIC_KEY);
  assert_null(k);
  char *pem = slurp(tu_src("keys/test/test-root.pub.pem"));
  assert_int_equal(lic_key_from_private_pem((const uint8_t *)pem, strlen(pem), NULL, &k), LIC_KEY);
  assert_null(k);
  free(pem);
  static const char junk[] = "not a pem at all\n";
  assert_int_equal(lic_key_from_public_pem((const uint8_t *)junk, sizeof junk - 1, &k), LIC_KEY);
  assert_int_equal(lic_key_from_private_pem((const uint8_t *)junk, sizeof junk - 1, NULL, &k),
                   LIC_KEY);
}

static void test_raw_public_and_kid(void **state) {
  (void)state;
  lic_key *root = tu_test_root_key(), *r = NULL;
  assert_int_equal(lic_key_from_raw_public(lic_key_raw_public(root), &r), LIC_OK);
  assert_false(lic_key_has_private(r));
  assert_memory_equal(lic_key_raw_public(r), lic_key_raw_public(root), 32);
  /* kid = SHA-256(raw public key)[0..8], by OpenSSL's SHA256 here. */
  uint8_t h[SHA256_DIGEST_LENGTH], kid[8];
  SHA256(lic_key_raw_public(root), 32, h);
  assert_memory_equal(lic_key_kid(root), h, 8);
  assert_memory_equal(lic_key_kid(r), h, 8);
  lic_kid_of(lic_key_raw_public(root), kid);
  assert_memory_equal(kid, h, 8);
  /* 16 lowercase hex digits. */
  char hex[17], expect[17];
  lic_kid_hex(kid, hex);
  for (int i = 0; i < 8; i++)
    snprintf(expect + 2 * i, 3, "%02x", h[i]);
  assert_string_equal(hex, expect);
  static const uint8_t fixed[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  lic_kid_hex(fixed, hex);
  assert_string_equal(hex, "0123456789abcdef");
  lic_key_free(r);
  lic_key_free(root);
}

static void test_sign_verify(void **state) {
  (void)state;
  lic_key *root = tu_test_root_key(), *other = NULL;
  assert_int_equal(lic_key_generate(&other), LIC_OK);
  static const uint8_t a[] = "LICSRV1 license\n", b[] = "the body bytes";
  uint8_t sig[64], sig2[64], msg[64];
  size_t al = sizeof a - 1, bl = sizeof b - 1;
  assert_int_equal(lic_key_sign2(root, a, al, b, bl, sig), LIC_OK);
  /* Same message split differently gives the same (deterministic) signature. */
  memcpy(msg, a, al);
  memcpy(msg + al, b, bl);
  assert_int_equal(lic_key_sign2(root, msg, 3, msg + 3, al + bl - 3, sig2), LIC_OK);
  assert_memory_equal(sig, sig2, 64);
  assert_int_equal(lic_key_sign2(root, msg, al + bl, NULL, 0, sig2), LIC_OK);
  assert_memory_equal(sig, sig2, 64);
  /* OpenSSL verifies it over the concatenation. */
  EVP_PKEY *ok = openssl_read_pub(tu_src("keys/test/test-root.pub.pem"));
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, ok), 1);
  assert_int_equal(EVP_DigestVerify(ctx, sig, 64, msg, al + bl), 1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(ok);
  const uint8_t *pub = lic_key_raw_public(root);
  assert_int_equal(lic_sig_verify2(pub, a, al, b, bl, sig), LIC_OK);
  assert_int_equal(lic_sig_verify2(pub, msg, al + bl, NULL, 0, sig), LIC_OK);
  /* Any change fails. */
  uint8_t bad[64];
  memcpy(bad, sig, 64);
  bad[10] ^= 1;
  assert_int_equal(lic_sig_verify2(pub, a, al, b, bl, bad), LIC_SIGNATURE);
  assert_int_equal(lic_sig_verify2(pub, a, al, b, bl - 1, sig), LIC_SIGNATURE);
  assert_int_equal(lic_sig_verify2(pub, a, al - 1, b, bl, sig), LIC_SIGNATURE);
  assert_int_equal(lic_sig_verify2(lic_key_raw_public(other), a, al, b, bl, sig), LIC_SIGNATURE);
  lic_key_free(other);
  lic_key_free(root);
}

static void test_trust_store(void **state) {
  (void)state;
  lic_trust t;
  lic_key *root = tu_test_root_key();
  lic_trust_init(&t);
  assert_int_equal(t.n, 0);
  assert_null(lic_trust_find(&t, lic_key_kid(root)));
  assert_int_equal(lic_trust_add_file(&t, tu_src("keys/test/test-root.pub.pem")), LIC_OK);
  assert_int_equal(t.n, 1);
  const uint8_t *p = lic_trust_find(&t, lic_key_kid(root));
  assert_non_null(p);
  assert_memory_equal(p, lic_key_raw_public(root), 32);
  /* Adding the same key again is not a second entry. */
  assert_int_equal(lic_trust_add_raw(&t, lic_key_raw_public(root)), LIC_OK);
  assert_int_equal(t.n, 1);
  /* A private PEM is not a trust-store entry. */
  assert_int_equal(lic_trust_add_file(&t, tu_src("keys/test/test-root.pem")), LIC_KEY);
  assert_int_equal(lic_trust_add_file(&t, tmp("missing.pem")), LIC_NOTFOUND);
  /* Fill up to the limit with distinct keys; one more is LIC_LIMIT. */
  for (size_t i = 1; i < LIC_MAX_TRUST; i++) {
    uint8_t pub[32] = {0};
    pub[0] = (uint8_t)i;
    pub[31] = 0x5a;
    assert_int_equal(lic_trust_add_raw(&t, pub), LIC_OK);
  }
  assert_int_equal(t.n, LIC_MAX_TRUST);
  uint8_t extra[32] = {0xee};
  assert_int_equal(lic_trust_add_raw(&t, extra), LIC_LIMIT);
  assert_int_equal(t.n, LIC_MAX_TRUST);
  /* Every entry is found by its kid. */
  for (size_t i = 1; i < LIC_MAX_TRUST; i++) {
    uint8_t pub[32] = {0}, h[32];
    pub[0] = (uint8_t)i;
    pub[31] = 0x5a;
    SHA256(pub, 32, h);
    const uint8_t *f = lic_trust_find(&t, h);
    assert_non_null(f);
    assert_memory_equal(f, pub, 32);
  }
  /* A duplicate of a present key is still fine when full. */
  assert_int_equal(lic_trust_add_raw(&t, lic_key_raw_public(root)), LIC_OK);
  lic_key_free(root);
}

static void test_trust_builtin(void **state) {
  (void)state;
  lic_trust t;
  lic_key *root = tu_test_root_key();
  assert_int_equal(lic_trust_builtin(&t), LIC_OK);
  assert_int_equal(t.n, lic_trust_builtin_count());
  /* The test key is never trusted by the build. */
  assert_null(lic_trust_find(&t, lic_key_kid(root)));
  lic_key_free(root);
}

static void test_non_ed25519_refused(void **state) {
  (void)state;
  EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  assert_non_null(ec);
  BIO *b = BIO_new(BIO_s_mem());
  assert_int_equal(PEM_write_bio_PrivateKey(b, ec, NULL, NULL, 0, NULL, NULL), 1);
  char *data;
  long n = BIO_get_mem_data(b, &data);
  lic_key *k = NULL;
  assert_int_equal(lic_key_from_private_pem((const uint8_t *)data, (size_t)n, NULL, &k), LIC_KEY);
  assert_null(k);
  assert_int_equal(lic_file_write(tmp("ec.pem"), data, (size_t)n, 0600, 0), LIC_OK);
  assert_int_equal(lic_key_load_private(tmp("ec.pem"), NULL, &k), LIC_KEY);
  BIO_free(b);
  b = BIO_new(BIO_s_mem());
  assert_int_equal(PEM_write_bio_PUBKEY(b, ec), 1);
  n = BIO_get_mem_data(b, &data);
  assert_int_equal(lic_key_from_public_pem((const uint8_t *)data, (size_t)n, &k), LIC_KEY);
  assert_int_equal(lic_file_write(tmp("ec.pub.pem"), data, (size_t)n, 0644, 0), LIC_OK);
  lic_trust t;
  lic_trust_init(&t);
  assert_int_equal(lic_trust_add_file(&t, tmp("ec.pub.pem")), LIC_KEY);
  assert_int_equal(t.n, 0);
  BIO_free(b);
  EVP_PKEY_free(ec);
  /* Ed448 is not Ed25519 either. */
  EVP_PKEY *ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
  assert_non_null(ed448);
  b = BIO_new(BIO_s_mem());
  assert_int_equal(PEM_write_bio_PrivateKey(b, ed448, NULL, NULL, 0, NULL, NULL), 1);
  n = BIO_get_mem_data(b, &data);
  assert_int_equal(lic_key_from_private_pem((const uint8_t *)data, (size_t)n, NULL, &k), LIC_KEY);
  BIO_free(b);
  EVP_PKEY_free(ed448);
}

static void test_test_keys_pair_up(void **state) {
  (void)state;
  lic_key *root = tu_test_root_key(), *node = NULL, *rp = NULL, *np = NULL;
  chmod(tu_src("keys/test/test-node.pem"), 0600);
  assert_int_equal(lic_key_load_private(tu_src("keys/test/test-node.pem"), NULL, &node), LIC_OK);
  assert_int_equal(lic_key_load_public(tu_src("keys/test/test-root.pub.pem"), &rp), LIC_OK);
  assert_int_equal(lic_key_load_public(tu_src("keys/test/test-node.pub.pem"), &np), LIC_OK);
  assert_memory_equal(lic_key_raw_public(root), lic_key_raw_public(rp), 32);
  assert_memory_equal(lic_key_raw_public(node), lic_key_raw_public(np), 32);
  assert_memory_not_equal(lic_key_raw_public(root), lic_key_raw_public(node), 32);
  lic_key_free(root);
  lic_key_free(node);
  lic_key_free(rp);
  lic_key_free(np);
}

/* A key held elsewhere (a token, docs/keys.md): the callbacks sign; here a
 * software key stands in for the token, and counts what was asked of it. */
typedef struct {
  lic_key *inner; /* the "token's" key, owned by the root context */
  int *opened, *closed, *signed_;
  int fail;
} ext_ctx;

static int ext_sign(void *p, const uint8_t *msg, size_t len, uint8_t sig[LIC_SIG_LEN]) {
  ext_ctx *c = p;
  (*c->signed_)++;
  if (c->fail)
    return lic_fail(LIC_CRYPTO, "token removed");
  return lic_key_sign2(c->inner, msg, len, NULL, 0, sig);
}

static int ext_open(void *p, void **out) {
  ext_ctx *c = p, *n = malloc(sizeof *n);
  assert_non_null(n);
  *n = *c;
  n->inner = NULL; /* a session: borrows the root's key */
  (*c->opened)++;
  *out = n;
  return LIC_OK;
}

static ext_ctx *g_root_ctx; /* sessions sign with the root's key */

static int ext_sign_session(void *p, const uint8_t *msg, size_t len, uint8_t sig[LIC_SIG_LEN]) {
  ext_ctx *c = p;
  (*c->signed_)++;
  return lic_key_sign2(c->inner != NULL ? c->inner : g_root_ctx->inner, msg, len, NULL, 0, sig);
}

static void ext_free(void *p) {
  ext_ctx *c = p;
  if (c->inner != NULL)
    lic_key_free(c->inner);
  else
    (*c->closed)++;
  free(c);
}

static void test_external_signer(void **state) {
  (void)state;
  int opened = 0, closed = 0, signed_ = 0;
  lic_key *k = NULL;
  ext_ctx *c = calloc(1, sizeof *c);
  assert_non_null(c);
  assert_int_equal(lic_key_generate(&c->inner), LIC_OK);
  c->opened = &opened, c->closed = &closed, c->signed_ = &signed_;
  uint8_t pub[LIC_PUBKEY_LEN];
  memcpy(pub, lic_key_raw_public(c->inner), LIC_PUBKEY_LEN);
  g_root_ctx = c;
  lic_key_signer ops = {ext_sign_session, ext_open, ext_free};
  assert_int_equal(lic_key_from_signer(pub, &ops, c, &k), LIC_OK);
  assert_true(lic_key_is_external(k));
  assert_true(lic_key_has_private(k));
  assert_memory_equal(lic_key_raw_public(k), pub, LIC_PUBKEY_LEN);

  /* signs through the callback, and the signature verifies with pub */
  uint8_t sig[LIC_SIG_LEN];
  assert_int_equal(lic_key_sign2(k, (const uint8_t *)"ab", 2, (const uint8_t *)"cd", 2, sig),
                   LIC_OK);
  assert_int_equal(signed_, 1);
  assert_int_equal(lic_sig_verify2(pub, (const uint8_t *)"abcd", 4, NULL, 0, sig), LIC_OK);

  /* the private half cannot be written out */
  char *pem = NULL;
  size_t len = 0;
  assert_int_equal(lic_key_private_pem(k, NULL, &pem, &len), LIC_KEY);
  assert_null(pem);
  assert_non_null(strstr(lic_errdetail(), "stays inside its token"));
  assert_int_equal(lic_key_public_pem(k, &pem, &len), LIC_OK);
  free(pem);

  /* a code signer opens a context (a session) of its own, closes it once */
  lic_code_signer *cs = NULL;
  lic_code code = {0};
  char text[LIC_CODE_TEXT_LEN + 1];
  code.product = 3;
  code.serial = 9;
  assert_int_equal(lic_code_signer_new(k, &cs), LIC_OK);
  assert_int_equal(opened, 1);
  assert_int_equal(lic_code_signer_make(cs, &code, text), LIC_OK);
  assert_int_equal(lic_code_signer_make(cs, &code, text), LIC_OK);
  lic_code_signer_free(cs);
  assert_int_equal(closed, 1);
  assert_int_equal(signed_, 3);
  lic_trust t;
  lic_trust_init(&t);
  assert_int_equal(lic_trust_add_raw(&t, pub), LIC_OK);
  lic_code parsed;
  assert_int_equal(lic_code_parse(text, &parsed), LIC_OK);
  assert_int_equal(lic_code_verify(&parsed, &t, 3, 0), LIC_OK);
  lic_key_free(k); /* frees the root context and its key */
  assert_int_equal(closed, 1);

  /* a failing token: the error comes through, nothing signed */
  c = calloc(1, sizeof *c);
  assert_non_null(c);
  assert_int_equal(lic_key_generate(&c->inner), LIC_OK);
  c->opened = &opened, c->closed = &closed, c->signed_ = &signed_;
  c->fail = 1;
  lic_key_signer bad = {ext_sign, NULL, ext_free};
  memcpy(pub, lic_key_raw_public(c->inner), LIC_PUBKEY_LEN);
  assert_int_equal(lic_key_from_signer(pub, &bad, c, &k), LIC_OK);
  assert_int_equal(lic_key_sign2(k, (const uint8_t *)"x", 1, NULL, 0, sig), LIC_CRYPTO);
  assert_string_equal(lic_errdetail(), "token removed");
  /* no open: a code signer shares the key's own context */
  assert_int_equal(lic_code_signer_new(k, &cs), LIC_OK);
  assert_int_equal(lic_code_signer_make(cs, &code, text), LIC_CRYPTO);
  lic_code_signer_free(cs);
  lic_key_free(k);

  /* no sign or free callback: refused */
  lic_key_signer none = {NULL, NULL, NULL};
  assert_int_equal(lic_key_from_signer(pub, &none, NULL, &k), LIC_INVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generate_save_load_private),
      cmocka_unit_test(test_save_private_no_overwrite),
      cmocka_unit_test(test_refuse_readable_private),
      cmocka_unit_test(test_passphrase),
      cmocka_unit_test(test_passphrase_read),
      cmocka_unit_test(test_public_pem),
      cmocka_unit_test(test_private_pem_as_public_and_back),
      cmocka_unit_test(test_raw_public_and_kid),
      cmocka_unit_test(test_sign_verify),
      cmocka_unit_test(test_trust_store),
      cmocka_unit_test(test_trust_builtin),
      cmocka_unit_test(test_non_ed25519_refused),
      cmocka_unit_test(test_test_keys_pair_up),
      cmocka_unit_test(test_external_signer),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
