/* test_envelope.c - tests the signed envelope (SPEC §2.1): seal, strict decode, verify, body typ. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "testutil.h"

typedef struct {
  lic_key *root;  /* the test root key */
  lic_trust trust; /* holding only the test root */
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->root = tu_test_root_key();
  lic_trust_init(&f->trust);
  if (lic_trust_add_raw(&f->trust, lic_key_raw_public(f->root)) != LIC_OK)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  lic_key_free(f->root);
  free(f);
  return 0;
}

/* A small body {"typ": typ, "x": 1, "s": "hello"} packed with msgpack-c. */
static void make_body(const char *typ, msgpack_sbuffer *sb) {
  msgpack_packer pk;
  msgpack_sbuffer_init(sb);
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 3);
  msgpack_pack_str(&pk, 3);
  msgpack_pack_str_body(&pk, "typ", 3);
  msgpack_pack_str(&pk, strlen(typ));
  msgpack_pack_str_body(&pk, typ, strlen(typ));
  msgpack_pack_str(&pk, 1);
  msgpack_pack_str_body(&pk, "x", 1);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_str(&pk, 1);
  msgpack_pack_str_body(&pk, "s", 1);
  msgpack_pack_str(&pk, 5);
  msgpack_pack_str_body(&pk, "hello", 5);
}

static void pstr(msgpack_packer *pk, const char *s) {
  msgpack_pack_str(pk, strlen(s));
  msgpack_pack_str_body(pk, s, strlen(s));
}

static void pbin(msgpack_packer *pk, const void *b, size_t n) {
  msgpack_pack_bin(pk, n);
  msgpack_pack_bin_body(pk, b, n);
}

/* Hand-made envelope. NULL typ/kid/body/sig leave the key out; extra adds
 * a fifth key. */
typedef struct {
  const char *typ;
  const uint8_t *kid;
  size_t kidlen;
  const uint8_t *body;
  size_t bodylen;
  const uint8_t *sig;
  size_t siglen;
  const char *extra;
} env_spec;

static void pack_env(const env_spec *e, msgpack_sbuffer *sb) {
  msgpack_packer pk;
  msgpack_sbuffer_init(sb);
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  size_t n = (e->typ != NULL) + (e->kid != NULL) + (e->body != NULL) + (e->sig != NULL) +
             (e->extra != NULL);
  msgpack_pack_map(&pk, n);
  if (e->typ) {
    pstr(&pk, "typ");
    pstr(&pk, e->typ);
  }
  if (e->kid) {
    pstr(&pk, "kid");
    pbin(&pk, e->kid, e->kidlen);
  }
  if (e->body) {
    pstr(&pk, "body");
    pbin(&pk, e->body, e->bodylen);
  }
  if (e->sig) {
    pstr(&pk, "sig");
    pbin(&pk, e->sig, e->siglen);
  }
  if (e->extra) {
    pstr(&pk, e->extra);
    msgpack_pack_int(&pk, 0);
  }
}

/* Everything a reader does: decode, verify against the store, parse the body. */
static int full_check(const uint8_t *buf, size_t len, const lic_trust *t) {
  lic_envelope env;
  lic_mp_obj body;
  int rc;
  if ((rc = lic_envelope_decode(buf, len, &env)) != LIC_OK)
    return rc;
  if ((rc = lic_envelope_verify(&env, t)) != LIC_OK)
    return rc;
  return lic_envelope_body(&env, &body);
}

/* Signature by OpenSSL directly over "LICSRV1 " typ "\n" body. */
static void openssl_sign(const char *typ, const uint8_t *body, size_t len, uint8_t sig[64]) {
  FILE *fp = fopen(tu_src("keys/test/test-root.pem"), "r");
  assert_non_null(fp);
  EVP_PKEY *pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
  fclose(fp);
  assert_non_null(pk);
  size_t tl = strlen(typ), ml = 8 + tl + 1 + len, sl = 64;
  uint8_t *m = malloc(ml);
  memcpy(m, "LICSRV1 ", 8);
  memcpy(m + 8, typ, tl);
  m[8 + tl] = '\n';
  memcpy(m + 9 + tl, body, len);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk), 1);
  assert_int_equal(EVP_DigestSign(ctx, sig, &sl, m, ml), 1);
  assert_int_equal(sl, 64);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pk);
  free(m);
}

