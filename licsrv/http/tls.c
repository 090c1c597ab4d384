/* http/tls.c - the listeners' TLS: contexts built from the PEM files, the
 * session-ticket keys, and one connection's SSL over two memory BIOs (the
 * shape of darrenjs/openssl_examples and h2o's socket.c: the socket's bytes
 * are written into the read BIO, whatever OpenSSL wants to send is drained
 * from the write BIO after every SSL call). Nothing here blocks: a "want"
 * from OpenSSL means "more bytes from the peer", since a memory BIO takes any
 * amount of output. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "http/tls.h"

typedef struct {
  uint8_t name[16], aes[32], hmac[32];
  int64_t created;
  bool set;
} ticket_key;

typedef struct {
  int64_t not_after;           /* the leaf certificate's end, Unix seconds */
  char file[SRV_MAX_PATHNAME]; /* where it was read, for the /healthz warning */
} cert_info;

struct srv_tls {
  uv_mutex_t mu;         /* guards ctx[], cert[] */
  SSL_CTX *ctx[2];       /* NULL: that listener is plain HTTP */
  cert_info cert[2];     /* of ctx[i] */
  bool on[2];            /* ctx[i] != NULL, fixed at start: read by loops without the lock */
  uv_rwlock_t klock;     /* guards keys[] */
  /* [0] encrypts and decrypts, the older ones decrypt until they are
   * SRV_TLS_TICKET_ROTATE_S + lifetime old: a ticket made at the end of its
   * key's hour still resumes for lifetime. Never written anywhere. */
  ticket_key keys[SRV_TLS_TICKET_KEYS];
  int64_t lifetime; /* tls_ticket_lifetime_s, also the sessions' timeout */
  _Atomic uint64_t full, resumed, failed;
};

struct srv_tls_conn {
  srv_tls *t;
  SSL *ssl;
  BIO *rbio, *wbio; /* peer -> SSL, SSL -> peer */
  srv_buf out;
  bool done, counted, got_bytes, shut, failed;
};

static int64_t now_s(void) { return (int64_t)time(NULL); }

/* --- ticket keys (h2o src/ssl.c: new key for encryption, old ones decrypt) --- */

static int key_fresh(ticket_key *k) {
  if (RAND_bytes(k->name, sizeof k->name) != 1 || RAND_bytes(k->aes, sizeof k->aes) != 1 ||
      RAND_bytes(k->hmac, sizeof k->hmac) != 1)
    return -1;
  k->created = now_s();
  k->set = true;
  return 0;
}

/* A key too old to decrypt: its tickets are past their lifetime. */
static bool key_expired(const srv_tls *t, const ticket_key *k, int64_t now) {
  return now - k->created >= SRV_TLS_TICKET_ROTATE_S + t->lifetime;
}

static void rotate_locked(srv_tls *t) {
  ticket_key k;
  const size_t n = sizeof t->keys / sizeof t->keys[0];
  if (key_fresh(&k) != 0)
    return; /* keep the current key rather than none */
  OPENSSL_cleanse(&t->keys[n - 1], sizeof t->keys[n - 1]);
  memmove(&t->keys[1], &t->keys[0], (n - 1) * sizeof t->keys[0]);
  t->keys[0] = k;
  OPENSSL_cleanse(&k, sizeof k);
  for (size_t i = 1; i < n; i++) /* the expired ones go */
    if (t->keys[i].set && key_expired(t, &t->keys[i], t->keys[0].created))
      OPENSSL_cleanse(&t->keys[i], sizeof t->keys[i]);
}

void srv_tls_rotate_tickets(srv_tls *t) {
  uv_rwlock_wrlock(&t->klock);
  rotate_locked(t);
  uv_rwlock_wrunlock(&t->klock);
}

void srv_tls_tickets_backdate(srv_tls *t, int64_t secs) {
  uv_rwlock_wrlock(&t->klock);
  for (size_t i = 0; i < sizeof t->keys / sizeof t->keys[0]; i++)
    if (t->keys[i].set)
      t->keys[i].created -= secs;
  uv_rwlock_wrunlock(&t->klock);
}

static int hmac_init(EVP_MAC_CTX *hctx, const uint8_t *key) {
  OSSL_PARAM p[2];
  p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
  p[1] = OSSL_PARAM_construct_end();
  return EVP_MAC_init(hctx, key, 32, p) == 1 ? 0 : -1;
}

