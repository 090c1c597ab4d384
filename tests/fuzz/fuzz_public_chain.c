/* fuzz_public_chain.c - libFuzzer target for the public-mode chain check
 * root -> cert -> verdict: the input's first two bytes (big endian) give the
 * length of the cert envelope that follows; the rest is the verdict (STYLE §3). */
#include <stddef.h>
#include <stdint.h>

#include "lic/cert.h"
#include "lic/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lic_trust t;
  static int ready;
  lic_verdict v;
  lic_cert c;
  if (!ready) {
    /* the test root of keys/test/test-root.pub.pem, raw: the seed corpus is
     * signed with it, so mutations reach the verdict half */
    static const uint8_t root[32] = {
        0xbe, 0x8a, 0xc3, 0x30, 0x53, 0x69, 0xcb, 0x41, 0xb9, 0x9f, 0xf6, 0xd1, 0xbd, 0x9c, 0x7c, 0x70,
        0x8b, 0x0b, 0x12, 0xd7, 0x18, 0xbc, 0xf0, 0xbd, 0x31, 0x50, 0x09, 0x8e, 0x06, 0x3c, 0x45, 0x1d};
    lic_trust_init(&t);
    (void)lic_trust_add_raw(&t, root);
    ready = 1;
  }
  if (size < 2)
    return 0;
  size_t clen = (size_t)data[0] << 8 | data[1];
  if (clen > size - 2)
    clen = size - 2;
  const uint8_t *cert = data + 2, *verdict = cert + clen;
  if (lic_public_chain_check(cert, clen, verdict, size - 2 - clen, &t, &c, &v) == LIC_OK)
    lic_verdict_clear(&v);
  return 0;
}
