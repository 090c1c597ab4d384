/* log.h - logfmt lines on stderr: one per request, and events. Never bodies,
 * tokens or Authorization values. */
#ifndef LICSRV_LOG_H
#define LICSRV_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum { SRV_LOG_DEBUG, SRV_LOG_INFO, SRV_LOG_WARN, SRV_LOG_ERROR, SRV_LOG_OFF } srv_log_level;

/* Lines below level are dropped (default info). */
void srv_log_set_level(srv_log_level level);
srv_log_level srv_log_get_level(void);
/* "ts=.. level=.. msg=MSG" followed by KVS, which the caller writes as
 * logfmt pairs ("key=value key2=value2"); MSG is quoted here when it needs
 * it, but KVS values with spaces, quotes or that came from outside must go
 * through srv_log_quote (SRV_LOG_Q) first. One write(2) per line. */
void srv_log(srv_log_level level, const char *msg, const char *kvs_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Quote a value for logfmt when needed (escaping quotes, backslashes and
 * control bytes, at most out_len-1 bytes); returns out. */
const char *srv_log_quote(const char *s, size_t len, char *out, size_t out_len);
/* srv_log_quote of a C string into the char array buf. */
#define SRV_LOG_Q(s, buf) srv_log_quote((s), strlen(s), (buf), sizeof(buf))

/* The per-request log (`access_log`): every request, only answers >= 400,
 * or none. Events (srv_log) are not affected. */
typedef enum { SRV_ACCESS_ALL, SRV_ACCESS_ERRORS, SRV_ACCESS_OFF } srv_access_mode;
void srv_log_set_access(srv_access_mode mode);
/* "all" | "errors" | "off" -> 0, else -1. */
int srv_access_mode_parse(const char *s, srv_access_mode *out);

/* A per-worker buffer of request lines, written when full or when the loop
 * is about to wait (srv_logbuf_flush), so a busy loop costs one write per
 * turn rather than one per request.
 *
 * Error answers (>= 400) from one source (the logged, masked address) are
 * logged at most SRV_LOG_ERRORS_PER_S a second over all workers; what is held
 * back is counted and said in one "log_suppressed" line once that second is
 * over (at the next flush of any worker), so a flood of bad requests cannot
 * fill the disk. */
#define SRV_LOGBUF_SIZE       8192
#define SRV_LOG_ERRORS_PER_S  10
#define SRV_LOG_SOURCES       256 /* sources tracked (the stalest replaced) */

typedef struct {
  size_t len;
  int64_t sec; /* second of the cached ts prefix */
  char ts[32];
  char buf[SRV_LOGBUF_SIZE];
} srv_logbuf;

void srv_log_request(srv_logbuf *b, const char *method, const char *path, size_t path_len,
                     int status, uint64_t dur_us, const char *remote);
void srv_logbuf_flush(srv_logbuf *b);

#endif
