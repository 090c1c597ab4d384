/* account.h - the public-mode account (SPEC §3.4): build, parse, its token
 * (generation, hash, constant-time check) and the decision on its terms. */
#ifndef LIC_ACCOUNT_H
#define LIC_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/api.h"
#include "lic/envelope.h"
#include "lic/license.h"
#include "lic/mp.h"
#include "lic/status.h"
#include "lic/util.h"

#define LIC_ACCOUNT_TYP     "account"
#define LIC_TOKEN_PREFIX    "lsk_"
#define LIC_TOKEN_RAW       32                 /* random bytes in a token */
#define LIC_TOKEN_LEN       (4 + 43)           /* "lsk_" + base64url(32 bytes) */
#define LIC_TOKEN_HASH_LEN  32                 /* SHA-256 of the token's text */
#define LIC_MAX_CAPACITY    1000000            /* registered projects per account */

typedef struct {
  uint8_t id[LIC_ID_LEN];
  char *customer;
  int64_t capacity;                    /* max registered projects, >= 1 */
  lic_strlist features, domains, apps; /* empty domains/apps = any */
  int64_t *ports;                      /* empty = any */
  size_t nports;
  int64_t major;                       /* 0 = any */
  int64_t not_before, expires;         /* expires 0 = perpetual */
  int64_t heartbeat, grace;
  uint8_t token_hash[LIC_TOKEN_HASH_LEN];
  int64_t issued; /* 0 = not in the body (accounts signed before renewal existed) */
} lic_account;

LIC_API void lic_account_clear(lic_account *a);
LIC_API int lic_account_pack(const lic_account *a, uint8_t **body, size_t *len);
/* Strict parse plus consistency (expires after not_before, grace >=
 * heartbeat is not required, valid domain patterns). */
LIC_API int lic_account_parse(const uint8_t *body, size_t len, lic_account *a);
/* Envelope bytes -> verified (trust store) -> parsed. */
LIC_API int lic_account_open(const uint8_t *env, size_t len, const lic_trust *t, lic_account *a);
/* A file (armored or raw); *env_out (optional) gets the envelope bytes. */
LIC_API int lic_account_load(const char *path, const lic_trust *t, lic_account *a,
                             uint8_t **env_out, size_t *env_len);

/* A new token: "lsk_" + 43 base64url characters of RAND_bytes (NUL-ended). */
LIC_API int lic_token_generate(char out[LIC_TOKEN_LEN + 1]);
/* The token's shape only (prefix, length, alphabet): LIC_FORMAT otherwise.
 * Never put the token itself into the detail line. */
LIC_API int lic_token_check_format(const char *tok, size_t len);
/* SHA-256 of the token's text, whatever its shape (the same work for a
 * malformed one, so timing does not tell shapes apart). */
LIC_API void lic_token_hash(const char *tok, size_t len, uint8_t out[LIC_TOKEN_HASH_LEN]);
/* Hash, then compare with the account's token_hash in constant time. */
LIC_API bool lic_account_token_ok(const lic_account *a, const char *tok, size_t len);

/* The account's terms for a request, in SPEC §4 public order after the
 * credentials and revocation: not_before/expires, registration (registered
 * false: not_registered), then version, domain, port, app. */
LIC_API lic_status lic_account_decide(const lic_account *a, const lic_check_req *q, int64_t now,
                                      bool registered, char *reason, size_t cap);

#endif
