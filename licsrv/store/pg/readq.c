/* store/pg/readq.c - store_read_submit on PostgreSQL: reads that go to the
 * database (admin listings, token lookups) wait on a round trip, and on a
 * connect_timeout when the database is unreachable, so they run on one reader
 * thread of their own, with its own connection, never on the caller's (an
 * event loop, whose verify answers come from the cache and must not wait).
 * The queue is bounded: when the database hangs, the reads pile up to
 * STORE_READQ_MAX and the next ones are refused at once (503) rather than
 * holding memory and client connections without end. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "store/pg/internal.h"
#include "store/pg/readq.h"

typedef struct pgs_rjob {
  store_read_fn read;
  store_read_done_fn done;
  void *arg;
  struct pgs_rjob *next;
} rjob;

void pgs__readq_init(pgs_store *s) {
  pgs_mutex_init(&s->readq.mu);
  pthread_cond_init(&s->readq.work, NULL);
  pthread_cond_init(&s->readq.ended, NULL);
}

/* A connection idle for a second or more may have died with its server (a
 * restart, a failover) and still say OK until it is used: one round trip
 * first, so that the read runs on a new connection (pgs__rconn reconnects a
 * broken one) rather than failing on the dead one. */
#define IDLE_CHECK_MS 1000

static void check_idle(pgs_reader *rd, int64_t last_ms) {
  if (rd->c == NULL || pgs__now_ms() - last_ms < IDLE_CHECK_MS)
    return;
  pgs__run(rd->c, "SELECT 1", NULL);
  lic_errdetail_clear(); /* a dead connection's error is not the read's */
}

static void *reader_main(void *arg) {
  pgs_store *s = arg;
  pgs_readq *q = &s->readq;
  store_reader *rd = NULL;
  int nrc = pgs_reader_new((store *)s, &rd); /* connects on its first read */
  int64_t last_ms = pgs__now_ms();
  pgs_lock(&q->mu);
  for (;;) {
    while (q->head == NULL && !q->closing)
      pgs_wait(&q->work, &q->mu);
    rjob *j = q->head;
    if (j == NULL)
      break; /* closing, nothing queued */
    q->head = j->next;
    if (q->head == NULL)
      q->tail = NULL;
    q->n--;
    pgs_unlock(&q->mu);
    int rc = nrc;
    if (rc == LIC_OK)
      check_idle((pgs_reader *)rd, last_ms);
    lic_errdetail_clear(); /* per thread: not an earlier read's */
    if (rc == LIC_OK && (rc = pgs_reader_begin(rd)) == LIC_OK) {
      rc = j->read(rd, j->arg);
      pgs_reader_end(rd);
    }
    last_ms = pgs__now_ms();
    j->done(j->arg, rc, rc != LIC_OK ? lic_errdetail() : "");
    free(j);
    pgs_lock(&q->mu);
  }
  pgs_unlock(&q->mu);
  if (rd != NULL)
    pgs_reader_free(rd);
  return NULL;
}

int pgs_read_submit(store *st, store_reader *rd, store_read_fn read, store_read_done_fn done,
                    void *arg) {
  pgs_store *s = (pgs_store *)st;
  pgs_readq *q = &s->readq;
  rjob *j;
  int rc = LIC_OK;
  (void)rd; /* the caller's reader may be on a loop: never ours to wait on */
  if ((j = calloc(1, sizeof *j)) == NULL)
    return LIC_NOMEM;
  j->read = read;
  j->done = done;
  j->arg = arg;
  pgs_lock(&q->mu);
  if (q->closing)
    rc = lic_fail(LIC_UNAVAILABLE, "postgresql: the store is closing");
  else if (q->n >= STORE_READQ_MAX)
    rc = lic_fail(LIC_UNAVAILABLE, "postgresql: %d reads are waiting for the database already",
                  STORE_READQ_MAX);
  else if (!q->started) {
    if (pthread_create(&q->th, NULL, reader_main, s) != 0)
      rc = lic_fail(LIC_UNAVAILABLE, "postgresql: cannot start the reader thread");
    else
      q->started = true;
  }
  if (rc == LIC_OK) {
    if (q->tail != NULL)
      q->tail->next = j;
    else
      q->head = j;
    q->tail = j;
    q->n++;
    pthread_cond_signal(&q->work);
  }
  pgs_unlock(&q->mu);
  if (rc != LIC_OK)
    free(j);
  return rc;
}

void pgs_read_quiesce(store *st) {
  pgs_store *s = (pgs_store *)st;
  pgs_readq *q = &s->readq;
  rjob *left;
  bool join;
  pgs_lock(&q->mu);
  q->closing = true;
  left = q->head; /* not started: answered here, the thread takes no more */
  q->head = q->tail = NULL;
  q->n = 0;
  join = q->started && !q->joining;
  q->joining = q->joining || join;
  pthread_cond_signal(&q->work);
  pgs_unlock(&q->mu);
  while (left != NULL) {
    rjob *n = left->next;
    left->done(left->arg, LIC_UNAVAILABLE, "postgresql: the store is closing");
    free(left);
    left = n;
  }
  if (join) /* the read it is running ends first (a hung database holds it) */
    pthread_join(q->th, NULL);
  pgs_lock(&q->mu);
  if (join) {
    q->joined = true;
    pthread_cond_broadcast(&q->ended);
  }
  while (q->started && !q->joined) /* another caller joins it: wait for that too */
    pgs_wait(&q->ended, &q->mu);
  pgs_unlock(&q->mu);
}

void pgs__readq_free(pgs_store *s) {
  pgs_read_quiesce((store *)s);
  pthread_cond_destroy(&s->readq.work);
  pthread_cond_destroy(&s->readq.ended);
  pgs_mutex_destroy(&s->readq.mu);
}
