/* seats.h - report-server nodes per license: seats, last seen, last failure.
 * Shared by every loop (one mutex, short critical sections); persisted by the
 * store in batches, never a sync per verify. */
#ifndef LICSRV_SEATS_H
#define LICSRV_SEATS_H

#include <stdbool.h>
#include <stdint.h>

#include "lic/limits.h"
#include "lic/status.h"
#include "lic/util.h"
#include "lic/verdict.h"

#define SRV_FAILURES_KEEP  1000  /* failure_list_size: failures kept per license */
#define SRV_UNLIMITED_NODES 10000 /* unlimited_max_nodes: seat table of an unlimited license */

typedef struct {
  uint8_t license[LIC_ID_LEN];
  char node[LIC_MAX_NAME + 1];
  int64_t last_valid;   /* last valid check (0 = never) */
  int64_t last_seen;    /* last check of any outcome */
  int64_t fail_time;    /* last failure (0 = none) */
  lic_status fail_status;
  char fail_reason[LIC_MAX_REASON + 1];
} srv_node;

/* One entry of a license's failure list (the most recent failure of a node). */
typedef struct {
  uint8_t license[LIC_ID_LEN];
  char node[LIC_MAX_NAME + 1];
  int64_t time;
  lic_status status;
  char reason[LIC_MAX_REASON + 1];
} srv_failure;

typedef struct {
  uint64_t nodes;     /* nodes in the seat tables */
  uint64_t evicted;   /* idle nodes evicted to make room, since start */
  uint64_t failures;  /* entries in the failure lists */
} srv_seats_stats;

typedef struct srv_seats srv_seats;

/* The seat table holds only nodes that were granted a seat: a denial never
 * creates one. A license's table is bounded by its own max_nodes (unlimited
 * licenses by unlimited_cap); a new node past the bound evicts the license's
 * oldest idle node. Failures go to a separate list per license, the most
 * recent fail_keep nodes, which never evicts or blocks a seat. 0 = defaults. */
srv_seats *srv_seats_new_with(size_t fail_keep, size_t unlimited_cap);
srv_seats *srv_seats_new(void);
void srv_seats_free(srv_seats *s);

/* A node whose terms were valid asks for a seat. It holds one while its last
 * valid check is younger than window (2 x heartbeat). A node already holding
 * a seat keeps it; a new one gets it when fewer than max are held (max 0 =
 * unlimited). Records the check; *used is the seats held afterwards. */
bool srv_seats_acquire(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node,
                       int64_t now, int64_t window, int64_t max, int64_t *used);
/* Public mode: an account's node had a valid check at now. Its table is
 * bounded by unlimited_cap: past it the least recently seen node goes and
 * its name is copied to evicted ("" when none), for the caller to delete
 * its stored record. false: memory short. */
bool srv_seats_note(srv_seats *s, const uint8_t owner[LIC_ID_LEN], const char *node, int64_t now,
                    char *evicted, size_t cap);
/* Whether the node is in the license's seat table (a returning node). */
bool srv_seats_known(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node);
/* Seats held now (for verdicts of failed checks). */
int64_t srv_seats_used(srv_seats *s, const uint8_t license[LIC_ID_LEN], int64_t now, int64_t window);
/* Record a failed check in the license's failure list (the "registration
 * failure list"); also on the node's seat record when it has one. Returns
 * whether the node is in the seat table. When the list was full, the node it
 * pushed out goes to evicted (NUL-terminated, "" when none) if it holds no
 * seat record: its stored failure record is then to be dropped, so the store
 * keeps no more failures than the list. */
bool srv_seats_fail(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node, int64_t now,
                    lic_status st, const char *reason, char *evicted, size_t cap);
/* Copy out the failure lists (of one license or all), most recent first.
 * *out is malloc'd. */
int srv_seats_failures(srv_seats *s, const uint8_t *license, srv_failure **out, size_t *n);
/* Free a node's seat (admin release): the node leaves the seat table and its
 * seat is free at once. false when the node has none. */
bool srv_seats_release(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node);
void srv_seats_stats_get(srv_seats *s, srv_seats_stats *st);
/* A release is audited as action SRV_RELEASE_ACTION, subject "node:UUID/NAME"
 * (how a running server learns of `licsrv release`). */
#define SRV_RELEASE_ACTION "release"
void srv_release_subject(const uint8_t license[LIC_ID_LEN], const char *node, char *buf, size_t cap);
/* Load a remembered node (from the store at start): one that never held a
 * seat (last_valid 0) goes to the failure list only. */
void srv_seats_load(srv_seats *s, const srv_node *n, char *evicted, size_t cap);
/* After the last load: the failure lists in time order. */
void srv_seats_load_done(srv_seats *s);
/* Copy out the nodes (of one license, or all when license is NULL), or only
 * those changed since the last call with take_dirty (for batched writes).
 * *out is malloc'd. */
int srv_seats_snapshot(srv_seats *s, const uint8_t *license, bool take_dirty, srv_node **out,
                       size_t *n);
/* One page of the nodes in (license, node) order - the seat table and the
 * failing nodes without a seat record (last_valid 0) - the first limit after
 * (after_license, after_node) (from the start when after_license is NULL),
 * and whether more follow. Picked under the lock in one pass without copying
 * the whole table, so a large listing holds verifies up for little. *out is
 * malloc'd. */
int srv_seats_page(srv_seats *s, const uint8_t *after_license, const char *after_node, size_t limit,
                   srv_node **out, size_t *n, bool *more);
/* Forget one license's nodes (license deleted/forgotten). */
void srv_seats_forget(srv_seats *s, const uint8_t license[LIC_ID_LEN]);

#endif
