/* core/watch.c - expiry is never a surprise (issue 15): /healthz warns (still
 * 200) from LICSRV_EXPIRY_WARN_DAYS before a license expires, unless a renewal
 * of it takes over (its lineage goes on), /metrics has each license's expiry
 * time, and the log warns once a day. All read the licenses from the store,
 * so an import or revoke from the shell shows at once. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/app.h"
#include "core/expiry.h"
#include "core/lineage_store.h"
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

/* Asked at most once a second, like the license check. */
static int health_expiry(void *arg, char *msg, size_t len) {
  app *a = arg;
  int64_t now = (int64_t)time(NULL);
  int r;
  pthread_mutex_lock(&a->emu);
  if (now != a->expiry_checked) {
    near_scan n;
    memset(&n, 0, sizeof n);
    n.now = now;
    a->expiry_why[0] = '\0';
    if (terms_each(a, near_row, &n, true) == LIC_OK && n.near > 0) {
      char one[200];
      licsrv_expiry_text(&n.soonest, now, one, sizeof one);
      if (n.near > 1)
        snprintf(a->expiry_why, sizeof a->expiry_why, "%s; %d more licenses within %d days", one,
                 n.near - 1, LICSRV_EXPIRY_WARN_DAYS);
      else
        snprintf(a->expiry_why, sizeof a->expiry_why, "%s", one);
    }
    a->expiry_checked = now;
  }
  r = a->expiry_why[0] != '\0' ? 1 : 0;
  snprintf(msg, len, "%s", a->expiry_why);
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

void app_expiry_tick(app *a) {
  pthread_mutex_lock(&a->emu);
  int rc = terms_each(a, log_row, a, true);
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
                         metric_family, a) != 0)
    return -1;
  return srv_health_add(a->srv, "expiry", health_expiry, a);
}
