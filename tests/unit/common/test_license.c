/* test_license.c - tests the license (SPEC §3.3): pack/seal/open, strict parse, the decision, domains. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/sha.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/license.h"
#include "mpedit.h"
#include "testutil.h"

/* ---- re-packing a body with one edit (mpedit.h): the substituters of this file ---- */

/* n distinct strings "prefix<i>" */
typedef struct {
  const char *prefix;
  size_t n;
} strarr;
static void s_strarr(msgpack_packer *pk, const void *a) {
  const strarr *x = a;
  msgpack_pack_array(pk, x->n);
  for (size_t i = 0; i < x->n; i++) {
    char b[160];
    snprintf(b, sizeof b, "%s%zu", x->prefix, i);
    tu_s_str(pk, b);
  }
}
typedef struct {
  const int64_t *v;
  size_t n;
} intarr;
static void s_intarr(msgpack_packer *pk, const void *a) {
  const intarr *x = a;
  msgpack_pack_array(pk, x->n);
  for (size_t i = 0; i < x->n; i++)
    msgpack_pack_int64(pk, x->v[i]);
}
static void s_one_str_list(msgpack_packer *pk, const void *a) {
  msgpack_pack_array(pk, 1);
  tu_s_str(pk, a);
}

/* ---- sample licenses ---- */

#define T2026 1767225600 /* 2026-01-01 */
#define T2027 1798761600 /* 2027-01-01 */

static const uint8_t MAC_A[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x3f};
static const uint8_t MAC_B[6] = {0x00, 0x1b, 0x21, 0xab, 0xcd, 0xef};

static void mac_hash(const uint8_t mac[6], uint8_t out[16]) {
  uint8_t msg[20], h[32];
  memcpy(msg, "licsrv mac v1", 14); /* with the NUL */
  memcpy(msg + 14, mac, 6);
  SHA256(msg, sizeof msg, h);
  memcpy(out, h, 16);
}

static void add(lic_strlist *l, const char *s) { assert_int_equal(lic_strlist_add(l, s), LIC_OK); }

static void mk_license(lic_license *l, lic_mode mode) {
  memset(l, 0, sizeof *l);
  for (int i = 0; i < LIC_ID_LEN; i++) {
    l->id[i] = (uint8_t)(i + 1);
    l->project_id[i] = (uint8_t)(0xa0 + i);
  }
  l->mode = mode;
  l->issued = T2026 - 86400;
  l->not_before = T2026;
  l->expires = T2027;
  l->customer = strdup("Example Customer GmbH");
  l->project = strdup("Project X");
  l->product = strdup("licsrv-report");
  l->major = 11;
  add(&l->features, "export");
  add(&l->features, "pdf");
  add(&l->domains, "reports.example.com");
  add(&l->domains, "*.example.org");
  l->ports = malloc(2 * sizeof *l->ports);
  l->ports[0] = 443;
  l->ports[1] = 8443;
  l->nports = 2;
  add(&l->apps, "sales");
  add(&l->apps, "hr");
  l->max_nodes = mode == LIC_MODE_PRIVATE ? 3 : 0;
  if (mode != LIC_MODE_PUBLIC) {
    l->has_machine = true;
    snprintf(l->machine_code, sizeof l->machine_code, "0123-4567-89AB-CDEF");
    l->macs = malloc(2 * LIC_MAC_HASH_LEN);
    mac_hash(MAC_A, l->macs);
    mac_hash(MAC_B, l->macs + LIC_MAC_HASH_LEN);
    l->nmacs = 2;
  }
  if (mode == LIC_MODE_PRIVATE) {
    l->has_node_key = true;
    for (int i = 0; i < 32; i++)
      l->node_key[i] = (uint8_t)(0x40 + i);
  }
  l->heartbeat = LIC_DEFAULT_HEARTBEAT;
  l->grace = LIC_DEFAULT_GRACE;
  for (int i = 0; i < 32; i++)
    l->rif[i] = (uint8_t)(0xf0 ^ i);
}

static void pack(const lic_license *l, uint8_t **body, size_t *len) {
  int rc = lic_license_pack(l, body, len);
  if (rc != LIC_OK)
    fail_msg("pack: %s", lic_errfull(rc));
}

