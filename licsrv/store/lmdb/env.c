/* store.c - the LMDB schema of licsrv and the only code that knows it: record
 * layouts, the group-commit writer thread, batched heartbeat writes, backup,
 * retention purge and erasure. docs/storage.md describes the same layout. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/crypto.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/err.h"
#include "store/store.h"

enum { DB_META, DB_LICENSES, DB_ACCOUNTS, DB_REGISTRATIONS, DB_NODES, DB_ACTIVATIONS,
       DB_AUDIT, DB_TOKENS, DB_COUNT };
static const char *const DB_NAMES[DB_COUNT] = {"meta", "licenses", "accounts", "registrations",
                                               "nodes", "activations", "audit", "tokens"};

#define REC_VERSION 1 /* first byte of every record value */

/* ---- errors: every MDB_* code becomes a lic_err here, detail kept ------- */

static int mdb_fail(int mrc, const char *what) {
  int e;
  switch (mrc) {
  case MDB_NOTFOUND: e = LIC_NOTFOUND; break;
  case MDB_KEYEXIST: e = LIC_EXISTS; break;
  case MDB_MAP_FULL: case MDB_DBS_FULL: case MDB_READERS_FULL: case MDB_TXN_FULL:
  case MDB_CURSOR_FULL: case MDB_PAGE_FULL: case MDB_MAP_RESIZED: case MDB_BAD_VALSIZE:
  case MDB_TLS_FULL:
    e = LIC_LIMIT;
    break;
  case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND: case MDB_INVALID: case MDB_VERSION_MISMATCH:
  case MDB_INCOMPATIBLE: case MDB_BAD_DBI:
    e = LIC_FORMAT;
    break;
  case ENOMEM: e = LIC_NOMEM; break;
  case ENOENT: e = LIC_NOTFOUND; break;
  case EINVAL: e = LIC_INVALID; break;
  default: e = LIC_IO; break;
  }
  return lic_fail(e, "%s: %s", what, mdb_strerror(mrc));
}

static int corrupt(const char *what, const char *why) {
  return lic_fail(LIC_FORMAT, "stored %s record is corrupt (%s)", what, why);
}

/* ---- record codec: version byte, big-endian ints, u16/u32-length strings -- */

typedef struct {
  uint8_t *p;
  size_t n, cap;
  bool bad;
} wbuf;

