/* log.c - logfmt output on stderr for requests and server events. */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/hash.h"
#include "util/log.h"

static _Atomic int log_level = SRV_LOG_INFO;
static _Atomic int access_mode = SRV_ACCESS_ALL;

/* Error lines per source, shared by the workers (only error answers take the
 * lock). */
typedef struct {
  uint64_t key; /* hash of the source, 0 = free */
  int64_t sec;  /* the second counted */
  uint32_t n;   /* error lines logged in that second */
  uint64_t suppressed;
  char remote[64];
} log_source;

static pthread_mutex_t src_mu = PTHREAD_MUTEX_INITIALIZER;
static log_source sources[SRV_LOG_SOURCES];
static _Atomic int src_pending; /* sources with a suppressed count to say */
static _Thread_local bool src_held; /* this thread holds src_mu: flush must not take it */
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void srv_log_set_level(srv_log_level level) { atomic_store(&log_level, (int)level); }
void srv_log_set_access(srv_access_mode mode) { atomic_store(&access_mode, (int)mode); }

int srv_access_mode_parse(const char *s, srv_access_mode *out) {
  static const char *const names[] = {"all", "errors", "off"};
  for (int i = 0; i < 3; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = (srv_access_mode)i;
      return 0;
    }
  return -1;
}
srv_log_level srv_log_get_level(void) { return (srv_log_level)atomic_load(&log_level); }

static void write_all(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(STDERR_FILENO, p, n);
    if (w <= 0)
      return; /* nowhere to report a failing stderr */
    p += w;
    n -= (size_t)w;
  }
}

/* "2026-11-23T09:06:58" for sec; the caller appends milliseconds. */
static void ts_second(int64_t sec, char *out, size_t len) {
  struct tm tm;
  time_t t = (time_t)sec;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
}

const char *srv_log_quote(const char *s, size_t len, char *out, size_t out_len) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0, i;
  int plain = len > 0;
  for (i = 0; i < len && plain; i++) {
    unsigned char c = (unsigned char)s[i];
    plain = c > 0x20 && c < 0x7f && c != '"' && c != '=' && c != '\\';
  }
  if (out_len < 4) {
    if (out_len > 0)
      out[0] = '\0';
    return out;
  }
  if (plain) {
    size_t n = len < out_len - 1 ? len : out_len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
  }
  out[o++] = '"';
  for (i = 0; i < len && o + 5 < out_len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20 || c >= 0x7f) {
      out[o++] = '\\';
      out[o++] = 'x';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    } else {
      out[o++] = (char)c;
    }
  }
  out[o++] = '"';
  out[o] = '\0';
  return out;
}

void srv_log(srv_log_level level, const char *msg, const char *kvs_fmt, ...) {
  char line[2048], ts[32], qmsg[200];
  struct timespec now;
  va_list ap;
  int n;
  if ((int)level < atomic_load(&log_level) || level >= SRV_LOG_OFF)
    return;
  clock_gettime(CLOCK_REALTIME, &now);
  ts_second((int64_t)now.tv_sec, ts, sizeof ts);
  n = snprintf(line, sizeof line, "ts=%s.%03ldZ level=%s msg=%s", ts, now.tv_nsec / 1000000,
               level_names[level], SRV_LOG_Q(msg, qmsg));
  if (n < 0)
    return;
  if (kvs_fmt != NULL && kvs_fmt[0] != '\0' && (size_t)n + 2 < sizeof line) {
    line[n++] = ' ';
    va_start(ap, kvs_fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, kvs_fmt, ap);
    va_end(ap);
    if (m > 0)
      n += m;
  }
  if ((size_t)n >= sizeof line - 1)
    n = (int)sizeof line - 2;
  line[n++] = '\n';
  write_all(line, (size_t)n);
}

