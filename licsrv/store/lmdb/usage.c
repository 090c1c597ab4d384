/* store/lmdb/usage.c - the usage database (schema 3): per owner (an account,
 * or a license in private mode) how many records of the store are its own:
 * registrations, node records, and audit entries whose subject starts with
 * "account:ID". Every write that adds or deletes one of them changes the
 * count in the same write transaction, so the per-account quota of public
 * mode (docs/server.md "Store quota") costs one read per request. Also the
 * map's live pages, from the databases' own page counts (what a purge frees
 * shows at once, unlike the file's last page). */
#include <stdio.h>
#include <string.h>

#include "lic/err.h"
#include "store/lmdb/internal.h"

/* usage: owner id -> u8 ver, i64 records (absent = 0) */
static int usage_get(store *s, MDB_txn *t, const uint8_t owner[LIC_ID_LEN], int64_t *n) {
  *n = 0;
  return s->usage ? lmdb__counter_get(s, t, DB_USAGE, owner, "usage", n) : LIC_OK;
}

static int usage_put(store *s, MDB_txn *t, const uint8_t owner[LIC_ID_LEN], int64_t n) {
  return lmdb__counter_put(s, t, DB_USAGE, owner, n);
}

/* The largest owner this process has written (writer thread only): a growth
 * above it moves it; a shrink of it lowers it. Approximate by design (a
 * transaction rolled back, another process's writes): the headroom rule only
 * compares an account with half of it. */
static void top_note(store *s, const uint8_t owner[LIC_ID_LEN], int64_t n) {
  bool same = memcmp(s->top_id, owner, LIC_ID_LEN) == 0;
  if (n > s->top_n || same) {
    memcpy(s->top_id, owner, LIC_ID_LEN);
    s->top_n = n;
  }
}

int lmdb__usage_add(store *s, MDB_txn *t, const uint8_t owner[LIC_ID_LEN], int64_t delta) {
  int64_t n;
  int r;
  if (!s->usage || delta == 0)
    return LIC_OK;
  if ((r = usage_get(s, t, owner, &n)) != LIC_OK && r != LIC_FORMAT)
    return r;
  n += delta;
  if (n < 0)
    n = 0; /* a count never blocks a delete */
  top_note(s, owner, n);
  return usage_put(s, t, owner, n);
}

int lmdb__usage_clear(store *s, MDB_txn *t, const uint8_t owner[LIC_ID_LEN]) {
  if (!s->usage)
    return LIC_OK;
  top_note(s, owner, 0);
  return usage_put(s, t, owner, 0);
}

bool lmdb__usage_subject(const char *subject, uint8_t owner[LIC_ID_LEN]) {
  static const char pre[] = "account:";
  if (subject == NULL || strncmp(subject, pre, sizeof pre - 1) != 0 ||
      strlen(subject) < sizeof pre - 1 + LIC_UUID_LEN)
    return false;
  return lic_uuid_parse(subject + sizeof pre - 1, LIC_UUID_LEN, owner) == LIC_OK;
}

int lmdb__usage_audit(store *s, MDB_txn *t, const char *subject, int64_t delta) {
  uint8_t owner[LIC_ID_LEN];
  if (!s->usage || !lmdb__usage_subject(subject, owner))
    return LIC_OK;
  return lmdb__usage_add(s, t, owner, delta);
}

/* Owner-prefixed keys in key order: one run per owner, one put per run. */
static int count_runs(store *s, MDB_txn *t, int db) {
  MDB_cursor *c = NULL;
  MDB_val k, v;
  uint8_t cur[LIC_ID_LEN];
  int64_t n = 0;
  int mrc, r = LIC_OK;
  if ((mrc = mdb_cursor_open(t, s->dbi[db], &c)) != 0)
    return lmdb__fail(mrc, lmdb__db_names[db]);
  for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
       mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (k.mv_size <= LIC_ID_LEN && db == DB_NODES)
      continue;
    if (k.mv_size < LIC_ID_LEN)
      continue;
    if (n > 0 && memcmp(cur, k.mv_data, LIC_ID_LEN) != 0) {
      if ((r = lmdb__usage_add(s, t, cur, n)) != LIC_OK)
        goto out;
      n = 0;
    }
    memcpy(cur, k.mv_data, LIC_ID_LEN);
    n++;
  }
  if (mrc != MDB_NOTFOUND) {
    r = lmdb__fail(mrc, lmdb__db_names[db]);
    goto out;
  }
  if (n > 0)
    r = lmdb__usage_add(s, t, cur, n);
