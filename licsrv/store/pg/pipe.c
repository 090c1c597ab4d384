/* store/pg/pipe.c - a group's registration claims sent without waiting for
 * each answer (libpq's pipeline mode), so a group of N registrations costs
 * the writer about one round trip instead of N: on a busy machine each round
 * trip waits for two scheduler turns (the writer's and its backend's), which
 * bounded registrations far below what either side's CPU allows.
 *
 * Only claims go ahead, and only in a group's first pass: their outcomes are
 * needed by nobody before the commit (store.h: read in the done callback).
 * Any other statement on the connection first reads every answer ahead of it
 * (pgs__pipe_settle, from conn.c), so the transaction's statements keep
 * their order and every synchronous read sees the claims before it. A
 * failed claim makes the pass fail (s->pipe_rc); the second pass, one
 * savepoint per operation, runs claims one by one and pins the failure on
 * its own operation. Writer thread only.
 *
 * Claims wait in the writer until the answers are wanted (the pass's end,
 * or the next statement that waits), then go out ordered by account: two
 * processes' groups then take their accounts' row locks in the same order.
 * Sent in the order they came, two groups holding one account each and
 * claiming the other's deadlocked, PostgreSQL broke it after a second
 * (deadlock_timeout) and both groups ran again one by one: two licsrv
 * registering at once on shared accounts made about 350/s together
 * against 3,000/s for one alone.
 *
 * The first pass's BEGIN goes ahead too (pgs__pipe_begin): sent with the
 * first claims, its answer read with theirs, so a group of claims waits for
 * one round trip before its COMMIT instead of two. A BEGIN that failed
 * (the connection died while idle) fails every statement of the pass after
 * it: run outside the transaction, one would commit alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "util/array.h"
#include "store/pg/internal.h"

#define CLAIM_SQL PGS_CLAIM_SQL

/* The writer whose connection is in pipeline mode, if any (one writer thread
 * per store; this thread's). */
static _Thread_local pgs_store *piped;
/* This thread's writer, once it sent a BEGIN ahead (its failure holds for
 * the rest of the pass). */
static _Thread_local pgs_store *began;

int pgs__claim_answer(const PGresult *res, store_claim *out) {
  int32_t outcome = PQntuples(res) == 1 ? pgs__i32(res, 0, 0) : -1;
  int64_t used = PQntuples(res) == 1 ? pgs__i64(res, 0, 1) : 0;
  memset(out, 0, sizeof *out);
  if (outcome < STORE_CLAIM_NO_ACCOUNT || outcome > STORE_CLAIM_NEW)
    return lic_fail(LIC_FORMAT, "postgresql: licsrv_claim answered outcome %d", (int)outcome);
  out->outcome = (store_claim_outcome)outcome;
  out->used = used > 0 ? (size_t)used : 0;
  return LIC_OK;
}

static void note(pgs_store *s, int rc);

static int enter(pgs_store *s) {
  if (PQpipelineStatus(s->wconn) == PQ_PIPELINE_OFF) {
    if (PQenterPipelineMode(s->wconn) != 1)
      return pgs__error_of(s->wconn, NULL);
    piped = s;
  }
  return LIC_OK;
}

int pgs__pipe_begin(pgs_store *s) {
  int rc;
  s->begin_sent = s->begin_failed = false;
  began = s;
  if ((rc = enter(s)) != LIC_OK)
    return rc;
  if (PQsendQueryParams(s->wconn, "BEGIN", 0, NULL, NULL, NULL, NULL, 1) != 1) {
    s->begin_failed = true;
    return pgs__error_of(s->wconn, NULL);
  }
  s->begin_sent = true;
  return LIC_OK;
}

/* p's values copied into one buffer of the pending claim (they point into
 * the caller's frame). */
static int keep_params(pgs_pending *pd, const pgs_params *p) {
  size_t total = 0, at = 0;
  for (int i = 0; i < p->n; i++)
    total += p->fmt[i] == 1 ? (size_t)p->len[i] : strlen(p->v[i]) + 1;
  if ((pd->buf = malloc(total > 0 ? total : 1)) == NULL)
    return LIC_NOMEM;
  pd->p = *p;
  for (int i = 0; i < p->n; i++) {
    size_t n = p->fmt[i] == 1 ? (size_t)p->len[i] : strlen(p->v[i]) + 1;
    memcpy(pd->buf + at, p->v[i], n);
    pd->p.v[i] = pd->buf + at;
    at += n;
  }
  return LIC_OK;
}

int pgs__pipe_claim(pgs_store *s, const pgs_params *p, store_claim *out,
                    const store_registration *d) {
  char name[32];
  int rc;
  if ((rc = pgs__wprepare(s, PGS_STMT_CLAIM, CLAIM_SQL, p->n, name, sizeof name)) != LIC_OK)
    return rc;
  if (srv_array_reserve(&s->pend, &s->cappend, s->npend + 1, 64) != LIC_OK)
    return LIC_NOMEM;
  if ((rc = enter(s)) != LIC_OK)
    return rc;
  memset(out, 0, sizeof *out);
  pgs_pending *pd = &s->pend[s->npend];
  if ((rc = keep_params(pd, p)) != LIC_OK)
    return rc;
  pd->out = out;
  pd->d = *d;
  s->npend++;
  return LIC_OK;
}

