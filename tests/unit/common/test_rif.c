/* test_rif.c - tests the registration information file (SPEC §3.2): make, load, strict parse, privacy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/sha.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/rif.h"
#include "mpedit.h"
#include "testutil.h"

/* ---- re-packing a body with one edit (mpedit.h): the substituters of this file ---- */

/* An array of n copies of a string. */
typedef struct {
  const char *s;
  size_t n;
} strarr;
static void s_strarr(msgpack_packer *pk, const void *a) {
  const strarr *x = a;
  msgpack_pack_array(pk, x->n);
  for (size_t i = 0; i < x->n; i++)
    tu_s_str(pk, x->s);
}
/* An array of n bins of width w. */
typedef struct {
  size_t n, w;
} binarr;
static void s_binarr(msgpack_packer *pk, const void *a) {
  const binarr *x = a;
  uint8_t z[64] = {0};
  msgpack_pack_array(pk, x->n);
  for (size_t i = 0; i < x->n; i++) {
    z[0] = (uint8_t)i;
    msgpack_pack_bin(pk, x->w);
    msgpack_pack_bin_body(pk, z, x->w);
  }
}

/* ---- fixture: a fake machine and an instance key ---- */

typedef struct {
  char *dir;
  lic_machine m;
  lic_key *key;
  uint8_t pid[LIC_ID_LEN];
} fx;

static const uint8_t MAC_A[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x3f};
static const uint8_t MAC_B[6] = {0x00, 0x1b, 0x21, 0xab, 0xcd, 0xef};

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->dir = tu_tmpdir();
  char root[600];
  snprintf(root, sizeof root, "%s/root", f->dir);
  static const char *const nics[] = {"eth0=52:54:00:12:34:3f", "eth1=00:1b:21:ab:cd:ef"};
  tu_fake_machine(root, "0123456789abcdef0123456789abcdef", "4c4c4544-0042-3510-8052-b4c04f4d3232",
                  nics, 2);
  setenv("LIC_SYSROOT", root, 1);
  if (lic_machine_read(&f->m) != LIC_OK || f->m.nmacs != 2)
    return -1;
  if (lic_key_generate(&f->key) != LIC_OK)
    return -1;
  for (int i = 0; i < LIC_ID_LEN; i++)
    f->pid[i] = (uint8_t)(0xa0 + i);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  unsetenv("LIC_SYSROOT");
  lic_key_free(f->key);
  tu_rmtree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

static const char *fpath(const fx *f, const char *name) {
  static char b[2][700];
  static int slot;
  char *p = b[slot++ % 2];
  snprintf(p, 700, "%s/%s", f->dir, name);
  return p;
}

static char *make(const fx *f, const char *mode) {
  char *arm = NULL;
  size_t alen = 0;
  int rc = lic_rif_make(&f->m, "Project X", "licsrv-report", "11.0.18", f->pid, mode, f->key,
                        1767225600, &arm, &alen);
  if (rc != LIC_OK)
    fail_msg("lic_rif_make: %s", lic_errfull(rc));
  assert_int_equal(strlen(arm), alen);
  return arm;
}

/* The envelope bytes of an armored RIF. */
static void unarmor(const char *arm, uint8_t **env, size_t *elen) {
  assert_int_equal(lic_unarmor_any((const uint8_t *)arm, strlen(arm), env, elen), LIC_OK);
}