static int openssl_verify(const char *typ, const uint8_t *body, size_t len, const uint8_t *sig) {
  FILE *fp = fopen(tu_src("keys/test/test-root.pub.pem"), "r");
  assert_non_null(fp);
  EVP_PKEY *pk = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
  fclose(fp);
  assert_non_null(pk);
  size_t tl = strlen(typ), ml = 8 + tl + 1 + len;
  uint8_t *m = malloc(ml);
  memcpy(m, "LICSRV1 ", 8);
  memcpy(m + 8, typ, tl);
  m[8 + tl] = '\n';
  memcpy(m + 9 + tl, body, len);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk), 1);
  int ok = EVP_DigestVerify(ctx, sig, 64, m, ml);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pk);
  free(m);
  return ok;
}

static void test_typ_known(void **state) {
  (void)state;
  static const char *const known[] = {"license", "rif", "verdict", "cert", "receipt", "account"};
  for (size_t i = 0; i < 6; i++)
    assert_true(lic_typ_known(known[i]));
  assert_false(lic_typ_known(""));
  assert_false(lic_typ_known("License"));
  assert_false(lic_typ_known("licenses"));
  assert_false(lic_typ_known("activation"));
}

static void test_seal_roundtrip(void **state) {
  fx *f = *state;
  msgpack_sbuffer body;
  uint8_t *env = NULL;
  size_t elen = 0;
  lic_envelope e;
  lic_mp_obj o;

  make_body("license", &body);
  assert_int_equal(lic_envelope_seal("license", (uint8_t *)body.data, body.size, f->root, &env,
                                     &elen),
                   LIC_OK);
  assert_int_equal(lic_envelope_decode(env, elen, &e), LIC_OK);
  assert_string_equal(e.typ, "license");
  assert_memory_equal(e.kid, lic_key_kid(f->root), LIC_KID_LEN);
  assert_int_equal(e.body_len, body.size);
  assert_memory_equal(e.body, body.data, body.size);
  /* body points into the decoded buffer, not a copy */
  assert_true(e.body > env && e.body + e.body_len <= env + elen);
  assert_int_equal(lic_envelope_verify(&e, &f->trust), LIC_OK);
  assert_int_equal(lic_envelope_verify_with(&e, lic_key_raw_public(f->root)), LIC_OK);
  assert_int_equal(lic_envelope_body(&e, &o), LIC_OK);
  assert_true(lic_mp_obj_has(&o, "s"));
  free(env);
  msgpack_sbuffer_destroy(&body);
}

/* The envelope is a plain map of exactly typ/kid/body/sig (msgpack-c reads it). */
static void test_seal_structure_independent(void **state) {
  fx *f = *state;
  msgpack_sbuffer body;
  uint8_t *env = NULL, sig[64], kid[SHA256_DIGEST_LENGTH];
  size_t elen = 0;

  make_body("rif", &body);
  assert_int_equal(lic_envelope_seal("rif", (uint8_t *)body.data, body.size, f->root, &env, &elen),
                   LIC_OK);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  assert_int_equal(msgpack_unpack_next(&u, (const char *)env, elen, &off), MSGPACK_UNPACK_SUCCESS);
  assert_int_equal(off, elen);
  msgpack_object m = u.data;
  assert_int_equal(m.type, MSGPACK_OBJECT_MAP);
  assert_int_equal(m.via.map.size, 4);
  const msgpack_object *typ = NULL, *k = NULL, *b = NULL, *s = NULL;
  for (uint32_t i = 0; i < 4; i++) {
    msgpack_object_kv *kv = &m.via.map.ptr[i];
    assert_int_equal(kv->key.type, MSGPACK_OBJECT_STR);
    const char *kn = kv->key.via.str.ptr;
    uint32_t kl = kv->key.via.str.size;
    if (kl == 3 && memcmp(kn, "typ", 3) == 0) typ = &kv->val;
    if (kl == 3 && memcmp(kn, "kid", 3) == 0) k = &kv->val;
    if (kl == 4 && memcmp(kn, "body", 4) == 0) b = &kv->val;
    if (kl == 3 && memcmp(kn, "sig", 3) == 0) s = &kv->val;
  }
  assert_true(typ && k && b && s);
  assert_int_equal(typ->type, MSGPACK_OBJECT_STR);
  assert_int_equal(typ->via.str.size, 3);
  assert_memory_equal(typ->via.str.ptr, "rif", 3);
  assert_int_equal(k->type, MSGPACK_OBJECT_BIN);
  assert_int_equal(k->via.bin.size, 8);
  assert_int_equal(b->type, MSGPACK_OBJECT_BIN);
  assert_int_equal(b->via.bin.size, body.size);
  assert_memory_equal(b->via.bin.ptr, body.data, body.size);
  assert_int_equal(s->type, MSGPACK_OBJECT_BIN);
  assert_int_equal(s->via.bin.size, 64);

  /* kid = SHA-256(raw public key)[0..8], computed here. */
  SHA256(lic_key_raw_public(f->root), 32, kid);
  assert_memory_equal(k->via.bin.ptr, kid, 8);
  /* sig: OpenSSL verifies it, and (Ed25519 is deterministic) signs the same. */
  assert_int_equal(openssl_verify("rif", (uint8_t *)body.data, body.size,
                                  (const uint8_t *)s->via.bin.ptr), 1);
  openssl_sign("rif", (uint8_t *)body.data, body.size, sig);
  assert_memory_equal(s->via.bin.ptr, sig, 64);
  /* The domain separation matters: the same sig is not valid for another typ. */
  assert_int_equal(openssl_verify("license", (uint8_t *)body.data, body.size,
                                  (const uint8_t *)s->via.bin.ptr), 0);
  msgpack_unpacked_destroy(&u);
  free(env);
  msgpack_sbuffer_destroy(&body);
}

