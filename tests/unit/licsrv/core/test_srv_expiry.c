/* test_srv_expiry.c - a stored license's terms for operators, days left to
 * expiry, when it counts as near, and the once-a-day log warning. */
#include <stdlib.h>
#include <string.h>

#include "core/expiry.h"
#include "lic/err.h"
#include "lic/license.h"
#include "lic/verdict.h"
#include "testutil.h"

static const int64_t NOW = 1800000000; /* 2027-01-15T08:00:00Z */
static const uint8_t ID[LIC_ID_LEN] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};

static void test_days_left(void **state) {
  (void)state;
  assert_true(licsrv_days_left(0, NOW) == INT64_MAX);
  assert_int_equal(licsrv_days_left(NOW + 30 * 86400, NOW), 30);
  assert_int_equal(licsrv_days_left(NOW + 30 * 86400 - 1, NOW), 29);
  assert_int_equal(licsrv_days_left(NOW + 1, NOW), 0);
  assert_int_equal(licsrv_days_left(NOW, NOW), 0);
  assert_int_equal(licsrv_days_left(NOW - 1, NOW), -1); /* expired a second ago */
  assert_int_equal(licsrv_days_left(NOW - 86400, NOW), -1);
  assert_int_equal(licsrv_days_left(NOW - 86401, NOW), -2);
}

static void test_near(void **state) {
  licsrv_terms t;
  (void)state;
  memset(&t, 0, sizeof t);
  t.readable = true;
  t.expires = NOW + LICSRV_EXPIRY_WARN_DAYS * 86400;
  assert_false(licsrv_expiry_near(&t, NOW)); /* exactly 30 days: not yet */
  t.expires--;
  assert_true(licsrv_expiry_near(&t, NOW));
  t.expires = NOW - 5; /* expired: still warned about */
  assert_true(licsrv_expiry_near(&t, NOW));
  t.revoked = true; /* a revoked license will not be renewed */
  assert_false(licsrv_expiry_near(&t, NOW));
  t.revoked = false;
  t.expires = 0; /* perpetual */
  assert_false(licsrv_expiry_near(&t, NOW));
  t.expires = NOW + 86400;
  t.readable = false;
  assert_false(licsrv_expiry_near(&t, NOW));
}

static void test_text(void **state) {
  licsrv_terms t;
  char buf[200];
  (void)state;
  memset(&t, 0, sizeof t);
  memcpy(t.id, ID, LIC_ID_LEN);
  snprintf(t.customer, sizeof t.customer, "ACME");
  t.readable = true;
  t.expires = 1800748800; /* 2027-01-24T00:00:00Z */
  licsrv_expiry_text(&t, NOW, buf, sizeof buf);
  /* one way to print an end: exclusive, and the last day before it */
  assert_string_equal(buf, "license 09090909-0909-0909-0909-090909090909 (ACME) ends in 8 days "
                           "(valid until 2027-01-24T00:00:00Z, last day 2027-01-23)");
  t.expires = NOW + 86400;
  licsrv_expiry_text(&t, NOW, buf, sizeof buf);
  assert_non_null(strstr(buf, "ends in 1 day (valid until "));
  t.expires = NOW - 10;
  licsrv_expiry_text(&t, NOW, buf, sizeof buf);
  assert_non_null(strstr(buf, "(ACME) ended at 2027-01-15T"));
}

