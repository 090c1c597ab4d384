/* test_srv_request.c - verify and claim request decoding: MessagePack and JSON, good and bad. */
#include <stdio.h>
#include <string.h>

#include "core/request.h"
#include "testutil.h"

typedef struct {
  msgpack_sbuffer sb;
  msgpack_packer pk;
} mp_buf;

static void mp_begin(mp_buf *b, size_t n) {
  msgpack_sbuffer_init(&b->sb);
  msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
  msgpack_pack_map(&b->pk, n);
}

static void kv_str(mp_buf *b, const char *k, const char *v) {
  lic_mp_pack_cstr(&b->pk, k);
  lic_mp_pack_cstr(&b->pk, v);
}

static void kv_int(mp_buf *b, const char *k, int64_t v) {
  lic_mp_pack_cstr(&b->pk, k);
  msgpack_pack_int64(&b->pk, v);
}

static void kv_bin(mp_buf *b, const char *k, size_t n) {
  uint8_t x[128];
  memset(x, 0xab, sizeof x);
  lic_mp_pack_cstr(&b->pk, k);
  lic_mp_pack_bin(&b->pk, x, n);
}

static int decode(mp_buf *b, srv_verify_req *q) {
  int rc = srv_verify_req_msgpack((const uint8_t *)b->sb.data, b->sb.size, q);
  msgpack_sbuffer_destroy(&b->sb);
  return rc;
}

static void test_msgpack_valid(void **state) {
  (void)state;
  mp_buf b;
  srv_verify_req q;
  mp_begin(&b, 7);
  kv_bin(&b, "nonce", 16);
  kv_str(&b, "domain", "reports.acme.com");
  kv_int(&b, "port", 8443);
  kv_str(&b, "node", "rs-1");
  kv_str(&b, "license", "01234567-89ab-cdef-0123-456789abcdef");
  kv_str(&b, "app", "ReportServer");
  kv_str(&b, "version", "11.0.18");
  assert_int_equal(decode(&b, &q), LIC_OK);
  assert_int_equal(q.nonce_len, 16);
  assert_string_equal(q.domain, "reports.acme.com");
  assert_int_equal(q.port, 8443);
  assert_true(q.has_license);
  assert_int_equal(q.license[0], 0x01);
  assert_int_equal(q.license[15], 0xef);
  assert_int_equal(q.major, 11);

  /* license as bin 16, no version: major -1; unknown keys ignored */
  mp_begin(&b, 6);
  kv_bin(&b, "nonce", 64);
  kv_str(&b, "domain", "localhost");
  kv_int(&b, "port", 1);
  kv_str(&b, "node", "n");
  kv_bin(&b, "license", 16);
  kv_str(&b, "future_key", "ignored");
  assert_int_equal(decode(&b, &q), LIC_OK);
  assert_int_equal(q.license[3], 0xab);
  assert_int_equal(q.major, -1);
}

