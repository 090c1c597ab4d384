/* test_account.c - tests the public-mode account (SPEC §3.4): pack/seal/open,
 * strict parse (every truncation, flipped bits, wrong typ), tokens and the
 * decision on an account's terms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/sha.h>

#include "lic/account.h"
#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "mpedit.h"
#include "testutil.h"

#define T2026 1767225600 /* 2026-01-01 */
#define T2027 1798761600 /* 2027-01-01 */

static const char TOKEN[] = "lsk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

static void add(lic_strlist *l, const char *s) { assert_int_equal(lic_strlist_add(l, s), LIC_OK); }

static void mk_account(lic_account *a) {
  memset(a, 0, sizeof *a);
  for (int i = 0; i < LIC_ID_LEN; i++)
    a->id[i] = (uint8_t)(0x30 + i);
  a->customer = strdup("Cloud Customer AG");
  a->capacity = 5;
  add(&a->features, "export");
  add(&a->domains, "reports.example.com");
  add(&a->domains, "*.example.org");
  a->ports = malloc(sizeof *a->ports);
  a->ports[0] = 443;
  a->nports = 1;
  add(&a->apps, "sales");
  a->major = 11;
  a->not_before = T2026;
  a->expires = T2027;
  a->heartbeat = 7200;
  a->grace = 86400;
  lic_token_hash(TOKEN, strlen(TOKEN), a->token_hash);
}

static void pack(const lic_account *a, uint8_t **body, size_t *len) {
  int rc = lic_account_pack(a, body, len);
  if (rc != LIC_OK)
    fail_msg("pack: %s", lic_errfull(rc));
}

static void assert_same(const lic_account *a, const lic_account *b) {
  assert_memory_equal(a->id, b->id, LIC_ID_LEN);
  assert_string_equal(a->customer, b->customer);
  assert_int_equal(a->capacity, b->capacity);
  assert_int_equal(a->features.n, b->features.n);
  for (size_t i = 0; i < a->features.n; i++)
    assert_string_equal(a->features.v[i], b->features.v[i]);
  assert_int_equal(a->domains.n, b->domains.n);
  for (size_t i = 0; i < a->domains.n; i++)
    assert_string_equal(a->domains.v[i], b->domains.v[i]);
  assert_int_equal(a->apps.n, b->apps.n);
  assert_int_equal(a->nports, b->nports);
  for (size_t i = 0; i < a->nports; i++)
    assert_int_equal(a->ports[i], b->ports[i]);
  assert_int_equal(a->major, b->major);
  assert_int_equal(a->not_before, b->not_before);
  assert_int_equal(a->expires, b->expires);
  assert_int_equal(a->heartbeat, b->heartbeat);
  assert_int_equal(a->grace, b->grace);
  assert_memory_equal(a->token_hash, b->token_hash, 32);
  assert_int_equal(a->issued, b->issued);
}

static void seal(const lic_account *a, const char *typ, lic_key *k, uint8_t **env, size_t *elen) {
  uint8_t *body = NULL;
  size_t blen = 0;
  pack(a, &body, &blen);
  assert_int_equal(lic_envelope_seal(typ, body, blen, k, env, elen), LIC_OK);
  free(body);
}

/* issued (a renewal is the envelope with the later one): packed when set,
 * optional on parse (0 = absent, as in accounts signed before it), never 0
 * or negative when present. */
static void test_issued_optional(void **state) {
  (void)state;
  lic_account a, out;
  uint8_t *body = NULL;
  size_t blen = 0;
  msgpack_unpacked u;
  size_t off = 0;
  mk_account(&a);
  pack(&a, &body, &blen);
  msgpack_unpacked_init(&u);
  assert_int_equal(msgpack_unpack_next(&u, (const char *)body, blen, &off), MSGPACK_UNPACK_SUCCESS);
  assert_int_equal(u.data.via.map.size, 14);
  msgpack_unpacked_destroy(&u);
  free(body);
  a.issued = T2026 + 5;
  pack(&a, &body, &blen);
  off = 0;
  msgpack_unpacked_init(&u);
  assert_int_equal(msgpack_unpack_next(&u, (const char *)body, blen, &off), MSGPACK_UNPACK_SUCCESS);
  assert_int_equal(u.data.via.map.size, 15);
  msgpack_unpacked_destroy(&u);
  assert_int_equal(lic_account_parse(body, blen, &out), LIC_OK);
  assert_same(&a, &out);
  assert_int_equal(out.issued, T2026 + 5);
  lic_account_clear(&out);
  free(body);
  a.issued = -1; /* packed as given; the parser refuses it */
  pack(&a, &body, &blen);
  assert_int_equal(lic_account_parse(body, blen, &out), LIC_LIMIT);
  free(body);
  lic_account_clear(&a);
}

