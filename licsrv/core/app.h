/* app.h - what `licsrv serve` runs on top of the HTTP server: the store, the
 * node key, seats, the server's own machine binding, and the routes. */
#ifndef LICSRV_APP_H
#define LICSRV_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "lic/err.h"
#include "lic/license.h"
#include "lic/revocations.h"
#include "lic/verdict.h"
#include "util/config.h"
#include "util/metrics.h"
#include "core/acctlimit.h"
#include "core/nodelimit.h"
#include "core/public.h"
#include "core/expiry.h"
#include "core/lineage.h"
#include "core/lock.h"
#include "core/seats.h"
#include "http/server.h"
#include "store/store.h"

#define APP_MACHINE_CHECK_S 3600 /* re-check our own machine binding hourly */

typedef struct app app;

/* One stored license as a worker keeps it (app_lineages). */
typedef struct {
  uint8_t id[LIC_ID_LEN];
  uint8_t *env; /* envelope bytes the parse came from */
  size_t len;
  bool revoked;
  bool usable;  /* parsed, and certifies our node key */
  lic_license lic;
  char why[160]; /* why not usable */
} app_stored;

/* A worker's copy of the stored licenses and their lineages, rebuilt when
 * the store's licenses change (compared at every lookup: same ids, bytes and
 * revocations; parsed again only then). */
typedef struct {
  bool loaded;
  app_stored *v;
  size_t n;
  srv_lin_entry *e; /* the usable ones */
  size_t *ix;       /* e[j] is v[ix[j]] */
  srv_lineage g;
} app_lineages;

/* What a verify is answered for (app_license): valid until the worker's
 * next lookup. */
typedef struct {
  const lic_license *lic; /* in force, else the one giving the denial; NULL: none */
  bool revoked;
  bool in_force;
  const uint8_t *env;     /* its envelope, for the verdict's chain */
  size_t len;
  uint8_t key[LIC_ID_LEN]; /* its lineage's key: the id node seats are kept under */
} app_answer;

/* DATA/revocations.rev as a worker keeps it (core/revlist.c): read again
 * when the file changes (a `licsrv import` while the server runs), which is
 * looked at no more than once a second. */
typedef struct {
  bool loaded;
  int64_t checked_ms; /* monotonic ms of the last look at the file */
  int64_t sig[4]; /* inode, size, mtime of the file read; all 0: none */
  uint8_t *env;   /* its envelope bytes, NULL when none */
  size_t len;
  lic_revocations rv; /* parsed; seq 0 when none */
} app_revlist;

/* The /metrics gauges (health.c: their names, help and values). */
enum {
  APP_G_LMDB_USED, APP_G_LMDB_MAP, APP_G_STORE_UP, APP_G_CACHE_FRESH, APP_G_CACHE_AGE,
  APP_G_CACHE_RELOADS, APP_G_CACHE_NOTICE_ROWS,
  APP_G_STORE_OPS, APP_G_STORE_COMMITS, APP_G_STORE_SYNCS, APP_G_STORE_SHARED,
  APP_G_STORE_ROUND_TRIPS, APP_G_STORE_FULL, APP_G_STORE_BATCH_FAILURES, APP_G_SEAT_NODES,
  APP_G_SEAT_EVICTIONS, APP_G_FAILURES,
  APP_G_CLOCK_ROLLBACK, APP_G_CLOCK_BEHIND, APP_G_CLOCK_HWM, APP_GAUGE_MAX_
};
typedef struct {
  app *a;
  int id;
} app_gauge;

/* Per worker loop: nothing here is shared between threads. */
typedef struct {
  app *a;
  store_reader *rd;
  lic_signer *signer;
  msgpack_sbuffer body, env, out;
  app_lineages lin; /* the stored licenses, parsed, while their bytes stay the same */
  /* The trust store of route_trust(), rebuilt when DATA/trusted changes. */
  lic_trust trust;
  uint64_t trust_sig;
  bool trust_loaded;
  /* Public mode: the signer of the current online key, parsed accounts. */
  app_pub_signer psign;
  app_pub_cache pcache;
  app_revlist rev; /* the vendor's revocation list this server holds */
} app_worker;

