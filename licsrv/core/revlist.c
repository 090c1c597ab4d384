/* revlist.c - DATA/revocations.rev as a worker keeps it: parsed once, read
 * again when `licsrv import` replaced it, looked at once a second at most
 * (docs/revocation.md). The verify, claim and admin routes act on it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/revlist.h"
#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/revocations.h"
#include "util/log.h"

static void reload(app_revlist *c, const char *data_dir) {
  char path[PATH_MAX];
  struct stat st;
  int64_t sig[4] = {0, 0, 0, 0};

  if ((size_t)snprintf(path, sizeof path, "%s/%s", data_dir, LIC_REVOCATIONS_FILE) >= sizeof path)
    path[0] = '\0'; /* serve checked the data directory's path: not reached */
  if (path[0] != '\0' && stat(path, &st) == 0) {
    sig[0] = (int64_t)st.st_ino;
    sig[1] = (int64_t)st.st_size;
    sig[2] = (int64_t)st.st_mtim.tv_sec;
    sig[3] = (int64_t)st.st_mtim.tv_nsec;
  }
  if (c->loaded && memcmp(sig, c->sig, sizeof sig) == 0)
    return;
  uint8_t *buf = NULL;
  size_t n = 0;
  lic_revocations rv;
  lic_envelope e;
  free(c->env);
  lic_revocations_clear(&c->rv);
  c->env = NULL;
  c->len = 0;
  memcpy(c->sig, sig, sizeof sig);
  c->loaded = true;
  if (path[0] == '\0')
    return;
  /* Verified by `licsrv import` (under --trust, or what the server trusts)
   * before it was written to the data directory, as a stored license is:
   * read back as it was kept. */
  int rc = lic_file_read_regular(path, LIC_MAX_ENVELOPE, &buf, &n);
  if (rc == LIC_OK && (rc = lic_envelope_decode(buf, n, &e)) == LIC_OK &&
      (rc = strcmp(e.typ, LIC_REVOCATIONS_TYP) == 0 ? LIC_OK : LIC_TYPE) == LIC_OK &&
      (rc = lic_revocations_parse(e.body, e.body_len, &rv)) == LIC_OK) {
    c->rv = rv;
    c->env = buf;
    c->len = n;
    return;
  }
  free(buf);
  if (rc != LIC_NOTFOUND) { /* verified on import: a damaged copy */
    char qp[sizeof path + 100], q[900];
    srv_log(SRV_LOG_WARN, "revocations_unreadable", "file=%s error=%s", SRV_LOG_Q(path, qp),
            SRV_LOG_Q(lic_errfull(rc), q));
  }
}

const lic_revocations *app_revlist_get(app_revlist *c, const char *data_dir, int64_t now_ms,
                                       const uint8_t **env, size_t *len) {
  /* a clock that went back (it does not: monotonic) looks again too */
  if (!c->loaded || now_ms - c->checked_ms >= APP_REVLIST_RECHECK_MS || now_ms < c->checked_ms) {
    c->checked_ms = now_ms;
    reload(c, data_dir);
  }
  if (env != NULL) {
    *env = c->env;
    *len = c->len;
  }
  return &c->rv;
}
