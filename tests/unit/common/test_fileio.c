/* test_fileio.c - tests bounded reads, atomic writes, private-file checks and mkdirs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lic/err.h"
#include "lic/fileio.h"
#include "testutil.h"

static int setup(void **state) {
  *state = tu_tmpdir();
  return 0;
}

static int teardown(void **state) {
  tu_rmtree(*state);
  free(*state);
  return 0;
}

static const char *P(void **state, const char *name) {
  static char b[4][600];
  static int slot;
  char *p = b[slot++ % 4];
  snprintf(p, 600, "%s/%s", (const char *)*state, name);
  return p;
}

/* Names in dir, sorted, joined by ','. */
static void listing(const char *dir, char *out, size_t cap) {
  struct dirent **ents;
  int n = scandir(dir, &ents, NULL, alphasort);
  assert_true(n >= 0);
  size_t k = 0;
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    if (strcmp(ents[i]->d_name, ".") != 0 && strcmp(ents[i]->d_name, "..") != 0)
      k += (size_t)snprintf(out + k, cap - k, "%s%s", k ? "," : "", ents[i]->d_name);
    free(ents[i]);
  }
  free(ents);
}

static void write_raw(const char *path, const void *d, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(d, 1, n, f), n);
  fclose(f);
}

static void test_write_content_and_mode(void **state) {
  static const char data[] = "hello\0world\n";
  uint8_t *buf = NULL;
  size_t len = 0;
  struct stat st;
  mode_t old = umask(077); /* the given mode wins over the umask */
  static const mode_t modes[] = {0600, 0644, 0640, 0400};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    char name[16];
    snprintf(name, sizeof name, "f%zu", i);
    assert_int_equal(lic_file_write(P(state, name), data, sizeof data, modes[i], 0), LIC_OK);
    assert_int_equal(stat(P(state, name), &st), 0);
    assert_int_equal(st.st_mode & 07777, modes[i]);
    assert_int_equal(st.st_size, sizeof data);
    assert_int_equal(lic_file_read(P(state, name), 100, &buf, &len), LIC_OK);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(buf, data, sizeof data);
    assert_int_equal(buf[len], '\0'); /* NUL-terminated beyond len */
    free(buf);
  }
  umask(old);
  char names[256];
  listing(*state, names, sizeof names);
  assert_string_equal(names, "f0,f1,f2,f3");
  /* Empty content. */
  assert_int_equal(lic_file_write(P(state, "empty"), "", 0, 0644, 0), LIC_OK);
  assert_int_equal(lic_file_read(P(state, "empty"), 10, &buf, &len), LIC_OK);
  assert_int_equal(len, 0);
  assert_int_equal(buf[0], '\0');
  free(buf);
}

