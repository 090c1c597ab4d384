/* seats.c - node seats and the failure list, in memory, shared by all loops.
 *
 * Nodes live in an open-addressing table keyed by (license, node); only nodes
 * that were granted a seat enter it, so unauthenticated requests with made-up
 * node names (wrong domain, no license) cannot fill it. Each license's share
 * of the table is bounded by its own max_nodes (unlimited licenses by a
 * configured cap): past it a new node evicts the license's oldest idle node,
 * never one holding a seat. Failures go to a per-license ring of the most
 * recent ones, apart from the seats, so they can neither evict nor block one.
 *
 * The seats held per license are counted by a scan of the table, cached per
 * license until the first held seat lapses (or the table changes behind it):
 * a verify must not walk every node, and the scan would push the signing
 * tables out of the cache on every request.
 *
 * Loading at start is O(n log n) in the records (issue 23 item 2): licenses
 * are found through a hash index, a license past its cap evicts through a
 * heap of its nodes by age (built once, kept while only loads change the
 * license), and a full failure ring is a heap by time until load_done. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "util/array.h"
#include "util/hash.h"
#include "util/invariant.h"
#include "core/seats.h"

typedef struct {
  srv_node n;
  bool used;  /* slot holds a node */
  bool dirty; /* changed since the last batched write */
} slot;

/* A node of a license over its cap at load: the heap's order is age. */
typedef struct {
  int64_t last_valid;
  char node[LIC_MAX_NAME + 1];
} age_ent;

/* Per license: the cached held count (valid while at <= now < until and for
 * the same window), its node count in the table, and its failure ring. */
typedef struct {
  uint8_t license[LIC_ID_LEN];
  bool valid;
  int64_t held, at, until, window;
  size_t nodes;
  srv_failure *ring; /* fail_keep entries, allocated on the first failure */
  size_t head, len;  /* next write position; entries in use (dead ones included) */
  bool ring_heap;    /* loading: ring[0..len) is a min-heap by time */
  age_ent *ages;     /* loading past the cap: every node of the license, a min-heap */
  size_t nages, capages;
} lic_state;

struct srv_seats {
  pthread_mutex_t mu;
  slot *t;
  size_t cap, count;
  lic_state *ls;
  size_t nls, capls;
  char *evicted_to;  /* set: evict_one copies the name it removes here */
  size_t evicted_cap;
  uint32_t *lsx;  /* hash index of ls: 0 empty, else position + 1 */
  size_t capx;    /* a power of two, > 2 * nls */
  size_t fail_keep, unlimited_cap;
  uint64_t evicted, failures;
};

static uint64_t hash(const uint8_t lic[LIC_ID_LEN], const char *node) {
  return srv_fnv1a64_str(srv_fnv1a64(SRV_FNV64_BASIS, lic, LIC_ID_LEN), node);
}

srv_seats *srv_seats_new_with(size_t fail_keep, size_t unlimited_cap) {
  srv_seats *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->cap = 1024;
  if ((s->t = calloc(s->cap, sizeof *s->t)) == NULL) {
    free(s);
    return NULL;
  }
  s->fail_keep = fail_keep ? fail_keep : SRV_FAILURES_KEEP;
  s->unlimited_cap = unlimited_cap ? unlimited_cap : SRV_UNLIMITED_NODES;
  pthread_mutex_init(&s->mu, NULL);
  return s;
}

srv_seats *srv_seats_new(void) { return srv_seats_new_with(0, 0); }

