/* test_srv_tls.c - the server's TLS state machine (http/tls.c) against an
 * in-memory OpenSSL client: the bytes between them move in chunks we choose
 * (one byte at a time, records cut anywhere), the client's side of the wire
 * is a small BIO pair so its writes meet WANT_WRITE like a full socket; then
 * tickets, reload, garbage and close_notify. Last, the whole server on
 * loopback with a client that stops reading (the output bound through TLS). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "http/server.h"
#include "http/tls.h"
#include "util/log.h"
#include "testutil.h"

/* --- certificates made here (never committed) --------------------------------- */

typedef struct {
  char dir[512], cert[600], key[600];
  X509 *x;
} pem_pair;

/* A pair valid from now + nb to now + na (seconds; negative: in the past). */
static void make_pair_at(const char *dir, const char *name, long nb, long na, pem_pair *p) {
  static long serial = 1;
  EVP_PKEY *k = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  X509_NAME *n;
  FILE *f;
  assert_non_null(k);
  assert_non_null(x);
  snprintf(p->dir, sizeof p->dir, "%s", dir);
  snprintf(p->cert, sizeof p->cert, "%s/%s.pem", dir, name);
  snprintf(p->key, sizeof p->key, "%s/%s.key", dir, name);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), nb);
  X509_gmtime_adj(X509_getm_notAfter(x), na);
  X509_set_pubkey(x, k);
  n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
  X509_set_issuer_name(x, n);
  assert_true(X509_sign(x, k, EVP_sha256()) > 0);
  assert_non_null(f = fopen(p->cert, "w"));
  PEM_write_X509(f, x);
  fclose(f);
  assert_non_null(f = fopen(p->key, "w"));
  PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  EVP_PKEY_free(k);
  p->x = x;
}

static void make_pair(const char *dir, const char *name, pem_pair *p) {
  make_pair_at(dir, name, -60, 90L * 86400, p); /* far from the expiry warning */
}

static void cfg_for(srv_config *cfg, const pem_pair *p) {
  char err[256];
  srv_config_defaults(cfg);
  assert_int_equal(srv_config_set(cfg, "tls_cert", p->cert, err, sizeof err), 0);
  assert_int_equal(srv_config_set(cfg, "tls_key", p->key, err, sizeof err), 0);
}

/* --- an in-memory client and the wire between ---------------------------------- */

typedef struct {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *net; /* the client's far end of the BIO pair: what travels on the wire */
  srv_tls_conn *sv;
  size_t chunk; /* bytes moved per step each way */
  char got[65536]; /* plaintext the server decrypted */
  size_t ngot;
  int last; /* last srv_tls_read result */
} peer;

static SSL_CTX *client_ctx(const pem_pair *trust) {
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  assert_non_null(ctx);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
  if (trust != NULL) {
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, trust->cert, NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  }
  return ctx;
}

static void peer_open(peer *p, srv_tls *t, SSL_CTX *ctx, size_t chunk, size_t wire_buf,
                      int version, SSL_SESSION *sess) {
  BIO *in;
  memset(p, 0, sizeof *p);
  p->ctx = ctx;
  p->chunk = chunk;
  assert_non_null(p->ssl = SSL_new(ctx));
  if (version != 0) {
    SSL_set_min_proto_version(p->ssl, version);
    SSL_set_max_proto_version(p->ssl, version);
  }
  if (sess != NULL)
    assert_int_equal(SSL_set_session(p->ssl, sess), 1);
  assert_int_equal(BIO_new_bio_pair(&in, wire_buf, &p->net, wire_buf), 1);
  SSL_set_bio(p->ssl, in, in);
  SSL_set_tlsext_host_name(p->ssl, "localhost");
  SSL_set_connect_state(p->ssl);
  assert_non_null(p->sv = srv_tls_conn_new(t, 0));
}

static void peer_close(peer *p) {
  SSL_free(p->ssl);
  BIO_free(p->net);
  srv_tls_conn_free(p->sv);
  ERR_clear_error();
}

