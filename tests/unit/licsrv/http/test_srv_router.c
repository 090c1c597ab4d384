/* test_srv_router.c - http/router.c through a socket: 404 and 405 with Allow, a handler
 * that does not answer, the per-address rate limit, /healthz and /metrics.
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

static void test_404_405(void **state) {
  response r;
  (void)state;
  assert_int_equal(expect_one(port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", &r), 404);
  assert_string_equal(r.body, "{\"error\":\"not_found\",\"message\":\"no such endpoint\"}");
  assert_non_null(strcasestr(r.head, "Content-Type: application/json"));
  assert_int_equal(expect_one(port, "DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r), 405);
  assert_non_null(strcasestr(r.head, "\r\nAllow: GET\r\n"));
  assert_int_equal(expect_one(port, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", &r), 405);
  assert_non_null(strcasestr(r.head, "\r\nAllow: POST\r\n"));
  assert_int_equal(expect_one(port, "GET /info/ HTTP/1.1\r\nHost: x\r\n\r\n", &r), 404);
  /* MessagePack follows Accept, else the request's Content-Type. */
  assert_int_equal(expect_one(port, "GET /nope HTTP/1.1\r\nHost: x\r\nAccept: application/msgpack\r\n\r\n", &r), 404);
  assert_non_null(strcasestr(r.head, "Content-Type: application/msgpack"));
  assert_int_equal((unsigned char)r.body[0], 0x82);
  assert_memory_equal(r.body + 1, "\xa5" "error\xa9not_found", 16);
  assert_int_equal(expect_one(port, "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\n"
                                    "Content-Length: 1\r\n\r\n\x80", &r), 404);
  assert_int_equal((unsigned char)r.body[0], 0x82);
  assert_int_equal(expect_one(port, "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\n"
                                    "Accept: application/json\r\nContent-Length: 1\r\n\r\n\x80", &r), 404);
  assert_int_equal(r.body[0], '{');
}

static void test_rate_limit(void **state) {
  srv_config cfg;
  srv_server *s;
  client c;
  response r;
  int ok = 0, limited = 0;
  (void)state;
  base_config(&cfg);
  cfg.threads = 1;
  cfg.lim.rate_per_ip = 2;
  cfg.lim.rate_burst = 3;
  shutdown_calls = 0;
  s = start_server(&cfg);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cl_open(&c, srv_server_port(s));
  for (int i = 0; i < 8; i++) {
    cl_sends(&c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(cl_response(&c, &r));
    if (r.status == 200)
      ok++;
    else if (r.status == 429) {
      limited++;
      assert_non_null(strcasestr(r.head, "Retry-After: 1"));
      assert_non_null(strstr(r.body, "rate_limited"));
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  /* The burst, plus what the rate refilled while we sent (slow under sanitizers). */
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true(ok >= 3 && ok <= 3 + (int)(secs * 2) + 1);
  assert_int_equal(ok + limited, 8);
  assert_true(limited >= 1);
  cl_close(&c);
  /* The admin listener is not rate limited. */
  for (int i = 0; i < 5; i++)
    assert_int_equal(expect_one(srv_server_admin_port(s), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
  srv_server_stop(s);
  srv_server_wait(s);
  srv_server_free(s);
  shutdown_calls = 0;
}

static void test_healthz_metrics(void **state) {
  response r;
  (void)state;
  assert_int_equal(expect_one(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
  assert_non_null(strstr(r.body, "{\"status\":\"ok\""));
  srv_counter_add(test_counter, 41);
  srv_counter_add(test_counter, 1);
  srv_counter_add(NULL, 1);
  assert_int_equal(expect_one(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
  assert_non_null(strcasestr(r.head, "Content-Type: text/plain; version=0.0.4"));
  assert_non_null(strstr(r.body, "# TYPE licsrv_http_requests_total counter"));
  assert_non_null(strstr(r.body, "licsrv_http_requests_total{listener=\"public\",endpoint=\"/healthz\",status=\"200\"}"));
  assert_non_null(strstr(r.body, "endpoint=\"other\",status=\"404\""));
  assert_non_null(strstr(r.body, "licsrv_http_request_duration_seconds_bucket{le=\"+Inf\"}"));
  assert_non_null(strstr(r.body, "licsrv_http_connections_open "));
  assert_non_null(strstr(r.body, "# TYPE test_verdicts_total counter"));
  assert_non_null(strstr(r.body, "test_verdicts_total{status=\"valid\"} 42\n"));
  assert_non_null(strstr(r.body, "test_verdicts_total{status=\"expired\"} 0\n"));
  assert_non_null(strstr(r.body, "test_lmdb_bytes 4096\n"));
  /* A failing readiness check names itself. */
  __atomic_store_n(&health_flag, 1, __ATOMIC_SEQ_CST);
  assert_int_equal(expect_one(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r), 503);
  assert_non_null(strstr(r.body, "\"check\":\"store\""));
  assert_non_null(strstr(r.body, "store is \\\"closed\\\""));
  /* Warnings keep 200 and are listed; a failure still wins over them. */
  __atomic_store_n(&health_flag, 2, __ATOMIC_SEQ_CST);
  assert_int_equal(expect_one(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
  assert_non_null(strstr(r.body, "\"status\":\"ok\""));
  assert_non_null(strstr(r.body, "\"warnings\":[{\"check\":\"store\",\"message\":\"license expires in 3 days\"}]}"));
  __atomic_store_n(&health_flag2, 1, __ATOMIC_SEQ_CST);
  assert_int_equal(expect_one(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
  assert_non_null(strstr(r.body, "days\"},{\"check\":\"expiry\",\"message\":\"second\"}]}"));
  assert_int_equal(expect_one(admin_port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
  assert_non_null(strstr(r.body, "{\"check\":\"expiry\",\"message\":\"second, for the admin listener\"}]}"));
  __atomic_store_n(&health_flag, 1, __ATOMIC_SEQ_CST);
  assert_int_equal(expect_one(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r), 503);
  assert_null(strstr(r.body, "warnings"));
  __atomic_store_n(&health_flag2, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&health_flag, 0, __ATOMIC_SEQ_CST);
  healthz_ok();
  assert_int_equal(expect_one(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
  assert_non_null(strstr(r.body, "# HELP test_expiry_seconds Expiry.\n# TYPE test_expiry_seconds gauge\n"
                                 "test_expiry_seconds{license=\"a\"} 100\ntest_expiry_seconds{license=\"b\"} 200\n"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_404_405),
      cmocka_unit_test(test_rate_limit),
      cmocka_unit_test(test_healthz_metrics),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
