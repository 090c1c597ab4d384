/* lineage.c - licenses linked by `supersedes` and the license in force of
 * each lineage (SPEC §4.6 as docs/server.md tells it). Pure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "core/lineage.h"

size_t srv_lineage_find(const srv_lineage *g, const uint8_t id[LIC_ID_LEN]) {
  for (size_t i = 0; i < g->n; i++)
    if (memcmp(g->e[i].lic->id, id, LIC_ID_LEN) == 0)
      return i;
  return SRV_LIN_NONE;
}

/* Earlier: by issued, then by id (a fixed order to break a cycle with). */
static bool earlier(const lic_license *a, const lic_license *b) {
  return a->issued != b->issued ? a->issued < b->issued : memcmp(a->id, b->id, LIC_ID_LEN) < 0;
}

void srv_lineage_clear(srv_lineage *g) {
  if (g == NULL)
    return;
  free(g->key);
  free(g->depth);
  memset(g, 0, sizeof *g);
}

int srv_lineage_build(srv_lineage *g, const srv_lin_entry *e, size_t n) {
  size_t *parent = NULL;
  memset(g, 0, sizeof *g);
  g->e = e;
  g->n = n;
  if (n == 0)
    return LIC_OK;
  if ((g->key = calloc(n, sizeof *g->key)) == NULL ||
      (g->depth = calloc(n, sizeof *g->depth)) == NULL ||
      (parent = calloc(n, sizeof *parent)) == NULL) {
    free(parent);
    srv_lineage_clear(g);
    return lic_fail(LIC_NOMEM, "license lineages");
  }
  for (size_t i = 0; i < n; i++) {
    size_t p = e[i].lic->has_supersedes ? srv_lineage_find(g, e[i].lic->supersedes) : SRV_LIN_NONE;
    parent[i] = p == i ? SRV_LIN_NONE : p;
  }
  /* A cycle (licenses superseding each other: only a forged or mistaken
   * signing makes one) is cut at its earliest member, which becomes a root. */
  for (size_t i = 0; i < n; i++) {
    size_t c = i, steps = 0;
    while (parent[c] != SRV_LIN_NONE && steps <= n) {
      c = parent[c];
      steps++;
    }
    if (parent[c] == SRV_LIN_NONE)
      continue;
    size_t m = c;
    for (size_t d = parent[c]; d != c; d = parent[d])
      if (earlier(e[d].lic, e[m].lic))
        m = d;
    parent[m] = SRV_LIN_NONE;
  }
  for (size_t i = 0; i < n; i++) {
    size_t c = i, depth = 0;
    while (parent[c] != SRV_LIN_NONE) {
      c = parent[c];
      depth++;
    }
    g->key[i] = c;
    g->depth[i] = depth;
  }
  free(parent);
  return LIC_OK;
}

bool srv_lineage_in_force(const srv_lin_entry *e, int64_t now) {
  const lic_license *l = e->lic;
  return !e->revoked && l->not_before <= now && (l->expires == 0 || now < l->expires);
}

/* Newer: by issued, then a successor over its predecessor (deeper), then id. */
static bool newer(const srv_lineage *g, size_t a, size_t b) {
  const lic_license *x = g->e[a].lic, *y = g->e[b].lic;
  if (x->issued != y->issued)
    return x->issued > y->issued;
  if (g->depth[a] != g->depth[b])
    return g->depth[a] > g->depth[b];
  return memcmp(x->id, y->id, LIC_ID_LEN) > 0;
}

size_t srv_lineage_pick(const srv_lineage *g, size_t k, int64_t now, bool *in_force) {
  size_t force = SRV_LIN_NONE, started = SRV_LIN_NONE, first = SRV_LIN_NONE;
  for (size_t i = 0; i < g->n; i++) {
    if (g->key[i] != k)
      continue;
    const lic_license *l = g->e[i].lic;
    if (srv_lineage_in_force(&g->e[i], now)) {
      if (force == SRV_LIN_NONE || newer(g, i, force))
        force = i;
    } else if (l->not_before <= now) { /* started: expired or revoked */
      if (started == SRV_LIN_NONE || newer(g, i, started))
        started = i;
    } else if (first == SRV_LIN_NONE || l->not_before < g->e[first].lic->not_before ||
               (l->not_before == g->e[first].lic->not_before && newer(g, i, first))) {
      first = i; /* not yet valid: the one that starts first */
    }
  }
  if (in_force != NULL)
    *in_force = force != SRV_LIN_NONE;
  return force != SRV_LIN_NONE ? force : started != SRV_LIN_NONE ? started : first;
}

