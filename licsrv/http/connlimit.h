/* http/connlimit.h - open connections per client address on the public
 * listener, over all workers (one mutex: taken on accept and close only). A
 * fixed table; when it is full (more distinct addresses at once than
 * SRV_CONNLIMIT_SLOTS / 2) new addresses are let through uncounted rather
 * than refused. */
#ifndef LICSRV_CONNLIMIT_H
#define LICSRV_CONNLIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define SRV_CONNLIMIT_SLOTS 65536

typedef struct srv_connlimit srv_connlimit;

srv_connlimit *srv_connlimit_new(void);
void srv_connlimit_free(srv_connlimit *l);
/* One more connection from addr when it has fewer than max open: true and
 * *counted (give it back with srv_connlimit_give); false when at max. */
bool srv_connlimit_take(srv_connlimit *l, const struct sockaddr *addr, uint32_t max, bool *counted);
void srv_connlimit_give(srv_connlimit *l, const struct sockaddr *addr);

#endif