/* One step each way; returns bytes moved. */
static size_t pump(peer *p) {
  char buf[65536];
  size_t moved = 0;
  /* client -> server */
  int n = BIO_read(p->net, buf, (int)(p->chunk < sizeof buf ? p->chunk : sizeof buf));
  if (n > 0) {
    assert_int_equal(srv_tls_feed(p->sv, buf, (size_t)n), 0);
    moved += (size_t)n;
  }
  for (;;) { /* the server decrypts what it can */
    int r = srv_tls_read(p->sv, p->got + p->ngot, sizeof p->got - p->ngot);
    p->last = r;
    if (r <= 0)
      break;
    p->ngot += (size_t)r;
  }
  /* server -> client, bounded by the chunk and by room in the client's pipe */
  srv_buf *o = srv_tls_out(p->sv);
  if (o->len > 0) {
    size_t want = o->len < p->chunk ? o->len : p->chunk;
    int w = BIO_write(p->net, o->p, (int)want);
    if (w > 0) {
      srv_buf_consume(o, (size_t)w);
      moved += (size_t)w;
    }
  }
  return moved;
}

static void handshake(peer *p) {
  int i, r = 0;
  for (i = 0; i < 200000; i++) {
    r = SSL_do_handshake(p->ssl);
    if (r == 1 && srv_tls_ready(p->sv) && srv_tls_out(p->sv)->len == 0)
      break;
    if (r != 1) {
      int e = SSL_get_error(p->ssl, r);
      assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
    }
    pump(p);
  }
  assert_int_equal(r, 1);
  assert_true(srv_tls_ready(p->sv));
}

/* Client writes all of msg (meeting WANT_WRITE when the pipe is full) and the
 * server receives exactly it. */
static void send_all(peer *p, const char *msg, size_t len) {
  size_t off = 0;
  size_t start = p->ngot;
  for (int i = 0; i < 1000000 && (off < len || p->ngot < start + len); i++) {
    if (off < len) {
      int w = SSL_write(p->ssl, msg + off, (int)(len - off));
      if (w > 0)
        off += (size_t)w;
      else
        assert_int_equal(SSL_get_error(p->ssl, w), SSL_ERROR_WANT_WRITE);
    }
    pump(p);
  }
  assert_int_equal(p->ngot, start + len);
  assert_memory_equal(p->got + start, msg, len);
}

/* The client reads exactly msg from what the server queued. */
static void recv_only(peer *p, const char *msg, size_t len) {
  char *buf = malloc(len + 1);
  size_t got = 0;
  assert_non_null(buf);
  for (int i = 0; i < 1000000 && got < len; i++) {
    int r = SSL_read(p->ssl, buf + got, (int)(len - got));
    if (r > 0)
      got += (size_t)r;
    else
      assert_int_equal(SSL_get_error(p->ssl, r), SSL_ERROR_WANT_READ);
    pump(p);
  }
  assert_int_equal(got, len);
  assert_memory_equal(buf, msg, len);
  free(buf);
}

/* Server sends msg, the client reads exactly it. */
static void recv_all(peer *p, const char *msg, size_t len) {
  assert_int_equal(srv_tls_write(p->sv, msg, len), 0);
  recv_only(p, msg, len);
}

/* --- fixture ------------------------------------------------------------------- */

