/* acctlimit.h - public mode: requests one account may make (register,
 * unregister, verify by account), a token bucket per account refilled at
 * per_minute / 60 a second holding at most a minute's worth, so one token
 * holder cannot take the server (and the shared store) from the others.
 * Only authenticated requests count: a wrong token cannot spend another
 * account's budget. A fixed-size table shared by the loops (one mutex); a
 * full probe run replaces its stalest account, so it never grows. */
#ifndef LICSRV_ACCTLIMIT_H
#define LICSRV_ACCTLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "lic/util.h"

#define SRV_ACCTLIMIT_SLOTS 4096
#define SRV_ACCOUNT_REQUESTS_PER_MINUTE 600 /* the default: real report servers check every 2 hours */

typedef struct srv_acctlimit srv_acctlimit;

srv_acctlimit *srv_acctlimit_new(uint32_t per_minute); /* 0 = no limit */
void srv_acctlimit_free(srv_acctlimit *l);
uint32_t srv_acctlimit_get(srv_acctlimit *l);
/* A new rate (SIGHUP); the buckets are kept. */
void srv_acctlimit_set(srv_acctlimit *l, uint32_t per_minute);
/* Spend one request of account at now_ms (any monotonic or wall ms): true,
 * or false with *retry_s the whole seconds until one is available (>= 1). */
bool srv_acctlimit_take(srv_acctlimit *l, const uint8_t account[LIC_ID_LEN], int64_t now_ms,
                        uint32_t *retry_s);

#endif
