/* routes/common.h - helpers the routes share: admin bearer auth, JSON replies,
 * the trust store of DATA/trusted, durable writes answered from the writer. */
#ifndef LICSRV_ROUTE_UTIL_H
#define LICSRV_ROUTE_UTIL_H

#include <stdbool.h>

#include <jansson.h>

#include "core/app.h"
#include "core/request.h"
#include "lic/keys.h"
#include "http/server.h"
#include "store/store.h"

#define ROUTE_TRUST_DIR "trusted" /* DATA/trusted holds extra root PEMs */

/* Content-Type equals want (parameters after ';' ignored). */
bool route_type_is(const char *ct, const char *want);
/* Reply doc (consumed) as compact JSON; 503 when doc is NULL. */
void route_reply_json(srv_req *r, int status, json_t *doc);
/* The start of a public POST (verify, claim): the worker state, with the
 * machine binding holding and the body's type read into *msgpack_in; or NULL
 * after answering 503 (starting, machine_mismatch) or 415. */
app_worker *route_public_begin(srv_req *r, bool *msgpack_in);
/* The worker state of an admin request whose bearer token is valid (its
 * record in *tok), or NULL after answering 401/503. */
app_worker *route_admin_begin(srv_req *r, store_token *tok);
/* The vendor root keys this server trusts: the built-in store plus the PEM
 * files in DATA/trusted (unreadable ones logged and skipped). Cached in the
 * worker and rebuilt only when a file there is added, removed or changed
 * (parsing PEM through OpenSSL's decoders costs more than a signature). */
const lic_trust *route_trust(app_worker *w);
/* Defer r into *slot and queue apply/done on the writer: done answers through
 * *slot after the commit and sync. false (after answering 503) when the reply
 * could not be deferred: then nothing was queued and the caller frees op. */
bool route_submit(srv_req *r, srv_deferred **slot, store_apply_fn apply, store_done_fn done,
                  void *op);

/* Admin listings come in pages: ?limit=N (1..ROUTE_PAGE_MAX, default
 * ROUTE_PAGE_DEFAULT) and ?after=CURSOR (percent-decoded), the cursor being
 * the "next" of the previous page. */
#define ROUTE_PAGE_DEFAULT 1000
#define ROUTE_PAGE_MAX     10000
typedef struct {
  size_t limit;
  bool has_after;
  char after[400];
} route_page;
/* false after answering 400 (bad limit, bad escape, unknown parameter). */
bool route_page_args(srv_req *r, route_page *p);
/* POST /v1/verify on a public-mode server, after the body decoded (public.c). */
void route_public_verify(srv_req *r, app_worker *w, const srv_verify_req *q);

/* {KEY: envelope, chain: [one envelope]} in the asked encoding (a claim's
 * receipt, a public-mode verdict); *out is malloc'd. LIC_OK or LIC_NOMEM. */
int route_signed_body(bool msgpack, const char *key, const uint8_t *env, size_t elen,
                      const uint8_t *chain, size_t clen, char **out, size_t *outlen);

#endif
