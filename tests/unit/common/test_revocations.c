/* test_revocations.c - tests the signed revocation list (SPEC §3.8): pack/
 * seal/open, strict parse (truncations, flipped bits, wrong types, the entry
 * ceiling), lookups and appending, and the newest copy kept in a state
 * directory (older seq ignored, same seq with other content refused, forged
 * and damaged lists refused). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/revocations.h"
#include "mpedit.h"
#include "testutil.h"

#define T2026 1767225600 /* 2026-01-01 */

static void id_of(uint8_t id[LIC_ID_LEN], uint8_t base) {
  for (int i = 0; i < LIC_ID_LEN; i++)
    id[i] = (uint8_t)(base + i);
}

static void mk_list(lic_revocations *r, int64_t seq) {
  uint8_t id[LIC_ID_LEN];
  memset(r, 0, sizeof *r);
  r->seq = seq;
  r->issued = T2026 + seq;
  id_of(id, 0x10);
  assert_int_equal(lic_revocations_add_license(r, id), LIC_OK);
  id_of(id, 0x30);
  assert_int_equal(lic_revocations_add_account(r, id), LIC_OK);
  assert_int_equal(lic_revocations_add_activation(r, 7, 4242), LIC_OK);
  assert_int_equal(lic_revocations_add_activation(r, 255, UINT32_MAX), LIC_OK);
}

static void pack(const lic_revocations *r, uint8_t **body, size_t *len) {
  int rc = lic_revocations_pack(r, body, len);
  if (rc != LIC_OK)
    fail_msg("pack: %s", lic_errfull(rc));
}

static void seal(const lic_revocations *r, const char *typ, lic_key *k, uint8_t **env,
                 size_t *elen) {
  uint8_t *body = NULL;
  size_t blen = 0;
  pack(r, &body, &blen);
  assert_int_equal(lic_envelope_seal(typ, body, blen, k, env, elen), LIC_OK);
  free(body);
}

static void assert_same(const lic_revocations *a, const lic_revocations *b) {
  assert_int_equal(a->seq, b->seq);
  assert_int_equal(a->issued, b->issued);
  assert_int_equal(a->nlicenses, b->nlicenses);
  assert_int_equal(a->naccounts, b->naccounts);
  assert_int_equal(a->nactivations, b->nactivations);
  if (a->nlicenses)
    assert_memory_equal(a->licenses, b->licenses, a->nlicenses * LIC_ID_LEN);
  if (a->naccounts)
    assert_memory_equal(a->accounts, b->accounts, a->naccounts * LIC_ID_LEN);
  for (size_t i = 0; i < a->nactivations; i++) {
    assert_int_equal(a->activations[i].product, b->activations[i].product);
    assert_int_equal(a->activations[i].serial, b->activations[i].serial);
  }
}

static void trust_root(lic_trust *t, lic_key *root) {
  lic_trust_init(t);
  assert_int_equal(lic_trust_add_raw(t, lic_key_raw_public(root)), LIC_OK);
}