static void assert_same(const lic_license *a, const lic_license *b) {
  assert_memory_equal(a->id, b->id, LIC_ID_LEN);
  assert_int_equal(a->mode, b->mode);
  assert_int_equal(a->issued, b->issued);
  assert_int_equal(a->not_before, b->not_before);
  assert_int_equal(a->expires, b->expires);
  assert_string_equal(a->customer, b->customer);
  assert_string_equal(a->project, b->project);
  assert_string_equal(a->product, b->product);
  assert_memory_equal(a->project_id, b->project_id, LIC_ID_LEN);
  assert_int_equal(a->major, b->major);
  assert_int_equal(a->features.n, b->features.n);
  for (size_t i = 0; i < a->features.n; i++)
    assert_string_equal(a->features.v[i], b->features.v[i]);
  assert_int_equal(a->domains.n, b->domains.n);
  for (size_t i = 0; i < a->domains.n; i++)
    assert_string_equal(a->domains.v[i], b->domains.v[i]);
  assert_int_equal(a->apps.n, b->apps.n);
  for (size_t i = 0; i < a->apps.n; i++)
    assert_string_equal(a->apps.v[i], b->apps.v[i]);
  assert_int_equal(a->nports, b->nports);
  for (size_t i = 0; i < a->nports; i++)
    assert_int_equal(a->ports[i], b->ports[i]);
  assert_int_equal(a->max_nodes, b->max_nodes);
  assert_int_equal(a->has_machine, b->has_machine);
  if (a->has_machine) {
    assert_string_equal(a->machine_code, b->machine_code);
    assert_int_equal(a->nmacs, b->nmacs);
    assert_memory_equal(a->macs, b->macs, a->nmacs * LIC_MAC_HASH_LEN);
  }
  assert_int_equal(a->has_node_key, b->has_node_key);
  if (a->has_node_key)
    assert_memory_equal(a->node_key, b->node_key, 32);
  assert_int_equal(a->heartbeat, b->heartbeat);
  assert_int_equal(a->grace, b->grace);
  assert_memory_equal(a->rif, b->rif, 32);
}

/* ---- pack, seal, open ---- */

static void test_pack_seal_open_every_mode(void **state) {
  (void)state;
  lic_key *root = tu_test_root_key();
  lic_trust t, empty;
  lic_trust_init(&t);
  lic_trust_init(&empty);
  assert_int_equal(lic_trust_add_raw(&t, lic_key_raw_public(root)), LIC_OK);
  for (int mode = 0; mode < 3; mode++) {
    lic_license l, out;
    uint8_t *body = NULL, *env = NULL;
    size_t blen = 0, elen = 0;
    mk_license(&l, (lic_mode)mode);
    pack(&l, &body, &blen);
    /* Any MessagePack reader sees one complete map. */
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, (const char *)body, blen, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, blen);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(u.data.via.map.size, 19 + (mode != 2) + (mode == 1));
    msgpack_unpacked_destroy(&u);

    assert_int_equal(lic_license_parse(body, blen, &out), LIC_OK);
    assert_same(&l, &out);
    lic_license_clear(&out);
    assert_int_equal(lic_envelope_seal("license", body, blen, root, &env, &elen), LIC_OK);
    assert_int_equal(lic_license_open(env, elen, &t, &out), LIC_OK);
    assert_same(&l, &out);
    lic_license_clear(&out);
    assert_int_equal(lic_license_open(env, elen, &empty, &out), LIC_UNTRUSTED);
    env[elen - 1] ^= 1; /* the last byte of the signature */
    assert_int_equal(lic_license_open(env, elen, &t, &out), LIC_SIGNATURE);
    free(env);
    /* A rif-typed envelope around a license body. */
    assert_int_equal(lic_envelope_seal("rif", body, blen, root, &env, &elen), LIC_OK);
    assert_int_equal(lic_license_open(env, elen, &t, &out), LIC_TYPE);
    free(env);
    free(body);
    lic_license_clear(&l);
  }
  lic_key_free(root);
}

static void test_license_load_file(void **state) {
  (void)state;
  lic_key *root = tu_test_root_key();
  lic_trust t;
  lic_trust_init(&t);
  assert_int_equal(lic_trust_add_raw(&t, lic_key_raw_public(root)), LIC_OK);
  lic_license l, out;
  uint8_t *body = NULL, *env = NULL, *got = NULL;
  size_t blen = 0, elen = 0, glen = 0, alen = 0;
  char *arm = NULL, path[600];
  char *dir = tu_tmpdir();
  mk_license(&l, LIC_MODE_LOCAL);
  pack(&l, &body, &blen);
  assert_int_equal(lic_envelope_seal("license", body, blen, root, &env, &elen), LIC_OK);
  assert_int_equal(lic_armor_encode("license", "customer: Example", env, elen, &arm, &alen), LIC_OK);
  snprintf(path, sizeof path, "%s/x.lic", dir);
  assert_int_equal(lic_file_write(path, arm, alen, 0644, 0), LIC_OK);
  assert_int_equal(lic_license_load(path, &t, &out, &got, &glen), LIC_OK);
  assert_same(&l, &out);
  assert_int_equal(glen, elen);
  assert_memory_equal(got, env, elen);
  lic_license_clear(&out);
  free(got);
  assert_int_equal(lic_license_load(path, &t, &out, NULL, NULL), LIC_OK);
  lic_license_clear(&out);
  snprintf(path, sizeof path, "%s/missing.lic", dir);
  assert_int_equal(lic_license_load(path, &t, &out, &got, &glen), LIC_NOTFOUND);
  assert_null(got);
  tu_rmtree(dir);
  free(dir);
  free(arm);
  free(env);
  free(body);
  lic_license_clear(&l);
  lic_key_free(root);
}

