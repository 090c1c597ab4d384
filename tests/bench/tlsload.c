/* tlsload.c - `make bench`'s TLS load generator: C concurrent slots, each
 * connecting, handshaking, sending one request with Connection: close,
 * reading the answer to the server's close, and starting over, for SECS
 * seconds. Debian's wrk keeps TLS sessions and connections alive; this forces
 * a new connection per request, with a full handshake (or, with -r, a
 * resumed one: each slot offers the session of its last connection). The
 * same binary loads licsrv and nginx, so the ratio compares the servers.
 *
 *   tlsload -p PORT -c CONNS -d SECS [-r] [-m METHOD] [-u PATH] [-b BODYFILE] [-t TYPE]
 *
 * Prints "requests N ok N errors N resumed N secs S rate R". Loopback only. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

enum { S_CONNECT, S_HANDSHAKE, S_WRITE, S_READ };

typedef struct {
  int fd, state;
  SSL *ssl;
  SSL_SESSION *sess;
  size_t off, got;
  char head[16];
} slot;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *req;
static size_t reqlen;
static SSL_CTX *ctx;
static struct sockaddr_in addr;
static int ep;
static bool resume;
static unsigned long n_req, n_ok, n_err, n_resumed;

static void slot_start(slot *s) {
  int one = 1;
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) {
    perror("tlsload: socket");
    exit(1);
  }
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  s->ssl = SSL_new(ctx);
  SSL_set_fd(s->ssl, s->fd);
  SSL_set_connect_state(s->ssl);
  if (resume && s->sess != NULL)
    SSL_set_session(s->ssl, s->sess);
  s->off = s->got = 0;
  s->state = S_CONNECT;
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLET, .data.ptr = s};
  if (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS) {
    perror("tlsload: connect");
    exit(1);
  }
  epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
}

static void slot_end(slot *s, bool ok) {
  n_req++;
  if (ok)
    n_ok++;
  else
    n_err++;
  if (ok && SSL_session_reused(s->ssl))
    n_resumed++;
  if (resume && ok) {
    SSL_SESSION *ns;
    /* Ended cleanly: OpenSSL would otherwise mark the session unresumable. */
    SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    ns = SSL_get1_session(s->ssl);
    if (ns != NULL) {
      SSL_SESSION_free(s->sess);
      s->sess = ns;
    }
  }
  epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
  SSL_free(s->ssl);
  close(s->fd);
  ERR_clear_error();
  slot_start(s);
}

/* Drive a slot as far as it goes without blocking. */
static void slot_step(slot *s) {
  for (;;) {
    int r, e;
    switch (s->state) {
    case S_CONNECT:
      s->state = S_HANDSHAKE;
      /* fallthrough */
    case S_HANDSHAKE:
      r = SSL_do_handshake(s->ssl);
      if (r == 1) {
        s->state = S_WRITE;
        continue;
      }
      break;
    case S_WRITE:
      r = SSL_write(s->ssl, req + s->off, (int)(reqlen - s->off));
      if (r > 0) {
        s->off += (size_t)r;
        if (s->off == reqlen)
          s->state = S_READ;
        continue;
      }
      break;
    default: {
      char buf[16384];
      r = SSL_read(s->ssl, buf, sizeof buf);
      if (r > 0) {
        size_t k = s->got < sizeof s->head ? sizeof s->head - s->got : 0;
        if (k > (size_t)r)
          k = (size_t)r;
        memcpy(s->head + s->got, buf, k);
        s->got += (size_t)r;
        continue;
      }
      e = SSL_get_error(s->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
      /* The server closed after its answer (close_notify or EOF). */
      slot_end(s, s->got >= 12 && memcmp(s->head, "HTTP/1.1 200", 12) == 0);
      return;
    }
    }
    e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return;
    slot_end(s, false);
    return;
  }
}

int main(int argc, char **argv) {
  int port = 0, conns = 16, secs = 10, c;
  const char *method = "GET", *path = "/", *bodyfile = NULL, *ctype = "application/msgpack";
  char *body = NULL;
  size_t blen = 0;
  while ((c = getopt(argc, argv, "p:c:d:rm:u:b:t:")) != -1) {
    switch (c) {
    case 'p': port = (int)strtol(optarg, NULL, 10); break;
    case 'c': conns = (int)strtol(optarg, NULL, 10); break;
    case 'd': secs = (int)strtol(optarg, NULL, 10); break;
    case 'r': resume = true; break;
    case 'm': method = optarg; break;
    case 'u': path = optarg; break;
    case 'b': bodyfile = optarg; break;
    case 't': ctype = optarg; break;
    default:
      fprintf(stderr, "usage: tlsload -p PORT [-c CONNS] [-d SECS] [-r] [-m METHOD] [-u PATH] "
                      "[-b BODYFILE] [-t TYPE]\n");
      return 2;
    }
  }
  if (port <= 0 || port > 65535 || conns < 1 || conns > 4096 || secs < 1 || secs > 600) {
    fprintf(stderr, "tlsload: error: -p PORT required; -c 1..4096; -d 1..600\n");
    return 2;
  }
  if (bodyfile != NULL) {
    FILE *f = fopen(bodyfile, "rb");
    if (f == NULL || (body = malloc(1 << 20)) == NULL) {
      fprintf(stderr, "tlsload: error: %s: cannot read\n", bodyfile);
      return 1;
    }
    blen = fread(body, 1, 1 << 20, f);
    fclose(f);
  }
  reqlen = (size_t)snprintf(NULL, 0, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                            "Content-Length: %zu\r\nConnection: close\r\n\r\n", method, path, ctype, blen);
  req = malloc(reqlen + blen + 1);
  snprintf(req, reqlen + 1, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
           "Content-Length: %zu\r\nConnection: close\r\n\r\n", method, path, ctype, blen);
  if (blen > 0)
    memcpy(req + reqlen, body, blen);
  reqlen += blen;
  free(body);

  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* load only: the e2e tests check certificates */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
    perror("tlsload: epoll");
    return 1;
  }
  slot *slots = calloc((size_t)conns, sizeof *slots);
  double t0 = now_s(), end = t0 + secs;
  for (int i = 0; i < conns; i++)
    slot_start(&slots[i]);
  struct epoll_event evs[256];
  while (now_s() < end) {
    int n = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; i++)
      slot_step(evs[i].data.ptr);
  }
  double took = now_s() - t0;
  printf("requests %lu ok %lu errors %lu resumed %lu secs %.2f rate %.1f\n", n_req, n_ok, n_err,
         n_resumed, took, (double)n_ok / took);
  return 0;
}
