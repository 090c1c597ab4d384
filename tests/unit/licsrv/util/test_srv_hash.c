/* test_srv_hash.c - util/hash.c is FNV-1a: the published test vectors of its
 * authors (isthe.com/chongo/tech/comp/fnv), and chaining equals one pass. */
#include <string.h>

#include "util/hash.h"
#include "testutil.h"

typedef struct {
  const char *in;
  uint64_t h64;
  uint32_t h32;
} vec;

static const vec vecs[] = {
    {"", 0xcbf29ce484222325ull, 0x811c9dc5u},
    {"a", 0xaf63dc4c8601ec8cull, 0xe40c292cu},
    {"b", 0xaf63df4c8601f1a5ull, 0xe70c2de5u},
    {"foobar", 0x85944171f73967e8ull, 0xbf9cf968u},
};

static void test_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
    size_t n = strlen(vecs[i].in);
    assert_int_equal(srv_fnv1a64(SRV_FNV64_BASIS, vecs[i].in, n), vecs[i].h64);
    assert_int_equal(srv_fnv1a64_str(SRV_FNV64_BASIS, vecs[i].in), vecs[i].h64);
    assert_int_equal(srv_fnv1a32(vecs[i].in, n), vecs[i].h32);
  }
}

/* Two fields hashed one after the other are the hash of their concatenation
 * (seats and the batch key a license id then a node name). */
static void test_chain(void **state) {
  (void)state;
  const uint8_t id[4] = {0x00, 0xff, 0x10, 0x80};
  uint8_t cat[4 + 5];
  memcpy(cat, id, 4);
  memcpy(cat + 4, "node1", 5);
  uint64_t h = srv_fnv1a64_str(srv_fnv1a64(SRV_FNV64_BASIS, id, 4), "node1");
  assert_int_equal(h, srv_fnv1a64(SRV_FNV64_BASIS, cat, sizeof cat));
  assert_int_not_equal(h, srv_fnv1a64(SRV_FNV64_BASIS, cat, sizeof cat - 1));
  assert_int_equal(srv_fnv1a64(42, NULL, 0), 42); /* nothing hashed: h unchanged */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_chain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
