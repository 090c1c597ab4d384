/* http_client.c - liblic's one HTTP exchange (POST a MessagePack body, read
 * status and body, parsed by http_parser), shared by verify and claim. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "internal.h"

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "http://host[:port][/]" -> host, port. */
static int parse_url(const char *url, char *host, size_t hcap, char *port, size_t pcap) {
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(url, strlen(url), 0, &u) != 0 || !(u.field_set & (1 << UF_HOST)) ||
      !(u.field_set & (1 << UF_SCHEMA)))
    return lic__fail(LIC_INVALID, "'%.100s' is not a URL (http://HOST:PORT)", url);
  if (u.field_data[UF_SCHEMA].len != 4 || strncmp(url + u.field_data[UF_SCHEMA].off, "http", 4) != 0)
    return lic__fail(LIC_INVALID, "only http:// URLs are supported by this client");
  if (u.field_data[UF_HOST].len >= hcap)
    return lic__fail(LIC_INVALID, "host name too long");
  snprintf(host, hcap, "%.*s", (int)u.field_data[UF_HOST].len, url + u.field_data[UF_HOST].off);
  if (u.field_set & (1 << UF_PORT))
    snprintf(port, pcap, "%u", u.port);
  else
    snprintf(port, pcap, "80");
  return LIC_OK;
}

static int wait_fd(int fd, short ev, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - mono_ms();
    if (left <= 0)
      return lic__fail(LIC_IO, "license server did not answer in time");
    struct pollfd p = {fd, ev, 0};
    int n = poll(&p, 1, (int)left);
    if (n > 0)
      return LIC_OK;
    if (n < 0 && errno != EINTR)
      return lic__fail(LIC_IO, "poll: %s", strerror(errno));
  }
}

static int dial(const char *host, const char *port, int64_t deadline, int *out) {
  struct addrinfo hints, *res, *ai;
  int fd = -1, rc = LIC_IO, g;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  if ((g = getaddrinfo(host, port, &hints, &res)) != 0)
    return lic__fail(LIC_IO, "%s: %s", host, gai_strerror(g));
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
      continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
        (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == LIC_OK)) {
      int err = 0;
      socklen_t el = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
      if (err == 0) {
        rc = LIC_OK;
        break;
      }
      rc = lic__fail(LIC_IO, "%s:%s: %s", host, port, strerror(err));
    } else {
      rc = lic__fail(LIC_IO, "%s:%s: %s", host, port, strerror(errno));
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (rc == LIC_OK)
    *out = fd;
  return rc;
}

typedef struct {
  uint8_t *body;
  size_t len, cap, max;
  bool done, too_big;
} resp;

static int on_body(http_parser *p, const char *at, size_t n) {
  resp *r = p->data;
  if (n > r->max - r->len) {
    r->too_big = true;
    return 1;
  }
  if (r->len + n > r->cap) {
    size_t cap = (r->len + n) * 2;
    uint8_t *nb = realloc(r->body, cap);
    if (nb == NULL)
      return 1;
    r->body = nb;
    r->cap = cap;
  }
  memcpy(r->body + r->len, at, n);
  r->len += n;
  return 0;
}

static int on_done(http_parser *p) {
  ((resp *)p->data)->done = true;
  return 0;
}

int lic__http_post(const char *url, const char *path, const uint8_t *req, size_t reqlen,
                   int timeout_ms, size_t max_response, int *status, uint8_t **body,
                   size_t *blen) {
  char host[256], port[8], head[512];
  int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : LIC__HTTP_TIMEOUT_MS);
  int fd = -1, rc;
  resp r = {.max = max_response};
  http_parser p;
  http_parser_settings s;

  *status = 0;
  *body = NULL;
  *blen = 0;
  if ((rc = parse_url(url, host, sizeof host, port, sizeof port)) != LIC_OK)
    return rc;
  if ((rc = dial(host, port, deadline, &fd)) != LIC_OK)
    return rc;
  int hl = snprintf(head, sizeof head,
                    "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/msgpack\r\n"
                    "Accept: application/msgpack\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                    path, host, port, reqlen);
  if (hl < 0 || (size_t)hl >= sizeof head) {
    rc = lic__fail(LIC_INVALID, "request line too long");
    goto out;
  }
  const uint8_t *parts[2] = {(const uint8_t *)head, req};
  size_t lens[2] = {(size_t)hl, reqlen};
  for (int i = 0; i < 2; i++) {
    size_t off = 0;
    while (off < lens[i]) {
      ssize_t w = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
      if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
        if ((rc = wait_fd(fd, POLLOUT, deadline)) != LIC_OK)
          goto out;
        continue;
      }
      if (w < 0) {
        rc = lic__fail(LIC_IO, "send: %s", strerror(errno));
        goto out;
      }
      off += (size_t)w;
    }
  }
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = &r;
  http_parser_settings_init(&s);
  s.on_body = on_body;
  s.on_message_complete = on_done;
  while (!r.done) {
    uint8_t buf[16384];
    if ((rc = wait_fd(fd, POLLIN, deadline)) != LIC_OK)
      goto out;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (n < 0) {
      rc = lic__fail(LIC_IO, "recv: %s", strerror(errno));
      goto out;
    }
    size_t used = http_parser_execute(&p, &s, (const char *)buf, (size_t)n);
    if (r.too_big) {
      rc = lic__fail(LIC_LIMIT, "response larger than %zu bytes", max_response);
      goto out;
    }
    if (r.done)
      break;
    if (n == 0) { /* EOF: a body delimited by the close has ended in the parser */
      rc = lic__fail(LIC_IO, "license server closed the connection mid-response");
      goto out;
    }
    if (HTTP_PARSER_ERRNO(&p) != HPE_OK || used != (size_t)n) {
      rc = lic__fail(LIC_FORMAT, "bad HTTP response: %s", http_errno_description(HTTP_PARSER_ERRNO(&p)));
      goto out;
    }
  }
  *status = p.status_code;
  *body = r.body;
  *blen = r.len;
  r.body = NULL;
  rc = LIC_OK;
out:
  free(r.body);
  if (fd >= 0)
    close(fd);
  return rc;
}

