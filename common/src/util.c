/* util.c - UUID text, calendar dates, random bytes, number parsing. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "internal.h"
#include "lic/util.h"

void lic_uuid_format(const uint8_t id[LIC_ID_LEN], char out[LIC_UUID_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (size_t i = 0; i < LIC_ID_LEN; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out[o++] = '-';
    out[o++] = hex[id[i] >> 4];
    out[o++] = hex[id[i] & 15];
  }
  out[o] = '\0';
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = (char)tolower((unsigned char)c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

int lic_uuid_parse(const char *s, size_t len, uint8_t id[LIC_ID_LEN]) {
  if (len != LIC_UUID_LEN)
    return lic__fail(LIC_FORMAT, "an id is a UUID (8-4-4-4-12 hex digits)");
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-')
        return lic__fail(LIC_FORMAT, "an id is a UUID (8-4-4-4-12 hex digits)");
      i++;
      continue;
    }
    int hi = hexval(s[i]), lo = hexval(s[i + 1]);
    if (hi < 0 || lo < 0)
      return lic__fail(LIC_FORMAT, "an id is a UUID (8-4-4-4-12 hex digits)");
    id[o++] = (uint8_t)(hi << 4 | lo);
    i += 2;
  }
  return LIC_OK;
}

int lic_random(uint8_t *buf, size_t len) {
  if (len > INT32_MAX || RAND_bytes(buf, (int)len) != 1)
    return lic__fail_ssl(LIC_CRYPTO, "RAND_bytes");
  return LIC_OK;
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t lic_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

void lic_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int lic_date_parse(const char *s, int64_t *t) {
  unsigned y, m, d;
  if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
    return lic__fail(LIC_FORMAT, "'%.20s' is not a date (YYYY-MM-DD)", s);
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
      return lic__fail(LIC_FORMAT, "'%.20s' is not a date (YYYY-MM-DD)", s);
  y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
  m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
  d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
  static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
    return lic__fail(LIC_FORMAT, "'%s' is not a valid calendar date", s);
  *t = lic_days_from_civil(y, m, d) * 86400;
  return LIC_OK;
}

int lic_time_parse(const char *s, int64_t *t) {
  char day[11];
  unsigned hh, mm, ss;
  int rc;
  if (strlen(s) == 10)
    return lic_date_parse(s, t);
  /* YYYY-MM-DDTHH:MM:SSZ: the one RFC 3339 form every tool prints */
  if (strlen(s) != 20 || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' ||
      (s[19] != 'Z' && s[19] != 'z'))
    return lic__fail(LIC_FORMAT, "'%.24s' is not a date (YYYY-MM-DD) or a UTC time "
                                 "(YYYY-MM-DDTHH:MM:SSZ)", s);
  for (int i = 11; i < 19; i++)
    if (i != 13 && i != 16 && !isdigit((unsigned char)s[i]))
      return lic__fail(LIC_FORMAT, "'%.24s' is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)", s);
  memcpy(day, s, 10);
  day[10] = '\0';
  if ((rc = lic_date_parse(day, t)) != LIC_OK)
    return rc;
  hh = (unsigned)((s[11] - '0') * 10 + (s[12] - '0'));
  mm = (unsigned)((s[14] - '0') * 10 + (s[15] - '0'));
  ss = (unsigned)((s[17] - '0') * 10 + (s[18] - '0'));
  if (hh > 23 || mm > 59 || ss > 59)
    return lic__fail(LIC_FORMAT, "'%s' is not a valid time of day", s);
  *t += (int64_t)hh * 3600 + (int64_t)mm * 60 + (int64_t)ss;
  return LIC_OK;
}

void lic_until_format(int64_t t, char out[LIC_UNTIL_LEN]) {
  char at[21], last[11];
  if (t == 0) {
    snprintf(out, LIC_UNTIL_LEN, "never (perpetual)");
    return;
  }
  lic_time_format(t, at);
  lic_date_format(t - 1, last); /* the end is exclusive: the last second is t - 1 */
  snprintf(out, LIC_UNTIL_LEN, "valid until %s, last day %s", at, last);
}

void lic_date_format(int64_t t, char out[11]) {
  int64_t y;
  unsigned m, d;
  int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  lic_civil_from_days(days, &y, &m, &d);
  unsigned yy = y < 0 ? 0 : (unsigned)(y % 10000);
  snprintf(out, 11, "%04u-%02u-%02u", yy % 10000u, m % 100u, d % 100u);
}

void lic_time_format(int64_t t, char out[21]) {
  int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  int64_t secs = t - days * 86400, y;
  unsigned m, d;
  lic_civil_from_days(days, &y, &m, &d);
  unsigned yy = y < 0 ? 0 : (unsigned)(y % 10000);
  snprintf(out, 21, "%04u-%02u-%02uT%02u:%02u:%02uZ", yy % 10000u, m % 100u, d % 100u,
           (unsigned)(secs / 3600) % 100u, (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
}

int lic_parse_int(const char *s, int64_t min, int64_t max, int64_t *out) {
  char *end;
  if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
    return lic__fail(LIC_INVALID, "'%s' is not a number", s == NULL ? "" : s);
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*end != '\0')
    return lic__fail(LIC_INVALID, "'%.40s' is not a whole number", s);
  if (errno != ERANGE && v < min)
    return lic__fail(LIC_LIMIT, "%.40s: must be at least %lld", s, (long long)min);
  if (errno == ERANGE || v > max)
    return lic__fail(LIC_LIMIT, "%.40s: must be at most %lld", s, (long long)max);
  *out = v;
  return LIC_OK;
}
