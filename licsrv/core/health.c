/* health.c - what `licsrv serve` says of itself: the /healthz checks (license,
 * machine, clock, store and, for a shared store, its reachability) and the
 * /metrics counters and gauges, each gauge one row of a table. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/app.h"
#include "lic/err.h"

/* Every verify answers clock_rollback while this fails: say so, with the way out. */
static int health_clock(void *arg, bool admin, char *msg, size_t len) {
  (void)admin;
  int64_t behind;
  if (!app_clock_rolled_back(arg, (int64_t)time(NULL), &behind)) {
    msg[0] = '\0';
    return 0;
  }
  snprintf(msg, len,
           "clock_rollback: the clock is %lld s behind the high-water mark; if the clock is right "
           "now (the mark came from a forward jump), run 'licsrv clock reset'",
           (long long)behind);
  return -1;
}

static int health_machine(void *arg, bool admin, char *msg, size_t len) {
  app *a = arg;
  if (app_machine_ok(a, (int64_t)time(NULL), msg, len))
    return 0;
  if (!admin) /* the message names the license: only the admin listener says which */
    snprintf(msg, len, "this machine is not the one a license is bound to (the admin "
                       "listener's /healthz and the log say which)");
  return -1;
}

/* /healthz is polled hard (load balancers, benchmarks): the store is asked
 * at most once a second. */
static int health_license(void *arg, bool admin, char *msg, size_t len) {
  (void)admin;
  app *a = arg;
  int64_t now = (int64_t)time(NULL);
  int r;
  if (a->public_mode) { /* public mode: a certified online key to sign with */
    char kid[2 * LIC_KID_LEN + 1];
    int64_t exp;
    return app_public_current(a->pub, now, kid, &exp, msg, len) == LIC_OK ? 0 : -1;
  }
  pthread_mutex_lock(&a->hmu);
  if (now != a->license_checked) {
    store_reader *rd = NULL;
    store_license sl;
    int rc = store_reader_new(a->st, &rd);
    if (rc == LIC_OK && (rc = store_reader_begin(rd)) == LIC_OK) {
      rc = store_license_only(rd, &sl);
      if (rc == LIC_OK)
        store_license_clear(&sl);
      store_reader_end(rd);
    }
    store_reader_free(rd);
    a->license_ok = rc == LIC_OK || rc == LIC_EXISTS;
    snprintf(a->license_why, sizeof a->license_why, "%s",
             a->license_ok ? "" : rc == LIC_NOTFOUND ? "no license imported" : lic_errfull(rc));
    a->license_checked = now;
  }
  r = a->license_ok ? 0 : -1;
  snprintf(msg, len, "%s", a->license_why);
  pthread_mutex_unlock(&a->hmu);
  return r;
}

/* The store (PostgreSQL) unreachable: verify still answers from the read
 * copy, so this is a warning (a load balancer keeps the process), naming
 * what fails: writes answer 503 store_unavailable until it is back. */
static int health_shared_store(void *arg, bool admin, char *msg, size_t len) {
  (void)admin;
  store_health h;
  store_health_get(((app *)arg)->st, &h);
  if (h.writable && (!h.cached || h.cache_fresh))
    return 0;
  snprintf(msg, len, "%s store unreachable: %s; verify answers from a copy %lld s old%s",
           store_backend_name(((app *)arg)->st),
           h.writable ? "writes work" : "writes answer 503 store_unavailable",
           (long long)(h.cache_age_ms / 1000), h.cache_fresh ? "" : " (change feed lost)");
  return 1;
}

/* A full map fails durable writes and holds heartbeats back: not ready. */
static int health_store(void *arg, bool admin, char *msg, size_t len) {
  (void)admin;
  app *a = arg;
  store_stats st;
  uint64_t used = 0, map = 0;
  store_stats_get(a->st, &st);
  if (!st.full) {
    msg[0] = '\0';
    return 0;
  }
  store_size(a->st, &used, &map);
  snprintf(msg, len,
           "store map full (%llu of %llu bytes): imports and claims fail, heartbeats wait in "
           "memory; run 'licsrv purge' or raise store_map_size",
           (unsigned long long)used, (unsigned long long)map);
  return -1;
}

/* ---- gauges: one row each; gauge() reads the row's value -------------------------- */

