/* cert.h - the online-key certificate (SPEC §3.7) and the public-mode chain
 * root -> cert -> verdict. */
#ifndef LIC_CERT_H
#define LIC_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/api.h"
#include "lic/envelope.h"
#include "lic/keys.h"
#include "lic/util.h"
#include "lic/verdict.h"

#define LIC_CERT_TYP       "cert"
#define LIC_CERT_ROLE      "verdict"  /* the only role there is */
#define LIC_MAX_ROLE       16
#define LIC_CERT_MAX_DAYS  825
#define LIC_CERT_MAX_SPAN  ((int64_t)LIC_CERT_MAX_DAYS * 86400)

typedef struct {
  uint8_t id[LIC_ID_LEN];
  uint8_t pubkey[LIC_PUBKEY_LEN]; /* the certified online key */
  char role[LIC_MAX_ROLE + 1];    /* kept as read; lic_cert_check_verdict wants "verdict" */
  int64_t issued, not_before, expires; /* expires never 0, at most 825 days after not_before */
} lic_cert;

LIC_API int lic_cert_pack(const lic_cert *c, uint8_t **body, size_t *len);
/* Strict parse: window not_before < expires <= not_before + 825 days. A role
 * other than verdict parses (forward compatibility) and fails the checks. */
LIC_API int lic_cert_parse(const uint8_t *body, size_t len, lic_cert *c);
LIC_API int lic_cert_open(const uint8_t *env, size_t len, const lic_trust *t, lic_cert *c);
LIC_API int lic_cert_load(const char *path, const lic_trust *t, lic_cert *c, uint8_t **env_out,
                          size_t *env_len);
/* The cert may sign verdicts at time t: role verdict, t in [not_before, expires). */
LIC_API int lic_cert_usable(const lic_cert *c, int64_t t);

/* root -> cert -> verdict: the cert envelope verifies against the trust
 * store, its role is verdict, the verdict envelope's kid is the kid of the
 * cert's pubkey and its signature verifies with it, and the verdict's time
 * lies inside the cert's window. Both outputs are set only on LIC_OK (cert
 * may be NULL). */
LIC_API int lic_public_chain_check(const uint8_t *cert_env, size_t cert_len,
                                   const uint8_t *verdict_env, size_t verdict_len,
                                   const lic_trust *t, lic_cert *cert, lic_verdict *v);

#endif
