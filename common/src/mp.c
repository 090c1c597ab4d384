/* mp.c - bounded MessagePack reader (untrusted input) and packing helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lic/mp.h"

static uint64_t be(const uint8_t *p, size_t w) {
  uint64_t v = 0;
  for (size_t i = 0; i < w; i++)
    v = (v << 8) | p[i];
  return v;
}

/* Consume a header byte plus w big-endian bytes of length/value. */
static int take(lic_mp *r, size_t w, uint64_t *v) {
  if (r->n < 1 + w)
    return lic__fail(LIC_FORMAT, "truncated MessagePack value");
  *v = be(r->p + 1, w);
  r->p += 1 + w;
  r->n -= 1 + w;
  return LIC_OK;
}

lic_mp_type lic_mp_peek(const lic_mp *r) {
  if (r->n == 0)
    return LIC_MP_INVALID;
  uint8_t c = r->p[0];
  if (c <= 0x7f || c >= 0xe0)
    return LIC_MP_INT;
  if (c <= 0x8f)
    return LIC_MP_MAP;
  if (c <= 0x9f)
    return LIC_MP_ARRAY;
  if (c <= 0xbf)
    return LIC_MP_STR;
  switch (c) {
  case 0xc0: return LIC_MP_NIL;
  case 0xc2: case 0xc3: return LIC_MP_BOOL;
  case 0xc4: case 0xc5: case 0xc6: return LIC_MP_BIN;
  case 0xc7: case 0xc8: case 0xc9: return LIC_MP_EXT;
  case 0xca: case 0xcb: return LIC_MP_FLOAT;
  case 0xcc: case 0xcd: case 0xce: case 0xcf:
  case 0xd0: case 0xd1: case 0xd2: case 0xd3: return LIC_MP_INT;
  case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return LIC_MP_EXT;
  case 0xd9: case 0xda: case 0xdb: return LIC_MP_STR;
  case 0xdc: case 0xdd: return LIC_MP_ARRAY;
  case 0xde: case 0xdf: return LIC_MP_MAP;
  default: return LIC_MP_INVALID; /* 0xc1 is never used */
  }
}

static const char *type_name(lic_mp_type t) {
  static const char *const names[] = {"nil", "bool", "int", "float", "str", "bin",
                                      "array", "map", "ext", "invalid byte"};
  return names[t];
}

static int want(const lic_mp *r, lic_mp_type t) {
  lic_mp_type got = lic_mp_peek(r);
  if (got == t)
    return LIC_OK;
  if (got == LIC_MP_INVALID && r->n == 0)
    return lic__fail(LIC_FORMAT, "truncated MessagePack value");
  return lic__fail(LIC_FORMAT, "expected %s, found %s", type_name(t), type_name(got));
}

int lic_mp_map(lic_mp *r, uint32_t *count) {
  uint64_t v;
  int rc;
  if ((rc = want(r, LIC_MP_MAP)) != LIC_OK)
    return rc;
  uint8_t c = r->p[0];
  if (c <= 0x8f)
    rc = take(r, 0, &v), v = c & 0x0f;
  else
    rc = take(r, c == 0xde ? 2 : 4, &v);
  if (rc != LIC_OK)
    return rc;
  /* Every entry needs at least two bytes: reject impossible counts before
   * anyone loops or allocates on them. */
  if (v > r->n / 2)
    return lic__fail(LIC_FORMAT, "map claims %llu entries in %zu bytes",
                     (unsigned long long)v, r->n);
  *count = (uint32_t)v;
  return LIC_OK;
}

int lic_mp_array(lic_mp *r, uint32_t *count) {
  uint64_t v;
  int rc;
  if ((rc = want(r, LIC_MP_ARRAY)) != LIC_OK)
    return rc;
  uint8_t c = r->p[0];
  if (c <= 0x9f)
    rc = take(r, 0, &v), v = c & 0x0f;
  else
    rc = take(r, c == 0xdc ? 2 : 4, &v);
  if (rc != LIC_OK)
    return rc;
  if (v > r->n)
    return lic__fail(LIC_FORMAT, "array claims %llu entries in %zu bytes",
                     (unsigned long long)v, r->n);
  *count = (uint32_t)v;
  return LIC_OK;
}

