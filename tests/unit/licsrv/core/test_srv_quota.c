/* test_srv_quota.c - the per-account store quota (issue 23 item 1): an
 * account at account_store_quota is refused, one below it is not; past 90%
 * of the map the largest accounts (half the largest one's records or more)
 * are refused and the small ones keep the headroom; 0 = off; a backend that
 * keeps no count is never refused. */
#include <string.h>

#include "core/quota.h"
#include "testutil.h"

static store_usage usage(uint64_t records, uint64_t top, uint64_t used, uint64_t map) {
  store_usage u;
  memset(&u, 0, sizeof u);
  u.counted = true;
  u.records = records;
  u.top_records = top;
  u.used = used;
  u.mapsize = map;
  return u;
}

static void test_account_quota(void **state) {
  (void)state;
  store_usage u = usage(98, 98, 10, 1000);
  assert_int_equal(srv_quota_check(&u, 100, 2), SRV_QUOTA_OK);
  u.records = 99;
  assert_int_equal(srv_quota_check(&u, 100, 2), SRV_QUOTA_ACCOUNT);
  u.records = 5000;
  assert_int_equal(srv_quota_check(&u, 0, 2), SRV_QUOTA_OK); /* off */
  u.counted = false;
  assert_int_equal(srv_quota_check(&u, 100, 2), SRV_QUOTA_OK); /* not counted (PostgreSQL) */
}

static void test_headroom(void **state) {
  (void)state;
  /* 89% used: nobody refused below the quota */
  store_usage big = usage(800, 800, 890, 1000);
  assert_int_equal(srv_quota_check(&big, 100000, 2), SRV_QUOTA_OK);
  /* 90%: the largest, and one at half of it, refused; a small one goes on */
  big.used = 900;
  assert_int_equal(srv_quota_check(&big, 100000, 2), SRV_QUOTA_HEADROOM);
  store_usage half = usage(400, 800, 900, 1000);
  assert_int_equal(srv_quota_check(&half, 100000, 2), SRV_QUOTA_HEADROOM);
  store_usage small = usage(399, 800, 900, 1000);
  assert_int_equal(srv_quota_check(&small, 100000, 2), SRV_QUOTA_OK);
  store_usage fresh = usage(0, 800, 990, 1000);
  assert_int_equal(srv_quota_check(&fresh, 100000, 2), SRV_QUOTA_OK);
  /* no map (PostgreSQL): the quota alone */
  store_usage nomap = usage(800, 800, 0, 0);
  assert_int_equal(srv_quota_check(&nomap, 100000, 2), SRV_QUOTA_OK);
  /* off: no headroom rule either */
  assert_int_equal(srv_quota_check(&big, 0, 2), SRV_QUOTA_OK);
  /* a map of 4 GiB: no overflow in the percentage */
  store_usage huge = usage(10, 10, (uint64_t)4000 << 20, (uint64_t)4095 << 20);
  assert_int_equal(srv_quota_check(&huge, 100000, 2), SRV_QUOTA_HEADROOM);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_account_quota),
      cmocka_unit_test(test_headroom),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