typedef struct {
  char *dir;
  pem_pair a, b;
  srv_tls *t;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  srv_config cfg;
  char err[256];
  f->dir = tu_tmpdir();
  make_pair(f->dir, "a", &f->a);
  make_pair(f->dir, "b", &f->b);
  cfg_for(&cfg, &f->a);
  assert_int_equal(srv_tls_new(&cfg, &f->t, err, sizeof err), 0);
  assert_non_null(f->t);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  srv_tls_free(f->t);
  X509_free(f->a.x);
  X509_free(f->b.x);
  tu_rmtree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

static const char REQ[] = "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";

/* --- tests --------------------------------------------------------------------- */

static void test_handshake_and_data_both_versions(void **state) {
  fx *f = *state;
  SSL_CTX *ctx = client_ctx(&f->a);
  int versions[2] = {TLS1_2_VERSION, TLS1_3_VERSION};
  for (int v = 0; v < 2; v++) {
    peer p;
    const unsigned char *alpn;
    unsigned alen;
    peer_open(&p, f->t, ctx, 1 << 16, 1 << 16, versions[v], NULL);
    assert_true(srv_tls_owes(p.sv));
    handshake(&p);
    assert_false(srv_tls_owes(p.sv));
    assert_string_equal(srv_tls_version(p.sv), v == 0 ? "TLSv1.2" : "TLSv1.3");
    SSL_get0_alpn_selected(p.ssl, &alpn, &alen);
    assert_int_equal(alen, 8);
    assert_memory_equal(alpn, "http/1.1", 8);
    assert_int_equal(SSL_get_verify_result(p.ssl), X509_V_OK);
    /* The server's order, AES-128-GCM first, though this client (OpenSSL's
     * default list) puts AES-256 first. */
    assert_string_equal(SSL_get_cipher_name(p.ssl),
                        v == 0 ? "ECDHE-ECDSA-AES128-GCM-SHA256" : "TLS_AES_128_GCM_SHA256");
    send_all(&p, REQ, sizeof REQ - 1);
    recv_all(&p, "HTTP/1.1 200 OK\r\n\r\n", 19);
    peer_close(&p);
  }
  uint64_t full, resumed, failed;
  srv_tls_counts(f->t, &full, &resumed, &failed);
  assert_int_equal(full, 2);
  assert_int_equal(resumed, 0);
  assert_int_equal(failed, 0);
  SSL_CTX_free(ctx);
}

static void test_one_byte_at_a_time(void **state) {
  fx *f = *state;
  SSL_CTX *ctx = client_ctx(&f->a);
  for (int v = 0; v < 2; v++) {
    peer p;
    peer_open(&p, f->t, ctx, 1, 1 << 16, v == 0 ? TLS1_2_VERSION : TLS1_3_VERSION, NULL);
    handshake(&p);
    send_all(&p, REQ, sizeof REQ - 1);
    recv_all(&p, "HTTP/1.1 200 OK\r\n\r\nok", 21);
    peer_close(&p);
  }
  SSL_CTX_free(ctx);
}

static void test_partial_records_and_want_write(void **state) {
  fx *f = *state;
  SSL_CTX *ctx = client_ctx(&f->a);
  static char big[60000];
  for (size_t i = 0; i < sizeof big; i++)
    big[i] = (char)('a' + i % 26);
  /* Chunks that cut records anywhere, and a 512-byte client pipe: the
   * client's SSL_write meets WANT_WRITE again and again. */
  size_t chunks[] = {7, 100, 1000, 16389};
  for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
    peer p;
    peer_open(&p, f->t, ctx, chunks[c], 512, 0, NULL);
    handshake(&p);
    send_all(&p, big, sizeof big);
    /* Server output beyond what the pipe takes waits in srv_tls_out, in order. */
    assert_int_equal(srv_tls_write(p.sv, big, 20000), 0);
    assert_true(srv_tls_out(p.sv)->len > 20000);
    recv_only(&p, big, 20000);
    assert_int_equal(srv_tls_out(p.sv)->len, 0);
    peer_close(&p);
  }
  SSL_CTX_free(ctx);
}

static SSL_SESSION *full_then_session(fx *f, SSL_CTX *ctx, int version, bool *resumed) {
  peer p;
  SSL_SESSION *s;
  peer_open(&p, f->t, ctx, 1 << 16, 1 << 16, version, NULL);
  handshake(&p);
  recv_all(&p, "x", 1); /* TLS 1.3 tickets arrive after the handshake */
  *resumed = srv_tls_resumed(p.sv);
  s = SSL_get1_session(p.ssl);
  SSL_shutdown(p.ssl); /* a clean end keeps the session resumable */
  peer_close(&p);
  return s;
}

