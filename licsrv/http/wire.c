/* http/wire.c - the bytes of an answer: status line and head, {error,
 * message} bodies in JSON or MessagePack, status counter slots, masked
 * client addresses. No connection, no loop: unit-testable on its own. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/parser.h"
#include "http/wire.h"

int srv_status_index(int status) {
  int i = 0;
#define SRV_STATUS_IDX_(code) if (status == (code)) return i; i++;
  SRV_STATUSES(SRV_STATUS_IDX_)
#undef SRV_STATUS_IDX_
  return i;
}

void srv_count_request(srv_latency *lat, srv_status_counts *counts, int status, uint64_t dur_us) {
  static const uint64_t bounds_us[SRV_NLAT] = {50,    100,   250,    500,    1000,   2500,
                                               5000,  10000, 25000,  100000, 500000, 1000000};
  int b = 0;
  atomic_fetch_add_explicit(&counts->n[srv_status_index(status)], 1, memory_order_relaxed);
  while (b < SRV_NLAT && dur_us > bounds_us[b])
    b++;
  atomic_fetch_add_explicit(&lat->bucket[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&lat->sum_us, dur_us, memory_order_relaxed);
  atomic_fetch_add_explicit(&lat->count, 1, memory_order_relaxed);
}

void srv_mask_addr(const struct sockaddr *sa, bool full, char *out, size_t outlen) {
  char txt[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET) {
    struct in_addr a = ((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    if (!full)
      a.s_addr &= htonl(0xffffff00u);
    inet_ntop(AF_INET, &a, txt, sizeof txt);
    snprintf(out, outlen, full ? "%s" : "%s/24", txt);
  } else if (sa->sa_family == AF_INET6) {
    struct in6_addr a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      struct sockaddr_in v4 = {.sin_family = AF_INET};
      memcpy(&v4.sin_addr, a.s6_addr + 12, 4);
      srv_mask_addr((const struct sockaddr *)&v4, full, out, outlen);
      return;
    }
    if (!full)
      memset(a.s6_addr + 6, 0, 10);
    inet_ntop(AF_INET6, &a, txt, sizeof txt);
    snprintf(out, outlen, full ? "%s" : "%s/48", txt);
  } else {
    snprintf(out, outlen, "unknown");
  }
}

static const char *date_header(srv_date *d, char *tmp, size_t tmplen) {
  time_t now = time(NULL);
  struct tm tm;
  if (d != NULL && (int64_t)now == d->sec)
    return d->text;
  gmtime_r(&now, &tm);
  strftime(tmp, tmplen, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
  if (d != NULL) {
    d->sec = (int64_t)now;
    snprintf(d->text, sizeof d->text, "%s", tmp);
  }
  return tmp;
}

void srv_format_response(srv_date *date, srv_buf *dst, int status, const char *ctype,
                         const void *body, size_t len, int conn_hdr, const char *extra) {
  static const char *const conn_line[] = {"", "Connection: close\r\n", "Connection: keep-alive\r\n"};
  char tmp[64];
  srv_buf_printf(dst,
                 "HTTP/1.1 %d %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                 status, srv_http_reason(status), date_header(date, tmp, sizeof tmp),
                 ctype != NULL ? ctype : "application/octet-stream", len,
                 conn_line[conn_hdr], extra != NULL ? extra : "");
  srv_buf_append(dst, body, len);
}

void srv_json_str(srv_buf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  srv_buf_append(b, "\"", 1);
  for (; *s != '\0'; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      char e[2] = {'\\', (char)ch};
      srv_buf_append(b, e, 2);
    } else if (ch < 0x20) {
      char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
      srv_buf_append(b, e, 6);
    } else {
      srv_buf_append(b, s, 1);
    }
  }
  srv_buf_append(b, "\"", 1);
}

static void mp_str(srv_buf *b, const char *s) {
  size_t n = strlen(s);
  uint8_t h[3];
  if (n > 0xffff)
    n = 0xffff;
  if (n < 32) {
    h[0] = (uint8_t)(0xa0 | n);
    srv_buf_append(b, h, 1);
  } else if (n < 256) {
    h[0] = 0xd9;
    h[1] = (uint8_t)n;
    srv_buf_append(b, h, 2);
  } else {
    h[0] = 0xda;
    h[1] = (uint8_t)(n >> 8);
    h[2] = (uint8_t)n;
    srv_buf_append(b, h, 3);
  }
  srv_buf_append(b, s, n);
}

const char *srv_format_error(srv_buf *dst, bool msgpack, const char *code, const char *msg) {
  if (msgpack) {
    uint8_t m = 0x82;
    srv_buf_append(dst, &m, 1);
    mp_str(dst, "error");
    mp_str(dst, code);
    mp_str(dst, "message");
    mp_str(dst, msg);
    return "application/msgpack";
  }
  srv_buf_append(dst, "{\"error\":", 9);
  srv_json_str(dst, code);
  srv_buf_append(dst, ",\"message\":", 11);
  srv_json_str(dst, msg);
  srv_buf_append(dst, "}", 1);
  return "application/json";
}
