/* test_srv_nodelimit.c - new node names per hour: per client address
 * (issue 11) and per account id (public mode, issue 23 item 1): the
 * window, Retry-After to its end, ids and addresses apart, 0 = off. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "core/nodelimit.h"
#include "testutil.h"

static void test_per_account(void **state) {
  (void)state;
  srv_nodelimit *l = srv_nodelimit_new(2);
  uint8_t a[16] = {1}, b[16] = {2};
  uint32_t retry;
  int64_t t = 1000000;
  assert_non_null(l);
  for (int i = 0; i < 2; i++) {
    assert_true(srv_nodelimit_allow_id(l, a, t + i, &retry));
    assert_int_equal(retry, 0);
    srv_nodelimit_note_id(l, a, t + i);
  }
  assert_false(srv_nodelimit_allow_id(l, a, t + 100, &retry));
  assert_int_equal(retry, SRV_NODELIMIT_WINDOW - 100); /* the hour began at the first name */
  assert_true(srv_nodelimit_allow_id(l, b, t + 100, &retry)); /* another account */
  /* An address whose bytes look like the id's is another key. */
  struct sockaddr_in sin = {.sin_family = AF_INET};
  memcpy(&sin.sin_addr, a, 4);
  assert_true(srv_nodelimit_allow(l, (struct sockaddr *)&sin, t + 100));
  /* The hour over: room again. */
  assert_true(srv_nodelimit_allow_id(l, a, t + SRV_NODELIMIT_WINDOW, &retry));
  /* 0 = off. */
  srv_nodelimit_set(l, 0);
  for (int i = 0; i < 10; i++)
    srv_nodelimit_note_id(l, b, t + 200);
  assert_true(srv_nodelimit_allow_id(l, b, t + 200, &retry));
  srv_nodelimit_free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_per_account),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
