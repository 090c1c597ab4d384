/* fuzz_srv_notify.c - libFuzzer target for the change notification's payload
 * parser (store/pg/notify.c), which reads what arrives on the listener's
 * connection: any bytes, any length, parse or LIC_FORMAT with *out zeroed, and
 * a parsed payload prints back to the same bytes (the grammar has one
 * spelling per meaning: id, project, origin and a row's strings in
 * lower-case hex, its times in decimal without leading zeros). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "store/pg/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* an exact-size copy: a read past the payload is ASan's to catch */
  char *p = malloc(size > 0 ? size : 1);
  pgs_notify n;
  if (p == NULL)
    return 0;
  if (size > 0)
    memcpy(p, data, size);
  int rc = pgs__notify_parse(p, size, &n);
  if (rc == LIC_OK) {
    char back[PGS_NOTIFY_MAX + 1];
    int len;
    if (n.kind == PGS_NOTIFY_ACCOUNT || n.kind == PGS_NOTIFY_REGS || n.kind == PGS_NOTIFY_REG) {
      len = snprintf(back, sizeof back, "%c ", n.kind == PGS_NOTIFY_ACCOUNT ? 'a' : 'r');
      for (size_t i = 0; i < LIC_ID_LEN; i++)
        len += snprintf(back + len, sizeof back - (size_t)len, "%02x", n.id[i]);
      if (n.kind == PGS_NOTIFY_REG) {
        len += snprintf(back + len, sizeof back - (size_t)len, " ");
        for (size_t i = 0; i < LIC_ID_LEN; i++)
          len += snprintf(back + len, sizeof back - (size_t)len, "%02x", n.project[i]);
      } else if (n.kind == PGS_NOTIFY_REGS && n.has_origin) {
        abort(); /* version 2's form carries no origin */
      }
    } else if (n.kind == PGS_NOTIFY_ROW || n.kind == PGS_NOTIFY_GONE) {
      len = snprintf(back, sizeof back, "%c ", n.kind == PGS_NOTIFY_ROW ? 'R' : 'd');
      for (size_t i = 0; i < LIC_ID_LEN; i++)
        len += snprintf(back + len, sizeof back - (size_t)len, "%02x", n.id[i]);
      len += snprintf(back + len, sizeof back - (size_t)len, " ");
      for (size_t i = 0; i < LIC_ID_LEN; i++)
        len += snprintf(back + len, sizeof back - (size_t)len, "%02x", n.project[i]);
      if (n.kind == PGS_NOTIFY_ROW) {
        if (memcmp(n.row.account, n.id, LIC_ID_LEN) != 0 ||
            memcmp(n.row.project_id, n.project, LIC_ID_LEN) != 0 || n.row.created < 0 ||
            n.row.last_valid < 0)
          abort();
        len += snprintf(back + len, sizeof back - (size_t)len, " %lld %lld ",
                        (long long)n.row.created, (long long)n.row.last_valid);
        for (const char *c = n.row.project; *c != '\0'; c++)
          len += snprintf(back + len, sizeof back - (size_t)len, "%02x", (unsigned char)*c);
        len += snprintf(back + len, sizeof back - (size_t)len, " ");
        for (const char *c = n.row.domain; *c != '\0'; c++)
          len += snprintf(back + len, sizeof back - (size_t)len, "%02x", (unsigned char)*c);
      }
    } else if (n.kind == PGS_NOTIFY_CERTS || n.kind == PGS_NOTIFY_TOKENS) {
      len = snprintf(back, sizeof back, "%c%s", n.kind == PGS_NOTIFY_CERTS ? 'c' : 't',
                     size == 2 ? " " : "");
    } else {
      abort(); /* LIC_OK with no kind */
    }
    if (n.has_origin) {
      len += snprintf(back + len, sizeof back - (size_t)len, " ");
      for (size_t i = 0; i < PGS_ORIGIN_LEN; i++)
        len += snprintf(back + len, sizeof back - (size_t)len, "%02x", n.origin[i]);
    }
    if ((size_t)len != size || memcmp(back, p, size) != 0)
      abort();
  } else {
    static const pgs_notify zero;
    if (rc != LIC_FORMAT || memcmp(&n, &zero, sizeof n) != 0)
      abort();
  }
  free(p);
  return 0;
}
