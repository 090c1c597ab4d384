/* mpedit.c - see mpedit.h. */
#include <stdarg.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "mpedit.h"

void tu_s_str(msgpack_packer *pk, const void *a) {
  const char *s = a;
  msgpack_pack_str(pk, strlen(s));
  msgpack_pack_str_body(pk, s, strlen(s));
}

void tu_s_int(msgpack_packer *pk, const void *a) { msgpack_pack_int64(pk, *(const int64_t *)a); }

void tu_s_bin(msgpack_packer *pk, const void *a) {
  const tu_binarg *b = a;
  msgpack_pack_bin(pk, b->n);
  msgpack_pack_bin_body(pk, b->p, b->n);
}

bool tu_key_is(const msgpack_object *k, const char *s, size_t n) {
  return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, s, n) == 0;
}

static void repack_map(msgpack_packer *pk, const msgpack_object *m, const char *path, tu_subst_fn fn,
                       const void *arg) {
  const char *dot = strchr(path, '.');
  size_t hl = dot ? (size_t)(dot - path) : strlen(path);
  bool found = false;
  assert_int_equal(m->type, MSGPACK_OBJECT_MAP);
  for (uint32_t i = 0; i < m->via.map.size; i++)
    found |= tu_key_is(&m->via.map.ptr[i].key, path, hl);
  size_t n = m->via.map.size;
  if (dot == NULL && fn == NULL && found)
    n--;
  if (dot == NULL && fn != NULL && !found)
    n++;
  msgpack_pack_map(pk, n);
  for (uint32_t i = 0; i < m->via.map.size; i++) {
    const msgpack_object_kv *kv = &m->via.map.ptr[i];
    if (tu_key_is(&kv->key, path, hl)) {
      if (dot != NULL) {
        msgpack_pack_object(pk, kv->key);
        repack_map(pk, &kv->val, dot + 1, fn, arg);
      } else if (fn != NULL) {
        msgpack_pack_object(pk, kv->key);
        fn(pk, arg);
      }
      continue;
    }
    msgpack_pack_object(pk, kv->key);
    msgpack_pack_object(pk, kv->val);
  }
  if (dot == NULL && fn != NULL && !found) {
    msgpack_pack_str(pk, hl);
    msgpack_pack_str_body(pk, path, hl);
    fn(pk, arg);
  }
}

void tu_mp_edit(const uint8_t *body, size_t len, const char *path, tu_subst_fn fn, const void *arg,
                 msgpack_sbuffer *out) {
  msgpack_unpacked u;
  msgpack_packer pk;
  size_t off = 0;
  msgpack_unpacked_init(&u);
  assert_int_equal(msgpack_unpack_next(&u, (const char *)body, len, &off), MSGPACK_UNPACK_SUCCESS);
  assert_int_equal(off, len);
  msgpack_sbuffer_init(out);
  msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
  repack_map(&pk, &u.data, path, fn, arg);
  msgpack_unpacked_destroy(&u);
}