void srv_seats_free(srv_seats *s) {
  if (s == NULL)
    return;
  pthread_mutex_destroy(&s->mu);
  free(s->t);
  for (size_t i = 0; i < s->nls; i++) {
    free(s->ls[i].ring);
    free(s->ls[i].ages);
  }
  free(s->ls);
  free(s->lsx);
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

static size_t lic_hash(const uint8_t lic[LIC_ID_LEN]) {
  uint64_t h = srv_fnv1a64(SRV_FNV64_BASIS, lic, LIC_ID_LEN);
  return (size_t)(h ^ (h >> 29));
}

/* Where lic's index entry is, or the empty one it would take. */
static size_t index_find(const srv_seats *s, const uint8_t lic[LIC_ID_LEN]) {
  size_t i = lic_hash(lic) & (s->capx - 1);
  while (s->lsx[i] != 0 && memcmp(s->ls[s->lsx[i] - 1].license, lic, LIC_ID_LEN) != 0)
    i = (i + 1) & (s->capx - 1);
  return i;
}

static bool index_grow(srv_seats *s) {
  size_t ncap = s->capx ? s->capx * 2 : 16;
  uint32_t *nx = calloc(ncap, sizeof *nx);
  if (nx == NULL)
    return false;
  free(s->lsx);
  s->lsx = nx;
  s->capx = ncap;
  for (size_t l = 0; l < s->nls; l++)
    s->lsx[index_find(s, s->ls[l].license)] = (uint32_t)(l + 1);
  return true;
}

/* The license's state, created empty; NULL when memory is short. */
static lic_state *state_get(srv_seats *s, const uint8_t lic[LIC_ID_LEN]) {
  if (s->capx > 0) {
    size_t x = index_find(s, lic);
    if (s->lsx[x] != 0)
      return &s->ls[s->lsx[x] - 1];
  }
  if ((s->nls + 1) * 2 > s->capx && !index_grow(s))
    return NULL;
  if (srv_array_reserve(&s->ls, &s->capls, s->nls + 1, 8) != LIC_OK)
    return NULL;
  lic_state *c = &s->ls[s->nls++];
  memset(c, 0, sizeof *c);
  memcpy(c->license, lic, LIC_ID_LEN);
  s->lsx[index_find(s, lic)] = (uint32_t)s->nls;
  return c;
}

/* The age heap only holds while loads alone change the license. */
static void ages_drop(srv_seats *s, const uint8_t lic[LIC_ID_LEN]) {
  lic_state *c = state_get(s, lic);
  if (c != NULL && c->ages != NULL) {
    free(c->ages);
    c->ages = NULL;
    c->nages = c->capages = 0;
  }
}

/* Remove slot i (linear probing without tombstones: shift the cluster back). */
static void remove_at(srv_seats *s, size_t i) {
  size_t mask = s->cap - 1, j = i;
  lic_state *c = state_get(s, s->t[i].n.license);
  if (c != NULL) {
    c->valid = false;
    if (c->nodes > 0)
      c->nodes--;
  }
  s->t[i].used = false;
  for (;;) {
    j = (j + 1) & mask;
    if (!s->t[j].used)
      break;
    size_t k = (size_t)hash(s->t[j].n.license, s->t[j].n.node) & mask;
    bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays)
      continue;
    s->t[i] = s->t[j];
    s->t[j].used = false;
    i = j;
  }
  s->count--;
}

/* Evict the license's least recently valid node that holds no seat at now
 * (any node when every one holds a seat and evict_holders). */
static bool evict_one(srv_seats *s, const uint8_t lic[LIC_ID_LEN], int64_t now, int64_t window,
                      bool evict_holders) {
  size_t best = SIZE_MAX;
  int64_t oldest = INT64_MAX;
  bool best_holds = true;
  for (size_t i = 0; i < s->cap; i++) {
    const srv_node *n = &s->t[i].n;
    if (!s->t[i].used || memcmp(n->license, lic, LIC_ID_LEN) != 0)
      continue;
    bool holds = n->last_valid > 0 && now - n->last_valid < window;
    if (holds && !evict_holders)
      continue;
    /* idle ones first, then the oldest (ties by name: the same victim
     * whatever the table's layout) */
    if (best == SIZE_MAX || (best_holds && !holds) ||
        (best_holds == holds &&
         (n->last_valid < oldest ||
          (n->last_valid == oldest && strcmp(n->node, s->t[best].n.node) < 0)))) {
      best = i;
      oldest = n->last_valid;
      best_holds = holds;
    }
  }
  if (best == SIZE_MAX)
    return false;
  if (s->evicted_to != NULL)
    snprintf(s->evicted_to, s->evicted_cap, "%s", s->t[best].n.node);
  remove_at(s, best);
  s->evicted++;
  return true;
}

