/* test_activation.c - the designer API: activate on a fake machine, check it
 * there and elsewhere, refusals write nothing, damaged files, and the
 * docs/examples/designer_check.c program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lic/activation.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/util.h"
#include "testutil.h"

static lic_key *key;
static lic_trust trust;
static char *tmp;
static char machine_a[512], machine_b[512], state[512];

static int setup(void **st) {
  (void)st;
  static const char *const nic_a[] = {"eth0=52:54:00:12:34:56", "docker0=02:42:00:00:00:01,virtual"};
  static const char *const nic_b[] = {"eth0=52:54:00:12:34:56"};
  key = tu_test_root_key();
  lic_trust_init(&trust);
  lic_trust_add_raw(&trust, lic_key_raw_public(key));
  tmp = tu_tmpdir();
  snprintf(machine_a, sizeof machine_a, "%s/A", tmp);
  snprintf(machine_b, sizeof machine_b, "%s/B", tmp);
  snprintf(state, sizeof state, "%s/state", tmp);
  tu_fake_machine(machine_a, "0123456789abcdef0123456789abcdef", NULL, nic_a, 2);
  tu_fake_machine(machine_b, "fedcba9876543210fedcba9876543210", NULL, nic_b, 1);
  return 0;
}

static int teardown(void **st) {
  (void)st;
  tu_rmtree(tmp);
  free(tmp);
  lic_key_free(key);
  return 0;
}

static void code_text(int product, uint32_t serial, uint16_t day, char out[]) {
  lic_code c = {0};
  c.product = (uint8_t)product;
  c.serial = serial;
  c.expiry_day = day;
  c.edition = 5;
  assert_int_equal(lic_code_make(&c, key, out), LIC_OK);
}

static bool exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static void test_activate_and_check(void **st) {
  (void)st;
  char code[LIC_CODE_TEXT_LEN + 1], path[600];
  lic_activation_info info;
  struct stat sb;

  code_text(42, 1001, 0, code);
  setenv("LIC_SYSROOT", machine_a, 1);
  assert_int_equal(lic_designer_check(state, &trust, 42, &info), LIC_NOTFOUND);
  assert_int_equal(lic_designer_activate(state, code, &trust, 42, (int64_t)time(NULL), &info),
                   LIC_OK);
  assert_int_equal(info.serial, 1001);
  snprintf(path, sizeof path, "%s/activation", state);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);

  memset(&info, 0, sizeof info);
  assert_int_equal(lic_designer_check(state, &trust, 42, &info), LIC_OK);
  assert_int_equal(info.product, 42);
  assert_int_equal(info.serial, 1001);
  assert_int_equal(info.edition, 5);
  assert_int_equal(info.expires, 0);
  assert_string_equal(info.code, code);
  assert_int_equal(info.nmacs, 1); /* docker0 is not a physical NIC */
  assert_int_equal(lic_designer_check(state, &trust, -1, NULL), LIC_OK);
  assert_int_equal(lic_designer_check(state, &trust, 43, &info), LIC_PRODUCT);
  assert_int_equal(info.serial, 1001); /* filled even when the check fails */

  /* The same state on another machine. */
  setenv("LIC_SYSROOT", machine_b, 1);
  assert_int_equal(lic_designer_check(state, &trust, 42, &info), LIC_DENIED);
  assert_non_null(strstr(lic_errdetail(), "another machine"));
  /* No trusted key: not genuine. */
  lic_trust none;
  lic_trust_init(&none);
  setenv("LIC_SYSROOT", machine_a, 1);
  assert_int_equal(lic_designer_check(state, &none, 42, &info), LIC_NOTGENUINE);
  unsetenv("LIC_SYSROOT");
}

static void test_refusals_write_nothing(void **st) {
  (void)st;
  char code[LIC_CODE_TEXT_LEN + 1], dir[600];
  int64_t now = (int64_t)time(NULL);
  uint16_t yesterday = (uint16_t)(now / 86400 - LIC_CODE_EPOCH_DAYS);

  snprintf(dir, sizeof dir, "%s/refused", tmp);
  setenv("LIC_SYSROOT", machine_a, 1);
  code_text(42, 1, yesterday, code);
  assert_int_equal(lic_designer_activate(dir, code, &trust, 42, now, NULL), LIC_EXPIRED);
  code_text(41, 1, 0, code);
  assert_int_equal(lic_designer_activate(dir, code, &trust, 42, now, NULL), LIC_PRODUCT);
  code[3] = code[3] == 'A' ? 'B' : 'A';
  assert_int_equal(lic_designer_activate(dir, code, &trust, 42, now, NULL), LIC_TYPO);
  assert_int_equal(lic_designer_activate(dir, "garbage", &trust, 42, now, NULL), LIC_FORMAT);
  assert_int_equal(lic_designer_activate(dir, NULL, &trust, 42, now, NULL), LIC_INVALID);
  assert_int_equal(lic_designer_activate(NULL, code, &trust, 42, now, NULL), LIC_INVALID);
  assert_false(exists(dir));

  /* A machine without a physical adapter cannot be bound. */
  static const char *const virt[] = {"veth0=02:00:00:00:00:01,virtual"};
  char bare[600];
  snprintf(bare, sizeof bare, "%s/bare", tmp);
  tu_fake_machine(bare, "00112233445566778899aabbccddeeff", NULL, virt, 1);
  setenv("LIC_SYSROOT", bare, 1);
  code_text(42, 2, 0, code);
  assert_int_equal(lic_designer_activate(dir, code, &trust, 42, now, NULL), LIC_MACHINE);
  assert_false(exists(dir));
  unsetenv("LIC_SYSROOT");
}

