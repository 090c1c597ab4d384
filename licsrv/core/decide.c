/* decide.c - the verify decision, a pure function of its inputs. */
#include <stdio.h>

#include "core/decide.h"

lic_status srv_decide(const srv_verify_req *q, const lic_license *lic, bool revoked, int64_t now,
                      int64_t high_water, char *reason, size_t cap) {
  if (high_water > 0 && now < high_water - SRV_ROLLBACK_SLACK) {
    snprintf(reason, cap, "server clock is %lld s behind the last time it saw",
             (long long)(high_water - now));
    return LIC_STATUS_CLOCK_ROLLBACK;
  }
  if (lic == NULL) {
    snprintf(reason, cap, "%s", q->has_license ? "no such license on this server"
                                               : "this server holds no single license: name one");
    return LIC_STATUS_UNKNOWN_LICENSE;
  }
  if (revoked) {
    snprintf(reason, cap, "%s", lic_status_reason(LIC_STATUS_REVOKED));
    return LIC_STATUS_REVOKED;
  }
  lic_check_req cq = {q->domain, q->port, q->app[0] != '\0' ? q->app : NULL, q->major};
  return lic_license_decide(lic, &cq, now, reason, cap);
}
