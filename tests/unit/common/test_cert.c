/* test_cert.c - tests the online-key certificate (SPEC §3.7) and the public
 * chain root -> cert -> verdict: truncations, flipped bits, wrong typ, a
 * role other than verdict, verdicts outside the window, a foreign kid. */
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
#include "lic/fileio.h"
#include "lic/verdict.h"
#include "mpedit.h"
#include "testutil.h"

#define T2026 1767225600 /* 2026-01-01 */
#define DAY   86400

static lic_key *online_key(void) {
  lic_key *k = NULL;
  const char *p = tu_src("keys/test/test-node.pem");
  chmod(p, 0600);
  assert_int_equal(lic_key_load_private(p, NULL, &k), LIC_OK);
  return k;
}

static void mk_cert(lic_cert *c, const lic_key *online) {
  memset(c, 0, sizeof *c);
  for (int i = 0; i < LIC_ID_LEN; i++)
    c->id[i] = (uint8_t)(0x50 + i);
  memcpy(c->pubkey, lic_key_raw_public(online), LIC_PUBKEY_LEN);
  snprintf(c->role, sizeof c->role, "verdict");
  c->issued = T2026;
  c->not_before = T2026;
  c->expires = T2026 + 90 * DAY;
}

static void seal_cert(const lic_cert *c, const char *typ, lic_key *root, uint8_t **env, size_t *n) {
  uint8_t *body = NULL;
  size_t blen = 0;
  assert_int_equal(lic_cert_pack(c, &body, &blen), LIC_OK);
  assert_int_equal(lic_envelope_seal(typ, body, blen, root, env, n), LIC_OK);
  free(body);
}

static void seal_verdict(int64_t t, lic_key *signer, uint8_t **env, size_t *n) {
  lic_verdict v;
  msgpack_sbuffer body, out;
  lic_signer *s = NULL;
  memset(&v, 0, sizeof v);
  memset(v.nonce, 7, 32);
  v.nonce_len = 32;
  v.time = t;
  v.has_account = true;
  memset(v.account, 0x30, LIC_ID_LEN);
  snprintf(v.node, sizeof v.node, "node-1");
  v.status = LIC_STATUS_VALID;
  snprintf(v.reason, sizeof v.reason, "ok");
  v.heartbeat = 7200;
  v.grace = 86400;
  v.seats_used = 1;
  v.seats_max = 5;
  msgpack_sbuffer_init(&body);
  msgpack_sbuffer_init(&out);
  assert_int_equal(lic_verdict_pack(&v, &body), LIC_OK);
  assert_int_equal(lic_signer_new(signer, &s), LIC_OK);
  assert_int_equal(lic_signer_seal(s, "verdict", (uint8_t *)body.data, body.size, &out), LIC_OK);
  lic_signer_free(s);
  *env = (uint8_t *)out.data;
  *n = out.size;
  msgpack_sbuffer_destroy(&body);
}

