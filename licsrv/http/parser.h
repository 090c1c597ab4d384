/* http/parser.h - the request side of HTTP/1.1 without sockets: http_parser plus our
 * limits plus request assembly, driven from any buffer (conn.c, the fuzzer). */
#ifndef LICSRV_HTTP_H
#define LICSRV_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "util/config.h"

#define SRV_MAX_URL    2048 /* request target with query; longer is 414 */
#define SRV_MAX_CTYPE  128  /* Content-Type value; longer is 431 */
#define SRV_MAX_ACCEPT 256  /* Accept values joined; longer is 431 */
#define SRV_MAX_AUTH   1024 /* Authorization value; longer is 431 */
#define SRV_INBUF      4096 /* one read */
#define SRV_BODY_INLINE 2048 /* bodies up to this size need no allocation */

/* Memory a connection needs only while a request is on its way in: taken from
 * a per-worker free list on the first read, given back when the connection
 * is between requests, so idle keep-alive connections stay small. */
typedef struct srv_http_block {
  struct srv_http_block *next; /* free list */
  char in[SRV_INBUF];
  char url[SRV_MAX_URL + 1];
  char ctype[SRV_MAX_CTYPE + 1];
  char accept[SRV_MAX_ACCEPT + 1];
  char auth[SRV_MAX_AUTH + 1];
  uint8_t body_inline[SRV_BODY_INLINE];
} srv_http_block;

enum { SRV_HTTP_MORE, SRV_HTTP_REQUEST, SRV_HTTP_ERROR };

typedef struct {
  http_parser p;
  const srv_limits *lim;
  srv_http_block *blk;
  uint32_t hdr_bytes, nheaders;
  size_t url_len, ctype_len, accept_len, auth_len;
  char hname[24]; /* long enough for "transfer-encoding" */
  uint8_t hname_len;
  uint8_t field; /* header whose value is being read (H_*) */
  uint8_t last;  /* last callback: 1 field, 2 value */
  bool in_headers; /* request line or headers still incomplete */
  bool in_message; /* first byte of a request seen, not yet complete */
  bool want_continue; /* Expect: 100-continue on an acceptable request */
  bool keep_alive;
  const char *path; /* NUL-terminated, query stripped (in blk->url) */
  size_t path_len;
  const char *query; /* after '?', NUL-terminated ("" when none; in blk->url) */
  /* RFC 9112 strictness http_parser (built lenient) does not give us: */
  uint8_t nhost;      /* Host fields seen */
  bool seen_ctype, seen_auth; /* also when empty: a second one is a duplicate */
  bool seen_te;       /* Transfer-Encoding: one field, its value in te */
  char te[16];
  uint8_t te_len;     /* > sizeof te: too long */
  uint8_t fold;       /* header-section scan for obs-fold: SRV_FOLD_* */
  bool fold_started;  /* the request line has begun */
  uint8_t chunk_crlf; /* bytes of a chunk's closing CRLF still to check (2, 1, 0) */
  const char *feed_end; /* end of the bytes of the current srv_http_feed */
  uint8_t *body; /* blk->body_inline or heap */
  size_t body_len, body_cap;
  int err_status;   /* SRV_HTTP_ERROR: 400, 408, 411, 413, 414, 431 */
  const char *err_code, *err_msg;
} srv_http;

void srv_http_init(srv_http *h, const srv_limits *lim);
/* Feed bytes (h->blk must be set). *used tells how many were taken: on
 * SRV_HTTP_REQUEST the request is complete (method, path, headers, body
 * valid until srv_http_next); on SRV_HTTP_ERROR the connection must answer
 * err_status and close. */
int srv_http_feed(srv_http *h, const char *data, size_t len, size_t *used);
/* Ready for the next request of the connection. */
void srv_http_next(srv_http *h);
/* Whether no request is partly read (the block may be given back). */
bool srv_http_idle(const srv_http *h);
/* Free what srv_http_feed allocated (large bodies); safe to call twice. */
void srv_http_release(srv_http *h);
const char *srv_http_method(const srv_http *h);

/* MessagePack answers: Accept says so, else the Content-Type was msgpack. */
bool srv_http_wants_msgpack(const srv_http *h);

/* Reason phrase and default error code of a status. */
const char *srv_http_reason(int status);
const char *srv_http_error_code(int status);

#endif