/* An envelope made entirely by OpenSSL + msgpack-c verifies with liblic. */
static void test_foreign_envelope_verifies(void **state) {
  fx *f = *state;
  msgpack_sbuffer body, env;
  uint8_t sig[64], h[32];
  make_body("verdict", &body);
  openssl_sign("verdict", (uint8_t *)body.data, body.size, sig);
  SHA256(lic_key_raw_public(f->root), 32, h);
  env_spec s = {"verdict", h, 8, (uint8_t *)body.data, body.size, sig, 64, NULL};
  pack_env(&s, &env);
  assert_int_equal(full_check((uint8_t *)env.data, env.size, &f->trust), LIC_OK);
  msgpack_sbuffer_destroy(&env);
  /* Key order does not matter to a map reader. */
  msgpack_packer pk;
  msgpack_sbuffer_init(&env);
  msgpack_packer_init(&pk, &env, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 4);
  pstr(&pk, "sig");
  pbin(&pk, sig, 64);
  pstr(&pk, "body");
  pbin(&pk, body.data, body.size);
  pstr(&pk, "kid");
  pbin(&pk, h, 8);
  pstr(&pk, "typ");
  pstr(&pk, "verdict");
  assert_int_equal(full_check((uint8_t *)env.data, env.size, &f->trust), LIC_OK);
  msgpack_sbuffer_destroy(&env);
  msgpack_sbuffer_destroy(&body);
}

static void test_every_truncation(void **state) {
  fx *f = *state;
  msgpack_sbuffer body;
  uint8_t *env = NULL;
  size_t elen = 0;
  lic_envelope e;
  make_body("license", &body);
  assert_int_equal(lic_envelope_seal("license", (uint8_t *)body.data, body.size, f->root, &env,
                                     &elen),
                   LIC_OK);
  for (size_t n = 0; n < elen; n++) {
    uint8_t *c = malloc(n > 0 ? n : 1);
    memcpy(c, env, n);
    int rc = lic_envelope_decode(c, n, &e);
    if (rc == LIC_OK)
      fail_msg("envelope truncated to %zu of %zu bytes decoded", n, elen);
    if (rc != LIC_FORMAT && rc != LIC_TYPE && rc != LIC_LIMIT)
      fail_msg("truncation to %zu: unexpected %s", n, lic_errname(rc));
    free(c);
  }
  /* One byte more is trailing garbage. */
  uint8_t *c = malloc(elen + 1);
  memcpy(c, env, elen);
  c[elen] = 0;
  assert_int_equal(lic_envelope_decode(c, elen + 1, &e), LIC_FORMAT);
  free(c);
  free(env);
  msgpack_sbuffer_destroy(&body);
}

