/* test_receipt.c - claim receipts: body round trip and strictness, and the
 * designer's checks on a claim response (root -> license -> receipt). */
#include <string.h>
#include <sys/stat.h>

#include "lic/envelope.h"
#include "lic/receipt.h"
#include "testutil.h"

static const int64_t NOW = 1800000000;
static const char *MACHINE = "0000-1111-2222-3333";

typedef struct {
  lic_key *root, *node;
  lic_trust trust;
  uint8_t *lic_env;
  size_t lic_len;
  lic_code code;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  lic_license l;
  uint8_t *body;
  size_t blen;
  char text[LIC_CODE_TEXT_LEN + 1];

  f->root = tu_test_root_key();
  const char *np = tu_src("keys/test/test-node.pem");
  chmod(np, 0600);
  assert_int_equal(lic_key_load_private(np, NULL, &f->node), LIC_OK);
  lic_trust_init(&f->trust);
  lic_trust_add_raw(&f->trust, lic_key_raw_public(f->root));
  memset(&l, 0, sizeof l);
  memset(l.id, 0x11, LIC_ID_LEN);
  l.mode = LIC_MODE_PRIVATE;
  l.issued = l.not_before = NOW - 100;
  l.customer = strdup("Acme");
  l.project = strdup("P");
  l.product = strdup("RS");
  l.major = 11;
  l.has_machine = true;
  snprintf(l.machine_code, sizeof l.machine_code, "0000-0000-0000-0000");
  l.macs = calloc(1, LIC_MAC_HASH_LEN);
  l.nmacs = 1;
  l.has_node_key = true;
  memcpy(l.node_key, lic_key_raw_public(f->node), LIC_PUBKEY_LEN);
  l.heartbeat = 7200;
  l.grace = 86400;
  assert_int_equal(lic_license_pack(&l, &body, &blen), LIC_OK);
  assert_int_equal(lic_envelope_seal("license", body, blen, f->root, &f->lic_env, &f->lic_len),
                   LIC_OK);
  free(body);
  lic_license_clear(&l);
  f->code.product = 1;
  f->code.serial = 42;
  assert_int_equal(lic_code_make(&f->code, f->root, text), LIC_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  lic_key_free(f->root);
  lic_key_free(f->node);
  free(f->lic_env);
  free(f);
  return 0;
}

static lic_receipt good_receipt(fixture *f) {
  lic_receipt r;
  memset(&r, 0, sizeof r);
  r.product = 1;
  r.serial = 42;
  snprintf(r.machine, sizeof r.machine, "%s", MACHINE);
  r.time = NOW;
  lic_kid_of(lic_key_raw_public(f->node), r.node_kid);
  return r;
}

/* {receipt, chain: [license]} with the receipt signed by signer. */
static msgpack_sbuffer response(fixture *f, const lic_receipt *r, const lic_key *signer,
                                const char *typ, int nchain) {
  msgpack_sbuffer body, out;
  msgpack_packer pk;
  uint8_t *env;
  size_t elen;
  msgpack_sbuffer_init(&body);
  assert_int_equal(lic_receipt_pack(r, &body), LIC_OK);
  assert_int_equal(lic_envelope_seal(typ, (const uint8_t *)body.data, body.size, signer, &env,
                                     &elen), LIC_OK);
  msgpack_sbuffer_destroy(&body);
  msgpack_sbuffer_init(&out);
  msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 2);
  lic_mp_pack_cstr(&pk, "receipt");
  lic_mp_pack_bin(&pk, env, elen);
  lic_mp_pack_cstr(&pk, "chain");
  msgpack_pack_array(&pk, (size_t)nchain);
  for (int i = 0; i < nchain; i++)
    lic_mp_pack_bin(&pk, f->lic_env, f->lic_len);
  free(env);
  return out;
}