static void test_pack_seal_open(void **state) {
  (void)state;
  lic_key *root = tu_test_root_key(), *other = NULL;
  lic_trust t, empty;
  trust_root(&t, root);
  lic_trust_init(&empty);
  lic_revocations r, out;
  uint8_t *body = NULL, *env = NULL;
  size_t blen = 0, elen = 0;
  mk_list(&r, 3);
  pack(&r, &body, &blen);
  assert_int_equal(lic_revocations_parse(body, blen, &out), LIC_OK);
  assert_same(&r, &out);
  lic_revocations_clear(&out);
  /* exactly the six keys of SPEC §3.8 */
  msgpack_unpacked u;
  size_t off = 0;
  msgpack_unpacked_init(&u);
  assert_int_equal(msgpack_unpack_next(&u, (const char *)body, blen, &off), MSGPACK_UNPACK_SUCCESS);
  assert_int_equal(off, blen);
  assert_int_equal(u.data.via.map.size, 6);
  msgpack_unpacked_destroy(&u);

  seal(&r, "revocations", root, &env, &elen);
  assert_int_equal(lic_revocations_open(env, elen, &t, &out), LIC_OK);
  assert_same(&r, &out);
  lic_revocations_clear(&out);
  assert_int_equal(lic_revocations_open(env, elen, &empty, &out), LIC_UNTRUSTED);
  assert_null(out.licenses);
  /* every single flipped bit of the envelope is refused */
  for (size_t i = 0; i < elen; i++)
    for (int bit = 0; bit < 8; bit++) {
      env[i] ^= (uint8_t)(1u << bit);
      int rc = lic_revocations_open(env, elen, &t, &out);
      if (rc == LIC_OK)
        fail_msg("flipped bit %d of byte %zu accepted", bit, i);
      assert_null(out.licenses);
      env[i] ^= (uint8_t)(1u << bit);
    }
  for (size_t n = 0; n < elen; n++)
    assert_int_not_equal(lic_revocations_open(env, n, &t, &out), LIC_OK);
  free(env);
  /* forged: signed by a key the trust store does not hold */
  assert_int_equal(lic_key_generate(&other), LIC_OK);
  seal(&r, "revocations", other, &env, &elen);
  assert_int_equal(lic_revocations_open(env, elen, &t, &out), LIC_UNTRUSTED);
  free(env);
  /* a revocation body in a license envelope */
  seal(&r, "license", root, &env, &elen);
  assert_int_equal(lic_revocations_open(env, elen, &t, &out), LIC_TYPE);
  free(env);
  /* a revocations envelope around a body whose typ says license */
  msgpack_sbuffer sb;
  tu_mp_edit(body, blen, "typ", tu_s_str, "license", &sb);
  assert_int_equal(
      lic_envelope_seal("revocations", (uint8_t *)sb.data, sb.size, root, &env, &elen), LIC_OK);
  assert_int_equal(lic_revocations_open(env, elen, &t, &out), LIC_TYPE);
  free(env);
  msgpack_sbuffer_destroy(&sb);
  free(body);
  lic_revocations_clear(&r);
  lic_key_free(other);
  lic_key_free(root);
}

static void test_lookups_and_append(void **state) {
  (void)state;
  lic_revocations r;
  uint8_t id[LIC_ID_LEN], other[LIC_ID_LEN];
  mk_list(&r, 1);
  id_of(id, 0x10);
  id_of(other, 0x30);
  assert_true(lic_revocations_has_license(&r, id));
  assert_false(lic_revocations_has_license(&r, other)); /* an account id, not a license */
  assert_true(lic_revocations_has_account(&r, other));
  assert_false(lic_revocations_has_account(&r, id));
  assert_true(lic_revocations_has_activation(&r, 7, 4242));
  assert_false(lic_revocations_has_activation(&r, 8, 4242));
  assert_false(lic_revocations_has_activation(&r, 7, 4243));
  assert_true(lic_revocations_has_activation(&r, 255, UINT32_MAX));
  /* appending what is listed adds nothing */
  assert_int_equal(lic_revocations_add_license(&r, id), LIC_OK);
  assert_int_equal(lic_revocations_add_activation(&r, 7, 4242), LIC_OK);
  assert_int_equal(lic_revocations_count(&r), 4);
  /* the ceiling, over all three lists together */
  for (uint32_t s = 0; lic_revocations_count(&r) < LIC_REVOKE_MAX_ENTRIES; s++)
    assert_int_equal(lic_revocations_add_activation(&r, 1, s), LIC_OK);
  assert_int_equal(lic_revocations_add_activation(&r, 2, 0), LIC_LIMIT);
  id_of(id, 0x50);
  assert_int_equal(lic_revocations_add_license(&r, id), LIC_LIMIT);
  assert_int_equal(lic_revocations_add_account(&r, id), LIC_LIMIT);
  assert_int_equal(lic_revocations_count(&r), LIC_REVOKE_MAX_ENTRIES);
  lic_revocations_clear(&r);
}

/* A full list of license ids fits the body limit and seals; one more entry
 * is refused by pack, and by parse when packed by hand. */