typedef struct {
  lic_key *root, *online;
  lic_trust t;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->root = tu_test_root_key();
  f->online = online_key();
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

static void test_pack_seal_open(void **state) {
  fx *f = *state;
  lic_cert c, out;
  uint8_t *env = NULL, *body = NULL;
  size_t elen = 0, blen = 0;
  mk_cert(&c, f->online);
  assert_int_equal(lic_cert_pack(&c, &body, &blen), LIC_OK);
  assert_int_equal(lic_cert_parse(body, blen, &out), LIC_OK);
  assert_memory_equal(&c, &out, sizeof c);
  seal_cert(&c, "cert", f->root, &env, &elen);
  assert_int_equal(lic_cert_open(env, elen, &f->t, &out), LIC_OK);
  assert_memory_equal(c.pubkey, out.pubkey, 32);
  assert_string_equal(out.role, "verdict");
  assert_int_equal(out.expires, c.expires);
  lic_trust empty;
  lic_trust_init(&empty);
  assert_int_equal(lic_cert_open(env, elen, &empty, &out), LIC_UNTRUSTED);
  for (size_t i = 0; i < elen; i++)
    for (int bit = 0; bit < 8; bit++) {
      env[i] ^= (uint8_t)(1u << bit);
      if (lic_cert_open(env, elen, &f->t, &out) == LIC_OK)
        fail_msg("flipped bit %d of byte %zu accepted", bit, i);
      env[i] ^= (uint8_t)(1u << bit);
    }
  for (size_t n = 0; n < elen; n++)
    assert_int_not_equal(lic_cert_open(env, n, &f->t, &out), LIC_OK);
  free(env);
  /* a cert body sealed as a license, an account envelope */
  seal_cert(&c, "license", f->root, &env, &elen);
  assert_int_equal(lic_cert_open(env, elen, &f->t, &out), LIC_TYPE);
  free(env);
  msgpack_sbuffer sb;
  tu_mp_edit(body, blen, "typ", tu_s_str, "account", &sb);
  assert_int_equal(lic_envelope_seal("cert", (uint8_t *)sb.data, sb.size, f->root, &env, &elen),
                   LIC_OK);
  assert_int_equal(lic_cert_open(env, elen, &f->t, &out), LIC_TYPE);
  free(env);
  msgpack_sbuffer_destroy(&sb);
  free(body);
}

static void test_parse_strict(void **state) {
  fx *f = *state;
  lic_cert c, out;
  uint8_t *body = NULL;
  size_t blen = 0;
  static const uint8_t z[40] = {0};
  static const tu_binarg b15 = {z, 15}, b31 = {z, 31}, b33 = {z, 33};
  static const int64_t zero = 0, neg = -1, before = T2026 - 1, max_ok = T2026 + 825 * DAY,
                       too_long = T2026 + 825 * DAY + 1, one = 1;
  struct {
    const char *path;
    tu_subst_fn fn;
    const void *arg;
    int rc;
  } cases[] = {
      {"typ", NULL, NULL, LIC_NOTFOUND},
      {"id", NULL, NULL, LIC_NOTFOUND},
      {"pubkey", NULL, NULL, LIC_NOTFOUND},
      {"role", NULL, NULL, LIC_NOTFOUND},
      {"issued", NULL, NULL, LIC_NOTFOUND},
      {"not_before", NULL, NULL, LIC_NOTFOUND},
      {"expires", NULL, NULL, LIC_NOTFOUND},
      {"typ", tu_s_str, "verdict", LIC_TYPE},
      {"typ", tu_s_str, "license", LIC_TYPE},
      {"id", tu_s_bin, &b15, LIC_FORMAT},
      {"pubkey", tu_s_bin, &b31, LIC_FORMAT},
      {"pubkey", tu_s_bin, &b33, LIC_FORMAT},
      {"role", tu_s_int, &one, LIC_FORMAT},
      {"role", tu_s_str, "", LIC_LIMIT},
      {"role", tu_s_str, "Verdict", LIC_FORMAT},
      {"role", tu_s_str, "a-very-long-role-name", LIC_LIMIT},
      {"role", tu_s_str, "license", LIC_OK}, /* parses; the chain refuses it */
      {"expires", tu_s_int, &zero, LIC_LIMIT}, /* never 0 */
      {"expires", tu_s_int, &neg, LIC_LIMIT},
      {"expires", tu_s_int, &before, LIC_FORMAT},
      {"expires", tu_s_int, &max_ok, LIC_OK},
      {"expires", tu_s_int, &too_long, LIC_LIMIT},
      {"issued", tu_s_str, "2026", LIC_FORMAT},
      {"extra", tu_s_str, "ignored", LIC_OK},
  };
  mk_cert(&c, f->online);
  assert_int_equal(lic_cert_pack(&c, &body, &blen), LIC_OK);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    msgpack_sbuffer sb;
    tu_mp_edit(body, blen, cases[i].path, cases[i].fn, cases[i].arg, &sb);
    int rc = lic_cert_parse((uint8_t *)sb.data, sb.size, &out);
    if (rc != cases[i].rc)
      fail_msg("case %zu (%s): got %s (%s), expected %s", i, cases[i].path, lic_errname(rc),
               lic_errdetail(), lic_errname(cases[i].rc));
    msgpack_sbuffer_destroy(&sb);
  }
  for (size_t n = 0; n < blen; n++)
    assert_int_not_equal(lic_cert_parse(body, n, &out), LIC_OK);
  uint8_t *tr = malloc(blen + 1);
  memcpy(tr, body, blen);
  tr[blen] = 0xc0;
  assert_int_equal(lic_cert_parse(tr, blen + 1, &out), LIC_FORMAT);
  free(tr);
  free(body);
}

