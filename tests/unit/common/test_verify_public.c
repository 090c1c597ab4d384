/* test_verify_public.c - tests the report server's side of public mode
 * (lic_verify_response with an account): the chain root -> cert -> verdict
 * and the checks of the answer; the token's plain-HTTP refusal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "lic/cert.h"
#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/verify_client.h"
#include "testutil.h"

#define NOW 1800000000

static const uint8_t ACCOUNT[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t PROJECT[16] = {9};
static const uint8_t NONCE[32] = {7, 7, 7};

typedef struct {
  lic_key *root, *online;
  lic_trust t;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  const char *p = tu_src("keys/test/test-node.pem");
  chmod(p, 0600);
  f->root = tu_test_root_key();
  assert_int_equal(lic_key_load_private(p, NULL, &f->online), LIC_OK);
  lic_trust_init(&f->t);
  assert_int_equal(lic_trust_add_raw(&f->t, lic_key_raw_public(f->root)), LIC_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  lic_key_free(f->root);
  lic_key_free(f->online);
  free(f);
  return 0;
}

typedef struct {
  const char *role;
  int64_t vtime;
  const uint8_t *nonce;
  const uint8_t *account;
  const char *node;
  lic_status status;
  const char *domain; /* the verdict's one domain, NULL for any */
  bool license_typ;   /* seal the cert as a license envelope */
} resp_spec;

static void response(fx *f, const resp_spec *sp, msgpack_sbuffer *out) {
  lic_cert c;
  uint8_t *cb = NULL, *cenv = NULL;
  size_t cbl = 0, cel = 0;
  memset(&c, 0, sizeof c);
  memcpy(c.pubkey, lic_key_raw_public(f->online), 32);
  snprintf(c.role, sizeof c.role, "%s", sp->role ? sp->role : "verdict");
  c.issued = c.not_before = NOW - 86400;
  c.expires = NOW + 86400;
  assert_int_equal(lic_cert_pack(&c, &cb, &cbl), LIC_OK);
  assert_int_equal(lic_envelope_seal(sp->license_typ ? "license" : "cert", cb, cbl, f->root, &cenv,
                                     &cel), LIC_OK);
  lic_verdict v;
  memset(&v, 0, sizeof v);
  memcpy(v.nonce, sp->nonce ? sp->nonce : NONCE, 32);
  v.nonce_len = 32;
  v.time = sp->vtime ? sp->vtime : NOW;
  v.has_account = true;
  memcpy(v.account, sp->account ? sp->account : ACCOUNT, 16);
  snprintf(v.node, sizeof v.node, "%s", sp->node ? sp->node : "rs-1");
  v.status = sp->status;
  snprintf(v.reason, sizeof v.reason, "x");
  v.heartbeat = 7200;
  v.grace = 86400;
  if (sp->domain != NULL)
    assert_int_equal(lic_strlist_add(&v.domains, sp->domain), LIC_OK);
  msgpack_sbuffer body, venv;
  msgpack_sbuffer_init(&body);
  msgpack_sbuffer_init(&venv);
  lic_signer *s = NULL;
  assert_int_equal(lic_verdict_pack(&v, &body), LIC_OK);
  assert_int_equal(lic_signer_new(f->online, &s), LIC_OK);
  assert_int_equal(lic_signer_seal(s, "verdict", (uint8_t *)body.data, body.size, &venv), LIC_OK);
  lic_signer_free(s);
  msgpack_packer pk;
  msgpack_sbuffer_init(out);
  msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 2);
  lic_mp_pack_cstr(&pk, "verdict");
  lic_mp_pack_bin(&pk, venv.data, venv.size);
  lic_mp_pack_cstr(&pk, "chain");
  msgpack_pack_array(&pk, 1);
  lic_mp_pack_bin(&pk, cenv, cel);
  lic_strlist_free(&v.domains);
  msgpack_sbuffer_destroy(&body);
  msgpack_sbuffer_destroy(&venv);
  free(cb);
  free(cenv);
}

