/* lineage_store.h - the lineages of the licenses in the store, read once for
 * a subcommand or an admin call (the server's verify path keeps its own
 * copy: app.c). Node seats and failures are kept under a lineage's key. */
#ifndef LICSRV_LINEAGE_STORE_H
#define LICSRV_LINEAGE_STORE_H

#include <stdint.h>

#include "lic/license.h"
#include "core/lineage.h"
#include "store/store.h"

typedef struct {
  lic_license *l; /* the stored licenses that parse */
  srv_lin_entry *e;
  size_t n, cap;
  srv_lineage g;
} srv_lineages;

/* Read and group every stored license (reader begun). 0 / an error. */
int srv_lineages_read(store_reader *rd, srv_lineages *out);
void srv_lineages_clear(srv_lineages *s);
/* The key of the lineage holding id (id itself when it is not stored). */
void srv_lineages_key(const srv_lineages *s, const uint8_t id[LIC_ID_LEN], uint8_t key[LIC_ID_LEN]);
/* The license a lineage answers for now (in force, else the one giving the
 * denial), by any id of it; NULL when none is stored. */
const lic_license *srv_lineages_answer(const srv_lineages *s, const uint8_t id[LIC_ID_LEN],
                                       int64_t now);

/* Whether the lineage of license id goes on after it ends at expires: another
 * license of it, not revoked, starts by then and ends later (or never). A
 * renewal imported ahead; its predecessor's expiry is no longer a warning. */
bool srv_lineages_renewed(const srv_lineages *s, const uint8_t id[LIC_ID_LEN], int64_t expires);

/* Import (SPEC §4.6): a successor keeps the binding of the license it
 * supersedes (mode, machine, node_key, customer, project, project_id,
 * product, rif). LIC_OK when next keeps it with every stored license it is
 * linked to (its predecessor, or a stored successor of it; a predecessor
 * that is not stored is no obstacle); LIC_INVALID with a reason naming the
 * field in why; or a store error. Reader begun. */
int srv_lineage_import_check(store_reader *rd, const lic_license *next, char *why, size_t cap);

#endif
