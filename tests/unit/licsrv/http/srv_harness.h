/* srv_harness.h - what the socket-driven tests of http/ share
 * (test_srv_conn.c, test_srv_req.c, test_srv_router.c, test_srv_server.c):
 * test handlers, a server on loopback (setup/teardown start and stop the
 * shared one), and a raw client. Split out of test_srv_http.c (issue 25). */
#ifndef LICSRV_TEST_SRV_HARNESS_H
#define LICSRV_TEST_SRV_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "http/server.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/metrics.h"

/* --- test handlers: POST /echo, GET|POST /info, POST /defer, GET /noreply --- */

typedef struct {
  srv_deferred *d;
  unsigned delay_ms;
  char body[64];
  size_t len;
} defer_job;

#define MAX_JOBS 64

void h_echo(srv_req *r);
void h_info(srv_req *r);
void h_noreply(srv_req *r);
/* Body "DELAY:TEXT": answered from another thread after DELAY ms with TEXT. */
void h_defer(srv_req *r);
void job_run(void *arg);
void join_jobs(void); /* the threads h_defer started */
extern uv_thread_t job_threads[MAX_JOBS];
extern int njobs;

/* Health checks (/healthz): health_flag 1 fails, 2 warns; health_flag2 warns. */
extern int health_flag, health_flag2;
int health_check(void *arg, bool admin, char *msg, size_t len);
int health_warn2(void *arg, bool admin, char *msg, size_t len);
void family(void *arg, srv_buf *out);
extern int ids[8]; /* worker user pointers, set by worker_start */
void worker_start(srv_worker *w, void *arg);
extern int shutdown_calls;
void on_shutdown(void *arg);

/* --- server fixture --- */

extern srv_server *srv; /* the shared one (setup/teardown) */
extern uint16_t port, admin_port;
extern srv_counter *test_counter;
double lmdb_size(void *arg);
srv_server *start_server(const srv_config *cfg); /* routes and hooks above, started */
void base_config(srv_config *c);                 /* loopback, small limits */
int setup(void **state);
int teardown(void **state);

/* --- raw client --- */

typedef struct {
  int fd;
  char buf[1 << 16];
  size_t len;
} client;

typedef struct {
  int status;
  char head[2048];
  char body[8192];
  size_t body_len;
} response;

void cl_open_opts(client *c, uint16_t p, int bufsize);
void cl_open(client *c, uint16_t p);
void cl_close(client *c);
void cl_send(client *c, const char *s, size_t n);
void cl_sends(client *c, const char *s);
/* More bytes into the buffer; 0 on EOF, -1 on timeout/error. */
int cl_fill(client *c);
/* One whole response (Content-Length framed); false if the connection ended. */
bool cl_response(client *c, response *r);
/* The server closed the connection (EOF, or reset) with nothing more to read. */
bool cl_closed(client *c);
int expect_one(uint16_t p, const char *req, response *r);
void healthz_ok(void); /* GET /healthz on the shared server answers 200 */

#endif
