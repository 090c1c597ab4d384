/* test_srv_log.c - every line licsrv logs is logfmt a reader can split:
 * messages and values with spaces, quotes, '=' or control bytes are quoted
 * and escaped; and no event in the source writes a value around srv_log_quote. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "testutil.h"

/* A strict logfmt reader: KEY=VALUE pairs separated by one space; KEY is
 * [a-z0-9_]+; VALUE bare (printable, no space, '"' or '=') or "quoted" with
 * \" \\ \xHH escapes. Fills up to 16 pairs (values unescaped); -1 on error. */
typedef struct {
  char k[32], v[512];
} kv;

static int logfmt_parse(const char *line, kv *out, int max) {
  int n = 0;
  const char *p = line;
  while (*p != '\0') {
    if (n == max)
      return -1;
    size_t kl = 0;
    while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') {
      if (kl + 1 >= sizeof out[n].k)
        return -1;
      out[n].k[kl++] = *p++;
    }
    out[n].k[kl] = '\0';
    if (kl == 0 || *p++ != '=')
      return -1;
    size_t vl = 0;
    if (*p == '"') {
      p++;
      while (*p != '"') {
        char c = *p++;
        if (c == '\0' || (unsigned char)c < 0x20)
          return -1;
        if (c == '\\') {
          c = *p++;
          if (c == 'x') {
            unsigned h;
            if (sscanf(p, "%2x", &h) != 1)
              return -1;
            c = (char)h;
            p += 2;
          } else if (c != '"' && c != '\\') {
            return -1;
          }
        }
        if (vl + 1 >= sizeof out[n].v)
          return -1;
        out[n].v[vl++] = c;
      }
      p++;
    } else {
      while (*p != '\0' && *p != ' ') {
        unsigned char c = (unsigned char)*p++;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=')
          return -1;
        if (vl + 1 >= sizeof out[n].v)
          return -1;
        out[n].v[vl++] = (char)c;
      }
      if (vl == 0)
        return -1;
    }
    out[n].v[vl] = '\0';
    n++;
    if (*p == ' ') {
      p++;
      if (*p == '\0')
        return -1;
    } else if (*p != '\0') {
      return -1;
    }
  }
  return n;
}

/* Run fn with stderr captured; returns the text (malloc'd). */
static char *capture(void (*fn)(void)) {
  char path[] = "/tmp/test_srv_log.XXXXXX";
  int fd = mkstemp(path), saved = dup(STDERR_FILENO);
  assert_true(fd >= 0 && saved >= 0);
  unlink(path);
  fflush(stderr);
  dup2(fd, STDERR_FILENO);
  fn();
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  off_t len = lseek(fd, 0, SEEK_END);
  char *buf = calloc(1, (size_t)len + 1);
  assert_non_null(buf);
  assert_int_equal(pread(fd, buf, (size_t)len, 0), len);
  close(fd);
  return buf;
}

static const char *value(kv *p, int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (strcmp(p[i].k, key) == 0)
      return p[i].v;
  return NULL;
}

static const char NASTY[] = "a \"b\"=c\\d\ne\x01";

static void events(void) {
  char q[200];
  srv_log(SRV_LOG_INFO, "machine binding holds", NULL);
  srv_log(SRV_LOG_ERROR, "machine_mismatch", "reason=%s", SRV_LOG_Q(NASTY, q));
  srv_log(SRV_LOG_WARN, "x=y", "file=%s", SRV_LOG_Q("/tmp/my dir/k.pem", q));
  srv_logbuf *b = calloc(1, sizeof *b);
  srv_log_request(b, "GET", "/a b\"c", 6, 404, 12, "127.0.0.0/24");
  srv_logbuf_flush(b);
  free(b);
}

static void test_lines_parse(void **state) {
  (void)state;
  char *out = capture(events);
  kv p[16];
  char *save = NULL;
  int lines = 0;
  for (char *l = strtok_r(out, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save), lines++) {
    int n = logfmt_parse(l, p, 16);
    if (n < 0)
      fail_msg("not logfmt: %s", l);
    assert_non_null(value(p, n, "ts"));
    assert_non_null(value(p, n, "level"));
    const char *msg = value(p, n, "msg");
    assert_non_null(msg);
    switch (lines) {
    case 0: assert_string_equal(msg, "machine binding holds"); break;
    case 1: assert_string_equal(value(p, n, "reason"), NASTY); break;
    case 2:
      assert_string_equal(msg, "x=y");
      assert_string_equal(value(p, n, "file"), "/tmp/my dir/k.pem");
      break;
    case 3: assert_string_equal(value(p, n, "path"), "/a b\"c"); break;
    default: break;
    }
  }
  assert_int_equal(lines, 4);
  free(out);
}

static void test_reader_rejects_broken_lines(void **state) {
  kv p[16];
  (void)state;
  assert_int_equal(logfmt_parse("msg=machine binding holds", p, 16), -1);
  assert_int_equal(logfmt_parse("error=\"a \"b\" c\"", p, 16), -1);
  assert_int_equal(logfmt_parse("a=1 b=\"x y\"", p, 16), 2);
}

/* Every srv_log call in licsrv/: the message is one bare word (a reader's
 * event name) and no format wraps a %s in quotes by hand (the value may hold
 * a quote: it must go through SRV_LOG_Q). */
static void scan_file(const char *path, int *calls) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char text[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  for (char *p = strstr(text, "srv_log(SRV_LOG_"); p != NULL; p = strstr(p + 1, "srv_log(SRV_LOG_")) {
    char *m = strchr(p, '"'), *end = m != NULL ? strchr(m + 1, '"') : NULL;
    assert_non_null(end);
    for (char *c = m + 1; c < end; c++)
      if (!((*c >= 'a' && *c <= 'z') || *c == '_'))
        fail_msg("%s: event name \"%.*s\" is not one word", path, (int)(end - m - 1), m + 1);
    char *stmt_end = strstr(end, ");");
    assert_non_null(stmt_end);
    char save = *stmt_end;
    *stmt_end = '\0';
    if (strstr(end, "\\\"%s\\\"") != NULL)
      fail_msg("%s: a hand-quoted %%s in the event %.*s", path, (int)(end - m - 1), m + 1);
    *stmt_end = save;
    (*calls)++;
  }
}

static void scan_dir(const char *dir, int *calls) {
  DIR *d = opendir(dir);
  struct dirent *de;
  assert_non_null(d);
  while ((de = readdir(d)) != NULL) {
    char path[1024];
    size_t l = strlen(de->d_name);
    if (de->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
      scan_dir(path, calls);
    else if (l > 2 && strcmp(de->d_name + l - 2, ".c") == 0 && strcmp(de->d_name, "log.c") != 0)
      scan_file(path, calls);
  }
  closedir(d);
}

static void test_every_event_in_the_source(void **state) {
  int calls = 0;
  (void)state;
  scan_dir(tu_src("licsrv"), &calls);
  assert_true(calls >= 10); /* the scan found the events */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lines_parse),
      cmocka_unit_test(test_reader_rejects_broken_lines),
      cmocka_unit_test(test_every_event_in_the_source),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