static void test_pack_seal_open(void **state) {
  (void)state;
  lic_key *root = tu_test_root_key();
  lic_trust t, empty;
  lic_trust_init(&t);
  lic_trust_init(&empty);
  assert_int_equal(lic_trust_add_raw(&t, lic_key_raw_public(root)), LIC_OK);
  lic_account a, out;
  uint8_t *body = NULL, *env = NULL;
  size_t blen = 0, elen = 0;
  mk_account(&a);
  pack(&a, &body, &blen);
  assert_int_equal(lic_account_parse(body, blen, &out), LIC_OK);
  assert_same(&a, &out);
  lic_account_clear(&out);
  /* exactly the 14 keys of SPEC §3.4 */
  msgpack_unpacked u;
  size_t off = 0;
  msgpack_unpacked_init(&u);
  assert_int_equal(msgpack_unpack_next(&u, (const char *)body, blen, &off), MSGPACK_UNPACK_SUCCESS);
  assert_int_equal(off, blen);
  assert_int_equal(u.data.via.map.size, 14);
  msgpack_unpacked_destroy(&u);

  /* issued (what orders a renewal) is the fifteenth when set */
  a.issued = T2026 - 86400;
  free(body);
  pack(&a, &body, &blen);
  assert_int_equal(lic_account_parse(body, blen, &out), LIC_OK);
  assert_same(&a, &out);
  lic_account_clear(&out);
  msgpack_unpacked_init(&u);
  off = 0;
  assert_int_equal(msgpack_unpack_next(&u, (const char *)body, blen, &off), MSGPACK_UNPACK_SUCCESS);
  assert_int_equal(u.data.via.map.size, 15);
  msgpack_unpacked_destroy(&u);

  seal(&a, "account", root, &env, &elen);
  assert_int_equal(lic_account_open(env, elen, &t, &out), LIC_OK);
  assert_same(&a, &out);
  lic_account_clear(&out);
  assert_int_equal(lic_account_open(env, elen, &empty, &out), LIC_UNTRUSTED);
  assert_null(out.customer);
  /* every single flipped bit of the envelope is refused */
  for (size_t i = 0; i < elen; i++)
    for (int bit = 0; bit < 8; bit++) {
      env[i] ^= (uint8_t)(1u << bit);
      int rc = lic_account_open(env, elen, &t, &out);
      if (rc == LIC_OK)
        fail_msg("flipped bit %d of byte %zu accepted", bit, i);
      assert_null(out.customer);
      env[i] ^= (uint8_t)(1u << bit);
    }
  /* every truncation of the envelope */
  for (size_t n = 0; n < elen; n++)
    assert_int_not_equal(lic_account_open(env, n, &t, &out), LIC_OK);
  free(env);
  /* an account body in a license envelope, and a license-typed open */
  seal(&a, "license", root, &env, &elen);
  assert_int_equal(lic_account_open(env, elen, &t, &out), LIC_TYPE);
  free(env);
  /* an account envelope around a body whose typ says license */
  msgpack_sbuffer sb;
  tu_mp_edit(body, blen, "typ", tu_s_str, "license", &sb);
  assert_int_equal(lic_envelope_seal("account", (uint8_t *)sb.data, sb.size, root, &env, &elen),
                   LIC_OK);
  assert_int_equal(lic_account_open(env, elen, &t, &out), LIC_TYPE);
  free(env);
  msgpack_sbuffer_destroy(&sb);
  free(body);
  lic_account_clear(&a);
  lic_key_free(root);
}

