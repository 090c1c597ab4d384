/* conn.c - one client connection: reads into its bounded block, parses,
 * answers in request order, applies backpressure and timeouts. Calls only
 * down (parser, wire, tls, connlimit); the router and the worker are reached
 * through the callbacks of srv_conns. */
#include <arpa/inet.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/conn.h"
#include "http/connlimit.h"

enum { T_NONE, T_IDLE, T_REQUEST, T_WRITE };

/* A connection's state, moved forward only and only by conn_enter:
 * OPEN reads and answers; FINISHING reads no more and closes once what was
 * asked is answered and written; CLOSING: its handles are closing (on_close
 * frees it). */
typedef enum { CONN_OPEN, CONN_FINISHING, CONN_CLOSING } conn_state;

struct srv_conn {
  uv_tcp_t tcp; /* first: the handle is the connection */
  uv_timer_t timer;
  uv_write_t wreq;
  srv_conns *cn;
  srv_listener lis;
  srv_conn *prev, *next;
  srv_http http;
  size_t rd_off, rd_len; /* unparsed bytes in http.blk->in while paused */
  srv_buf out, wr;       /* queued output, and the part being written */
  srv_tls_conn *tls;     /* NULL on a plain listener: nothing TLS is touched then */
  srv_deferred *slots, *slots_tail;
  unsigned nslots;
  uint64_t msg_start_ns;
  struct sockaddr_storage peer;
  char peer_text[64];
  uint8_t phase;
  int nclose;
  conn_state state;
  bool writing, reading;
  bool in_process; /* conn_process is on the stack: a nested call returns at once */
  bool ip_counted; /* holds one of its address's max_connections_per_ip */
};

static void conn_process(srv_conn *c);
static void conn_flush(srv_conn *c);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static bool conn_must_pause(const srv_conn *c);
static bool conn_tls_pull(srv_conn *c);
static void conn_enter(srv_conn *c, conn_state st);

#ifndef NDEBUG
/* Whether the caller runs on the loop's thread (before it runs: any). For
 * the asserts: a connection is its loop's alone. */
static bool on_loop(const srv_conns *cn) {
  uv_thread_t self = uv_thread_self();
  return !cn->thread_known || uv_thread_equal(&cn->thread, &self);
}
#endif

/* --- request blocks -------------------------------------------------------- */

static srv_http_block *block_get(srv_conns *cn) {
  srv_http_block *b = cn->free_blocks;
  if (b != NULL) {
    cn->free_blocks = b->next;
    cn->nfree--;
    return b;
  }
  return malloc(sizeof *b);
}

static void block_put(srv_conns *cn, srv_http_block *b) {
  if (b == NULL)
    return;
  if (cn->nfree < SRV_FREE_BLOCKS && !cn->draining) {
    b->next = cn->free_blocks;
    cn->free_blocks = b;
    cn->nfree++;
  } else {
    free(b);
  }
}

static void conn_release_block(srv_conn *c) {
  srv_http_release(&c->http);
  block_put(c->cn, c->http.blk);
  c->http.blk = NULL;
  c->rd_off = c->rd_len = 0;
}

static void conn_maybe_release(srv_conn *c) {
  if (c->http.blk != NULL && !c->in_process && c->rd_off >= c->rd_len && srv_http_idle(&c->http))
    conn_release_block(c);
}

/* --- closing --------------------------------------------------------------- */

static void on_close(uv_handle_t *h) {
  srv_conn *c = h->data;
  srv_conns *cn = c->cn;
  assert(c->state == CONN_CLOSING && c->nclose > 0);
  if (--c->nclose > 0)
    return;
  conn_release_block(c);
  srv_tls_conn_free(c->tls);
  srv_buf_free(&c->out);
  srv_buf_free(&c->wr);
  free(c);
  if (cn->draining && cn->head == NULL && cn->on_empty != NULL)
    cn->on_empty(cn); /* the last one of a draining loop */
}

