/* test_vectors.c - tests that fixed inputs give the byte-exact RIF/license vectors of tests/vectors/. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/sha.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/license.h"
#include "lic/rif.h"
#include "testutil.h"
#include "vecutil.h"

/* ---- the fixed inputs (documented in tests/vectors/README.md) ---- */

#define V_CREATED    1767225600 /* 2026-01-01T00:00:00Z */
#define V_EXPIRES    1798761600 /* 2027-01-01T00:00:00Z */
#define V_CODE       "7D2K-9QWX-M3RT-HB5P"
#define V_PRODUCT    "licsrv-report"
#define V_VERSION    "11.0.18"
#define V_PROJECT    "Vector Project"
#define V_CUSTOMER   "Vector Customer GmbH"
#define V_PROJECT_ID "00112233-4455-6677-8899-aabbccddeeff"
#define V_LOCAL_ID   "10111213-1415-1617-1819-1a1b1c1d1e1f"
#define V_PRIV_ID    "20212223-2425-2627-2829-2a2b2c2d2e2f"
/* The private license's renewal: signed a month before the old one ends,
 * in force from that end for a year, one more feature and two more nodes. */
#define V_RENEW_ID      "50515253-5455-5657-5859-5a5b5c5d5e5f"
#define V_RENEW_ISSUED  1796083200 /* 2026-12-01T00:00:00Z */
#define V_RENEW_EXPIRES 1830297600 /* 2028-01-01T00:00:00Z */

static const uint8_t V_MACS[2][6] = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x3f},
                                     {0x00, 0x1b, 0x21, 0xab, 0xcd, 0xef}};

enum {
  RIF_BODY, RIF_ENV, RIF_ARM,
  LOC_BODY, LOC_ENV, LOC_ARM,
  PRV_BODY, PRV_ENV, PRV_ARM,
  REN_BODY, REN_ENV, REN_ARM,
  NBLOBS
};

static const char *const FILES[NBLOBS] = {
    "rif.body.msgpack",           "rif.msgpack",             "rif.rif",
    "license-local.body.msgpack", "license-local.msgpack",   "license-local.lic",
    "license-private.body.msgpack", "license-private.msgpack", "license-private.lic",
    "license-renewal.body.msgpack", "license-renewal.msgpack", "license-renewal.lic",
};

typedef struct {
  lic_key *root, *node;
  lic_machine m;
  tu_blob b[NBLOBS];
  lic_trust trust;
} fx;

static void uuid(const char *s, uint8_t id[16]) {
  assert_int_equal(lic_uuid_parse(s, strlen(s), id), LIC_OK);
}

static void fixed_machine(lic_machine *m) {
  memset(m, 0, sizeof *m);
  snprintf(m->code, sizeof m->code, "%s", V_CODE);
  for (size_t i = 0; i < 2; i++) {
    lic_mac_hash(V_MACS[i], m->mac_hash[i]);
    lic_mac_mask(V_MACS[i], m->masked[i]);
  }
  m->nmacs = 2;
}

static void fixed_license(lic_license *l, lic_mode mode, const fx *f, const uint8_t rif_sha[32]) {
  memset(l, 0, sizeof *l);
  uuid(mode == LIC_MODE_LOCAL ? V_LOCAL_ID : V_PRIV_ID, l->id);
  uuid(V_PROJECT_ID, l->project_id);
  l->mode = mode;
  l->issued = V_CREATED;
  l->not_before = V_CREATED;
  l->expires = V_EXPIRES;
  l->customer = strdup(V_CUSTOMER);
  l->project = strdup(V_PROJECT);
  l->product = strdup(V_PRODUCT);
  l->major = 11;
  assert_int_equal(lic_strlist_add(&l->features, "export"), LIC_OK);
  assert_int_equal(lic_strlist_add(&l->features, "pdf"), LIC_OK);
  assert_int_equal(lic_strlist_add(&l->domains, "reports.example.com"), LIC_OK);
  assert_int_equal(lic_strlist_add(&l->domains, "*.example.org"), LIC_OK);
  l->ports = malloc(2 * sizeof *l->ports);
  l->ports[0] = 443;
  l->ports[1] = 8443;
  l->nports = 2;
  assert_int_equal(lic_strlist_add(&l->apps, "sales"), LIC_OK);
  l->max_nodes = mode == LIC_MODE_PRIVATE ? 3 : 0;
  l->has_machine = true;
  snprintf(l->machine_code, sizeof l->machine_code, "%s", V_CODE);
  l->macs = malloc(2 * LIC_MAC_HASH_LEN);
  memcpy(l->macs, f->m.mac_hash, 2 * LIC_MAC_HASH_LEN);
  l->nmacs = 2;
  if (mode == LIC_MODE_PRIVATE) {
    l->has_node_key = true;
    memcpy(l->node_key, lic_key_raw_public(f->node), 32);
  }
  l->heartbeat = LIC_DEFAULT_HEARTBEAT;
  l->grace = LIC_DEFAULT_GRACE;
  memcpy(l->rif, rif_sha, 32);
}