static void test_damaged_files(void **st) {
  (void)st;
  lic_activation_info info;
  char dir[600];
  static const char *const blobs[] = {
      "", "garbage", "-----BEGIN LICSRV ACTIVATION-----\n-----END LICSRV ACTIVATION-----\n",
      "-----BEGIN LICSRV ACTIVATION-----\ngaN0eXCkbm9wZQ==\n-----END LICSRV ACTIVATION-----\n",
      "\x81\xa3typ\xaa" "activation"};
  snprintf(dir, sizeof dir, "%s/damaged", tmp);
  setenv("LIC_SYSROOT", machine_a, 1);
  for (size_t i = 0; i < sizeof blobs / sizeof blobs[0]; i++) {
    tu_write(dir, "activation", blobs[i]);
    int r = lic_designer_check(dir, &trust, 42, &info);
    assert_true(r != LIC_OK);
    assert_int_equal(info.code[0], '\0');
  }
  /* random bytes */
  for (int n = 0; n < 50; n++) {
    uint8_t buf[600];
    assert_int_equal(lic_random(buf, sizeof buf), LIC_OK);
    assert_true(lic_activation_decode(buf, (size_t)(n * 12), &info) != LIC_OK);
  }
  unsetenv("LIC_SYSROOT");
}

static void test_encode_decode(void **st) {
  (void)st;
  char code[LIC_CODE_TEXT_LEN + 1], *file = NULL;
  size_t len;
  lic_code c;
  lic_machine m;
  lic_activation_info info;

  code_text(9, 77, 4000, code);
  assert_int_equal(lic_code_parse(code, &c), LIC_OK);
  setenv("LIC_SYSROOT", machine_a, 1);
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  unsetenv("LIC_SYSROOT");
  assert_int_equal(lic_activation_encode(&c, &m, 1700000000, &file, &len), LIC_OK);
  assert_non_null(strstr(file, "-----BEGIN LICSRV ACTIVATION-----"));
  assert_int_equal(lic_activation_decode((const uint8_t *)file, len, &info), LIC_OK);
  assert_string_equal(info.code, code);
  assert_int_equal(info.serial, 77);
  assert_int_equal(info.activated, 1700000000);
  assert_int_equal(info.expires, lic_code_expires(&c));
  assert_string_equal(info.machine_code, m.code);
  /* every truncation fails cleanly */
  for (size_t n = 0; n < len; n += 7)
    assert_true(lic_activation_decode((const uint8_t *)file, n, &info) != LIC_OK ||
                n > len - 40);
  free(file);
}

/* docs/examples/designer_check.c, built by tests/CMakeLists.txt. */
static int run_example(const char *sysroot, const char *dir) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "LIC_SYSROOT='%s' '%s' '%s' '%s' >/dev/null 2>&1", sysroot,
           DESIGNER_CHECK_BIN, dir, tu_src("keys/test/test-root.pub.pem"));
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_example_program(void **st) {
  (void)st;
  char code[LIC_CODE_TEXT_LEN + 1], dir[600];
  snprintf(dir, sizeof dir, "%s/example", tmp);
  assert_int_equal(run_example(machine_a, dir), 1); /* not activated yet */
  code_text(42, 5, 0, code);
  setenv("LIC_SYSROOT", machine_a, 1);
  assert_int_equal(lic_designer_activate(dir, code, &trust, 42, (int64_t)time(NULL), NULL),
                   LIC_OK);
  unsetenv("LIC_SYSROOT");
  assert_int_equal(run_example(machine_a, dir), 0);
  assert_int_equal(run_example(machine_b, dir), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_activate_and_check),
      cmocka_unit_test(test_refusals_write_nothing),
      cmocka_unit_test(test_damaged_files),
      cmocka_unit_test(test_encode_decode),
      cmocka_unit_test(test_example_program),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
