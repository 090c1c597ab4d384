/* store/pg/stop.c - the bound on a write in flight when licsrv stops.
 *
 * A COMMIT can wait without end: with synchronous_standby_names set and the
 * standby gone, PostgreSQL holds every commit until a standby confirms it.
 * The writer thread then never returns from PQexec, and a process stopping on
 * SIGTERM would wait for it forever. store_stop_begin (serve, on SIGTERM)
 * starts a watchdog thread here: a group still running grace_ms after the
 * stop began (or after it started, if later) is canceled through libpq's
 * cancel request (PQcancel, the documented way to stop a statement from
 * another thread), and from then on the store writes nothing more: every
 * operation is answered LIC_UNAVAILABLE (503 store_unavailable).
 *
 * Never "valid" for a canceled group: a canceled synchronous-replication wait
 * leaves the transaction committed on the primary but perhaps not on the
 * standby (PostgreSQL says so in a WARNING and still reports the COMMIT as
 * successful), so it may be lost by a failover. The writer answers it 503
 * and logs why (store/pg/writer.c). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lic/err.h"
#include "store/pg/internal.h"
#include "util/log.h"

#define WATCH_TICK_MS    50
#define CANCEL_RETRY_MS  500 /* a cancel that came before the statement started is sent again */

static void writer_notice(void *arg, const PGresult *res) {
  pgs_store *s = arg;
  const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (sev == NULL || strcmp(sev, "WARNING") != 0 || s->wwarn[0] != '\0')
    return;
  snprintf(s->wwarn, sizeof s->wwarn, "%s", PQresultErrorMessage(res));
  size_t n = strlen(s->wwarn);
  while (n > 0 && (s->wwarn[n - 1] == '\n' || s->wwarn[n - 1] == ' '))
    s->wwarn[--n] = '\0';
  for (char *p = s->wwarn; *p != '\0'; p++)
    if (*p == '\n')
      *p = ' ';
}

void pgs__wconn_attach(pgs_store *s) {
  PGcancel *c = NULL;
  if (s->wconn != NULL) {
    PQsetNoticeReceiver(s->wconn, writer_notice, s);
    c = PQgetCancel(s->wconn);
  }
  pthread_mutex_lock(&s->mu);
  PQfreeCancel(s->wcancel);
  s->wcancel = c;
  pthread_mutex_unlock(&s->mu);
}

bool pgs__group_begin(pgs_store *s) {
  pthread_mutex_lock(&s->mu);
  bool ok = !s->canceled;
  if (ok) {
    s->busy = true;
    s->busy_since_ms = pgs__now_ms();
  }
  pthread_mutex_unlock(&s->mu);
  return ok;
}

bool pgs__group_end(pgs_store *s) {
  pthread_mutex_lock(&s->mu);
  s->busy = false;
  bool hit = s->canceled;
  pthread_mutex_unlock(&s->mu);
  return hit;
}

bool pgs__canceled(pgs_store *s) {
  pthread_mutex_lock(&s->mu);
  bool c = s->canceled;
  pthread_mutex_unlock(&s->mu);
  return c;
}

static void *watchdog_main(void *arg) {
  pgs_store *s = arg;
  int64_t last_cancel = 0;
  pthread_mutex_lock(&s->mu);
  while (!s->writer_exited) {
    int64_t now = pgs__now_ms();
    int64_t from = s->busy_since_ms > s->stop_at_ms ? s->busy_since_ms : s->stop_at_ms;
    if (s->busy && now - from >= (int64_t)s->stop_grace_ms &&
        now - last_cancel >= CANCEL_RETRY_MS) {
      char err[256] = "";
      bool first = !s->canceled;
      s->canceled = true;
      /* Under mu: the writer cannot swap the handle meanwhile. PQcancel
       * opens its own short connection to the server. */
      bool sent = s->wcancel != NULL && PQcancel(s->wcancel, err, (int)sizeof err) == 1;
      last_cancel = now;
      if (first) {
        char q[300];
        srv_log(SRV_LOG_ERROR, "store_write_cancel",
                "busy_ms=%lld grace_ms=%llu cancel=%s error=%s detail=\"a write still running "
                "at stop is canceled and answered 503; nothing more is written\"",
                (long long)(now - s->busy_since_ms), (unsigned long long)s->stop_grace_ms,
                sent ? "sent" : "failed", SRV_LOG_Q(err, q));
      }
    }
    pthread_mutex_unlock(&s->mu);
    struct timespec ts = {0, WATCH_TICK_MS * 1000000L};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

void pgs_stop_begin(store *st, uint64_t grace_ms) {
  pgs_store *s = (pgs_store *)st;
  pthread_mutex_lock(&s->mu);
  bool start = s->writer_started && !s->writer_exited && s->stop_at_ms == 0;
  if (start) {
    s->stop_at_ms = pgs__now_ms();
    s->stop_grace_ms = grace_ms;
    s->watchdog_started = pthread_create(&s->watchdog, NULL, watchdog_main, s) == 0;
  }
  pthread_mutex_unlock(&s->mu);
}

void pgs__stop_end(pgs_store *s) {
  pthread_mutex_lock(&s->mu);
  s->writer_exited = true;
  bool join = s->watchdog_started;
  s->watchdog_started = false;
  pthread_mutex_unlock(&s->mu);
  if (join)
    pthread_join(s->watchdog, NULL);
  PQfreeCancel(s->wcancel);
  s->wcancel = NULL;
}