static int ticket_cb(SSL *s, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx,
                     EVP_MAC_CTX *hctx, int enc) {
  srv_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
  ticket_key k;
  int r = -1;
  if (enc) {
    uv_rwlock_rdlock(&t->klock);
    bool old = now_s() - t->keys[0].created >= SRV_TLS_TICKET_ROTATE_S;
    uv_rwlock_rdunlock(&t->klock);
    if (old) {
      uv_rwlock_wrlock(&t->klock);
      if (now_s() - t->keys[0].created >= SRV_TLS_TICKET_ROTATE_S) /* not done meanwhile */
        rotate_locked(t);
      uv_rwlock_wrunlock(&t->klock);
    }
    uv_rwlock_rdlock(&t->klock);
    k = t->keys[0];
    uv_rwlock_rdunlock(&t->klock);
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
      goto out;
    memcpy(name, k.name, sizeof k.name);
    if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1 || hmac_init(hctx, k.hmac) != 0)
      goto out;
    r = 1;
    goto out;
  }
  bool found = false;
  int64_t now = now_s();
  uv_rwlock_rdlock(&t->klock);
  for (int i = 0; i < (int)(sizeof t->keys / sizeof t->keys[0]); i++)
    if (t->keys[i].set && CRYPTO_memcmp(name, t->keys[i].name, sizeof t->keys[i].name) == 0 &&
        !key_expired(t, &t->keys[i], now)) {
      k = t->keys[i];
      found = true;
    }
  uv_rwlock_rdunlock(&t->klock);
  if (!found) {
    r = 0; /* unknown or expired key: a full handshake */
    goto out;
  }
  if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1 || hmac_init(hctx, k.hmac) != 0)
    goto out;
  /* 2: valid, and a fresh ticket for the next check, always. With 1 a TLS
   * 1.3 resumption sends no new ticket: a client keeping each connection's
   * session (tlsload -r) resumed every other check only, and one keeping
   * its first ticket (liblic, licctl agent) lost it with its key. Under an
   * older key the fresh one is under the current key. */
  r = 2;
out:
  OPENSSL_cleanse(&k, sizeof k);
  return r;
}

/* --- contexts ------------------------------------------------------------------ */

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned int inlen, void *arg) {
  static const unsigned char ours[] = "\x08http/1.1";
  unsigned char *sel;
  (void)s;
  (void)arg;
  if (SSL_select_next_proto(&sel, outlen, ours, sizeof ours - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL; /* no_application_protocol: we speak only HTTP/1.1 */
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

static int ssl_errf(char *err, size_t errlen, const char *what, const char *file) {
  char buf[256] = "";
  unsigned long e = ERR_peek_last_error(), sys = 0, x;
  if (e != 0)
    ERR_error_string_n(e, buf, sizeof buf);
  /* A file that cannot be opened: its errno ("No such file or directory"),
   * not OpenSSL's "error:0A080002:SSL routines::system lib". */
  while ((x = ERR_get_error()) != 0)
    if (ERR_SYSTEM_ERROR(x))
      sys = x;
  ERR_clear_error();
  if (sys != 0)
    return srv_errf(err, errlen, "%s %s: %s", what, file, strerror((int)ERR_GET_REASON(sys)));
  return srv_errf(err, errlen, "%s %s: %s", what, file, e != 0 ? buf : "failed");
}

static void tm_text(const struct tm *tm, char *buf, size_t len) {
  if (strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", tm) == 0)
    snprintf(buf, len, "?");
}

/* The leaf's validity window: its end for the warnings, and a refusal when
 * now is outside it (a client would refuse it anyway, after the handshake,
 * and every report server would fall into grace), unless allowed. */
static int cert_window(SSL_CTX *ctx, const char *file, bool allow, int64_t *not_after, char *err,
                       size_t errlen) {
  X509 *x = SSL_CTX_get0_certificate(ctx);
  struct tm nb, na;
  char when[64];
  if (x == NULL || ASN1_TIME_to_tm(X509_get0_notBefore(x), &nb) != 1 ||
      ASN1_TIME_to_tm(X509_get0_notAfter(x), &na) != 1) {
    ERR_clear_error();
    return srv_errf(err, errlen, "cannot read the validity of the TLS certificate %s", file);
  }
  *not_after = (int64_t)timegm(&na);
  if (allow)
    return 0;
  if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
    tm_text(&na, when, sizeof when);
    return srv_errf(err, errlen,
                    "the TLS certificate %s expired on %s: renew it (or pass --allow-expired-cert "
                    "to serve it anyway)",
                    file, when);
  }
  if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
    tm_text(&nb, when, sizeof when);
    return srv_errf(err, errlen,
                    "the TLS certificate %s is not valid before %s (is the clock right?): wait, "
                    "or pass --allow-expired-cert to serve it anyway",
                    file, when);
  }
  return 0;
}

static SSL_CTX *ctx_new(srv_tls *t, const char *cert, const char *key, bool allow_expired,
                        cert_info *info, char *err, size_t errlen) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL) {
    ssl_errf(err, errlen, "cannot create a TLS context for", cert);
    return NULL;
  }
  SSL_CTX_set_app_data(ctx, t);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  /* Small idle connections: record buffers go back while nothing is in flight. */
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  /* Stateless resumption only: no shared session cache to lock across loops. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 1);
  SSL_CTX_set_timeout(ctx, (long)t->lifetime); /* a session older than that: full */
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
  /* AES-128-GCM first: as strong as needed here and the cheapest per record.
   * TLS 1.2 suites by full name: an unknown alias ("ECDHE+AES128GCM" is
   * none) is dropped silently and OpenSSL's own order (AES-256 first) wins. */
  if (SSL_CTX_set_cipher_list(ctx, SRV_TLS12_CIPHERS) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                    "TLS_CHACHA20_POLY1305_SHA256") != 1 ||
      SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
    ssl_errf(err, errlen, "cannot set the TLS ciphers for", cert);
    goto fail;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
    ssl_errf(err, errlen, "cannot load the TLS certificate", cert);
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      ssl_errf(err, errlen, "the TLS key does not match the certificate", cert);
    else
      ssl_errf(err, errlen, "cannot load the TLS key", key);
    goto fail;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ssl_errf(err, errlen, "the TLS key does not match the certificate", cert);
    goto fail;
  }
  if (cert_window(ctx, cert, allow_expired, &info->not_after, err, errlen) != 0)
    goto fail;
  snprintf(info->file, sizeof info->file, "%s", cert);
  return ctx;
