/* test_srv_seats.c - seat accounting: held while fresh, exhausted, freed, failures kept. */
#include <pthread.h>
#include <string.h>

#include "core/seats.h"
#include "testutil.h"

static const uint8_t LA[LIC_ID_LEN] = {1};
static const uint8_t LB[LIC_ID_LEN] = {2};
#define WINDOW 14400 /* 2 x heartbeat 7200 */

static void test_seats_exhausted_and_freed(void **state) {
  (void)state;
  srv_seats *s = srv_seats_new();
  int64_t used, t = 1000000;
  assert_true(srv_seats_acquire(s, LA, "n1", t, WINDOW, 2, &used));
  assert_int_equal(used, 1);
  assert_true(srv_seats_acquire(s, LA, "n2", t + 1, WINDOW, 2, &used));
  assert_int_equal(used, 2);
  assert_false(srv_seats_acquire(s, LA, "n3", t + 2, WINDOW, 2, &used));
  assert_int_equal(used, 2);
  /* holders keep their seats */
  assert_true(srv_seats_acquire(s, LA, "n1", t + 3, WINDOW, 2, &used));
  /* another license has its own seats */
  assert_true(srv_seats_acquire(s, LB, "n3", t + 3, WINDOW, 1, &used));
  assert_int_equal(used, 1);
  /* n2 goes silent for 2 x heartbeat: its seat frees, n3 gets it */
  assert_true(srv_seats_acquire(s, LA, "n1", t + WINDOW, WINDOW, 2, &used));
  assert_true(srv_seats_acquire(s, LA, "n3", t + 1 + WINDOW, WINDOW, 2, &used));
  assert_int_equal(used, 2);
  assert_int_equal(srv_seats_used(s, LA, t + 1 + WINDOW, WINDOW), 2);
  srv_seats_free(s);
}

static void test_unlimited(void **state) {
  (void)state;
  srv_seats *s = srv_seats_new();
  int64_t used;
  char node[32];
  for (int i = 0; i < 3000; i++) { /* also exercises table growth */
    snprintf(node, sizeof node, "node-%d", i);
    assert_true(srv_seats_acquire(s, LA, node, 5000, WINDOW, 0, &used));
  }
  assert_int_equal(used, 3000);
  srv_seats_free(s);
}

static void test_failures_and_snapshot(void **state) {
  (void)state;
  srv_seats *s = srv_seats_new();
  srv_node *a;
  size_t n;
  int64_t used;
  assert_false(srv_seats_fail(s, LA, "bad", 100, LIC_STATUS_DOMAIN_DENIED, "domain 'x' is not licensed", NULL, 0));
  assert_true(srv_seats_acquire(s, LA, "good", 101, WINDOW, 0, &used));
  /* a denial never creates a seat record: only "good" is in the table */
  assert_int_equal(srv_seats_snapshot(s, LA, false, &a, &n), LIC_OK);
  assert_int_equal(n, 1);
  assert_string_equal(a[0].node, "good");
  assert_int_equal(a[0].last_valid, 101);
  free(a);
  srv_failure *f;
  assert_int_equal(srv_seats_failures(s, LA, &f, &n), LIC_OK);
  assert_int_equal(n, 1);
  assert_string_equal(f[0].node, "bad");
  assert_int_equal(f[0].status, LIC_STATUS_DOMAIN_DENIED);
  assert_int_equal(f[0].time, 100);
  assert_string_equal(f[0].reason, "domain 'x' is not licensed");
  free(f);
  /* a seat holder that fails keeps its seat and its record says so */
  assert_true(srv_seats_fail(s, LA, "good", 102, LIC_STATUS_PORT_DENIED, "port", NULL, 0));
  assert_int_equal(srv_seats_snapshot(s, LA, false, &a, &n), LIC_OK);
  assert_int_equal(n, 1);
  assert_int_equal(a[0].fail_time, 102);
  free(a);
  /* dirty snapshot: everything once, then nothing until a change */
  assert_int_equal(srv_seats_snapshot(s, NULL, true, &a, &n), LIC_OK);
  assert_int_equal(n, 1);
  free(a);
  assert_int_equal(srv_seats_snapshot(s, NULL, true, &a, &n), LIC_OK);
  assert_int_equal(n, 0);
  free(a);
  assert_true(srv_seats_acquire(s, LA, "good", 200, WINDOW, 0, &used));
  assert_int_equal(srv_seats_snapshot(s, NULL, true, &a, &n), LIC_OK);
  assert_int_equal(n, 1);
  free(a);
  /* forget drops a license's nodes only */
  assert_true(srv_seats_acquire(s, LB, "other", 200, WINDOW, 0, &used));
  srv_seats_forget(s, LA);
  assert_int_equal(srv_seats_snapshot(s, NULL, false, &a, &n), LIC_OK);
  assert_int_equal(n, 1);
  assert_string_equal(a[0].node, "other");
  free(a);
  /* a loaded node holds its seat */
  srv_node ln;
  memset(&ln, 0, sizeof ln);
  memcpy(ln.license, LA, LIC_ID_LEN);
  snprintf(ln.node, sizeof ln.node, "restored");
  ln.last_valid = 300;
  srv_seats_load(s, &ln, NULL, 0);
  assert_false(srv_seats_acquire(s, LA, "newcomer", 301, WINDOW, 1, &used));
  srv_seats_free(s);
}

