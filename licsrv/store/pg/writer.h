/* store/pg/writer.h - the writer thread (writer.c): the queue of submitted
 * operations, the heartbeat batch, the group commit on the writer's
 * connection, the flush waiters and the counters. Calls conn.c, stop.c,
 * cache.c, listen.c (health) and pipe.c. */
#ifndef LICSRV_STORE_PG_WRITER_H
#define LICSRV_STORE_PG_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "store/batch.h"
#include "store/opq.h"
#include "store/pg/lock.h"
#include "store/store.h"

typedef struct pgs_store pgs_store;

typedef struct {
  opq q;        /* store_submit's operations (store/opq.h, its own lock) */
  pgs_mutex mu; /* the fields from batch to stats */
  pthread_cond_t done; /* flush waiters */
  store_batch batch;   /* the heartbeat batch (store/batch.h) */
  int64_t hwm_pending;
  int64_t batch_since_ms;
  uint64_t flush_wanted, flush_done;
  bool stopping;
  bool up; /* the writer's connection works (last round trip succeeded) */
  store_stats stats;
  pthread_t th; /* th, started: the opener's and the closer's */
  bool started;
} pgs_writer;

/* pgs_open: the queue and the lock (LIC_NOMEM when they cannot be made). */
int pgs__writer_init(pgs_store *s);
/* pgs_open: the thread (it takes the opener's connection). */
int pgs__writer_start(pgs_store *s);
/* pgs_close: the last batch written, the queue closed, the thread joined. */
void pgs__writer_stop(pgs_store *s);
void pgs__writer_free(pgs_store *s);
/* Whether the writer's connection works (pgs_open sets it after its own). */
void pgs__writer_set_up(pgs_store *s, bool up);
/* The clock mark noted and not yet written (0: none). */
int64_t pgs__writer_hwm_pending(pgs_store *s);

#endif
