/* http/wire.h - the bytes of answers (heads, error bodies) and the status
 * slots they are counted in; used by the connection and the router. */
#ifndef LICSRV_HTTP_WIRE_H
#define LICSRV_HTTP_WIRE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/buf.h"

/* Statuses counted per endpoint; anything else is counted as "other". */
#define SRV_STATUSES(X) X(200) X(201) X(202) X(204) X(400) X(401) X(403) X(404) X(405) \
  X(408) X(409) X(411) X(413) X(414) X(415) X(417) X(429) X(431) X(500) X(503) X(505) X(507)
#define SRV_NSTATUS 23
#define SRV_NLAT 12 /* latency histogram buckets (+Inf extra) */

/* Status code -> counter slot. */
int srv_status_index(int status);
/* Requests of one endpoint by status slot. */
typedef struct {
  _Atomic uint64_t n[SRV_NSTATUS];
} srv_status_counts;
/* Request durations: a histogram (SRV_NLAT buckets and +Inf), sum and count. */
typedef struct {
  _Atomic uint64_t bucket[SRV_NLAT + 1];
  _Atomic uint64_t sum_us, count;
} srv_latency;
/* Count one answered request (any thread). */
void srv_count_request(srv_latency *lat, srv_status_counts *counts, int status, uint64_t dur_us);
/* What the Connection header says: nothing (HTTP/1.1 keep-alive), "close",
 * or "keep-alive" for an HTTP/1.0 client that asked for it. */
enum { SRV_CONN_KEEP, SRV_CONN_CLOSE, SRV_CONN_KEEP10 };
/* The Date header of the current second, cached per worker. */
typedef struct {
  int64_t sec;
  char text[64];
} srv_date;
/* Response head + body into dst (Date from the cache when date is set). */
void srv_format_response(srv_date *date, srv_buf *dst, int status, const char *ctype,
                         const void *body, size_t len, int conn_hdr, const char *extra);
/* A JSON string literal (quoted, escaped) appended to b. */
void srv_json_str(srv_buf *b, const char *s);
/* {error, message} in JSON or MessagePack into dst; returns the content type. */
const char *srv_format_error(srv_buf *dst, bool msgpack, const char *code, const char *msg);
void srv_mask_addr(const struct sockaddr *sa, bool full, char *out, size_t outlen);

#endif