static int check(fixture *f, const lic_receipt *r, const lic_key *signer, const char *typ,
                 int nchain, const char *machine, lic_claim_result *res) {
  msgpack_sbuffer sb = response(f, r, signer, typ, nchain);
  int rc = lic_claim_response_check((const uint8_t *)sb.data, sb.size, &f->trust, &f->code,
                                    machine, res);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

static void test_body_round_trip(void **state) {
  fixture *f = *state;
  lic_receipt r = good_receipt(f), back;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  assert_int_equal(lic_receipt_pack(&r, &sb), LIC_OK);
  assert_int_equal(lic_receipt_parse((const uint8_t *)sb.data, sb.size, &back), LIC_OK);
  assert_memory_equal(&r, &back, sizeof r);
  /* Truncated bodies never parse. */
  for (size_t n = 0; n < sb.size; n++)
    assert_int_not_equal(lic_receipt_parse((const uint8_t *)sb.data, n, &back), LIC_OK);
  msgpack_sbuffer_destroy(&sb);
  /* A machine code that is not canonical. */
  snprintf(r.machine, sizeof r.machine, "0000-1111-2222-333o");
  msgpack_sbuffer_init(&sb);
  assert_int_equal(lic_receipt_pack(&r, &sb), LIC_OK);
  assert_int_equal(lic_receipt_parse((const uint8_t *)sb.data, sb.size, &back), LIC_FORMAT);
  msgpack_sbuffer_destroy(&sb);
}

static void test_response_checks(void **state) {
  fixture *f = *state;
  lic_claim_result res;
  lic_receipt r = good_receipt(f);

  assert_int_equal(check(f, &r, f->node, "receipt", 1, MACHINE, &res), LIC_OK);
  assert_int_equal(res.receipt.serial, 42);
  assert_non_null(res.receipt_env);
  assert_true(res.license.has_node_key);
  lic_claim_result_clear(&res);
  /* Signed by the root, not by the node key the license certifies. */
  assert_int_not_equal(check(f, &r, f->root, "receipt", 1, MACHINE, &res), LIC_OK);
  assert_null(res.receipt_env);
  /* Another machine, another serial, another type, a bad chain. */
  assert_int_equal(check(f, &r, f->node, "receipt", 1, "4444-5555-6666-7777", &res),
                   LIC_MISMATCHED);
  lic_receipt other = r;
  other.serial = 43;
  assert_int_equal(check(f, &other, f->node, "receipt", 1, MACHINE, &res), LIC_MISMATCHED);
  assert_int_equal(check(f, &r, f->node, "verdict", 1, MACHINE, &res), LIC_TYPE);
  assert_int_equal(check(f, &r, f->node, "receipt", 0, MACHINE, &res), LIC_FORMAT);
  assert_int_equal(check(f, &r, f->node, "receipt", 2, MACHINE, &res), LIC_FORMAT);
  /* A receipt naming another signer than its envelope. */
  other = r;
  memset(other.node_kid, 0xee, LIC_KID_LEN);
  assert_int_equal(check(f, &other, f->node, "receipt", 1, MACHINE, &res), LIC_MISMATCHED);
  /* A license from a root we do not trust. */
  lic_trust empty;
  lic_trust_init(&empty);
  msgpack_sbuffer sb = response(f, &r, f->node, "receipt", 1);
  assert_int_equal(lic_claim_response_check((const uint8_t *)sb.data, sb.size, &empty, &f->code,
                                            MACHINE, &res),
                   LIC_UNTRUSTED);
  /* Garbage and truncations never check. */
  for (size_t n = 0; n < sb.size; n += 7)
    assert_int_not_equal(lic_claim_response_check((const uint8_t *)sb.data, n, &f->trust,
                                                  &f->code, MACHINE, &res),
                         LIC_OK);
  msgpack_sbuffer_destroy(&sb);
}

static void test_claim_unreachable(void **state) {
  fixture *f = *state;
  lic_machine m;
  lic_claim_result res;
  memset(&m, 0, sizeof m);
  snprintf(m.code, sizeof m.code, "%s", MACHINE);
  assert_int_equal(lic_activation_claim("ftp://x", &f->code, &m, &f->trust, 500, &res),
                   LIC_INVALID);
  assert_int_equal(lic_activation_claim(NULL, &f->code, &m, &f->trust, 500, &res), LIC_INVALID);
  /* Port 1 on loopback: refused at once. */
  assert_int_equal(lic_activation_claim("http://127.0.0.1:1", &f->code, &m, &f->trust, 500, &res),
                   LIC_IO);
  assert_int_equal(res.http_status, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_body_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_response_checks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_claim_unreachable, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
