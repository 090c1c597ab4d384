/* app.c - the license server proper: store, node key, seats, machine binding,
 * per-worker state; wires itself into the HTTP server (health checks and
 * metrics: health.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "core/app.h"
#include "core/datadir.h"
#include "core/decide.h"
#include "lic/envelope.h"
#include "lic/machine.h"
#include "util/array.h"
#include "util/log.h"

static void worker_start(srv_worker *sw, void *arg) {
  app *a = arg;
  app_worker *w = calloc(1, sizeof *w);
  if (w == NULL)
    return; /* the handler answers 503 without a worker state */
  w->a = a;
  msgpack_sbuffer_init(&w->body);
  msgpack_sbuffer_init(&w->env);
  msgpack_sbuffer_init(&w->out);
  if (store_reader_new(a->st, &w->rd) != LIC_OK ||
      (!a->public_mode && lic_signer_new(a->node, &w->signer) != LIC_OK)) {
    char q[40];
    srv_log(SRV_LOG_ERROR, "worker_state", "worker=%d error=%s", srv_worker_id(sw),
            SRV_LOG_Q(lic_errfull(LIC_NOMEM), q));
    store_reader_free(w->rd);
    lic_signer_free(w->signer);
    free(w);
    return;
  }
  srv_worker_set_user(sw, w);
}

static void lin_free(app_lineages *c);

static void worker_stop(srv_worker *sw, void *arg) {
  app_worker *w = srv_worker_user(sw);
  (void)arg;
  if (w == NULL)
    return;
  lin_free(&w->lin);
  msgpack_sbuffer_destroy(&w->body);
  msgpack_sbuffer_destroy(&w->env);
  msgpack_sbuffer_destroy(&w->out);
  store_reader_free(w->rd);
  lic_signer_free(w->signer);
  app_pub_signer_clear(&w->psign);
  app_pub_cache_clear(&w->pcache);
  free(w->rev.env);
  lic_revocations_clear(&w->rev.rv);
  free(w);
  srv_worker_set_user(sw, NULL);
}

static void on_shutdown(void *arg) {
  app *a = arg;
  /* Admin reads still queued are answered now, while the server they answer
   * through exists (and before the flush: their writes go in it). */
  store_read_quiesce(a->st);
  int rc = store_flush(a->st); /* batched heartbeats and the clock mark */
  char q[900];
  if (rc != LIC_OK)
    srv_log(SRV_LOG_ERROR, "flush_at_shutdown", "error=%s", SRV_LOG_Q(lic_errfull(rc), q));
}

/* Parse an envelope from the store. Its root signature was verified at import
 * (the store lives in the 0700 data directory); here we decode strictly and
 * check it still certifies our node key. */
static int parse_stored(app *a, const uint8_t *env, size_t len, lic_license *l) {
  lic_envelope e;
  int rc;
  if ((rc = lic_envelope_decode(env, len, &e)) != LIC_OK)
    return rc;
  if (strcmp(e.typ, "license") != 0)
    return lic_fail(LIC_TYPE, "stored record is a %s", e.typ);
  if ((rc = lic_license_parse(e.body, e.body_len, l)) != LIC_OK)
    return rc;
  if (!l->has_node_key || memcmp(l->node_key, a->meta.node_pub, LIC_PUBKEY_LEN) != 0) {
    lic_license_clear(l);
    return lic_fail(LIC_UNTRUSTED, "stored license certifies another node key");
  }
  return LIC_OK;
}

static void lin_free(app_lineages *c) {
  for (size_t i = 0; i < c->n; i++) {
    free(c->v[i].env);
    lic_license_clear(&c->v[i].lic);
  }
  free(c->v);
  free(c->e);
  free(c->ix);
  srv_lineage_clear(&c->g);
  memset(c, 0, sizeof *c);
}

/* Whether the store still holds what the worker parsed: the same ids,
 * revocations and envelope bytes, in the same (id) order. */
typedef struct {
  const app_lineages *c;
  size_t i;
  bool differ;
} lin_cmp;

