/* lineage_store.c - the stored licenses' lineages, for subcommands and admin
 * calls: read, parse, group (core/lineage.c decides). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "util/array.h"
#include "core/lineage_store.h"

static int read_cb(const store_license *sl, void *arg) {
  srv_lineages *s = arg;
  lic_envelope env;
  size_t lcap = s->cap; /* two arrays, one capacity: s->cap grows with the second */
  if (srv_array_reserve(&s->l, &lcap, s->n + 1, 8) != LIC_OK ||
      srv_array_reserve(&s->e, &s->cap, s->n + 1, 8) != LIC_OK)
    return LIC_NOMEM;
  /* Its signature was checked at import; one that no longer parses is left
   * out (the server logs it). */
  if (lic_envelope_decode(sl->env, sl->env_len, &env) != LIC_OK || strcmp(env.typ, "license") != 0 ||
      lic_license_parse(env.body, env.body_len, &s->l[s->n]) != LIC_OK)
    return 0;
  s->e[s->n].revoked = sl->revoked;
  s->n++;
  return 0;
}

void srv_lineages_clear(srv_lineages *s) {
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->n; i++)
    lic_license_clear(&s->l[i]);
  free(s->l);
  free(s->e);
  srv_lineage_clear(&s->g);
  memset(s, 0, sizeof *s);
}

int srv_lineages_read(store_reader *rd, srv_lineages *out) {
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = store_license_each(rd, read_cb, out)) == LIC_OK) {
    for (size_t i = 0; i < out->n; i++) /* the array has its final place now */
      out->e[i].lic = &out->l[i];
    rc = srv_lineage_build(&out->g, out->e, out->n);
  }
  if (rc != LIC_OK)
    srv_lineages_clear(out);
  return rc;
}

void srv_lineages_key(const srv_lineages *s, const uint8_t id[LIC_ID_LEN], uint8_t key[LIC_ID_LEN]) {
  size_t i = srv_lineage_find(&s->g, id);
  memmove(key, i == SRV_LIN_NONE ? id : s->l[s->g.key[i]].id, LIC_ID_LEN);
}

const lic_license *srv_lineages_answer(const srv_lineages *s, const uint8_t id[LIC_ID_LEN],
                                       int64_t now) {
  size_t i = srv_lineage_find(&s->g, id);
  if (i == SRV_LIN_NONE)
    return NULL;
  size_t p = srv_lineage_pick(&s->g, s->g.key[i], now, NULL);
  return p == SRV_LIN_NONE ? NULL : &s->l[p];
}

bool srv_lineages_renewed(const srv_lineages *s, const uint8_t id[LIC_ID_LEN], int64_t expires) {
  size_t i = srv_lineage_find(&s->g, id);
  if (i == SRV_LIN_NONE || expires == 0)
    return false;
  for (size_t j = 0; j < s->n; j++) {
    const lic_license *m = &s->l[j];
    if (j != i && s->g.key[j] == s->g.key[i] && !s->e[j].revoked && m->not_before <= expires &&
        (m->expires == 0 || m->expires > expires))
      return true;
  }
  return false;
}

int srv_lineage_import_check(store_reader *rd, const lic_license *next, char *why, size_t cap) {
  srv_lineages all;
  int rc;
  if ((rc = srv_lineages_read(rd, &all)) != LIC_OK)
    return rc;
  for (size_t i = 0; i < all.n; i++) {
    const lic_license *l = &all.l[i];
    char id[LIC_UUID_LEN + 1];
    const char *field = NULL;
    bool pred = next->has_supersedes && memcmp(next->supersedes, l->id, LIC_ID_LEN) == 0;
    bool succ = l->has_supersedes && memcmp(l->supersedes, next->id, LIC_ID_LEN) == 0 &&
                memcmp(l->id, next->id, LIC_ID_LEN) != 0;
    if (pred)
      field = lic_license_binding_diff(l, next);
    else if (succ)
      field = lic_license_binding_diff(next, l);
    if (field == NULL)
      continue;
    lic_uuid_format(l->id, id);
    snprintf(why, cap,
             pred ? "it renews license %s (supersedes) but changes its %s: a renewal keeps the "
                    "binding of the license it renews (docs/server.md)"
                  : "license %s, already imported, renews this one but changes its %s: a renewal "
                    "keeps the binding of the license it renews (docs/server.md)",
             id, field);
    rc = lic_fail(LIC_INVALID, "%s", why);
    break;
  }
  srv_lineages_clear(&all);
  return rc;
}