static void test_load_file(void **state) {
  (void)state;
  lic_key *root = tu_test_root_key();
  lic_trust t;
  lic_trust_init(&t);
  assert_int_equal(lic_trust_add_raw(&t, lic_key_raw_public(root)), LIC_OK);
  lic_account a, out;
  uint8_t *env = NULL, *got = NULL;
  size_t elen = 0, glen = 0, alen = 0;
  char *arm = NULL, path[600], *dir = tu_tmpdir();
  mk_account(&a);
  seal(&a, "account", root, &env, &elen);
  assert_int_equal(lic_armor_encode("account", "customer: x", env, elen, &arm, &alen), LIC_OK);
  snprintf(path, sizeof path, "%s/a.acct", dir);
  assert_int_equal(lic_file_write(path, arm, alen, 0644, 0), LIC_OK);
  assert_int_equal(lic_account_load(path, &t, &out, &got, &glen), LIC_OK);
  assert_same(&a, &out);
  assert_int_equal(glen, elen);
  assert_memory_equal(got, env, elen);
  lic_account_clear(&out);
  free(got);
  snprintf(path, sizeof path, "%s/raw.acct", dir);
  assert_int_equal(lic_file_write(path, env, elen, 0644, 0), LIC_OK);
  assert_int_equal(lic_account_load(path, &t, &out, NULL, NULL), LIC_OK);
  lic_account_clear(&out);
  snprintf(path, sizeof path, "%s/missing", dir);
  assert_int_equal(lic_account_load(path, &t, &out, &got, &glen), LIC_NOTFOUND);
  assert_null(got);
  tu_rmtree(dir);
  free(dir);
  free(arm);
  free(env);
  lic_account_clear(&a);
  lic_key_free(root);
}

typedef struct {
  const char *path;
  tu_subst_fn fn;
  const void *arg;
  int rc;
} acase;

static void run_cases(const acase *cases, size_t n) {
  lic_account a, out;
  uint8_t *body = NULL;
  size_t blen = 0;
  mk_account(&a);
  pack(&a, &body, &blen);
  for (size_t i = 0; i < n; i++) {
    msgpack_sbuffer sb;
    tu_mp_edit(body, blen, cases[i].path, cases[i].fn, cases[i].arg, &sb);
    int rc = lic_account_parse((uint8_t *)sb.data, sb.size, &out);
    if (rc != cases[i].rc)
      fail_msg("case %zu (%s): got %s (%s), expected %s", i, cases[i].path, lic_errname(rc),
               lic_errdetail(), lic_errname(cases[i].rc));
    if (rc != LIC_OK)
      assert_null(out.customer);
    lic_account_clear(&out);
    msgpack_sbuffer_destroy(&sb);
  }
  free(body);
  lic_account_clear(&a);
}

static void s_one_str_list(msgpack_packer *pk, const void *a) {
  msgpack_pack_array(pk, 1);
  tu_s_str(pk, a);
}
static void s_one_int_list(msgpack_packer *pk, const void *a) {
  msgpack_pack_array(pk, 1);
  msgpack_pack_int64(pk, *(const int64_t *)a);
}

static void test_parse_missing_keys(void **state) {
  (void)state;
  static const char *const req[] = {"typ",     "id",         "customer", "capacity",
                                    "features", "domains",   "ports",    "apps",
                                    "major",   "not_before", "expires",  "heartbeat",
                                    "grace",   "token_hash"};
  acase c[sizeof req / sizeof req[0]];
  for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
    c[i] = (acase){req[i], NULL, NULL, LIC_NOTFOUND};
  run_cases(c, sizeof c / sizeof c[0]);
}

