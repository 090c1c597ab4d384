/* store/pg/pipe.c - a group's registration claims sent without waiting for
 * each answer (libpq's pipeline mode), so a group of N registrations costs
 * the writer about one round trip instead of N: on a busy machine each round
 * trip waits for two scheduler turns (the writer's and its backend's), which
 * bounded registrations far below what either side's CPU allows.
 *
 * Only claims go ahead, and only in a group's first pass: their outcomes are
 * needed by nobody before the commit (store.h: read in the done callback).
 * Any other statement on the connection first reads every answer ahead of it
 * (settle: conn.c calls it before each statement on this thread), so the
 * transaction's statements keep their order and every synchronous read sees
 * the claims before it. A failed claim makes the pass fail (pipe.rc); the second pass, one
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
 * it: run outside the transaction, one would commit alone.
 *
 * A pass of claims only ends with its COMMIT in the same pipeline
 * (pgs__pipe_commit_ahead): a group of registrations costs one round trip,
 * not two. A claim that fails aborts the pipeline: PostgreSQL skips every
 * statement up to the sync, the COMMIT answers PGRES_PIPELINE_ABORTED and
 * the transaction stays open and failed, so the writer rolls it back and
 * replays the group one operation at a time as before. Whether the COMMIT
 * may have run is told by what came back: any error PostgreSQL itself sent
 * (it carries a SQLSTATE) means the statements behind it were skipped or
 * never read, so nothing committed; a connection lost with no such answer
 * leaves it unknown, and the group is answered 503, never sent again. So
 * that a connection that died while idle is still run again rather than
 * answered 503, the COMMIT goes in only once reading what came in found
 * the connection alive (alive(): a dead backend's last words, then its
 * end). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "util/array.h"
#include "store/pg/internal.h"
#include "store/pg/pipe.h"

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
  int64_t recs = PQntuples(res) == 1 && PQnfields(res) > 2 ? pgs__i64(res, 0, 2) : 0;
  memset(out, 0, sizeof *out);
  if (outcome < STORE_CLAIM_NO_ACCOUNT || outcome > STORE_CLAIM_QUOTA)
    return lic_fail(LIC_FORMAT, "postgresql: licsrv_claim answered outcome %d", (int)outcome);
  out->outcome = (store_claim_outcome)outcome;
  out->used = used > 0 ? (size_t)used : 0;
  out->records = recs > 0 ? (uint64_t)recs : 0;
  return LIC_OK;
}

static void note(pgs_store *s, int rc);
static int settle(PGconn *c);

/* Whether c is still connected, as far as reading what already came in
 * without waiting tells. A connection that died while idle has its last
 * words waiting (a FATAL error, or the WARNING of an immediate shutdown)
 * and then its end: read until nothing more is there, so the end shows. */
static bool alive(PGconn *c) {
  for (int k = 0; k < 8 && pgs__conn_ok(c); k++) {
    struct pollfd pf = {.fd = PQsocket(c), .events = POLLIN};
    if (pf.fd < 0 || poll(&pf, 1, 0) <= 0)
      break; /* nothing more to read now */
    if (PQconsumeInput(c) != 1)
      return false;
  }
  return pgs__conn_ok(c);
}

static int enter(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  if (PQpipelineStatus(s->wc.c) == PQ_PIPELINE_OFF) {
    if (PQenterPipelineMode(s->wc.c) != 1)
      return pgs__error_of(s->wc.c, NULL);
    piped = s;
    pgs__conn_settle_set(settle);
  }
  return LIC_OK;
}

void pgs__pipe_pass(pgs_store *s, bool ahead) {
  PGS_ASSERT_WRITER(s);
  s->pipe.begin_sent = s->pipe.begin_failed = false;
  s->pipe.ahead = ahead;
  s->pipe.rc = LIC_OK;
  s->pipe.commit_want = false;
  s->pipe.commit = PGS_COMMIT_NONE;
}

bool pgs__pipe_commit_ahead(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  s->pipe.commit_want = s->pipe.rc == LIC_OK && !s->pipe.begin_failed && s->wc.c != NULL &&
                        PQpipelineStatus(s->wc.c) != PQ_PIPELINE_OFF;
  return s->pipe.commit_want;
}

void pgs__pipe_commit_drop(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  s->pipe.commit_want = false; /* the statements behind the claims are not sent either */
}

pgs_commit_fate pgs__pipe_commit_fate(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  return s->pipe.commit;
}

void pgs__pipe_pass_end(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  s->pipe.ahead = false;
}

bool pgs__pipe_ahead(pgs_store *s, PGconn *c) {
  PGS_ASSERT_WRITER(s);
  return s->pipe.ahead && c == s->wc.c;
}

bool pgs__pipe_begin_failed(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  return s->pipe.begin_failed;
}

int pgs__pipe_begin(pgs_store *s) {
  int rc;
  s->pipe.begin_sent = s->pipe.begin_failed = false;
  began = s;
  pgs__conn_settle_set(settle);
  if ((rc = enter(s)) != LIC_OK)
    return rc;
  if (PQsendQueryParams(s->wc.c, "BEGIN", 0, NULL, NULL, NULL, NULL, 1) != 1) {
    s->pipe.begin_failed = true;
    return pgs__error_of(s->wc.c, NULL);
  }
  s->pipe.begin_sent = true;
  return LIC_OK;
}

