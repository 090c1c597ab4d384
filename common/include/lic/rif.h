/* rif.h - the registration information file (SPEC §3.2), typ "rif". */
#ifndef LIC_RIF_H
#define LIC_RIF_H

#include <stdint.h>

#include "lic/api.h"
#include "lic/keys.h"
#include "lic/limits.h"
#include "lic/machine.h"
#include "lic/mp.h"
#include "lic/util.h"

typedef struct {
  int64_t created;
  char *product, *version, *project;
  uint8_t project_id[LIC_ID_LEN];
  char code[LIC_MACHINE_CODE_LEN + 1];
  size_t nmacs;
  uint8_t *macs;             /* nmacs * LIC_MAC_HASH_LEN */
  lic_strlist macs_masked;
  uint8_t pubkey[LIC_PUBKEY_LEN];
  char mode_hint[LIC_MAX_MODE + 1]; /* "local" | "private" */
} lic_rif;

LIC_API void lic_rif_clear(lic_rif *r);
/* Body bytes (malloc'd) in the fixed key order. */
LIC_API int lic_rif_pack(const lic_rif *r, uint8_t **body, size_t *len);
LIC_API int lic_rif_parse(const uint8_t *body, size_t len, lic_rif *r);
/* Build a RIF for this machine (lic_machine_read) signed by key, armored. */
LIC_API int lic_rif_make(const lic_machine *m, const char *project, const char *product,
                         const char *version, const uint8_t project_id[LIC_ID_LEN],
                         const char *mode_hint, const lic_key *key, int64_t now,
                         char **armored, size_t *len);
/* Load a RIF file: decode, parse, verify its self-signature (by pubkey), and
 * give the SHA-256 of its body (the license's "rif" field). */
LIC_API int lic_rif_load(const char *path, lic_rif *r, uint8_t body_sha256[32]);
/* Names: 1..LIC_MAX_NAME bytes of UTF-8 with no control characters. */
LIC_API int lic_name_check(const char *what, const char *s);

#endif
