/* b32.h - Crockford base32: encoding, tolerant decoding, mod-37 check symbols. */
#ifndef LIC_B32_H
#define LIC_B32_H

#include <stddef.h>
#include <stdint.h>

#include "lic/api.h"

/* Symbols for n bytes (bits big-endian, zero bits pad the last symbol). */
#define LIC_B32_LEN(n) (((n) * 8 + 4) / 5)

/* Write LIC_B32_LEN(len) symbols and a NUL into out (cap includes the NUL). */
LIC_API int lic_b32_encode(const uint8_t *in, size_t len, char *out, size_t cap);
/* Value 0..31 of a data symbol, case-insensitive, I/L read as 1 and O as 0;
 * -1 for anything else. */
LIC_API int lic_b32_value(char c);
/* Value 0..36 of a check symbol (data symbols plus * ~ $ = U); -1 otherwise. */
LIC_API int lic_b32_check_value(char c);
/* Symbol for value 0..36 (32..36 are the check-only symbols). */
LIC_API char lic_b32_symbol(int v);
/* Check symbol over n data symbol values: the group's number mod 37. */
LIC_API char lic_b32_check(const int *vals, size_t n);
/* Decode exactly nsym symbol values into out (LIC_B32_LEN(outlen) == nsym);
 * the padding bits must be zero. */
LIC_API int lic_b32_unpack(const int *vals, size_t nsym, uint8_t *out, size_t outlen);
/* Decode a symbol string ('-' and spaces ignored). */
LIC_API int lic_b32_decode(const char *in, uint8_t *out, size_t outlen);

#endif
