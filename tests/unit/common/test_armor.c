/* test_armor.c - tests the text armor (SPEC §2.2): writer format and the tolerant reader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "testutil.h"

/* Deterministic sample bytes shaped like an envelope (starts with a fixmap). */
static void sample(uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)((i * 131 + 7) ^ (i >> 3));
  if (n > 0)
    b[0] = 0x84;
}

/* Standard base64 of data, by OpenSSL, in one line. */
static char *b64_line(const uint8_t *d, size_t n) {
  char *o = malloc(4 * ((n + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *)o, d, (int)n);
  return o;
}

/* Armor by hand: the base64 line cut every `width` chars, lines joined by eol. */
static char *hand_armor(const char *label, const uint8_t *d, size_t n, size_t width,
                        const char *eol, const char *before, const char *after,
                        const char *prefix) {
  char *b64 = b64_line(d, n);
  size_t bl = strlen(b64);
  size_t cap = bl * 4 + 1024 + strlen(before) + strlen(after);
  char *o = malloc(cap);
  size_t k = (size_t)snprintf(o, cap, "%s%s-----BEGIN LICSRV %s-----%s", before, prefix, label, eol);
  for (size_t i = 0; i < bl; i += width)
    k += (size_t)snprintf(o + k, cap - k, "%s%.*s%s", prefix, (int)(bl - i < width ? bl - i : width),
                          b64 + i, eol);
  snprintf(o + k, cap - k, "%s-----END LICSRV %s-----%s%s", prefix, label, eol, after);
  free(b64);
  return o;
}

static void expect_decode(const char *text, const uint8_t *d, size_t n, const char *typ) {
  char t[LIC_MAX_TYP + 1];
  uint8_t *out = NULL;
  size_t olen = 0;
  int rc = lic_armor_decode((const uint8_t *)text, strlen(text), t, &out, &olen);
  if (rc != LIC_OK)
    fail_msg("decode failed: %s\n---\n%s---", lic_errfull(rc), text);
  assert_string_equal(t, typ);
  assert_int_equal(olen, n);
  assert_memory_equal(out, d, n);
  free(out);
}

static void expect_fail(const char *text) {
  char t[LIC_MAX_TYP + 1];
  uint8_t *out = (uint8_t *)1;
  size_t olen = 1;
  int rc = lic_armor_decode((const uint8_t *)text, strlen(text), t, &out, &olen);
  if (rc == LIC_OK)
    fail_msg("accepted:\n%s", text);
  assert_int_equal(rc, LIC_FORMAT);
  assert_null(out);
  assert_int_equal(olen, 0);
}

static void test_encode_format(void **state) {
  (void)state;
  uint8_t d[200];
  sample(d, sizeof d);
  char *a = NULL;
  size_t alen = 0;
  assert_int_equal(lic_armor_encode("license", "line one\nline two", d, sizeof d, &a, &alen),
                   LIC_OK);
  assert_int_equal(strlen(a), alen);
  /* Exactly what the spec describes, built independently here. */
  char *b64 = b64_line(d, sizeof d);
  char expect[1024];
  size_t k = (size_t)snprintf(expect, sizeof expect,
                              "# line one\n# line two\n-----BEGIN LICSRV LICENSE-----\n");
  for (size_t i = 0; i < strlen(b64); i += 64)
    k += (size_t)snprintf(expect + k, sizeof expect - k, "%.64s\n", b64 + i);
  snprintf(expect + k, sizeof expect - k, "-----END LICSRV LICENSE-----\n");
  assert_string_equal(a, expect);
  free(b64);
  free(a);
  /* No comments: starts with BEGIN. */
  assert_int_equal(lic_armor_encode("rif", NULL, d, 10, &a, &alen), LIC_OK);
  assert_true(strncmp(a, "-----BEGIN LICSRV RIF-----\n", 27) == 0);
  free(a);
  /* Bad labels. */
  assert_int_equal(lic_armor_encode("", NULL, d, 10, &a, &alen), LIC_INVALID);
  assert_int_equal(lic_armor_encode("abcdefghijklmnopq", NULL, d, 10, &a, &alen), LIC_INVALID);
}

static void test_roundtrip_lengths(void **state) {
  (void)state;
  uint8_t d[300];
  sample(d, sizeof d);
  for (size_t n = 1; n <= sizeof d; n++) {
    char *a = NULL;
    size_t alen = 0;
    assert_int_equal(lic_armor_encode("license", "c", d, n, &a, &alen), LIC_OK);
    expect_decode(a, d, n, "license");
    free(a);
  }
}

static void test_crlf(void **state) {
  (void)state;
  uint8_t d[150];
  sample(d, sizeof d);
  char *t = hand_armor("LICENSE", d, sizeof d, 64, "\r\n", "# c\r\n", "", "");
  expect_decode(t, d, sizeof d, "license");
  free(t);
  /* Old Mac line ends are not line ends; bare LF mixed with CRLF is fine. */
  t = hand_armor("LICENSE", d, sizeof d, 64, "\r\n", "hello\n", "bye\n", "");
  expect_decode(t, d, sizeof d, "license");
  free(t);
}

static void test_prose_around(void **state) {
  (void)state;
  uint8_t d[100];
  sample(d, sizeof d);
  char *t = hand_armor("RIF", d, sizeof d, 64, "\n",
                       "Hello vendor,\n\nplease find our registration below.\n-----\n\n",
                       "\nBest regards,\n-- \nSomeone\n", "");
  expect_decode(t, d, sizeof d, "rif");
  free(t);
}

static void test_mail_quoting(void **state) {
  (void)state;
  uint8_t d[120];
  sample(d, sizeof d);
  char *t = hand_armor("LICENSE", d, sizeof d, 64, "\n", "> On Monday you wrote:\n", "", "> ");
  expect_decode(t, d, sizeof d, "license");
  free(t);
  t = hand_armor("LICENSE", d, sizeof d, 64, "\n", "", "", ">> ");
  expect_decode(t, d, sizeof d, "license");
  free(t);
  t = hand_armor("LICENSE", d, sizeof d, 64, "\r\n", "", "", "> > ");
  expect_decode(t, d, sizeof d, "license");
  free(t);
}

static void test_stray_whitespace(void **state) {
  (void)state;
  uint8_t d[130];
  sample(d, sizeof d);
  char *b64 = b64_line(d, sizeof d);
  char t[2048];
  size_t bl = strlen(b64);
  /* Leading/trailing blanks on every line, a tab, spaces inside the base64
   * and blank lines inside the armor. */
  int k = snprintf(t, sizeof t, "  \t-----BEGIN LICSRV LICENSE-----   \n\n \t%.*s \t\n   \n%.*s %s\t\n"
                   "\t -----END LICSRV LICENSE-----\t \n",
                   40, b64, 30, b64 + 40, b64 + 70);
  assert_true(k > 0 && (size_t)k < sizeof t);
  (void)bl;
  expect_decode(t, d, sizeof d, "license");
  free(b64);
}

static void test_missing_final_newline(void **state) {
  (void)state;
  uint8_t d[64];
  sample(d, sizeof d);
  char *t = hand_armor("LICENSE", d, sizeof d, 64, "\n", "", "", "");
  size_t n = strlen(t);
  assert_true(t[n - 1] == '\n');
  t[n - 1] = '\0';
  expect_decode(t, d, sizeof d, "license");
  free(t);
  t = hand_armor("LICENSE", d, sizeof d, 64, "\r\n", "", "", "");
  t[strlen(t) - 2] = '\0';
  expect_decode(t, d, sizeof d, "license");
  free(t);
}

static void test_rewrapped(void **state) {
  (void)state;
  uint8_t d[250];
  sample(d, sizeof d);
  static const size_t widths[] = {1, 3, 4, 40, 63, 65, 76, 1000};
  for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
    char *t = hand_armor("LICENSE", d, sizeof d, widths[i], "\n", "", "", "");
    expect_decode(t, d, sizeof d, "license");
    free(t);
  }
}