static void buf_line(srv_logbuf *b, long ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line into the buffer, "ts=... " prefixed. */
static void buf_line(srv_logbuf *b, long ms, const char *fmt, ...) {
  va_list ap;
  if (b->len + 512 > sizeof b->buf)
    srv_logbuf_flush(b);
  int n = snprintf(b->buf + b->len, sizeof b->buf - b->len, "ts=%s.%03ldZ ", b->ts, ms);
  if (n <= 0 || (size_t)n >= sizeof b->buf - b->len)
    return;
  va_start(ap, fmt);
  int m = vsnprintf(b->buf + b->len + (size_t)n, sizeof b->buf - b->len - (size_t)n, fmt, ap);
  va_end(ap);
  if (m > 0 && (size_t)(n + m) < sizeof b->buf - b->len)
    b->len += (size_t)(n + m);
}

static void say_suppressed(srv_logbuf *b, long ms, log_source *e) {
  if (e->suppressed > 0) {
    buf_line(b, ms, "level=warn msg=log_suppressed remote=%s count=%llu reason=\"error answers "
                    "above %d/s from one source\"\n",
             e->remote, (unsigned long long)e->suppressed, SRV_LOG_ERRORS_PER_S);
    atomic_fetch_sub(&src_pending, 1);
  }
  e->suppressed = 0;
}

/* Whether this error line from remote may be written now (b->sec is now). */
static bool error_allowed(srv_logbuf *b, long ms, const char *remote) {
  uint64_t h = srv_fnv1a64_str(SRV_FNV64_BASIS, remote) | 1;
  bool ok;
  pthread_mutex_lock(&src_mu);
  src_held = true;
  log_source *e = NULL, *stale = &sources[0];
  for (int i = 0; i < SRV_LOG_SOURCES && e == NULL; i++) {
    if (sources[i].key == h && strcmp(sources[i].remote, remote) == 0)
      e = &sources[i];
    else if (sources[i].key == 0 || (stale->key != 0 && sources[i].sec < stale->sec))
      stale = &sources[i];
  }
  if (e == NULL) {
    e = stale;
    say_suppressed(b, ms, e); /* what the replaced source held back */
    memset(e, 0, sizeof *e);
    e->key = h;
    snprintf(e->remote, sizeof e->remote, "%s", remote);
  }
  if (e->sec != b->sec) {
    say_suppressed(b, ms, e);
    e->sec = b->sec;
    e->n = 0;
  }
  ok = e->n < SRV_LOG_ERRORS_PER_S;
  if (ok)
    e->n++;
  else if (e->suppressed++ == 0)
    atomic_fetch_add(&src_pending, 1);
  src_held = false;
  pthread_mutex_unlock(&src_mu);
  return ok;
}

/* Say the suppressed counts of seconds that are over. */
static void say_due(srv_logbuf *b) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  if ((int64_t)now.tv_sec != b->sec) {
    b->sec = (int64_t)now.tv_sec;
    ts_second(b->sec, b->ts, sizeof b->ts);
  }
  pthread_mutex_lock(&src_mu);
  src_held = true;
  for (int i = 0; i < SRV_LOG_SOURCES; i++)
    if (sources[i].suppressed > 0 && sources[i].sec < b->sec)
      say_suppressed(b, now.tv_nsec / 1000000, &sources[i]);
  src_held = false;
  pthread_mutex_unlock(&src_mu);
}

void srv_log_request(srv_logbuf *b, const char *method, const char *path, size_t path_len,
                     int status, uint64_t dur_us, const char *remote) {
  char qpath[300];
  struct timespec now;
  int mode = atomic_load(&access_mode);
  if (atomic_load(&log_level) > SRV_LOG_INFO || mode == SRV_ACCESS_OFF ||
      (mode == SRV_ACCESS_ERRORS && status < 400))
    return;
  clock_gettime(CLOCK_REALTIME, &now);
  if ((int64_t)now.tv_sec != b->sec) {
    b->sec = (int64_t)now.tv_sec;
    ts_second(b->sec, b->ts, sizeof b->ts);
  }
  long ms = now.tv_nsec / 1000000;
  if (status >= 400 && !error_allowed(b, ms, remote))
    return;
  srv_log_quote(path, path_len > 256 ? 256 : path_len, qpath, sizeof qpath);
  buf_line(b, ms, "level=info msg=request method=%s path=%s status=%d dur_us=%llu remote=%s\n",
           method, qpath, status, (unsigned long long)dur_us, remote);
}

void srv_logbuf_flush(srv_logbuf *b) {
  if (!src_held && atomic_load(&src_pending) > 0)
    say_due(b);
  if (b->len > 0)
    write_all(b->buf, b->len);
  b->len = 0;
}
