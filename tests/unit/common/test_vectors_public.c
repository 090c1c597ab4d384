/* test_vectors_public.c - tests that fixed inputs give the byte-exact account,
 * cert and public-verdict vectors of tests/vectors/ (LIC_REGEN_VECTORS=1 writes them). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>


#include "lic/account.h"
#include "lic/cert.h"
#include "lic/envelope.h"
#include "lic/err.h"
#include "testutil.h"
#include "vecutil.h"

/* ---- the fixed inputs (documented in tests/vectors/README.md) ---- */
#define V_ISSUED     1767225600 /* 2026-01-01T00:00:00Z */
#define V_EXPIRES    1798761600 /* 2027-01-01T00:00:00Z */
#define V_CERT_EXP   (V_ISSUED + 825 * 86400)
#define V_ACCOUNT_ID "30313233-3435-3637-3839-3a3b3c3d3e3f"
#define V_CERT_ID    "40414243-4445-4647-4849-4a4b4c4d4e4f"
#define V_CUSTOMER   "Vector Cloud Customer AG"
/* "lsk_" + base64url of the bytes 0x00..0x1f: a fixed TEST token. */
#define V_TOKEN      "lsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

enum { ACC_BODY, ACC_ENV, ACC_ARM, CRT_BODY, CRT_ENV, CRT_ARM, VRD_ENV, NBLOBS };

static const char *const FILES[NBLOBS] = {
    "account.body.msgpack", "account.msgpack", "account.acct",
    "cert.body.msgpack",    "cert.msgpack",    "cert.cert",
    "verdict-public.msgpack",
};

typedef struct {
  lic_key *root, *online;
  tu_blob b[NBLOBS];
  lic_trust trust;
} fx;

static void uuid(const char *s, uint8_t id[16]) {
  assert_int_equal(lic_uuid_parse(s, strlen(s), id), LIC_OK);
}

static void armor(const char *typ, const char *what, const tu_blob *env, tu_blob *arm) {
  char comments[256], *a = NULL;
  size_t alen = 0;
  snprintf(comments, sizeof comments,
           "licsrv test vector: %s\n"
           "signed by the TEST root key (keys/test/test-root.pem): not a real %s",
           what, typ);
  assert_int_equal(lic_armor_encode(typ, comments, env->p, env->n, &a, &alen), LIC_OK);
  arm->p = (uint8_t *)a;
  arm->n = alen;
}

