/* http/router.c - routes: the table of each listener, dispatch of a parsed
 * request to its handler (405 with Allow, 404, the per-address rate limit),
 * request counters, and the built-in GET /healthz and GET /metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/req.h"
#include "http/worker.h"

/* --- built-in endpoints ------------------------------------------------------ */

static srv_server *req_server(const srv_req *r) {
  return ((srv_worker *)srv_conn_conns(r->c)->owner)->s;
}

static void h_healthz(srv_req *r) {
  static const char ok[] = "{\"status\":\"ok\",\"version\":\"" LIC_VERSION "\"}";
  srv_server *s = req_server(r);
  srv_buf *b = &srv_conn_conns(r->c)->scratch;
  char msg[256];
  size_t nwarn = 0;
  bool admin = srv_conn_listener(r->c) == SRV_ADMIN; /* the public listener's messages name nobody */
  b->len = 0;
  for (size_t i = 0; i < s->nhealth; i++) {
    msg[0] = '\0';
    int rc = s->health[i].check(s->health[i].arg, admin, msg, sizeof msg);
    msg[sizeof msg - 1] = '\0';
    if (rc < 0) {
      b->len = 0;
      srv_buf_printf(b, "{\"status\":\"fail\",\"check\":");
      srv_json_str(b, s->health[i].name);
      srv_buf_printf(b, ",\"message\":");
      srv_json_str(b, msg);
      srv_buf_printf(b, "}");
      srv_reply(r, 503, "application/json", b->p, b->len);
      return;
    }
    if (rc > 0) { /* ready, with something an operator should act on */
      srv_buf_printf(b, "%s{\"check\":", nwarn++ == 0 ? "" : ",");
      srv_json_str(b, s->health[i].name);
      srv_buf_printf(b, ",\"message\":");
      srv_json_str(b, msg);
      srv_buf_printf(b, "}");
    }
  }
  if (nwarn == 0) {
    srv_reply(r, 200, "application/json", ok, sizeof ok - 1);
    return;
  }
  /* Warnings were written first; the head goes in front of them. */
  srv_buf out = {0};
  srv_buf_printf(&out, "{\"status\":\"ok\",\"version\":\"" LIC_VERSION "\",\"warnings\":[");
  srv_buf_append(&out, b->p, b->len);
  srv_buf_printf(&out, "]}");
  if (out.oom || b->oom) {
    b->oom = false;
    srv_reply(r, 200, "application/json", ok, sizeof ok - 1);
  } else {
    srv_reply(r, 200, "application/json", out.p, out.len);
  }
  srv_buf_free(&out);
}

static void render_routes(srv_buf *b, srv_routes *rt, const char *lis) {
  static const int codes[] = {
#define SRV_STATUS_CODE_(c) c,
      SRV_STATUSES(SRV_STATUS_CODE_)
#undef SRV_STATUS_CODE_
  };
  for (size_t i = 0; i <= rt->n; i++) {
    srv_route *r = i < rt->n ? &rt->r[i] : &rt->other;
    for (int k = 0; k < SRV_NSTATUS; k++) {
      uint64_t v = atomic_load_explicit(&r->count.n[k], memory_order_relaxed);
      if (v == 0)
        continue;
      if (k < SRV_NSTATUS - 1)
        srv_buf_printf(b, "licsrv_http_requests_total{listener=\"%s\",endpoint=\"%s\",status=\"%d\"} %llu\n",
                       lis, r->path, codes[k], (unsigned long long)v);
      else
        srv_buf_printf(b, "licsrv_http_requests_total{listener=\"%s\",endpoint=\"%s\",status=\"other\"} %llu\n",
                       lis, r->path, (unsigned long long)v);
    }
  }
}

