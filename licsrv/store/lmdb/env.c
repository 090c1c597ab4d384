/* store/lmdb/env.c - the LMDB environment behind a store handle: open (create,
 * schema version check, warm map), close, per-thread readers, and the meta
 * database (store meta, clock high-water mark, certificate). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "store/lmdb/internal.h"

const char *const lmdb__db_names[DB_COUNT] = {"meta", "licenses", "accounts", "registrations",
                                              "nodes", "activations", "audit", "tokens",
                                              "regcounts", "usage"};

/* ---- meta ----------------------------------------------------------------- */

static int meta_get(store *s, MDB_txn *t, const char *key, MDB_val *v) {
  MDB_val k = lmdb__val(key, strlen(key));
  int mrc = mdb_get(t, s->dbi[DB_META], &k, v);
  if (mrc == MDB_NOTFOUND)
    return LIC_NOTFOUND;
  return mrc == 0 ? LIC_OK : lmdb__fail(mrc, "meta");
}

static int meta_put(store *s, MDB_txn *t, const char *key, const void *d, size_t n) {
  MDB_val k = lmdb__val(key, strlen(key)), v = lmdb__val(d, n);
  int mrc = mdb_put(t, s->dbi[DB_META], &k, &v, 0);
  return mrc == 0 ? LIC_OK : lmdb__fail(mrc, "meta");
}

int lmdb__meta_get_int(store *s, MDB_txn *t, const char *key, int64_t *out) {
  MDB_val v;
  int r;
  *out = 0;
  if ((r = meta_get(s, t, key, &v)) != LIC_OK)
    return r;
  if (v.mv_size != 8)
    return lmdb__corrupt("meta", key);
  *out = (int64_t)lmdb__be_get(v.mv_data, 8);
  return LIC_OK;
}

int lmdb__meta_put_int(store *s, MDB_txn *t, const char *key, int64_t val) {
  uint8_t b[8];
  lmdb__be_put(b, (uint64_t)val, 8);
  return meta_put(s, t, key, b, 8);
}

static int meta_get_fixed(store *s, MDB_txn *t, const char *key, uint8_t *out, size_t n) {
  MDB_val v;
  int r;
  if ((r = meta_get(s, t, key, &v)) != LIC_OK)
    return r;
  if (v.mv_size != n)
    return lmdb__corrupt("meta", key);
  memcpy(out, v.mv_data, n);
  return LIC_OK;
}

static int meta_read(store *s, MDB_txn *t, store_meta *m) {
  MDB_val v;
  int64_t schema;
  int r;

  memset(m, 0, sizeof *m);
  if ((r = lmdb__meta_get_int(s, t, "schema", &schema)) != LIC_OK)
    return r;
  if (schema < 1 || schema > UINT32_MAX)
    return lmdb__corrupt("meta", "schema");
  m->schema = (uint32_t)schema;
  if ((r = meta_get(s, t, "mode", &v)) == LIC_OK) {
    if (v.mv_size == 0 || v.mv_size > LIC_MAX_MODE)
      return lmdb__corrupt("meta", "mode");
    memcpy(m->mode, v.mv_data, v.mv_size);
    m->mode[v.mv_size] = '\0';
  } else if (r != LIC_NOTFOUND) {
    return r;
  }
  if ((r = meta_get_fixed(s, t, "node_kid", m->node_kid, LIC_KID_LEN)) == LIC_OK) {
    if ((r = meta_get_fixed(s, t, "node_pub", m->node_pub, LIC_PUBKEY_LEN)) != LIC_OK)
      return r == LIC_NOTFOUND ? lmdb__corrupt("meta", "node_pub missing") : r;
    m->has_node_key = true;
  } else if (r != LIC_NOTFOUND) {
    return r;
  }
  if ((r = meta_get_fixed(s, t, "project_id", m->project_id, LIC_ID_LEN)) != LIC_OK &&
      r != LIC_NOTFOUND)
    return r;
  if ((r = lmdb__meta_get_int(s, t, "created", &m->created)) != LIC_OK && r != LIC_NOTFOUND)
    return r;
  if ((r = lmdb__meta_get_int(s, t, "clock_hwm", &m->clock_hwm)) != LIC_OK && r != LIC_NOTFOUND)
    return r;
  return LIC_OK;
}