static void wb_put(wbuf *b, const void *d, size_t len) {
  if (b->bad)
    return;
  if (b->n + len > b->cap) {
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->n + len)
      cap *= 2;
    uint8_t *np = realloc(b->p, cap);
    if (np == NULL) {
      b->bad = true;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  if (len > 0)
    memcpy(b->p + b->n, d, len);
  b->n += len;
}

static void be_put(uint8_t *o, uint64_t v, size_t w) {
  for (size_t i = 0; i < w; i++)
    o[i] = (uint8_t)(v >> (8 * (w - 1 - i)));
}

static uint64_t be_get(const uint8_t *p, size_t w) {
  uint64_t v = 0;
  for (size_t i = 0; i < w; i++)
    v = (v << 8) | p[i];
  return v;
}

static void wb_u8(wbuf *b, uint8_t v) { wb_put(b, &v, 1); }
static void wb_i64(wbuf *b, int64_t v) {
  uint8_t o[8];
  be_put(o, (uint64_t)v, 8);
  wb_put(b, o, 8);
}
static void wb_str(wbuf *b, const char *s) {
  size_t len = s != NULL ? strlen(s) : 0;
  uint8_t o[2];
  if (len > UINT16_MAX) {
    b->bad = true;
    return;
  }
  be_put(o, len, 2);
  wb_put(b, o, 2);
  wb_put(b, s, len);
}
static void wb_blob(wbuf *b, const uint8_t *d, size_t len) {
  uint8_t o[4];
  if (len > UINT32_MAX) {
    b->bad = true;
    return;
  }
  be_put(o, len, 4);
  wb_put(b, o, 4);
  wb_put(b, d, len);
}

typedef struct {
  const uint8_t *p;
  size_t n;
  bool bad;
} rbuf;

static uint64_t rb_uint(rbuf *r, size_t w) {
  if (r->bad || r->n < w) {
    r->bad = true;
    return 0;
  }
  uint64_t v = be_get(r->p, w);
  r->p += w;
  r->n -= w;
  return v;
}
static int64_t rb_i64(rbuf *r) { return (int64_t)rb_uint(r, 8); }
/* A string of at most cap-1 bytes without NULs, copied NUL-terminated. */
static void rb_str(rbuf *r, char *out, size_t cap) {
  size_t len = (size_t)rb_uint(r, 2);
  out[0] = '\0';
  if (r->bad || len > r->n || len >= cap || memchr(r->p, '\0', len) != NULL) {
    r->bad = true;
    return;
  }
  memcpy(out, r->p, len);
  out[len] = '\0';
  r->p += len;
  r->n -= len;
}
/* A blob copied out (malloc'd; NULL for an empty one). */
static void rb_blob(rbuf *r, size_t max, uint8_t **out, size_t *outlen) {
  size_t len = (size_t)rb_uint(r, 4);
  *out = NULL;
  *outlen = 0;
  if (r->bad || len > r->n || len > max) {
    r->bad = true;
    return;
  }
  if (len > 0) {
    if ((*out = malloc(len)) == NULL) {
      r->bad = true;
      return;
    }
    memcpy(*out, r->p, len);
  }
  *outlen = len;
  r->p += len;
  r->n -= len;
}
static void rb_begin(rbuf *r, const MDB_val *v) {
  r->p = v->mv_data;
  r->n = v->mv_size;
  r->bad = false;
  if (rb_uint(r, 1) != REC_VERSION)
    r->bad = true;
}
static bool rb_done(const rbuf *r) { return !r->bad && r->n == 0; }

/* ---- the store ---------------------------------------------------------- */

typedef struct op {
  store_apply_fn apply;
  store_done_fn done;
  void *arg;
  int rc;
  char detail[320];
  struct op *next;
} op;

typedef struct {
  bool used, seen, failed;
  store_node n;
} bentry;

typedef struct {
  bentry *e;
  size_t cap, n;
} btable;

struct store {
  MDB_env *env;
  MDB_dbi dbi[DB_COUNT];
  bool rdonly;
  char dir[PATH_MAX];
  pthread_t writer;
  bool writer_started;
  pthread_mutex_t mu;
  pthread_cond_t work; /* writer waits for work */
  pthread_cond_t done; /* callers wait for completions */
  op *head, *tail;
  btable batch;
  int64_t hwm_pending;
  int64_t batch_since_ms; /* when the oldest pending batch entry arrived */
  uint64_t flush_wanted, flush_done;
  bool stopping;
  store_stats stats;
};

struct store_reader {
  store *s;
  MDB_txn *txn;
  bool active;
};

struct store_wtxn {
  store *s;
  MDB_txn *txn;
  int64_t now;
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static MDB_val mval(const void *p, size_t n) {
  MDB_val v = {n, (void *)(uintptr_t)p};
  return v;
}

/* ---- meta ----------------------------------------------------------------- */

static int meta_get(store *s, MDB_txn *t, const char *key, MDB_val *v) {
  MDB_val k = mval(key, strlen(key));
  int mrc = mdb_get(t, s->dbi[DB_META], &k, v);
  if (mrc == MDB_NOTFOUND)
    return LIC_NOTFOUND;
  return mrc == 0 ? LIC_OK : mdb_fail(mrc, "meta");
}

static int meta_put(store *s, MDB_txn *t, const char *key, const void *d, size_t n) {
  MDB_val k = mval(key, strlen(key)), v = mval(d, n);
  int mrc = mdb_put(t, s->dbi[DB_META], &k, &v, 0);
  return mrc == 0 ? LIC_OK : mdb_fail(mrc, "meta");
}

static int meta_get_int(store *s, MDB_txn *t, const char *key, int64_t *out) {
  MDB_val v;
  int r;
  *out = 0;
  if ((r = meta_get(s, t, key, &v)) != LIC_OK)
    return r;
  if (v.mv_size != 8)
    return corrupt("meta", key);
  *out = (int64_t)be_get(v.mv_data, 8);
  return LIC_OK;
}

static int meta_put_int(store *s, MDB_txn *t, const char *key, int64_t val) {
  uint8_t b[8];
  be_put(b, (uint64_t)val, 8);
  return meta_put(s, t, key, b, 8);
}

static int meta_get_fixed(store *s, MDB_txn *t, const char *key, uint8_t *out, size_t n) {
  MDB_val v;
  int r;
  if ((r = meta_get(s, t, key, &v)) != LIC_OK)
    return r;
  if (v.mv_size != n)
    return corrupt("meta", key);
  memcpy(out, v.mv_data, n);
  return LIC_OK;
}

static int meta_read(store *s, MDB_txn *t, store_meta *m) {
  MDB_val v;
  int64_t schema;
  int r;

  memset(m, 0, sizeof *m);
  if ((r = meta_get_int(s, t, "schema", &schema)) != LIC_OK)
    return r;
  if (schema < 1 || schema > UINT32_MAX)
    return corrupt("meta", "schema");
  m->schema = (uint32_t)schema;
  if ((r = meta_get(s, t, "mode", &v)) == LIC_OK) {
    if (v.mv_size == 0 || v.mv_size > LIC_MAX_MODE)
      return corrupt("meta", "mode");
    memcpy(m->mode, v.mv_data, v.mv_size);
    m->mode[v.mv_size] = '\0';
  } else if (r != LIC_NOTFOUND) {
    return r;
  }
  if ((r = meta_get_fixed(s, t, "node_kid", m->node_kid, LIC_KID_LEN)) == LIC_OK) {
    if ((r = meta_get_fixed(s, t, "node_pub", m->node_pub, LIC_PUBKEY_LEN)) != LIC_OK)
      return r == LIC_NOTFOUND ? corrupt("meta", "node_pub missing") : r;
    m->has_node_key = true;
  } else if (r != LIC_NOTFOUND) {
    return r;
  }
  if ((r = meta_get_fixed(s, t, "project_id", m->project_id, LIC_ID_LEN)) != LIC_OK &&
      r != LIC_NOTFOUND)
    return r;
  if ((r = meta_get_int(s, t, "created", &m->created)) != LIC_OK && r != LIC_NOTFOUND)
    return r;
  if ((r = meta_get_int(s, t, "clock_hwm", &m->clock_hwm)) != LIC_OK && r != LIC_NOTFOUND)
    return r;
  return LIC_OK;
}

/* ---- open / close ----------------------------------------------------------- */

static void *writer_main(void *arg);

/* Read every license and node record once so their pages are in memory
 * before the first request (SPEC §7). */
static int warm(store *s) {
  MDB_txn *t = NULL;
  MDB_cursor *c = NULL;
  MDB_val k, v;
  volatile uint8_t sink = 0;
  int mrc, r = LIC_OK;
  static const int dbs[] = {DB_LICENSES, DB_NODES, DB_TOKENS};

  if ((mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t)) != 0)
    return mdb_fail(mrc, "warm");
  for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
    if ((mrc = mdb_cursor_open(t, s->dbi[dbs[i]], &c)) != 0) {
      r = mdb_fail(mrc, "warm");
      break;
    }
    while ((mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
      for (size_t j = 0; j < v.mv_size; j += 4096)
        sink ^= ((const uint8_t *)v.mv_data)[j];
    mdb_cursor_close(c);
    c = NULL;
    if (mrc != MDB_NOTFOUND) {
      r = mdb_fail(mrc, "warm");
      break;
    }
  }
  (void)sink;
  mdb_txn_abort(t);
  return r;
}

static int open_dbs(store *s, unsigned flags) {
  MDB_txn *t = NULL;
  int64_t schema = 0;
  int mrc, r;

  if ((mrc = mdb_txn_begin(s->env, NULL, s->rdonly ? MDB_RDONLY : 0, &t)) != 0)
    return mdb_fail(mrc, "begin");
  for (int i = 0; i < DB_COUNT; i++) {
    if ((mrc = mdb_dbi_open(t, DB_NAMES[i], s->rdonly ? 0 : MDB_CREATE, &s->dbi[i])) != 0) {
      r = mrc == MDB_NOTFOUND
              ? lic_fail(LIC_NOTFOUND, "%s: not a licsrv store (no '%s' database)", s->dir,
                            DB_NAMES[i])
              : mdb_fail(mrc, DB_NAMES[i]);
      goto out;
    }
  }
  r = meta_get_int(s, t, "schema", &schema);
  if (r == LIC_NOTFOUND) {
    if (!(flags & STORE_CREATE) || s->rdonly) {
      r = lic_fail(LIC_NOTFOUND, "%s: store not initialized (run 'licsrv init')", s->dir);
      goto out;
    }
    if ((r = meta_put_int(s, t, "schema", STORE_SCHEMA_VERSION)) != LIC_OK)
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
    r = corrupt("meta", "schema version");
    goto out;
  }
  if ((mrc = mdb_txn_commit(t)) != 0) {
    t = NULL;
    r = mdb_fail(mrc, "commit");
    goto out;
  }
  t = NULL;
  r = LIC_OK;
out:
  if (t != NULL)
    mdb_txn_abort(t);
  return r;
}

int store_open(const char *dir, unsigned flags, store **out) {
  store *s = NULL;
  char path[PATH_MAX + 16];
  struct stat st;
  int mrc, r, dead;
  bool mu_init = false;

  *out = NULL;
  if ((s = calloc(1, sizeof *s)) == NULL)
    return LIC_NOMEM;
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
  if (pthread_mutex_init(&s->mu, NULL) != 0 || pthread_cond_init(&s->work, NULL) != 0 ||
      pthread_cond_init(&s->done, NULL) != 0) {
    r = lic_fail(LIC_NOMEM, "store: cannot create locks");
    goto out;
  }
  mu_init = true;
  if ((mrc = mdb_env_create(&s->env)) != 0 ||
      (mrc = mdb_env_set_maxdbs(s->env, DB_COUNT + 2)) != 0 ||
      (mrc = mdb_env_set_maxreaders(s->env, STORE_MAX_READERS)) != 0 ||
      (mrc = mdb_env_set_mapsize(s->env, STORE_MAP_SIZE)) != 0) {
    r = mdb_fail(mrc, "environment");
    goto out;
  }
  /* MDB_NOTLS: a reader slot belongs to a store_reader, not to a thread. */
  if ((mrc = mdb_env_open(s->env, s->dir, MDB_NOTLS | (s->rdonly ? MDB_RDONLY : 0u), 0600)) != 0) {
    r = mdb_fail(mrc, s->dir);
    goto out;
  }
  mdb_reader_check(s->env, &dead); /* slots of processes killed while reading */
  if ((r = open_dbs(s, flags)) != LIC_OK || (r = warm(s)) != LIC_OK)
    goto out;
  if (!s->rdonly) {
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
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
      pthread_mutex_destroy(&s->mu);
      pthread_cond_destroy(&s->work);
      pthread_cond_destroy(&s->done);
    }
    free(s);
  }
  return r;
}

void store_close(store *s) {
  if (s == NULL)
    return;
  if (s->writer_started) {
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
  }
  if (!s->rdonly)
    mdb_env_sync(s->env, 1);
  mdb_env_close(s->env);
  free(s->batch.e);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->work);
  pthread_cond_destroy(&s->done);
  free(s);
}

/* ---- readers ---------------------------------------------------------------- */

int store_reader_new(store *s, store_reader **out) {
  *out = NULL;
  store_reader *rd = calloc(1, sizeof *rd);
  if (rd == NULL)
    return LIC_NOMEM;
  rd->s = s;
  *out = rd;
  return LIC_OK;
}

void store_reader_free(store_reader *rd) {
  if (rd == NULL)
    return;
  if (rd->txn != NULL)
    mdb_txn_abort(rd->txn);
  free(rd);
}

int store_reader_begin(store_reader *rd) {
  int mrc;
  if (rd->txn == NULL) {
    if ((mrc = mdb_txn_begin(rd->s->env, NULL, MDB_RDONLY, &rd->txn)) != 0) {
      rd->txn = NULL;
      return mdb_fail(mrc, "read transaction");
    }
  } else {
    if (rd->active)
      mdb_txn_reset(rd->txn);
    rd->active = false;
    if ((mrc = mdb_txn_renew(rd->txn)) != 0)
      return mdb_fail(mrc, "read transaction");
  }
  rd->active = true;
  return LIC_OK;
}

void store_reader_end(store_reader *rd) {
  if (rd != NULL && rd->txn != NULL && rd->active) {
    mdb_txn_reset(rd->txn);
    rd->active = false;
  }
}

static int rtxn(store_reader *rd, MDB_txn **t) {
  *t = NULL;
  if (rd == NULL || !rd->active)
    return lic_fail(LIC_INVALID, "store reader used outside store_reader_begin/end");
  *t = rd->txn;
  return LIC_OK;
}

int store_meta_get(store_reader *rd, store_meta *m) {
  MDB_txn *t;
  int r;
  memset(m, 0, sizeof *m);
  if ((r = rtxn(rd, &t)) != LIC_OK)
    return r;
  return meta_read(rd->s, t, m);
}

int store_w_meta_init(store_wtxn *w, const char *mode, const uint8_t kid[LIC_KID_LEN],
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
      (r = meta_put_int(w->s, w->txn, "created", now)) != LIC_OK)
    return r;
  return LIC_OK;
}

