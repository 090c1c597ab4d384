/* test_srv_revlist.c - the revocation list a worker acts on (core/revlist.c):
 * none, then a list written while it runs, read again only once a second of
 * its clock passed (no stat per request), a replaced one, a damaged one
 * (none, logged), and the file removed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/revlist.h"
#include "lic/envelope.h"
#include "lic/fileio.h"
#include "testutil.h"

/* DATA/revocations.rev, replaced atomically as `licsrv import` does: seq,
 * listing the license id {base, base+1...}. */
static void put(const char *dir, int64_t seq, uint8_t base) {
  char path[512];
  uint8_t id[LIC_ID_LEN], *body = NULL, *env = NULL;
  size_t blen = 0, elen = 0;
  lic_revocations r;
  memset(&r, 0, sizeof r);
  r.seq = seq;
  r.issued = 1767225600 + seq;
  for (int i = 0; i < LIC_ID_LEN; i++)
    id[i] = (uint8_t)(base + i);
  assert_int_equal(lic_revocations_add_license(&r, id), LIC_OK);
  assert_int_equal(lic_revocations_pack(&r, &body, &blen), LIC_OK);
  lic_key *k = tu_test_root_key();
  assert_int_equal(lic_envelope_seal(LIC_REVOCATIONS_TYP, body, blen, k, &env, &elen), LIC_OK);
  snprintf(path, sizeof path, "%s/%s", dir, LIC_REVOCATIONS_FILE);
  assert_int_equal(lic_file_write(path, env, elen, 0600, 0), LIC_OK);
  lic_key_free(k);
  free(env);
  free(body);
  lic_revocations_clear(&r);
}

static bool lists(const lic_revocations *r, uint8_t base) {
  uint8_t id[LIC_ID_LEN];
  for (int i = 0; i < LIC_ID_LEN; i++)
    id[i] = (uint8_t)(base + i);
  return lic_revocations_has_license(r, id);
}

static void test_reread_once_a_second(void **state) {
  (void)state;
  char *dir = tu_tmpdir(), path[512];
  app_revlist c;
  const uint8_t *env = NULL;
  size_t len = 1;
  memset(&c, 0, sizeof c);
  snprintf(path, sizeof path, "%s/%s", dir, LIC_REVOCATIONS_FILE);

  const lic_revocations *r = app_revlist_get(&c, dir, 5000, &env, &len);
  assert_int_equal(r->seq, 0);
  assert_null(env);
  assert_int_equal(len, 0);

  put(dir, 1, 0x10); /* imported while the server runs */
  r = app_revlist_get(&c, dir, 5999, &env, &len);
  assert_int_equal(r->seq, 0); /* not looked at within the second */
  r = app_revlist_get(&c, dir, 6000, &env, &len);
  assert_int_equal(r->seq, 1); /* a second after the last look: read */
  assert_true(lists(r, 0x10));
  assert_non_null(env);
  assert_true(len > 0);

  put(dir, 2, 0x40);
  r = app_revlist_get(&c, dir, 6500, NULL, NULL);
  assert_int_equal(r->seq, 1);
  assert_true(lists(r, 0x10));
  r = app_revlist_get(&c, dir, 7000, NULL, NULL);
  assert_int_equal(r->seq, 2);
  assert_true(lists(r, 0x40) && !lists(r, 0x10));
  /* unchanged: the same parsed copy, kept */
  r = app_revlist_get(&c, dir, 9000, &env, &len);
  assert_int_equal(r->seq, 2);

  /* damaged in place (verified on import, so a fault here): none */
  assert_int_equal(lic_file_write(path, "not a list", 10, 0600, 0), LIC_OK);
  r = app_revlist_get(&c, dir, 10000, &env, &len);
  assert_int_equal(r->seq, 0);
  assert_null(env);

  put(dir, 3, 0x70);
  r = app_revlist_get(&c, dir, 11000, NULL, NULL);
  assert_int_equal(r->seq, 3);
  assert_int_equal(unlink(path), 0);
  r = app_revlist_get(&c, dir, 11999, NULL, NULL);
  assert_int_equal(r->seq, 3);
  r = app_revlist_get(&c, dir, 12000, &env, &len);
  assert_int_equal(r->seq, 0);
  assert_null(env);

  free(c.env);
  lic_revocations_clear(&c.rv);
  tu_rmtree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_reread_once_a_second)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
