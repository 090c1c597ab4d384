/* test_srv_lock.c - core/lock.c: one `licsrv serve` per data directory and per
 * node key, refusals as LIC_* codes whose detail names the holder, and a
 * detail that keeps a long data directory's path whole. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/lock.h"
#include "lic/err.h"
#include "testutil.h"

typedef struct {
  char *dir;
  char data[PATH_MAX], run[PATH_MAX];
} fix;

static int setup(void **state) {
  fix *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->dir = tu_tmpdir();
  snprintf(f->data, sizeof f->data, "%s/data", f->dir);
  snprintf(f->run, sizeof f->run, "%s/run", f->dir);
  assert_int_equal(mkdir(f->data, 0700), 0);
  setenv("LICSRV_RUNTIME_DIR", f->run, 1);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fix *f = *state;
  unsetenv("LICSRV_RUNTIME_DIR");
  tu_rmtree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

static void test_data_dir_once(void **state) {
  fix *f = *state;
  srv_lock a = SRV_LOCK_INIT, b = SRV_LOCK_INIT;
  char want[PATH_MAX + 128];
  assert_int_equal(srv_lock_data(&a, f->data), LIC_OK);
  assert_int_equal(srv_lock_data(&b, f->data), LIC_EXISTS);
  snprintf(want, sizeof want, "%s: another licsrv serve (pid %ld) is serving this data directory",
           f->data, (long)getpid());
  assert_string_equal(lic_errdetail(), want);
  srv_lock_release(&a);
  srv_lock_release(&b);
  assert_int_equal(srv_lock_data(&b, f->data), LIC_OK); /* released: free again */
  srv_lock_release(&b);
}

static void test_long_path_detail_whole(void **state) {
  (void)state;
  /* longer than the 320 bytes the detail once had: the reason names it all */
  char dir[PATH_MAX], want[PATH_MAX + 64];
  memset(dir, 'd', sizeof dir - 1);
  dir[0] = '/';
  dir[sizeof dir - 1] = '\0';
  srv_lock l = SRV_LOCK_INIT;
  assert_int_equal(srv_lock_data(&l, dir), LIC_LIMIT);
  snprintf(want, sizeof want, "%s: path too long", dir);
  assert_string_equal(lic_errdetail(), want);
  srv_lock_release(&l);
}

static void test_node_key_once(void **state) {
  fix *f = *state;
  uint8_t kid[LIC_KID_LEN];
  memset(kid, 0xab, sizeof kid);
  srv_lock a = SRV_LOCK_INIT, b = SRV_LOCK_INIT;
  assert_int_equal(srv_lock_node(&a, f->data, kid), LIC_OK);
  assert_int_equal(srv_lock_node(&b, f->data, kid), LIC_EXISTS);
  assert_non_null(strstr(lic_errdetail(), "is already served on this machine (pid "));
  assert_non_null(strstr(lic_errdetail(), "a copy of a data directory must not be served"));
  srv_lock_release(&a);
  srv_lock_release(&b);
}

static void test_runtime_dir_insecure(void **state) {
  fix *f = *state;
  uint8_t kid[LIC_KID_LEN] = {1};
  char want[PATH_MAX + 128];
  assert_int_equal(mkdir(f->run, 0700), 0);
  assert_int_equal(chmod(f->run, 0777), 0);
  srv_lock l = SRV_LOCK_INIT;
  assert_int_equal(srv_lock_node(&l, f->data, kid), LIC_INSECURE);
  snprintf(want, sizeof want, "%s: the lock directory must be a directory of this user, not "
           "writable by others", f->run);
  assert_string_equal(lic_errdetail(), want);
  assert_int_equal(l.kid_fd, -1);
  srv_lock_release(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_data_dir_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_path_detail_whole, setup, teardown),
      cmocka_unit_test_setup_teardown(test_node_key_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_runtime_dir_insecure, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
