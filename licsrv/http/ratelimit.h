/* ratelimit.h - per-client-address token buckets of one worker loop, in a
 * fixed-size table (a flood of addresses evicts the stalest, never grows it). */
#ifndef LICSRV_RATELIMIT_H
#define LICSRV_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define SRV_RATE_SLOTS 4096 /* addresses tracked per loop */
#define SRV_RATE_PROBE 8    /* slots looked at per lookup */

typedef struct srv_rate srv_rate;

srv_rate *srv_rate_new(void);
void srv_rate_free(srv_rate *rl);
/* Take one token for addr; false when its bucket is empty. burst 0 = rate. */
bool srv_rate_allow(srv_rate *rl, const struct sockaddr *addr, uint32_t rate, uint32_t burst,
                    uint64_t now_ms);

#endif
