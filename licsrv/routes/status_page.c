/* routes/status_page.c - GET / on the admin listener: the read-only status
 * page (HTML, CSS, a small script, the icon; status_page/, compiled in). The
 * page asks for an admin token and reads the admin JSON API with it; these
 * files themselves are public and carry no data. Strict CSP (no inline script
 * or style, nothing from elsewhere), no framing, no cookies, no caching. */
#include <string.h>

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
