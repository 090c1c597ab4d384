/* tokens.h - admin API tokens: generation and the hash that is stored
 * (the token itself is printed once and never kept). */
#ifndef LICSRV_TOKENS_H
#define LICSRV_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define LICSRV_TOKEN_BYTES 32

/* Admin tokens: SHA-256 of the token text as sent in "Authorization: Bearer
 * TOKEN" (tokens.c). generate gives LICSRV_TOKEN_BYTES random bytes as
 * base64url without padding (malloc'd; wipe with lic_secret_free). */
void licsrv_token_hash(const char *token, size_t len, uint8_t out[STORE_TOKEN_HASH_LEN]);
int licsrv_token_generate(char **token, size_t *len);

#endif
