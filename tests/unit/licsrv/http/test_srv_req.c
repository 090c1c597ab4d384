/* test_srv_req.c - http/req.c through a socket: what a handler reads of its request,
 * and answers deferred to other threads, still in request order.
 * The shared server and client: srv_harness.h. */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "http/server.h"
#include "http/wire.h"
#include "srv_harness.h"
#include "testutil.h"

static void test_request_fields(void **state) {
  response r;
  (void)state;
  assert_int_equal(expect_one(port,
                              "POST /info?x=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "accept: text/plain\r\nAccept: */*\r\nAuthorization: Bearer abc\r\n"
                              "Content-Length: 2\r\n\r\n{}",
                              &r),
                   200);
  assert_non_null(strstr(r.body, "method=POST path=/info ctype=application/json "
                                 "accept=text/plain, */* auth=Bearer abc worker=10"));
  assert_non_null(strstr(r.body, "remote=127.0.0.0/24"));
  /* Absolute-form target. */
  assert_int_equal(expect_one(port, "GET http://example.com/info HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
  assert_non_null(strstr(r.body, "path=/info "));
  /* Admin listener has its own table. */
  assert_int_equal(expect_one(admin_port, "GET /admin/info HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
  assert_int_equal(expect_one(port, "GET /admin/info HTTP/1.1\r\nHost: x\r\n\r\n", &r), 404);
  assert_int_equal(expect_one(admin_port, "GET /info HTTP/1.1\r\nHost: x\r\n\r\n", &r), 404);
  /* A handler that forgets to answer gives 500, not a hang. */
  assert_int_equal(expect_one(port, "GET /noreply HTTP/1.1\r\nHost: x\r\n\r\n", &r), 500);
}

static void test_deferred_in_order(void **state) {
  client c;
  response r;
  static const char req[] = "POST /defer HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n150:one"
                            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo"
                            "POST /defer HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n010:thr"
                            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)state;
  cl_open(&c, port);
  cl_send(&c, req, sizeof req - 1);
  assert_true(cl_response(&c, &r));
  assert_string_equal(r.body, "one");
  assert_true(cl_response(&c, &r));
  assert_string_equal(r.body, "two");
  assert_true(cl_response(&c, &r));
  assert_string_equal(r.body, "thr");
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"ok\""));
  /* Deferred errors follow Accept like the others. */
  cl_sends(&c, "POST /defer HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n020:!err"
               "POST /defer HTTP/1.1\r\nHost: x\r\nAccept: application/msgpack\r\nContent-Length: 8\r\n\r\n001:!err");
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, 409);
  assert_string_equal(r.body, "{\"error\":\"already_activated\",\"message\":\"taken\"}");
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, 409);
  assert_non_null(strcasestr(r.head, "Content-Type: application/msgpack"));
  assert_int_equal((unsigned char)r.body[0], 0x82);
  /* The client leaves before its deferred answer: dropped, nothing breaks. */
  cl_sends(&c, "POST /defer HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n200:bye");
  cl_close(&c);
  usleep(300 * 1000);
  healthz_ok();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_fields),
      cmocka_unit_test(test_deferred_in_order),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