/* ---- open / close ----------------------------------------------------------- */

/* Read every license, node and token record once so their pages are in memory
 * before the first request (SPEC §7). */
static int warm(store *s) {
  MDB_txn *t = NULL;
  MDB_cursor *c = NULL;
  MDB_val k, v;
  volatile uint8_t sink = 0;
  int mrc, r = LIC_OK;
  static const int dbs[] = {DB_LICENSES, DB_NODES, DB_TOKENS, DB_REGCOUNTS};

  if ((mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t)) != 0)
    return lmdb__fail(mrc, "warm");
  for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
    if (dbs[i] == DB_REGCOUNTS && !s->regcounts)
      continue;
    if ((mrc = mdb_cursor_open(t, s->dbi[dbs[i]], &c)) != 0) {
      r = lmdb__fail(mrc, "warm");
      break;
    }
    while ((mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
      for (size_t j = 0; j < v.mv_size; j += 4096)
        sink ^= ((const uint8_t *)v.mv_data)[j];
    mdb_cursor_close(c);
    c = NULL;
    if (mrc != MDB_NOTFOUND) {
      r = lmdb__fail(mrc, "warm");
      break;
    }
  }
  (void)sink;
  mdb_txn_abort(t);
  return r;
}

/* Schema 1 kept no registration counts: a writable open counts every
 * account's registrations once and marks the store schema 2, in the same
 * transaction (a crash leaves schema 1, counted again at the next open).
 * Schema 2 kept no per-owner record counts (usage): counted once the same
 * way, and the store marked schema 3. Each refuses an older licsrv, which
 * would not keep the counts. */
static int upgrade(store *s, MDB_txn *t, int64_t *schema) {
  int r;
  if (*schema >= STORE_SCHEMA_VERSION || s->rdonly)
    return LIC_OK;
  if (*schema < 2 && (r = lmdb__regcount_rebuild(s, t)) != LIC_OK)
    return r;
  s->usage = true; /* counted from here on, in this transaction */
  if ((r = lmdb__usage_rebuild(s, t)) != LIC_OK ||
      (r = lmdb__meta_put_int(s, t, "schema", STORE_SCHEMA_VERSION)) != LIC_OK)
    return r;
  *schema = STORE_SCHEMA_VERSION;
  return LIC_OK;
}

static int open_dbs(store *s, unsigned flags) {
  MDB_txn *t = NULL;
  int64_t schema = 0;
  bool have_counts = true, have_usage = true;
  int mrc, r;

  if ((mrc = mdb_txn_begin(s->env, NULL, s->rdonly ? MDB_RDONLY : 0, &t)) != 0)
    return lmdb__fail(mrc, "begin");
  for (int i = 0; i < DB_COUNT; i++) {
    if ((mrc = mdb_dbi_open(t, lmdb__db_names[i], s->rdonly ? 0 : MDB_CREATE, &s->dbi[i])) != 0) {
      if (mrc == MDB_NOTFOUND && i == DB_REGCOUNTS) { /* read-only, schema 1 */
        have_counts = false;
        continue;
      }
      if (mrc == MDB_NOTFOUND && i == DB_USAGE) { /* read-only, schema 1 or 2 */
        have_usage = false;
        continue;
      }
      r = mrc == MDB_NOTFOUND
              ? lic_fail(LIC_NOTFOUND, "%s: not a licsrv store (no '%s' database)", s->dir,
                            lmdb__db_names[i])
              : lmdb__fail(mrc, lmdb__db_names[i]);
      goto out;
    }
  }
  r = lmdb__meta_get_int(s, t, "schema", &schema);
  if (r == LIC_NOTFOUND) {
    if (!(flags & STORE_CREATE) || s->rdonly) {
      r = lic_fail(LIC_NOTFOUND, "%s: store not initialized (run 'licsrv init')", s->dir);
      goto out;
    }
    if ((r = lmdb__meta_put_int(s, t, "schema", STORE_SCHEMA_VERSION)) != LIC_OK)
      goto out;
    schema = STORE_SCHEMA_VERSION;
  } else if (r != LIC_OK) {
    goto out;
  }
  if (schema > STORE_SCHEMA_VERSION) {
    r = lic_fail(LIC_FORMAT,
                    "%s: store schema version %lld is newer than this licsrv supports (%d); "
                    "run a newer licsrv or restore a backup",
                    s->dir, (long long)schema, STORE_SCHEMA_VERSION);
    goto out;
  }
  if (schema < 1) {
    r = lmdb__corrupt("meta", "schema version");
    goto out;
  }
  if ((r = upgrade(s, t, &schema)) != LIC_OK)
    goto out;
  if (schema >= 2 && !have_counts) {
    r = lmdb__corrupt("store", "no 'regcounts' database at schema 2");
    goto out;
  }
  if (schema >= 3 && !have_usage) {
    r = lmdb__corrupt("store", "no 'usage' database at schema 3");
    goto out;
  }
  s->regcounts = schema >= 2;
  s->usage = schema >= 3;
  if ((r = lmdb__usage_load_top(s, t)) != LIC_OK)
    goto out;
  if ((mrc = mdb_txn_commit(t)) != 0) {
    t = NULL;
    r = lmdb__fail(mrc, "commit");
    goto out;
  }
  t = NULL;
  r = LIC_OK;
out:
  if (t != NULL)
    mdb_txn_abort(t);
  return r;
}

