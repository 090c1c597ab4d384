/* testutil.h - helpers for the cmocka unit tests: fixed test keys, temp dirs,
 * fake machines under LIC_SYSROOT. */
#ifndef LIC_TESTUTIL_H
#define LIC_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lic/err.h"
#include "lic/keys.h"

/* Path under the source tree (static buffer per call slot: copy it). */
const char *tu_src(const char *rel);
/* The fixed test root key of keys/test/ (never a production key). */
lic_key *tu_test_root_key(void);
/* A fresh private temp directory (removed by tu_rmtree). */
char *tu_tmpdir(void);
void tu_rmtree(const char *dir);
/* Write a file under dir (creating parents). */
void tu_write(const char *dir, const char *rel, const char *content);
/* A fake machine under dir: machine-id, optional product uuid, and NICs
 * "name=aa:bb:cc:dd:ee:ff[,virtual]" (virtual: no device link). */
void tu_fake_machine(const char *dir, const char *machine_id, const char *uuid,
                     const char *const *nics, size_t n);

#endif
