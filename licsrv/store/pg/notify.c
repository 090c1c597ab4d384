/* store/pg/notify.c - the payload of a change notification on
 * PGS_NOTIFY_CHANNEL (the schema's licsrv_notify() trigger, store/pg/schema.c)
 * read into what the read copy must reload. Pure: no connection, no
 * allocation, so the fuzz target (tests/fuzz/fuzz_srv_notify.c) and the unit
 * tests call it as the listener does. The grammar is exactly the trigger's:
 *
 *   "a " HEX32   an account changed (its id, lower-case hex)
 *   "r " HEX32   the registrations of that account changed
 *   "c" [" "]    certificates changed
 *   "t" [" "]    admin tokens changed (not in the copy)
 *
 * Anything else is LIC_FORMAT: the listener then reloads everything rather
 * than guess which account a garbled payload meant. */
#include <string.h>

#include "lic/err.h"
#include "store/pg/internal.h"

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int pgs__notify_parse(const char *payload, size_t len, pgs_notify *out) {
  memset(out, 0, sizeof *out);
  if (payload == NULL || len == 0)
    return lic_fail(LIC_FORMAT, "notify: empty payload");
  if (len > PGS_NOTIFY_MAX)
    return lic_fail(LIC_FORMAT, "notify: payload of %zu bytes (at most %d)", len, PGS_NOTIFY_MAX);
  char kind = payload[0];
  if (kind == 'c' || kind == 't') {
    if (len > 2 || (len == 2 && payload[1] != ' '))
      return lic_fail(LIC_FORMAT, "notify: '%c' takes no argument", kind);
    out->kind = kind == 'c' ? PGS_NOTIFY_CERTS : PGS_NOTIFY_TOKENS;
    return LIC_OK;
  }
  if (kind != 'a' && kind != 'r')
    return lic_fail(LIC_FORMAT, "notify: unknown kind (not a, r, c or t)");
  if (len != 2 + 2 * LIC_ID_LEN || payload[1] != ' ')
    return lic_fail(LIC_FORMAT, "notify: '%c' wants a space and %d hex digits", kind,
                    2 * LIC_ID_LEN);
  for (size_t i = 0; i < LIC_ID_LEN; i++) {
    int hi = hexval(payload[2 + 2 * i]), lo = hexval(payload[3 + 2 * i]);
    if (hi < 0 || lo < 0) {
      memset(out, 0, sizeof *out);
      return lic_fail(LIC_FORMAT, "notify: account id is not lower-case hex");
    }
    out->id[i] = (uint8_t)(hi << 4 | lo);
  }
  out->kind = kind == 'a' ? PGS_NOTIFY_ACCOUNT : PGS_NOTIFY_REGS;
  return LIC_OK;
}