int lmdb_open(const char *dir, unsigned flags, store **out) {
  return lmdb_open_mapped(dir, flags, 0, out);
}

int lmdb_open_mapped(const char *dir, unsigned flags, size_t map_size, store **out) {
  store *s = NULL;
  char path[PATH_MAX + 16];
  struct stat st;
  int mrc, r, dead;
  bool mu_init = false;

  *out = NULL;
  if ((s = calloc(1, sizeof *s)) == NULL)
    return LIC_NOMEM;
  s->ops = &lmdb_ops;
  s->rdonly = (flags & STORE_RDONLY) != 0;
  if ((size_t)snprintf(s->dir, sizeof s->dir, "%s/%s", dir, STORE_SUBDIR) >= sizeof s->dir) {
    r = lic_fail(LIC_INVALID, "%s: path too long", dir);
    goto out;
  }
  if (flags & STORE_CREATE) {
    if (mkdir(s->dir, 0700) != 0 && errno != EEXIST) {
      r = lic_fail(LIC_IO, "%s: %s", s->dir, strerror(errno));
      goto out;
    }
  }
  snprintf(path, sizeof path, "%s/data.mdb", s->dir);
  if (stat(path, &st) != 0) {
    if (errno == ENOENT && !(flags & STORE_CREATE)) {
      r = lic_fail(LIC_NOTFOUND, "%s: not a licsrv data directory (run 'licsrv init')", dir);
      goto out;
    }
    if (errno != ENOENT) {
      r = lic_fail(LIC_IO, "%s: %s", path, strerror(errno));
      goto out;
    }
  }
  if (pthread_mutex_init(&s->mu, NULL) != 0) {
    r = lic_fail(LIC_NOMEM, "store: cannot create locks");
    goto out;
  }
  if (pthread_cond_init(&s->done, NULL) != 0) {
    pthread_mutex_destroy(&s->mu);
    r = lic_fail(LIC_NOMEM, "store: cannot create locks");
    goto out;
  }
  if (opq_init(&s->q) != LIC_OK) {
    pthread_cond_destroy(&s->done);
    pthread_mutex_destroy(&s->mu);
    r = lic_fail(LIC_NOMEM, "store: cannot create locks");
    goto out;
  }
  mu_init = true;
  if ((mrc = mdb_env_create(&s->env)) != 0 ||
      (mrc = mdb_env_set_maxdbs(s->env, DB_COUNT + 2)) != 0 ||
      (mrc = mdb_env_set_maxreaders(s->env, STORE_MAX_READERS)) != 0 ||
      (mrc = mdb_env_set_mapsize(s->env, map_size ? map_size : STORE_MAP_SIZE)) != 0) {
    r = lmdb__fail(mrc, "environment");
    goto out;
  }
  /* MDB_NOTLS: a reader slot belongs to a store_reader, not to a thread. */
  unsigned envflags = MDB_NOTLS | (s->rdonly ? MDB_RDONLY : 0u);
  /* Benchmarks only (store.h): exactly "1", so that no "0" or "false" left
   * in an environment switches durability off. */
  const char *nosync = getenv(STORE_BENCH_NOSYNC_ENV);
  if (!s->rdonly && nosync != NULL && strcmp(nosync, "1") == 0)
    envflags |= MDB_NOSYNC | MDB_NOMETASYNC;
  if ((mrc = mdb_env_open(s->env, s->dir, envflags, 0600)) != 0) {
    r = lmdb__fail(mrc, s->dir);
    goto out;
  }
  /* Said by LMDB itself, not by our reading of the variable. */
  unsigned got = 0;
  if (mdb_env_get_flags(s->env, &got) == 0)
    s->nosync = (got & MDB_NOSYNC) != 0;
  mdb_reader_check(s->env, &dead); /* slots of processes killed while reading */
  if ((r = open_dbs(s, flags)) != LIC_OK || (r = warm(s)) != LIC_OK)
    goto out;
  if (!s->rdonly) {
    /* The writer syncs each commit's meta page itself (store/lmdb/writer.c):
     * set before it starts, while no other thread uses the environment. */
    if (!s->nosync && (mrc = mdb_env_set_flags(s->env, MDB_NOMETASYNC, 1)) != 0) {
      r = lmdb__fail(mrc, "environment flags");
      goto out;
    }
    if (pthread_create(&s->writer, NULL, lmdb__writer_main, s) != 0) {
      r = lic_fail(LIC_NOMEM, "store: cannot start the writer thread");
      goto out;
    }
    s->writer_started = true;
  }
  *out = s;
  s = NULL;
  r = LIC_OK;
out:
  if (s != NULL) {
    if (s->env != NULL)
      mdb_env_close(s->env);
    if (mu_init) {
      opq_destroy(&s->q);
      pthread_mutex_destroy(&s->mu);
      pthread_cond_destroy(&s->done);
    }
    free(s);
  }
  return r;
}

