/* test_licgen_terms.c - tests licgen's contract terms: what a renewal copies
 * (licgen renew, account --renew) and what it replaces. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"
#include "lic/license.h"
#include "terms.h"

#define NOW   1796083200 /* 2026-12-01T00:00:00Z */
#define T2026 1767225600 /* 2026-01-01 */
#define T2027 1798761600 /* 2027-01-01 */

/* The old license's terms: what a renewal starts from. */
typedef struct {
  lic_strlist features, domains, apps;
  int64_t ports[2];
  licgen_terms_base b;
} old_terms;

static void mk_old(old_terms *o) {
  memset(o, 0, sizeof *o);
  assert_int_equal(lic_strlist_add(&o->features, "export"), LIC_OK);
  assert_int_equal(lic_strlist_add(&o->features, "pdf"), LIC_OK);
  assert_int_equal(lic_strlist_add(&o->domains, "*.example.org"), LIC_OK);
  assert_int_equal(lic_strlist_add(&o->apps, "sales"), LIC_OK);
  o->ports[0] = 443;
  o->ports[1] = 8443;
  licgen_terms_base b = {&o->features, &o->domains, &o->apps, o->ports, 2, 11, T2026, T2027,
                         600, 7200};
  o->b = b;
}

static void free_old(old_terms *o) {
  lic_strlist_free(&o->features);
  lic_strlist_free(&o->domains);
  lic_strlist_free(&o->apps);
}

static void opt(licgen_terms *t, int c, const char *arg) {
  assert_int_equal(licgen_terms_opt("renew", t, c, arg), EXIT_OK);
}

static void test_nothing_given_copies_everything(void **state) {
  (void)state;
  old_terms o;
  licgen_terms t;
  mk_old(&o);
  licgen_terms_init(&t);
  assert_int_equal(licgen_terms_finish_from("renew", &t, NOW, &o.b), EXIT_OK);
  assert_int_equal(t.feature_list.n, 2);
  assert_string_equal(t.feature_list.v[1], "pdf");
  assert_int_equal(t.domains.n, 1);
  assert_string_equal(t.domains.v[0], "*.example.org");
  assert_int_equal(t.apps.n, 1);
  assert_int_equal(t.nports, 2);
  assert_int_equal(t.ports[1], 8443);
  assert_int_equal(t.major_v, 11);
  assert_int_equal(t.not_before, T2026);
  assert_int_equal(t.expires_v, T2027);
  assert_int_equal(t.heartbeat, 600);
  assert_int_equal(t.grace, 7200);
  /* copies, not borrows: the old lists stay the old license's */
  assert_ptr_not_equal(t.feature_list.v, o.features.v);
  assert_ptr_not_equal(t.ports, o.ports);
  licgen_terms_free(&t);
  free_old(&o);
}

static void test_given_terms_replace(void **state) {
  (void)state;
  old_terms o;
  licgen_terms t;
  mk_old(&o);
  licgen_terms_init(&t);
  opt(&t, LICGEN_T_FEATURES, "export,pdf,charts");
  opt(&t, LICGEN_T_DOMAIN, "reports.example.com");
  opt(&t, LICGEN_T_PORT, "9443");
  opt(&t, LICGEN_T_MAJOR, "12");
  opt(&t, LICGEN_T_EXPIRES, "2028-01-01");
  opt(&t, LICGEN_T_NOTBEFORE, "2027-01-01");
  opt(&t, LICGEN_T_HEARTBEAT, "7200");
  opt(&t, LICGEN_T_GRACE, "86400");
  assert_int_equal(licgen_terms_finish_from("renew", &t, NOW, &o.b), EXIT_OK);
  assert_int_equal(t.feature_list.n, 3);
  assert_string_equal(t.feature_list.v[2], "charts");
  assert_int_equal(t.domains.n, 1);
  assert_string_equal(t.domains.v[0], "reports.example.com"); /* replaced, not added */
  assert_int_equal(t.nports, 1);
  assert_int_equal(t.ports[0], 9443);
  assert_int_equal(t.apps.n, 1); /* not given: copied */
  assert_int_equal(t.major_v, 12);
  assert_int_equal(t.not_before, T2027);
  assert_int_equal(t.expires_v, T2027 + 365 * 86400);
  assert_int_equal(t.heartbeat, 7200);
  assert_int_equal(t.grace, 86400);
  licgen_terms_free(&t);
  free_old(&o);
}