static void test_msgpack_invalid(void **state) {
  (void)state;
  mp_buf b;
  srv_verify_req q;

  mp_begin(&b, 3); /* no nonce */
  kv_str(&b, "domain", "a.b");
  kv_int(&b, "port", 1);
  kv_str(&b, "node", "n");
  assert_int_equal(decode(&b, &q), LIC_NOTFOUND);
  assert_non_null(strstr(lic_errdetail(), "nonce"));

  const char *missing[] = {"domain", "port", "node"};
  for (size_t m = 0; m < 3; m++) {
    mp_begin(&b, 3);
    kv_bin(&b, "nonce", 16);
    if (m != 0) kv_str(&b, "domain", "a.b");
    if (m != 1) kv_int(&b, "port", 1);
    if (m != 2) kv_str(&b, "node", "n");
    assert_int_not_equal(decode(&b, &q), LIC_OK);
    assert_non_null(strstr(lic_errdetail(), missing[m]));
  }

  mp_begin(&b, 4); /* port is a string */
  kv_bin(&b, "nonce", 16);
  kv_str(&b, "domain", "a.b");
  kv_str(&b, "port", "443");
  kv_str(&b, "node", "n");
  assert_int_equal(decode(&b, &q), LIC_FORMAT);

  size_t bad_nonces[] = {15, 65, 0};
  for (size_t i = 0; i < 3; i++) {
    mp_begin(&b, 4);
    kv_bin(&b, "nonce", bad_nonces[i]);
    kv_str(&b, "domain", "a.b");
    kv_int(&b, "port", 1);
    kv_str(&b, "node", "n");
    assert_int_not_equal(decode(&b, &q), LIC_OK);
  }

  int64_t bad_ports[] = {0, 65536, -1};
  for (size_t i = 0; i < 3; i++) {
    mp_begin(&b, 4);
    kv_bin(&b, "nonce", 16);
    kv_str(&b, "domain", "a.b");
    kv_int(&b, "port", bad_ports[i]);
    kv_str(&b, "node", "n");
    assert_int_equal(decode(&b, &q), LIC_LIMIT);
  }

  const char *bad_domains[] = {"", "a..b", "bad domain", "*.acme.com"};
  for (size_t i = 0; i < 4; i++) {
    mp_begin(&b, 4);
    kv_bin(&b, "nonce", 16);
    kv_str(&b, "domain", bad_domains[i]);
    kv_int(&b, "port", 1);
    kv_str(&b, "node", "n");
    assert_int_not_equal(decode(&b, &q), LIC_OK);
  }

  mp_begin(&b, 5); /* bad version, bad license id */
  kv_bin(&b, "nonce", 16);
  kv_str(&b, "domain", "a.b");
  kv_int(&b, "port", 1);
  kv_str(&b, "node", "n");
  kv_str(&b, "version", "v11");
  assert_int_equal(decode(&b, &q), LIC_FORMAT);
  mp_begin(&b, 5);
  kv_bin(&b, "nonce", 16);
  kv_str(&b, "domain", "a.b");
  kv_int(&b, "port", 1);
  kv_str(&b, "node", "n");
  kv_bin(&b, "license", 15);
  assert_int_equal(decode(&b, &q), LIC_FORMAT);

  /* public mode needs token and project_id; not together with license */
  mp_begin(&b, 5);
  kv_bin(&b, "nonce", 16);
  kv_str(&b, "domain", "a.b");
  kv_int(&b, "port", 1);
  kv_str(&b, "node", "n");
  kv_bin(&b, "account", 16);
  assert_int_equal(decode(&b, &q), LIC_NOTFOUND);

  /* not a map, garbage, a huge array header */
  const uint8_t junk[][6] = {{0x93, 1, 2, 3}, {0xc1}, {0xdd, 0xff, 0xff, 0xff, 0xff}};
  const size_t jl[] = {4, 1, 5};
  for (size_t i = 0; i < 3; i++)
    assert_int_not_equal(srv_verify_req_msgpack(junk[i], jl[i], &q), LIC_OK);
  assert_int_not_equal(srv_verify_req_msgpack(NULL, 0, &q), LIC_OK);
}

static int js(const char *s, srv_verify_req *q) {
  return srv_verify_req_json((const uint8_t *)s, strlen(s), q);
}

