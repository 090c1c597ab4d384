/* srv_harness.c - see srv_harness.h. */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include "srv_harness.h"
#include "testutil.h"
#include "util/log.h"

/* --- test handlers ------------------------------------------------------------ */

void h_echo(srv_req *r) {
  size_t n;
  const uint8_t *b = srv_req_body(r, &n);
  srv_reply(r, 200, "text/plain", b, n);
}

void h_info(srv_req *r) {
  char out[512];
  int *wid = srv_req_worker_user(r);
  int n = snprintf(out, sizeof out, "method=%s path=%s ctype=%s accept=%s auth=%s worker=%d remote=%s",
                   srv_req_method(r), srv_req_path(r), srv_req_content_type(r), srv_req_accept(r),
                   srv_req_authorization(r), wid != NULL ? *wid : -1, srv_req_remote_text(r));
  srv_reply(r, 200, "text/plain", out, (size_t)n);
}

void h_noreply(srv_req *r) { (void)r; }


uv_thread_t job_threads[MAX_JOBS];
int njobs;

void job_run(void *arg) {
  defer_job *j = arg;
  struct timespec ts = {.tv_sec = j->delay_ms / 1000, .tv_nsec = (long)(j->delay_ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  if (j->len == 4 && memcmp(j->body, "!err", 4) == 0)
    srv_reply_deferred_error(j->d, 409, "already_activated", "taken");
  else
    srv_reply_deferred(j->d, 200, "text/plain", j->body, j->len);
  free(j);
}

void h_defer(srv_req *r) {
  size_t n;
  const uint8_t *b = srv_req_body(r, &n);
  defer_job *j = calloc(1, sizeof *j);
  const char *colon = memchr(b, ':', n);
  assert_non_null(j);
  assert_non_null(colon);
  j->delay_ms = (unsigned)strtoul((const char *)b, NULL, 10);
  j->len = n - (size_t)(colon + 1 - (const char *)b);
  if (j->len > sizeof j->body)
    j->len = sizeof j->body;
  memcpy(j->body, colon + 1, j->len);
  j->d = srv_req_defer(r);
  assert_non_null(j->d);
  assert_true(njobs < MAX_JOBS);
  assert_int_equal(uv_thread_create(&job_threads[njobs++], job_run, j), 0);
}

void join_jobs(void) {
  for (int i = 0; i < njobs; i++)
    uv_thread_join(&job_threads[i]);
  njobs = 0;
}

int health_flag;
int health_check(void *arg, bool admin, char *msg, size_t len) {
  (void)arg;
  (void)admin;
  int f = __atomic_load_n(&health_flag, __ATOMIC_SEQ_CST);
  if (f == 1) {
    snprintf(msg, len, "store is \"closed\"");
    return -1;
  }
  if (f == 2) { /* ready, with a warning */
    snprintf(msg, len, "license expires in 3 days");
    return 1;
  }
  return 0;
}

/* A second check that warns too (two warnings are a list); it says which
 * listener asked (the public one's messages name nobody). */
int health_flag2;
int health_warn2(void *arg, bool admin, char *msg, size_t len) {
  (void)arg;
  if (!__atomic_load_n(&health_flag2, __ATOMIC_SEQ_CST))
    return 0;
  snprintf(msg, len, "%s", admin ? "second, for the admin listener" : "second");
  return 1;
}

/* A family of series known at scrape time. */
void family(void *arg, srv_buf *out) {
  (void)arg;
  srv_buf_printf(out, "test_expiry_seconds{license=\"a\"} 100\ntest_expiry_seconds{license=\"b\"} 200\n");
}

int ids[8];
void worker_start(srv_worker *w, void *arg) {
  (void)arg;
  ids[srv_worker_id(w)] = srv_worker_id(w) + 100;
  srv_worker_set_user(w, &ids[srv_worker_id(w)]);
}

int shutdown_calls;
void on_shutdown(void *arg) {
  (void)arg;
  shutdown_calls++;
}

/* --- server fixture ------------------------------------------------------------ */

srv_server *srv;
uint16_t port, admin_port;
srv_counter *test_counter;
double lmdb_size(void *arg) {
  (void)arg;
  return 4096;
}

srv_server *start_server(const srv_config *cfg) {
  srv_server *s = NULL;
  char err[256];
  if (srv_server_new(cfg, &s, err, sizeof err) != 0)
    fail_msg("server: %s", err);
  assert_int_equal(srv_route_add(s, "POST", "/echo", h_echo), 0);
  assert_int_equal(srv_route_add(s, "GET", "/info", h_info), 0);
  assert_int_equal(srv_route_add(s, "POST", "/info", h_info), 0);
  assert_int_equal(srv_route_add(s, "POST", "/defer", h_defer), 0);
  assert_int_equal(srv_route_add(s, "GET", "/noreply", h_noreply), 0);
  assert_int_not_equal(srv_route_add(s, "POST", "/echo", h_echo), 0); /* duplicate */
  assert_int_not_equal(srv_route_add(s, "FETCH", "/x", h_echo), 0);   /* no such method */
  assert_int_equal(srv_admin_route_add(s, "GET", "/admin/info", h_info), 0);
  assert_int_equal(srv_on_worker_start(s, worker_start, NULL), 0);
  assert_int_equal(srv_on_shutdown(s, on_shutdown, NULL), 0);
  assert_int_equal(srv_health_add(s, "store", health_check, NULL), 0);
  assert_int_equal(srv_health_add(s, "expiry", health_warn2, NULL), 0);
  assert_int_not_equal(srv_health_add(s, "bad\"name", health_check, NULL), 0);
  if (srv_server_start(s, err, sizeof err) != 0)
    fail_msg("start: %s", err);
  assert_int_not_equal(srv_route_add(s, "GET", "/late", h_echo), 0); /* after start */
  return s;
}

void base_config(srv_config *c) {
  srv_config_defaults(c);
  snprintf(c->listen, sizeof c->listen, "127.0.0.1:0");
  snprintf(c->admin_listen, sizeof c->admin_listen, "127.0.0.1:0");
  c->threads = 2;
  c->lim.max_body = 1024;
  c->lim.max_header_bytes = 2048;
  c->lim.max_headers = 16;
  c->lim.header_timeout_ms = 400;
  c->lim.idle_timeout_ms = 5000;
  c->lim.write_timeout_ms = 5000;
  c->lim.shutdown_timeout_ms = 2000;
}

int setup(void **state) {
  srv_config c;
  char err[256];
  (void)state;
  srv_log_set_level(SRV_LOG_WARN);
  base_config(&c);
  if (srv_server_new(&c, &srv, err, sizeof err) != 0)
    return -1;
  srv_server_free(srv); /* new + free without start must be clean */
  srv = start_server(&c);
  assert_int_equal(srv_health_add(srv, "late", health_check, NULL), -1); /* after start */
  test_counter = srv_metrics_counter(srv_server_metrics(srv), "test_verdicts_total",
                                     "status=\"valid\"", "Verdicts by status.");
  assert_non_null(test_counter);
  assert_non_null(srv_metrics_gauge(srv_server_metrics(srv), "test_lmdb_other", NULL, NULL));
  assert_non_null(srv_metrics_counter(srv_server_metrics(srv), "test_verdicts_total",
                                      "status=\"expired\"", "Verdicts by status."));
  assert_null(srv_metrics_gauge(srv_server_metrics(srv), "test_verdicts_total", NULL, NULL));
  assert_non_null(srv_metrics_gauge_fn(srv_server_metrics(srv), "test_lmdb_bytes", NULL,
                                       "Map size.", lmdb_size, NULL));
  assert_int_equal(srv_metrics_family(srv_server_metrics(srv), "test_expiry_seconds",
                                      "Expiry.", family, NULL), 0);
  assert_int_not_equal(srv_metrics_family(srv_server_metrics(srv), "test_verdicts_total",
                                          "taken by a counter", family, NULL), 0);
  port = srv_server_port(srv);
  admin_port = srv_server_admin_port(srv);
  assert_int_not_equal(port, 0);
  assert_int_not_equal(admin_port, 0);
  return 0;
}

int teardown(void **state) {
  (void)state;
  srv_server_stop(srv);
  srv_server_wait(srv);
  assert_int_equal(shutdown_calls, 1);
  srv_server_free(srv);
  join_jobs();
  return 0;
}

/* --- raw client ------------------------------------------------------------------ */


void cl_open_opts(client *c, uint16_t p, int bufsize) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p)};
  struct timeval tv = {.tv_sec = 5};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  c->len = 0;
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(c->fd >= 0);
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (bufsize > 0) {
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
  }
  assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
}