void lmdb_close(store *s) {
  if (s == NULL)
    return;
  if (s->writer_started) {
    pthread_mutex_lock(&s->mu);
    s->stopping = true; /* before the queue closes: the writer's last drain takes the batch */
    pthread_mutex_unlock(&s->mu);
    opq_close(&s->q);
    pthread_join(s->writer, NULL);
  }
  if (!s->rdonly)
    mdb_env_sync(s->env, 1);
  mdb_env_close(s->env);
  store_batch_free(&s->batch);
  opq_destroy(&s->q);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->done);
  free(s);
}

/* ---- readers ---------------------------------------------------------------- */

int lmdb_reader_new(store *s, store_reader **out) {
  *out = NULL;
  store_reader *rd = calloc(1, sizeof *rd);
  if (rd == NULL)
    return LIC_NOMEM;
  rd->ops = &lmdb_ops;
  rd->s = s;
  *out = rd;
  return LIC_OK;
}

void lmdb_reader_free(store_reader *rd) {
  if (rd == NULL)
    return;
  if (rd->txn != NULL)
    mdb_txn_abort(rd->txn);
  free(rd);
}

int lmdb_reader_begin(store_reader *rd) {
  int mrc;
  if (rd->txn == NULL) {
    if ((mrc = mdb_txn_begin(rd->s->env, NULL, MDB_RDONLY, &rd->txn)) != 0) {
      rd->txn = NULL;
      return lmdb__fail(mrc, "read transaction");
    }
  } else {
    if (rd->active)
      mdb_txn_reset(rd->txn);
    rd->active = false;
    if ((mrc = mdb_txn_renew(rd->txn)) != 0)
      return lmdb__fail(mrc, "read transaction");
  }
  rd->active = true;
  return LIC_OK;
}

