/* err.c - messages for lic_err and the per-thread error detail. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"

static _Thread_local char detail[320];
static _Thread_local char full[448];

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
  if (detail[0] != '\0')
    snprintf(full, sizeof full, "%s: %s", lic_strerror(err), detail);
  else
    snprintf(full, sizeof full, "%s", lic_strerror(err));
  return full;
}

int lic_fail(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
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
