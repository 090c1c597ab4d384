/* activation.h - designer activation (SPEC §1 mode 4, §3.6): activate a code
 * on this machine and check, at every start, that the activation holds. */
#ifndef LIC_ACTIVATION_H
#define LIC_ACTIVATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/actcode.h"
#include "lic/api.h"
#include "lic/tls.h"
#include "lic/keys.h"
#include "lic/machine.h"

#define LIC_ACTIVATION_NAME "activation" /* file name inside the state directory */
#define LIC_ACTIVATION_TYP  "activation" /* typ field and armor label */
#define LIC_MAX_ACTIVATION  (32 * 1024)  /* bytes of an activation file we read */

/* What an activation says. The file is not signed by the vendor: every field
 * that matters comes from the code, which is re-verified on every check. */
typedef struct {
  char code[LIC_CODE_TEXT_LEN + 1]; /* canonical text of the code */
  int product;
  uint32_t serial;
  int edition;
  int64_t expires;   /* Unix time the code stops working; 0 = never */
  int64_t activated; /* Unix time of activation (from the file) */
  char machine_code[LIC_MACHINE_CODE_LEN + 1];
  size_t nmacs;
  uint8_t macs[LIC_MAX_LOCAL_MACS][LIC_MAC_HASH_LEN];
  bool has_receipt;  /* the file holds a license server's claim receipt */
} lic_activation_info;

/* The activation file bytes (armored MessagePack map, typ "activation") for
 * a code on machine m at time now. *out is malloc'd. */
LIC_API int lic_activation_encode(const lic_code *c, const lic_machine *m, int64_t now,
                                  char **out, size_t *outlen);
/* Read activation file bytes (armored or raw MessagePack), strictly. */
LIC_API int lic_activation_decode(const uint8_t *buf, size_t len, lic_activation_info *info);

/* Activate code on this machine: parse and verify it (trust store, product
 * when >= 0, expiry at now), read the machine (honors LIC_SYSROOT), create
 * state_dir (0700) and write state_dir/activation atomically with mode 0600.
 * Nothing is written unless all of it succeeds. info may be NULL. */
LIC_API int lic_designer_activate(const char *state_dir, const char *code,
                                  const lic_trust *trust, int product, int64_t now,
                                  lic_activation_info *info);

/* The same, with the online claim (SPEC §3.6, docs/activation.md): after the
 * offline checks the code is claimed at server_url (POST /v1/activations) and
 * the server's receipt, checked root -> license -> receipt against trust, is
 * kept in the activation file. Nothing is written unless the claim holds:
 * LIC_EXISTS when the serial is activated on another machine (HTTP 409),
 * LIC_DENIED when the server refused the code, LIC_IO when it cannot be
 * reached. timeout_ms 0 = 10 s. */
LIC_API int lic_designer_activate_online(const char *state_dir, const char *code,
                                         const lic_trust *trust, int product, int64_t now,
                                         const char *server_url, int timeout_ms,
                                         lic_activation_info *info);
/* The same, an https:// server checked as tls says (NULL: the system store). */
LIC_API int lic_designer_activate_online_tls(const char *state_dir, const char *code,
                                             const lic_trust *trust, int product, int64_t now,
                                             const char *server_url, const lic_tls_opts *tls,
                                             int timeout_ms, lic_activation_info *info);

/* The one call a designer makes at start: does the activation in state_dir
 * hold on this machine now? Reads the file, re-verifies the code against the
 * trust store (NULL: the built-in one), the product (< 0: any) and the
 * expiry, and requires the same machine code and at least one current MAC
 * among the recorded ones. LIC_OK, or the reason: LIC_NOTFOUND (not
 * activated), LIC_FORMAT, LIC_TYPO, LIC_NOTGENUINE, LIC_PRODUCT, LIC_EXPIRED,
 * LIC_DENIED (activated on another machine), LIC_MACHINE; lic_errfull(r)
 * gives a one-line explanation. info (may be NULL) is filled whenever the file
 * could be read, even when the check fails. */
LIC_API int lic_designer_check(const char *state_dir, const lic_trust *trust, int product,
                               lic_activation_info *info);

#endif
