/* quota.h - public mode: one account cannot fill the shared store. Each
 * account's records (registrations, node records, audit entries naming it)
 * are counted by the store in the same write (store_usage); an account at
 * account_store_quota records is refused growth (507 account_store_full)
 * while the others go on, and when the store's map is past
 * SRV_STORE_HEADROOM_PCT used, the largest accounts (at least half the
 * largest one's records) are refused first, keeping the rest of the map for
 * the others. A pure decision (docs/server.md "Store quota"). */
#ifndef LICSRV_QUOTA_H
#define LICSRV_QUOTA_H

#include <stdint.h>

#include "store/store.h"

/* The default: 50 accounts at quota take ~650 MB of the default 1 GiB map
 * (~250 B a record with LMDB's pages), the rest is headroom. */
#define SRV_ACCOUNT_STORE_QUOTA 50000
#define SRV_STORE_HEADROOM_PCT 90

typedef enum {
  SRV_QUOTA_OK,
  SRV_QUOTA_ACCOUNT, /* the account holds its quota */
  SRV_QUOTA_HEADROOM, /* the map is nearly full and this account is among the largest */
} srv_quota_verdict;

/* Whether an account holding u may add growth more records. quota 0 = off
 * (the headroom rule too); an uncounted backend (u->counted false) is never
 * refused. */
srv_quota_verdict srv_quota_check(const store_usage *u, uint64_t quota, uint64_t growth);

#endif
