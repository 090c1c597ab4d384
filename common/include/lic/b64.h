/* b64.h - base64 on OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock: standard and
 * base64url, tolerant decoding (either alphabet, padding optional). */
#ifndef LIC_B64_H
#define LIC_B64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/api.h"

#define LIC_B64_STD 0
#define LIC_B64_URL 1 /* base64url without padding */

/* NUL-terminated, malloc'd. */
LIC_API int lic_b64_encode(const uint8_t *in, size_t len, int flavor, char **out,
                           size_t *outlen);
/* Accepts both alphabets, padding or none; no whitespace. */
LIC_API int lic_b64_decode(const char *in, size_t len, uint8_t **out, size_t *outlen);

#endif
