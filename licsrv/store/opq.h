/* store/opq.h - the queue of submitted write operations between the callers
 * of store_submit and a backend's one writer thread, seen only inside store/.
 * Each backend's handle owns one; the writer takes every queued operation at
 * once (group commit: one transaction for all of them) and answers them all
 * after its commit.
 *
 * The queue has its own mutex and condition variable, so a push never waits
 * on the backend's lock. The writer sleeps in opq_wait, which also returns on
 * opq_kick: the backend's other work (heartbeat batch, flush requests) kicks
 * it, and a kick that comes before the wait is not lost. */
#ifndef LICSRV_STORE_OPQ_H
#define LICSRV_STORE_OPQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define OPQ_DETAIL_LEN 320

/* One queued write operation, owned by the writer once queued. */
typedef struct opq_op {
  store_apply_fn apply;
  store_done_fn done;
  void *arg;
  int rc;                       /* what apply (or the commit) said */
  char detail[OPQ_DETAIL_LEN]; /* lic_errdetail() of a failure */
  struct opq_op *next;
} opq_op;

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* on CLOCK_MONOTONIC */
  opq_op *head, *tail;
  bool closed, kicked;
} opq;

int opq_init(opq *q);
/* Frees what is still queued without answering it (nothing is, after a
 * writer that drained until closed). */
void opq_destroy(opq *q);

/* Queue one operation and wake the writer. LIC_INVALID "store is closing"
 * once closed (the operation is not queued and done is not called). */
int opq_push(opq *q, store_apply_fn apply, store_done_fn done, void *arg);
/* Refuse every later push and wake the writer. What was pushed before stays
 * queued for the writer's last drain. */
void opq_close(opq *q);
/* Take every queued operation, in push order (NULL when none). *closed says
 * whether the queue was closed at that moment: then nothing can follow the
 * operations returned. */
opq_op *opq_drain(opq *q, bool *closed);
/* Whether operations are queued right now (the writer, after a commit: more
 * work is coming, so the next commit's sync can stand for this one's). */
bool opq_pending(opq *q);
/* Wake the writer's opq_wait (any thread). */
void opq_kick(opq *q);
/* Sleep until an operation is queued, the queue is closed, a kick, or
 * timeout_ms (-1: no timeout). True when operations are queued or the queue is
 * closed; false on a kick or the timeout (the caller looks again at its own
 * work). Consumes the kick. */
bool opq_wait(opq *q, int64_t timeout_ms);
/* The same with the timeout in microseconds. */
bool opq_wait_us(opq *q, int64_t timeout_us);

/* One operation of a group begins (in each pass that runs it): this thread's
 * detail and the operation's own are cleared, so that a failure reports this
 * operation's cause, never an earlier one's. The writers' one clear per
 * operation. */
void opq_op_begin(opq_op *o);

/* Answer a drained list and free it: every operation gets rc and detail when
 * rc is not LIC_OK (the group failed as a whole), its own otherwise. */
void opq_complete(opq_op *ops, int rc, const char *detail);

#endif
