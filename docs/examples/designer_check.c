/* designer_check.c - what a desktop designer does at start: check that its
 * activation holds on this machine (docs/activation.md). Built and run by the
 * test suite (tests/unit/test_activation.c).
 *
 * usage: designer_check STATE_DIR [TRUSTED_PUB.pem] */
#include <stdio.h>

#include "lic/activation.h"
#include "lic/err.h"

#define MY_PRODUCT 42 /* this designer's product id, as issued by licgen codes */

int main(int argc, char **argv) {
  lic_trust trust;
  const lic_trust *t = NULL; /* NULL: the vendor keys compiled into liblic */
  lic_activation_info info;
  int r;

  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: designer_check STATE_DIR [TRUSTED_PUB.pem]\n");
    return 2;
  }
  if (argc == 3) { /* tests trust the test key instead */
    lic_trust_init(&trust);
    if ((r = lic_trust_add_file(&trust, argv[2])) != LIC_OK) {
      fprintf(stderr, "designer: %s: %s\n", argv[2], lic_errfull(r));
      return 2;
    }
    t = &trust;
  }

  r = lic_designer_check(argv[1], t, MY_PRODUCT, &info);
  if (r != LIC_OK) {
    /* e.g. "expired: the code expired on 2027-01-01" or "denied: activated on
     * another machine (...)": show it and offer to enter a code. */
    fprintf(stderr, "designer: not activated: %s\n", lic_errfull(r));
    return 1;
  }
  printf("designer: activated (serial %u, edition %d)\n", (unsigned)info.serial, info.edition);
  return 0;
}
