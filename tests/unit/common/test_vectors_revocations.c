/* test_vectors_revocations.c - tests that fixed inputs give the byte-exact
 * revocation list vectors of tests/vectors/ (LIC_REGEN_VECTORS=1 writes them)
 * and that the stored files open, with liblic and with OpenSSL alone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/revocations.h"
#include "testutil.h"
#include "vecutil.h"

/* ---- the fixed inputs (documented in tests/vectors/README.md) ---- */
#define V_ISSUED     1767225600 /* 2026-01-01T00:00:00Z */
#define V_SEQ        2
#define V_LICENSE_ID "10111213-1415-1617-1819-1a1b1c1d1e1f" /* license-local's id */
#define V_ACCOUNT_ID "30313233-3435-3637-3839-3a3b3c3d3e3f" /* account's id */

enum { REV_BODY, REV_ENV, REV_ARM, NBLOBS };

static const char *const FILES[NBLOBS] = {
    "revocations.body.msgpack",
    "revocations.msgpack",
    "revocations.rev",
};

typedef struct {
  lic_key *root;
  tu_blob b[NBLOBS];
  lic_trust trust;
} fx;

static void uuid(const char *s, uint8_t id[16]) {
  assert_int_equal(lic_uuid_parse(s, strlen(s), id), LIC_OK);
}

static void build_all(fx *f) {
  lic_revocations r;
  uint8_t id[16];
  char *a = NULL;
  size_t alen = 0;
  memset(&r, 0, sizeof r);
  r.seq = V_SEQ;
  r.issued = V_ISSUED;
  uuid(V_LICENSE_ID, id);
  assert_int_equal(lic_revocations_add_license(&r, id), LIC_OK);
  uuid(V_ACCOUNT_ID, id);
  assert_int_equal(lic_revocations_add_account(&r, id), LIC_OK);
  assert_int_equal(lic_revocations_add_activation(&r, 7, 4242), LIC_OK);
  assert_int_equal(lic_revocations_add_activation(&r, 255, 4294967295u), LIC_OK);
  assert_int_equal(lic_revocations_pack(&r, &f->b[REV_BODY].p, &f->b[REV_BODY].n), LIC_OK);
  assert_int_equal(lic_envelope_seal("revocations", f->b[REV_BODY].p, f->b[REV_BODY].n, f->root,
                                     &f->b[REV_ENV].p, &f->b[REV_ENV].n), LIC_OK);
  assert_int_equal(lic_armor_encode("revocations",
                                    "licsrv test vector: revocations\n"
                                    "signed by the TEST root key (keys/test/test-root.pem): "
                                    "not a real revocations",
                                    f->b[REV_ENV].p, f->b[REV_ENV].n, &a, &alen), LIC_OK);
  f->b[REV_ARM].p = (uint8_t *)a;
  f->b[REV_ARM].n = alen;
  lic_revocations_clear(&r);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->root = tu_vec_key("keys/test/test-root.pem");
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
  free(f);
  return 0;
}

static void test_bytes(void **state) {
  fx *f = *state;
  for (int i = 0; i < NBLOBS; i++)
    tu_vec_compare(FILES[i], &f->b[i]);
}

static void test_stored_signature_openssl(void **state) {
  (void)state;
  tu_vec_openssl_check("revocations.msgpack", "revocations.body.msgpack", "revocations",
                       "keys/test/test-root.pub.pem");
}

static void test_stored_fields(void **state) {
  fx *f = *state;
  lic_revocations r;
  uint8_t id[16];
  assert_int_equal(lic_revocations_load(tu_vec_path("revocations.rev"), &f->trust, &r, NULL,
                                        NULL), LIC_OK);
  assert_int_equal(r.seq, V_SEQ);
  assert_int_equal(r.issued, V_ISSUED);
  uuid(V_LICENSE_ID, id);
  assert_true(lic_revocations_has_license(&r, id));
  assert_false(lic_revocations_has_account(&r, id));
  uuid(V_ACCOUNT_ID, id);
  assert_true(lic_revocations_has_account(&r, id));
  assert_true(lic_revocations_has_activation(&r, 7, 4242));
  assert_true(lic_revocations_has_activation(&r, 255, 4294967295u));
  assert_int_equal(lic_revocations_count(&r), 4);
  lic_revocations_clear(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bytes),
      cmocka_unit_test(test_stored_signature_openssl),
      cmocka_unit_test(test_stored_fields),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
