/* test_mp.c - tests the bounded MessagePack reader (lic_mp_*) and lic_utf8_valid. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lic/err.h"
#include "lic/mp.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif

#define RD(a) ((lic_mp){(a), sizeof(a)})

/* ---- packing helpers (msgpack-c's packer, an independent encoder) ---- */

typedef struct {
  msgpack_sbuffer sb;
  msgpack_packer pk;
} pkb;

static void pk_init(pkb *b) {
  msgpack_sbuffer_init(&b->sb);
  msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void pk_str(pkb *b, const char *s) {
  size_t n = strlen(s);
  assert_int_equal(msgpack_pack_str(&b->pk, n), 0);
  assert_int_equal(msgpack_pack_str_body(&b->pk, s, n), 0);
}

static void pk_strn(pkb *b, const char *s, size_t n) {
  assert_int_equal(msgpack_pack_str(&b->pk, n), 0);
  assert_int_equal(msgpack_pack_str_body(&b->pk, s, n), 0);
}

static void pk_bin(pkb *b, const void *p, size_t n) {
  assert_int_equal(msgpack_pack_bin(&b->pk, n), 0);
  assert_int_equal(msgpack_pack_bin_body(&b->pk, p, n), 0);
}

static void pk_free(pkb *b) { msgpack_sbuffer_destroy(&b->sb); }

/* Copy into an exactly sized heap block so ASan sees any over-read. */
static uint8_t *dup_exact(const void *p, size_t n) {
  uint8_t *c = malloc(n > 0 ? n : 1);
  assert_non_null(c);
  if (n > 0)
    memcpy(c, p, n);
  return c;
}

/* ---- types ---- */

/* The type of every first byte, from the MessagePack specification's table. */
static lic_mp_type spec_type(unsigned c) {
  if (c <= 0x7f) return LIC_MP_INT;
  if (c <= 0x8f) return LIC_MP_MAP;
  if (c <= 0x9f) return LIC_MP_ARRAY;
  if (c <= 0xbf) return LIC_MP_STR;
  if (c >= 0xe0) return LIC_MP_INT;
  static const lic_mp_type t[0x20] = {
      LIC_MP_NIL,   LIC_MP_INVALID, LIC_MP_BOOL,  LIC_MP_BOOL,  /* c0-c3 */
      LIC_MP_BIN,   LIC_MP_BIN,     LIC_MP_BIN,                 /* c4-c6 */
      LIC_MP_EXT,   LIC_MP_EXT,     LIC_MP_EXT,                 /* c7-c9 */
      LIC_MP_FLOAT, LIC_MP_FLOAT,                               /* ca-cb */
      LIC_MP_INT,   LIC_MP_INT,     LIC_MP_INT,   LIC_MP_INT,   /* cc-cf uint */
      LIC_MP_INT,   LIC_MP_INT,     LIC_MP_INT,   LIC_MP_INT,   /* d0-d3 int */
      LIC_MP_EXT,   LIC_MP_EXT,     LIC_MP_EXT,   LIC_MP_EXT,   LIC_MP_EXT, /* d4-d8 */
      LIC_MP_STR,   LIC_MP_STR,     LIC_MP_STR,                 /* d9-db */
      LIC_MP_ARRAY, LIC_MP_ARRAY,                               /* dc-dd */
      LIC_MP_MAP,   LIC_MP_MAP};                                /* de-df */
  return t[c - 0xc0];
}

static void test_peek_every_byte(void **state) {
  (void)state;
  for (unsigned c = 0; c < 256; c++) {
    uint8_t b = (uint8_t)c;
    lic_mp r = {&b, 1};
    if (lic_mp_peek(&r) != spec_type(c))
      fail_msg("byte 0x%02x: got type %d, expected %d", c, lic_mp_peek(&r), spec_type(c));
  }
  lic_mp empty = {NULL, 0};
  assert_int_equal(lic_mp_peek(&empty), LIC_MP_INVALID);
}

static void test_nil_bool(void **state) {
  (void)state;
  static const uint8_t t[] = {0xc3}, f[] = {0xc2}, nil[] = {0xc0};
  bool v = false;
  lic_mp r = RD(t);
  assert_int_equal(lic_mp_bool(&r, &v), LIC_OK);
  assert_true(v);
  assert_int_equal(r.n, 0);
  r = RD(f);
  assert_int_equal(lic_mp_bool(&r, &v), LIC_OK);
  assert_false(v);
  r = RD(nil);
  assert_int_equal(lic_mp_bool(&r, &v), LIC_FORMAT);
  assert_int_equal(lic_mp_skip(&r, 0), LIC_OK);
  assert_int_equal(r.n, 0);
}

/* ---- integers ---- */

typedef struct {
  uint8_t b[9];
  size_t n;
  int64_t v;
} int_case;

static void test_int_every_width(void **state) {
  (void)state;
  static const int_case cases[] = {
      {{0x00}, 1, 0},
      {{0x7f}, 1, 127},
      {{0xe0}, 1, -32},
      {{0xff}, 1, -1},
      {{0xcc, 0x00}, 2, 0},
      {{0xcc, 0xff}, 2, 255},
      {{0xcd, 0x01, 0x00}, 3, 256},
      {{0xcd, 0xff, 0xff}, 3, 65535},
      {{0xce, 0x00, 0x01, 0x00, 0x00}, 5, 65536},
      {{0xce, 0xff, 0xff, 0xff, 0xff}, 5, 4294967295LL},
      {{0xcf, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}, 9, 4294967296LL},
      {{0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, INT64_MAX},
      {{0xd0, 0x7f}, 2, 127},
      {{0xd0, 0x80}, 2, -128},
      {{0xd0, 0xff}, 2, -1},
      {{0xd1, 0x7f, 0xff}, 3, 32767},
      {{0xd1, 0x80, 0x00}, 3, -32768},
      {{0xd1, 0xff, 0xfe}, 3, -2},
      {{0xd2, 0x7f, 0xff, 0xff, 0xff}, 5, INT32_MAX},
      {{0xd2, 0x80, 0x00, 0x00, 0x00}, 5, INT32_MIN},
      {{0xd2, 0xff, 0xff, 0xff, 0x85}, 5, -123},
      {{0xd3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, 9, INT64_MIN},
      {{0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, -1},
      {{0xd3, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}, 9, 4294967296LL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t *b = dup_exact(cases[i].b, cases[i].n);
    lic_mp r = {b, cases[i].n};
    int64_t v = 12345;
    assert_int_equal(lic_mp_peek(&r), LIC_MP_INT);
    if (lic_mp_int(&r, &v) != LIC_OK || v != cases[i].v)
      fail_msg("case %zu (0x%02x): got %lld", i, cases[i].b[0], (long long)v);
    assert_int_equal(r.n, 0);
    /* Every shorter prefix is truncated. */
    for (size_t k = 1; k < cases[i].n; k++) {
      lic_mp t = {b, k};
      assert_int_equal(lic_mp_int(&t, &v), LIC_FORMAT);
    }
    free(b);
  }
}

static void test_uint64_above_int64_max(void **state) {
  (void)state;
  static const uint8_t big[] = {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};
  static const uint8_t max[] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  int64_t v;
  lic_mp r = RD(big);
  assert_int_equal(lic_mp_int(&r, &v), LIC_LIMIT);
  r = RD(max);
  assert_int_equal(lic_mp_int(&r, &v), LIC_LIMIT);
  /* Skipping it is fine: it is a well-formed value. */
  r = RD(max);
  assert_int_equal(lic_mp_skip(&r, 0), LIC_OK);
  assert_int_equal(r.n, 0);
}

/* msgpack-c's packer picks the shortest encoding; read every one back. */
static void test_int_roundtrip_msgpack_c(void **state) {
  (void)state;
  static const int64_t vals[] = {0,      1,     31,     127,    128,       255,        256,
                                 65535,  65536, -1,     -31,    -32,       -33,        -128,
                                 -129,   -32768, -32769, INT32_MAX, (int64_t)INT32_MAX + 1,
                                 INT32_MIN, (int64_t)INT32_MIN - 1, 4294967295LL, 4294967296LL,
                                 INT64_MAX, INT64_MIN, INT64_MIN + 1};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    pkb b;
    pk_init(&b);
    assert_int_equal(msgpack_pack_int64(&b.pk, vals[i]), 0);
    lic_mp r = {(const uint8_t *)b.sb.data, b.sb.size};
    int64_t v;
    assert_int_equal(lic_mp_int(&r, &v), LIC_OK);
    assert_true(v == vals[i]);
    assert_int_equal(r.n, 0);
    pk_free(&b);
  }
}

static void test_int_wrong_type(void **state) {
  (void)state;
  static const uint8_t s[] = {0xa1, 'x'}, f[] = {0xca, 0, 0, 0, 0};
  int64_t v;
  lic_mp r = RD(s);
  assert_int_equal(lic_mp_int(&r, &v), LIC_FORMAT);
  assert_int_equal(r.n, 2); /* nothing consumed */
  r = RD(f);
  assert_int_equal(lic_mp_int(&r, &v), LIC_FORMAT);
  lic_mp e = {NULL, 0};
  assert_int_equal(lic_mp_int(&e, &v), LIC_FORMAT);
}

/* ---- str / bin ---- */

static void test_str_every_width(void **state) {
  (void)state;
  static const size_t lens[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    size_t n = lens[i];
    char *txt = malloc(n + 1);
    assert_non_null(txt);
    for (size_t k = 0; k < n; k++)
      txt[k] = (char)('a' + k % 26);
    pkb b;
    pk_init(&b);
    pk_strn(&b, txt, n);
    /* Header size per the spec: fixstr 1, str8 2, str16 3, str32 5. */
    size_t hdr = n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
    assert_int_equal(b.sb.size, hdr + n);
    uint8_t *buf = dup_exact(b.sb.data, b.sb.size);
    lic_mp r = {buf, b.sb.size};
    const char *s;
    size_t len;
    assert_int_equal(lic_mp_peek(&r), LIC_MP_STR);
    assert_int_equal(lic_mp_str(&r, &s, &len), LIC_OK);
    assert_int_equal(len, n);
    assert_true(n == 0 || memcmp(s, txt, n) == 0);
    assert_int_equal(r.n, 0);
    /* Truncated by one byte and with a header only. */
    lic_mp t = {buf, b.sb.size - 1};
    if (n > 0)
      assert_int_equal(lic_mp_str(&t, &s, &len), LIC_FORMAT);
    t = (lic_mp){buf, hdr - 1};
    if (hdr > 1)
      assert_int_equal(lic_mp_str(&t, &s, &len), LIC_FORMAT);
    /* Skipping consumes exactly the value. */
    r = (lic_mp){buf, b.sb.size};
    assert_int_equal(lic_mp_skip(&r, 0), LIC_OK);
    assert_int_equal(r.n, 0);
    free(buf);
    free(txt);
    pk_free(&b);
  }
}

static void test_bin_every_width(void **state) {
  (void)state;
  static const size_t lens[] = {0, 1, 255, 256, 65535, 65536};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    size_t n = lens[i];
    uint8_t *data = malloc(n + 1);
    assert_non_null(data);
    for (size_t k = 0; k < n; k++)
      data[k] = (uint8_t)(k * 7);
    pkb b;
    pk_init(&b);
    pk_bin(&b, data, n);
    size_t hdr = n < 256 ? 2 : n < 65536 ? 3 : 5;
    assert_int_equal(b.sb.size, hdr + n);
    uint8_t *buf = dup_exact(b.sb.data, b.sb.size);
    lic_mp r = {buf, b.sb.size};
    const uint8_t *p;
    size_t len;
    assert_int_equal(lic_mp_peek(&r), LIC_MP_BIN);
    assert_int_equal(lic_mp_bin(&r, &p, &len), LIC_OK);
    assert_int_equal(len, n);
    assert_true(n == 0 || memcmp(p, data, n) == 0);
    assert_int_equal(r.n, 0);
    /* The interesting prefixes: the short ones and the last few. */
    for (size_t k = 0; k < b.sb.size; k = (k == 64 && b.sb.size > 80) ? b.sb.size - 8 : k + 1) {
      lic_mp t = {buf, k};
      assert_int_equal(lic_mp_bin(&t, &p, &len), LIC_FORMAT);
    }
    free(buf);
    free(data);
    pk_free(&b);
  }
}

static void test_str_bin_type_confusion(void **state) {
  (void)state;
  static const uint8_t bin[] = {0xc4, 0x01, 'x'}, str[] = {0xa1, 'x'};
  const char *s;
  const uint8_t *p;
  size_t len;
  lic_mp r = RD(bin);
  assert_int_equal(lic_mp_str(&r, &s, &len), LIC_FORMAT);
  r = RD(str);
  assert_int_equal(lic_mp_bin(&r, &p, &len), LIC_FORMAT);
}

/* ---- skipping floats, ext, containers ---- */

static void test_skip_float_ext(void **state) {
  (void)state;
  static const struct {
    uint8_t b[24];
    size_t n;
  } vals[] = {
      {{0xca, 0x3f, 0x80, 0x00, 0x00}, 5},                         /* float32 1.0 */
      {{0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}, 9},                   /* float64 1.0 */
      {{0xd4, 0x01, 0xaa}, 3},                                     /* fixext 1 */
      {{0xd5, 0x01, 0xaa, 0xbb}, 4},                               /* fixext 2 */
      {{0xd6, 0x01, 1, 2, 3, 4}, 6},                               /* fixext 4 */
      {{0xd7, 0xff, 1, 2, 3, 4, 5, 6, 7, 8}, 10},                  /* fixext 8 (timestamp) */
      {{0xd8, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 18}, /* fixext 16 */
      {{0xc7, 0x03, 0x05, 1, 2, 3}, 6},                            /* ext 8 */
      {{0xc7, 0x00, 0x05}, 3},                                     /* ext 8, empty */
      {{0xc8, 0x00, 0x02, 0x05, 1, 2}, 6},                         /* ext 16 */
      {{0xc9, 0x00, 0x00, 0x00, 0x01, 0x05, 9}, 7},                /* ext 32 */
      {{0xc0}, 1},
      {{0x90}, 1},
      {{0x80}, 1},
      {{0x92, 0x01, 0xa1, 'x'}, 4},
      {{0x81, 0xa1, 'k', 0xc3}, 4},
      {{0xdc, 0x00, 0x01, 0xc2}, 4},
      {{0xdd, 0x00, 0x00, 0x00, 0x01, 0xc2}, 6},
      {{0xde, 0x00, 0x01, 0x01, 0x02}, 5},
      {{0xdf, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02}, 7},
  };
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    uint8_t *buf = dup_exact(vals[i].b, vals[i].n);
    lic_mp r = {buf, vals[i].n};
    if (lic_mp_skip(&r, 0) != LIC_OK || r.n != 0)
      fail_msg("value %zu (0x%02x): %s, %zu left", i, vals[i].b[0], lic_errdetail(), r.n);
    /* The same value followed by one more byte leaves exactly that byte. */
    uint8_t *buf2 = malloc(vals[i].n + 1);
    assert_non_null(buf2);
    memcpy(buf2, vals[i].b, vals[i].n);
    buf2[vals[i].n] = 0x2a;
    r = (lic_mp){buf2, vals[i].n + 1};
    assert_int_equal(lic_mp_skip(&r, 0), LIC_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.p[0], 0x2a);
    for (size_t k = 0; k < vals[i].n; k++) {
      lic_mp t = {buf, k};
      if (lic_mp_skip(&t, 0) == LIC_OK)
        fail_msg("value %zu truncated to %zu bytes was accepted", i, k);
    }
    free(buf2);
    free(buf);
  }
}

static void test_skip_reserved_byte(void **state) {
  (void)state;
  static const uint8_t c1[] = {0xc1}, arr[] = {0x91, 0xc1};
  lic_mp r = RD(c1);
  assert_int_equal(lic_mp_skip(&r, 0), LIC_FORMAT);
  r = RD(arr);
  assert_int_equal(lic_mp_skip(&r, 0), LIC_FORMAT);
}

/* ---- a sample map: every truncation fails ---- */

static void sample_map(pkb *b) {
  static const uint8_t bin[] = {1, 2, 3, 4, 5, 6, 7, 8};
  pk_init(b);
  msgpack_pack_map(&b->pk, 7);
  pk_str(b, "typ");
  pk_str(b, "license");
  pk_str(b, "n");
  msgpack_pack_int64(&b->pk, -70000);
  pk_str(b, "u");
  msgpack_pack_uint64(&b->pk, 300);
  pk_str(b, "list");
  msgpack_pack_array(&b->pk, 3);
  pk_str(b, "a");
  pk_str(b, "bcd");
  pk_str(b, "\xc3\xa9t\xc3\xa9");
  pk_str(b, "bin");
  pk_bin(b, bin, sizeof bin);
  pk_str(b, "m");
  msgpack_pack_map(&b->pk, 2);
  pk_str(b, "x");
  msgpack_pack_true(&b->pk);
  pk_str(b, "y");
  msgpack_pack_double(&b->pk, 2.5);
  pk_str(b, "nil");
  msgpack_pack_nil(&b->pk);
}

static void test_sample_map_and_truncation(void **state) {
  (void)state;
  pkb b;
  sample_map(&b);
  lic_mp_obj o;
  assert_int_equal(lic_mp_obj_parse((const uint8_t *)b.sb.data, b.sb.size, &o), LIC_OK);
  assert_int_equal(o.n, 7);
  assert_true(lic_mp_obj_has(&o, "typ"));
  assert_true(lic_mp_obj_has(&o, "nil"));
  assert_false(lic_mp_obj_has(&o, "ty"));
  assert_false(lic_mp_obj_has(&o, "typx"));
  for (size_t len = 0; len < b.sb.size; len++) {
    uint8_t *buf = dup_exact(b.sb.data, len);
    if (lic_mp_obj_parse(buf, len, &o) == LIC_OK)
      fail_msg("map truncated to %zu of %zu bytes was accepted", len, b.sb.size);
    lic_mp r = {buf, len};
    if (lic_mp_skip(&r, 0) == LIC_OK)
      fail_msg("skip of a map truncated to %zu bytes succeeded", len);
    free(buf);
  }
  pk_free(&b);
}

static void test_trailing_bytes(void **state) {
  (void)state;
  pkb b;
  sample_map(&b);
  size_t n = b.sb.size;
  uint8_t *buf = malloc(n + 1);
  assert_non_null(buf);
  memcpy(buf, b.sb.data, n);
  buf[n] = 0xc0;
  lic_mp_obj o;
  assert_int_equal(lic_mp_obj_parse(buf, n + 1, &o), LIC_FORMAT);
  /* lic_mp_obj_read leaves the trailing byte for the caller. */
  lic_mp r = {buf, n + 1};
  assert_int_equal(lic_mp_obj_read(&r, &o, 0), LIC_OK);
  assert_int_equal(r.n, 1);
  free(buf);
  pk_free(&b);
}

static void test_obj_not_a_map(void **state) {
  (void)state;
  static const uint8_t arr[] = {0x91, 0x01}, str[] = {0xa1, 'x'};
  lic_mp_obj o;
  assert_int_equal(lic_mp_obj_parse(arr, sizeof arr, &o), LIC_FORMAT);
  assert_int_equal(lic_mp_obj_parse(str, sizeof str, &o), LIC_FORMAT);
  assert_int_equal(lic_mp_obj_parse(NULL, 0, &o), LIC_FORMAT);
}

/* ---- depth ---- */

/* A map {"a": <levels nested arrays around 1>}. */
static void nested(pkb *b, int levels) {
  pk_init(b);
  msgpack_pack_map(&b->pk, 1);
  pk_str(b, "a");
  for (int i = 0; i < levels; i++)
    msgpack_pack_array(&b->pk, 1);
  msgpack_pack_int(&b->pk, 1);
}

static void test_depth_limit(void **state) {
  (void)state;
  lic_mp_obj o;
  pkb b;
  /* The map plus LIC_MP_MAX_DEPTH - 1 arrays: LIC_MP_MAX_DEPTH containers. */
  nested(&b, LIC_MP_MAX_DEPTH - 1);
  assert_int_equal(lic_mp_obj_parse((const uint8_t *)b.sb.data, b.sb.size, &o), LIC_OK);
  pk_free(&b);
  nested(&b, LIC_MP_MAX_DEPTH + 1);
  assert_int_equal(lic_mp_obj_parse((const uint8_t *)b.sb.data, b.sb.size, &o), LIC_LIMIT);
  pk_free(&b);
  /* Very deep input: no stack exhaustion, a clean LIMIT. */
  nested(&b, 100000);
  assert_int_equal(lic_mp_obj_parse((const uint8_t *)b.sb.data, b.sb.size, &o), LIC_LIMIT);
  lic_mp r = {(const uint8_t *)b.sb.data + 3, b.sb.size - 3};
  assert_int_equal(lic_mp_skip(&r, 0), LIC_LIMIT);
  pk_free(&b);
  /* Maps nested in maps count too. */
  pk_init(&b);
  for (int i = 0; i < 50; i++) {
    msgpack_pack_map(&b.pk, 1);
    pk_str(&b, "k");
  }
  msgpack_pack_nil(&b.pk);
  assert_int_equal(lic_mp_obj_parse((const uint8_t *)b.sb.data, b.sb.size, &o), LIC_LIMIT);
  pk_free(&b);
}

/* ---- map keys ---- */

static void test_duplicate_keys(void **state) {
  (void)state;
  static const uint8_t dup[] = {0x83, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02, 0xa1, 'a', 0x03};
  static const uint8_t nodup[] = {0x82, 0xa1, 'a', 0x01, 0xa2, 'a', 'a', 0x02};
  lic_mp_obj o;
  assert_int_equal(lic_mp_obj_parse(dup, sizeof dup, &o), LIC_FORMAT);
  assert_non_null(strstr(lic_errdetail(), "duplicate"));
  assert_int_equal(lic_mp_obj_parse(nodup, sizeof nodup, &o), LIC_OK);
  assert_int_equal(o.n, 2);
  /* Duplicate keys in a nested map are refused when that map is read. */
  static const uint8_t inner[] = {0x81, 0xa1, 'm', 0x82, 0xa1, 'x', 0x01, 0xa1, 'x', 0x02};
  lic_mp_obj m;
  assert_int_equal(lic_mp_obj_parse(inner, sizeof inner, &o), LIC_OK);
  assert_int_equal(lic_mp_get_obj(&o, "m", &m), LIC_FORMAT);
}

static void test_non_string_keys(void **state) {
  (void)state;
  static const uint8_t intkey[] = {0x81, 0x01, 0x02};
  static const uint8_t binkey[] = {0x81, 0xc4, 0x01, 'a', 0x02};
  static const uint8_t nilkey[] = {0x81, 0xc0, 0x02};
  static const uint8_t mapkey[] = {0x81, 0x80, 0x02};
  static const uint8_t second[] = {0x82, 0xa1, 'a', 0x01, 0x05, 0x02};
  lic_mp_obj o;
  assert_int_equal(lic_mp_obj_parse(intkey, sizeof intkey, &o), LIC_FORMAT);
  assert_int_equal(lic_mp_obj_parse(binkey, sizeof binkey, &o), LIC_FORMAT);
  assert_int_equal(lic_mp_obj_parse(nilkey, sizeof nilkey, &o), LIC_FORMAT);
  assert_int_equal(lic_mp_obj_parse(mapkey, sizeof mapkey, &o), LIC_FORMAT);
  assert_int_equal(lic_mp_obj_parse(second, sizeof second, &o), LIC_FORMAT);
}

static void test_too_many_keys(void **state) {
  (void)state;
  lic_mp_obj o;
  for (int n = LIC_MP_MAX_KEYS; n <= LIC_MP_MAX_KEYS + 1; n++) {
    pkb b;
    pk_init(&b);
    msgpack_pack_map(&b.pk, (size_t)n);
    for (int i = 0; i < n; i++) {
      char k[16];
      snprintf(k, sizeof k, "k%d", i);
      pk_str(&b, k);
      msgpack_pack_int(&b.pk, i);
    }
    int rc = lic_mp_obj_parse((const uint8_t *)b.sb.data, b.sb.size, &o);
    assert_int_equal(rc, n <= LIC_MP_MAX_KEYS ? LIC_OK : LIC_LIMIT);
    pk_free(&b);
  }
}

/* ---- UTF-8 ---- */

static void test_utf8_valid(void **state) {
  (void)state;
  static const char *const ok[] = {
      "", "plain ascii", "\xc2\x80", "\xc3\xa9", "\xdf\xbf", "\xe0\xa0\x80", "\xe2\x82\xac",
      "\xed\x9f\xbf",           /* U+D7FF, just below the surrogates */
      "\xee\x80\x80",           /* U+E000, just above */
      "\xef\xbf\xbf",           /* U+FFFF */
      "\xf0\x90\x80\x80",       /* U+10000 */
      "\xf0\x9f\x98\x80",       /* an emoji */
      "\xf4\x8f\xbf\xbf",       /* U+10FFFF */
  };
  static const char *const bad[] = {
      "\x80",                   /* lone continuation */
      "\xbf",
      "\xc0\x80",               /* overlong NUL */
      "\xc1\xbf",               /* overlong */
      "\xe0\x80\x80",           /* overlong 3-byte */
      "\xe0\x9f\xbf",           /* overlong U+07FF */
      "\xf0\x80\x80\x80",       /* overlong 4-byte */
      "\xf0\x8f\xbf\xbf",       /* overlong U+FFFF */
      "\xed\xa0\x80",           /* U+D800 surrogate */
      "\xed\xbf\xbf",           /* U+DFFF surrogate */
      "\xed\xa0\xbd\xed\xb8\x80", /* CESU-8 surrogate pair */
      "\xf4\x90\x80\x80",       /* U+110000 */
      "\xf5\x80\x80\x80",
      "\xf7\xbf\xbf\xbf",
      "\xf8\x88\x80\x80\x80",   /* 5-byte form */
      "\xfe", "\xff",
      "\xc3",                   /* truncated 2-byte */
      "\xe2\x82",               /* truncated 3-byte */
      "\xf0\x9f\x98",           /* truncated 4-byte */
      "ok\xc3",                 /* truncated at the end */
      "\xc3\x28",               /* bad continuation */
      "\xe2\x28\xa1",
      "\xf0\x9f\x28\x80",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (!lic_utf8_valid(ok[i], strlen(ok[i])))
      fail_msg("valid UTF-8 #%zu refused", i);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t n = strlen(bad[i]);
    if (lic_utf8_valid(bad[i], n))
      fail_msg("invalid UTF-8 #%zu accepted", i);
    /* Through the reader, as a string value and as a skipped one. */
    pkb b;
    pk_init(&b);
    pk_strn(&b, bad[i], n);
    uint8_t *buf = dup_exact(b.sb.data, b.sb.size);
    lic_mp r = {buf, b.sb.size};
    const char *s;
    size_t len;
    assert_int_equal(lic_mp_str(&r, &s, &len), LIC_FORMAT);
    r = (lic_mp){buf, b.sb.size};
    assert_int_equal(lic_mp_skip(&r, 0), LIC_FORMAT);
    free(buf);
    pk_free(&b);
  }
  /* A truncated sequence must not read past the given length. */
  static const char tail[] = {'a', '\xe2', '\x82', '\xac'};
  assert_false(lic_utf8_valid(tail, 3));
  assert_true(lic_utf8_valid(tail, 4));
}

static void test_non_utf8_key(void **state) {
  (void)state;
  static const uint8_t m[] = {0x81, 0xa2, 0xc0, 0x80, 0x01};
  lic_mp_obj o;
  assert_int_equal(lic_mp_obj_parse(m, sizeof m, &o), LIC_FORMAT);
}

/* ---- typed getters ---- */

static void getter_map(pkb *b) {
  static const uint8_t bin8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  pk_init(b);
  msgpack_pack_map(&b->pk, 12);
  pk_str(b, "s");
  pk_str(b, "hello");
  pk_str(b, "nul");
  pk_strn(b, "a\0b", 3);
  pk_str(b, "i");
  msgpack_pack_int64(&b->pk, 42);
  pk_str(b, "big");
  msgpack_pack_uint64(&b->pk, UINT64_MAX);
  pk_str(b, "b");
  pk_bin(b, bin8, sizeof bin8);
  pk_str(b, "m");
  msgpack_pack_map(&b->pk, 1);
  pk_str(b, "x");
  msgpack_pack_int(&b->pk, 1);
  pk_str(b, "sl");
  msgpack_pack_array(&b->pk, 3);
  pk_str(b, "one");
  pk_str(b, "two");
  pk_str(b, "three");
  pk_str(b, "il");
  msgpack_pack_array(&b->pk, 3);
  msgpack_pack_int(&b->pk, 1);
  msgpack_pack_int(&b->pk, 2);
  msgpack_pack_int(&b->pk, 3);
  pk_str(b, "bl");
  msgpack_pack_array(&b->pk, 2);
  pk_bin(b, bin8, 4);
  pk_bin(b, bin8 + 4, 4);
  pk_str(b, "mixed");
  msgpack_pack_array(&b->pk, 2);
  pk_str(b, "a");
  msgpack_pack_int(&b->pk, 1);
  pk_str(b, "nullist");
  msgpack_pack_array(&b->pk, 2);
  pk_str(b, "ok");
  pk_strn(b, "x\0", 2);
  pk_str(b, "empty");
  msgpack_pack_array(&b->pk, 0);
}

static void test_get_str(void **state) {
  (void)state;
  pkb b;
  getter_map(&b);
  lic_mp_obj o;
  char *s = (char *)1;
  assert_int_equal(lic_mp_obj_parse((const uint8_t *)b.sb.data, b.sb.size, &o), LIC_OK);
  assert_int_equal(lic_mp_get_str(&o, "s", 1, 10, &s), LIC_OK);
  assert_string_equal(s, "hello");
  free(s);
  assert_int_equal(lic_mp_get_str(&o, "s", 5, 5, &s), LIC_OK);
  free(s);
  assert_int_equal(lic_mp_get_str(&o, "missing", 1, 10, &s), LIC_NOTFOUND);
  assert_null(s);
  assert_non_null(strstr(lic_errdetail(), "missing"));
  assert_int_equal(lic_mp_get_str(&o, "i", 1, 10, &s), LIC_FORMAT);
  assert_non_null(strstr(lic_errdetail(), "'i'"));
  assert_int_equal(lic_mp_get_str(&o, "b", 1, 10, &s), LIC_FORMAT);
  assert_int_equal(lic_mp_get_str(&o, "s", 1, 4, &s), LIC_LIMIT);
  assert_non_null(strstr(lic_errdetail(), "'s'"));
  assert_int_equal(lic_mp_get_str(&o, "s", 6, 10, &s), LIC_LIMIT);
  assert_int_equal(lic_mp_get_str(&o, "nul", 1, 10, &s), LIC_FORMAT);
  assert_null(s);
  /* lic_mp_str itself hands out the NUL (it is valid UTF-8); getters refuse it. */
  const lic_mp_kv *kv = NULL;
  for (size_t i = 0; i < o.n; i++)
    if (o.e[i].klen == 3 && memcmp(o.e[i].k, "nul", 3) == 0)
      kv = &o.e[i];
  assert_non_null(kv);
  lic_mp v = kv->v;
  const char *raw;
  size_t len;
  assert_int_equal(lic_mp_str(&v, &raw, &len), LIC_OK);
  assert_int_equal(len, 3);
  pk_free(&b);
}

static void test_get_int(void **state) {
  (void)state;
  pkb b;
  getter_map(&b);
  lic_mp_obj o;
  int64_t v = 0;
  assert_int_equal(lic_mp_obj_parse((const uint8_t *)b.sb.data, b.sb.size, &o), LIC_OK);
  assert_int_equal(lic_mp_get_int(&o, "i", 0, 100, &v), LIC_OK);
  assert_int_equal(v, 42);
  assert_int_equal(lic_mp_get_int(&o, "i", 42, 42, &v), LIC_OK);
  assert_int_equal(lic_mp_get_int(&o, "i", 43, 100, &v), LIC_LIMIT);
  assert_int_equal(lic_mp_get_int(&o, "i", 0, 41, &v), LIC_LIMIT);
  assert_non_null(strstr(lic_errdetail(), "'i'"));
  assert_int_equal(lic_mp_get_int(&o, "big", INT64_MIN, INT64_MAX, &v), LIC_LIMIT);
  assert_non_null(strstr(lic_errdetail(), "big"));
  assert_int_equal(lic_mp_get_int(&o, "s", 0, 100, &v), LIC_FORMAT);
  assert_int_equal(lic_mp_get_int(&o, "nope", 0, 100, &v), LIC_NOTFOUND);
  pk_free(&b);
}

static void test_get_bin_obj(void **state) {
  (void)state;
  pkb b;
  getter_map(&b);
  lic_mp_obj o, m;
  uint8_t out[9];
  const uint8_t *p;
  size_t n;
  assert_int_equal(lic_mp_obj_parse((const uint8_t *)b.sb.data, b.sb.size, &o), LIC_OK);
  assert_int_equal(lic_mp_get_binx(&o, "b", out, 8), LIC_OK);
  assert_int_equal(out[0], 1);
  assert_int_equal(out[7], 8);
  assert_int_equal(lic_mp_get_binx(&o, "b", out, 7), LIC_FORMAT);
  assert_int_equal(lic_mp_get_binx(&o, "b", out, 9), LIC_FORMAT);
  assert_int_equal(lic_mp_get_binx(&o, "s", out, 5), LIC_FORMAT);
  assert_int_equal(lic_mp_get_binx(&o, "zz", out, 8), LIC_NOTFOUND);
  assert_int_equal(lic_mp_get_bin(&o, "b", 1, 8, &p, &n), LIC_OK);
  assert_int_equal(n, 8);
  assert_int_not_equal(lic_mp_get_bin(&o, "b", 9, 20, &p, &n), LIC_OK);
  assert_int_equal(lic_mp_get_obj(&o, "m", &m), LIC_OK);
  assert_int_equal(m.n, 1);
  assert_int_equal(lic_mp_get_obj(&o, "s", &m), LIC_FORMAT);
  assert_int_equal(lic_mp_get_obj(&o, "sl", &m), LIC_FORMAT);
  assert_int_equal(lic_mp_get_obj(&o, "zz", &m), LIC_NOTFOUND);
  pk_free(&b);
}

static void test_get_lists(void **state) {
  (void)state;
  pkb b;
  getter_map(&b);
  lic_mp_obj o;
  lic_strlist sl = {0};
  int64_t *il = NULL;
  uint8_t *bl = NULL;
  size_t n = 99;
  assert_int_equal(lic_mp_obj_parse((const uint8_t *)b.sb.data, b.sb.size, &o), LIC_OK);

  assert_int_equal(lic_mp_get_strlist(&o, "sl", 3, 1, 10, &sl), LIC_OK);
  assert_int_equal(sl.n, 3);
  assert_string_equal(sl.v[2], "three");
  lic_strlist_free(&sl);
  assert_int_equal(lic_mp_get_strlist(&o, "sl", 2, 1, 10, &sl), LIC_LIMIT);
  assert_int_equal(sl.n, 0);
  assert_int_equal(lic_mp_get_strlist(&o, "sl", 3, 1, 4, &sl), LIC_LIMIT); /* "three" */
  assert_int_equal(sl.n, 0);
  assert_int_equal(lic_mp_get_strlist(&o, "mixed", 3, 1, 4, &sl), LIC_FORMAT);
  assert_int_equal(lic_mp_get_strlist(&o, "nullist", 3, 1, 4, &sl), LIC_FORMAT);
  assert_int_equal(lic_mp_get_strlist(&o, "s", 3, 1, 10, &sl), LIC_FORMAT);
  assert_int_equal(lic_mp_get_strlist(&o, "zz", 3, 1, 10, &sl), LIC_NOTFOUND);
  assert_int_equal(lic_mp_get_strlist(&o, "empty", 3, 1, 10, &sl), LIC_OK);
  assert_int_equal(sl.n, 0);
  lic_strlist_free(&sl);

  assert_int_equal(lic_mp_get_intlist(&o, "il", 3, 1, 3, &il, &n), LIC_OK);
  assert_int_equal(n, 3);
  assert_int_equal(il[0], 1);
  assert_int_equal(il[2], 3);
  free(il);
  assert_int_equal(lic_mp_get_intlist(&o, "il", 2, 1, 3, &il, &n), LIC_LIMIT);
  assert_null(il);
  assert_int_equal(lic_mp_get_intlist(&o, "il", 3, 2, 3, &il, &n), LIC_LIMIT);
  assert_int_equal(lic_mp_get_intlist(&o, "il", 3, 1, 2, &il, &n), LIC_LIMIT);
  assert_int_equal(lic_mp_get_intlist(&o, "sl", 3, 1, 2, &il, &n), LIC_FORMAT);
  assert_int_equal(lic_mp_get_intlist(&o, "i", 3, 1, 2, &il, &n), LIC_FORMAT);
  assert_int_equal(lic_mp_get_intlist(&o, "empty", 3, 1, 2, &il, &n), LIC_OK);
  assert_null(il);
  assert_int_equal(n, 0);

  assert_int_equal(lic_mp_get_binlist(&o, "bl", 2, 4, &bl, &n), LIC_OK);
  assert_int_equal(n, 2);
  assert_int_equal(bl[4], 5);
  free(bl);
  assert_int_equal(lic_mp_get_binlist(&o, "bl", 1, 4, &bl, &n), LIC_LIMIT);
  assert_int_equal(lic_mp_get_binlist(&o, "bl", 2, 5, &bl, &n), LIC_FORMAT);
  assert_int_equal(lic_mp_get_binlist(&o, "bl", 2, 3, &bl, &n), LIC_FORMAT);
  assert_null(bl);
  assert_int_equal(lic_mp_get_binlist(&o, "sl", 3, 4, &bl, &n), LIC_FORMAT);
  assert_int_equal(lic_mp_get_binlist(&o, "zz", 3, 4, &bl, &n), LIC_NOTFOUND);
  pk_free(&b);
}

static void test_list_count_over_bytes(void **state) {
  (void)state;
  /* Arrays whose header claims more entries than bytes follow. */
  static const uint8_t a16[] = {0xdc, 0x00, 0x05, 0x01, 0x02};
  static const uint8_t fix[] = {0x93, 0x01};
  static const uint8_t m16[] = {0xde, 0x00, 0x02, 0xa1, 'a', 0x01};
  static const uint8_t fixm[] = {0x82, 0xa1, 'a', 0x01};
  uint32_t n;
  lic_mp r = RD(a16);
  assert_int_equal(lic_mp_array(&r, &n), LIC_FORMAT);
  r = RD(fix);
  assert_int_equal(lic_mp_array(&r, &n), LIC_FORMAT);
  r = RD(m16);
  assert_int_equal(lic_mp_map(&r, &n), LIC_FORMAT);
  r = RD(fixm);
  assert_int_equal(lic_mp_map(&r, &n), LIC_FORMAT);
  r = RD(fix);
  assert_int_equal(lic_mp_map(&r, &n), LIC_FORMAT); /* wrong type */
}

/* ---- huge header counts: rejected fast, nothing big allocated ---- */

static const uint8_t huge_array[20] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05,
                                       0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
static const uint8_t huge_map[20] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'a', 0x01, 0xa1, 'b',
                                     0x02, 0xa1, 'c', 0x03, 0xa1, 'd', 0x04, 0xa1, 'e', 0x05};
/* {"a": [2^32-1 claimed entries]} and {"a": {2^32-1 claimed}} */
static const uint8_t huge_inner_a[20] = {0x81, 0xa1, 'a', 0xdd, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x',
                                         0xa1, 'x', 0xa1, 'x', 0xa1, 'x', 0xa1, 'x', 0xa1, 'x'};
static const uint8_t huge_inner_m[20] = {0x81, 0xa1, 'a', 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x',
                                         0x01, 0xa1, 'y', 0x01, 0xa1, 'z', 0x01, 0xa1, 'w', 0x01};

/* Run every decoder over the hostile inputs; 0 when all refused as expected. */
static int decode_huge(void) {
  lic_mp_obj o;
  uint32_t n;
  lic_mp r;

  r = (lic_mp){huge_array, sizeof huge_array};
  if (lic_mp_array(&r, &n) != LIC_FORMAT)
    return 1;
  r = (lic_mp){huge_array, sizeof huge_array};
  if (lic_mp_skip(&r, 0) != LIC_FORMAT)
    return 2;
  r = (lic_mp){huge_map, sizeof huge_map};
  if (lic_mp_map(&r, &n) != LIC_FORMAT)
    return 3;
  if (lic_mp_obj_parse(huge_map, sizeof huge_map, &o) != LIC_FORMAT)
    return 4;
  r = (lic_mp){huge_map, sizeof huge_map};
  if (lic_mp_skip(&r, 0) != LIC_FORMAT)
    return 5;
  if (lic_mp_obj_parse(huge_inner_a, sizeof huge_inner_a, &o) != LIC_FORMAT)
    return 6;
  if (lic_mp_obj_parse(huge_inner_m, sizeof huge_inner_m, &o) != LIC_FORMAT)
    return 7;
  /* The list getters, handed a hostile span directly and no count limit. */
  lic_mp_obj fake = {.n = 1};
  fake.e[0].k = "a";
  fake.e[0].klen = 1;
  fake.e[0].v = (lic_mp){huge_array, sizeof huge_array};
  lic_strlist sl;
  int64_t *il;
  uint8_t *bl;
  size_t cnt;
  if (lic_mp_get_strlist(&fake, "a", SIZE_MAX, 0, SIZE_MAX, &sl) != LIC_FORMAT)
    return 8;
  if (lic_mp_get_intlist(&fake, "a", SIZE_MAX, INT64_MIN, INT64_MAX, &il, &cnt) != LIC_FORMAT)
    return 9;
  if (lic_mp_get_binlist(&fake, "a", SIZE_MAX, 16, &bl, &cnt) != LIC_FORMAT)
    return 10;
  fake.e[0].v = (lic_mp){huge_map, sizeof huge_map};
  if (lic_mp_get_obj(&fake, "a", &o) != LIC_FORMAT)
    return 11;
  return 0;
}

#ifndef TU_ASAN
static long vm_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0;
  if (f != NULL) {
    if (fscanf(f, "%ld", &pages) != 1)
      pages = 0;
    fclose(f);
  }
  return pages * sysconf(_SC_PAGESIZE);
}
#endif

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_huge_counts_fast(void **state) {
  (void)state;
  /* Fast: the best of a few runs takes well under a few milliseconds. */
  double best = 1e9;
  for (int i = 0; i < 5; i++) {
    double t0 = now_ms();
    int rc = decode_huge();
    double dt = now_ms() - t0;
    if (rc != 0)
      fail_msg("hostile input %d was not refused with LIC_FORMAT", rc);
    if (dt < best)
      best = dt;
  }
  if (best > 3.0)
    fail_msg("hostile 20-byte inputs took %.3f ms", best);
}

static void test_huge_counts_no_allocation(void **state) {
  (void)state;
#ifdef TU_ASAN
  skip(); /* ASan reserves terabytes of shadow memory: RLIMIT_AS cannot apply */
#else
  long vm = vm_bytes();
  assert_true(vm > 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {(rlim_t)vm + 64 * 1024 * 1024, (rlim_t)vm + 64 * 1024 * 1024};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
      _exit(100);
    /* The limit bites: a 1 GiB allocation must fail now. */
    void *probe = malloc((size_t)1 << 30);
    if (probe != NULL)
      _exit(101);
    _exit(decode_huge());
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  if (!WIFEXITED(st))
    fail_msg("decoder child died with signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  if (WEXITSTATUS(st) != 0)
    fail_msg("decoder child failed check %d under RLIMIT_AS", WEXITSTATUS(st));
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_peek_every_byte),
      cmocka_unit_test(test_nil_bool),
      cmocka_unit_test(test_int_every_width),
      cmocka_unit_test(test_uint64_above_int64_max),
      cmocka_unit_test(test_int_roundtrip_msgpack_c),
      cmocka_unit_test(test_int_wrong_type),
      cmocka_unit_test(test_str_every_width),
      cmocka_unit_test(test_bin_every_width),
      cmocka_unit_test(test_str_bin_type_confusion),
      cmocka_unit_test(test_skip_float_ext),
      cmocka_unit_test(test_skip_reserved_byte),
      cmocka_unit_test(test_sample_map_and_truncation),
      cmocka_unit_test(test_trailing_bytes),
      cmocka_unit_test(test_obj_not_a_map),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_duplicate_keys),
      cmocka_unit_test(test_non_string_keys),
      cmocka_unit_test(test_too_many_keys),
      cmocka_unit_test(test_utf8_valid),
      cmocka_unit_test(test_non_utf8_key),
      cmocka_unit_test(test_get_str),
      cmocka_unit_test(test_get_int),
      cmocka_unit_test(test_get_bin_obj),
      cmocka_unit_test(test_get_lists),
      cmocka_unit_test(test_list_count_over_bytes),
      cmocka_unit_test(test_huge_counts_fast),
      cmocka_unit_test(test_huge_counts_no_allocation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
