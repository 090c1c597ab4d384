/* server.h - the HTTP server other licsrv modules plug into: routes, the
 * request a handler sees, replies (now or deferred, from any thread), health
 * checks, metrics and lifecycle hooks. */
#ifndef LICSRV_SERVER_H
#define LICSRV_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/config.h"
#include "util/metrics.h"

typedef struct srv_server srv_server;
typedef struct srv_worker srv_worker;
typedef struct srv_req srv_req;
typedef struct srv_deferred srv_deferred;

/* A handler runs on a worker loop and must answer exactly once: srv_reply /
 * srv_reply_error before returning, or srv_req_defer and later
 * srv_reply_deferred. Returning without either answers 500. The request and
 * everything its accessors return are valid only until the handler returns. */
typedef void (*srv_handler)(srv_req *req);

typedef enum { SRV_PUBLIC, SRV_ADMIN } srv_listener;

/* Lifecycle. srv_server_new copies cfg; err gets a one-line reason. */
int srv_server_new(const srv_config *cfg, srv_server **out, char *err, size_t errlen);
/* Routes are added before srv_server_start. method "GET", "POST", ...;
 * path matched exactly (no query). 0, or -1 when full or a duplicate. */
int srv_route_add(srv_server *s, const char *method, const char *path, srv_handler h);
int srv_admin_route_add(srv_server *s, const char *method, const char *path, srv_handler h);
/* Bind both listeners (port 0: any free port) and start the worker threads. */
int srv_server_start(srv_server *s, char *err, size_t errlen);
uint16_t srv_server_port(const srv_server *s);       /* after start */
uint16_t srv_server_admin_port(const srv_server *s); /* after start */
/* Drain: stop accepting, finish in-flight requests, close within
 * shutdown_timeout_ms. Any thread; returns at once. */
void srv_server_stop(srv_server *s);
/* Wait for the workers to end after srv_server_stop, then run the shutdown
 * hooks (in registration order). */
void srv_server_wait(srv_server *s);
/* Apply new limits (not addresses or threads) to every worker; any thread. */
void srv_server_reload(srv_server *s, const srv_limits *lim);
/* Load the TLS certificates and keys cfg names again (SIGHUP): new
 * connections use them, open ones keep the pair they began with. On error
 * (a missing or broken file) the old pair stays and err says why. */
int srv_server_reload_tls(srv_server *s, const srv_config *cfg, char *err, size_t errlen);
/* Whether listener lis speaks TLS. */
bool srv_server_tls(const srv_server *s, srv_listener lis);
void srv_server_free(srv_server *s);
/* A pointer for the embedding modules (the store, keys). */
void srv_server_set_user(srv_server *s, void *user);
void *srv_server_user(const srv_server *s);
const srv_config *srv_server_config(const srv_server *s);

/* Hooks, registered before start. Worker hooks run on the worker's thread
 * (start: before its first request; stop: after its last). The shutdown hook
 * runs in srv_server_wait once every worker ended: flush batched writes there. */
int srv_on_worker_start(srv_server *s, void (*fn)(srv_worker *w, void *arg), void *arg);
int srv_on_worker_stop(srv_server *s, void (*fn)(srv_worker *w, void *arg), void *arg);
int srv_on_shutdown(srv_server *s, void (*fn)(void *arg), void *arg);
/* A readiness check for GET /healthz: return 0 when ready, otherwise write a
 * short reason into msg; any failing check (< 0) turns /healthz into 503
 * naming it. A check returning > 0 is ready with a warning (a license about
 * to expire): /healthz stays 200 and lists msg under "warnings".
 * admin says which listener asks: the public one's msg is seen by anyone
 * who can reach it, so it names no customer and no license or account id
 * (the admin listener's may). Called on worker threads: be thread-safe and
 * quick. */
int srv_health_add(srv_server *s, const char *name,
                   int (*check)(void *arg, bool admin, char *msg, size_t msglen), void *arg);
/* Registry for module metrics (rendered after the HTTP ones on /metrics). */
srv_metrics *srv_server_metrics(srv_server *s);

/* Workers (one libuv loop and thread each). */
int srv_worker_id(const srv_worker *w);
srv_server *srv_worker_server(const srv_worker *w);
void *srv_worker_user(const srv_worker *w);
void srv_worker_set_user(srv_worker *w, void *user);

/* The request. Header values are "" when absent. */
const char *srv_req_method(const srv_req *r);
const char *srv_req_path(const srv_req *r);
const char *srv_req_query(const srv_req *r); /* raw text after '?', "" when none */
const char *srv_req_content_type(const srv_req *r);
const char *srv_req_accept(const srv_req *r);
const char *srv_req_authorization(const srv_req *r); /* never log it */
const struct sockaddr *srv_req_remote(const srv_req *r);  /* raw peer address */
const char *srv_req_remote_text(const srv_req *r); /* masked unless log_full_ips */
const uint8_t *srv_req_body(const srv_req *r, size_t *len);
srv_worker *srv_req_worker(const srv_req *r);
void *srv_req_worker_user(const srv_req *r);
srv_listener srv_req_listener(const srv_req *r);
/* Whether the answer should be MessagePack: Accept, else the request's
 * Content-Type, else JSON. */
bool srv_req_wants_msgpack(const srv_req *r);

/* Replies: body copied into the connection's output. */
void srv_reply(srv_req *r, int status, const char *content_type, const void *body, size_t len);
/* The same with extra header lines ("Name: value\r\n" each, or NULL). */
void srv_reply_extra(srv_req *r, int status, const char *content_type, const void *body, size_t len,
                     const char *extra);
/* {error: CODE, message: TEXT} as JSON or MessagePack (srv_req_wants_msgpack). */
void srv_reply_error(srv_req *r, int status, const char *code, const char *message);
/* The same with extra header lines ("Retry-After: 5\r\n"), or NULL. */
void srv_reply_error_extra(srv_req *r, int status, const char *code, const char *message,
                           const char *extra);
/* Answer later. The handle stays valid until passed to srv_reply_deferred*,
 * which may be called from any thread exactly once, and before the shutdown
 * hooks return (never after srv_server_free). NULL on OOM: answer 503 now. Responses keep request
 * order on the connection; if the client left meanwhile the reply is dropped. */
srv_deferred *srv_req_defer(srv_req *r);
void srv_reply_deferred(srv_deferred *d, int status, const char *content_type, const void *body,
                        size_t len);
void srv_reply_deferred_error(srv_deferred *d, int status, const char *code,
                              const char *message);

#endif
