/* routes/common.h - helpers the routes share: admin requests (bearer auth and
 * store reads off the event loop, JSON answers), the trust store of
 * DATA/trusted, durable writes answered from the writer. */
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
/* The start of a public POST (verify, claim): the worker state, with the
 * machine binding holding and the body's type read into *msgpack_in; or NULL
 * after answering 503 (starting, machine_mismatch) or 415. */
app_worker *route_public_begin(srv_req *r, bool *msgpack_in);
/* The vendor root keys this server trusts: the built-in store plus the PEM
 * files in DATA/trusted (unreadable ones logged and skipped). Cached in the
 * worker and rebuilt only when a file there is added, removed or changed
 * (parsing PEM through OpenSSL's decoders costs more than a signature). */
/* The error text of an import refused by the trust store, with the fix for
 * an admin API caller (a key is trusted on the server, not per request). */
const char *route_trust_error(int rc, char *buf, size_t cap);
const lic_trust *route_trust(app_worker *w);
/* The vendor's revocation list this server keeps (DATA/revocations.rev, put
 * there by `licsrv import` once it verified), parsed and cached in the worker
 * until the file changes (looked at once a second at most: core/revlist.c;
 * a list imported while the server runs counts within a second); seq 0
 * (empty) when there is none or it no longer parses (logged). env and len (optional): its envelope bytes, NULL when
 * none; valid until the worker's next call. (revocations.c) */
const lic_revocations *route_revocations_kept(app_worker *w, const uint8_t **env, size_t *len);
/* Defer r into *slot and queue apply/done on the writer: done answers through
 * *slot after the commit and sync. false (after answering 503) when the reply
 * could not be deferred: then nothing was queued and the caller frees op. */
bool route_submit(srv_req *r, srv_deferred **slot, store_apply_fn apply, store_done_fn done,
                  void *op);

/* ---- admin requests ------------------------------------------------------
 * An admin request reads the store (its bearer token first of all), and on
 * PostgreSQL a read is a round trip that may hang: it must not run on the
 * event loop, where every verify would wait behind it. So every admin
 * handler is one route_admin_call: `prep` runs on the loop at once (parse
 * the query or body, verify signatures, build a write: nothing that reads
 * the store), then, through store_read_submit (off the loop on PostgreSQL,
 * inline on LMDB), the token is looked up and `run` reads what it needs on a
 * started reader and sets the answer. A write registered by prep or run
 * (route_call_write) is submitted once the token is known good, and answered
 * by its done callback after the commit. The answer is always deferred; an
 * answer prep set (a 400) is sent only after the token was found, so an
 * unauthenticated caller gets 401 whatever its body.
 *
 * Answers: 401 unknown token, 503 store_unavailable when the database
 * cannot be reached (or STORE_READQ_MAX reads wait already), 500
 * store_error otherwise. */
typedef struct route_call route_call;
typedef void (*route_prep_fn)(route_call *c, srv_req *r, app_worker *w);
typedef void (*route_run_fn)(route_call *c, store_reader *rd);
struct route_call {
  app *a;
  store_token tok;           /* the caller's token: set before run */
  void *arg;                 /* the handler's state from prep to run */
  void (*arg_free)(void *);  /* frees arg after the answer (NULL: free) */
  /* private to routes/common.c */
  srv_deferred *d;
  uint8_t hash[STORE_TOKEN_HASH_LEN];
  route_run_fn run;
  int status;                /* 0: no answer yet */
  char *text;                /* a JSON answer, or NULL: an error of code/message */
  char code[40];
  char *message;
  void *wop;
  srv_deferred **wslot;
  char *wtoken;
  store_apply_fn wapply;
  store_done_fn wdone;
  void (*wfree)(void *);
};
/* Answer the admin request r: the token checked, then prep (on the loop,
 * may be NULL), then run (off it, may be NULL). */
void route_admin_call(srv_req *r, route_prep_fn prep, route_run_fn run);
/* Set the answer (the first one set wins): doc consumed, NULL is 503. */
void route_call_json(route_call *c, int status, json_t *doc);
void route_call_error(route_call *c, int status, const char *code, const char *message);
/* A store error as its answer: 404 not_found, 503 store_unavailable, 500
 * store_error, with the error's detail line. */
void route_call_store_error(route_call *c, int rc);
/* After the token is found: *slot gets the deferred answer, token its name
 * (STORE_MAX_TOKEN_NAME + 1 bytes), then apply/done go to the writer and done
 * answers through *slot. When the request is answered otherwise (unknown
 * token, an error set meanwhile), op_free(op) instead. */
void route_call_write(route_call *c, srv_deferred **slot, char *token, store_apply_fn apply,
                      store_done_fn done, void *op, void (*op_free)(void *));

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
/* false after setting c's answer to 400 (bad limit, bad escape, unknown
 * parameter). */
bool route_page_args(srv_req *r, route_call *c, route_page *p);
/* POST /v1/verify on a public-mode server, after the body decoded (public.c). */
void route_public_verify(srv_req *r, app_worker *w, const srv_verify_req *q);

/* {KEY: envelope, chain: [one envelope]} in the asked encoding (a claim's
 * receipt, a public-mode verdict); *out is malloc'd. LIC_OK or LIC_NOMEM. */
int route_signed_body(bool msgpack, const char *key, const uint8_t *env, size_t elen,
                      const uint8_t *chain, size_t clen, char **out, size_t *outlen);

#endif
