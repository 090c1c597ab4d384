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
#include "store/pg/stop.h"
#include "util/log.h"

#define WATCH_TICK_MS    50
#define CANCEL_RETRY_MS  500 /* a cancel that came before the statement started is sent again */
#define HARD_STOP_MS     2000 /* after the first cancel: the connection is shut */

/* libpq's notice receiver on the writer's connection: called in the writer
 * thread, inside the call that got the notice. */
static void writer_notice(void *arg, const PGresult *res) {
  pgs_store *s = arg;
  PGS_ASSERT_WRITER(s);
  const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (sev == NULL || strcmp(sev, "WARNING") != 0 || s->stop.wwarn[0] != '\0')
    return;
  snprintf(s->stop.wwarn, sizeof s->stop.wwarn, "%s", PQresultErrorMessage(res));
  size_t n = strlen(s->stop.wwarn);
  while (n > 0 && (s->stop.wwarn[n - 1] == '\n' || s->stop.wwarn[n - 1] == ' '))
    s->stop.wwarn[--n] = '\0';
  for (char *p = s->stop.wwarn; *p != '\0'; p++)
    if (*p == '\n')
      *p = ' ';
}

void pgs__stop_init(pgs_store *s) {
  pgs_mutex_init(&s->stop.mu);
  pgs_mutex_init(&s->stop.cmu);
  s->stop.wsock = -1;
}

void pgs__stop_arm(pgs_store *s) {
  pgs_lock(&s->stop.mu);
  s->stop.armed = true;
  pgs_unlock(&s->stop.mu);
}

void pgs__stop_warn_clear(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  s->stop.wwarn[0] = '\0';
}

const char *pgs__stop_warning(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  return s->stop.wwarn;
}

void pgs__wconn_attach(pgs_store *s) {
  PGcancel *c = NULL;
  PGS_ASSERT_WRITER(s);
  if (s->wc.c != NULL) {
    PQsetNoticeReceiver(s->wc.c, writer_notice, s);
    c = PQgetCancel(s->wc.c);
  }
  pgs_lock(&s->stop.cmu);
  PQfreeCancel(s->stop.wcancel);
  s->stop.wcancel = c;
  s->stop.wsock = s->wc.c != NULL ? PQsocket(s->wc.c) : -1;
  pgs_unlock(&s->stop.cmu);
}

void pgs__wconn_detach(pgs_store *s) {
  pgs_lock(&s->stop.cmu);
  PQfreeCancel(s->stop.wcancel);
  s->stop.wcancel = NULL;
  s->stop.wsock = -1; /* the descriptor is closed next and may be reused */
  pgs_unlock(&s->stop.cmu);
}

bool pgs__group_begin(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  pgs_lock(&s->stop.mu);
  bool ok = !s->stop.canceled;
  if (ok) {
    s->stop.busy = true;
    s->stop.busy_since_ms = pgs__now_ms();
  }
  pgs_unlock(&s->stop.mu);
  return ok;
}

bool pgs__group_end(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  pgs_lock(&s->stop.mu);
  assert(s->stop.busy); /* pgs__group_begin came first */
  s->stop.busy = false;
  bool hit = s->stop.canceled;
  pgs_unlock(&s->stop.mu);
  return hit;
}

bool pgs__canceled(pgs_store *s) {
  pgs_lock(&s->stop.mu);
  bool c = s->stop.canceled;
  pgs_unlock(&s->stop.mu);
  return c;
}

/* Outside mu: PQcancel opens its own connection to the server (PostgreSQL
 * 15's libpq gives it no timeout), and nothing else may wait on that. */
static bool send_cancel(pgs_store *s, char *err, size_t errlen) {
  pgs_lock(&s->stop.cmu);
  bool sent = s->stop.wcancel != NULL && PQcancel(s->stop.wcancel, err, (int)errlen) == 1;
  pgs_unlock(&s->stop.cmu);
  return sent;
}

/* The last resort when a cancel does not end the statement (the server is
 * unreachable, not just waiting): the writer's socket is shut, so its
 * PQexec returns "connection lost" at once. The store writes nothing more
 * anyway. */
static void shut_socket(pgs_store *s) {
  pgs_lock(&s->stop.cmu);
  if (s->stop.wsock >= 0)
    shutdown(s->stop.wsock, SHUT_RDWR);
  pgs_unlock(&s->stop.cmu);
}

static void *watchdog_main(void *arg) {
  pgs_store *s = arg;
  int64_t first_cancel = 0, last_cancel = 0;
  bool shut = false;
  pgs_lock(&s->stop.mu);
  while (!s->stop.writer_exited) {
    int64_t now = pgs__now_ms();
    int64_t from =
        s->stop.busy_since_ms > s->stop.stop_at_ms ? s->stop.busy_since_ms : s->stop.stop_at_ms;
    bool cancel = s->stop.busy && now - from >= (int64_t)s->stop.grace_ms &&
                  now - last_cancel >= CANCEL_RETRY_MS;
    bool hard = s->stop.busy && first_cancel != 0 && !shut && now - first_cancel >= HARD_STOP_MS;
    int64_t busy_ms = now - s->stop.busy_since_ms;
    if (cancel)
      s->stop.canceled = true; /* before the cancel: the writer reads it when PQexec returns */
    pgs_unlock(&s->stop.mu);
    if (cancel) {
      char err[256] = "", q[300];
      bool sent = send_cancel(s, err, sizeof err);
      if (first_cancel == 0)
        srv_log(SRV_LOG_ERROR, "store_write_cancel",
                "busy_ms=%lld grace_ms=%llu cancel=%s error=%s detail=\"a write still running "
                "at stop is canceled and answered 503; nothing more is written\"",
                (long long)busy_ms, (unsigned long long)s->stop.grace_ms,
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
    pgs_lock(&s->stop.mu);
  }
  pgs_unlock(&s->stop.mu);
  return NULL;
}

void pgs_stop_begin(store *st, uint64_t grace_ms) {
  pgs_store *s = (pgs_store *)st;
  pgs_lock(&s->stop.mu);
  bool start = s->stop.armed && !s->stop.writer_exited && s->stop.stop_at_ms == 0;
  if (start) {
    s->stop.stop_at_ms = pgs__now_ms();
    s->stop.grace_ms = grace_ms;
    s->stop.watchdog_started = pthread_create(&s->stop.watchdog, NULL, watchdog_main, s) == 0;
  }
  pgs_unlock(&s->stop.mu);
}

void pgs__stop_end(pgs_store *s) {
  pgs_lock(&s->stop.mu);
  s->stop.writer_exited = true;
  bool join = s->stop.watchdog_started;
  s->stop.watchdog_started = false;
  pgs_unlock(&s->stop.mu);
  if (join)
    pthread_join(s->stop.watchdog, NULL);
  pgs__wconn_detach(s);
  pgs_mutex_destroy(&s->stop.cmu);
  pgs_mutex_destroy(&s->stop.mu);
}