/* Find or create; NULL when the license's table is full of seat holders
 * (limited license) or memory is short. bound: the license's table size. */
static slot *get(srv_seats *s, const uint8_t lic[LIC_ID_LEN], const char *node, size_t bound,
                 int64_t now, int64_t window, bool evict_holders) {
  slot *e = find(s, lic, node);
  if (e->used)
    return e;
  lic_state *c = state_get(s, lic);
  if (c == NULL)
    return NULL;
  while (bound > 0 && c->nodes >= bound)
    if (!evict_one(s, lic, now, window, evict_holders))
      return NULL;
  if ((s->count + 1) * 2 > s->cap && !grow(s))
    return NULL;
  e = find(s, lic, node);
  memset(e, 0, sizeof *e);
  e->used = true;
  memcpy(e->n.license, lic, LIC_ID_LEN);
  snprintf(e->n.node, sizeof e->n.node, "%s", node);
  s->count++;
  c->nodes++;
  return e;
}

/* Seats of lic held at now: a node holds one while now < last_valid + window. */
static int64_t count_held(srv_seats *s, const uint8_t lic[LIC_ID_LEN], int64_t now, int64_t window) {
  lic_state *c = state_get(s, lic);
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

/* srv_seats_acquire with s->mu held. */
static bool acquire_locked(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node,
                           int64_t now, int64_t window, int64_t max, int64_t *used) {
  SRV_ASSERT_LOCKED(&s->mu);
  ages_drop(s, license);
  slot *e = find(s, license, node);
  bool holding = e->used && e->n.last_valid > 0 && now - e->n.last_valid < window;
  int64_t held = count_held(s, license, now, window);
  bool ok = holding || max == 0 || held < max;
  if (ok && !e->used) {
    /* A limited license has room for max nodes; an unlimited one for the
     * cap, where the oldest node goes even when it still holds a seat. */
    size_t bound = max > 0 ? (size_t)max : s->unlimited_cap;
    e = get(s, license, node, bound, now, window, max == 0);
    ok = e != NULL;
    if (ok)
      held = count_held(s, license, now, window); /* an eviction may have freed one */
  }
  if (ok) {
    e->n.last_valid = now;
    e->n.last_seen = now;
    e->dirty = true;
    /* The seat now lapses at now + window: earlier than before when the
     * clock stepped back, so the cache's horizon follows it either way. */
    lic_state *c = state_get(s, license);
    if (!holding)
      held++;
    if (c != NULL && c->valid) {
      c->held = held;
      if (now + window < c->until)
        c->until = now + window;
    }
  }
  *used = held;
  return ok;
}

bool srv_seats_acquire(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node,
                       int64_t now, int64_t window, int64_t max, int64_t *used) {
  pthread_mutex_lock(&s->mu);
  bool ok = acquire_locked(s, license, node, now, window, max, used);
  pthread_mutex_unlock(&s->mu);
  return ok;
}

bool srv_seats_note(srv_seats *s, const uint8_t owner[LIC_ID_LEN], const char *node, int64_t now,
                    char *evicted, size_t cap) {
  int64_t used;
  if (evicted != NULL && cap > 0)
    evicted[0] = '\0';
  pthread_mutex_lock(&s->mu);
  s->evicted_to = cap > 0 ? evicted : NULL;
  s->evicted_cap = cap;
  /* Unlimited, every node "holding" (a window no check outlives, so the
   * held count stays cached): past the cap the least recently seen goes. */
  bool ok = acquire_locked(s, owner, node, now, (int64_t)1 << 40, 0, &used);
  s->evicted_to = NULL;
  s->evicted_cap = 0;
  pthread_mutex_unlock(&s->mu);
  return ok;
}

bool srv_seats_known(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node) {
  pthread_mutex_lock(&s->mu);
  bool k = find(s, license, node)->used;
  pthread_mutex_unlock(&s->mu);
  return k;
}

int64_t srv_seats_used(srv_seats *s, const uint8_t license[LIC_ID_LEN], int64_t now, int64_t window) {
  pthread_mutex_lock(&s->mu);
  int64_t n = count_held(s, license, now, window);
  pthread_mutex_unlock(&s->mu);
  return n;
}

static slot *find(srv_seats *s, const uint8_t lic[LIC_ID_LEN], const char *node);

/* Append to the license's failure ring; an older entry of the same node dies.
 * When the oldest entry is pushed out and its node holds no seat record, its
 * name goes to evicted (when given) so the caller drops its stored record. */
static void ring_add(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node, int64_t now,
                     lic_status st, const char *reason, char *evicted, size_t cap) {
  if (evicted != NULL && cap > 0)
    evicted[0] = '\0';
  lic_state *c = state_get(s, license);
  if (c == NULL)
    return;
  if (c->ring == NULL && (c->ring = calloc(s->fail_keep, sizeof *c->ring)) == NULL)
    return;
  c->ring_heap = false; /* a ring of its own order from now on: load_done's sort is not due */
  for (size_t i = 0; i < c->len; i++)
    if (c->ring[i].node[0] != '\0' && strcmp(c->ring[i].node, node) == 0) {
      c->ring[i].node[0] = '\0';
      s->failures--;
    }
  srv_failure *f = &c->ring[c->head];
  if (c->len == s->fail_keep && f->node[0] != '\0') {
    s->failures--; /* the oldest goes */
    if (evicted != NULL && cap > 0 && !find(s, license, f->node)->used)
      snprintf(evicted, cap, "%s", f->node);
  }
  memcpy(f->license, license, LIC_ID_LEN);
  snprintf(f->node, sizeof f->node, "%s", node);
  f->time = now;
  f->status = st;
  snprintf(f->reason, sizeof f->reason, "%s", reason);
  s->failures++;
  c->head = (c->head + 1) % s->fail_keep;
  if (c->len < s->fail_keep)
    c->len++;
}

/* A min-heap of failures by time: the oldest kept at the root. */
static void fail_down(srv_failure *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && h[l].time < h[m].time)
      m = l;
    if (r < n && h[r].time < h[m].time)
      m = r;
    if (m == i)
      return;
    srv_failure x = h[i];
    h[i] = h[m];
    h[m] = x;
    i = m;
  }
}