static void h_metrics(srv_req *r) {
  static const char *const le[SRV_NLAT] = {"0.00005", "0.0001", "0.00025", "0.0005",
                                           "0.001",   "0.0025", "0.005",   "0.01",
                                           "0.025",   "0.1",    "0.5",     "1"};
  srv_server *s = req_server(r);
  srv_buf *b = &srv_conn_conns(r->c)->scratch;
  uint64_t cum = 0;
  b->len = 0;
  srv_buf_printf(b, "# HELP licsrv_http_requests_total HTTP requests by endpoint and status.\n"
                    "# TYPE licsrv_http_requests_total counter\n");
  render_routes(b, &s->routes[SRV_PUBLIC], "public");
  render_routes(b, &s->routes[SRV_ADMIN], "admin");
  srv_buf_printf(b, "# HELP licsrv_http_request_duration_seconds Time from the first byte of a request to its answer.\n"
                    "# TYPE licsrv_http_request_duration_seconds histogram\n");
  for (int i = 0; i <= SRV_NLAT; i++) {
    cum += atomic_load_explicit(&s->cs.lat.bucket[i], memory_order_relaxed);
    srv_buf_printf(b, "licsrv_http_request_duration_seconds_bucket{le=\"%s\"} %llu\n",
                   i < SRV_NLAT ? le[i] : "+Inf", (unsigned long long)cum);
  }
  srv_buf_printf(b, "licsrv_http_request_duration_seconds_sum %.6f\n"
                    "licsrv_http_request_duration_seconds_count %llu\n",
                 (double)atomic_load(&s->cs.lat.sum_us) / 1e6,
                 (unsigned long long)atomic_load(&s->cs.lat.count));
  srv_buf_printf(b, "# HELP licsrv_http_connections_open Open client connections.\n"
                    "# TYPE licsrv_http_connections_open gauge\n"
                    "licsrv_http_connections_open %lld\n"
                    "licsrv_http_connections_open{listener=\"public\"} %lld\n"
                    "licsrv_http_connections_open{listener=\"admin\"} %lld\n"
                    "# HELP licsrv_http_connections_rejected_total Connections closed at once: the listener's limit "
                    "(max_connections, admin_max_connections) or max_connections_per_ip.\n"
                    "# TYPE licsrv_http_connections_rejected_total counter\n"
                    "licsrv_http_connections_rejected_total %llu\n"
                    "licsrv_http_connections_rejected_total{listener=\"public\",reason=\"max_connections\"} %llu\n"
                    "licsrv_http_connections_rejected_total{listener=\"public\",reason=\"per_ip\"} %llu\n"
                    "licsrv_http_connections_rejected_total{listener=\"admin\",reason=\"max_connections\"} %llu\n"
                    "# HELP licsrv_http_accept_pauses_total Listeners closed for a back-off: out of descriptors (EMFILE/ENFILE).\n"
                    "# TYPE licsrv_http_accept_pauses_total counter\n"
                    "licsrv_http_accept_pauses_total %llu\n",
                 (long long)(atomic_load(&s->cs.open_conns[SRV_PUBLIC]) + atomic_load(&s->cs.open_conns[SRV_ADMIN])),
                 (long long)atomic_load(&s->cs.open_conns[SRV_PUBLIC]),
                 (long long)atomic_load(&s->cs.open_conns[SRV_ADMIN]),
                 (unsigned long long)(atomic_load(&s->cs.rejected_conns[SRV_PUBLIC]) +
                                      atomic_load(&s->cs.rejected_conns[SRV_ADMIN]) +
                                      atomic_load(&s->cs.rejected_per_ip)),
                 (unsigned long long)atomic_load(&s->cs.rejected_conns[SRV_PUBLIC]),
                 (unsigned long long)atomic_load(&s->cs.rejected_per_ip),
                 (unsigned long long)atomic_load(&s->cs.rejected_conns[SRV_ADMIN]),
                 (unsigned long long)atomic_load(&s->emfile_pauses));
  {
    uint64_t full, resumed, failed;
    srv_tls_counts(s->cs.tls, &full, &resumed, &failed);
    srv_buf_printf(b, "# HELP licsrv_tls_handshakes_total TLS handshakes: completed full, resumed (session ticket), failed.\n"
                      "# TYPE licsrv_tls_handshakes_total counter\n"
                      "licsrv_tls_handshakes_total{result=\"full\"} %llu\n"
                      "licsrv_tls_handshakes_total{result=\"resumed\"} %llu\n"
                      "licsrv_tls_handshakes_total{result=\"failed\"} %llu\n",
                   (unsigned long long)full, (unsigned long long)resumed, (unsigned long long)failed);
    int64_t end, now = (int64_t)time(NULL);
    for (int l = 0; l < 2; l++) {
      if (!srv_tls_cert_end(s->cs.tls, l, &end))
        continue;
      if (l == 0 || !srv_tls_enabled(s->cs.tls, 0))
        srv_buf_printf(b, "# HELP licsrv_tls_cert_expiry_seconds Seconds until the served TLS "
                          "certificate ends (negative: ended); /healthz warns from %d days.\n"
                          "# TYPE licsrv_tls_cert_expiry_seconds gauge\n",
                       SRV_TLS_CERT_WARN_DAYS);
      srv_buf_printf(b, "licsrv_tls_cert_expiry_seconds{listener=\"%s\"} %lld\n",
                     l == 0 ? "public" : "admin", (long long)(end - now));
    }
  }
  srv_metrics_render(s->metrics, b);
  if (b->oom) {
    b->oom = false;
    srv_reply_error(r, 503, "unavailable", "out of memory");
    return;
  }
  srv_reply(r, 200, "text/plain; version=0.0.4", b->p, b->len);
}