static bool resume_with(fx *f, SSL_CTX *ctx, SSL_SESSION *s, int version) {
  peer p;
  bool r;
  peer_open(&p, f->t, ctx, 1 << 16, 1 << 16, version, s);
  handshake(&p);
  recv_all(&p, "x", 1);
  r = srv_tls_resumed(p.sv);
  assert_int_equal(r, SSL_session_reused(p.ssl));
  SSL_shutdown(p.ssl);
  peer_close(&p);
  return r;
}

#define LIFETIME (4 * 3600) /* tls_ticket_lifetime_s's default (util/config.c) */

/* A report server checks every 2 hours (+ 10% jitter): its session must
 * resume after the ticket key rotated twice, and no longer once the key is
 * past an hour + tls_ticket_lifetime_s. */
static void test_tickets_outlive_two_rotations(void **state) {
  fx *f = *state;
  SSL_CTX *ctx = client_ctx(&f->a);
  for (int v = 0; v < 2; v++) {
    int ver = v == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
    bool was;
    SSL_SESSION *s = full_then_session(f, ctx, ver, &was);
    assert_false(was);
    assert_non_null(s);
    assert_true(resume_with(f, ctx, s, ver));
    srv_tls_rotate_tickets(f->t); /* the key that made s is now the previous one */
    assert_true(resume_with(f, ctx, s, ver));
    srv_tls_rotate_tickets(f->t); /* rotated twice: still */
    assert_true(resume_with(f, ctx, s, ver));
    srv_tls_tickets_backdate(f->t, SRV_TLS_TICKET_ROTATE_S + LIFETIME); /* and now too old */
    assert_false(resume_with(f, ctx, s, ver));
    SSL_SESSION_free(s);
  }
  uint64_t full, resumed, failed;
  srv_tls_counts(f->t, &full, &resumed, &failed);
  assert_int_equal(resumed, 6);
  assert_int_equal(full, 4);
  SSL_CTX_free(ctx);
}

/* The session a check resumed, as the client keeps it for the next check. */
static SSL_SESSION *resume_then_session(fx *f, SSL_CTX *ctx, SSL_SESSION *s, bool *resumed) {
  peer p;
  SSL_SESSION *out;
  peer_open(&p, f->t, ctx, 1 << 16, 1 << 16, TLS1_3_VERSION, s);
  handshake(&p);
  recv_all(&p, "x", 1); /* a new ticket, if any, arrives after the handshake */
  *resumed = srv_tls_resumed(p.sv);
  out = SSL_get1_session(p.ssl);
  SSL_shutdown(p.ssl);
  peer_close(&p);
  return out;
}

/* Every resumed check gets a fresh ticket, so a client keeping the last
 * check's session resumes check after check, past the first ticket's key
 * (rotated hourly, gone an hour + tls_ticket_lifetime_s after). Before, a
 * TLS 1.3 resumption under the current key sent no ticket: the client kept
 * the first ticket until its key expired (a full handshake every ~5 hours),
 * and one that kept the session of each connection (tlsload -r) resumed
 * every other check: the bench's resumed check read 0.67 of nginx's. */
static void test_each_resumption_renews_the_ticket(void **state) {
  fx *f = *state;
  SSL_CTX *ctx = client_ctx(&f->a);
  bool was;
  SSL_SESSION *first = full_then_session(f, ctx, TLS1_3_VERSION, &was), *s = first;
  SSL_SESSION_up_ref(first);
  size_t first_len;
  const unsigned char *first_tick;
  SSL_SESSION_get0_ticket(first, &first_tick, &first_len);
  assert_true(first_len > 0);
  for (int i = 0; i < 4; i++) {
    SSL_SESSION *next = resume_then_session(f, ctx, s, &was);
    assert_true(was);
    size_t len;
    const unsigned char *tick;
    SSL_SESSION_get0_ticket(next, &tick, &len);
    assert_true(len > 0);
    assert_false(len == first_len && memcmp(tick, first_tick, len) == 0); /* renewed */
    SSL_SESSION_free(s);
    s = next;
    srv_tls_tickets_backdate(f->t, 2 * 3600 + 720); /* the next check: 2 hours + 10% later */
  }
  /* 8.8 hours on: the first ticket's key is gone, the last check's works. */
  assert_false(resume_with(f, ctx, first, TLS1_3_VERSION));
  assert_true(resume_with(f, ctx, s, TLS1_3_VERSION));
  SSL_SESSION_free(first);
  SSL_SESSION_free(s);
  SSL_CTX_free(ctx);
}

