/* seats.c - node seats and the failure list, in memory, shared by all loops.
 *
 * Nodes live in an open-addressing table keyed by (license, node). The seats
 * held per license are counted by a scan of the table, cached per license
 * until the first held seat lapses (or the table changes behind it): a verify
 * must not walk every node, and the scan would push the signing tables out of
 * the cache on every request. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "core/seats.h"

typedef struct {
  srv_node n;
  bool used;  /* slot holds a node */
  bool dirty; /* changed since the last batched write */
} slot;

/* The cached count of one license: held seats, valid while at <= now < until
 * and for the same window. */
typedef struct {
  uint8_t license[LIC_ID_LEN];
  bool valid;
  int64_t held, at, until, window;
} held_cache;

struct srv_seats {
  pthread_mutex_t mu;
  slot *t;
  size_t cap, count;
  held_cache *hc;
  size_t nhc, caphc;
};

static uint64_t hash(const uint8_t lic[LIC_ID_LEN], const char *node) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < LIC_ID_LEN; i++)
    h = (h ^ lic[i]) * 1099511628211ull;
  for (const char *p = node; *p != '\0'; p++)
    h = (h ^ (uint8_t)*p) * 1099511628211ull;
  return h;
}

srv_seats *srv_seats_new(void) {
  srv_seats *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->cap = 1024;
  if ((s->t = calloc(s->cap, sizeof *s->t)) == NULL) {
    free(s);
    return NULL;
  }
  pthread_mutex_init(&s->mu, NULL);
  return s;
}

void srv_seats_free(srv_seats *s) {
  if (s == NULL)
    return;
  pthread_mutex_destroy(&s->mu);
  free(s->t);
  free(s->hc);
  free(s);
}

static slot *find(srv_seats *s, const uint8_t lic[LIC_ID_LEN], const char *node) {
  size_t i = (size_t)hash(lic, node) & (s->cap - 1);
  while (s->t[i].used) {
    if (memcmp(s->t[i].n.license, lic, LIC_ID_LEN) == 0 && strcmp(s->t[i].n.node, node) == 0)
      return &s->t[i];
    i = (i + 1) & (s->cap - 1);
  }
  return &s->t[i]; /* an empty slot: where it would go */
}

static bool grow(srv_seats *s) {
  slot *old = s->t;
  size_t oldcap = s->cap;
  slot *nt = calloc(oldcap * 2, sizeof *nt);
  if (nt == NULL)
    return false;
  s->t = nt;
  s->cap = oldcap * 2;
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].used)
      *find(s, old[i].n.license, old[i].n.node) = old[i];
  free(old);
  return true;
}

/* Find or create; NULL when the table is full or memory is short. */
static slot *get(srv_seats *s, const uint8_t lic[LIC_ID_LEN], const char *node) {
  slot *e = find(s, lic, node);
  if (e->used)
    return e;
  if (s->count >= SRV_MAX_NODES_TOTAL)
    return NULL;
  if ((s->count + 1) * 2 > s->cap) {
    if (!grow(s))
      return NULL;
    e = find(s, lic, node);
  }
  memset(e, 0, sizeof *e);
  e->used = true;
  memcpy(e->n.license, lic, LIC_ID_LEN);
  snprintf(e->n.node, sizeof e->n.node, "%s", node);
  s->count++;
  return e;
}

/* The license's cache entry, created invalid; NULL when memory is short. */
static held_cache *cache_get(srv_seats *s, const uint8_t lic[LIC_ID_LEN]) {
  for (size_t i = 0; i < s->nhc; i++)
    if (memcmp(s->hc[i].license, lic, LIC_ID_LEN) == 0)
      return &s->hc[i];
  if (s->nhc == s->caphc) {
    size_t ncap = s->caphc ? s->caphc * 2 : 8;
    held_cache *n = realloc(s->hc, ncap * sizeof *n);
    if (n == NULL)
      return NULL;
    s->hc = n;
    s->caphc = ncap;
  }
  held_cache *c = &s->hc[s->nhc++];
  memset(c, 0, sizeof *c);
  memcpy(c->license, lic, LIC_ID_LEN);
  return c;
}

static void cache_drop(srv_seats *s, const uint8_t lic[LIC_ID_LEN]) {
  for (size_t i = 0; i < s->nhc; i++)
    if (memcmp(s->hc[i].license, lic, LIC_ID_LEN) == 0)
      s->hc[i].valid = false;
}