/* ---- strict parse ---- */

typedef struct {
  const char *path;
  tu_subst_fn fn;
  const void *arg;
  int rc; /* expected, exactly */
} lcase;

static void run_cases(lic_mode mode, const lcase *cases, size_t n) {
  lic_license l, out;
  uint8_t *body = NULL;
  size_t blen = 0;
  mk_license(&l, mode);
  pack(&l, &body, &blen);
  for (size_t i = 0; i < n; i++) {
    msgpack_sbuffer sb;
    tu_mp_edit(body, blen, cases[i].path, cases[i].fn, cases[i].arg, &sb);
    int rc = lic_license_parse((uint8_t *)sb.data, sb.size, &out);
    if (rc != cases[i].rc)
      fail_msg("%s license, case %zu (%s): got %s (%s), expected %s", lic_mode_name(mode), i,
               cases[i].path, lic_errname(rc), lic_errdetail(), lic_errname(cases[i].rc));
    if (rc != LIC_OK)
      assert_null(out.customer);
    lic_license_clear(&out);
    msgpack_sbuffer_destroy(&sb);
  }
  free(body);
  lic_license_clear(&l);
}

static void test_parse_missing_keys(void **state) {
  (void)state;
  static const char *const req[] = {"typ",     "id",       "mode",     "issued",    "not_before",
                                    "expires", "customer", "project",  "project_id", "product",
                                    "major",   "features", "domains",  "ports",     "apps",
                                    "max_nodes", "heartbeat", "grace", "rif"};
  lcase c[sizeof req / sizeof req[0]];
  for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
    c[i] = (lcase){req[i], NULL, NULL, LIC_NOTFOUND};
  run_cases(LIC_MODE_PUBLIC, c, sizeof c / sizeof c[0]);
  run_cases(LIC_MODE_PRIVATE, c, sizeof c / sizeof c[0]);
  static const lcase mc[] = {
      {"machine.code", NULL, NULL, LIC_NOTFOUND},
      {"machine.macs", NULL, NULL, LIC_NOTFOUND},
  };
  run_cases(LIC_MODE_LOCAL, mc, 2);
}

static void test_parse_wrong_types(void **state) {
  (void)state;
  static const int64_t one = 1;
  static const uint8_t z[40] = {0};
  static const tu_binarg b15 = {z, 15}, b17 = {z, 17}, b31 = {z, 31}, b33 = {z, 33};
  static const lcase c[] = {
      {"customer", tu_s_int, &one, LIC_FORMAT},
      {"project", tu_s_bin, &b15, LIC_FORMAT},
      {"issued", tu_s_str, "2026-01-01", LIC_FORMAT},
      {"expires", tu_s_str, "never", LIC_FORMAT},
      {"major", tu_s_str, "11", LIC_FORMAT},
      {"features", tu_s_str, "export", LIC_FORMAT},
      {"features", tu_s_int, &one, LIC_FORMAT},
      {"domains", tu_s_str, "example.com", LIC_FORMAT},
      {"ports", tu_s_int, &one, LIC_FORMAT},
      {"apps", tu_s_bin, &b15, LIC_FORMAT},
      {"id", tu_s_bin, &b15, LIC_FORMAT},
      {"id", tu_s_bin, &b17, LIC_FORMAT},
      {"id", tu_s_str, "01020304-0506-0708-090a-0b0c0d0e0f10", LIC_FORMAT},
      {"project_id", tu_s_bin, &b17, LIC_FORMAT},
      {"rif", tu_s_bin, &b31, LIC_FORMAT},
      {"rif", tu_s_bin, &b33, LIC_FORMAT},
      {"node_key", tu_s_bin, &b31, LIC_FORMAT},
      {"mode", tu_s_str, "cloud", LIC_FORMAT},
      {"mode", tu_s_str, "Private", LIC_FORMAT},
      {"mode", tu_s_int, &one, LIC_FORMAT},
      {"typ", tu_s_str, "rif", LIC_TYPE},
      {"machine", tu_s_str, "0123-4567-89AB-CDEF", LIC_FORMAT},
      {"machine.code", tu_s_str, "0123-4567-89ab-cdef", LIC_FORMAT},
      {"machine.code", tu_s_str, "0123456789ABCDEF", LIC_LIMIT},
      {"machine.macs", tu_s_bin, &b15, LIC_FORMAT},
      {"supersedes", tu_s_bin, &b15, LIC_FORMAT},
      {"supersedes", tu_s_bin, &b17, LIC_FORMAT},
      {"supersedes", tu_s_str, "01020304-0506-0708-090a-0b0c0d0e0f10", LIC_FORMAT},
      {"supersedes", tu_s_int, &one, LIC_FORMAT},
  };
  run_cases(LIC_MODE_PRIVATE, c, sizeof c / sizeof c[0]);
  /* features entry of the wrong type */
  static const int64_t twoints[] = {1, 2};
  static const intarr ints = {twoints, 2};
  static const lcase c2[] = {{"features", s_intarr, &ints, LIC_FORMAT},
                             {"apps", s_intarr, &ints, LIC_FORMAT}};
  run_cases(LIC_MODE_PUBLIC, c2, 2);
}

