/* core/watch.c - expiry is never a surprise (issue 15, SPEC §4.6): /healthz
 * warns (still 200) from LICSRV_EXPIRY_WARN_DAYS before a license expires
 * (unless a renewal of it takes over: its lineage goes on) or, in public
 * mode, before the last usable online-key certificate ends; /metrics has each
 * license's expiry time and the certificates' end; the log warns once a day.
 * All read the store, so an import or revoke from the shell shows at once.
 * The public listener's /healthz names no customer and no license id (anyone
 * who reaches it reads it); the admin listener's does. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/app.h"
#include "core/expiry.h"
#include "core/lineage_store.h"
#include "lic/err.h"
#include "util/log.h"

typedef int (*terms_cb)(const licsrv_terms *t, void *arg);

typedef struct {
  terms_cb fn;
  void *arg;
  bool skip_renewed;
  srv_lineages lin;
} terms_walk;

static int terms_each_cb(const store_license *sl, void *arg) {
  terms_walk *w = arg;
  licsrv_terms t;
  licsrv_terms_read(sl, &t);
  if (w->skip_renewed && t.expires != 0 && srv_lineages_renewed(&w->lin, t.id, t.expires))
    return 0;
  return w->fn(&t, w->arg);
}

/* Every license's terms through a one-shot reader (any thread); with
 * skip_renewed not those whose lineage goes on after them. */
static int terms_each(app *a, terms_cb fn, void *arg, bool skip_renewed) {
  store_reader *rd = NULL;
  terms_walk w = {fn, arg, skip_renewed, {0}};
  int rc = store_reader_new(a->st, &rd);
  if (rc == LIC_OK && (rc = store_reader_begin(rd)) == LIC_OK) {
    if (!skip_renewed || (rc = srv_lineages_read(rd, &w.lin)) == LIC_OK)
      rc = store_license_each(rd, terms_each_cb, &w);
    store_reader_end(rd);
  }
  store_reader_free(rd);
  srv_lineages_clear(&w.lin);
  return rc;
}

/* ---- /metrics ---------------------------------------------------------------------------- */

static int metric_row(const licsrv_terms *t, void *arg) {
  char id[LIC_UUID_LEN + 1];
  if (!t->readable || t->expires == 0) /* a perpetual license has no series */
    return 0;
  lic_uuid_format(t->id, id);
  srv_buf_printf(arg, "licsrv_license_expiry_timestamp_seconds{license=\"%s\"} %lld\n", id,
                 (long long)t->expires);
  return 0;
}

static void metric_family(void *arg, srv_buf *out) {
  terms_each(arg, metric_row, out, false);
}

static double metric_cert_end(void *arg) {
  app *a = arg;
  return (double)app_public_cert_end(a->pub, (int64_t)time(NULL));
}

/* ---- the online-key certificates (public mode) ------------------------------------------- */

/* The warning for the last usable certificate, or "" when it is not near. */
static void cert_text(app *a, int64_t now, char *buf, size_t cap) {
  int64_t end = app_public_cert_end(a->pub, now);
  char until[LIC_UNTIL_LEN];
  buf[0] = '\0';
  if (end == 0 || licsrv_days_left(end, now) >= LICSRV_EXPIRY_WARN_DAYS)
    return; /* none usable is the license check's failure, not a warning */
  int64_t days = licsrv_days_left(end, now);
  lic_until_format(end, until);
  snprintf(buf, cap,
           "the last usable online-key certificate ends in %lld day%s (%s): certify the online "
           "key again and import it (docs/public.md)",
           (long long)days, days == 1 ? "" : "s", until);
}

/* ---- /healthz ---------------------------------------------------------------------------- */

typedef struct {
  int64_t now;
  int near;
  licsrv_terms soonest;
} near_scan;

static int near_row(const licsrv_terms *t, void *arg) {
  near_scan *n = arg;
  if (!licsrv_expiry_near(t, n->now))
    return 0;
  if (n->near++ == 0 || t->expires < n->soonest.expires)
    n->soonest = *t;
  return 0;
}

/* The soonest license as the public listener may say it: no id, no customer. */
static void anon_text(const licsrv_terms *t, int64_t now, char *buf, size_t cap) {
  char until[LIC_UNTIL_LEN], at[21];
  int64_t days = licsrv_days_left(t->expires, now);
  lic_until_format(t->expires, until);
  lic_time_format(t->expires, at);
  if (t->expires <= now)
    snprintf(buf, cap, "a license ended at %s", at);
  else
    snprintf(buf, cap, "a license ends in %lld day%s (%s)", (long long)days,
             days == 1 ? "" : "s", until);
}

