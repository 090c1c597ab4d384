/* fuzz_srv_claim.c - libFuzzer target for the online claim's parsers: the
 * request body licsrv reads (MessagePack and JSON) and the response a
 * designer reads (receipt and chain), STYLE §3. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "lic/receipt.h"
#include "core/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  srv_claim_req *q = malloc(sizeof *q);
  lic_receipt r;
  lic_claim_result res;
  lic_trust none;
  lic_code c;

  if (q == NULL)
    return 0;
  (void)srv_claim_req_msgpack(data, size, q);
  (void)srv_claim_req_json(data, size, q);
  (void)lic_receipt_parse(data, size, &r);
  memset(&c, 0, sizeof c);
  lic_trust_init(&none);
  if (lic_claim_response_check(data, size, &none, &c, "0000-1111-2222-3333", &res) == LIC_OK)
    lic_claim_result_clear(&res);
  free(q);
  return 0;
}