static int lin_cmp_cb(const store_license *sl, void *arg) {
  lin_cmp *k = arg;
  const app_stored *s = k->i < k->c->n ? &k->c->v[k->i] : NULL;
  k->i++;
  if (s == NULL || memcmp(s->id, sl->id, LIC_ID_LEN) != 0 || s->revoked != sl->revoked ||
      s->len != sl->env_len || memcmp(s->env, sl->env, sl->env_len) != 0) {
    k->differ = true;
    return 1; /* stop */
  }
  return 0;
}

typedef struct {
  app *a;
  app_stored *v;
  size_t n, cap;
} lin_load;

static int lin_load_cb(const store_license *sl, void *arg) {
  lin_load *L = arg;
  if (srv_array_reserve(&L->v, &L->cap, L->n + 1, 8) != LIC_OK)
    return LIC_NOMEM;
  app_stored *s = &L->v[L->n];
  memset(s, 0, sizeof *s);
  if ((s->env = malloc(sl->env_len)) == NULL)
    return LIC_NOMEM;
  memcpy(s->env, sl->env, sl->env_len);
  memcpy(s->id, sl->id, LIC_ID_LEN);
  s->len = sl->env_len;
  s->revoked = sl->revoked;
  L->n++;
  int rc = parse_stored(L->a, s->env, s->len, &s->lic);
  s->usable = rc == LIC_OK;
  if (!s->usable) {
    char id[LIC_UUID_LEN + 1], q[400];
    lic_uuid_format(sl->id, id);
    snprintf(s->why, sizeof s->why, "stored license unusable: %s", lic_errfull(rc));
    srv_log(SRV_LOG_ERROR, "stored_license", "license=%s error=%s", id,
            SRV_LOG_Q(lic_errfull(rc), q));
  }
  return 0;
}

/* Bring the worker's copy of the stored licenses up to date (reader begun):
 * a walk comparing bytes at every lookup; parsed and grouped again only
 * when the licenses changed (an import, a revocation). */
static int lin_refresh(app_worker *w) {
  app_lineages *c = &w->lin, nc;
  int rc;
  if (c->loaded) {
    lin_cmp k = {c, 0, false};
    rc = store_license_each(w->rd, lin_cmp_cb, &k);
    if (!k.differ && rc != LIC_OK)
      return rc;
    if (!k.differ && k.i == c->n)
      return LIC_OK;
  }
  lin_load L = {w->a, NULL, 0, 0};
  memset(&nc, 0, sizeof nc);
  rc = store_license_each(w->rd, lin_load_cb, &L);
  nc.v = L.v;
  nc.n = L.n;
  if (rc == LIC_OK) {
    size_t m = 0;
    nc.e = calloc(L.n + 1, sizeof *nc.e);
    nc.ix = calloc(L.n + 1, sizeof *nc.ix);
    if (nc.e == NULL || nc.ix == NULL)
      rc = LIC_NOMEM;
    for (size_t i = 0; rc == LIC_OK && i < L.n; i++)
      if (L.v[i].usable) {
        nc.e[m].lic = &L.v[i].lic;
        nc.e[m].revoked = L.v[i].revoked;
        nc.ix[m++] = i;
      }
    if (rc == LIC_OK)
      rc = srv_lineage_build(&nc.g, nc.e, m);
  }
  if (rc != LIC_OK) {
    lin_free(&nc);
    return rc;
  }
  lin_free(c);
  *c = nc;
  c->loaded = true;
  return LIC_OK;
}

bool app_license(app_worker *w, const uint8_t *id, int64_t now, app_answer *out, char *why,
                 size_t cap) {
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = store_reader_begin(w->rd)) == LIC_OK) {
    rc = lin_refresh(w);
    store_reader_end(w->rd);
  }
  if (rc != LIC_OK) {
    snprintf(why, cap, "store: %s", lic_errfull(rc));
    return false;
  }
  app_lineages *c = &w->lin;
  size_t i = srv_lineage_resolve(&c->g, id, now, why, cap);
  if (i == SRV_LIN_NONE) {
    for (size_t j = 0; id != NULL && j < c->n; j++)
      if (!c->v[j].usable && memcmp(c->v[j].id, id, LIC_ID_LEN) == 0)
        snprintf(why, cap, "%s", c->v[j].why);
    return false;
  }
  const app_stored *s = &c->v[c->ix[i]];
  out->lic = &s->lic;
  out->revoked = s->revoked;
  out->in_force = srv_lineage_in_force(&c->e[i], now);
  out->env = s->env;
  out->len = s->len;
  memcpy(out->key, c->e[c->g.key[i]].lic->id, LIC_ID_LEN);
  return true;
}

