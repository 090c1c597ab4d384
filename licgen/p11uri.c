/* p11uri.c - PKCS#11 URIs (RFC 7512): the path names the token and the
 * object (';'-separated attributes), the query the module ('&'-separated);
 * values are %-escaped. Strict: an attribute we do not know, given twice or
 * empty is an error, as a key that silently matched something else would
 * sign with the wrong root. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lic/err.h"
#include "p11uri.h"

static const char SCHEME[] = "pkcs11:";

bool p11_uri_is(const char *s) {
  return s != NULL && strncasecmp(s, SCHEME, sizeof SCHEME - 1) == 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* RFC 7512's characters allowed unescaped in a path value (pk11-pchar) and
 * in a query value (pk11-qchar, which adds '/', '?', '|' and ';'). */
static bool plain(unsigned char c, bool query) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return true;
  if (c != '\0' && strchr("-._~:[]@!$'()*+,=", c) != NULL)
    return true;
  return c != '\0' && (query ? strchr("/?|;", c) != NULL : c == '&');
}

/* Decode v[0..n) (%-escapes) into out (cap bytes; text: NUL-terminated, no
 * NUL inside). The decoded length, or -1 with the error said. */
static long decode(const char *name, const char *v, size_t n, bool query, uint8_t *out,
                   size_t cap, bool text) {
  size_t o = 0, max = text ? cap - 1 : cap;
  if (n == 0) {
    lic_fail(LIC_INVALID, "pkcs11 URI: '%s' has an empty value", name);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    if (c == '%') {
      int hi = i + 2 < n ? hexval(v[i + 1]) : -1;
      int lo = i + 2 < n ? hexval(v[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        lic_fail(LIC_INVALID, "pkcs11 URI: '%s': '%%' must be followed by two hex digits",
                 name);
        return -1;
      }
      c = (unsigned char)(hi << 4 | lo);
      i += 2;
    } else if (!plain(c, query)) {
      lic_fail(LIC_INVALID, "pkcs11 URI: '%s': the character 0x%02x must be %%-escaped", name,
               c);
      return -1;
    }
    if (text && c == 0) {
      lic_fail(LIC_INVALID, "pkcs11 URI: '%s' holds a NUL byte", name);
      return -1;
    }
    if (o >= max) {
      lic_fail(LIC_INVALID, "pkcs11 URI: '%s' is longer than %zu bytes", name, max);
      return -1;
    }
    out[o++] = c;
  }
  if (text)
    out[o] = '\0';
  return (long)o;
}

/* One "name=value" of the path (query false) or the query. */
static int attribute(p11_uri *u, const char *a, size_t n, bool query) {
  const char *eq = memchr(a, '=', n);
  char name[32];
  if (n == 0)
    return lic_fail(LIC_INVALID, "pkcs11 URI: an empty attribute (two '%c' in a row)",
                    query ? '&' : ';');
  if (eq == NULL || eq == a)
    return lic_fail(LIC_INVALID, "pkcs11 URI: '%.*s' is not NAME=VALUE",
                    (int)(n > 40 ? 40 : n), a);
  size_t nl = (size_t)(eq - a), vl = n - nl - 1;
  if (nl >= sizeof name)
    return lic_fail(LIC_INVALID, "pkcs11 URI: unknown attribute '%.31s...'", a);
  memcpy(name, a, nl);
  name[nl] = '\0';
  const char *v = eq + 1;

  static const struct {
    const char *name;
    bool query;
    size_t off, has;
  } text[] = {
#define T(n, q, f) {n, q, offsetof(p11_uri, f), offsetof(p11_uri, has_##f)}
      T("token", false, token),   T("manufacturer", false, manufacturer),
      T("serial", false, serial), T("model", false, model),
      T("object", false, object), T("type", false, type),
      T("module-path", true, module_path),
#undef T
  };
  for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
    if (strcmp(name, text[i].name) != 0 || text[i].query != query)
      continue;
    bool *has = (bool *)((char *)u + text[i].has);
    char *dst = (char *)u + text[i].off;
    size_t cap = strcmp(name, "module-path") == 0 ? sizeof u->module_path : P11URI_MAX_STR;
    if (*has)
      return lic_fail(LIC_INVALID, "pkcs11 URI: '%s' given twice", name);
    if (decode(name, v, vl, query, (uint8_t *)dst, cap, true) < 0)
      return LIC_INVALID;
    *has = true;
    if (strcmp(name, "type") == 0 && strcmp(u->type, "private") != 0 &&
        strcmp(u->type, "public") != 0)
      return lic_fail(LIC_INVALID, "pkcs11 URI: type=%s: a signing key is type=private "
                      "(or leave type out)", u->type);
    return LIC_OK;
  }
  if (!query && strcmp(name, "id") == 0) {
    long len;
    if (u->has_id)
      return lic_fail(LIC_INVALID, "pkcs11 URI: 'id' given twice");
    if ((len = decode(name, v, vl, false, u->id, sizeof u->id, false)) < 0)
      return LIC_INVALID;
    u->id_len = (size_t)len;
    u->has_id = true;
    return LIC_OK;
  }
  if (!query && strcmp(name, "slot-id") == 0) {
    char num[24], *end;
    if (u->has_slot_id)
      return lic_fail(LIC_INVALID, "pkcs11 URI: 'slot-id' given twice");
    if (decode(name, v, vl, false, (uint8_t *)num, sizeof num, true) < 0)
      return LIC_INVALID;
    if (num[0] < '0' || num[0] > '9' ||
        (u->slot_id = strtoul(num, &end, 10), *end != '\0') || u->slot_id == (unsigned long)-1)
      return lic_fail(LIC_INVALID, "pkcs11 URI: slot-id=%s is not a number", num);
    u->has_slot_id = true;
    return LIC_OK;
  }
  if (query && (strcmp(name, "pin-value") == 0 || strcmp(name, "pin-source") == 0))
    return lic_fail(LIC_INVALID, "pkcs11 URI: %s: the PIN never goes in the URI (it would "
                    "show in the process list and the shell history): give --pin-file", name);
  return lic_fail(LIC_INVALID, "pkcs11 URI: unknown %s attribute '%s' (known: token, "
                  "manufacturer, serial, model, slot-id, object, id, type; query: "
                  "module-path)", query ? "query" : "path", name);
}