static void test_parse_types_and_ranges(void **state) {
  (void)state;
  static const int64_t one = 1, zero = 0, neg = -1, big = LIC_MAX_CAPACITY + 1, hb59 = 0,
                       nb = T2027 + 1, p0 = 0, p70000 = 70000, g7199 = 7199;
  static const uint8_t z[40] = {0};
  static const tu_binarg b15 = {z, 15}, b17 = {z, 17}, b31 = {z, 31}, b33 = {z, 33};
  char n129[130];
  memset(n129, 'c', 129);
  n129[129] = '\0';
  const acase c[] = {
      {"typ", tu_s_str, "license", LIC_TYPE},
      {"typ", tu_s_str, "cert", LIC_TYPE},
      {"typ", tu_s_int, &one, LIC_FORMAT},
      {"id", tu_s_bin, &b15, LIC_FORMAT},
      {"id", tu_s_bin, &b17, LIC_FORMAT},
      {"id", tu_s_str, "30313233-3435-3637-3839-3a3b3c3d3e3f", LIC_FORMAT},
      {"customer", tu_s_int, &one, LIC_FORMAT},
      {"customer", tu_s_str, "", LIC_LIMIT},
      {"customer", tu_s_str, n129, LIC_LIMIT},
      {"customer", tu_s_str, "bad \xed\xa0\x80", LIC_FORMAT},
      {"capacity", tu_s_int, &zero, LIC_LIMIT},
      {"capacity", tu_s_int, &neg, LIC_LIMIT},
      {"capacity", tu_s_int, &big, LIC_LIMIT},
      {"capacity", tu_s_str, "5", LIC_FORMAT},
      {"features", tu_s_str, "export", LIC_FORMAT},
      {"features", s_one_str_list, "ctl\x01", LIC_FORMAT},
      {"domains", s_one_str_list, "*.com", LIC_FORMAT},
      {"domains", s_one_str_list, "", LIC_LIMIT},
      {"ports", s_one_int_list, &p0, LIC_LIMIT},
      {"ports", s_one_int_list, &p70000, LIC_LIMIT},
      {"apps", s_one_str_list, "new\nline", LIC_FORMAT},
      {"major", tu_s_int, &neg, LIC_LIMIT},
      {"not_before", tu_s_int, &nb, LIC_FORMAT}, /* expires < not_before */
      {"expires", tu_s_int, &zero, LIC_OK},      /* perpetual */
      {"heartbeat", tu_s_int, &hb59, LIC_LIMIT},
      {"grace", tu_s_int, &neg, LIC_LIMIT},
      {"grace", tu_s_int, &g7199, LIC_FORMAT}, /* shorter than the heartbeat */
      {"token_hash", tu_s_bin, &b31, LIC_FORMAT},
      {"token_hash", tu_s_bin, &b33, LIC_FORMAT},
      {"token_hash", tu_s_str, TOKEN, LIC_FORMAT},
      {"newfield", tu_s_str, "unknown keys are ignored", LIC_OK},
      {"issued", tu_s_int, &one, LIC_OK},
      {"issued", tu_s_int, &zero, LIC_LIMIT},
      {"issued", tu_s_int, &neg, LIC_LIMIT},
      {"issued", tu_s_str, "2026-01-01", LIC_FORMAT},
  };
  run_cases(c, sizeof c / sizeof c[0]);
}

static void test_parse_truncations_and_trailing(void **state) {
  (void)state;
  lic_account a, out;
  uint8_t *body = NULL;
  size_t blen = 0;
  mk_account(&a);
  pack(&a, &body, &blen);
  for (size_t n = 0; n < blen; n++) {
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, body, n);
    assert_int_not_equal(lic_account_parse(c, n, &out), LIC_OK);
    assert_null(out.customer);
    free(c);
  }
  uint8_t *c = malloc(blen + 1);
  memcpy(c, body, blen);
  c[blen] = 0xc0;
  assert_int_equal(lic_account_parse(c, blen + 1, &out), LIC_FORMAT);
  free(c);
  free(body);
  lic_account_clear(&a);
}

