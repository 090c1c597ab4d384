/* fuzz_srv_request.c - untrusted verify request bodies through both decoders
 * (licsrv/request.c): MessagePack and JSON, and the invariants a decoded
 * request must hold for decide.c and the verdict signer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "core/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoded request is what route_verify.c trusts without further checks. */
static void check(const srv_verify_req *q) {
  if (q->nonce_len < LIC_NONCE_MIN || q->nonce_len > LIC_NONCE_MAX)
    abort();
  if (q->port < 1 || q->port > 65535)
    abort();
  size_t dl = strnlen(q->domain, sizeof q->domain), nl = strnlen(q->node, sizeof q->node);
  if (dl == 0 || dl > LIC_MAX_DOMAIN || nl == 0 || nl > LIC_MAX_NAME)
    abort();
  if (strnlen(q->app, sizeof q->app) > LIC_MAX_NAME ||
      strnlen(q->version, sizeof q->version) > LIC_MAX_NAME ||
      strnlen(q->token, sizeof q->token) > SRV_MAX_TOKEN)
    abort();
  if ((q->version[0] == '\0') != (q->major == -1))
    abort();
  if (q->has_account && q->has_license)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  srv_verify_req q;
  /* The same bytes through both decoders: a body is either, depending only
   * on its Content-Type. */
  if (srv_verify_req_msgpack(data, size, &q) == LIC_OK)
    check(&q);
  else if (lic_errdetail() == NULL)
    abort();
  if (srv_verify_req_json(data, size, &q) == LIC_OK)
    check(&q);
  else if (lic_errdetail() == NULL)
    abort();
  return 0;
}