static void test_parse_ranges(void **state) {
  (void)state;
  static const int64_t p0[] = {0}, p70000[] = {70000}, pneg[] = {-443}, p65535[] = {1, 65535},
                       p65536[] = {443, 65536};
  static const intarr a0 = {p0, 1}, a70000 = {p70000, 1}, aneg = {pneg, 1}, amax = {p65535, 2},
                      a65536 = {p65536, 2};
  static const strarr f256 = {"feature", 256}, f257 = {"feature", 257}, d257 = {"h", 257};
  static const int64_t neg = -1, hb0 = 0, hb1 = 1, hb59 = 59, hb60 = 60,
                       hb_big = 30 * 86400 + 1, nb = T2027 + 1, zero = 0,
                       big_major = (int64_t)INT32_MAX + 1;
  char n128[129], n129[130];
  memset(n128, 'c', 128);
  n128[128] = '\0';
  memset(n129, 'c', 129);
  n129[129] = '\0';
  const lcase c[] = {
      {"ports", s_intarr, &a0, LIC_LIMIT},
      {"ports", s_intarr, &a70000, LIC_LIMIT},
      {"ports", s_intarr, &aneg, LIC_LIMIT},
      {"ports", s_intarr, &a65536, LIC_LIMIT},
      {"ports", s_intarr, &amax, LIC_OK},
      {"features", s_strarr, &f256, LIC_OK},
      {"features", s_strarr, &f257, LIC_LIMIT},
      {"apps", s_strarr, &f257, LIC_LIMIT},
      {"domains", s_strarr, &d257, LIC_LIMIT},
      {"features", s_one_str_list, "", LIC_LIMIT},
      {"features", s_one_str_list, "ctl\x01", LIC_FORMAT},
      {"apps", s_one_str_list, "new\nline", LIC_FORMAT},
      {"customer", tu_s_str, n128, LIC_OK},
      {"customer", tu_s_str, n129, LIC_LIMIT},
      {"customer", tu_s_str, "", LIC_LIMIT},
      {"customer", tu_s_str, "bad \xed\xa0\x80", LIC_FORMAT},
      {"issued", tu_s_int, &neg, LIC_LIMIT},
      {"not_before", tu_s_int, &neg, LIC_LIMIT},
      {"max_nodes", tu_s_int, &neg, LIC_LIMIT},
      {"major", tu_s_int, &neg, LIC_LIMIT},
      {"major", tu_s_int, &big_major, LIC_LIMIT},
      {"heartbeat", tu_s_int, &hb0, LIC_LIMIT},
      {"heartbeat", tu_s_int, &hb1, LIC_OK},
      {"heartbeat", tu_s_int, &hb59, LIC_OK},
      {"heartbeat", tu_s_int, &hb60, LIC_OK},
      {"heartbeat", tu_s_int, &hb_big, LIC_LIMIT},
      {"grace", tu_s_int, &hb59, LIC_FORMAT}, /* shorter than the heartbeat (7200) */
      {"grace", tu_s_int, &neg, LIC_LIMIT},
      {"not_before", tu_s_int, &nb, LIC_FORMAT}, /* expires < not_before */
      {"expires", tu_s_int, &zero, LIC_OK},      /* perpetual */
      {"domains", s_one_str_list, "*.com", LIC_FORMAT},
      {"domains", s_one_str_list, "a..example.com", LIC_FORMAT},
      {"domains", s_one_str_list, "exa mple.com", LIC_FORMAT},
      {"domains", s_one_str_list, "", LIC_LIMIT},
      {"newfield", tu_s_str, "unknown keys are ignored", LIC_OK},
  };
  run_cases(LIC_MODE_PUBLIC, c, sizeof c / sizeof c[0]);
}