int store_clock_hwm_get(store_reader *rd, int64_t *out) {
  MDB_txn *t;
  int r;
  *out = 0;
  if ((r = rtxn(rd, &t)) != LIC_OK)
    return r;
  r = meta_get_int(rd->s, t, "clock_hwm", out);
  if (r != LIC_OK && r != LIC_NOTFOUND)
    return r;
  /* A mark noted but not yet flushed counts too. */
  pthread_mutex_lock(&rd->s->mu);
  if (rd->s->hwm_pending > *out)
    *out = rd->s->hwm_pending;
  pthread_mutex_unlock(&rd->s->mu);
  return LIC_OK;
}

int store_w_clock_hwm_set(store_wtxn *w, int64_t t) {
  int64_t cur = 0;
  int r = meta_get_int(w->s, w->txn, "clock_hwm", &cur);
  if (r != LIC_OK && r != LIC_NOTFOUND)
    return r;
  if (r == LIC_OK && cur >= t)
    return LIC_OK;
  return meta_put_int(w->s, w->txn, "clock_hwm", t);
}

int store_w_cert_put(store_wtxn *w, const uint8_t *env, size_t len) {
  return meta_put(w->s, w->txn, "cert", env, len);
}

int store_cert_get(store_reader *rd, uint8_t **env, size_t *len) {
  MDB_txn *t;
  MDB_val v;
  int r;
  *env = NULL;
  *len = 0;
  if ((r = rtxn(rd, &t)) != LIC_OK || (r = meta_get(rd->s, t, "cert", &v)) != LIC_OK)
    return r;
  if (v.mv_size == 0 || v.mv_size > LIC_MAX_ENVELOPE)
    return corrupt("meta", "cert");
  if ((*env = malloc(v.mv_size)) == NULL)
    return LIC_NOMEM;
  memcpy(*env, v.mv_data, v.mv_size);
  *len = v.mv_size;
  return LIC_OK;
}

/* ---- generic helpers ----------------------------------------------------------- */

static int put_raw(store_wtxn *w, int db, const void *k, size_t kl, const void *v, size_t vl,
                   unsigned flags) {
  MDB_val key = mval(k, kl), val = mval(v, vl);
  int mrc = mdb_put(w->txn, w->s->dbi[db], &key, &val, flags);
  if (mrc == MDB_KEYEXIST)
    return LIC_EXISTS;
  return mrc == 0 ? LIC_OK : mdb_fail(mrc, DB_NAMES[db]);
}

static int put_wbuf(store_wtxn *w, int db, const void *k, size_t kl, wbuf *b) {
  int r = b->bad ? LIC_NOMEM : put_raw(w, db, k, kl, b->p, b->n, 0);
  free(b->p);
  memset(b, 0, sizeof *b);
  return r;
}

static int get_raw(store *s, MDB_txn *t, int db, const void *k, size_t kl, MDB_val *v) {
  MDB_val key = mval(k, kl);
  int mrc = mdb_get(t, s->dbi[db], &key, v);
  if (mrc == MDB_NOTFOUND)
    return LIC_NOTFOUND;
  return mrc == 0 ? LIC_OK : mdb_fail(mrc, DB_NAMES[db]);
}

static int del_raw(store *s, MDB_txn *t, int db, const void *k, size_t kl) {
  MDB_val key = mval(k, kl);
  int mrc = mdb_del(t, s->dbi[db], &key, NULL);
  if (mrc == MDB_NOTFOUND)
    return LIC_NOTFOUND;
  return mrc == 0 ? LIC_OK : mdb_fail(mrc, DB_NAMES[db]);
}

int store_w_raw_put(store_wtxn *w, const char *db, const void *key, size_t klen, const void *val,
                    size_t vlen) {
  for (int i = 0; i < DB_COUNT; i++)
    if (strcmp(db, DB_NAMES[i]) == 0)
      return put_raw(w, i, key, klen, val, vlen, 0);
  return lic_fail(LIC_INVALID, "no database '%s'", db);
}

/* Visit the records of db whose key starts with prefix (NULL: all). The
 * visitor decodes into its own copy; a non-zero return stops the walk. */
typedef int (*kv_fn)(const MDB_val *k, const MDB_val *v, void *arg);

static int walk(store *s, MDB_txn *t, int db, const void *prefix, size_t plen, kv_fn fn,
                void *arg) {
  MDB_cursor *c = NULL;
  MDB_val k = mval(prefix, plen), v;
  int mrc, r = LIC_OK;

  if ((mrc = mdb_cursor_open(t, s->dbi[db], &c)) != 0)
    return mdb_fail(mrc, DB_NAMES[db]);
  mrc = mdb_cursor_get(c, &k, &v, plen > 0 ? MDB_SET_RANGE : MDB_FIRST);
  while (mrc == 0) {
    if (plen > 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
      break;
    if ((r = fn(&k, &v, arg)) != 0)
      goto out;
    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  if (mrc != 0 && mrc != MDB_NOTFOUND)
    r = mdb_fail(mrc, DB_NAMES[db]);
out:
  mdb_cursor_close(c);
  return r;
}

/* ---- licenses ---------------------------------------------------------------------- */

void store_license_clear(store_license *l) {
  if (l == NULL)
    return;
  free(l->env);
  memset(l, 0, sizeof *l);
}

static int license_decode(const MDB_val *k, const MDB_val *v, store_license *l) {
  rbuf r;
  memset(l, 0, sizeof *l);
  if (k->mv_size != LIC_ID_LEN)
    return corrupt("license", "key length");
  memcpy(l->id, k->mv_data, LIC_ID_LEN);
  rb_begin(&r, v);
  uint64_t flags = rb_uint(&r, 1);
  l->imported = rb_i64(&r);
  l->revoked_at = rb_i64(&r);
  rb_blob(&r, LIC_MAX_ENVELOPE, &l->env, &l->env_len);
  if (!rb_done(&r) || (flags & ~1u) != 0 || l->env_len == 0) {
    store_license_clear(l);
    return corrupt("license", "layout");
  }
  l->revoked = (flags & 1u) != 0;
  return LIC_OK;
}

static int license_encode_put(store_wtxn *w, const store_license *l) {
  wbuf b = {0};
  wb_u8(&b, REC_VERSION);
  wb_u8(&b, l->revoked ? 1 : 0);
  wb_i64(&b, l->imported);
  wb_i64(&b, l->revoked_at);
  wb_blob(&b, l->env, l->env_len);
  return put_wbuf(w, DB_LICENSES, l->id, LIC_ID_LEN, &b);
}

static int license_get_t(store *s, MDB_txn *t, const uint8_t id[LIC_ID_LEN], store_license *out) {
  MDB_val k = mval(id, LIC_ID_LEN), v;
  int r;
  memset(out, 0, sizeof *out);
  if ((r = get_raw(s, t, DB_LICENSES, id, LIC_ID_LEN, &v)) != LIC_OK)
    return r;
  return license_decode(&k, &v, out);
}

int store_license_get(store_reader *rd, const uint8_t id[LIC_ID_LEN], store_license *out) {
  MDB_txn *t;
  int r;
  memset(out, 0, sizeof *out);
  if ((r = rtxn(rd, &t)) != LIC_OK)
    return r;
  return license_get_t(rd->s, t, id, out);
}

int store_license_only(store_reader *rd, store_license *out) {
  MDB_txn *t;
  MDB_cursor *c = NULL;
  MDB_val k, v;
  int mrc, r;

  memset(out, 0, sizeof *out);
  if ((r = rtxn(rd, &t)) != LIC_OK)
    return r;
  if ((mrc = mdb_cursor_open(t, rd->s->dbi[DB_LICENSES], &c)) != 0)
    return mdb_fail(mrc, "licenses");
  if ((mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) != 0) {
    r = mrc == MDB_NOTFOUND ? lic_fail(LIC_NOTFOUND, "no license imported")
                            : mdb_fail(mrc, "licenses");
    goto out;
  }
  if ((r = license_decode(&k, &v, out)) != LIC_OK)
    goto out;
  mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  if (mrc == 0) {
    store_license_clear(out);
    r = lic_fail(LIC_EXISTS, "several licenses are imported: name one");
  } else if (mrc != MDB_NOTFOUND) {
    store_license_clear(out);
    r = mdb_fail(mrc, "licenses");
  }
out:
  mdb_cursor_close(c);
  return r;
}

typedef struct {
  store_license_cb cb;
  void *arg;
} license_walk;

static int license_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  license_walk *lw = arg;
  store_license l;
  int r = license_decode(k, v, &l);
  if (r != LIC_OK)
    return r;
  r = lw->cb(&l, lw->arg);
  store_license_clear(&l);
  return r;
}

int store_license_each(store_reader *rd, store_license_cb cb, void *arg) {
  MDB_txn *t;
  license_walk lw = {cb, arg};
  int r;
  if ((r = rtxn(rd, &t)) != LIC_OK)
    return r;
  return walk(rd->s, t, DB_LICENSES, NULL, 0, license_visit, &lw);
}

int store_w_license_put(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env,
                        size_t len, int64_t now) {
  store_license old, l;
  int r;
  if (len == 0 || len > LIC_MAX_ENVELOPE)
    return lic_fail(LIC_LIMIT, "license envelope of %zu bytes", len);
  memset(&l, 0, sizeof l);
  memcpy(l.id, id, LIC_ID_LEN);
  l.env = (uint8_t *)(uintptr_t)env;
  l.env_len = len;
  l.imported = now;
  r = license_get_t(w->s, w->txn, id, &old);
  if (r == LIC_OK) {
    l.revoked = old.revoked; /* re-importing never un-revokes */
    l.revoked_at = old.revoked_at;
    store_license_clear(&old);
  } else if (r != LIC_NOTFOUND && r != LIC_FORMAT) {
    return r; /* a corrupt old record is replaced */
  }
  return license_encode_put(w, &l);
}

int store_w_license_revoke(store_wtxn *w, const uint8_t id[LIC_ID_LEN], int64_t now) {
  store_license l;
  int r;
  if ((r = license_get_t(w->s, w->txn, id, &l)) != LIC_OK)
    return r == LIC_NOTFOUND ? lic_fail(LIC_NOTFOUND, "no such license") : r;
  if (!l.revoked) {
    l.revoked = true;
    l.revoked_at = now;
    r = license_encode_put(w, &l);
  }
  store_license_clear(&l);
  return r;
}

/* ---- accounts ------------------------------------------------------------------------ */

void store_account_clear(store_account *a) {
  if (a == NULL)
    return;
  free(a->env);
  memset(a, 0, sizeof *a);
}

static int account_decode(const MDB_val *k, const MDB_val *v, store_account *a) {
  rbuf r;
  memset(a, 0, sizeof *a);
  if (k->mv_size != LIC_ID_LEN)
    return corrupt("account", "key length");
  memcpy(a->id, k->mv_data, LIC_ID_LEN);
  rb_begin(&r, v);
  a->imported = rb_i64(&r);
  rb_blob(&r, LIC_MAX_ENVELOPE, &a->env, &a->env_len);
  if (!rb_done(&r) || a->env_len == 0) {
    store_account_clear(a);
    return corrupt("account", "layout");
  }
  return LIC_OK;
}

int store_account_get(store_reader *rd, const uint8_t id[LIC_ID_LEN], store_account *out) {
  MDB_txn *t;
  MDB_val k = mval(id, LIC_ID_LEN), v;
  int r;
  memset(out, 0, sizeof *out);
  if ((r = rtxn(rd, &t)) != LIC_OK || (r = get_raw(rd->s, t, DB_ACCOUNTS, id, LIC_ID_LEN, &v)) != LIC_OK)
    return r;
  return account_decode(&k, &v, out);
}

typedef struct {
  store_account_cb cb;
  void *arg;
} account_walk;

static int account_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  account_walk *aw = arg;
  store_account a;
  int r = account_decode(k, v, &a);
  if (r != LIC_OK)
    return r;
  r = aw->cb(&a, aw->arg);
  store_account_clear(&a);
  return r;
}

