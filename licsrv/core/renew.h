/* renew.h - an account renewed in place (SPEC §3.4, §4.6): importing an
 * envelope of an account id already stored replaces it when its `issued` is
 * later; the same bytes again are stored again as before; an older or equal
 * one is refused. Registrations and the revocation stay with the id. */
#ifndef LICSRV_RENEW_H
#define LICSRV_RENEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/account.h"
#include "store/store.h"

typedef enum {
  PUB_IMPORT_NEW,     /* no account of this id before */
  PUB_IMPORT_SAME,    /* the same envelope bytes again */
  PUB_IMPORT_RENEWED, /* a later issued: its terms replace the stored ones */
  PUB_IMPORT_STALE,   /* an older or equal issued: refused */
} pub_import_kind;

typedef struct {
  pub_import_kind kind;
  bool token_changed;   /* RENEWED with another token_hash (a new token on purpose) */
  int64_t old_issued;   /* the stored envelope's (0: none in it; -1: unreadable) */
  int64_t old_capacity; /* the stored envelope's (0 when unreadable or new) */
} pub_import;

/* Pure: what importing next (its bytes and its parse) over the stored
 * envelope old (NULL/0: none) does. An unreadable stored envelope is
 * replaced by any other. */
void pub_account_import_decide(const uint8_t *old, size_t old_len, const uint8_t *next,
                               size_t next_len, const lic_account *next_acct, pub_import *out);

/* Inside a write transaction (on PostgreSQL the account row is locked until
 * the commit, so two imports of one id are decided one after the other):
 * decide against the stored envelope and store next unless it is stale.
 * A stale one is LIC_EXISTS, the detail naming both issued times; a changed
 * token is audited as `account.token` by actor. */
int pub_w_account_import(store_wtxn *w, const uint8_t *next, size_t next_len,
                         const lic_account *next_acct, int64_t now, const char *actor,
                         pub_import *out);

#endif