typedef struct {
  app *a;
  uint8_t *env;
  size_t len;
} certifier;

static int certifier_cb(const store_license *sl, void *arg) {
  certifier *c = arg;
  lic_license l;
  if (sl->revoked || parse_stored(c->a, sl->env, sl->env_len, &l) != LIC_OK)
    return 0;
  lic_license_clear(&l);
  if ((c->env = malloc(sl->env_len)) == NULL)
    return LIC_NOMEM;
  memcpy(c->env, sl->env, sl->env_len);
  c->len = sl->env_len;
  return 1; /* found: stop */
}

int app_certifying_license(app_worker *w, uint8_t **env, size_t *len) {
  certifier c = {w->a, NULL, 0};
  int rc;
  *env = NULL;
  *len = 0;
  if ((rc = store_reader_begin(w->rd)) != LIC_OK)
    return rc;
  rc = store_license_each(w->rd, certifier_cb, &c);
  store_reader_end(w->rd);
  if (c.env == NULL)
    return rc == LIC_OK || rc == 1 ? lic_fail(LIC_NOTFOUND, "no license certifies this node") : rc;
  *env = c.env;
  *len = c.len;
  return LIC_OK;
}

typedef struct {
  app *a;
  const lic_machine *m;
  int checked, bound;
  char why[200];
} mcheck;

static int machine_cb(const store_license *sl, void *arg) {
  mcheck *c = arg;
  lic_license l;
  if (sl->revoked || parse_stored(c->a, sl->env, sl->env_len, &l) != LIC_OK)
    return 0;
  c->checked++;
  if (lic_machine_matches(c->m, l.machine_code, l.macs, l.nmacs))
    c->bound++;
  else if (c->why[0] == '\0') {
    char id[LIC_UUID_LEN + 1];
    lic_uuid_format(l.id, id);
    snprintf(c->why, sizeof c->why, "this machine (%s) is not the one license %s is bound to",
             c->m->code, id);
  }
  lic_license_clear(&l);
  return 0;
}

/* One check of our machine against every live license. */
static bool machine_check(app *a, int *checked, char *why, size_t cap) {
  lic_machine m;
  store_reader *rd = NULL;
  mcheck c = {a, &m, 0, 0, ""};
  int rc;
  *checked = 0;
  if ((rc = lic_machine_read(&m)) != LIC_OK) {
    snprintf(why, cap, "cannot read this machine: %s", lic_errfull(rc));
    return false;
  }
  if ((rc = store_reader_new(a->st, &rd)) != LIC_OK || (rc = store_reader_begin(rd)) != LIC_OK) {
    store_reader_free(rd);
    snprintf(why, cap, "store: %s", lic_errfull(rc));
    return false;
  }
  store_license_each(rd, machine_cb, &c);
  store_reader_end(rd);
  store_reader_free(rd);
  *checked = c.checked;
  if (c.checked > 0 && c.bound < c.checked) {
    snprintf(why, cap, "%s", c.why);
    return false;
  }
  why[0] = '\0';
  return true;
}