static void test_tickets_rotate_every_hour(void **state) {
  fx *f = *state;
  SSL_CTX *ctx = client_ctx(&f->a);
  bool was;
  SSL_SESSION *s0 = full_then_session(f, ctx, TLS1_3_VERSION, &was), *s1;
  srv_tls_tickets_backdate(f->t, SRV_TLS_TICKET_ROTATE_S - 5); /* not yet an hour */
  s1 = full_then_session(f, ctx, TLS1_3_VERSION, &was);
  SSL_SESSION_free(s1);
  srv_tls_tickets_backdate(f->t, 10); /* now past the hour: the next ticket rotates */
  s1 = full_then_session(f, ctx, TLS1_3_VERSION, &was);
  assert_true(resume_with(f, ctx, s0, TLS1_3_VERSION)); /* the previous key still decrypts */
  srv_tls_tickets_backdate(f->t, SRV_TLS_TICKET_ROTATE_S);
  SSL_SESSION_free(full_then_session(f, ctx, TLS1_3_VERSION, &was)); /* rotates again */
  srv_tls_tickets_backdate(f->t, 720); /* the next check: 2 hours + 10% jitter later */
  assert_true(resume_with(f, ctx, s0, TLS1_3_VERSION));
  assert_true(resume_with(f, ctx, s1, TLS1_3_VERSION));
  srv_tls_tickets_backdate(f->t, LIFETIME); /* both keys past their tickets' lifetime */
  assert_false(resume_with(f, ctx, s0, TLS1_3_VERSION));
  assert_false(resume_with(f, ctx, s1, TLS1_3_VERSION));
  SSL_SESSION_free(s0);
  SSL_SESSION_free(s1);
  SSL_CTX_free(ctx);
}

/* The ticket says how long it lives (its lifetime hint): a client keeps it,
 * and offers it, as long as the keys decrypt it. */
static void test_session_lifetime_is_the_setting(void **state) {
  fx *f = *state;
  SSL_CTX *ctx = client_ctx(&f->a);
  bool was;
  SSL_SESSION *s = full_then_session(f, ctx, TLS1_3_VERSION, &was);
  assert_int_equal(SSL_SESSION_get_ticket_lifetime_hint(s), LIFETIME);
  SSL_SESSION_free(s);
  SSL_CTX_free(ctx);
}

static void test_reload_new_conns_new_cert_old_keep_theirs(void **state) {
  fx *f = *state;
  SSL_CTX *ctx_a = client_ctx(&f->a), *ctx_b = client_ctx(&f->b);
  srv_config cfg;
  char err[512];
  peer old, nw;
  peer_open(&old, f->t, ctx_a, 1 << 16, 1 << 16, 0, NULL);
  handshake(&old);
  /* A broken file: refused, the old pair stays. */
  tu_write(f->dir, "broken.pem", "-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n");
  srv_config_defaults(&cfg);
  snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s/broken.pem", f->dir);
  snprintf(cfg.tls_key, sizeof cfg.tls_key, "%s", f->a.key);
  assert_int_not_equal(srv_tls_reload(f->t, &cfg, err, sizeof err), 0);
  assert_non_null(strstr(err, "broken.pem"));
  /* A key of another certificate: refused too. */
  snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s", f->a.cert);
  snprintf(cfg.tls_key, sizeof cfg.tls_key, "%s", f->b.key);
  assert_int_not_equal(srv_tls_reload(f->t, &cfg, err, sizeof err), 0);
  assert_non_null(strstr(err, "does not match"));
  peer_open(&nw, f->t, ctx_a, 1 << 16, 1 << 16, 0, NULL);
  handshake(&nw);
  assert_int_equal(X509_cmp(SSL_get0_peer_certificate(nw.ssl), f->a.x), 0);
  peer_close(&nw);
  /* Switching TLS off by a reload is refused. */
  srv_config_defaults(&cfg);
  assert_int_not_equal(srv_tls_reload(f->t, &cfg, err, sizeof err), 0);
  /* The new pair. */
  cfg_for(&cfg, &f->b);
  assert_int_equal(srv_tls_reload(f->t, &cfg, err, sizeof err), 0);
  peer_open(&nw, f->t, ctx_b, 1 << 16, 1 << 16, 0, NULL);
  handshake(&nw);
  assert_int_equal(X509_cmp(SSL_get0_peer_certificate(nw.ssl), f->b.x), 0);
  peer_close(&nw);
  /* The connection from before still works on its own context. */
  send_all(&old, REQ, sizeof REQ - 1);
  recv_all(&old, "ok", 2);
  assert_int_equal(X509_cmp(SSL_get0_peer_certificate(old.ssl), f->a.x), 0);
  peer_close(&old);
  SSL_CTX_free(ctx_a);
  SSL_CTX_free(ctx_b);
}

