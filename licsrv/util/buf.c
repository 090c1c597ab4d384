/* buf.c - the growable byte buffer of buf.h. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "util/array.h"
#include "util/buf.h"

int srv_buf_reserve(srv_buf *b, size_t n) {
  if (b->cap - b->len >= n)
    return 0;
  if (n > SIZE_MAX / 2 - b->len || srv_array_reserve(&b->p, &b->cap, b->len + n, 256) != LIC_OK) {
    b->oom = true;
    return -1;
  }
  return 0;
}

int srv_buf_append(srv_buf *b, const void *p, size_t n) {
  if (n == 0)
    return 0;
  if (srv_buf_reserve(b, n) != 0)
    return -1;
  memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

int srv_buf_printf(srv_buf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = true;
    return -1;
  }
  if ((size_t)n >= b->cap - b->len) {
    if (srv_buf_reserve(b, (size_t)n + 1) != 0)
      return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
  }
  b->len += (size_t)n;
  return 0;
}

void srv_buf_consume(srv_buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->p, b->p + n, b->len - n);
  b->len -= n;
}

void srv_buf_free(srv_buf *b) {
  if (b == NULL)
    return;
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
  b->oom = false;
}