/* Issue 11 item 2: a flood of failing checks with a new node name each
 * neither enters the seat table nor blocks a seat; the failure list keeps
 * the most recent N, one entry per node. */
static void test_failure_flood_bounded(void **state) {
  (void)state;
  srv_seats *s = srv_seats_new_with(100, 50);
  int64_t used;
  char node[32];
  char ev[LIC_MAX_NAME + 1];
  for (int i = 0; i < 300000; i++) {
    snprintf(node, sizeof node, "junk-%d", i);
    assert_false(srv_seats_fail(s, LA, node, 1000 + i, LIC_STATUS_DOMAIN_DENIED, "no", ev, sizeof ev));
    /* past 100, each new one pushes the oldest out: the caller drops it */
    char want[32] = "";
    if (i >= 100)
      snprintf(want, sizeof want, "junk-%d", i - 100);
    assert_string_equal(ev, want);
  }
  srv_seats_stats st;
  srv_seats_stats_get(s, &st);
  assert_int_equal(st.nodes, 0);
  assert_int_equal(st.failures, 100);
  srv_failure *f;
  size_t n;
  assert_int_equal(srv_seats_failures(s, LA, &f, &n), LIC_OK);
  assert_int_equal(n, 100);
  assert_string_equal(f[0].node, "junk-299999"); /* newest first */
  assert_string_equal(f[99].node, "junk-299900");
  free(f);
  /* the same node failing again is one entry, moved to the front */
  srv_seats_fail(s, LA, "junk-299950", 400000, LIC_STATUS_PORT_DENIED, "again", NULL, 0);
  assert_int_equal(srv_seats_failures(s, LA, &f, &n), LIC_OK);
  assert_int_equal(n, 99); /* the last 100 failures, one entry per node */
  assert_string_equal(f[0].node, "junk-299950");
  int seen = 0;
  for (size_t i = 0; i < n; i++)
    seen += strcmp(f[i].node, "junk-299950") == 0;
  assert_int_equal(seen, 1);
  free(f);
  /* a legitimate node still gets a seat on the unlimited license */
  assert_true(srv_seats_acquire(s, LA, "rs-1", 400001, WINDOW, 0, &used));
  assert_int_equal(used, 1);
  /* junk loaded from an old store goes to the failure list, not the seats */
  srv_node ln;
  memset(&ln, 0, sizeof ln);
  memcpy(ln.license, LB, LIC_ID_LEN);
  int dropped = 0;
  for (int i = 0; i < 1000; i++) { /* loaded in key order, not time order */
    snprintf(ln.node, sizeof ln.node, "old-%d", i);
    ln.fail_time = 10 + (i * 7919) % 1000;
    srv_seats_load(s, &ln, ev, sizeof ev);
    dropped += ev[0] != '\0';
  }
  srv_seats_load_done(s);
  assert_int_equal(dropped, 900); /* LB keeps its 100 most recent */
  assert_int_equal(srv_seats_failures(s, LB, &f, &n), LIC_OK);
  assert_int_equal(n, 100);
  for (size_t i = 0; i < n; i++)
    assert_true(f[i].time >= 910);
  assert_int_equal(f[0].time, 1009); /* newest first */
  free(f);
  assert_true(srv_seats_acquire(s, LB, "rs-2", 400001, WINDOW, 1, &used));
  srv_seats_stats_get(s, &st);
  assert_int_equal(st.nodes, 2);
  srv_seats_free(s);
}