static void test_chain(void **state) {
  fx *f = *state;
  lic_cert c, got;
  lic_verdict v;
  uint8_t *cenv = NULL, *venv = NULL;
  size_t clen = 0, vlen = 0;
  mk_cert(&c, f->online);
  seal_cert(&c, "cert", f->root, &cenv, &clen);

  /* inside the window: the whole chain checks */
  seal_verdict(T2026 + DAY, f->online, &venv, &vlen);
  assert_int_equal(lic_public_chain_check(cenv, clen, venv, vlen, &f->t, &got, &v), LIC_OK);
  assert_memory_equal(got.pubkey, c.pubkey, 32);
  assert_true(v.has_account);
  assert_int_equal(v.seats_max, 5);
  lic_verdict_clear(&v);
  /* flipped bits of the verdict */
  for (size_t i = 0; i < vlen; i++) {
    venv[i] ^= 0x10;
    if (lic_public_chain_check(cenv, clen, venv, vlen, &f->t, NULL, &v) == LIC_OK)
      fail_msg("verdict byte %zu flipped accepted", i);
    venv[i] ^= 0x10;
  }
  for (size_t n = 0; n < vlen; n++)
    assert_int_not_equal(lic_public_chain_check(cenv, clen, venv, n, &f->t, NULL, &v), LIC_OK);
  free(venv);

  /* at the edges of the window: not_before is in, expires is out */
  seal_verdict(T2026, f->online, &venv, &vlen);
  assert_int_equal(lic_public_chain_check(cenv, clen, venv, vlen, &f->t, NULL, &v), LIC_OK);
  lic_verdict_clear(&v);
  free(venv);
  seal_verdict(T2026 - 1, f->online, &venv, &vlen);
  assert_int_equal(lic_public_chain_check(cenv, clen, venv, vlen, &f->t, NULL, &v), LIC_EXPIRED);
  free(venv);
  seal_verdict(c.expires, f->online, &venv, &vlen);
  assert_int_equal(lic_public_chain_check(cenv, clen, venv, vlen, &f->t, NULL, &v), LIC_EXPIRED);
  assert_int_equal(v.seats_max, 0); /* nothing handed out on failure */
  free(venv);

  /* a verdict signed by another key (the root itself): its kid is not the cert's */
  seal_verdict(T2026 + DAY, f->root, &venv, &vlen);
  assert_int_equal(lic_public_chain_check(cenv, clen, venv, vlen, &f->t, NULL, &v), LIC_MISMATCHED);
  free(venv);
  /* a cert envelope in the verdict place, a verdict in the cert place */
  assert_int_equal(lic_public_chain_check(cenv, clen, cenv, clen, &f->t, NULL, &v), LIC_TYPE);
  seal_verdict(T2026 + DAY, f->online, &venv, &vlen);
  assert_int_not_equal(lic_public_chain_check(venv, vlen, venv, vlen, &f->t, NULL, &v), LIC_OK);
  /* a cert from an untrusted root */
  lic_trust empty;
  lic_trust_init(&empty);
  assert_int_equal(lic_public_chain_check(cenv, clen, venv, vlen, &empty, NULL, &v), LIC_UNTRUSTED);
  free(cenv);

  /* a cert whose role is not verdict */
  snprintf(c.role, sizeof c.role, "license");
  seal_cert(&c, "cert", f->root, &cenv, &clen);
  assert_int_equal(lic_public_chain_check(cenv, clen, venv, vlen, &f->t, NULL, &v), LIC_TYPE);
  assert_non_null(strstr(lic_errdetail(), "role"));
  free(cenv);
  free(venv);
}

static void test_usable_and_load(void **state) {
  fx *f = *state;
  lic_cert c, out;
  uint8_t *env = NULL, *got = NULL;
  size_t elen = 0, glen = 0, alen = 0;
  char *arm = NULL, path[600], *dir = tu_tmpdir();
  mk_cert(&c, f->online);
  assert_int_equal(lic_cert_usable(&c, T2026), LIC_OK);
  assert_int_equal(lic_cert_usable(&c, c.expires - 1), LIC_OK);
  assert_int_equal(lic_cert_usable(&c, c.expires), LIC_EXPIRED);
  assert_int_equal(lic_cert_usable(&c, T2026 - 1), LIC_EXPIRED);
  snprintf(c.role, sizeof c.role, "other");
  assert_int_equal(lic_cert_usable(&c, T2026), LIC_TYPE);
  mk_cert(&c, f->online);
  seal_cert(&c, "cert", f->root, &env, &elen);
  assert_int_equal(lic_armor_encode("cert", NULL, env, elen, &arm, &alen), LIC_OK);
  snprintf(path, sizeof path, "%s/o.cert", dir);
  assert_int_equal(lic_file_write(path, arm, alen, 0644, 0), LIC_OK);
  assert_int_equal(lic_cert_load(path, &f->t, &out, &got, &glen), LIC_OK);
  assert_int_equal(glen, elen);
  assert_memory_equal(got, env, elen);
  free(got);
  snprintf(path, sizeof path, "%s/none", dir);
  assert_int_equal(lic_cert_load(path, &f->t, &out, &got, &glen), LIC_NOTFOUND);
  assert_null(got);
  tu_rmtree(dir);
  free(dir);
  free(arm);
  free(env);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pack_seal_open),
      cmocka_unit_test(test_parse_strict),
      cmocka_unit_test(test_chain),
      cmocka_unit_test(test_usable_and_load),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
