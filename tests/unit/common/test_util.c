/* test_util.c - tests UUID text, calendar dates, time formatting, number parsing, errors and random bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "lic/err.h"
#include "lic/util.h"
#include "testutil.h"

static void test_uuid_format(void **state) {
  (void)state;
  uint8_t id[16];
  char s[37];
  for (int i = 0; i < 16; i++)
    id[i] = (uint8_t)i;
  lic_uuid_format(id, s);
  assert_string_equal(s, "00010203-0405-0607-0809-0a0b0c0d0e0f");
  memset(id, 0xff, 16);
  lic_uuid_format(id, s);
  assert_string_equal(s, "ffffffff-ffff-ffff-ffff-ffffffffffff");
  static const uint8_t v[16] = {0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
                                0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00};
  lic_uuid_format(v, s);
  assert_string_equal(s, "123e4567-e89b-12d3-a456-426614174000");
}

static void test_uuid_parse(void **state) {
  (void)state;
  static const uint8_t v[16] = {0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
                                0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00};
  uint8_t id[16];
  const char *ok[] = {"123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000",
                      "123e4567-E89b-12D3-a456-426614174000"};
  for (size_t i = 0; i < 3; i++) {
    memset(id, 0, sizeof id);
    assert_int_equal(lic_uuid_parse(ok[i], strlen(ok[i]), id), LIC_OK);
    assert_memory_equal(id, v, 16);
  }
  static const char *const bad[] = {
      "123e4567e89b12d3a456426614174000",       /* no dashes (32) */
      "123e4567-e89b-12d3-a456-42661417400",    /* 35 */
      "123e4567-e89b-12d3-a456-4266141740000",  /* 37 */
      "123e456-7e89b-12d3-a456-426614174000",   /* dash misplaced */
      "123e4567-e89b-12d3-a4564-26614174000",
      "123e4567_e89b_12d3_a456_426614174000",
      "123e4567-e89b-12d3-a456+426614174000",
      "123g4567-e89b-12d3-a456-426614174000",   /* bad hex */
      "123e4567-e89b-12d3-a456-42661417400z",
      " 23e4567-e89b-12d3-a456-426614174000",
      "123e4567-e89b-12d3-a456-42661417400 ",
      "{23e4567-e89b-12d3-a456-42661417400}",
      "123e4567--89b-12d3-a456-426614174000",
      "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (lic_uuid_parse(bad[i], strlen(bad[i]), id) != LIC_FORMAT)
      fail_msg("accepted '%s'", bad[i]);
  /* The length argument is honored: a valid prefix of a longer string. */
  const char *longer = "123e4567-e89b-12d3-a456-426614174000trailing";
  assert_int_equal(lic_uuid_parse(longer, 36, id), LIC_OK);
  assert_memory_equal(id, v, 16);
  assert_int_equal(lic_uuid_parse(longer, strlen(longer), id), LIC_FORMAT);
  /* Round trip through random ids. */
  for (int t = 0; t < 100; t++) {
    uint8_t r[16], back[16];
    char s[37];
    assert_int_equal(lic_random(r, sizeof r), LIC_OK);
    lic_uuid_format(r, s);
    assert_int_equal(strlen(s), 36);
    assert_int_equal(lic_uuid_parse(s, 36, back), LIC_OK);
    assert_memory_equal(r, back, 16);
  }
}

/* Expected Unix time of a UTC date, by the C library. */
static int64_t utc(int y, int m, int d) {
  struct tm tm = {0};
  tm.tm_year = y - 1900;
  tm.tm_mon = m - 1;
  tm.tm_mday = d;
  return (int64_t)timegm(&tm);
}

