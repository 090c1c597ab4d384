/* store/pg/lock.c - which locks this thread holds (store/pg/lock.h), for the
 * asserts of a Debug build: a short list per thread (a thread of this backend
 * holds at most two locks at once). Unused with NDEBUG. */
#include <stddef.h>

#include "store/pg/lock.h"

#define HELD_MAX 8

static _Thread_local struct {
  const void *lock;
  bool write;
} held[HELD_MAX];
static _Thread_local size_t nheld;

void pgs__held_add(const void *lock, bool write) {
  assert(nheld < HELD_MAX); /* a lock taken and never let go */
  if (nheld < HELD_MAX) {
    held[nheld].lock = lock;
    held[nheld].write = write;
    nheld++;
  }
}

void pgs__held_drop(const void *lock) {
  for (size_t i = nheld; i-- > 0;)
    if (held[i].lock == lock) {
      held[i] = held[--nheld];
      return;
    }
  assert(!"unlock of a lock this thread does not hold");
}

bool pgs__held(const void *lock, bool write) {
  for (size_t i = 0; i < nheld; i++)
    if (held[i].lock == lock)
      return held[i].write || !write;
  return false;
}