/* A license's seat table is bounded by its max_nodes (the oldest idle node
 * goes for a newcomer), an unlimited one by the cap (oldest first). */
static void test_table_bounded_per_license(void **state) {
  (void)state;
  srv_seats *s = srv_seats_new_with(10, 5);
  int64_t used;
  char node[32];
  srv_seats_stats st;
  /* limited to 2: each new node, once the others lapsed, replaces one */
  for (int i = 0; i < 100; i++) {
    snprintf(node, sizeof node, "n%d", i);
    assert_true(srv_seats_acquire(s, LA, node, 1000 + (int64_t)i * WINDOW, WINDOW, 2, &used));
  }
  srv_seats_stats_get(s, &st);
  assert_int_equal(st.nodes, 2);
  /* two holders: a third is refused and not recorded */
  assert_true(srv_seats_acquire(s, LA, "h1", 10000000, WINDOW, 2, &used));
  assert_true(srv_seats_acquire(s, LA, "h2", 10000000, WINDOW, 2, &used));
  assert_false(srv_seats_acquire(s, LA, "h3", 10000000, WINDOW, 2, &used));
  srv_node *a;
  size_t n;
  assert_int_equal(srv_seats_snapshot(s, LA, false, &a, &n), LIC_OK);
  assert_int_equal(n, 2);
  for (size_t i = 0; i < n; i++)
    assert_true(strcmp(a[i].node, "h1") == 0 || strcmp(a[i].node, "h2") == 0);
  free(a);
  /* unlimited, cap 5: the oldest goes, the newest five stay */
  for (int i = 0; i < 20; i++) {
    snprintf(node, sizeof node, "u%d", i);
    assert_true(srv_seats_acquire(s, LB, node, 2000 + i, WINDOW, 0, &used));
  }
  assert_int_equal(srv_seats_snapshot(s, LB, false, &a, &n), LIC_OK);
  assert_int_equal(n, 5);
  for (size_t i = 0; i < n; i++)
    assert_true(a[i].last_valid >= 2015);
  free(a);
  assert_int_equal(srv_seats_used(s, LB, 2020, WINDOW), 5);
  srv_seats_stats_get(s, &st);
  assert_true(st.evicted >= 15 + 98);
  srv_seats_free(s);
}

/* Public mode (issue 23 item 1): an account's nodes are bounded by the cap,
 * the least recently seen one going and named for the caller to delete. */
static void test_note_bounded_per_account(void **state) {
  (void)state;
  srv_seats *s = srv_seats_new_with(10, 3);
  char ev[LIC_MAX_NAME + 1], node[16];
  for (int i = 0; i < 3; i++) {
    snprintf(node, sizeof node, "n%d", i);
    assert_true(srv_seats_note(s, LA, node, 100 + i, ev, sizeof ev));
    assert_string_equal(ev, "");
  }
  assert_true(srv_seats_note(s, LA, "n0", 200, ev, sizeof ev)); /* seen again: the newest */
  assert_string_equal(ev, "");
  assert_true(srv_seats_note(s, LA, "n3", 201, ev, sizeof ev));
  assert_string_equal(ev, "n1"); /* the least recently seen */
  assert_true(srv_seats_note(s, LA, "n4", 202, ev, sizeof ev));
  assert_string_equal(ev, "n2");
  assert_true(srv_seats_known(s, LA, "n0"));
  assert_false(srv_seats_known(s, LA, "n1"));
  /* Another account has its own bound. */
  for (int i = 0; i < 3; i++) {
    snprintf(node, sizeof node, "m%d", i);
    assert_true(srv_seats_note(s, LB, node, 300, ev, sizeof ev));
    assert_string_equal(ev, "");
  }
  srv_seats_stats st;
  srv_seats_stats_get(s, &st);
  assert_int_equal(st.nodes, 6);
  assert_int_equal(st.evicted, 2);
  srv_seats_free(s);
}

