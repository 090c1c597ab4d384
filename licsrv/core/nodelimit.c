/* nodelimit.c - new node names per client address and hour: a fixed window
 * per address (reset an hour after its first new name), in a table of
 * SRV_NODELIMIT_SLOTS addresses probed linearly; a full probe run replaces
 * its stalest entry, so a flood of addresses never grows it. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "core/nodelimit.h"

#define PROBE 8

typedef struct {
  uint8_t key[17]; /* family byte + address (4 or 16) */
  bool used;
  int64_t start;   /* window start */
  uint32_t n;      /* new names in the window */
} entry;

struct srv_nodelimit {
  pthread_mutex_t mu;
  _Atomic uint32_t per_hour; /* read without mu: 0 skips the table */
  entry t[SRV_NODELIMIT_SLOTS];
};

srv_nodelimit *srv_nodelimit_new(uint32_t per_hour) {
  srv_nodelimit *l = calloc(1, sizeof *l);
  if (l == NULL)
    return NULL;
  l->per_hour = per_hour;
  pthread_mutex_init(&l->mu, NULL);
  return l;
}

uint32_t srv_nodelimit_get(srv_nodelimit *l) { return l != NULL ? atomic_load(&l->per_hour) : 0; }

void srv_nodelimit_set(srv_nodelimit *l, uint32_t per_hour) {
  if (l != NULL)
    atomic_store(&l->per_hour, per_hour);
}

void srv_nodelimit_free(srv_nodelimit *l) {
  if (l == NULL)
    return;
  pthread_mutex_destroy(&l->mu);
  free(l);
}

static void key_of(const struct sockaddr *a, uint8_t key[17]) {
  memset(key, 0, 17);
  if (a == NULL)
    return;
  key[0] = (uint8_t)a->sa_family;
  if (a->sa_family == AF_INET)
    memcpy(key + 1, &((const struct sockaddr_in *)(const void *)a)->sin_addr, 4);
  else if (a->sa_family == AF_INET6)
    memcpy(key + 1, &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr, 16);
}

/* The key's entry, its window current at now; NULL never. */
static entry *lookup_key(srv_nodelimit *l, const uint8_t key[17], int64_t now) {
  uint64_t h = srv_fnv1a64(SRV_FNV64_BASIS, key, 17);
  entry *stale = NULL;
  for (int p = 0; p < PROBE; p++) {
    entry *e = &l->t[(h + (uint64_t)p) % SRV_NODELIMIT_SLOTS];
    if (e->used && memcmp(e->key, key, sizeof e->key) == 0) {
      if (now - e->start >= SRV_NODELIMIT_WINDOW || now < e->start) {
        e->start = now;
        e->n = 0;
      }
      return e;
    }
    if (!e->used) { /* the first free slot, else the stalest used one */
      if (stale == NULL || stale->used)
        stale = e;
    } else if (stale == NULL || (stale->used && e->start < stale->start)) {
      stale = e;
    }
  }
  memset(stale, 0, sizeof *stale);
  stale->used = true;
  memcpy(stale->key, key, sizeof stale->key);
  stale->start = now;
  return stale;
}

static entry *lookup(srv_nodelimit *l, const struct sockaddr *a, int64_t now) {
  uint8_t key[17];
  key_of(a, key);
  return lookup_key(l, key, now);
}

/* An id's key: a family byte no address has. */
static void key_of_id(const uint8_t id[16], uint8_t key[17]) {
  key[0] = 0xff;
  memcpy(key + 1, id, 16);
}

bool srv_nodelimit_allow_id(srv_nodelimit *l, const uint8_t id[16], int64_t now, uint32_t *retry_s) {
  uint32_t per_hour = srv_nodelimit_get(l);
  uint8_t key[17];
  *retry_s = 0;
  if (per_hour == 0)
    return true;
  key_of_id(id, key);
  pthread_mutex_lock(&l->mu);
  entry *e = lookup_key(l, key, now);
  bool ok = e->n < per_hour;
  if (!ok) {
    int64_t left = e->start + SRV_NODELIMIT_WINDOW - now;
    *retry_s = left < 1 ? 1 : (uint32_t)left;
  }
  pthread_mutex_unlock(&l->mu);
  return ok;
}

void srv_nodelimit_note_id(srv_nodelimit *l, const uint8_t id[16], int64_t now) {
  uint8_t key[17];
  if (srv_nodelimit_get(l) == 0)
    return;
  key_of_id(id, key);
  pthread_mutex_lock(&l->mu);
  lookup_key(l, key, now)->n++;
  pthread_mutex_unlock(&l->mu);
}

bool srv_nodelimit_allow(srv_nodelimit *l, const struct sockaddr *addr, int64_t now) {
  uint32_t per_hour = srv_nodelimit_get(l);
  if (per_hour == 0)
    return true;
  pthread_mutex_lock(&l->mu);
  bool ok = lookup(l, addr, now)->n < per_hour;
  pthread_mutex_unlock(&l->mu);
  return ok;
}

void srv_nodelimit_note(srv_nodelimit *l, const struct sockaddr *addr, int64_t now) {
  if (srv_nodelimit_get(l) == 0)
    return;
  pthread_mutex_lock(&l->mu);
  lookup(l, addr, now)->n++;
  pthread_mutex_unlock(&l->mu);
}