int store_account_each(store_reader *rd, store_account_cb cb, void *arg) {
  MDB_txn *t;
  account_walk aw = {cb, arg};
  int r;
  if ((r = rtxn(rd, &t)) != LIC_OK)
    return r;
  return walk(rd->s, t, DB_ACCOUNTS, NULL, 0, account_visit, &aw);
}

int store_w_account_put(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env,
                        size_t len, int64_t now) {
  wbuf b = {0};
  if (len == 0 || len > LIC_MAX_ENVELOPE)
    return lic_fail(LIC_LIMIT, "account envelope of %zu bytes", len);
  wb_u8(&b, REC_VERSION);
  wb_i64(&b, now);
  wb_blob(&b, env, len);
  return put_wbuf(w, DB_ACCOUNTS, id, LIC_ID_LEN, &b);
}

int store_w_account_delete(store_wtxn *w, const uint8_t id[LIC_ID_LEN]) {
  return del_raw(w->s, w->txn, DB_ACCOUNTS, id, LIC_ID_LEN);
}

/* ---- registrations -------------------------------------------------------------------- */

static int registration_decode(const MDB_val *k, const MDB_val *v, store_registration *g) {
  rbuf r;
  memset(g, 0, sizeof *g);
  if (k->mv_size != 2 * LIC_ID_LEN)
    return corrupt("registration", "key length");
  memcpy(g->account, k->mv_data, LIC_ID_LEN);
  memcpy(g->project_id, (const uint8_t *)k->mv_data + LIC_ID_LEN, LIC_ID_LEN);
  rb_begin(&r, v);
  g->created = rb_i64(&r);
  rb_str(&r, g->project, sizeof g->project);
  rb_str(&r, g->domain, sizeof g->domain);
  return rb_done(&r) ? LIC_OK : corrupt("registration", "layout");
}

int store_registration_get(store_reader *rd, const uint8_t account[LIC_ID_LEN],
                           const uint8_t project_id[LIC_ID_LEN], store_registration *out) {
  uint8_t key[2 * LIC_ID_LEN];
  MDB_txn *t;
  MDB_val k, v;
  int r;
  memset(out, 0, sizeof *out);
  memcpy(key, account, LIC_ID_LEN);
  memcpy(key + LIC_ID_LEN, project_id, LIC_ID_LEN);
  k = mval(key, sizeof key);
  if ((r = rtxn(rd, &t)) != LIC_OK || (r = get_raw(rd->s, t, DB_REGISTRATIONS, key, sizeof key, &v)) != LIC_OK)
    return r;
  return registration_decode(&k, &v, out);
}

typedef struct {
  store_registration_cb cb;
  void *arg;
  size_t n;
} reg_walk;

static int registration_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  reg_walk *rw = arg;
  store_registration g;
  int r = registration_decode(k, v, &g);
  if (r != LIC_OK)
    return r;
  rw->n++;
  return rw->cb != NULL ? rw->cb(&g, rw->arg) : 0;
}

int store_registration_each(store_reader *rd, const uint8_t account[LIC_ID_LEN],
                            store_registration_cb cb, void *arg) {
  MDB_txn *t;
  reg_walk rw = {cb, arg, 0};
  int r;
  if ((r = rtxn(rd, &t)) != LIC_OK)
    return r;
  return walk(rd->s, t, DB_REGISTRATIONS, account, LIC_ID_LEN, registration_visit, &rw);
}

int store_registration_count(store_reader *rd, const uint8_t account[LIC_ID_LEN], size_t *n) {
  MDB_txn *t;
  reg_walk rw = {NULL, NULL, 0};
  int r;
  *n = 0;
  if ((r = rtxn(rd, &t)) != LIC_OK ||
      (r = walk(rd->s, t, DB_REGISTRATIONS, account, LIC_ID_LEN, registration_visit, &rw)) != LIC_OK)
    return r;
  *n = rw.n;
  return LIC_OK;
}

int store_w_registration_put(store_wtxn *w, const store_registration *g) {
  uint8_t key[2 * LIC_ID_LEN];
  wbuf b = {0};
  memcpy(key, g->account, LIC_ID_LEN);
  memcpy(key + LIC_ID_LEN, g->project_id, LIC_ID_LEN);
  wb_u8(&b, REC_VERSION);
  wb_i64(&b, g->created);
  wb_str(&b, g->project);
  wb_str(&b, g->domain);
  return put_wbuf(w, DB_REGISTRATIONS, key, sizeof key, &b);
}

int store_w_registration_delete(store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                                const uint8_t project_id[LIC_ID_LEN]) {
  uint8_t key[2 * LIC_ID_LEN];
  memcpy(key, account, LIC_ID_LEN);
  memcpy(key + LIC_ID_LEN, project_id, LIC_ID_LEN);
  return del_raw(w->s, w->txn, DB_REGISTRATIONS, key, sizeof key);
}

/* ---- nodes ------------------------------------------------------------------------------ */

static int node_key(const uint8_t owner[LIC_ID_LEN], const char *node, uint8_t *key, size_t *kl) {
  size_t n = strlen(node);
  if (n == 0 || n > STORE_MAX_NODE)
    return lic_fail(LIC_LIMIT, "node name must be 1..%d bytes", STORE_MAX_NODE);
  memcpy(key, owner, LIC_ID_LEN);
  memcpy(key + LIC_ID_LEN, node, n);
  *kl = LIC_ID_LEN + n;
  return LIC_OK;
}