static void test_write_replaces(void **state) {
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(lic_file_write(P(state, "r"), "first version, longer", 21, 0644, 0), LIC_OK);
  assert_int_equal(lic_file_write(P(state, "r"), "second", 6, 0600, 0), LIC_OK);
  assert_int_equal(lic_file_read(P(state, "r"), 100, &buf, &len), LIC_OK);
  assert_int_equal(len, 6);
  assert_memory_equal(buf, "second", 6);
  free(buf);
  struct stat st;
  assert_int_equal(stat(P(state, "r"), &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  char names[256];
  listing(*state, names, sizeof names);
  assert_string_equal(names, "r");
}

static void test_write_noreplace(void **state) {
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(lic_file_write(P(state, "k"), "original", 8, 0600, LIC_WRITE_NOREPLACE), LIC_OK);
  assert_int_equal(lic_file_write(P(state, "k"), "intruder", 8, 0644, LIC_WRITE_NOREPLACE),
                   LIC_EXISTS);
  assert_int_equal(lic_file_read(P(state, "k"), 100, &buf, &len), LIC_OK);
  assert_int_equal(len, 8);
  assert_memory_equal(buf, "original", 8);
  free(buf);
  struct stat st;
  assert_int_equal(stat(P(state, "k"), &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  char names[256];
  listing(*state, names, sizeof names);
  assert_string_equal(names, "k"); /* no temp file left behind */
}

static void test_write_failures_leave_nothing(void **state) {
  char names[256];
  /* Parent directory missing. */
  assert_int_equal(lic_file_write(P(state, "nodir/f"), "x", 1, 0644, 0), LIC_IO);
  /* The target is a non-empty directory: rename fails. */
  tu_write(*state, "adir/inside", "keep");
  assert_int_equal(lic_file_write(P(state, "adir"), "x", 1, 0644, 0), LIC_IO);
  listing(*state, names, sizeof names);
  assert_string_equal(names, "adir");
  listing(P(state, "adir"), names, sizeof names);
  assert_string_equal(names, "inside");
  /* NOREPLACE onto a directory. */
  assert_int_not_equal(lic_file_write(P(state, "adir"), "x", 1, 0644, LIC_WRITE_NOREPLACE), LIC_OK);
  listing(*state, names, sizeof names);
  assert_string_equal(names, "adir");
  /* A path too long for a temp name. */
  char longp[5000];
  memset(longp, 'a', sizeof longp - 1);
  longp[0] = '/';
  longp[sizeof longp - 1] = '\0';
  assert_int_not_equal(lic_file_write(longp, "x", 1, 0644, 0), LIC_OK);
}

static void test_read_limits(void **state) {
  uint8_t *buf = (uint8_t *)1;
  size_t len = 1;
  char *data = malloc(9000);
  for (int i = 0; i < 9000; i++)
    data[i] = (char)('a' + i % 26);
  static const size_t sizes[] = {10, 4095, 4096, 4097, 8192, 8193, 9000};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    write_raw(P(state, "big"), data, n);
    assert_int_equal(lic_file_read(P(state, "big"), n, &buf, &len), LIC_OK);
    assert_int_equal(len, n);
    assert_memory_equal(buf, data, n);
    free(buf);
    assert_int_equal(lic_file_read(P(state, "big"), n - 1, &buf, &len), LIC_LIMIT);
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_int_equal(lic_file_read(P(state, "big"), 1, &buf, &len), LIC_LIMIT);
  }
  write_raw(P(state, "one"), "z", 1);
  assert_int_equal(lic_file_read(P(state, "one"), 0, &buf, &len), LIC_LIMIT);
  free(data);
}

static void test_read_errors(void **state) {
  uint8_t *buf = (uint8_t *)1;
  size_t len = 1;
  assert_int_equal(lic_file_read(P(state, "missing"), 100, &buf, &len), LIC_NOTFOUND);
  assert_null(buf);
  assert_non_null(strstr(lic_errdetail(), "missing"));
  assert_int_equal(lic_file_read(*state, 100, &buf, &len), LIC_IO);
  assert_null(buf);
  assert_int_equal(lic_file_read(P(state, "missing/below"), 100, &buf, &len), LIC_NOTFOUND);
  write_raw(P(state, "noperm"), "secret", 6);
  chmod(P(state, "noperm"), 0);
  if (geteuid() != 0) /* root reads anything */
    assert_int_equal(lic_file_read(P(state, "noperm"), 100, &buf, &len), LIC_IO);
}

/* State files: a FIFO planted at the path must not block the reader (the
 * agent hung in open() with SIGTERM blocked), nor a symlink be followed. */
static void test_read_regular(void **state) {
  uint8_t *buf = (uint8_t *)"x";
  size_t len = 7;
  write_raw(P(state, "f"), "abc", 3);
  assert_int_equal(lic_file_read_regular(P(state, "f"), 16, &buf, &len), LIC_OK);
  assert_int_equal(len, 3);
  assert_memory_equal(buf, "abc", 3);
  free(buf);
  assert_int_equal(mkfifo(P(state, "fifo"), 0600), 0);
  assert_int_equal(lic_file_read_regular(P(state, "fifo"), 16, &buf, &len), LIC_IO);
  assert_null(buf);
  assert_int_equal(len, 0);
  assert_non_null(strstr(lic_errdetail(), "is not a regular file (a FIFO)"));
  assert_int_equal(symlink(P(state, "f"), P(state, "link")), 0);
  assert_int_equal(lic_file_read_regular(P(state, "link"), 16, &buf, &len), LIC_IO);
  assert_non_null(strstr(lic_errdetail(), "is a symbolic link"));
  assert_int_equal(mkdir(P(state, "d"), 0700), 0);
  assert_int_equal(lic_file_read_regular(P(state, "d"), 16, &buf, &len), LIC_IO);
  assert_non_null(strstr(lic_errdetail(), "(a directory)"));
  assert_int_equal(lic_file_read_regular(P(state, "none"), 16, &buf, &len), LIC_NOTFOUND);
  assert_int_equal(lic_file_read_regular(P(state, "f"), 2, &buf, &len), LIC_LIMIT);
}

static void test_check_private(void **state) {
  write_raw(P(state, "p"), "k", 1);
  static const struct {
    mode_t m;
    int rc;
  } c[] = {{0600, LIC_OK},       {0400, LIC_OK},       {0700, LIC_OK},
           {0640, LIC_INSECURE}, {0604, LIC_INSECURE}, {0644, LIC_INSECURE},
           {0660, LIC_INSECURE}, {0666, LIC_INSECURE}, {0440, LIC_INSECURE},
           {0404, LIC_INSECURE}};
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    assert_int_equal(chmod(P(state, "p"), c[i].m), 0);
    if (lic_file_check_private(P(state, "p")) != c[i].rc)
      fail_msg("mode %03o: expected %s", (unsigned)c[i].m, lic_errname(c[i].rc));
  }
  assert_int_equal(lic_file_check_private(P(state, "nope")), LIC_NOTFOUND);
  /* A file lic_file_write made with 0600 passes. */
  assert_int_equal(lic_file_write(P(state, "w"), "k", 1, 0600, 0), LIC_OK);
  assert_int_equal(lic_file_check_private(P(state, "w")), LIC_OK);
}

static void test_mkdirs(void **state) {
  struct stat st;
  assert_int_equal(lic_mkdirs(P(state, "a/b/c/d"), 0700), LIC_OK);
  assert_int_equal(stat(P(state, "a/b/c/d"), &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(lic_mkdirs(P(state, "a/b/c/d"), 0700), LIC_OK); /* exists: fine */
  assert_int_equal(lic_mkdirs(P(state, "a/b/"), 0700), LIC_OK);
  write_raw(P(state, "file"), "x", 1);
  assert_int_not_equal(lic_mkdirs(P(state, "file/sub"), 0700), LIC_OK);
}

/* One holder at a time; the second is told who holds it; the lock goes with
 * its descriptor; a symlink is not followed; a missing directory is LIC_IO. */
static void test_lock(void **state) {
  char who[64];
  int a = -1, b = -1;
  struct stat st;
  assert_int_equal(lic_file_lock(P(state, "l"), "pid 1\n", &a, who, sizeof who), LIC_OK);
  assert_true(a >= 0);
  assert_int_equal(stat(P(state, "l"), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(lic_file_lock(P(state, "l"), "pid 2\n", &b, who, sizeof who), LIC_EXISTS);
  assert_int_equal(b, -1);
  assert_string_equal(who, "pid 1");
  close(a);
  assert_int_equal(lic_file_lock(P(state, "l"), "pid 3 and more\n", &b, who, sizeof who), LIC_OK);
  close(b);
  /* the holder's line is replaced, not overwritten in place */
  assert_int_equal(lic_file_lock(P(state, "l"), "pid 4\n", &a, who, sizeof who), LIC_OK);
  assert_int_equal(lic_file_lock(P(state, "l"), "x\n", &b, who, 3), LIC_EXISTS);
  assert_string_equal(who, "pi"); /* bounded by cap */
  assert_int_equal(lic_file_lock(P(state, "l"), "x\n", &b, who, sizeof who), LIC_EXISTS);
  assert_string_equal(who, "pid 4");
  close(a);
  assert_int_equal(symlink(P(state, "target"), P(state, "sym")), 0);
  assert_int_equal(lic_file_lock(P(state, "sym"), "x\n", &a, who, sizeof who), LIC_IO);
  assert_int_not_equal(access(P(state, "target"), F_OK), 0); /* nothing made through it */
  assert_int_equal(lic_file_lock(P(state, "none/l"), "x\n", &a, who, sizeof who), LIC_IO);
  assert_int_equal(a, -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_write_content_and_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_replaces, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_noreplace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_failures_leave_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_regular, setup, teardown),
      cmocka_unit_test_setup_teardown(test_check_private, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
