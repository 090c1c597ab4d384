/* verify_client.h - what a report server embeds: ask a license server for a
 * signed verdict and check the whole chain (root -> license -> verdict). */
#ifndef LIC_VERIFY_CLIENT_H
#define LIC_VERIFY_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "lic/api.h"
#include "lic/cert.h"
#include "lic/keys.h"
#include "lic/license.h"
#include "lic/tls.h"
#include "lic/verdict.h"

#define LIC_VERIFY_MAX_RESPONSE (256 * 1024)
#define LIC_VERIFY_DEFAULT_SKEW 300 /* s the server clock may differ from ours */

typedef struct {
  const char *url;          /* https://HOST:PORT or http:// (path /v1/verify is added) */
  const lic_trust *trust;   /* vendor root keys */
  const uint8_t *license;   /* license id, or NULL when the server holds one */
  const char *domain;       /* this report server's access domain name */
  int64_t port;             /* and port */
  const char *app;          /* NULL when not given */
  const char *version;      /* product version "11.0.18", NULL when not given */
  const char *node;         /* this report-server instance id */
  int timeout_ms;           /* whole exchange; 0 = 10 s */
  int64_t max_skew;         /* 0 = LIC_VERIFY_DEFAULT_SKEW */
  const char *secret;       /* the server's node_secret, NULL when it has none */
  const lic_tls_opts *tls;  /* https:// : CA file or pins; NULL = system store (kept by
                               a session: it must outlive it) */
  /* Public mode (instead of license): the account, its token (a secret: never
   * sent over plain HTTP to a host other than loopback) and this install's
   * project id; project (its name) for lic_register. */
  const uint8_t *account;
  const char *token;
  const uint8_t *project_id;
  const char *project;
  /* Private mode: the seq of the revocation list the caller keeps (0 = none,
   * not sent). A server keeping a newer list sends it with the answer
   * (lic_verify_result.revocations; docs/revocation.md). */
  int64_t revocations_seq;
} lic_verify_opts;

#define LIC_MAX_NODE_SECRET 256

/* Read a node secret file: at most LIC_MAX_NODE_SECRET bytes of text (one
 * trailing newline dropped), mode 0600 or stricter (LIC_INSECURE otherwise).
 * out gets the NUL-terminated secret; wipe it after use. */
LIC_API int lic_secret_file_read(const char *path, char out[LIC_MAX_NODE_SECRET + 1]);

typedef struct {
  int http_status;
  lic_verdict verdict;      /* the server's signed verdict (checked) */
  lic_license license;      /* the license from the chain (checked) */
  bool unchecked;           /* a denial sent without a chain: its signature could not be
                             * checked (license is empty); never set for valid */
  /* What lic_verify_response checked, kept so the answer can be stored and
   * checked again later (lic_session persists it): the response body
   * (malloc'd), our nonce and the local time it was checked at. */
  uint8_t *body;
  size_t body_len;
  uint8_t nonce[LIC_NONCE_MAX];
  size_t nonce_len;
  int64_t checked_at;
  /* Public mode: the chain held this online-key certificate (checked root ->
   * cert -> verdict) instead of a license. */
  bool public_mode;
  lic_cert cert;
  /* The vendor's revocation list the server sent with a checked answer
   * (envelope bytes inside body, NOT verified: open them with
   * lic_revocations_remember), NULL when none. Valid while body is. */
  const uint8_t *revocations;
  size_t revocations_len;
} lic_verify_result;

/* One verify exchange. LIC_OK means the chain, the nonce, the clock and the
 * license's own terms for our domain/port all check; the caller then looks at
 * res->verdict.status (valid or a denial). Any other code means no
 * trustworthy verdict was obtained (network, HTTP error, forged or
 * mismatched response), with a detail line. */
LIC_API int lic_verify(const lic_verify_opts *o, lic_verify_result *res);
LIC_API void lic_verify_result_clear(lic_verify_result *res);

/* Public mode: POST /v1/register (o->account, token, project_id, project,
 * domain, port, node; app, version optional) and POST /v1/unregister
 * (account, token, project_id). LIC_OK means a checked verdict, as for
 * lic_verify: valid = the project holds a slot (register), not_registered =
 * the slot is free (unregister); capacity_exhausted, bad_credentials ... are
 * trustworthy denials. */
LIC_API int lic_register(const lic_verify_opts *o, lic_verify_result *res);
LIC_API int lic_unregister(const lic_verify_opts *o, lic_verify_result *res);

/* The checks on a response body, separated for tests and other transports:
 * body is the MessagePack {verdict, chain} document. On LIC_OK res also
 * holds a copy of body, the nonce and now (see lic_verify_result). */
LIC_API int lic_verify_response(const lic_verify_opts *o, const uint8_t *nonce, size_t nonce_len,
                                int64_t now, const uint8_t *body, size_t len,
                                lic_verify_result *res);

#endif