/* Leave the connection's handles to close: answers still owed are dropped. */
static void conn_close_now(srv_conn *c) {
  srv_deferred *d, *n;
  assert(c->state == CONN_CLOSING && c->nclose == 0);
  for (d = c->slots; d != NULL; d = n) {
    n = d->next;
    if (d->ready) {
      srv_buf_free(&d->data);
      free(d);
    } else {
      d->c = NULL; /* the reply will be dropped when it comes */
    }
  }
  c->slots = c->slots_tail = NULL;
  c->nslots = 0;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    c->cn->head = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  atomic_fetch_sub(&c->cn->sh->open_conns[c->lis], 1);
  if (c->ip_counted)
    srv_connlimit_give(c->cn->sh->per_ip, (const struct sockaddr *)&c->peer);
  if (c->tls != NULL && !c->writing) { /* close_notify, best effort: we close anyway */
    srv_buf *o = srv_tls_out(c->tls);
    srv_tls_shutdown(c->tls);
    if (o->len > 0) {
      uv_buf_t b = uv_buf_init(o->p, (unsigned)o->len);
      uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    }
  }
  c->nclose = 2;
  uv_close((uv_handle_t *)&c->tcp, on_close);
  uv_close((uv_handle_t *)&c->timer, on_close);
}

/* The one place a connection's state changes: forward only (a connection
 * already finishing or closing stays so). */
static void conn_enter(srv_conn *c, conn_state st) {
  assert(on_loop(c->cn));
  if (st <= c->state)
    return;
  c->state = st;
  if (st == CONN_CLOSING)
    conn_close_now(c);
}

static void conn_close(srv_conn *c) { conn_enter(c, CONN_CLOSING); }

/* --- timers ---------------------------------------------------------------- */

static bool conn_quiet(const srv_conn *c) {
  return !c->writing && c->out.len == 0 && c->slots == NULL && !c->http.in_message &&
         c->rd_off >= c->rd_len && (c->tls == NULL || srv_tls_out(c->tls)->len == 0);
}

static void on_timer(uv_timer_t *t);

static void conn_update_timer(srv_conn *c) {
  uint8_t phase;
  uint64_t ms = 0;
  if (c->state == CONN_CLOSING)
    return;
  if (c->writing)
    phase = T_WRITE, ms = c->cn->lim.write_timeout_ms;
  else if (conn_must_pause(c))
    phase = T_NONE; /* held back behind deferred answers */
  else if (c->http.in_message || c->rd_off < c->rd_len ||
           (c->tls != NULL && srv_tls_owes(c->tls))) /* a handshake counts as a request */
    phase = T_REQUEST, ms = c->cn->lim.header_timeout_ms;
  else if (c->slots != NULL)
    phase = T_NONE; /* waiting for a deferred answer */
  else
    phase = T_IDLE, ms = c->cn->lim.idle_timeout_ms;
  if (phase == T_IDLE && (c->cn->draining || c->state == CONN_FINISHING)) {
    conn_close(c);
    return;
  }
  assert(phase != T_WRITE || c->writing);
  if (phase == c->phase)
    return; /* keep the running deadline */
  c->phase = phase;
  if (phase == T_NONE)
    uv_timer_stop(&c->timer);
  else
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void conn_reply_early(srv_conn *c, int status, const char *code, const char *msg);

static void on_timer(uv_timer_t *t) {
  srv_conn *c = t->data;
  if (c->phase == T_REQUEST && c->state == CONN_OPEN && (c->tls == NULL || srv_tls_ready(c->tls))) {
    c->phase = T_NONE;
    conn_reply_early(c, 408, "request_timeout", "request not received in time");
    conn_enter(c, CONN_FINISHING);
    conn_process(c);
    return;
  }
  conn_close(c); /* idle keep-alive, or a reader that stopped reading */
}

/* --- output ---------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status) {
  srv_conn *c = req->data;
  assert(c->writing);
  c->writing = false;
  c->wr.len = 0;
  if (c->wr.cap > SRV_BUF_KEEP)
    srv_buf_free(&c->wr);
  if (c->state == CONN_CLOSING)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  conn_process(c); /* more output, reading again, or parsing what waited */
}