bool app_machine_ok(app *a, int64_t now, char *why, size_t cap) {
  bool ok;
  if (a->public_mode) { /* no machine information exists in public mode */
    if (cap > 0)
      why[0] = '\0';
    return true;
  }
  pthread_mutex_lock(&a->mmu);
  if (a->machine_checked == 0 || now - a->machine_checked >= APP_MACHINE_CHECK_S) {
    char w[200], q[420];
    bool was = a->machine_ok;
    int n;
    a->machine_ok = machine_check(a, &n, w, sizeof w);
    snprintf(a->machine_why, sizeof a->machine_why, "%s", w);
    a->machine_checked = now;
    if (!a->machine_logged || was != a->machine_ok || (n > 0) != a->machine_had) {
      /* logged once per change; with no license there is nothing to hold */
      if (!a->machine_ok)
        srv_log(SRV_LOG_ERROR, "machine_mismatch", "reason=%s", SRV_LOG_Q(a->machine_why, q));
      else if (n > 0)
        srv_log(SRV_LOG_INFO, "machine_binding", "result=holds licenses=%d", n);
      else
        srv_log(SRV_LOG_INFO, "machine_binding", "result=unchecked reason=\"no license imported\"");
      a->machine_logged = true;
      a->machine_had = n > 0;
    }
  }
  ok = a->machine_ok;
  snprintf(why, cap, "%s", a->machine_why);
  pthread_mutex_unlock(&a->mmu);
  return ok;
}

void app_machine_recheck(app *a) {
  char why[200];
  pthread_mutex_lock(&a->mmu);
  a->machine_checked = 0;
  pthread_mutex_unlock(&a->mmu);
  app_machine_ok(a, (int64_t)time(NULL), why, sizeof why);
}

void app_clock_note(app *a, int64_t now) {
  int64_t hw = atomic_load(&a->hwm);
  /* At most one store note per second of progress. */
  while (now > hw) {
    if (atomic_compare_exchange_weak(&a->hwm, &hw, now)) {
      store_clock_hwm_note(a->st, now);
      return;
    }
  }
}

typedef struct {
  app *a;
  uint64_t seq;
  int64_t time;
  size_t released; /* seats this walk freed */
} release_walk;

static int release_cb(const store_audit *e, void *arg) {
  release_walk *rw = arg;
  uint8_t id[LIC_ID_LEN];
  if (e->seq <= rw->seq)
    return 0;
  rw->seq = e->seq;
  rw->time = e->time;
  if (strcmp(e->action, APP_CLOCK_RESET_ACTION) == 0 && strncmp(e->subject, "clock:", 6) == 0) {
    int64_t t;
    if (lic_parse_int(e->subject + 6, 0, INT64_MAX, &t) == LIC_OK) {
      atomic_store(&rw->a->hwm, t);
      srv_log(SRV_LOG_WARN, "clock_mark_reset", "by=cli mark=%lld", (long long)t);
    }
    return 0;
  }
  if (strcmp(e->action, SRV_RELEASE_ACTION) != 0)
    return 0;
  const char *s = e->subject + 5; /* "node:" */
  if (strncmp(e->subject, "node:", 5) == 0 && strlen(s) > LIC_UUID_LEN + 1 &&
      s[LIC_UUID_LEN] == '/' && lic_uuid_parse(s, LIC_UUID_LEN, id) == LIC_OK &&
      srv_seats_release(rw->a->seats, id, s + LIC_UUID_LEN + 1)) {
    rw->released++;
    srv_log(SRV_LOG_INFO, "seat_released", "by=cli license=%.*s", (int)LIC_UUID_LEN, s);
  }
  return 0;
}

/* Read the audit log since the last look and apply it; true when a seat
 * was released. */
static bool audit_scan(app_worker *w) {
  app *a = w->a;
  pthread_mutex_lock(&a->rmu);
  release_walk rw = {a, a->release_seq, a->release_since, 0};
  if (store_reader_begin(w->rd) == LIC_OK) {
    store_audit_each(w->rd, a->release_since, NULL, release_cb, &rw);
    store_reader_end(w->rd);
  }
  a->release_seq = rw.seq;
  a->release_since = rw.time; /* entries of the same second may still come */
  pthread_mutex_unlock(&a->rmu);
  return rw.released > 0;
}

void app_audit_poll(app_worker *w, int64_t now) {
  app *a = w->a;
  int64_t last = atomic_load(&a->release_poll_sec);
  if (now == last || !atomic_compare_exchange_strong(&a->release_poll_sec, &last, now))
    return;
  audit_scan(w);
}

