/* store/lmdb/internal.h - what the files of the LMDB backend share and nothing
 * outside store/lmdb/ may see: the private structures behind the opaque
 * handles of store/store.h, the database table, and the helpers more than one
 * backend file calls (named lmdb__*, not part of the store interface). A
 * helper used by one file stays static there. docs/storage.md describes the
 * record layouts these files read and write. */
#ifndef LICSRV_STORE_LMDB_INTERNAL_H
#define LICSRV_STORE_LMDB_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "store/backend.h"
#include "store/batch.h"
#include "store/opq.h"

STORE_DECLARE(lmdb)

/* An audit entry repeats may be merged into (audit.c), found by a linear
 * look at the last LMDB_AUDIT_RECENT of them: no hash, no index on disk. */
#define LMDB_AUDIT_RECENT 128
typedef struct {
  bool used;
  int64_t hour;      /* time / STORE_AUDIT_COALESCE_S of the entry */
  uint8_t key[16];   /* its audit key */
  char action[STORE_MAX_ACTION + 1];
  char subject[STORE_MAX_SUBJECT + 1];
} lmdb_audit_recent;

/* One named database per kind of record (docs/storage.md "Databases"). */
enum { DB_META, DB_LICENSES, DB_ACCOUNTS, DB_REGISTRATIONS, DB_NODES, DB_ACTIVATIONS,
       DB_AUDIT, DB_TOKENS, DB_REGCOUNTS, DB_USAGE, DB_COUNT };
extern const char *const lmdb__db_names[DB_COUNT]; /* env.c */

#define REC_VERSION 1 /* first byte of every record value */

/* ---- the handles ---------------------------------------------------------- */

struct store {
  const store_ops *ops; /* first: the dispatcher reads it (store/backend.h) */
  MDB_env *env;
  MDB_dbi dbi[DB_COUNT];
  bool rdonly;
  bool nosync; /* LICSRV_BENCH_NOSYNC=1: LMDB opened without syncs (benchmarks only) */
  /* Schema 2: `regcounts` holds each account's registration count, kept by
   * every write that adds or removes one. False only on a read-only open of
   * a schema 1 store (never upgraded yet): its counts are walked. */
  bool regcounts;
  /* Schema 3: `usage` holds each owner's record count (usage.c), kept by
   * every write that adds or deletes a registration, a node record or an
   * account's audit entry. False only on a read-only open of an older store. */
  bool usage;
  uint8_t top_id[LIC_ID_LEN]; /* the largest owner the writer has seen (usage.c) */
  int64_t top_n;
  /* The coalescible audit entries this writer appended last (audit.c). */
  lmdb_audit_recent recent[LMDB_AUDIT_RECENT];
  unsigned recent_next;
  char dir[PATH_MAX];
  pthread_t writer;
  bool writer_started;
  opq q;              /* store_submit's operations (store/opq.h) */
  pthread_mutex_t mu; /* the batch, the flush counters, stopping, stats */
  pthread_cond_t done; /* callers wait for completions */
  store_batch batch; /* the heartbeat batch (store/batch.h) */
  int64_t hwm_pending;
  int64_t batch_since_ms; /* when the oldest pending batch entry arrived */
  uint64_t flush_wanted, flush_done;
  /* How long a meta page's own sync takes, smoothed (writer thread only):
   * the longest a committed group waits for the next one to carry it. */
  int64_t sync_us;
  bool held_last; /* the last group was held for the next commit (writer only) */
  bool stopping; /* closing: the batch takes no more notes */
  store_stats stats;
};

struct store_reader {
  const store_ops *ops;
  store *s;
  MDB_txn *txn;
  bool active;
};

struct store_wtxn {
  const store_ops *ops;
  store *s;
  MDB_txn *txn;
  int64_t now;
};

/* ---- codec.c: errors and the record codec ---------------------------------- */

/* Every MDB_* (or errno) code becomes a lic_err here, detail kept. */
int lmdb__fail(int mrc, const char *what);
/* How many MDB_MAP_FULL this thread has mapped so far (the writer compares). */
uint64_t lmdb__map_full_count(void);
/* A stored record that does not decode: LIC_FORMAT with what and why. */
int lmdb__corrupt(const char *what, const char *why);

/* Version byte, big-endian ints, u16-length strings, u32-length blobs. A
 * failed append or read sets bad; the caller checks it once at the end. */
typedef struct {
  uint8_t *p;
  size_t n, cap;
  bool bad;
} wbuf;

typedef struct {
  const uint8_t *p;
  size_t n;
  bool bad;
} rbuf;

