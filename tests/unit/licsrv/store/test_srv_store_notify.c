/* test_srv_store_notify.c - the change notification's payload parser
 * (store/pg/notify.c): what the schema's triggers send (version 4: a
 * registration's row itself, or its deletion; version 3: with the
 * registration's project and the writer's origin; version 2's still
 * accepted) parses to the account, project, origin or kind it names;
 * garbage, truncated, oversized, wrong-prefix and bad-hex payloads are
 * LIC_FORMAT with *out zeroed. No PostgreSQL needed. */
#include <stdio.h>
#include <string.h>

#include "lic/err.h"
#include "store/pg/internal.h"
#include "testutil.h"

static const char HEX[] = "00112233445566778899aabbccddeeff";
static const char PHEX[] = "ffeeddccbbaa99887766554433221100";
static const char OHEX[] = "0123456789abcdef";
static const uint8_t OR[PGS_ORIGIN_LEN] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
static const uint8_t PR[LIC_ID_LEN] = {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,
                                       0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00};
static const uint8_t ID[LIC_ID_LEN] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                       0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

static int parse(const char *p, pgs_notify *n) { return pgs__notify_parse(p, strlen(p), n); }

static void bad(const char *p) {
  pgs_notify n;
  memset(&n, 0x5a, sizeof n);
  assert_int_equal(parse(p, &n), LIC_FORMAT);
  static const pgs_notify zero;
  assert_memory_equal(&n, &zero, sizeof n);
}

static void test_what_the_trigger_sends(void **state) {
  (void)state;
  char p[64];
  pgs_notify n;
  snprintf(p, sizeof p, "a %s", HEX);
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_ACCOUNT);
  assert_memory_equal(n.id, ID, LIC_ID_LEN);
  snprintf(p, sizeof p, "r %s", HEX);
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_REGS);
  assert_memory_equal(n.id, ID, LIC_ID_LEN);
  assert_int_equal(parse("c ", &n), LIC_OK); /* the trigger's "c " || '' */
  assert_int_equal(n.kind, PGS_NOTIFY_CERTS);
  assert_int_equal(parse("c", &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_CERTS);
  assert_int_equal(parse("t ", &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_TOKENS);
}

/* Version 3: the registration's project, the writer's origin on every kind. */
static void test_what_version_3_sends(void **state) {
  (void)state;
  char p[PGS_NOTIFY_MAX + 1];
  pgs_notify n;
  snprintf(p, sizeof p, "r %s %s", HEX, PHEX); /* a writer that set no origin */
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_REG);
  assert_memory_equal(n.id, ID, LIC_ID_LEN);
  assert_memory_equal(n.project, PR, LIC_ID_LEN);
  assert_false(n.has_origin);
  snprintf(p, sizeof p, "r %s %s %s", HEX, PHEX, OHEX);
  assert_int_equal(strlen(p), 84); /* the longest payload */
  assert_true(strlen(p) <= PGS_NOTIFY_MAX);
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_REG);
  assert_memory_equal(n.project, PR, LIC_ID_LEN);
  assert_true(n.has_origin);
  assert_memory_equal(n.origin, OR, PGS_ORIGIN_LEN);
  snprintf(p, sizeof p, "a %s %s", HEX, OHEX);
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_ACCOUNT);
  assert_memory_equal(n.id, ID, LIC_ID_LEN);
  assert_true(n.has_origin);
  assert_memory_equal(n.origin, OR, PGS_ORIGIN_LEN);
  snprintf(p, sizeof p, "c %s", OHEX);
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_CERTS);
  assert_true(n.has_origin);
  snprintf(p, sizeof p, "t %s", OHEX);
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_TOKENS);
  assert_memory_equal(n.origin, OR, PGS_ORIGIN_LEN);
  assert_int_equal(parse("t", &n), LIC_OK);
  assert_false(n.has_origin);
  /* the old "r ACCOUNT" stays the whole account's registrations, no origin */
  snprintf(p, sizeof p, "r %s", HEX);
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_REGS);
  assert_false(n.has_origin);
}