static void test_json(void **state) {
  (void)state;
  srv_verify_req q;
  /* 16 bytes 0xfb.. as base64url: "-_v7..." exercises the URL alphabet */
  assert_int_equal(js("{\"nonce\":\"-_v7-_v7-_v7-_v7-_v7-w\",\"domain\":\"Reports.Acme.com.\","
                      "\"port\":8443,\"node\":\"rs-1\",\"license\":\"01234567-89ab-cdef-0123-456789abcdef\","
                      "\"version\":\"11\"}", &q), LIC_OK);
  assert_int_equal(q.nonce_len, 16);
  assert_int_equal(q.nonce[0], 0xfb);
  assert_int_equal(q.nonce[1], 0xfb);
  assert_int_equal(q.major, 11);
  /* standard base64 with padding is accepted too; license as base64 of 16 bytes */
  assert_int_equal(js("{\"nonce\":\"+/v7+/v7+/v7+/v7+/v7+w==\",\"domain\":\"a.b\",\"port\":1,"
                      "\"node\":\"n\",\"license\":\"AAAAAAAAAAAAAAAAAAAAAA\"}", &q), LIC_OK);
  assert_true(q.has_license);

  const char *bad[] = {
      "", "[]", "{", "null", "{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\"}",
      "{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"domain\":\"a.b\",\"port\":\"1\",\"node\":\"n\"}",
      "{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"domain\":\"a.b\",\"port\":1.5,\"node\":\"n\"}",
      "{\"nonce\":\"short\",\"domain\":\"a.b\",\"port\":1,\"node\":\"n\"}",
      "{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"domain\":\"a.b\",\"port\":1,\"node\":\"n\",\"node\":\"m\"}",
      "{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"domain\":\"a.b\",\"port\":1,\"node\":7}",
      "{\"nonce\":\"AAAA!AAAAAAAAAAAAAAAAA\",\"domain\":\"a.b\",\"port\":1,\"node\":\"n\"}",
      "{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"domain\":\"a.b\",\"port\":1,\"node\":\"n\",\"license\":\"nope\"}",
      "{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"domain\":\"a.b\",\"port\":99999999999999999999,\"node\":\"n\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_not_equal(js(bad[i], &q), LIC_OK);

  char big[600];
  memset(big, 'x', sizeof big);
  big[sizeof big - 1] = '\0';
  char doc[900];
  snprintf(doc, sizeof doc, "{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"domain\":\"a.b\",\"port\":1,"
                            "\"node\":\"%s\"}", big);
  assert_int_equal(js(doc, &q), LIC_LIMIT);
}

/* ---- POST /v1/activations -------------------------------------------- */

static const char *MC = "0000-1111-2222-3333";

static int claim_mp(mp_buf *b, srv_claim_req *q) {
  int rc = srv_claim_req_msgpack((const uint8_t *)b->sb.data, b->sb.size, q);
  msgpack_sbuffer_destroy(&b->sb);
  return rc;
}

static int claim_js(const char *text, srv_claim_req *q) {
  return srv_claim_req_json((const uint8_t *)text, strlen(text), q);
}

static void test_claim_msgpack(void **state) {
  srv_claim_req *q = malloc(sizeof *q);
  mp_buf b;
  (void)state;
  mp_begin(&b, 4);
  kv_str(&b, "code", "ABCDE-12345");
  kv_str(&b, "machine", MC);
  lic_mp_pack_cstr(&b.pk, "macs");
  msgpack_pack_array(&b.pk, 2);
  uint8_t mac[16];
  memset(mac, 0x5a, sizeof mac);
  lic_mp_pack_bin(&b.pk, mac, 16);
  lic_mp_pack_bin(&b.pk, mac, 16);
  kv_int(&b, "future", 1); /* unknown keys are ignored */
  assert_int_equal(claim_mp(&b, q), LIC_OK);
  assert_string_equal(q->code, "ABCDE-12345");
  assert_string_equal(q->machine, MC);
  assert_int_equal(q->nmacs, 2);
  assert_memory_equal(q->macs[1], mac, 16);
  /* macs optional */
  mp_begin(&b, 2);
  kv_str(&b, "code", "x");
  kv_str(&b, "machine", MC);
  assert_int_equal(claim_mp(&b, q), LIC_OK);
  assert_int_equal(q->nmacs, 0);
  /* missing fields, wrong types, bad machine codes, bad macs */
  mp_begin(&b, 1);
  kv_str(&b, "machine", MC);
  assert_int_equal(claim_mp(&b, q), LIC_NOTFOUND);
  mp_begin(&b, 1);
  kv_str(&b, "code", "x");
  assert_int_equal(claim_mp(&b, q), LIC_NOTFOUND);
  mp_begin(&b, 2);
  kv_int(&b, "code", 5);
  kv_str(&b, "machine", MC);
  assert_int_equal(claim_mp(&b, q), LIC_FORMAT);
  const char *bad_machines[] = {"", "0000-1111-2222-333", "0000-1111-2222-333o",
                                "0000_1111-2222-3333", "0000-1111-2222-3333-"};
  for (size_t i = 0; i < sizeof bad_machines / sizeof *bad_machines; i++) {
    mp_begin(&b, 2);
    kv_str(&b, "code", "x");
    kv_str(&b, "machine", bad_machines[i]);
    assert_int_not_equal(claim_mp(&b, q), LIC_OK);
  }
  mp_begin(&b, 3);
  kv_str(&b, "code", "x");
  kv_str(&b, "machine", MC);
  lic_mp_pack_cstr(&b.pk, "macs");
  msgpack_pack_array(&b.pk, 1);
  lic_mp_pack_bin(&b.pk, mac, 15);
  assert_int_not_equal(claim_mp(&b, q), LIC_OK);
  mp_begin(&b, 3);
  kv_str(&b, "code", "x");
  kv_str(&b, "machine", MC);
  lic_mp_pack_cstr(&b.pk, "macs");
  msgpack_pack_array(&b.pk, LIC_CLAIM_MAX_MACS + 1);
  for (int i = 0; i <= LIC_CLAIM_MAX_MACS; i++)
    lic_mp_pack_bin(&b.pk, mac, 16);
  assert_int_not_equal(claim_mp(&b, q), LIC_OK);
  /* a code longer than any typed code is refused before parsing it */
  char longcode[LIC_CODE_MAX_INPUT + 2];
  memset(longcode, 'A', sizeof longcode - 1);
  longcode[sizeof longcode - 1] = '\0';
  mp_begin(&b, 2);
  kv_str(&b, "code", longcode);
  kv_str(&b, "machine", MC);
  assert_int_equal(claim_mp(&b, q), LIC_LIMIT);
  /* garbage */
  assert_int_not_equal(srv_claim_req_msgpack((const uint8_t *)"\xc1", 1, q), LIC_OK);
  assert_int_not_equal(srv_claim_req_msgpack((const uint8_t *)"\x91\x01", 2, q), LIC_OK);
  free(q);
}

static void test_claim_json(void **state) {
  srv_claim_req *q = malloc(sizeof *q);
  (void)state;
  assert_int_equal(claim_js("{\"code\":\"C\",\"machine\":\"0000-1111-2222-3333\","
                            "\"macs\":[\"WlpaWlpaWlpaWlpaWlpaWg\"]}", q), LIC_OK);
  assert_int_equal(q->nmacs, 1);
  assert_int_equal(q->macs[0][15], 0x5a);
  assert_int_equal(claim_js("{\"code\":\"C\",\"machine\":\"0000-1111-2222-3333\"}", q), LIC_OK);
  assert_int_not_equal(claim_js("{\"code\":\"C\",\"machine\":\"0000-1111-2222-3333\","
                                "\"macs\":[\"WlpaWg\"]}", q), LIC_OK);
  assert_int_not_equal(claim_js("{\"code\":\"C\",\"machine\":\"0000-1111-2222-3333\","
                                "\"macs\":\"x\"}", q), LIC_OK);
  assert_int_not_equal(claim_js("{\"code\":\"C\",\"code\":\"D\",\"machine\":\"0000-1111-2222-3333\"}", q),
                       LIC_OK);
  assert_int_not_equal(claim_js("{\"code\":\"C\"}", q), LIC_OK);
  assert_int_not_equal(claim_js("[]", q), LIC_OK);
  assert_int_not_equal(claim_js("{", q), LIC_OK);
  free(q);
}

/* Issue 11 item 9: node names are printable text (control and bidi-override
 * characters would forge or reorder log lines and admin views). */
static void test_node_names(void **state) {
  (void)state;
  static const char *const good[] = {"rs-1", "Report Server 2", "büro-köln", "東京-1", "a",
                                     "x.y_z~(1)"};
  static const char *const bad[] = {"rs\n1", "\x1b[31mred", "evil\xe2\x80\xaetxt.exe",
                                    "tab\there", "del\x7f", "c1\xc2\x85", "iso\xe2\x81\xa6x",
                                    "lrm\xe2\x80\x8e", "ls\xe2\x80\xa8", "alm\xd8\x9c",
                                    "bad\xff", ""};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    assert_int_equal(srv_node_name_check(good[i]), LIC_OK);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_not_equal(srv_node_name_check(bad[i]), LIC_OK);
  /* and through the decoders: a 400, not a verdict */
  for (size_t i = 0; i < 3; i++) {
    mp_buf b;
    srv_verify_req q;
    mp_begin(&b, 4);
    kv_bin(&b, "nonce", 16);
    kv_str(&b, "domain", "localhost");
    kv_int(&b, "port", 443);
    kv_str(&b, "node", bad[i]);
    assert_int_equal(decode(&b, &q), LIC_FORMAT);
    assert_non_null(strstr(lic_errdetail(), "node"));
  }
  srv_verify_req q;
  const char *js = "{\"nonce\":\"q6urq6urq6urq6urq6urqw\",\"domain\":\"localhost\",\"port\":443,"
                   "\"node\":\"a\\u202eb\"}";
  assert_int_equal(srv_verify_req_json((const uint8_t *)js, strlen(js), &q), LIC_FORMAT);
  assert_non_null(strstr(lic_errdetail(), "node"));
}

/* The wipe clears the secrets, and only them (a handler reads the rest). */
static void test_wipe(void **state) {
  (void)state;
  srv_verify_req q;
  memset(&q, 'x', sizeof q);
  q.token[SRV_MAX_TOKEN] = '\0';
  q.secret[SRV_MAX_NODE_SECRET] = '\0';
  srv_verify_req_wipe(&q);
  static const char zero[SRV_MAX_TOKEN + 1];
  assert_memory_equal(q.token, zero, sizeof q.token);
  assert_memory_equal(q.secret, zero, sizeof q.secret);
  assert_int_equal(q.node[0], 'x');
  assert_int_equal(q.project[LIC_MAX_NAME], 'x');
  srv_claim_req c;
  memset(&c, 'y', sizeof c);
  srv_claim_req_wipe(&c);
  for (size_t i = 0; i < sizeof c.code; i++)
    assert_int_equal(c.code[i], 0);
  assert_int_equal(c.machine[0], 'y');
  srv_claim_req_wipe(NULL); /* accepted, as free functions are */
}

/* revocations_seq: optional (absent 0), an integer >= 0 in both encodings. */
static void test_revocations_seq(void **state) {
  (void)state;
  static const struct {
    bool mp;
    int64_t v; /* msgpack: the value; -1 bad */
    const char *json; /* JSON: the value's text */
    int rc;
    int64_t want;
  } cases[] = {
      {true, 0, NULL, LIC_OK, 0},         {true, 7, NULL, LIC_OK, 7},
      {true, -1, NULL, LIC_LIMIT, 0},     {false, 0, "12", LIC_OK, 12},
      {false, 0, "0", LIC_OK, 0},         {false, 0, "-1", LIC_FORMAT, 0},
      {false, 0, "\"3\"", LIC_FORMAT, 0}, {false, 0, "1.5", LIC_FORMAT, 0},
  };
  srv_verify_req q;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc;
    if (cases[i].mp) {
      mp_buf b;
      mp_begin(&b, 5);
      kv_bin(&b, "nonce", 16);
      kv_str(&b, "domain", "localhost");
      kv_int(&b, "port", 443);
      kv_str(&b, "node", "n");
      kv_int(&b, "revocations_seq", cases[i].v);
      rc = decode(&b, &q);
    } else {
      char js[200];
      snprintf(js, sizeof js,
               "{\"nonce\":\"q6urq6urq6urq6urq6urqw\",\"domain\":\"localhost\",\"port\":443,"
               "\"node\":\"n\",\"revocations_seq\":%s}",
               cases[i].json);
      rc = srv_verify_req_json((const uint8_t *)js, strlen(js), &q);
    }
    if (cases[i].rc == LIC_OK) {
      assert_int_equal(rc, LIC_OK);
      assert_int_equal(q.revocations_seq, cases[i].want);
    } else {
      assert_int_not_equal(rc, LIC_OK);
      assert_non_null(strstr(lic_errdetail(), "revocations_seq"));
    }
  }
  /* absent: 0 (an older client) */
  mp_buf b;
  mp_begin(&b, 4);
  kv_bin(&b, "nonce", 16);
  kv_str(&b, "domain", "localhost");
  kv_int(&b, "port", 443);
  kv_str(&b, "node", "n");
  assert_int_equal(decode(&b, &q), LIC_OK);
  assert_int_equal(q.revocations_seq, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_revocations_seq),
      cmocka_unit_test(test_msgpack_valid),
      cmocka_unit_test(test_msgpack_invalid),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_claim_msgpack),
      cmocka_unit_test(test_claim_json),
      cmocka_unit_test(test_node_names),
      cmocka_unit_test(test_wipe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
