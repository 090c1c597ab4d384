/* decide.h - the verify decision: pure (request, license, time in; status out). */
#ifndef LICSRV_DECIDE_H
#define LICSRV_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "lic/account.h"
#include "lic/license.h"
#include "core/request.h"

#define SRV_ROLLBACK_SLACK 3600 /* clock may go back this much below the high-water mark */

/* Everything but seats, in SPEC order: clock rollback, unknown license,
 * revoked, then the license terms (lic_license_decide: dates, major version,
 * domain, port, app). lic is NULL when the license is unknown. Seats are
 * decided after this by seats.c, only for a valid outcome. */
lic_status srv_decide(const srv_verify_req *q, const lic_license *lic, bool revoked, int64_t now,
                      int64_t high_water, char *reason, size_t cap);

/* Public mode (SPEC §4): what the route looked up for a request. */
typedef struct {
  const lic_account *acct; /* NULL: no such account */
  bool token_ok;           /* the token hashed to the account's token_hash */
  bool revoked;
  bool registered;         /* the project holds a slot */
} srv_public_state;

/* Verify by account: clock rollback, then unknown account or wrong token ->
 * bad_credentials (one answer for both), revoked, not_before/expires, not
 * registered, version, domain, port, app. */
lic_status srv_decide_public(const srv_verify_req *q, const srv_public_state *ps, int64_t now,
                             int64_t high_water, char *reason, size_t cap);
/* Register: the same up to the account's dates, then the terms (a project
 * the account may not serve takes no slot), then the slot: held already ->
 * valid (idempotent), used >= capacity -> capacity_exhausted, else valid. */
lic_status srv_decide_register(const srv_verify_req *q, const srv_public_state *ps, size_t used,
                               int64_t now, int64_t high_water, char *reason, size_t cap);

#endif