static void test_make_load_roundtrip(void **state) {
  fx *f = *state;
  char *arm = make(f, "private");
  assert_non_null(strstr(arm, "-----BEGIN LICSRV RIF-----\n"));
  assert_non_null(strstr(arm, "-----END LICSRV RIF-----\n"));
  assert_true(arm[0] == '#');
  assert_non_null(strstr(arm, f->m.code)); /* the summary names the machine code */
  assert_int_equal(lic_file_write(fpath(f, "a.rif"), arm, strlen(arm), 0644, 0), LIC_OK);

  lic_rif r;
  uint8_t sha[32], expect[32], *env = NULL;
  size_t elen = 0;
  assert_int_equal(lic_rif_load(fpath(f, "a.rif"), &r, sha), LIC_OK);
  assert_int_equal(r.created, 1767225600);
  assert_string_equal(r.product, "licsrv-report");
  assert_string_equal(r.version, "11.0.18");
  assert_string_equal(r.project, "Project X");
  assert_memory_equal(r.project_id, f->pid, LIC_ID_LEN);
  assert_string_equal(r.code, f->m.code);
  assert_int_equal(r.nmacs, 2);
  assert_memory_equal(r.macs, f->m.mac_hash, 2 * LIC_MAC_HASH_LEN);
  assert_int_equal(r.macs_masked.n, 2);
  assert_string_equal(r.macs_masked.v[0], f->m.masked[0]);
  assert_string_equal(r.macs_masked.v[1], f->m.masked[1]);
  assert_memory_equal(r.pubkey, lic_key_raw_public(f->key), 32);
  assert_string_equal(r.mode_hint, "private");

  /* body_sha256 is SHA-256 of the signed body bytes. */
  unarmor(arm, &env, &elen);
  lic_envelope e;
  assert_int_equal(lic_envelope_decode(env, elen, &e), LIC_OK);
  assert_string_equal(e.typ, "rif");
  assert_memory_equal(e.kid, lic_key_kid(f->key), 8);
  SHA256(e.body, e.body_len, expect);
  assert_memory_equal(sha, expect, 32);
  /* The raw envelope file loads the same. */
  assert_int_equal(lic_file_write(fpath(f, "a.rif.msgpack"), env, elen, 0644, 0), LIC_OK);
  lic_rif r2;
  assert_int_equal(lic_rif_load(fpath(f, "a.rif.msgpack"), &r2, sha), LIC_OK);
  assert_memory_equal(sha, expect, 32);
  lic_rif_clear(&r2);
  lic_rif_clear(&r);
  lic_rif_clear(NULL);
  free(env);
  free(arm);

  arm = make(f, "local");
  assert_int_equal(lic_file_write(fpath(f, "b.rif"), arm, strlen(arm), 0644, 0), LIC_OK);
  assert_int_equal(lic_rif_load(fpath(f, "b.rif"), &r, sha), LIC_OK);
  assert_string_equal(r.mode_hint, "local");
  lic_rif_clear(&r);
  free(arm);
}

static bool contains(const uint8_t *h, size_t hn, const void *needle, size_t nn) {
  for (size_t i = 0; i + nn <= hn; i++)
    if (memcmp(h + i, needle, nn) == 0)
      return true;
  return false;
}

static bool contains_ci(const char *h, const char *needle) {
  size_t hn = strlen(h), nn = strlen(needle);
  for (size_t i = 0; i + nn <= hn; i++)
    if (strncasecmp(h + i, needle, nn) == 0)
      return true;
  return false;
}