static int raw(lic_mp *r, size_t w, uint64_t fixlen, const uint8_t **b, size_t *len) {
  uint64_t v;
  int rc = take(r, w, &v);
  if (rc != LIC_OK)
    return rc;
  if (w == 0)
    v = fixlen;
  if (v > r->n)
    return lic__fail(LIC_FORMAT, "truncated MessagePack value");
  *b = r->p;
  *len = (size_t)v;
  r->p += v;
  r->n -= v;
  return LIC_OK;
}

int lic_mp_str(lic_mp *r, const char **s, size_t *len) {
  const uint8_t *b;
  int rc;
  if ((rc = want(r, LIC_MP_STR)) != LIC_OK)
    return rc;
  uint8_t c = r->p[0];
  if (c <= 0xbf)
    rc = raw(r, 0, c & 0x1f, &b, len);
  else
    rc = raw(r, c == 0xd9 ? 1 : c == 0xda ? 2 : 4, 0, &b, len);
  if (rc != LIC_OK)
    return rc;
  if (!lic_utf8_valid((const char *)b, *len))
    return lic__fail(LIC_FORMAT, "string is not valid UTF-8");
  *s = (const char *)b;
  return LIC_OK;
}

int lic_mp_bin(lic_mp *r, const uint8_t **b, size_t *len) {
  int rc;
  if ((rc = want(r, LIC_MP_BIN)) != LIC_OK)
    return rc;
  uint8_t c = r->p[0];
  return raw(r, c == 0xc4 ? 1 : c == 0xc5 ? 2 : 4, 0, b, len);
}

int lic_mp_int(lic_mp *r, int64_t *out) {
  uint64_t v;
  int rc;
  if ((rc = want(r, LIC_MP_INT)) != LIC_OK)
    return rc;
  uint8_t c = r->p[0];
  if (c <= 0x7f) {
    *out = c;
    return take(r, 0, &v);
  }
  if (c >= 0xe0) {
    *out = (int8_t)c;
    return take(r, 0, &v);
  }
  switch (c) {
  case 0xcc: case 0xcd: case 0xce: case 0xcf:
    if ((rc = take(r, (size_t)1 << (c - 0xcc), &v)) != LIC_OK)
      return rc;
    if (v > INT64_MAX)
      return lic__fail(LIC_LIMIT, "integer out of range");
    *out = (int64_t)v;
    return LIC_OK;
  default: { /* 0xd0..0xd3 */
    size_t w = (size_t)1 << (c - 0xd0);
    if ((rc = take(r, w, &v)) != LIC_OK)
      return rc;
    if (w < 8 && (v & ((uint64_t)1 << (w * 8 - 1))))
      v |= ~(uint64_t)0 << (w * 8); /* sign-extend */
    memcpy(out, &v, sizeof v);
    return LIC_OK;
  }
  }
}

int lic_mp_bool(lic_mp *r, bool *out) {
  uint64_t v;
  int rc;
  if ((rc = want(r, LIC_MP_BOOL)) != LIC_OK)
    return rc;
  *out = r->p[0] == 0xc3;
  return take(r, 0, &v);
}