static void test_bit_flips(void **state) {
  fx *f = *state;
  msgpack_sbuffer body;
  uint8_t *env = NULL;
  size_t elen = 0;
  lic_envelope e;
  make_body("license", &body);
  assert_int_equal(lic_envelope_seal("license", (uint8_t *)body.data, body.size, f->root, &env,
                                     &elen),
                   LIC_OK);
  assert_int_equal(lic_envelope_decode(env, elen, &e), LIC_OK);
  size_t body_off = (size_t)(e.body - env);
  /* The sig is the last 64 bytes of the value of "sig"; find it by content. */
  size_t sig_off = SIZE_MAX;
  for (size_t i = 0; i + 64 <= elen; i++)
    if (memcmp(env + i, e.sig, 64) == 0)
      sig_off = i;
  assert_true(sig_off != SIZE_MAX);

  uint8_t *c = malloc(elen);
  for (size_t i = 0; i < elen; i++) {
    for (int bit = 0; bit < 8; bit++) {
      memcpy(c, env, elen);
      c[i] ^= (uint8_t)(1u << bit);
      bool in_body = i >= body_off && i < body_off + e.body_len;
      bool in_sig = i >= sig_off && i < sig_off + 64;
      if (in_body || in_sig) {
        lic_envelope e2;
        assert_int_equal(lic_envelope_decode(c, elen, &e2), LIC_OK);
        int rc = lic_envelope_verify(&e2, &f->trust);
        if (rc != LIC_SIGNATURE)
          fail_msg("flip at %zu bit %d (%s): %s", i, bit, in_body ? "body" : "sig",
                   lic_errname(rc));
      } else {
        int rc = full_check(c, elen, &f->trust);
        if (rc == LIC_OK)
          fail_msg("flip at %zu bit %d in the envelope frame was accepted", i, bit);
      }
    }
  }
  free(c);
  free(env);
  msgpack_sbuffer_destroy(&body);
}

static void test_wrong_kid_untrusted(void **state) {
  fx *f = *state;
  lic_key *other = NULL;
  msgpack_sbuffer body;
  uint8_t *env = NULL;
  size_t elen = 0;
  lic_envelope e;
  lic_trust empty;
  lic_trust_init(&empty);
  assert_int_equal(lic_key_generate(&other), LIC_OK);
  make_body("license", &body);
  assert_int_equal(lic_envelope_seal("license", (uint8_t *)body.data, body.size, other, &env,
                                     &elen),
                   LIC_OK);
  assert_int_equal(lic_envelope_decode(env, elen, &e), LIC_OK);
  assert_int_equal(lic_envelope_verify(&e, &f->trust), LIC_UNTRUSTED);
  assert_int_equal(lic_envelope_verify_with(&e, lic_key_raw_public(f->root)), LIC_UNTRUSTED);
  assert_int_equal(lic_envelope_verify_with(&e, lic_key_raw_public(other)), LIC_OK);
  free(env);
  /* The test root's own envelope is untrusted by an empty store. */
  assert_int_equal(lic_envelope_seal("license", (uint8_t *)body.data, body.size, f->root, &env,
                                     &elen),
                   LIC_OK);
  assert_int_equal(lic_envelope_decode(env, elen, &e), LIC_OK);
  assert_int_equal(lic_envelope_verify(&e, &empty), LIC_UNTRUSTED);
  free(env);
  lic_key_free(other);
  msgpack_sbuffer_destroy(&body);
}

/* A trusted kid with a signature by another key: SIGNATURE, not OK. */
static void test_trusted_kid_forged_sig(void **state) {
  fx *f = *state;
  lic_key *other = NULL;
  msgpack_sbuffer body, env;
  uint8_t sig[64];
  assert_int_equal(lic_key_generate(&other), LIC_OK);
  make_body("license", &body);
  static const uint8_t pre[] = "LICSRV1 license\n";
  assert_int_equal(lic_key_sign2(other, pre, sizeof pre - 1, (uint8_t *)body.data, body.size, sig),
                   LIC_OK);
  env_spec s = {"license", lic_key_kid(f->root), 8, (uint8_t *)body.data, body.size, sig, 64, NULL};
  pack_env(&s, &env);
  assert_int_equal(full_check((uint8_t *)env.data, env.size, &f->trust), LIC_SIGNATURE);
  msgpack_sbuffer_destroy(&env);
  /* A signature over the right body but as another typ. */
  openssl_sign("rif", (uint8_t *)body.data, body.size, sig);
  s.sig = sig;
  pack_env(&s, &env);
  assert_int_equal(full_check((uint8_t *)env.data, env.size, &f->trust), LIC_SIGNATURE);
  msgpack_sbuffer_destroy(&env);
  lic_key_free(other);
  msgpack_sbuffer_destroy(&body);
}

