/* routes/status_page.c - GET / on the admin listener: the read-only status
 * page (HTML, CSS, a small script, the icon; status_page/, compiled in). The
 * page asks for an admin token and reads the admin JSON API with it; these
 * files themselves are public and carry no data. Strict CSP (no inline script
 * or style, nothing from elsewhere), no framing, no cookies, no caching.
 * GET /v1/admin/server tells the page (and scripts) which mode this server
 * serves, so it asks only for what this mode has. */
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/app.h"
#include "core/public.h"
#include "routes/common.h"
#include "routes/routes.h"
#include "routes/status_page.h"

/* Every answer of the page; the API answers are JSON and never rendered by
 * the browser as a document. */
#define PAGE_HEADERS                                                                            \
  "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "         \
  "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "                   \
  "frame-ancestors 'none'\r\n"                                                                  \
  "X-Frame-Options: DENY\r\n"                                                                   \
  "X-Content-Type-Options: nosniff\r\n"                                                         \
  "Referrer-Policy: no-referrer\r\n"                                                            \
  "Cross-Origin-Opener-Policy: same-origin\r\n"                                                 \
  "Cache-Control: no-store\r\n"

typedef struct {
  const char *path, *file, *ctype;
} page_file;

static const page_file FILES[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/status.css", "status.css", "text/css; charset=utf-8"},
    {"/status.js", "status.js", "text/javascript; charset=utf-8"},
    {"/favicon.ico", "favicon.ico", "image/x-icon"},
};

/* {mode, version} and, in public mode, the certificate this server signs
 * with now and when its last usable certificate ends (SPEC §4.6). Reads no
 * store but the certificates (cached a second by core/public.c). */
static void server_prep(route_call *c, srv_req *r, app_worker *w) {
  (void)r;
  app *a = w->a;
  json_t *o = json_pack("{s:s, s:s}", "mode", a->public_mode ? "public" : "private", "version",
                        LIC_VERSION);
  if (o != NULL && a->public_mode) {
    int64_t now = (int64_t)time(NULL), exp = 0;
    int64_t end = app_public_cert_end(a->pub, now);
    char kid[2 * LIC_KID_LEN + 1], why[200];
    if (app_public_current(a->pub, now, kid, &exp, why, sizeof why) == LIC_OK)
      json_object_set_new(o, "signing_kid", json_string(kid));
    else
      json_object_set_new(o, "signing_error", json_string(why));
    json_object_set_new(o, "cert_end", end != 0 ? json_integer(end) : json_null());
  }
  route_call_json(c, 200, o);
}

void route_admin_server(srv_req *r) { route_admin_call(r, server_prep, NULL); }

void route_status_page(srv_req *r) {
  const char *path = srv_req_path(r);
  for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++) {
    if (strcmp(FILES[i].path, path) != 0)
      continue;
    for (const route_asset *a = route_status_assets; a->name != NULL; a++)
      if (strcmp(a->name, FILES[i].file) == 0) {
        srv_reply_extra(r, 200, FILES[i].ctype, a->data, a->len, PAGE_HEADERS);
        return;
      }
  }
  srv_reply_error(r, 404, "not_found", "no such file of the status page");
}