bool app_audit_poll_now(app_worker *w) {
  return audit_scan(w);
}

/* node_secret is kept as its SHA-256 only, replaced whole on SIGHUP. */
static void secret_set(app *a, const char *secret) {
  uint8_t h[SHA256_DIGEST_LENGTH];
  bool set = secret[0] != '\0';
  if (set)
    SHA256((const unsigned char *)secret, strlen(secret), h);
  pthread_mutex_lock(&a->smu);
  a->secret_set = set;
  memcpy(a->secret_hash, set ? h : (uint8_t[SHA256_DIGEST_LENGTH]){0}, sizeof a->secret_hash);
  pthread_mutex_unlock(&a->smu);
  OPENSSL_cleanse(h, sizeof h);
}

bool app_secret_ok(app *a, const char *given) {
  unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
  pthread_mutex_lock(&a->smu);
  bool set = a->secret_set;
  memcpy(want, a->secret_hash, sizeof want);
  pthread_mutex_unlock(&a->smu);
  if (!set)
    return true;
  /* Hashes: the comparison takes the same time whatever the lengths. */
  SHA256((const unsigned char *)given, strlen(given), got);
  bool ok = given[0] != '\0' && CRYPTO_memcmp(want, got, sizeof want) == 0;
  OPENSSL_cleanse(want, sizeof want);
  OPENSSL_cleanse(got, sizeof got);
  return ok;
}

void app_reload(app *a, const srv_app_settings *set) {
  bool secret_changed = strcmp(set->node_secret, a->set.node_secret) != 0;
  uint32_t per_hour = srv_nodelimit_get(a->newnodes);
  if (secret_changed) {
    secret_set(a, set->node_secret);
    OPENSSL_cleanse(a->set.node_secret, sizeof a->set.node_secret);
    snprintf(a->set.node_secret, sizeof a->set.node_secret, "%s", set->node_secret);
  }
  if (set->new_nodes_per_hour != per_hour) {
    srv_nodelimit_set(a->newnodes, set->new_nodes_per_hour);
    a->set.new_nodes_per_hour = set->new_nodes_per_hour;
  }
  srv_acctlimit_set(a->acctrate, set->account_requests_per_minute);
  a->set.account_requests_per_minute = set->account_requests_per_minute;
  srv_nodelimit_set(a->acctnodes, set->account_new_nodes_per_hour);
  a->set.account_new_nodes_per_hour = set->account_new_nodes_per_hour;
  srv_nodelimit_set(a->acctchurn, set->account_unregisters_per_hour);
  a->set.account_unregisters_per_hour = set->account_unregisters_per_hour;
  /* Never the secret itself in the log: whether it is set, and that it changed. */
  srv_log(SRV_LOG_INFO, "reload", "app=ok node_secret=%s%s new_nodes_per_hour=%u%s",
          set->node_secret[0] != '\0' ? "set" : "none", secret_changed ? "(changed)" : "",
          set->new_nodes_per_hour, set->new_nodes_per_hour != per_hour ? "(changed)" : "");
  if (set->failure_list_size != a->set.failure_list_size ||
      set->unlimited_max_nodes != a->set.unlimited_max_nodes ||
      set->store_map_size != a->set.store_map_size)
    srv_log(SRV_LOG_WARN, "reload",
            "app=partial detail=\"failure_list_size, unlimited_max_nodes and store_map_size "
            "take effect at the next start\"");
}

bool app_clock_rolled_back(app *a, int64_t now, int64_t *behind) {
  int64_t hw = atomic_load(&a->hwm);
  *behind = hw > now ? hw - now : 0;
  return hw > 0 && now < hw - SRV_ROLLBACK_SLACK;
}

