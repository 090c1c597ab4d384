/* conn.c - one client connection: reads into its bounded block, parses,
 * answers in request order, applies backpressure and timeouts. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/conn.h"
#include "http/connlimit.h"

enum { T_NONE, T_IDLE, T_REQUEST, T_WRITE };

static void conn_process(srv_conn *c);
static void conn_flush(srv_conn *c);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static bool conn_must_pause(const srv_conn *c);
static bool conn_tls_pull(srv_conn *c);

/* --- request blocks -------------------------------------------------------- */

static srv_http_block *block_get(srv_worker *w) {
  srv_http_block *b = w->free_blocks;
  if (b != NULL) {
    w->free_blocks = b->next;
    w->nfree--;
    return b;
  }
  return malloc(sizeof *b);
}

static void block_put(srv_worker *w, srv_http_block *b) {
  if (b == NULL)
    return;
  if (w->nfree < SRV_FREE_BLOCKS && !w->draining) {
    b->next = w->free_blocks;
    w->free_blocks = b;
    w->nfree++;
  } else {
    free(b);
  }
}

static void conn_release_block(srv_conn *c) {
  srv_http_release(&c->http);
  block_put(c->w, c->http.blk);
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
  srv_worker *w = c->w;
  if (--c->nclose > 0)
    return;
  conn_release_block(c);
  srv_tls_conn_free(c->tls);
  srv_buf_free(&c->out);
  srv_buf_free(&c->wr);
  free(c);
  srv_worker_check_done(w);
}

void srv_conn_close(srv_conn *c) {
  srv_deferred *d, *n;
  if (c->closing)
    return;
  c->closing = true;
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
    c->w->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  atomic_fetch_sub(&c->w->s->open_conns[c->lis], 1);
  if (c->ip_counted)
    srv_connlimit_give(c->w->s->per_ip, (const struct sockaddr *)&c->peer);
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

/* --- timers ---------------------------------------------------------------- */

static bool conn_quiet(const srv_conn *c) {
  return !c->writing && c->out.len == 0 && c->slots == NULL && !c->http.in_message &&
         c->rd_off >= c->rd_len && (c->tls == NULL || srv_tls_out(c->tls)->len == 0);
}

static void on_timer(uv_timer_t *t);

static void conn_update_timer(srv_conn *c) {
  uint8_t phase;
  uint64_t ms = 0;
  if (c->closing)
    return;
  if (c->writing)
    phase = T_WRITE, ms = c->w->lim.write_timeout_ms;
  else if (conn_must_pause(c))
    phase = T_NONE; /* held back behind deferred answers */
  else if (c->http.in_message || c->rd_off < c->rd_len ||
           (c->tls != NULL && srv_tls_owes(c->tls))) /* a handshake counts as a request */
    phase = T_REQUEST, ms = c->w->lim.header_timeout_ms;
  else if (c->slots != NULL)
    phase = T_NONE; /* waiting for a deferred answer */
  else
    phase = T_IDLE, ms = c->w->lim.idle_timeout_ms;
  if (phase == T_IDLE && (c->w->draining || c->close_after)) {
    srv_conn_close(c);
    return;
  }
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
  if (c->phase == T_REQUEST && !c->close_after && (c->tls == NULL || srv_tls_ready(c->tls))) {
    c->phase = T_NONE;
    conn_reply_early(c, 408, "request_timeout", "request not received in time");
    c->close_after = true;
    conn_process(c);
    return;
  }
  srv_conn_close(c); /* idle keep-alive, or a reader that stopped reading */
}

/* --- output ---------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status) {
  srv_conn *c = req->data;
  c->writing = false;
  c->wr.len = 0;
  if (c->wr.cap > SRV_BUF_KEEP)
    srv_buf_free(&c->wr);
  if (c->closing)
    return;
  if (status < 0) {
    srv_conn_close(c);
    return;
  }
  conn_process(c); /* more output, reading again, or parsing what waited */
}