static void conn_flush(srv_conn *c) {
  srv_buf *src = &c->out; /* what goes on the wire: the answers, or their records */
  uv_buf_t b;
  int n;
  assert(!c->writing || c->wr.len > 0);
  if (c->state == CONN_CLOSING)
    return;
  if (c->tls != NULL) {
    src = srv_tls_out(c->tls);
    if (!c->writing && c->out.len > 0) { /* all queued answers in as few records as fit */
      if (srv_tls_write(c->tls, c->out.p, c->out.len) != 0) {
        conn_close(c);
        return;
      }
      c->out.len = 0;
      if (c->out.cap > SRV_BUF_KEEP)
        srv_buf_free(&c->out);
    }
  }
  if (!c->writing && src->len > 0) {
    b = uv_buf_init(src->p, (unsigned)src->len);
    n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN)
      n = 0;
    if (n < 0) {
      conn_close(c);
      return;
    }
    if ((size_t)n < src->len) { /* the rest goes out when the socket drains */
      srv_buf tmp = c->wr;
      srv_buf_consume(src, (size_t)n);
      c->wr = *src;
      *src = tmp;
      src->len = 0;
      b = uv_buf_init(c->wr.p, (unsigned)c->wr.len);
      c->wreq.data = c;
      if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        conn_close(c);
        return;
      }
      c->writing = true;
      c->phase = T_NONE; /* re-arm the write timeout for this write */
    } else {
      src->len = 0;
      if (src->cap > SRV_BUF_KEEP)
        srv_buf_free(src);
    }
  }
  if (c->state == CONN_FINISHING && !c->writing && c->out.len == 0 && src->len == 0 && c->slots == NULL)
    conn_close(c);
}

/* Too much output queued or too many answers held back: stop taking requests. */
static bool conn_must_pause(const srv_conn *c) {
  return c->out.len + c->wr.len + (c->tls != NULL ? srv_tls_out(c->tls)->len : 0) > SRV_OUT_CAP ||
         c->nslots >= SRV_MAX_PIPELINE;
}

/* Append a finished response in order: straight to the output when nothing
 * deferred is ahead of it, else behind the deferred one. */
void srv_conn_slot_push(srv_conn *c, srv_deferred *d) {
  assert(on_loop(c->cn) && d->next == NULL && c->state != CONN_CLOSING);
  if (c->slots_tail != NULL)
    c->slots_tail->next = d;
  else
    c->slots = d;
  c->slots_tail = d;
  c->nslots++;
}

srv_buf *srv_conn_out_slot(srv_conn *c) {
  srv_deferred *d;
  if (c->slots == NULL)
    return &c->out;
  if ((d = calloc(1, sizeof *d)) == NULL) {
    conn_enter(c, CONN_FINISHING); /* cannot queue the answer: give up on the connection */
    return NULL;
  }
  d->ready = true;
  d->cn = c->cn;
  srv_conn_slot_push(c, d);
  return &d->data;
}

static void conn_slots_ready(srv_conn *c) {
  srv_deferred *d;
  assert(on_loop(c->cn));
  while ((d = c->slots) != NULL && d->ready) {
    if (d->deferred) { /* the head now: a drain since the defer means close */
      int hdr = d->conn_hdr;
      if (c->cn->draining || c->state != CONN_OPEN) {
        hdr = SRV_CONN_CLOSE;
        conn_enter(c, CONN_FINISHING);
      }
      srv_format_response(&c->cn->date, &c->out, d->status, d->ctype, d->data.p, d->data.len, hdr, NULL);
    } else {
      srv_buf_append(&c->out, d->data.p, d->data.len);
    }
    assert(c->nslots > 0);
    c->slots = d->next;
    if (c->slots == NULL)
      c->slots_tail = NULL;
    c->nslots--;
    srv_buf_free(&d->data);
    free(d);
  }
  conn_process(c);
}

/* An error before a handler could run (parse errors, limits, timeouts). */
static void conn_reply_early(srv_conn *c, int status, const char *code, const char *msg) {
  srv_conns *cn = c->cn;
  srv_buf *dst = srv_conn_out_slot(c);
  const char *ctype;
  const char *method = c->http.in_headers ? "-" : srv_http_method(&c->http);
  cn->scratch.len = 0;
  ctype = srv_format_error(&cn->scratch, srv_http_wants_msgpack(&c->http), code, msg);
  if (dst != NULL)
    srv_format_response(&cn->date, dst, status, ctype, cn->scratch.p, cn->scratch.len, SRV_CONN_CLOSE, NULL);
  srv_count_request(&cn->sh->lat, cn->sh->other[c->lis], status,
                    c->http.in_message ? (uv_hrtime() - c->msg_start_ns) / 1000 : 0);
  srv_log_request(&cn->log, method, c->http.in_headers ? "-" : c->http.path,
                  c->http.in_headers ? 1 : c->http.path_len, status,
                  c->http.in_message ? (uv_hrtime() - c->msg_start_ns) / 1000 : 0, c->peer_text);
}

