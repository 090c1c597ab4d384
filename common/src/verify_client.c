/* verify_client.c - the report server's side of POST /v1/verify. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "internal.h"
#include "lic/envelope.h"
#include "lic/verify_client.h"

void lic_verify_result_clear(lic_verify_result *res) {
  if (res == NULL)
    return;
  lic_verdict_clear(&res->verdict);
  lic_license_clear(&res->license);
  memset(res, 0, sizeof *res);
}

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
  size_t len, cap;
  bool done, too_big;
} resp;

static int on_body(http_parser *p, const char *at, size_t n) {
  resp *r = p->data;
  if (r->len + n > LIC_VERIFY_MAX_RESPONSE) {
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

/* Send one request, parse one response (http_parser, never by hand). */
static int exchange(const lic_verify_opts *o, const uint8_t *req, size_t reqlen, int *status,
                    uint8_t **body, size_t *blen) {
  char host[256], port[8], head[512];
  int64_t deadline = mono_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 10000);
  int fd = -1, rc;
  resp r = {0};
  http_parser p;
  http_parser_settings s;

  if ((rc = parse_url(o->url, host, sizeof host, port, sizeof port)) != LIC_OK)
    return rc;
  if ((rc = dial(host, port, deadline, &fd)) != LIC_OK)
    return rc;
  int hl = snprintf(head, sizeof head,
                    "POST /v1/verify HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/msgpack\r\n"
                    "Accept: application/msgpack\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                    host, port, reqlen);
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
      rc = lic__fail(LIC_LIMIT, "response larger than %d bytes", LIC_VERIFY_MAX_RESPONSE);
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

static int pack_request(const lic_verify_opts *o, const uint8_t *nonce, size_t nlen,
                        msgpack_sbuffer *sb) {
  msgpack_packer pk;
  int bad = 0;
  size_t n = 4 + (o->license != NULL) + (o->app != NULL) + (o->version != NULL);
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  bad |= msgpack_pack_map(&pk, n);
  bad |= lic_mp_pack_cstr(&pk, "nonce") | lic_mp_pack_bin(&pk, nonce, nlen);
  bad |= lic_mp_pack_cstr(&pk, "domain") | lic_mp_pack_cstr(&pk, o->domain);
  bad |= lic_mp_pack_cstr(&pk, "port") | msgpack_pack_int64(&pk, o->port);
  bad |= lic_mp_pack_cstr(&pk, "node") | lic_mp_pack_cstr(&pk, o->node);
  if (o->license != NULL)
    bad |= lic_mp_pack_cstr(&pk, "license") | lic_mp_pack_bin(&pk, o->license, LIC_ID_LEN);
  if (o->app != NULL)
    bad |= lic_mp_pack_cstr(&pk, "app") | lic_mp_pack_cstr(&pk, o->app);
  if (o->version != NULL)
    bad |= lic_mp_pack_cstr(&pk, "version") | lic_mp_pack_cstr(&pk, o->version);
  return bad ? LIC_NOMEM : LIC_OK;
}

int lic_verify_response(const lic_verify_opts *o, const uint8_t *nonce, size_t nonce_len,
                        int64_t now, const uint8_t *body, size_t len, lic_verify_result *res) {
  lic_mp_obj doc;
  lic_mp chain;
  const uint8_t *vbytes, *lbytes;
  size_t vlen, llen;
  uint32_t nchain;
  lic_envelope venv;
  int rc;

  memset(res, 0, sizeof *res);
  if ((rc = lic_mp_obj_parse(body, len, &doc)) != LIC_OK ||
      (rc = lic_mp_get_bin(&doc, "verdict", 1, LIC_MAX_ENVELOPE, &vbytes, &vlen)) != LIC_OK)
    return rc;
  for (size_t i = 0; i < doc.n; i++)
    if (doc.e[i].klen == 5 && memcmp(doc.e[i].k, "chain", 5) == 0)
      chain = doc.e[i].v;
  if (!lic_mp_obj_has(&doc, "chain"))
    return lic__fail(LIC_FORMAT, "response has no chain");
  if ((rc = lic_mp_array(&chain, &nchain)) != LIC_OK)
    return rc;
  if (nchain != 1)
    return lic__fail(LIC_FORMAT, "expected a chain of one license, got %u entries", nchain);
  if ((rc = lic_mp_bin(&chain, &lbytes, &llen)) != LIC_OK)
    return rc;

  /* root -> license */
  if ((rc = lic_license_open(lbytes, llen, o->trust, &res->license)) != LIC_OK)
    return rc;
  if (res->license.mode != LIC_MODE_PRIVATE || !res->license.has_node_key)
    return lic__fail(LIC_FORMAT, "the chain's license is not a private-mode license");
  if (o->license != NULL && memcmp(o->license, res->license.id, LIC_ID_LEN) != 0)
    return lic__fail(LIC_MISMATCHED, "the server answered for another license");
  /* license -> verdict (signed by the node key the license certifies) */
  if ((rc = lic_envelope_decode(vbytes, vlen, &venv)) != LIC_OK)
    return rc;
  if (strcmp(venv.typ, "verdict") != 0)
    return lic__fail(LIC_TYPE, "expected a verdict, got a %s", venv.typ);
  if ((rc = lic_envelope_verify_with(&venv, res->license.node_key)) != LIC_OK)
    return rc;
  if ((rc = lic_verdict_parse(venv.body, venv.body_len, &res->verdict)) != LIC_OK)
    return rc;
  lic_verdict *v = &res->verdict;
  if (v->nonce_len != nonce_len || memcmp(v->nonce, nonce, nonce_len) != 0)
    return lic__fail(LIC_MISMATCHED, "the verdict does not answer our nonce (replayed?)");
  if (!v->has_license || memcmp(v->license, res->license.id, LIC_ID_LEN) != 0)
    return lic__fail(LIC_MISMATCHED, "the verdict names another license than its chain");
  if (strcmp(v->node, o->node) != 0)
    return lic__fail(LIC_MISMATCHED, "the verdict is for another node");
  int64_t skew = o->max_skew > 0 ? o->max_skew : LIC_VERIFY_DEFAULT_SKEW;
  if (v->time > now + skew || v->time < now - skew)
    return lic__fail(LIC_MISMATCHED, "server time differs from ours by %lld s (allowed %lld)",
                     (long long)(v->time - now), (long long)skew);
  /* Trust but verify: a "valid" verdict must agree with the license's own
   * terms for our domain and port. */
  if (v->status == LIC_STATUS_VALID) {
    char reason[LIC_MAX_REASON + 1];
    int64_t major = -1;
    if (o->version != NULL)
      major = strtoll(o->version, NULL, 10);
    lic_check_req q = {o->domain, o->port, o->app, major};
    lic_status st = lic_license_decide(&res->license, &q, now, reason, sizeof reason);
    if (st != LIC_STATUS_VALID)
      return lic__fail(LIC_MISMATCHED, "server said valid but the license says %s: %s",
                       lic_status_name(st), reason);
  }
  return LIC_OK;
}

int lic_verify(const lic_verify_opts *o, lic_verify_result *res) {
  uint8_t nonce[32], *body = NULL;
  size_t blen = 0;
  msgpack_sbuffer sb;
  int rc, status = 0;

  memset(res, 0, sizeof *res);
  if (o->url == NULL || o->trust == NULL || o->domain == NULL || o->node == NULL)
    return lic__fail(LIC_INVALID, "url, trust, domain and node are required");
  if ((rc = lic_random(nonce, sizeof nonce)) != LIC_OK)
    return rc;
  msgpack_sbuffer_init(&sb);
  if ((rc = pack_request(o, nonce, sizeof nonce, &sb)) != LIC_OK)
    goto out;
  if ((rc = exchange(o, (const uint8_t *)sb.data, sb.size, &status, &body, &blen)) != LIC_OK)
    goto out;
  res->http_status = status;
  if (status != 200) {
    /* The error body is {error, message}: show it, bounded. */
    char msg[200] = "";
    lic_mp_obj eo;
    char *m = NULL;
    if (lic_mp_obj_parse(body, blen, &eo) == LIC_OK && lic_mp_get_str(&eo, "message", 0, 190, &m) == LIC_OK)
      snprintf(msg, sizeof msg, ": %s", m);
    free(m);
    rc = lic__fail(LIC_DENIED, "license server answered HTTP %d%s", status, msg);
    goto out;
  }
  rc = lic_verify_response(o, nonce, sizeof nonce, (int64_t)time(NULL), body, blen, res);
out:
  msgpack_sbuffer_destroy(&sb);
  free(body);
  if (rc != LIC_OK) {
    int hs = res->http_status;
    lic_verify_result_clear(res);
    res->http_status = hs;
  }
  return rc;
}
