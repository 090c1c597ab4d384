/* test_srv_table.c - the admin subcommands' one table printer and UTC times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/table.h"
#include "testutil.h"

static char *print(licsrv_table *t, int *ex) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  *ex = licsrv_table_print(t, f);
  fclose(f);
  return buf;
}

static void test_aligned_with_utf8(void **state) {
  static const char *const head[] = {"ID", "NAME", "STATE", NULL};
  licsrv_table t;
  int ex;
  (void)state;
  licsrv_table_init(&t, head);
  const char *r1[] = {"1", "Ümlaut GmbH", "active"};
  const char *r2[] = {"12345", NULL, "revoked"};
  licsrv_table_row(&t, r1);
  licsrv_table_row(&t, r2);
  char *out = print(&t, &ex);
  assert_int_equal(ex, 0);
  /* Columns two spaces past the widest cell (in code points); last column unpadded. */
  assert_string_equal(out, "ID     NAME         STATE\n"
                           "1      Ümlaut GmbH  active\n"
                           "12345  -            revoked\n");
  free(out);
  licsrv_table_free(&t);
}

static void test_empty_and_many_rows(void **state) {
  static const char *const head[] = {"A", "B", NULL};
  licsrv_table t;
  int ex;
  (void)state;
  licsrv_table_init(&t, head);
  char *out = print(&t, &ex);
  assert_string_equal(out, "A  B\n(none)\n");
  free(out);
  char a[16];
  for (int i = 0; i < 1000; i++) { /* grows past its first allocation */
    snprintf(a, sizeof a, "%d", i);
    const char *r[] = {a, "x"};
    licsrv_table_row(&t, r);
  }
  out = print(&t, &ex);
  assert_int_equal(ex, 0);
  assert_non_null(strstr(out, "\n999  x\n"));
  assert_non_null(strstr(out, "\n0    x\n"));
  free(out);
  licsrv_table_free(&t);
  licsrv_table_free(&t); /* twice is harmless */
}

static void test_times(void **state) {
  char buf[40];
  json_t *o = json_object();
  (void)state;
  licsrv_time_text(0, buf, sizeof buf);
  assert_string_equal(buf, "-");
  licsrv_time_text(1800000000, buf, sizeof buf);
  assert_string_equal(buf, "2027-01-15 08:00:00 UTC");
  licsrv_json_time(o, "expires", 1800000000);
  licsrv_json_time(o, "seen", 0);
  assert_int_equal(json_integer_value(json_object_get(o, "expires")), 1800000000);
  assert_string_equal(json_string_value(json_object_get(o, "expires_at")), "2027-01-15T08:00:00Z");
  assert_true(json_is_null(json_object_get(o, "seen_at")));
  json_decref(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_aligned_with_utf8),
      cmocka_unit_test(test_empty_and_many_rows),
      cmocka_unit_test(test_times),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
