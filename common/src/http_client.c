/* http_client.c - liblic's one HTTP exchange (POST a MessagePack body, read
 * status and body, parsed by http_parser), over TLS for https:// URLs (the
 * server checked as lic/tls.h says), shared by every call to a license
 * server. One deadline covers connect, handshake, request and answer. */
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

#include <arpa/inet.h>
#include <strings.h>

#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"
#include "lic/b64.h"
#include "lic/tls.h"

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "http[s]://host[:port][/]" -> host, port, whether TLS. */
static int parse_url(const char *url, char *host, size_t hcap, char *port, size_t pcap, bool *tls) {
  struct http_parser_url u;
  size_t sl;
  const char *sch;
  http_parser_url_init(&u);
  if (http_parser_parse_url(url, strlen(url), 0, &u) != 0 || !(u.field_set & (1 << UF_HOST)) ||
      !(u.field_set & (1 << UF_SCHEMA)))
    return lic__fail(LIC_INVALID, "'%.100s' is not a URL (https://HOST:PORT)", url);
  sl = u.field_data[UF_SCHEMA].len;
  sch = url + u.field_data[UF_SCHEMA].off;
  if (sl == 4 && strncasecmp(sch, "http", 4) == 0)
    *tls = false;
  else if (sl == 5 && strncasecmp(sch, "https", 5) == 0)
    *tls = true;
  else
    return lic__fail(LIC_INVALID, "only http:// and https:// URLs are supported");
  if (u.field_data[UF_HOST].len >= hcap)
    return lic__fail(LIC_INVALID, "host name too long");
  snprintf(host, hcap, "%.*s", (int)u.field_data[UF_HOST].len, url + u.field_data[UF_HOST].off);
  if (u.field_set & (1 << UF_PORT))
    snprintf(port, pcap, "%u", u.port);
  else
    snprintf(port, pcap, "%s", *tls ? "443" : "80");
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

/* --- the link: a socket, with TLS over it for https:// -------------------- */

typedef struct {
  int fd;
  SSL_CTX *ctx;
  SSL *ssl;
  int64_t deadline;
} link_t;

/* Wait for what OpenSSL asked for after ret; LIC_OK to retry. */
static int tls_wait(link_t *l, int ret, const char *what) {
  switch (SSL_get_error(l->ssl, ret)) {
  case SSL_ERROR_WANT_READ:
    return wait_fd(l->fd, POLLIN, l->deadline);
  case SSL_ERROR_WANT_WRITE:
    return wait_fd(l->fd, POLLOUT, l->deadline);
  case SSL_ERROR_ZERO_RETURN:
    return lic__fail(LIC_IO, "license server closed the TLS connection mid-response");
  default:
    return lic__fail_ssl(LIC_IO, what);
  }
}

int lic_tls_pin_check(const char *pin) {
  uint8_t *raw = NULL;
  size_t n = 0, pl = strlen(LIC_TLS_PIN_PREFIX);
  int ok;
  if (pin == NULL || strncmp(pin, LIC_TLS_PIN_PREFIX, pl) != 0)
    return lic__fail(LIC_INVALID, "a pin reads sha256/BASE64 (the SHA-256 of the server key's SPKI)");
  ok = lic_b64_decode(pin + pl, strlen(pin + pl), &raw, &n) == LIC_OK && n == 32;
  free(raw);
  if (!ok)
    return lic__fail(LIC_INVALID, "pin '%.80s': not 32 bytes of base64 after sha256/", pin);
  return LIC_OK;
}

/* The server key's SPKI hash against every pin. */
static int check_pins(link_t *l, const lic_tls_opts *o, const char *host) {
  X509 *cert = SSL_get0_peer_certificate(l->ssl);
  uint8_t *der = NULL, md[32];
  unsigned mdlen = 0;
  int dl;
  if (cert == NULL)
    return lic__fail(LIC_TLS, "%s sent no certificate", host);
  if ((dl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der)) <= 0 ||
      EVP_Digest(der, (size_t)dl, md, &mdlen, EVP_sha256(), NULL) != 1) {
    OPENSSL_free(der);
    return lic__fail_ssl(LIC_CRYPTO, "TLS: hashing the server key");
  }
  OPENSSL_free(der);
  for (size_t i = 0; i < o->npins; i++) {
    uint8_t *raw = NULL;
    size_t n = 0, pl = strlen(LIC_TLS_PIN_PREFIX);
    bool eq = lic_b64_decode(o->pins[i] + pl, strlen(o->pins[i] + pl), &raw, &n) == LIC_OK &&
              n == sizeof md && memcmp(raw, md, sizeof md) == 0;
    free(raw);
    if (eq)
      return LIC_OK;
  }
  char *b64 = NULL;
  size_t bl;
  int rc = lic_b64_encode(md, sizeof md, LIC_B64_STD, &b64, &bl);
  rc = lic__fail(LIC_TLS, "pin mismatch: the key of %s (sha256/%s) matches no --pin",
                 host, rc == LIC_OK ? b64 : "?");
  free(b64);
  return rc;
}