static void test_ceiling(void **state) {
  (void)state;
  lic_key *root = tu_test_root_key();
  lic_trust t;
  trust_root(&t, root);
  lic_revocations r, out;
  uint8_t *body = NULL, *env = NULL;
  size_t blen = 0, elen = 0;
  memset(&r, 0, sizeof r);
  r.seq = INT64_MAX;
  r.issued = INT64_MAX;
  r.nlicenses = LIC_REVOKE_MAX_ENTRIES;
  r.licenses = calloc(r.nlicenses, LIC_ID_LEN);
  for (size_t i = 0; i < r.nlicenses; i++)
    memcpy(r.licenses + i * LIC_ID_LEN, &i, sizeof i);
  pack(&r, &body, &blen);
  assert_true(blen <= LIC_MAX_BODY);
  assert_int_equal(lic_envelope_seal("revocations", body, blen, root, &env, &elen), LIC_OK);
  assert_int_equal(lic_revocations_open(env, elen, &t, &out), LIC_OK);
  assert_same(&r, &out);
  lic_revocations_clear(&out);
  free(env);
  free(body);
  r.naccounts = 1;
  r.accounts = calloc(1, LIC_ID_LEN);
  assert_int_equal(lic_revocations_pack(&r, &body, &blen), LIC_LIMIT);
  assert_null(body);
  /* by hand: 3600 licenses and one account */
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 6);
  lic_mp_pack_cstr(&pk, "typ");
  lic_mp_pack_cstr(&pk, "revocations");
  lic_mp_pack_cstr(&pk, "seq");
  msgpack_pack_int64(&pk, 1);
  lic_mp_pack_cstr(&pk, "issued");
  msgpack_pack_int64(&pk, T2026);
  lic_mp_pack_cstr(&pk, "licenses");
  msgpack_pack_array(&pk, LIC_REVOKE_MAX_ENTRIES);
  for (size_t i = 0; i < LIC_REVOKE_MAX_ENTRIES; i++)
    lic_mp_pack_bin(&pk, r.licenses + i * LIC_ID_LEN, LIC_ID_LEN);
  lic_mp_pack_cstr(&pk, "accounts");
  msgpack_pack_array(&pk, 1);
  lic_mp_pack_bin(&pk, r.accounts, LIC_ID_LEN);
  lic_mp_pack_cstr(&pk, "activations");
  msgpack_pack_array(&pk, 0);
  assert_int_equal(lic_revocations_parse((uint8_t *)sb.data, sb.size, &out), LIC_LIMIT);
  assert_null(out.licenses);
  msgpack_sbuffer_destroy(&sb);
  lic_revocations_clear(&r);
  lic_key_free(root);
}

typedef struct {
  const char *path;
  tu_subst_fn fn;
  const void *arg;
  int rc;
} rcase;

static void run_cases(const rcase *cases, size_t n) {
  lic_revocations r, out;
  uint8_t *body = NULL;
  size_t blen = 0;
  mk_list(&r, 2);
  pack(&r, &body, &blen);
  for (size_t i = 0; i < n; i++) {
    msgpack_sbuffer sb;
    tu_mp_edit(body, blen, cases[i].path, cases[i].fn, cases[i].arg, &sb);
    int rc = lic_revocations_parse((uint8_t *)sb.data, sb.size, &out);
    if (rc != cases[i].rc)
      fail_msg("case %zu (%s): got %s (%s), expected %s", i, cases[i].path, lic_errname(rc),
               lic_errdetail(), lic_errname(cases[i].rc));
    if (rc != LIC_OK) {
      assert_null(out.licenses);
      assert_null(out.activations);
    }
    lic_revocations_clear(&out);
    msgpack_sbuffer_destroy(&sb);
  }
  free(body);
  lic_revocations_clear(&r);
}

