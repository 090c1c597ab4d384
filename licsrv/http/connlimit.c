/* http/connlimit.c - per-address open connection counts: open addressing with
 * linear probing, an entry removed (backward shift, no tombstones) when its
 * count drops to zero, so the table holds only addresses with connections. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "http/connlimit.h"

typedef struct {
  uint8_t key[17]; /* family + address */
  uint32_t n;      /* open connections; 0 = free slot */
} entry;

struct srv_connlimit {
  pthread_mutex_t mu;
  size_t used;
  entry t[SRV_CONNLIMIT_SLOTS];
};

srv_connlimit *srv_connlimit_new(void) {
  srv_connlimit *l = calloc(1, sizeof *l);
  if (l != NULL)
    pthread_mutex_init(&l->mu, NULL);
  return l;
}

void srv_connlimit_free(srv_connlimit *l) {
  if (l == NULL)
    return;
  pthread_mutex_destroy(&l->mu);
  free(l);
}

static void key_of(const struct sockaddr *a, uint8_t key[17]) {
  memset(key, 0, 17);
  key[0] = (uint8_t)a->sa_family;
  if (a->sa_family == AF_INET)
    memcpy(key + 1, &((const struct sockaddr_in *)(const void *)a)->sin_addr, 4);
  else if (a->sa_family == AF_INET6)
    memcpy(key + 1, &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr, 16);
}

static size_t home(const uint8_t key[17]) {
  uint64_t h = srv_fnv1a64(SRV_FNV64_BASIS, key, 17);
  return (size_t)h & (SRV_CONNLIMIT_SLOTS - 1);
}

/* The slot holding key, or the free slot where it would go. */
static entry *find(srv_connlimit *l, const uint8_t key[17]) {
  size_t i = home(key);
  while (l->t[i].n > 0 && memcmp(l->t[i].key, key, 17) != 0)
    i = (i + 1) & (SRV_CONNLIMIT_SLOTS - 1);
  return &l->t[i];
}

bool srv_connlimit_take(srv_connlimit *l, const struct sockaddr *addr, uint32_t max, bool *counted) {
  uint8_t key[17];
  bool ok = true;
  *counted = false;
  if (l == NULL || max == 0 || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
    return true;
  key_of(addr, key);
  pthread_mutex_lock(&l->mu);
  entry *e = find(l, key);
  if (e->n > 0) {
    ok = e->n < max;
    if (ok) {
      e->n++;
      *counted = true;
    }
  } else if (l->used < SRV_CONNLIMIT_SLOTS / 2) {
    memcpy(e->key, key, 17);
    e->n = 1;
    l->used++;
    *counted = true;
  }
  pthread_mutex_unlock(&l->mu);
  return ok;
}

void srv_connlimit_give(srv_connlimit *l, const struct sockaddr *addr) {
  uint8_t key[17];
  if (l == NULL)
    return;
  key_of(addr, key);
  pthread_mutex_lock(&l->mu);
  entry *e = find(l, key);
  if (e->n > 0 && --e->n == 0) { /* free the slot: shift the cluster back */
    size_t i = (size_t)(e - l->t), j = i, mask = SRV_CONNLIMIT_SLOTS - 1;
    l->used--;
    for (;;) {
      j = (j + 1) & mask;
      if (l->t[j].n == 0)
        break;
      size_t k = home(l->t[j].key);
      bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
      if (stays)
        continue;
      l->t[i] = l->t[j];
      l->t[j].n = 0;
      i = j;
    }
  }
  pthread_mutex_unlock(&l->mu);
}