static void test_log_once_a_day(void **state) {
  licsrv_expiry_log *l = calloc(1, sizeof *l);
  uint8_t other[LIC_ID_LEN];
  (void)state;
  assert_true(licsrv_expiry_log_due(l, ID, NOW));
  assert_false(licsrv_expiry_log_due(l, ID, NOW + 60));
  assert_false(licsrv_expiry_log_due(l, ID, NOW + LICSRV_EXPIRY_WARN_EVERY - 1));
  assert_true(licsrv_expiry_log_due(l, ID, NOW + LICSRV_EXPIRY_WARN_EVERY));
  assert_false(licsrv_expiry_log_due(l, ID, NOW + LICSRV_EXPIRY_WARN_EVERY + 1));
  /* The clock stepped back: warn again rather than stay silent for a day. */
  assert_true(licsrv_expiry_log_due(l, ID, NOW));
  /* Other licenses are independent, and more than the slots still warn. */
  for (int i = 0; i < LICSRV_EXPIRY_LOG_SLOTS + 5; i++) {
    memset(other, 0, sizeof other);
    other[0] = (uint8_t)i;
    other[1] = 0xee;
    assert_true(licsrv_expiry_log_due(l, other, NOW + 10 + i));
  }
  free(l);
}

/* A license sealed with the test root, stored as licsrv stores it. */
static void test_terms_read(void **state) {
  lic_key *root = tu_test_root_key();
  lic_signer *sg = NULL;
  lic_license l;
  msgpack_sbuffer env;
  uint8_t *body = NULL;
  size_t blen = 0;
  store_license sl;
  licsrv_terms t;
  (void)state;

  memset(&l, 0, sizeof l);
  memcpy(l.id, ID, LIC_ID_LEN);
  l.mode = LIC_MODE_PRIVATE;
  l.issued = NOW - 100;
  l.not_before = NOW - 100;
  l.expires = NOW + 10 * 86400;
  l.customer = strdup("Ümlaut GmbH");
  l.project = strdup("P");
  l.product = strdup("ReportServer");
  l.major = 11;
  l.max_nodes = 3;
  l.has_machine = true;
  snprintf(l.machine_code, sizeof l.machine_code, "0000-1111-2222-3333");
  l.macs = calloc(1, LIC_MAC_HASH_LEN);
  l.nmacs = 1;
  l.has_node_key = true;
  l.heartbeat = 600;
  l.grace = 3600;
  msgpack_sbuffer_init(&env);
  assert_int_equal(lic_license_pack(&l, &body, &blen), LIC_OK);
  {
    lic_license chk;
    int prc = lic_license_parse(body, blen, &chk);
    if (prc != LIC_OK)
      fail_msg("parse: %s", lic_errfull(prc));
    lic_license_clear(&chk);
  }
  assert_int_equal(lic_signer_new(root, &sg), LIC_OK);
  assert_int_equal(lic_signer_seal(sg, "license", body, blen, &env), LIC_OK);

  memset(&sl, 0, sizeof sl);
  memcpy(sl.id, ID, LIC_ID_LEN);
  sl.env = (uint8_t *)env.data;
  sl.env_len = env.size;
  sl.imported = NOW - 50;
  licsrv_terms_read(&sl, &t);
  assert_true(t.readable);
  assert_string_equal(t.customer, "Ümlaut GmbH");
  assert_int_equal(t.expires, NOW + 10 * 86400);
  assert_int_equal(t.max_nodes, 3);
  assert_int_equal(t.heartbeat, 600);
  assert_int_equal(t.imported, NOW - 50);
  assert_false(t.revoked);
  assert_true(licsrv_expiry_near(&t, NOW));

  /* Garbage in the store: the store's own fields, never a crash. */
  uint8_t junk[] = {0x84, 0xa3, 't', 'y', 'p', 0xc0};
  sl.env = junk;
  sl.env_len = sizeof junk;
  sl.revoked = true;
  licsrv_terms_read(&sl, &t);
  assert_false(t.readable);
  assert_true(t.revoked);
  assert_memory_equal(t.id, ID, LIC_ID_LEN);
  assert_false(licsrv_expiry_near(&t, NOW));

  free(body);
  msgpack_sbuffer_destroy(&env);
  lic_signer_free(sg);
  lic_key_free(root);
  lic_license_clear(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_days_left),  cmocka_unit_test(test_near),
      cmocka_unit_test(test_text),       cmocka_unit_test(test_log_once_a_day),
      cmocka_unit_test(test_terms_read),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
