/* fuzz_p11uri.c - libFuzzer target for licgen's PKCS#11 URI parser (RFC 7512,
 * licgen/p11uri.c): what --key and keygen --pkcs11 read, often pasted from a
 * token vendor's documentation or another tool's output. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "p11uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 8);
  p11_uri u;

  if (text == NULL)
    return 0;
  /* Half the runs start at the scheme, so the parser gets past it. */
  size_t o = 0;
  if (size > 0 && (data[0] & 1)) {
    memcpy(text, "pkcs11:", 7);
    o = 7;
  }
  memcpy(text + o, data, size);
  text[o + size] = '\0';
  if (p11_uri_parse(text, &u) == LIC_OK) {
    /* what the parser promises: bounded, NUL-terminated text */
    if (strlen(u.token) >= sizeof u.token || strlen(u.object) >= sizeof u.object ||
        u.id_len > sizeof u.id || strlen(u.module_path) >= sizeof u.module_path)
      abort();
  }
  free(text);
  return 0;
}
