/* route_util.c - what the routes share: admin bearer auth, JSON replies, the
 * trust store of DATA/trusted, and durable writes answered by the writer. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmds.h"
#include "log.h"
#include "route_util.h"

bool route_type_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

void route_reply_json(srv_req *r, int status, json_t *doc) {
  char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  if (text == NULL)
    srv_reply_error(r, 503, "unavailable", "out of memory");
  else
    srv_reply(r, status, "application/json", text, strlen(text));
  free(text);
  json_decref(doc);
}

/* The token's name, or NULL after answering 401. */
static const char *auth(srv_req *r, app_worker *w, store_token *tok) {
  const char *h = srv_req_authorization(r);
  uint8_t hash[STORE_TOKEN_HASH_LEN];
  if (strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
    srv_reply_error(r, 401, "unauthorized", "send Authorization: Bearer TOKEN (licsrv token add NAME)");
    return NULL;
  }
  licsrv_token_hash(h + 7, strlen(h + 7), hash);
  int rc = store_reader_begin(w->rd);
  if (rc == LIC_OK) {
    rc = store_token_lookup(w->rd, hash, tok);
    store_reader_end(w->rd);
  }
  if (rc != LIC_OK) {
    srv_reply_error(r, 401, "unauthorized", "unknown or revoked token");
    return NULL;
  }
  return tok->name;
}

app_worker *route_admin_begin(srv_req *r, store_token *tok) {
  app_worker *w = srv_req_worker_user(r);
  if (w == NULL) {
    srv_reply_error(r, 503, "unavailable", "server is starting or out of memory");
    return NULL;
  }
  return auth(r, w, tok) != NULL ? w : NULL;
}

void route_trust(app *a, lic_trust *t) {
  char dir[SRV_MAX_PATHNAME + 16], path[SRV_MAX_PATHNAME + 300];
  struct dirent *de;
  if (lic_trust_builtin(t) != LIC_OK)
    lic_trust_init(t);
  snprintf(dir, sizeof dir, "%s/%s", srv_server_config(a->srv)->data, ROUTE_TRUST_DIR);
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  while ((de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    if (n > 4 && strcmp(de->d_name + n - 4, ".pem") == 0) {
      snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
      if (lic_trust_add_file(t, path) != LIC_OK)
        srv_log(SRV_LOG_WARN, "trusted key unreadable", "error=\"%s\"", lic_errfull(LIC_KEY));
    }
  }
  closedir(d);
}

bool route_submit(srv_req *r, srv_deferred **slot, store_apply_fn apply, store_done_fn done,
                  void *op) {
  if ((*slot = srv_req_defer(r)) == NULL) {
    srv_reply_error(r, 503, "unavailable", "out of memory");
    return false;
  }
  app *a = srv_server_user(srv_worker_server(srv_req_worker(r)));
  if (store_submit(a->st, apply, done, op) != LIC_OK)
    done(op, LIC_IO, "the store is closing");
  return true;
}
