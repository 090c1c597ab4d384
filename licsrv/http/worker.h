/* http/worker.h - a worker (one libuv loop and thread) and the server that
 * owns the workers: what the listener, the router and connections share. */
#ifndef LICSRV_HTTP_WORKER_H
#define LICSRV_HTTP_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>

#include <uv.h>

#include "http/parser.h"
#include "http/ratelimit.h"
#include "http/tls.h"
#include "http/router.h"
#include "http/server.h"
#include "http/wire.h"
#include "util/buf.h"
#include "util/log.h"

#define SRV_MAX_HOOKS    16
#define SRV_FREE_BLOCKS  64          /* request blocks a worker keeps for reuse */
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
  uv_async_t replies; /* deferred replies from other threads */
  uv_prepare_t prep;  /* flush the request log before the loop waits */
  uv_timer_t drain_timer;
  /* Out of descriptors (EMFILE/ENFILE): a listener is closed for a back-off
   * and opened again (libuv would retry accept in a loop that never ends). */
  uv_timer_t accept_timer;
  bool lis_paused[2];   /* closed for the back-off */
  bool lis_closing[2];  /* its close callback has not run yet */
  uint64_t backoff_ms;  /* the current back-off, doubling to SRV_ACCEPT_BACKOFF_MAX_MS */
  uv_mutex_t mu; /* guards the fields up to 'closed' */
  bool stop_req, reload_req;
  srv_limits new_lim;
  srv_deferred *q_head, *q_tail;
  bool closed; /* loop gone: deferred replies are dropped */
  srv_limits lim; /* this loop's copy, read by its connections */
  bool draining;
  srv_conn *conns;
  srv_http_block *free_blocks;
  size_t nfree;
  srv_rate *rate;
  srv_logbuf log;
  srv_date date;
  srv_buf scratch;
  char *tls_in; /* one socket read of TLS records (SRV_TLS_RECORD_IN), on first TLS accept */
  void *user;
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
  srv_tls *tls; /* NULL: both listeners plain */
  _Atomic uint64_t lat[SRV_NLAT + 1];
  _Atomic uint64_t lat_sum_us, lat_count;
  _Atomic int64_t open_conns[2];      /* per listener: each has its own limit */
  _Atomic uint64_t rejected_conns[2]; /* closed at once: the listener's limit */
  _Atomic uint64_t rejected_per_ip;   /* closed at once: max_connections_per_ip */
  struct srv_connlimit *per_ip;       /* public connections per client address */
  void *user;
  bool started, waited;
};

/* Every connection gone while draining: close the loop's own handles. */
void srv_worker_check_done(srv_worker *w);

#endif