/* Seats of lic held at now: a node holds one while now < last_valid + window. */
static int64_t count_held(srv_seats *s, const uint8_t lic[LIC_ID_LEN], int64_t now, int64_t window) {
  held_cache *c = cache_get(s, lic);
  if (c != NULL && c->valid && c->window == window && now >= c->at && now < c->until)
    return c->held;
  int64_t held = 0, until = INT64_MAX;
  for (size_t i = 0; i < s->cap; i++) {
    const srv_node *n = &s->t[i].n;
    if (s->t[i].used && n->last_valid > 0 && now - n->last_valid < window &&
        memcmp(n->license, lic, LIC_ID_LEN) == 0) {
      held++;
      if (n->last_valid + window < until)
        until = n->last_valid + window;
    }
  }
  if (c != NULL) {
    c->valid = true;
    c->held = held;
    c->at = now;
    c->until = until;
    c->window = window;
  }
  return held;
}

bool srv_seats_acquire(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node,
                       int64_t now, int64_t window, int64_t max, int64_t *used) {
  pthread_mutex_lock(&s->mu);
  slot *e = get(s, license, node);
  bool holding = e != NULL && e->n.last_valid > 0 && now - e->n.last_valid < window;
  int64_t held = count_held(s, license, now, window);
  bool ok = e != NULL && (holding || max == 0 || held < max);
  if (ok) {
    e->n.last_valid = now;
    e->n.last_seen = now;
    e->dirty = true;
    /* The seat now lapses at now + window: earlier than before when the
     * clock stepped back, so the cache's horizon follows it either way. */
    held_cache *c = cache_get(s, license);
    if (!holding)
      held++;
    if (c != NULL && c->valid) {
      c->held = held;
      if (now + window < c->until)
        c->until = now + window;
    }
  }
  *used = held;
  pthread_mutex_unlock(&s->mu);
  return ok;
}

int64_t srv_seats_used(srv_seats *s, const uint8_t license[LIC_ID_LEN], int64_t now, int64_t window) {
  pthread_mutex_lock(&s->mu);
  int64_t n = count_held(s, license, now, window);
  pthread_mutex_unlock(&s->mu);
  return n;
}

void srv_seats_fail(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node, int64_t now,
                    lic_status st, const char *reason) {
  pthread_mutex_lock(&s->mu);
  slot *e = get(s, license, node);
  if (e != NULL) {
    e->n.last_seen = now;
    e->n.fail_time = now;
    e->n.fail_status = st;
    snprintf(e->n.fail_reason, sizeof e->n.fail_reason, "%s", reason);
    e->dirty = true;
  }
  pthread_mutex_unlock(&s->mu);
}

void srv_seats_load(srv_seats *s, const srv_node *n) {
  pthread_mutex_lock(&s->mu);
  slot *e = get(s, n->license, n->node);
  if (e != NULL)
    e->n = *n;
  cache_drop(s, n->license);
  pthread_mutex_unlock(&s->mu);
}

int srv_seats_snapshot(srv_seats *s, const uint8_t *license, bool take_dirty, srv_node **out,
                       size_t *n) {
  *out = NULL;
  *n = 0;
  pthread_mutex_lock(&s->mu);
  srv_node *a = malloc((s->count + 1) * sizeof *a);
  if (a == NULL) {
    pthread_mutex_unlock(&s->mu);
    return LIC_NOMEM;
  }
  size_t k = 0;
  for (size_t i = 0; i < s->cap; i++) {
    slot *e = &s->t[i];
    if (!e->used || (license != NULL && memcmp(e->n.license, license, LIC_ID_LEN) != 0))
      continue;
    if (take_dirty && !e->dirty)
      continue;
    a[k++] = e->n;
    if (take_dirty)
      e->dirty = false;
  }
  pthread_mutex_unlock(&s->mu);
  *out = a;
  *n = k;
  return LIC_OK;
}

void srv_seats_forget(srv_seats *s, const uint8_t license[LIC_ID_LEN]) {
  pthread_mutex_lock(&s->mu);
  cache_drop(s, license);
  /* Rebuild without the license's nodes (open addressing has no tombstones). */
  slot *old = s->t;
  size_t cap = s->cap;
  slot *nt = calloc(cap, sizeof *nt);
  if (nt != NULL) {
    s->t = nt;
    s->count = 0;
    for (size_t i = 0; i < cap; i++)
      if (old[i].used && memcmp(old[i].n.license, license, LIC_ID_LEN) != 0) {
        *find(s, old[i].n.license, old[i].n.node) = old[i];
        s->count++;
      }
    free(old);
  }
  pthread_mutex_unlock(&s->mu);
}
