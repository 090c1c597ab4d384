/* verdict.h - the verdict (SPEC §3.5) a license server signs for every
 * well-formed verify request, and a reusable signer for hot paths. */
#ifndef LIC_VERDICT_H
#define LIC_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "lic/api.h"
#include "lic/keys.h"
#include "lic/limits.h"
#include "lic/mp.h"
#include "lic/status.h"
#include "lic/util.h"

#define LIC_NONCE_MIN 16
#define LIC_NONCE_MAX 64
#define LIC_MAX_REASON 200

typedef struct {
  uint8_t nonce[LIC_NONCE_MAX];
  size_t nonce_len;
  int64_t time;
  bool has_license, has_account;
  uint8_t license[LIC_ID_LEN], account[LIC_ID_LEN];
  char node[LIC_MAX_NAME + 1];
  lic_status status;
  char reason[LIC_MAX_REASON + 1];
  /* Borrowed on pack (from the license); owned after parse. */
  lic_strlist features, domains, apps;
  int64_t *ports;
  size_t nports;
  int64_t expires, heartbeat, grace;
  int64_t seats_used, seats_max;
} lic_verdict;

/* Append the body to sb (a caller-owned buffer, reusable across requests). */
LIC_API int lic_verdict_pack(const lic_verdict *v, msgpack_sbuffer *sb);
/* Strict parse; owns its lists afterwards (lic_verdict_clear). */
LIC_API int lic_verdict_parse(const uint8_t *body, size_t len, lic_verdict *v);
LIC_API void lic_verdict_clear(lic_verdict *v);

/* A signer that keeps its EVP context and scratch buffers between calls: one
 * per server loop, not shared between threads. */
typedef struct lic_signer lic_signer;
LIC_API int lic_signer_new(const lic_key *key, lic_signer **out);
LIC_API void lic_signer_free(lic_signer *s);
/* Seal body as typ into an envelope appended to out. */
LIC_API int lic_signer_seal(lic_signer *s, const char *typ, const uint8_t *body, size_t len,
                            msgpack_sbuffer *out);

#endif
