/* lock.h - one `licsrv serve` per data directory and per node key (SPEC §4.3):
 * two servers enforcing one seat limit each on their own would hand out
 * twice the seats. */
#ifndef LICSRV_LOCK_H
#define LICSRV_LOCK_H

#include <stddef.h>
#include <stdint.h>

#include "lic/keys.h"

typedef struct {
  int dir_fd; /* DATA/serve.lock, locked */
  int kid_fd; /* RUNTIME/node-KID.lock, locked */
} srv_lock;

#define SRV_LOCK_INIT {-1, -1}
#define SRV_LOCK_FILE "serve.lock"

/* The directory of the per-node-key locks: $LICSRV_RUNTIME_DIR, else
 * /run/licsrv for root, else $XDG_RUNTIME_DIR/licsrv, else
 * ${TMPDIR:-/tmp}/licsrv-UID. Written into buf (0, or -1 when too long). */
int srv_lock_runtime_dir(char *buf, size_t cap);

/* Take DATA/serve.lock: LIC_OK, or LIC_EXISTS with a detail naming the
 * process that holds it when its PID is known (LIC_LIMIT, LIC_IO: the detail
 * names the file and the cause). */
int srv_lock_data(srv_lock *l, const char *data_dir);
/* Take the lock of the node key kid (a copy of the data directory holds the
 * same key): LIC_OK, or LIC_EXISTS with a detail naming the other process and
 * its data directory (LIC_LIMIT, LIC_IO, LIC_INSECURE: the runtime directory). */
int srv_lock_node(srv_lock *l, const char *data_dir, const uint8_t kid[LIC_KID_LEN]);
/* Release both (closing the files releases the locks). */
void srv_lock_release(srv_lock *l);

#endif
