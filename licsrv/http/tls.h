/* http/tls.h - TLS for the listeners without sockets: one SSL_CTX per
 * listener shared by every loop (swapped on reload, open connections keep
 * theirs), session-ticket keys, and a connection's TLS state driven through
 * two memory BIOs, so conn.c (and the unit tests, the fuzzer) move the bytes. */
#ifndef LICSRV_HTTP_TLS_H
#define LICSRV_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/config.h"

#define SRV_TLS_TICKET_ROTATE_S 3600 /* a new ticket key every hour */
/* Keys kept: one per rotation of the longest tls_ticket_lifetime_s (7 days),
 * the current one, and the one a ticket of lifetime age was made with. */
#define SRV_TLS_TICKET_KEYS (604800 / SRV_TLS_TICKET_ROTATE_S + 2)
/* The TLS 1.2 suites in the server's order of preference (ECDHE only,
 * AEAD only, AES-128-GCM first; ECDSA and RSA certificates). */
#define SRV_TLS12_CIPHERS                                                                          \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                     \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                     \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define SRV_TLS_CERT_WARN_DAYS 30 /* /healthz warns this long before a served certificate ends */
#define SRV_TLS_RECORD_IN (16 * 1024 + 512) /* one TLS record with its overhead: one socket read */

typedef struct srv_tls srv_tls;
typedef struct srv_tls_conn srv_tls_conn;

/* Whether the config asks for TLS on listener lis (0 public, 1 admin). */
bool srv_tls_wanted(const srv_config *cfg, int lis);
/* The server's TLS state from cfg (tls_cert/tls_key, admin_tls_cert/key);
 * *out stays NULL when neither listener wants TLS. err: one line. */
int srv_tls_new(const srv_config *cfg, srv_tls **out, char *err, size_t errlen);
/* Build new contexts from the files cfg names and use them for new
 * connections; on any error (also a certificate expired or not yet valid,
 * unless cfg->allow_expired_cert) the old ones stay and err says why. */
int srv_tls_reload(srv_tls *t, const srv_config *cfg, char *err, size_t errlen);
void srv_tls_free(srv_tls *t);
/* When the certificate served on listener lis ends (notAfter, Unix
 * seconds); false when that listener has no TLS. */
bool srv_tls_cert_end(srv_tls *t, int lis, int64_t *not_after);
/* A served certificate that ends within SRV_TLS_CERT_WARN_DAYS of now (or
 * has ended): 1 and one line in msg naming the file; else 0, msg empty. */
int srv_tls_cert_warning(srv_tls *t, int64_t now, char *msg, size_t len);
bool srv_tls_enabled(const srv_tls *t, int lis);
/* A new ticket key now (otherwise done every SRV_TLS_TICKET_ROTATE_S). */
void srv_tls_rotate_tickets(srv_tls *t);
/* Tests: make every ticket key secs older, as if that time had passed (the
 * hourly rotation then happens at the next ticket issued; a key older than
 * an hour + tls_ticket_lifetime_s no longer decrypts). */
void srv_tls_tickets_backdate(srv_tls *t, int64_t secs);
/* Handshakes since start: completed full, resumed, failed. */
void srv_tls_counts(const srv_tls *t, uint64_t *full, uint64_t *resumed, uint64_t *failed);

/* One server-side connection on listener lis; NULL on OOM. */
srv_tls_conn *srv_tls_conn_new(srv_tls *t, int lis);
/* Counts an unfinished handshake as failed when the peer had sent bytes. */
void srv_tls_conn_free(srv_tls_conn *tc);

enum { SRV_TLS_AGAIN = 0, SRV_TLS_EOF = -1, SRV_TLS_FAIL = -2 };
/* Bytes from the socket. -1 on OOM. */
int srv_tls_feed(srv_tls_conn *tc, const void *p, size_t n);
/* Decrypted bytes into buf (drives the handshake first): n > 0, or
 * SRV_TLS_AGAIN (needs more input), SRV_TLS_EOF (close_notify), SRV_TLS_FAIL
 * (bad input, handshake failure: close). */
int srv_tls_read(srv_tls_conn *tc, void *buf, size_t cap);
/* Encrypt n bytes of plaintext into the output; 0, or -1 (close). Only
 * after the handshake. */
int srv_tls_write(srv_tls_conn *tc, const void *p, size_t n);
/* Ciphertext waiting for the socket (handshake, records, alerts): the
 * caller sends and consumes it. */
srv_buf *srv_tls_out(srv_tls_conn *tc);
/* A close_notify into the output (once, after a finished handshake). */
void srv_tls_shutdown(srv_tls_conn *tc);
/* Handshake unfinished, or part of a record buffered: the peer owes us bytes. */
bool srv_tls_owes(const srv_tls_conn *tc);
bool srv_tls_ready(const srv_tls_conn *tc);
/* ALPN and protocol of a finished handshake (for tests and logs). */
const char *srv_tls_version(const srv_tls_conn *tc);
bool srv_tls_resumed(const srv_tls_conn *tc);

#endif
