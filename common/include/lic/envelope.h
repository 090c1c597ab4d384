/* envelope.h - the signed envelope of SPEC §2.1 and its text armor (§2.2). */
#ifndef LIC_ENVELOPE_H
#define LIC_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/api.h"
#include "lic/keys.h"
#include "lic/mp.h"

#define LIC_MAX_BODY     (64 * 1024)            /* signed body bytes */
#define LIC_MAX_ENVELOPE (LIC_MAX_BODY + 128)   /* whole envelope */
#define LIC_MAX_TYP      16
#define LIC_SIG_DOMAIN   "LICSRV1 "            /* signed: DOMAIN typ "\n" body */

typedef struct {
  char typ[LIC_MAX_TYP + 1];
  uint8_t kid[LIC_KID_LEN];
  const uint8_t *body; /* points into the decoded buffer */
  size_t body_len;
  uint8_t sig[LIC_SIG_LEN];
} lic_envelope;

/* Known envelope types (license, rif, verdict, cert, receipt, account,
 * revocations). */
LIC_API bool lic_typ_known(const char *typ);

/* Strict decode: exactly the keys typ, kid, body, sig with exact types and
 * lengths, no trailing bytes. env->body points into buf. */
LIC_API int lic_envelope_decode(const uint8_t *buf, size_t len, lic_envelope *env);
/* Sign body as typ and encode the envelope (malloc'd). */
LIC_API int lic_envelope_seal(const char *typ, const uint8_t *body, size_t len,
                              const lic_key *key, uint8_t **out, size_t *outlen);
/* Verify with a given public key (its kid must be the envelope's). */
LIC_API int lic_envelope_verify_with(const lic_envelope *env, const uint8_t pub[LIC_PUBKEY_LEN]);
/* Verify with the trust store: LIC_UNTRUSTED when the kid is not in it. */
LIC_API int lic_envelope_verify(const lic_envelope *env, const lic_trust *t);
/* Parse the (already verified) body and check its typ equals the envelope's. */
LIC_API int lic_envelope_body(const lic_envelope *env, lic_mp_obj *body);

/* Armor: comment lines (each prefixed "# "), BEGIN/END LICSRV <TYP>, base64
 * at 64 columns. comments may be NULL; its lines are split on '\n'. */
LIC_API int lic_armor_encode(const char *typ, const char *comments, const uint8_t *data,
                             size_t len, char **out, size_t *outlen);
/* Find the armor in text (prose around it, CRLF, "> " quoting, stray
 * whitespace and a missing final newline are fine) and decode it. typ gets
 * the lower-case label ("license"). */
LIC_API int lic_armor_decode(const uint8_t *text, size_t len, char typ[LIC_MAX_TYP + 1],
                             uint8_t **out, size_t *outlen);
/* Armored text or raw MessagePack: the envelope bytes either way (malloc'd). */
LIC_API int lic_unarmor_any(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen);

/* Read a file holding an armored or raw envelope, decode and verify it against
 * the trust store (or pub when non-NULL), check typ (NULL: any known), and give
 * the file bytes (*raw, to free) the envelope points into. */
LIC_API int lic_envelope_load(const char *path, const char *typ, const lic_trust *t,
                              const uint8_t *pub, uint8_t **raw, lic_envelope *env);

#endif