int lic_mp_skip(lic_mp *r, int depth) {
  const uint8_t *b;
  size_t len;
  uint64_t v;
  uint32_t n;
  int rc;

  if (depth > LIC_MP_MAX_DEPTH)
    return lic__fail(LIC_LIMIT, "MessagePack nested deeper than %d", LIC_MP_MAX_DEPTH);
  if (r->n == 0)
    return lic__fail(LIC_FORMAT, "truncated MessagePack value");
  uint8_t c = r->p[0];
  switch (lic_mp_peek(r)) {
  case LIC_MP_NIL:
  case LIC_MP_BOOL:
    return take(r, 0, &v);
  case LIC_MP_INT: {
    int64_t i;
    rc = lic_mp_int(r, &i);
    return rc == LIC_LIMIT ? LIC_OK : rc; /* consumed; a big uint is still a value */
  }
  case LIC_MP_FLOAT:
    return take(r, c == 0xca ? 4 : 8, &v);
  case LIC_MP_STR: {
    const char *s;
    return lic_mp_str(r, &s, &len);
  }
  case LIC_MP_BIN:
    return lic_mp_bin(r, &b, &len);
  case LIC_MP_EXT:
    if (c >= 0xd4 && c <= 0xd8) /* fixext: type byte + 1..16 bytes */
      return raw(r, 0, 1 + ((uint64_t)1 << (c - 0xd4)), &b, &len);
    if ((rc = raw(r, c == 0xc7 ? 1 : c == 0xc8 ? 2 : 4, 0, &b, &len)) != LIC_OK)
      return rc;
    if (r->n < 1)
      return lic__fail(LIC_FORMAT, "truncated MessagePack value");
    r->p++, r->n--; /* the ext type byte follows the length in the header */
    return LIC_OK;
  case LIC_MP_ARRAY:
    if ((rc = lic_mp_array(r, &n)) != LIC_OK)
      return rc;
    for (uint32_t i = 0; i < n; i++)
      if ((rc = lic_mp_skip(r, depth + 1)) != LIC_OK)
        return rc;
    return LIC_OK;
  case LIC_MP_MAP:
    if ((rc = lic_mp_map(r, &n)) != LIC_OK)
      return rc;
    for (uint64_t i = 0; i < (uint64_t)n * 2; i++)
      if ((rc = lic_mp_skip(r, depth + 1)) != LIC_OK)
        return rc;
    return LIC_OK;
  default:
    return lic__fail(LIC_FORMAT, "invalid MessagePack byte 0x%02x", c);
  }
}

int lic_mp_obj_read(lic_mp *r, lic_mp_obj *o, int depth) {
  uint32_t n;
  int rc;

  o->n = 0;
  if (depth > LIC_MP_MAX_DEPTH)
    return lic__fail(LIC_LIMIT, "MessagePack nested deeper than %d", LIC_MP_MAX_DEPTH);
  if ((rc = lic_mp_map(r, &n)) != LIC_OK)
    return rc;
  if (n > LIC_MP_MAX_KEYS)
    return lic__fail(LIC_LIMIT, "map has %u keys (at most %d)", n, LIC_MP_MAX_KEYS);
  for (uint32_t i = 0; i < n; i++) {
    lic_mp_kv *kv = &o->e[i];
    if (lic_mp_peek(r) != LIC_MP_STR)
      return lic__fail(LIC_FORMAT, "map key is not a string");
    if ((rc = lic_mp_str(r, &kv->k, &kv->klen)) != LIC_OK)
      return rc;
    for (uint32_t j = 0; j < i; j++)
      if (o->e[j].klen == kv->klen && memcmp(o->e[j].k, kv->k, kv->klen) == 0)
        return lic__fail(LIC_FORMAT, "duplicate map key '%.*s'", (int)(kv->klen > 40 ? 40 : kv->klen), kv->k);
    const uint8_t *start = r->p;
    if ((rc = lic_mp_skip(r, depth + 1)) != LIC_OK)
      return rc;
    kv->v.p = start;
    kv->v.n = (size_t)(r->p - start);
    o->n = i + 1;
  }
  return LIC_OK;
}

int lic_mp_obj_parse(const uint8_t *buf, size_t len, lic_mp_obj *o) {
  lic_mp r = {buf, len};
  int rc = lic_mp_obj_read(&r, o, 0);
  if (rc == LIC_OK && r.n != 0)
    rc = lic__fail(LIC_FORMAT, "%zu trailing bytes after the map", r.n);
  return rc;
}

static const lic_mp_kv *find(const lic_mp_obj *o, const char *key) {
  size_t kl = strlen(key);
  for (size_t i = 0; i < o->n; i++)
    if (o->e[i].klen == kl && memcmp(o->e[i].k, key, kl) == 0)
      return &o->e[i];
  return NULL;
}

bool lic_mp_obj_has(const lic_mp_obj *o, const char *key) { return find(o, key) != NULL; }

