/* req.c - what a handler sees of its request, and its answer: now, or
 * deferred and completed from any thread. Through http/conn.h's narrow
 * interface only: no connection internals. */
#include <stdlib.h>
#include <string.h>

#include "http/req.h"

static const srv_http *req_http(const srv_req *r) { return srv_conn_http(r->c); }

const char *srv_req_method(const srv_req *r) { return srv_http_method(req_http(r)); }
const char *srv_req_path(const srv_req *r) { return req_http(r)->path; }
const char *srv_req_query(const srv_req *r) { return req_http(r)->query; }
const char *srv_req_content_type(const srv_req *r) { return req_http(r)->blk->ctype; }
const char *srv_req_accept(const srv_req *r) { return req_http(r)->blk->accept; }
const char *srv_req_authorization(const srv_req *r) { return req_http(r)->blk->auth; }
const struct sockaddr *srv_req_remote(const srv_req *r) { return srv_conn_peer(r->c); }
const char *srv_req_remote_text(const srv_req *r) { return srv_conn_peer_text(r->c); }
srv_worker *srv_req_worker(const srv_req *r) { return srv_conn_conns(r->c)->owner; }
void *srv_req_worker_user(const srv_req *r) { return srv_conn_conns(r->c)->user; }
srv_listener srv_req_listener(const srv_req *r) { return srv_conn_listener(r->c); }
bool srv_req_wants_msgpack(const srv_req *r) { return srv_http_wants_msgpack(req_http(r)); }

const uint8_t *srv_req_body(const srv_req *r, size_t *len) {
  const srv_http *h = req_http(r);
  *len = h->body_len;
  return h->body_len > 0 ? h->body : (const uint8_t *)"";
}

void srv_reply_extra(srv_req *r, int status, const char *ctype, const void *body, size_t len,
                     const char *extra) {
  srv_conns *cn = srv_conn_conns(r->c);
  const srv_http *h = req_http(r);
  srv_buf *dst;
  int ka;
  if (r->replied || r->deferred) {
    srv_log(SRV_LOG_ERROR, "handler_bug", "path=%s detail=\"answered twice\"", r->path);
    return;
  }
  r->replied = true;
  r->status = status;
  ka = srv_conn_answer_hdr(r->c);
  if ((dst = srv_conn_out_slot(r->c)) == NULL)
    return; /* cannot queue the answer: the connection gives up */
  srv_format_response(&cn->date, dst, status, ctype, body, len, ka, extra);
  srv_count_request(&cn->sh->lat, r->counts, status, (uv_hrtime() - r->start_ns) / 1000);
  srv_log_request(&cn->log, srv_req_method(r), h->path, h->path_len, status,
                  (uv_hrtime() - r->start_ns) / 1000, srv_conn_peer_text(r->c));
}

void srv_reply(srv_req *r, int status, const char *content_type, const void *body, size_t len) {
  srv_reply_extra(r, status, content_type, body, len, NULL);
}

void srv_reply_error_extra(srv_req *r, int status, const char *code, const char *message,
                          const char *extra) {
  srv_buf *e = &srv_conn_conns(r->c)->scratch;
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
  srv_deferred *d;
  if (r->replied || r->deferred || (d = calloc(1, sizeof *d)) == NULL)
    return NULL;
  d->c = r->c;
  d->cn = srv_conn_conns(r->c);
  d->path = r->path;
  d->counts = r->counts;
  d->method = srv_req_method(r);
  d->start_ns = r->start_ns;
  d->conn_hdr = srv_conn_answer_hdr(r->c);
  d->deferred = true;
  d->msgpack = srv_req_wants_msgpack(r);
  snprintf(d->remote, sizeof d->remote, "%s", srv_conn_peer_text(r->c));
  srv_conn_slot_push(r->c, d);
  r->deferred = true;
  return d;
}

/* Count it and hand it to the connection's loop (any thread). */
static void deferred_queue(srv_deferred *d) {
  srv_count_request(&d->cn->sh->lat, d->counts, d->status, (uv_hrtime() - d->start_ns) / 1000);
  srv_conns_post(d);
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
