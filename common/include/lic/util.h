/* util.h - ids (UUID text), dates, random bytes, bounded number parsing. */
#ifndef LIC_UTIL_H
#define LIC_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "lic/api.h"

#define LIC_ID_LEN   16
#define LIC_UUID_LEN 36 /* 8-4-4-4-12 */

LIC_API void lic_uuid_format(const uint8_t id[LIC_ID_LEN], char out[LIC_UUID_LEN + 1]);
/* Lower or upper case hex, with dashes exactly at 8-4-4-4-12. */
LIC_API int lic_uuid_parse(const char *s, size_t len, uint8_t id[LIC_ID_LEN]);
/* RAND_bytes, LIC_CRYPTO on failure. */
LIC_API int lic_random(uint8_t *buf, size_t len);
/* "YYYY-MM-DD" (UTC midnight) to Unix seconds; checks the calendar. */
LIC_API int lic_date_parse(const char *s, int64_t *t);
/* lic_date_parse, or "YYYY-MM-DDTHH:MM:SSZ" to the second (a renewal that
 * takes over at the exact end of the license it renews). */
LIC_API int lic_time_parse(const char *s, int64_t *t);
/* An end (expires, exclusive; 0 = perpetual) as people read it, the same in
 * every tool: "valid until 2027-12-31T00:00:00Z, last day 2027-12-30". */
#define LIC_UNTIL_LEN 64
LIC_API void lic_until_format(int64_t t, char out[LIC_UNTIL_LEN]);
/* Unix seconds to "YYYY-MM-DD" (UTC). */
LIC_API void lic_date_format(int64_t t, char out[11]);
/* Unix seconds to "YYYY-MM-DDTHH:MM:SSZ". */
LIC_API void lic_time_format(int64_t t, char out[21]);
/* Whole decimal number in [min, max] (strtoll with every check). */
LIC_API int lic_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
/* Days since 1970-01-01 for a proleptic Gregorian date, and back. */
LIC_API int64_t lic_days_from_civil(int64_t y, unsigned m, unsigned d);
LIC_API void lic_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
