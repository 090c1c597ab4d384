/* http/worker.h - a worker (one libuv loop and thread) and the server that
 * owns the workers: server.c's, and what the router reads of them (routes,
 * health checks, counters, the rate limiter). Connections see neither: their
 * share is srv_conns and srv_conn_shared (http/conn.h). */
#ifndef LICSRV_HTTP_WORKER_H
#define LICSRV_HTTP_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>

#include <uv.h>

#include "http/conn.h"
#include "http/ratelimit.h"
#include "http/router.h"
#include "http/server.h"

#define SRV_MAX_HOOKS    16
#define SRV_BACKLOG      1024
#define SRV_ACCEPT_BACKOFF_MS     50   /* first pause of accepting after EMFILE */
#define SRV_ACCEPT_BACKOFF_MAX_MS 1000
#define SRV_FD_RESERVE   32  /* descriptors kept for the store, logs, loops ... */
#define SRV_FD_PER_LOOP  8   /* and per loop (epoll, eventfd, listeners, trusted/ scans) */
#define SRV_PER_IP_SHARE 4   /* descriptors short: one address gets at most 1/4 of the public slots */

typedef struct {
  void (*fn)(srv_worker *w, void *arg);
  void *arg;
} srv_whook;

typedef struct {
  char name[64];
  int (*check)(void *arg, bool admin, char *msg, size_t msglen);
  void *arg;
} srv_health;

struct srv_worker {
  srv_server *s;
  int id;
  uv_thread_t thread;
  bool thread_started;
  uv_loop_t loop;
  bool loop_init;
  uv_tcp_t lis[2];
  bool has_lis[2];
  uv_async_t ctl;     /* stop / reload requests from other threads */
  uv_prepare_t prep;  /* flush the request log before the loop waits */
  uv_timer_t drain_timer;
  /* Out of descriptors (EMFILE/ENFILE): a listener is closed for a back-off
   * and opened again (libuv would retry accept in a loop that never ends). */
  uv_timer_t accept_timer;
  bool lis_paused[2];   /* closed for the back-off */
  bool lis_closing[2];  /* its close callback has not run yet */
  uint64_t backoff_ms;  /* the current back-off, doubling to SRV_ACCEPT_BACKOFF_MAX_MS */
  uv_mutex_t mu; /* guards the fields up to 'done' */
  bool stop_req, reload_req;
  srv_limits new_lim;
  bool done; /* the loop's own handles are closing: ctl is gone */
  srv_conns cn; /* its connections; cn.lim is the loop's limits */
  srv_rate *rate;
};

struct srv_server {
  srv_config cfg;
  srv_routes routes[2];
  srv_worker *workers;
  uint32_t nworkers;
  uint16_t port[2];
  srv_whook wstart[SRV_MAX_HOOKS], wstop[SRV_MAX_HOOKS];
  size_t nwstart, nwstop;
  struct { void (*fn)(void *arg); void *arg; } shutdown[SRV_MAX_HOOKS];
  size_t nshutdown;
  srv_health health[SRV_MAX_HOOKS];
  size_t nhealth;
  srv_metrics *metrics;
  uint64_t fd_budget; /* descriptors connections may use (RLIMIT_NOFILE less a reserve) */
  _Atomic uint64_t emfile_pauses; /* listener back-offs after EMFILE/ENFILE */
  srv_conn_shared cs; /* TLS, connection counts and limits, latency */
  void *user;
  bool started, waited;
};

#endif
