/* hash.c - FNV-1a (Fowler, Noll, Vo), 64 and 32 bits. */
#include "util/hash.h"

#define FNV64_PRIME 1099511628211ull
#define FNV32_PRIME 16777619u

uint64_t srv_fnv1a64(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * FNV64_PRIME;
  return h;
}

uint64_t srv_fnv1a64_str(uint64_t h, const char *s) {
  for (const char *p = s; *p != '\0'; p++)
    h = (h ^ (uint8_t)*p) * FNV64_PRIME;
  return h;
}

uint32_t srv_fnv1a32(const void *p, size_t n) {
  const uint8_t *b = p;
  uint32_t h = SRV_FNV32_BASIS;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * FNV32_PRIME;
  return h;
}
