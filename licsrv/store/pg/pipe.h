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
  pgs_pending *pend; /* claims waiting to be sent */
  size_t npend, cappend;
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