/* A pair outside its validity window is refused at start and by a reload
 * (the old pair stays) unless allow_expired_cert; one that ends within
 * SRV_TLS_CERT_WARN_DAYS is served, with a warning naming the file. */
static void test_expired_and_not_yet_valid_refused(void **state) {
  fx *f = *state;
  pem_pair expired, future, near;
  srv_config cfg;
  srv_tls *t = NULL;
  char err[512], msg[600];
  int64_t end;
  SSL_CTX *ctx_a = client_ctx(&f->a);
  peer nw;
  make_pair_at(f->dir, "expired", -10 * 86400, -86400, &expired);
  make_pair_at(f->dir, "future", 86400, 90 * 86400, &future);
  make_pair_at(f->dir, "near", -60, 10 * 86400 + 3600, &near);
  /* At start. */
  cfg_for(&cfg, &expired);
  assert_int_not_equal(srv_tls_new(&cfg, &t, err, sizeof err), 0);
  assert_null(t);
  assert_non_null(strstr(err, expired.cert));
  assert_non_null(strstr(err, "expired on"));
  assert_non_null(strstr(err, "--allow-expired-cert"));
  cfg_for(&cfg, &future);
  assert_int_not_equal(srv_tls_new(&cfg, &t, err, sizeof err), 0);
  assert_non_null(strstr(err, "not valid before"));
  /* Allowed: served, and /healthz's warning says it ended. */
  cfg_for(&cfg, &expired);
  cfg.allow_expired_cert = true;
  assert_int_equal(srv_tls_new(&cfg, &t, err, sizeof err), 0);
  assert_true(srv_tls_cert_end(t, 0, &end));
  assert_true(end < (int64_t)time(NULL) - 86400 + 60);
  assert_int_equal(srv_tls_cert_warning(t, (int64_t)time(NULL), msg, sizeof msg), 1);
  assert_non_null(strstr(msg, "ended on"));
  assert_non_null(strstr(msg, expired.cert));
  srv_tls_free(t);
  /* A reload: refused, the fixture's pair stays, no warning. */
  assert_int_equal(srv_tls_cert_warning(f->t, (int64_t)time(NULL), msg, sizeof msg), 0);
  assert_string_equal(msg, "");
  cfg_for(&cfg, &expired);
  assert_int_not_equal(srv_tls_reload(f->t, &cfg, err, sizeof err), 0);
  assert_non_null(strstr(err, "expired on"));
  cfg_for(&cfg, &future);
  assert_int_not_equal(srv_tls_reload(f->t, &cfg, err, sizeof err), 0);
  assert_non_null(strstr(err, "not valid before"));
  peer_open(&nw, f->t, ctx_a, 1 << 16, 1 << 16, 0, NULL);
  handshake(&nw);
  assert_int_equal(X509_cmp(SSL_get0_peer_certificate(nw.ssl), f->a.x), 0);
  peer_close(&nw);
  /* Ending in ten days: taken, with a warning and its end. */
  cfg_for(&cfg, &near);
  assert_int_equal(srv_tls_reload(f->t, &cfg, err, sizeof err), 0);
  assert_true(srv_tls_cert_end(f->t, 0, &end));
  assert_true(end > (int64_t)time(NULL) + 10 * 86400 && end <= (int64_t)time(NULL) + 10 * 86400 + 3600);
  assert_int_equal(srv_tls_cert_warning(f->t, (int64_t)time(NULL), msg, sizeof msg), 1);
  assert_non_null(strstr(msg, "ends in 10 days"));
  assert_non_null(strstr(msg, near.cert));
  /* 20 days earlier it was not yet due. */
  assert_int_equal(srv_tls_cert_warning(f->t, (int64_t)time(NULL) - 20 * 86400, msg, sizeof msg), 0);
  X509_free(expired.x);
  X509_free(future.x);
  X509_free(near.x);
  SSL_CTX_free(ctx_a);
}

