/* armor.c - text armor for mail (SPEC §2.2): tolerant reader, strict writer. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lic/b64.h"
#include "lic/envelope.h"
#include "lic/fileio.h"

#define BEGIN "-----BEGIN LICSRV "
#define END   "-----END LICSRV "
#define DASHES "-----"

typedef struct {
  char *p;
  size_t n, cap;
} sbuf;

static int put(sbuf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = (b->n + n + 1) * 2;
    char *np = realloc(b->p, cap);
    if (np == NULL)
      return LIC_NOMEM;
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
  return LIC_OK;
}

static int puts_(sbuf *b, const char *s) { return put(b, s, strlen(s)); }

int lic_armor_encode(const char *typ, const char *comments, const uint8_t *data, size_t len,
                     char **out, size_t *outlen) {
  sbuf b = {0};
  char label[LIC_MAX_TYP + 1], *b64 = NULL;
  size_t b64len, tl = strlen(typ);
  int rc = LIC_NOMEM;

  *out = NULL;
  *outlen = 0;
  if (tl == 0 || tl > LIC_MAX_TYP)
    return lic__fail(LIC_INVALID, "bad armor label");
  for (size_t i = 0; i <= tl; i++)
    label[i] = (char)toupper((unsigned char)typ[i]);
  if (comments != NULL) {
    for (const char *p = comments; *p != '\0';) {
      size_t n = strcspn(p, "\n");
      if (puts_(&b, "# ") || put(&b, p, n) || puts_(&b, "\n"))
        goto out;
      p += n + (p[n] == '\n');
    }
  }
  if ((rc = lic_b64_encode(data, len, LIC_B64_STD, &b64, &b64len)) != LIC_OK)
    goto out;
  rc = LIC_NOMEM;
  if (puts_(&b, BEGIN) || puts_(&b, label) || puts_(&b, DASHES "\n"))
    goto out;
  for (size_t i = 0; i < b64len; i += 64)
    if (put(&b, b64 + i, b64len - i < 64 ? b64len - i : 64) || puts_(&b, "\n"))
      goto out;
  if (puts_(&b, END) || puts_(&b, label) || puts_(&b, DASHES "\n"))
    goto out;
  *out = b.p;
  *outlen = b.n;
  b.p = NULL;
  rc = LIC_OK;
out:
  free(b.p);
  free(b64);
  return rc;
}

/* One line of text, with mail quoting ("> ", ">>") and surrounding blanks
 * stripped. */
static void line_trim(const char **s, size_t *n) {
  const char *p = *s, *e = *s + *n;
  while (p < e && (*p == ' ' || *p == '\t' || *p == '>'))
    p++;
  while (e > p && isspace((unsigned char)e[-1]))
    e--;
  *s = p;
  *n = (size_t)(e - p);
}

static bool starts(const char *s, size_t n, const char *pre) {
  size_t pl = strlen(pre);
  return n >= pl && memcmp(s, pre, pl) == 0;
}

/* Label between prefix and the closing dashes, lower-cased into typ. */
static int label_of(const char *s, size_t n, const char *pre, char typ[LIC_MAX_TYP + 1]) {
  size_t pl = strlen(pre);
  if (n < pl + 5 + 1 || memcmp(s + n - 5, DASHES, 5) != 0)
    return lic__fail(LIC_FORMAT, "malformed armor line");
  size_t ll = n - pl - 5;
  if (ll > LIC_MAX_TYP)
    return lic__fail(LIC_FORMAT, "armor label too long");
  for (size_t i = 0; i < ll; i++) {
    char c = s[pl + i];
    if (!isalpha((unsigned char)c))
      return lic__fail(LIC_FORMAT, "malformed armor label");
    typ[i] = (char)tolower((unsigned char)c);
  }
  typ[ll] = '\0';
  return LIC_OK;
}

int lic_armor_decode(const uint8_t *text, size_t len, char typ[LIC_MAX_TYP + 1], uint8_t **out,
                     size_t *outlen) {
  const char *p = (const char *)text, *end = p + len;
  char endtyp[LIC_MAX_TYP + 1];
  sbuf b64 = {0};
  bool inside = false;
  int rc;

  *out = NULL;
  *outlen = 0;
  typ[0] = '\0';
  if (len > LIC_MAX_FILE)
    return lic__fail(LIC_LIMIT, "armored text larger than %u bytes", LIC_MAX_FILE);
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *s = p;
    size_t n = (size_t)((nl != NULL ? nl : end) - p);
    p = nl != NULL ? nl + 1 : end;
    line_trim(&s, &n);
    if (!inside) {
      if (starts(s, n, BEGIN)) {
        if ((rc = label_of(s, n, BEGIN, typ)) != LIC_OK)
          return rc;
        inside = true;
      }
      continue;
    }
    if (starts(s, n, END)) {
      if ((rc = label_of(s, n, END, endtyp)) != LIC_OK)
        goto out;
      if (strcmp(endtyp, typ) != 0) {
        rc = lic__fail(LIC_FORMAT, "armor BEGIN %s ends with END %s", typ, endtyp);
        goto out;
      }
      if (b64.n == 0) {
        rc = lic__fail(LIC_FORMAT, "empty armor");
        goto out;
      }
      rc = lic_b64_decode(b64.p, b64.n, out, outlen);
      goto out;
    }
    /* Base64 text: drop inner whitespace (mail clients add it). */
    for (size_t i = 0; i < n; i++) {
      if (isspace((unsigned char)s[i]))
        continue;
      if ((rc = put(&b64, &s[i], 1)) != LIC_OK)
        goto out;
    }
  }
  rc = lic__fail(LIC_FORMAT, inside ? "armor has no END line (truncated?)"
                                    : "no LICSRV armor and not a MessagePack envelope");
out:
  free(b64.p);
  return rc;
}

int lic_unarmor_any(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen) {
  char typ[LIC_MAX_TYP + 1];
  *out = NULL;
  *outlen = 0;
  if (len > 0 && buf[0] >= 0x80 && buf[0] <= 0x8f) { /* a fixmap: raw MessagePack */
    if ((*out = malloc(len)) == NULL)
      return LIC_NOMEM;
    memcpy(*out, buf, len);
    *outlen = len;
    return LIC_OK;
  }
  return lic_armor_decode(buf, len, typ, out, outlen);
}
