/* store/lmdb/writer.c - the one writer thread of a store: group commit of the
 * submitted operations (one transaction, one sync per group), the synchronous
 * write and flush on top of it, and the in-memory heartbeat batch (node seen
 * or failed, clock high-water mark) that rides along with each commit.
 *
 * One sync per commit, not two: LMDB's synchronous commit writes the data
 * pages, fdatasyncs, then writes the meta page through an O_DSYNC descriptor,
 * a second device flush (the bench measured ~150 us of CPU per flush on its
 * VM, about a durable import's own work). The writer commits with
 * MDB_NOMETASYNC instead: pages written and fdatasynced, the meta page written
 * unsynced. A group is answered once its meta page is on disk: when more
 * operations are already queued, by the next commit's fdatasync (the same
 * file: it carries the previous meta page with the new data pages), else by
 * an mdb_env_sync of its own right away. LMDB keeps the store consistent either way
 * (MDB_NOMETASYNC keeps ACI: a page the durable meta page still uses is not
 * reused before a newer meta page is durable), and nothing is answered before
 * it is on disk (docs/storage.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lic/err.h"
#include "store/lmdb/internal.h"
#include "util/invariant.h"
#include "util/log.h"

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void) { return mono_us() / 1000; }

/* The longest a committed group lingers for a next one (LINGER_MAX_US). */
#define LINGER_MAX_US 2000

/* A meta page's own sync: mdb_env_sync, timed into s->sync_us. */
static int meta_sync(store *s) {
  int64_t t0 = mono_us();
  int mrc = mdb_env_sync(s->env, 1);
  int64_t us = mono_us() - t0;
  if (mrc == 0)
    s->sync_us = s->sync_us == 0 ? us : (7 * s->sync_us + us) / 8;
  return mrc;
}

/* Nothing is queued after a commit of nops operations: under concurrent
 * load (a group of several, or the last group held for this one), wait at
 * most one own sync's time for an operation. One that comes is committed
 * next, and that commit's fdatasync carries this group's meta page: under a
 * trickle of writes from many clients (each arriving while the last commit
 * syncs) a commit costs one flush, not two. A lone client's writes (one at
 * a time, each waiting for its answer) never wait: nothing could come. */
static bool linger(store *s, uint64_t nops) {
  int64_t us = s->sync_us < LINGER_MAX_US ? s->sync_us : LINGER_MAX_US;
  if (us <= 0 || (nops < 2 && !s->held_last))
    return false;
  pthread_mutex_lock(&s->mu);
  s->stats.lingered++;
  pthread_mutex_unlock(&s->mu);
  return opq_wait_us(&s->q, us) && opq_pending(&s->q);
}

/* ---- the heartbeat batch (store/batch.c), under s->mu ---------------------- */

static int batch_note(store *s, const uint8_t owner[LIC_ID_LEN], const char *node, int64_t now,
                      const char *status, const char *reason, bool drop) {
  bool first;
  int r;
  if ((r = store_batch_check_node(node)) != LIC_OK)
    return r;
  if (s->rdonly)
    return lic_fail(LIC_INVALID, "store is read-only");
  pthread_mutex_lock(&s->mu);
  if (s->stopping) {
    r = lic_fail(LIC_INVALID, "store is closing");
    goto out;
  }
  if ((r = store_batch_note(&s->batch, owner, node, now, status, reason, drop, &first)) !=
      LIC_OK)
    goto out;
  if (first && s->batch.n == 1 && s->hwm_pending == 0) {
    s->batch_since_ms = mono_ms();
    opq_kick(&s->q); /* an idle writer arms its flush timer */
  }
  if (s->batch.n >= STORE_MAX_BATCH)
    opq_kick(&s->q);
out:
  pthread_mutex_unlock(&s->mu);
  return r;
}

int lmdb_node_seen(store *s, const uint8_t owner[LIC_ID_LEN], const char *node, int64_t now) {
  return batch_note(s, owner, node, now, NULL, NULL, false);
}