/* p's values copied into one buffer of the pending claim (they point into
 * the caller's frame). */
static int keep_params(pgs_params *dst, char **buf, const pgs_params *p) {
  size_t total = 0, at = 0;
  for (int i = 0; i < p->n; i++)
    total += p->fmt[i] == 1 ? (size_t)p->len[i] : strlen(p->v[i]) + 1;
  if ((*buf = malloc(total > 0 ? total : 1)) == NULL)
    return LIC_NOMEM;
  *dst = *p;
  for (int i = 0; i < p->n; i++) {
    size_t n = p->fmt[i] == 1 ? (size_t)p->len[i] : strlen(p->v[i]) + 1;
    memcpy(*buf + at, p->v[i], n);
    dst->v[i] = *buf + at;
    at += n;
  }
  return LIC_OK;
}

int pgs__pipe_claim(pgs_store *s, const pgs_params *p, store_claim *out,
                    const store_registration *d) {
  char name[32];
  int rc;
  assert(s->pipe.ahead); /* only in a first pass (pgs__pipe_ahead) */
  if ((rc = pgs__wprepare(s, PGS_STMT_CLAIM, CLAIM_SQL, p->n, name, sizeof name)) != LIC_OK)
    return rc;
  if (srv_array_reserve(&s->pipe.pend, &s->pipe.cappend, s->pipe.npend + 1, 64) != LIC_OK)
    return LIC_NOMEM;
  if ((rc = enter(s)) != LIC_OK)
    return rc;
  memset(out, 0, sizeof *out);
  pgs_pending *pd = &s->pipe.pend[s->pipe.npend];
  if ((rc = keep_params(&pd->p, &pd->buf, p)) != LIC_OK)
    return rc;
  pd->out = out;
  pd->d = *d;
  s->pipe.npend++;
  return LIC_OK;
}

static void drop(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  for (size_t j = 0; j < s->pipe.npend; j++)
    free(s->pipe.pend[j].buf);
  s->pipe.npend = 0;
  for (size_t j = 0; j < s->pipe.nalso; j++)
    free(s->pipe.also[j].buf);
  s->pipe.nalso = 0;
}

int pgs__pipe_also(pgs_store *s, const char *sql, const pgs_params *p) {
  PGS_ASSERT_WRITER(s);
  assert(s->pipe.commit_want); /* only behind claims that end with the COMMIT */
  int rc = srv_array_reserve(&s->pipe.also, &s->pipe.capalso, s->pipe.nalso + 1, 4);
  pgs_also *a = rc == LIC_OK ? &s->pipe.also[s->pipe.nalso] : NULL;
  if (rc != LIC_OK || (rc = keep_params(&a->p, &a->buf, p)) != LIC_OK)
    return rc;
  a->sql = sql;
  s->pipe.nalso++;
  return LIC_OK;
}

void pgs__pipe_reset(pgs_store *s) {
  drop(s);
  s->pipe.begin_sent = s->pipe.begin_failed = s->pipe.commit_want = false;
}

void pgs__pipe_free(pgs_store *s) {
  drop(s);
  free(s->pipe.pend);
  s->pipe.pend = NULL;
  s->pipe.cappend = 0;
  free(s->pipe.also);
  s->pipe.also = NULL;
  s->pipe.capalso = 0;
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
  if (s->pipe.npend > 1) /* pend is NULL before the first claim */
    qsort(s->pipe.pend, s->pipe.npend, sizeof *s->pipe.pend, by_account);
  for (size_t i = 0; i < s->pipe.npend; i++) {
    pgs_params *p = &s->pipe.pend[i].p;
    if (PQsendQueryPrepared(s->wc.c, name, p->n, p->v, p->len, p->fmt, 1) != 1) {
      note(s, pgs__error_of(s->wc.c, NULL));
      for (size_t j = i; j < s->pipe.npend; j++)
        free(s->pipe.pend[j].buf);
      s->pipe.npend = i;
      return;
    }
  }
}

static void note(pgs_store *s, int rc) {
  if (s->pipe.rc == LIC_OK)
    s->pipe.rc = rc;
}

