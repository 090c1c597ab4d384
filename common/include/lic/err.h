/* err.h - the one error enum of liblic, its messages, and a per-thread detail line. */
#ifndef LIC_ERR_H
#define LIC_ERR_H

#include "lic/api.h"

#define LIC_ERRORS(X) \
  X(OK,         "success") \
  X(NOMEM,      "out of memory") \
  X(FORMAT,     "malformed data") \
  X(LIMIT,      "value exceeds a limit") \
  X(SIGNATURE,  "signature does not verify") \
  X(UNTRUSTED,  "signed by a key that is not trusted") \
  X(TYPE,       "unexpected object type") \
  X(KEY,        "invalid key") \
  X(PASSPHRASE, "wrong or missing passphrase") \
  X(INSECURE,   "file is readable by group or others") \
  X(IO,         "input/output error") \
  X(NOTFOUND,   "not found") \
  X(EXISTS,     "already exists") \
  X(INVALID,    "invalid argument") \
  X(CRYPTO,     "cryptographic library failure") \
  X(MACHINE,    "cannot read the machine identity") \
  X(TYPO,       "typo in code") \
  X(NOTGENUINE, "not a genuine code") \
  X(EXPIRED,    "expired") \
  X(PRODUCT,    "for another product") \
  X(DENIED,     "denied") \
  X(MISMATCHED, "response does not match the request") \
  X(UNAVAILABLE, "service unavailable") \
  X(TLS,        "TLS check failed")

typedef enum {
#define LIC_ERR_ENUM_(name, msg) LIC_##name,
  LIC_ERRORS(LIC_ERR_ENUM_)
#undef LIC_ERR_ENUM_
  LIC_ERR_MAX_
} lic_err;

/* Message for an error code; never NULL. */
LIC_API const char *lic_strerror(int err);
/* Symbolic name ("FORMAT") for an error code; never NULL. */
LIC_API const char *lic_errname(int err);
/* Room for a detail, its NUL included: a path (PATH_MAX) and its reason. A
 * longer one is cut and ends in "...". Size copies of lic_errdetail() by it. */
#define LIC_ERRDETAIL_MAX (4096 + 256)
/* Detail of the last error set on this thread ("field 'ports': entry 3 is
 * out of range"), or "" when none. Cleared by lic_errdetail_clear(). */
LIC_API const char *lic_errdetail(void);
LIC_API void lic_errdetail_clear(void);
/* Set this thread's detail line and return err: for modules built on liblic
 * (the server) that report errors the same way. The arguments may include
 * lic_errdetail() itself ("store: %s"). */
LIC_API int lic_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "MESSAGE: DETAIL" or "MESSAGE" in a thread-local buffer. */
LIC_API const char *lic_errfull(int err);

#endif
