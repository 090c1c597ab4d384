/* test_tls_resume.c - where liblic's https:// calls keep the last TLS
 * session per server (common/src/tls_resume.c): offered only to the key it
 * was kept for, the newest replacing the older, a failed handshake forgetting
 * it, the least recently used of more servers than slots going first, and
 * the counts of full and resumed handshakes. */
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "internal.h"
#include "lic/tls.h"
#include "testutil.h"

/* A session OpenSSL calls resumable, told apart by its id. */
static SSL_SESSION *session(unsigned char id) {
  SSL_SESSION *s = SSL_SESSION_new();
  assert_non_null(s);
  assert_int_equal(SSL_SESSION_set1_id(s, &id, 1), 1);
  assert_int_equal(SSL_SESSION_is_resumable(s), 1);
  return s;
}

static int id_of(SSL_SESSION *s) {
  unsigned int n = 0;
  const unsigned char *id = SSL_SESSION_get_id(s, &n);
  return n == 1 ? id[0] : -1;
}

/* The id of what is kept for key (-1: nothing). */
static int kept(lic_tls_resume *r, const char *key) {
  SSL_SESSION *s = lic__tls_resume_get(r, key);
  int id = s != NULL ? id_of(s) : -1;
  SSL_SESSION_free(s);
  return id;
}

static void test_kept_per_server(void **state) {
  lic_tls_resume *r = NULL;
  uint64_t full, resumed;
  (void)state;
  assert_int_equal(lic_tls_resume_new(&r), LIC_OK);
  assert_int_equal(kept(r, "a\n443\n"), -1);
  lic__tls_resume_put(r, "a\n443\n", session(1), false);
  lic__tls_resume_put(r, "b\n443\n", session(2), false);
  assert_int_equal(kept(r, "a\n443\n"), 1);
  assert_int_equal(kept(r, "b\n443\n"), 2);
  assert_int_equal(kept(r, "a\n444\n"), -1); /* another port, another trust: nothing */
  assert_int_equal(kept(r, "a\n443\n/etc/ca.pem"), -1);
  lic__tls_resume_put(r, "a\n443\n", session(3), true); /* the newest replaces it */
  assert_int_equal(kept(r, "a\n443\n"), 3);
  lic__tls_resume_put(r, "b\n443\n", NULL, false); /* its handshake failed: forgotten */
  assert_int_equal(kept(r, "b\n443\n"), -1);
  SSL_SESSION *gone = SSL_SESSION_new(); /* not resumable: never offered */
  lic__tls_resume_put(r, "c\n443\n", gone, false);
  assert_int_equal(kept(r, "c\n443\n"), -1);
  lic_tls_resume_counts(r, &full, &resumed);
  assert_int_equal(full, 3); /* the failed handshake is neither */
  assert_int_equal(resumed, 1);
  lic_tls_resume_free(r);
  lic_tls_resume_free(NULL);
  lic_tls_resume_counts(NULL, &full, &resumed);
  assert_int_equal(full + resumed, 0);
}

static void test_least_recently_used_goes(void **state) {
  lic_tls_resume *r = NULL;
  char key[32];
  (void)state;
  assert_int_equal(lic_tls_resume_new(&r), LIC_OK);
  for (int i = 0; i < 8; i++) {
    snprintf(key, sizeof key, "s%d\n443\n", i);
    lic__tls_resume_put(r, key, session((unsigned char)(10 + i)), false);
  }
  lic__tls_resume_put(r, "s0\n443\n", session(20), true); /* s0 used again: s1 is the oldest */
  lic__tls_resume_put(r, "s8\n443\n", session(18), false);
  assert_int_equal(kept(r, "s1\n443\n"), -1);
  assert_int_equal(kept(r, "s0\n443\n"), 20);
  assert_int_equal(kept(r, "s8\n443\n"), 18);
  for (int i = 2; i < 8; i++) {
    snprintf(key, sizeof key, "s%d\n443\n", i);
    assert_int_equal(kept(r, key), 10 + i);
  }
  lic_tls_resume_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kept_per_server),
      cmocka_unit_test(test_least_recently_used_goes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
