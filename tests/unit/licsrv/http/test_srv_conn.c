/* test_srv_conn.c - http/conn.c through a socket: keep-alive, pipelining, errors answered early
 * and closed (the parser's limits as a client meets them), timeouts,
 * backpressure, the per-listener connection limit.
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

static void test_keepalive(void **state) {
  client c;
  response r;
  (void)state;
  cl_open(&c, port);
  for (int i = 0; i < 5; i++) {
    cl_sends(&c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_null(strcasestr(r.head, "Connection: close"));
    assert_non_null(strcasestr(r.head, "\r\nDate: "));
  }
  /* HTTP/1.0 asking for keep-alive is told so. */
  cl_sends(&c, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strcasestr(r.head, "\r\nConnection: keep-alive\r\n"));
  /* HTTP/1.0 without keep-alive: answered, then closed. */
  cl_sends(&c, "GET /healthz HTTP/1.0\r\n\r\n");
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, 200);
  assert_non_null(strcasestr(r.head, "Connection: close"));
  assert_true(cl_closed(&c));
  cl_close(&c);
}

static void test_pipelining(void **state) {
  client c;
  response r;
  char req[4096];
  size_t n = 0;
  (void)state;
  for (int i = 0; i < 10; i++)
    n += (size_t)snprintf(req + n, sizeof req - n,
                          "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nreq-%d",
                          i < 10 ? 5 : 6, i);
  cl_open(&c, port);
  cl_send(&c, req, n); /* ten requests in one write */
  for (int i = 0; i < 10; i++) {
    char want[16];
    snprintf(want, sizeof want, "req-%d", i);
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, want);
  }
  /* Chunked bodies within max_body are accepted. */
  cl_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "abcde");
  cl_close(&c);
}

/* Expect one error status, then the connection closed. */
static void expect_close(const char *req, size_t len, int status) {
  client c;
  response r;
  cl_open(&c, port);
  cl_send(&c, req, len);
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, status);
  assert_non_null(strcasestr(r.head, "Connection: close"));
  assert_true(cl_closed(&c));
  cl_close(&c);
}

static void test_length_errors(void **state) {
  static const char r411[] = "POST /echo HTTP/1.1\r\nHost: x\r\n\r\nabc";
  client c;
  response r;
  (void)state;
  expect_close(r411, sizeof r411 - 1, 411);
  /* 413 before the body is sent. */
  cl_open(&c, port);
  cl_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, 413);
  assert_non_null(strstr(r.body, "payload_too_large"));
  assert_true(cl_closed(&c));
  cl_close(&c);
  /* Chunked beyond max_body. */
  {
    char req[4096];
    int n = snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      "800\r\n%02048d\r\n0\r\n\r\n", 0);
    expect_close(req, (size_t)n, 413);
  }
  /* Just at the limit is fine. */
  {
    char req[2048];
    int n = snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n%01024d", 7);
    assert_int_equal(expect_one(port, req, &r), 200);
    assert_int_equal(r.body_len, 1024);
    (void)n;
  }
}

static void test_header_limits(void **state) {
  char req[8192];
  size_t n;
  (void)state;
  n = (size_t)snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: ");
  memset(req + n, 'a', 3000);
  n += 3000;
  n += (size_t)snprintf(req + n, sizeof req - n, "\r\n\r\n");
  expect_close(req, n, 431);
  /* The request line counts too (414 only when max_header_bytes > SRV_MAX_URL). */
  n = (size_t)snprintf(req, sizeof req, "GET /");
  memset(req + n, 'b', 4000);
  n += 4000;
  n += (size_t)snprintf(req + n, sizeof req - n, " HTTP/1.1\r\nHost: x\r\n\r\n");
  expect_close(req, n, 431);
  /* Too many fields. */
  n = (size_t)snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
  for (int i = 0; i < 20; i++)
    n += (size_t)snprintf(req + n, sizeof req - n, "X-H%d: v\r\n", i);
  n += (size_t)snprintf(req + n, sizeof req - n, "\r\n");
  expect_close(req, n, 431);
  /* 15 fields and Host are within the limit of 16. */
  {
    response r;
    n = (size_t)snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 15; i++)
      n += (size_t)snprintf(req + n, sizeof req - n, "X-H%d: v\r\n", i);
    n += (size_t)snprintf(req + n, sizeof req - n, "\r\n");
    assert_int_equal(expect_one(port, req, &r), 200);
  }
  /* An oversize Authorization value. */
  n = (size_t)snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ");
  memset(req + n, 'c', 1100);
  n += 1100;
  n += (size_t)snprintf(req + n, sizeof req - n, "\r\n\r\n");
  expect_close(req, n, 431);
}