static void test_parse_mode_consistency(void **state) {
  (void)state;
  static const lcase priv[] = {
      {"node_key", NULL, NULL, LIC_FORMAT},
      {"machine", NULL, NULL, LIC_FORMAT},
  };
  run_cases(LIC_MODE_PRIVATE, priv, 2);
  static const intarr none = {NULL, 0};
  static const lcase local[] = {
      {"machine", NULL, NULL, LIC_FORMAT},
      {"machine.macs", s_intarr, &none, LIC_FORMAT}, /* no MAC bound */
      {"node_key", tu_s_str, "", LIC_FORMAT},           /* present, wrong type */
  };
  run_cases(LIC_MODE_LOCAL, local, 3);
  /* Public needs neither. */
  static const lcase pub[] = {{"machine", NULL, NULL, LIC_OK}, {"node_key", NULL, NULL, LIC_OK}};
  run_cases(LIC_MODE_PUBLIC, pub, 2);
}

static void test_parse_truncations(void **state) {
  (void)state;
  lic_license l, out;
  uint8_t *body = NULL;
  size_t blen = 0;
  mk_license(&l, LIC_MODE_PRIVATE);
  pack(&l, &body, &blen);
  for (size_t n = 0; n < blen; n++) {
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, body, n);
    assert_int_not_equal(lic_license_parse(c, n, &out), LIC_OK);
    free(c);
  }
  uint8_t *c = malloc(blen + 1);
  memcpy(c, body, blen);
  c[blen] = 0xc0;
  assert_int_equal(lic_license_parse(c, blen + 1, &out), LIC_FORMAT);
  free(c);
  free(body);
  lic_license_clear(&l);
}

/* ---- the decision ---- */

static lic_check_req good_req(void) {
  return (lic_check_req){"reports.example.com", 443, "sales", 11};
}

static lic_status decide(const lic_license *l, lic_check_req q, int64_t now) {
  char reason[200] = "";
  lic_status s = lic_license_decide(l, &q, now, reason, sizeof reason);
  assert_true(reason[0] != '\0');
  return s;
}

static void test_decide_each_status(void **state) {
  (void)state;
  lic_license l;
  mk_license(&l, LIC_MODE_PUBLIC);
  const int64_t now = T2026 + 1000;
  lic_check_req q = good_req();
  assert_int_equal(decide(&l, q, now), LIC_STATUS_VALID);
  /* Time window. */
  assert_int_equal(decide(&l, q, T2026 - 1), LIC_STATUS_NOT_YET_VALID);
  assert_int_equal(decide(&l, q, T2026), LIC_STATUS_VALID);
  assert_int_equal(decide(&l, q, T2027 - 1), LIC_STATUS_VALID);
  assert_int_equal(decide(&l, q, T2027 + 1), LIC_STATUS_EXPIRED);
  l.expires = 0; /* perpetual */
  assert_int_equal(decide(&l, q, (int64_t)4102444800), LIC_STATUS_VALID); /* 2100 */
  l.expires = T2027;
  /* Version. */
  q.major = 10;
  assert_int_equal(decide(&l, q, now), LIC_STATUS_VERSION_DENIED);
  q.major = 12;
  assert_int_equal(decide(&l, q, now), LIC_STATUS_VERSION_DENIED);
  q.major = -1; /* not given while the license names a major */
  assert_int_equal(decide(&l, q, now), LIC_STATUS_VERSION_DENIED);
  l.major = 0; /* any version */
  assert_int_equal(decide(&l, q, now), LIC_STATUS_VALID);
  q.major = 99;
  assert_int_equal(decide(&l, q, now), LIC_STATUS_VALID);
  l.major = 11;
  q = good_req();
  /* Domain. */
  q.domain = "evil.example.net";
  assert_int_equal(decide(&l, q, now), LIC_STATUS_DOMAIN_DENIED);
  q.domain = "a.example.org";
  assert_int_equal(decide(&l, q, now), LIC_STATUS_VALID);
  q.domain = "REPORTS.Example.COM.";
  assert_int_equal(decide(&l, q, now), LIC_STATUS_VALID);
  q.domain = "example.org";
  assert_int_equal(decide(&l, q, now), LIC_STATUS_DOMAIN_DENIED);
  q = good_req();
  /* Port. */
  q.port = 80;
  assert_int_equal(decide(&l, q, now), LIC_STATUS_PORT_DENIED);
  q.port = 8443;
  assert_int_equal(decide(&l, q, now), LIC_STATUS_VALID);
  q = good_req();
  /* App. */
  q.app = "finance";
  assert_int_equal(decide(&l, q, now), LIC_STATUS_APP_DENIED);
  q.app = "Sales"; /* app names are exact */
  assert_int_equal(decide(&l, q, now), LIC_STATUS_APP_DENIED);
  q.app = NULL; /* not given while apps are restricted */
  assert_int_equal(decide(&l, q, now), LIC_STATUS_APP_DENIED);
  q.app = "hr";
  assert_int_equal(decide(&l, q, now), LIC_STATUS_VALID);
  lic_license_clear(&l);
}