static void fail_up(srv_failure *h, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (h[p].time <= h[i].time)
      return;
    srv_failure x = h[i];
    h[i] = h[p];
    h[p] = x;
    i = p;
  }
}

/* At load (records in key order, not time order): keep the fail_keep most
 * recent; srv_seats_load_done puts each ring in time order afterwards. */
static void ring_load(srv_seats *s, const srv_node *n, char *evicted, size_t cap) {
  lic_state *c = state_get(s, n->license);
  if (c == NULL)
    return;
  if (c->ring == NULL && (c->ring = calloc(s->fail_keep, sizeof *c->ring)) == NULL)
    return;
  srv_failure *f;
  bool full = c->len == s->fail_keep;
  if (full && !c->ring_heap) { /* once: the oldest kept at the root from now on */
    for (size_t i = c->len / 2; i-- > 0;)
      fail_down(c->ring, c->len, i);
    c->ring_heap = true;
  }
  if (!full) {
    f = &c->ring[c->len++];
    s->failures++;
  } else {
    f = &c->ring[0];
    if (n->fail_time <= f->time) { /* older than all kept: this one goes */
      if (evicted != NULL && cap > 0)
        snprintf(evicted, cap, "%s", n->node);
      return;
    }
    if (evicted != NULL && cap > 0 && !find(s, n->license, f->node)->used)
      snprintf(evicted, cap, "%s", f->node);
  }
  memcpy(f->license, n->license, LIC_ID_LEN);
  snprintf(f->node, sizeof f->node, "%s", n->node);
  f->time = n->fail_time;
  f->status = n->fail_status;
  snprintf(f->reason, sizeof f->reason, "%s", n->fail_reason);
  if (full)
    fail_down(c->ring, c->len, 0);
  else if (c->ring_heap)
    fail_up(c->ring, c->len - 1);
}

