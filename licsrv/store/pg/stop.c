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
 * operation is answered LIC_UNAVAILABLE (503 store_unavailable). A cancel
 * that does not end the statement within HARD_STOP_MS (the server itself is
 * unreachable) is followed by shutting the writer's socket.
 *
 * Never "valid" for a canceled group: a canceled synchronous-replication wait
 * leaves the transaction committed on the primary but perhaps not on the
 * standby (PostgreSQL says so in a WARNING and still reports the COMMIT as
 * successful), so it may be lost by a failover. The writer answers it 503
 * and logs why (store/pg/writer.c). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sys/socket.h>

#include "lic/err.h"
#include "store/pg/internal.h"
#include "util/log.h"

#define WATCH_TICK_MS    50
#define CANCEL_RETRY_MS  500 /* a cancel that came before the statement started is sent again */
#define HARD_STOP_MS     2000 /* after the first cancel: the connection is shut */

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

void pgs__stop_init(pgs_store *s) {
  pthread_mutex_init(&s->cmu, NULL);
  s->wsock = -1;
}

void pgs__wconn_attach(pgs_store *s) {
  PGcancel *c = NULL;
  if (s->wconn != NULL) {
    PQsetNoticeReceiver(s->wconn, writer_notice, s);
    c = PQgetCancel(s->wconn);
  }
  pthread_mutex_lock(&s->cmu);
  PQfreeCancel(s->wcancel);
  s->wcancel = c;
  s->wsock = s->wconn != NULL ? PQsocket(s->wconn) : -1;
  pthread_mutex_unlock(&s->cmu);
}

void pgs__wconn_detach(pgs_store *s) {
  pthread_mutex_lock(&s->cmu);
  PQfreeCancel(s->wcancel);
  s->wcancel = NULL;
  s->wsock = -1; /* the descriptor is closed next and may be reused */
  pthread_mutex_unlock(&s->cmu);
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

/* Outside mu: PQcancel opens its own connection to the server (PostgreSQL
 * 15's libpq gives it no timeout), and nothing else may wait on that. */
static bool send_cancel(pgs_store *s, char *err, size_t errlen) {
  pthread_mutex_lock(&s->cmu);
  bool sent = s->wcancel != NULL && PQcancel(s->wcancel, err, (int)errlen) == 1;
  pthread_mutex_unlock(&s->cmu);
  return sent;
}

/* The last resort when a cancel does not end the statement (the server is
 * unreachable, not just waiting): the writer's socket is shut, so its
 * PQexec returns "connection lost" at once. The store writes nothing more
 * anyway. */
static void shut_socket(pgs_store *s) {
  pthread_mutex_lock(&s->cmu);
  if (s->wsock >= 0)
    shutdown(s->wsock, SHUT_RDWR);
  pthread_mutex_unlock(&s->cmu);
}

static void *watchdog_main(void *arg) {
  pgs_store *s = arg;
  int64_t first_cancel = 0, last_cancel = 0;
  bool shut = false;
  pthread_mutex_lock(&s->mu);
  while (!s->writer_exited) {
    int64_t now = pgs__now_ms();
    int64_t from = s->busy_since_ms > s->stop_at_ms ? s->busy_since_ms : s->stop_at_ms;
    bool cancel = s->busy && now - from >= (int64_t)s->stop_grace_ms &&
                  now - last_cancel >= CANCEL_RETRY_MS;
    bool hard = s->busy && first_cancel != 0 && !shut && now - first_cancel >= HARD_STOP_MS;
    int64_t busy_ms = now - s->busy_since_ms;
    if (cancel)
      s->canceled = true; /* before the cancel: the writer reads it when PQexec returns */
    pthread_mutex_unlock(&s->mu);
    if (cancel) {
      char err[256] = "", q[300];
      bool sent = send_cancel(s, err, sizeof err);
      if (first_cancel == 0)
        srv_log(SRV_LOG_ERROR, "store_write_cancel",
                "busy_ms=%lld grace_ms=%llu cancel=%s error=%s detail=\"a write still running "
                "at stop is canceled and answered 503; nothing more is written\"",
                (long long)busy_ms, (unsigned long long)s->stop_grace_ms,
                sent ? "sent" : "failed", SRV_LOG_Q(err, q));
      last_cancel = pgs__now_ms();
      if (first_cancel == 0)
        first_cancel = last_cancel;
    } else if (hard) {
      srv_log(SRV_LOG_ERROR, "store_write_cancel",
              "busy_ms=%lld cancel=no_effect action=connection_closed", (long long)busy_ms);
      shut_socket(s);
      shut = true;
    }
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
  pgs__wconn_detach(s);
  pthread_mutex_destroy(&s->cmu);
}