/* The private license renewed: its binding, new terms, supersedes it. */
static void renewal_terms(lic_license *l) {
  uuid(V_PRIV_ID, l->supersedes);
  l->has_supersedes = true;
  uuid(V_RENEW_ID, l->id);
  l->issued = V_RENEW_ISSUED;
  l->not_before = V_EXPIRES;
  l->expires = V_RENEW_EXPIRES;
  assert_int_equal(lic_strlist_add(&l->features, "charts"), LIC_OK);
  l->max_nodes = 5;
}

static void build_license(fx *f, lic_mode mode, bool renewal, const uint8_t rif_sha[32],
                          tu_blob *body, tu_blob *env, tu_blob *arm) {
  lic_license l;
  char *a = NULL, comments[256];
  size_t alen = 0;
  fixed_license(&l, mode, f, rif_sha);
  if (renewal)
    renewal_terms(&l);
  assert_int_equal(lic_license_pack(&l, &body->p, &body->n), LIC_OK);
  assert_int_equal(lic_envelope_seal("license", body->p, body->n, f->root, &env->p, &env->n), LIC_OK);
  snprintf(comments, sizeof comments,
           "licsrv test vector: license-%s\n"
           "signed by the TEST root key (keys/test/test-root.pem): not a real license",
           renewal ? "renewal" : lic_mode_name(mode));
  assert_int_equal(lic_armor_encode("license", comments, env->p, env->n, &a, &alen), LIC_OK);
  arm->p = (uint8_t *)a;
  arm->n = alen;
  lic_license_clear(&l);
}

/* Everything from the fixed inputs, in memory. */
static void build_all(fx *f) {
  uint8_t pid[16], sha[32];
  char *arm = NULL;
  size_t alen = 0;
  lic_rif r;
  char *masked[2] = {f->m.masked[0], f->m.masked[1]};

  uuid(V_PROJECT_ID, pid);
  /* RIF body through lic_rif_pack, envelope and armor through lic_rif_make. */
  memset(&r, 0, sizeof r);
  r.created = V_CREATED;
  r.product = (char *)V_PRODUCT;
  r.version = (char *)V_VERSION;
  r.project = (char *)V_PROJECT;
  memcpy(r.project_id, pid, 16);
  snprintf(r.code, sizeof r.code, "%s", V_CODE);
  r.nmacs = 2;
  r.macs = (uint8_t *)f->m.mac_hash;
  r.macs_masked.n = 2;
  r.macs_masked.v = masked;
  memcpy(r.pubkey, lic_key_raw_public(f->node), 32);
  snprintf(r.mode_hint, sizeof r.mode_hint, "private");
  assert_int_equal(lic_rif_pack(&r, &f->b[RIF_BODY].p, &f->b[RIF_BODY].n), LIC_OK);
  assert_int_equal(lic_rif_make(&f->m, V_PROJECT, V_PRODUCT, V_VERSION, pid, "private", f->node,
                                V_CREATED, &arm, &alen),
                   LIC_OK);
  f->b[RIF_ARM].p = (uint8_t *)arm;
  f->b[RIF_ARM].n = alen;
  assert_int_equal(lic_unarmor_any((uint8_t *)arm, alen, &f->b[RIF_ENV].p, &f->b[RIF_ENV].n), LIC_OK);

  SHA256(f->b[RIF_BODY].p, f->b[RIF_BODY].n, sha);
  build_license(f, LIC_MODE_LOCAL, false, sha, &f->b[LOC_BODY], &f->b[LOC_ENV], &f->b[LOC_ARM]);
  build_license(f, LIC_MODE_PRIVATE, false, sha, &f->b[PRV_BODY], &f->b[PRV_ENV], &f->b[PRV_ARM]);
  build_license(f, LIC_MODE_PRIVATE, true, sha, &f->b[REN_BODY], &f->b[REN_ENV], &f->b[REN_ARM]);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->root = tu_vec_key("keys/test/test-root.pem");
  f->node = tu_vec_key("keys/test/test-node.pem");
  fixed_machine(&f->m);
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
  lic_key_free(f->node);
  free(f);
  return 0;
}

static void compare(const fx *f, int which) { tu_vec_compare(FILES[which], &f->b[which]); }

