/* store/pg/readq.h - store_read_submit on PostgreSQL (readq.c): one reader
 * thread with its own connection, started on first use, and its bounded
 * queue. Calls conn.c. */
#ifndef LICSRV_STORE_PG_READQ_H
#define LICSRV_STORE_PG_READQ_H

#include <stdbool.h>
#include <stddef.h>

#include "store/pg/lock.h"

typedef struct pgs_store pgs_store;
struct pgs_rjob;

typedef struct {
  pgs_mutex mu; /* everything below but th */
  pthread_cond_t work;
  struct pgs_rjob *head, *tail;
  size_t n;
  bool closing;
  bool started, joining, joined; /* joined: the thread has ended */
  pthread_cond_t ended;
  pthread_t th;
} pgs_readq;

void pgs__readq_init(pgs_store *s);
/* Stop the reader thread (store_read_quiesce) and free the queue: pgs_close. */
void pgs__readq_free(pgs_store *s);

#endif
