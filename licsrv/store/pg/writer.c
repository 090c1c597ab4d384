/* store/pg/writer.c - the writer thread of the PostgreSQL backend: the LMDB
 * writer's group commit on one connection (every queued operation in one
 * transaction, answered only after its COMMIT returned; when one fails the
 * group is rolled back and replayed with a savepoint around each), the node
 * heartbeat batch written as one statement per batch, and the reconnect with
 * backoff: while PostgreSQL is unreachable every operation completes at once
 * with LIC_UNAVAILABLE, never queued to be lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "lic/err.h"
#include "lic/util.h"
#include "store/pg/internal.h"
#include "store/pg/writer.h"
#include "util/log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

/* ---- the heartbeat batch (store/batch.c), under the writer's lock ---------- */

static int batch_note(pgs_store *s, const uint8_t owner[LIC_ID_LEN], const char *node,
                      int64_t now, const char *status, const char *reason, bool drop) {
  bool first;
  int r;
  if ((r = store_batch_check_node(node)) != LIC_OK)
    return r;
  if (s->rdonly)
    return lic_fail(LIC_INVALID, "store is read-only");
  pgs_lock(&s->writer.mu);
  if (s->writer.stopping) {
    r = lic_fail(LIC_INVALID, "store is closing");
    goto out;
  }
  if ((r = store_batch_note(&s->writer.batch, owner, node, now, status, reason, drop, &first)) !=
      LIC_OK)
    goto out;
  if (first && s->writer.batch.n == 1 && s->writer.hwm_pending == 0) {
    s->writer.batch_since_ms = pgs__now_ms();
    opq_kick(&s->writer.q); /* an idle writer arms its flush timer */
  }
  if (s->writer.batch.n >= STORE_MAX_BATCH)
    opq_kick(&s->writer.q);
out:
  pgs_unlock(&s->writer.mu);
  return r;
}

int pgs_node_seen(store *st, const uint8_t owner[LIC_ID_LEN], const char *node, int64_t now) {
  return batch_note((pgs_store *)st, owner, node, now, NULL, NULL, false);
}

int pgs_node_failure(store *st, const uint8_t owner[LIC_ID_LEN], const char *node, int64_t now,
                     const char *status, const char *reason) {
  return batch_note((pgs_store *)st, owner, node, now, status != NULL ? status : "", reason,
                    false);
}

/* A node pushed out of its account's table: what the batch holds for it is
 * forgotten, so a heartbeat still pending cannot write back the row its
 * durable delete (store_w_node_delete, submitted after this) removes. The
 * batch keeps no deletes of its own: a drop entry writes nothing. */
int pgs_node_drop(store *st, const uint8_t owner[LIC_ID_LEN], const char *node) {
  return batch_note((pgs_store *)st, owner, node, 0, NULL, NULL, true);
}

void pgs_clock_hwm_note(store *st, int64_t now) {
  pgs_store *s = (pgs_store *)st;
  if (s->rdonly)
    return;
  pgs_lock(&s->writer.mu);
  if (now > s->writer.hwm_pending) {
    if (s->writer.hwm_pending == 0 && s->writer.batch.n == 0) {
      s->writer.batch_since_ms = pgs__now_ms();
      opq_kick(&s->writer.q);
    }
    s->writer.hwm_pending = now;
  }
  pgs_unlock(&s->writer.mu);
}

/* The whole batch as one statement: a JSON array of rows, merged so a later
 * seen or failure time wins over the stored one. */
static const char SQL_NODES[] =
    "INSERT INTO licsrv_nodes (owner, node, last_seen, fail_time, fail_status, fail_reason) "
    "SELECT decode(x.o, 'hex'), x.n, x.s, x.f, x.fs, x.fr FROM json_to_recordset($1::json) "
    "AS x(o text, n text, s bigint, f bigint, fs text, fr text) "
    "ON CONFLICT (owner, node) DO UPDATE SET "
    "last_seen = GREATEST(licsrv_nodes.last_seen, EXCLUDED.last_seen), "
    "fail_status = CASE WHEN EXCLUDED.fail_time > 0 AND EXCLUDED.fail_time >= licsrv_nodes.fail_time "
    "THEN EXCLUDED.fail_status ELSE licsrv_nodes.fail_status END, "
    "fail_reason = CASE WHEN EXCLUDED.fail_time > 0 AND EXCLUDED.fail_time >= licsrv_nodes.fail_time "
    "THEN EXCLUDED.fail_reason ELSE licsrv_nodes.fail_reason END, "
    "fail_time = GREATEST(licsrv_nodes.fail_time, EXCLUDED.fail_time)";