static int seats_load_cb(const store_node *n, void *arg) {
  srv_node sn;
  memset(&sn, 0, sizeof sn);
  memcpy(sn.license, n->owner, LIC_ID_LEN);
  snprintf(sn.node, sizeof sn.node, "%s", n->node);
  sn.last_valid = n->last_seen;
  sn.last_seen = n->last_seen > n->fail_time ? n->last_seen : n->fail_time;
  sn.fail_time = n->fail_time;
  int st = lic_status_from_name(n->fail_status);
  sn.fail_status = st >= 0 ? (lic_status)st : LIC_STATUS_VALID;
  snprintf(sn.fail_reason, sizeof sn.fail_reason, "%s", n->fail_reason);
  char evicted[LIC_MAX_NAME + 1];
  app *a = arg;
  srv_seats_load(a->seats, &sn, evicted, sizeof evicted);
  if (evicted[0] != '\0') /* past the bounded failure list (or released): off the store too */
    store_node_drop(a->st, n->owner, evicted);
  return 0;
}

/* Public mode: registrations idle for registration_ttl_days are released at
 * start and then daily (SPEC §4), each release audited by the store. */
static void *purger_main(void *arg) {
  app *a = arg;
  for (;;) {
    size_t n = 0;
    int rc = store_registration_release_idle(a->st, (int64_t)time(NULL),
                                             (int64_t)a->registration_ttl_days, &n);
    char q[320];
    if (rc != LIC_OK)
      srv_log(SRV_LOG_ERROR, "registration_release", "error=%s", SRV_LOG_Q(lic_errfull(rc), q));
    else if (n > 0)
      srv_log(SRV_LOG_INFO, "registrations_released", "count=%zu ttl_days=%u", n,
              a->registration_ttl_days);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 86400;
    pthread_mutex_lock(&a->pmu);
    while (!a->purger_stop)
      if (pthread_cond_timedwait(&a->pcv, &a->pmu, &until) != 0)
        break;
    bool stop = a->purger_stop;
    pthread_mutex_unlock(&a->pmu);
    if (stop)
      return NULL;
  }
}

static int app_purger_start(app *a, char *err, size_t errlen) {
  if (a->registration_ttl_days == 0)
    return 0;
  if (pthread_create(&a->purger, NULL, purger_main, a) != 0) {
    snprintf(err, errlen, "cannot start the registration purge");
    return -1;
  }
  a->purger_started = true;
  return 0;
}