int srv_router_init(srv_server *s) {
  s->routes[SRV_PUBLIC].other.path = "other";
  s->routes[SRV_ADMIN].other.path = "other";
  return srv_route_add(s, "GET", "/healthz", h_healthz) | srv_route_add(s, "GET", "/metrics", h_metrics) |
         srv_admin_route_add(s, "GET", "/healthz", h_healthz) |
         srv_admin_route_add(s, "GET", "/metrics", h_metrics);
}

void srv_router_free(srv_server *s) {
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < s->routes[l].n; i++)
      free(s->routes[l].r[i].path);
}

static int route_add(srv_server *s, srv_listener lis, const char *method, const char *path,
                     srv_handler h) {
  srv_routes *rt = &s->routes[lis];
  int m = -1;
  if (s->started || h == NULL || path == NULL || path[0] != '/' || rt->n >= SRV_MAX_ROUTES)
    return -1;
  for (int i = 0; i < 64; i++) {
    const char *name = http_method_str((enum http_method)i);
    if (strcmp(name, "<unknown>") == 0)
      break;
    if (strcmp(name, method) == 0) {
      m = i;
      break;
    }
  }
  if (m < 0)
    return -1;
  for (size_t i = 0; i < rt->n; i++)
    if (rt->r[i].method == m && strcmp(rt->r[i].path, path) == 0)
      return -1;
  if ((rt->r[rt->n].path = strdup(path)) == NULL)
    return -1;
  rt->r[rt->n].method = m;
  rt->r[rt->n].fn = h;
  rt->n++;
  return 0;
}

int srv_route_add(srv_server *s, const char *method, const char *path, srv_handler h) {
  return route_add(s, SRV_PUBLIC, method, path, h);
}

int srv_admin_route_add(srv_server *s, const char *method, const char *path, srv_handler h) {
  return route_add(s, SRV_ADMIN, method, path, h);
}

void srv_dispatch(srv_conn *c) {
  srv_conns *cn = srv_conn_conns(c);
  srv_worker *w = cn->owner;
  srv_listener lis = srv_conn_listener(c);
  const srv_http *h = srv_conn_http(c);
  srv_routes *rt = &w->s->routes[lis];
  srv_req req = {.c = c, .start_ns = srv_conn_msg_start(c)};
  srv_req *r = &req; /* valid until the handler returns (server.h) */
  srv_route *hit = NULL;
  char allow[160];
  size_t alen = 0;
  r->path = rt->other.path;
  r->counts = &rt->other.count;
  if (lis == SRV_PUBLIC && cn->lim.rate_per_ip > 0) {
    if (w->rate == NULL)
      w->rate = srv_rate_new();
    if (!srv_rate_allow(w->rate, srv_conn_peer(c), cn->lim.rate_per_ip, cn->lim.rate_burst,
                        uv_now(cn->loop))) {
      srv_reply_error_extra(r, 429, "rate_limited", "too many requests", "Retry-After: 1\r\n");
      return;
    }
  }
  for (size_t i = 0; i < rt->n; i++) {
    if (strcmp(rt->r[i].path, h->path) != 0)
      continue;
    if (rt->r[i].method == (int)h->p.method) {
      hit = &rt->r[i];
      break;
    }
    const char *m = http_method_str((enum http_method)rt->r[i].method);
    if (alen + strlen(m) + 10 < sizeof allow) /* room for ", M" and the CRLF */
      alen += (size_t)snprintf(allow + alen, sizeof allow - alen, "%s%s",
                               alen == 0 ? "Allow: " : ", ", m);
  }
  if (hit != NULL) {
    r->path = hit->path;
    r->counts = &hit->count;
    hit->fn(r);
    if (!r->replied && !r->deferred)
      srv_reply_error(r, 500, "internal", "the handler did not answer");
  } else if (alen > 0) {
    snprintf(allow + alen, sizeof allow - alen, "\r\n");
    srv_reply_error_extra(r, 405, "method_not_allowed", "method not allowed for this path", allow);
  } else {
    srv_reply_error(r, 404, "not_found", "no such endpoint");
  }
}