/* A renewal ahead: it takes over at the exact second the old one ends. */
static void test_exact_times(void **state) {
  (void)state;
  old_terms o;
  licgen_terms t;
  mk_old(&o);
  licgen_terms_init(&t);
  opt(&t, LICGEN_T_NOTBEFORE, "2027-01-01T00:00:00Z");
  opt(&t, LICGEN_T_EXPIRES, "2027-06-30T12:30:05Z");
  assert_int_equal(licgen_terms_finish_from("renew", &t, NOW, &o.b), EXIT_OK);
  assert_int_equal(t.not_before, T2027);
  assert_int_equal(t.expires_v, T2027 + 180 * 86400 + 12 * 3600 + 30 * 60 + 5);
  licgen_terms_free(&t);
  static const char *const bad[] = {"2027-01-01 00:00:00", "2027-01-01T24:00:00Z",
                                    "2027-01-01T00:00:00+01:00", "2027-02-30T00:00:00Z"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    licgen_terms_init(&t);
    opt(&t, LICGEN_T_NOTBEFORE, bad[i]);
    assert_int_equal(licgen_terms_finish_from("renew", &t, NOW, &o.b), EXIT_USAGE);
    licgen_terms_free(&t);
  }
  free_old(&o);
}

static void test_refusals(void **state) {
  (void)state;
  old_terms o;
  licgen_terms t;
  mk_old(&o);
  /* the copied end is past: a renewal must say when it ends */
  licgen_terms_init(&t);
  assert_int_equal(licgen_terms_finish_from("renew", &t, T2027 + 1, &o.b), EXIT_USAGE);
  licgen_terms_free(&t);
  /* a given end in the past */
  licgen_terms_init(&t);
  opt(&t, LICGEN_T_EXPIRES, "2026-06-01");
  assert_int_equal(licgen_terms_finish_from("renew", &t, NOW, &o.b), EXIT_USAGE);
  licgen_terms_free(&t);
  /* a start after the copied end */
  licgen_terms_init(&t);
  opt(&t, LICGEN_T_NOTBEFORE, "2027-02-01");
  assert_int_equal(licgen_terms_finish_from("renew", &t, NOW, &o.b), EXIT_USAGE);
  licgen_terms_free(&t);
  /* a new heartbeat above the copied grace */
  licgen_terms_init(&t);
  opt(&t, LICGEN_T_HEARTBEAT, "86400");
  assert_int_equal(licgen_terms_finish_from("renew", &t, NOW, &o.b), EXIT_USAGE);
  licgen_terms_free(&t);
  /* never is a term like any other */
  licgen_terms_init(&t);
  opt(&t, LICGEN_T_EXPIRES, "never");
  assert_int_equal(licgen_terms_finish_from("renew", &t, NOW, &o.b), EXIT_OK);
  assert_int_equal(t.expires_v, 0);
  licgen_terms_free(&t);
  free_old(&o);
}

/* Without a base, sign's defaults hold: any, never, now. */
static void test_plain_finish_defaults(void **state) {
  (void)state;
  licgen_terms t;
  licgen_terms_init(&t);
  assert_int_equal(licgen_terms_finish("account", &t, NOW, false), EXIT_OK);
  assert_int_equal(t.feature_list.n, 0);
  assert_int_equal(t.nports, 0);
  assert_int_equal(t.major_v, 0);
  assert_int_equal(t.expires_v, 0);
  assert_int_equal(t.not_before, NOW);
  assert_int_equal(t.heartbeat, LIC_DEFAULT_HEARTBEAT);
  licgen_terms_free(&t);
  licgen_terms_init(&t);
  assert_int_equal(licgen_terms_finish("sign", &t, NOW, true), EXIT_USAGE); /* --features */
  licgen_terms_free(&t);
}

int main(void) {
  cli_set_tool("licgen");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nothing_given_copies_everything),
      cmocka_unit_test(test_given_terms_replace),
      cmocka_unit_test(test_exact_times),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_plain_finish_defaults),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
