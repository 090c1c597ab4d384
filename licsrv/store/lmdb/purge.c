/* store/lmdb/purge.c - retention purge (old node bookkeeping and audit entries)
 * and erasure of one license or account with everything naming it. Both run
 * as one write on the writer thread and audit themselves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "store/lmdb/internal.h"

typedef struct {
  int64_t cutoff;
  int64_t days;
  store_counts c;
  const char *actor; /* the audit entry's token name */
  store_subject kind;
  uint8_t id[LIC_ID_LEN];
} maint;

/* Delete (or rewrite) records under a cursor while walking it. */
static int purge_nodes(store_wtxn *w, maint *m, const uint8_t *owner) {
  MDB_cursor *c = NULL;
  MDB_val k, v;
  int mrc, r = LIC_OK;
  size_t plen = owner != NULL ? LIC_ID_LEN : 0;

  if ((mrc = mdb_cursor_open(w->txn, w->s->dbi[DB_NODES], &c)) != 0)
    return lmdb__fail(mrc, "nodes");
  k = lmdb__val(owner, plen);
  mrc = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
  while (mrc == 0) {
    store_node n;
    bool del = false, rewrite = false;
    if (plen && (k.mv_size < plen || memcmp(k.mv_data, owner, plen) != 0))
      break;
    if (owner != NULL) {
      del = true;
      if (lmdb__node_decode(&k, &v, &n) == LIC_OK && n.fail_time != 0)
        m->c.failures++;
    } else if (lmdb__node_decode(&k, &v, &n) != LIC_OK) {
      del = true; /* unreadable bookkeeping: drop it */
    } else if (n.last_seen < m->cutoff && n.fail_time < m->cutoff) {
      del = true;
      if (n.fail_time != 0)
        m->c.failures++;
    } else if (n.fail_time != 0 && n.fail_time < m->cutoff) {
      rewrite = true;
      n.fail_time = 0;
      n.fail_status[0] = n.fail_reason[0] = '\0';
      m->c.failures++;
    }
    if (del) {
      if ((mrc = mdb_cursor_del(c, 0)) != 0) {
        r = lmdb__fail(mrc, "nodes");
        goto out;
      }
      m->c.nodes++;
      if (k.mv_size > LIC_ID_LEN && (r = lmdb__usage_add(w->s, w->txn, k.mv_data, -1)) != LIC_OK)
        goto out;
      mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* after a delete: the next record */
      continue;
    }
    if (rewrite) {
      wbuf b = {0};
      lmdb__node_encode(&b, &n);
      MDB_val nv = lmdb__val(b.p, b.n);
      mrc = b.bad ? ENOMEM : mdb_cursor_put(c, &k, &nv, MDB_CURRENT);
      free(b.p);
      if (mrc != 0) {
        r = lmdb__fail(mrc, "nodes");
        goto out;
      }
    }
    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  if (mrc != 0 && mrc != MDB_NOTFOUND)
    r = lmdb__fail(mrc, "nodes");
out:
  mdb_cursor_close(c);
  return r;
}

/* Audit entries older than cutoff (needle NULL), or naming needle. */
static int purge_audit(store_wtxn *w, maint *m, const char *needle) {
  MDB_cursor *c = NULL;
  MDB_val k, v;
  int mrc, r = LIC_OK;

  if ((mrc = mdb_cursor_open(w->txn, w->s->dbi[DB_AUDIT], &c)) != 0)
    return lmdb__fail(mrc, "audit");
  mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
  while (mrc == 0) {
    store_audit a;
    bool del;
    int dr = lmdb__audit_decode(&k, &v, &a);
    if (needle == NULL) {
      int64_t t = k.mv_size >= 8 ? (int64_t)lmdb__be_get(k.mv_data, 8) : 0;
      if (t >= m->cutoff)
        break; /* keys are in time order */
      del = true;
    } else {
      del = dr == LIC_OK && strstr(a.subject, needle) != NULL;
    }
    if (del) {
      if ((mrc = mdb_cursor_del(c, 0)) != 0) {
        r = lmdb__fail(mrc, "audit");
        goto out;
      }
      m->c.audit++;
      if (dr == LIC_OK && (r = lmdb__usage_audit(w->s, w->txn, a.subject, -1)) != LIC_OK)
        goto out;
      mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* after a delete: the next record */
      continue;
    }
    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  if (mrc != 0 && mrc != MDB_NOTFOUND)
    r = lmdb__fail(mrc, "audit");
out:
  mdb_cursor_close(c);
  return r;
}

static int purge_apply(store_wtxn *w, void *arg) {
  maint *m = arg;
  int r;
  memset(&m->c, 0, sizeof m->c);
  if ((r = purge_nodes(w, m, NULL)) != LIC_OK || (r = purge_audit(w, m, NULL)) != LIC_OK)
    return r;
  if (m->c.nodes + m->c.failures + m->c.audit > 0) {
    char subj[64];
    snprintf(subj, sizeof subj, "retention:%lldd", (long long)m->days);
    return lmdb_w_audit_append(w, w->now, m->actor, "purge", subj);
  }
  return LIC_OK;
}

int lmdb_purge(store *s, int64_t now, int64_t retention_days, const char *actor,
              store_counts *c) {
  maint m;
  int r;
  memset(c, 0, sizeof *c);
  memset(&m, 0, sizeof m);
  /* retention_days is 1..36500: store_purge checked it */
  m.cutoff = now - retention_days * 86400;
  m.days = retention_days;
  m.actor = actor;
  if ((r = store_write(s, purge_apply, &m)) != LIC_OK)
    return r;
  *c = m.c;
  return LIC_OK;
}

static int forget_apply(store_wtxn *w, void *arg) {
  maint *m = arg;
  char uuid[LIC_UUID_LEN + 1];
  int r;
  memset(&m->c, 0, sizeof m->c);
  lic_uuid_format(m->id, uuid);
  if (m->kind == STORE_SUBJECT_LICENSE) {
    /* A revoked license leaves its id behind, so that importing it again
     * cannot make it valid (store_w_license_import). */
    MDB_val v;
    r = lmdb__get(w->s, w->txn, DB_LICENSES, m->id, LIC_ID_LEN, &v);
    if (r == LIC_OK && v.mv_size >= 2 + 8 + 8 && (((const uint8_t *)v.mv_data)[1] & 1u) != 0) {
      char tomb[LMDB_TOMBSTONE_KEY];
      lmdb__tombstone_key(m->id, tomb);
      int64_t at = (int64_t)lmdb__be_get((const uint8_t *)v.mv_data + 10, 8);
      if ((r = lmdb__meta_put_int(w->s, w->txn, tomb, at)) != LIC_OK)
        return r;
      m->c.tombstones++;
    } else if (r != LIC_OK && r != LIC_NOTFOUND) {
      return r;
    }
    r = lmdb__del(w->s, w->txn, DB_LICENSES, m->id, LIC_ID_LEN);
    if (r == LIC_OK)
      m->c.licenses++;
    else if (r != LIC_NOTFOUND)
      return r;
  } else {
    r = lmdb__del(w->s, w->txn, DB_ACCOUNTS, m->id, LIC_ID_LEN);
    if (r == LIC_OK)
      m->c.accounts++;
    else if (r != LIC_NOTFOUND)
      return r;
    MDB_cursor *c = NULL;
    MDB_val k = lmdb__val(m->id, LIC_ID_LEN), v;
    int mrc;
    if ((mrc = mdb_cursor_open(w->txn, w->s->dbi[DB_REGISTRATIONS], &c)) != 0)
      return lmdb__fail(mrc, "registrations");
    mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && k.mv_size >= LIC_ID_LEN && memcmp(k.mv_data, m->id, LIC_ID_LEN) == 0) {
      if ((mrc = mdb_cursor_del(c, 0)) != 0)
        break;
      m->c.registrations++;
      mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* after a delete: the next record */
    }
    mdb_cursor_close(c);
    if (mrc != 0 && mrc != MDB_NOTFOUND)
      return lmdb__fail(mrc, "registrations");
    if ((r = lmdb__regcount_clear(w, m->id)) != LIC_OK)
      return r;
  }
  if ((r = purge_nodes(w, m, m->id)) != LIC_OK || (r = purge_audit(w, m, uuid)) != LIC_OK ||
      (r = lmdb__usage_clear(w->s, w->txn, m->id)) != LIC_OK)
    return r;
  /* The erasure itself is audited without naming the subject. */
  return lmdb_w_audit_append(w, w->now, m->actor, "forget",
                              m->kind == STORE_SUBJECT_LICENSE ? "license:(erased)"
                                                               : "account:(erased)");
}

int lmdb_forget(store *s, store_subject kind, const uint8_t id[LIC_ID_LEN], const char *actor,
               store_counts *c) {
  maint m;
  int r;
  memset(c, 0, sizeof *c);
  memset(&m, 0, sizeof m);
  m.kind = kind;
  m.actor = actor;
  memcpy(m.id, id, LIC_ID_LEN);
  if ((r = store_write(s, forget_apply, &m)) != LIC_OK)
    return r;
  *c = m.c;
  return LIC_OK;
}
