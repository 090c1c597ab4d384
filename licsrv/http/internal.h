/* http/internal.h - the structures of http/ (server.c, conn.c, req.c) share (not for other
 * modules: they use server.h). */
#ifndef LICSRV_SRV_INTERNAL_H
#define LICSRV_SRV_INTERNAL_H

#include <stdatomic.h>

#include <uv.h>

#include "util/buf.h"
#include "http/parser.h"
#include "util/log.h"
#include "http/ratelimit.h"
#include "http/server.h"

#define SRV_MAX_ROUTES   64
#define SRV_MAX_HOOKS    16
#define SRV_OUT_CAP      (64 * 1024) /* queued output beyond which we stop reading */
#define SRV_MAX_PIPELINE 16          /* answers held back behind a deferred one */
#define SRV_FREE_BLOCKS  64          /* request blocks a worker keeps for reuse */
#define SRV_BUF_KEEP     (16 * 1024) /* output buffers larger than this are freed when empty */
#define SRV_BACKLOG      1024

/* Statuses counted per endpoint; anything else is counted as "other". */
#define SRV_STATUSES(X) X(200) X(201) X(202) X(204) X(400) X(401) X(403) X(404) X(405) \
  X(408) X(409) X(411) X(413) X(414) X(415) X(417) X(429) X(431) X(500) X(503) X(505)
#define SRV_NSTATUS 22
#define SRV_NLAT 12 /* latency histogram buckets (+Inf extra) */

typedef struct {
  int method; /* enum http_method */
  char *path;
  srv_handler fn;
  _Atomic uint64_t count[SRV_NSTATUS];
} srv_route;

typedef struct {
  srv_route r[SRV_MAX_ROUTES];
  size_t n;
  srv_route other; /* unknown paths and requests that failed before routing */
} srv_routes;

typedef struct {
  void (*fn)(srv_worker *w, void *arg);
  void *arg;
} srv_whook;

typedef struct {
  char name[64];
  int (*check)(void *arg, char *msg, size_t msglen);
  void *arg;
} srv_health;

typedef struct srv_conn srv_conn;

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
  int64_t date_sec;
  char date[64];
  srv_buf scratch;
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
  _Atomic uint64_t lat[SRV_NLAT + 1];
  _Atomic uint64_t lat_sum_us, lat_count;
  _Atomic int64_t open_conns;
  _Atomic uint64_t rejected_conns;
  void *user;
  bool started, waited;
};

struct srv_req {
  srv_conn *c;
  srv_route *route;
  uint64_t start_ns;
  int status;
  bool replied, deferred;
};

struct srv_deferred {
  srv_deferred *next;  /* in the connection's answer queue */
  srv_deferred *qnext; /* in the worker's reply queue */
  srv_conn *c;         /* NULL once the connection is gone */
  srv_worker *w;
  srv_route *route;
  const char *method;
  uint64_t start_ns;
  int status;
  int conn_hdr; /* SRV_CONN_* decided when deferred */
  bool ready, msgpack;
  bool deferred; /* data holds only the body: the head is made on the loop */
  char remote[64];
  char ctype[SRV_MAX_CTYPE + 1];
  srv_buf data; /* the whole response, or the deferred body */
};

struct srv_conn {
  uv_tcp_t tcp; /* first: the handle is the connection */
  uv_timer_t timer;
  uv_write_t wreq;
  srv_worker *w;
  srv_listener lis;
  srv_conn *prev, *next;
  srv_http http;
  size_t rd_off, rd_len; /* unparsed bytes in http.blk->in while paused */
  srv_buf out, wr;       /* queued output, and the part being written */
  srv_deferred *slots, *slots_tail;
  unsigned nslots;
  srv_req req;
  uint64_t msg_start_ns;
  struct sockaddr_storage peer;
  char peer_text[64];
  uint8_t phase;
  int nclose;
  bool writing, reading, closing, close_after, in_process;
};

/* conn.c */
void srv_conn_accept(srv_worker *w, srv_listener lis, uv_stream_t *listener);
void srv_conn_drain(srv_conn *c);
void srv_conn_close(srv_conn *c);
void srv_conn_slots_ready(srv_conn *c);
/* Status code -> counter slot. */
int srv_status_index(int status);
/* What the Connection header says: nothing (HTTP/1.1 keep-alive), "close",
 * or "keep-alive" for an HTTP/1.0 client that asked for it. */
enum { SRV_CONN_KEEP, SRV_CONN_CLOSE, SRV_CONN_KEEP10 };
/* Response head + body into dst (Date from the worker's cache when w is set). */
void srv_format_response(srv_worker *w, srv_buf *dst, int status, const char *ctype,
                         const void *body, size_t len, int conn_hdr, const char *extra);
/* A JSON string literal (quoted, escaped) appended to b. */
void srv_json_str(srv_buf *b, const char *s);
/* {error, message} in JSON or MessagePack into dst; returns the content type. */
const char *srv_format_error(srv_buf *dst, bool msgpack, const char *code, const char *msg);
void srv_count_request(srv_server *s, srv_route *route, int status, uint64_t start_ns);
void srv_mask_addr(const struct sockaddr *sa, bool full, char *out, size_t outlen);

/* conn.c: where the next answer of c goes (its output, or a slot behind a
 * deferred answer); NULL on OOM. */
srv_buf *srv_conn_out_slot(srv_conn *c);
/* Queue d as the connection's last answer slot (answers leave in order). */
void srv_conn_slot_push(srv_conn *c, srv_deferred *d);

/* req.c */
void srv_reply_extra(srv_req *r, int status, const char *ctype, const void *body, size_t len,
                     const char *extra);
void srv_reply_error_extra(srv_req *r, int status, const char *code, const char *message,
                           const char *extra);

/* server.c */
void srv_worker_check_done(srv_worker *w);
void srv_dispatch(srv_conn *c);

#endif
