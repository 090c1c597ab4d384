/* store/batch.c - the heartbeat batch of both writers (store/batch.h): one
 * open-addressing table keyed by (owner, node), FNV-1a hashed, linear
 * probing, kept at most half full. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "util/hash.h"
#include "store/batch.h"

static uint64_t bhash(const uint8_t owner[LIC_ID_LEN], const char *node) {
  return srv_fnv1a64_str(srv_fnv1a64(SRV_FNV64_BASIS, owner, LIC_ID_LEN), node);
}

static store_bentry *slot(store_bentry *e, size_t cap, const uint8_t owner[LIC_ID_LEN],
                          const char *node) {
  size_t mask = cap - 1, i = (size_t)bhash(owner, node) & mask;
  while (e[i].used &&
         (memcmp(e[i].n.owner, owner, LIC_ID_LEN) != 0 || strcmp(e[i].n.node, node) != 0))
    i = (i + 1) & mask;
  return &e[i];
}

/* Room for one more entry, the table at most half full. */
static int room(store_batch *b) {
  if ((b->n + 1) * 2 <= b->cap)
    return LIC_OK;
  size_t cap = b->cap ? b->cap * 2 : 64;
  store_bentry *ne = calloc(cap, sizeof *ne);
  if (ne == NULL)
    return LIC_NOMEM;
  for (size_t i = 0; i < b->cap; i++)
    if (b->e[i].used)
      *slot(ne, cap, b->e[i].n.owner, b->e[i].n.node) = b->e[i];
  free(b->e);
  b->e = ne;
  b->cap = cap;
  return LIC_OK;
}

int store_batch_check_node(const char *node) {
  size_t nl = strlen(node);
  if (nl == 0 || nl > STORE_MAX_NODE)
    return lic_fail(LIC_LIMIT, "node name must be 1..%d bytes", STORE_MAX_NODE);
  return LIC_OK;
}

int store_batch_note(store_batch *b, const uint8_t owner[LIC_ID_LEN], const char *node,
                     int64_t now, const char *status, const char *reason, bool drop,
                     bool *first) {
  int r;
  if (first != NULL)
    *first = false;
  if ((r = store_batch_check_node(node)) != LIC_OK || (r = room(b)) != LIC_OK)
    return r;
  store_bentry *e = slot(b->e, b->cap, owner, node);
  if (!e->used) {
    memset(e, 0, sizeof *e);
    e->used = true;
    memcpy(e->n.owner, owner, LIC_ID_LEN);
    memcpy(e->n.node, node, strlen(node) + 1);
    b->n++;
    if (first != NULL)
      *first = true;
  }
  if (drop) {
    e->drop = true;
    e->seen = e->failed = false;
  } else if (status == NULL) {
    e->drop = false;
    e->seen = true;
    if (now > e->n.last_seen)
      e->n.last_seen = now;
  } else if (now >= e->n.fail_time) {
    e->drop = false;
    e->failed = true;
    e->n.fail_time = now;
    snprintf(e->n.fail_status, sizeof e->n.fail_status, "%s", status);
    snprintf(e->n.fail_reason, sizeof e->n.fail_reason, "%s", reason != NULL ? reason : "");
  }
  return LIC_OK;
}

int store_batch_merge_older(store_batch *b, const store_batch *older) {
  for (size_t i = 0; i < older->cap; i++) {
    const store_bentry *o = &older->e[i];
    if (!o->used)
      continue;
    if (room(b) != LIC_OK)
      return LIC_NOMEM;
    store_bentry *e = slot(b->e, b->cap, o->n.owner, o->n.node);
    if (!e->used) {
      *e = *o;
      b->n++;
      continue;
    }
    if (o->drop || e->drop) /* the newer entry, a note or a drop, wins over an old drop */
      continue;
    if (o->seen && (!e->seen || o->n.last_seen > e->n.last_seen)) {
      e->seen = true;
      e->n.last_seen = o->n.last_seen;
    }
    if (o->failed && (!e->failed || o->n.fail_time > e->n.fail_time)) {
      e->failed = true;
      e->n.fail_time = o->n.fail_time;
      memcpy(e->n.fail_status, o->n.fail_status, sizeof e->n.fail_status);
      memcpy(e->n.fail_reason, o->n.fail_reason, sizeof e->n.fail_reason);
    }
  }
  return LIC_OK;
}

store_batch store_batch_take(store_batch *b) {
  store_batch t = *b;
  memset(b, 0, sizeof *b);
  return t;
}

void store_batch_free(store_batch *b) {
  if (b == NULL)
    return;
  free(b->e);
  memset(b, 0, sizeof *b);
}