static void build_all(fx *f) {
  lic_account a;
  lic_cert c;
  memset(&a, 0, sizeof a);
  uuid(V_ACCOUNT_ID, a.id);
  a.customer = strdup(V_CUSTOMER);
  a.capacity = 5;
  assert_int_equal(lic_strlist_add(&a.features, "export"), LIC_OK);
  assert_int_equal(lic_strlist_add(&a.features, "pdf"), LIC_OK);
  assert_int_equal(lic_strlist_add(&a.domains, "*.example.net"), LIC_OK);
  a.ports = malloc(sizeof *a.ports);
  a.ports[0] = 443;
  a.nports = 1;
  a.major = 11;
  a.not_before = V_ISSUED;
  a.expires = V_EXPIRES;
  a.heartbeat = 7200;
  a.grace = 86400;
  lic_token_hash(V_TOKEN, strlen(V_TOKEN), a.token_hash);
  assert_int_equal(lic_account_pack(&a, &f->b[ACC_BODY].p, &f->b[ACC_BODY].n), LIC_OK);
  assert_int_equal(lic_envelope_seal("account", f->b[ACC_BODY].p, f->b[ACC_BODY].n, f->root,
                                     &f->b[ACC_ENV].p, &f->b[ACC_ENV].n), LIC_OK);
  armor("account", "account", &f->b[ACC_ENV], &f->b[ACC_ARM]);
  lic_account_clear(&a);

  memset(&c, 0, sizeof c);
  uuid(V_CERT_ID, c.id);
  memcpy(c.pubkey, lic_key_raw_public(f->online), 32);
  snprintf(c.role, sizeof c.role, "verdict");
  c.issued = c.not_before = V_ISSUED;
  c.expires = V_CERT_EXP;
  assert_int_equal(lic_cert_pack(&c, &f->b[CRT_BODY].p, &f->b[CRT_BODY].n), LIC_OK);
  assert_int_equal(lic_envelope_seal("cert", f->b[CRT_BODY].p, f->b[CRT_BODY].n, f->root,
                                     &f->b[CRT_ENV].p, &f->b[CRT_ENV].n), LIC_OK);
  armor("cert", "cert", &f->b[CRT_ENV], &f->b[CRT_ARM]);

  /* A public-mode verdict signed by the certified online key. */
  lic_verdict v;
  msgpack_sbuffer body;
  uint8_t *env = NULL;
  size_t elen = 0;
  memset(&v, 0, sizeof v);
  for (int i = 0; i < 16; i++)
    v.nonce[i] = (uint8_t)(0xe0 + i);
  v.nonce_len = 16;
  v.time = V_ISSUED + 3600;
  v.has_account = true;
  uuid(V_ACCOUNT_ID, v.account);
  snprintf(v.node, sizeof v.node, "vector-node");
  v.status = LIC_STATUS_VALID;
  snprintf(v.reason, sizeof v.reason, "%s", lic_status_reason(LIC_STATUS_VALID));
  v.heartbeat = 7200;
  v.grace = 86400;
  v.expires = V_EXPIRES;
  v.seats_used = 1;
  v.seats_max = 5;
  msgpack_sbuffer_init(&body);
  assert_int_equal(lic_verdict_pack(&v, &body), LIC_OK);
  assert_int_equal(lic_envelope_seal("verdict", (uint8_t *)body.data, body.size, f->online, &env,
                                     &elen), LIC_OK);
  f->b[VRD_ENV].p = env;
  f->b[VRD_ENV].n = elen;
  msgpack_sbuffer_destroy(&body);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->root = tu_vec_key("keys/test/test-root.pem");
  f->online = tu_vec_key("keys/test/test-node.pem");
  lic_trust_init(&f->trust);
  if (lic_trust_add_file(&f->trust, tu_src("keys/test/test-root.pub.pem")) != LIC_OK)
    return -1;
  build_all(f);
  if (tu_vec_regen(FILES, f->b, NBLOBS) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  for (int i = 0; i < NBLOBS; i++)
    free(f->b[i].p);
  lic_key_free(f->root);
  lic_key_free(f->online);
  free(f);
  return 0;
}

static void test_bytes(void **state) {
  fx *f = *state;
  for (int i = 0; i < NBLOBS; i++)
    tu_vec_compare(FILES[i], &f->b[i]);
}

static void test_stored_signatures_openssl(void **state) {
  (void)state;
  tu_vec_openssl_check("account.msgpack", "account.body.msgpack", "account",
                       "keys/test/test-root.pub.pem");
  tu_vec_openssl_check("cert.msgpack", "cert.body.msgpack", "cert", "keys/test/test-root.pub.pem");
}

static void test_stored_fields_and_chain(void **state) {
  fx *f = *state;
  lic_account a;
  lic_cert c;
  lic_verdict v;
  uint8_t id[16];
  assert_int_equal(lic_account_load(tu_vec_path("account.acct"), &f->trust, &a, NULL, NULL), LIC_OK);
  uuid(V_ACCOUNT_ID, id);
  assert_memory_equal(a.id, id, 16);
  assert_string_equal(a.customer, V_CUSTOMER);
  assert_int_equal(a.capacity, 5);
  assert_true(lic_account_token_ok(&a, V_TOKEN, strlen(V_TOKEN)));
  lic_account_clear(&a);
  assert_int_equal(lic_cert_load(tu_vec_path("cert.cert"), &f->trust, &c, NULL, NULL), LIC_OK);
  assert_string_equal(c.role, "verdict");
  assert_int_equal(c.expires - c.not_before, 825 * 86400);
  assert_memory_equal(c.pubkey, lic_key_raw_public(f->online), 32);
  tu_blob ce = tu_vec_stored("cert.msgpack"), ve = tu_vec_stored("verdict-public.msgpack");
  assert_int_equal(lic_public_chain_check(ce.p, ce.n, ve.p, ve.n, &f->trust, NULL, &v), LIC_OK);
  assert_true(v.has_account);
  assert_memory_equal(v.account, id, 16);
  assert_int_equal(v.status, LIC_STATUS_VALID);
  lic_verdict_clear(&v);
  free(ce.p);
  free(ve.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bytes),
      cmocka_unit_test(test_stored_signatures_openssl),
      cmocka_unit_test(test_stored_fields_and_chain),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