/* Locate a required key and give a cursor on its value. */
static int field(const lic_mp_obj *o, const char *key, lic_mp *v) {
  const lic_mp_kv *kv = find(o, key);
  if (kv == NULL)
    return lic__fail(LIC_NOTFOUND, "missing key '%s'", key);
  *v = kv->v;
  return LIC_OK;
}

/* Prefix the detail of a failed read with the key it was for. */
static int keyed(int rc, const char *key) {
  char d[320];
  snprintf(d, sizeof d, "%s", lic_errdetail());
  return lic__fail(rc, "key '%s': %s", key, d);
}

static int str_value(lic_mp *v, const char *key, size_t minlen, size_t maxlen, char **out) {
  const char *s;
  size_t len;
  int rc = lic_mp_str(v, &s, &len);
  if (rc != LIC_OK)
    return keyed(rc, key);
  if (len < minlen || len > maxlen)
    return lic__fail(LIC_LIMIT, "key '%s': length %zu outside %zu..%zu", key, len, minlen, maxlen);
  if (memchr(s, '\0', len) != NULL)
    return lic__fail(LIC_FORMAT, "key '%s': string holds a NUL byte", key);
  char *c = malloc(len + 1);
  if (c == NULL)
    return LIC_NOMEM;
  memcpy(c, s, len);
  c[len] = '\0';
  *out = c;
  return LIC_OK;
}

int lic_mp_get_str(const lic_mp_obj *o, const char *key, size_t minlen, size_t maxlen,
                   char **out) {
  lic_mp v;
  int rc;
  *out = NULL;
  if ((rc = field(o, key, &v)) != LIC_OK)
    return rc;
  return str_value(&v, key, minlen, maxlen, out);
}

static int int_value(lic_mp *v, const char *key, int64_t min, int64_t max, int64_t *out) {
  int64_t i;
  int rc = lic_mp_int(v, &i);
  if (rc != LIC_OK)
    return keyed(rc, key);
  if (i < min || i > max)
    return lic__fail(LIC_LIMIT, "key '%s': %lld outside %lld..%lld", key, (long long)i,
                     (long long)min, (long long)max);
  *out = i;
  return LIC_OK;
}

int lic_mp_get_int(const lic_mp_obj *o, const char *key, int64_t min, int64_t max,
                   int64_t *out) {
  lic_mp v;
  int rc;
  if ((rc = field(o, key, &v)) != LIC_OK)
    return rc;
  return int_value(&v, key, min, max, out);
}

int lic_mp_get_bin(const lic_mp_obj *o, const char *key, size_t minlen, size_t maxlen,
                   const uint8_t **out, size_t *outlen) {
  lic_mp v;
  int rc;
  if ((rc = field(o, key, &v)) != LIC_OK)
    return rc;
  if ((rc = lic_mp_bin(&v, out, outlen)) != LIC_OK)
    return keyed(rc, key);
  if (*outlen < minlen || *outlen > maxlen)
    return lic__fail(LIC_FORMAT, "key '%s': %zu bytes, expected %zu..%zu", key, *outlen,
                     minlen, maxlen);
  return LIC_OK;
}

int lic_mp_get_binx(const lic_mp_obj *o, const char *key, uint8_t *out, size_t len) {
  const uint8_t *b;
  size_t n;
  int rc = lic_mp_get_bin(o, key, len, len, &b, &n);
  if (rc == LIC_OK)
    memcpy(out, b, len);
  return rc;
}

int lic_mp_get_obj(const lic_mp_obj *o, const char *key, lic_mp_obj *out) {
  lic_mp v;
  int rc;
  if ((rc = field(o, key, &v)) != LIC_OK)
    return rc;
  if ((rc = lic_mp_obj_read(&v, out, 1)) != LIC_OK)
    return keyed(rc, key);
  return LIC_OK;
}

static int list_header(const lic_mp_obj *o, const char *key, size_t maxn, lic_mp *v,
                       uint32_t *n) {
  int rc;
  if ((rc = field(o, key, v)) != LIC_OK)
    return rc;
  if ((rc = lic_mp_array(v, n)) != LIC_OK)
    return keyed(rc, key);
  if (*n > maxn)
    return lic__fail(LIC_LIMIT, "key '%s': %u entries (at most %zu)", key, *n, maxn);
  return LIC_OK;
}

