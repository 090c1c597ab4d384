/* test_srv_lineage.c - lineages by `supersedes` and the license in force. */
#include <string.h>

#include "core/lineage.h"
#include "testutil.h"

static const int64_t NOW = 1800000000; /* 2027-01-15 */
#define DAY 86400

#define MAXL 8
typedef struct {
  lic_license l[MAXL];
  srv_lin_entry e[MAXL];
  size_t n;
  srv_lineage g;
} fixture;

static void id_of(int tag, uint8_t id[LIC_ID_LEN]) {
  memset(id, 0, LIC_ID_LEN);
  id[0] = (uint8_t)tag;
}

/* License `tag` (its id's first byte), superseding `sup` (0: none). */
static void add(fixture *f, int tag, int sup, int64_t issued, int64_t nb, int64_t exp, bool revoked,
                const char *customer) {
  lic_license *l = &f->l[f->n];
  memset(l, 0, sizeof *l);
  id_of(tag, l->id);
  if (sup != 0) {
    l->has_supersedes = true;
    id_of(sup, l->supersedes);
  }
  l->issued = issued;
  l->not_before = nb;
  l->expires = exp;
  l->customer = strdup(customer);
  l->project = strdup("Reports");
  f->e[f->n].lic = l;
  f->e[f->n].revoked = revoked;
  f->n++;
}

static void build(fixture *f) {
  assert_int_equal(srv_lineage_build(&f->g, f->e, f->n), LIC_OK);
}

static void done(fixture *f) {
  srv_lineage_clear(&f->g);
  for (size_t i = 0; i < f->n; i++)
    lic_license_clear(&f->l[i]);
}

/* The tag (first id byte) of the license answering a request naming tag. */
static int answer(fixture *f, int tag, int64_t now, char *why, size_t cap) {
  uint8_t id[LIC_ID_LEN];
  id_of(tag, id);
  why[0] = '\0';
  size_t i = srv_lineage_resolve(&f->g, tag != 0 ? id : NULL, now, why, cap);
  return i == SRV_LIN_NONE ? -1 : f->l[i].id[0];
}

static int key_tag(fixture *f, int tag) {
  uint8_t id[LIC_ID_LEN];
  id_of(tag, id);
  size_t i = srv_lineage_find(&f->g, id);
  assert_true(i != SRV_LIN_NONE);
  return f->l[f->g.key[i]].id[0];
}

static void test_renewal_ahead_takes_over_at_its_second(void **state) {
  (void)state;
  fixture f = {0};
  char why[201];
  int64_t end = NOW + 10;
  add(&f, 1, 0, NOW - 300 * DAY, NOW - 300 * DAY, end, false, "Acme");
  add(&f, 2, 1, NOW - DAY, end, end + 365 * DAY, false, "Acme");
  build(&f);
  assert_int_equal(answer(&f, 1, end - 1, why, sizeof why), 1);
  assert_int_equal(answer(&f, 2, end - 1, why, sizeof why), 1); /* the successor waits */
  assert_int_equal(answer(&f, 0, end - 1, why, sizeof why), 1);
  assert_int_equal(answer(&f, 1, end, why, sizeof why), 2);     /* at that second */
  assert_int_equal(answer(&f, 0, end, why, sizeof why), 2);
  assert_int_equal(key_tag(&f, 2), 1); /* seats stay with the lineage's root */
  done(&f);
}