static void test_version_3_malformed(void **state) {
  (void)state;
  char p[2 * PGS_NOTIFY_MAX];
  snprintf(p, sizeof p, "r %s %s", HEX, OHEX); /* an origin where the project goes */
  bad(p);
  snprintf(p, sizeof p, "r %s %s %s %s", HEX, PHEX, OHEX, OHEX); /* two origins */
  bad(p);
  snprintf(p, sizeof p, "a %s %s", HEX, PHEX); /* a project on an account */
  bad(p);
  snprintf(p, sizeof p, "r %s %s ", HEX, PHEX); /* a space and no origin */
  bad(p);
  snprintf(p, sizeof p, "r %s  %s", HEX, PHEX);
  bad(p);
  snprintf(p, sizeof p, "r %s-%s", HEX, PHEX);
  bad(p);
  snprintf(p, sizeof p, "a %s %s", HEX, OHEX);
  for (size_t cut = 2 + 2 * LIC_ID_LEN + 1; cut < strlen(p); cut++) { /* a cut origin */
    char q[2 * PGS_NOTIFY_MAX];
    snprintf(q, sizeof q, "%.*s", (int)cut, p);
    bad(q);
  }
  const char subst[] = {'g', 'A', ' ', '\0', '\x80'};
  for (size_t pos = 0; pos < 2 * LIC_ID_LEN + 1 + 2 * PGS_ORIGIN_LEN; pos++)
    for (size_t k = 0; k < sizeof subst; k++) { /* bad digits in project and origin */
      size_t len = (size_t)snprintf(p, sizeof p, "r %s %s %s", HEX, PHEX, OHEX);
      size_t at = 2 + 2 * LIC_ID_LEN + 1 + pos;
      if (p[at] == ' ')
        continue;
      p[at] = subst[k]; /* a NUL too: the length given is what counts */
      pgs_notify n;
      static const pgs_notify zero;
      memset(&n, 0x5a, sizeof n);
      assert_int_equal(pgs__notify_parse(p, len, &n), LIC_FORMAT);
      assert_memory_equal(&n, &zero, sizeof n);
    }
}

/* Version 4: the row written ("R"), the row deleted ("d"). */
static void test_what_version_4_sends(void **state) {
  (void)state;
  char p[PGS_NOTIFY_MAX + 1];
  pgs_notify n;
  /* project "Reports" (52 65 70 6f 72 74 73), domain "r.example" */
  snprintf(p, sizeof p, "R %s %s 1700000000 1700000123 5265706f727473 722e6578616d706c65 %s", HEX,
           PHEX, OHEX);
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_ROW);
  assert_memory_equal(n.id, ID, LIC_ID_LEN);
  assert_memory_equal(n.project, PR, LIC_ID_LEN);
  assert_memory_equal(n.row.account, ID, LIC_ID_LEN);
  assert_memory_equal(n.row.project_id, PR, LIC_ID_LEN);
  assert_int_equal(n.row.created, 1700000000);
  assert_int_equal(n.row.last_valid, 1700000123);
  assert_string_equal(n.row.project, "Reports");
  assert_string_equal(n.row.domain, "r.example");
  assert_true(n.has_origin);
  assert_memory_equal(n.origin, OR, PGS_ORIGIN_LEN);
  snprintf(p, sizeof p, "R %s %s 0 0  ", HEX, PHEX); /* empty strings, no origin */
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_ROW);
  assert_string_equal(n.row.project, "");
  assert_false(n.has_origin);
  snprintf(p, sizeof p, "R %s %s 9223372036854775807 1 61 62", HEX, PHEX);
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.row.created, INT64_MAX);
  snprintf(p, sizeof p, "d %s %s %s", HEX, PHEX, OHEX);
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_GONE);
  assert_memory_equal(n.project, PR, LIC_ID_LEN);
  assert_true(n.has_origin);
  snprintf(p, sizeof p, "d %s %s", HEX, PHEX);
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(n.kind, PGS_NOTIFY_GONE);

  /* the longest: a project of LIC_MAX_NAME, a domain of LIC_MAX_DOMAIN bytes */
  char proj[2 * LIC_MAX_NAME + 3], dom[2 * LIC_MAX_DOMAIN + 3];
  memset(proj, 0, sizeof proj);
  memset(dom, 0, sizeof dom);
  for (size_t i = 0; i < 2 * LIC_MAX_NAME; i += 2)
    memcpy(proj + i, "61", 2);
  for (size_t i = 0; i < 2 * LIC_MAX_DOMAIN; i += 2)
    memcpy(dom + i, "62", 2);
  int len = snprintf(p, sizeof p, "R %s %s 1700000000 1700000000 %s %s %s", HEX, PHEX, proj, dom,
                     OHEX);
  assert_true(len < PGS_NOTIFY_MAX);
  assert_int_equal(parse(p, &n), LIC_OK);
  assert_int_equal(strlen(n.row.project), LIC_MAX_NAME);
  assert_int_equal(strlen(n.row.domain), LIC_MAX_DOMAIN);
  memcpy(proj + 2 * LIC_MAX_NAME, "61", 2); /* a byte too long each */
  snprintf(p, sizeof p, "R %s %s 1 1 %s 62", HEX, PHEX, proj);
  bad(p);
  memcpy(dom + 2 * LIC_MAX_DOMAIN, "62", 2);
  snprintf(p, sizeof p, "R %s %s 1 1 61 %s", HEX, PHEX, dom);
  bad(p);

  const char *rows[] = {
      "01 1 61 62",                  /* a leading zero */
      "-1 1 61 62",                  /* negative */
      "9223372036854775808 1 61 62", /* past int64 */
      "99999999999999999999 1 61 62",
      "1 1 6 62",    /* an odd number of digits */
      "1 1 6A 62",   /* upper case */
      "1 1 00 62",   /* a NUL byte */
      "1 1 6100 62", /* a NUL inside */
      "1 1 61",      /* no domain */
      "1 1",
      "1",
      "",
      "1 1 61 62 0123456789abcdef 0123456789abcdef", /* two origins */
      "1 1 61 62 0123456789abcde",                   /* a cut origin */
      "1 1 61 62 ",                                  /* a space and no origin */
      "+1 1 61 62",
      " 1 1 61 62",
      "1  1 61 62",
  };
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    snprintf(p, sizeof p, "R %s %s%s%s", HEX, PHEX, rows[i][0] ? " " : "", rows[i]);
    bad(p);
  }
  snprintf(p, sizeof p, "R %s 1 1 61 62", HEX); /* no project id */
  bad(p);
  snprintf(p, sizeof p, "d %s", HEX);
  bad(p);
  snprintf(p, sizeof p, "d %s %s 1", HEX, PHEX);
  bad(p);
  snprintf(p, sizeof p, "d %s %s ", HEX, PHEX);
  bad(p);
}

