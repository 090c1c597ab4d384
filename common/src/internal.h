/* internal.h - helpers shared across liblic files (lic__ prefix), not exported. */
#ifndef LIC_INTERNAL_H
#define LIC_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/err.h"

/* Record a detail line for the current thread and return err (lic_fail). */
#define lic__fail lic_fail
/* Same, appending the OpenSSL error queue's first entry (and clearing it). */
int lic__fail_ssl(int err, const char *what);

/* The OpenSSL key inside a lic_key (actcode.c keeps its own signing context). */
struct evp_pkey_st;
struct lic_key;
struct evp_pkey_st *lic__key_pkey(const struct lic_key *k);

#endif