struct app {
  srv_server *srv;
  store *st;
  store_meta meta;
  lic_key *node;
  srv_seats *seats;
  srv_app_settings set;       /* failure list, node caps, node secret */
  pthread_mutex_t smu;        /* node_secret's hash: replaced whole on SIGHUP */
  bool secret_set;
  uint8_t secret_hash[32];
  srv_nodelimit *newnodes;    /* new node names per client address and hour */
  srv_acctlimit *acctrate;    /* public mode: requests per account and minute */
  srv_nodelimit *acctnodes;   /* public mode: new node names per account and hour */
  srv_nodelimit *acctchurn;   /* public mode: registrations freed per account and hour */
  _Atomic uint32_t store_quota; /* public mode: account_store_quota (read on the writer) */
  /* Seat releases written by `licsrv release` (audit entries "release"),
   * picked up at most once a second by the first verify of that second. */
  _Atomic int64_t release_poll_sec;
  pthread_mutex_t rmu;
  int64_t release_since;
  uint64_t release_seq;
  _Atomic int64_t hwm;        /* clock high-water mark */
  /* The server's own machine against its licenses (SPEC §4 private mode). */
  pthread_mutex_t mmu;
  int64_t machine_checked;
  bool machine_ok, machine_logged, machine_had; /* had: a license was checked */
  char machine_why[200];
  pthread_mutex_t hmu; /* the license readiness check, cached a second */
  int64_t license_checked;
  bool license_ok;
  char license_why[200];
  /* Expiry (watch.c): the /healthz warning cached a second, the log's memory. */
  pthread_mutex_t emu;
  bool emu_init;
  int64_t expiry_checked;
  char expiry_why[320];     /* for the admin listener: names the license and customer */
  char expiry_anon[320];    /* for the public listener: names nobody */
  licsrv_expiry_log expiry_log;
  srv_counter *verdicts[LIC_STATUS_MAX_];
  srv_counter *machine_mismatch;
  app_gauge gauges[APP_GAUGE_MAX_]; /* each gauge's argument */
  /* Public mode (meta.mode "public"): no node key, no machine binding. */
  bool public_mode;
  app_public *pub;
  app_pub_signer wsign;       /* used by writer-thread completions only */
  uint32_t registration_ttl_days;
  pthread_t purger;           /* the daily release of idle registrations */
  bool purger_started, purger_stop;
  pthread_mutex_t pmu;
  pthread_cond_t pcv;
  srv_lock lock; /* this data directory and node key are ours alone */
};

/* Open the data directory's store and node key, register hooks and health
 * checks (the routes are routes/'s: routes_install).
 * LIC_OK, or a LIC_* code with a one-line detail (lic_errdetail). */
int app_attach(srv_server *s, const char *data_dir, const srv_app_settings *set, app **out);
void app_free(app *a);

/* The license a request is answered for (SPEC §4.6, docs/server.md): the
 * license in force now of the lineage holding id (any id of it), or with id
 * NULL of the only lineage (of several: the only one in force). LIC_NOTFOUND
 * when none resolves, or the store's error; either way out->lic is NULL and
 * why has the reason the verdict gives (unknown_license). */
int app_license(app_worker *w, const uint8_t *id, int64_t now, app_answer *out, char *why,
                size_t cap);
/* A license certifying our node key, for the chain of a claim receipt: the
 * first one that is not revoked (a malloc'd copy of its envelope). LIC_NOTFOUND
 * when there is none. */
int app_certifying_license(app_worker *w, uint8_t **env, size_t *len);
/* The machine binding: true when it holds (re-checked hourly). */
bool app_machine_ok(app *a, int64_t now, char *why, size_t cap);
/* Re-check the machine binding now (SIGHUP), logging a change. */
void app_machine_recheck(app *a);
/* Apply what other processes wrote to the audit log since the last look:
 * seat releases (`licsrv release`) and clock resets (`licsrv clock reset`).
 * At most once a second, cheap otherwise. */
void app_audit_poll(app_worker *w, int64_t now);
/* The same look at once, whatever the second: before a verify is denied
 * seats_exhausted, so a `licsrv release` that has returned holds for the next
 * verify. True when it freed a seat. */
bool app_audit_poll_now(app_worker *w);
/* A clock reset is audited as APP_CLOCK_RESET_ACTION, subject "clock:NEW_MARK". */
#define APP_CLOCK_RESET_ACTION "clock_reset"
/* Whether the clock is behind the high-water mark by more than the slack
 * (every verify is then clock_rollback); *behind gets the seconds. */
bool app_clock_rolled_back(app *a, int64_t now, int64_t *behind);
/* A verify's secret against node_secret (constant time; true when none is set). */
bool app_secret_ok(app *a, const char *given);
/* SIGHUP: node_secret and new_nodes_per_hour from a reloaded configuration
 * apply at once; the others (seat table sizes, the map size) are logged as
 * waiting for the next start. */
void app_reload(app *a, const srv_app_settings *set);
/* Expiry (watch.c): register the /healthz check and the /metrics family
 * (from app_attach); LIC_OK, or LIC_NOMEM "cannot register hooks".
 * app_expiry_tick logs a warning for each license within
 * LICSRV_EXPIRY_WARN_DAYS of expiry, once a day each: call it at start and
 * then every APP_EXPIRY_TICK_S. */
#define APP_EXPIRY_TICK_S 600
int app_expiry_attach(app *a);
void app_expiry_tick(app *a);
/* The /healthz checks and the /metrics counters and gauges (health.c, from
 * app_attach); LIC_OK, or LIC_NOMEM "cannot register hooks". */
int app_health_attach(app *a);
/* Move the clock high-water mark forward (batched to the store). */
void app_clock_note(app *a, int64_t now);

#endif
