/* http/router.h - the route table of each listener and dispatch. */
#ifndef LICSRV_HTTP_ROUTER_H
#define LICSRV_HTTP_ROUTER_H

#include <stdatomic.h>
#include <stdint.h>

#include "http/server.h"
#include "http/wire.h"

#define SRV_MAX_ROUTES 64

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

typedef struct srv_conn srv_conn;

/* The built-in routes (/healthz, /metrics on both listeners); 0 or -1. */
int srv_router_init(srv_server *s);
void srv_router_free(srv_server *s);
/* Answer the parsed request of c: its handler, 405, 404 or 429. */
void srv_dispatch(srv_conn *c);
void srv_count_request(srv_server *s, srv_route *route, int status, uint64_t start_ns);

#endif
