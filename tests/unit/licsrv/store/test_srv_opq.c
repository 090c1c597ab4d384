/* test_srv_opq.c - store/opq.c, the write-operation queue both store writers
 * share: push/drain order, refusal once closed, wait and kick, the answers of
 * a drained group, and pushers on several threads drained exactly once by a
 * writer thread running at the same time. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lic/err.h"
#include "store/opq.h"
#include "testutil.h"

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int apply_never(store_wtxn *w, void *arg) {
  (void)w, (void)arg;
  return LIC_OK;
}

typedef struct {
  int calls, rc;
  char detail[64];
} answer;

static void done_note(void *arg, int rc, const char *detail) {
  answer *a = arg;
  a->calls++;
  a->rc = rc;
  snprintf(a->detail, sizeof a->detail, "%s", detail);
}

static void test_push_drain_order(void **state) {
  (void)state;
  opq q;
  answer ans[5];
  bool closed = true;
  memset(ans, 0, sizeof ans);
  assert_int_equal(opq_init(&q), LIC_OK);
  assert_null(opq_drain(&q, &closed));
  assert_false(closed);
  for (int i = 0; i < 5; i++)
    assert_int_equal(opq_push(&q, apply_never, done_note, &ans[i]), LIC_OK);
  opq_op *ops = opq_drain(&q, &closed);
  assert_false(closed);
  int n = 0;
  for (opq_op *o = ops; o != NULL; o = o->next, n++) {
    assert_ptr_equal(o->arg, &ans[n]); /* push order */
    assert_ptr_equal(o->apply, apply_never);
  }
  assert_int_equal(n, 5);
  assert_null(opq_drain(&q, &closed)); /* all were taken */
  /* The group's own answers, then one failure for the whole group. */
  ops->rc = LIC_EXISTS;
  snprintf(ops->detail, sizeof ops->detail, "own");
  opq_complete(ops, LIC_OK, NULL);
  assert_int_equal(ans[0].calls, 1);
  assert_int_equal(ans[0].rc, LIC_EXISTS);
  assert_string_equal(ans[0].detail, "own");
  assert_int_equal(ans[4].calls, 1);
  assert_int_equal(ans[4].rc, LIC_OK);
  for (int i = 0; i < 3; i++)
    assert_int_equal(opq_push(&q, apply_never, done_note, &ans[i]), LIC_OK);
  opq_complete(opq_drain(&q, &closed), LIC_UNAVAILABLE, "gone");
  for (int i = 0; i < 3; i++) {
    assert_int_equal(ans[i].calls, 2);
    assert_int_equal(ans[i].rc, LIC_UNAVAILABLE);
    assert_string_equal(ans[i].detail, "gone");
  }
  assert_int_equal(ans[3].calls, 1);
  opq_destroy(&q);
}

static void test_refuse_after_close(void **state) {
  (void)state;
  opq q;
  answer a = {0}, b = {0};
  bool closed = false;
  assert_int_equal(opq_init(&q), LIC_OK);
  assert_int_equal(opq_push(&q, apply_never, done_note, &a), LIC_OK);
  opq_close(&q);
  assert_int_equal(opq_push(&q, apply_never, done_note, &b), LIC_INVALID);
  assert_non_null(strstr(lic_errdetail(), "closing"));
  /* What came before the close is still there for the last drain. */
  assert_true(opq_wait(&q, -1));
  opq_op *ops = opq_drain(&q, &closed);
  assert_true(closed);
  assert_non_null(ops);
  assert_null(ops->next);
  assert_ptr_equal(ops->arg, &a);
  opq_complete(ops, LIC_OK, NULL);
  assert_int_equal(a.calls, 1);
  assert_int_equal(b.calls, 0); /* a refused push is never answered */
  assert_true(opq_wait(&q, 1000)); /* closed: returns at once, every time */
  opq_destroy(&q);
}

static void test_wait_kick_timeout(void **state) {
  (void)state;
  opq q;
  assert_int_equal(opq_init(&q), LIC_OK);
  int64_t t0 = now_ms();
  assert_false(opq_wait(&q, 50)); /* nothing: the timeout */
  int64_t took = now_ms() - t0;
  assert_true(took >= 45);
  assert_true(took < 2000);
  opq_kick(&q); /* a kick before the wait is not lost */
  t0 = now_ms();
  assert_false(opq_wait(&q, 5000));
  assert_true(now_ms() - t0 < 1000);
  assert_false(opq_wait(&q, 0)); /* and it was consumed */
  t0 = now_ms();
  assert_false(opq_wait_us(&q, 1500000)); /* microseconds: 1.5 s, not 1500 s */
  took = now_ms() - t0;
  assert_true(took >= 1450);
  assert_true(took < 4000);
  answer a = {0};
  bool closed;
  assert_int_equal(opq_push(&q, apply_never, done_note, &a), LIC_OK);
  assert_true(opq_wait(&q, 5000));
  opq_complete(opq_drain(&q, &closed), LIC_OK, NULL);
  assert_int_equal(a.calls, 1);
  opq_destroy(&q);
}