static void test_several_lineages_need_a_name(void **state) {
  (void)state;
  fixture f = {0};
  char why[201];
  add(&f, 1, 0, NOW - DAY, NOW - DAY, NOW + DAY, false, "Acme");
  add(&f, 2, 1, NOW - 10, NOW - 10, NOW + 9 * DAY, false, "Acme");
  add(&f, 3, 0, NOW - DAY, NOW - DAY, 0, false, "Globex");
  build(&f);
  assert_int_equal(answer(&f, 0, NOW, why, sizeof why), -1);
  assert_string_equal(why, "this server holds several licenses: name one: "
                           "02000000-0000-0000-0000-000000000000 (Acme/Reports); "
                           "03000000-0000-0000-0000-000000000000 (Globex/Reports)");
  assert_int_equal(answer(&f, 1, NOW, why, sizeof why), 2);
  assert_int_equal(answer(&f, 3, NOW, why, sizeof why), 3);
  assert_int_equal(answer(&f, 9, NOW, why, sizeof why), -1);
  assert_string_equal(why, "no such license on this server");
  assert_int_equal(key_tag(&f, 3), 3);
  /* Only one lineage live: it answers without a name. */
  f.e[2].revoked = true;
  assert_int_equal(answer(&f, 0, NOW, why, sizeof why), 2);
  /* A lineage not yet valid is live: still two to choose from. */
  f.e[2].revoked = false;
  f.l[2].not_before = NOW + DAY;
  assert_int_equal(answer(&f, 0, NOW, why, sizeof why), -1);
  assert_non_null(strstr(why, "03000000-0000-0000-0000-000000000000 (Globex/Reports)"));
  f.e[2].revoked = true;
  f.e[1].revoked = true;
  f.e[0].revoked = true;
  assert_int_equal(answer(&f, 0, NOW, why, sizeof why), -1);
  assert_true(strncmp(why, "this server holds several licenses, none current", 48) == 0);
  done(&f);
}

static void test_long_names_and_many_lineages_fit_the_reason(void **state) {
  (void)state;
  fixture f = {0};
  char why[201];
  for (int t = 1; t <= 5; t++)
    add(&f, t, 0, NOW - DAY, NOW - DAY, 0, false,
        "aéééééééééé Corporation");
  build(&f);
  assert_int_equal(answer(&f, 0, NOW, why, sizeof why), -1);
  assert_true(strlen(why) <= 200);
  assert_non_null(strstr(why, "01000000-0000-0000-0000-000000000000 (aééééééé/Reports)"));
  assert_non_null(strstr(why, "more"));
  assert_true(lic_utf8_valid(why, strlen(why))); /* names cut between characters */
  done(&f);
}

static void test_none_imported(void **state) {
  (void)state;
  fixture f = {0};
  char why[201];
  build(&f);
  assert_int_equal(answer(&f, 0, NOW, why, sizeof why), -1);
  assert_string_equal(why, "no license imported on this server");
  done(&f);
}

static void test_revoked_successor_leaves_the_predecessor_if_in_force(void **state) {
  (void)state;
  fixture f = {0};
  char why[201];
  bool inf;
  add(&f, 1, 0, NOW - 300 * DAY, NOW - 300 * DAY, NOW + DAY, false, "Acme");
  add(&f, 2, 1, NOW - DAY, NOW - DAY, NOW + 365 * DAY, true, "Acme");
  build(&f);
  assert_int_equal(answer(&f, 2, NOW, why, sizeof why), 1);
  /* The predecessor ended: the revoked successor gives the denial (revoked). */
  size_t p = srv_lineage_pick(&f.g, f.g.key[1], NOW + 2 * DAY, &inf);
  assert_false(inf);
  assert_int_equal(f.l[p].id[0], 2);
  done(&f);
}

static void test_expired_and_not_yet_valid(void **state) {
  (void)state;
  fixture f = {0};
  char why[201];
  bool inf;
  add(&f, 1, 0, NOW - 300 * DAY, NOW - 300 * DAY, NOW - DAY, false, "Acme");  /* ended */
  add(&f, 2, 1, NOW - 2 * DAY, NOW + DAY, NOW + 365 * DAY, false, "Acme");   /* a gap */
  add(&f, 3, 2, NOW - DAY, NOW + 2 * DAY, NOW + 365 * DAY, false, "Acme");
  build(&f);
  size_t p = srv_lineage_pick(&f.g, f.g.key[0], NOW, &inf);
  assert_false(inf);
  assert_int_equal(f.l[p].id[0], 1); /* the newest that started: expired */
  assert_int_equal(answer(&f, 3, NOW, why, sizeof why), 1);
  assert_int_equal(answer(&f, 3, NOW + DAY, why, sizeof why), 2);
  assert_int_equal(answer(&f, 1, NOW + 3 * DAY, why, sizeof why), 3);
  done(&f);
  /* Nothing started yet: the one that starts first (not yet valid). */
  fixture h = {0};
  add(&h, 4, 0, NOW - DAY, NOW + 5 * DAY, 0, false, "Acme");
  add(&h, 5, 4, NOW, NOW + 2 * DAY, 0, false, "Acme");
  build(&h);
  p = srv_lineage_pick(&h.g, h.g.key[1], NOW, &inf);
  assert_false(inf);
  assert_int_equal(h.l[p].id[0], 5);
  done(&h);
}