void lmdb_reader_end(store_reader *rd) {
  if (rd != NULL && rd->txn != NULL && rd->active) {
    mdb_txn_reset(rd->txn);
    rd->active = false;
  }
}

int lmdb__rtxn(store_reader *rd, MDB_txn **t) {
  *t = NULL;
  if (rd == NULL || !rd->active)
    return lic_fail(LIC_INVALID, "store reader used outside store_reader_begin/end");
  *t = rd->txn;
  return LIC_OK;
}

int lmdb_meta_get(store_reader *rd, store_meta *m) {
  MDB_txn *t;
  int r;
  memset(m, 0, sizeof *m);
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  return meta_read(rd->s, t, m);
}

int lmdb_w_meta_init(store_wtxn *w, const char *mode, const uint8_t kid[LIC_KID_LEN],
                      const uint8_t pub[LIC_PUBKEY_LEN], const uint8_t project_id[LIC_ID_LEN],
                      int64_t now) {
  MDB_val v;
  int r;
  if (strlen(mode) == 0 || strlen(mode) > LIC_MAX_MODE)
    return lic_fail(LIC_INVALID, "mode '%s' is not valid", mode);
  if ((r = meta_get(w->s, w->txn, "node_kid", &v)) != LIC_NOTFOUND)
    return r == LIC_OK ? lic_fail(LIC_EXISTS, "the store already holds a node key") : r;
  if ((r = meta_put(w->s, w->txn, "mode", mode, strlen(mode))) != LIC_OK ||
      (r = meta_put(w->s, w->txn, "node_kid", kid, LIC_KID_LEN)) != LIC_OK ||
      (r = meta_put(w->s, w->txn, "node_pub", pub, LIC_PUBKEY_LEN)) != LIC_OK ||
      (r = meta_put(w->s, w->txn, "project_id", project_id, LIC_ID_LEN)) != LIC_OK ||
      (r = lmdb__meta_put_int(w->s, w->txn, "created", now)) != LIC_OK)
    return r;
  return LIC_OK;
}

int lmdb_clock_hwm_get(store_reader *rd, int64_t *out) {
  MDB_txn *t;
  int r;
  *out = 0;
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  r = lmdb__meta_get_int(rd->s, t, "clock_hwm", out);
  if (r != LIC_OK && r != LIC_NOTFOUND)
    return r;
  /* A mark noted but not yet flushed counts too. */
  pthread_mutex_lock(&rd->s->mu);
  if (rd->s->hwm_pending > *out)
    *out = rd->s->hwm_pending;
  pthread_mutex_unlock(&rd->s->mu);
  return LIC_OK;
}

int lmdb_w_clock_hwm_set(store_wtxn *w, int64_t t) {
  int64_t cur = 0;
  int r = lmdb__meta_get_int(w->s, w->txn, "clock_hwm", &cur);
  if (r != LIC_OK && r != LIC_NOTFOUND)
    return r;
  if (r == LIC_OK && cur >= t)
    return LIC_OK;
  return lmdb__meta_put_int(w->s, w->txn, "clock_hwm", t);
}

int lmdb_w_clock_hwm_reset(store_wtxn *w, int64_t t) {
  return lmdb__meta_put_int(w->s, w->txn, "clock_hwm", t);
}

int lmdb_w_cert_put(store_wtxn *w, const uint8_t *env, size_t len) {
  return meta_put(w->s, w->txn, "cert", env, len);
}

int lmdb_cert_get(store_reader *rd, uint8_t **env, size_t *len) {
  MDB_txn *t;
  MDB_val v;
  int r;
  *env = NULL;
  *len = 0;
  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK || (r = meta_get(rd->s, t, "cert", &v)) != LIC_OK)
    return r;
  if (v.mv_size == 0 || v.mv_size > LIC_MAX_ENVELOPE)
    return lmdb__corrupt("meta", "cert");
  if ((*env = malloc(v.mv_size)) == NULL)
    return LIC_NOMEM;
  memcpy(*env, v.mv_data, v.mv_size);
  *len = v.mv_size;
  return LIC_OK;
}

STORE_TABLE(lmdb, "lmdb");
