/* tls.h - how liblic's https:// calls (verify, the activation claim, and
 * every other call to a license server) check the server: the system store
 * (/etc/ssl/certs) or a CA file, with the host name checked, or pinned
 * public keys instead of a CA. http:// URLs ignore these options. */
#ifndef LIC_TLS_H
#define LIC_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "lic/api.h"

#define LIC_TLS_MAX_PINS 16
#define LIC_TLS_PIN_PREFIX "sha256/"

/* Where calls keep the last TLS session of each server they talk to and
 * offer it at the next call, so that a check every heartbeat resumes (no
 * certificate signature, SPEC §4.4) instead of a full handshake. A session
 * is offered only to the same host and port under the same cacert/pins. */
typedef struct lic_tls_resume lic_tls_resume;

typedef struct {
  /* PEM file of the CAs to trust instead of the system store; NULL: the
   * system store. */
  const char *cacert;
  /* "sha256/BASE64" of the server key's SubjectPublicKeyInfo (what
   * `openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst
   * -sha256 -binary | base64` prints). With any pin the certificate chain and
   * the host name are not checked: the server's key must match one pin. */
  const char *const *pins;
  size_t npins;
  /* NULL: every call a full handshake; otherwise the sessions kept (it must
   * outlive the calls that use it; calls on several threads may share it). */
  lic_tls_resume *resume;
} lic_tls_opts;

/* A new, empty place for sessions; LIC_NOMEM. Free with lic_tls_resume_free
 * (NULL: nothing). */
LIC_API int lic_tls_resume_new(lic_tls_resume **out);
LIC_API void lic_tls_resume_free(lic_tls_resume *r);
/* TLS handshakes of the calls that used r: full ones, and resumed ones. */
LIC_API void lic_tls_resume_counts(lic_tls_resume *r, uint64_t *full, uint64_t *resumed);

/* Whether pin is a well-formed "sha256/BASE64" (32 bytes) pin: LIC_OK or
 * LIC_INVALID with a detail line. */
LIC_API int lic_tls_pin_check(const char *pin);

#endif
