/* decide.h - the verify decision: pure (request, license, time in; status out). */
#ifndef LICSRV_DECIDE_H
#define LICSRV_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "lic/license.h"
#include "core/request.h"

#define SRV_ROLLBACK_SLACK 3600 /* clock may go back this much below the high-water mark */

/* Everything but seats, in SPEC order: clock rollback, unknown license,
 * revoked, then the license terms (lic_license_decide: dates, major version,
 * domain, port, app). lic is NULL when the license is unknown. Seats are
 * decided after this by seats.c, only for a valid outcome. */
lic_status srv_decide(const srv_verify_req *q, const lic_license *lic, bool revoked, int64_t now,
                      int64_t high_water, char *reason, size_t cap);

#endif