fail:
  SSL_CTX_free(ctx);
  return NULL;
}

bool srv_tls_wanted(const srv_config *cfg, int lis) {
  return cfg->tls_cert[0] != '\0' || (lis == 1 && cfg->admin_tls_cert[0] != '\0');
}

static void pair_of(const srv_config *cfg, int lis, const char **cert, const char **key) {
  if (lis == 1 && cfg->admin_tls_cert[0] != '\0') {
    *cert = cfg->admin_tls_cert;
    *key = cfg->admin_tls_key;
  } else {
    *cert = cfg->tls_cert;
    *key = cfg->tls_key;
  }
}

static int build(srv_tls *t, const srv_config *cfg, SSL_CTX *ctx[2], cert_info info[2], char *err,
                 size_t errlen) {
  ctx[0] = ctx[1] = NULL;
  for (int i = 0; i < 2; i++) {
    const char *cert, *key;
    if (!srv_tls_wanted(cfg, i))
      continue;
    pair_of(cfg, i, &cert, &key);
    if ((ctx[i] = ctx_new(t, cert, key, cfg->allow_expired_cert, &info[i], err, errlen)) == NULL) {
      SSL_CTX_free(ctx[0]);
      ctx[0] = NULL;
      return -1;
    }
  }
  return 0;
}

int srv_tls_new(const srv_config *cfg, srv_tls **out, char *err, size_t errlen) {
  srv_tls *t;
  *out = NULL;
  if (!srv_tls_wanted(cfg, 0) && !srv_tls_wanted(cfg, 1))
    return 0;
  if ((t = calloc(1, sizeof *t)) == NULL)
    return srv_errf(err, errlen, "out of memory");
  uv_mutex_init(&t->mu);
  uv_rwlock_init(&t->klock);
  t->lifetime = cfg->tls_ticket_lifetime_s >= SRV_TLS_TICKET_ROTATE_S
                    ? cfg->tls_ticket_lifetime_s
                    : SRV_TLS_TICKET_ROTATE_S;
  if (key_fresh(&t->keys[0]) != 0) {
    srv_tls_free(t);
    return srv_errf(err, errlen, "no randomness for the TLS ticket keys");
  }
  if (build(t, cfg, t->ctx, t->cert, err, errlen) != 0) {
    srv_tls_free(t);
    return -1;
  }
  t->on[0] = t->ctx[0] != NULL;
  t->on[1] = t->ctx[1] != NULL;
  *out = t;
  return 0;
}