static void hexenc(const uint8_t *d, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 15];
  }
  out[2 * n] = '\0';
}

static const char SQL_HWM[] =
    "UPDATE licsrv_meta SET clock_hwm = GREATEST(clock_hwm, $1::bigint)";

/* The batch's rows as one JSON array (*text NULL when none is left: a
 * node's name PostgreSQL would refuse); free *text. */
static int batch_json(const store_batch *bt, char **text) {
  const store_bentry *e = bt->e;
  size_t cap = bt->cap;
  json_t *rows = json_array();
  *text = NULL;
  if (rows == NULL)
    return LIC_NOMEM;
  for (size_t i = 0; i < cap; i++) {
    char hex[2 * LIC_ID_LEN + 1];
    if (!e[i].used || (!e[i].seen && !e[i].failed)) /* a drop: nothing to write */
      continue;
    hexenc(e[i].n.owner, LIC_ID_LEN, hex);
    json_t *row = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "o", hex, "n", e[i].n.node, "s",
                            (json_int_t)(e[i].seen ? e[i].n.last_seen : 0), "f",
                            (json_int_t)(e[i].failed ? e[i].n.fail_time : 0), "fs",
                            e[i].n.fail_status, "fr", e[i].n.fail_reason);
    if (row != NULL) /* NULL: not UTF-8, which PostgreSQL's text would refuse too */
      json_array_append_new(rows, row);
  }
  if (json_array_size(rows) > 0 && (*text = json_dumps(rows, JSON_COMPACT)) == NULL) {
    json_decref(rows);
    return LIC_NOMEM;
  }
  json_decref(rows);
  return LIC_OK;
}

static int batch_apply(pgs_wtxn *w, const store_batch *bt, int64_t hwm) {
  char *text;
  int r = batch_json(bt, &text);
  if (r == LIC_OK && text != NULL) {
    pgs_params p = {0};
    pgs__p_text(&p, text);
    r = pgs__run(w->c, SQL_NODES, &p);
  }
  free(text);
  if (r == LIC_OK && hwm > 0)
    r = pgs_w_clock_hwm_set((store_wtxn *)w, hwm);
  return r;
}

/* The same behind a pass's claims, before its COMMIT (pipe.c): the rows go
 * with the group's one round trip. Their failure in the database fails the
 * pass, and the replay writes them as batch_apply does (their own
 * savepoint, dropped when they fail again). */
static int batch_ahead(pgs_store *s, const store_batch *bt, int64_t hwm) {
  char *text = NULL;
  int r = bt->n > 0 ? batch_json(bt, &text) : LIC_OK;
  if (r == LIC_OK && text != NULL) {
    pgs_params p = {0};
    pgs__p_text(&p, text);
    r = pgs__pipe_also(s, SQL_NODES, &p); /* copies the text */
  }
  free(text);
  if (r == LIC_OK && hwm > 0) {
    pgs_params p = {0};
    pgs__p_i64(&p, hwm);
    r = pgs__pipe_also(s, SQL_HWM, &p);
  }
  return r;
}

void pgs_health_get(store *st, store_health *h) {
  pgs_store *s = (pgs_store *)st;
  memset(h, 0, sizeof *h);
  pgs_lock(&s->writer.mu);
  h->writable = s->writer.up;
  pgs_unlock(&s->writer.mu);
  h->cached = s->cached;
  pgs__listen_health(s, h);
  if (s->cached)
    pgs__cache_health(s, h);
}

/* ---- the writer thread ---------------------------------------------------------- */

static void set_up(pgs_store *s, bool up) {
  pgs_lock(&s->writer.mu);
  s->writer.up = up;
  pgs_unlock(&s->writer.mu);
}