static void test_garbage(void **state) {
  static const char *bad[] = {
      "HELLO WORLD\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n",
  };
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    expect_close(bad[i], strlen(bad[i]), 400);
  }
  {
    static const char nul[] = "GET /he\0lthz HTTP/1.1\r\nHost: x\r\n\r\n";
    expect_close(nul, sizeof nul - 1, 400);
  }
  expect_close("GET /healthz HTTP/9.9\r\n\r\n", 25, 505);
  healthz_ok();
}

/* Issue 11 item 8: where RFC 9112 requires an error (request smuggling risk
 * behind a proxy), 400 and close; http_parser alone accepted each of these. */
static void test_strict_rfc9112(void **state) {
  static const char *bad[] = {
      /* whitespace before the colon, used to frame the body */
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\nabc",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A\t: 1\r\n\r\n",
      /* HTTP/1.1 needs exactly one Host */
      "GET /healthz HTTP/1.1\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
      "GET /healthz HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n",
      /* obs-fold, in the framing headers or any other */
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n 0\r\n\r\nabc",
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n",
      "GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n",
      /* chunk data not followed by CRLF: 400 now, not 408 later */
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY",
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\rX0\r\n\r\n",
      /* an empty Content-Type (or Authorization) then a second one */
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type:\r\nContent-Type: application/json\r\n"
      "Content-Length: 2\r\n\r\n{}",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization:\r\nAuthorization: Bearer x\r\n\r\n",
      /* Transfer-Encoding: one field, exactly "chunked" (issue 23 item 7) */
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
      "\r\n3\r\nabc\r\n0\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunkedchunkedchunked\r\n\r\n0\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\nContent-Length: 3\r\n\r\nabc",
  };
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect_close(bad[i], strlen(bad[i]), 400);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs < 0.3); /* at once, not after header_timeout_ms */
  }
  /* A chunk's CRLF cut by the reads, one byte at a time: still fine; a bad
   * byte after such a cut: still 400. */
  static const char ok[] = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  client c;
  response r;
  cl_open(&c, port);
  for (size_t i = 0; i < sizeof ok - 1; i++) {
    cl_send(&c, ok + i, 1);
    usleep(1000);
  }
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "abcde");
  static const char cut[] = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc";
  cl_sends(&c, cut);
  usleep(20000);
  cl_sends(&c, "\r");
  usleep(20000);
  cl_sends(&c, "Z");
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, 400);
  assert_true(cl_closed(&c));
  cl_close(&c);
  /* HTTP/1.0 may go without Host. */
  assert_int_equal(expect_one(port, "GET /healthz HTTP/1.0\r\n\r\n", &r), 200);
  /* One Transfer-Encoding, "chunked" in any case, with trailing blanks: fine. */
  assert_int_equal(expect_one(port, "POST /echo HTTP/1.1\r\nHost: x\r\ntransfer-encoding: Chunked \r\n"
                                    "\r\n3\r\nabc\r\n0\r\n\r\n", &r), 200);
  assert_string_equal(r.body, "abc");
  healthz_ok();
}