/* --- input ----------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  srv_conn *c = h->data;
  (void)suggested;
  if (c->tls != NULL) { /* records: into the loop's buffer, then into the read BIO */
    *buf = uv_buf_init(c->cn->tls_in, SRV_TLS_RECORD_IN);
    return;
  }
  if (c->http.blk == NULL && (c->http.blk = block_get(c->cn)) == NULL) {
    *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
    return;
  }
  *buf = uv_buf_init(c->http.blk->in, SRV_INBUF);
}

static void conn_update_reading(srv_conn *c) {
  bool want = c->state == CONN_OPEN && c->rd_off >= c->rd_len && !conn_must_pause(c);
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
      c->reading = true;
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
  }
}

/* Parse what is buffered: each complete request to the router, each error
 * answered early (and the connection finishing). */
static void conn_parse(srv_conn *c) {
  while (c->state == CONN_OPEN && !conn_must_pause(c) &&
         (c->rd_off < c->rd_len || (c->tls != NULL && conn_tls_pull(c)))) {
    bool was_idle = !c->http.in_message;
    size_t used = 0;
    int ev = srv_http_feed(&c->http, c->http.blk->in + c->rd_off, c->rd_len - c->rd_off, &used);
    c->rd_off += used;
    if (was_idle && (c->http.in_message || ev == SRV_HTTP_REQUEST)) {
      c->msg_start_ns = uv_hrtime();
      c->phase = T_NONE; /* the request deadline starts now */
    }
    if (ev == SRV_HTTP_ERROR) {
      conn_reply_early(c, c->http.err_status, c->http.err_code, c->http.err_msg);
      conn_enter(c, CONN_FINISHING);
    } else if (ev == SRV_HTTP_REQUEST) {
      c->cn->on_request(c);
      srv_http_next(&c->http);
    } else if (c->http.want_continue && c->slots == NULL) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      srv_buf_append(&c->out, cont, sizeof cont - 1);
      c->http.want_continue = false;
    }
  }
}