static int node_decode(const MDB_val *k, const MDB_val *v, store_node *n) {
  rbuf r;
  memset(n, 0, sizeof *n);
  if (k->mv_size <= LIC_ID_LEN || k->mv_size > LIC_ID_LEN + STORE_MAX_NODE ||
      memchr((const uint8_t *)k->mv_data + LIC_ID_LEN, '\0', k->mv_size - LIC_ID_LEN) != NULL)
    return corrupt("node", "key");
  memcpy(n->owner, k->mv_data, LIC_ID_LEN);
  memcpy(n->node, (const uint8_t *)k->mv_data + LIC_ID_LEN, k->mv_size - LIC_ID_LEN);
  rb_begin(&r, v);
  n->last_seen = rb_i64(&r);
  n->fail_time = rb_i64(&r);
  rb_str(&r, n->fail_status, sizeof n->fail_status);
  rb_str(&r, n->fail_reason, sizeof n->fail_reason);
  return rb_done(&r) ? LIC_OK : corrupt("node", "layout");
}

int store_w_node_put(store_wtxn *w, const store_node *n) {
  uint8_t key[LIC_ID_LEN + STORE_MAX_NODE];
  size_t kl;
  wbuf b = {0};
  int r;
  if ((r = node_key(n->owner, n->node, key, &kl)) != LIC_OK)
    return r;
  wb_u8(&b, REC_VERSION);
  wb_i64(&b, n->last_seen);
  wb_i64(&b, n->fail_time);
  wb_str(&b, n->fail_status);
  wb_str(&b, n->fail_reason);
  return put_wbuf(w, DB_NODES, key, kl, &b);
}

static int node_get_t(store *s, MDB_txn *t, const uint8_t owner[LIC_ID_LEN], const char *node,
                      store_node *out) {
  uint8_t key[LIC_ID_LEN + STORE_MAX_NODE];
  size_t kl;
  MDB_val v, k;
  int r;
  memset(out, 0, sizeof *out);
  if ((r = node_key(owner, node, key, &kl)) != LIC_OK ||
      (r = get_raw(s, t, DB_NODES, key, kl, &v)) != LIC_OK)
    return r;
  k = mval(key, kl);
  return node_decode(&k, &v, out);
}

int store_node_get(store_reader *rd, const uint8_t owner[LIC_ID_LEN], const char *node,
                   store_node *out) {
  MDB_txn *t;
  int r;
  memset(out, 0, sizeof *out);
  if ((r = rtxn(rd, &t)) != LIC_OK)
    return r;
  return node_get_t(rd->s, t, owner, node, out);
}

typedef struct {
  store_node_cb cb;
  void *arg;
} node_walk;

static int node_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  node_walk *nw = arg;
  store_node n;
  int r = node_decode(k, v, &n);
  return r != LIC_OK ? r : nw->cb(&n, nw->arg);
}

int store_node_each(store_reader *rd, const uint8_t *owner, store_node_cb cb, void *arg) {
  MDB_txn *t;
  node_walk nw = {cb, arg};
  int r;
  if ((r = rtxn(rd, &t)) != LIC_OK)
    return r;
  return walk(rd->s, t, DB_NODES, owner, owner != NULL ? LIC_ID_LEN : 0, node_visit, &nw);
}

/* The batch: an open-addressing table keyed by (owner, node). */
static uint64_t bhash(const uint8_t owner[LIC_ID_LEN], const char *node) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < LIC_ID_LEN; i++)
    h = (h ^ owner[i]) * 1099511628211ull;
  for (const char *p = node; *p != '\0'; p++)
    h = (h ^ (uint8_t)*p) * 1099511628211ull;
  return h;
}

static bentry *btable_slot(btable *bt, const uint8_t owner[LIC_ID_LEN], const char *node) {
  size_t mask = bt->cap - 1, i = (size_t)bhash(owner, node) & mask;
  while (bt->e[i].used && (memcmp(bt->e[i].n.owner, owner, LIC_ID_LEN) != 0 ||
                           strcmp(bt->e[i].n.node, node) != 0))
    i = (i + 1) & mask;
  return &bt->e[i];
}

static int btable_grow(btable *bt) {
  size_t cap = bt->cap ? bt->cap * 2 : 64;
  btable nt = {calloc(cap, sizeof(bentry)), cap, 0};
  if (nt.e == NULL)
    return LIC_NOMEM;
  for (size_t i = 0; i < bt->cap; i++)
    if (bt->e[i].used) {
      *btable_slot(&nt, bt->e[i].n.owner, bt->e[i].n.node) = bt->e[i];
      nt.n++;
    }
  free(bt->e);
  *bt = nt;
  return LIC_OK;
}

static int batch_note(store *s, const uint8_t owner[LIC_ID_LEN], const char *node, int64_t now,
                      const char *status, const char *reason) {
  size_t nl = strlen(node);
  int r = LIC_OK;
  if (nl == 0 || nl > STORE_MAX_NODE)
    return lic_fail(LIC_LIMIT, "node name must be 1..%d bytes", STORE_MAX_NODE);
  if (s->rdonly)
    return lic_fail(LIC_INVALID, "store is read-only");
  pthread_mutex_lock(&s->mu);
  if (s->stopping) {
    r = lic_fail(LIC_INVALID, "store is closing");
    goto out;
  }
  if ((s->batch.n + 1) * 2 > s->batch.cap && (r = btable_grow(&s->batch)) != LIC_OK)
    goto out;
  bentry *e = btable_slot(&s->batch, owner, node);
  if (!e->used) {
    memset(e, 0, sizeof *e);
    e->used = true;
    memcpy(e->n.owner, owner, LIC_ID_LEN);
    memcpy(e->n.node, node, nl + 1);
    if (s->batch.n++ == 0 && s->hwm_pending == 0)
      s->batch_since_ms = mono_ms();
  }
  if (status == NULL) {
    e->seen = true;
    if (now > e->n.last_seen)
      e->n.last_seen = now;
  } else if (now >= e->n.fail_time) {
    e->failed = true;
    e->n.fail_time = now;
    snprintf(e->n.fail_status, sizeof e->n.fail_status, "%s", status);
    snprintf(e->n.fail_reason, sizeof e->n.fail_reason, "%s", reason != NULL ? reason : "");
  }
  if (s->batch.n >= STORE_MAX_BATCH)
    pthread_cond_signal(&s->work);
out:
  pthread_mutex_unlock(&s->mu);
  return r;
}

int store_node_seen(store *s, const uint8_t owner[LIC_ID_LEN], const char *node, int64_t now) {
  return batch_note(s, owner, node, now, NULL, NULL);
}

int store_node_failure(store *s, const uint8_t owner[LIC_ID_LEN], const char *node,
                       int64_t now, const char *status, const char *reason) {
  return batch_note(s, owner, node, now, status != NULL ? status : "", reason);
}

void store_clock_hwm_note(store *s, int64_t now) {
  if (s == NULL || s->rdonly)
    return;
  pthread_mutex_lock(&s->mu);
  if (now > s->hwm_pending) {
    if (s->hwm_pending == 0 && s->batch.n == 0)
      s->batch_since_ms = mono_ms();
    s->hwm_pending = now;
  }
  pthread_mutex_unlock(&s->mu);
}

/* Merge a batch into the stored records (on the writer thread). */
static int batch_apply(store_wtxn *w, btable *bt, int64_t hwm) {
  int r;
  for (size_t i = 0; i < bt->cap; i++) {
    bentry *e = &bt->e[i];
    store_node cur;
    if (!e->used)
      continue;
    r = node_get_t(w->s, w->txn, e->n.owner, e->n.node, &cur);
    if (r != LIC_OK && r != LIC_NOTFOUND && r != LIC_FORMAT)
      return r;
    if (r != LIC_OK) { /* new, or a corrupt record replaced */
      memset(&cur, 0, sizeof cur);
      memcpy(cur.owner, e->n.owner, LIC_ID_LEN);
      memcpy(cur.node, e->n.node, sizeof cur.node);
    }
    if (e->seen && e->n.last_seen > cur.last_seen)
      cur.last_seen = e->n.last_seen;
    if (e->failed && e->n.fail_time >= cur.fail_time) {
      cur.fail_time = e->n.fail_time;
      memcpy(cur.fail_status, e->n.fail_status, sizeof cur.fail_status);
      memcpy(cur.fail_reason, e->n.fail_reason, sizeof cur.fail_reason);
    }
    if ((r = store_w_node_put(w, &cur)) != LIC_OK)
      return r;
  }
  if (hwm > 0)
    return store_w_clock_hwm_set(w, hwm);
  return LIC_OK;
}

/* ---- activations ---------------------------------------------------------------------------- */

void store_activation_clear(store_activation *a) {
  if (a == NULL)
    return;
  free(a->receipt);
  memset(a, 0, sizeof *a);
}

