/* routes/revocations.c - GET /v1/revocations (public listener): the newest
 * signed revocation list this server was given with `licsrv import`
 * (DATA/revocations.rev), 404 when none (docs/api.md, docs/revocation.md).
 * The list was verified on import; clients verify it again (root key).
 * Also the worker's parsed copy the verify and claim routes act on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/app.h"
#include "core/revlist.h"
#include "lic/b64.h"
#include "lic/envelope.h"
#include "lic/fileio.h"
#include "lic/revocations.h"
#include "routes/common.h"
#include "routes/routes.h"
#include "util/log.h"

const lic_revocations *route_revocations_kept(app_worker *w, const uint8_t **env, size_t *len) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
  return app_revlist_get(&w->rev, srv_server_config(w->a->srv)->data,
                         (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, env, len);
}

/* {revocations: envelope} in the asked encoding; *out malloc'd. */
static int body_of(bool msgpack, const uint8_t *env, size_t len, char **out, size_t *outlen) {
  *out = NULL;
  *outlen = 0;
  if (msgpack) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 1) != 0 || lic_mp_pack_cstr(&pk, "revocations") != 0 ||
        lic_mp_pack_bin(&pk, env, len) != 0) {
      msgpack_sbuffer_destroy(&sb);
      return LIC_NOMEM;
    }
    *out = sb.data; /* transferred */
    *outlen = sb.size;
    return LIC_OK;
  }
  char *b64 = NULL;
  size_t n = 0;
  json_t *doc = NULL;
  int rc = LIC_NOMEM;
  if (lic_b64_encode(env, len, LIC_B64_URL, &b64, &n) == LIC_OK &&
      (doc = json_pack("{s:s}", "revocations", b64)) != NULL &&
      (*out = json_dumps(doc, JSON_COMPACT)) != NULL) {
    *outlen = strlen(*out);
    rc = LIC_OK;
  }
  json_decref(doc);
  free(b64);
  return rc;
}

void route_revocations(srv_req *r) {
  app_worker *w = srv_req_worker_user(r);
  char path[SRV_MAX_PATHNAME + 32], *out = NULL;
  uint8_t *env = NULL;
  size_t len = 0, outlen = 0;
  int rc;

  if (w == NULL) {
    srv_reply_error(r, 503, "unavailable", "server is starting or out of memory");
    return;
  }
  snprintf(path, sizeof path, "%s/%s", srv_server_config(w->a->srv)->data, LIC_REVOCATIONS_FILE);
  /* One small file (at most one envelope), read when asked: an import by
   * `licsrv import` while the server runs is served at once. */
  rc = lic_file_read_regular(path, LIC_MAX_ENVELOPE, &env, &len);
  if (rc == LIC_NOTFOUND) {
    srv_reply_error(r, 404, "not_found", "no revocation list was imported on this server");
    return;
  }
  if (rc != LIC_OK) {
    srv_reply_error(r, 500, "store_error", "the kept revocation list cannot be read");
    return;
  }
  bool mp = srv_req_wants_msgpack(r);
  if (body_of(mp, env, len, &out, &outlen) != LIC_OK) {
    free(env);
    srv_reply_error(r, 503, "unavailable", "out of memory");
    return;
  }
  srv_reply(r, 200, mp ? "application/msgpack" : "application/json", out, outlen);
  free(out);
  free(env);
}