int p11_uri_parse(const char *s, p11_uri *u) {
  memset(u, 0, sizeof *u);
  if (!p11_uri_is(s))
    return lic_fail(LIC_INVALID, "not a pkcs11: URI");
  size_t total = strlen(s);
  if (total > P11URI_MAX)
    return lic_fail(LIC_INVALID, "pkcs11 URI: longer than %d bytes", P11URI_MAX);
  const char *p = s + sizeof SCHEME - 1, *q = strchr(p, '?');
  const char *pend = q != NULL ? q : s + total;
  int rc;
  /* path: attributes separated by ';' (an empty path is allowed: any token) */
  while (p < pend) {
    const char *e = memchr(p, ';', (size_t)(pend - p));
    if (e == NULL)
      e = pend;
    if ((rc = attribute(u, p, (size_t)(e - p), false)) != LIC_OK)
      return rc;
    p = e < pend ? e + 1 : e;
    if (e < pend && p == pend)
      return lic_fail(LIC_INVALID, "pkcs11 URI: the path ends with ';'");
  }
  if (q != NULL) {
    const char *end = s + total;
    p = q + 1;
    if (p == end)
      return lic_fail(LIC_INVALID, "pkcs11 URI: an empty query after '?'");
    while (p < end) {
      const char *e = memchr(p, '&', (size_t)(end - p));
      if (e == NULL)
        e = end;
      if ((rc = attribute(u, p, (size_t)(e - p), true)) != LIC_OK)
        return rc;
      p = e < end ? e + 1 : e;
      if (e < end && p == end)
        return lic_fail(LIC_INVALID, "pkcs11 URI: the query ends with '&'");
    }
  }
  return LIC_OK;
}