int lmdb_node_drop(store *s, const uint8_t owner[LIC_ID_LEN], const char *node) {
  return batch_note(s, owner, node, 0, NULL, NULL, true);
}

int lmdb_node_failure(store *s, const uint8_t owner[LIC_ID_LEN], const char *node,
                       int64_t now, const char *status, const char *reason) {
  return batch_note(s, owner, node, now, status != NULL ? status : "", reason, false);
}

/* A batch that could not be written goes back into the pending one (under
 * s->mu), newer notes winning: heartbeats are never dropped silently, they
 * wait for the next commit that can take them. */
static void batch_requeue(store *s, const store_batch *bt, int64_t hwm) {
  SRV_ASSERT_LOCKED(&s->mu);
  SRV_ASSERT_THREAD(s->writer);
  /* out of memory: what is left is lost, and said so by the caller */
  (void)store_batch_merge_older(&s->batch, bt);
  if (hwm > s->hwm_pending)
    s->hwm_pending = hwm;
  s->batch_since_ms = mono_ms(); /* the next try a flush interval later, not at once */
}

void lmdb_clock_hwm_note(store *s, int64_t now) {
  if (s == NULL || s->rdonly)
    return;
  pthread_mutex_lock(&s->mu);
  if (now > s->hwm_pending) {
    if (s->hwm_pending == 0 && s->batch.n == 0) {
      s->batch_since_ms = mono_ms();
      opq_kick(&s->q); /* as for the first node of a batch */
    }
    s->hwm_pending = now;
  }
  pthread_mutex_unlock(&s->mu);
}

/* Merge a batch into the stored records (on the writer thread). */
static int batch_apply(store_wtxn *w, const store_batch *bt, int64_t hwm) {
  int r;
  SRV_ASSERT_THREAD(w->s->writer);
  for (size_t i = 0; i < bt->cap; i++) {
    const store_bentry *e = &bt->e[i];
    store_node cur;
    if (!e->used)
      continue;
    r = lmdb__node_get(w->s, w->txn, e->n.owner, e->n.node, &cur);
    if (r != LIC_OK && r != LIC_NOTFOUND && r != LIC_FORMAT)
      return r;
    if (e->drop) { /* out of the failure list: gone unless it holds a seat */
      if (r == LIC_OK && cur.last_seen == 0) {
        uint8_t key[LIC_ID_LEN + STORE_MAX_NODE];
        size_t nl = strlen(e->n.node);
        memcpy(key, e->n.owner, LIC_ID_LEN);
        memcpy(key + LIC_ID_LEN, e->n.node, nl);
        r = lmdb__del(w->s, w->txn, DB_NODES, key, LIC_ID_LEN + nl);
        if (r == LIC_OK)
          r = lmdb__usage_add(w->s, w->txn, e->n.owner, -1);
        if (r != LIC_OK && r != LIC_NOTFOUND)
          return r;
      }
      continue;
    }
    if (r != LIC_OK) { /* new, or a corrupt record replaced */
      memset(&cur, 0, sizeof cur);
      memcpy(cur.owner, e->n.owner, LIC_ID_LEN);
      memcpy(cur.node, e->n.node, sizeof cur.node);
    }
    if (e->seen && e->n.last_seen > cur.last_seen)
      cur.last_seen = e->n.last_seen;
    if (e->failed && e->n.fail_time >= cur.fail_time) {
      cur.fail_time = e->n.fail_time;
      memcpy(cur.fail_status, e->n.fail_status, sizeof cur.fail_status);
      memcpy(cur.fail_reason, e->n.fail_reason, sizeof cur.fail_reason);
    }
    if ((r = lmdb_w_node_put(w, &cur)) != LIC_OK)
      return r;
  }
  if (hwm > 0)
    return lmdb_w_clock_hwm_set(w, hwm);
  return LIC_OK;
}

/* ---- the writer thread: group commit --------------------------------------------------------- */