/* The writer's connection, reconnecting at most once per backoff step. */
static int writer_conn(pgs_store *s, int64_t *next_try, int64_t *backoff) {
  PGS_ASSERT_WRITER(s);
  if (pgs__conn_ok(s->wc.c))
    return LIC_OK;
  if (pgs__now_ms() < *next_try)
    return lic_fail(LIC_UNAVAILABLE, "postgresql: unreachable (reconnecting)");
  pgs__wconn_detach(s);
  PQfinish(s->wc.c);
  s->wc.c = NULL;
  int rc = pgs__connect(s->url, &s->wc.c);
  pgs__wconn_attach(s); /* the new connection's cancel handle (none when it failed) */
  if (rc != LIC_OK) {
    *next_try = pgs__now_ms() + *backoff;
    *backoff = *backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff * 2;
    set_up(s, false);
    return rc;
  }
  *backoff = BACKOFF_MIN_MS;
  pgs__pipe_reset(s); /* nothing of the old connection's pipeline is left */
  if ((rc = pgs__wconn_session(s)) != LIC_OK)
    return rc;
  set_up(s, true);
  return LIC_OK;
}

static int savepoint(PGconn *c, const char *verb) {
  char sql[64];
  snprintf(sql, sizeof sql, "%s SAVEPOINT licsrv_op", verb);
  return pgs__run(c, sql, NULL);
}

/* BEGIN the group's transaction. A connection that died while idle (the
 * server restarted, the old primary of a failover gone) still says OK until
 * this first statement fails on it; nothing of the group was sent then, so
 * reconnect at once and begin again rather than answer the group 503. */
static int group_begin(pgs_store *s, int64_t *next_try, int64_t *backoff) {
  int rc = pgs__run(s->wc.c, "BEGIN", NULL);
  if (rc != LIC_OK && !pgs__conn_ok(s->wc.c)) {
    *next_try = 0;
    if ((rc = writer_conn(s, next_try, backoff)) == LIC_OK)
      rc = pgs__run(s->wc.c, "BEGIN", NULL);
  }
  return rc;
}

/* One pass over the group in one transaction; *failed when an operation did.
 * The first pass sends its BEGIN ahead with its first claims (pipe.c); when
 * that BEGIN fails on a connection that died while idle, the writer
 * reconnects and runs the pass again (writer_main), as group_begin does.
 * With commit (a first pass) the COMMIT goes behind the claims in their
 * pipeline when it can, after the heartbeat rows and clock mark (bt, hwm)
 * (pgs__pipe_commit_fate says what became of it): *since is then the copy's
 * mark taken before it was sent. */
static int group_pass(pgs_store *s, opq_op *ops, bool isolate, bool commit,
                      const store_batch *bt, int64_t hwm, uint64_t *since, bool *failed,
                      uint64_t *nops, int64_t *next_try, int64_t *backoff) {
  PGS_ASSERT_WRITER(s);
  pgs__pipe_pass(s, !isolate); /* claims sent ahead (pipe.c) in the first pass */
  /* group_begin may reconnect: w takes the connection after */
  int rc = isolate ? group_begin(s, next_try, backoff) : pgs__pipe_begin(s);
  pgs_wtxn w = {.ops = &pgs_ops, .s = s, .c = s->wc.c, .now = (int64_t)time(NULL)};
  *failed = false;
  *nops = 0;
  pgs__own_rollback(s, 0); /* a pass starts from nothing */
  if (rc != LIC_OK)
    return rc;
  for (opq_op *o = ops; o != NULL && !*failed; o = o->next) {
    opq_op_begin(o);
    if (isolate && (rc = savepoint(s->wc.c, "")) != LIC_OK)
      return rc;
    size_t mark = pgs__own_mark(s);
    o->rc = o->apply((store_wtxn *)&w, o->arg);
    w.count_ok = false; /* a count read in one operation is that one's */
    if (o->rc != LIC_OK)
      pgs__own_rollback(s, mark); /* rolled back (to its savepoint, or all of it) */
    if (!pgs__conn_ok(s->wc.c))
      return lic_fail(LIC_UNAVAILABLE, "postgresql: connection lost");
    if (o->rc == LIC_UNAVAILABLE) /* canceled or timed out: not this operation's fault */
      return o->rc;
    if (o->rc != LIC_OK)
      snprintf(o->detail, sizeof o->detail, "%s", lic_errdetail());
    if (isolate && (rc = savepoint(s->wc.c, o->rc == LIC_OK ? "RELEASE" : "ROLLBACK TO")) != LIC_OK)
      return rc;
    if (!isolate && o->rc != LIC_OK)
      *failed = true;
    (*nops)++;
  }
  pgs__pipe_pass_end(s);
  if (commit && !*failed && !pgs__canceled(s) && pgs__pipe_commit_ahead(s)) {
    if ((bt->n > 0 || hwm > 0) && batch_ahead(s, bt, hwm) != LIC_OK) {
      pgs__pipe_commit_drop(s); /* the rows and the COMMIT on their own, as before */
    } else {
      *since = pgs__cache_mark(s); /* before the COMMIT, as below */
      pgs__stop_warn_clear(s);
    }
  }
  if (pgs__pipe_collect(s) != LIC_OK) /* a claim sent ahead failed */
    *failed = true;
  if (!pgs__conn_ok(s->wc.c))
    return lic_fail(LIC_UNAVAILABLE, "postgresql: connection lost");
  return LIC_OK;
}

