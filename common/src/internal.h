/* internal.h - helpers shared across liblic files (lic__ prefix), not exported. */
#ifndef LIC_INTERNAL_H
#define LIC_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/keys.h"
#include "lic/tls.h"

/* Record a detail line for the current thread and return err (lic_fail). */
#define lic__fail lic_fail
/* Same, appending the OpenSSL error queue's first entry (and clearing it). */
int lic__fail_ssl(int err, const char *what);
/* An exclusive fcntl OFD lock on all of fd (opened for writing): per open
 * file description and released when it closes, like flock(2), but it also
 * excludes POSIX record locks (Java's FileChannel.lock). wait: block until
 * granted; else fail at once with errno EAGAIN/EACCES. 0 or -1 (errno). */
int lic__lock_fd(int fd, bool wait);

/* A root-signed envelope of one type out of buf: decoded, its typ checked
 * (noun names it in the error: "an account"), its signature checked against
 * the trust store (envelope.c). */
int lic__envelope_open(const uint8_t *buf, size_t len, const char *typ, const char *noun,
                       const lic_trust *t, lic_envelope *env);
/* Read a file of one signed object (armored or raw), open it with open(buf,
 * len, t, out), and on success hand out its envelope bytes when env_out is
 * set (the *_load functions of license, account and cert). */
typedef int (*lic__open_fn)(const uint8_t *buf, size_t len, const lic_trust *t, void *out);
int lic__signed_load(const char *path, const lic_trust *t, lic__open_fn open, void *out,
                     uint8_t **env_out, size_t *env_len);

/* The OpenSSL key inside a lic_key (actcode.c keeps its own signing context). */
struct evp_pkey_st;
struct lic_key;
struct evp_pkey_st *lic__key_pkey(const struct lic_key *k);

/* POST req (application/msgpack, Accept: application/msgpack) to url + path
 * over HTTP, or TLS for https:// checked as tls says (NULL: the system store,
 * host name checked) (http_client.c): one request, Connection: close, the
 * whole exchange (connect, handshake, answer) within timeout_ms (0:
 * LIC__HTTP_TIMEOUT_MS). On LIC_OK *status is the HTTP status and *body
 * (malloc'd, at most max_response bytes) the body, whatever the status. */
#define LIC__HTTP_TIMEOUT_MS 10000
int lic__http_post_tls(const char *url, const lic_tls_opts *tls, const char *path,
                       const uint8_t *req, size_t reqlen, int timeout_ms, size_t max_response,
                       int *status, uint8_t **body, size_t *blen);
/* tls_resume.c: the session kept for key (NULL: none; the caller frees it),
 * and after a handshake the session to keep for it (taken; NULL: forget it)
 * and whether the handshake resumed. */
typedef struct ssl_session_st lic__ssl_session;
lic__ssl_session *lic__tls_resume_get(lic_tls_resume *r, const char *key);
void lic__tls_resume_put(lic_tls_resume *r, const char *key, lic__ssl_session *s, bool resumed);
/* The same with tls NULL. */
int lic__http_post(const char *url, const char *path, const uint8_t *req, size_t reqlen,
                   int timeout_ms, size_t max_response, int *status, uint8_t **body,
                   size_t *blen);

#endif