static void test_empty_and_garbage(void **state) {
  (void)state;
  pgs_notify n;
  bad("");
  assert_int_equal(pgs__notify_parse(NULL, 0, &n), LIC_FORMAT);
  bad(" ");
  bad("x");
  bad("\xff\xfe");
  bad("hello world");
  bad("c x");
  bad("cc");
  bad("t  ");
  assert_string_equal(lic_errdetail(), "notify: 't' takes no argument but an origin");
  bad("c 0123456789abcde");   /* an origin a digit short */
  bad("t 0123456789abcdef0"); /* a digit long */
  bad("c  0123456789abcdef");
}

static void test_wrong_prefix(void **state) {
  (void)state;
  char p[64];
  const char *prefixes[] = {"A ", "R ", "x ", "a\t", "a_", "aa", " a", "n "};
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
    snprintf(p, sizeof p, "%s%s", prefixes[i], HEX);
    bad(p);
  }
  snprintf(p, sizeof p, "c %s", HEX); /* certs take no id */
  bad(p);
}

static void test_truncated_and_oversized(void **state) {
  (void)state;
  char p[2 * PGS_NOTIFY_MAX];
  bad("a");
  bad("a ");
  for (size_t cut = 2; cut < 2 + 2 * LIC_ID_LEN; cut++) { /* every shorter length */
    snprintf(p, sizeof p, "a %s", HEX);
    p[cut] = '\0';
    bad(p);
  }
  snprintf(p, sizeof p, "a %s0", HEX); /* a digit too many */
  bad(p);
  snprintf(p, sizeof p, "r %s ", HEX);
  bad(p);
  memset(p, 'a', sizeof p - 1); /* over the bound: refused before reading */
  p[sizeof p - 1] = '\0';
  bad(p);
  assert_non_null(strstr(lic_errdetail(), "at most"));
  /* the length given is what counts, not a NUL: a NUL inside is a bad digit */
  char z[2 + 2 * LIC_ID_LEN];
  memcpy(z, "a ", 2);
  memcpy(z + 2, HEX, 2 * LIC_ID_LEN);
  pgs_notify n;
  assert_int_equal(pgs__notify_parse(z, sizeof z, &n), LIC_OK);
  z[9] = '\0';
  assert_int_equal(pgs__notify_parse(z, sizeof z, &n), LIC_FORMAT);
}

static void test_bad_hex(void **state) {
  (void)state;
  char p[64];
  const char subst[] = {'g', 'G', 'A', 'F', ' ', '-', 'x', '\n', '\x80'};
  for (size_t pos = 0; pos < 2 * LIC_ID_LEN; pos++)
    for (size_t k = 0; k < sizeof subst; k++) {
      snprintf(p, sizeof p, "a %s", HEX);
      p[2 + pos] = subst[k];
      bad(p);
    }
  /* a uuid's dashes or the \x of bytea's text form are not the trigger's */
  bad("a 00112233-4455-6677-8899-aabbccddeeff");
  bad("a \\x00112233445566778899aabbccddeeff");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_what_the_trigger_sends), cmocka_unit_test(test_empty_and_garbage),
      cmocka_unit_test(test_wrong_prefix),           cmocka_unit_test(test_truncated_and_oversized),
      cmocka_unit_test(test_bad_hex),
      cmocka_unit_test(test_what_version_3_sends),
      cmocka_unit_test(test_what_version_4_sends),   cmocka_unit_test(test_version_3_malformed),
  };
  return cmocka_run_group_tests_name("store_pg_notify", tests, NULL, NULL);
}
