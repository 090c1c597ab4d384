/* test_srv_batch.c - the heartbeat batch both writers keep (store/batch.c):
 * notes merged per (owner, node) with the newest seen and failure winning,
 * drops, the table growing far past its first size, an unwritten batch put
 * back under newer notes, node name limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "store/batch.h"
#include "testutil.h"

static const uint8_t O1[LIC_ID_LEN] = {1};
static const uint8_t O2[LIC_ID_LEN] = {2};

/* The entry of (owner, node), or NULL. */
static const store_bentry *find(const store_batch *b, const uint8_t *owner, const char *node) {
  const store_bentry *hit = NULL;
  for (size_t i = 0; i < b->cap; i++)
    if (b->e[i].used && memcmp(b->e[i].n.owner, owner, LIC_ID_LEN) == 0 &&
        strcmp(b->e[i].n.node, node) == 0) {
      assert_null(hit); /* one entry per (owner, node) */
      hit = &b->e[i];
    }
  return hit;
}

static size_t used(const store_batch *b) {
  size_t n = 0;
  for (size_t i = 0; i < b->cap; i++)
    n += b->e[i].used;
  return n;
}

static void test_notes_merge(void **state) {
  store_batch b = {0};
  bool first;
  (void)state;
  assert_int_equal(store_batch_note(&b, O1, "rs-1", 100, NULL, NULL, false, &first), LIC_OK);
  assert_true(first);
  assert_int_equal(store_batch_note(&b, O1, "rs-1", 90, NULL, NULL, false, &first), LIC_OK);
  assert_false(first);
  assert_int_equal(store_batch_note(&b, O2, "rs-1", 50, NULL, NULL, false, NULL), LIC_OK);
  assert_int_equal(b.n, 2);
  const store_bentry *e = find(&b, O1, "rs-1");
  assert_non_null(e);
  assert_true(e->seen && !e->failed && !e->drop);
  assert_int_equal(e->n.last_seen, 100); /* an older note does not move it back */
  /* failures: the newest wins, with its status and reason */
  assert_int_equal(store_batch_note(&b, O1, "rs-1", 120, "expired", "ended", false, NULL), LIC_OK);
  assert_int_equal(store_batch_note(&b, O1, "rs-1", 110, "bad_domain", "old", false, NULL),
                   LIC_OK);
  e = find(&b, O1, "rs-1");
  assert_true(e->seen && e->failed);
  assert_int_equal(e->n.fail_time, 120);
  assert_string_equal(e->n.fail_status, "expired");
  assert_string_equal(e->n.fail_reason, "ended");
  assert_int_equal(e->n.last_seen, 100);
  /* a drop forgets the notes; a note after it undoes the drop */
  assert_int_equal(store_batch_note(&b, O2, "rs-1", 0, NULL, NULL, true, NULL), LIC_OK);
  e = find(&b, O2, "rs-1");
  assert_true(e->drop && !e->seen && !e->failed);
  assert_int_equal(store_batch_note(&b, O2, "rs-1", 60, "x", NULL, false, NULL), LIC_OK);
  e = find(&b, O2, "rs-1");
  assert_true(!e->drop && e->failed);
  assert_string_equal(e->n.fail_reason, "");
  assert_int_equal(b.n, 2);
  store_batch_free(&b);
  assert_null(b.e);
  assert_int_equal(b.n, 0);
  store_batch_free(&b); /* twice, and NULL: nothing */
  store_batch_free(NULL);
}

static void test_grows_and_finds_every_entry(void **state) {
  store_batch b = {0};
  char node[32];
  (void)state;
  for (int i = 0; i < 5000; i++) {
    snprintf(node, sizeof node, "n%d", i);
    assert_int_equal(store_batch_note(&b, i % 2 ? O1 : O2, node, i, NULL, NULL, false, NULL),
                     LIC_OK);
  }
  assert_int_equal(b.n, 5000);
  assert_int_equal(used(&b), 5000);
  assert_true(b.cap >= 2 * b.n); /* at most half full */
  assert_int_equal(b.cap & (b.cap - 1), 0);
  for (int i = 0; i < 5000; i += 499) {
    snprintf(node, sizeof node, "n%d", i);
    const store_bentry *e = find(&b, i % 2 ? O1 : O2, node);
    assert_non_null(e);
    assert_int_equal(e->n.last_seen, i);
    assert_null(find(&b, i % 2 ? O2 : O1, node));
  }
  store_batch t = store_batch_take(&b);
  assert_int_equal(b.n, 0);
  assert_null(b.e);
  assert_int_equal(t.n, 5000);
  store_batch_free(&t);
}

