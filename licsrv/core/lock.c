/* lock.c - exclusive locks of `licsrv serve` (lic_file_lock): DATA/serve.lock and
 * a file named by the node key's kid in a runtime directory. The locks (fcntl OFD)
 * go away with the process (no stale lock after a crash); the files keep the
 * holder's PID only so the next one can name it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/lock.h"
#include "lic/err.h"
#include "lic/fileio.h"

int srv_lock_runtime_dir(char *buf, size_t cap) {
  const char *e = getenv("LICSRV_RUNTIME_DIR"), *x = getenv("XDG_RUNTIME_DIR"),
             *t = getenv("TMPDIR");
  int n;
  if (e != NULL && *e != '\0')
    n = snprintf(buf, cap, "%s", e);
  else if (geteuid() == 0)
    n = snprintf(buf, cap, "/run/licsrv");
  else if (x != NULL && *x == '/')
    n = snprintf(buf, cap, "%s/licsrv", x);
  else
    n = snprintf(buf, cap, "%s/licsrv-%u", t != NULL && *t == '/' ? t : "/tmp",
                 (unsigned)geteuid());
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

int srv_lock_data(srv_lock *l, const char *data_dir) {
  char path[PATH_MAX], line[64], who[PATH_MAX + 64];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", data_dir, SRV_LOCK_FILE) >= sizeof path)
    return lic_fail(LIC_LIMIT, "%s: path too long", data_dir);
  snprintf(line, sizeof line, "pid %ld\n", (long)getpid());
  /* any other failure: lic_file_lock's detail names the file and the cause */
  int rc = lic_file_lock(path, line, &l->dir_fd, who, sizeof who);
  if (rc == LIC_EXISTS)
    return lic_fail(rc, "%s: another licsrv serve (%s) is serving this data directory",
                    data_dir, *who ? who : "pid unknown");
  return rc;
}

int srv_lock_node(srv_lock *l, const char *data_dir, const uint8_t kid[LIC_KID_LEN]) {
  char dir[PATH_MAX - 64], path[PATH_MAX], kh[2 * LIC_KID_LEN + 1], line[PATH_MAX + 64],
      who[PATH_MAX + 64], abs[PATH_MAX];
  struct stat st;
  if (srv_lock_runtime_dir(dir, sizeof dir) != 0)
    return lic_fail(LIC_LIMIT, "runtime directory: path too long");
  /* Created for us alone; an existing one must be ours and not writable by
   * others, or anyone could hold our lock or plant a symlink. */
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return lic_fail(LIC_IO, "%s: cannot create the lock directory: %s", dir, strerror(errno));
  if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & 0022) != 0)
    return lic_fail(LIC_INSECURE, "%s: the lock directory must be a directory of this user, "
                    "not writable by others", dir);
  lic_kid_hex(kid, kh);
  snprintf(path, sizeof path, "%s/node-%s.lock", dir, kh);
  snprintf(line, sizeof line, "pid %ld, data %s\n", (long)getpid(),
           realpath(data_dir, abs) != NULL ? abs : data_dir);
  int rc = lic_file_lock(path, line, &l->kid_fd, who, sizeof who);
  if (rc == LIC_EXISTS)
    return lic_fail(rc, "node key %s is already served on this machine (%s): a copy of a "
                    "data directory must not be served beside the original", kh,
                    *who ? who : "pid unknown");
  return rc; /* any other failure: lic_file_lock's detail names the file and the cause */
}

void srv_lock_release(srv_lock *l) {
  if (l->kid_fd >= 0)
    close(l->kid_fd);
  if (l->dir_fd >= 0)
    close(l->dir_fd);
  l->kid_fd = l->dir_fd = -1;
}