static void test_no_raw_macs_anywhere(void **state) {
  fx *f = *state;
  char *arm = make(f, "private");
  uint8_t *env = NULL;
  size_t elen = 0;
  unarmor(arm, &env, &elen);
  lic_envelope e;
  assert_int_equal(lic_envelope_decode(env, elen, &e), LIC_OK);
  const uint8_t *macs[] = {MAC_A, MAC_B};
  for (int i = 0; i < 2; i++) {
    const uint8_t *m = macs[i];
    char colon[18], dash[18], bare[13];
    snprintf(colon, sizeof colon, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    snprintf(dash, sizeof dash, "%02x-%02x-%02x-%02x-%02x-%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    snprintf(bare, sizeof bare, "%02x%02x%02x%02x%02x%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    /* the hidden middle octets, as text */
    char mid[6];
    snprintf(mid, sizeof mid, "%02x:%02x", m[3], m[4]);
    assert_false(contains_ci(arm, colon));
    assert_false(contains_ci(arm, dash));
    assert_false(contains_ci(arm, bare));
    assert_false(contains_ci(arm, mid));
    assert_false(contains((const uint8_t *)arm, strlen(arm), m, 6));
    assert_false(contains(env, elen, m, 6));
    assert_false(contains(env, elen, colon, strlen(colon)));
    assert_false(contains(env, elen, mid, strlen(mid)));
  }
  /* No host name either (data minimization), when it is long enough to tell. */
  char host[256] = "";
  if (gethostname(host, sizeof host) == 0 && strlen(host) >= 6) {
    assert_false(contains_ci(arm, host));
    assert_false(contains(env, elen, host, strlen(host)));
  }
  free(env);
  free(arm);
}

/* The body holds exactly the keys of SPEC §3.2, nothing else. */
static void test_body_keys_exact(void **state) {
  fx *f = *state;
  char *arm = make(f, "local");
  uint8_t *env = NULL;
  size_t elen = 0;
  unarmor(arm, &env, &elen);
  lic_envelope e;
  assert_int_equal(lic_envelope_decode(env, elen, &e), LIC_OK);
  msgpack_unpacked u;
  size_t off = 0;
  msgpack_unpacked_init(&u);
  assert_int_equal(msgpack_unpack_next(&u, (const char *)e.body, e.body_len, &off),
                   MSGPACK_UNPACK_SUCCESS);
  static const char *const keys[] = {"typ", "created", "product", "version", "project",
                                     "project_id", "machine", "pubkey", "mode_hint"};
  assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
  assert_int_equal(u.data.via.map.size, 9);
  for (size_t k = 0; k < 9; k++) {
    bool found = false;
    for (uint32_t i = 0; i < 9; i++) {
      const msgpack_object_kv *kv = &u.data.via.map.ptr[i];
      if (tu_key_is(&kv->key, keys[k], strlen(keys[k]))) {
        found = true;
        if (strcmp(keys[k], "machine") == 0) {
          assert_int_equal(kv->val.type, MSGPACK_OBJECT_MAP);
          assert_int_equal(kv->val.via.map.size, 3);
          const msgpack_object_kv *mk = kv->val.via.map.ptr;
          assert_true(tu_key_is(&mk[0].key, "code", 4) || tu_key_is(&mk[1].key, "code", 4) ||
                      tu_key_is(&mk[2].key, "code", 4));
        }
        if (strcmp(keys[k], "typ") == 0) {
          assert_int_equal(kv->val.type, MSGPACK_OBJECT_STR);
          assert_int_equal(kv->val.via.str.size, 3);
          assert_memory_equal(kv->val.via.str.ptr, "rif", 3);
        }
      }
    }
    if (!found)
      fail_msg("RIF body lacks '%s'", keys[k]);
  }
  msgpack_unpacked_destroy(&u);
  free(env);
  free(arm);
}

static void test_tampered_body(void **state) {
  fx *f = *state;
  char *arm = make(f, "private");
  uint8_t *env = NULL, sha[32];
  size_t elen = 0;
  unarmor(arm, &env, &elen);
  /* "Project X" -> "Project Y": still a well-formed body. */
  bool done = false;
  for (size_t i = 0; i + 9 <= elen && !done; i++)
    if (memcmp(env + i, "Project X", 9) == 0) {
      env[i + 8] = 'Y';
      done = true;
    }
  assert_true(done);
  assert_int_equal(lic_file_write(fpath(f, "t.rif"), env, elen, 0644, 0), LIC_OK);
  lic_rif r;
  assert_int_equal(lic_rif_load(fpath(f, "t.rif"), &r, sha), LIC_SIGNATURE);
  assert_null(r.product);
  /* And armored again: the same verdict. */
  char *arm2 = NULL;
  size_t alen = 0;
  assert_int_equal(lic_armor_encode("rif", NULL, env, elen, &arm2, &alen), LIC_OK);
  assert_int_equal(lic_file_write(fpath(f, "t2.rif"), arm2, alen, 0644, 0), LIC_OK);
  assert_int_equal(lic_rif_load(fpath(f, "t2.rif"), &r, sha), LIC_SIGNATURE);
  free(arm2);
  free(env);
  free(arm);
}

static void fill_rif(const fx *f, lic_rif *r, char *masked[2]) {
  memset(r, 0, sizeof *r);
  r->created = 1767225600;
  r->product = (char *)"licsrv-report";
  r->version = (char *)"11.0.18";
  r->project = (char *)"Project X";
  memcpy(r->project_id, f->pid, LIC_ID_LEN);
  snprintf(r->code, sizeof r->code, "%s", f->m.code);
  r->nmacs = 2;
  r->macs = (uint8_t *)f->m.mac_hash;
  masked[0] = (char *)f->m.masked[0];
  masked[1] = (char *)f->m.masked[1];
  r->macs_masked.n = 2;
  r->macs_masked.v = masked;
  memcpy(r->pubkey, lic_key_raw_public(f->key), 32);
  snprintf(r->mode_hint, sizeof r->mode_hint, "private");
}

static void test_signed_by_other_key(void **state) {
  fx *f = *state;
  lic_rif r;
  char *masked[2];
  uint8_t *body = NULL, *env = NULL, sha[32];
  size_t blen = 0, elen = 0;
  lic_key *other = NULL;
  assert_int_equal(lic_key_generate(&other), LIC_OK);
  fill_rif(f, &r, masked);
  assert_int_equal(lic_rif_pack(&r, &body, &blen), LIC_OK);
  /* Body names f->key, envelope signed (and kid'ed) by other. */
  assert_int_equal(lic_envelope_seal("rif", body, blen, other, &env, &elen), LIC_OK);
  assert_int_equal(lic_file_write(fpath(f, "o.rif"), env, elen, 0644, 0), LIC_OK);
  lic_rif out;
  assert_int_equal(lic_rif_load(fpath(f, "o.rif"), &out, sha), LIC_UNTRUSTED);
  assert_null(out.product);
  /* The kid patched to f->key's: now the signature itself is wrong. */
  bool patched = false;
  for (size_t i = 0; i + 8 <= elen; i++)
    if (memcmp(env + i, lic_key_kid(other), 8) == 0) {
      memcpy(env + i, lic_key_kid(f->key), 8);
      patched = true;
      break;
    }
  assert_true(patched);
  assert_int_equal(lic_file_write(fpath(f, "o2.rif"), env, elen, 0644, 0), LIC_OK);
  assert_int_equal(lic_rif_load(fpath(f, "o2.rif"), &out, sha), LIC_SIGNATURE);
  free(env);
  /* Signed properly by f->key: loads. */
  assert_int_equal(lic_envelope_seal("rif", body, blen, f->key, &env, &elen), LIC_OK);
  assert_int_equal(lic_file_write(fpath(f, "o3.rif"), env, elen, 0644, 0), LIC_OK);
  assert_int_equal(lic_rif_load(fpath(f, "o3.rif"), &out, sha), LIC_OK);
  lic_rif_clear(&out);
  free(env);
  /* A license-typed envelope is not a RIF. */
  assert_int_equal(lic_envelope_seal("license", body, blen, f->key, &env, &elen), LIC_OK);
  assert_int_equal(lic_file_write(fpath(f, "o4.rif"), env, elen, 0644, 0), LIC_OK);
  assert_int_equal(lic_rif_load(fpath(f, "o4.rif"), &out, sha), LIC_TYPE);
  free(env);
  free(body);
  lic_key_free(other);
}

typedef struct {
  const char *path;
  tu_subst_fn fn;
  const void *arg;
  int rc; /* expected; -1: any error */
} rif_case;

static void test_parse_rejects(void **state) {
  fx *f = *state;
  lic_rif r, out;
  char *masked[2];
  uint8_t *body = NULL;
  size_t blen = 0;
  fill_rif(f, &r, masked);
  assert_int_equal(lic_rif_pack(&r, &body, &blen), LIC_OK);
  assert_int_equal(lic_rif_parse(body, blen, &out), LIC_OK);
  lic_rif_clear(&out);

  char n128[129], n129[130];
  memset(n128, 'n', 128);
  n128[128] = '\0';
  memset(n129, 'n', 129);
  n129[129] = '\0';
  static const int64_t neg = -1;
  static const uint8_t z31[31] = {0};
  static const tu_binarg pk31 = {z31, 31}, pid15 = {z31, 15};
  static const strarr one_mask = {"52:54:00:**:**:3f", 1}, three_mask = {"52:54:00:**:**:3f", 3};
  static const binarr macs15 = {2, 15}, macs17 = {2, 17}, macs257 = {257, 16};
  static const strarr masked257 = {"52:54:00:**:**:3f", 257};
  const rif_case cases[] = {
      {"mode_hint", tu_s_str, "public", LIC_FORMAT},
      {"mode_hint", tu_s_str, "Local", LIC_FORMAT},
      {"mode_hint", tu_s_str, "privatex", LIC_FORMAT},
      {"mode_hint", tu_s_str, "", LIC_LIMIT},
      {"mode_hint", tu_s_str, "local-and-private", LIC_LIMIT},
      {"mode_hint", tu_s_int, &neg, LIC_FORMAT},
      {"machine.code", tu_s_str, "0123-4567-89ab-cdef", LIC_FORMAT},
      {"machine.code", tu_s_str, "0123_4567_89AB_CDEF", LIC_FORMAT},
      {"machine.code", tu_s_str, "0123-4567-89AB-CDEU", LIC_FORMAT},
      {"machine.code", tu_s_str, "0123-4567-89AB-CDE", LIC_LIMIT},
      {"machine.code", tu_s_str, "0123-4567-89AB-CDEFG", LIC_LIMIT},
      {"machine.code", NULL, NULL, LIC_NOTFOUND},
      {"machine.macs_masked", s_strarr, &one_mask, LIC_FORMAT},
      {"machine.macs_masked", s_strarr, &three_mask, LIC_FORMAT},
      {"machine.macs_masked", NULL, NULL, LIC_NOTFOUND},
      {"machine.macs", s_binarr, &macs15, LIC_FORMAT},
      {"machine.macs", s_binarr, &macs17, LIC_FORMAT},
      {"machine.macs", s_binarr, &macs257, LIC_LIMIT},
      {"machine.macs_masked", s_strarr, &masked257, LIC_LIMIT},
      {"machine", tu_s_str, "not a map", LIC_FORMAT},
      {"project", tu_s_str, n129, LIC_LIMIT},
      {"product", tu_s_str, n129, LIC_LIMIT},
      {"version", tu_s_str, n129, LIC_LIMIT},
      {"project", tu_s_str, "", LIC_LIMIT},
      {"project", tu_s_str, "bad \xc0\x80 utf8", LIC_FORMAT},
      {"project", tu_s_int, &neg, LIC_FORMAT},
      {"created", tu_s_int, &neg, LIC_LIMIT},
      {"created", tu_s_str, "2026-01-01", LIC_FORMAT},
      {"pubkey", tu_s_bin, &pk31, LIC_FORMAT},
      {"project_id", tu_s_bin, &pid15, LIC_FORMAT},
      {"project_id", tu_s_str, "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf", LIC_FORMAT},
      {"typ", tu_s_str, "license", LIC_TYPE},
      {"typ", NULL, NULL, LIC_NOTFOUND},
      {"created", NULL, NULL, LIC_NOTFOUND},
      {"product", NULL, NULL, LIC_NOTFOUND},
      {"version", NULL, NULL, LIC_NOTFOUND},
      {"project", NULL, NULL, LIC_NOTFOUND},
      {"project_id", NULL, NULL, LIC_NOTFOUND},
      {"machine", NULL, NULL, LIC_NOTFOUND},
      {"pubkey", NULL, NULL, LIC_NOTFOUND},
      {"mode_hint", NULL, NULL, LIC_NOTFOUND},
      /* accepted: */
      {"project", tu_s_str, n128, LIC_OK},
      {"hostname", tu_s_str, "unknown keys are ignored", LIC_OK},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    msgpack_sbuffer sb;
    tu_mp_edit(body, blen, cases[i].path, cases[i].fn, cases[i].arg, &sb);
    int rc = lic_rif_parse((uint8_t *)sb.data, sb.size, &out);
    if (rc != cases[i].rc)
      fail_msg("case %zu (%s): got %s (%s), expected %s", i, cases[i].path, lic_errname(rc),
               lic_errdetail(), lic_errname(cases[i].rc));
    if (rc == LIC_OK)
      lic_rif_clear(&out);
    else
      assert_null(out.product); /* cleared on failure */
    msgpack_sbuffer_destroy(&sb);
  }
  /* Truncated bodies. */
  for (size_t n = 0; n < blen; n++) {
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, body, n);
    assert_int_not_equal(lic_rif_parse(c, n, &out), LIC_OK);
    free(c);
  }
  free(body);
}

static void test_make_validates(void **state) {
  fx *f = *state;
  char *arm = NULL;
  size_t alen = 0;
  char n129[130];
  memset(n129, 'p', 129);
  n129[129] = '\0';
  assert_int_equal(lic_rif_make(&f->m, "", "p", "1", f->pid, "local", f->key, 1, &arm, &alen),
                   LIC_LIMIT);
  assert_int_equal(lic_rif_make(&f->m, n129, "p", "1", f->pid, "local", f->key, 1, &arm, &alen),
                   LIC_LIMIT);
  assert_int_equal(lic_rif_make(&f->m, "a\nb", "p", "1", f->pid, "local", f->key, 1, &arm, &alen),
                   LIC_FORMAT);
  assert_int_equal(lic_rif_make(&f->m, "x", "p\xff", "1", f->pid, "local", f->key, 1, &arm, &alen),
                   LIC_FORMAT);
  assert_int_equal(lic_rif_make(&f->m, "x", "p", n129, f->pid, "local", f->key, 1, &arm, &alen),
                   LIC_LIMIT);
  assert_null(arm);
  /* A mode_hint the parser would refuse must not be written either. */
  assert_int_equal(lic_rif_make(&f->m, "x", "p", "1", f->pid, "public", f->key, 1, &arm, &alen),
                   LIC_INVALID);
  assert_int_equal(lic_rif_make(&f->m, "x", "p", "1", f->pid, "privateer", f->key, 1, &arm, &alen),
                   LIC_INVALID);
  assert_null(arm);
  /* A machine without NICs still makes a RIF (code-only). */
  lic_machine bare = f->m;
  bare.nmacs = 0;
  assert_int_equal(lic_rif_make(&bare, "x", "p", "1", f->pid, "local", f->key, 1, &arm, &alen),
                   LIC_OK);
  free(arm);
}

static void test_name_check(void **state) {
  (void)state;
  char n128[129], n129[130];
  memset(n128, 'x', 128);
  n128[128] = '\0';
  memset(n129, 'x', 129);
  n129[129] = '\0';
  assert_int_equal(lic_name_check("n", "a"), LIC_OK);
  assert_int_equal(lic_name_check("n", n128), LIC_OK);
  assert_int_equal(lic_name_check("n", "Caf\xc3\xa9 M\xc3\xbcller GmbH"), LIC_OK);
  assert_int_equal(lic_name_check("n", n129), LIC_LIMIT);
  assert_int_equal(lic_name_check("n", ""), LIC_LIMIT);
  assert_int_equal(lic_name_check("n", "tab\there"), LIC_FORMAT);
  assert_int_equal(lic_name_check("n", "del\x7f"), LIC_FORMAT);
  assert_int_equal(lic_name_check("n", "\xed\xa0\x80"), LIC_FORMAT);
  assert_int_equal(lic_name_check("n", "\xe2\x82"), LIC_FORMAT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_make_load_roundtrip),
      cmocka_unit_test(test_no_raw_macs_anywhere),
      cmocka_unit_test(test_body_keys_exact),
      cmocka_unit_test(test_tampered_body),
      cmocka_unit_test(test_signed_by_other_key),
      cmocka_unit_test(test_parse_rejects),
      cmocka_unit_test(test_make_validates),
      cmocka_unit_test(test_name_check),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
