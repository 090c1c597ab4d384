/* fuzz_srv_public_request.c - untrusted register/unregister bodies through
 * both decoders (licsrv/core/request.c) and the invariants routes/public.c
 * relies on after a successful decode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/request.h"
#include "lic/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const srv_verify_req *q, srv_public_kind k) {
  if (q->nonce_len < LIC_NONCE_MIN || q->nonce_len > LIC_NONCE_MAX)
    abort();
  if (!q->has_account || !q->has_project_id || q->has_license || q->token[0] == '\0')
    abort();
  if (strnlen(q->token, sizeof q->token) > SRV_MAX_TOKEN)
    abort();
  size_t nl = strnlen(q->node, sizeof q->node);
  if (nl == 0 || nl > LIC_MAX_NAME)
    abort();
  if (k == SRV_PUB_REGISTER) {
    size_t dl = strnlen(q->domain, sizeof q->domain), pl = strnlen(q->project, sizeof q->project);
    if (dl == 0 || dl > LIC_MAX_DOMAIN || pl == 0 || pl > LIC_MAX_NAME)
      abort();
    if (q->port < 1 || q->port > 65535)
      abort();
    if ((q->version[0] == '\0') != (q->major == -1))
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  srv_verify_req q;
  for (int k = SRV_PUB_REGISTER; k <= SRV_PUB_UNREGISTER; k++) {
    if (srv_public_req_msgpack(data, size, (srv_public_kind)k, &q) == LIC_OK)
      check(&q, (srv_public_kind)k);
    if (srv_public_req_json(data, size, (srv_public_kind)k, &q) == LIC_OK)
      check(&q, (srv_public_kind)k);
  }
  return 0;
}