/* A batch that could not be written goes back under what came since. */
static void test_merge_older_keeps_the_newest(void **state) {
  store_batch old = {0}, cur = {0};
  (void)state;
  assert_int_equal(store_batch_note(&old, O1, "a", 200, NULL, NULL, false, NULL), LIC_OK);
  assert_int_equal(store_batch_note(&old, O1, "a", 150, "f", "old", false, NULL), LIC_OK);
  assert_int_equal(store_batch_note(&old, O1, "b", 10, NULL, NULL, false, NULL), LIC_OK);
  assert_int_equal(store_batch_note(&old, O1, "c", 0, NULL, NULL, true, NULL), LIC_OK);
  assert_int_equal(store_batch_note(&old, O1, "d", 30, NULL, NULL, false, NULL), LIC_OK);
  assert_int_equal(store_batch_note(&cur, O1, "a", 100, "g", "new", false, NULL), LIC_OK);
  assert_int_equal(store_batch_note(&cur, O1, "c", 40, NULL, NULL, false, NULL), LIC_OK);
  assert_int_equal(store_batch_note(&cur, O1, "d", 0, NULL, NULL, true, NULL), LIC_OK);
  assert_int_equal(store_batch_merge_older(&cur, &old), LIC_OK);
  assert_int_equal(cur.n, 4);
  assert_int_equal(used(&cur), 4);
  const store_bentry *e = find(&cur, O1, "a");
  assert_true(e->seen && e->failed);
  assert_int_equal(e->n.last_seen, 200); /* the old seen, the newer failure */
  assert_int_equal(e->n.fail_time, 150);
  assert_string_equal(e->n.fail_reason, "old"); /* 150 is newer than 100 */
  e = find(&cur, O1, "b");
  assert_true(e->seen && e->n.last_seen == 10); /* back in */
  e = find(&cur, O1, "c");
  assert_true(e->seen && !e->drop); /* a newer note wins over an old drop */
  e = find(&cur, O1, "d");
  assert_true(e->drop && !e->seen); /* a newer drop wins over an old note */
  store_batch_free(&old);
  store_batch_free(&cur);
  /* into an empty batch: all of it */
  store_batch empty = {0};
  assert_int_equal(store_batch_note(&old, O2, "z", 5, NULL, NULL, false, NULL), LIC_OK);
  assert_int_equal(store_batch_merge_older(&empty, &old), LIC_OK);
  assert_int_equal(empty.n, 1);
  assert_non_null(find(&empty, O2, "z"));
  store_batch_free(&old);
  store_batch_free(&empty);
}

static void test_node_names(void **state) {
  store_batch b = {0};
  char longname[STORE_MAX_NODE + 2];
  (void)state;
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  assert_int_equal(store_batch_note(&b, O1, "", 1, NULL, NULL, false, NULL), LIC_LIMIT);
  assert_int_equal(store_batch_note(&b, O1, longname, 1, NULL, NULL, false, NULL), LIC_LIMIT);
  assert_int_equal(b.n, 0);
  longname[STORE_MAX_NODE] = '\0'; /* the longest allowed */
  assert_int_equal(store_batch_check_node(longname), LIC_OK);
  assert_int_equal(store_batch_note(&b, O1, longname, 1, NULL, NULL, false, NULL), LIC_OK);
  assert_non_null(find(&b, O1, longname));
  store_batch_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_notes_merge),
      cmocka_unit_test(test_grows_and_finds_every_entry),
      cmocka_unit_test(test_merge_older_keeps_the_newest),
      cmocka_unit_test(test_node_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