static void test_date_parse(void **state) {
  (void)state;
  int64_t t = -1;
  assert_int_equal(lic_date_parse("1970-01-01", &t), LIC_OK);
  assert_int_equal(t, 0);
  assert_int_equal(lic_date_parse("2000-03-01", &t), LIC_OK);
  assert_int_equal(t, 951868800); /* well-known */
  static const struct {
    int y, m, d;
  } ok[] = {{2000, 2, 29}, {2024, 2, 29}, {2400, 2, 29}, {2023, 2, 28}, {2023, 12, 31},
            {1970, 12, 31}, {2038, 1, 19}, {2038, 1, 20}, {2100, 2, 28}, {9999, 12, 31},
            {2026, 4, 30}, {2026, 1, 31}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    char s[16];
    snprintf(s, sizeof s, "%04d-%02d-%02d", ok[i].y, ok[i].m, ok[i].d);
    assert_int_equal(lic_date_parse(s, &t), LIC_OK);
    assert_int_equal(t, utc(ok[i].y, ok[i].m, ok[i].d));
  }
  static const char *const bad[] = {
      "2023-02-29", "2100-02-29", "1900-02-29", "2023-02-30", "2023-04-31", "2023-06-31",
      "2023-09-31", "2023-11-31", "2023-13-01", "2023-00-10", "2023-01-00", "2023-01-32",
      "1969-12-31", "0000-01-01", "2023-4-01",  "2023-04-1",  "20230401",   "2023/04/01",
      "2023-04-01x", "2023-04-01 ", " 2023-04-01", "",         "abcd-ef-gh", "2023-0a-01",
      "+023-04-01", "2023--4-01", "2023-04-01T00:00:00Z"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (lic_date_parse(bad[i], &t) != LIC_FORMAT)
      fail_msg("accepted date '%s'", bad[i]);
}

static void test_date_time_format(void **state) {
  (void)state;
  char d[11], ts[21];
  lic_date_format(0, d);
  assert_string_equal(d, "1970-01-01");
  lic_time_format(0, ts);
  assert_string_equal(ts, "1970-01-01T00:00:00Z");
  lic_date_format(951782400, d);
  assert_string_equal(d, "2000-02-29");
  lic_time_format(86399, ts);
  assert_string_equal(ts, "1970-01-01T23:59:59Z");
  lic_date_format(-1, d);
  assert_string_equal(d, "1969-12-31");
  lic_time_format(-1, ts);
  assert_string_equal(ts, "1969-12-31T23:59:59Z");
  /* Against gmtime_r + strftime over a spread of times. */
  int64_t t = -86400 * 400LL;
  for (int i = 0; i < 3000; i++) {
    time_t tt = (time_t)t;
    struct tm tm;
    char e1[32], e2[32];
    assert_non_null(gmtime_r(&tt, &tm));
    strftime(e1, sizeof e1, "%Y-%m-%d", &tm);
    strftime(e2, sizeof e2, "%Y-%m-%dT%H:%M:%SZ", &tm);
    lic_date_format(t, d);
    lic_time_format(t, ts);
    if (strcmp(d, e1) != 0 || strcmp(ts, e2) != 0)
      fail_msg("t=%lld: %s / %s, expected %s / %s", (long long)t, d, ts, e1, e2);
    t += 86400 * 53 + 3677; /* about 160 years in 3000 steps, odd seconds */
  }
  /* Parse and format agree. */
  int64_t back;
  assert_int_equal(lic_date_parse("2024-02-29", &back), LIC_OK);
  lic_date_format(back, d);
  assert_string_equal(d, "2024-02-29");
  lic_date_format(back + 86399, d);
  assert_string_equal(d, "2024-02-29");
  lic_date_format(back + 86400, d);
  assert_string_equal(d, "2024-03-01");
}

static void test_time_parse(void **state) {
  (void)state;
  int64_t t = 0;
  assert_int_equal(lic_time_parse("2027-01-01", &t), LIC_OK);
  assert_int_equal(t, 1798761600);
  assert_int_equal(lic_time_parse("2027-01-01T00:00:00Z", &t), LIC_OK);
  assert_int_equal(t, 1798761600);
  assert_int_equal(lic_time_parse("2027-01-01t23:59:59z", &t), LIC_OK);
  assert_int_equal(t, 1798761600 + 86399);
  /* what lic_time_format prints reads back */
  char out[21];
  lic_time_format(1796099999, out);
  assert_int_equal(lic_time_parse(out, &t), LIC_OK);
  assert_int_equal(t, 1796099999);
  static const char *const bad[] = {"2027-01-01T24:00:00Z", "2027-01-01T00:60:00Z",
                                    "2027-01-01T00:00:60Z", "2027-01-01T00:00:00",
                                    "2027-01-01 00:00:00Z", "2027-01-01T00:00:00+01:00",
                                    "2027-02-29T00:00:00Z", "2027-01-01T0a:00:00Z", "", "now"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (lic_time_parse(bad[i], &t) != LIC_FORMAT)
      fail_msg("'%s' accepted", bad[i]);
}

/* One meaning of an end in every tool: exclusive, and the last day before it. */
static void test_until_format(void **state) {
  (void)state;
  char out[LIC_UNTIL_LEN];
  lic_until_format(1830211200, out); /* 2027-12-31T00:00:00Z */
  assert_string_equal(out, "valid until 2027-12-31T00:00:00Z, last day 2027-12-30");
  lic_until_format(1830211200 + 3600, out);
  assert_string_equal(out, "valid until 2027-12-31T01:00:00Z, last day 2027-12-31");
  lic_until_format(0, out);
  assert_string_equal(out, "never (perpetual)");
}

static void test_civil_days(void **state) {
  (void)state;
  assert_int_equal(lic_days_from_civil(1970, 1, 1), 0);
  assert_int_equal(lic_days_from_civil(1969, 12, 31), -1);
  assert_int_equal(lic_days_from_civil(2000, 3, 1), 11017);
  for (int64_t z = -800000; z < 800000; z += 997) {
    int64_t y;
    unsigned m, d;
    lic_civil_from_days(z, &y, &m, &d);
    assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
    assert_int_equal(lic_days_from_civil(y, m, d), z);
  }
}

static void test_parse_int(void **state) {
  (void)state;
  int64_t v = 7;
  assert_int_equal(lic_parse_int("0", 0, 10, &v), LIC_OK);
  assert_int_equal(v, 0);
  assert_int_equal(lic_parse_int("-5", -10, 10, &v), LIC_OK);
  assert_int_equal(v, -5);
  assert_int_equal(lic_parse_int("10", 0, 10, &v), LIC_OK);
  assert_int_equal(lic_parse_int("65535", 1, 65535, &v), LIC_OK);
  assert_int_equal(v, 65535);
  assert_int_equal(lic_parse_int("9223372036854775807", INT64_MIN, INT64_MAX, &v), LIC_OK);
  assert_true(v == INT64_MAX);
  assert_int_equal(lic_parse_int("-9223372036854775808", INT64_MIN, INT64_MAX, &v), LIC_OK);
  assert_true(v == INT64_MIN);
  /* Range. */
  v = 7;
  assert_int_equal(lic_parse_int("11", 0, 10, &v), LIC_LIMIT);
  assert_int_equal(lic_parse_int("-1", 0, 10, &v), LIC_LIMIT);
  assert_int_equal(lic_parse_int("65536", 1, 65535, &v), LIC_LIMIT);
  assert_int_equal(lic_parse_int("0", 1, 65535, &v), LIC_LIMIT);
  /* Overflow. */
  assert_int_equal(lic_parse_int("9223372036854775808", INT64_MIN, INT64_MAX, &v), LIC_LIMIT);
  assert_int_equal(lic_parse_int("-9223372036854775809", INT64_MIN, INT64_MAX, &v), LIC_LIMIT);
  assert_int_equal(lic_parse_int("99999999999999999999999", INT64_MIN, INT64_MAX, &v), LIC_LIMIT);
  assert_int_equal(v, 7); /* untouched on failure */
  /* Not numbers. */
  static const char *const bad[] = {"", " 1", "1 ", "1x", "12abc", "0x10", "1.5", "1e3",
                                    "--1", "-", "+", "abc", "1\n", "\t1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (lic_parse_int(bad[i], INT64_MIN, INT64_MAX, &v) != LIC_INVALID)
      fail_msg("accepted number '%s'", bad[i]);
  assert_int_equal(lic_parse_int(NULL, 0, 10, &v), LIC_INVALID);
  assert_int_equal(v, 7);
}

static void test_random(void **state) {
  (void)state;
  uint8_t a[32], b[32], zero[32] = {0};
  assert_int_equal(lic_random(a, sizeof a), LIC_OK);
  assert_int_equal(lic_random(b, sizeof b), LIC_OK);
  assert_memory_not_equal(a, b, 32);
  assert_memory_not_equal(a, zero, 32);
  assert_int_equal(lic_random(a, 0), LIC_OK);
}

static void test_errors(void **state) {
  (void)state;
  assert_string_equal(lic_errname(LIC_OK), "OK");
  assert_string_equal(lic_errname(LIC_FORMAT), "FORMAT");
  assert_string_equal(lic_errname(LIC_DENIED), "DENIED");
  assert_string_equal(lic_strerror(LIC_SIGNATURE), "signature does not verify");
  assert_string_equal(lic_strerror(LIC_INSECURE), "file is readable by group or others");
  assert_string_equal(lic_errname(LIC_ERR_MAX_), "UNKNOWN");
  assert_string_equal(lic_errname(-1), "UNKNOWN");
  assert_string_equal(lic_strerror(9999), "unknown error");
  /* Every code has its own name and message. */
  for (int i = 0; i < LIC_ERR_MAX_; i++)
    for (int j = i + 1; j < LIC_ERR_MAX_; j++) {
      assert_string_not_equal(lic_errname(i), lic_errname(j));
      assert_string_not_equal(lic_strerror(i), lic_strerror(j));
    }
  lic_errdetail_clear();
  assert_string_equal(lic_errdetail(), "");
  assert_string_equal(lic_errfull(LIC_IO), "input/output error");
  int64_t v;
  assert_int_equal(lic_parse_int("x", 0, 1, &v), LIC_INVALID);
  assert_true(lic_errdetail()[0] != '\0');
  const char *full = lic_errfull(LIC_INVALID);
  assert_true(strncmp(full, "invalid argument: ", 18) == 0);
  assert_non_null(strstr(full, lic_errdetail()));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uuid_format),
      cmocka_unit_test(test_uuid_parse),
      cmocka_unit_test(test_date_parse),
      cmocka_unit_test(test_date_time_format),
      cmocka_unit_test(test_time_parse),
      cmocka_unit_test(test_until_format),
      cmocka_unit_test(test_civil_days),
      cmocka_unit_test(test_parse_int),
      cmocka_unit_test(test_random),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
