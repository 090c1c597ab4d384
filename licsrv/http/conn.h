/* http/conn.h - client connections: what the connections of one loop share
 * (srv_conns, a worker embeds one), the answers queued in request order, and
 * the narrow interface above it: the request's fields and where its answer
 * goes. struct srv_conn itself is conn.c's alone. Nothing here calls up: the
 * router and the worker are reached through the callbacks of srv_conns. */
#ifndef LICSRV_HTTP_CONN_H
#define LICSRV_HTTP_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

#include <uv.h>

#include "http/parser.h"
#include "http/server.h"
#include "http/tls.h"
#include "http/wire.h"
#include "util/buf.h"
#include "util/log.h"

#define SRV_FREE_BLOCKS  64          /* request blocks a loop keeps for reuse */
#define SRV_OUT_CAP      (64 * 1024) /* queued output beyond which we stop reading */
#define SRV_MAX_PIPELINE 16          /* answers held back behind a deferred one */
#define SRV_BUF_KEEP     (16 * 1024) /* output buffers larger than this are freed when empty */

typedef struct srv_conn srv_conn;
struct srv_connlimit;
struct srv_conns;

/* An answer slot: a deferred answer, or a finished one held behind it. */
struct srv_deferred {
  srv_deferred *next;  /* in the connection's answer queue */
  srv_deferred *qnext; /* in the loop's reply queue */
  srv_conn *c;         /* NULL once the connection is gone */
  struct srv_conns *cn;
  const char *path;          /* the route's, for the log */
  srv_status_counts *counts; /* the route's */
  const char *method;
  uint64_t start_ns;
  int status;
  int conn_hdr; /* SRV_CONN_* decided when deferred */
  bool ready, msgpack;
  bool deferred; /* data holds only the body: the head is made on the loop */
  bool posted;   /* handed to the loop (asserts: exactly once) */
  char remote[64];
  char ctype[SRV_MAX_CTYPE + 1];
  srv_buf data; /* the whole response, or the deferred body */
};

/* What every loop's connections share (the server holds one). */
typedef struct {
  srv_tls *tls; /* NULL: both listeners plain */
  struct srv_connlimit *per_ip;       /* public connections per client address */
  _Atomic int64_t open_conns[2];      /* per listener: each has its own limit */
  _Atomic uint64_t rejected_conns[2]; /* closed at once: the listener's limit */
  _Atomic uint64_t rejected_per_ip;   /* closed at once: max_connections_per_ip */
  srv_latency lat;
  srv_status_counts *other[2]; /* per listener: requests that failed before routing */
} srv_conn_shared;

/* The connections of one loop (a worker embeds it). Loop thread only, but
 * for the reply queue under mu. */
typedef struct srv_conns {
  uv_loop_t *loop;
  uv_thread_t thread; /* the loop's, once running (asserts) */
  bool thread_known;
  srv_conn_shared *sh;
  srv_limits lim; /* this loop's copy, read by its connections */
  bool draining;
  srv_conn *head;
  srv_http_block *free_blocks;
  size_t nfree;
  srv_logbuf log;
  srv_date date;
  srv_buf scratch;
  char *tls_in; /* one socket read of TLS records (SRV_TLS_RECORD_IN), on first TLS accept */
  uv_async_t replies; /* deferred replies from other threads */
  uv_mutex_t mu;      /* guards the fields up to 'closed' */
  srv_deferred *q_head, *q_tail;
  bool closed; /* loop gone: deferred replies are dropped */
  /* Set at server init: the router answers a parsed request; the owner
   * hears when the last connection of a draining loop is gone. */
  void (*on_request)(srv_conn *c);
  void (*on_empty)(struct srv_conns *cn);
  void *owner; /* the worker */
  void *user;  /* srv_worker_user */
} srv_conns;

/* The loop's side (the worker). */
int srv_conns_init(srv_conns *cn, uv_loop_t *loop, srv_conn_shared *sh, const srv_limits *lim);
void srv_conns_on_loop(srv_conns *cn); /* called on the loop's thread before it runs */
void srv_conn_accept(srv_conns *cn, srv_listener lis, uv_stream_t *listener);
void srv_conns_drain(srv_conns *cn);     /* close the quiet ones; the rest when done */
void srv_conns_close_all(srv_conns *cn); /* the drain's deadline */
/* Drop the replies still queued and close the reply handle (the loop ends). */
void srv_conns_close(srv_conns *cn);
void srv_conns_free(srv_conns *cn);
/* Hand a finished deferred answer to its loop (any thread). */
void srv_conns_post(srv_deferred *d);

/* The request of a connection, for req.c and the router. */
const srv_http *srv_conn_http(const srv_conn *c);
const struct sockaddr *srv_conn_peer(const srv_conn *c);
const char *srv_conn_peer_text(const srv_conn *c);
srv_listener srv_conn_listener(const srv_conn *c);
srv_conns *srv_conn_conns(const srv_conn *c);
uint64_t srv_conn_msg_start(const srv_conn *c);

/* The answer: the Connection header it carries (deciding whether the
 * connection closes after it), and where it goes (the output, or a slot
 * behind a deferred answer; NULL on OOM, and the connection closes). */
int srv_conn_answer_hdr(srv_conn *c);
srv_buf *srv_conn_out_slot(srv_conn *c);
/* Queue d as the connection's last answer slot (answers leave in order). */
void srv_conn_slot_push(srv_conn *c, srv_deferred *d);

#endif