static void test_truncated_no_end(void **state) {
  (void)state;
  uint8_t d[200];
  sample(d, sizeof d);
  char *a = NULL;
  size_t alen = 0;
  assert_int_equal(lic_armor_encode("license", NULL, d, sizeof d, &a, &alen), LIC_OK);
  /* Cut anywhere between the BEGIN line and the END line's last dash. */
  char *end = strstr(a, "-----END");
  assert_non_null(end);
  size_t begin_len = (size_t)(strchr(a, '\n') - a) + 1;
  size_t stop = (size_t)(end - a) + strlen("-----END LICSRV LICENSE----");
  for (size_t n = begin_len; n <= stop; n++) {
    char *c = strndup(a, n);
    expect_fail(c);
    free(c);
  }
  /* Cut in the middle of the BEGIN line: no armor at all. */
  char *c = strndup(a, 20);
  expect_fail(c);
  free(c);
  free(a);
}

static void test_mismatched_end(void **state) {
  (void)state;
  uint8_t d[50];
  sample(d, sizeof d);
  char *b64 = b64_line(d, sizeof d);
  char t[512];
  snprintf(t, sizeof t, "-----BEGIN LICSRV LICENSE-----\n%s\n-----END LICSRV RIF-----\n", b64);
  expect_fail(t);
  snprintf(t, sizeof t, "-----BEGIN LICSRV LICENSE-----\n%s\n-----END LICSRV LICENSES-----\n", b64);
  expect_fail(t);
  /* The label is case-insensitive, so a lower-case END is the same label. */
  snprintf(t, sizeof t, "-----BEGIN LICSRV LICENSE-----\n%s\n-----END LICSRV license-----\n", b64);
  expect_decode(t, d, sizeof d, "license");
  free(b64);
}

