/* core/expiry.h - a stored license's terms as operators see them (customer,
 * expiry, seats) and how close its expiry is: shared by `licsrv status`,
 * `licsrv licenses`, /metrics, /healthz and the daily log warning, so the
 * command line and the server can never disagree on "days left". */
#ifndef LICSRV_EXPIRY_H
#define LICSRV_EXPIRY_H

#include <stdbool.h>
#include <stdint.h>

#include "lic/limits.h"
#include "lic/util.h"
#include "store/store.h"

#define LICSRV_EXPIRY_WARN_DAYS 30    /* warn from this many days before expiry */
#define LICSRV_EXPIRY_WARN_EVERY 86400 /* at most one log warning a day per license */

typedef struct {
  uint8_t id[LIC_ID_LEN];
  bool readable;                      /* the stored envelope decoded */
  char customer[LIC_MAX_NAME + 1];
  int64_t not_before, expires;        /* expires 0 = never */
  int64_t max_nodes, heartbeat;       /* max_nodes 0 = unlimited */
  bool revoked;
  int64_t imported, revoked_at;
} licsrv_terms;

/* The terms of a stored license (its signature was checked at import, so
 * here it is only decoded). Never fails: an undecodable envelope gives
 * readable = false and the store's own fields. */
void licsrv_terms_read(const store_license *sl, licsrv_terms *t);
/* Whole days from now to expires, rounded down (negative once expired);
 * INT64_MAX for a license that never expires. */
int64_t licsrv_days_left(int64_t expires, int64_t now);
/* Whether the license is live and expires within LICSRV_EXPIRY_WARN_DAYS
 * (or has expired): what the log and /healthz warn about. */
bool licsrv_expiry_near(const licsrv_terms *t, int64_t now);
/* One line for the log and /healthz: "license UUID (Customer) expires in N
 * days (YYYY-MM-DD)" or "... expired on YYYY-MM-DD". */
void licsrv_expiry_text(const licsrv_terms *t, int64_t now, char *buf, size_t cap);

/* When the log last warned about each license (the server's memory, not the
 * store: after a restart it warns again, which is what an operator wants). */
#define LICSRV_EXPIRY_LOG_SLOTS 64
typedef struct {
  struct {
    uint8_t id[LIC_ID_LEN];
    int64_t at; /* 0 = free slot */
  } slot[LICSRV_EXPIRY_LOG_SLOTS];
} licsrv_expiry_log;

/* Whether to log a warning for license id at now: true the first time and
 * then once every LICSRV_EXPIRY_WARN_EVERY seconds (and notes it). With all
 * slots taken the oldest is reused. */
bool licsrv_expiry_log_due(licsrv_expiry_log *l, const uint8_t id[LIC_ID_LEN], int64_t now);

#endif