static void test_rif_bytes(void **state) {
  fx *f = *state;
  compare(f, RIF_BODY);
  compare(f, RIF_ENV);
  compare(f, RIF_ARM);
}

static void test_license_local_bytes(void **state) {
  fx *f = *state;
  compare(f, LOC_BODY);
  compare(f, LOC_ENV);
  compare(f, LOC_ARM);
}

static void test_license_private_bytes(void **state) {
  fx *f = *state;
  compare(f, PRV_BODY);
  compare(f, PRV_ENV);
  compare(f, PRV_ARM);
}

static void test_stored_signatures_openssl(void **state) {
  (void)state;
  tu_vec_openssl_check("rif.msgpack", "rif.body.msgpack", "rif", "keys/test/test-node.pub.pem");
  tu_vec_openssl_check("license-local.msgpack", "license-local.body.msgpack", "license",
                       "keys/test/test-root.pub.pem");
  tu_vec_openssl_check("license-private.msgpack", "license-private.body.msgpack", "license",
                       "keys/test/test-root.pub.pem");
  tu_vec_openssl_check("license-renewal.msgpack", "license-renewal.body.msgpack", "license",
                       "keys/test/test-root.pub.pem");
}

static void test_license_renewal_bytes(void **state) {
  fx *f = *state;
  compare(f, REN_BODY);
  compare(f, REN_ENV);
  compare(f, REN_ARM);
}

/* The renewal names its predecessor, keeps its binding, carries new terms. */
static void test_stored_renewal_fields(void **state) {
  fx *f = *state;
  lic_license prev, next;
  uint8_t id[16];
  assert_int_equal(lic_license_load(tu_vec_path("license-private.lic"), &f->trust, &prev, NULL, NULL),
                   LIC_OK);
  assert_false(prev.has_supersedes);
  assert_int_equal(lic_license_load(tu_vec_path("license-renewal.lic"), &f->trust, &next, NULL, NULL),
                   LIC_OK);
  assert_true(next.has_supersedes);
  assert_memory_equal(next.supersedes, prev.id, 16);
  uuid(V_RENEW_ID, id);
  assert_memory_equal(next.id, id, 16);
  assert_null(lic_license_binding_diff(&prev, &next));
  assert_int_equal(next.issued, V_RENEW_ISSUED);
  assert_int_equal(next.not_before, prev.expires);
  assert_int_equal(next.expires, V_RENEW_EXPIRES);
  assert_int_equal(next.features.n, 3);
  assert_string_equal(next.features.v[2], "charts");
  assert_int_equal(next.max_nodes, 5);
  lic_license_clear(&prev);
  lic_license_clear(&next);
}

static void test_stored_rif_fields(void **state) {
  fx *f = *state;
  static const char *const files[] = {"rif.rif", "rif.msgpack"};
  tu_blob body = tu_vec_stored("rif.body.msgpack");
  uint8_t expect_sha[32];
  SHA256(body.p, body.n, expect_sha);
  for (int i = 0; i < 2; i++) {
    lic_rif r;
    uint8_t sha[32], pid[16];
    assert_int_equal(lic_rif_load(tu_vec_path(files[i]), &r, sha), LIC_OK);
    assert_memory_equal(sha, expect_sha, 32);
    assert_int_equal(r.created, V_CREATED);
    assert_string_equal(r.product, V_PRODUCT);
    assert_string_equal(r.version, V_VERSION);
    assert_string_equal(r.project, V_PROJECT);
    uuid(V_PROJECT_ID, pid);
    assert_memory_equal(r.project_id, pid, 16);
    assert_string_equal(r.code, V_CODE);
    assert_int_equal(r.nmacs, 2);
    assert_int_equal(r.macs_masked.n, 2);
    assert_string_equal(r.macs_masked.v[0], "52:54:00:**:**:3f");
    assert_string_equal(r.macs_masked.v[1], "00:1b:21:**:**:ef");
    for (int k = 0; k < 2; k++) {
      /* mac_hash recomputed from the fixed MAC, independently */
      uint8_t msg[20], h[32];
      memcpy(msg, "licsrv mac v1", 14);
      memcpy(msg + 14, V_MACS[k], 6);
      SHA256(msg, sizeof msg, h);
      assert_memory_equal(r.macs + k * 16, h, 16);
    }
    assert_memory_equal(r.pubkey, lic_key_raw_public(f->node), 32);
    assert_string_equal(r.mode_hint, "private");
    lic_rif_clear(&r);
  }
  free(body.p);
}