void cl_open(client *c, uint16_t p) { cl_open_opts(c, p, 0); }

void cl_close(client *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
}

void cl_send(client *c, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
    assert_true(w > 0);
    s += w;
    n -= (size_t)w;
  }
}

void cl_sends(client *c, const char *s) { cl_send(c, s, strlen(s)); }

/* More bytes into the buffer; 0 on EOF, -1 on timeout/error. */
int cl_fill(client *c) {
  ssize_t r;
  if (c->len >= sizeof c->buf - 1)
    return -1;
  r = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
  if (r < 0)
    return -1;
  c->len += (size_t)r;
  c->buf[c->len] = '\0';
  return r == 0 ? 0 : 1;
}


/* One whole response (Content-Length framed); false if the connection ended. */
bool cl_response(client *c, response *r) {
  for (;;) {
    char *end;
    c->buf[c->len] = '\0';
    end = strstr(c->buf, "\r\n\r\n");
    if (end != NULL) {
      size_t hl = (size_t)(end + 4 - c->buf);
      char *cl = strcasestr(c->buf, "Content-Length:");
      size_t blen = cl != NULL && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
      if (c->len >= hl + blen) {
        memset(r, 0, sizeof *r);
        r->status = (int)strtol(c->buf + 9, NULL, 10);
        snprintf(r->head, sizeof r->head, "%.*s", (int)hl, c->buf);
        r->body_len = blen < sizeof r->body - 1 ? blen : sizeof r->body - 1;
        memcpy(r->body, c->buf + hl, r->body_len);
        memmove(c->buf, c->buf + hl + blen, c->len - hl - blen);
        c->len -= hl + blen;
        return true;
      }
    }
    if (cl_fill(c) <= 0)
      return false;
  }
}

/* The server closed the connection (EOF, or reset) with nothing more to read. */
bool cl_closed(client *c) {
  char b[256];
  ssize_t r = recv(c->fd, b, sizeof b, 0);
  return r == 0 || (r < 0 && errno == ECONNRESET);
}

int expect_one(uint16_t p, const char *req, response *r) {
  client c;
  cl_open(&c, p);
  cl_sends(&c, req);
  assert_true(cl_response(&c, r));
  cl_close(&c);
  return r->status;
}

void healthz_ok(void) {
  response r;
  assert_int_equal(expect_one(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
}
