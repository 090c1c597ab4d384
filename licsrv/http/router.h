/* http/router.h - the route table of each listener and dispatch. */
#ifndef LICSRV_HTTP_ROUTER_H
#define LICSRV_HTTP_ROUTER_H

#include <stdint.h>

#include "http/conn.h"
#include "http/server.h"
#include "http/wire.h"

#define SRV_MAX_ROUTES 64

typedef struct {
  int method; /* enum http_method */
  char *path;
  srv_handler fn;
  srv_status_counts count;
} srv_route;

typedef struct {
  srv_route r[SRV_MAX_ROUTES];
  size_t n;
  srv_route other; /* unknown paths and requests that failed before routing */
} srv_routes;

/* The built-in routes (/healthz, /metrics on both listeners); 0 or -1. */
int srv_router_init(srv_server *s);
void srv_router_free(srv_server *s);
/* Answer the parsed request of c: its handler, 405, 404 or 429 (the
 * on_request of every loop's srv_conns). */
void srv_dispatch(srv_conn *c);

#endif
