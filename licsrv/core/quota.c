/* quota.c - the per-account store quota and the map's headroom (quota.h). */
#include "core/quota.h"

srv_quota_verdict srv_quota_check(const store_usage *u, uint64_t quota, uint64_t growth) {
  if (quota == 0 || !u->counted)
    return SRV_QUOTA_OK;
  if (u->records + growth > quota)
    return SRV_QUOTA_ACCOUNT;
  /* Nearly full: the largest accounts stop growing before the map fills
   * for everyone; an account below half the largest keeps the headroom. */
  if (u->mapsize > 0 && u->used * 100 >= u->mapsize * SRV_STORE_HEADROOM_PCT &&
      u->records > 0 && u->records * 2 >= u->top_records)
    return SRV_QUOTA_HEADROOM;
  return SRV_QUOTA_OK;
}
