/* srverr.h - set liblic's per-thread error detail from server code, so that
 * cli_lic_error()/lic_errfull() show what went wrong in licsrv modules too. */
#ifndef LICSRV_SRVERR_H
#define LICSRV_SRVERR_H

/* Record a detail line for this thread and return err (a lic_err). */
int licsrv_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
