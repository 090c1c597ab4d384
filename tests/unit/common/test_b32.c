/* test_b32.c - tests Crockford base32: alphabet, known vectors, tolerant decoding, mod-37 check symbols. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lic/b32.h"
#include "lic/err.h"
#include "testutil.h"

static const char CROCKFORD[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
static const char CHECK_EXTRA[] = "*~$=U";
static const char RFC4648[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static void test_alphabet(void **state) {
  (void)state;
  assert_int_equal(strlen(CROCKFORD), 32);
  for (int v = 0; v < 32; v++) {
    assert_int_equal(lic_b32_symbol(v), CROCKFORD[v]);
    assert_int_equal(lic_b32_value(CROCKFORD[v]), v);
    assert_int_equal(lic_b32_check_value(CROCKFORD[v]), v);
    char lower = (char)(CROCKFORD[v] >= 'A' ? CROCKFORD[v] - 'A' + 'a' : CROCKFORD[v]);
    assert_int_equal(lic_b32_value(lower), v);
  }
  for (int v = 32; v < 37; v++) {
    assert_int_equal(lic_b32_symbol(v), CHECK_EXTRA[v - 32]);
    assert_int_equal(lic_b32_check_value(CHECK_EXTRA[v - 32]), v);
    assert_int_equal(lic_b32_value(CHECK_EXTRA[v - 32]), -1); /* check-only */
  }
  assert_int_equal(lic_b32_check_value('u'), 36);
  assert_int_equal(lic_b32_symbol(-1), '?');
  assert_int_equal(lic_b32_symbol(37), '?');
}

