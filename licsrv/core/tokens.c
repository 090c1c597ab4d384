/* tokens.c - admin API tokens: generation and the hash that is stored. */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "core/tokens.h"
#include "lic/b64.h"
#include "lic/err.h"
#include "lic/keys.h"
#include "lic/util.h"

void licsrv_token_hash(const char *token, size_t len, uint8_t out[STORE_TOKEN_HASH_LEN]) {
  SHA256((const unsigned char *)token, len, out);
}

int licsrv_token_generate(char **token, size_t *len) {
  uint8_t raw[LICSRV_TOKEN_BYTES];
  int r;
  *token = NULL;
  *len = 0;
  if ((r = lic_random(raw, sizeof raw)) == LIC_OK)
    r = lic_b64_encode(raw, sizeof raw, LIC_B64_URL, token, len);
  OPENSSL_cleanse(raw, sizeof raw);
  return r;
}