static void activation_key(uint8_t product, uint32_t serial, uint8_t key[5]) {
  key[0] = product;
  be_put(key + 1, serial, 4);
}

static int activation_decode(const MDB_val *k, const MDB_val *v, store_activation *out) {
  rbuf r;
  memset(out, 0, sizeof *out);
  if (k->mv_size != 5)
    return corrupt("activation", "key length");
  out->product = ((const uint8_t *)k->mv_data)[0];
  out->serial = (uint32_t)be_get((const uint8_t *)k->mv_data + 1, 4);
  rb_begin(&r, v);
  out->time = rb_i64(&r);
  rb_str(&r, out->machine_code, sizeof out->machine_code);
  rb_blob(&r, LIC_MAX_ENVELOPE, &out->receipt, &out->receipt_len);
  if (!rb_done(&r)) {
    store_activation_clear(out);
    return corrupt("activation", "layout");
  }
  return LIC_OK;
}

static int activation_get_t(store *s, MDB_txn *t, uint8_t product, uint32_t serial,
                            store_activation *out) {
  uint8_t key[5];
  MDB_val k, v;
  int rc;
  memset(out, 0, sizeof *out);
  activation_key(product, serial, key);
  k = mval(key, 5);
  if ((rc = get_raw(s, t, DB_ACTIVATIONS, key, 5, &v)) != LIC_OK)
    return rc;
  return activation_decode(&k, &v, out);
}

int store_activation_get(store_reader *rd, uint8_t product, uint32_t serial,
                         store_activation *out) {
  MDB_txn *t;
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = rtxn(rd, &t)) != LIC_OK)
    return rc;
  return activation_get_t(rd->s, t, product, serial, out);
}

int store_w_activation_get(store_wtxn *w, uint8_t product, uint32_t serial,
                           store_activation *out) {
  return activation_get_t(w->s, w->txn, product, serial, out);
}

typedef struct {
  store_activation_cb cb;
  void *arg;
} activation_walk;

static int activation_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  activation_walk *aw = arg;
  store_activation a;
  int r = activation_decode(k, v, &a);
  if (r != LIC_OK)
    return r;
  r = aw->cb(&a, aw->arg);
  store_activation_clear(&a);
  return r;
}

int store_activation_each(store_reader *rd, store_activation_cb cb, void *arg) {
  MDB_txn *t;
  activation_walk aw = {cb, arg};
  int r;
  if ((r = rtxn(rd, &t)) != LIC_OK)
    return r;
  return walk(rd->s, t, DB_ACTIVATIONS, NULL, 0, activation_visit, &aw);
}

int store_w_activation_delete(store_wtxn *w, uint8_t product, uint32_t serial) {
  uint8_t key[5];
  activation_key(product, serial, key);
  int r = del_raw(w->s, w->txn, DB_ACTIVATIONS, key, 5);
  return r == LIC_NOTFOUND ? lic_fail(LIC_NOTFOUND, "serial %u of product %u is not activated",
                                      serial, product)
                           : r;
}

int store_w_activation_put(store_wtxn *w, const store_activation *a) {
  uint8_t key[5];
  wbuf b = {0};
  int r;
  activation_key(a->product, a->serial, key);
  wb_u8(&b, REC_VERSION);
  wb_i64(&b, a->time);
  wb_str(&b, a->machine_code);
  wb_blob(&b, a->receipt, a->receipt_len);
  r = b.bad ? LIC_NOMEM : put_raw(w, DB_ACTIVATIONS, key, 5, b.p, b.n, MDB_NOOVERWRITE);
  free(b.p);
  return r == LIC_EXISTS ? lic_fail(LIC_EXISTS, "serial already activated") : r;
}

/* ---- audit ------------------------------------------------------------------------------------ */

static int audit_decode(const MDB_val *k, const MDB_val *v, store_audit *a) {
  rbuf r;
  memset(a, 0, sizeof *a);
  if (k->mv_size != 16)
    return corrupt("audit", "key length");
  a->seq = be_get((const uint8_t *)k->mv_data + 8, 8);
  rb_begin(&r, v);
  a->time = rb_i64(&r);
  rb_str(&r, a->token, sizeof a->token);
  rb_str(&r, a->action, sizeof a->action);
  rb_str(&r, a->subject, sizeof a->subject);
  return rb_done(&r) ? LIC_OK : corrupt("audit", "layout");
}

static int bounded(const char *what, const char *s, size_t max) {
  size_t n = s != NULL ? strlen(s) : 0;
  if (n > max)
    return lic_fail(LIC_LIMIT, "audit %s longer than %zu bytes", what, max);
  return LIC_OK;
}

int store_w_audit_append(store_wtxn *w, int64_t time, const char *token, const char *action,
                         const char *subject) {
  uint8_t key[16];
  uint64_t seq;
  int64_t last = 0;
  wbuf b = {0};
  int r;

  if ((r = bounded("token", token, STORE_MAX_TOKEN_NAME)) != LIC_OK ||
      (r = bounded("action", action, STORE_MAX_ACTION)) != LIC_OK ||
      (r = bounded("subject", subject, STORE_MAX_SUBJECT)) != LIC_OK)
    return r;
  /* Key: time then a global sequence number (meta "audit_seq"), so entries
   * stay unique and in order even when the clock repeats or steps back. */
  if ((r = meta_get_int(w->s, w->txn, "audit_seq", &last)) != LIC_OK && r != LIC_NOTFOUND)
    return r;
  seq = (uint64_t)last + 1;
  if ((r = meta_put_int(w->s, w->txn, "audit_seq", (int64_t)seq)) != LIC_OK)
    return r;
  if (time < 0)
    time = 0;
  be_put(key, (uint64_t)time, 8);
  be_put(key + 8, seq, 8);
  wb_u8(&b, REC_VERSION);
  wb_i64(&b, time);
  wb_str(&b, token);
  wb_str(&b, action);
  wb_str(&b, subject);
  return put_wbuf(w, DB_AUDIT, key, sizeof key, &b);
}

typedef struct {
  store_audit_cb cb;
  void *arg;
  const char *needle;
} audit_walk;

static int audit_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  audit_walk *aw = arg;
  store_audit a;
  int r = audit_decode(k, v, &a);
  if (r != LIC_OK)
    return r;
  if (aw->needle != NULL && strstr(a.subject, aw->needle) == NULL)
    return 0;
  return aw->cb(&a, aw->arg);
}

int store_audit_each(store_reader *rd, int64_t since, const char *needle, store_audit_cb cb,
                     void *arg) {
  MDB_txn *t;
  MDB_cursor *c = NULL;
  MDB_val k, v;
  uint8_t key[16] = {0};
  audit_walk aw = {cb, arg, needle};
  int mrc, r;

  if ((r = rtxn(rd, &t)) != LIC_OK)
    return r;
  if ((mrc = mdb_cursor_open(t, rd->s->dbi[DB_AUDIT], &c)) != 0)
    return mdb_fail(mrc, "audit");
  be_put(key, (uint64_t)(since < 0 ? 0 : since), 8);
  k = mval(key, sizeof key);
  r = LIC_OK;
  for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0;
       mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
    if ((r = audit_visit(&k, &v, &aw)) != 0)
      break;
  if (r == 0 && mrc != MDB_NOTFOUND)
    r = mdb_fail(mrc, "audit");
  mdb_cursor_close(c);
  return r;
}

/* ---- tokens ------------------------------------------------------------------------------------ */

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

static int token_decode(const MDB_val *k, const MDB_val *v, store_token *tk) {
  rbuf r;
  memset(tk, 0, sizeof *tk);
  if (k->mv_size != STORE_TOKEN_HASH_LEN)
    return corrupt("token", "key length");
  memcpy(tk->hash, k->mv_data, STORE_TOKEN_HASH_LEN);
  rb_begin(&r, v);
  tk->created = rb_i64(&r);
  rb_str(&r, tk->name, sizeof tk->name);
  return rb_done(&r) && tk->name[0] != '\0' ? LIC_OK : corrupt("token", "layout");
}

typedef struct {
  store_token_cb cb;
  void *arg;
} token_walk;

static int token_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  token_walk *tw = arg;
  store_token tk;
  int r = token_decode(k, v, &tk);
  return r != LIC_OK ? r : tw->cb(&tk, tw->arg);
}

int store_token_each(store_reader *rd, store_token_cb cb, void *arg) {
  MDB_txn *t;
  token_walk tw = {cb, arg};
  int r;
  if ((r = rtxn(rd, &t)) != LIC_OK)
    return r;
  return walk(rd->s, t, DB_TOKENS, NULL, 0, token_visit, &tw);
}

typedef struct {
  const uint8_t *hash;
  store_token found;
  bool hit;
} token_find;

/* Every token is compared, in constant time, and the walk never stops early:
 * the time taken does not depend on which stored hash (if any) matches. */
