/* test_srv_decide.c - the verify decision: every status it returns, and its order. */
#include <string.h>

#include "core/decide.h"
#include "testutil.h"

static const int64_t NOW = 1800000000; /* 2027-01-15 */

static void make_license(lic_license *l) {
  memset(l, 0, sizeof *l);
  l->mode = LIC_MODE_PRIVATE;
  l->not_before = NOW - 86400;
  l->expires = NOW + 86400;
  l->major = 11;
  lic_strlist_add(&l->domains, "reports.acme.com");
  lic_strlist_add(&l->domains, "*.acme.net");
  l->ports = calloc(2, sizeof *l->ports);
  l->ports[0] = 8443;
  l->ports[1] = 443;
  l->nports = 2;
  lic_strlist_add(&l->apps, "ReportServer");
  l->max_nodes = 2;
  l->heartbeat = 7200;
}

static void make_req(srv_verify_req *q) {
  memset(q, 0, sizeof *q);
  q->nonce_len = 16;
  snprintf(q->domain, sizeof q->domain, "reports.acme.com");
  q->port = 8443;
  snprintf(q->node, sizeof q->node, "node-1");
  q->has_license = true;
  snprintf(q->app, sizeof q->app, "ReportServer");
  snprintf(q->version, sizeof q->version, "11.0.18");
  q->major = 11;
}

static lic_status run(const srv_verify_req *q, const lic_license *l, bool revoked, int64_t now,
                      int64_t hw) {
  char reason[LIC_MAX_REASON + 1];
  reason[0] = '\0';
  lic_status st = srv_decide(q, l, revoked, now, hw, reason, sizeof reason);
  assert_true(strlen(reason) > 0); /* every verdict says why */
  return st;
}

static void test_valid(void **state) {
  (void)state;
  lic_license l;
  srv_verify_req q;
  make_license(&l);
  make_req(&q);
  assert_int_equal(run(&q, &l, false, NOW, NOW), LIC_STATUS_VALID);
  snprintf(q.domain, sizeof q.domain, "EU.ACME.NET.");
  q.port = 443;
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_VALID);
  lic_license_clear(&l);
}

static void test_each_denial(void **state) {
  (void)state;
  lic_license l;
  srv_verify_req q;
  make_license(&l);

  make_req(&q);
  assert_int_equal(run(&q, NULL, false, NOW, 0), LIC_STATUS_UNKNOWN_LICENSE);
  assert_int_equal(run(&q, &l, true, NOW, 0), LIC_STATUS_REVOKED);
  assert_int_equal(run(&q, &l, false, l.expires, 0), LIC_STATUS_EXPIRED);
  assert_int_equal(run(&q, &l, false, l.not_before - 1, 0), LIC_STATUS_NOT_YET_VALID);
  assert_int_equal(run(&q, &l, false, NOW, NOW + SRV_ROLLBACK_SLACK + 1), LIC_STATUS_CLOCK_ROLLBACK);
  /* within the slack the clock may wander */
  assert_int_equal(run(&q, &l, false, NOW, NOW + SRV_ROLLBACK_SLACK - 1), LIC_STATUS_VALID);

  q.major = 12;
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_VERSION_DENIED);
  q.major = -1; /* version missing while the license names a major */
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_VERSION_DENIED);

  make_req(&q);
  snprintf(q.domain, sizeof q.domain, "a.b.acme.net");
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_DOMAIN_DENIED);
  snprintf(q.domain, sizeof q.domain, "acme.net");
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_DOMAIN_DENIED);

  make_req(&q);
  q.port = 8080;
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_PORT_DENIED);

  make_req(&q);
  snprintf(q.app, sizeof q.app, "Other");
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_APP_DENIED);
  q.app[0] = '\0'; /* app missing while the license restricts apps */
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_APP_DENIED);
  lic_license_clear(&l);
}

static void test_order(void **state) {
  (void)state;
  lic_license l;
  srv_verify_req q;
  make_license(&l);
  make_req(&q);
  /* everything wrong at once: the first rule in SPEC order wins */
  q.major = 3;
  q.port = 1;
  snprintf(q.domain, sizeof q.domain, "evil.example");
  q.app[0] = '\0';
  assert_int_equal(run(&q, &l, true, l.expires + 5, 0), LIC_STATUS_REVOKED);
  assert_int_equal(run(&q, &l, false, l.expires + 5, 0), LIC_STATUS_EXPIRED);
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_VERSION_DENIED);
  q.major = 11;
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_DOMAIN_DENIED);
  snprintf(q.domain, sizeof q.domain, "reports.acme.com");
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_PORT_DENIED);
  q.port = 443;
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_APP_DENIED);
  assert_int_equal(run(&q, &l, true, NOW, NOW + 2 * SRV_ROLLBACK_SLACK), LIC_STATUS_CLOCK_ROLLBACK);
  lic_license_clear(&l);
}

static void test_unrestricted(void **state) {
  (void)state;
  lic_license l;
  srv_verify_req q;
  memset(&l, 0, sizeof l);
  l.mode = LIC_MODE_PRIVATE;
  l.major = 0; /* any version */
  make_req(&q);
  q.major = -1;
  q.app[0] = '\0';
  q.port = 1;
  snprintf(q.domain, sizeof q.domain, "anything.example");
  assert_int_equal(run(&q, &l, false, NOW, 0), LIC_STATUS_VALID); /* perpetual, no lists */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_each_denial),
      cmocka_unit_test(test_order),
      cmocka_unit_test(test_unrestricted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