/* Sleep until there is work (as in store/lmdb/writer.c). */
static void wait_work(pgs_store *s) {
  for (;;) {
    pgs_lock(&s->writer.mu);
    bool flush = s->writer.flush_wanted != s->writer.flush_done;
    int64_t wait = -1;
    if (s->writer.batch.n > 0 || s->writer.hwm_pending > 0) {
      wait = s->writer.batch_since_ms + STORE_FLUSH_MS - pgs__now_ms();
      if (wait < 0 || s->writer.batch.n >= STORE_MAX_BATCH)
        wait = 0;
    }
    pgs_unlock(&s->writer.mu);
    if (flush || wait == 0 || opq_wait(&s->writer.q, wait))
      return;
  }
}

static void *writer_main(void *arg) {
  pgs_store *s = arg;
  int64_t next_try = 0, backoff = BACKOFF_MIN_MS;

  pgs_owner_take(&s->wowner); /* the writer's state is this thread's from now */
  pgs__wconn_attach(s);       /* the opener's connection, now the writer's */

  for (;;) {
    bool stop;
    wait_work(s);
    opq_op *ops = opq_drain(&s->writer.q, &stop);
    pgs_lock(&s->writer.mu);
    store_batch bt = store_batch_take(&s->writer.batch);
    size_t bn = bt.n;
    int64_t hwm = s->writer.hwm_pending;
    s->writer.hwm_pending = 0;
    uint64_t flush_target = s->writer.flush_wanted;
    pgs_unlock(&s->writer.mu);

    uint64_t nops = 0, waits0 = pgs__conn_waits();
    int crc = LIC_OK;
    char cdetail[320] = "";
    bool committed = false, commit_sent = false, warned = false;
    if ((ops != NULL || bn > 0 || hwm > 0) && !pgs__group_begin(s)) {
      /* A group was canceled at stop: nothing more goes to PostgreSQL. */
      crc = LIC_UNAVAILABLE;
      snprintf(cdetail, sizeof cdetail, "postgresql: writes canceled, licsrv is stopping");
      if (bn > 0 || hwm > 0)
        srv_log(SRV_LOG_WARN, "store_write_failed",
                "what=heartbeat_batch nodes=%zu kept=false(canceled at stop)", bn);
    } else if (ops != NULL || bn > 0 || hwm > 0) {
      lic_errdetail_clear();
      crc = writer_conn(s, &next_try, &backoff);
      bool again = true, failed = false;
      uint64_t since = 0;
      pgs_commit_fate fate = PGS_COMMIT_NONE;
      for (int pass = 0; pass < 2 && crc == LIC_OK; pass++) {
        /* the COMMIT rides in the claims' pipeline (one round trip) */
        crc = group_pass(s, ops, pass == 1, pass == 0, &bt, hwm, &since, &failed, &nops,
                         &next_try, &backoff);
        fate = pgs__pipe_commit_fate(s);
        if (fate == PGS_COMMIT_DONE || fate == PGS_COMMIT_UNKNOWN)
          break; /* committed, or maybe: never run again */
        if (crc == LIC_OK && !failed)
          break;
        if (pass == 0 && again && pgs__pipe_begin_failed(s) && !pgs__conn_ok(s->wc.c)) {
          /* the BEGIN sent ahead found the connection dead: nothing of the
           * group reached PostgreSQL's commit, so reconnect and run it again */
          again = false;
          next_try = 0;
          crc = writer_conn(s, &next_try, &backoff);
          pass = -1;
          continue;
        }
        pgs__run(s->wc.c, "ROLLBACK", NULL);
        if (crc == LIC_OK && (pass == 1 || pgs__canceled(s)))
          break; /* no replay of a group the stop canceled */
      }
      if (fate == PGS_COMMIT_DONE) {
        commit_sent = committed = true;
        if (bn > 0 || hwm > 0) /* went with it */
          nops++;
        warned = pgs__stop_warning(s)[0] != '\0';
        /* committed: never run again. A claim's answer that could not be
         * read fails the group all the same (its rows are in); the
         * connection lost after the COMMIT's answer does not */
        crc = failed ? lic_fail(LIC_FORMAT, "postgresql: the group was committed, but: %s",
                                lic_errdetail())
                     : LIC_OK;
        pgs__cache_apply_own(s, s->wc.c, since);
      } else if (fate == PGS_COMMIT_UNKNOWN) {
        commit_sent = true; /* crc: the connection lost (group_pass) */
      } else if (crc == LIC_OK && pgs__canceled(s)) {
        pgs__run(s->wc.c, "ROLLBACK", NULL);
        crc = LIC_UNAVAILABLE;
      } else if (crc == LIC_OK) {
        if (bn > 0 || hwm > 0) { /* bookkeeping rides along; dropped on failure */
          pgs_wtxn w = {.ops = &pgs_ops, .s = s, .c = s->wc.c, .now = (int64_t)time(NULL)};
          if (savepoint(s->wc.c, "") == LIC_OK) {
            int br = batch_apply(&w, &bt, hwm);
            savepoint(s->wc.c, br == LIC_OK ? "RELEASE" : "ROLLBACK TO");
          }
          nops++;
        }
        lic_errdetail_clear();
        since = pgs__cache_mark(s);
        pgs__stop_warn_clear(s);
        commit_sent = true;
        crc = pgs__run(s->wc.c, "COMMIT", NULL); /* answered only after this */
        committed = crc == LIC_OK;
        /* the COMMIT's own warning, not the reload's below */
        warned = pgs__stop_warning(s)[0] != '\0';
        if (committed) /* on the primary, whatever the answer below */
          pgs__cache_apply_own(s, s->wc.c, since);
      }
      bool canceled = pgs__group_end(s);
      if (canceled || (committed && warned)) {
        /* Never "valid": a canceled synchronous-replication wait (our stop
         * bound, an operator's pg_cancel_backend) leaves the commit on the
         * primary only, which a failover may lose (stop.c). */
        char qw[300];
        crc = LIC_UNAVAILABLE;
        /* The COMMIT sent and its answer lost (the connection shut at stop):
         * PostgreSQL may have committed it or not. */
        const char *cfate = committed ? "primary_only" : commit_sent ? "unknown" : "no";
        snprintf(cdetail, sizeof cdetail, "postgresql: %s",
                 committed ? "COMMIT canceled while waiting for the synchronous standby: "
                             "committed on the primary, maybe not replicated"
                 : commit_sent ? "COMMIT canceled, its outcome unknown"
                               : "write canceled, rolled back");
        size_t nq = 0;
        for (opq_op *o = ops; o != NULL; o = o->next)
          nq++;
        const char *why =
            committed ? "answered 503 store_unavailable, not valid: PostgreSQL committed it "
                        "locally but it may not be replicated to the synchronous standby"
            : commit_sent ? "answered 503 store_unavailable: the COMMIT was sent, whether "
                            "PostgreSQL committed it is unknown"
                          : "answered 503 store_unavailable: rolled back";
        char qd[300];
        srv_log(SRV_LOG_ERROR, "store_write_canceled",
                "ops=%zu committed=%s cause=%s warning=%s detail=%s", nq, cfate,
                canceled ? "stop" : "postgresql_warning", SRV_LOG_Q(pgs__stop_warning(s), qw),
                SRV_LOG_Q(why, qd));
      } else if (crc != LIC_OK) {
        snprintf(cdetail, sizeof cdetail, "%s", lic_errdetail());
        if (commit_sent && !committed && !pgs__conn_ok(s->wc.c))
          snprintf(cdetail, sizeof cdetail,
                   "postgresql: the COMMIT was sent, whether PostgreSQL committed it is "
                   "unknown (connection lost)");
        if (!pgs__conn_ok(s->wc.c)) {
          crc = LIC_UNAVAILABLE;
          set_up(s, false);
          next_try = 0; /* the next group tries a reconnect at once */
        }
      }
    }
    store_batch_free(&bt);
    pgs__own_clear(s); /* a failed group changed nothing */

    pgs_lock(&s->writer.mu);
    s->writer.stats.ops += nops;
    s->writer.stats.round_trips += pgs__conn_waits() - waits0;
    if (committed) {
      s->writer.stats.commits++;
      s->writer.stats.syncs++;
      if (ops == NULL)
        s->writer.stats.flushes++;
    }
    pgs_unlock(&s->writer.mu);

    opq_complete(ops, crc, cdetail);

    pgs_lock(&s->writer.mu);
    s->writer.flush_done = flush_target;
    pthread_cond_broadcast(&s->writer.done);
    bool last = stop && s->writer.batch.n == 0 && s->writer.hwm_pending == 0;
    pgs_unlock(&s->writer.mu);
    if (last)
      break;
  }
  pgs_owner_drop(&s->wowner);
  return NULL;
}

