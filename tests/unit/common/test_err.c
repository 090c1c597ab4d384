/* test_err.c - liblic's per-thread error detail (common/src/err.c): a path and
 * its reason survive whole, a longer detail is cut cleanly, lic_fail may quote
 * the detail it replaces. */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lic/err.h"

/* A path of PATH_MAX - 1 bytes, as a data directory may be named. */
static char *long_path(void) {
  char *p = malloc(PATH_MAX);
  assert_non_null(p);
  for (size_t i = 0; i < PATH_MAX - 1; i++)
    p[i] = i % 16 == 0 ? '/' : (char)('a' + i % 26);
  p[PATH_MAX - 1] = '\0';
  return p;
}

static void test_path_and_reason_survive(void **state) {
  (void)state;
  char *path = long_path(), *want = malloc(PATH_MAX + 200);
  assert_non_null(want);
  const char *why = "another licsrv serve (pid 4242) is serving this data directory";
  snprintf(want, PATH_MAX + 200, "%s: %s", path, why);
  assert_int_equal(lic_fail(LIC_EXISTS, "%s: %s", path, why), LIC_EXISTS);
  assert_string_equal(lic_errdetail(), want);
  /* "MESSAGE: DETAIL" keeps the whole detail too */
  const char *full = lic_errfull(LIC_EXISTS);
  assert_true(strncmp(full, "already exists: ", 16) == 0);
  assert_string_equal(full + 16, want);
  free(path);
  free(want);
}

static void test_too_long_is_cut_with_ellipsis(void **state) {
  (void)state;
  size_t n = 3 * LIC_ERRDETAIL_MAX;
  char *big = malloc(n + 1);
  assert_non_null(big);
  memset(big, 'x', n);
  big[n] = '\0';
  assert_int_equal(lic_fail(LIC_IO, "%s", big), LIC_IO);
  const char *d = lic_errdetail();
  size_t len = strlen(d);
  assert_int_equal(len, LIC_ERRDETAIL_MAX - 1);
  assert_string_equal(d + len - 3, "...");
  assert_int_equal(strspn(d, "x"), len - 3);
  /* the full line is bounded too, and ends where the detail does */
  const char *full = lic_errfull(LIC_IO);
  assert_string_equal(full + strlen(full) - 3, "...");
  free(big);
}

static void test_cut_never_splits_a_character(void **state) {
  (void)state;
  /* "é" (2 bytes) from offset 1 on: wherever the cut falls, it must not leave
   * a lead byte without its continuation. */
  for (size_t lead = 0; lead < 4; lead++) {
    size_t n = 2 * LIC_ERRDETAIL_MAX;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', lead);
    for (size_t i = lead; i + 1 < n; i += 2)
      memcpy(big + i, "\xc3\xa9", 2);
    big[lead + 2 * ((n - lead) / 2)] = '\0';
    lic_fail(LIC_FORMAT, "%s", big);
    const char *d = lic_errdetail();
    size_t len = strlen(d);
    assert_true(len < LIC_ERRDETAIL_MAX);
    assert_string_equal(d + len - 3, "...");
    /* before "...": a whole character, not a lone 0xc3 */
    assert_int_equal((unsigned char)d[len - 4], 0xa9);
    free(big);
  }
}

static void test_fail_may_quote_the_detail(void **state) {
  (void)state;
  lic_fail(LIC_IO, "%s", "data/serve.lock: cannot open: Permission denied");
  assert_int_equal(lic_fail(LIC_IO, "store: %s", lic_errdetail()), LIC_IO);
  assert_string_equal(lic_errdetail(), "store: data/serve.lock: cannot open: Permission denied");
  assert_int_equal(lic_fail(LIC_IO, "node key: %s", lic_errfull(LIC_IO)), LIC_IO);
  assert_string_equal(lic_errdetail(), "node key: input/output error: store: data/serve.lock: "
                                       "cannot open: Permission denied");
  lic_errdetail_clear();
  assert_string_equal(lic_errdetail(), "");
  assert_string_equal(lic_errfull(LIC_IO), "input/output error");
}

static void *other_thread(void *arg) {
  (void)arg;
  lic_fail(LIC_DENIED, "set on another thread");
  return (void *)(uintptr_t)(strcmp(lic_errdetail(), "set on another thread") == 0);
}

static void test_detail_is_per_thread(void **state) {
  (void)state;
  lic_fail(LIC_NOTFOUND, "set here");
  pthread_t t;
  void *ok = NULL;
  assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
  assert_int_equal(pthread_join(t, &ok), 0);
  assert_true(ok != NULL);
  assert_string_equal(lic_errdetail(), "set here");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_path_and_reason_survive),
      cmocka_unit_test(test_too_long_is_cut_with_ellipsis),
      cmocka_unit_test(test_cut_never_splits_a_character),
      cmocka_unit_test(test_fail_may_quote_the_detail),
      cmocka_unit_test(test_detail_is_per_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