/* Admin release frees a seat at once (issue 11 item 3). */
static void test_release(void **state) {
  (void)state;
  srv_seats *s = srv_seats_new();
  int64_t used;
  assert_true(srv_seats_acquire(s, LA, "evil-1", 100, WINDOW, 2, &used));
  assert_true(srv_seats_acquire(s, LA, "evil-2", 100, WINDOW, 2, &used));
  assert_false(srv_seats_acquire(s, LA, "rs-1", 101, WINDOW, 2, &used));
  assert_true(srv_seats_release(s, LA, "evil-1"));
  assert_false(srv_seats_release(s, LA, "evil-1"));
  assert_false(srv_seats_release(s, LB, "evil-2"));
  assert_int_equal(srv_seats_used(s, LA, 102, WINDOW), 1);
  assert_true(srv_seats_acquire(s, LA, "rs-1", 102, WINDOW, 2, &used));
  assert_int_equal(used, 2);
  /* release keeps the rest of a probe cluster reachable */
  char node[32];
  for (int i = 0; i < 2000; i++) {
    snprintf(node, sizeof node, "c%d", i);
    assert_true(srv_seats_acquire(s, LB, node, 200, WINDOW, 0, &used));
  }
  for (int i = 0; i < 2000; i += 2) {
    snprintf(node, sizeof node, "c%d", i);
    assert_true(srv_seats_release(s, LB, node));
  }
  for (int i = 1; i < 2000; i += 2) {
    snprintf(node, sizeof node, "c%d", i);
    assert_false(srv_seats_release(s, LA, node));
    assert_true(srv_seats_acquire(s, LB, node, 201, WINDOW, 1000, &used));
  }
  assert_int_equal(srv_seats_used(s, LB, 201, WINDOW), 1000);
  srv_seats_free(s);
}

/* Pages of the seat table: every node once, in (license, node) order. */
static void test_pages(void **state) {
  (void)state;
  srv_seats *s = srv_seats_new_with(10, 100000);
  int64_t used;
  char node[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(node, sizeof node, "p%05d", (i * 7919) % 5000);
    assert_true(srv_seats_acquire(s, i % 3 ? LA : LB, node, 100, WINDOW, 0, &used));
  }
  for (int i = 0; i < 7; i++) { /* failing nodes without a seat are listed too */
    snprintf(node, sizeof node, "f%d", i);
    srv_seats_fail(s, LB, node, 200, LIC_STATUS_PORT_DENIED, "port", NULL, 0);
  }
  srv_seats_fail(s, LA, "p02919", 200, LIC_STATUS_PORT_DENIED, "port", NULL, 0); /* seated (i = 1): once */
  srv_node *a, last;
  size_t n, total = 0;
  bool more = true, first = true;
  while (more) {
    assert_int_equal(srv_seats_page(s, first ? NULL : last.license, first ? NULL : last.node, 333,
                                    &a, &n, &more),
                     LIC_OK);
    for (size_t i = 0; i < n; i++) {
      if (!first || i > 0) {
        const srv_node *p = i > 0 ? &a[i - 1] : &last;
        int d = memcmp(p->license, a[i].license, LIC_ID_LEN);
        assert_true(d < 0 || (d == 0 && strcmp(p->node, a[i].node) < 0));
      }
    }
    if (n > 0)
      last = a[n - 1];
    total += n;
    first = false;
    free(a);
    assert_true(n == 333 || !more);
  }
  assert_int_equal(total, 5007);
  srv_seats_free(s);
}

struct race {
  srv_seats *s;
  int id;
  int won;
};

static void *racer(void *arg) {
  struct race *r = arg;
  char node[32];
  int64_t used;
  for (int i = 0; i < 200; i++) {
    snprintf(node, sizeof node, "t%d-%d", r->id, i);
    r->won += srv_seats_acquire(r->s, LA, node, 7000, WINDOW, 50, &used);
  }
  return NULL;
}

/* The held count is cached per license: it must always equal a recount from
 * scratch, through lapses, renewals, clock steps back, window changes, loads
 * and forgets. A plain model of every node's last valid check is the judge. */
#define MNODES 24
static int64_t model_held(const int64_t *lv, int lic, int64_t now, int64_t window) {
  int64_t n = 0;
  for (int i = 0; i < MNODES; i++)
    if (i % 2 == lic && lv[i] > 0 && now - lv[i] < window)
      n++;
  return n;
}

