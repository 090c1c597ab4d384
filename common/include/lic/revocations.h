/* revocations.h - the signed revocation list (SPEC §3.8, docs/formats.md):
 * build, strict parse, open, lookups, and the "newest seen" copy an offline
 * checker keeps in its state directory. */
#ifndef LIC_REVOCATIONS_H
#define LIC_REVOCATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/api.h"
#include "lic/envelope.h"
#include "lic/util.h"

#define LIC_REVOCATIONS_TYP  "revocations"
/* Entries in one list, licenses + accounts + activations together. The
 * ceiling keeps a full list inside LIC_MAX_BODY, the one body limit every
 * reader of envelopes shares (verify responses and session state carry
 * envelopes too): a license or account id costs 18 bytes packed, an
 * activation at most 8, and the rest of the body under 100, so 3600 ids fit
 * in 64 KiB. A vendor needing more starts a new list under a new root. */
#define LIC_REVOKE_MAX_ENTRIES 3600
/* The copy kept in a state directory (raw envelope, mode 0600). */
#define LIC_REVOCATIONS_FILE "revocations.rev"

typedef struct {
  uint8_t product; /* activation code product id (SPEC §3.6) */
  uint32_t serial;
} lic_revoked_activation;

typedef struct {
  int64_t seq;    /* >= 1, one more per list the vendor issues */
  int64_t issued; /* Unix seconds */
  uint8_t *licenses; /* nlicenses ids of LIC_ID_LEN bytes, back to back */
  size_t nlicenses;
  uint8_t *accounts; /* naccounts ids */
  size_t naccounts;
  lic_revoked_activation *activations;
  size_t nactivations;
} lic_revocations;

LIC_API void lic_revocations_clear(lic_revocations *r);
/* The body map of the six keys (typ, seq, issued, licenses, accounts,
 * activations) in that order. */
LIC_API int lic_revocations_pack(const lic_revocations *r, uint8_t **body, size_t *len);
/* Strict parse: every key required with its type, seq and issued >= 1,
 * products 0..255, serials 0..2^32-1, at most LIC_REVOKE_MAX_ENTRIES
 * entries in all; unknown keys ignored. */
LIC_API int lic_revocations_parse(const uint8_t *body, size_t len, lic_revocations *r);
/* Envelope bytes -> verified against the trust store (root keys) -> parsed. */
LIC_API int lic_revocations_open(const uint8_t *env, size_t len, const lic_trust *t,
                                 lic_revocations *r);
/* A file (armored or raw); *env_out (optional) gets the envelope bytes. */
LIC_API int lic_revocations_load(const char *path, const lic_trust *t, lic_revocations *r,
                                 uint8_t **env_out, size_t *env_len);

/* Appending (licgen revoke): an entry already listed is not added twice;
 * LIC_LIMIT past LIC_REVOKE_MAX_ENTRIES. */
LIC_API int lic_revocations_add_license(lic_revocations *r, const uint8_t id[LIC_ID_LEN]);
LIC_API int lic_revocations_add_account(lic_revocations *r, const uint8_t id[LIC_ID_LEN]);
LIC_API int lic_revocations_add_activation(lic_revocations *r, uint8_t product, uint32_t serial);
LIC_API size_t lic_revocations_count(const lic_revocations *r);

LIC_API bool lic_revocations_has_license(const lic_revocations *r, const uint8_t id[LIC_ID_LEN]);
LIC_API bool lic_revocations_has_account(const lic_revocations *r, const uint8_t id[LIC_ID_LEN]);
LIC_API bool lic_revocations_has_activation(const lic_revocations *r, uint8_t product,
                                            uint32_t serial);

/* The newest list of (the one kept in state_dir/LIC_REVOCATIONS_FILE, the
 * given envelope env/len) into *out; env NULL: the kept one only. The given
 * list must open (trust t) or it is the error; a kept file that does not
 * open is an error too (fail closed: a checker never forgets a list because
 * its copy was damaged; remove the file to start over). A given list with a
 * higher seq replaces the kept one atomically (0600; state_dir created 0700
 * when missing); an older one is ignored (*out is the kept one); one with
 * the same seq is ignored when its body is the same and refused with
 * LIC_EXISTS when it differs (two different lists under one number is a
 * signing mistake or a forgery with a leaked key, never an update).
 * LIC_NOTFOUND when neither exists. *replaced (optional) says whether the
 * given list was written. */
LIC_API int lic_revocations_remember(const char *state_dir, const uint8_t *env, size_t len,
                                     const lic_trust *t, lic_revocations *out, bool *replaced);

#endif
