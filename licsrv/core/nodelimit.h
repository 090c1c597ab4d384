/* nodelimit.h - how many new node names one client address may introduce per
 * hour (issue 11: one host must not mint hundreds of seats). Shared by the
 * loops (one mutex); a fixed-size table, the stalest address replaced. */
#ifndef LICSRV_NODELIMIT_H
#define LICSRV_NODELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define SRV_NODELIMIT_SLOTS 4096
#define SRV_NODELIMIT_WINDOW 3600 /* s */

typedef struct srv_nodelimit srv_nodelimit;

srv_nodelimit *srv_nodelimit_new(uint32_t per_hour); /* 0 = no limit */
void srv_nodelimit_free(srv_nodelimit *l);
/* The limit now, and a new one (SIGHUP): the addresses' counts are kept. */
uint32_t srv_nodelimit_get(srv_nodelimit *l);
void srv_nodelimit_set(srv_nodelimit *l, uint32_t per_hour);
/* Whether addr may introduce one more new node name at now (no charge). */
bool srv_nodelimit_allow(srv_nodelimit *l, const struct sockaddr *addr, int64_t now);
/* Charge one new node name to addr. */
void srv_nodelimit_note(srv_nodelimit *l, const struct sockaddr *addr, int64_t now);
/* The same per account id (public mode, its own table): false with
 * *retry_s the seconds until the id's hour ends. */
bool srv_nodelimit_allow_id(srv_nodelimit *l, const uint8_t id[16], int64_t now, uint32_t *retry_s);
void srv_nodelimit_note_id(srv_nodelimit *l, const uint8_t id[16], int64_t now);

#endif