/* Asked at most once a second, like the license check. */
static int health_expiry(void *arg, bool admin, char *msg, size_t len) {
  app *a = arg;
  int64_t now = (int64_t)time(NULL);
  int r;
  pthread_mutex_lock(&a->emu);
  if (now != a->expiry_checked) {
    near_scan n;
    memset(&n, 0, sizeof n);
    n.now = now;
    a->expiry_why[0] = a->expiry_anon[0] = '\0';
    if (a->public_mode) { /* accounts end by their own terms; the certificate is the server's */
      cert_text(a, now, a->expiry_why, sizeof a->expiry_why);
      snprintf(a->expiry_anon, sizeof a->expiry_anon, "%s", a->expiry_why);
    } else if (terms_each(a, near_row, &n, true) == LIC_OK && n.near > 0) {
      char one[200], anon[200], more[80] = "";
      licsrv_expiry_text(&n.soonest, now, one, sizeof one);
      anon_text(&n.soonest, now, anon, sizeof anon);
      if (n.near > 1)
        snprintf(more, sizeof more, "; %d more licenses within %d days", n.near - 1,
                 LICSRV_EXPIRY_WARN_DAYS);
      snprintf(a->expiry_why, sizeof a->expiry_why, "%s%s", one, more);
      snprintf(a->expiry_anon, sizeof a->expiry_anon, "%s%s", anon, more);
    }
    a->expiry_checked = now;
  }
  r = a->expiry_why[0] != '\0' ? 1 : 0;
  snprintf(msg, len, "%s", admin ? a->expiry_why : a->expiry_anon);
  pthread_mutex_unlock(&a->emu);
  return r;
}

/* ---- the log ----------------------------------------------------------------------------- */

static int log_row(const licsrv_terms *t, void *arg) {
  app *a = arg;
  int64_t now = (int64_t)time(NULL);
  char text[200], q[240], id[LIC_UUID_LEN + 1];
  if (!licsrv_expiry_near(t, now) || !licsrv_expiry_log_due(&a->expiry_log, t->id, now))
    return 0;
  licsrv_expiry_text(t, now, text, sizeof text);
  lic_uuid_format(t->id, id);
  srv_log(SRV_LOG_WARN, "license_expiry", "license=%s days_left=%lld detail=%s", id,
          (long long)licsrv_days_left(t->expires, now), srv_log_quote(text, strlen(text), q, sizeof q));
  return 0;
}

/* The log's memory of the certificate warning: an id no license has. */
static const uint8_t CERT_LOG_ID[LIC_ID_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};

static void cert_log(app *a, int64_t now) {
  char text[320], q[400], date[11];
  int64_t end = app_public_cert_end(a->pub, now);
  cert_text(a, now, text, sizeof text);
  if (text[0] == '\0' || !licsrv_expiry_log_due(&a->expiry_log, CERT_LOG_ID, now))
    return;
  lic_date_format(end, date);
  srv_log(SRV_LOG_WARN, "cert_expiry", "ends=%s days_left=%lld detail=%s", date,
          (long long)licsrv_days_left(end, now), srv_log_quote(text, strlen(text), q, sizeof q));
}

void app_expiry_tick(app *a) {
  int rc = LIC_OK;
  pthread_mutex_lock(&a->emu);
  if (a->public_mode)
    cert_log(a, (int64_t)time(NULL));
  else
    rc = terms_each(a, log_row, a, true);
  pthread_mutex_unlock(&a->emu);
  if (rc != LIC_OK) {
    char q[900];
    srv_log(SRV_LOG_ERROR, "license_expiry_check", "error=%s", SRV_LOG_Q(lic_errfull(rc), q));
  }
}

int app_expiry_attach(app *a) {
  pthread_mutex_init(&a->emu, NULL);
  a->emu_init = true;
  if (srv_metrics_family(srv_server_metrics(a->srv), "licsrv_license_expiry_timestamp_seconds",
                         "When each license expires (Unix seconds; perpetual ones have none)",
                         metric_family, a) != 0 ||
      (a->public_mode &&
       srv_metrics_gauge_fn(srv_server_metrics(a->srv), "licsrv_cert_expiry_seconds", NULL,
                            "When the last usable online-key certificate of this server ends "
                            "(Unix seconds; 0 when none is usable)",
                            metric_cert_end, a) == NULL) ||
      srv_health_add(a->srv, "expiry", health_expiry, a) != 0)
    return lic_fail(LIC_NOMEM, "cannot register hooks");
  return LIC_OK;
}