void lic_strlist_free(lic_strlist *l) {
  if (l == NULL)
    return;
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

int lic_strlist_add(lic_strlist *l, const char *s) {
  char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
  if (nv == NULL)
    return LIC_NOMEM;
  l->v = nv;
  if ((nv[l->n] = strdup(s)) == NULL)
    return LIC_NOMEM;
  l->n++;
  return LIC_OK;
}

int lic_mp_get_strlist(const lic_mp_obj *o, const char *key, size_t maxn, size_t minlen,
                       size_t maxlen, lic_strlist *out) {
  lic_mp v;
  uint32_t n;
  int rc;

  out->n = 0;
  out->v = NULL;
  if ((rc = list_header(o, key, maxn, &v, &n)) != LIC_OK)
    return rc;
  if (n == 0)
    return LIC_OK;
  if ((out->v = calloc(n, sizeof *out->v)) == NULL)
    return LIC_NOMEM;
  for (uint32_t i = 0; i < n; i++) {
    if ((rc = str_value(&v, key, minlen, maxlen, &out->v[i])) != LIC_OK) {
      lic_strlist_free(out);
      return rc;
    }
    out->n = i + 1;
  }
  return LIC_OK;
}

int lic_mp_get_intlist(const lic_mp_obj *o, const char *key, size_t maxn, int64_t min,
                       int64_t max, int64_t **out, size_t *outn) {
  lic_mp v;
  uint32_t n;
  int rc;

  *out = NULL;
  *outn = 0;
  if ((rc = list_header(o, key, maxn, &v, &n)) != LIC_OK)
    return rc;
  if (n == 0)
    return LIC_OK;
  int64_t *a = calloc(n, sizeof *a);
  if (a == NULL)
    return LIC_NOMEM;
  for (uint32_t i = 0; i < n; i++)
    if ((rc = int_value(&v, key, min, max, &a[i])) != LIC_OK) {
      free(a);
      return rc;
    }
  *out = a;
  *outn = n;
  return LIC_OK;
}

int lic_mp_get_binlist(const lic_mp_obj *o, const char *key, size_t maxn, size_t width,
                       uint8_t **out, size_t *outn) {
  lic_mp v;
  uint32_t n;
  int rc;

  *out = NULL;
  *outn = 0;
  if ((rc = list_header(o, key, maxn, &v, &n)) != LIC_OK)
    return rc;
  if (n == 0)
    return LIC_OK;
  uint8_t *a = malloc((size_t)n * width);
  if (a == NULL)
    return LIC_NOMEM;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *b;
    size_t len;
    if ((rc = lic_mp_bin(&v, &b, &len)) != LIC_OK || len != width) {
      free(a);
      return rc != LIC_OK ? keyed(rc, key)
                          : lic__fail(LIC_FORMAT, "key '%s': entry %u has %zu bytes, expected %zu",
                                      key, i, len, width);
    }
    memcpy(a + (size_t)i * width, b, width);
  }
  *out = a;
  *outn = n;
  return LIC_OK;
}

int lic_mp_pack_cstr(msgpack_packer *pk, const char *s) {
  size_t n = strlen(s);
  if (msgpack_pack_str(pk, n) != 0)
    return -1;
  return msgpack_pack_str_body(pk, s, n);
}

int lic_mp_pack_bin(msgpack_packer *pk, const void *b, size_t len) {
  if (msgpack_pack_bin(pk, len) != 0)
    return -1;
  return msgpack_pack_bin_body(pk, b, len);
}

int lic_mp_pack_strlist(msgpack_packer *pk, const lic_strlist *l) {
  if (msgpack_pack_array(pk, l->n) != 0)
    return -1;
  for (size_t i = 0; i < l->n; i++)
    if (lic_mp_pack_cstr(pk, l->v[i]) != 0)
      return -1;
  return 0;
}

bool lic_utf8_valid(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    uint32_t cp;
    size_t need;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      need = 1, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (len - i <= need)
      return false;
    for (size_t k = 1; k <= need; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += need + 1;
  }
  return true;
}