static void test_held_count_matches_model(void **state) {
  (void)state;
  srv_seats *s = srv_seats_new();
  int64_t lv[MNODES] = {0}, now = 1000000, window = 100, used;
  bool in[MNODES] = {false}; /* in the seat table */
  uint64_t x = 88172645463325252ull; /* xorshift: a fixed, repeatable walk */
  char node[16];
  for (int step = 0; step < 20000; step++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int i = (int)(x % MNODES), lic = i % 2, op = (int)((x >> 8) % 100);
    const uint8_t *L = lic ? LB : LA;
    int64_t max = (int64_t)((x >> 16) % 6); /* 0 = unlimited */
    snprintf(node, sizeof node, "m%d", i);
    if (op < 70) { /* time moves on a little, mostly forwards */
      now += (int64_t)((x >> 24) % 30) - (op < 3 ? 60 : 0);
      int64_t before = model_held(lv, lic, now, window);
      bool holding = lv[i] > 0 && now - lv[i] < window;
      bool want = holding || max == 0 || before < max;
      assert_int_equal(srv_seats_acquire(s, L, node, now, window, max, &used), want);
      /* the table is bounded by max: the oldest idle go until there is room */
      for (bool room = !(want && !in[i] && max > 0); !room;) {
        int count = 0, victim = -1;
        for (int k = lic; k < MNODES; k += 2)
          if (in[k]) {
            count++;
            bool idle = !(lv[k] > 0 && now - lv[k] < window);
            char kn[16], vn[16];
            snprintf(kn, sizeof kn, "m%d", k);
            snprintf(vn, sizeof vn, "m%d", victim);
            if (idle && (victim < 0 || lv[k] < lv[victim] ||
                         (lv[k] == lv[victim] && strcmp(kn, vn) < 0)))
              victim = k;
          }
        room = count < max;
        if (!room) {
          assert_true(victim >= 0);
          in[victim] = false;
          lv[victim] = 0;
        }
      }
      if (want) {
        lv[i] = now;
        in[i] = true;
      }
      assert_int_equal(used, model_held(lv, lic, now, window));
    } else if (op < 85) {
      assert_int_equal(srv_seats_used(s, L, now, window), model_held(lv, lic, now, window));
    } else if (op < 90) { /* a reload changes the heartbeat */
      window = window == 100 ? 60 : 100;
    } else if (op < 97) { /* a remembered node loaded from the store */
      srv_node n;
      memset(&n, 0, sizeof n);
      memcpy(n.license, L, LIC_ID_LEN);
      snprintf(n.node, sizeof n.node, "%s", node);
      n.last_valid = lv[i] = now - (int64_t)((x >> 32) % 150);
      in[i] = true;
      srv_seats_load(s, &n, NULL, 0);
    } else { /* the license is forgotten */
      srv_seats_forget(s, L);
      for (int k = lic; k < MNODES; k += 2) {
        lv[k] = 0;
        in[k] = false;
      }
    }
    assert_int_equal(srv_seats_used(s, LA, now, window), model_held(lv, 0, now, window));
    assert_int_equal(srv_seats_used(s, LB, now, window), model_held(lv, 1, now, window));
  }
  srv_seats_free(s);
}

static void test_concurrent_never_oversubscribes(void **state) {
  (void)state;
  struct race rs[4];
  pthread_t th[4];
  srv_seats *s = srv_seats_new();
  for (int i = 0; i < 4; i++) {
    rs[i] = (struct race){s, i, 0};
    pthread_create(&th[i], NULL, racer, &rs[i]);
  }
  int total = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    total += rs[i].won;
  }
  assert_int_equal(total, 50);
  assert_int_equal(srv_seats_used(s, LA, 7000, WINDOW), 50);
  srv_seats_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seats_exhausted_and_freed),
      cmocka_unit_test(test_unlimited),
      cmocka_unit_test(test_failures_and_snapshot),
      cmocka_unit_test(test_held_count_matches_model),
      cmocka_unit_test(test_concurrent_never_oversubscribes),
      cmocka_unit_test(test_failure_flood_bounded),
      cmocka_unit_test(test_table_bounded_per_license),
      cmocka_unit_test(test_note_bounded_per_account),
      cmocka_unit_test(test_release),
      cmocka_unit_test(test_pages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
