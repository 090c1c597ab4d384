/* test_srv_public_request.c - register/unregister request decoding
 * (core/request.c): both encodings, every required field, wrong types, and
 * what unregister leaves optional. */
#include <string.h>

#include "core/request.h"
#include "testutil.h"

#define TOKEN "lsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

static const char *const REG_KEYS[] = {"nonce", "account", "token", "project_id", "project",
                                       "domain", "port", "node", "app", "version"};

/* The register body with key `skip` left out and key `bad` given a wrong type. */
static void pack_register(msgpack_sbuffer *sb, const char *skip, const char *bad) {
  msgpack_packer pk;
  uint8_t id[16] = {1, 2, 3}, nonce[16] = {9};
  size_t n = 0;
  for (size_t i = 0; i < 10; i++)
    n += skip == NULL || strcmp(REG_KEYS[i], skip) != 0;
  msgpack_sbuffer_init(sb);
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, n);
  for (size_t i = 0; i < 10; i++) {
    const char *k = REG_KEYS[i];
    if (skip != NULL && strcmp(k, skip) == 0)
      continue;
    lic_mp_pack_cstr(&pk, k);
    if (bad != NULL && strcmp(k, bad) == 0) {
      msgpack_pack_array(&pk, 0);
      continue;
    }
    if (strcmp(k, "nonce") == 0)
      lic_mp_pack_bin(&pk, nonce, sizeof nonce);
    else if (strcmp(k, "account") == 0)
      lic_mp_pack_bin(&pk, id, 16);
    else if (strcmp(k, "project_id") == 0)
      lic_mp_pack_cstr(&pk, "00112233-4455-6677-8899-aabbccddeeff");
    else if (strcmp(k, "port") == 0)
      msgpack_pack_int64(&pk, 443);
    else
      lic_mp_pack_cstr(&pk, strcmp(k, "token") == 0     ? TOKEN
                            : strcmp(k, "project") == 0 ? "Reports"
                            : strcmp(k, "domain") == 0  ? "r.example.com"
                            : strcmp(k, "node") == 0    ? "rs-1"
                            : strcmp(k, "app") == 0     ? "sales"
                                                        : "11.0.18");
  }
}

static void test_register_msgpack(void **state) {
  (void)state;
  msgpack_sbuffer sb;
  srv_verify_req q;
  pack_register(&sb, NULL, NULL);
  assert_int_equal(srv_public_req_msgpack((uint8_t *)sb.data, sb.size, SRV_PUB_REGISTER, &q), LIC_OK);
  assert_true(q.has_account && q.has_project_id && !q.has_license);
  assert_string_equal(q.token, TOKEN);
  assert_string_equal(q.project, "Reports");
  assert_int_equal(q.project_id[0], 0x00);
  assert_int_equal(q.project_id[15], 0xff);
  assert_int_equal(q.major, 11);
  assert_int_equal(q.port, 443);
  /* the same body is a good unregister too (extra fields ignored) */
  assert_int_equal(srv_public_req_msgpack((uint8_t *)sb.data, sb.size, SRV_PUB_UNREGISTER, &q),
                   LIC_OK);
  msgpack_sbuffer_destroy(&sb);
  /* every required field of register, missing and of a wrong type */
  static const char *const req[] = {"nonce", "account", "token", "project_id", "project",
                                    "domain", "port", "node"};
  for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
    pack_register(&sb, req[i], NULL);
    int rc = srv_public_req_msgpack((uint8_t *)sb.data, sb.size, SRV_PUB_REGISTER, &q);
    if (rc == LIC_OK || strstr(lic_errdetail(), req[i]) == NULL)
      fail_msg("missing %s: %s (%s)", req[i], lic_errname(rc), lic_errdetail());
    msgpack_sbuffer_destroy(&sb);
    pack_register(&sb, NULL, req[i]);
    rc = srv_public_req_msgpack((uint8_t *)sb.data, sb.size, SRV_PUB_REGISTER, &q);
    if (rc == LIC_OK)
      fail_msg("%s as an array accepted", req[i]);
    msgpack_sbuffer_destroy(&sb);
  }
  /* unregister needs only the credentials */
  static const char *const ureq[] = {"nonce", "account", "token", "project_id"};
  for (size_t i = 0; i < 4; i++) {
    pack_register(&sb, ureq[i], NULL);
    assert_int_not_equal(srv_public_req_msgpack((uint8_t *)sb.data, sb.size, SRV_PUB_UNREGISTER, &q),
                         LIC_OK);
    msgpack_sbuffer_destroy(&sb);
  }
  pack_register(&sb, "node", NULL);
  assert_int_equal(srv_public_req_msgpack((uint8_t *)sb.data, sb.size, SRV_PUB_UNREGISTER, &q), LIC_OK);
  assert_string_equal(q.node, "-");
  msgpack_sbuffer_destroy(&sb);
  /* every truncation of a good body */
  pack_register(&sb, NULL, NULL);
  for (size_t n = 0; n < sb.size; n++)
    assert_int_not_equal(srv_public_req_msgpack((uint8_t *)sb.data, n, SRV_PUB_REGISTER, &q), LIC_OK);
  msgpack_sbuffer_destroy(&sb);
}