static void test_body_typ_mismatch(void **state) {
  fx *f = *state;
  msgpack_sbuffer body;
  uint8_t *env = NULL;
  size_t elen = 0;
  lic_envelope e;
  lic_mp_obj o;
  make_body("rif", &body);
  assert_int_equal(lic_envelope_seal("license", (uint8_t *)body.data, body.size, f->root, &env,
                                     &elen),
                   LIC_OK);
  assert_int_equal(lic_envelope_decode(env, elen, &e), LIC_OK);
  assert_int_equal(lic_envelope_verify(&e, &f->trust), LIC_OK);
  assert_int_equal(lic_envelope_body(&e, &o), LIC_TYPE);
  free(env);
  msgpack_sbuffer_destroy(&body);

  /* A body with no typ at all. */
  static const uint8_t notyp[] = {0x81, 0xa1, 'x', 0x01};
  assert_int_equal(lic_envelope_seal("license", notyp, sizeof notyp, f->root, &env, &elen), LIC_OK);
  assert_int_equal(lic_envelope_decode(env, elen, &e), LIC_OK);
  assert_int_not_equal(lic_envelope_body(&e, &o), LIC_OK);
  free(env);
  /* A body that is not a map. */
  static const uint8_t notmap[] = {0x91, 0x01};
  assert_int_equal(lic_envelope_seal("license", notmap, sizeof notmap, f->root, &env, &elen),
                   LIC_OK);
  assert_int_equal(lic_envelope_decode(env, elen, &e), LIC_OK);
  assert_int_equal(lic_envelope_body(&e, &o), LIC_FORMAT);
  free(env);
}

static void test_unknown_typ(void **state) {
  fx *f = *state;
  msgpack_sbuffer body, env;
  uint8_t *out = NULL, sig[64];
  size_t olen = 0;
  lic_envelope e;
  make_body("foo", &body);
  assert_int_equal(lic_envelope_seal("foo", (uint8_t *)body.data, body.size, f->root, &out, &olen),
                   LIC_TYPE);
  assert_null(out);
  openssl_sign("foo", (uint8_t *)body.data, body.size, sig);
  env_spec s = {"foo", lic_key_kid(f->root), 8, (uint8_t *)body.data, body.size, sig, 64, NULL};
  pack_env(&s, &env);
  assert_int_equal(lic_envelope_decode((uint8_t *)env.data, env.size, &e), LIC_TYPE);
  msgpack_sbuffer_destroy(&env);
  s.typ = "";
  pack_env(&s, &env);
  assert_int_equal(lic_envelope_decode((uint8_t *)env.data, env.size, &e), LIC_FORMAT);
  msgpack_sbuffer_destroy(&env);
  s.typ = "licenselicenselic"; /* 17 bytes */
  pack_env(&s, &env);
  assert_int_equal(lic_envelope_decode((uint8_t *)env.data, env.size, &e), LIC_FORMAT);
  msgpack_sbuffer_destroy(&env);
  msgpack_sbuffer_destroy(&body);
}

