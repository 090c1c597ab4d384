/* fileio.h - bounded reads and atomic writes (temp + fsync + rename + dir fsync). */
#ifndef LIC_FILEIO_H
#define LIC_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lic/api.h"

#define LIC_MAX_FILE (1u << 20) /* any license/RIF/key file we read: 1 MiB */

/* Read a whole file of at most max bytes (LIC_LIMIT beyond). *buf is
 * NUL-terminated (not counted in *len); free() it. "-" reads stdin. */
LIC_API int lic_file_read(const char *path, size_t max, uint8_t **buf, size_t *len);

/* lic_file_read for state files: never follows a symlink, never waits on a
 * FIFO, and refuses anything but a regular file (LIC_IO saying what it is). */
LIC_API int lic_file_read_regular(const char *path, size_t max, uint8_t **buf, size_t *len);

#define LIC_WRITE_NOREPLACE 1 /* fail with LIC_EXISTS rather than replace */

/* Write data to path atomically with the given mode: never a partial file.
 * "-" writes stdout. */
LIC_API int lic_file_write(const char *path, const void *data, size_t len, mode_t mode,
                           int flags);

/* LIC_INSECURE when a private file is readable by group or others. */
LIC_API int lic_file_check_private(const char *path);

/* mkdir -p with the given mode for created components. */
LIC_API int lic_mkdirs(const char *path, mode_t mode);

/* Take an exclusive lock on path (created 0600, no symlink followed)
 * without waiting, and write line into it (who holds it: "pid 123"). The
 * lock is a whole-file fcntl OFD lock: it lives as long as *fd is open, dies
 * with the process, so a crash leaves no stale lock, and it excludes the
 * POSIX record locks of other programs too (Java's FileChannel.lock). LIC_OK (*fd kept open), LIC_EXISTS when another
 * holds it (*who gets the holder's first line, "" when unknown), LIC_IO. */
LIC_API int lic_file_lock(const char *path, const char *line, int *fd, char *who, size_t cap);

#endif
