/* store/pg/notify.c - the payload of a change notification on
 * PGS_NOTIFY_CHANNEL (the schema's triggers, store/pg/schema.c) read into
 * what the read copy must reload. Pure: no connection, no allocation, so the
 * fuzz target (tests/fuzz/fuzz_srv_notify.c) and the unit tests call it as
 * the listener does. The grammar is exactly the triggers' (HEX32: an id,
 * HEX16: the writer's origin, lower-case hex):
 *
 *   "a " HEX32 [" " HEX16]           an account changed
 *   "r " HEX32 " " HEX32 [" " HEX16] one registration (account, project)
 *   "c" [" " HEX16]                  certificates changed
 *   "t" [" " HEX16]                  admin tokens changed (not in the copy)
 *   "R " HEX32 " " HEX32 " " INT " " INT " " HEXS " " HEXS [" " HEX16]
 *                                    a registration written, the row itself
 *                                    (account, project id, created,
 *                                    last_valid, project and domain as the
 *                                    hex of their UTF-8 bytes): schema 4
 *   "d " HEX32 " " HEX32 [" " HEX16] a registration deleted: schema 4
 *
 * INT: a non-negative decimal without leading zeros that fits an int64;
 * HEXS: an even number of lower-case hex digits (maybe none) that decode to
 * a string without NUL bytes of at most LIC_MAX_NAME (project) or
 * LIC_MAX_DOMAIN (domain) bytes.
 *
 * and, still accepted (schema version 2's trigger; notifications sent before
 * a `licsrv migrate` may arrive after it): "r " HEX32 (an account's
 * registrations), "c " and "t ".
 *
 * Anything else is LIC_FORMAT: the listener then reloads everything rather
 * than guess which account a garbled payload meant. */
#include <string.h>

#include "lic/err.h"
#include "store/pg/notify.h"

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* " " and n bytes of hex at p (len bytes left) into out. */
static bool hex_field(const char *p, size_t len, uint8_t *out, size_t n) {
  if (len != 1 + 2 * n || p[0] != ' ')
    return false;
  for (size_t i = 0; i < n; i++) {
    int hi = hexval(p[1 + 2 * i]), lo = hexval(p[2 + 2 * i]);
    if (hi < 0 || lo < 0)
      return false;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return true;
}

#define ID_FIELD     (1 + 2 * LIC_ID_LEN)
#define ORIGIN_FIELD (1 + 2 * PGS_ORIGIN_LEN)

/* The optional origin at the end: rest is "" or " " HEX16. */
static bool origin_tail(const char *p, size_t len, pgs_notify *out) {
  if (len == 0)
    return true;
  out->has_origin = hex_field(p, len, out->origin, PGS_ORIGIN_LEN);
  return out->has_origin;
}

static int fail(pgs_notify *out, const char *why) {
  memset(out, 0, sizeof *out);
  return lic_fail(LIC_FORMAT, "notify: %s", why);
}

/* A space, then the token up to the next space or the end: *p and *rest
 * advanced past it, its bytes in tok/tlen. */
static bool token(const char **p, size_t *rest, const char **tok, size_t *tlen) {
  if (*rest == 0 || (*p)[0] != ' ')
    return false;
  size_t n = 1;
  while (n < *rest && (*p)[n] != ' ')
    n++;
  *tok = *p + 1;
  *tlen = n - 1;
  *p += n;
  *rest -= n;
  return true;
}

static bool dec_field(const char *t, size_t n, int64_t *out) {
  uint64_t v = 0;
  if (n == 0 || n > 19 || (n > 1 && t[0] == '0'))
    return false;
  for (size_t i = 0; i < n; i++) {
    if (t[i] < '0' || t[i] > '9')
      return false;
    v = v * 10 + (uint64_t)(t[i] - '0');
  }
  if (v > (uint64_t)INT64_MAX)
    return false;
  *out = (int64_t)v;
  return true;
}

/* hex of a string's bytes into out (cap bytes with its NUL) */
static bool str_field(const char *t, size_t n, char *out, size_t cap) {
  if (n % 2 != 0 || n / 2 >= cap)
    return false;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(t[2 * i]), lo = hexval(t[2 * i + 1]);
    if (hi < 0 || lo < 0 || (hi | lo) == 0)
      return false;
    out[i] = (char)(hi << 4 | lo);
  }
  out[n / 2] = '\0';
  return true;
}