static void test_keys_extra_missing(void **state) {
  fx *f = *state;
  msgpack_sbuffer body, env;
  uint8_t sig[64];
  lic_envelope e;
  make_body("license", &body);
  openssl_sign("license", (uint8_t *)body.data, body.size, sig);
  const uint8_t *kid = lic_key_kid(f->root);
  env_spec good = {"license", kid, 8, (uint8_t *)body.data, body.size, sig, 64, NULL};
  pack_env(&good, &env);
  assert_int_equal(full_check((uint8_t *)env.data, env.size, &f->trust), LIC_OK);
  msgpack_sbuffer_destroy(&env);

  env_spec s = good;
  s.extra = "x";
  pack_env(&s, &env);
  assert_int_equal(lic_envelope_decode((uint8_t *)env.data, env.size, &e), LIC_FORMAT);
  msgpack_sbuffer_destroy(&env);

  for (int miss = 0; miss < 4; miss++) {
    s = good;
    if (miss == 0) s.typ = NULL;
    if (miss == 1) s.kid = NULL;
    if (miss == 2) s.body = NULL;
    if (miss == 3) s.sig = NULL;
    pack_env(&s, &env);
    if (lic_envelope_decode((uint8_t *)env.data, env.size, &e) != LIC_FORMAT)
      fail_msg("envelope without key #%d: %s", miss, lic_errdetail());
    msgpack_sbuffer_destroy(&env);
    /* Missing one key but with an unknown one in its place: still four keys. */
    s.extra = "zzz";
    pack_env(&s, &env);
    if (lic_envelope_decode((uint8_t *)env.data, env.size, &e) != LIC_FORMAT)
      fail_msg("envelope with key #%d replaced: %s", miss, lic_errdetail());
    msgpack_sbuffer_destroy(&env);
  }

  /* Wrong types for known keys. */
  msgpack_packer pk;
  msgpack_sbuffer_init(&env);
  msgpack_packer_init(&pk, &env, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 4);
  pstr(&pk, "typ");
  pbin(&pk, "license", 7);
  pstr(&pk, "kid");
  pbin(&pk, kid, 8);
  pstr(&pk, "body");
  pbin(&pk, body.data, body.size);
  pstr(&pk, "sig");
  pbin(&pk, sig, 64);
  assert_int_equal(lic_envelope_decode((uint8_t *)env.data, env.size, &e), LIC_FORMAT);
  msgpack_sbuffer_destroy(&env);
  msgpack_sbuffer_init(&env);
  msgpack_packer_init(&pk, &env, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 4);
  pstr(&pk, "typ");
  pstr(&pk, "license");
  pstr(&pk, "kid");
  msgpack_pack_str(&pk, 8);
  msgpack_pack_str_body(&pk, "abcdefgh", 8);
  pstr(&pk, "body");
  pbin(&pk, body.data, body.size);
  pstr(&pk, "sig");
  pbin(&pk, sig, 64);
  assert_int_equal(lic_envelope_decode((uint8_t *)env.data, env.size, &e), LIC_FORMAT);
  msgpack_sbuffer_destroy(&env);
  /* Not a map at all. */
  static const uint8_t arr[] = {0x94, 0x01, 0x02, 0x03, 0x04};
  assert_int_equal(lic_envelope_decode(arr, sizeof arr, &e), LIC_FORMAT);
  msgpack_sbuffer_destroy(&body);
}

static void test_kid_sig_lengths(void **state) {
  fx *f = *state;
  msgpack_sbuffer body, env;
  uint8_t sig[65] = {0}, kid[9] = {0};
  lic_envelope e;
  make_body("license", &body);
  openssl_sign("license", (uint8_t *)body.data, body.size, sig);
  memcpy(kid, lic_key_kid(f->root), 8);
  static const size_t kids[] = {0, 7, 9}, sigs[] = {0, 63, 65};
  for (size_t i = 0; i < 3; i++) {
    env_spec s = {"license", kid, kids[i], (uint8_t *)body.data, body.size, sig, 64, NULL};
    pack_env(&s, &env);
    assert_int_equal(lic_envelope_decode((uint8_t *)env.data, env.size, &e), LIC_FORMAT);
    msgpack_sbuffer_destroy(&env);
    env_spec t = {"license", kid, 8, (uint8_t *)body.data, body.size, sig, sigs[i], NULL};
    pack_env(&t, &env);
    assert_int_equal(lic_envelope_decode((uint8_t *)env.data, env.size, &e), LIC_FORMAT);
    msgpack_sbuffer_destroy(&env);
  }
  /* An empty body is not a body. */
  env_spec s = {"license", kid, 8, (const uint8_t *)"", 0, sig, 64, NULL};
  pack_env(&s, &env);
  assert_int_equal(lic_envelope_decode((uint8_t *)env.data, env.size, &e), LIC_FORMAT);
  msgpack_sbuffer_destroy(&env);
  msgpack_sbuffer_destroy(&body);
}

