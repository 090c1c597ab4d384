/* lineage.h - licenses linked by `supersedes` (a renewal, an upgrade) and the
 * license in force of each chain (docs/server.md "Renewals: the license in
 * force"). Pure: parsed licenses and a time in, indexes out; no store. */
#ifndef LICSRV_LINEAGE_H
#define LICSRV_LINEAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/license.h"

#define SRV_LIN_NONE ((size_t)-1)

/* One stored license: parsed (borrowed) and whether it was revoked. */
typedef struct {
  const lic_license *lic;
  bool revoked;
} srv_lin_entry;

/* The stored licenses grouped into lineages. A license whose `supersedes`
 * names a stored license joins that license's lineage; one whose predecessor
 * is not stored starts a lineage (its root). Each lineage's key is its root:
 * the earliest stored license, the id its node seats are kept under. */
typedef struct {
  const srv_lin_entry *e; /* borrowed */
  size_t n;
  size_t *key;   /* per entry: the index of its lineage's root */
  size_t *depth; /* per entry: links from the root (a successor is deeper) */
} srv_lineage;

/* Group n entries (e stays borrowed while g is used). LIC_OK / LIC_NOMEM. */
int srv_lineage_build(srv_lineage *g, const srv_lin_entry *e, size_t n);
void srv_lineage_clear(srv_lineage *g);

/* Whether entry i is in force at now: not revoked, not_before <= now <
 * expires (expires 0 = perpetual). */
bool srv_lineage_in_force(const srv_lin_entry *e, int64_t now);

/* The entry to answer for in the lineage whose key is k: the newest in force
 * (by issued; on a tie the deeper, i.e. a successor over the license it
 * supersedes; then the greater id). When none is in force, the entry whose
 * decision gives the right denial: the newest that has started (it is
 * expired or revoked), else the one that starts first (not yet valid).
 * *in_force (may be NULL) says which case it was. SRV_LIN_NONE for no such key. */
size_t srv_lineage_pick(const srv_lineage *g, size_t k, int64_t now, bool *in_force);

/* Which entry answers a request naming id (NULL: none named): the pick of
 * the lineage holding id; with none named the pick of the only lineage, or,
 * of several, of the only one with a live license (neither revoked nor
 * expired: one not yet valid counts). SRV_LIN_NONE with a
 * reason in why otherwise (several lineages: the reason lists each by the id
 * it would answer for, customer and project). */
size_t srv_lineage_resolve(const srv_lineage *g, const uint8_t *id, int64_t now, char *why,
                           size_t cap);

/* The entry holding id, or SRV_LIN_NONE. */
size_t srv_lineage_find(const srv_lineage *g, const uint8_t id[LIC_ID_LEN]);

#endif
