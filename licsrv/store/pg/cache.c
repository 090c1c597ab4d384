/* store/pg/cache.c - the per-process copy of what the verify path reads
 * (accounts, their registrations, certificates) for a store opened with
 * STORE_CACHED, so that a verify costs no database round trip and keeps
 * answering while PostgreSQL is unreachable.
 *
 * Filled at open; then the listener (store/pg/listen.c) reloads into it what
 * the change notices name, and everything at least every
 * PGS_CACHE_MAX_AGE_MS. This process's own writes are put in the copy by the
 * writer after their commit, before they are answered, so a client reads its
 * own registration at once: a registration written or deleted is applied as
 * that one change (a delta), anything else reloads its account. Another
 * process's registration change comes with its row in the notice (schema
 * version 4) and goes into the copy without a read (pgs__cache_apply_row).
 * Reloads overlap; the sequence rules at pgs_cache (store/pg/cache.h) decide
 * which one an account keeps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lic/err.h"
#include "util/array.h"
#include "util/hash.h"
#include "store/pg/cache.h"
#include "store/pg/internal.h"

/* ---- an account's registrations by project id ---------------------------------- *
 * A verify looks its project up in the account's registrations, and the
 * writer each registration it applies: with thousands on an account a scan
 * was a good part of both. */

static size_t pid_hash(const uint8_t p[LIC_ID_LEN]) {
  uint64_t h = srv_fnv1a64(SRV_FNV64_BASIS, p, LIC_ID_LEN);
  return (size_t)(h ^ (h >> 29));
}

static void ix_put(uint32_t *ix, size_t cap, const store_registration *regs, size_t i) {
  size_t k = pid_hash(regs[i].project_id) & (cap - 1);
  while (ix[k] != 0)
    k = (k + 1) & (cap - 1);
  ix[k] = (uint32_t)(i + 1);
}

static size_t bucket_of(const uint8_t id[LIC_ID_LEN], size_t nb) {
  return (size_t)srv_fnv1a64(SRV_FNV64_BASIS, id, LIC_ID_LEN) & (nb - 1);
}

static void entry_free(pgs_centry *e) {
  if (e == NULL)
    return;
  free(e->env);
  free(e->regs);
  free(e->ix);
  free(e);
}

static void table_free(pgs_centry **b, size_t nb) {
  if (b == NULL)
    return;
  for (size_t i = 0; i < nb; i++)
    for (pgs_centry *e = b[i], *n; e != NULL; e = n) {
      n = e->next;
      entry_free(e);
    }
  free(b);
}