int srv_tls_reload(srv_tls *t, const srv_config *cfg, char *err, size_t errlen) {
  SSL_CTX *ctx[2], *old[2];
  cert_info *info;
  for (int i = 0; i < 2; i++)
    if (srv_tls_wanted(cfg, i) != t->on[i])
      return srv_errf(err, errlen, "TLS cannot be switched %s on the %s listener by a reload; restart",
                      t->on[i] ? "off" : "on", i == 0 ? "public" : "admin");
  if ((info = calloc(2, sizeof *info)) == NULL)
    return srv_errf(err, errlen, "out of memory");
  if (build(t, cfg, ctx, info, err, errlen) != 0) {
    free(info);
    return -1;
  }
  uv_mutex_lock(&t->mu);
  for (int i = 0; i < 2; i++) {
    old[i] = t->ctx[i];
    t->ctx[i] = ctx[i];
    t->cert[i] = info[i];
  }
  uv_mutex_unlock(&t->mu);
  free(info);
  /* Open connections hold their own reference to the context they began with. */
  SSL_CTX_free(old[0]);
  SSL_CTX_free(old[1]);
  return 0;
}

void srv_tls_free(srv_tls *t) {
  if (t == NULL)
    return;
  SSL_CTX_free(t->ctx[0]);
  SSL_CTX_free(t->ctx[1]);
  OPENSSL_cleanse(t->keys, sizeof t->keys);
  uv_rwlock_destroy(&t->klock);
  uv_mutex_destroy(&t->mu);
  free(t);
}

bool srv_tls_enabled(const srv_tls *t, int lis) { return t != NULL && t->on[lis]; }

bool srv_tls_cert_end(srv_tls *t, int lis, int64_t *not_after) {
  if (!srv_tls_enabled(t, lis))
    return false;
  uv_mutex_lock(&t->mu);
  *not_after = t->cert[lis].not_after;
  uv_mutex_unlock(&t->mu);
  return true;
}

int srv_tls_cert_warning(srv_tls *t, int64_t now, char *msg, size_t len) {
  int pick = -1;
  msg[0] = '\0';
  if (t == NULL)
    return 0;
  uv_mutex_lock(&t->mu);
  for (int i = 0; i < 2; i++) /* the sooner of the two listeners' certificates */
    if (t->on[i] && t->cert[i].not_after - now < (int64_t)SRV_TLS_CERT_WARN_DAYS * 86400 &&
        (pick < 0 || t->cert[i].not_after < t->cert[pick].not_after))
      pick = i;
  if (pick >= 0) {
    int64_t left = t->cert[pick].not_after - now;
    time_t end = (time_t)t->cert[pick].not_after;
    struct tm tm;
    char when[64] = "?";
    if (gmtime_r(&end, &tm) != NULL)
      tm_text(&tm, when, sizeof when);
    if (left > 0)
      snprintf(msg, len,
               "the TLS certificate %s (%s listener) ends in %lld days (%s): renew it and send "
               "SIGHUP",
               t->cert[pick].file, pick == 0 ? "public" : "admin", (long long)(left / 86400), when);
    else
      snprintf(msg, len,
               "the TLS certificate %s (%s listener) ended on %s and is served only because of "
               "allow_expired_cert: renew it and send SIGHUP",
               t->cert[pick].file, pick == 0 ? "public" : "admin", when);
  }
  uv_mutex_unlock(&t->mu);
  return pick >= 0 ? 1 : 0;
}

void srv_tls_counts(const srv_tls *t, uint64_t *full, uint64_t *resumed, uint64_t *failed) {
  *full = t != NULL ? atomic_load(&t->full) : 0;
  *resumed = t != NULL ? atomic_load(&t->resumed) : 0;
  *failed = t != NULL ? atomic_load(&t->failed) : 0;
}

/* --- one connection ------------------------------------------------------------ */

srv_tls_conn *srv_tls_conn_new(srv_tls *t, int lis) {
  srv_tls_conn *tc = calloc(1, sizeof *tc);
  if (tc == NULL)
    return NULL;
  tc->t = t;
  uv_mutex_lock(&t->mu);
  tc->ssl = t->ctx[lis] != NULL ? SSL_new(t->ctx[lis]) : NULL; /* takes a reference on the ctx */
  uv_mutex_unlock(&t->mu);
  tc->rbio = BIO_new(BIO_s_mem());
  tc->wbio = BIO_new(BIO_s_mem());
  if (tc->ssl == NULL || tc->rbio == NULL || tc->wbio == NULL) {
    BIO_free(tc->rbio);
    BIO_free(tc->wbio);
    SSL_free(tc->ssl);
    free(tc);
    ERR_clear_error();
    return NULL;
  }
  /* An empty read BIO says "retry", not EOF: the socket may bring more. */
  BIO_set_mem_eof_return(tc->rbio, -1);
  BIO_set_mem_eof_return(tc->wbio, -1);
  SSL_set_bio(tc->ssl, tc->rbio, tc->wbio); /* the SSL owns both now */
  SSL_set_accept_state(tc->ssl);
  return tc;
}