static int token_find_cb(const store_token *t, void *arg) {
  token_find *tf = arg;
  if (CRYPTO_memcmp(t->hash, tf->hash, STORE_TOKEN_HASH_LEN) == 0) {
    tf->found = *t;
    tf->hit = true;
  }
  return 0;
}

int store_token_lookup(store_reader *rd, const uint8_t hash[STORE_TOKEN_HASH_LEN],
                       store_token *out) {
  token_find tf;
  int r;
  memset(out, 0, sizeof *out);
  memset(&tf, 0, sizeof tf);
  tf.hash = hash;
  if ((r = store_token_each(rd, token_find_cb, &tf)) != LIC_OK)
    return r;
  if (!tf.hit)
    return LIC_NOTFOUND;
  *out = tf.found;
  return LIC_OK;
}

typedef struct {
  const char *name;
  uint8_t hash[STORE_TOKEN_HASH_LEN];
  bool hit;
} token_byname;

static int token_name_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  token_byname *tb = arg;
  store_token tk;
  int r = token_decode(k, v, &tk);
  if (r != LIC_OK)
    return r;
  if (strcmp(tk.name, tb->name) == 0) {
    memcpy(tb->hash, tk.hash, STORE_TOKEN_HASH_LEN);
    tb->hit = true;
    return 1;
  }
  return 0;
}

static int token_by_name(store_wtxn *w, const char *name, token_byname *tb) {
  int r;
  memset(tb, 0, sizeof *tb);
  tb->name = name;
  r = walk(w->s, w->txn, DB_TOKENS, NULL, 0, token_name_visit, tb);
  return r == 1 ? LIC_OK : r;
}

int store_w_token_put(store_wtxn *w, const uint8_t hash[STORE_TOKEN_HASH_LEN], const char *name,
                      int64_t now) {
  token_byname tb;
  wbuf b = {0};
  int r;
  if ((r = store_token_name_check(name)) != LIC_OK || (r = token_by_name(w, name, &tb)) != LIC_OK)
    return r;
  if (tb.hit)
    return lic_fail(LIC_EXISTS, "a token named '%s' exists (revoke it first)", name);
  wb_u8(&b, REC_VERSION);
  wb_i64(&b, now);
  wb_str(&b, name);
  r = b.bad ? LIC_NOMEM : put_raw(w, DB_TOKENS, hash, STORE_TOKEN_HASH_LEN, b.p, b.n, MDB_NOOVERWRITE);
  free(b.p);
  return r == LIC_EXISTS ? lic_fail(LIC_EXISTS, "token already stored") : r;
}

int store_w_token_revoke(store_wtxn *w, const char *name) {
  token_byname tb;
  int r;
  if ((r = token_by_name(w, name, &tb)) != LIC_OK)
    return r;
  if (!tb.hit)
    return lic_fail(LIC_NOTFOUND, "no token named '%s'", name);
  return del_raw(w->s, w->txn, DB_TOKENS, tb.hash, STORE_TOKEN_HASH_LEN);
}

/* ---- the writer thread: group commit --------------------------------------------------------- */

static void complete(op *o) {
  o->done(o->arg, o->rc, o->detail);
}