static void test_equal_issued_the_successor_wins(void **state) {
  (void)state;
  fixture f = {0};
  char why[201];
  /* The successor's id sorts first: the tie is still the successor's. */
  add(&f, 9, 0, NOW - DAY, NOW - DAY, NOW + DAY, false, "Acme");
  add(&f, 1, 9, NOW - DAY, NOW - DAY, NOW + 9 * DAY, false, "Acme");
  build(&f);
  assert_int_equal(answer(&f, 9, NOW, why, sizeof why), 1);
  assert_int_equal(answer(&f, 0, NOW, why, sizeof why), 1);
  assert_int_equal(key_tag(&f, 1), 9);
  done(&f);
}

static void test_chain_of_three_named_by_the_middle(void **state) {
  (void)state;
  fixture f = {0};
  char why[201];
  add(&f, 3, 2, NOW - 10, NOW - 10, NOW + 365 * DAY, false, "Acme");
  add(&f, 1, 0, NOW - 700 * DAY, NOW - 700 * DAY, NOW - 300 * DAY, false, "Acme");
  add(&f, 2, 1, NOW - 320 * DAY, NOW - 300 * DAY, NOW + 60 * DAY, false, "Acme");
  build(&f);
  assert_int_equal(answer(&f, 2, NOW, why, sizeof why), 3);
  assert_int_equal(answer(&f, 1, NOW, why, sizeof why), 3);
  assert_int_equal(answer(&f, 0, NOW, why, sizeof why), 3);
  assert_int_equal(answer(&f, 2, NOW - 100, why, sizeof why), 2);
  for (int t = 1; t <= 3; t++)
    assert_int_equal(key_tag(&f, t), 1);
  assert_int_equal(f.g.depth[0], 2);
  /* Revoke the newest: the middle is in force again (it still is). */
  f.e[0].revoked = true;
  assert_int_equal(answer(&f, 3, NOW, why, sizeof why), 2);
  done(&f);
}

static void test_missing_predecessor_starts_a_lineage_and_cycles_end(void **state) {
  (void)state;
  fixture f = {0};
  char why[201];
  add(&f, 2, 1, NOW - DAY, NOW - DAY, 0, false, "Acme"); /* 1 is not stored */
  add(&f, 3, 2, NOW, NOW, 0, false, "Acme");
  /* 5 and 6 supersede each other: cut at the earlier (5). */
  add(&f, 5, 6, NOW - 2 * DAY, NOW - DAY, 0, false, "Globex");
  add(&f, 6, 5, NOW - DAY, NOW - DAY, 0, false, "Globex");
  add(&f, 7, 7, NOW - DAY, NOW - DAY, 0, false, "Initech"); /* itself */
  build(&f);
  assert_int_equal(key_tag(&f, 3), 2);
  assert_int_equal(key_tag(&f, 6), 5);
  assert_int_equal(key_tag(&f, 5), 5);
  assert_int_equal(key_tag(&f, 7), 7);
  assert_int_equal(answer(&f, 5, NOW, why, sizeof why), 6);
  assert_int_equal(answer(&f, 2, NOW, why, sizeof why), 3);
  done(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_renewal_ahead_takes_over_at_its_second),
      cmocka_unit_test(test_several_lineages_need_a_name),
      cmocka_unit_test(test_long_names_and_many_lineages_fit_the_reason),
      cmocka_unit_test(test_none_imported),
      cmocka_unit_test(test_revoked_successor_leaves_the_predecessor_if_in_force),
      cmocka_unit_test(test_expired_and_not_yet_valid),
      cmocka_unit_test(test_equal_issued_the_successor_wins),
      cmocka_unit_test(test_chain_of_three_named_by_the_middle),
      cmocka_unit_test(test_missing_predecessor_starts_a_lineage_and_cycles_end),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