/* Whether lineage k holds a live license: neither revoked nor expired (one
 * not yet valid counts). */
static bool lineage_live(const srv_lineage *g, size_t k, int64_t now) {
  for (size_t i = 0; i < g->n; i++) {
    const lic_license *l = g->e[i].lic;
    if (g->key[i] == k && !g->e[i].revoked && (l->expires == 0 || now < l->expires))
      return true;
  }
  return false;
}

/* At most max bytes of s, not cutting a UTF-8 sequence. */
static int utf8_prefix(const char *s, int max) {
  int n = (int)strnlen(s, (size_t)max + 1);
  if (n <= max)
    return n;
  n = max;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;
  return n;
}

/* "HEAD: ID (customer/project); ID (...)", as many as fit, then "; +N more";
 * the lineages with a live license first. */
static void list_lineages(const srv_lineage *g, int64_t now, const char *head, char *why,
                          size_t cap) {
  int h = snprintf(why, cap, "%s", head);
  size_t len = h > 0 ? (size_t)h : 0, shown = 0, left = 0;
  const size_t more = 12; /* room kept for "; +NNNN more" */
  if (len >= cap)
    return;
  for (int pass = 0; pass < 2; pass++)
    for (size_t k = 0; k < g->n; k++) {
      if (g->key[k] != k || lineage_live(g, k, now) != (pass == 0))
        continue;
      const lic_license *l = g->e[srv_lineage_pick(g, k, now, NULL)].lic;
      char id[LIC_UUID_LEN + 1], item[LIC_UUID_LEN + 48];
      lic_uuid_format(l->id, id);
      const char *cu = l->customer ? l->customer : "", *pr = l->project ? l->project : "";
      int n = snprintf(item, sizeof item, "%s%s (%.*s/%.*s)", shown == 0 ? ": " : "; ", id,
                       utf8_prefix(cu, 16), cu, utf8_prefix(pr, 16), pr);
      if (left == 0 && n > 0 && len + (size_t)n + more < cap) {
        memcpy(why + len, item, (size_t)n + 1);
        len += (size_t)n;
        shown++;
      } else {
        left++;
      }
    }
  if (left > 0)
    snprintf(why + len, cap - len, "; +%zu more", left);
}

size_t srv_lineage_resolve(const srv_lineage *g, const uint8_t *id, int64_t now, char *why,
                           size_t cap) {
  if (id != NULL) {
    size_t i = srv_lineage_find(g, id);
    if (i == SRV_LIN_NONE) {
      snprintf(why, cap, "no such license on this server");
      return SRV_LIN_NONE;
    }
    return srv_lineage_pick(g, g->key[i], now, NULL);
  }
  /* Several lineages (licenses of different projects, or a new license
   * imported without `supersedes`): the only lineage with a live license
   * (neither revoked nor expired; not yet valid counts) answers, as before
   * lineages existed; else the request must name one, and the reason lists
   * them. */
  size_t lineages = 0, live = 0, only = SRV_LIN_NONE, only_live = SRV_LIN_NONE;
  for (size_t k = 0; k < g->n; k++) {
    if (g->key[k] != k)
      continue;
    size_t p = srv_lineage_pick(g, k, now, NULL);
    lineages++;
    only = p;
    if (lineage_live(g, k, now)) {
      live++;
      only_live = p;
    }
  }
  if (lineages == 1)
    return only;
  if (lineages == 0) {
    snprintf(why, cap, "no license imported on this server");
    return SRV_LIN_NONE;
  }
  if (live == 1)
    return only_live;
  list_lineages(g, now,
                live == 0 ? "this server holds several licenses, none current (revoked or "
                            "expired): name one"
                          : "this server holds several licenses: name one",
                why, cap);
  return SRV_LIN_NONE;
}
