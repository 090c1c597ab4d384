/* store/pg/listen.h - the read copy's listener thread (listen.c): its own
 * connection LISTENs for the schema's change notices and reloads what they
 * name into the copy (cache.c), reconnecting and reloading everything after a
 * lost connection. Calls conn.c, notify.c and cache.c. */
#ifndef LICSRV_STORE_PG_LISTEN_H
#define LICSRV_STORE_PG_LISTEN_H

#include <stdbool.h>
#include <stdint.h>

#include "store/pg/lock.h"
#include "store/store.h"

typedef struct pgs_store pgs_store;

typedef struct {
  pgs_mutex mu;       /* fresh, down_since, stop */
  bool fresh;         /* LISTENing, the copy reloaded after the last connect */
  int64_t down_since; /* when fresh last went false (time()) */
  bool stop;          /* pgs__listen_stop: the thread ends */
  pthread_t th;       /* th, started: the opener's and the closer's */
  bool started;
} pgs_listen;

void pgs__listen_init(pgs_store *s);
void pgs__listen_free(pgs_store *s);
/* The copy was just filled: fresh from now, and the thread started. */
int pgs__listen_start(pgs_store *s);
/* Stop the thread and wait for it (none started: nothing). */
void pgs__listen_stop(pgs_store *s);
/* store_health: whether the copy follows the database, and since when not. */
void pgs__listen_health(pgs_store *s, store_health *h);

#endif
