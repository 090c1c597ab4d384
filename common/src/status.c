/* status.c - names and default reasons of verdict statuses. */
#include <string.h>

#include "lic/status.h"

const char *lic_status_name(lic_status s) {
  switch (s) {
#define LIC_STATUS_NAME_(e, name, reason) case LIC_STATUS_##e: return name;
    LIC_STATUSES(LIC_STATUS_NAME_)
#undef LIC_STATUS_NAME_
  default: return "unknown";
  }
}

const char *lic_status_reason(lic_status s) {
  switch (s) {
#define LIC_STATUS_REASON_(e, name, reason) case LIC_STATUS_##e: return reason;
    LIC_STATUSES(LIC_STATUS_REASON_)
#undef LIC_STATUS_REASON_
  default: return "unknown status";
  }
}

int lic_status_from_name(const char *name) {
  for (int s = 0; s < LIC_STATUS_MAX_; s++)
    if (strcmp(lic_status_name((lic_status)s), name) == 0)
      return s;
  return -1;
}
