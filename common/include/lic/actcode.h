/* actcode.h - designer activation codes (SPEC §3.6): binary layout, grouped
 * Crockford base32 text with per-group check symbols, signing and checking. */
#ifndef LIC_ACTCODE_H
#define LIC_ACTCODE_H

#include <stddef.h>
#include <stdint.h>

#include "lic/api.h"
#include "lic/keys.h"

#define LIC_CODE_VERSION     1
#define LIC_CODE_PAYLOAD_LEN 9                                    /* version..edition */
#define LIC_CODE_BIN_LEN     (LIC_CODE_PAYLOAD_LEN + LIC_SIG_LEN) /* 73 */
#define LIC_CODE_DATA_SYMS   117 /* LIC_B32_LEN(73): 584 bits + 1 zero pad bit */
#define LIC_CODE_GROUP       5   /* data symbols per group, each group + 1 check */
#define LIC_CODE_GROUPS      24  /* 23 groups of 5 and a last one of 2 */
#define LIC_CODE_SYMS        (LIC_CODE_DATA_SYMS + LIC_CODE_GROUPS)          /* 141 */
#define LIC_CODE_TEXT_LEN    (LIC_CODE_SYMS + LIC_CODE_GROUPS - 1)           /* 164 */
/* Input longer than this is refused before any work (room for spaces). */
#define LIC_CODE_MAX_INPUT   400
#define LIC_CODE_SIG_DOMAIN  "LICSRV1 code\n" /* signed: DOMAIN + 9 payload bytes */
#define LIC_CODE_EPOCH_DAYS  18262            /* 2020-01-01 in days since 1970 */
#define LIC_CODE_MAX_DAY     65535

typedef struct {
  uint8_t version;     /* LIC_CODE_VERSION */
  uint8_t product;     /* product id 0..255 */
  uint32_t serial;     /* unique per product (licgen's ledger) */
  uint16_t expiry_day; /* days since 2020-01-01; 0 = never expires */
  uint8_t edition;     /* edition flags, meaning up to the product */
  uint8_t sig[LIC_SIG_LEN];
} lic_code;

/* The 9 signed payload bytes (big endian fields). */
LIC_API void lic_code_payload(const lic_code *c, uint8_t out[LIC_CODE_PAYLOAD_LEN]);
/* All 73 bytes: payload then signature. */
LIC_API void lic_code_bytes(const lic_code *c, uint8_t out[LIC_CODE_BIN_LEN]);
/* Unix time (UTC midnight) at which the code stops working: the expiry day
 * itself is the first day it no longer works. 0 when it never expires. */
LIC_API int64_t lic_code_expires(const lic_code *c);
/* Expiry day for a "YYYY-MM-DD" Unix time (UTC midnight): LIC_LIMIT outside
 * 2020-01-02..2199-06-06. */
LIC_API int lic_code_day_of(int64_t t, uint16_t *day);

/* Text form of 73 code bytes: 24 dash-separated groups, LIC_CODE_TEXT_LEN
 * characters plus a NUL. */
LIC_API void lic_code_format(const uint8_t bin[LIC_CODE_BIN_LEN],
                             char out[LIC_CODE_TEXT_LEN + 1]);
/* Sign c's payload with key (c->version is forced to LIC_CODE_VERSION), fill
 * c->sig and write the text form. */
LIC_API int lic_code_make(lic_code *c, const lic_key *key, char out[LIC_CODE_TEXT_LEN + 1]);

/* A signer keeping one OpenSSL context, for many codes on one thread (each
 * thread needs its own). */
typedef struct lic_code_signer lic_code_signer;
LIC_API int lic_code_signer_new(const lic_key *key, lic_code_signer **out);
LIC_API int lic_code_signer_make(lic_code_signer *s, lic_code *c,
                                 char out[LIC_CODE_TEXT_LEN + 1]);
LIC_API void lic_code_signer_free(lic_code_signer *s);

/* Read a typed code: case-insensitive, spaces/tabs/newlines and dashes
 * ignored (symbols are regrouped by position), I/L read as 1 and O as 0.
 * Checks the shape and every check symbol only; the signature is not looked
 * at. LIC_FORMAT: wrong length or a character that is no code symbol (detail
 * names its position); LIC_TYPO: a check symbol does not match (detail names
 * the 1-based group, "group 7 has a typo"). */
LIC_API int lic_code_parse(const char *text, lic_code *out);

/* Is this a genuine code for product (< 0: any) that has not expired at now?
 * LIC_NOTGENUINE when no key of the trust store verifies the signature,
 * LIC_FORMAT for an unknown version, LIC_PRODUCT, LIC_EXPIRED (detail has the
 * date). */
LIC_API int lic_code_verify(const lic_code *c, const lic_trust *t, int product, int64_t now);

#endif