static void s_pairs(msgpack_packer *pk, const void *a) {
  const int64_t *v = a; /* v[0] pairs follow as (product, serial) */
  msgpack_pack_array(pk, (size_t)v[0]);
  for (int64_t i = 0; i < v[0]; i++) {
    msgpack_pack_array(pk, 2);
    msgpack_pack_int64(pk, v[1 + 2 * i]);
    msgpack_pack_int64(pk, v[2 + 2 * i]);
  }
}
static void s_triple(msgpack_packer *pk, const void *a) {
  (void)a;
  msgpack_pack_array(pk, 1);
  msgpack_pack_array(pk, 3);
  msgpack_pack_int64(pk, 1);
  msgpack_pack_int64(pk, 2);
  msgpack_pack_int64(pk, 3);
}
static void s_str_pair(msgpack_packer *pk, const void *a) {
  msgpack_pack_array(pk, 1);
  msgpack_pack_array(pk, 2);
  tu_s_str(pk, a);
  msgpack_pack_int64(pk, 1);
}
static void s_one_bin(msgpack_packer *pk, const void *a) {
  msgpack_pack_array(pk, 1);
  tu_s_bin(pk, a);
}
static void s_one_str(msgpack_packer *pk, const void *a) {
  msgpack_pack_array(pk, 1);
  tu_s_str(pk, a);
}
static void s_empty(msgpack_packer *pk, const void *a) {
  (void)a;
  msgpack_pack_array(pk, 0);
}

static void test_parse_cases(void **state) {
  (void)state;
  static const int64_t one = 1, zero = 0, neg = -1;
  static const int64_t ok_pair[] = {1, 0, 0}, bad_product[] = {1, 256, 1},
                       neg_product[] = {1, -1, 1}, big_serial[] = {1, 1, 4294967296LL},
                       neg_serial[] = {1, 1, -1};
  static const uint8_t z[40] = {0};
  static const tu_binarg b15 = {z, 15}, b16 = {z, 16}, b17 = {z, 17};
  const rcase c[] = {
      {"typ", NULL, NULL, LIC_NOTFOUND},
      {"seq", NULL, NULL, LIC_NOTFOUND},
      {"issued", NULL, NULL, LIC_NOTFOUND},
      {"licenses", NULL, NULL, LIC_NOTFOUND},
      {"accounts", NULL, NULL, LIC_NOTFOUND},
      {"activations", NULL, NULL, LIC_NOTFOUND},
      {"typ", tu_s_str, "license", LIC_TYPE},
      {"typ", tu_s_str, "account", LIC_TYPE},
      {"typ", tu_s_int, &one, LIC_FORMAT},
      {"seq", tu_s_int, &zero, LIC_LIMIT},
      {"seq", tu_s_int, &neg, LIC_LIMIT},
      {"seq", tu_s_str, "2", LIC_FORMAT},
      {"issued", tu_s_int, &zero, LIC_LIMIT},
      {"issued", tu_s_str, "2026-01-01", LIC_FORMAT},
      {"licenses", tu_s_bin, &b16, LIC_FORMAT},
      {"licenses", s_one_bin, &b15, LIC_FORMAT},
      {"licenses", s_one_bin, &b17, LIC_FORMAT},
      {"licenses", s_one_str, "10111213-1415-1617-1819-1a1b1c1d1e1f", LIC_FORMAT},
      {"licenses", s_empty, NULL, LIC_OK},
      {"accounts", s_one_bin, &b15, LIC_FORMAT},
      {"accounts", tu_s_int, &one, LIC_FORMAT},
      {"accounts", s_empty, NULL, LIC_OK},
      {"activations", s_pairs, ok_pair, LIC_OK},
      {"activations", s_empty, NULL, LIC_OK},
      {"activations", s_pairs, bad_product, LIC_LIMIT},
      {"activations", s_pairs, neg_product, LIC_LIMIT},
      {"activations", s_pairs, big_serial, LIC_LIMIT},
      {"activations", s_pairs, neg_serial, LIC_LIMIT},
      {"activations", s_triple, NULL, LIC_FORMAT},
      {"activations", s_str_pair, "7", LIC_FORMAT},
      {"activations", s_one_bin, &b16, LIC_FORMAT},
      {"activations", tu_s_int, &one, LIC_FORMAT},
      {"newfield", tu_s_str, "unknown keys are ignored", LIC_OK},
  };
  run_cases(c, sizeof c / sizeof c[0]);
}

