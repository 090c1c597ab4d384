/* test_srv_decide_public.c - the public-mode decision order of SPEC §4 as a
 * table: each row sets the inputs that make every earlier step pass and one
 * step fail, or several steps fail at once (the earliest one wins). */
#include <string.h>

#include "core/decide.h"
#include "testutil.h"

static const int64_t NOW = 1800000000; /* 2027-01-15 */

static void make_account(lic_account *a) {
  memset(a, 0, sizeof *a);
  a->capacity = 2;
  a->not_before = NOW - 86400;
  a->expires = NOW + 86400;
  a->major = 11;
  lic_strlist_add(&a->domains, "*.acme.net");
  a->ports = calloc(1, sizeof *a->ports);
  a->ports[0] = 443;
  a->nports = 1;
  lic_strlist_add(&a->apps, "ReportServer");
  a->heartbeat = 7200;
  a->grace = 86400;
}

static void make_req(srv_verify_req *q) {
  memset(q, 0, sizeof *q);
  q->nonce_len = 16;
  snprintf(q->domain, sizeof q->domain, "eu.acme.net");
  q->port = 443;
  snprintf(q->node, sizeof q->node, "node-1");
  q->has_account = q->has_project_id = true;
  snprintf(q->app, sizeof q->app, "ReportServer");
  snprintf(q->version, sizeof q->version, "11.0.18");
  q->major = 11;
}

/* Which inputs fail (bit set = this step fails). */
enum { F_ROLLBACK = 1, F_UNKNOWN = 2, F_TOKEN = 4, F_REVOKED = 8, F_NOTYET = 16, F_EXPIRED = 32,
       F_UNREG = 64, F_VERSION = 128, F_DOMAIN = 256, F_PORT = 512, F_APP = 1024, F_NOAPP = 2048,
       F_NOVERSION = 4096 };

typedef struct {
  unsigned fails;
  lic_status want;
} row;

static lic_status run(unsigned f, bool reg_path, size_t used) {
  lic_account a;
  srv_verify_req q;
  char reason[LIC_MAX_REASON + 1] = "";
  make_account(&a);
  make_req(&q);
  int64_t now = NOW, hw = NOW;
  if (f & F_ROLLBACK)
    now = hw - 2 * SRV_ROLLBACK_SLACK;
  if (f & F_NOTYET)
    a.not_before = now + 10;
  if (f & F_EXPIRED)
    a.expires = now - 10;
  if (f & F_VERSION)
    q.major = 12;
  if (f & F_NOVERSION) {
    q.version[0] = '\0';
    q.major = -1;
  }
  if (f & F_DOMAIN)
    snprintf(q.domain, sizeof q.domain, "a.b.acme.net");
  if (f & F_PORT)
    q.port = 8443;
  if (f & F_APP)
    snprintf(q.app, sizeof q.app, "Designer");
  if (f & F_NOAPP)
    q.app[0] = '\0';
  srv_public_state ps = {(f & F_UNKNOWN) ? NULL : &a, !(f & F_TOKEN), (f & F_REVOKED) != 0,
                         !(f & F_UNREG)};
  lic_status st = reg_path ? srv_decide_register(&q, &ps, used, now, hw, reason, sizeof reason)
                           : srv_decide_public(&q, &ps, now, hw, reason, sizeof reason);
  assert_true(strlen(reason) > 0);
  if (st == LIC_STATUS_BAD_CREDENTIALS) /* one text for both causes */
    assert_string_equal(reason, lic_status_reason(LIC_STATUS_BAD_CREDENTIALS));
  lic_account_clear(&a);
  return st;
}

