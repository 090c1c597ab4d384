/* fuzz_actcode.c - libFuzzer target for what a designer user types or a disk
 * holds: activation code text and the activation file (STYLE §3). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lic/activation.h"
#include "lic/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  lic_code c;
  lic_activation_info info;
  lic_trust none;

  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  lic_trust_init(&none);
  if (lic_code_parse(text, &c) == LIC_OK)
    (void)lic_code_verify(&c, &none, -1, 0);
  (void)lic_activation_decode(data, size, &info);
  free(text);
  return 0;
}