static void test_parse_truncations_and_trailing(void **state) {
  (void)state;
  lic_revocations r, out;
  uint8_t *body = NULL;
  size_t blen = 0;
  mk_list(&r, 1);
  pack(&r, &body, &blen);
  for (size_t n = 0; n < blen; n++) {
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, body, n);
    assert_int_not_equal(lic_revocations_parse(c, n, &out), LIC_OK);
    assert_null(out.licenses);
    assert_null(out.activations);
    free(c);
  }
  uint8_t *c = malloc(blen + 1);
  memcpy(c, body, blen);
  c[blen] = 0xc0;
  assert_int_equal(lic_revocations_parse(c, blen + 1, &out), LIC_FORMAT);
  free(c);
  free(body);
  lic_revocations_clear(&r);
}

static void test_load_file(void **state) {
  (void)state;
  lic_key *root = tu_test_root_key();
  lic_trust t;
  trust_root(&t, root);
  lic_revocations r, out;
  uint8_t *env = NULL, *got = NULL;
  size_t elen = 0, glen = 0, alen = 0;
  char *arm = NULL, path[600], *dir = tu_tmpdir();
  mk_list(&r, 4);
  seal(&r, "revocations", root, &env, &elen);
  assert_int_equal(lic_armor_encode("revocations", "seq: 4", env, elen, &arm, &alen), LIC_OK);
  assert_non_null(strstr(arm, "-----BEGIN LICSRV REVOCATIONS-----"));
  snprintf(path, sizeof path, "%s/r.rev", dir);
  assert_int_equal(lic_file_write(path, arm, alen, 0644, 0), LIC_OK);
  assert_int_equal(lic_revocations_load(path, &t, &out, &got, &glen), LIC_OK);
  assert_same(&r, &out);
  assert_int_equal(glen, elen);
  assert_memory_equal(got, env, elen);
  lic_revocations_clear(&out);
  free(got);
  snprintf(path, sizeof path, "%s/missing", dir);
  assert_int_equal(lic_revocations_load(path, &t, &out, &got, &glen), LIC_NOTFOUND);
  assert_null(got);
  tu_rmtree(dir);
  free(dir);
  free(arm);
  free(env);
  lic_revocations_clear(&r);
  lic_key_free(root);
}

static void file_bytes(const char *path, uint8_t **buf, size_t *len) {
  assert_int_equal(lic_file_read(path, LIC_MAX_FILE, buf, len), LIC_OK);
}

