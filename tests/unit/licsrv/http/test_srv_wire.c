/* test_srv_wire.c - http/wire.c without a socket: masked client addresses. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "http/wire.h"
#include "testutil.h"

static void test_mask_addr(void **state) {
  struct sockaddr_in v4 = {.sin_family = AF_INET};
  struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
  char out[64];
  (void)state;
  inet_pton(AF_INET, "192.0.2.77", &v4.sin_addr);
  srv_mask_addr((struct sockaddr *)&v4, false, out, sizeof out);
  assert_string_equal(out, "192.0.2.0/24");
  srv_mask_addr((struct sockaddr *)&v4, true, out, sizeof out);
  assert_string_equal(out, "192.0.2.77");
  inet_pton(AF_INET6, "2001:db8:abcd:1234::99", &v6.sin6_addr);
  srv_mask_addr((struct sockaddr *)&v6, false, out, sizeof out);
  assert_string_equal(out, "2001:db8:abcd::/48");
  srv_mask_addr((struct sockaddr *)&v6, true, out, sizeof out);
  assert_string_equal(out, "2001:db8:abcd:1234::99");
  inet_pton(AF_INET6, "::ffff:198.51.100.9", &v6.sin6_addr);
  srv_mask_addr((struct sockaddr *)&v6, false, out, sizeof out);
  assert_string_equal(out, "198.51.100.0/24");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mask_addr),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