/* "R ...": the row after the two ids (p at the space after the project). */
static int row_parse(const char *p, size_t rest, pgs_notify *out) {
  const char *t[4];
  size_t n[4];
  store_registration *g = &out->row;
  for (int i = 0; i < 4; i++)
    if (!token(&p, &rest, &t[i], &n[i]))
      return fail(out, "'R' wants an account, a project, created, last_valid, project and domain");
  if (!dec_field(t[0], n[0], &g->created) || !dec_field(t[1], n[1], &g->last_valid))
    return fail(out, "'R' wants created and last_valid as decimal numbers");
  if (!str_field(t[2], n[2], g->project, sizeof g->project) ||
      !str_field(t[3], n[3], g->domain, sizeof g->domain))
    return fail(out, "'R' wants project and domain as hex of their bytes (no NUL, not too long)");
  memcpy(g->account, out->id, LIC_ID_LEN);
  memcpy(g->project_id, out->project, LIC_ID_LEN);
  out->kind = PGS_NOTIFY_ROW;
  return origin_tail(p, rest, out) ? LIC_OK : fail(out, "'R' ends with an origin or nothing");
}

int pgs__notify_parse(const char *payload, size_t len, pgs_notify *out) {
  memset(out, 0, sizeof *out);
  if (payload == NULL || len == 0)
    return lic_fail(LIC_FORMAT, "notify: empty payload");
  if (len > PGS_NOTIFY_MAX)
    return lic_fail(LIC_FORMAT, "notify: payload of %zu bytes (at most %d)", len, PGS_NOTIFY_MAX);
  char kind = payload[0];
  const char *p = payload + 1;
  size_t rest = len - 1;
  if (kind == 'c' || kind == 't') {
    out->kind = kind == 'c' ? PGS_NOTIFY_CERTS : PGS_NOTIFY_TOKENS;
    if (rest == 1 && p[0] == ' ')
      return LIC_OK; /* version 2's "c " */
    if (!origin_tail(p, rest, out))
      return kind == 'c' ? fail(out, "'c' takes no argument but an origin")
                         : fail(out, "'t' takes no argument but an origin");
    return LIC_OK;
  }
  if (kind == 'R' || kind == 'd') {
    if (rest < 2 * ID_FIELD || !hex_field(p, ID_FIELD, out->id, LIC_ID_LEN) ||
        !hex_field(p + ID_FIELD, ID_FIELD, out->project, LIC_ID_LEN))
      return kind == 'R' ? fail(out, "'R' wants an account and a project (32 hex digits each)")
                         : fail(out, "'d' wants an account and a project (32 hex digits each)");
    p += 2 * ID_FIELD;
    rest -= 2 * ID_FIELD;
    if (kind == 'R')
      return row_parse(p, rest, out);
    out->kind = PGS_NOTIFY_GONE;
    return origin_tail(p, rest, out) ? LIC_OK : fail(out, "'d' takes two ids and an origin");
  }
  if (kind != 'a' && kind != 'r')
    return fail(out, "unknown kind (not a, r, R, d, c or t)");
  if (rest < ID_FIELD || !hex_field(p, ID_FIELD, out->id, LIC_ID_LEN))
    return fail(out, kind == 'a' ? "'a' wants a space and 32 hex digits"
                                 : "'r' wants a space and 32 hex digits");
  p += ID_FIELD;
  rest -= ID_FIELD;
  if (kind == 'a') {
    out->kind = PGS_NOTIFY_ACCOUNT;
    return origin_tail(p, rest, out) ? LIC_OK : fail(out, "'a' takes an id and an origin");
  }
  if (rest == 0) {
    out->kind = PGS_NOTIFY_REGS; /* version 2: the account's registrations */
    return LIC_OK;
  }
  if (rest < ID_FIELD || !hex_field(p, ID_FIELD, out->project, LIC_ID_LEN))
    return fail(out, "'r' wants an account, a project (32 hex digits each) and an origin");
  out->kind = PGS_NOTIFY_REG;
  return origin_tail(p + ID_FIELD, rest - ID_FIELD, out)
             ? LIC_OK
             : fail(out, "'r' wants an account, a project (32 hex digits each) and an origin");
}