/* ---- several pushers, one writer draining at the same time ---- */

#define PUSHERS 6
#define PER_PUSHER 3000

typedef struct {
  opq *q;
  int id;
  int *answered; /* [PUSHERS * PER_PUSHER], written by the writer only */
} pusher;

typedef struct {
  int *answered;
  int slot;
} item;

static item items[PUSHERS * PER_PUSHER];

static void done_count(void *arg, int rc, const char *detail) {
  item *it = arg;
  (void)detail;
  if (rc == LIC_OK)
    it->answered[it->slot]++;
}

static void *push_main(void *arg) {
  pusher *p = arg;
  for (int i = 0; i < PER_PUSHER; i++) {
    int slot = p->id * PER_PUSHER + i;
    items[slot].answered = p->answered;
    items[slot].slot = slot;
    if (opq_push(p->q, apply_never, done_count, &items[slot]) != LIC_OK)
      return (void *)1;
    if (i % 500 == 0)
      opq_kick(p->q); /* kicks interleaved with pushes change nothing */
  }
  return NULL;
}

typedef struct {
  opq *q;
  int groups;
  int last_seen[PUSHERS]; /* per pusher, the order must hold */
  bool out_of_order;
} writer_state;

static void *writer_main(void *arg) {
  writer_state *w = arg;
  for (;;) {
    bool closed;
    opq_wait(w->q, 100);
    opq_op *ops = opq_drain(w->q, &closed);
    if (ops != NULL)
      w->groups++;
    for (opq_op *o = ops; o != NULL; o = o->next) {
      item *it = o->arg;
      int who = it->slot / PER_PUSHER, seq = it->slot % PER_PUSHER;
      if (seq <= w->last_seen[who])
        w->out_of_order = true;
      w->last_seen[who] = seq;
    }
    opq_complete(ops, LIC_OK, NULL);
    if (closed)
      return NULL;
  }
}

static void test_concurrent_pushers(void **state) {
  (void)state;
  opq q;
  pthread_t th[PUSHERS], wt;
  pusher p[PUSHERS];
  writer_state ws;
  int *answered = calloc(PUSHERS * PER_PUSHER, sizeof *answered);
  assert_non_null(answered);
  memset(&ws, 0, sizeof ws);
  for (int i = 0; i < PUSHERS; i++)
    ws.last_seen[i] = -1;
  ws.q = &q;
  assert_int_equal(opq_init(&q), LIC_OK);
  assert_int_equal(pthread_create(&wt, NULL, writer_main, &ws), 0);
  for (int i = 0; i < PUSHERS; i++) {
    p[i] = (pusher){&q, i, answered};
    assert_int_equal(pthread_create(&th[i], NULL, push_main, &p[i]), 0);
  }
  for (int i = 0; i < PUSHERS; i++) {
    void *ret;
    pthread_join(th[i], &ret);
    assert_null(ret);
  }
  opq_close(&q); /* after every push returned: the writer's last drain has the rest */
  pthread_join(wt, NULL);
  for (int i = 0; i < PUSHERS * PER_PUSHER; i++)
    if (answered[i] != 1)
      fail_msg("operation %d answered %d times", i, answered[i]);
  assert_false(ws.out_of_order);
  assert_true(ws.groups >= 1);
  bool closed;
  assert_null(opq_drain(&q, &closed));
  assert_true(closed);
  opq_destroy(&q);
  free(answered);
}

/* Each operation of a group starts from no detail: a failure reports its own
 * cause, never the one an earlier operation (or pass) left on the thread. */
static void test_op_begin_clears(void **state) {
  (void)state;
  opq q;
  answer ans = {0};
  bool closed;
  assert_int_equal(opq_init(&q), LIC_OK);
  assert_int_equal(opq_push(&q, apply_never, done_note, &ans), LIC_OK);
  opq_op *o = opq_drain(&q, &closed);
  assert_non_null(o);
  snprintf(o->detail, sizeof o->detail, "%s", "an earlier pass's failure");
  lic_fail(LIC_IO, "an earlier operation's failure");
  opq_op_begin(o);
  assert_string_equal(lic_errdetail(), "");
  assert_string_equal(o->detail, "");
  opq_complete(o, LIC_OK, NULL);
  assert_int_equal(ans.calls, 1);
  assert_string_equal(ans.detail, "");
  opq_destroy(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_push_drain_order),
      cmocka_unit_test(test_refuse_after_close),
      cmocka_unit_test(test_wait_kick_timeout),
      cmocka_unit_test(test_concurrent_pushers),
      cmocka_unit_test(test_op_begin_clears),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