static int js(const char *body, srv_public_kind k, srv_verify_req *q) {
  return srv_public_req_json((const uint8_t *)body, strlen(body), k, q);
}

static void test_json(void **state) {
  (void)state;
  srv_verify_req q;
  const char *good =
      "{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw\",\"account\":\"00112233-4455-6677-8899-aabbccddeeff\","
      "\"token\":\"" TOKEN "\",\"project_id\":\"ABEiM0RVZneImaq7zN3u_w\",\"project\":\"R\","
      "\"domain\":\"r.example.com\",\"port\":443,\"node\":\"n\"}";
  assert_int_equal(js(good, SRV_PUB_REGISTER, &q), LIC_OK);
  assert_int_equal(q.project_id[15], 0xff); /* base64url id */
  assert_int_equal(q.major, -1);
  assert_int_equal(js("{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw\",\"account\":\"00112233-4455-6677-8899-aabbccddeeff\","
                      "\"token\":\"t\",\"project_id\":\"00112233-4455-6677-8899-aabbccddeeff\"}",
                      SRV_PUB_UNREGISTER, &q), LIC_OK);
  assert_int_not_equal(js("{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw\",\"account\":\"00112233-4455-6677-8899-aabbccddeeff\","
                          "\"token\":\"t\",\"project_id\":\"00112233-4455-6677-8899-aabbccddeeff\"}",
                          SRV_PUB_REGISTER, &q), LIC_OK);
  /* a license and an account together; a port as a string; duplicate keys */
  assert_int_not_equal(js("{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw\",\"license\":\"00112233-4455-6677-8899-aabbccddeeff\","
                          "\"account\":\"00112233-4455-6677-8899-aabbccddeeff\",\"token\":\"t\","
                          "\"project_id\":\"00112233-4455-6677-8899-aabbccddeeff\"}",
                          SRV_PUB_UNREGISTER, &q), LIC_OK);
  assert_int_not_equal(js("{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw\",\"account\":\"00112233-4455-6677-8899-aabbccddeeff\","
                          "\"token\":\"t\",\"project_id\":\"00112233-4455-6677-8899-aabbccddeeff\","
                          "\"project\":\"R\",\"domain\":\"r.example.com\",\"port\":\"443\",\"node\":\"n\"}",
                          SRV_PUB_REGISTER, &q), LIC_OK);
  assert_int_not_equal(js("{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw\",\"nonce\":\"AAECAwQFBgcICQoLDA0ODw\"}",
                          SRV_PUB_UNREGISTER, &q), LIC_OK);
  assert_int_not_equal(js("[]", SRV_PUB_UNREGISTER, &q), LIC_OK);
  assert_int_not_equal(js("{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw\",\"account\":\"00112233-4455-6677-8899-aabbccddeeff\","
                          "\"token\":\"t\",\"project_id\":\"00112233-4455-6677-8899-aabbccddeeff\","
                          "\"project\":\"bad\\u0001\",\"domain\":\"r.example.com\",\"port\":443,\"node\":\"n\"}",
                          SRV_PUB_REGISTER, &q), LIC_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_msgpack),
      cmocka_unit_test(test_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