static void test_oversize_body(void **state) {
  fx *f = *state;
  uint8_t *big = calloc(1, LIC_MAX_BODY + 2), *env = NULL, sig[64] = {0};
  size_t elen = 0;
  lic_envelope e;
  big[0] = 0x80; /* whatever: the body's content is not looked at here */
  assert_int_equal(lic_envelope_seal("license", big, LIC_MAX_BODY + 1, f->root, &env, &elen),
                   LIC_LIMIT);
  assert_null(env);
  assert_int_equal(lic_envelope_seal("license", big, 0, f->root, &env, &elen), LIC_LIMIT);
  /* Exactly LIC_MAX_BODY fits, and the envelope within LIC_MAX_ENVELOPE. */
  assert_int_equal(lic_envelope_seal("license", big, LIC_MAX_BODY, f->root, &env, &elen), LIC_OK);
  assert_true(elen <= LIC_MAX_ENVELOPE);
  assert_int_equal(lic_envelope_decode(env, elen, &e), LIC_OK);
  assert_int_equal(e.body_len, LIC_MAX_BODY);
  assert_int_equal(lic_envelope_verify(&e, &f->trust), LIC_OK);
  free(env);
  /* A hand-made envelope with one byte more is refused. */
  msgpack_sbuffer sb;
  env_spec s = {"license", lic_key_kid(f->root), 8, big, LIC_MAX_BODY + 1, sig, 64, NULL};
  pack_env(&s, &sb);
  int rc = lic_envelope_decode((uint8_t *)sb.data, sb.size, &e);
  assert_true(rc == LIC_FORMAT || rc == LIC_LIMIT);
  msgpack_sbuffer_destroy(&sb);
  /* And a whole envelope above LIC_MAX_ENVELOPE is refused before parsing. */
  uint8_t *huge = calloc(1, LIC_MAX_ENVELOPE + 1);
  huge[0] = 0x84;
  assert_int_equal(lic_envelope_decode(huge, LIC_MAX_ENVELOPE + 1, &e), LIC_LIMIT);
  free(huge);
  free(big);
}

static void test_envelope_load(void **state) {
  fx *f = *state;
  msgpack_sbuffer body;
  uint8_t *env = NULL, *raw = NULL;
  size_t elen = 0, alen = 0;
  char *arm = NULL, path[512], apath[512];
  lic_envelope e;
  char *dir = tu_tmpdir();
  make_body("license", &body);
  assert_int_equal(lic_envelope_seal("license", (uint8_t *)body.data, body.size, f->root, &env,
                                     &elen),
                   LIC_OK);
  assert_int_equal(lic_armor_encode("license", "a comment", env, elen, &arm, &alen), LIC_OK);
  snprintf(path, sizeof path, "%s/l.msgpack", dir);
  snprintf(apath, sizeof apath, "%s/l.lic", dir);
  assert_int_equal(lic_file_write(path, env, elen, 0644, 0), LIC_OK);
  assert_int_equal(lic_file_write(apath, arm, alen, 0644, 0), LIC_OK);

  for (int i = 0; i < 2; i++) {
    const char *p = i == 0 ? path : apath;
    assert_int_equal(lic_envelope_load(p, "license", &f->trust, NULL, &raw, &e), LIC_OK);
    assert_int_equal(e.body_len, body.size);
    assert_memory_equal(e.body, body.data, body.size);
    free(raw);
    assert_int_equal(lic_envelope_load(p, NULL, &f->trust, NULL, &raw, &e), LIC_OK);
    free(raw);
    assert_int_equal(lic_envelope_load(p, "rif", &f->trust, NULL, &raw, &e), LIC_TYPE);
    assert_null(raw);
    assert_int_equal(lic_envelope_load(p, "license", &f->trust, lic_key_raw_public(f->root), &raw, &e),
                     LIC_OK);
    free(raw);
    lic_trust empty;
    lic_trust_init(&empty);
    assert_int_equal(lic_envelope_load(p, "license", &empty, NULL, &raw, &e), LIC_UNTRUSTED);
    assert_null(raw);
  }
  snprintf(path, sizeof path, "%s/missing", dir);
  assert_int_equal(lic_envelope_load(path, NULL, &f->trust, NULL, &raw, &e), LIC_NOTFOUND);
  free(arm);
  free(env);
  msgpack_sbuffer_destroy(&body);
  tu_rmtree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_typ_known),
      cmocka_unit_test(test_seal_roundtrip),
      cmocka_unit_test(test_seal_structure_independent),
      cmocka_unit_test(test_foreign_envelope_verifies),
      cmocka_unit_test(test_every_truncation),
      cmocka_unit_test(test_bit_flips),
      cmocka_unit_test(test_wrong_kid_untrusted),
      cmocka_unit_test(test_trusted_kid_forged_sig),
      cmocka_unit_test(test_body_typ_mismatch),
      cmocka_unit_test(test_unknown_typ),
      cmocka_unit_test(test_keys_extra_missing),
      cmocka_unit_test(test_kid_sig_lengths),
      cmocka_unit_test(test_oversize_body),
      cmocka_unit_test(test_envelope_load),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