static void conn_flush(srv_conn *c) {
  srv_buf *src = &c->out; /* what goes on the wire: the answers, or their records */
  uv_buf_t b;
  int n;
  if (c->closing)
    return;
  if (c->tls != NULL) {
    src = srv_tls_out(c->tls);
    if (!c->writing && c->out.len > 0) { /* all queued answers in as few records as fit */
      if (srv_tls_write(c->tls, c->out.p, c->out.len) != 0) {
        srv_conn_close(c);
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
      srv_conn_close(c);
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
        srv_conn_close(c);
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
  if (c->close_after && !c->writing && c->out.len == 0 && src->len == 0 && c->slots == NULL)
    srv_conn_close(c);
}

/* Too much output queued or too many answers held back: stop taking requests. */
static bool conn_must_pause(const srv_conn *c) {
  return c->out.len + c->wr.len + (c->tls != NULL ? srv_tls_out(c->tls)->len : 0) > SRV_OUT_CAP ||
         c->nslots >= SRV_MAX_PIPELINE;
}

/* Append a finished response in order: straight to the output when nothing
 * deferred is ahead of it, else behind the deferred one. */
void srv_conn_slot_push(srv_conn *c, srv_deferred *d) {
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
  if ((d = calloc(1, sizeof *d)) == NULL)
    return NULL;
  d->ready = true;
  d->w = c->w;
  srv_conn_slot_push(c, d);
  return &d->data;
}

void srv_conn_slots_ready(srv_conn *c) {
  srv_deferred *d;
  while ((d = c->slots) != NULL && d->ready) {
    if (d->deferred) { /* the head now: a drain since the defer means close */
      int hdr = d->conn_hdr;
      if (c->w->draining || c->close_after) {
        hdr = SRV_CONN_CLOSE;
        c->close_after = true;
      }
      srv_format_response(&c->w->date, &c->out, d->status, d->ctype, d->data.p, d->data.len, hdr, NULL);
    } else {
      srv_buf_append(&c->out, d->data.p, d->data.len);
    }
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
  srv_worker *w = c->w;
  srv_buf *dst = srv_conn_out_slot(c);
  const char *ctype;
  const char *method = c->http.in_headers ? "-" : srv_http_method(&c->http);
  srv_route *other = &w->s->routes[c->lis].other;
  w->scratch.len = 0;
  ctype = srv_format_error(&w->scratch, srv_http_wants_msgpack(&c->http), code, msg);
  if (dst != NULL)
    srv_format_response(&w->date, dst, status, ctype, w->scratch.p, w->scratch.len, SRV_CONN_CLOSE, NULL);
  srv_count_request(w->s, other, status, c->http.in_message ? c->msg_start_ns : uv_hrtime());
  srv_log_request(&w->log, method, c->http.in_headers ? "-" : c->http.path,
                  c->http.in_headers ? 1 : c->http.path_len, status,
                  c->http.in_message ? (uv_hrtime() - c->msg_start_ns) / 1000 : 0, c->peer_text);
}

/* --- input ----------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  srv_conn *c = h->data;
  (void)suggested;
  if (c->tls != NULL) { /* records: into the loop's buffer, then into the read BIO */
    *buf = uv_buf_init(c->w->tls_in, SRV_TLS_RECORD_IN);
    return;
  }
  if (c->http.blk == NULL && (c->http.blk = block_get(c->w)) == NULL) {
    *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
    return;
  }
  *buf = uv_buf_init(c->http.blk->in, SRV_INBUF);
}

static void conn_update_reading(srv_conn *c) {
  bool want = !c->closing && !c->close_after && c->rd_off >= c->rd_len && !conn_must_pause(c);
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
      c->reading = true;
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
  }
}

/* Parse what is buffered, answer, flush, then decide on reading and timers. */
static void conn_process(srv_conn *c) {
  if (c->in_process || c->closing)
    return;
  c->in_process = true;
again:
  while (!c->closing && !c->close_after && !conn_must_pause(c) &&
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
      c->close_after = true;
    } else if (ev == SRV_HTTP_REQUEST) {
      srv_dispatch(c);
      srv_http_next(&c->http);
    } else if (c->http.want_continue && c->slots == NULL) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      srv_buf_append(&c->out, cont, sizeof cont - 1);
      c->http.want_continue = false;
    }
  }
  /* Stopped by the output bound: TLS may still hold decrypted bytes. */
  bool paused = c->tls != NULL && conn_must_pause(c);
  conn_flush(c);
  if (c->closing) {
    c->in_process = false;
    return;
  }
  /* The flush may have made room: go on with what is still buffered. */
  if (!c->close_after && (c->rd_off < c->rd_len || paused) && !conn_must_pause(c))
    goto again;
  if (c->rd_off >= c->rd_len)
    c->rd_off = c->rd_len = 0;
  c->in_process = false;
  conn_update_reading(c);
  conn_update_timer(c);
  if (!c->closing)
    conn_maybe_release(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  srv_conn *c = s->data;
  if (nread < 0) {
    /* EOF: answer what was asked, then close; errors: close now. */
    if (nread == UV_EOF && !c->http.in_message) {
      c->close_after = true;
      conn_process(c);
    } else {
      srv_conn_close(c);
    }
    return;
  }
  if (nread == 0) {
    conn_maybe_release(c);
    return;
  }
  if (c->tls != NULL) {
    if (srv_tls_feed(c->tls, buf->base, (size_t)nread) != 0) {
      srv_conn_close(c);
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
  if (c->http.blk == NULL && (c->http.blk = block_get(c->w)) == NULL) {
    srv_conn_close(c);
    return false;
  }
  n = srv_tls_read(c->tls, c->http.blk->in, SRV_INBUF);
  if (n > 0) {
    c->rd_off = 0;
    c->rd_len = (size_t)n;
    return true;
  }
  if (n != SRV_TLS_AGAIN) /* close_notify: answer what was asked; bad input: send the alert */
    c->close_after = true;
  return false;
}

void srv_conn_drain(srv_conn *c) {
  if (conn_quiet(c))
    srv_conn_close(c);
}

void srv_conn_accept(srv_worker *w, srv_listener lis, uv_stream_t *listener) {
  srv_conn *c = calloc(1, sizeof *c);
  int len = sizeof c->peer;
  if (c == NULL)
    return; /* the connection stays in the backlog; we try again on the next one */
  c->w = w;
  c->lis = lis;
  c->tcp.data = c->timer.data = c;
  uv_tcp_init(&w->loop, &c->tcp);
  uv_timer_init(&w->loop, &c->timer);
  c->next = w->conns;
  if (w->conns != NULL)
    w->conns->prev = c;
  w->conns = c;
  atomic_fetch_add(&w->s->open_conns[lis], 1);
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    srv_conn_close(c);
    return;
  }
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) != 0)
    c->peer.ss_family = AF_UNSPEC;
  /* Each listener its own limit (a public flood must not lock the admin API
   * out), and on the public one a limit per client address. */
  uint32_t max = lis == SRV_ADMIN ? w->lim.admin_max_connections : w->lim.max_connections;
  bool full = (uint64_t)atomic_load(&w->s->open_conns[lis]) > max;
  bool per_ip = !full && lis == SRV_PUBLIC &&
                !srv_connlimit_take(w->s->per_ip, (const struct sockaddr *)&c->peer,
                                    w->lim.max_connections_per_ip, &c->ip_counted);
  if (full || per_ip) {
    srv_buf busy = {0};
    const char *ct;
    w->scratch.len = 0;
    ct = srv_format_error(&w->scratch, false, "unavailable",
                          per_ip ? "too many connections from this address" : "too many connections");
    srv_format_response(&w->date, &busy, 503, ct, w->scratch.p, w->scratch.len, SRV_CONN_CLOSE, NULL);
    if (!busy.oom && !srv_tls_enabled(w->s->tls, lis)) { /* no plain text into a TLS port */
      uv_buf_t b = uv_buf_init(busy.p, (unsigned)busy.len);
      uv_try_write((uv_stream_t *)&c->tcp, &b, 1); /* best effort: we close anyway */
    }
    srv_buf_free(&busy);
    atomic_fetch_add(per_ip ? &w->s->rejected_per_ip : &w->s->rejected_conns[lis], 1);
    srv_conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  srv_mask_addr((struct sockaddr *)&c->peer, w->lim.log_full_ips, c->peer_text,
                sizeof c->peer_text);
  if (srv_tls_enabled(w->s->tls, lis) &&
      ((w->tls_in == NULL && (w->tls_in = malloc(SRV_TLS_RECORD_IN)) == NULL) ||
       (c->tls = srv_tls_conn_new(w->s->tls, lis)) == NULL)) {
    srv_conn_close(c);
    return;
  }
  srv_http_init(&c->http, &w->lim);
  conn_process(c); /* starts reading and the idle timer */
}
