/* store/opq.c - the write-operation queue of store/opq.h: one mutex, one
 * condition variable on the monotonic clock, a singly linked list in push
 * order. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lic/err.h"
#include "store/opq.h"

int opq_init(opq *q) {
  pthread_condattr_t ca;
  int r = LIC_NOMEM;
  q->head = q->tail = NULL;
  q->closed = q->kicked = false;
  if (pthread_condattr_init(&ca) != 0)
    return LIC_NOMEM;
  /* A wall-clock step must not stretch or cut the writer's flush timer. */
  if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
      pthread_cond_init(&q->cv, &ca) != 0)
    goto out;
  if (pthread_mutex_init(&q->mu, NULL) != 0) {
    pthread_cond_destroy(&q->cv);
    goto out;
  }
  r = LIC_OK;
out:
  pthread_condattr_destroy(&ca);
  return r;
}

void opq_destroy(opq *q) {
  for (opq_op *o = q->head, *n; o != NULL; o = n) {
    n = o->next;
    free(o);
  }
  q->head = q->tail = NULL;
  pthread_cond_destroy(&q->cv);
  pthread_mutex_destroy(&q->mu);
}

int opq_push(opq *q, store_apply_fn apply, store_done_fn done, void *arg) {
  opq_op *o = calloc(1, sizeof *o);
  if (o == NULL)
    return LIC_NOMEM;
  o->apply = apply;
  o->done = done;
  o->arg = arg;
  pthread_mutex_lock(&q->mu);
  if (q->closed) {
    pthread_mutex_unlock(&q->mu);
    free(o);
    return lic_fail(LIC_INVALID, "store is closing");
  }
  if (q->tail != NULL)
    q->tail->next = o;
  else
    q->head = o;
  q->tail = o;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
  return LIC_OK;
}

void opq_close(opq *q) {
  pthread_mutex_lock(&q->mu);
  q->closed = true;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

opq_op *opq_drain(opq *q, bool *closed) {
  pthread_mutex_lock(&q->mu);
  opq_op *ops = q->head;
  q->head = q->tail = NULL;
  *closed = q->closed;
  pthread_mutex_unlock(&q->mu);
  return ops;
}

bool opq_pending(opq *q) {
  pthread_mutex_lock(&q->mu);
  bool any = q->head != NULL;
  pthread_mutex_unlock(&q->mu);
  return any;
}

void opq_kick(opq *q) {
  pthread_mutex_lock(&q->mu);
  q->kicked = true;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

bool opq_wait(opq *q, int64_t timeout_ms) {
  return opq_wait_us(q, timeout_ms < 0 ? -1 : timeout_ms * 1000);
}

bool opq_wait_us(opq *q, int64_t timeout_us) {
  struct timespec ts;
  bool ready;
  if (timeout_us >= 0) {
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + (timeout_us % 1000000) * 1000;
    ts.tv_sec += (time_t)(timeout_us / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
  }
  pthread_mutex_lock(&q->mu);
  while (q->head == NULL && !q->closed && !q->kicked) {
    if (timeout_us < 0)
      pthread_cond_wait(&q->cv, &q->mu);
    else if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) != 0)
      break; /* ETIMEDOUT */
  }
  q->kicked = false;
  ready = q->head != NULL || q->closed;
  pthread_mutex_unlock(&q->mu);
  return ready;
}

void opq_op_begin(opq_op *o) {
  lic_errdetail_clear();
  o->detail[0] = '\0';
}

void opq_complete(opq_op *ops, int rc, const char *detail) {
  for (opq_op *o = ops, *next; o != NULL; o = next) {
    next = o->next;
    if (rc != LIC_OK) {
      o->rc = rc;
      snprintf(o->detail, sizeof o->detail, "%s", detail != NULL ? detail : "");
    }
    o->done(o->arg, o->rc, o->detail);
    free(o);
  }
}