static void test_stored_license_fields(void **state) {
  fx *f = *state;
  static const char *const files[] = {"license-local.lic", "license-local.msgpack",
                                      "license-private.lic", "license-private.msgpack"};
  tu_blob rbody = tu_vec_stored("rif.body.msgpack");
  uint8_t rif_sha[32];
  SHA256(rbody.p, rbody.n, rif_sha);
  free(rbody.p);
  for (int i = 0; i < 4; i++) {
    lic_license l;
    uint8_t id[16], pid[16];
    bool priv = i >= 2;
    assert_int_equal(lic_license_load(tu_vec_path(files[i]), &f->trust, &l, NULL, NULL), LIC_OK);
    uuid(priv ? V_PRIV_ID : V_LOCAL_ID, id);
    uuid(V_PROJECT_ID, pid);
    assert_memory_equal(l.id, id, 16);
    assert_memory_equal(l.project_id, pid, 16);
    assert_int_equal(l.mode, priv ? LIC_MODE_PRIVATE : LIC_MODE_LOCAL);
    assert_int_equal(l.issued, V_CREATED);
    assert_int_equal(l.not_before, V_CREATED);
    assert_int_equal(l.expires, V_EXPIRES);
    assert_string_equal(l.customer, V_CUSTOMER);
    assert_string_equal(l.project, V_PROJECT);
    assert_string_equal(l.product, V_PRODUCT);
    assert_int_equal(l.major, 11);
    assert_int_equal(l.features.n, 2);
    assert_string_equal(l.features.v[1], "pdf");
    assert_int_equal(l.domains.n, 2);
    assert_string_equal(l.domains.v[1], "*.example.org");
    assert_int_equal(l.nports, 2);
    assert_int_equal(l.ports[1], 8443);
    assert_int_equal(l.apps.n, 1);
    assert_int_equal(l.max_nodes, priv ? 3 : 0);
    assert_true(l.has_machine);
    assert_string_equal(l.machine_code, V_CODE);
    assert_int_equal(l.nmacs, 2);
    assert_memory_equal(l.macs, f->m.mac_hash, 32);
    assert_int_equal(l.has_node_key, priv);
    if (priv)
      assert_memory_equal(l.node_key, lic_key_raw_public(f->node), 32);
    assert_int_equal(l.heartbeat, 7200);
    assert_int_equal(l.grace, 86400);
    assert_memory_equal(l.rif, rif_sha, 32);
    /* The fixed machine holds the license; a request inside its terms is valid. */
    lic_check_req q = {"a.example.org", 8443, "sales", 11};
    char reason[128];
    assert_int_equal(lic_license_check_local(&l, &f->m, &q, V_CREATED + 3600, reason, sizeof reason),
                     LIC_STATUS_VALID);
    assert_int_equal(lic_license_check_local(&l, &f->m, &q, V_EXPIRES + 1, reason, sizeof reason),
                     LIC_STATUS_EXPIRED);
    lic_license_clear(&l);
  }
  /* Not trusted without the test key. */
  lic_trust empty;
  lic_trust_init(&empty);
  lic_license l;
  assert_int_equal(lic_license_load(tu_vec_path("license-local.lic"), &empty, &l, NULL, NULL),
                   LIC_UNTRUSTED);
  assert_int_equal(lic_trust_builtin(&empty), LIC_OK);
  assert_int_equal(lic_license_load(tu_vec_path("license-local.lic"), &empty, &l, NULL, NULL),
                   LIC_UNTRUSTED);
}

static void test_armored_text_shape(void **state) {
  (void)state;
  static const char *const arms[] = {"rif.rif", "license-local.lic", "license-private.lic"};
  for (int i = 0; i < 3; i++) {
    tu_blob a = tu_vec_stored(arms[i]);
    const char *t = (const char *)a.p;
    assert_true(t[0] == '#');
    assert_non_null(strstr(t, i == 0 ? "-----BEGIN LICSRV RIF-----\n" : "-----BEGIN LICSRV LICENSE-----\n"));
    assert_true(a.n > 0 && t[a.n - 1] == '\n');
    /* Every line is at most 64 columns except comments. */
    for (const char *p = t; *p;) {
      size_t n = strcspn(p, "\n");
      if (p[0] != '#' && p[0] != '-')
        assert_true(n <= 64);
      p += n + (p[n] == '\n');
    }
    free(a.p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rif_bytes),
      cmocka_unit_test(test_license_local_bytes),
      cmocka_unit_test(test_license_private_bytes),
      cmocka_unit_test(test_license_renewal_bytes),
      cmocka_unit_test(test_stored_renewal_fields),
      cmocka_unit_test(test_stored_signatures_openssl),
      cmocka_unit_test(test_stored_rif_fields),
      cmocka_unit_test(test_stored_license_fields),
      cmocka_unit_test(test_armored_text_shape),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
