/* revlist.h - the vendor's revocation list a worker acts on (DATA/revocations.rev). */
#ifndef SRV_CORE_REVLIST_H
#define SRV_CORE_REVLIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/app.h"

/* How often a worker looks whether DATA/revocations.rev changed (a stat):
 * a list imported while the server runs is acted on within this long. */
#define APP_REVLIST_RECHECK_MS 1000

/* c's list (seq 0, empty, when none), its file in data_dir read again when
 * it changed; whether it changed is looked at only when APP_REVLIST_RECHECK_MS
 * passed since the last look (now_ms: a monotonic clock, in ms), so requests
 * in between cost no system call. *env and *len (when env is not NULL): the
 * envelope bytes, NULL/0 when none. Valid until the next call on c. A file
 * that does not read or parse counts as none, logged (it was verified on import). */
const lic_revocations *app_revlist_get(app_revlist *c, const char *data_dir, int64_t now_ms,
                                       const uint8_t **env, size_t *len);

#endif