int pgs_submit(store *st, store_apply_fn apply, store_done_fn done, void *arg) {
  pgs_store *s = (pgs_store *)st;
  if (s->rdonly)
    return lic_fail(LIC_INVALID, "store is read-only");
  return opq_push(&s->writer.q, apply, done, arg);
}

int64_t pgs_wtxn_now(const store_wtxn *w) { return ((const pgs_wtxn *)w)->now; }

int pgs_flush(store *st) {
  pgs_store *s = (pgs_store *)st;
  if (s->rdonly)
    return LIC_OK;
  pgs_lock(&s->writer.mu);
  uint64_t target = ++s->writer.flush_wanted;
  opq_kick(&s->writer.q);
  while (s->writer.flush_done < target)
    pgs_wait(&s->writer.done, &s->writer.mu);
  pgs_unlock(&s->writer.mu);
  return LIC_OK;
}

void pgs_stats_get(store *st, store_stats *out) {
  pgs_store *s = (pgs_store *)st;
  pgs_lock(&s->writer.mu);
  *out = s->writer.stats;
  pgs_unlock(&s->writer.mu);
}

int pgs_w_clock_hwm_set(store_wtxn *wt, int64_t t) {
  pgs_params p = {0};
  pgs__p_i64(&p, t);
  return pgs__run(((pgs_wtxn *)wt)->c, SQL_HWM, &p);
}