enum { FOR_ALL, FOR_LMDB, FOR_SHARED }; /* which stores a gauge is shown for */

static const struct {
  const char *name, *help;
  int shown;
} GAUGES[APP_GAUGE_MAX_] = {
    [APP_G_LMDB_USED] = {"licsrv_lmdb_used_bytes", "Bytes in use in the LMDB map", FOR_LMDB},
    [APP_G_LMDB_MAP] = {"licsrv_lmdb_map_bytes", "Size of the LMDB map", FOR_LMDB},
    [APP_G_STORE_UP] = {"licsrv_store_up", "1 when the store takes writes, 0 while they answer 503",
                        FOR_SHARED},
    [APP_G_CACHE_FRESH] = {"licsrv_store_cache_fresh",
                           "1 when the read copy's change feed (LISTEN) is connected", FOR_SHARED},
    [APP_G_CACHE_AGE] = {"licsrv_store_cache_age_seconds",
                         "Seconds since the read copy was last reloaded whole", FOR_SHARED},
    [APP_G_CACHE_RELOADS] = {"licsrv_store_cache_reloads",
                             "Reads of the database into the read copy after a change since "
                             "start (a row, an account, the certificates, everything)",
                             FOR_SHARED},
    [APP_G_CACHE_NOTICE_ROWS] = {"licsrv_store_cache_notice_rows",
                                 "Registrations another process changed, taken into the read "
                                 "copy from its notice without a read, since start",
                                 FOR_SHARED},
    [APP_G_STORE_OPS] = {"licsrv_store_operations",
                         "Writes applied since start (durable operations and batch flushes)", FOR_ALL},
    [APP_G_STORE_COMMITS] = {"licsrv_store_commits",
                             "Synced LMDB commits since start (one per group of writes)", FOR_ALL},
    [APP_G_STORE_SYNCS] = {"licsrv_store_syncs",
                           "LMDB commits synced to disk since start (0 under the bench-only "
                           "LICSRV_BENCH_NOSYNC=1)",
                           FOR_ALL},
    [APP_G_STORE_SHARED] = {"licsrv_store_shared_syncs",
                            "Of the synced LMDB commits, those made durable by the next "
                            "commit's sync instead of one of their own (more writes were queued)",
                            FOR_LMDB},
    [APP_G_STORE_ROUND_TRIPS] = {"licsrv_store_round_trips",
                                 "PostgreSQL: the writer's waits for the database's answers "
                                 "since start (a group of registrations: one)",
                                 FOR_SHARED},
    [APP_G_STORE_FULL] = {"licsrv_store_full",
                          "1 while the LMDB map is full (writes fail; heartbeats wait in memory)",
                          FOR_ALL},
    [APP_G_STORE_BATCH_FAILURES] = {"licsrv_store_batch_failures",
                                    "Heartbeat batches that could not be written (kept for the "
                                    "next try)",
                                    FOR_ALL},
    [APP_G_SEAT_NODES] = {"licsrv_seat_nodes",
                          "Nodes in the seat tables (only nodes that were granted a seat)", FOR_ALL},
    [APP_G_SEAT_EVICTIONS] = {"licsrv_seat_evictions",
                              "Idle nodes evicted from a full seat table since start", FOR_ALL},
    [APP_G_FAILURES] = {"licsrv_failure_list_entries", "Entries in the per-license failure lists",
                        FOR_ALL},
    [APP_G_CLOCK_ROLLBACK] = {"licsrv_clock_rollback",
                              "1 while the clock is behind the high-water mark (verifies answer "
                              "clock_rollback)",
                              FOR_ALL},
    [APP_G_CLOCK_BEHIND] = {"licsrv_clock_behind_seconds",
                            "Seconds the clock is behind the high-water mark (0 when not)", FOR_ALL},
    [APP_G_CLOCK_HWM] = {"licsrv_clock_high_water_seconds", "The clock high-water mark (Unix time)",
                         FOR_ALL},
};