static int fail_time_cmp(const void *x, const void *y) {
  const srv_failure *a = x, *b = y;
  return a->time < b->time ? -1 : a->time > b->time;
}

void srv_seats_load_done(srv_seats *s) {
  pthread_mutex_lock(&s->mu);
  for (size_t l = 0; l < s->nls; l++) {
    lic_state *c = &s->ls[l];
    free(c->ages); /* the seats change from now on: the heap would go stale */
    c->ages = NULL;
    c->nages = c->capages = 0;
    c->ring_heap = false;
    if (c->ring == NULL)
      continue;
    qsort(c->ring, c->len, sizeof *c->ring, fail_time_cmp); /* oldest first */
    c->head = c->len % s->fail_keep;
  }
  pthread_mutex_unlock(&s->mu);
}

bool srv_seats_fail(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node, int64_t now,
                    lic_status st, const char *reason, char *evicted, size_t cap) {
  pthread_mutex_lock(&s->mu);
  ring_add(s, license, node, now, st, reason, evicted, cap);
  slot *e = find(s, license, node);
  bool seated = e->used;
  if (seated) {
    e->n.last_seen = now;
    e->n.fail_time = now;
    e->n.fail_status = st;
    snprintf(e->n.fail_reason, sizeof e->n.fail_reason, "%s", reason);
    e->dirty = true;
  }
  pthread_mutex_unlock(&s->mu);
  return seated;
}

int srv_seats_failures(srv_seats *s, const uint8_t *license, srv_failure **out, size_t *n) {
  *out = NULL;
  *n = 0;
  pthread_mutex_lock(&s->mu);
  srv_failure *a = malloc((s->failures + 1) * sizeof *a);
  if (a == NULL) {
    pthread_mutex_unlock(&s->mu);
    return LIC_NOMEM;
  }
  size_t k = 0;
  for (size_t l = 0; l < s->nls; l++) {
    lic_state *c = &s->ls[l];
    if (c->ring == NULL || (license != NULL && memcmp(c->license, license, LIC_ID_LEN) != 0))
      continue;
    for (size_t i = 0; i < c->len && k < s->failures; i++) {
      size_t at = (c->head + s->fail_keep - 1 - i) % s->fail_keep; /* newest first */
      if (c->ring[at].node[0] != '\0')
        a[k++] = c->ring[at];
    }
  }
  pthread_mutex_unlock(&s->mu);
  *out = a;
  *n = k;
  return LIC_OK;
}

bool srv_seats_release(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node) {
  pthread_mutex_lock(&s->mu);
  ages_drop(s, license);
  slot *e = find(s, license, node);
  bool found = e->used;
  if (found)
    remove_at(s, (size_t)(e - s->t));
  pthread_mutex_unlock(&s->mu);
  return found;
}

void srv_seats_stats_get(srv_seats *s, srv_seats_stats *st) {
  pthread_mutex_lock(&s->mu);
  st->nodes = s->count;
  st->evicted = s->evicted;
  st->failures = s->failures;
  pthread_mutex_unlock(&s->mu);
}

/* Loading: (last_valid, name) ascending, the one evicted first. */
static bool age_less(const age_ent *a, const age_ent *b) {
  return a->last_valid < b->last_valid ||
         (a->last_valid == b->last_valid && strcmp(a->node, b->node) < 0);
}

static void age_down(age_ent *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && age_less(&h[l], &h[m]))
      m = l;
    if (r < n && age_less(&h[r], &h[m]))
      m = r;
    if (m == i)
      return;
    age_ent x = h[i];
    h[i] = h[m];
    h[m] = x;
    i = m;
  }
}