/* Sleep until there is work: queued operations, the queue closed, a flush
 * asked for, or the batch due (its age, or its size). */
static void wait_work(store *s) {
  for (;;) {
    pthread_mutex_lock(&s->mu);
    bool flush = s->flush_wanted != s->flush_done;
    int64_t wait = -1; /* nothing batched: no timer */
    if (s->batch.n > 0 || s->hwm_pending > 0) {
      wait = s->batch_since_ms + STORE_FLUSH_MS - mono_ms();
      if (wait < 0 || s->batch.n >= STORE_MAX_BATCH)
        wait = 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (flush || wait == 0 || opq_wait(&s->q, wait))
      return;
  }
}

/* Answer a group committed earlier whose meta page is not yet known to be
 * on disk: synced says whether a later commit's fdatasync has carried it;
 * else an mdb_env_sync of its own (an error answers the group with it: its
 * writes are in the store but may not survive a power loss). */
static void held_settle(store *s, opq_op **held, bool synced) {
  int rc = LIC_OK;
  char detail[320] = "";
  if (*held == NULL)
    return;
  if (!synced) {
    int mrc = meta_sync(s);
    if (mrc != 0) {
      lic_errdetail_clear();
      rc = lmdb__fail(mrc, "sync");
      snprintf(detail, sizeof detail, "%s", lic_errdetail());
    }
  }
  pthread_mutex_lock(&s->mu);
  if (synced)
    s->stats.shared++;
  pthread_mutex_unlock(&s->mu);
  opq_complete(*held, rc, detail);
  *held = NULL;
}

void *lmdb__writer_main(void *arg) {
  store *s = arg;
  opq_op *held = NULL; /* committed, its meta page not yet synced: answered after */

  for (;;) {
    bool stop;
    if (held == NULL) /* else operations are queued: no wait */
      wait_work(s);
    opq_op *ops = opq_drain(&s->q, &stop);
    pthread_mutex_lock(&s->mu);
    /* Whatever is batched rides along with this commit: its sync is paid
     * anyway. Taken after the drain: once the drain saw the queue closed, no
     * note can follow (stopping is set before the close). */
    store_batch bt = store_batch_take(&s->batch);
    int64_t hwm = s->hwm_pending;
    s->hwm_pending = 0;
    uint64_t flush_target = s->flush_wanted;
    pthread_mutex_unlock(&s->mu);

    if (ops == NULL && bt.n == 0 && hwm == 0) {
      held_settle(s, &held, false);
      store_batch_free(&bt);
      pthread_mutex_lock(&s->mu);
      s->flush_done = flush_target;
      pthread_cond_broadcast(&s->done);
      pthread_mutex_unlock(&s->mu);
      if (stop)
        break;
      continue;
    }

    store_wtxn w = {&lmdb_ops, s, NULL, (int64_t)time(NULL)};
    MDB_txn *parent = NULL;
    uint64_t nops = 0;
    int crc = LIC_OK, mrc;
    char cdetail[320] = "";

    /* Fast path: every operation straight in the group's transaction (a
     * nested LMDB transaction allocates its own dirty list, which costs the
     * writer a fifth of its time). When one fails, the whole group is rolled
     * back and replayed with each operation in its own nested transaction, so
     * the failing one is undone alone and the others still commit. */
    bool isolate = false, wrote = false;
    uint64_t map_full0 = 0; /* MDB_MAP_FULL count before the last pass's operations */
    for (int pass = 0; pass < 2 && crc == LIC_OK; pass++) {
      bool failed = false;
      nops = 0;
      map_full0 = lmdb__map_full_count();
      if ((mrc = mdb_txn_begin(s->env, NULL, 0, &parent)) != 0) {
        crc = lmdb__fail(mrc, "write transaction");
        break;
      }
      for (opq_op *o = ops; o != NULL && !failed; o = o->next) {
        MDB_txn *child = NULL;
        opq_op_begin(o);
        if (!isolate) {
          w.txn = parent;
          o->rc = o->apply(&w, o->arg);
          failed = o->rc != LIC_OK;
        } else if ((mrc = mdb_txn_begin(s->env, parent, 0, &child)) != 0) {
          o->rc = lmdb__fail(mrc, "nested transaction");
        } else {
          w.txn = child;
          o->rc = o->apply(&w, o->arg);
          if (o->rc == LIC_OK && (mrc = mdb_txn_commit(child)) != 0)
            o->rc = lmdb__fail(mrc, "nested commit");
          else if (o->rc != LIC_OK)
            mdb_txn_abort(child);
        }
        if (o->rc != LIC_OK)
          snprintf(o->detail, sizeof o->detail, "%s", lic_errdetail());
        nops++;
      }
      if (!failed)
        break;
      mdb_txn_abort(parent); /* undo the group, replay it isolated */
      parent = NULL;
      isolate = true;
    }
    /* An operation refused for want of room (undone alone, the group's
     * commit then succeeds) is the map full too: not "room again" until a
     * group writes without one, else /healthz flaps between 200 and 503. */
    bool ops_full = lmdb__map_full_count() != map_full0;
    int brc = LIC_OK; /* the batch's fate */
    char bdetail[320] = "";
    bool batch_in = false;
    if (parent != NULL) {
      if (bt.n > 0 || hwm > 0) {
        MDB_txn *child = NULL;
        lic_errdetail_clear();
        if ((mrc = mdb_txn_begin(s->env, parent, 0, &child)) != 0) {
          brc = lmdb__fail(mrc, "batch transaction");
        } else {
          w.txn = child;
          if ((brc = batch_apply(&w, &bt, hwm)) == LIC_OK && (mrc = mdb_txn_commit(child)) != 0)
            brc = lmdb__fail(mrc, "batch commit");
          else if (brc != LIC_OK)
            mdb_txn_abort(child); /* bookkeeping only: never blocks durable ops */
        }
        if (brc != LIC_OK)
          snprintf(bdetail, sizeof bdetail, "%s", lic_errdetail());
        batch_in = brc == LIC_OK;
        nops++;
      }
      lic_errdetail_clear();
      size_t txnid = mdb_txn_id(parent);
      if ((mrc = mdb_txn_commit(parent)) != 0) { /* the one sync of this group */
        crc = lmdb__fail(mrc, "commit");
        snprintf(cdetail, sizeof cdetail, "%s", lic_errdetail());
      } else {
        /* A transaction that changed nothing (every operation of the group
         * failed or wrote nothing) commits without writing or syncing. */
        MDB_envinfo ei;
        wrote = mdb_env_info(s->env, &ei) == 0 && ei.me_last_txnid >= txnid;
      }
    } else if (bt.n > 0 || hwm > 0) {
      brc = crc;
    }
    if (crc != LIC_OK && cdetail[0] == '\0')
      snprintf(cdetail, sizeof cdetail, "%s", lic_errdetail());
    /* This commit's fdatasync carried the held group's meta page (if it
     * wrote: else the held group is synced on its own). */
    held_settle(s, &held, crc == LIC_OK && wrote);
    /* This group: held for the next commit when more work is queued (and no
     * flush or close waits for it), else synced now; nothing to sync when
     * it wrote nothing. */
    bool hold = false, own_sync = false;
    if (crc == LIC_OK && wrote && !s->nosync) {
      pthread_mutex_lock(&s->mu);
      bool may_hold = ops != NULL && !stop && s->flush_wanted == s->flush_done;
      pthread_mutex_unlock(&s->mu);
      hold = may_hold && (opq_pending(&s->q) || linger(s, nops));
      own_sync = !hold;
      if (own_sync && (mrc = meta_sync(s)) != 0) {
        lic_errdetail_clear();
        crc = lmdb__fail(mrc, "sync");
        snprintf(cdetail, sizeof cdetail, "%s", lic_errdetail());
      }
    }
    bool batch_lost = (bt.n > 0 || hwm > 0) && (!batch_in || crc != LIC_OK);
    if (batch_lost && brc == LIC_OK) {
      brc = crc;
      snprintf(bdetail, sizeof bdetail, "%s", cdetail);
    }

    pthread_mutex_lock(&s->mu);
    s->stats.ops += nops;
    if (crc == LIC_OK) {
      s->stats.commits++;
      if (!s->nosync)
        s->stats.syncs++;
      if (ops == NULL)
        s->stats.flushes++;
    }
    bool was_full = s->stats.full;
    if (batch_lost) {
      s->stats.batch_failures++;
      if (!stop) /* at close there is no next try: said below */
        batch_requeue(s, &bt, hwm);
    }
    if (crc == LIC_LIMIT || brc == LIC_LIMIT || ops_full)
      s->stats.full = true;
    else if (crc == LIC_OK && (batch_in || (bt.n == 0 && hwm == 0)))
      s->stats.full = false;
    bool now_full = s->stats.full;
    uint64_t pending = s->batch.n;
    pthread_mutex_unlock(&s->mu);
    size_t bn = bt.n;
    store_batch_free(&bt);
    /* Loud: every failed batch, and the map filling or draining. */
    if (batch_lost) {
      char qe[160], qd[400];
      const char *es = lic_strerror(brc);
      srv_log(SRV_LOG_ERROR, "store_write_failed",
              "what=heartbeat_batch nodes=%zu pending=%llu kept=%s error=%s detail=%s", bn,
              (unsigned long long)pending, stop ? "false(closing)" : "true",
              srv_log_quote(es, strlen(es), qe, sizeof qe),
              srv_log_quote(bdetail, strlen(bdetail), qd, sizeof qd));
    }
    if (now_full && !was_full)
      srv_log(SRV_LOG_ERROR, "store_map_full",
              "dir=%s detail=\"writes fail until space is freed (licsrv purge) or the map is "
              "raised (store_map_size)\"", s->dir);
    else if (was_full && !now_full)
      srv_log(SRV_LOG_WARN, "store_map_room", "dir=%s", s->dir);

    s->held_last = hold;
    if (hold)
      held = ops;
    else
      opq_complete(ops, crc, cdetail);

    pthread_mutex_lock(&s->mu);
    s->flush_done = flush_target;
    pthread_cond_broadcast(&s->done);
    bool last = stop && s->batch.n == 0 && s->hwm_pending == 0;
    pthread_mutex_unlock(&s->mu);
    if (last)
      break;
  }
  held_settle(s, &held, false); /* none: the last group is never held */
  return NULL;
}

int lmdb_submit(store *s, store_apply_fn apply, store_done_fn done, void *arg) {
  if (s->rdonly)
    return lic_fail(LIC_INVALID, "store is read-only");
  return opq_push(&s->q, apply, done, arg);
}

int64_t lmdb_wtxn_now(const store_wtxn *w) { return w->now; }

int lmdb_flush(store *s) {
  if (s->rdonly)
    return LIC_OK;
  pthread_mutex_lock(&s->mu);
  uint64_t target = ++s->flush_wanted;
  opq_kick(&s->q);
  while (s->flush_done < target)
    pthread_cond_wait(&s->done, &s->mu);
  pthread_mutex_unlock(&s->mu);
  return LIC_OK;
}

void lmdb_stats_get(store *s, store_stats *st) {
  pthread_mutex_lock(&s->mu);
  *st = s->stats;
  pthread_mutex_unlock(&s->mu);
  st->nosync = s->nosync;
}

void lmdb_health_get(store *s, store_health *h) {
  (void)s;
  memset(h, 0, sizeof *h);
  h->writable = true;
}

/* LMDB writes wait on the local disk only: nothing to bound at stop. */
void lmdb_stop_begin(store *s, uint64_t grace_ms) { (void)s, (void)grace_ms; }
