/* test_actcode.c - activation codes: round trip, typo detection per group,
 * confusables, forgery vs typo, expiry, product, malformed input, vectors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/actcode.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/util.h"
#include "testutil.h"

/* Independent of liblic's b32.c: the alphabet and the check computation. */
static const char ALPHA[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

static int val(char c) {
  const char *p = strchr(ALPHA, c);
  return p != NULL && c != '\0' ? (int)(p - ALPHA) : -1;
}

static char check_of(const char *syms, size_t n) {
  /* The group as a base-32 number, reduced mod 37 digit by digit. */
  unsigned long long m = 0;
  for (size_t i = 0; i < n; i++)
    m = (m * 32 + (unsigned)val(syms[i])) % 37;
  return ALPHA[m];
}

static lic_key *key;
static lic_trust trust;

static int setup(void **state) {
  (void)state;
  key = tu_test_root_key();
  lic_trust_init(&trust);
  return lic_trust_add_raw(&trust, lic_key_raw_public(key)) == LIC_OK ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  lic_key_free(key);
  return 0;
}

static void make(int product, uint32_t serial, uint16_t day, int edition, char out[]) {
  lic_code c = {0};
  c.product = (uint8_t)product;
  c.serial = serial;
  c.expiry_day = day;
  c.edition = (uint8_t)edition;
  assert_int_equal(lic_code_make(&c, key, out), LIC_OK);
}

static const char *sample(void) {
  static char text[LIC_CODE_TEXT_LEN + 1];
  make(7, 123456, 3000, 5, text);
  return text;
}

static void test_roundtrip(void **state) {
  (void)state;
  char text[LIC_CODE_TEXT_LEN + 1];
  lic_code c;
  make(200, 0xDEADBEEF, 0, 0x81, text);
  assert_int_equal(strlen(text), LIC_CODE_TEXT_LEN);
  assert_int_equal(lic_code_parse(text, &c), LIC_OK);
  assert_int_equal(c.version, 1);
  assert_int_equal(c.product, 200);
  assert_int_equal(c.serial, 0xDEADBEEF);
  assert_int_equal(c.expiry_day, 0);
  assert_int_equal(c.edition, 0x81);
  assert_int_equal(lic_code_verify(&c, &trust, 200, 1700000000), LIC_OK);
  assert_int_equal(lic_code_verify(&c, &trust, -1, 4000000000), LIC_OK); /* never expires */
  assert_int_equal(lic_code_expires(&c), 0);

  /* Same bytes out again, and the text layout. */
  uint8_t bin[LIC_CODE_BIN_LEN];
  char again[LIC_CODE_TEXT_LEN + 1];
  lic_code_bytes(&c, bin);
  lic_code_format(bin, again);
  assert_string_equal(text, again);
  size_t groups = 1;
  for (const char *p = text; *p; p++)
    groups += *p == '-';
  assert_int_equal(groups, 24);
  assert_int_equal(strrchr(text, '-') - text, LIC_CODE_TEXT_LEN - 4); /* last group: 2 + check */
}

/* Every group's check symbol, recomputed here. */
static void test_check_symbols_independent(void **state) {
  (void)state;
  const char *text = sample();
  char copy[LIC_CODE_TEXT_LEN + 1];
  snprintf(copy, sizeof copy, "%s", text);
  size_t ngroups = 0;
  for (char *save = NULL, *g = strtok_r(copy, "-", &save); g; g = strtok_r(NULL, "-", &save)) {
    size_t n = strlen(g);
    assert_true(n == 6 || (n == 3 && ngroups == 23));
    assert_int_equal(g[n - 1], check_of(g, n - 1));
    ngroups++;
  }
  assert_int_equal(ngroups, 24);
}

static void assert_typo_in(const char *text, size_t group) {
  lic_code c;
  char want[40];
  int r = lic_code_parse(text, &c);
  if (r != LIC_TYPO)
    fail_msg("%s: want TYPO in group %zu, got %s (%s)", text, group, lic_errname(r),
             lic_errdetail());
  snprintf(want, sizeof want, "group %zu has a typo", group);
  if (strcmp(lic_errdetail(), want) != 0)
    fail_msg("detail '%s', want '%s'", lic_errdetail(), want);
}

static void test_every_substitution(void **state) {
  (void)state;
  const char *text = sample();
  char t[LIC_CODE_TEXT_LEN + 1];
  size_t group = 1, tried = 0;
  for (size_t i = 0; i < LIC_CODE_TEXT_LEN; i++) {
    if (text[i] == '-') {
      group++;
      continue;
    }
    for (size_t a = 0; a < sizeof ALPHA - 1; a++) {
      if (val(ALPHA[a]) == val(text[i]))
        continue;
      memcpy(t, text, sizeof t);
      t[i] = ALPHA[a];
      assert_typo_in(t, group);
      tried++;
    }
  }
  assert_int_equal(group, 24);
  assert_int_equal(tried, 141 * 36);
}

static void test_every_transposition(void **state) {
  (void)state;
  const char *text = sample();
  char t[LIC_CODE_TEXT_LEN + 1];
  size_t group = 1, tried = 0;
  for (size_t i = 0; i + 1 < LIC_CODE_TEXT_LEN; i++) {
    if (text[i] == '-') {
      group++;
      continue;
    }
    if (text[i + 1] == '-' || text[i] == text[i + 1])
      continue;
    memcpy(t, text, sizeof t);
    t[i] = text[i + 1];
    t[i + 1] = text[i];
    assert_typo_in(t, group);
    tried++;
  }
  assert_true(tried > 100);
}

static void test_two_typos(void **state) {
  (void)state;
  char t[LIC_CODE_TEXT_LEN + 1];
  lic_code c;
  memcpy(t, sample(), sizeof t);
  t[0] = t[0] == 'A' ? 'B' : 'A';
  t[6 * 7] = t[6 * 7] == 'A' ? 'B' : 'A'; /* first symbol of group 7 (7 columns each) */
  assert_int_equal(lic_code_parse(t, &c), LIC_TYPO);
  assert_string_equal(lic_errdetail(), "groups 1, 7 have typos");
}

static void test_confusables(void **state) {
  (void)state;
  const char *text = sample();
  char t[LIC_CODE_TEXT_LEN * 2 + 8];
  lic_code ref, c;
  assert_int_equal(lic_code_parse(text, &ref), LIC_OK);

  /* lower case, I/L for 1, O for 0, spaces for dashes */
  size_t o = 0, ones = 0, zeros = 0;
  for (const char *p = text; *p; p++) {
    char ch = *p;
    if (ch == '1')
      ch = (ones++ % 2) ? 'i' : 'L';
    else if (ch == '0')
      ch = (zeros++ % 2) ? 'o' : 'O';
    else if (ch == '-')
      ch = ' ';
    else if (ch >= 'A' && ch <= 'Z')
      ch = (char)(ch - 'A' + 'a');
    t[o++] = ch;
  }
  t[o] = '\0';
  assert_int_equal(lic_code_parse(t, &c), LIC_OK);
  assert_memory_equal(&c, &ref, sizeof c);

  /* no dashes at all, and grouped wrongly: regrouped by position */
  o = 0;
  for (const char *p = text; *p; p++)
    if (*p != '-') {
      t[o++] = *p;
      if (o % 4 == 0)
        t[o++] = '-';
    }
  t[o] = '\0';
  assert_int_equal(lic_code_parse(t, &c), LIC_OK);
  assert_memory_equal(&c, &ref, sizeof c);

  /* surrounding whitespace and a line end (pasted from a mail) */
  snprintf(t, sizeof t, "  %s\r\n", text);
  assert_int_equal(lic_code_parse(t, &c), LIC_OK);
}

/* Re-encode code bytes with correct check symbols after changing them. */
static void reencode(const lic_code *c, char out[LIC_CODE_TEXT_LEN + 1]) {
  uint8_t bin[LIC_CODE_BIN_LEN];
  lic_code_bytes(c, bin);
  lic_code_format(bin, out);
}

static void test_forgery_not_typo(void **state) {
  (void)state;
  char t[LIC_CODE_TEXT_LEN + 1];
  lic_code c, d;
  assert_int_equal(lic_code_parse(sample(), &c), LIC_OK);
  for (size_t bit = 0; bit < 8 * LIC_SIG_LEN; bit += 37) {
    d = c;
    d.sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    reencode(&d, t);
    assert_int_equal(lic_code_parse(t, &d), LIC_OK); /* well-formed */
    assert_int_equal(lic_code_verify(&d, &trust, 7, 1700000000), LIC_NOTGENUINE);
    assert_non_null(strstr(lic_strerror(LIC_NOTGENUINE), "not a genuine code"));
  }
  /* a changed payload (serial) under the old signature */
  d = c;
  d.serial++;
  reencode(&d, t);
  assert_int_equal(lic_code_parse(t, &d), LIC_OK);
  assert_int_equal(lic_code_verify(&d, &trust, 7, 1700000000), LIC_NOTGENUINE);
  /* an empty trust store trusts nothing */
  lic_trust none;
  lic_trust_init(&none);
  assert_int_equal(lic_code_verify(&c, &none, 7, 1700000000), LIC_NOTGENUINE);
  assert_int_equal(lic_code_verify(&c, NULL, 7, 1700000000), LIC_NOTGENUINE);
}

static void test_trust_rotation(void **state) {
  (void)state;
  /* The code has no key id: any key of the store may have signed it. */
  lic_key *other = NULL;
  lic_trust t;
  lic_code c;
  assert_int_equal(lic_key_generate(&other), LIC_OK);
  lic_trust_init(&t);
  assert_int_equal(lic_trust_add_raw(&t, lic_key_raw_public(other)), LIC_OK);
  assert_int_equal(lic_trust_add_raw(&t, lic_key_raw_public(key)), LIC_OK);
  assert_int_equal(lic_code_parse(sample(), &c), LIC_OK);
  assert_int_equal(lic_code_verify(&c, &t, 7, 1700000000), LIC_OK);
  lic_key_free(other);
}

static void test_expiry(void **state) {
  (void)state;
  char text[LIC_CODE_TEXT_LEN + 1];
  lic_code c;
  int64_t t;
  uint16_t day;
  assert_int_equal(lic_date_parse("2026-03-01", &t), LIC_OK);
  assert_int_equal(lic_code_day_of(t, &day), LIC_OK);
  make(3, 9, day, 0, text);
  assert_int_equal(lic_code_parse(text, &c), LIC_OK);
  assert_int_equal(lic_code_expires(&c), t);
  assert_int_equal(lic_code_verify(&c, &trust, 3, t - 1), LIC_OK);
  assert_int_equal(lic_code_verify(&c, &trust, 3, t), LIC_EXPIRED);
  assert_non_null(strstr(lic_errdetail(), "2026-03-01"));
  /* day 0 means never; 2020-01-01 itself cannot be an expiry */
  assert_int_equal(lic_date_parse("2020-01-01", &t), LIC_OK);
  assert_int_equal(lic_code_day_of(t, &day), LIC_LIMIT);
  assert_int_equal(lic_date_parse("2199-06-06", &t), LIC_OK);
  assert_int_equal(lic_code_day_of(t, &day), LIC_OK);
  assert_int_equal(day, 65535);
  assert_int_equal(lic_date_parse("2199-06-07", &t), LIC_OK);
  assert_int_equal(lic_code_day_of(t, &day), LIC_LIMIT);
}

static void test_product(void **state) {
  (void)state;
  lic_code c;
  assert_int_equal(lic_code_parse(sample(), &c), LIC_OK);
  assert_int_equal(lic_code_verify(&c, &trust, 8, 1700000000), LIC_PRODUCT);
  assert_non_null(strstr(lic_errdetail(), "product 7"));
  assert_int_equal(lic_code_verify(&c, &trust, 7, 1700000000), LIC_OK);
}

static void test_version(void **state) {
  (void)state;
  /* A genuinely signed code of a version this build does not read. */
  char text[LIC_CODE_TEXT_LEN + 1];
  uint8_t msg[13 + LIC_CODE_PAYLOAD_LEN];
  lic_code c = {0};
  c.version = 2;
  c.product = 7;
  memcpy(msg, LIC_CODE_SIG_DOMAIN, 13);
  lic_code_payload(&c, msg + 13);
  assert_int_equal(lic_key_sign2(key, msg, 13, msg + 13, LIC_CODE_PAYLOAD_LEN, c.sig), LIC_OK);
  reencode(&c, text);
  assert_int_equal(lic_code_parse(text, &c), LIC_OK);
  assert_int_equal(lic_code_verify(&c, &trust, 7, 1700000000), LIC_FORMAT);
}

static void test_malformed(void **state) {
  (void)state;
  const char *text = sample();
  char t[LIC_CODE_MAX_INPUT * 2];
  lic_code c;

  /* truncated: last group missing, one symbol missing, empty */
  snprintf(t, sizeof t, "%.*s", LIC_CODE_TEXT_LEN - 4, text);
  assert_int_equal(lic_code_parse(t, &c), LIC_FORMAT);
  assert_non_null(strstr(lic_errdetail(), "too short"));
  snprintf(t, sizeof t, "%.*s", LIC_CODE_TEXT_LEN - 1, text);
  assert_int_equal(lic_code_parse(t, &c), LIC_FORMAT);
  assert_int_equal(lic_code_parse("", &c), LIC_FORMAT);
  assert_int_equal(lic_code_parse("---   ", &c), LIC_FORMAT);
  assert_int_equal(lic_code_parse(NULL, &c), LIC_INVALID);

  /* one extra group, and oversize input refused before any work */
  snprintf(t, sizeof t, "%s-ABCDEF", text);
  assert_int_equal(lic_code_parse(t, &c), LIC_FORMAT);
  assert_non_null(strstr(lic_errdetail(), "too long"));
  memset(t, 'A', LIC_CODE_MAX_INPUT + 1);
  t[LIC_CODE_MAX_INPUT + 1] = '\0';
  assert_int_equal(lic_code_parse(t, &c), LIC_FORMAT);
  assert_non_null(strstr(lic_errdetail(), "too long"));
  /* exactly at the limit, made of spaces around a valid code: accepted */
  memset(t, ' ', LIC_CODE_MAX_INPUT);
  memcpy(t + 10, text, LIC_CODE_TEXT_LEN);
  t[LIC_CODE_MAX_INPUT] = '\0';
  assert_int_equal(lic_code_parse(t, &c), LIC_OK);

  /* a character that is no symbol at all: its position is named */
  memcpy(t, text, LIC_CODE_TEXT_LEN + 1);
  t[13] = '#';
  assert_int_equal(lic_code_parse(t, &c), LIC_FORMAT);
  assert_non_null(strstr(lic_errdetail(), "character 14"));
  assert_non_null(strstr(lic_errdetail(), "group 3"));
  memcpy(t, text, LIC_CODE_TEXT_LEN + 1);
  t[20] = '\xC3'; /* UTF-8 lead byte */
  assert_int_equal(lic_code_parse(t, &c), LIC_FORMAT);

  /* non-zero padding bit with a correct check symbol: malformed, not a typo */
  memcpy(t, text, LIC_CODE_TEXT_LEN + 1);
  char *last = t + LIC_CODE_TEXT_LEN - 3; /* "XYc": Y holds 4 data bits + 1 pad bit */
  last[1] = ALPHA[val(last[1]) | 1];
  last[2] = check_of(last, 2);
  assert_int_equal(lic_code_parse(t, &c), LIC_FORMAT);
}

/* tests/vectors/codes/codes.csv: rebuilt byte for byte with the test key. */
static void test_vectors(void **state) {
  (void)state;
  uint8_t *buf = NULL;
  size_t len, n = 0;
  assert_int_equal(lic_file_read(tu_src("tests/vectors/codes/codes.csv"), LIC_MAX_FILE, &buf,
                                 &len), LIC_OK);
  char *save = NULL;
  for (char *line = strtok_r((char *)buf, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    unsigned long serial;
    unsigned product, edition;
    char code[LIC_CODE_TEXT_LEN + 2], expires[16], made[LIC_CODE_TEXT_LEN + 1];
    if (strncmp(line, "serial,", 7) == 0)
      continue;
    assert_int_equal(sscanf(line, "%lu,%165[^,],%u,%u,%15s", &serial, code, &product, &edition,
                            expires), 5);
    uint16_t day = 0;
    if (strcmp(expires, "never") != 0) {
      int64_t t;
      assert_int_equal(lic_date_parse(expires, &t), LIC_OK);
      assert_int_equal(lic_code_day_of(t, &day), LIC_OK);
    }
    make((int)product, (uint32_t)serial, day, (int)edition, made);
    assert_string_equal(made, code);
    lic_code c;
    assert_int_equal(lic_code_parse(code, &c), LIC_OK);
    assert_int_equal(lic_code_verify(&c, &trust, (int)product, 1700000000), LIC_OK);
    n++;
  }
  assert_true(n >= 3);
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_check_symbols_independent),
      cmocka_unit_test(test_every_substitution),
      cmocka_unit_test(test_every_transposition),
      cmocka_unit_test(test_two_typos),
      cmocka_unit_test(test_confusables),
      cmocka_unit_test(test_forgery_not_typo),
      cmocka_unit_test(test_trust_rotation),
      cmocka_unit_test(test_expiry),
      cmocka_unit_test(test_product),
      cmocka_unit_test(test_version),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_vectors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