static void test_confusables(void **state) {
  (void)state;
  assert_int_equal(lic_b32_value('I'), 1);
  assert_int_equal(lic_b32_value('i'), 1);
  assert_int_equal(lic_b32_value('L'), 1);
  assert_int_equal(lic_b32_value('l'), 1);
  assert_int_equal(lic_b32_value('O'), 0);
  assert_int_equal(lic_b32_value('o'), 0);
  assert_int_equal(lic_b32_value('U'), -1);
  assert_int_equal(lic_b32_value('u'), -1);
  /* Everything outside the alphabet. */
  for (int c = 0; c < 256; c++) {
    char ch = (char)c;
    int upper = (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
    bool in = upper != 0 && (strchr(CROCKFORD, upper) != NULL || upper == 'I' || upper == 'L' ||
                             upper == 'O');
    if (!in)
      assert_int_equal(lic_b32_value(ch), -1);
    bool chk = in || (upper != 0 && strchr(CHECK_EXTRA, upper) != NULL);
    if (!chk)
      assert_int_equal(lic_b32_check_value(ch), -1);
  }
}

/* RFC 4648 §10 base32 vectors, with each symbol mapped to Crockford's. */
static void test_known_vectors_rfc4648(void **state) {
  (void)state;
  static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *const rfc[] = {"", "MY", "MZXQ", "MZXW6", "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"};
  for (size_t i = 0; i < 7; i++) {
    char expect[32], out[32];
    size_t n = strlen(rfc[i]);
    for (size_t k = 0; k < n; k++)
      expect[k] = CROCKFORD[strchr(RFC4648, rfc[i][k]) - RFC4648];
    expect[n] = '\0';
    size_t len = strlen(in[i]);
    assert_int_equal(LIC_B32_LEN(len), n);
    assert_int_equal(lic_b32_encode((const uint8_t *)in[i], len, out, sizeof out), LIC_OK);
    assert_string_equal(out, expect);
    uint8_t back[16];
    assert_int_equal(lic_b32_decode(expect, back, len), LIC_OK);
    assert_memory_equal(back, in[i], len);
  }
}

/* Vectors worked out by hand from the alphabet. */
static void test_known_vectors_by_hand(void **state) {
  (void)state;
  static const struct {
    uint8_t in[10];
    size_t n;
    const char *out;
  } v[] = {
      {{0x00}, 1, "00"},
      {{0xff}, 1, "ZW"},                           /* 11111 111(00) */
      {{0x08}, 1, "10"},                           /* 00001 000(00) */
      {{0x00, 0x00, 0x00, 0x00, 0x00}, 5, "00000000"},
      {{0xff, 0xff, 0xff, 0xff, 0xff}, 5, "ZZZZZZZZ"},
      {{0x00, 0x44, 0x32, 0x14, 0xc7}, 5, "01234567"}, /* 00000 00001 00010 ... 00111 */
      {{0x42, 0x10, 0x84, 0x21, 0x08}, 5, "88888888"},
      {{0x84, 0x21, 0x08, 0x42, 0x10}, 5, "GGGGGGGG"}, /* 10000 = 16 = G */
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char out[32];
    assert_int_equal(lic_b32_encode(v[i].in, v[i].n, out, sizeof out), LIC_OK);
    assert_string_equal(out, v[i].out);
    uint8_t back[10];
    assert_int_equal(lic_b32_decode(v[i].out, back, v[i].n), LIC_OK);
    assert_memory_equal(back, v[i].in, v[i].n);
  }
}

static void test_decode_tolerance(void **state) {
  (void)state;
  uint8_t a[5], b[5];
  assert_int_equal(lic_b32_decode("0123456Z", a, 5), LIC_OK);
  assert_int_equal(lic_b32_decode("o1234-56z", b, 5), LIC_OK); /* o=0, lowercase, dash */
  assert_memory_equal(a, b, 5);
  assert_int_equal(lic_b32_decode("OI23 456Z", b, 5), LIC_OK); /* I=1, space */
  assert_memory_equal(a, b, 5);
  assert_int_equal(lic_b32_decode("0L23-45-6z", b, 5), LIC_OK);
  assert_memory_equal(a, b, 5);
  /* U is never a data symbol; nor are the other check symbols. */
  assert_int_equal(lic_b32_decode("0123456U", b, 5), LIC_FORMAT);
  assert_int_equal(lic_b32_decode("0123456*", b, 5), LIC_FORMAT);
  assert_int_equal(lic_b32_decode("012345_Z", b, 5), LIC_FORMAT);
  /* Wrong symbol counts. */
  assert_int_equal(lic_b32_decode("0123456", b, 5), LIC_FORMAT);
  assert_int_equal(lic_b32_decode("0123456ZZ", b, 5), LIC_FORMAT);
  assert_int_equal(lic_b32_decode("", b, 5), LIC_FORMAT);
  /* Very long input is refused, not overflowed. */
  char *lng = malloc(4001);
  memset(lng, '0', 4000);
  lng[4000] = '\0';
  uint8_t big[2500];
  assert_int_not_equal(lic_b32_decode(lng, big, sizeof big), LIC_OK);
  free(lng);
}

static void test_padding_bits(void **state) {
  (void)state;
  uint8_t b[2];
  /* One byte = 2 symbols = 10 bits: the last 2 bits are padding. */
  assert_int_equal(lic_b32_decode("ZW", b, 1), LIC_OK); /* W = 11100 */
  assert_int_equal(b[0], 0xff);
  assert_int_equal(lic_b32_decode("ZX", b, 1), LIC_FORMAT); /* X = 11101 */
  assert_int_equal(lic_b32_decode("ZY", b, 1), LIC_FORMAT); /* Y = 11110 */
  assert_int_equal(lic_b32_decode("ZZ", b, 1), LIC_FORMAT);
  assert_int_equal(lic_b32_decode("01", b, 1), LIC_FORMAT);
  /* Two bytes = 4 symbols = 20 bits, 4 padding bits. */
  assert_int_equal(lic_b32_decode("ZZZG", b, 2), LIC_OK); /* G = 10000 */
  assert_int_equal(b[0], 0xff);
  assert_int_equal(b[1], 0xff);
  assert_int_equal(lic_b32_decode("ZZZH", b, 2), LIC_FORMAT);
  int vals[2] = {31, 28};
  assert_int_equal(lic_b32_unpack(vals, 2, b, 1), LIC_OK);
  vals[1] = 29;
  assert_int_equal(lic_b32_unpack(vals, 2, b, 1), LIC_FORMAT);
  assert_int_equal(lic_b32_unpack(vals, 3, b, 1), LIC_FORMAT);
}

/* The group's number mod 37, computed from the other end: sum of
 * v[i] * 32^(n-1-i), with powers of 32 reduced mod 37. */
static int mod37(const int *v, size_t n) {
  unsigned long long sum = 0, pw = 1;
  for (size_t i = n; i-- > 0;) {
    sum = (sum + (unsigned long long)v[i] * pw) % 37;
    pw = pw * 32 % 37;
  }
  return (int)sum;
}

static void test_check_symbol(void **state) {
  (void)state;
  /* Hand-worked: 1*32 + k. */
  static const struct {
    int v[2];
    char c;
  } hw[] = {{{0, 0}, '0'},  {{0, 31}, 'Z'}, {{1, 0}, '*'}, {{1, 1}, '~'},
            {{1, 2}, '$'},  {{1, 3}, '='},  {{1, 4}, 'U'}, {{1, 5}, '0'},
            {{1, 6}, '1'},  {{31, 31}, 'R'}}; /* 1023 % 37 = 24: 'R' */
  for (size_t i = 0; i < sizeof hw / sizeof hw[0]; i++)
    assert_int_equal(lic_b32_check(hw[i].v, 2), hw[i].c);
  /* Many 5-symbol groups against the independent computation. */
  unsigned x = 12345;
  for (int t = 0; t < 5000; t++) {
    int v[5];
    for (int k = 0; k < 5; k++) {
      x = x * 1103515245u + 12345u;
      v[k] = (int)((x >> 16) & 31);
    }
    int m = mod37(v, 5);
    char expect = m < 32 ? CROCKFORD[m] : CHECK_EXTRA[m - 32];
    assert_int_equal(lic_b32_check(v, 5), expect);
    assert_int_equal(lic_b32_check_value(expect), m);
  }
  /* A single-symbol change always changes the check (37 is prime > 32). */
  int v[5] = {3, 14, 15, 9, 26};
  char c0 = lic_b32_check(v, 5);
  for (int pos = 0; pos < 5; pos++)
    for (int nv = 0; nv < 32; nv++) {
      if (nv == v[pos])
        continue;
      int w[5];
      memcpy(w, v, sizeof w);
      w[pos] = nv;
      assert_int_not_equal(lic_b32_check(w, 5), c0);
    }
  /* Two adjacent symbols swapped are caught too. */
  for (int pos = 0; pos < 4; pos++) {
    int w[5];
    memcpy(w, v, sizeof w);
    w[pos] = v[pos + 1];
    w[pos + 1] = v[pos];
    assert_int_not_equal(lic_b32_check(w, 5), c0);
  }
}

static void test_encode_roundtrip_and_cap(void **state) {
  (void)state;
  uint8_t in[64], back[64];
  for (size_t i = 0; i < sizeof in; i++)
    in[i] = (uint8_t)(i * 37 + 11);
  for (size_t n = 0; n <= sizeof in; n++) {
    char out[LIC_B32_LEN(64) + 1];
    assert_int_equal(lic_b32_encode(in, n, out, sizeof out), LIC_OK);
    assert_int_equal(strlen(out), LIC_B32_LEN(n));
    for (size_t k = 0; out[k]; k++)
      assert_non_null(strchr(CROCKFORD, out[k]));
    if (n > 0) {
      assert_int_equal(lic_b32_decode(out, back, n), LIC_OK);
      assert_memory_equal(back, in, n);
    }
  }
  char small[4];
  assert_int_equal(lic_b32_encode(in, 2, small, sizeof small), LIC_LIMIT); /* needs 5 */
  char exact[5];
  assert_int_equal(lic_b32_encode(in, 2, exact, sizeof exact), LIC_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alphabet),
      cmocka_unit_test(test_confusables),
      cmocka_unit_test(test_known_vectors_rfc4648),
      cmocka_unit_test(test_known_vectors_by_hand),
      cmocka_unit_test(test_decode_tolerance),
      cmocka_unit_test(test_padding_bits),
      cmocka_unit_test(test_check_symbol),
      cmocka_unit_test(test_encode_roundtrip_and_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
