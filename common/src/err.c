/* err.c - messages for lic_err and the per-thread error detail. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"

/* A detail holds a path (PATH_MAX) and its reason; "MESSAGE: DETAIL" the
 * longest message besides. lic_fail formats into scratch first, so its
 * arguments may be lic_errdetail() or lic_errfull() themselves. */
static _Thread_local char detail[LIC_ERRDETAIL_MAX];
static _Thread_local char scratch[LIC_ERRDETAIL_MAX];
static _Thread_local char full[LIC_ERRDETAIL_MAX + 64];

const char *lic_strerror(int err) {
  switch (err) {
#define LIC_ERR_MSG_(name, msg) case LIC_##name: return msg;
    LIC_ERRORS(LIC_ERR_MSG_)
#undef LIC_ERR_MSG_
  default: return "unknown error";
  }
}

const char *lic_errname(int err) {
  switch (err) {
#define LIC_ERR_NAME_(name, msg) case LIC_##name: return #name;
    LIC_ERRORS(LIC_ERR_NAME_)
#undef LIC_ERR_NAME_
  default: return "UNKNOWN";
  }
}

const char *lic_errdetail(void) { return detail; }

void lic_errdetail_clear(void) { detail[0] = '\0'; }

const char *lic_errfull(int err) {
  /* full has room for the longest message and a whole detail */
  if (detail[0] != '\0')
    snprintf(full, sizeof full, "%s: %s", lic_strerror(err), detail);
  else
    snprintf(full, sizeof full, "%s", lic_strerror(err));
  return full;
}

/* A detail too long for its buffer ends in "..." where it was cut, never in
 * half a UTF-8 character. */
static void cut(char *buf, size_t cap) {
  size_t n = cap - 4; /* room for "..." and the NUL */
  while (n > 0 && ((unsigned char)buf[n] & 0xC0) == 0x80)
    n--; /* buf[n] would be the continuation of the character before it */
  memcpy(buf + n, "...", 4);
}

int lic_fail(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(scratch, sizeof scratch, fmt, ap);
  va_end(ap);
  if (n < 0)
    scratch[0] = '\0';
  else if ((size_t)n >= sizeof scratch)
    cut(scratch, sizeof scratch);
  memcpy(detail, scratch, strlen(scratch) + 1);
  return err;
}

int lic__fail_ssl(int err, const char *what) {
  unsigned long e = ERR_get_error();
  char buf[200];
  if (e != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return lic__fail(err, "%s (%s)", what, buf);
  }
  return lic__fail(err, "%s", what);
}