/* Called at scrape time with &a->gauges[id]: a snapshot of the part asked. */
static double gauge(void *arg) {
  const app_gauge *g = arg;
  app *a = g->a;
  store_stats st;
  store_health h;
  srv_seats_stats ss;
  uint64_t used = 0, map = 0;
  int64_t behind;
  switch (g->id) {
  case APP_G_LMDB_USED:
  case APP_G_LMDB_MAP:
    store_size(a->st, &used, &map);
    return (double)(g->id == APP_G_LMDB_USED ? used : map);
  case APP_G_STORE_UP:
  case APP_G_CACHE_FRESH:
  case APP_G_CACHE_AGE:
  case APP_G_CACHE_RELOADS:
  case APP_G_CACHE_NOTICE_ROWS:
    store_health_get(a->st, &h);
    return g->id == APP_G_STORE_UP        ? (h.writable ? 1 : 0)
           : g->id == APP_G_CACHE_FRESH   ? (h.cache_fresh ? 1 : 0)
           : g->id == APP_G_CACHE_RELOADS ? (double)h.cache_reloads
           : g->id == APP_G_CACHE_NOTICE_ROWS ? (double)h.cache_notice_rows
                                              : (double)h.cache_age_ms / 1000.0;
  case APP_G_STORE_OPS:
  case APP_G_STORE_COMMITS:
  case APP_G_STORE_SYNCS:
  case APP_G_STORE_SHARED:
  case APP_G_STORE_ROUND_TRIPS:
  case APP_G_STORE_FULL:
  case APP_G_STORE_BATCH_FAILURES:
    store_stats_get(a->st, &st);
    return g->id == APP_G_STORE_OPS       ? (double)st.ops
           : g->id == APP_G_STORE_COMMITS ? (double)st.commits
           : g->id == APP_G_STORE_SYNCS   ? (double)st.syncs
           : g->id == APP_G_STORE_SHARED  ? (double)st.shared
           : g->id == APP_G_STORE_ROUND_TRIPS ? (double)st.round_trips
           : g->id == APP_G_STORE_FULL    ? (st.full ? 1 : 0)
                                          : (double)st.batch_failures;
  case APP_G_SEAT_NODES:
  case APP_G_SEAT_EVICTIONS:
  case APP_G_FAILURES:
    srv_seats_stats_get(a->seats, &ss);
    return g->id == APP_G_SEAT_NODES       ? (double)ss.nodes
           : g->id == APP_G_SEAT_EVICTIONS ? (double)ss.evicted
                                           : (double)ss.failures;
  case APP_G_CLOCK_ROLLBACK:
    return app_clock_rolled_back(a, (int64_t)time(NULL), &behind) ? 1 : 0;
  case APP_G_CLOCK_BEHIND:
    app_clock_rolled_back(a, (int64_t)time(NULL), &behind);
    return (double)behind;
  case APP_G_CLOCK_HWM:
    return (double)atomic_load(&a->hwm);
  default:
    return 0;
  }
}

int app_health_attach(app *a) {
  srv_metrics *m = srv_server_metrics(a->srv);
  bool lmdb = strcmp(store_backend_name(a->st), "lmdb") == 0;
  for (int i = 0; i < LIC_STATUS_MAX_; i++) {
    char labels[64];
    snprintf(labels, sizeof labels, "status=\"%s\"", lic_status_name((lic_status)i));
    a->verdicts[i] = srv_metrics_counter(m, "licsrv_verdicts_total", labels, "Signed verdicts by status");
  }
  a->machine_mismatch = srv_metrics_counter(m, "licsrv_machine_mismatch_total", NULL,
                                            "Verify requests refused: this machine is not the licensed one");
  for (int i = 0; i < APP_GAUGE_MAX_; i++) {
    a->gauges[i] = (app_gauge){a, i};
    if (GAUGES[i].shown == FOR_ALL || (GAUGES[i].shown == FOR_LMDB) == lmdb)
      srv_metrics_gauge_fn(m, GAUGES[i].name, NULL, GAUGES[i].help, gauge, &a->gauges[i]);
  }
  if (srv_health_add(a->srv, "license", health_license, a) != 0 ||
      srv_health_add(a->srv, "machine", health_machine, a) != 0 ||
      srv_health_add(a->srv, "clock", health_clock, a) != 0 ||
      srv_health_add(a->srv, "store", health_store, a) != 0 ||
      (!lmdb && srv_health_add(a->srv, "postgresql", health_shared_store, a) != 0))
    return lic_fail(LIC_NOMEM, "cannot register hooks");
  return LIC_OK;
}
