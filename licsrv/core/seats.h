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

#define SRV_MAX_NODES_TOTAL 200000 /* nodes remembered across all licenses */

typedef struct {
  uint8_t license[LIC_ID_LEN];
  char node[LIC_MAX_NAME + 1];
  int64_t last_valid;   /* last valid check (0 = never) */
  int64_t last_seen;    /* last check of any outcome */
  int64_t fail_time;    /* last failure (0 = none) */
  lic_status fail_status;
  char fail_reason[LIC_MAX_REASON + 1];
} srv_node;

typedef struct srv_seats srv_seats;

srv_seats *srv_seats_new(void);
void srv_seats_free(srv_seats *s);

/* A node whose terms were valid asks for a seat. It holds one while its last
 * valid check is younger than window (2 x heartbeat). A node already holding
 * a seat keeps it; a new one gets it when fewer than max are held (max 0 =
 * unlimited). Records the check; *used is the seats held afterwards. */
bool srv_seats_acquire(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node,
                       int64_t now, int64_t window, int64_t max, int64_t *used);
/* Seats held now (for verdicts of failed checks). */
int64_t srv_seats_used(srv_seats *s, const uint8_t license[LIC_ID_LEN], int64_t now, int64_t window);
/* Record a failed check (the "registration failure list"). */
void srv_seats_fail(srv_seats *s, const uint8_t license[LIC_ID_LEN], const char *node, int64_t now,
                    lic_status st, const char *reason);
/* Load a remembered node (from the store at start). */
void srv_seats_load(srv_seats *s, const srv_node *n);
/* Copy out the nodes (of one license, or all when license is NULL), or only
 * those changed since the last call with take_dirty (for batched writes).
 * *out is malloc'd. */
int srv_seats_snapshot(srv_seats *s, const uint8_t *license, bool take_dirty, srv_node **out,
                       size_t *n);
/* Forget one license's nodes (license deleted/forgotten). */
void srv_seats_forget(srv_seats *s, const uint8_t license[LIC_ID_LEN]);

#endif
