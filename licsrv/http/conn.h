/* http/conn.h - one client connection, the request a handler sees and the
 * answers queued behind it, in request order. */
#ifndef LICSRV_HTTP_CONN_H
#define LICSRV_HTTP_CONN_H

#include <sys/socket.h>

#include "http/tls.h"
#include "http/worker.h"

#define SRV_OUT_CAP      (64 * 1024) /* queued output beyond which we stop reading */
#define SRV_MAX_PIPELINE 16          /* answers held back behind a deferred one */
#define SRV_BUF_KEEP     (16 * 1024) /* output buffers larger than this are freed when empty */

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
  srv_tls_conn *tls;     /* NULL on a plain listener: nothing TLS is touched then */
  srv_deferred *slots, *slots_tail;
  unsigned nslots;
  srv_req req;
  uint64_t msg_start_ns;
  struct sockaddr_storage peer;
  char peer_text[64];
  uint8_t phase;
  int nclose;
  bool writing, reading, closing, close_after, in_process;
  bool ip_counted; /* holds one of its address's max_connections_per_ip */
};

/* conn.c */
void srv_conn_accept(srv_worker *w, srv_listener lis, uv_stream_t *listener);
void srv_conn_drain(srv_conn *c);
void srv_conn_close(srv_conn *c);
void srv_conn_slots_ready(srv_conn *c);

/* conn.c: where the next answer of c goes (its output, or a slot behind a
 * deferred answer); NULL on OOM. */
srv_buf *srv_conn_out_slot(srv_conn *c);
/* Queue d as the connection's last answer slot (answers leave in order). */
void srv_conn_slot_push(srv_conn *c, srv_deferred *d);

#endif
