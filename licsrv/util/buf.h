/* buf.h - a growable byte buffer (output queues, metrics text), kept between
 * uses so the hot path does not allocate once it has grown. */
#ifndef LICSRV_BUF_H
#define LICSRV_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
  char *p;
  size_t len, cap;
  bool oom; /* an append failed: the content is incomplete */
} srv_buf;

/* Room for n more bytes; -1 (and oom set) when it cannot grow. */
int srv_buf_reserve(srv_buf *b, size_t n);
int srv_buf_append(srv_buf *b, const void *p, size_t n);
int srv_buf_printf(srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void srv_buf_consume(srv_buf *b, size_t n);
void srv_buf_free(srv_buf *b);

#endif