void lmdb__be_put(uint8_t *o, uint64_t v, size_t w);
uint64_t lmdb__be_get(const uint8_t *p, size_t w);
void lmdb__wb_u8(wbuf *b, uint8_t v);
void lmdb__wb_i64(wbuf *b, int64_t v);
void lmdb__wb_str(wbuf *b, const char *s);
void lmdb__wb_blob(wbuf *b, const uint8_t *d, size_t len);
void lmdb__rb_begin(rbuf *r, const MDB_val *v); /* checks the version byte */
uint64_t lmdb__rb_uint(rbuf *r, size_t w);
int64_t lmdb__rb_i64(rbuf *r);
void lmdb__rb_str(rbuf *r, char *out, size_t cap);
void lmdb__rb_blob(rbuf *r, size_t max, uint8_t **out, size_t *outlen);
bool lmdb__rb_done(const rbuf *r); /* no error and no trailing bytes */

/* ---- records.c: generic record access over one database -------------------- */

MDB_val lmdb__val(const void *p, size_t n);
int lmdb__put(store_wtxn *w, int db, const void *k, size_t kl, const void *v, size_t vl,
              unsigned flags);
/* Puts b's bytes (LIC_NOMEM when b went bad) and frees b. */
int lmdb__put_wbuf(store_wtxn *w, int db, const void *k, size_t kl, wbuf *b);
int lmdb__get(store *s, MDB_txn *t, int db, const void *k, size_t kl, MDB_val *v);
int lmdb__del(store *s, MDB_txn *t, int db, const void *k, size_t kl);
/* A count per id (regcounts, usage: u8 ver, i64 n; absent = 0, and a count
 * of 0 or less is deleted). what names the count in a corruption error. */
int lmdb__counter_get(store *s, MDB_txn *t, int db, const uint8_t id[LIC_ID_LEN],
                      const char *what, int64_t *n);
int lmdb__counter_put(store *s, MDB_txn *t, int db, const uint8_t id[LIC_ID_LEN], int64_t n);

/* Visit the records of db whose key starts with prefix (NULL: all). The
 * visitor decodes into its own copy; a non-zero return stops the walk. */
typedef int (*kv_fn)(const MDB_val *k, const MDB_val *v, void *arg);
int lmdb__walk(store *s, MDB_txn *t, int db, const void *prefix, size_t plen, kv_fn fn,
               void *arg);

/* ---- env.c: meta and readers ----------------------------------------------- */

int lmdb__meta_get_int(store *s, MDB_txn *t, const char *key, int64_t *out);
int lmdb__meta_put_int(store *s, MDB_txn *t, const char *key, int64_t val);
/* The meta key of a forgotten revoked license: "forgotten-revoked:" + hex id
 * (the id alone, no personal data; value: i64 revocation time). */
#define LMDB_TOMBSTONE_KEY (18 + 2 * LIC_ID_LEN + 1)
void lmdb__tombstone_key(const uint8_t id[LIC_ID_LEN], char key[LMDB_TOMBSTONE_KEY]);
/* The read transaction of a reader inside store_reader_begin/end. */
int lmdb__rtxn(store_reader *rd, MDB_txn **t);

/* ---- the databases ----------------------------------------------------------- */

int lmdb__node_decode(const MDB_val *k, const MDB_val *v, store_node *n); /* nodes.c */
void lmdb__node_encode(wbuf *b, const store_node *n);                      /* nodes.c */
int lmdb__node_get(store *s, MDB_txn *t, const uint8_t owner[LIC_ID_LEN], const char *node,
                   store_node *out);                                          /* nodes.c */
int lmdb__audit_decode(const MDB_val *k, const MDB_val *v, store_audit *a); /* audit.c */

/* registrations.c: an account's stored registration count (db regcounts). */
int lmdb__regcount_add(store_wtxn *w, const uint8_t account[LIC_ID_LEN], int64_t delta);
int lmdb__regcount_clear(store_wtxn *w, const uint8_t account[LIC_ID_LEN]);
/* Count every account's registrations once, in t (the upgrade to schema 2). */
int lmdb__regcount_rebuild(store *s, MDB_txn *t);

/* usage.c: each owner's record count (db usage, schema 3). */
int lmdb__usage_add(store *s, MDB_txn *t, const uint8_t owner[LIC_ID_LEN], int64_t delta);
int lmdb__usage_clear(store *s, MDB_txn *t, const uint8_t owner[LIC_ID_LEN]);
/* The account an audit subject counts against ("account:UUID ..."). */
bool lmdb__usage_subject(const char *subject, uint8_t owner[LIC_ID_LEN]);
int lmdb__usage_audit(store *s, MDB_txn *t, const char *subject, int64_t delta);
/* Count every owner's records once, in t (the upgrade to schema 3). */
int lmdb__usage_rebuild(store *s, MDB_txn *t);
/* The largest owner, read once at open. */
int lmdb__usage_load_top(store *s, MDB_txn *t);

/* ---- writer.c ---------------------------------------------------------------- */

/* The writer thread (started by store_open on a writable store). */
void *lmdb__writer_main(void *arg);

#endif