int app_attach(srv_server *s, const char *data_dir, const srv_app_settings *set, app **out,
               char *err, size_t errlen) {
  app *a = calloc(1, sizeof *a);
  char path[4200];
  store_reader *rd = NULL;
  int rc;

  *out = NULL;
  if (a == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  pthread_mutex_init(&a->mmu, NULL);
  pthread_mutex_init(&a->hmu, NULL);
  pthread_mutex_init(&a->rmu, NULL);
  pthread_mutex_init(&a->smu, NULL);
  a->release_since = (int64_t)time(NULL); /* older releases are in the loaded records */
  pthread_mutex_init(&a->pmu, NULL);
  pthread_cond_init(&a->pcv, NULL);
  a->registration_ttl_days = srv_server_config(s)->registration_ttl_days;
  a->lock = (srv_lock)SRV_LOCK_INIT;
  a->srv = s;
  if (set != NULL)
    a->set = *set;
  secret_set(a, a->set.node_secret);
  /* store = postgresql://...: the shared store, read through its copy */
  const char *where = srv_server_config(s)->store[0] != '\0' ? srv_server_config(s)->store : data_dir;
  if ((rc = store_open_mapped(where, STORE_CACHED, a->set.store_map_size, &a->st)) != LIC_OK) {
    snprintf(err, errlen, "%s", lic_errfull(rc)); /* names the dir and says to run init */
    goto fail;
  }
  if (srv_lock_data(&a->lock, data_dir, err, errlen) != 0)
    goto fail;
  if ((rc = store_reader_new(a->st, &rd)) != LIC_OK || (rc = store_reader_begin(rd)) != LIC_OK ||
      (rc = store_meta_get(rd, &a->meta)) != LIC_OK) {
    snprintf(err, errlen, "store: %s", lic_errfull(rc));
    goto fail;
  }
  a->public_mode = strcmp(a->meta.mode, "public") == 0;
  if ((!a->public_mode && strcmp(a->meta.mode, "private") != 0) || !a->meta.has_node_key) {
    snprintf(err, errlen, "%s: mode '%s' is not initialized: run 'licsrv init'", data_dir,
             a->meta.mode);
    goto fail;
  }
  /* A copy of this directory (same node key) served beside it would count
   * its own seats: one server per node key on this machine. Not with a
   * shared store: it counts there, and its meta names the key of the first
   * process that joined, not ours (two licsrv on one machine were refused). */
  if (where == data_dir && srv_lock_node(&a->lock, data_dir, a->meta.node_kid, err, errlen) != 0)
    goto fail;
  a->hwm = a->meta.clock_hwm;
  if ((a->seats = srv_seats_new_with(a->set.failure_list_size, a->set.unlimited_max_nodes)) == NULL ||
      (a->newnodes = srv_nodelimit_new(a->set.new_nodes_per_hour)) == NULL ||
      (a->acctrate = srv_acctlimit_new(a->set.account_requests_per_minute)) == NULL ||
      (a->acctnodes = srv_nodelimit_new(a->set.account_new_nodes_per_hour)) == NULL ||
      (a->acctchurn = srv_nodelimit_new(a->set.account_unregisters_per_hour)) == NULL) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  store_node_each(rd, NULL, seats_load_cb, a);
  srv_seats_load_done(a->seats);
  store_reader_end(rd);
  store_reader_free(rd);
  rd = NULL;
  snprintf(path, sizeof path, "%s/%s", data_dir, LICSRV_NODE_KEY);
  if (a->public_mode) {
    if (app_public_new(a->st, data_dir, &a->pub, err, errlen) != 0 ||
        app_purger_start(a, err, errlen) != 0)
      goto fail;
  } else if ((rc = lic_key_load_private(path, NULL, &a->node)) != LIC_OK) {
    snprintf(err, errlen, "node key: %s", lic_errfull(rc));
    goto fail;
  } else if (memcmp(lic_key_raw_public(a->node), a->meta.node_pub, LIC_PUBKEY_LEN) != 0) {
    snprintf(err, errlen, "%s does not match the node key recorded by 'licsrv init'", path);
    goto fail;
  }
  srv_server_set_user(s, a);
  if (srv_on_worker_start(s, worker_start, a) != 0 || srv_on_worker_stop(s, worker_stop, a) != 0 ||
      srv_on_shutdown(s, on_shutdown, a) != 0 || app_health_attach(a) != 0 ||
      app_expiry_attach(a) != 0) {
    snprintf(err, errlen, "cannot register hooks");
    goto fail;
  }
  *out = a; /* the machine binding is checked (and logged) once serving: app_machine_recheck */
  return 0;
fail:
  store_reader_free(rd);
  app_free(a);
  return -1;
}

void app_free(app *a) {
  if (a == NULL)
    return;
  if (a->purger_started) {
    pthread_mutex_lock(&a->pmu);
    a->purger_stop = true;
    pthread_cond_signal(&a->pcv);
    pthread_mutex_unlock(&a->pmu);
    pthread_join(a->purger, NULL);
  }
  app_public_free(a->pub);
  app_pub_signer_clear(&a->wsign);
  pthread_mutex_destroy(&a->pmu);
  pthread_cond_destroy(&a->pcv);
  store_close(a->st);
  srv_lock_release(&a->lock);
  lic_key_free(a->node);
  srv_seats_free(a->seats);
  srv_nodelimit_free(a->newnodes);
  srv_acctlimit_free(a->acctrate);
  srv_nodelimit_free(a->acctnodes);
  srv_nodelimit_free(a->acctchurn);
  OPENSSL_cleanse(a->set.node_secret, sizeof a->set.node_secret);
  pthread_mutex_destroy(&a->mmu);
  pthread_mutex_destroy(&a->rmu);
  pthread_mutex_destroy(&a->smu);
  pthread_mutex_destroy(&a->hmu);
  if (a->emu_init)
    pthread_mutex_destroy(&a->emu);
  free(a);
}
