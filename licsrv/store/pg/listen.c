/* store/pg/listen.c - the read copy's listener (store/pg/cache.c holds the
 * copy): a thread with its own connection LISTENs on PGS_NOTIFY_CHANNEL (the
 * schema's triggers announce every change at commit) and reloads what changed;
 * a full reload every PGS_CACHE_MAX_AGE_MS bounds the age of anything a lost
 * notification left behind (store/pg/notify.c reads the payloads; one that
 * does not parse asks for a full reload). On a lost connection it keeps the
 * copy, reconnects (every 250 ms at most), LISTENs again, then reloads
 * everything (changes made meanwhile were announced to nobody). It skips the
 * notifications that carry this process's origin (the writer's session
 * setting the triggers copy, schema version 3): the writer put those changes
 * in the copy after their commit. */
#include <poll.h>
#include <string.h>
#include <time.h>

#include "lic/err.h"
#include "store/pg/internal.h"
#include "store/pg/listen.h"

/* ---- the listener thread --------------------------------------------------------- */

/* One notification: reload what it names. A payload that does not parse
 * names a change the copy cannot place: *full asks for a full reload. */
static int on_notify(pgs_store *s, PGconn *c, const char *payload, bool *full) {
  pgs_notify n;
  if (pgs__notify_parse(payload, strlen(payload), &n) != LIC_OK) {
    *full = true;
    return LIC_OK;
  }
  /* this process's writer put its change in the copy after its commit */
  if (n.has_origin && memcmp(n.origin, s->origin, PGS_ORIGIN_LEN) == 0) {
    if (n.kind == PGS_NOTIFY_ROW || n.kind == PGS_NOTIFY_GONE || n.kind == PGS_NOTIFY_REG)
      pgs__cache_own_seen(s, n.id);
    return LIC_OK;
  }
  switch (n.kind) {
  case PGS_NOTIFY_CERTS: pgs__cache_count_reload(s); return pgs__cache_load_certs(s, c);
  case PGS_NOTIFY_ACCOUNT:
  case PGS_NOTIFY_REGS:
    pgs__cache_count_reload(s);
    return pgs__cache_load_account(s, c, n.id);
  case PGS_NOTIFY_REG: return pgs__cache_load_reg(s, c, n.id, n.project);
  case PGS_NOTIFY_ROW:
  case PGS_NOTIFY_GONE: return pgs__cache_apply_row(s, c, &n);
  default: return LIC_OK; /* tokens: not in the copy */
  }
}

/* The listener's reconnect backoff is shorter than the writer's (2 s): when
 * PostgreSQL is back, another process's writer may acknowledge a change at
 * once, and this copy sees none until its listener LISTENs again; with the
 * writer's 2 s it stayed blind to them that long. A refused connection
 * costs next to nothing. */
#define LISTEN_BACKOFF_MIN_MS 50
#define LISTEN_BACKOFF_MAX_MS 250

static void set_fresh(pgs_store *s, bool fresh) {
  pgs_lock(&s->listen.mu);
  if (!fresh && s->listen.fresh)
    s->listen.down_since = (int64_t)time(NULL);
  s->listen.fresh = fresh;
  pgs_unlock(&s->listen.mu);
}

static bool listener_stopping(pgs_store *s) {
  pgs_lock(&s->listen.mu);
  bool stop = s->listen.stop;
  pgs_unlock(&s->listen.mu);
  return stop;
}

static void *listener_main(void *arg) {
  pgs_store *s = arg;
  PGconn *c = NULL;
  int64_t backoff = LISTEN_BACKOFF_MIN_MS, next_try = 0;
  bool full = false; /* a full reload is owed */

  while (!listener_stopping(s)) {
    if (!pgs__conn_ok(c)) {
      PQfinish(c);
      c = NULL;
      set_fresh(s, false);
      if (pgs__now_ms() < next_try) {
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
        continue;
      }
      /* LISTEN before the reload: nothing committed after it is missed. A
       * reload that fails drops the connection too, so the next try does
       * both again (kept, it would LISTEN without the reload ever coming). */
      if (pgs__connect(s->url, &c) != LIC_OK ||
          pgs__run(c, "LISTEN " PGS_NOTIFY_CHANNEL, NULL) != LIC_OK ||
          pgs__cache_load_all(s, c) != LIC_OK) {
        PQfinish(c);
        c = NULL;
        next_try = pgs__now_ms() + backoff;
        backoff = backoff * 2 > LISTEN_BACKOFF_MAX_MS ? LISTEN_BACKOFF_MAX_MS : backoff * 2;
        continue;
      }
      backoff = LISTEN_BACKOFF_MIN_MS;
      full = false;
      set_fresh(s, true);
    }
    struct pollfd pfd = {PQsocket(c), POLLIN, 0};
    int pr = poll(&pfd, 1, 200); /* also the stop flag's latency */
    if (pr > 0 && PQconsumeInput(c) == 0) {
      PQfinish(c);
      c = NULL;
      continue;
    }
    /* A reload that failed on a working connection (or a payload that did
     * not parse) leaves a change unapplied: the full reload brings it. */
    PGnotify *n;
    while ((n = PQnotifies(c)) != NULL) {
      if (on_notify(s, c, n->extra, &full) != LIC_OK)
        full = true;
      PQfreemem(n);
    }
    if (!pgs__conn_ok(c))
      continue; /* reconnect, LISTEN, reload */
    int64_t loaded;
    bool stale, owed;
    pgs__cache_due(s, &loaded, &stale, &owed);
    if (owed)
      full = true;
    if (stale && !full && pgs__cache_reload_stale(s, c) != LIC_OK)
      full = true;
    if (full || pgs__now_ms() - loaded >= PGS_CACHE_MAX_AGE_MS) {
      pgs__cache_count_reload(s);
      if (pgs__cache_load_all(s, c) == LIC_OK)
        full = false;
    }
  }
  PQfinish(c);
  return NULL;
}

void pgs__listen_init(pgs_store *s) { pgs_mutex_init(&s->listen.mu); }

void pgs__listen_free(pgs_store *s) { pgs_mutex_destroy(&s->listen.mu); }

int pgs__listen_start(pgs_store *s) {
  set_fresh(s, true);
  if (pthread_create(&s->listen.th, NULL, listener_main, s) != 0)
    return lic_fail(LIC_IO, "cannot start the change listener");
  s->listen.started = true;
  return LIC_OK;
}

void pgs__listen_stop(pgs_store *s) {
  if (!s->listen.started)
    return;
  pgs_lock(&s->listen.mu);
  s->listen.stop = true;
  pgs_unlock(&s->listen.mu);
  pthread_join(s->listen.th, NULL);
  s->listen.started = false;
}

void pgs__listen_health(pgs_store *s, store_health *h) {
  pgs_lock(&s->listen.mu);
  h->cache_fresh = s->listen.fresh;
  h->down_since = s->listen.fresh ? 0 : s->listen.down_since;
  pgs_unlock(&s->listen.mu);
}
