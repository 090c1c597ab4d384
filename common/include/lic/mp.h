/* mp.h - a bounded MessagePack reader for untrusted bytes, and packing helpers.
 *
 * msgpack-c's unpacker allocates from the counts in array/map headers, so we
 * never hand it network or file bytes. This reader walks the buffer with a
 * (pointer, remaining) cursor, checks every count against the bytes left and a
 * depth limit before anything is read, and allocates nothing. Packing goes
 * through msgpack-c's packer, which is fine. */
#ifndef LIC_MP_H
#define LIC_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "lic/api.h"

#define LIC_MP_MAX_DEPTH 8    /* nesting of maps/arrays in any object we read */
#define LIC_MP_MAX_KEYS  64   /* keys in one map */

typedef struct {
  const uint8_t *p;
  size_t n;
} lic_mp;

typedef enum {
  LIC_MP_NIL, LIC_MP_BOOL, LIC_MP_INT, LIC_MP_FLOAT, LIC_MP_STR, LIC_MP_BIN,
  LIC_MP_ARRAY, LIC_MP_MAP, LIC_MP_EXT, LIC_MP_INVALID
} lic_mp_type;

/* Type of the next value, without consuming it (LIC_MP_INVALID when empty). */
LIC_API lic_mp_type lic_mp_peek(const lic_mp *r);
LIC_API int lic_mp_map(lic_mp *r, uint32_t *count);
LIC_API int lic_mp_array(lic_mp *r, uint32_t *count);
/* A UTF-8 string (validated); *s points into the buffer, not NUL-terminated. */
LIC_API int lic_mp_str(lic_mp *r, const char **s, size_t *len);
LIC_API int lic_mp_bin(lic_mp *r, const uint8_t **b, size_t *len);
/* Any integer encoding; values above INT64_MAX are LIC_LIMIT. */
LIC_API int lic_mp_int(lic_mp *r, int64_t *v);
LIC_API int lic_mp_bool(lic_mp *r, bool *v);
/* Skip one whole value (depth-limited, strings UTF-8-checked). */
LIC_API int lic_mp_skip(lic_mp *r, int depth);

/* A map read into key/value spans: keys are distinct UTF-8 strings. */
typedef struct {
  const char *k;
  size_t klen;
  lic_mp v;
} lic_mp_kv;

typedef struct {
  size_t n;
  lic_mp_kv e[LIC_MP_MAX_KEYS];
} lic_mp_obj;

/* Read one map value into o (depth is the nesting the map itself sits at). */
LIC_API int lic_mp_obj_read(lic_mp *r, lic_mp_obj *o, int depth);
/* Whole-buffer form: the map must end exactly at the end of the buffer. */
LIC_API int lic_mp_obj_parse(const uint8_t *buf, size_t len, lic_mp_obj *o);
LIC_API bool lic_mp_obj_has(const lic_mp_obj *o, const char *key);

/* Typed getters for a required key: LIC_NOTFOUND when absent, LIC_FORMAT for
 * the wrong type, LIC_LIMIT for a length or range violation; the detail line
 * names the key. Strings are copied out NUL-terminated (malloc), embedded NULs
 * rejected. */
LIC_API int lic_mp_get_str(const lic_mp_obj *o, const char *key, size_t minlen,
                           size_t maxlen, char **out);
LIC_API int lic_mp_get_int(const lic_mp_obj *o, const char *key, int64_t min,
                           int64_t max, int64_t *out);
/* Exactly len bytes. */
LIC_API int lic_mp_get_binx(const lic_mp_obj *o, const char *key, uint8_t *out,
                            size_t len);
/* Between minlen and maxlen bytes, pointing into the buffer. */
LIC_API int lic_mp_get_bin(const lic_mp_obj *o, const char *key, size_t minlen,
                           size_t maxlen, const uint8_t **out, size_t *outlen);
LIC_API int lic_mp_get_obj(const lic_mp_obj *o, const char *key, lic_mp_obj *out);

/* A list of owned strings. */
typedef struct {
  size_t n;
  char **v;
} lic_strlist;

LIC_API void lic_strlist_free(lic_strlist *l);
LIC_API int lic_strlist_add(lic_strlist *l, const char *s);
LIC_API int lic_mp_get_strlist(const lic_mp_obj *o, const char *key, size_t maxn,
                               size_t minlen, size_t maxlen, lic_strlist *out);
/* Integers each in [min, max]; *out malloc'd (NULL when empty). */
LIC_API int lic_mp_get_intlist(const lic_mp_obj *o, const char *key, size_t maxn,
                               int64_t min, int64_t max, int64_t **out, size_t *n);
/* Fixed-size binary entries (each exactly width bytes), *out malloc'd. */
LIC_API int lic_mp_get_binlist(const lic_mp_obj *o, const char *key, size_t maxn,
                               size_t width, uint8_t **out, size_t *n);

/* Packing helpers over msgpack-c's packer (return 0 or -1 like msgpack-c). */
LIC_API int lic_mp_pack_cstr(msgpack_packer *pk, const char *s);
LIC_API int lic_mp_pack_bin(msgpack_packer *pk, const void *b, size_t len);
LIC_API int lic_mp_pack_strlist(msgpack_packer *pk, const lic_strlist *l);

/* UTF-8 validity (no overlongs, no surrogates, no code points past U+10FFFF). */
LIC_API bool lic_utf8_valid(const char *s, size_t len);

#endif
