/* store/pg/stop.h - the bound on a write in flight when licsrv stops (stop.c):
 * the writer's group marked busy, a watchdog that cancels it past the grace,
 * the writer connection's cancel handle, and the warnings PostgreSQL sends on
 * that connection. Calls conn.c only. */
#ifndef LICSRV_STORE_PG_STOP_H
#define LICSRV_STORE_PG_STOP_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/pg/lock.h"

typedef struct pgs_store pgs_store;

typedef struct {
  pgs_mutex mu; /* the fields from armed to watchdog_started */
  bool armed;   /* the writer runs: store_stop_begin may start the watchdog */
  bool busy;    /* the writer runs a group's statements */
  int64_t busy_since_ms;
  int64_t stop_at_ms; /* when store_stop_begin was called (0: not yet) */
  uint64_t grace_ms;
  bool canceled; /* a group was canceled: nothing more is written */
  bool writer_exited;
  pthread_t watchdog;
  bool watchdog_started;
  pgs_mutex cmu;     /* wcancel and wsock: held while a cancel is sent */
  PGcancel *wcancel; /* the writer connection's cancel handle */
  int wsock;         /* its socket (-1: none) */
  /* writer thread only: the first WARNING PostgreSQL sent on the writer's
   * connection since the writer cleared it (a COMMIT whose
   * synchronous-replication wait was canceled says so by a WARNING, and still
   * reports success) */
  char wwarn[256];
} pgs_stop;

/* pgs_open: the locks. */
void pgs__stop_init(pgs_store *s);
/* pgs_open, the writer thread started: store_stop_begin may act from now. */
void pgs__stop_arm(pgs_store *s);
/* The writer's new connection (s->wc.c): its cancel handle and the notice
 * receiver that notes warnings (writer thread). Detach before PQfinish. */
void pgs__wconn_attach(pgs_store *s);
void pgs__wconn_detach(pgs_store *s);
/* Before a group's statements: false when writes were canceled (the group
 * must not touch the database); otherwise the group is busy from now. */
bool pgs__group_begin(pgs_store *s);
/* After them: true when the stop bound canceled this group. */
bool pgs__group_end(pgs_store *s);
/* Whether writes were canceled (the writer checks between passes). */
bool pgs__canceled(pgs_store *s);
/* The writer's warning: cleared before its COMMIT, read after ("": none). */
void pgs__stop_warn_clear(pgs_store *s);
const char *pgs__stop_warning(pgs_store *s);
/* pgs_close: the watchdog's end, the cancel handle freed (writer joined). */
void pgs__stop_end(pgs_store *s);

#endif