/* Parse what is buffered, answer, flush, then decide on reading and timers. */
static void conn_process(srv_conn *c) {
  bool more;
  /* Nothing conn_process calls comes back to it (a handler's deferred
   * answer arrives through the loop's reply queue): the guard is a fence. */
  assert(on_loop(c->cn) && !c->in_process);
  if (c->in_process || c->state == CONN_CLOSING)
    return;
  c->in_process = true;
  do {
    conn_parse(c);
    /* Stopped by the output bound: TLS may still hold decrypted bytes. */
    bool paused = c->tls != NULL && conn_must_pause(c);
    conn_flush(c);
    if (c->state == CONN_CLOSING) {
      c->in_process = false;
      return;
    }
    /* The flush may have made room: go on with what is still buffered. */
    more = c->state == CONN_OPEN && (c->rd_off < c->rd_len || paused) && !conn_must_pause(c);
  } while (more);
  if (c->rd_off >= c->rd_len)
    c->rd_off = c->rd_len = 0;
  c->in_process = false;
  conn_update_reading(c);
  conn_update_timer(c);
  if (c->state != CONN_CLOSING)
    conn_maybe_release(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  srv_conn *c = s->data;
  if (nread < 0) {
    /* EOF: answer what was asked, then close; errors: close now. */
    if (nread == UV_EOF && !c->http.in_message) {
      conn_enter(c, CONN_FINISHING);
      conn_process(c);
    } else {
      conn_close(c);
    }
    return;
  }
  if (nread == 0) {
    conn_maybe_release(c);
    return;
  }
  if (c->tls != NULL) {
    if (srv_tls_feed(c->tls, buf->base, (size_t)nread) != 0) {
      conn_close(c);
      return;
    }
    conn_process(c); /* conn_tls_pull decrypts into the block */
    return;
  }
  c->rd_off = 0;
  c->rd_len = (size_t)nread;
  conn_process(c);
}

/* TLS: the next decrypted bytes into the request block; false when none
 * (more records needed, the peer closed, or its bytes were not TLS). */
static bool conn_tls_pull(srv_conn *c) {
  int n;
  if (c->http.blk == NULL && (c->http.blk = block_get(c->cn)) == NULL) {
    conn_close(c);
    return false;
  }
  n = srv_tls_read(c->tls, c->http.blk->in, SRV_INBUF);
  if (n > 0) {
    c->rd_off = 0;
    c->rd_len = (size_t)n;
    return true;
  }
  if (n != SRV_TLS_AGAIN) /* close_notify: answer what was asked; bad input: send the alert */
    conn_enter(c, CONN_FINISHING);
  return false;
}


void srv_conn_accept(srv_conns *cn, srv_listener lis, uv_stream_t *listener) {
  srv_conn *c = calloc(1, sizeof *c);
  int len = sizeof c->peer;
  if (c == NULL)
    return; /* the connection stays in the backlog; we try again on the next one */
  c->cn = cn;
  c->lis = lis;
  c->tcp.data = c->timer.data = c;
  assert(on_loop(cn) && !cn->draining);
  uv_tcp_init(cn->loop, &c->tcp);
  uv_timer_init(cn->loop, &c->timer);
  c->next = cn->head;
  if (cn->head != NULL)
    cn->head->prev = c;
  cn->head = c;
  atomic_fetch_add(&cn->sh->open_conns[lis], 1);
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) != 0)
    c->peer.ss_family = AF_UNSPEC;
  /* Each listener its own limit (a public flood must not lock the admin API
   * out), and on the public one a limit per client address. */
  uint32_t max = lis == SRV_ADMIN ? cn->lim.admin_max_connections : cn->lim.max_connections;
  bool full = (uint64_t)atomic_load(&cn->sh->open_conns[lis]) > max;
  bool per_ip = !full && lis == SRV_PUBLIC &&
                !srv_connlimit_take(cn->sh->per_ip, (const struct sockaddr *)&c->peer,
                                    cn->lim.max_connections_per_ip, &c->ip_counted);
  if (full || per_ip) {
    srv_buf busy = {0};
    const char *ct;
    /* counted before the client can see the 503: a metric read after it counts it */
    atomic_fetch_add(per_ip ? &cn->sh->rejected_per_ip : &cn->sh->rejected_conns[lis], 1);
    cn->scratch.len = 0;
    ct = srv_format_error(&cn->scratch, false, "unavailable",
                          per_ip ? "too many connections from this address" : "too many connections");
    srv_format_response(&cn->date, &busy, 503, ct, cn->scratch.p, cn->scratch.len, SRV_CONN_CLOSE, NULL);
    if (!busy.oom && !srv_tls_enabled(cn->sh->tls, lis)) { /* no plain text into a TLS port */
      uv_buf_t b = uv_buf_init(busy.p, (unsigned)busy.len);
      uv_try_write((uv_stream_t *)&c->tcp, &b, 1); /* best effort: we close anyway */
    }
    srv_buf_free(&busy);
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  srv_mask_addr((struct sockaddr *)&c->peer, cn->lim.log_full_ips, c->peer_text,
                sizeof c->peer_text);
  if (srv_tls_enabled(cn->sh->tls, lis) &&
      ((cn->tls_in == NULL && (cn->tls_in = malloc(SRV_TLS_RECORD_IN)) == NULL) ||
       (c->tls = srv_tls_conn_new(cn->sh->tls, lis)) == NULL)) {
    conn_close(c);
    return;
  }
  srv_http_init(&c->http, &cn->lim);
  conn_process(c); /* starts reading and the idle timer */
}

/* --- the interface above: the request and its answer ------------------------ */

const srv_http *srv_conn_http(const srv_conn *c) { return &c->http; }
const struct sockaddr *srv_conn_peer(const srv_conn *c) { return (const struct sockaddr *)&c->peer; }
const char *srv_conn_peer_text(const srv_conn *c) { return c->peer_text; }
srv_listener srv_conn_listener(const srv_conn *c) { return c->lis; }
srv_conns *srv_conn_conns(const srv_conn *c) { return c->cn; }
uint64_t srv_conn_msg_start(const srv_conn *c) { return c->msg_start_ns; }

