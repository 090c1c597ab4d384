/* store/pg/notify.h - a change notice's payload (notify.c): what the schema's
 * triggers send on PGS_NOTIFY_CHANNEL, parsed with no connection
 * (tests/fuzz/fuzz_srv_notify.c fuzzes it). Calls no other room. */
#ifndef LICSRV_STORE_PG_NOTIFY_H
#define LICSRV_STORE_PG_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define PGS_NOTIFY_CHANNEL "licsrv_changes"
#define PGS_ORIGIN_LEN 8 /* a process's writer origin: random bytes (16 hex) */

/* longer than any payload the triggers send ("R" with a project of
 * LIC_MAX_NAME and a domain of LIC_MAX_DOMAIN bytes: 889) */
#define PGS_NOTIFY_MAX 1024

typedef enum {
  PGS_NOTIFY_ACCOUNT = 1, /* an account (id) */
  PGS_NOTIFY_REGS,        /* an account's (id) registrations: schema version 2 */
  PGS_NOTIFY_CERTS,
  PGS_NOTIFY_TOKENS, /* not in the read copy */
  PGS_NOTIFY_REG,    /* one registration (id, project): read it */
  PGS_NOTIFY_ROW,    /* one registration written: row (schema version 4) */
  PGS_NOTIFY_GONE,   /* one registration (id, project) deleted (version 4) */
} pgs_notify_kind;

typedef struct {
  pgs_notify_kind kind;
  uint8_t id[LIC_ID_LEN];      /* ACCOUNT, REGS, REG: the account */
  uint8_t project[LIC_ID_LEN]; /* REG, ROW, GONE */
  store_registration row;      /* ROW */
  bool has_origin;             /* the writer that made the change said who it was */
  uint8_t origin[PGS_ORIGIN_LEN];
} pgs_notify;

/* Parse len bytes of payload (no NUL needed); LIC_FORMAT for anything the
 * trigger does not send, *out zeroed then. */
int pgs__notify_parse(const char *payload, size_t len, pgs_notify *out);

#endif
