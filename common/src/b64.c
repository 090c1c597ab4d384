/* b64.c - base64/base64url through OpenSSL's EVP block coders. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"
#include "lic/b64.h"

int lic_b64_encode(const uint8_t *in, size_t len, int flavor, char **out, size_t *outlen) {
  *out = NULL;
  *outlen = 0;
  if (len > INT_MAX / 2)
    return lic__fail(LIC_LIMIT, "too large for base64");
  char *b = malloc(4 * ((len + 2) / 3) + 1);
  if (b == NULL)
    return LIC_NOMEM;
  int n = EVP_EncodeBlock((unsigned char *)b, in, (int)len);
  if (flavor == LIC_B64_URL) {
    while (n > 0 && b[n - 1] == '=')
      n--;
    for (int i = 0; i < n; i++)
      b[i] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
  }
  b[n] = '\0';
  *out = b;
  *outlen = (size_t)n;
  return LIC_OK;
}

int lic_b64_decode(const char *in, size_t len, uint8_t **out, size_t *outlen) {
  *out = NULL;
  *outlen = 0;
  if (len > INT_MAX / 2)
    return lic__fail(LIC_LIMIT, "too large for base64");
  size_t pad = 0;
  while (len > 0 && in[len - 1] == '=' && pad < 2)
    len--, pad++;
  if (len % 4 == 1)
    return lic__fail(LIC_FORMAT, "base64 length is impossible");
  if (pad > 0 && (len + pad) % 4 != 0)
    return lic__fail(LIC_FORMAT, "base64 padding is wrong");
  size_t full = (len + 3) / 4 * 4;
  char *t = malloc(full + 1);
  uint8_t *b = malloc(full / 4 * 3 + 1);
  if (t == NULL || b == NULL) {
    free(t);
    free(b);
    return LIC_NOMEM;
  }
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    c = c == '-' ? '+' : c == '_' ? '/' : c;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '+' || c == '/')) {
      free(t);
      free(b);
      return lic__fail(LIC_FORMAT, "invalid base64 character at offset %zu", i);
    }
    t[i] = c;
  }
  for (size_t i = len; i < full; i++)
    t[i] = '=';
  int n = EVP_DecodeBlock(b, (unsigned char *)t, (int)full);
  free(t);
  if (n < 0) {
    free(b);
    return lic__fail(LIC_FORMAT, "invalid base64");
  }
  /* EVP_DecodeBlock counts the bytes the padding stands for: drop them. */
  size_t real = (size_t)n - (full - len);
  *out = b;
  *outlen = real;
  return LIC_OK;
}
