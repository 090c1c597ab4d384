/* store/batch.h - the heartbeat batch both backends' writers keep (inside
 * store/ only): node last-seen times, failures and drops noted by the
 * serving loops in memory, merged per (owner, node), and written by the
 * writer in one go (docs/storage.md "Writes and durability"). An
 * open-addressing table; the caller holds its own lock around every call. */
#ifndef LICSRV_STORE_BATCH_H
#define LICSRV_STORE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct {
  bool used, seen, failed;
  bool drop; /* store_node_drop: delete the record if it never held a seat */
  store_node n; /* seen: n.last_seen; failed: n.fail_* */
} store_bentry;

typedef struct {
  store_bentry *e; /* cap slots, a power of two; the used ones hold entries */
  size_t cap, n;
} store_batch;

/* LIC_LIMIT unless node is 1..STORE_MAX_NODE bytes. */
int store_batch_check_node(const char *node);

/* Note a check of (owner, node) at now: seen when status is NULL, a failure
 * (status, reason) otherwise, or a drop (forgets what was noted for it).
 * The newest seen and the newest failure win; a note after a drop undoes
 * the drop. *first (may be NULL) says the entry is new in the batch. */
int store_batch_note(store_batch *b, const uint8_t owner[LIC_ID_LEN], const char *node,
                     int64_t now, const char *status, const char *reason, bool drop,
                     bool *first);

/* Put older's entries back into b (a batch that could not be written),
 * what b noted since winning: a newer note or drop over an old drop, the
 * newest seen and failure times. LIC_NOMEM: the rest of older is lost. */
int store_batch_merge_older(store_batch *b, const store_batch *older);

/* Take the batch's entries out (b empty afterwards); free the taken table
 * with store_batch_free. */
store_batch store_batch_take(store_batch *b);
void store_batch_free(store_batch *b);

#endif
