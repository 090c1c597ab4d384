/* invariant.h - what comments promise, asserted (docs/architecture.md,
 * "Invariants"). assert(3): on in the Debug tree (the sanitizer build that
 * runs the test suite), compiled out under NDEBUG (release packages, the
 * RelWithDebInfo tree): nothing here may have a side effect that matters. */
#ifndef LICSRV_INVARIANT_H
#define LICSRV_INVARIANT_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

/* Whether m is locked. trylock cannot tell by whom: the caller's promise is
 * that it is itself, and a mutex nobody holds is the bug this catches. */
static inline bool srv_mutex_locked(pthread_mutex_t *m) {
  int r = pthread_mutex_trylock(m);
  if (r == 0)
    pthread_mutex_unlock(m);
  return r == EBUSY;
}

/* "Under m" / "with m held". */
#define SRV_ASSERT_LOCKED(m) assert(srv_mutex_locked(m))
/* "On thread t only" (the writer, a worker's loop). */
#define SRV_ASSERT_THREAD(t) assert(pthread_equal(pthread_self(), (t)))

#endif