static void test_decide_empty_lists_mean_any(void **state) {
  (void)state;
  lic_license l;
  mk_license(&l, LIC_MODE_PUBLIC);
  lic_strlist_free(&l.domains);
  lic_strlist_free(&l.apps);
  free(l.ports);
  l.ports = NULL;
  l.nports = 0;
  lic_check_req q = {"anything.invalid", 1, NULL, 11};
  assert_int_equal(decide(&l, q, T2026 + 5), LIC_STATUS_VALID);
  q.app = "whatever";
  q.port = 65535;
  assert_int_equal(decide(&l, q, T2026 + 5), LIC_STATUS_VALID);
  lic_license_clear(&l);
}

static void test_decide_order(void **state) {
  (void)state;
  lic_license l;
  mk_license(&l, LIC_MODE_PUBLIC);
  lic_check_req all_bad = {"evil.example.net", 80, "finance", 10};
  lic_check_req q;
  /* SPEC order: time, version, domain, port, app. */
  assert_int_equal(decide(&l, all_bad, T2026 - 1), LIC_STATUS_NOT_YET_VALID);
  assert_int_equal(decide(&l, all_bad, T2027 + 10), LIC_STATUS_EXPIRED);
  assert_int_equal(decide(&l, all_bad, T2026 + 5), LIC_STATUS_VERSION_DENIED);
  q = all_bad;
  q.major = 11;
  assert_int_equal(decide(&l, q, T2026 + 5), LIC_STATUS_DOMAIN_DENIED);
  q.domain = "reports.example.com";
  assert_int_equal(decide(&l, q, T2026 + 5), LIC_STATUS_PORT_DENIED);
  q.port = 443;
  assert_int_equal(decide(&l, q, T2026 + 5), LIC_STATUS_APP_DENIED);
  q.app = "sales";
  assert_int_equal(decide(&l, q, T2026 + 5), LIC_STATUS_VALID);
  /* Expired AND bad domain -> expired. */
  q = good_req();
  q.domain = "evil.example.net";
  assert_int_equal(decide(&l, q, T2027 + 10), LIC_STATUS_EXPIRED);
  /* The reason names the date for time statuses. */
  char reason[200];
  lic_license_decide(&l, &q, T2027 + 10, reason, sizeof reason);
  assert_non_null(strstr(reason, "2027-01-01"));
  lic_license_decide(&l, &q, T2026 - 10, reason, sizeof reason);
  assert_non_null(strstr(reason, "2026-01-01"));
  /* A tiny reason buffer is not overrun. */
  char tiny[4] = {'x', 'x', 'x', 'x'};
  lic_license_decide(&l, &q, T2027 + 10, tiny, 3);
  assert_int_equal(tiny[2], '\0');
  assert_int_equal(tiny[3], 'x');
  lic_license_clear(&l);
}

static void test_check_local(void **state) {
  (void)state;
  lic_license l;
  lic_machine m;
  mk_license(&l, LIC_MODE_LOCAL);
  memset(&m, 0, sizeof m);
  snprintf(m.code, sizeof m.code, "0123-4567-89AB-CDEF");
  mac_hash(MAC_B, m.mac_hash[0]);
  m.nmacs = 1;
  lic_check_req q = good_req();
  char reason[200];
  assert_int_equal(lic_license_check_local(&l, &m, &q, T2026 + 5, reason, sizeof reason),
                   LIC_STATUS_VALID);
  /* The right machine: then the terms decide. */
  assert_int_equal(lic_license_check_local(&l, &m, &q, T2027 + 5, reason, sizeof reason),
                   LIC_STATUS_EXPIRED);
  /* The machine comes first, even before time. */
  snprintf(m.code, sizeof m.code, "0123-4567-89AB-CDEG");
  assert_int_equal(lic_license_check_local(&l, &m, &q, T2026 + 5, reason, sizeof reason),
                   LIC_STATUS_MACHINE_MISMATCH);
  assert_int_equal(lic_license_check_local(&l, &m, &q, T2027 + 5, reason, sizeof reason),
                   LIC_STATUS_MACHINE_MISMATCH);
  assert_non_null(strstr(reason, "0123-4567-89AB-CDEG"));
  snprintf(m.code, sizeof m.code, "0123-4567-89AB-CDEF");
  static const uint8_t other[6] = {0xa0, 0x36, 0x9f, 1, 2, 3};
  mac_hash(other, m.mac_hash[0]);
  assert_int_equal(lic_license_check_local(&l, &m, &q, T2026 + 5, reason, sizeof reason),
                   LIC_STATUS_MACHINE_MISMATCH);
  /* A public license has no machine: never a local match. */
  lic_license p;
  mk_license(&p, LIC_MODE_PUBLIC);
  mac_hash(MAC_A, m.mac_hash[0]);
  assert_int_equal(lic_license_check_local(&p, &m, &q, T2026 + 5, reason, sizeof reason),
                   LIC_STATUS_MACHINE_MISMATCH);
  lic_license_clear(&p);
  lic_license_clear(&l);
}