static void test_garbage_base64(void **state) {
  (void)state;
  uint8_t d[60];
  sample(d, sizeof d);
  static const char bad[] = {'!', '*', '.', '-', '_', '=', '\x80', '\x01'};
  for (size_t i = 0; i < sizeof bad; i++) {
    char *b64 = b64_line(d, sizeof d);
    b64[10] = bad[i];
    char t[512];
    snprintf(t, sizeof t, "-----BEGIN LICSRV LICENSE-----\n%s\n-----END LICSRV LICENSE-----\n", b64);
    if (bad[i] == '-' || bad[i] == '_') {
      /* base64url symbols: the reader accepts either alphabet; the bytes then
       * differ from the original. */
      char tt[LIC_MAX_TYP + 1];
      uint8_t *out = NULL;
      size_t olen = 0;
      if (lic_armor_decode((const uint8_t *)t, strlen(t), tt, &out, &olen) == LIC_OK) {
        assert_int_equal(olen, sizeof d);
        assert_memory_not_equal(out, d, sizeof d);
      }
      free(out);
    } else {
      expect_fail(t);
    }
    free(b64);
  }
  /* Impossible lengths. */
  expect_fail("-----BEGIN LICSRV LICENSE-----\nQUJDR\n-----END LICSRV LICENSE-----\n");
  expect_fail("-----BEGIN LICSRV LICENSE-----\nQQ=\n-----END LICSRV LICENSE-----\n");
  /* Empty armor. */
  expect_fail("-----BEGIN LICSRV LICENSE-----\n-----END LICSRV LICENSE-----\n");
  /* Labels that are not labels. */
  expect_fail("-----BEGIN LICSRV LIC3NSE-----\nQUJD\n-----END LICSRV LIC3NSE-----\n");
  expect_fail("-----BEGIN LICSRV -----\nQUJD\n-----END LICSRV -----\n");
  expect_fail("-----BEGIN LICSRV LICENSE----\nQUJD\n-----END LICSRV LICENSE----\n");
}

static void test_unarmor_any(void **state) {
  (void)state;
  uint8_t d[90];
  sample(d, sizeof d);
  uint8_t *out = NULL;
  size_t olen = 0;
  /* Raw MessagePack (a fixmap) comes back byte for byte. */
  assert_int_equal(lic_unarmor_any(d, sizeof d, &out, &olen), LIC_OK);
  assert_int_equal(olen, sizeof d);
  assert_memory_equal(out, d, sizeof d);
  assert_true(out != d);
  free(out);
  /* Armored text comes back decoded. */
  char *t = hand_armor("LICENSE", d, sizeof d, 64, "\r\n", "# note\r\n", "", "> ");
  assert_int_equal(lic_unarmor_any((const uint8_t *)t, strlen(t), &out, &olen), LIC_OK);
  assert_int_equal(olen, sizeof d);
  assert_memory_equal(out, d, sizeof d);
  free(out);
  free(t);
  /* Neither. */
  static const uint8_t junk[] = "just some text\n";
  assert_int_equal(lic_unarmor_any(junk, sizeof junk - 1, &out, &olen), LIC_FORMAT);
  assert_null(out);
  static const uint8_t arr[] = {0x94, 1, 2, 3, 4};
  assert_int_equal(lic_unarmor_any(arr, sizeof arr, &out, &olen), LIC_FORMAT);
}

static void test_empty_input(void **state) {
  (void)state;
  char t[LIC_MAX_TYP + 1];
  uint8_t *out = NULL;
  size_t olen = 0;
  assert_int_equal(lic_armor_decode((const uint8_t *)"", 0, t, &out, &olen), LIC_FORMAT);
  assert_null(out);
  assert_int_equal(lic_unarmor_any((const uint8_t *)"", 0, &out, &olen), LIC_FORMAT);
  assert_null(out);
  expect_fail("\n\n\r\n   \n");
}

static void test_first_armor_wins(void **state) {
  (void)state;
  uint8_t a[40], b[40];
  sample(a, sizeof a);
  sample(b, sizeof b);
  b[5] ^= 0xff;
  char *ta = hand_armor("RIF", a, sizeof a, 64, "\n", "", "", "");
  char *tb = hand_armor("LICENSE", b, sizeof b, 64, "\n", "", "", "");
  char *both = malloc(strlen(ta) + strlen(tb) + 2);
  snprintf(both, strlen(ta) + strlen(tb) + 2, "%s\n%s", ta, tb);
  expect_decode(both, a, sizeof a, "rif");
  free(both);
  free(ta);
  free(tb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode_format),
      cmocka_unit_test(test_roundtrip_lengths),
      cmocka_unit_test(test_crlf),
      cmocka_unit_test(test_prose_around),
      cmocka_unit_test(test_mail_quoting),
      cmocka_unit_test(test_stray_whitespace),
      cmocka_unit_test(test_missing_final_newline),
      cmocka_unit_test(test_rewrapped),
      cmocka_unit_test(test_truncated_no_end),
      cmocka_unit_test(test_mismatched_end),
      cmocka_unit_test(test_garbage_base64),
      cmocka_unit_test(test_unarmor_any),
      cmocka_unit_test(test_empty_input),
      cmocka_unit_test(test_first_armor_wins),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
