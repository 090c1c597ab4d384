/* test_srv_config.c - licsrv settings: defaults, INI keys, flags, errors with file:line. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "util/config.h"
#include "testutil.h"

static char *write_ini(const char *dir, const char *text) {
  static char path[512];
  tu_write(dir, "licsrv.ini", text);
  snprintf(path, sizeof path, "%s/licsrv.ini", dir);
  return path;
}

static void test_defaults(void **state) {
  srv_config c;
  char err[256];
  (void)state;
  srv_config_defaults(&c);
  assert_string_equal(c.listen, "127.0.0.1:7470");
  assert_string_equal(c.admin_listen, "127.0.0.1:7471");
  assert_string_equal(c.data, "/var/lib/licsrv");
  assert_true(c.threads >= 1);
  assert_int_equal(c.lim.max_body, 64 * 1024);
  assert_int_equal(c.lim.max_header_bytes, 8 * 1024);
  assert_int_equal(c.lim.max_headers, 64);
  assert_int_equal(c.lim.max_connections, 20000);
  assert_int_equal(c.lim.header_timeout_ms, 10000);
  assert_int_equal(c.lim.idle_timeout_ms, 60000);
  assert_int_equal(c.lim.write_timeout_ms, 10000);
  assert_int_equal(c.lim.rate_per_ip, 0);
  assert_false(c.lim.log_full_ips);
  assert_string_equal(c.tls_cert, "");
  assert_int_equal(srv_config_check(&c, err, sizeof err), 0);
}

static void test_ini_keys(void **state) {
  char *dir = tu_tmpdir();
  srv_config c;
  char err[256] = "";
  (void)state;
  const char *p = write_ini(dir, "; comment\n"
                                 "listen = 0.0.0.0:8000\n"
                                 "threads = 3\n"
                                 "[licsrv]\n"
                                 "admin_listen = [::1]:8001\n"
                                 "max_body = 1M\n"
                                 "max_header_bytes = 4K\n"
                                 "max_headers = 10\n"
                                 "rate_per_ip = 50\n"
                                 "rate_burst = 100\n"
                                 "idle_timeout_ms = 1500\n"
                                 "log_full_ips = yes\n"
                                 "data = /srv/lic\n");
  srv_config_defaults(&c);
  assert_int_equal(srv_config_load(&c, p, err, sizeof err), 0);
  assert_string_equal(c.listen, "0.0.0.0:8000");
  assert_string_equal(c.admin_listen, "[::1]:8001");
  assert_int_equal(c.threads, 3);
  assert_int_equal(c.lim.max_body, 1024 * 1024);
  assert_int_equal(c.lim.max_header_bytes, 4096);
  assert_int_equal(c.lim.max_headers, 10);
  assert_int_equal(c.lim.rate_per_ip, 50);
  assert_int_equal(c.lim.rate_burst, 100);
  assert_int_equal(c.lim.idle_timeout_ms, 1500);
  assert_true(c.lim.log_full_ips);
  assert_string_equal(c.data, "/srv/lic");
  assert_int_equal(c.lim.write_timeout_ms, 10000); /* untouched keys keep defaults */
  tu_rmtree(dir);
  free(dir);
}

static void test_flag_overrides(void **state) {
  srv_config c;
  char err[256];
  (void)state;
  srv_config_defaults(&c);
  assert_true(srv_config_has_key("max-body"));
  assert_true(srv_config_has_key("max_body"));
  assert_false(srv_config_has_key("max-bodies"));
  assert_true(srv_config_key_is_bool("log-full-ips"));
  assert_int_equal(srv_config_set(&c, "max-body", "2048", err, sizeof err), 0);
  assert_int_equal(srv_config_set(&c, "header-timeout-ms", "250", err, sizeof err), 0);
  assert_int_equal(srv_config_set(&c, "listen", "127.0.0.1:0", err, sizeof err), 0);
  assert_int_equal(srv_config_set(&c, "log-full-ips", "false", err, sizeof err), 0);
  assert_int_equal(c.lim.max_body, 2048);
  assert_int_equal(c.lim.header_timeout_ms, 250);
  assert_string_equal(c.listen, "127.0.0.1:0");
}

