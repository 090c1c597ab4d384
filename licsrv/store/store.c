/* store/store.c - the store interface as one indirect call per operation
 * (store/backend.h), the choice of backend at open time, and the record
 * helpers that hold for every backend. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "store/backend.h"

/* Every handle starts with its backend's table (store/backend.h). */
#define OPS(h) (*(const store_ops *const *)(const void *)(h))
#define FIRST_(a, ...) a
#define FIRST(args) FIRST_ args

#define STORE_DISPATCH(ret, name, params, args) \
  ret store_##name params { return OPS(FIRST(args))->name args; }
#define STORE_VDISPATCH(name, params, args) \
  void store_##name params {                \
    if (FIRST(args) != NULL)                \
      OPS(FIRST(args))->name args;          \
  }
STORE_OPS(STORE_DISPATCH)
STORE_VOPS(STORE_VDISPATCH)

/* ---- STORE_OPS_CHECKED: what every backend would check, checked once ------ */

int store_registration_release_idle(store *s, int64_t now, int64_t ttl_days, size_t *n) {
  *n = 0;
  if (ttl_days < 1 || ttl_days > STORE_MAX_DAYS)
    return lic_fail(LIC_INVALID, "registration_ttl_days must be 1..%d", STORE_MAX_DAYS);
  return OPS(s)->registration_release_idle(s, now, ttl_days, n);
}

int store_purge(store *s, int64_t now, int64_t retention_days, const char *actor,
                store_counts *c) {
  memset(c, 0, sizeof *c);
  if (retention_days < 1 || retention_days > STORE_MAX_DAYS)
    return lic_fail(LIC_INVALID, "retention must be 1..%d days", STORE_MAX_DAYS);
  return OPS(s)->purge(s, now, retention_days, actor, c);
}

bool store_is_url(const char *where) {
  return where != NULL &&
         (strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0);
}

/* store_write: store_submit and wait, the same on every backend. */
typedef struct {
  store_apply_fn apply;
  void *arg;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool finished;
  int rc;
  char detail[320];
} sync_wait;

static void sync_done(void *arg, int rc, const char *detail) {
  sync_wait *sw = arg;
  pthread_mutex_lock(&sw->mu);
  sw->rc = rc;
  snprintf(sw->detail, sizeof sw->detail, "%s", detail != NULL ? detail : "");
  sw->finished = true;
  pthread_cond_signal(&sw->cv);
  pthread_mutex_unlock(&sw->mu);
}

static int sync_apply(store_wtxn *w, void *arg) {
  sync_wait *sw = arg;
  return sw->apply(w, sw->arg);
}

int store_write(store *s, store_apply_fn apply, void *arg) {
  sync_wait sw;
  int r;
  memset(&sw, 0, sizeof sw);
  sw.apply = apply;
  sw.arg = arg;
  pthread_mutex_init(&sw.mu, NULL);
  pthread_cond_init(&sw.cv, NULL);
  if ((r = store_submit(s, sync_apply, sync_done, &sw)) == LIC_OK) {
    pthread_mutex_lock(&sw.mu);
    while (!sw.finished)
      pthread_cond_wait(&sw.cv, &sw.mu);
    pthread_mutex_unlock(&sw.mu);
    r = sw.rc;
    if (r != LIC_OK && sw.detail[0] != '\0')
      r = lic_fail(r, "%s", sw.detail);
    else if (r != LIC_OK)
      lic_errdetail_clear();
  }
  pthread_cond_destroy(&sw.cv);
  pthread_mutex_destroy(&sw.mu);
  return r;
}

int store_open(const char *where, unsigned flags, store **out) {
  return store_open_mapped(where, flags, 0, out);
}

int store_open_mapped(const char *where, unsigned flags, size_t map_size, store **out) {
  if (store_is_url(where))
    return pgs_open(where, flags, out);
  return lmdb_open_mapped(where, flags, map_size, out);
}

const char *store_backend_name(const store *s) { return OPS(s)->name; }

void store_account_clear(store_account *a) {
  if (a == NULL)
    return;
  free(a->env);
  memset(a, 0, sizeof *a);
}

void store_activation_clear(store_activation *a) {
  if (a == NULL)
    return;
  free(a->receipt);
  memset(a, 0, sizeof *a);
}

void store_cert_clear(store_cert *c) {
  if (c == NULL)
    return;
  free(c->env);
  memset(c, 0, sizeof *c);
}

void store_license_clear(store_license *l) {
  if (l == NULL)
    return;
  free(l->env);
  memset(l, 0, sizeof *l);
}

int store_token_name_check(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > STORE_MAX_TOKEN_NAME)
    return lic_fail(LIC_INVALID, "token name must be 1..%d characters", STORE_MAX_TOKEN_NAME);
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-'))
      return lic_fail(LIC_INVALID, "token name may hold only letters, digits, '.', '_', '-'");
  }
  return LIC_OK;
}

int store_release_steps(store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                        const uint8_t project_id[LIC_ID_LEN], int64_t now,
                        const char *audit_token, const char *audit_action,
                        const char *audit_subject, store_release *out) {
  store_account a;
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = store_w_account_get(w, account, &a)) == LIC_NOTFOUND) {
    out->outcome = STORE_RELEASE_NO_ACCOUNT;
    return LIC_OK;
  }
  if (rc != LIC_OK)
    return rc;
  bool revoked = a.revoked_at != 0;
  store_account_clear(&a);
  if (revoked) {
    out->outcome = STORE_RELEASE_REVOKED;
    return LIC_OK;
  }
  rc = store_w_registration_delete(w, account, project_id);
  if (rc == LIC_OK) {
    out->outcome = STORE_RELEASE_REMOVED;
    rc = store_w_audit_append(w, now, audit_token, audit_action, audit_subject);
  } else if (rc == LIC_NOTFOUND) {
    out->outcome = STORE_RELEASE_ABSENT;
    rc = LIC_OK;
  }
  return rc != LIC_OK ? rc : store_w_registration_count(w, account, &out->used);
}

int store_claim_steps(store_wtxn *w, const store_registration *r, int64_t capacity,
                      const char *audit_token, const char *audit_action,
                      const char *audit_subject, store_claim *out) {
  store_account a;
  store_registration g;
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = store_w_account_get(w, r->account, &a)) == LIC_NOTFOUND) {
    out->outcome = STORE_CLAIM_NO_ACCOUNT;
    return LIC_OK;
  }
  if (rc != LIC_OK)
    return rc;
  bool revoked = a.revoked_at != 0;
  store_account_clear(&a);
  if (revoked) {
    out->outcome = STORE_CLAIM_REVOKED;
    return LIC_OK;
  }
  rc = store_w_registration_get(w, r->account, r->project_id, &g);
  if (rc != LIC_OK && rc != LIC_NOTFOUND)
    return rc;
  bool exists = rc == LIC_OK;
  if ((rc = store_w_registration_count(w, r->account, &out->used)) != LIC_OK)
    return rc;
  if (exists || out->used >= (size_t)(capacity > 0 ? capacity : 0)) {
    out->outcome = exists ? STORE_CLAIM_EXISTS : STORE_CLAIM_FULL;
    return LIC_OK;
  }
  if ((rc = store_w_registration_put(w, r)) != LIC_OK ||
      (rc = store_w_audit_append(w, r->created, audit_token, audit_action, audit_subject)) !=
          LIC_OK)
    return rc;
  out->used++;
  out->outcome = STORE_CLAIM_NEW;
  return LIC_OK;
}