static void test_garbage_and_truncated_hello(void **state) {
  fx *f = *state;
  static const struct {
    const char *p;
    size_t n;
  } bad[] = {{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27}, {"\x16\x03\x01\xff\xff", 5},
             {"\x15\x03\x03\x00\x02\x02\x28", 7}, {"\x00\x00\x00\x00\x00\x00", 6}};
  uint64_t full0, res0, failed0, full, resumed, failed;
  char buf[256];
  srv_tls_counts(f->t, &full0, &res0, &failed0);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    srv_tls_conn *c = srv_tls_conn_new(f->t, 0);
    int r;
    assert_non_null(c);
    assert_int_equal(srv_tls_feed(c, bad[i].p, bad[i].n), 0);
    r = srv_tls_read(c, buf, sizeof buf);
    if (i == 1) { /* a record header promising 65535 bytes: too long, or waiting for more */
      assert_true(r == SRV_TLS_FAIL || r == SRV_TLS_AGAIN);
    } else {
      assert_int_equal(r, SRV_TLS_FAIL);
      /* Failing again is still a failure, never a crash. */
      assert_int_equal(srv_tls_read(c, buf, sizeof buf), SRV_TLS_FAIL);
      assert_int_equal(srv_tls_write(c, "x", 1), -1);
    }
    srv_tls_conn_free(c);
  }
  srv_tls_counts(f->t, &full, &resumed, &failed);
  assert_int_equal(failed, failed0 + 4);
  assert_int_equal(full, full0);
  /* A ClientHello cut short: the server waits (owes), sends nothing. */
  SSL_CTX *ctx = client_ctx(NULL);
  peer p;
  peer_open(&p, f->t, ctx, 1 << 16, 1 << 16, 0, NULL);
  assert_int_equal(SSL_do_handshake(p.ssl), -1);
  int n = BIO_read(p.net, buf, 40);
  assert_int_equal(n, 40);
  assert_int_equal(srv_tls_feed(p.sv, buf, 40), 0);
  assert_int_equal(srv_tls_read(p.sv, buf, sizeof buf), SRV_TLS_AGAIN);
  assert_true(srv_tls_owes(p.sv));
  assert_int_equal(srv_tls_out(p.sv)->len, 0);
  /* A connection with nothing received is not a failed handshake. */
  srv_tls_conn *idle = srv_tls_conn_new(f->t, 0);
  srv_tls_conn_free(idle);
  peer_close(&p); /* had bytes: counted as failed */
  srv_tls_counts(f->t, &full, &resumed, &failed);
  assert_int_equal(failed, failed0 + 5);
  SSL_CTX_free(ctx);
}