int pgs__pipe_collect(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  PGconn *c = s->wc.c;
  if (c == NULL || PQpipelineStatus(c) == PQ_PIPELINE_OFF) {
    drop(s);
    return s->pipe.rc;
  }
  send_pending(s);
  /* the COMMIT behind the claims, on a connection a read found alive (one
   * that died while idle shows it here: nothing of the group committed) */
  bool commit_sent = false, commit_ok = false, want_commit = false;
  size_t nalso = 0; /* the statements sent behind the claims */
  if (s->pipe.commit_want && s->pipe.rc == LIC_OK && alive(c)) {
    for (; nalso < s->pipe.nalso; nalso++) {
      const pgs_also *a = &s->pipe.also[nalso];
      if (PQsendQueryParams(c, a->sql, a->p.n, NULL, a->p.v, a->p.len, a->p.fmt, 1) != 1) {
        note(s, pgs__error_of(c, NULL));
        break;
      }
    }
    if (s->pipe.rc == LIC_OK) { /* else no COMMIT: the pass fails and is replayed */
      if (PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 1) == 1)
        commit_sent = want_commit = true;
      else
        note(s, pgs__error_of(c, NULL));
    }
  }
  s->pipe.commit_want = false;
  if (PQpipelineSync(c) != 1)
    note(s, pgs__error_of(c, NULL));
  pgs__conn_waited(); /* the pipeline's one round trip */
  /* each query's results end with a NULL; the sync point ends the lot. A
   * broken connection answers NULL for ever: bounded by what was sent.
   * server_err: PostgreSQL answered an error, so it skipped what followed */
  size_t i = 0, nulls = 0;
  bool want_begin = s->pipe.begin_sent, server_err = false;
  s->pipe.begin_sent = false;
  for (bool synced = false; !synced && pgs__conn_ok(c) && nulls <= s->pipe.npend + nalso + 3;) {
    PGresult *r = PQgetResult(c);
    if (r == NULL) {
      nulls++;
      continue;
    }
    ExecStatusType st = PQresultStatus(r);
    if ((st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) &&
        PQresultErrorField(r, PG_DIAG_SQLSTATE) != NULL)
      server_err = true;
    if (want_begin) { /* the BEGIN's answer comes first */
      want_begin = false;
      if (st != PGRES_COMMAND_OK) {
        /* with the COMMIT sent, only PostgreSQL's own error says nothing ran */
        s->pipe.begin_failed = !commit_sent || server_err;
        note(s, pgs__error_of(c, r));
      }
      PQclear(r);
      continue;
    }
    if (i >= s->pipe.npend && i < s->pipe.npend + nalso && st != PGRES_PIPELINE_SYNC) {
      if (st == PGRES_PIPELINE_ABORTED) /* the statements behind the claims */
        note(s, lic_fail(LIC_IO, "postgresql: a statement before this one failed"));
      else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        note(s, pgs__error_of(c, r));
      i++;
      PQclear(r);
      continue;
    }
    if (want_commit && i >= s->pipe.npend + nalso && st != PGRES_PIPELINE_SYNC) {
      want_commit = false; /* the COMMIT's answer comes last */
      commit_ok = st == PGRES_COMMAND_OK;
      if (st == PGRES_PIPELINE_ABORTED)
        note(s, lic_fail(LIC_IO, "postgresql: a statement before the COMMIT failed"));
      else if (!commit_ok)
        note(s, pgs__error_of(c, r));
      PQclear(r);
      continue;
    }
    switch (st) {
    case PGRES_TUPLES_OK:
      if (i < s->pipe.npend) {
        int rc = pgs__claim_answer(r, s->pipe.pend[i].out);
        if (rc != LIC_OK)
          note(s, rc);
        else if (s->pipe.pend[i].out->outcome == STORE_CLAIM_NEW)
          pgs__delta_own(s, PGS_DELTA_PUT, &s->pipe.pend[i].d);
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
    s->pipe.begin_failed = !commit_sent;
    note(s, lic_fail(LIC_UNAVAILABLE, "postgresql: no answer to BEGIN"));
  }
  if (commit_sent) {
    s->pipe.commit = commit_ok ? PGS_COMMIT_DONE : server_err ? PGS_COMMIT_NOT : PGS_COMMIT_UNKNOWN;
    if (s->pipe.commit == PGS_COMMIT_UNKNOWN)
      note(s, lic_fail(LIC_UNAVAILABLE, "postgresql: connection lost with the COMMIT sent"));
  }
  if (i < s->pipe.npend)
    note(s, lic_fail(LIC_UNAVAILABLE, "postgresql: %zu claim answers missing", s->pipe.npend - i));
  drop(s);
  piped = NULL;
  if (PQexitPipelineMode(c) != 1) {
    note(s, lic_fail(LIC_UNAVAILABLE, "postgresql: cannot leave pipeline mode: %s",
                     PQerrorMessage(c)));
    /* a connection left in pipeline mode takes no further statement: start
     * it again (the writer's session with it) */
    pgs__wconn_detach(s); /* the cancel handle names the old backend (stop.c) */
    PQreset(c);
    pgs__wconn_attach(s);
    if (pgs__conn_ok(c)) {
      pgs__pipe_reset(s);
      pgs__wconn_session(s);
    }
  }
  return s->pipe.rc;
}

/* conn.c's settle function on the writer thread (pgs__conn_settle_set). */
static int settle(PGconn *c) {
  if (piped != NULL && piped->wc.c == c && PQpipelineStatus(c) != PQ_PIPELINE_OFF)
    pgs__pipe_collect(piped);
  return began != NULL && began->wc.c == c && began->pipe.begin_failed
             ? lic_fail(LIC_UNAVAILABLE, "postgresql: the group's BEGIN failed")
             : LIC_OK;
}
