/* clock.c - licctl check's clock high-water mark: the latest time a check saw,
 * kept in the state directory, so that a local license cannot be stretched by
 * setting the clock back (as the agent's session does for verdicts). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "licctl.h"
#include "lic/fileio.h"
#include "lic/session.h"
#include "lic/util.h"

#define CLOCK_FILE "clock"

static void clock_path(const char *dir, char *out, size_t cap) {
  snprintf(out, cap, "%s/" CLOCK_FILE, dir);
}

int licctl_clock_check(const char *dir, int64_t now, int64_t *behind, char *reason,
                       size_t cap) {
  char path[PATH_MAX], text[32], when[21];
  uint8_t *buf = NULL;
  size_t len = 0;
  int64_t hwm = 0;
  int r;

  *behind = 0;
  if ((r = licctl_state_ensure(dir)) != EXIT_OK)
    return r;
  clock_path(dir, path, sizeof path);
  int rc = lic_file_read(path, 64, &buf, &len);
  if (rc == LIC_OK) {
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
      buf[--len] = '\0';
    rc = lic_parse_int((const char *)buf, 0, INT64_MAX / 2, &hwm);
    free(buf);
    if (rc != LIC_OK)
      /* Fail closed: guessing would let a damaged (or edited) file pass. */
      return cli_error(EXIT_FAIL, path, "not a time (damaged?): remove it only if this "
                       "machine's clock is right");
  } else if (rc != LIC_NOTFOUND) {
    return cli_lic_error(path, rc);
  }
  if (now < hwm - LIC_SESSION_ROLLBACK) {
    *behind = hwm - now;
    lic_time_format(hwm, when);
    snprintf(reason, cap, "this machine's clock is %lldh%02lldm behind the latest time a "
             "check saw (%s): set the clock right", (long long)(*behind / 3600),
             (long long)(*behind % 3600 / 60), when);
    return EXIT_OK;
  }
  if (now > hwm) { /* never lowered: a clock a little behind leaves it alone */
    int n = snprintf(text, sizeof text, "%lld\n", (long long)now);
    if ((rc = lic_file_write(path, text, (size_t)n, 0600, 0)) != LIC_OK)
      return cli_lic_error(path, rc);
  }
  return EXIT_OK;
}
