/* test_srv_lineage_store.c - the stored licenses' lineages and the binding
 * check of an import, on a real LMDB store with the renewal vector
 * (license-renewal supersedes license-private). */
#include <stdlib.h>
#include <string.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "core/lineage_store.h"
#include "testutil.h"
#include "vecutil.h"

typedef struct {
  char *dir;
  store *s;
  store_reader *rd;
  tu_blob env[2]; /* 0: license-private, 1: license-renewal */
  lic_license lic[2];
} fx;

static void parse(const tu_blob *b, lic_license *l) {
  lic_envelope e;
  assert_int_equal(lic_envelope_decode(b->p, b->n, &e), LIC_OK);
  assert_int_equal(lic_license_parse(e.body, e.body_len, l), LIC_OK);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->dir = tu_tmpdir();
  assert_int_equal(store_open(f->dir, STORE_CREATE, &f->s), LIC_OK);
  assert_int_equal(store_reader_new(f->s, &f->rd), LIC_OK);
  f->env[0] = tu_vec_stored("license-private.msgpack");
  f->env[1] = tu_vec_stored("license-renewal.msgpack");
  parse(&f->env[0], &f->lic[0]);
  parse(&f->env[1], &f->lic[1]);
  assert_true(f->lic[1].has_supersedes);
  assert_memory_equal(f->lic[1].supersedes, f->lic[0].id, LIC_ID_LEN);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  for (int i = 0; i < 2; i++) {
    lic_license_clear(&f->lic[i]);
    free(f->env[i].p);
  }
  store_reader_free(f->rd);
  store_close(f->s);
  tu_rmtree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

typedef struct {
  const lic_license *l;
  const tu_blob *b;
} put;

static int op_put(store_wtxn *w, void *arg) {
  put *p = arg;
  return store_w_license_put(w, p->l->id, p->b->p, p->b->n, 1700000000);
}

static void store_one(fx *f, int i) {
  put p = {&f->lic[i], &f->env[i]};
  assert_int_equal(store_write(f->s, op_put, &p), LIC_OK);
}

static int check(fx *f, const lic_license *l, char *why, size_t cap) {
  why[0] = '\0';
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  int rc = srv_lineage_import_check(f->rd, l, why, cap);
  store_reader_end(f->rd);
  return rc;
}

static void set_customer(lic_license *l, const char *c) {
  free(l->customer);
  l->customer = strdup(c);
}

static void test_renewal_keeps_the_binding(void **state) {
  fx *f = *state;
  char why[300];
  store_one(f, 0);
  assert_int_equal(check(f, &f->lic[1], why, sizeof why), LIC_OK);
  assert_string_equal(why, "");
  /* Terms change freely: expiry, seats, features. */
  f->lic[1].expires += 86400;
  f->lic[1].max_nodes += 3;
  assert_int_equal(check(f, &f->lic[1], why, sizeof why), LIC_OK);
}

static void test_a_changed_binding_is_refused_naming_the_field(void **state) {
  fx *f = *state;
  char why[300], id[LIC_UUID_LEN + 1];
  lic_uuid_format(f->lic[0].id, id);
  store_one(f, 0);
  set_customer(&f->lic[1], "Someone Else");
  assert_int_equal(check(f, &f->lic[1], why, sizeof why), LIC_INVALID);
  assert_non_null(strstr(why, "changes its customer"));
  assert_non_null(strstr(why, id));
  assert_null(strstr(why, "SPEC"));
  set_customer(&f->lic[1], f->lic[0].customer);
  f->lic[1].rif[0] ^= 1;
  assert_int_equal(check(f, &f->lic[1], why, sizeof why), LIC_INVALID);
  assert_non_null(strstr(why, "changes its rif"));
}

static void test_the_other_order_and_a_missing_predecessor(void **state) {
  fx *f = *state;
  char why[300];
  /* Nothing stored: a renewal starts a lineage. */
  set_customer(&f->lic[1], "Someone Else");
  assert_int_equal(check(f, &f->lic[1], why, sizeof why), LIC_OK);
  /* The renewal stored first (as signed); its predecessor imported after,
   * with another customer than the renewal kept. */
  set_customer(&f->lic[1], f->lic[0].customer);
  store_one(f, 1);
  assert_int_equal(check(f, &f->lic[0], why, sizeof why), LIC_OK);
  set_customer(&f->lic[0], "Someone Else");
  assert_int_equal(check(f, &f->lic[0], why, sizeof why), LIC_INVALID);
  assert_non_null(strstr(why, "already imported, renews this one but changes its customer"));
}

static void test_keys_and_answers_of_the_stored_lineage(void **state) {
  fx *f = *state;
  srv_lineages all;
  uint8_t key[LIC_ID_LEN];
  store_one(f, 0);
  store_one(f, 1);
  assert_int_equal(store_reader_begin(f->rd), LIC_OK);
  assert_int_equal(srv_lineages_read(f->rd, &all), LIC_OK);
  store_reader_end(f->rd);
  assert_int_equal(all.n, 2);
  srv_lineages_key(&all, f->lic[1].id, key);
  assert_memory_equal(key, f->lic[0].id, LIC_ID_LEN);
  int64_t when = f->lic[1].not_before > f->lic[0].not_before ? f->lic[1].not_before
                                                               : f->lic[0].not_before;
  const lic_license *l = srv_lineages_answer(&all, f->lic[0].id, when);
  assert_non_null(l);
  assert_memory_equal(l->id, f->lic[1].id, LIC_ID_LEN);
  uint8_t other[LIC_ID_LEN] = {9};
  srv_lineages_key(&all, other, key); /* not stored: itself */
  assert_memory_equal(key, other, LIC_ID_LEN);
  assert_null(srv_lineages_answer(&all, other, when));
  srv_lineages_clear(&all);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_renewal_keeps_the_binding, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_changed_binding_is_refused_naming_the_field, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_the_other_order_and_a_missing_predecessor, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_keys_and_answers_of_the_stored_lineage, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
