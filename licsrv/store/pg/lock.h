/* store/pg/lock.h - the locks of the backend's rooms and the thread that owns
 * the writer's state, with what a build with asserts on (Debug: the sanitizer
 * tree) checks of them.
 *
 * Each thread keeps the list of the locks it holds, so a function whose
 * comment says "under the cache lock" asserts it (PGS_ASSERT_HELD):
 * pthread_mutex_trylock failing with EBUSY cannot tell "held by me" from
 * "held by another thread". The writer thread records itself when it starts
 * (pgs_owner), so "writer thread only" is asserted too (PGS_ASSERT_OWNER).
 * With NDEBUG (release packages, the RelWithDebInfo tree) the wrappers are
 * the plain pthread calls and the asserts are nothing. */
#ifndef LICSRV_STORE_PG_LOCK_H
#define LICSRV_STORE_PG_LOCK_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct {
  pthread_mutex_t m;
} pgs_mutex;

typedef struct {
  pthread_rwlock_t l;
} pgs_rwlock;

/* lock.c: this thread's held locks (write: held exclusively). Kept only when
 * asserts are on; pgs__held answers for a lock noted by pgs__held_add. */
void pgs__held_add(const void *lock, bool write);
void pgs__held_drop(const void *lock);
bool pgs__held(const void *lock, bool write);

#ifndef NDEBUG
#define PGS_NOTE_LOCK(l, w) pgs__held_add((l), (w))
#define PGS_NOTE_UNLOCK(l) pgs__held_drop(l)
#else
#define PGS_NOTE_LOCK(l, w) ((void)0)
#define PGS_NOTE_UNLOCK(l) ((void)0)
#endif
/* This thread holds l (a mutex, or a rwlock either way) / l for writing. */
#define PGS_ASSERT_HELD(l) assert(pgs__held((l), false))
#define PGS_ASSERT_WRHELD(l) assert(pgs__held((l), true))

static inline void pgs_mutex_init(pgs_mutex *x) { pthread_mutex_init(&x->m, NULL); }
static inline void pgs_mutex_destroy(pgs_mutex *x) { pthread_mutex_destroy(&x->m); }
static inline void pgs_lock(pgs_mutex *x) {
  pthread_mutex_lock(&x->m);
  PGS_NOTE_LOCK(x, true);
}
static inline void pgs_unlock(pgs_mutex *x) {
  PGS_NOTE_UNLOCK(x);
  pthread_mutex_unlock(&x->m);
}
/* pthread_cond_wait on x (held before and after, as far as this thread's
 * list goes: it is this thread's again when the wait returns). */
static inline void pgs_wait(pthread_cond_t *c, pgs_mutex *x) { pthread_cond_wait(c, &x->m); }

static inline void pgs_rwlock_init(pgs_rwlock *x) { pthread_rwlock_init(&x->l, NULL); }
static inline void pgs_rwlock_destroy(pgs_rwlock *x) { pthread_rwlock_destroy(&x->l); }
static inline void pgs_rdlock(pgs_rwlock *x) {
  pthread_rwlock_rdlock(&x->l);
  PGS_NOTE_LOCK(x, false);
}
static inline void pgs_wrlock(pgs_rwlock *x) {
  pthread_rwlock_wrlock(&x->l);
  PGS_NOTE_LOCK(x, true);
}
static inline void pgs_rwunlock(pgs_rwlock *x) {
  PGS_NOTE_UNLOCK(x);
  pthread_rwlock_unlock(&x->l);
}

/* The thread that owns some state once it runs (the writer): it records
 * itself at its start and forgets itself at its end. Before and after, the
 * opener and the closer own it (nothing else runs then). */
typedef struct {
  pthread_t th;
  atomic_bool set;
} pgs_owner;

static inline void pgs_owner_take(pgs_owner *o) {
  o->th = pthread_self();
  atomic_store(&o->set, true); /* after th: a thread that sees set sees th */
}
static inline void pgs_owner_drop(pgs_owner *o) { atomic_store(&o->set, false); }
static inline bool pgs_owner_is_me(pgs_owner *o) {
  return !atomic_load(&o->set) || pthread_equal(o->th, pthread_self());
}
#define PGS_ASSERT_OWNER(o) assert(pgs_owner_is_me(o))

#endif