static void count_failed(srv_tls_conn *tc) {
  if (!tc->counted && !tc->done && tc->got_bytes) {
    tc->counted = true;
    atomic_fetch_add(&tc->t->failed, 1);
  }
}

void srv_tls_conn_free(srv_tls_conn *tc) {
  if (tc == NULL)
    return;
  count_failed(tc);
  SSL_free(tc->ssl);
  srv_buf_free(&tc->out);
  free(tc);
}

/* Everything OpenSSL wrote goes to our output queue: after every SSL call. */
static int drain(srv_tls_conn *tc) {
  size_t n;
  while ((n = BIO_ctrl_pending(tc->wbio)) > 0) {
    int got;
    if (srv_buf_reserve(&tc->out, n) != 0)
      return -1;
    got = BIO_read(tc->wbio, tc->out.p + tc->out.len, (int)n);
    if (got <= 0)
      break;
    tc->out.len += (size_t)got;
  }
  return 0;
}

int srv_tls_feed(srv_tls_conn *tc, const void *p, size_t n) {
  if (n == 0)
    return 0;
  tc->got_bytes = true;
  return BIO_write(tc->rbio, p, (int)n) == (int)n ? 0 : -1;
}

/* An SSL call's result: AGAIN when OpenSSL waits for the peer. */
static int result(srv_tls_conn *tc, int ret) {
  int e = SSL_get_error(tc->ssl, ret);
  if (drain(tc) != 0)
    e = SSL_ERROR_SSL;
  switch (e) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE: /* a memory BIO is never full; treated like read */
    return SRV_TLS_AGAIN;
  case SSL_ERROR_ZERO_RETURN:
    return SRV_TLS_EOF;
  default:
    ERR_clear_error(); /* the queue is per thread: do not leave it to the next connection */
    count_failed(tc);
    tc->shut = tc->failed = true; /* no close_notify after a fatal error, nor more reads */
    return SRV_TLS_FAIL;
  }
}

int srv_tls_read(srv_tls_conn *tc, void *buf, size_t cap) {
  int n;
  if (tc->failed)
    return SRV_TLS_FAIL;
  if (!tc->done) {
    n = SSL_do_handshake(tc->ssl);
    if (n != 1)
      return result(tc, n);
    tc->done = tc->counted = true;
    atomic_fetch_add(SSL_session_reused(tc->ssl) ? &tc->t->resumed : &tc->t->full, 1);
    if (drain(tc) != 0)
      return SRV_TLS_FAIL;
  }
  /* Nothing buffered: spare the call that could only answer WANT_READ (after
   * every request of a keep-alive connection). */
  if (BIO_ctrl_pending(tc->rbio) == 0 && !SSL_has_pending(tc->ssl))
    return SRV_TLS_AGAIN;
  n = SSL_read(tc->ssl, buf, (int)(cap > INT32_MAX ? INT32_MAX : cap));
  if (n > 0) {
    if (drain(tc) != 0) /* a read may answer (key update, tickets) */
      return SRV_TLS_FAIL;
    return n;
  }
  return result(tc, n);
}

int srv_tls_write(srv_tls_conn *tc, const void *p, size_t n) {
  const char *q = p;
  if (!tc->done || tc->shut)
    return -1;
  while (n > 0) {
    int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
    int w = SSL_write(tc->ssl, q, chunk);
    if (w <= 0) {
      (void)result(tc, w);
      return -1;
    }
    q += w;
    n -= (size_t)w;
  }
  return drain(tc);
}

srv_buf *srv_tls_out(srv_tls_conn *tc) { return &tc->out; }

void srv_tls_shutdown(srv_tls_conn *tc) {
  if (!tc->done || tc->shut)
    return;
  tc->shut = true;
  if (SSL_shutdown(tc->ssl) < 0)
    ERR_clear_error();
  (void)drain(tc);
}

bool srv_tls_owes(const srv_tls_conn *tc) { return !tc->done || BIO_ctrl_pending(tc->rbio) > 0; }
bool srv_tls_ready(const srv_tls_conn *tc) { return tc->done; }
const char *srv_tls_version(const srv_tls_conn *tc) { return SSL_get_version(tc->ssl); }
bool srv_tls_resumed(const srv_tls_conn *tc) { return tc->done && SSL_session_reused(tc->ssl); }