static void test_verify_order(void **state) {
  (void)state;
  static const row rows[] = {
      {0, LIC_STATUS_VALID},
      {F_ROLLBACK | F_UNKNOWN, LIC_STATUS_CLOCK_ROLLBACK},
      {F_UNKNOWN, LIC_STATUS_BAD_CREDENTIALS},
      {F_TOKEN, LIC_STATUS_BAD_CREDENTIALS},
      {F_UNKNOWN | F_TOKEN | F_REVOKED | F_EXPIRED, LIC_STATUS_BAD_CREDENTIALS},
      {F_REVOKED, LIC_STATUS_REVOKED},
      {F_REVOKED | F_EXPIRED | F_UNREG | F_DOMAIN, LIC_STATUS_REVOKED},
      {F_NOTYET, LIC_STATUS_NOT_YET_VALID},
      {F_EXPIRED, LIC_STATUS_EXPIRED},
      {F_EXPIRED | F_UNREG | F_VERSION, LIC_STATUS_EXPIRED},
      {F_UNREG, LIC_STATUS_NOT_REGISTERED},
      {F_UNREG | F_VERSION | F_DOMAIN | F_PORT | F_APP, LIC_STATUS_NOT_REGISTERED},
      {F_VERSION, LIC_STATUS_VERSION_DENIED},
      {F_NOVERSION, LIC_STATUS_VERSION_DENIED},
      {F_VERSION | F_DOMAIN | F_PORT | F_APP, LIC_STATUS_VERSION_DENIED},
      {F_DOMAIN, LIC_STATUS_DOMAIN_DENIED},
      {F_DOMAIN | F_PORT | F_APP, LIC_STATUS_DOMAIN_DENIED},
      {F_PORT, LIC_STATUS_PORT_DENIED},
      {F_PORT | F_APP, LIC_STATUS_PORT_DENIED},
      {F_APP, LIC_STATUS_APP_DENIED},
      {F_NOAPP, LIC_STATUS_APP_DENIED},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    lic_status st = run(rows[i].fails, false, 0);
    if (st != rows[i].want)
      fail_msg("row %zu (fails 0x%x): got %s, want %s", i, rows[i].fails, lic_status_name(st),
               lic_status_name(rows[i].want));
  }
}

static void test_register_order_and_capacity(void **state) {
  (void)state;
  static const struct {
    unsigned fails;
    size_t used;
    lic_status want;
  } rows[] = {
      {F_UNREG, 0, LIC_STATUS_VALID},                  /* a new project, room */
      {F_UNREG, 1, LIC_STATUS_VALID},
      {F_UNREG, 2, LIC_STATUS_CAPACITY_EXHAUSTED},     /* capacity 2 */
      {F_UNREG, 9, LIC_STATUS_CAPACITY_EXHAUSTED},
      {0, 2, LIC_STATUS_VALID},                        /* held already: no second slot */
      {F_UNKNOWN | F_UNREG, 2, LIC_STATUS_BAD_CREDENTIALS},
      {F_TOKEN, 0, LIC_STATUS_BAD_CREDENTIALS},
      {F_REVOKED | F_UNREG, 2, LIC_STATUS_REVOKED},
      {F_EXPIRED | F_UNREG, 2, LIC_STATUS_EXPIRED},
      {F_NOTYET | F_UNREG, 0, LIC_STATUS_NOT_YET_VALID},
      {F_DOMAIN | F_UNREG, 2, LIC_STATUS_DOMAIN_DENIED}, /* terms before capacity */
      {F_VERSION | F_UNREG, 0, LIC_STATUS_VERSION_DENIED},
      {F_PORT | F_UNREG, 0, LIC_STATUS_PORT_DENIED},
      {F_APP | F_UNREG, 0, LIC_STATUS_APP_DENIED},
      {F_ROLLBACK | F_UNREG, 0, LIC_STATUS_CLOCK_ROLLBACK},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    lic_status st = run(rows[i].fails, true, rows[i].used);
    if (st != rows[i].want)
      fail_msg("row %zu (fails 0x%x, used %zu): got %s, want %s", i, rows[i].fails, rows[i].used,
               lic_status_name(st), lic_status_name(rows[i].want));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_verify_order),
      cmocka_unit_test(test_register_order_and_capacity),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
