/* req.c - what a handler sees of its request, and its answer: now, or
 * deferred and completed from any thread. */
#include <stdlib.h>
#include <string.h>

#include "http/conn.h"

const char *srv_req_method(const srv_req *r) { return srv_http_method(&r->c->http); }
const char *srv_req_path(const srv_req *r) { return r->c->http.path; }
const char *srv_req_query(const srv_req *r) { return r->c->http.query; }
const char *srv_req_content_type(const srv_req *r) { return r->c->http.blk->ctype; }
const char *srv_req_accept(const srv_req *r) { return r->c->http.blk->accept; }
const char *srv_req_authorization(const srv_req *r) { return r->c->http.blk->auth; }
const struct sockaddr *srv_req_remote(const srv_req *r) {
  return (const struct sockaddr *)&r->c->peer;
}
const char *srv_req_remote_text(const srv_req *r) { return r->c->peer_text; }
srv_worker *srv_req_worker(const srv_req *r) { return r->c->w; }
void *srv_req_worker_user(const srv_req *r) { return r->c->w->user; }
srv_listener srv_req_listener(const srv_req *r) { return r->c->lis; }
bool srv_req_wants_msgpack(const srv_req *r) { return srv_http_wants_msgpack(&r->c->http); }

const uint8_t *srv_req_body(const srv_req *r, size_t *len) {
  *len = r->c->http.body_len;
  return r->c->http.body_len > 0 ? r->c->http.body : (const uint8_t *)"";
}

/* Keep the connection after this answer? Not when the client or a limit
 * said close, nor while draining. Returns the SRV_CONN_* header to send. */
static int req_keep_alive(srv_req *r) {
  srv_conn *c = r->c;
  if (!c->http.keep_alive || c->close_after || c->w->draining) {
    c->close_after = true;
    return SRV_CONN_CLOSE;
  }
  return c->http.p.http_minor == 0 ? SRV_CONN_KEEP10 : SRV_CONN_KEEP;
}

void srv_reply_extra(srv_req *r, int status, const char *ctype, const void *body, size_t len,
                     const char *extra) {
  srv_conn *c = r->c;
  srv_worker *w = c->w;
  srv_buf *dst;
  int ka;
  if (r->replied || r->deferred) {
    srv_log(SRV_LOG_ERROR, "handler_bug", "path=%s detail=\"answered twice\"", r->route->path);
    return;
  }
  r->replied = true;
  r->status = status;
  ka = req_keep_alive(r);
  if ((dst = srv_conn_out_slot(c)) == NULL) {
    c->close_after = true; /* cannot queue the answer: give up on the connection */
    return;
  }
  srv_format_response(&w->date, dst, status, ctype, body, len, ka, extra);
  srv_count_request(w->s, r->route, status, r->start_ns);
  srv_log_request(&w->log, srv_req_method(r), c->http.path, c->http.path_len, status,
                  (uv_hrtime() - r->start_ns) / 1000, c->peer_text);
}

void srv_reply(srv_req *r, int status, const char *content_type, const void *body, size_t len) {
  srv_reply_extra(r, status, content_type, body, len, NULL);
}

void srv_reply_error_extra(srv_req *r, int status, const char *code, const char *message,
                          const char *extra) {
  srv_buf *e = &r->c->w->scratch;
  const char *ct;
  e->len = 0;
  ct = srv_format_error(e, srv_req_wants_msgpack(r), code, message);
  if (e->oom) {
    e->oom = false;
    srv_reply_extra(r, status, "application/json", "{}", 2, extra);
    return;
  }
  srv_reply_extra(r, status, ct, e->p, e->len, extra);
}

void srv_reply_error(srv_req *r, int status, const char *code, const char *message) {
  srv_reply_error_extra(r, status, code, message, NULL);
}

srv_deferred *srv_req_defer(srv_req *r) {
  srv_conn *c = r->c;
  srv_deferred *d;
  if (r->replied || r->deferred || (d = calloc(1, sizeof *d)) == NULL)
    return NULL;
  d->c = c;
  d->w = c->w;
  d->route = r->route;
  d->method = srv_req_method(r);
  d->start_ns = r->start_ns;
  d->conn_hdr = req_keep_alive(r);
  d->deferred = true;
  d->msgpack = srv_req_wants_msgpack(r);
  snprintf(d->remote, sizeof d->remote, "%s", c->peer_text);
  srv_conn_slot_push(c, d);
  r->deferred = true;
  return d;
}

/* Count it and hand it to the worker's loop (any thread). */
static void deferred_queue(srv_deferred *d) {
  srv_worker *w = d->w;
  srv_count_request(w->s, d->route, d->status, d->start_ns);
  uv_mutex_lock(&w->mu);
  if (w->closed) { /* the worker is gone: nobody to answer */
    uv_mutex_unlock(&w->mu);
    srv_buf_free(&d->data);
    free(d);
    return;
  }
  if (w->q_tail != NULL)
    w->q_tail->qnext = d;
  else
    w->q_head = d;
  w->q_tail = d;
  uv_async_send(&w->replies);
  uv_mutex_unlock(&w->mu);
}

void srv_reply_deferred(srv_deferred *d, int status, const char *content_type, const void *body,
                        size_t len) {
  if (d == NULL)
    return;
  d->status = status;
  snprintf(d->ctype, sizeof d->ctype, "%s",
           content_type != NULL ? content_type : "application/octet-stream");
  if (srv_buf_append(&d->data, body, len) != 0) { /* no memory for the body */
    d->data.len = 0;
    d->status = 503;
  }
  deferred_queue(d);
}

void srv_reply_deferred_error(srv_deferred *d, int status, const char *code,
                              const char *message) {
  if (d == NULL)
    return;
  d->status = status;
  snprintf(d->ctype, sizeof d->ctype, "%s", srv_format_error(&d->data, d->msgpack, code, message));
  if (d->data.oom) {
    d->data.len = 0;
    d->status = 503;
  }
  deferred_queue(d);
}