void pgs__pipe_drop(pgs_store *s) {
  for (size_t j = 0; j < s->npend; j++)
    free(s->pend[j].buf);
  s->npend = 0;
}

static int by_account(const void *a, const void *b) {
  const pgs_pending *x = a, *y = b;
  int c = memcmp(x->d.account, y->d.account, LIC_ID_LEN);
  return c != 0 ? c : memcmp(x->d.project_id, y->d.project_id, LIC_ID_LEN);
}

/* The waiting claims out, by account: not flushed, the lot goes with the
 * sync, one send and one wake-up of the backend for the group (they share
 * the machine's cores). A claim that cannot be sent ends the list there. */
static void send_pending(pgs_store *s) {
  char name[32];
  snprintf(name, sizeof name, "licsrv_%d", (int)PGS_STMT_CLAIM);
  if (s->npend > 1) /* pend is NULL before the first claim */
    qsort(s->pend, s->npend, sizeof *s->pend, by_account);
  for (size_t i = 0; i < s->npend; i++) {
    pgs_params *p = &s->pend[i].p;
    if (PQsendQueryPrepared(s->wconn, name, p->n, p->v, p->len, p->fmt, 1) != 1) {
      note(s, pgs__error_of(s->wconn, NULL));
      for (size_t j = i; j < s->npend; j++)
        free(s->pend[j].buf);
      s->npend = i;
      return;
    }
  }
}

static void note(pgs_store *s, int rc) {
  if (s->pipe_rc == LIC_OK)
    s->pipe_rc = rc;
}

int pgs__pipe_collect(pgs_store *s) {
  PGconn *c = s->wconn;
  if (c == NULL || PQpipelineStatus(c) == PQ_PIPELINE_OFF) {
    pgs__pipe_drop(s);
    return s->pipe_rc;
  }
  send_pending(s);
  if (PQpipelineSync(c) != 1)
    note(s, pgs__error_of(c, NULL));
  /* each query's results end with a NULL; the sync point ends the lot. A
   * broken connection answers NULL for ever: bounded by what was sent. */
  size_t i = 0, nulls = 0;
  bool want_begin = s->begin_sent;
  s->begin_sent = false;
  for (bool synced = false; !synced && pgs__conn_ok(c) && nulls <= s->npend + 2;) {
    PGresult *r = PQgetResult(c);
    if (r == NULL) {
      nulls++;
      continue;
    }
    if (want_begin) { /* the BEGIN's answer comes first */
      want_begin = false;
      if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        s->begin_failed = true;
        note(s, pgs__error_of(c, r));
      }
      PQclear(r);
      continue;
    }
    switch (PQresultStatus(r)) {
    case PGRES_TUPLES_OK:
      if (i < s->npend) {
        int rc = pgs__claim_answer(r, s->pend[i].out);
        if (rc != LIC_OK)
          note(s, rc);
        else if (s->pend[i].out->outcome == STORE_CLAIM_NEW)
          pgs__delta_own(s, PGS_DELTA_PUT, &s->pend[i].d);
      }
      i++;
      break;
    case PGRES_PIPELINE_SYNC: synced = true; break;
    case PGRES_PIPELINE_ABORTED:
      note(s, lic_fail(LIC_IO, "postgresql: a claim before this one failed"));
      i++;
      break;
    default: /* the failed one */
      note(s, pgs__error_of(c, r));
      i++;
      break;
    }
    PQclear(r);
  }
  if (want_begin) {
    s->begin_failed = true;
    note(s, lic_fail(LIC_UNAVAILABLE, "postgresql: no answer to BEGIN"));
  }
  if (i < s->npend)
    note(s, lic_fail(LIC_UNAVAILABLE, "postgresql: %zu claim answers missing", s->npend - i));
  pgs__pipe_drop(s);
  piped = NULL;
  if (PQexitPipelineMode(c) != 1) {
    note(s, lic_fail(LIC_UNAVAILABLE, "postgresql: cannot leave pipeline mode: %s",
                     PQerrorMessage(c)));
    /* a connection left in pipeline mode takes no further statement: start
     * it again (the writer's session with it) */
    pgs__wconn_detach(s); /* the cancel handle names the old backend (stop.c) */
    PQreset(c);
    pgs__wconn_attach(s);
    if (pgs__conn_ok(c))
      pgs__writer_session(s);
  }
  return s->pipe_rc;
}

int pgs__pipe_settle(PGconn *c) {
  if (piped != NULL && piped->wconn == c && PQpipelineStatus(c) != PQ_PIPELINE_OFF)
    pgs__pipe_collect(piped);
  return began != NULL && began->wconn == c && began->begin_failed
             ? lic_fail(LIC_UNAVAILABLE, "postgresql: the group's BEGIN failed")
             : LIC_OK;
}
