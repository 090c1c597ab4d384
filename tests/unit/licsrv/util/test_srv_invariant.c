/* test_srv_invariant.c - util/invariant.h: the lock check tells a held mutex
 * from a free one and leaves it as it was; the thread check passes on its
 * own thread only. The asserts themselves run in the Debug (sanitizer) tree. */
#include <pthread.h>
#include <stdbool.h>

#include "util/invariant.h"
#include "testutil.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
  pthread_t main;
  bool same;
} thread_arg;

static void *other(void *arg) {
  thread_arg *a = arg;
  a->same = pthread_equal(pthread_self(), a->main) != 0;
  return NULL;
}

static void test_locked(void **state) {
  (void)state;
  assert_false(srv_mutex_locked(&mu));
  assert_int_equal(pthread_mutex_trylock(&mu), 0); /* still free after the check */
  assert_true(srv_mutex_locked(&mu));
  assert_true(srv_mutex_locked(&mu)); /* still held after the check */
  SRV_ASSERT_LOCKED(&mu);
  pthread_mutex_unlock(&mu);
  assert_false(srv_mutex_locked(&mu));
}

static void test_thread(void **state) {
  (void)state;
  thread_arg a = {.main = pthread_self(), .same = true};
  SRV_ASSERT_THREAD(pthread_self());
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, other, &a), 0);
  pthread_join(t, NULL);
  assert_false(a.same);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_locked),
      cmocka_unit_test(test_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