static void test_bad_values(void **state) {
  srv_config c;
  char err[256];
  (void)state;
  srv_config_defaults(&c);
  const char *bad[][2] = {{"max_body", "-1"},      {"max_body", "12x"},  {"max_body", ""},
                          {"threads", "0"},        {"threads", "99999"}, {"max_headers", " 5"},
                          {"listen", "localhost"}, {"listen", "1.2.3.4:70000"},
                          {"log_full_ips", "maybe"}, {"idle_timeout_ms", "18446744073709551616"},
                          {"nope", "1"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    assert_int_not_equal(srv_config_set(&c, bad[i][0], bad[i][1], err, sizeof err), 0);
    assert_true(strlen(err) > 0);
  }
  assert_int_equal(c.lim.max_body, 64 * 1024); /* nothing half-applied */
}

static void test_file_errors_name_line(void **state) {
  char *dir = tu_tmpdir();
  srv_config c;
  char err[512], want[600];
  (void)state;
  const char *p = write_ini(dir, "threads = 2\nmax_body = 64K\nbogus_key = 1\n");
  srv_config_defaults(&c);
  assert_int_not_equal(srv_config_load(&c, p, err, sizeof err), 0);
  snprintf(want, sizeof want, "%s:3: unknown key 'bogus_key'", p);
  assert_string_equal(err, want);

  p = write_ini(dir, "\n\nmax_headers = lots\n");
  assert_int_not_equal(srv_config_load(&c, p, err, sizeof err), 0);
  snprintf(want, sizeof want, "%s:3: ", p);
  assert_true(strncmp(err, want, strlen(want)) == 0);
  assert_non_null(strstr(err, "max_headers"));

  p = write_ini(dir, "[other]\nthreads = 1\n");
  assert_int_not_equal(srv_config_load(&c, p, err, sizeof err), 0);
  assert_non_null(strstr(err, ":2: unknown section [other]"));

  p = write_ini(dir, "threads 4\n");
  assert_int_not_equal(srv_config_load(&c, p, err, sizeof err), 0);
  assert_non_null(strstr(err, ":1:"));

  assert_int_not_equal(srv_config_load(&c, "/nonexistent/licsrv.ini", err, sizeof err), 0);
  assert_non_null(strstr(err, "/nonexistent/licsrv.ini: cannot open"));
  tu_rmtree(dir);
  free(dir);
}

static void test_tls_refused(void **state) {
  srv_config c;
  char err[512];
  (void)state;
  srv_config_defaults(&c);
  /* A certificate without its key (and the other way round) is an error. */
  assert_int_equal(srv_config_set(&c, "tls_cert", "/etc/licsrv/cert.pem", err, sizeof err), 0);
  assert_int_not_equal(srv_config_check(&c, err, sizeof err), 0);
  assert_non_null(strstr(err, "tls_cert and tls_key go together"));
  assert_int_equal(srv_config_set(&c, "tls_key", "/etc/licsrv/key.pem", err, sizeof err), 0);
  assert_int_equal(srv_config_check(&c, err, sizeof err), 0);
  assert_int_equal(srv_config_set(&c, "admin-tls-key", "/etc/licsrv/akey.pem", err, sizeof err), 0);
  assert_int_not_equal(srv_config_check(&c, err, sizeof err), 0);
  assert_non_null(strstr(err, "admin_tls_cert and admin_tls_key"));
  assert_int_equal(srv_config_set(&c, "admin_tls_cert", "/etc/licsrv/a.pem", err, sizeof err), 0);
  assert_int_equal(srv_config_check(&c, err, sizeof err), 0);
  assert_string_equal(c.admin_tls_cert, "/etc/licsrv/a.pem");
}

static void test_addr_split(void **state) {
  char host[64];
  uint16_t port;
  (void)state;
  assert_int_equal(srv_addr_split("127.0.0.1:7470", host, sizeof host, &port), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 7470);
  assert_int_equal(srv_addr_split("[::1]:80", host, sizeof host, &port), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(port, 80);
  assert_int_not_equal(srv_addr_split(":80", host, sizeof host, &port), 0);
  assert_int_not_equal(srv_addr_split("[::1]80", host, sizeof host, &port), 0);
  assert_int_not_equal(srv_addr_split("host:", host, sizeof host, &port), 0);
}

static void test_addr_resolve(void **state) {
  char out[64], err[256];
  (void)state;
  assert_int_equal(srv_addr_resolve("127.0.0.1:7470", out, sizeof out, err, sizeof err), 0);
  assert_string_equal(out, "127.0.0.1:7470");
  assert_int_equal(srv_addr_resolve("[::1]:80", out, sizeof out, err, sizeof err), 0);
  assert_string_equal(out, "[::1]:80");
  /* a name: resolved once, IPv4 preferred */
  assert_int_equal(srv_addr_resolve("localhost:7470", out, sizeof out, err, sizeof err), 0);
  assert_string_equal(out, "127.0.0.1:7470");
  assert_int_equal(srv_addr_resolve("no-such-host.invalid:1", out, sizeof out, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot resolve 'no-such-host.invalid'"));
  assert_int_equal(srv_addr_resolve("localhost", out, sizeof out, err, sizeof err), -1);
}

/* The printed default file: every key once, commented out; loaded as is it
 * changes nothing, and uncommented it gives the defaults back (threads is an
 * example value, the default being the core count). */
static void test_print_config(void **state) {
  char *dir = tu_tmpdir(), *text = NULL, err[256];
  size_t len = 0;
  srv_config d, c;
  (void)state;
  FILE *f = open_memstream(&text, &len);
  srv_config_print(f);
  fclose(f);
  assert_non_null(strstr(text, "\n[licsrv]\n"));
  assert_non_null(strstr(text, "\n#listen = 127.0.0.1:7470\n"));
  assert_non_null(strstr(text, "\n#max_body = 64K\n"));
  assert_non_null(strstr(text, "\n#log_full_ips = false\n"));
  assert_non_null(strstr(text, "\n#header_timeout_ms = 10000\n"));
  /* the thread count that runs here (it said 4 on a 2-core machine) */
  char threads[64];
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  snprintf(threads, sizeof threads, "\n#threads = %ld\n", ncpu < 1 ? 1 : ncpu > 256 ? 256 : ncpu);
  assert_non_null(strstr(text, threads));
  /* Every key of --help is in the file. */
  char *usage = NULL;
  size_t ulen = 0;
  f = open_memstream(&usage, &ulen);
  srv_config_usage(f);
  fclose(f);
  int n = 0;
  for (char *p = usage; (p = strstr(p, "  --")) != NULL; p += 4, n++) {
    char key[64], want[80];
    size_t k = 0;
    for (const char *q = p + 4; *q != ' ' && k + 1 < sizeof key; q++)
      key[k++] = *q == '-' ? '_' : *q;
    key[k] = '\0';
    snprintf(want, sizeof want, "\n#%s = ", key);
    if (strstr(text, want) == NULL)
      fail_msg("--print-config lacks %s", key);
  }
  assert_true(n >= 15);
  srv_config_defaults(&d);
  srv_config_defaults(&c);
  assert_int_equal(srv_config_load(&c, write_ini(dir, text), err, sizeof err), 0);
  assert_memory_equal(&c, &d, sizeof c);
  /* Uncommented (but for the empty TLS paths): drop the '#' of "#key = value". */
  char *live = calloc(1, len + 1), *o = live;
  for (const char *p = text; *p != '\0';) {
    const char *eol = strchr(p, '\n');
    size_t ln = eol != NULL ? (size_t)(eol - p) + 1 : strlen(p);
    size_t k = 1;
    while (p[0] == '#' && k < ln && ((p[k] >= 'a' && p[k] <= 'z') || p[k] == '_'))
      k++;
    bool setting = p[0] == '#' && k > 1 && strncmp(p + k, " = ", 3) == 0 && strncmp(p, "#tls", 4) != 0;
    memcpy(o, p + (setting ? 1 : 0), ln - (setting ? 1 : 0));
    o += ln - (setting ? 1 : 0);
    p += ln;
  }
  free(text);
  text = live;
  srv_config_defaults(&c);
  if (srv_config_load(&c, write_ini(dir, text), err, sizeof err) != 0)
    fail_msg("uncommented default config: %s", err);
  assert_memory_equal(&c, &d, sizeof c);
  free(usage);
  free(text);
  tu_rmtree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_addr_resolve),
      cmocka_unit_test(test_defaults),         cmocka_unit_test(test_ini_keys),
      cmocka_unit_test(test_flag_overrides),   cmocka_unit_test(test_bad_values),
      cmocka_unit_test(test_file_errors_name_line), cmocka_unit_test(test_tls_refused),
      cmocka_unit_test(test_addr_split),       cmocka_unit_test(test_print_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
