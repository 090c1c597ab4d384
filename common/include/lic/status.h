/* status.h - verdict statuses (SPEC §3.5), one list for names and reasons. */
#ifndef LIC_STATUS_H
#define LIC_STATUS_H

#include "lic/api.h"

#define LIC_STATUSES(X) \
  X(VALID,              "valid",              "license holds") \
  X(EXPIRED,            "expired",            "license has expired") \
  X(NOT_YET_VALID,      "not_yet_valid",      "license is not valid yet") \
  X(DOMAIN_DENIED,      "domain_denied",      "domain is not licensed") \
  X(PORT_DENIED,        "port_denied",        "port is not licensed") \
  X(APP_DENIED,         "app_denied",         "application is not licensed") \
  X(VERSION_DENIED,     "version_denied",     "product version is not licensed") \
  X(SEATS_EXHAUSTED,    "seats_exhausted",    "all node seats are taken") \
  X(REVOKED,            "revoked",            "license was revoked") \
  X(UNKNOWN_LICENSE,    "unknown_license",    "no such license here") \
  X(NOT_REGISTERED,     "not_registered",     "project is not registered") \
  X(CAPACITY_EXHAUSTED, "capacity_exhausted", "account registration capacity is full") \
  X(BAD_CREDENTIALS,    "bad_credentials",    "account or token is wrong") \
  X(CLOCK_ROLLBACK,     "clock_rollback",     "server clock went back") \
  X(MACHINE_MISMATCH,   "machine_mismatch",   "license is bound to another machine")

typedef enum {
#define LIC_STATUS_ENUM_(e, name, reason) LIC_STATUS_##e,
  LIC_STATUSES(LIC_STATUS_ENUM_)
#undef LIC_STATUS_ENUM_
  LIC_STATUS_MAX_
} lic_status;

LIC_API const char *lic_status_name(lic_status s);
LIC_API const char *lic_status_reason(lic_status s);
/* -1 when the name is unknown. */
LIC_API int lic_status_from_name(const char *name);

#endif