out:
  mdb_cursor_close(c);
  return r;
}

int lmdb__usage_rebuild(store *s, MDB_txn *t) {
  MDB_cursor *c = NULL;
  MDB_val k, v;
  int mrc, r;
  if ((mrc = mdb_drop(t, s->dbi[DB_USAGE], 0)) != 0)
    return lmdb__fail(mrc, "usage");
  s->top_n = 0;
  if ((r = count_runs(s, t, DB_REGISTRATIONS)) != LIC_OK ||
      (r = count_runs(s, t, DB_NODES)) != LIC_OK)
    return r;
  if ((mrc = mdb_cursor_open(t, s->dbi[DB_AUDIT], &c)) != 0)
    return lmdb__fail(mrc, "audit");
  for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
       mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    store_audit a;
    if (lmdb__audit_decode(&k, &v, &a) != LIC_OK)
      continue;
    if ((r = lmdb__usage_audit(s, t, a.subject, 1)) != LIC_OK)
      break;
  }
  mdb_cursor_close(c);
  if (r != LIC_OK)
    return r;
  return mrc == MDB_NOTFOUND ? LIC_OK : lmdb__fail(mrc, "audit");
}

int lmdb__usage_load_top(store *s, MDB_txn *t) {
  MDB_cursor *c = NULL;
  MDB_val k, v;
  int mrc;
  s->top_n = 0;
  if (!s->usage)
    return LIC_OK;
  if ((mrc = mdb_cursor_open(t, s->dbi[DB_USAGE], &c)) != 0)
    return lmdb__fail(mrc, "usage");
  for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
       mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (k.mv_size != LIC_ID_LEN || v.mv_size != 9)
      continue;
    int64_t n = (int64_t)lmdb__be_get((const uint8_t *)v.mv_data + 1, 8);
    if (n > s->top_n) {
      s->top_n = n;
      memcpy(s->top_id, k.mv_data, LIC_ID_LEN);
    }
  }
  mdb_cursor_close(c);
  return mrc == MDB_NOTFOUND ? LIC_OK : lmdb__fail(mrc, "usage");
}

/* Live pages: every database's branch, leaf and overflow pages, the main
 * database's too, and the two meta pages (the free list is not a user
 * database: its few pages are left out). */
static int live_bytes(store *s, MDB_txn *t, uint64_t *used, uint64_t *mapsize) {
  MDB_envinfo info;
  MDB_stat st;
  uint64_t pages = 2, psize = 0;
  int mrc;
  *used = *mapsize = 0;
  if ((mrc = mdb_env_info(s->env, &info)) != 0)
    return lmdb__fail(mrc, "usage");
  for (int i = -1; i < DB_COUNT; i++) {
    MDB_dbi d = i == -1 ? 1 : s->dbi[i]; /* 1: MAIN_DBI */
    if (i == DB_USAGE && !s->usage)
      continue;
    if ((mrc = mdb_stat(t, d, &st)) != 0)
      return lmdb__fail(mrc, "usage");
    pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    psize = st.ms_psize;
  }
  *used = pages * psize;
  *mapsize = info.me_mapsize;
  return LIC_OK;
}

static int usage_fill(store *s, MDB_txn *t, const uint8_t account[LIC_ID_LEN], store_usage *u) {
  int64_t n = 0;
  int r;
  memset(u, 0, sizeof *u);
  u->counted = s->usage;
  if ((r = usage_get(s, t, account, &n)) != LIC_OK)
    return r;
  u->records = (uint64_t)n;
  return live_bytes(s, t, &u->used, &u->mapsize);
}

int lmdb_usage_get(store_reader *rd, const uint8_t account[LIC_ID_LEN], store_usage *u) {
  MDB_txn *t;
  int r;
  memset(u, 0, sizeof *u);
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  return usage_fill(rd->s, t, account, u); /* top_records: the writer's, not here */
}

int lmdb_w_usage_get(store_wtxn *w, const uint8_t account[LIC_ID_LEN], store_usage *u) {
  int r = usage_fill(w->s, w->txn, account, u);
  if (r == LIC_OK)
    u->top_records = w->s->top_n > 0 ? (uint64_t)w->s->top_n : 0;
  return r;
}