static void test_timeout_408(void **state) {
  client c;
  response r;
  struct timespec t0, t1;
  (void)state;
  cl_open(&c, port);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cl_sends(&c, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); /* never finishes */
  assert_true(cl_response(&c, &r));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(r.status, 408);
  assert_true(cl_closed(&c));
  cl_close(&c);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true(secs >= 0.3 && secs < 3.0);
}

static void test_max_connections(void **state) {
  srv_config cfg;
  srv_server *s;
  client a, b, x;
  response r;
  (void)state;
  base_config(&cfg);
  cfg.threads = 1;
  cfg.lim.max_connections = 2;
  s = start_server(&cfg);
  cl_open(&a, srv_server_port(s));
  cl_open(&b, srv_server_port(s));
  cl_sends(&a, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&a, &r));
  cl_sends(&b, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&b, &r));
  cl_open(&x, srv_server_port(s));
  assert_true(cl_response(&x, &r)); /* accepted, told, closed */
  assert_int_equal(r.status, 503);
  assert_string_equal(r.body, "{\"error\":\"unavailable\",\"message\":\"too many connections\"}");
  assert_true(cl_closed(&x));
  cl_close(&x);
  cl_sends(&a, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&a, &r));
  assert_int_equal(r.status, 200);
  cl_close(&a);
  cl_close(&b);
  srv_server_stop(s);
  srv_server_wait(s);
  srv_server_free(s);
  shutdown_calls = 0;
}

/* A client that sends and never reads: the server stops reading it instead
 * of queueing answers, and keeps serving others. */
static void test_slow_reader(void **state) {
  client c;
  static char chunk[64 * 1024];
  /* 32 bytes: reads of SRV_INBUF end between requests (a request cut by a
   * read would wait out header_timeout_ms while the server holds off). */
  size_t one = strlen("GET /metrics HTTP/1.1\r\nHost:\r\n\r\n"), sent = 0;
  int stalls = 0;
  (void)state;
  for (size_t i = 0; i + one <= sizeof chunk; i += one)
    memcpy(chunk + i, "GET /metrics HTTP/1.1\r\nHost:\r\n\r\n", one);
  cl_open_opts(&c, port, 8192);
  while (sent < (size_t)256 << 20) {
    ssize_t w = send(c.fd, chunk, sizeof chunk - sizeof chunk % one, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) {
      sent += (size_t)w;
      stalls = 0;
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      fail_msg("send: %s after %zu bytes", strerror(errno), sent);
    if (++stalls >= 5)
      break; /* the server stopped taking our requests */
    usleep(100 * 1000);
  }
  assert_true(stalls >= 5);
  assert_true(sent < (size_t)64 << 20);
  healthz_ok();
  healthz_ok();
  cl_close(&c);
}

static void test_idle_timeout_and_continue(void **state) {
  srv_config cfg;
  srv_server *s;
  client c;
  response r;
  (void)state;
  base_config(&cfg);
  cfg.threads = 1;
  cfg.lim.idle_timeout_ms = 200;
  s = start_server(&cfg);
  cl_open(&c, srv_server_port(s));
  cl_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, 100);
  cl_sends(&c, "hello");
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "hello");
  cl_sends(&c, "GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n");
  assert_true(cl_response(&c, &r));
  assert_int_equal(r.status, 417);
  cl_close(&c);
  cl_open(&c, srv_server_port(s));
  cl_sends(&c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r));
  usleep(500 * 1000); /* idle past idle_timeout_ms: the server closes */
  assert_true(cl_closed(&c));
  cl_close(&c);
  srv_server_stop(s);
  srv_server_wait(s);
  srv_server_free(s);
  shutdown_calls = 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keepalive),
      cmocka_unit_test(test_pipelining),
      cmocka_unit_test(test_length_errors),
      cmocka_unit_test(test_header_limits),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_strict_rfc9112),
      cmocka_unit_test(test_timeout_408),
      cmocka_unit_test(test_max_connections),
      cmocka_unit_test(test_slow_reader),
      cmocka_unit_test(test_idle_timeout_and_continue),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
