/* srverr.c - bridge to liblic's detail line (liblic is a static library, so its
 * internal lic__fail is linkable; we keep that dependency in this one file). */
#include <stdarg.h>
#include <stdio.h>

#include "lic/err.h"
#include "srverr.h"

int lic__fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int licsrv_fail(int err, const char *fmt, ...) {
  char buf[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return lic__fail(err, "%s", buf);
}