/* ---- domains ---- */

static void test_domain_match(void **state) {
  (void)state;
  assert_true(lic_domain_match("example.com", "example.com"));
  assert_true(lic_domain_match("example.com", "EXAMPLE.com"));
  assert_true(lic_domain_match("Example.COM", "example.com"));
  assert_true(lic_domain_match("example.com", "example.com."));
  assert_true(lic_domain_match("example.com.", "example.com"));
  assert_true(lic_domain_match("example.com.", "example.com."));
  assert_false(lic_domain_match("example.com", "www.example.com"));
  assert_false(lic_domain_match("example.com", "example.co"));
  assert_false(lic_domain_match("example.com", "example.com.au"));
  assert_false(lic_domain_match("example.com", "notexample.com"));
  assert_false(lic_domain_match("example.com", ""));
  assert_false(lic_domain_match("example.com", "."));
  assert_true(lic_domain_match("*.example.com", "a.example.com"));
  assert_true(lic_domain_match("*.example.com", "A.EXAMPLE.COM"));
  assert_true(lic_domain_match("*.example.com", "a.example.com."));
  assert_true(lic_domain_match("*.example.com.", "reports-1.example.com"));
  assert_false(lic_domain_match("*.example.com", "example.com"));
  assert_false(lic_domain_match("*.example.com", ".example.com"));
  assert_false(lic_domain_match("*.example.com", "a.b.example.com"));
  assert_false(lic_domain_match("*.example.com", "aexample.com"));
  assert_false(lic_domain_match("*.example.com", "a.example.com.evil.net"));
  assert_false(lic_domain_match("*.example.com", "a.example.org"));
}

