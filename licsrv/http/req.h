/* http/req.h - the request a handler holds (the router fills one per
 * dispatch, on its stack): req.c answers it through the connection's narrow
 * interface (http/conn.h). */
#ifndef LICSRV_HTTP_REQ_H
#define LICSRV_HTTP_REQ_H

#include <stdbool.h>
#include <stdint.h>

#include "http/conn.h"
#include "http/server.h"
#include "http/wire.h"

struct srv_req {
  srv_conn *c;
  const char *path;          /* the route's, for the log */
  srv_status_counts *counts; /* the route's */
  uint64_t start_ns;
  int status;
  bool replied, deferred;
};

#endif