static void test_close_notify(void **state) {
  fx *f = *state;
  SSL_CTX *ctx = client_ctx(&f->a);
  peer p;
  char buf[16];
  int r = 0;
  peer_open(&p, f->t, ctx, 1 << 16, 1 << 16, 0, NULL);
  handshake(&p);
  srv_tls_shutdown(p.sv);
  srv_tls_shutdown(p.sv); /* once */
  assert_int_equal(srv_tls_write(p.sv, "x", 1), -1);
  for (int i = 0; i < 100; i++) {
    pump(&p);
    r = SSL_read(p.ssl, buf, sizeof buf);
    if (r <= 0 && SSL_get_error(p.ssl, r) == SSL_ERROR_ZERO_RETURN)
      break;
  }
  assert_int_equal(SSL_get_error(p.ssl, r), SSL_ERROR_ZERO_RETURN);
  /* And the client's close_notify reads as EOF on the server. */
  peer q;
  peer_open(&q, f->t, ctx, 1 << 16, 1 << 16, 0, NULL);
  handshake(&q);
  SSL_shutdown(q.ssl);
  pump(&q);
  assert_int_equal(q.last, SRV_TLS_EOF);
  peer_close(&q);
  peer_close(&p);
  SSL_CTX_free(ctx);
}

/* --- the whole server: a client that stops reading ------------------------------- */

static void h_big(srv_req *r) {
  static char body[8192];
  memset(body, 'z', sizeof body);
  srv_reply(r, 200, "text/plain", body, sizeof body);
}

static void test_server_backpressure_through_tls(void **state) {
  fx *f = *state;
  srv_config cfg;
  srv_server *s;
  char err[256];
  srv_log_set_level(SRV_LOG_WARN);
  cfg_for(&cfg, &f->a);
  snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
  snprintf(cfg.admin_listen, sizeof cfg.admin_listen, "127.0.0.1:0");
  cfg.threads = 1;
  assert_int_equal(srv_server_new(&cfg, &s, err, sizeof err), 0);
  assert_int_equal(srv_route_add(s, "GET", "/big", h_big), 0);
  assert_int_equal(srv_server_start(s, err, sizeof err), 0);
  assert_true(srv_server_tls(s, SRV_PUBLIC));

  int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(srv_server_port(s))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  SSL_CTX *ctx = client_ctx(&f->a);
  SSL *c = SSL_new(ctx);
  SSL_set_fd(c, fd);
  assert_int_equal(SSL_connect(c), 1);
  /* 200 pipelined requests for 8 KiB answers: 1.6 MB the server may not
   * queue (SRV_OUT_CAP), so it must stop reading and resume. */
  const char req[] = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
  static char reqs[200 * (sizeof req - 1)];
  for (int i = 0; i < 200; i++)
    memcpy(reqs + i * (sizeof req - 1), req, sizeof req - 1);
  assert_int_equal(SSL_write(c, reqs, sizeof reqs), (int)sizeof reqs);
  usleep(300 * 1000); /* the socket fills; the server waits on it */
  size_t total = 0, answers = 0;
  static char buf[65536];
  const char *head = "HTTP/1.1 200 OK";
  while (answers < 200) {
    int n = SSL_read(c, buf, sizeof buf);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) /* count heads; the body is all 'z' */
      if (buf[i] == 'H' && i + 15 <= n && memcmp(buf + i, head, 15) == 0)
        answers++;
    total += (size_t)n;
  }
  assert_int_equal(answers, 200);
  assert_true(total > 200 * 8192);
  SSL_free(c);
  close(fd);
  SSL_CTX_free(ctx);
  srv_server_stop(s);
  srv_server_wait(s);
  srv_server_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_handshake_and_data_both_versions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_one_byte_at_a_time, setup, teardown),
      cmocka_unit_test_setup_teardown(test_partial_records_and_want_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tickets_outlive_two_rotations, setup, teardown),
      cmocka_unit_test_setup_teardown(test_session_lifetime_is_the_setting, setup, teardown),
      cmocka_unit_test_setup_teardown(test_each_resumption_renews_the_ticket, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tickets_rotate_every_hour, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reload_new_conns_new_cert_old_keep_theirs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expired_and_not_yet_valid_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_and_truncated_hello, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_notify, setup, teardown),
      cmocka_unit_test_setup_teardown(test_server_backpressure_through_tls, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