/* Keep the connection after this answer? Not when the client or a limit
 * said close, nor while draining. */
int srv_conn_answer_hdr(srv_conn *c) {
  if (!c->http.keep_alive || c->state != CONN_OPEN || c->cn->draining) {
    conn_enter(c, CONN_FINISHING);
    return SRV_CONN_CLOSE;
  }
  return c->http.p.http_minor == 0 ? SRV_CONN_KEEP10 : SRV_CONN_KEEP;
}

/* --- the loop's connections ------------------------------------------------- */

static void on_replies(uv_async_t *a) {
  srv_conns *cn = a->data;
  srv_deferred *q;
  uv_mutex_lock(&cn->mu);
  q = cn->q_head;
  cn->q_head = cn->q_tail = NULL;
  uv_mutex_unlock(&cn->mu);
  while (q != NULL) {
    srv_deferred *n = q->qnext;
    srv_log_request(&cn->log, q->method, q->path, strlen(q->path), q->status,
                    (uv_hrtime() - q->start_ns) / 1000, q->remote);
    if (q->c == NULL) { /* the client left */
      srv_buf_free(&q->data);
      free(q);
    } else {
      q->ready = true;
      conn_slots_ready(q->c);
    }
    q = n;
  }
}

int srv_conns_init(srv_conns *cn, uv_loop_t *loop, srv_conn_shared *sh, const srv_limits *lim) {
  cn->loop = loop;
  cn->sh = sh;
  cn->lim = *lim;
  cn->date.sec = -1;
  if (uv_async_init(loop, &cn->replies, on_replies) != 0)
    return -1;
  cn->replies.data = cn;
  uv_mutex_init(&cn->mu);
  return 0;
}

void srv_conns_on_loop(srv_conns *cn) {
  cn->thread = uv_thread_self();
  cn->thread_known = true;
}

void srv_conns_drain(srv_conns *cn) {
  srv_conn *c, *n;
  assert(on_loop(cn));
  cn->draining = true;
  for (c = cn->head; c != NULL; c = n) {
    n = c->next;
    if (conn_quiet(c))
      conn_close(c);
  }
}

void srv_conns_close_all(srv_conns *cn) {
  assert(on_loop(cn) && cn->draining);
  while (cn->head != NULL)
    conn_close(cn->head);
}

static void on_replies_closed(uv_handle_t *h) { (void)h; }

void srv_conns_close(srv_conns *cn) {
  srv_deferred *q;
  assert(on_loop(cn) && cn->draining && cn->head == NULL && !cn->closed);
  uv_mutex_lock(&cn->mu);
  cn->closed = true;
  q = cn->q_head;
  cn->q_head = cn->q_tail = NULL;
  uv_mutex_unlock(&cn->mu);
  while (q != NULL) { /* replies for connections already gone */
    srv_deferred *n = q->qnext;
    srv_buf_free(&q->data);
    free(q);
    q = n;
  }
  uv_close((uv_handle_t *)&cn->replies, on_replies_closed);
}

void srv_conns_free(srv_conns *cn) {
  while (cn->free_blocks != NULL) {
    srv_http_block *b = cn->free_blocks;
    cn->free_blocks = b->next;
    free(b);
  }
  srv_buf_free(&cn->scratch);
  free(cn->tls_in);
  uv_mutex_destroy(&cn->mu);
}

void srv_conns_post(srv_deferred *d) {
  srv_conns *cn = d->cn;
  assert(!d->posted && !d->ready && d->deferred); /* srv_reply_deferred*: exactly once */
  d->posted = true;
  uv_mutex_lock(&cn->mu);
  if (cn->closed) { /* the loop is gone: nobody to answer */
    uv_mutex_unlock(&cn->mu);
    srv_buf_free(&d->data);
    free(d);
    return;
  }
  if (cn->q_tail != NULL)
    cn->q_tail->qnext = d;
  else
    cn->q_head = d;
  cn->q_tail = d;
  uv_async_send(&cn->replies);
  uv_mutex_unlock(&cn->mu);
}
