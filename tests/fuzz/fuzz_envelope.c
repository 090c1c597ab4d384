/* fuzz_envelope.c - libFuzzer target for everything that reads a license,
 * RIF, account, cert or revocation list file: armor, envelope, body and the
 * body parsers (STYLE §3). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lic/account.h"
#include "lic/cert.h"
#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/license.h"
#include "lic/revocations.h"
#include "lic/rif.h"

static void parse_bodies(const uint8_t *p, size_t n) {
  lic_license l;
  lic_rif r;
  lic_account a;
  lic_cert c;
  lic_revocations rv;
  if (lic_license_parse(p, n, &l) == LIC_OK)
    lic_license_clear(&l);
  if (lic_rif_parse(p, n, &r) == LIC_OK)
    lic_rif_clear(&r);
  if (lic_account_parse(p, n, &a) == LIC_OK)
    lic_account_clear(&a);
  (void)lic_cert_parse(p, n, &c);
  if (lic_revocations_parse(p, n, &rv) == LIC_OK)
    lic_revocations_clear(&rv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *bytes = NULL;
  size_t blen = 0;
  lic_envelope env;
  lic_mp_obj body;

  /* The raw input as a body too: the parsers must stand alone. */
  parse_bodies(data, size);
  if (lic_unarmor_any(data, size, &bytes, &blen) != LIC_OK)
    return 0;
  if (lic_envelope_decode(bytes, blen, &env) == LIC_OK) {
    (void)lic_envelope_body(&env, &body);
    parse_bodies(env.body, env.body_len);
  }
  free(bytes);
  return 0;
}
