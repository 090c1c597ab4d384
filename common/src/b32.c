/* b32.c - Crockford base32 (machine codes, activation codes). */
#include <ctype.h>
#include <string.h>

#include "internal.h"
#include "lic/b32.h"

static const char SYMBOLS[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

char lic_b32_symbol(int v) { return v >= 0 && v < 37 ? SYMBOLS[v] : '?'; }

int lic_b32_value(char c) {
  c = (char)toupper((unsigned char)c);
  if (c == 'O')
    return 0;
  if (c == 'I' || c == 'L')
    return 1;
  if (c == 'U')
    return -1; /* U is a check symbol only */
  const char *p = memchr(SYMBOLS, c, 32);
  return p == NULL || c == '\0' ? -1 : (int)(p - SYMBOLS);
}

int lic_b32_check_value(char c) {
  int v = lic_b32_value(c);
  if (v >= 0)
    return v;
  c = (char)toupper((unsigned char)c);
  const char *p = memchr(SYMBOLS + 32, c, 5);
  return p == NULL || c == '\0' ? -1 : (int)(p - SYMBOLS);
}

int lic_b32_encode(const uint8_t *in, size_t len, char *out, size_t cap) {
  size_t nsym = LIC_B32_LEN(len);
  if (cap < nsym + 1)
    return lic__fail(LIC_LIMIT, "base32 output buffer too small");
  uint32_t acc = 0;
  int bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    acc = (acc << 8) | in[i];
    bits += 8;
    while (bits >= 5) {
      out[o++] = SYMBOLS[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0)
    out[o++] = SYMBOLS[(acc << (5 - bits)) & 31];
  out[o] = '\0';
  return LIC_OK;
}

char lic_b32_check(const int *vals, size_t n) {
  unsigned m = 0;
  for (size_t i = 0; i < n; i++)
    m = (m * 32 + (unsigned)vals[i]) % 37;
  return SYMBOLS[m];
}

int lic_b32_unpack(const int *vals, size_t nsym, uint8_t *out, size_t outlen) {
  if (nsym != LIC_B32_LEN(outlen))
    return lic__fail(LIC_FORMAT, "expected %zu base32 symbols, found %zu",
                     (size_t)LIC_B32_LEN(outlen), nsym);
  uint32_t acc = 0;
  int bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < nsym; i++) {
    acc = (acc << 5) | (uint32_t)vals[i];
    bits += 5;
    if (bits >= 8) {
      out[o++] = (uint8_t)(acc >> (bits - 8));
      bits -= 8;
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    return lic__fail(LIC_FORMAT, "non-zero padding bits in base32");
  return LIC_OK;
}

int lic_b32_decode(const char *in, uint8_t *out, size_t outlen) {
  int vals[512];
  size_t n = 0;
  for (const char *p = in; *p != '\0'; p++) {
    if (*p == '-' || *p == ' ')
      continue;
    int v = lic_b32_value(*p);
    if (v < 0)
      return lic__fail(LIC_FORMAT, "'%c' is not a base32 symbol", isprint((unsigned char)*p) ? *p : '?');
    if (n == sizeof vals / sizeof vals[0])
      return lic__fail(LIC_LIMIT, "base32 text too long");
    vals[n++] = v;
  }
  return lic_b32_unpack(vals, n, out, outlen);
}