static void *writer_main(void *arg) {
  store *s = arg;

  pthread_mutex_lock(&s->mu);
  for (;;) {
    bool batch_due = false;
    while (!s->stopping && s->head == NULL && s->flush_wanted == s->flush_done) {
      bool pending = s->batch.n > 0 || s->hwm_pending > 0;
      if (!pending) {
        pthread_cond_wait(&s->work, &s->mu);
        continue;
      }
      int64_t due = s->batch_since_ms + STORE_FLUSH_MS, now = mono_ms();
      if (now >= due || s->batch.n >= STORE_MAX_BATCH) {
        batch_due = true;
        break;
      }
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      int64_t ns = ts.tv_nsec + (due - now) * 1000000;
      ts.tv_sec += (time_t)(ns / 1000000000);
      ts.tv_nsec = (long)(ns % 1000000000);
      pthread_cond_timedwait(&s->work, &s->mu, &ts);
    }
    (void)batch_due;
    op *ops = s->head;
    s->head = s->tail = NULL;
    /* Whatever is batched rides along with this commit: its sync is paid anyway. */
    btable bt = s->batch;
    int64_t hwm = s->hwm_pending;
    memset(&s->batch, 0, sizeof s->batch);
    s->hwm_pending = 0;
    uint64_t flush_target = s->flush_wanted;
    bool stop = s->stopping;
    pthread_mutex_unlock(&s->mu);

    if (ops == NULL && bt.n == 0 && hwm == 0) {
      pthread_mutex_lock(&s->mu);
      s->flush_done = flush_target;
      pthread_cond_broadcast(&s->done);
      if (stop && s->head == NULL)
        break;
      continue;
    }

    store_wtxn w = {s, NULL, (int64_t)time(NULL)};
    MDB_txn *parent = NULL;
    uint64_t nops = 0;
    int crc = LIC_OK, mrc;
    char cdetail[320] = "";

    /* Fast path: every operation straight in the group's transaction (a
     * nested LMDB transaction allocates its own dirty list, which costs the
     * writer a fifth of its time). When one fails, the whole group is rolled
     * back and replayed with each operation in its own nested transaction, so
     * the failing one is undone alone and the others still commit. */
    bool isolate = false;
    for (int pass = 0; pass < 2 && crc == LIC_OK; pass++) {
      bool failed = false;
      nops = 0;
      if ((mrc = mdb_txn_begin(s->env, NULL, 0, &parent)) != 0) {
        crc = mdb_fail(mrc, "write transaction");
        break;
      }
      for (op *o = ops; o != NULL && !failed; o = o->next) {
        MDB_txn *child = NULL;
        lic_errdetail_clear();
        o->detail[0] = '\0';
        if (!isolate) {
          w.txn = parent;
          o->rc = o->apply(&w, o->arg);
          failed = o->rc != LIC_OK;
        } else if ((mrc = mdb_txn_begin(s->env, parent, 0, &child)) != 0) {
          o->rc = mdb_fail(mrc, "nested transaction");
        } else {
          w.txn = child;
          o->rc = o->apply(&w, o->arg);
          if (o->rc == LIC_OK && (mrc = mdb_txn_commit(child)) != 0)
            o->rc = mdb_fail(mrc, "nested commit");
          else if (o->rc != LIC_OK)
            mdb_txn_abort(child);
        }
        if (o->rc != LIC_OK)
          snprintf(o->detail, sizeof o->detail, "%s", lic_errdetail());
        nops++;
      }
      if (!failed)
        break;
      mdb_txn_abort(parent); /* undo the group, replay it isolated */
      parent = NULL;
      isolate = true;
    }
    if (parent != NULL) {
      if (bt.n > 0 || hwm > 0) {
        MDB_txn *child = NULL;
        if (mdb_txn_begin(s->env, parent, 0, &child) == 0) {
          w.txn = child;
          if (batch_apply(&w, &bt, hwm) == LIC_OK)
            mdb_txn_commit(child);
          else
            mdb_txn_abort(child); /* bookkeeping only: dropped, never blocks durable ops */
        }
        nops++;
      }
      lic_errdetail_clear();
      if ((mrc = mdb_txn_commit(parent)) != 0) { /* the one sync of this group */
        crc = mdb_fail(mrc, "commit");
        snprintf(cdetail, sizeof cdetail, "%s", lic_errdetail());
      }
    }
    if (crc != LIC_OK && cdetail[0] == '\0')
      snprintf(cdetail, sizeof cdetail, "%s", lic_errdetail());
    free(bt.e);

    pthread_mutex_lock(&s->mu);
    s->stats.ops += nops;
    if (crc == LIC_OK) {
      s->stats.commits++;
      s->stats.syncs++;
      if (ops == NULL)
        s->stats.flushes++;
    }
    pthread_mutex_unlock(&s->mu);

    for (op *o = ops, *next; o != NULL; o = next) {
      next = o->next;
      if (crc != LIC_OK) {
        o->rc = crc;
        snprintf(o->detail, sizeof o->detail, "%s", cdetail);
      }
      complete(o);
      free(o);
    }

    pthread_mutex_lock(&s->mu);
    s->flush_done = flush_target;
    pthread_cond_broadcast(&s->done);
    if (stop && s->head == NULL && s->batch.n == 0 && s->hwm_pending == 0)
      break;
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

int store_submit(store *s, store_apply_fn apply, store_done_fn done, void *arg) {
  op *o;
  if (s->rdonly)
    return lic_fail(LIC_INVALID, "store is read-only");
  if ((o = calloc(1, sizeof *o)) == NULL)
    return LIC_NOMEM;
  o->apply = apply;
  o->done = done;
  o->arg = arg;
  pthread_mutex_lock(&s->mu);
  if (s->stopping) {
    pthread_mutex_unlock(&s->mu);
    free(o);
    return lic_fail(LIC_INVALID, "store is closing");
  }
  if (s->tail != NULL)
    s->tail->next = o;
  else
    s->head = o;
  s->tail = o;
  pthread_cond_signal(&s->work);
  pthread_mutex_unlock(&s->mu);
  return LIC_OK;
}

typedef struct {
  store *s;
  store_apply_fn apply;
  void *arg;
  bool finished;
  int rc;
  char detail[320];
} sync_wait;

static void sync_done(void *arg, int rc, const char *detail) {
  sync_wait *sw = arg;
  pthread_mutex_lock(&sw->s->mu);
  sw->rc = rc;
  snprintf(sw->detail, sizeof sw->detail, "%s", detail);
  sw->finished = true;
  pthread_cond_broadcast(&sw->s->done);
  pthread_mutex_unlock(&sw->s->mu);
}

static int sync_apply(store_wtxn *w, void *arg) {
  sync_wait *sw = arg;
  return sw->apply(w, sw->arg);
}

int store_write(store *s, store_apply_fn apply, void *arg) {
  sync_wait sw;
  int r;
  memset(&sw, 0, sizeof sw);
  sw.s = s;
  sw.apply = apply;
  sw.arg = arg;
  if ((r = store_submit(s, sync_apply, sync_done, &sw)) != LIC_OK)
    return r;
  pthread_mutex_lock(&s->mu);
  while (!sw.finished)
    pthread_cond_wait(&s->done, &s->mu);
  pthread_mutex_unlock(&s->mu);
  if (sw.rc != LIC_OK && sw.detail[0] != '\0')
    return lic_fail(sw.rc, "%s", sw.detail);
  if (sw.rc != LIC_OK)
    lic_errdetail_clear();
  return sw.rc;
}

int64_t store_wtxn_now(const store_wtxn *w) { return w->now; }

int store_flush(store *s) {
  if (s->rdonly)
    return LIC_OK;
  pthread_mutex_lock(&s->mu);
  uint64_t target = ++s->flush_wanted;
  pthread_cond_signal(&s->work);
  while (s->flush_done < target)
    pthread_cond_wait(&s->done, &s->mu);
  pthread_mutex_unlock(&s->mu);
  return LIC_OK;
}

void store_stats_get(store *s, store_stats *st) {
  pthread_mutex_lock(&s->mu);
  *st = s->stats;
  pthread_mutex_unlock(&s->mu);
}

/* ---- maintenance ------------------------------------------------------------------------------- */

int store_backup(store *s, const char *dest_dir) {
  char path[PATH_MAX + 16];
  struct stat st;
  int mrc;

  if (mkdir(dest_dir, 0700) != 0 && errno != EEXIST)
    return lic_fail(LIC_IO, "%s: %s", dest_dir, strerror(errno));
  if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", dest_dir) >= sizeof path)
    return lic_fail(LIC_INVALID, "%s: path too long", dest_dir);
  if (stat(path, &st) == 0)
    return lic_fail(LIC_EXISTS, "%s: already holds a store", dest_dir);
  /* A consistent snapshot from one read transaction; writers go on meanwhile. */
  if ((mrc = mdb_env_copy2(s->env, dest_dir, MDB_CP_COMPACT)) != 0) {
    unlink(path);
    return mdb_fail(mrc, dest_dir);
  }
  chmod(path, 0600);
  return LIC_OK;
}

int store_size(store *s, uint64_t *used, uint64_t *mapsize) {
  MDB_envinfo info;
  MDB_stat st;
  int mrc;
  *used = *mapsize = 0;
  if ((mrc = mdb_env_info(s->env, &info)) != 0 || (mrc = mdb_env_stat(s->env, &st)) != 0)
    return mdb_fail(mrc, "size");
  *used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
  *mapsize = info.me_mapsize;
  return LIC_OK;
}

typedef struct {
  int64_t cutoff;
  int64_t days;
  store_counts c;
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
    return mdb_fail(mrc, "nodes");
  k = mval(owner, plen);
  mrc = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
  while (mrc == 0) {
    store_node n;
    bool del = false, rewrite = false;
    if (plen && (k.mv_size < plen || memcmp(k.mv_data, owner, plen) != 0))
      break;
    if (owner != NULL) {
      del = true;
      if (node_decode(&k, &v, &n) == LIC_OK && n.fail_time != 0)
        m->c.failures++;
    } else if (node_decode(&k, &v, &n) != LIC_OK) {
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
        r = mdb_fail(mrc, "nodes");
        goto out;
      }
      m->c.nodes++;
      mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* after a delete: the next record */
      continue;
    }
    if (rewrite) {
      wbuf b = {0};
      wb_u8(&b, REC_VERSION);
      wb_i64(&b, n.last_seen);
      wb_i64(&b, n.fail_time);
      wb_str(&b, n.fail_status);
      wb_str(&b, n.fail_reason);
      MDB_val nv = mval(b.p, b.n);
      mrc = b.bad ? ENOMEM : mdb_cursor_put(c, &k, &nv, MDB_CURRENT);
      free(b.p);
      if (mrc != 0) {
        r = mdb_fail(mrc, "nodes");
        goto out;
      }
    }
    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  if (mrc != 0 && mrc != MDB_NOTFOUND)
    r = mdb_fail(mrc, "nodes");
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
    return mdb_fail(mrc, "audit");
  mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
  while (mrc == 0) {
    store_audit a;
    bool del;
    int dr = audit_decode(&k, &v, &a);
    if (needle == NULL) {
      int64_t t = k.mv_size >= 8 ? (int64_t)be_get(k.mv_data, 8) : 0;
      if (t >= m->cutoff)
        break; /* keys are in time order */
      del = true;
    } else {
      del = dr == LIC_OK && strstr(a.subject, needle) != NULL;
    }
    if (del) {
      if ((mrc = mdb_cursor_del(c, 0)) != 0) {
        r = mdb_fail(mrc, "audit");
        goto out;
      }
      m->c.audit++;
      mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* after a delete: the next record */
      continue;
    }
    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  if (mrc != 0 && mrc != MDB_NOTFOUND)
    r = mdb_fail(mrc, "audit");
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
    return store_w_audit_append(w, w->now, "cli", "purge", subj);
  }
  return LIC_OK;
}

int store_purge(store *s, int64_t now, int64_t retention_days, store_counts *c) {
  maint m;
  int r;
  memset(c, 0, sizeof *c);
  memset(&m, 0, sizeof m);
  if (retention_days < 1 || retention_days > 36500)
    return lic_fail(LIC_INVALID, "retention must be 1..36500 days");
  m.cutoff = now - retention_days * 86400;
  m.days = retention_days;
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
    r = del_raw(w->s, w->txn, DB_LICENSES, m->id, LIC_ID_LEN);
    if (r == LIC_OK)
      m->c.licenses++;
    else if (r != LIC_NOTFOUND)
      return r;
  } else {
    r = del_raw(w->s, w->txn, DB_ACCOUNTS, m->id, LIC_ID_LEN);
    if (r == LIC_OK)
      m->c.accounts++;
    else if (r != LIC_NOTFOUND)
      return r;
    MDB_cursor *c = NULL;
    MDB_val k = mval(m->id, LIC_ID_LEN), v;
    int mrc;
    if ((mrc = mdb_cursor_open(w->txn, w->s->dbi[DB_REGISTRATIONS], &c)) != 0)
      return mdb_fail(mrc, "registrations");
    mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && k.mv_size >= LIC_ID_LEN && memcmp(k.mv_data, m->id, LIC_ID_LEN) == 0) {
      if ((mrc = mdb_cursor_del(c, 0)) != 0)
        break;
      m->c.registrations++;
      mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* after a delete: the next record */
    }
    mdb_cursor_close(c);
    if (mrc != 0 && mrc != MDB_NOTFOUND)
      return mdb_fail(mrc, "registrations");
  }
  if ((r = purge_nodes(w, m, m->id)) != LIC_OK || (r = purge_audit(w, m, uuid)) != LIC_OK)
    return r;
  /* The erasure itself is audited without naming the subject. */
  return store_w_audit_append(w, w->now, "cli", "forget",
                              m->kind == STORE_SUBJECT_LICENSE ? "license:(erased)"
                                                               : "account:(erased)");
}

int store_forget(store *s, store_subject kind, const uint8_t id[LIC_ID_LEN], store_counts *c) {
  maint m;
  int r;
  memset(c, 0, sizeof *c);
  memset(&m, 0, sizeof m);
  m.kind = kind;
  memcpy(m.id, id, LIC_ID_LEN);
  if ((r = store_write(s, forget_apply, &m)) != LIC_OK)
    return r;
  *c = m.c;
  return LIC_OK;
}