/* Why the certificate was refused, in words a report-server admin can act on. */
static int verify_error(long v, const char *host) {
  const char *why = X509_verify_cert_error_string(v);
  switch (v) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return lic__fail(LIC_TLS, "the certificate of %s has expired", host);
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return lic__fail(LIC_TLS, "the certificate of %s is not valid yet", host);
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    return lic__fail(LIC_TLS, "wrong host: the certificate is not for %s", host);
  default:
    return lic__fail(LIC_TLS, "untrusted certificate of %s: %s (give --cacert FILE "
                     "or --pin)", host, why);
  }
}

/* What a kept session is offered to: the same server under the same trust. */
static void resume_key(const char *host, const char *port, const lic_tls_opts *o, char *key,
                       size_t cap) {
  size_t n = (size_t)snprintf(key, cap, "%s\n%s\n%s", host, port,
                              o != NULL && o->cacert != NULL ? o->cacert : "");
  for (size_t i = 0; o != NULL && i < o->npins && n < cap; i++)
    n += (size_t)snprintf(key + n, cap - n, "\n%s", o->pins[i]);
  if (n >= cap)
    key[0] = '\0'; /* too long to tell apart: not kept */
}

static int tls_open(link_t *l, const char *host, const char *port, const lic_tls_opts *o,
                    const char *rkey) {
  static const unsigned char alpn[] = "\x08http/1.1";
  static const lic_tls_opts none = {0};
  unsigned char ip[16];
  bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
  int rc, n;
  if (o == NULL)
    o = &none;
  if (o->npins > LIC_TLS_MAX_PINS)
    return lic__fail(LIC_INVALID, "at most %d pins", LIC_TLS_MAX_PINS);
  for (size_t i = 0; i < o->npins; i++)
    if ((rc = lic_tls_pin_check(o->pins[i])) != LIC_OK)
      return rc;
  if ((l->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
    return lic__fail_ssl(LIC_CRYPTO, "TLS context");
  SSL_CTX_set_min_proto_version(l->ctx, TLS1_2_VERSION);
  if (o->npins == 0) {
    if (o->cacert != NULL ? SSL_CTX_load_verify_locations(l->ctx, o->cacert, NULL) != 1
                          : SSL_CTX_set_default_verify_paths(l->ctx) != 1) {
      ERR_clear_error();
      return lic__fail(LIC_IO, "cannot read the CA certificates %s",
                       o->cacert != NULL ? o->cacert : "of the system store");
    }
    SSL_CTX_set_verify(l->ctx, SSL_VERIFY_PEER, NULL);
  } else {
    SSL_CTX_set_verify(l->ctx, SSL_VERIFY_NONE, NULL); /* the pin decides, after the handshake */
  }
  /* A kept session lives as long as the server's ticket says (SPEC §4.4),
   * not OpenSSL's client default of 2 hours: the server refuses it when due. */
  SSL_CTX_set_timeout(l->ctx, 7 * 86400);
  if (SSL_CTX_set_alpn_protos(l->ctx, alpn, sizeof alpn - 1) != 0 ||
      (l->ssl = SSL_new(l->ctx)) == NULL || SSL_set_fd(l->ssl, l->fd) != 1 ||
      (!is_ip && SSL_set_tlsext_host_name(l->ssl, host) != 1))
    return lic__fail_ssl(LIC_CRYPTO, "TLS setup");
  if (o->resume != NULL && rkey[0] != '\0') {
    SSL_SESSION *kept = lic__tls_resume_get(o->resume, rkey);
    int set = kept != NULL ? SSL_set_session(l->ssl, kept) : 1;
    SSL_SESSION_free(kept); /* the SSL holds its own reference */
    if (set != 1)
      ERR_clear_error(); /* not offered: a full handshake */
  }
  if (o->npins == 0 && (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(l->ssl), host) != 1
                              : SSL_set1_host(l->ssl, host) != 1))
    return lic__fail_ssl(LIC_CRYPTO, "TLS host name check");
  while ((n = SSL_connect(l->ssl)) != 1) {
    int e = SSL_get_error(l->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if ((rc = wait_fd(l->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, l->deadline)) != LIC_OK)
        return rc;
      continue;
    }
    long v = SSL_get_verify_result(l->ssl);
    if (o->npins == 0 && v != X509_V_OK) {
      ERR_clear_error();
      return verify_error(v, host);
    }
    char what[400];
    snprintf(what, sizeof what, "TLS handshake with %s:%s failed", host, port);
    return lic__fail_ssl(LIC_IO, what);
  }
  return o->npins > 0 ? check_pins(l, o, host) : LIC_OK;
}

static void link_close(link_t *l) {
  if (l->ssl != NULL) {
    (void)SSL_shutdown(l->ssl); /* one close_notify, no wait for the peer's */
    SSL_free(l->ssl);
  }
  SSL_CTX_free(l->ctx);
  ERR_clear_error();
  if (l->fd >= 0)
    close(l->fd);
}

static int link_send(link_t *l, const uint8_t *p, size_t len) {
  size_t off = 0;
  int rc;
  while (off < len) {
    if (l->ssl != NULL) {
      int w = SSL_write(l->ssl, p + off, (int)(len - off > INT32_MAX ? INT32_MAX : len - off));
      if (w > 0)
        off += (size_t)w;
      else if ((rc = tls_wait(l, w, "TLS write")) != LIC_OK)
        return rc;
      continue;
    }
    ssize_t w = send(l->fd, p + off, len - off, MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if ((rc = wait_fd(l->fd, POLLOUT, l->deadline)) != LIC_OK)
        return rc;
      continue;
    }
    if (w < 0)
      return lic__fail(LIC_IO, "send: %s", strerror(errno));
    off += (size_t)w;
  }
  return LIC_OK;
}

/* Some bytes, *n = 0 at the end of the stream. */
static int link_recv(link_t *l, uint8_t *buf, size_t cap, size_t *n) {
  int rc;
  for (;;) {
    if (l->ssl != NULL) {
      int r = SSL_read(l->ssl, buf, (int)cap);
      if (r > 0) {
        *n = (size_t)r;
        return LIC_OK;
      }
      if (SSL_get_error(l->ssl, r) == SSL_ERROR_ZERO_RETURN) {
        *n = 0;
        return LIC_OK;
      }
      if ((rc = tls_wait(l, r, "TLS read")) != LIC_OK)
        return rc;
      continue;
    }
    if ((rc = wait_fd(l->fd, POLLIN, l->deadline)) != LIC_OK)
      return rc;
    ssize_t r = recv(l->fd, buf, cap, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (r < 0)
      return lic__fail(LIC_IO, "recv: %s", strerror(errno));
    *n = (size_t)r;
    return LIC_OK;
  }
}

/* Whether host:port completes a TLS handshake (its certificate unchecked):
 * asked only after a plain http:// request got not one byte back, to say
 * why instead of "closed the connection". */
static bool speaks_tls(const char *host, const char *port, int64_t deadline) {
  link_t l = {.fd = -1, .deadline = deadline};
  bool yes = false;
  int n;
  if (dial(host, port, deadline, &l.fd) != LIC_OK ||
      (l.ctx = SSL_CTX_new(TLS_client_method())) == NULL || (l.ssl = SSL_new(l.ctx)) == NULL ||
      SSL_set_fd(l.ssl, l.fd) != 1)
    goto out;
  SSL_set_verify(l.ssl, SSL_VERIFY_NONE, NULL);
  while ((n = SSL_connect(l.ssl)) != 1) {
    int e = SSL_get_error(l.ssl, n);
    if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
        wait_fd(l.fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) != LIC_OK)
      goto out;
  }
  yes = true;
out:
  link_close(&l);
  return yes;
}

/* A plain request that failed before any answer: a TLS port says so. */
static int plain_failed(int rc, size_t got, const char *host, const char *port,
                        int64_t deadline) {
  int64_t probe = mono_ms() + 2000;
  if (got > 0 || lic_errdetail()[0] == '\0' ||
      strstr(lic_errdetail(), "did not answer in time") != NULL)
    return rc;
  char why[sizeof "license server closed the connection mid-response" + 128];
  snprintf(why, sizeof why, "%s", lic_errdetail());
  if (!speaks_tls(host, port, probe < deadline ? probe : deadline))
    return lic__fail(rc, "%s", why);
  return lic__fail(LIC_IO, "this port speaks TLS, use https://%s:%s (the server closed the "
                   "plain HTTP request unanswered)", host, port);
}

int lic__http_post(const char *url, const char *path, const uint8_t *req, size_t reqlen,
                   int timeout_ms, size_t max_response, int *status, uint8_t **body,
                   size_t *blen) {
  return lic__http_post_tls(url, NULL, path, req, reqlen, timeout_ms, max_response, status, body,
                            blen);
}

int lic__http_post_tls(const char *url, const lic_tls_opts *tls, const char *path,
                       const uint8_t *req, size_t reqlen, int timeout_ms, size_t max_response,
                       int *status, uint8_t **body, size_t *blen) {
  char host[256], port[8], head[512], rkey[1024] = "";
  link_t l = {.fd = -1,
              .deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : LIC__HTTP_TIMEOUT_MS)};
  bool is_tls = false;
  size_t got = 0; /* bytes of the answer so far */
  int rc;
  resp r = {.max = max_response};
  http_parser p;
  http_parser_settings s;

  *status = 0;
  *body = NULL;
  *blen = 0;
  if ((rc = parse_url(url, host, sizeof host, port, sizeof port, &is_tls)) != LIC_OK)
    return rc;
  if (is_tls && tls != NULL && tls->cacert != NULL && access(tls->cacert, R_OK) != 0)
    return lic__fail(LIC_IO, "cannot read the CA certificates %s: %s", tls->cacert, strerror(errno));
  if ((rc = dial(host, port, l.deadline, &l.fd)) != LIC_OK)
    return rc;
  if (is_tls)
    resume_key(host, port, tls, rkey, sizeof rkey);
  if (is_tls && (rc = tls_open(&l, host, port, tls, rkey)) != LIC_OK) {
    if (tls != NULL && tls->resume != NULL && rkey[0] != '\0') /* nothing kept for it */
      lic__tls_resume_put(tls->resume, rkey, NULL, false);
    goto out;
  }
  int hl = snprintf(head, sizeof head,
                    "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/msgpack\r\n"
                    "Accept: application/msgpack\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                    path, host, port, reqlen);
  if (hl < 0 || (size_t)hl >= sizeof head) {
    rc = lic__fail(LIC_INVALID, "request line too long");
    goto out;
  }
  if ((rc = link_send(&l, (const uint8_t *)head, (size_t)hl)) != LIC_OK ||
      (rc = link_send(&l, req, reqlen)) != LIC_OK) {
    if (!is_tls)
      rc = plain_failed(rc, got, host, port, l.deadline);
    goto out;
  }
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = &r;
  http_parser_settings_init(&s);
  s.on_body = on_body;
  s.on_message_complete = on_done;
  while (!r.done) {
    uint8_t buf[16384];
    size_t n = 0;
    if ((rc = link_recv(&l, buf, sizeof buf, &n)) != LIC_OK) {
      if (!is_tls)
        rc = plain_failed(rc, got, host, port, l.deadline);
      goto out;
    }
    got += n;
    size_t used = http_parser_execute(&p, &s, (const char *)buf, n);
    if (r.too_big) {
      rc = lic__fail(LIC_LIMIT, "response larger than %zu bytes", max_response);
      goto out;
    }
    if (r.done)
      break;
    if (n == 0) { /* EOF: a body delimited by the close has ended in the parser */
      rc = lic__fail(LIC_IO, "license server closed the connection mid-response");
      if (!is_tls)
        rc = plain_failed(rc, got, host, port, l.deadline);
      goto out;
    }
    if (HTTP_PARSER_ERRNO(&p) != HPE_OK || used != n) {
      rc = lic__fail(LIC_FORMAT, "bad HTTP response: %s", http_errno_description(HTTP_PARSER_ERRNO(&p)));
      goto out;
    }
  }
  /* The session (with the ticket that came after the handshake) for the
   * next call to this server. */
  if (l.ssl != NULL && tls != NULL && tls->resume != NULL && rkey[0] != '\0')
    lic__tls_resume_put(tls->resume, rkey, SSL_get1_session(l.ssl), SSL_session_reused(l.ssl) == 1);
  *status = p.status_code;
  *body = r.body;
  *blen = r.len;
  r.body = NULL;
  rc = LIC_OK;
out:
  free(r.body);
  link_close(&l);
  return rc;
}
