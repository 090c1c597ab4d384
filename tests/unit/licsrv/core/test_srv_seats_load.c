/* test_srv_seats_load.c - start-up with many node records (issue 23 item 2):
 * a store of 1,000,000 node records, generated here through the store API,
 * read back and loaded into the seat tables the way `serve` does at start
 * (core/app.c), within LOAD_BUDGET_S. Before, each record past a license's
 * cap evicted by scanning the whole table: 86,005 records took 16 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lic/err.h"
#include "core/seats.h"
#include "store/store.h"
#include "testutil.h"

#define NSEATED 900000 /* license A: nodes that held a seat, in scrambled ages */
#define NFAILED 100000 /* license B: nodes that only ever failed */
#define PER_OP 50000   /* records per durable write while generating */
#define STEP 7919      /* prime, coprime with both counts: a permutation of the ages */
#define LOAD_BUDGET_S 5.0

static const uint8_t LA[LIC_ID_LEN] = {0xa};
static const uint8_t LB[LIC_ID_LEN] = {0xb};

/* Sanitizers slow everything several times; the bound is for a normal build. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SLOWDOWN 4.0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SLOWDOWN 4.0
#endif
#endif
#ifndef SLOWDOWN
#define SLOWDOWN 1.0
#endif

typedef struct {
  size_t from, to;
} gen_range;

/* Record i: A's seated nodes first, then B's failing ones. */
static void record(size_t i, store_node *n) {
  memset(n, 0, sizeof *n);
  if (i < NSEATED) {
    memcpy(n->owner, LA, LIC_ID_LEN);
    snprintf(n->node, sizeof n->node, "rs-%07zu", i);
    n->last_seen = 1000000 + (int64_t)((i * STEP) % NSEATED);
  } else {
    size_t j = i - NSEATED;
    memcpy(n->owner, LB, LIC_ID_LEN);
    snprintf(n->node, sizeof n->node, "junk-%07zu", j);
    n->fail_time = 1000000 + (int64_t)((j * STEP) % NFAILED);
    snprintf(n->fail_status, sizeof n->fail_status, "domain_denied");
    snprintf(n->fail_reason, sizeof n->fail_reason, "not licensed for this domain");
  }
}

static int op_gen(store_wtxn *w, void *arg) {
  const gen_range *g = arg;
  store_node n;
  int rc = LIC_OK;
  for (size_t i = g->from; i < g->to && rc == LIC_OK; i++) {
    record(i, &n);
    rc = store_w_node_put(w, &n);
  }
  return rc;
}

typedef struct {
  srv_seats *seats;
  size_t records, dropped;
} load_ctx;

/* As core/app.c's seats_load_cb. */
static int load_cb(const store_node *n, void *arg) {
  load_ctx *x = arg;
  srv_node sn;
  char evicted[LIC_MAX_NAME + 1];
  memset(&sn, 0, sizeof sn);
  memcpy(sn.license, n->owner, LIC_ID_LEN);
  snprintf(sn.node, sizeof sn.node, "%s", n->node);
  sn.last_valid = n->last_seen;
  sn.last_seen = n->last_seen > n->fail_time ? n->last_seen : n->fail_time;
  sn.fail_time = n->fail_time;
  int st = lic_status_from_name(n->fail_status);
  sn.fail_status = st >= 0 ? (lic_status)st : LIC_STATUS_VALID;
  snprintf(sn.fail_reason, sizeof sn.fail_reason, "%s", n->fail_reason);
  srv_seats_load(x->seats, &sn, evicted, sizeof evicted);
  x->records++;
  x->dropped += evicted[0] != '\0';
  return 0;
}

/* CPU time of this process: what the load costs, whatever else the machine
 * runs meanwhile (ctest -j, the other tree's build): wall time flaked. */
static double since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_million_records_load_fast(void **state) {
  char *dir = tu_tmpdir();
  store *st = NULL;
  store_reader *rd = NULL;
  struct timespec t0;
  (void)state;
  assert_int_equal(store_open(dir, STORE_CREATE, &st), LIC_OK);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  for (size_t from = 0; from < NSEATED + NFAILED; from += PER_OP) {
    gen_range g = {from, from + PER_OP};
    assert_int_equal(store_write(st, op_gen, &g), LIC_OK);
  }
  print_message("generated %d node records in %.2f s\n", NSEATED + NFAILED, since(&t0));

  /* The load, timed: the store read and the seat tables, as at start. */
  load_ctx x = {srv_seats_new(), 0, 0};
  assert_non_null(x.seats);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  assert_int_equal(store_reader_new(st, &rd), LIC_OK);
  assert_int_equal(store_reader_begin(rd), LIC_OK);
  assert_int_equal(store_node_each(rd, NULL, load_cb, &x), LIC_OK);
  srv_seats_load_done(x.seats);
  store_reader_end(rd);
  double took = since(&t0);
  print_message("loaded %zu records in %.2f s of CPU (bound %.1f s)\n", x.records, took,
                LOAD_BUDGET_S * SLOWDOWN);
  assert_int_equal(x.records, NSEATED + NFAILED);
  assert_true(took <= LOAD_BUDGET_S * SLOWDOWN);

  /* A kept its newest SRV_UNLIMITED_NODES, whatever the key order. */
  srv_seats_stats ss;
  srv_seats_stats_get(x.seats, &ss);
  assert_int_equal(ss.nodes, SRV_UNLIMITED_NODES);
  assert_int_equal(ss.evicted, NSEATED - SRV_UNLIMITED_NODES);
  srv_node *a = NULL;
  size_t n = 0;
  assert_int_equal(srv_seats_snapshot(x.seats, LA, false, &a, &n), LIC_OK);
  assert_int_equal(n, SRV_UNLIMITED_NODES);
  for (size_t i = 0; i < n; i++)
    assert_true(a[i].last_valid >= 1000000 + NSEATED - SRV_UNLIMITED_NODES);
  free(a);
  /* B's failure list: the most recent SRV_FAILURES_KEEP, newest first; the
   * others are dropped (from the store too, by the caller). */
  srv_failure *f = NULL;
  assert_int_equal(srv_seats_failures(x.seats, LB, &f, &n), LIC_OK);
  assert_int_equal(n, SRV_FAILURES_KEEP);
  assert_int_equal(x.dropped, NFAILED - SRV_FAILURES_KEEP);
  assert_int_equal(f[0].time, 1000000 + NFAILED - 1);
  for (size_t i = 0; i < n; i++) {
    assert_true(f[i].time >= 1000000 + NFAILED - SRV_FAILURES_KEEP);
    if (i > 0)
      assert_true(f[i].time < f[i - 1].time);
  }
  free(f);
  /* And the table works on: a newcomer evicts the oldest kept. */
  int64_t used;
  assert_true(srv_seats_acquire(x.seats, LA, "newcomer", 5000000, 14400, 0, &used));
  srv_seats_stats_get(x.seats, &ss);
  assert_int_equal(ss.nodes, SRV_UNLIMITED_NODES);
  assert_true(srv_seats_known(x.seats, LA, "newcomer"));

  srv_seats_free(x.seats);
  store_reader_free(rd);
  store_close(st);
  tu_rmtree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_million_records_load_fast),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
