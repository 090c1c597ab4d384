/* store/pg/pipe.h - a group's claims sent ahead on the writer's connection
 * without waiting for each answer (pipe.c, libpq's pipeline mode), and the
 * first pass's BEGIN with them. Writer thread only. Calls conn.c, stop.c
 * (the cancel handle of a connection it starts again) and cache.c (a new
 * registration's delta). */
#ifndef LICSRV_STORE_PG_PIPE_H
#define LICSRV_STORE_PG_PIPE_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "store/pg/conn.h"
#include "store/store.h"

#define PGS_CLAIM_SQL                                                                      \
  "SELECT outcome, used, recs FROM licsrv_claim($1, $2, $3, $4, $5::bigint, $6::bigint,"   \
  " $7::bigint, $8, $9, $10, $11::bigint)"

/* A claim sent ahead: where its answer goes, the row it writes, and its
 * parameters (p, pointing into buf: sent at the pass's end). */
typedef struct {
  store_claim *out;
  store_registration d;
  pgs_params p;
  char *buf;
} pgs_pending;

/* A statement sent behind the claims, before the COMMIT (pgs__pipe_also):
 * its text (static) and parameters (p, pointing into buf). */
typedef struct {
  const char *sql;
  pgs_params p;
  char *buf;
} pgs_also;

/* What became of a COMMIT sent in the pipeline behind the pass's claims
 * (pgs__pipe_commit_ahead). */
typedef enum {
  PGS_COMMIT_NONE,   /* not sent ahead: the writer sends its own, or none */
  PGS_COMMIT_DONE,   /* answered: committed */
  PGS_COMMIT_NOT,    /* not committed: PostgreSQL answered an error for it or
                      * for a statement before it (the pipeline aborted) */
  PGS_COMMIT_UNKNOWN /* sent, the connection lost before any answer told */
} pgs_commit_fate;

/* Writer thread only. */
typedef struct {
  /* claims go ahead (a group's first pass): their answers are read before
   * any other statement on the connection, and at the pass's end */
  bool ahead;
  int rc; /* the first failure among them, this pass */
  /* the pass's BEGIN went into the pipeline ahead of its first statement:
   * begin_sent until its answer is read; begin_failed when that answer was
   * a failure (nothing of the group can have committed) */
  bool begin_sent, begin_failed;
  /* the pass's COMMIT goes into the pipeline behind its claims (commit_want),
   * and what became of it once collected */
  bool commit_want;
  pgs_commit_fate commit;
  pgs_pending *pend; /* claims waiting to be sent */
  size_t npend, cappend;
  pgs_also *also; /* statements to send behind them (heartbeat rows, clock mark) */
  size_t nalso, capalso;
} pgs_pipe;

/* A pass starts: claims go ahead in it or not, no failure yet. */
void pgs__pipe_pass(pgs_store *s, bool ahead);
/* The pass's operations are done: no more claims go ahead. */
void pgs__pipe_pass_end(pgs_store *s);
/* Whether a claim on c goes ahead now (c the writer's, a first pass). */
bool pgs__pipe_ahead(pgs_store *s, PGconn *c);
/* Whether the BEGIN sent ahead this pass failed. */
bool pgs__pipe_begin_failed(pgs_store *s);
/* Send the claim (PGS_STMT_CLAIM with p) ahead; *out is filled when its
 * answer is read (pgs__pipe_collect), d goes into the read copy if new. */
int pgs__pipe_claim(pgs_store *s, const pgs_params *p, store_claim *out,
                    const store_registration *d);
/* Read every answer sent ahead (and leave pipeline mode): the first failure. */
int pgs__pipe_collect(pgs_store *s);
/* The pass's COMMIT goes into the pipeline behind its claims, answered with
 * them by pgs__pipe_collect: a group of claims costs one round trip. Only
 * when the pipeline is open and nothing failed so far (false: the writer
 * sends its own COMMIT after the collect, as for any other pass). */
bool pgs__pipe_commit_ahead(pgs_store *s);
/* After pgs__pipe_commit_ahead answered true: sql (static text) with p
 * sent behind the claims, before the COMMIT, its answer only checked: a
 * failure there fails the pass (the group is replayed, as for a claim).
 * When it cannot be kept (LIC_NOMEM), pgs__pipe_commit_drop. */
int pgs__pipe_also(pgs_store *s, const char *sql, const pgs_params *p);
/* Neither the statements behind the claims nor the COMMIT go after all:
 * the writer sends them on its own after the collect. */
void pgs__pipe_commit_drop(pgs_store *s);
/* What became of this pass's COMMIT (PGS_COMMIT_NONE: not sent ahead). A
 * COMMIT sent ahead is never sent again: DONE and UNKNOWN are not replayed. */
pgs_commit_fate pgs__pipe_commit_fate(pgs_store *s);
/* A new connection: the claims not sent forgotten, no BEGIN in flight. */
void pgs__pipe_reset(pgs_store *s);
/* pgs_close: the claims' memory. */
void pgs__pipe_free(pgs_store *s);
/* licsrv_claim()'s answer (one row: outcome, used, recs) into out. */
int pgs__claim_answer(const PGresult *res, store_claim *out);
/* Begin the writer's transaction in the pipeline, its answer read with the
 * first claims' (or before the first statement that waits): a group of
 * claims costs one round trip less. */
int pgs__pipe_begin(pgs_store *s);

#endif
