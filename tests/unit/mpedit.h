/* mpedit.h - test helper: re-pack a MessagePack body with one key set,
 * added or deleted (msgpack-c reads our own, trusted output here), to feed
 * the strict parsers one defect at a time. */
#ifndef LIC_TEST_MPEDIT_H
#define LIC_TEST_MPEDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* Packs the new value of the edited key. */
typedef void (*tu_subst_fn)(msgpack_packer *pk, const void *arg);

void tu_s_str(msgpack_packer *pk, const void *a); /* arg: const char * */
void tu_s_int(msgpack_packer *pk, const void *a); /* arg: const int64_t * */
typedef struct {
  const void *p;
  size_t n;
} tu_binarg;
void tu_s_bin(msgpack_packer *pk, const void *a); /* arg: const tu_binarg * */

/* k is the string key s (n bytes). */
bool tu_key_is(const msgpack_object *k, const char *s, size_t n);
/* body (one map, wholly consumed) into out with the key at path ("a" or
 * "a.b") set by fn (added when missing), or deleted when fn is NULL. */
void tu_mp_edit(const uint8_t *body, size_t len, const char *path, tu_subst_fn fn, const void *arg,
                msgpack_sbuffer *out);

#endif