static int check(fx *f, const resp_spec *sp, lic_verify_result *res) {
  lic_verify_opts o;
  msgpack_sbuffer sb;
  memset(&o, 0, sizeof o);
  o.trust = &f->t;
  o.domain = "reports.example.com";
  o.port = 443;
  o.node = "rs-1";
  o.account = ACCOUNT;
  o.token = "lsk_x";
  o.project_id = PROJECT;
  response(f, sp, &sb);
  int rc = lic_verify_response(&o, NONCE, 32, NOW, (uint8_t *)sb.data, sb.size, res);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

static void test_chain_and_answer(void **state) {
  fx *f = *state;
  lic_verify_result res;
  resp_spec ok = {.status = LIC_STATUS_VALID};
  assert_int_equal(check(f, &ok, &res), LIC_OK);
  assert_true(res.public_mode);
  assert_int_equal(res.verdict.status, LIC_STATUS_VALID);
  assert_memory_equal(res.cert.pubkey, lic_key_raw_public(f->online), 32);
  assert_non_null(res.body);
  lic_verify_result_clear(&res);
  /* a trustworthy denial is LIC_OK with its status */
  resp_spec deny = {.status = LIC_STATUS_CAPACITY_EXHAUSTED};
  assert_int_equal(check(f, &deny, &res), LIC_OK);
  assert_int_equal(res.verdict.status, LIC_STATUS_CAPACITY_EXHAUSTED);
  lic_verify_result_clear(&res);

  static const uint8_t other[32] = {8};
  static const uint8_t other_acct[16] = {0xee};
  struct {
    resp_spec sp;
    int rc;
  } bad[] = {
      {{.status = LIC_STATUS_VALID, .nonce = other}, LIC_MISMATCHED},
      {{.status = LIC_STATUS_VALID, .account = other_acct}, LIC_MISMATCHED},
      {{.status = LIC_STATUS_VALID, .node = "rs-2"}, LIC_MISMATCHED},
      {{.status = LIC_STATUS_VALID, .vtime = NOW + 3600}, LIC_MISMATCHED},
      {{.status = LIC_STATUS_VALID, .vtime = NOW + 2 * 86400}, LIC_EXPIRED}, /* outside the cert */
      {{.status = LIC_STATUS_VALID, .role = "license"}, LIC_TYPE},
      {{.status = LIC_STATUS_VALID, .license_typ = true}, LIC_TYPE},
      /* "valid" but the verdict's own terms exclude our domain */
      {{.status = LIC_STATUS_VALID, .domain = "other.example.com"}, LIC_MISMATCHED},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = check(f, &bad[i].sp, &res);
    if (rc != bad[i].rc)
      fail_msg("case %zu: got %s (%s), want %s", i, lic_errname(rc), lic_errdetail(),
               lic_errname(bad[i].rc));
    assert_null(res.body);
  }
  resp_spec dom = {.status = LIC_STATUS_VALID, .domain = "reports.example.com"};
  assert_int_equal(check(f, &dom, &res), LIC_OK);
  lic_verify_result_clear(&res);
}

static void test_token_never_over_plain_http(void **state) {
  fx *f = *state;
  lic_verify_opts o;
  lic_verify_result res;
  memset(&o, 0, sizeof o);
  o.trust = &f->t;
  o.domain = "reports.example.com";
  o.port = 443;
  o.node = "rs-1";
  o.account = ACCOUNT;
  o.token = "lsk_secret";
  o.project_id = PROJECT;
  o.project = "P";
  o.timeout_ms = 500;
  const char *urls[] = {"http://192.0.2.1:7470", "http://example.com", "http://127.0.0.1.evil.com:1",
                        "http://[::2]:1", "http://localhost.evil.com", "ftp://127.0.0.1:1"};
  for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
    o.url = urls[i];
    int rc = i % 2 ? lic_verify(&o, &res) : lic_register(&o, &res);
    if (rc != LIC_INVALID || strstr(lic_errdetail(), "plain HTTP") == NULL)
      fail_msg("%s: %s (%s)", urls[i], lic_errname(rc), lic_errdetail());
    assert_null(strstr(lic_errdetail(), "lsk_secret"));
  }
  /* https:// carries the token (the TLS client checks the server): not refused
   * for being plain, it fails to connect here */
  o.url = "https://127.0.0.1:1";
  assert_int_not_equal(lic_verify(&o, &res), LIC_OK);
  assert_null(strstr(lic_errdetail(), "plain HTTP"));
  /* register and unregister are public mode's; register needs a project */
  o.url = "http://127.0.0.1:1";
  o.project = NULL;
  assert_int_equal(lic_register(&o, &res), LIC_INVALID);
  o.account = NULL;
  assert_int_equal(lic_unregister(&o, &res), LIC_INVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chain_and_answer),
      cmocka_unit_test(test_token_never_over_plain_http),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