static bool age_push(lic_state *c, int64_t last_valid, const char *node) {
  if (srv_array_reserve(&c->ages, &c->capages, c->nages + 1, 64) != LIC_OK)
    return false;
  size_t i = c->nages++;
  c->ages[i].last_valid = last_valid;
  snprintf(c->ages[i].node, sizeof c->ages[i].node, "%s", node);
  while (i > 0 && age_less(&c->ages[i], &c->ages[(i - 1) / 2])) {
    age_ent x = c->ages[i];
    c->ages[i] = c->ages[(i - 1) / 2];
    c->ages[(i - 1) / 2] = x;
    i = (i - 1) / 2;
  }
  return true;
}

/* Every node of the license into its heap: one scan of the table, then
 * each eviction at load is O(log n) instead of a scan. */
static bool ages_build(srv_seats *s, lic_state *c) {
  for (size_t i = 0; i < s->cap; i++)
    if (s->t[i].used && memcmp(s->t[i].n.license, c->license, LIC_ID_LEN) == 0 &&
        !age_push(c, s->t[i].n.last_valid, s->t[i].n.node))
      return false;
  return true;
}

/* A loaded node with a seat record: into the table; past the cap the
 * license's oldest goes (the loaded one itself when it is the oldest), so
 * the newest unlimited_cap stay whatever order the records come in. NULL:
 * not kept (or memory short). */
static slot *load_seat(srv_seats *s, const srv_node *n) {
  slot *e = find(s, n->license, n->node);
  lic_state *c = state_get(s, n->license);
  if (e->used) {
    if (c != NULL)
      ages_drop(s, n->license); /* its age changes under the heap */
    return e;
  }
  if (c == NULL)
    return NULL;
  if (c->nodes >= s->unlimited_cap) {
    if (c->ages == NULL && !ages_build(s, c)) {
      ages_drop(s, n->license);
      return get(s, n->license, n->node, s->unlimited_cap, n->last_valid, 0, true); /* the slow way */
    }
    age_ent mine = {n->last_valid, ""};
    snprintf(mine.node, sizeof mine.node, "%s", n->node);
    if (c->nages > 0 && age_less(&mine, &c->ages[0])) {
      s->evicted++;
      return NULL;
    }
    while (c->nodes >= s->unlimited_cap && c->nages > 0) {
      slot *old = find(s, n->license, c->ages[0].node);
      c->ages[0] = c->ages[--c->nages];
      age_down(c->ages, c->nages, 0);
      if (!old->used)
        continue;
      remove_at(s, (size_t)(old - s->t));
      s->evicted++;
    }
  }
  e = get(s, n->license, n->node, 0, n->last_valid, 0, true);
  c = state_get(s, n->license); /* get() may have moved the states */
  if (e != NULL && c != NULL && c->ages != NULL && !age_push(c, n->last_valid, n->node))
    ages_drop(s, n->license);
  return e;
}

void srv_seats_load(srv_seats *s, const srv_node *n, char *evicted, size_t cap) {
  pthread_mutex_lock(&s->mu);
  if (evicted != NULL && cap > 0)
    evicted[0] = '\0';
  if (n->last_valid <= 0) { /* never held a seat: a failure, if anything */
    if (n->fail_time > 0)
      ring_load(s, n, evicted, cap);
    else if (evicted != NULL && cap > 0) /* nothing at all (a released node): drop it */
      snprintf(evicted, cap, "%s", n->node);
  } else {
    /* Bounded on the next acquire by the license's max_nodes; here only by
     * the unlimited cap, the oldest going first. */
    slot *e = load_seat(s, n);
    if (e != NULL)
      e->n = *n;
    lic_state *c = state_get(s, n->license);
    if (c != NULL)
      c->valid = false;
  }
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

static int key_cmp(const srv_node *a, const srv_node *b) {
  int d = memcmp(a->license, b->license, LIC_ID_LEN);
  return d != 0 ? d : strcmp(a->node, b->node);
}

/* A max-heap of node copies by key: the k smallest seen so far. */
static void heap_down(srv_node *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && key_cmp(&h[l], &h[m]) > 0)
      m = l;
    if (r < n && key_cmp(&h[r], &h[m]) > 0)
      m = r;
    if (m == i)
      return;
    srv_node x = h[i];
    h[i] = h[m];
    h[m] = x;
    i = m;
  }
}

