/* ratelimit.c - token buckets keyed by client address for the 429 limit. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "http/ratelimit.h"

typedef struct {
  uint8_t key[16]; /* IPv6, or IPv4-mapped */
  bool used;
  double tokens;
  uint64_t last_ms;
} rate_slot;

struct srv_rate {
  rate_slot s[SRV_RATE_SLOTS];
};

srv_rate *srv_rate_new(void) { return calloc(1, sizeof(srv_rate)); }
void srv_rate_free(srv_rate *rl) { free(rl); }

static void addr_key(const struct sockaddr *sa, uint8_t key[16]) {
  memset(key, 0, 16);
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
    key[10] = key[11] = 0xff;
    memcpy(key + 12, &in->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6) {
    memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
  }
}

bool srv_rate_allow(srv_rate *rl, const struct sockaddr *addr, uint32_t rate, uint32_t burst,
                    uint64_t now_ms) {
  uint8_t key[16];
  uint32_t h;
  rate_slot *hit = NULL, *victim = NULL;
  double cap = burst > 0 ? burst : rate;
  if (rl == NULL || rate == 0)
    return true;
  addr_key(addr, key);
  h = srv_fnv1a32(key, 16);
  for (uint32_t i = 0; i < SRV_RATE_PROBE; i++) {
    rate_slot *s = &rl->s[(h + i) % SRV_RATE_SLOTS];
    if (s->used && memcmp(s->key, key, 16) == 0) {
      hit = s;
      break;
    }
    if (victim == NULL || !s->used || (victim->used && s->last_ms < victim->last_ms))
      victim = s;
  }
  if (hit == NULL) {
    hit = victim;
    memcpy(hit->key, key, 16);
    hit->used = true;
    hit->tokens = cap;
    hit->last_ms = now_ms;
  }
  if (now_ms > hit->last_ms) {
    hit->tokens += (double)(now_ms - hit->last_ms) * rate / 1000.0;
    if (hit->tokens > cap)
      hit->tokens = cap;
    hit->last_ms = now_ms;
  }
  if (hit->tokens < 1.0)
    return false;
  hit->tokens -= 1.0;
  return true;
}
