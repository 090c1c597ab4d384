/* test_srv_acctlimit.c - requests per account (public mode, issue 23 item 1):
 * a minute's worth at once, then the refill rate, 429's Retry-After in whole
 * seconds, accounts apart, 0 = off, a new rate on SIGHUP, a clock stepping
 * back, and a flood of accounts in a table that does not grow. */
#include <string.h>

#include "core/acctlimit.h"
#include "testutil.h"

static const uint8_t A[LIC_ID_LEN] = {1};
static const uint8_t B[LIC_ID_LEN] = {2};

static void test_bucket(void **state) {
  (void)state;
  srv_acctlimit *l = srv_acctlimit_new(60); /* one a second, 60 at once */
  uint32_t retry;
  int64_t t = 1000000;
  assert_non_null(l);
  for (int i = 0; i < 60; i++) {
    assert_true(srv_acctlimit_take(l, A, t, &retry));
    assert_int_equal(retry, 0);
  }
  assert_false(srv_acctlimit_take(l, A, t, &retry));
  assert_int_equal(retry, 1);
  /* Another account is not touched. */
  assert_true(srv_acctlimit_take(l, B, t, &retry));
  /* Half a second: not yet (retry still 1); a second: one more, then none. */
  assert_false(srv_acctlimit_take(l, A, t + 500, &retry));
  assert_int_equal(retry, 1);
  assert_true(srv_acctlimit_take(l, A, t + 1000, &retry));
  assert_false(srv_acctlimit_take(l, A, t + 1000, &retry));
  /* A minute idle: full again, and no more than full. */
  t += 1000 + 3600 * 1000;
  for (int i = 0; i < 60; i++)
    assert_true(srv_acctlimit_take(l, A, t, &retry));
  assert_false(srv_acctlimit_take(l, A, t, &retry));
  /* The clock stepping back neither refills nor wedges the bucket. */
  assert_false(srv_acctlimit_take(l, A, t - 30000, &retry));
  assert_true(srv_acctlimit_take(l, A, t - 30000 + 1000, &retry));
  /* A slow rate: Retry-After says the whole wait. */
  srv_acctlimit_set(l, 2); /* one every 30 s; the bucket is cut to 2 */
  assert_int_equal(srv_acctlimit_get(l), 2);
  t += 3600 * 1000;
  assert_true(srv_acctlimit_take(l, A, t, &retry));
  assert_true(srv_acctlimit_take(l, A, t, &retry));
  assert_false(srv_acctlimit_take(l, A, t, &retry));
  assert_int_equal(retry, 30);
  assert_false(srv_acctlimit_take(l, A, t + 29500, &retry));
  assert_int_equal(retry, 1);
  assert_true(srv_acctlimit_take(l, A, t + 30000, &retry));
  /* 0: off. */
  srv_acctlimit_set(l, 0);
  for (int i = 0; i < 1000; i++)
    assert_true(srv_acctlimit_take(l, A, t, &retry));
  srv_acctlimit_free(l);
  srv_acctlimit_free(NULL);
}

static void test_many_accounts(void **state) {
  (void)state;
  srv_acctlimit *l = srv_acctlimit_new(1);
  uint8_t id[LIC_ID_LEN];
  uint32_t retry;
  /* Ten times the table: each new account starts with its minute's worth. */
  for (uint32_t i = 0; i < 10 * SRV_ACCTLIMIT_SLOTS; i++) {
    memset(id, 0, sizeof id);
    memcpy(id, &i, sizeof i);
    assert_true(srv_acctlimit_take(l, id, 1000 + i, &retry));
  }
  /* The busy account keeps its (empty) bucket while the others churn. */
  assert_true(srv_acctlimit_take(l, A, 5000000, &retry));
  assert_false(srv_acctlimit_take(l, A, 5000001, &retry));
  assert_int_equal(retry, 60);
  srv_acctlimit_free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bucket),
      cmocka_unit_test(test_many_accounts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