/* ---- the room's life ------------------------------------------------------------- */

int pgs__writer_init(pgs_store *s) {
  if (opq_init(&s->writer.q) != LIC_OK)
    return LIC_NOMEM;
  pgs_mutex_init(&s->writer.mu);
  pthread_cond_init(&s->writer.done, NULL);
  return LIC_OK;
}

int pgs__writer_start(pgs_store *s) {
  if (pthread_create(&s->writer.th, NULL, writer_main, s) != 0)
    return lic_fail(LIC_IO, "cannot start the writer thread");
  s->writer.started = true;
  return LIC_OK;
}

void pgs__writer_stop(pgs_store *s) {
  if (!s->writer.started)
    return;
  pgs_lock(&s->writer.mu);
  s->writer.stopping = true; /* before the queue closes: the writer's last drain takes the batch */
  pgs_unlock(&s->writer.mu);
  opq_close(&s->writer.q);
  pthread_join(s->writer.th, NULL);
}

void pgs__writer_free(pgs_store *s) {
  store_batch_free(&s->writer.batch);
  opq_destroy(&s->writer.q);
  pgs_mutex_destroy(&s->writer.mu);
  pthread_cond_destroy(&s->writer.done);
}

void pgs__writer_set_up(pgs_store *s, bool up) { set_up(s, up); }

int64_t pgs__writer_hwm_pending(pgs_store *s) {
  pgs_lock(&s->writer.mu);
  int64_t t = s->writer.hwm_pending;
  pgs_unlock(&s->writer.mu);
  return t;
}
