/* test_srv_array.c - util/array.c: growth by doubling from the first size,
 * the elements kept, sizes past a size_t refused, and a failed realloc
 * leaving the array and its capacity as they were. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"
#include "testutil.h"

/* The out-of-memory case asks for more than the address space: ASan would
 * abort on it instead of returning NULL as glibc does. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

typedef struct {
  uint64_t a;
  char b[12];
} item;

static void test_growth(void **state) {
  (void)state;
  item *v = NULL;
  size_t n = 0, cap = 0;
  assert_int_equal(srv_array_reserve(&v, &cap, 0, 16), LIC_OK); /* nothing needed */
  assert_null(v);
  assert_int_equal(cap, 0);
  for (size_t i = 0; i < 100; i++) {
    assert_int_equal(srv_array_reserve(&v, &cap, n + 1, 16), LIC_OK);
    assert_non_null(v);
    size_t want = 16; /* 16, then doubled: 32 at the 17th, 64 at the 33rd... */
    while (want < n + 1)
      want *= 2;
    assert_int_equal(cap, want);
    v[n].a = i * 7;
    snprintf(v[n].b, sizeof v[n].b, "n%zu", i);
    n++;
  }
  assert_int_equal(cap, 128);
  for (size_t i = 0; i < n; i++) { /* every element survived the moves */
    char want[12];
    snprintf(want, sizeof want, "n%zu", i);
    assert_int_equal(v[i].a, i * 7);
    assert_string_equal(v[i].b, want);
  }
  /* A jump: doubled until it fits, not just to need. */
  assert_int_equal(srv_array_reserve(&v, &cap, 1000, 16), LIC_OK);
  assert_int_equal(cap, 1024);
  free(v);
  /* min_cap 0 starts at 1. */
  int *w = NULL;
  size_t wcap = 0;
  assert_int_equal(srv_array_reserve(&w, &wcap, 3, 0), LIC_OK);
  assert_int_equal(wcap, 4);
  free(w);
}

static void test_overflow_refused(void **state) {
  (void)state;
  item *v = NULL;
  size_t cap = 0;
  assert_int_equal(srv_array_reserve(&v, &cap, 4, 4), LIC_OK);
  v[3].a = 42;
  item *before = v;
  /* need * sizeof(item) past SIZE_MAX */
  assert_int_equal(srv_array_reserve(&v, &cap, SIZE_MAX / sizeof(item) + 1, 4), LIC_NOMEM);
  assert_ptr_equal(v, before);
  assert_int_equal(cap, 4);
  /* the doubling itself past SIZE_MAX */
  assert_int_equal(srv_array_reserve(&v, &cap, SIZE_MAX, 4), LIC_NOMEM);
  assert_int_equal(srv_array_reserve_(&v, &cap, SIZE_MAX / 2 + 2, 1, 4), LIC_NOMEM);
  assert_ptr_equal(v, before);
  assert_int_equal(cap, 4);
  assert_int_equal(v[3].a, 42);
  free(v);
}

static void test_nomem(void **state) {
  (void)state;
  uint8_t *v = NULL;
  size_t cap = 0;
  assert_int_equal(srv_array_reserve(&v, &cap, 8, 8), LIC_OK);
  memcpy(v, "survives", 8);
  uint8_t *before = v;
  /* fits a size_t, not the address space: realloc returns NULL */
  assert_int_equal(srv_array_reserve(&v, &cap, SIZE_MAX / 4, 8), LIC_NOMEM);
  assert_ptr_equal(v, before);
  assert_int_equal(cap, 8);
  assert_memory_equal(v, "survives", 8);
  free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_growth),
      cmocka_unit_test(test_overflow_refused),
      cmocka_unit_test(test_nomem),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