static void certs_free(store_cert *c, size_t n) {
  if (c == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    store_cert_clear(&c[i]);
  free(c);
}

static pgs_centry *find(pgs_centry **b, size_t nb, const uint8_t id[LIC_ID_LEN]) {
  for (pgs_centry *e = b[bucket_of(id, nb)]; e != NULL; e = e->next)
    if (memcmp(e->id, id, LIC_ID_LEN) == 0)
      return e;
  return NULL;
}

/* What a verify may read: an account some read found present. */
static pgs_centry *find_live(pgs_centry **b, size_t nb, const uint8_t id[LIC_ID_LEN]) {
  pgs_centry *e = find(b, nb, id);
  return e != NULL && !e->gone ? e : NULL;
}

static pgs_centry **slot_of(pgs_centry **b, size_t nb, const uint8_t id[LIC_ID_LEN]) {
  pgs_centry **pp = &b[bucket_of(id, nb)];
  while (*pp != NULL && memcmp((*pp)->id, id, LIC_ID_LEN) != 0)
    pp = &(*pp)->next;
  return pp;
}

static void ix_build(pgs_centry *e) {
  size_t cap = 16;
  while (cap < 2 * (e->nregs + 1))
    cap *= 2;
  free(e->ix);
  e->ix = NULL;
  e->ixcap = 0;
  if (e->nregs >= UINT32_MAX || (e->ix = calloc(cap, sizeof *e->ix)) == NULL)
    return; /* scanned instead */
  e->ixcap = cap;
  for (size_t i = 0; i < e->nregs; i++)
    ix_put(e->ix, cap, e->regs, i);
}

/* ---- loading (on the listener's or the writer's connection) ---------------- *
 * Every read takes a number first; which read an account keeps, and when an
 * entry turns stale, follows the sequence rules written at pgs_cache
 * (store/pg/cache.h). */

static int hook(pgs_store *s, int what, const uint8_t *id) {
  return s->cache.hook != NULL ? s->cache.hook(s, what, id) : LIC_OK;
}

/* Taken before the read's first statement (its snapshot). */
static uint64_t next_seq(pgs_store *s) { return atomic_fetch_add(&s->cache.seq, 1) + 1; }

uint64_t pgs__cache_mark(pgs_store *s) { return next_seq(s); }

/* Under the lock (write): the account is to be reloaded whole soon. */
static void stale_id(pgs_store *s, const uint8_t id[LIC_ID_LEN]) {
  PGS_ASSERT_WRHELD(&s->cache.lock);
  if (srv_array_reserve(&s->cache.stale, &s->cache.capstale, s->cache.nstale + 1, 16) != LIC_OK) {
    s->cache.full_owed = true; /* the full reload covers it */
    return;
  }
  memcpy(s->cache.stale[s->cache.nstale++], id, LIC_ID_LEN);
}

static void mark_stale(pgs_store *s, pgs_centry *e) {
  PGS_ASSERT_WRHELD(&s->cache.lock);
  if (!e->stale) {
    e->stale = true;
    stale_id(s, e->id);
  }
}

static uint64_t newest(const pgs_centry *e) { return e->seq > e->pseq ? e->seq : e->pseq; }

static int load_regs(PGresult *res, int from, int to, pgs_centry *e) {
  e->nregs = 0;
  if (to <= from)
    return LIC_OK;
  if ((e->regs = calloc((size_t)(to - from), sizeof *e->regs)) == NULL)
    return LIC_NOMEM;
  e->capregs = (size_t)(to - from);
  for (int i = from; i < to; i++) {
    store_registration *g = &e->regs[e->nregs];
    if (pgs__fixed(res, i, 0, g->account, LIC_ID_LEN) != LIC_OK ||
        pgs__fixed(res, i, 1, g->project_id, LIC_ID_LEN) != LIC_OK ||
        pgs__text(res, i, 2, g->project, sizeof g->project) != LIC_OK ||
        pgs__text(res, i, 3, g->domain, sizeof g->domain) != LIC_OK)
      continue; /* an unreadable row is no registration */
    g->created = pgs__i64(res, i, 4);
    g->last_valid = pgs__i64(res, i, 5);
    e->nregs++;
  }
  ix_build(e);
  return LIC_OK;
}

static int entry_from(PGresult *acc, int i, pgs_centry **out) {
  pgs_centry *e = calloc(1, sizeof *e);
  int rc;
  *out = NULL;
  if (e == NULL)
    return LIC_NOMEM;
  if ((rc = pgs__fixed(acc, i, 0, e->id, LIC_ID_LEN)) != LIC_OK ||
      (rc = pgs__blob(acc, i, 1, &e->env, &e->env_len)) != LIC_OK) {
    entry_free(e);
    return rc;
  }
  e->imported = pgs__i64(acc, i, 2);
  e->revoked_at = pgs__i64(acc, i, 3);
  *out = e;
  return LIC_OK;
}

#define ACC_SQL "SELECT id, env, imported, revoked_at FROM licsrv_accounts"
#define REG_SQL                                                                           \
  "SELECT account, project_id, project, domain, created, last_valid FROM licsrv_registrations"

static int load_certs(PGconn *c, store_cert **out, size_t *n) {
  PGresult *res;
  int rc = pgs__exec(c, "SELECT id, env, imported FROM licsrv_certs ORDER BY id", NULL, &res);
  *out = NULL;
  *n = 0;
  if (rc != LIC_OK)
    return rc;
  int rows = PQntuples(res);
  store_cert *cs = calloc(rows > 0 ? (size_t)rows : 1, sizeof *cs);
  if (cs == NULL) {
    PQclear(res);
    return LIC_NOMEM;
  }
  for (int i = 0; i < rows; i++) {
    if (pgs__fixed(res, i, 0, cs[*n].id, LIC_ID_LEN) != LIC_OK ||
        pgs__blob(res, i, 1, &cs[*n].env, &cs[*n].env_len) != LIC_OK)
      continue;
    cs[*n].imported = pgs__i64(res, i, 2);
    (*n)++;
  }
  PQclear(res);
  *out = cs;
  return LIC_OK;
}

/* Under the lock (write): the entries of the table in use that a newer
 * read than this full reload (seq) put there replace the snapshot's (gone
 * ones included); the others are freed with the old table. */
static void keep_newer(pgs_store *s, pgs_centry **b, size_t nb, uint64_t seq) {
  PGS_ASSERT_WRHELD(&s->cache.lock);
  for (size_t i = 0; i < s->cache.nb; i++)
    for (pgs_centry **pp = &s->cache.buckets[i]; *pp != NULL;) {
      pgs_centry *e = *pp;
      if (newest(e) <= seq) {
        pp = &e->next;
        continue;
      }
      if (e->seq < seq) /* a part is newer, the snapshot's rest may be too */
        mark_stale(s, e);
      *pp = e->next; /* out of the old table, into the new one */
      pgs_centry **np = slot_of(b, nb, e->id), *stale = *np;
      e->next = stale != NULL ? stale->next : NULL;
      *np = e;
      entry_free(stale);
    }
}

/* Under the lock (write): the certificates read at seq replace the copy's
 * unless a newer read put them there; *certs then holds what to free. */
static void certs_swap(pgs_store *s, store_cert **certs, size_t *n, uint64_t seq) {
  PGS_ASSERT_WRHELD(&s->cache.lock);
  if (seq <= s->cache.certs_seq)
    return;
  store_cert *oc = s->cache.certs;
  size_t onc = s->cache.ncerts;
  s->cache.certs = *certs;
  s->cache.ncerts = *n;
  s->cache.certs_seq = seq;
  *certs = oc;
  *n = onc;
}

int pgs__cache_load_all(pgs_store *s, PGconn *c) {
  PGresult *acc = NULL, *regs = NULL;
  pgs_centry **b = NULL;
  store_cert *certs = NULL;
  size_t nb = 64, ncerts = 0;
  uint64_t seq = next_seq(s);
  int rc;

  /* One snapshot for the three reads: registrations match their accounts. */
  if ((rc = pgs__run(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL)) != LIC_OK)
    return rc;
  if ((rc = pgs__exec(c, ACC_SQL, NULL, &acc)) != LIC_OK ||
      (rc = pgs__exec(c, REG_SQL " ORDER BY account", NULL, &regs)) != LIC_OK ||
      (rc = load_certs(c, &certs, &ncerts)) != LIC_OK)
    goto out;
  while (nb < (size_t)PQntuples(acc) * 2)
    nb *= 2;
  if ((b = calloc(nb, sizeof *b)) == NULL) {
    rc = LIC_NOMEM;
    goto out;
  }
  for (int i = 0; i < PQntuples(acc); i++) {
    pgs_centry *e;
    if (entry_from(acc, i, &e) != LIC_OK)
      continue;
    e->seq = seq;
    size_t k = bucket_of(e->id, nb);
    e->next = b[k];
    b[k] = e;
  }
  for (int i = 0, n = PQntuples(regs); i < n;) {
    uint8_t id[LIC_ID_LEN];
    int j = i + 1;
    if (pgs__fixed(regs, i, 0, id, LIC_ID_LEN) != LIC_OK) {
      i++;
      continue;
    }
    while (j < n && PQgetlength(regs, j, 0) == LIC_ID_LEN &&
           memcmp(PQgetvalue(regs, j, 0), id, LIC_ID_LEN) == 0)
      j++;
    pgs_centry *e = find(b, nb, id);
    if (e != NULL && (rc = load_regs(regs, i, j, e)) != LIC_OK)
      goto out;
    i = j;
  }
  pgs__run(c, "COMMIT", NULL);
  if ((rc = hook(s, PGS_HOOK_FULL, NULL)) != LIC_OK)
    goto out;
  pgs_wrlock(&s->cache.lock);
  if (seq < s->cache.full_seq) { /* a newer full reload is in: this one adds nothing */
    pgs_rwunlock(&s->cache.lock);
    goto out;
  }
  uint64_t sw = next_seq(s);
  for (size_t i = 0; i < nb; i++)
    for (pgs_centry *e = b[i]; e != NULL; e = e->next)
      e->rsw = sw;
  keep_newer(s, b, nb, seq);
  /* a change of this process whose notice is still ahead stays guarded */
  for (size_t i = 0; i < s->cache.nb; i++)
    for (pgs_centry *e = s->cache.buckets[i]; e != NULL; e = e->next) {
      pgs_centry *ne = e->own_unseen ? find(b, nb, e->id) : NULL;
      if (ne != NULL)
        ne->own_unseen = true;
    }
  pgs_centry **ob = s->cache.buckets;
  size_t onb = s->cache.nb;
  s->cache.buckets = b;
  s->cache.nb = nb;
  assert(seq >= s->cache.full_seq); /* full_seq only grows */
  s->cache.full_seq = seq;
  certs_swap(s, &certs, &ncerts, seq);
  s->cache.loaded_ms = pgs__now_ms();
  pgs_rwunlock(&s->cache.lock);
  table_free(ob, onb);
  b = NULL;
out:
  if (rc != LIC_OK && pgs__conn_ok(c))
    pgs__run(c, "ROLLBACK", NULL);
  PQclear(acc);
  PQclear(regs);
  table_free(b, nb);
  certs_free(certs, ncerts);
  return rc;
}

static int load_account(pgs_store *s, PGconn *c, const uint8_t id[LIC_ID_LEN], bool own) {
  pgs_params p = {0};
  PGresult *acc = NULL, *regs = NULL;
  pgs_centry *e = NULL;
  uint64_t seq = next_seq(s);
  int rc;
  pgs__p_bytes(&p, id, LIC_ID_LEN);
  if ((rc = pgs__exec(c, ACC_SQL " WHERE id = $1", &p, &acc)) != LIC_OK ||
      (rc = pgs__exec(c, REG_SQL " WHERE account = $1", &p, &regs)) != LIC_OK)
    goto out;
  if (PQntuples(acc) == 1) {
    if ((rc = entry_from(acc, 0, &e)) == LIC_OK)
      rc = load_regs(regs, 0, PQntuples(regs), e);
  } else if ((e = calloc(1, sizeof *e)) == NULL) {
    rc = LIC_NOMEM;
  } else { /* absent: remembered as gone, at this read's age */
    memcpy(e->id, id, LIC_ID_LEN);
    e->gone = true;
  }
  if (rc != LIC_OK || (rc = hook(s, PGS_HOOK_ACCOUNT, id)) != LIC_OK)
    goto out;
  e->seq = seq;
  pgs_wrlock(&s->cache.lock);
  e->rsw = next_seq(s);
  pgs_centry **pp = slot_of(s->cache.buckets, s->cache.nb, id), *old = *pp;
  /* no entry: as old as the last full reload, which did not find it */
  uint64_t base = old != NULL ? old->seq : s->cache.full_seq;
  if (seq > base) {
    bool part_newer = old != NULL && old->pseq >= seq;
    if (part_newer && !own) { /* neither holds all: reload soon */
      mark_stale(s, old);
    } else {
      /* this process's own write is in this read: it goes in first (and the
       * part it lacks comes with the stale reload) */
      if (part_newer) {
        e->pseq = old->pseq;
        mark_stale(s, e);
      }
      e->next = old != NULL ? old->next : NULL;
      e->own_unseen = old != NULL && old->own_unseen;
      *pp = e;
      e = old;
    }
  }
  pgs_rwunlock(&s->cache.lock);
out:
  entry_free(e); /* the replaced entry, or this read when it lost */
  PQclear(acc);
  PQclear(regs);
  return rc;
}

int pgs__cache_load_account(pgs_store *s, PGconn *c, const uint8_t id[LIC_ID_LEN]) {
  return load_account(s, c, id, false);
}

/* ---- parts: one registration --------------------------------------------------- */

static store_registration *reg_find(pgs_centry *e, const uint8_t project_id[LIC_ID_LEN]) {
  if (e->ix == NULL) {
    for (size_t i = 0; i < e->nregs; i++)
      if (memcmp(e->regs[i].project_id, project_id, LIC_ID_LEN) == 0)
        return &e->regs[i];
    return NULL;
  }
  for (size_t k = pid_hash(project_id) & (e->ixcap - 1); e->ix[k] != 0;
       k = (k + 1) & (e->ixcap - 1)) {
    store_registration *g = &e->regs[e->ix[k] - 1];
    if (memcmp(g->project_id, project_id, LIC_ID_LEN) == 0)
      return g;
  }
  return NULL;
}

static int reg_upsert(pgs_centry *e, const store_registration *g) {
  store_registration *at = reg_find(e, g->project_id);
  if (at == NULL) {
    if (srv_array_reserve(&e->regs, &e->capregs, e->nregs + 1, 8) != LIC_OK)
      return LIC_NOMEM;
    at = &e->regs[e->nregs++];
    *at = *g;
    if (e->ix == NULL || 2 * e->nregs > e->ixcap)
      ix_build(e);
    else
      ix_put(e->ix, e->ixcap, e->regs, e->nregs - 1);
    return LIC_OK;
  }
  *at = *g;
  return LIC_OK;
}

static void reg_remove(pgs_centry *e, const uint8_t project_id[LIC_ID_LEN]) {
  store_registration *at = reg_find(e, project_id);
  if (at != NULL) {
    *at = e->regs[--e->nregs]; /* order is no part of the copy */
    ix_build(e);               /* an unregistration: rarer than a verify */
  }
}

/* Another process's change of one registration: that row read again. */
int pgs__cache_load_reg(pgs_store *s, PGconn *c, const uint8_t account[LIC_ID_LEN],
                        const uint8_t project_id[LIC_ID_LEN]) {
  pgs_params p = {0};
  PGresult *res = NULL;
  store_registration g;
  bool whole = false;
  uint64_t seq = next_seq(s);
  atomic_fetch_add(&s->cache.reloads, 1);
  pgs__p_bytes(&p, account, LIC_ID_LEN);
  pgs__p_bytes(&p, project_id, LIC_ID_LEN);
  int rc = pgs__exec(c, REG_SQL " WHERE account = $1 AND project_id = $2", &p, &res);
  if (rc != LIC_OK)
    return rc;
  bool present = PQntuples(res) == 1;
  memset(&g, 0, sizeof g);
  if (present) {
    if (pgs__fixed(res, 0, 0, g.account, LIC_ID_LEN) != LIC_OK ||
        pgs__fixed(res, 0, 1, g.project_id, LIC_ID_LEN) != LIC_OK ||
        pgs__text(res, 0, 2, g.project, sizeof g.project) != LIC_OK ||
        pgs__text(res, 0, 3, g.domain, sizeof g.domain) != LIC_OK)
      present = false; /* an unreadable row is no registration */
    g.created = pgs__i64(res, 0, 4);
    g.last_valid = pgs__i64(res, 0, 5);
  }
  PQclear(res);
  pgs_wrlock(&s->cache.lock);
  pgs_centry *e = find_live(s->cache.buckets, s->cache.nb, account);
  if (e == NULL) {
    whole = true; /* an account this copy does not hold: read it whole */
  } else if (seq > newest(e)) {
    rc = present ? reg_upsert(e, &g) : (reg_remove(e, project_id), LIC_OK);
    e->pseq = seq;
    e->rsw = next_seq(s);
    if (rc != LIC_OK)
      mark_stale(s, e);
  } else if (seq > e->seq) {
    mark_stale(s, e);
  }
  pgs_rwunlock(&s->cache.lock);
  return whole ? load_account(s, c, account, false) : LIC_OK;
}

/* Another process's registration change as its notice carries it (schema
 * version 4: the row written, or the row deleted): no read. Notices arrive
 * in commit order, so a later change of the row comes after this one. A
 * notice may be older than this process's own change of the same row (its
 * writer applied it before the listener got here): while the account has
 * such a change whose own notice the listener has not seen, the row is read
 * instead (load_reg). An account not in the copy is read whole. */
int pgs__cache_apply_row(pgs_store *s, PGconn *c, const pgs_notify *n) {
  bool read_row = false, whole = false;
  int rc = LIC_OK;
  pgs_wrlock(&s->cache.lock);
  uint64_t seq = next_seq(s);
  pgs_centry *e = find_live(s->cache.buckets, s->cache.nb, n->id);
  if (e == NULL) {
    whole = true;
  } else if (e->own_unseen) {
    read_row = true;
  } else if (seq > newest(e)) { /* always: seq taken under the lock (cache.h) */
    rc = n->kind == PGS_NOTIFY_ROW ? reg_upsert(e, &n->row) : (reg_remove(e, n->project), LIC_OK);
    e->pseq = seq;
    e->rsw = next_seq(s); /* a commit of this process's writer now in flight marks it stale */
    if (rc != LIC_OK)
      mark_stale(s, e);
    atomic_fetch_add(&s->cache.notice_rows, 1);
  } else {
    assert(!"a number taken under the lock is newer than every entry's");
    mark_stale(s, e);
  }
  pgs_rwunlock(&s->cache.lock);
  if (read_row)
    return pgs__cache_load_reg(s, c, n->id, n->project);
  if (whole) {
    atomic_fetch_add(&s->cache.reloads, 1);
    return load_account(s, c, n->id, false);
  }
  return LIC_OK;
}

/* One of this process's own registration notices: its writer's changes of
 * the account before it are behind the listener. */
void pgs__cache_own_seen(pgs_store *s, const uint8_t id[LIC_ID_LEN]) {
  pgs_wrlock(&s->cache.lock);
  pgs_centry *e = find(s->cache.buckets, s->cache.nb, id);
  if (e != NULL)
    e->own_unseen = false;
  pgs_rwunlock(&s->cache.lock);
}

/* ---- the writer's own changes, after their commit -------------------------------- */

static void dirty_id(pgs_store *s, const uint8_t id[LIC_ID_LEN]) {
  PGS_ASSERT_WRITER(s);
  if (!s->cached)
    return;
  for (size_t i = 0; i < s->cache.own.ndirty; i++)
    if (memcmp(s->cache.own.dirty[i], id, LIC_ID_LEN) == 0)
      return;
  if (srv_array_reserve(&s->cache.own.dirty, &s->cache.own.capdirty, s->cache.own.ndirty + 1,
                        16) != LIC_OK)
    return; /* the change feed brings it a moment later */
  memcpy(s->cache.own.dirty[s->cache.own.ndirty++], id, LIC_ID_LEN);
}

void pgs__dirty(store_wtxn *wt, const uint8_t id[LIC_ID_LEN]) {
  dirty_id(((pgs_wtxn *)wt)->s, id);
}

void pgs__dirty_certs(store_wtxn *wt) {
  pgs_store *s = ((pgs_wtxn *)wt)->s;
  PGS_ASSERT_WRITER(s);
  s->cache.own.certs_dirty = true;
}

void pgs__delta(store_wtxn *wt, int op, const store_registration *g) {
  pgs__delta_own(((pgs_wtxn *)wt)->s, op, g);
}

void pgs__delta_own(pgs_store *s, int op, const store_registration *g) {
  PGS_ASSERT_WRITER(s);
  if (!s->cached)
    return;
  if (srv_array_reserve(&s->cache.own.delta, &s->cache.own.capdelta, s->cache.own.ndelta + 1,
                        64) != LIC_OK) {
    dirty_id(s, g->account); /* its account reloaded whole instead */
    return;
  }
  s->cache.own.delta[s->cache.own.ndelta].op = op;
  s->cache.own.delta[s->cache.own.ndelta].g = *g;
  s->cache.own.ndelta++;
}

size_t pgs__own_mark(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  return s->cache.own.ndelta;
}

void pgs__own_rollback(pgs_store *s, size_t mark) {
  PGS_ASSERT_WRITER(s);
  assert(mark <= s->cache.own.ndelta);
  s->cache.own.ndelta = mark;
}

void pgs__own_clear(pgs_store *s) {
  PGS_ASSERT_WRITER(s);
  s->cache.own.ndirty = s->cache.own.ndelta = 0;
  s->cache.own.certs_dirty = false;
}

/* The group's deltas and dirty accounts into the copy. */
static int apply_own(pgs_store *s, PGconn *c, uint64_t since) {
  int rc = LIC_OK;
  size_t nwhole = 0;
  pgs_wrlock(&s->cache.lock);
  uint64_t seq = next_seq(s);
  for (size_t i = 0; i < s->cache.own.ndelta; i++) {
    pgs_delta *d = &s->cache.own.delta[i];
    pgs_centry *e = find_live(s->cache.buckets, s->cache.nb, d->g.account);
    int r = LIC_OK;
    if (e == NULL) { /* not in the copy (or gone there): read it whole */
      s->cache.own.delta[nwhole++] = *d;
      continue;
    }
    e->own_unseen = true;
    if (d->op == PGS_DELTA_PUT)
      r = reg_upsert(e, &d->g);
    else if (d->op == PGS_DELTA_DELETE)
      reg_remove(e, d->g.project_id);
    else {
      e->nregs = 0;
      ix_build(e);
    }
    assert(seq > newest(e)); /* taken under the lock (cache.h) */
    e->pseq = seq;
    if (r != LIC_OK || e->rsw > since) /* a read came in during the commit */
      mark_stale(s, e);
  }
  pgs_rwunlock(&s->cache.lock);
  for (size_t i = 0; i < nwhole; i++) {
    bool dup = false;
    for (size_t j = 0; j < i && !dup; j++)
      dup = memcmp(s->cache.own.delta[j].g.account, s->cache.own.delta[i].g.account,
                   LIC_ID_LEN) == 0;
    if (!dup)
      dirty_id(s, s->cache.own.delta[i].g.account);
  }
  s->cache.own.ndelta = 0;
  for (size_t i = 0; i < s->cache.own.ndirty; i++) {
    int r = load_account(s, c, s->cache.own.dirty[i], true);
    if (r != LIC_OK) { /* the listener reads it (it skips this process's notices) */
      pgs_wrlock(&s->cache.lock);
      stale_id(s, s->cache.own.dirty[i]);
      pgs_rwunlock(&s->cache.lock);
      rc = r;
    }
  }
  s->cache.own.ndirty = 0;
  return rc;
}


int pgs__cache_apply_own(pgs_store *s, PGconn *c, uint64_t since) {
  PGS_ASSERT_WRITER(s);
  int rc = s->cached ? apply_own(s, c, since) : LIC_OK;
  if (s->cache.own.certs_dirty)
    pgs__cache_load_certs(s, c);
  pgs__own_clear(s);
  return rc;
}

/* The stale entries, reloaded whole (the listener, each turn). */
int pgs__cache_reload_stale(pgs_store *s, PGconn *c) {
  uint8_t (*ids)[LIC_ID_LEN];
  size_t n;
  int rc = LIC_OK;
  pgs_wrlock(&s->cache.lock);
  ids = s->cache.stale;
  n = s->cache.nstale;
  s->cache.stale = NULL;
  s->cache.nstale = s->cache.capstale = 0;
  for (size_t i = 0; i < n; i++) {
    pgs_centry *e = find(s->cache.buckets, s->cache.nb, ids[i]);
    if (e != NULL)
      e->stale = false;
  }
  pgs_rwunlock(&s->cache.lock);
  for (size_t i = 0; i < n; i++) {
    atomic_fetch_add(&s->cache.reloads, 1);
    int r = load_account(s, c, ids[i], false);
    if (r != LIC_OK) {
      pgs_wrlock(&s->cache.lock);
      for (size_t j = i; j < n; j++) /* again next turn */
        stale_id(s, ids[j]);
      pgs_rwunlock(&s->cache.lock);
      rc = r;
      break;
    }
  }
  free(ids);
  return rc;
}

int pgs__cache_load_certs(pgs_store *s, PGconn *c) {
  store_cert *certs;
  size_t n;
  uint64_t seq = next_seq(s);
  int rc = load_certs(c, &certs, &n);
  if (rc != LIC_OK)
    return rc;
  pgs_wrlock(&s->cache.lock);
  certs_swap(s, &certs, &n, seq);
  pgs_rwunlock(&s->cache.lock);
  certs_free(certs, n);
  return LIC_OK;
}

/* ---- the room's life, and what the listener and /metrics read ------------------ */

void pgs__cache_init(pgs_store *s, pgs_cache_hook_fn fn) {
  pgs_rwlock_init(&s->cache.lock);
  s->cache.hook = fn;
}

void pgs__cache_free(pgs_store *s) {
  table_free(s->cache.buckets, s->cache.nb);
  certs_free(s->cache.certs, s->cache.ncerts);
  s->cache.buckets = NULL;
  s->cache.certs = NULL;
  free(s->cache.stale);
  free(s->cache.own.dirty);
  free(s->cache.own.delta);
  s->cache.stale = NULL;
  s->cache.own.dirty = NULL;
  s->cache.own.delta = NULL;
  pgs_rwlock_destroy(&s->cache.lock);
}

void pgs__cache_due(pgs_store *s, int64_t *loaded_ms, bool *stale, bool *full_owed) {
  pgs_rdlock(&s->cache.lock);
  *loaded_ms = s->cache.loaded_ms;
  *stale = s->cache.nstale > 0;
  *full_owed = s->cache.full_owed;
  pgs_rwunlock(&s->cache.lock);
  if (*full_owed) {
    pgs_wrlock(&s->cache.lock);
    s->cache.full_owed = false;
    pgs_rwunlock(&s->cache.lock);
  }
}

void pgs__cache_count_reload(pgs_store *s) { atomic_fetch_add(&s->cache.reloads, 1); }

void pgs__cache_health(pgs_store *s, store_health *h) {
  pgs_rdlock(&s->cache.lock);
  h->cache_age_ms = pgs__now_ms() - s->cache.loaded_ms;
  pgs_rwunlock(&s->cache.lock);
  h->cache_reloads = atomic_load(&s->cache.reloads);
  h->cache_notice_rows = atomic_load(&s->cache.notice_rows);
}

/* ---- reads ----------------------------------------------------------------------- */

int pgs__cache_account(pgs_store *s, const uint8_t id[LIC_ID_LEN], store_account *out) {
  int rc = LIC_NOTFOUND;
  memset(out, 0, sizeof *out);
  pgs_rdlock(&s->cache.lock);
  pgs_centry *e = find_live(s->cache.buckets, s->cache.nb, id);
  if (e != NULL) {
    if ((out->env = malloc(e->env_len > 0 ? e->env_len : 1)) == NULL) {
      rc = LIC_NOMEM;
    } else {
      memcpy(out->id, e->id, LIC_ID_LEN);
      memcpy(out->env, e->env, e->env_len);
      out->env_len = e->env_len;
      out->imported = e->imported;
      out->revoked_at = e->revoked_at;
      rc = LIC_OK;
    }
  }
  pgs_rwunlock(&s->cache.lock);
  return rc;
}

int pgs__cache_registration(pgs_store *s, const uint8_t account[LIC_ID_LEN],
                            const uint8_t project_id[LIC_ID_LEN], store_registration *out,
                            size_t *count) {
  int rc = LIC_NOTFOUND;
  if (out != NULL)
    memset(out, 0, sizeof *out);
  if (count != NULL)
    *count = 0;
  pgs_rdlock(&s->cache.lock);
  pgs_centry *e = find_live(s->cache.buckets, s->cache.nb, account);
  if (e != NULL) {
    if (count != NULL) {
      *count = e->nregs;
      rc = LIC_OK;
    }
    store_registration *g = out != NULL ? reg_find(e, project_id) : NULL;
    if (g != NULL) {
      *out = *g;
      rc = LIC_OK;
    }
  } else if (count != NULL) {
    rc = LIC_OK; /* no account: no registrations */
  }
  pgs_rwunlock(&s->cache.lock);
  return rc;
}

int pgs__cache_cert_each(pgs_store *s, store_cert_cb cb, void *arg) {
  int rc = LIC_OK;
  pgs_rdlock(&s->cache.lock);
  for (size_t i = 0; rc == LIC_OK && i < s->cache.ncerts; i++)
    rc = cb(&s->cache.certs[i], arg);
  pgs_rwunlock(&s->cache.lock);
  return rc;
}