static void test_remember(void **state) {
  (void)state;
  lic_key *root = tu_test_root_key(), *other = NULL;
  lic_trust t;
  trust_root(&t, root);
  lic_revocations r1, r2, r2b, out;
  uint8_t *e1 = NULL, *e2 = NULL, *e2b = NULL, *ef = NULL, *kept = NULL, *kept2 = NULL;
  size_t l1 = 0, l2 = 0, l2b = 0, lf = 0, klen = 0, klen2 = 0;
  char *dir = tu_tmpdir(), sd[600], path[700];
  bool replaced = true;
  struct stat st;
  uint8_t id[LIC_ID_LEN];

  snprintf(sd, sizeof sd, "%s/state", dir); /* created by the first remember */
  snprintf(path, sizeof path, "%s/%s", sd, LIC_REVOCATIONS_FILE);
  mk_list(&r1, 1);
  mk_list(&r2, 2);
  id_of(id, 0x70);
  assert_int_equal(lic_revocations_add_license(&r2, id), LIC_OK);
  mk_list(&r2b, 2); /* seq 2 again, other content */
  seal(&r1, "revocations", root, &e1, &l1);
  seal(&r2, "revocations", root, &e2, &l2);
  seal(&r2b, "revocations", root, &e2b, &l2b);

  /* nothing kept, nothing given */
  assert_int_equal(lic_revocations_remember(sd, NULL, 0, &t, &out, &replaced), LIC_NOTFOUND);
  assert_false(replaced);
  /* the first list is kept, 0600 */
  assert_int_equal(lic_revocations_remember(sd, e1, l1, &t, &out, &replaced), LIC_OK);
  assert_true(replaced);
  assert_same(&r1, &out);
  lic_revocations_clear(&out);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(stat(sd, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  /* a newer one replaces it */
  assert_int_equal(lic_revocations_remember(sd, e2, l2, &t, &out, &replaced), LIC_OK);
  assert_true(replaced);
  assert_same(&r2, &out);
  lic_revocations_clear(&out);
  file_bytes(path, &kept, &klen);
  assert_int_equal(klen, l2);
  assert_memory_equal(kept, e2, l2);
  /* an older one is ignored: the answer is the kept newer list, the file stays */
  assert_int_equal(lic_revocations_remember(sd, e1, l1, &t, &out, &replaced), LIC_OK);
  assert_false(replaced);
  assert_same(&r2, &out);
  lic_revocations_clear(&out);
  /* the same list again: ignored */
  assert_int_equal(lic_revocations_remember(sd, e2, l2, &t, &out, &replaced), LIC_OK);
  assert_false(replaced);
  assert_same(&r2, &out);
  lic_revocations_clear(&out);
  /* the same seq with other content: refused, the kept one stays */
  assert_int_equal(lic_revocations_remember(sd, e2b, l2b, &t, &out, &replaced), LIC_EXISTS);
  assert_false(replaced);
  assert_null(out.licenses);
  assert_non_null(strstr(lic_errdetail(), "seq 2"));
  /* forged (another key) with a higher seq: refused, the kept one stays */
  assert_int_equal(lic_key_generate(&other), LIC_OK);
  lic_revocations r9;
  mk_list(&r9, 9);
  seal(&r9, "revocations", other, &ef, &lf);
  assert_int_equal(lic_revocations_remember(sd, ef, lf, &t, &out, &replaced), LIC_UNTRUSTED);
  assert_false(replaced);
  /* a damaged envelope: refused */
  e2[l2 - 1] ^= 1;
  assert_int_equal(lic_revocations_remember(sd, e2, l2, &t, &out, &replaced), LIC_SIGNATURE);
  e2[l2 - 1] ^= 1;
  file_bytes(path, &kept2, &klen2);
  assert_int_equal(klen2, l2);
  assert_memory_equal(kept2, e2, l2);
  free(kept2);
  /* the kept one alone */
  assert_int_equal(lic_revocations_remember(sd, NULL, 0, &t, &out, NULL), LIC_OK);
  assert_same(&r2, &out);
  lic_revocations_clear(&out);
  /* a kept file that does not open is an error, not "no list" (fail closed) */
  kept[klen - 1] ^= 1;
  assert_int_equal(lic_file_write(path, kept, klen, 0600, 0), LIC_OK);
  assert_int_equal(lic_revocations_remember(sd, NULL, 0, &t, &out, NULL), LIC_SIGNATURE);
  assert_non_null(strstr(lic_errdetail(), "remove it to start over"));
  assert_int_equal(lic_revocations_remember(sd, e1, l1, &t, &out, NULL), LIC_SIGNATURE);
  /* a kept file that is a symlink is refused too */
  assert_int_equal(unlink(path), 0);
  assert_int_equal(symlink("/dev/null", path), 0);
  assert_int_not_equal(lic_revocations_remember(sd, NULL, 0, &t, &out, NULL), LIC_OK);
  assert_int_not_equal(lic_revocations_remember(sd, NULL, 0, &t, &out, NULL), LIC_NOTFOUND);

  free(kept);
  free(e1);
  free(e2);
  free(e2b);
  free(ef);
  lic_revocations_clear(&r1);
  lic_revocations_clear(&r2);
  lic_revocations_clear(&r2b);
  lic_revocations_clear(&r9);
  tu_rmtree(dir);
  free(dir);
  lic_key_free(other);
  lic_key_free(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pack_seal_open),
      cmocka_unit_test(test_lookups_and_append),
      cmocka_unit_test(test_ceiling),
      cmocka_unit_test(test_parse_cases),
      cmocka_unit_test(test_parse_truncations_and_trailing),
      cmocka_unit_test(test_load_file),
      cmocka_unit_test(test_remember),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