static void test_tokens(void **state) {
  (void)state;
  char t1[LIC_TOKEN_LEN + 1], t2[LIC_TOKEN_LEN + 1];
  assert_int_equal(lic_token_generate(t1), LIC_OK);
  assert_int_equal(lic_token_generate(t2), LIC_OK);
  assert_int_equal(strlen(t1), 47);
  assert_memory_equal(t1, "lsk_", 4);
  assert_string_not_equal(t1, t2);
  assert_int_equal(lic_token_check_format(t1, strlen(t1)), LIC_OK);
  /* the hash is SHA-256 of the text */
  uint8_t h[32], want[32];
  lic_token_hash(t1, strlen(t1), h);
  SHA256((const unsigned char *)t1, strlen(t1), want);
  assert_memory_equal(h, want, 32);
  /* shapes */
  assert_int_equal(lic_token_check_format(t1, 46), LIC_FORMAT);
  assert_int_equal(lic_token_check_format("lsk_", 4), LIC_FORMAT);
  char bad[LIC_TOKEN_LEN + 1];
  memcpy(bad, t1, sizeof bad);
  bad[0] = 'x';
  assert_int_equal(lic_token_check_format(bad, 47), LIC_FORMAT);
  memcpy(bad, t1, sizeof bad);
  bad[10] = '+';
  assert_int_equal(lic_token_check_format(bad, 47), LIC_FORMAT);
  /* the detail never echoes the token */
  assert_null(strstr(lic_errdetail(), bad + 4));
  /* the check against an account */
  lic_account a;
  mk_account(&a);
  assert_true(lic_account_token_ok(&a, TOKEN, strlen(TOKEN)));
  assert_false(lic_account_token_ok(&a, t1, strlen(t1)));
  assert_false(lic_account_token_ok(&a, TOKEN, strlen(TOKEN) - 1));
  assert_false(lic_account_token_ok(&a, "", 0));
  lic_account_clear(&a);
}

static void test_decide_order(void **state) {
  (void)state;
  lic_account a;
  char reason[201];
  mk_account(&a);
  lic_check_req ok = {"reports.example.com", 443, "sales", 11};
  lic_check_req badall = {"evil.example.com", 80, "hr", 10};
  lic_check_req q;
  struct {
    const lic_check_req *q;
    int64_t now;
    bool reg;
    lic_status want;
  } c[] = {
      {&ok, T2026 + 10, true, LIC_STATUS_VALID},
      {&ok, T2026 - 1, true, LIC_STATUS_NOT_YET_VALID},
      {&ok, T2027, true, LIC_STATUS_EXPIRED},
      /* dates before registration, registration before the terms */
      {&badall, T2027, false, LIC_STATUS_EXPIRED},
      {&badall, T2026 + 10, false, LIC_STATUS_NOT_REGISTERED},
      {&badall, T2026 + 10, true, LIC_STATUS_VERSION_DENIED},
      {&ok, T2026 + 10, false, LIC_STATUS_NOT_REGISTERED},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    lic_status st = lic_account_decide(&a, c[i].q, c[i].now, c[i].reg, reason, sizeof reason);
    if (st != c[i].want)
      fail_msg("case %zu: got %s (%s)", i, lic_status_name(st), reason);
  }
  q = ok;
  q.major = 10;
  assert_int_equal(lic_account_decide(&a, &q, T2026, true, reason, sizeof reason), LIC_STATUS_VERSION_DENIED);
  q = ok;
  q.domain = "x.example.org";
  assert_int_equal(lic_account_decide(&a, &q, T2026, true, reason, sizeof reason), LIC_STATUS_VALID);
  q.domain = "a.x.example.org";
  assert_int_equal(lic_account_decide(&a, &q, T2026, true, reason, sizeof reason), LIC_STATUS_DOMAIN_DENIED);
  q = ok;
  q.port = 8443;
  assert_int_equal(lic_account_decide(&a, &q, T2026, true, reason, sizeof reason), LIC_STATUS_PORT_DENIED);
  q = ok;
  q.app = NULL;
  assert_int_equal(lic_account_decide(&a, &q, T2026, true, reason, sizeof reason), LIC_STATUS_APP_DENIED);
  assert_non_null(strstr(reason, "account"));
  /* empty lists and major 0 mean any */
  lic_strlist_free(&a.domains);
  lic_strlist_free(&a.apps);
  a.nports = 0;
  a.major = 0;
  assert_int_equal(lic_account_decide(&a, &badall, T2026, true, reason, sizeof reason), LIC_STATUS_VALID);
  a.expires = 0; /* perpetual */
  assert_int_equal(lic_account_decide(&a, &badall, INT64_MAX, true, reason, sizeof reason), LIC_STATUS_VALID);
  lic_account_clear(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pack_seal_open),
      cmocka_unit_test(test_issued_optional),
      cmocka_unit_test(test_load_file),
      cmocka_unit_test(test_parse_missing_keys),
      cmocka_unit_test(test_parse_types_and_ranges),
      cmocka_unit_test(test_parse_truncations_and_trailing),
      cmocka_unit_test(test_tokens),
      cmocka_unit_test(test_decide_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
