/* fileio.c - bounded file reads and crash-safe atomic writes. */
/* F_OFD_SETLK/F_OFD_SETLKW (Linux >= 3.15) are GNU extensions of <fcntl.h>. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "lic/fileio.h"

static int read_fd(int fd, const char *path, size_t max, uint8_t **buf, size_t *len) {
  size_t cap = 4096, n = 0;
  uint8_t *b = malloc(cap + 1);
  if (b == NULL)
    return LIC_NOMEM;
  for (;;) {
    if (n == cap) {
      if (cap > max) {
        free(b);
        return lic__fail(LIC_LIMIT, "%s: larger than %zu bytes", path, max);
      }
      cap *= 2;
      uint8_t *nb = realloc(b, cap + 1);
      if (nb == NULL) {
        free(b);
        return LIC_NOMEM;
      }
      b = nb;
    }
    ssize_t r = read(fd, b + n, cap - n);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      free(b);
      return lic__fail(LIC_IO, "%s: %s", path, strerror(e));
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  if (n > max) {
    free(b);
    return lic__fail(LIC_LIMIT, "%s: larger than %zu bytes", path, max);
  }
  b[n] = '\0';
  *buf = b;
  *len = n;
  return LIC_OK;
}

int lic_file_read(const char *path, size_t max, uint8_t **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  if (strcmp(path, "-") == 0)
    return read_fd(STDIN_FILENO, "standard input", max, buf, len);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return lic__fail(errno == ENOENT ? LIC_NOTFOUND : LIC_IO, "%s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    return lic__fail(LIC_IO, "%s: is a directory", path);
  }
  int rc = read_fd(fd, path, max, buf, len);
  close(fd);
  return rc;
}

int lic_file_read_regular(const char *path, size_t max, uint8_t **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  /* O_NONBLOCK: opening a FIFO planted at the path returns at once instead
   * of waiting for a writer; O_NOFOLLOW: a symlink is refused, not read. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT)
      return lic__fail(LIC_NOTFOUND, "%s: %s", path, strerror(e));
    return lic__fail(LIC_IO, "%s: %s", path,
                     e == ELOOP ? "is a symbolic link, expected a regular file" : strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return lic__fail(LIC_IO, "%s: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return lic__fail(LIC_IO, "%s: is not a regular file (%s)", path,
                     S_ISDIR(st.st_mode)    ? "a directory"
                     : S_ISFIFO(st.st_mode) ? "a FIFO"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                                            : "another kind of file");
  }
  int rc = read_fd(fd, path, max, buf, len);
  close(fd);
  return rc;
}

static int write_all(int fd, const uint8_t *p, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

static void dir_of(const char *path, char *dir, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL)
    snprintf(dir, cap, ".");
  else if (slash == path)
    snprintf(dir, cap, "/");
  else
    snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

int lic_file_write(const char *path, const void *data, size_t len, mode_t mode, int flags) {
  char tmp[PATH_MAX], dir[PATH_MAX];
  int fd = -1, rc = LIC_OK, dfd;

  if (strcmp(path, "-") == 0) {
    if (write_all(STDOUT_FILENO, data, len) != 0 || fflush(stdout) != 0)
      return lic__fail(LIC_IO, "standard output: %s", strerror(errno));
    return LIC_OK;
  }
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp)
    return lic__fail(LIC_INVALID, "%s: path too long", path);
  dir_of(path, dir, sizeof dir);
  if ((fd = mkstemp(tmp)) < 0)
    return lic__fail(LIC_IO, "%s: %s", path, strerror(errno));
  if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
    rc = lic__fail(LIC_IO, "%s: %s", path, strerror(errno));
    goto fail;
  }
  if (close(fd) != 0) {
    fd = -1;
    rc = lic__fail(LIC_IO, "%s: %s", path, strerror(errno));
    goto fail;
  }
  fd = -1;
  if (flags & LIC_WRITE_NOREPLACE) {
    /* link() refuses an existing name atomically, unlike rename(). */
    if (link(tmp, path) != 0) {
      rc = errno == EEXIST ? lic__fail(LIC_EXISTS, "%s: file exists (not replaced)", path)
                           : lic__fail(LIC_IO, "%s: %s", path, strerror(errno));
      goto fail;
    }
    unlink(tmp);
  } else if (rename(tmp, path) != 0) {
    rc = lic__fail(LIC_IO, "%s: %s", path, strerror(errno));
    goto fail;
  }
  if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return LIC_OK;
fail:
  if (fd >= 0)
    close(fd);
  unlink(tmp);
  return rc;
}

int lic_file_check_private(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return lic__fail(errno == ENOENT ? LIC_NOTFOUND : LIC_IO, "%s: %s", path, strerror(errno));
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    return lic__fail(LIC_INSECURE, "%s has mode %03o, expected 0600 (chmod 600 %s)", path,
                     (unsigned)(st.st_mode & 0777), path);
  return LIC_OK;
}

int lic_mkdirs(const char *path, mode_t mode) {
  char buf[PATH_MAX];
  if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
    return lic__fail(LIC_INVALID, "%s: path too long", path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return lic__fail(LIC_IO, "%s: %s", buf, strerror(errno));
      *p = c;
      if (c == '\0')
        break;
    }
  }
  return LIC_OK;
}

int lic__lock_fd(int fd, bool wait) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET; /* l_start = l_len = 0: the whole file, however long */
  int r;
  while ((r = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl)) != 0 && errno == EINTR)
    ;
  return r;
}

/* The holder's first line, NUL-terminated. */
static void lock_holder(int fd, char *out, size_t cap) {
  ssize_t n = pread(fd, out, cap - 1, 0);
  out[n > 0 ? (size_t)n : 0] = '\0';
  out[strcspn(out, "\n")] = '\0';
}

int lic_file_lock(const char *path, const char *line, int *fdp, char *who, size_t cap) {
  size_t n = strlen(line);
  *fdp = -1;
  if (cap > 0)
    who[0] = '\0';
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return lic_fail(LIC_IO, "%s: cannot open the lock file: %s", path, strerror(errno));
  if (lic__lock_fd(fd, false) != 0) {
    int e = errno;
    bool busy = e == EAGAIN || e == EACCES;
    if (busy && cap > 0)
      lock_holder(fd, who, cap);
    close(fd);
    return busy ? lic_fail(LIC_EXISTS, "%s: locked by another process", path)
                : lic_fail(LIC_IO, "%s: cannot lock: %s", path, strerror(e));
  }
  if (ftruncate(fd, 0) != 0 || pwrite(fd, line, n, 0) != (ssize_t)n) {
    int e = errno;
    close(fd);
    return lic_fail(LIC_IO, "%s: cannot write the lock file: %s", path, strerror(e));
  }
  *fdp = fd;
  return LIC_OK;
}
