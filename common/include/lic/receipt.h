/* receipt.h - the online claim of a designer activation code (SPEC §3.6,
 * POST /v1/activations): the signed receipt a license server returns, and the
 * client call that claims a code and checks root -> license -> receipt. */
#ifndef LIC_RECEIPT_H
#define LIC_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "lic/actcode.h"
#include "lic/api.h"
#include "lic/keys.h"
#include "lic/license.h"
#include "lic/machine.h"
#include "lic/tls.h"

#define LIC_RECEIPT_TYP          "receipt"
#define LIC_CLAIM_PATH           "/v1/activations"
#define LIC_CLAIM_MAX_RESPONSE   (256 * 1024)
#define LIC_CLAIM_MAX_MACS       256 /* macs in a claim request (SPEC §3: lists <= 256) */

/* Body of a receipt envelope: the server remembered serial -> machine. */
typedef struct {
  int product;
  uint32_t serial;
  char machine[LIC_MACHINE_CODE_LEN + 1]; /* machine code it is bound to */
  int64_t time;                           /* when the server recorded the claim */
  uint8_t node_kid[LIC_KID_LEN];          /* key id of the node key that signed it */
} lic_receipt;

/* Body map {typ, product, serial, machine, time, node_kid} appended to sb. */
LIC_API int lic_receipt_pack(const lic_receipt *r, msgpack_sbuffer *sb);
/* Strict parse of a (verified) receipt body; unknown keys are ignored. */
LIC_API int lic_receipt_parse(const uint8_t *body, size_t len, lic_receipt *r);

typedef struct {
  int http_status;       /* 0 when no HTTP answer came */
  lic_receipt receipt;   /* checked */
  uint8_t *receipt_env;  /* the receipt envelope bytes (malloc'd), as the server sent them */
  size_t receipt_len;
  lic_license license;   /* the license of the chain that certifies the node key */
} lic_claim_result;

LIC_API void lic_claim_result_clear(lic_claim_result *res);

/* Check a 200 response body {receipt, chain: [license]}: the license is
 * signed by a key of the trust store and certifies a node key, the receipt is
 * signed by that node key, and it is for this code's product and serial on
 * this machine code. */
LIC_API int lic_claim_response_check(const uint8_t *body, size_t len, const lic_trust *trust,
                                     const lic_code *c, const char *machine,
                                     lic_claim_result *res);

/* POST {code, machine, macs} to url + /v1/activations and check the answer.
 * LIC_OK: the claim holds (first claim or the same machine again). LIC_EXISTS:
 * HTTP 409, the serial is activated on another machine. Other codes: the code
 * was refused (LIC_DENIED with the server's message), network or protocol
 * errors, or a response that does not check. timeout_ms 0 = 10 s. */
LIC_API int lic_activation_claim(const char *url, const lic_code *c, const lic_machine *m,
                                 const lic_trust *trust, int timeout_ms, lic_claim_result *res);
/* The same, an https:// server checked as tls says (NULL: the system store). */
LIC_API int lic_activation_claim_tls(const char *url, const lic_tls_opts *tls, const lic_code *c,
                                     const lic_machine *m, const lic_trust *trust, int timeout_ms,
                                     lic_claim_result *res);

#endif
