/* test_srv_store_pg_lock.c - store/pg/lock.h: which locks this thread holds
 * (what "under the lock" asserts read) and the writer's owner thread (what
 * "writer thread only" asserts read). A lock another thread holds is not
 * held by this one: what pthread_mutex_trylock cannot tell. */
#include <pthread.h>
#include <stdbool.h>

#include "store/pg/lock.h"
#include "testutil.h"

typedef struct {
  pgs_mutex *m;
  pgs_owner *o;
  pthread_mutex_t gate; /* the main thread looks while the other holds */
  pthread_cond_t cv;
  int step;
  bool held_there, owner_there;
} side;

static void step_to(side *sd, int step) {
  pthread_mutex_lock(&sd->gate);
  sd->step = step;
  pthread_cond_broadcast(&sd->cv);
  pthread_mutex_unlock(&sd->gate);
}

static void wait_step(side *sd, int step) {
  pthread_mutex_lock(&sd->gate);
  while (sd->step < step)
    pthread_cond_wait(&sd->cv, &sd->gate);
  pthread_mutex_unlock(&sd->gate);
}

static void *other(void *arg) {
  side *sd = arg;
  pgs__held_add(sd->m, true); /* as pgs_lock notes it in a Debug build */
  if (sd->o != NULL)
    pgs_owner_take(sd->o);
  sd->held_there = pgs__held(sd->m, true);
  sd->owner_there = sd->o == NULL || pgs_owner_is_me(sd->o);
  step_to(sd, 1);
  wait_step(sd, 2);
  pgs__held_drop(sd->m);
  if (sd->o != NULL)
    pgs_owner_drop(sd->o);
  return NULL;
}

static void run_other(side *sd, pgs_mutex *m, pgs_owner *o) {
  sd->m = m;
  sd->o = o;
  pthread_mutex_init(&sd->gate, NULL);
  pthread_cond_init(&sd->cv, NULL);
}

static void end_other(side *sd, pthread_t th) {
  step_to(sd, 2);
  pthread_join(th, NULL);
  pthread_cond_destroy(&sd->cv);
  pthread_mutex_destroy(&sd->gate);
}

static void test_held_is_this_threads(void **state) {
  (void)state;
  pgs_mutex m = {PTHREAD_MUTEX_INITIALIZER}, n = {PTHREAD_MUTEX_INITIALIZER}; /* addresses */
  side sd = {0};
  pthread_t th;
  assert_false(pgs__held(&m, false));
  pgs__held_add(&m, true);
  assert_true(pgs__held(&m, false));
  assert_true(pgs__held(&m, true));
  assert_false(pgs__held(&n, false)); /* another lock */
  pgs__held_drop(&m);
  assert_false(pgs__held(&m, false));

  run_other(&sd, &n, NULL);
  assert_int_equal(pthread_create(&th, NULL, other, &sd), 0);
  wait_step(&sd, 1);
  assert_true(sd.held_there);
  assert_false(pgs__held(&n, false)); /* held, but by the other thread */
  end_other(&sd, th);
}

static void test_read_hold_is_not_a_write_hold(void **state) {
  (void)state;
  pgs_rwlock l = {PTHREAD_RWLOCK_INITIALIZER}; /* its address */
  pgs__held_add(&l, false);
  assert_true(pgs__held(&l, false));
  assert_false(pgs__held(&l, true));
  pgs__held_drop(&l);
  pgs__held_add(&l, true);
  assert_true(pgs__held(&l, true));
  pgs__held_drop(&l);
  assert_false(pgs__held(&l, false));
}

/* The wrappers note the lock where asserts are on, and are the plain calls
 * where they are off. */
static void test_wrappers_note_with_asserts_only(void **state) {
  (void)state;
  pgs_mutex m;
  pgs_rwlock l;
  pgs_mutex_init(&m);
  pgs_rwlock_init(&l);
  pgs_lock(&m);
  pgs_rdlock(&l);
#ifndef NDEBUG
  assert_true(pgs__held(&m, true));
  assert_true(pgs__held(&l, false));
  assert_false(pgs__held(&l, true));
#else
  assert_false(pgs__held(&m, false));
  assert_false(pgs__held(&l, false));
#endif
  pgs_rwunlock(&l);
  pgs_unlock(&m);
  assert_false(pgs__held(&m, false));
  assert_false(pgs__held(&l, false));
  pgs_rwlock_destroy(&l);
  pgs_mutex_destroy(&m);
}

static void test_owner(void **state) {
  (void)state;
  pgs_owner o = {0};
  pgs_mutex m = {PTHREAD_MUTEX_INITIALIZER};
  side sd = {0};
  pthread_t th;
  assert_true(pgs_owner_is_me(&o)); /* not started: the opener's */
  run_other(&sd, &m, &o);
  assert_int_equal(pthread_create(&th, NULL, other, &sd), 0);
  wait_step(&sd, 1);
  assert_true(sd.owner_there);
  assert_false(pgs_owner_is_me(&o)); /* the other thread's while it runs */
  end_other(&sd, th);
  assert_true(pgs_owner_is_me(&o)); /* ended: the closer's */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_held_is_this_threads),
      cmocka_unit_test(test_read_hold_is_not_a_write_hold),
      cmocka_unit_test(test_wrappers_note_with_asserts_only),
      cmocka_unit_test(test_owner),
  };
  return cmocka_run_group_tests_name("store_pg_lock", tests, NULL, NULL);
}