static void test_domain_check(void **state) {
  (void)state;
  assert_int_equal(lic_domain_check("example.com", false), LIC_OK);
  assert_int_equal(lic_domain_check("example.com.", false), LIC_OK);
  assert_int_equal(lic_domain_check("localhost", false), LIC_OK);
  assert_int_equal(lic_domain_check("xn--bcher-kva.example", false), LIC_OK);
  assert_int_equal(lic_domain_check("*.example.com", true), LIC_OK);
  assert_int_equal(lic_domain_check("*.example.com.", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("*.example.com", false), LIC_OK);
  assert_int_not_equal(lic_domain_check("*", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("*.", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("*.com", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("*.com.", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("a.*.com", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("**.x.com", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("*.*.x.com", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("a*.x.com", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("", true), LIC_OK);
  assert_int_not_equal(lic_domain_check(".", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("a..b", true), LIC_OK);
  assert_int_not_equal(lic_domain_check(".a.b", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("a.b..", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("a b.com", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("a/b.com", true), LIC_OK);
  assert_int_not_equal(lic_domain_check("caf\xc3\xa9.com", true), LIC_OK);
  /* Labels: 63 bytes fine, 64 not. */
  char d[300];
  memset(d, 'a', 63);
  snprintf(d + 63, sizeof d - 63, ".com");
  assert_int_equal(lic_domain_check(d, false), LIC_OK);
  memset(d, 'a', 64);
  snprintf(d + 64, sizeof d - 64, ".com");
  assert_int_not_equal(lic_domain_check(d, false), LIC_OK);
  snprintf(d, sizeof d, "com.");
  memset(d + 4, 'b', 64);
  d[68] = '\0';
  assert_int_not_equal(lic_domain_check(d, false), LIC_OK);
  /* Whole name: 253 bytes fine, 254 not (labels of 63 + dots). */
  size_t k = 0;
  for (int i = 0; i < 3; i++) {
    memset(d + k, 'c', 63);
    k += 63;
    d[k++] = '.';
  }
  memset(d + k, 'c', 253 - k);
  d[253] = '\0';
  assert_int_equal(strlen(d), 253);
  assert_int_equal(lic_domain_check(d, false), LIC_OK);
  d[253] = 'c';
  d[254] = '\0';
  assert_int_not_equal(lic_domain_check(d, false), LIC_OK);
}

/* ---- lineage: supersedes and the binding a successor keeps ---- */

static void test_supersedes_round_trip(void **state) {
  (void)state;
  lic_license l, out;
  uint8_t *body = NULL;
  size_t blen = 0;
  mk_license(&l, LIC_MODE_PRIVATE);
  pack(&l, &body, &blen);
  assert_int_equal(lic_license_parse(body, blen, &out), LIC_OK);
  assert_false(out.has_supersedes); /* optional: absent in a first license */
  lic_license_clear(&out);
  free(body);
  l.has_supersedes = true;
  memset(l.supersedes, 0x77, LIC_ID_LEN);
  pack(&l, &body, &blen);
  assert_int_equal(lic_license_parse(body, blen, &out), LIC_OK);
  assert_same(&l, &out);
  assert_true(out.has_supersedes);
  assert_memory_equal(out.supersedes, l.supersedes, LIC_ID_LEN);
  lic_license_clear(&out);
  free(body);
  /* a license naming itself would make a lineage a loop */
  memcpy(l.supersedes, l.id, LIC_ID_LEN);
  pack(&l, &body, &blen);
  assert_int_equal(lic_license_parse(body, blen, &out), LIC_FORMAT);
  assert_non_null(strstr(lic_errdetail(), "supersede itself"));
  free(body);
  lic_license_clear(&l);
}

static void test_binding_diff(void **state) {
  (void)state;
  lic_license a, b;
  mk_license(&a, LIC_MODE_PRIVATE);
  mk_license(&b, LIC_MODE_PRIVATE);
  assert_null(lic_license_binding_diff(&a, &b));
  /* new terms keep the binding */
  b.expires = T2027 + 365 * 86400;
  b.max_nodes = 10;
  b.major = 12;
  add(&b.features, "charts");
  b.id[0] ^= 1;
  assert_null(lic_license_binding_diff(&a, &b));
  /* each bound field, one at a time, is named */
  b.macs[3] ^= 1;
  assert_string_equal(lic_license_binding_diff(&a, &b), "machine MACs");
  b.macs[3] ^= 1;
  b.machine_code[0] = '1';
  assert_string_equal(lic_license_binding_diff(&a, &b), "machine code");
  b.machine_code[0] = '0';
  b.node_key[5] ^= 1;
  assert_string_equal(lic_license_binding_diff(&a, &b), "node_key");
  b.node_key[5] ^= 1;
  free(b.customer);
  b.customer = strdup("Other Customer");
  assert_string_equal(lic_license_binding_diff(&a, &b), "customer");
  free(b.customer);
  b.customer = strdup(a.customer);
  b.project_id[0] ^= 1;
  assert_string_equal(lic_license_binding_diff(&a, &b), "project_id");
  b.project_id[0] ^= 1;
  free(b.product);
  b.product = strdup("licsrv-designer");
  assert_string_equal(lic_license_binding_diff(&a, &b), "product");
  free(b.product);
  b.product = strdup(a.product);
  b.rif[0] ^= 1;
  assert_string_equal(lic_license_binding_diff(&a, &b), "rif");
  b.rif[0] ^= 1;
  b.mode = LIC_MODE_LOCAL;
  assert_string_equal(lic_license_binding_diff(&a, &b), "mode");
  b.mode = LIC_MODE_PRIVATE;
  free(b.project);
  b.project = strdup("Project Y");
  assert_string_equal(lic_license_binding_diff(&a, &b), "project");
  lic_license_clear(&a);
  lic_license_clear(&b);
}

static void test_mode_names(void **state) {
  (void)state;
  assert_string_equal(lic_mode_name(LIC_MODE_LOCAL), "local");
  assert_string_equal(lic_mode_name(LIC_MODE_PRIVATE), "private");
  assert_string_equal(lic_mode_name(LIC_MODE_PUBLIC), "public");
  assert_int_equal(lic_mode_from_name("local"), LIC_MODE_LOCAL);
  assert_int_equal(lic_mode_from_name("private"), LIC_MODE_PRIVATE);
  assert_int_equal(lic_mode_from_name("public"), LIC_MODE_PUBLIC);
  assert_int_equal(lic_mode_from_name("Public"), -1);
  assert_int_equal(lic_mode_from_name(""), -1);
  /* Status names are the wire names of SPEC §3.5. */
  static const char *const names[] = {"valid", "expired", "not_yet_valid", "domain_denied",
                                      "port_denied", "app_denied", "version_denied",
                                      "seats_exhausted", "revoked", "unknown_license",
                                      "not_registered", "capacity_exhausted", "bad_credentials",
                                      "clock_rollback"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    int s = lic_status_from_name(names[i]);
    assert_true(s >= 0);
    assert_string_equal(lic_status_name((lic_status)s), names[i]);
  }
  assert_int_equal(lic_status_from_name("VALID"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pack_seal_open_every_mode),
      cmocka_unit_test(test_license_load_file),
      cmocka_unit_test(test_parse_missing_keys),
      cmocka_unit_test(test_parse_wrong_types),
      cmocka_unit_test(test_parse_ranges),
      cmocka_unit_test(test_parse_mode_consistency),
      cmocka_unit_test(test_parse_truncations),
      cmocka_unit_test(test_decide_each_status),
      cmocka_unit_test(test_decide_empty_lists_mean_any),
      cmocka_unit_test(test_decide_order),
      cmocka_unit_test(test_check_local),
      cmocka_unit_test(test_domain_match),
      cmocka_unit_test(test_domain_check),
      cmocka_unit_test(test_supersedes_round_trip),
      cmocka_unit_test(test_binding_diff),
      cmocka_unit_test(test_mode_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
