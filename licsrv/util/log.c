/* log.c - logfmt output on stderr for requests and server events. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

static _Atomic int log_level = SRV_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void srv_log_set_level(srv_log_level level) { atomic_store(&log_level, (int)level); }
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

void srv_log_request(srv_logbuf *b, const char *method, const char *path, size_t path_len,
                     int status, uint64_t dur_us, const char *remote) {
  char qpath[300];
  struct timespec now;
  if (atomic_load(&log_level) > SRV_LOG_INFO)
    return;
  clock_gettime(CLOCK_REALTIME, &now);
  if ((int64_t)now.tv_sec != b->sec) {
    b->sec = (int64_t)now.tv_sec;
    ts_second(b->sec, b->ts, sizeof b->ts);
  }
  if (b->len + 512 > sizeof b->buf)
    srv_logbuf_flush(b);
  srv_log_quote(path, path_len > 256 ? 256 : path_len, qpath, sizeof qpath);
  int n = snprintf(b->buf + b->len, sizeof b->buf - b->len,
                   "ts=%s.%03ldZ level=info msg=request method=%s path=%s status=%d "
                   "dur_us=%llu remote=%s\n",
                   b->ts, now.tv_nsec / 1000000, method, qpath, status,
                   (unsigned long long)dur_us, remote);
  if (n > 0 && (size_t)n < sizeof b->buf - b->len)
    b->len += (size_t)n;
}

void srv_logbuf_flush(srv_logbuf *b) {
  if (b->len > 0)
    write_all(b->buf, b->len);
  b->len = 0;
}