static void heap_up(srv_node *h, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (key_cmp(&h[p], &h[i]) >= 0)
      return;
    srv_node x = h[i];
    h[i] = h[p];
    h[p] = x;
    i = p;
  }
}

static int node_cmp(const void *x, const void *y) { return key_cmp(x, y); }

/* Offer one node to the page heap. */
static void page_offer(srv_node *h, size_t *hn, size_t k, const srv_node *n, const srv_node *after) {
  if (after != NULL && key_cmp(n, after) <= 0)
    return;
  if (*hn < k) {
    h[*hn] = *n;
    heap_up(h, (*hn)++);
  } else if (key_cmp(n, &h[0]) < 0) {
    h[0] = *n;
    heap_down(h, *hn, 0);
  }
}

int srv_seats_page(srv_seats *s, const uint8_t *after_license, const char *after_node, size_t limit,
                   srv_node **out, size_t *n, bool *more) {
  srv_node cur, fn;
  *out = NULL;
  *n = 0;
  *more = false;
  if (after_license != NULL) {
    memcpy(cur.license, after_license, LIC_ID_LEN);
    snprintf(cur.node, sizeof cur.node, "%s", after_node);
  }
  const srv_node *after = after_license != NULL ? &cur : NULL;
  size_t k = limit + 1; /* one more tells whether a next page exists */
  srv_node *h = malloc(k * sizeof *h);
  if (h == NULL)
    return LIC_NOMEM;
  size_t hn = 0;
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->cap; i++)
    if (s->t[i].used)
      page_offer(h, &hn, k, &s->t[i].n, after);
  /* Failing nodes without a seat record, from the failure lists. */
  for (size_t l = 0; l < s->nls; l++) {
    lic_state *c = &s->ls[l];
    for (size_t i = 0; c->ring != NULL && i < c->len; i++) {
      const srv_failure *f = &c->ring[i];
      if (f->node[0] == '\0' || find(s, f->license, f->node)->used)
        continue;
      memset(&fn, 0, sizeof fn);
      memcpy(fn.license, f->license, LIC_ID_LEN);
      snprintf(fn.node, sizeof fn.node, "%s", f->node);
      fn.last_seen = fn.fail_time = f->time;
      fn.fail_status = f->status;
      snprintf(fn.fail_reason, sizeof fn.fail_reason, "%s", f->reason);
      page_offer(h, &hn, k, &fn, after);
    }
  }
  pthread_mutex_unlock(&s->mu);
  qsort(h, hn, sizeof *h, node_cmp);
  *more = hn > limit;
  *n = hn > limit ? limit : hn;
  *out = h;
  return LIC_OK;
}

void srv_seats_forget(srv_seats *s, const uint8_t license[LIC_ID_LEN]) {
  pthread_mutex_lock(&s->mu);
  ages_drop(s, license);
  lic_state *c = state_get(s, license);
  if (c != NULL) {
    c->valid = false;
    c->nodes = 0;
    for (size_t i = 0; i < c->len; i++)
      if (c->ring[i].node[0] != '\0')
        s->failures--;
    free(c->ring);
    c->ring = NULL;
    c->head = c->len = 0;
  }
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

void srv_release_subject(const uint8_t license[LIC_ID_LEN], const char *node, char *buf, size_t cap) {
  char id[LIC_UUID_LEN + 1];
  lic_uuid_format(license, id);
  snprintf(buf, cap, "node:%s/%s", id, node);
}
