/* store/pg/internal.h - what the files of the PostgreSQL backend share and
 * nothing outside store/pg/ may see: the handles behind store/store.h, the
 * query helpers (named pgs__*) and the schema version.
 *
 * The backend holds public mode's state (meta, certificates, accounts,
 * registrations, nodes, audit, admin tokens) in one PostgreSQL database that
 * several licsrv processes share; private-mode records (licenses, activations)
 * answer LIC_INVALID (private mode is LMDB only). Each reader owns one
 * connection (readers are per thread); the writer thread owns another and runs
 * the LMDB writer's group commit on it. Queries use binary results. */
#ifndef LICSRV_STORE_PG_INTERNAL_H
#define LICSRV_STORE_PG_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/backend.h"
#include "store/batch.h"
#include "store/opq.h"

STORE_DECLARE(pgs)

#define PGS_SCHEMA_VERSION 4 /* store/pg/schema.c: the migrations, in order */
#define PGS_MAX_PARAMS     12
#define PGS_NOTIFY_CHANNEL "licsrv_changes"
#define PGS_CACHE_MAX_AGE_MS 60000 /* a full reload at least this often */
#define PGS_ORIGIN_LEN 8 /* a process's writer origin: random bytes (16 hex) */

typedef struct pgs_centry pgs_centry; /* cache.c */

/* Tests only (tests/unit/licsrv/store/test_srv_store_cache_pg.c): called by a
 * reload of the read copy between its read and its swap, so a test can put
 * another reload in between; NULL in the server. A failure fails the reload. */
enum { PGS_HOOK_FULL, PGS_HOOK_ACCOUNT };
struct pgs_store;
typedef int (*pgs_cache_hook_fn)(struct pgs_store *s, int what, const uint8_t *id);

/* What pgs_open_with takes beyond the flags (pgs_open: none, all zero). */
typedef struct {
  pgs_cache_hook_fn cache_hook;
} pgs_open_opts;

/* Parameters of one query: bytes are sent binary, integers and text as text. */
typedef struct {
  const char *v[PGS_MAX_PARAMS];
  int len[PGS_MAX_PARAMS];
  int fmt[PGS_MAX_PARAMS];
  char ibuf[PGS_MAX_PARAMS][24];
  int n;
} pgs_params;

/* A claim sent ahead (pipe.c): where its answer goes, the row it writes,
 * and its parameters (p, pointing into buf: sent at the pass's end). */
typedef struct {
  store_claim *out;
  store_registration d;
  pgs_params p;
  char *buf;
} pgs_pending;

/* A registration change of the writer's group, put in the copy after the
 * commit (cache.c): the row written, deleted, or all the account's deleted. */
enum { PGS_DELTA_PUT = 1, PGS_DELTA_DELETE, PGS_DELTA_DELETE_ALL };
typedef struct {
  int op;
  store_registration g; /* DELETE: account and project_id; DELETE_ALL: account */
} pgs_delta;

typedef struct pgs_store {
  const store_ops *ops; /* first: the dispatcher reads it */
  char *url;
  bool rdonly;
  PGconn *wconn; /* the writer thread's (or the opener's before it starts) */
  pthread_t writer;
  bool writer_started;
  opq q; /* store_submit's operations (store/opq.h) */
  pthread_mutex_t mu;
  pthread_cond_t done; /* flush waiters */
  store_batch batch; /* the heartbeat batch (store/batch.h) */
  int64_t hwm_pending;
  int64_t batch_since_ms;
  uint64_t flush_wanted, flush_done;
  bool stopping;
  bool up; /* the writer's connection works (last round trip succeeded) */
  store_stats stats;
  /* the read copy (STORE_CACHED, cache.c): under clock */
  bool cached;
  pgs_cache_hook_fn cache_hook; /* pgs_open_opts: tests only */
  pthread_rwlock_t clock;
  pgs_centry **cbuckets;
  size_t cnb;
  store_cert *ccerts;
  size_t nccerts;
  int64_t cloaded_ms;
  /* Reloads overlap (the listener's, the writer's): each takes a sequence
   * number before its read, and what it read replaces only what an older read
   * put there (cache.c). cseq is the last one taken; under clock: the last
   * full reload's (the age of an account that has no entry) and the certs'. */
  atomic_uint_fast64_t cseq;
  /* reads into the copy the listener made (a row, an account, the
   * certificates, everything: not the fill at open or after a lost feed),
   * and rows it took from notices without a read (/metrics) */
  atomic_uint_fast64_t creloads, cnotice_rows;
  uint64_t cfull_seq, ccerts_seq;
  /* under mu */
  bool cache_fresh, listener_stop;
  int64_t cache_down_since;
  pthread_t listener;
  bool listener_started;
  /* the accounts this group changed (writer thread only): reloaded into the
   * copy after the commit, before the answers */
  uint8_t (*dirty)[LIC_ID_LEN];
  size_t ndirty, capdirty;
  bool certs_dirty;
  /* the group's registration changes (writer thread only), cache.c */
  pgs_delta *delta;
  size_t ndelta, capdelta;
  /* this process's writer, as its session tells the triggers (licsrv.origin) */
  uint8_t origin[PGS_ORIGIN_LEN];
  char origin_hex[2 * PGS_ORIGIN_LEN + 1];
  /* under clock: accounts to reload whole (cache.c), a full reload owed */
  uint8_t (*stale)[LIC_ID_LEN];
  size_t nstale, capstale;
  bool full_owed;
  /* the writer connection's prepared statements (bit i: PGS_STMT i), cleared
   * when it reconnects */
  uint32_t wprepared;
  /* claims sent ahead in one pipeline (pipe.c, writer thread only): allowed
   * in a group's first pass; their answers read before any other statement
   * on the connection, and at the pass's end */
  bool pipe_ok;
  int pipe_rc; /* the first failure among them, this pass */
  /* the pass's BEGIN went into the pipeline ahead of its first statement
   * (pipe.c): begin_sent until its answer is read; begin_failed when that
   * answer was a failure (nothing of the group can have committed) */
  bool begin_sent, begin_failed;
  pgs_pending *pend;
  size_t npend, cappend;
  /* the bound on a write in flight at stop (stop.c) */
  pthread_mutex_t cmu;   /* wcancel and wsock: held while a cancel is sent */
  PGcancel *wcancel;     /* the writer connection's cancel handle */
  int wsock;             /* its socket (-1: none) */
  /* under mu */
  bool busy;             /* the writer runs a group's statements */
  int64_t busy_since_ms;
  int64_t stop_at_ms;    /* when store_stop_begin was called (0: not yet) */
  uint64_t stop_grace_ms;
  bool canceled;         /* a group was canceled: nothing more is written */
  bool writer_exited;
  pthread_t watchdog;
  bool watchdog_started;
  /* writer thread only: the first WARNING PostgreSQL sent on wconn since
   * the writer cleared it (a COMMIT whose synchronous-replication wait was
   * canceled says so by a WARNING, and still reports success) */
  char wwarn[256];
  struct pgs_readq *readq; /* readq.c: made on first use, under mu */
} pgs_store;

typedef struct {
  const store_ops *ops;
  pgs_store *s;
  PGconn *c; /* connected on first use, again after a failure */
} pgs_reader;

typedef struct {
  const store_ops *ops;
  pgs_store *s;
  PGconn *c;
  int64_t now;
  /* the account's registration count read with its row lock (records.c),
   * good until the operation ends or writes a registration */
  bool count_ok;
  uint8_t count_id[LIC_ID_LEN];
  size_t count;
} pgs_wtxn;

/* ---- conn.c: connections and queries ---------------------------------------- */

/* Connect (bounded by connect_timeout in the URL or 5 s). LIC_UNAVAILABLE-like
 * failures are LIC_IO with the server's message as detail. */
int pgs__connect(const char *url, PGconn **out);

void pgs__p_bytes(pgs_params *p, const void *d, size_t n);
void pgs__p_text(pgs_params *p, const char *s);
void pgs__p_i64(pgs_params *p, int64_t v);

/* Run sql with params, binary results. *res is set on LIC_OK (PQclear it). A
 * failure becomes a lic_err with the server's message as detail: a unique
 * violation LIC_EXISTS, a lost connection LIC_IO. */
int pgs__exec(PGconn *c, const char *sql, const pgs_params *p, PGresult **res);
/* As pgs__exec for a statement whose rows are not wanted. */
int pgs__run(PGconn *c, const char *sql, const pgs_params *p);
/* The writer's hot statements (pgs__wexec prepares each once per connection). */
typedef enum {
  PGS_STMT_ACCOUNT_LOCK,
  PGS_STMT_REG_GET,
  PGS_STMT_REG_COUNT,
  PGS_STMT_REG_PUT,
  PGS_STMT_REG_DELETE,
  PGS_STMT_AUDIT,
  PGS_STMT_CLAIM,
  PGS_STMT_RELEASE,
  PGS_STMT_COUNT
} pgs_stmt;
/* As pgs__exec on the writer transaction's connection, the statement
 * prepared there the first time. */
int pgs__wexec(store_wtxn *w, pgs_stmt id, const char *sql, const pgs_params *p,
               PGresult **res);
int pgs__wrun(store_wtxn *w, pgs_stmt id, const char *sql, const pgs_params *p);
/* Prepare statement id on the writer connection unless it is; its name into
 * name. */
int pgs__wprepare(pgs_store *s, pgs_stmt id, const char *sql, int nparams, char *name,
                  size_t cap);
/* A failed result (or connection) as a lic_err code with the server's words. */
int pgs__error_of(PGconn *c, PGresult *res);
/* Set up a new writer connection (s->wconn): origin, no statement prepared. */
int pgs__writer_session(pgs_store *s);
/* Several statements without parameters (the migrations). */
int pgs__script(PGconn *c, const char *sql);
/* Binary result fields (a NULL field reads 0 / empty). */
int64_t pgs__i64(const PGresult *r, int row, int col);
int32_t pgs__i32(const PGresult *r, int row, int col);
/* Copy a text field into out (LIC_FORMAT when it does not fit). */
int pgs__text(const PGresult *r, int row, int col, char *out, size_t cap);
/* Copy a bytea field of exactly n bytes (LIC_FORMAT otherwise). */
int pgs__fixed(const PGresult *r, int row, int col, uint8_t *out, size_t n);
/* A malloc'd copy of a bytea field. */
int pgs__blob(const PGresult *r, int row, int col, uint8_t **out, size_t *n);
/* Whether the connection is still usable after a failure. */
bool pgs__conn_ok(PGconn *c);

/* The reader's connection, (re)connected when absent or broken. */
int pgs__rconn(pgs_reader *rd, PGconn **c);

/* ---- pipe.c: claims without a wait each ------------------------------------------ */

/* Send the claim (PGS_STMT_CLAIM with p) ahead; *out is filled when its
 * answer is read (pgs__pipe_collect), d goes into the read copy if new. */
int pgs__pipe_claim(pgs_store *s, const pgs_params *p, store_claim *out,
                    const store_registration *d);
/* Read every answer sent ahead (and leave pipeline mode): s->pipe_rc, the
 * first failure. */
int pgs__pipe_collect(pgs_store *s);
/* Forget the claims not sent (a new connection). */
void pgs__pipe_drop(pgs_store *s);
/* licsrv_claim()'s answer (one row: outcome, used) into out. */
int pgs__claim_answer(const PGresult *res, store_claim *out);
#define PGS_CLAIM_SQL                                                                      \
  "SELECT outcome, used FROM licsrv_claim($1, $2, $3, $4, $5::bigint, $6::bigint,"         \
  " $7::bigint, $8, $9, $10)"
/* Begin the writer's transaction in the pipeline, its answer read with the
 * first claims' (or before the first statement that waits): a group of
 * claims costs one round trip less. */
int pgs__pipe_begin(pgs_store *s);
/* Before a statement that waits on c: the answers ahead of it, when c is a
 * writer connection with claims (or a BEGIN) in flight. Not LIC_OK when
 * the BEGIN sent ahead failed: the statement must not run (outside the
 * transaction, it would commit alone). */
int pgs__pipe_settle(PGconn *c);

/* ---- schema.c ------------------------------------------------------------------ */

/* pgs_open with options (o NULL: none); tests open a store with a hook. */
int pgs_open_with(const char *url, unsigned flags, const pgs_open_opts *o, store **out);

/* The schema version recorded in the database (0: no licsrv schema). */
int pgs__schema_get(PGconn *c, int *version);
/* Apply the migrations from version `from` up to PGS_SCHEMA_VERSION, in one
 * transaction. */
int pgs__migrate(PGconn *c, int from);

bool pgs__is_up(pgs_store *s); /* the writer's last round trip worked */

/* ---- cache.c ------------------------------------------------------------------- */

int pgs__cache_load_all(pgs_store *s, PGconn *c);
int pgs__cache_load_account(pgs_store *s, PGconn *c, const uint8_t id[LIC_ID_LEN]);
int pgs__cache_load_certs(pgs_store *s, PGconn *c);
void pgs__cache_free(pgs_store *s);
int pgs__cache_account(pgs_store *s, const uint8_t id[LIC_ID_LEN], store_account *out);
/* The registration (out, when non-NULL) and the account's count (when non-NULL). */
int pgs__cache_registration(pgs_store *s, const uint8_t account[LIC_ID_LEN],
                            const uint8_t project_id[LIC_ID_LEN], store_registration *out,
                            size_t *count);
int pgs__cache_cert_each(pgs_store *s, store_cert_cb cb, void *arg);
void *pgs__listener_main(void *arg);
/* Note a change the copy must reload after this group commits. */
void pgs__dirty(store_wtxn *w, const uint8_t id[LIC_ID_LEN]);
void pgs__dirty_id(pgs_store *s, const uint8_t id[LIC_ID_LEN]);
void pgs__dirty_certs(store_wtxn *w);
/* Note a registration change (PGS_DELTA_*) the copy takes after the commit. */
void pgs__delta(store_wtxn *w, int op, const store_registration *g);
void pgs__delta_own(pgs_store *s, int op, const store_registration *g);
/* A number to take just before COMMIT: reads put in the copy after it may
 * hold a newer state than the commit (cache.c). */
uint64_t pgs__cache_mark(pgs_store *s);
/* After the group's COMMIT, before its answers: its deltas and dirty
 * accounts into the copy (since: pgs__cache_mark before the COMMIT). */
int pgs__cache_apply_own(pgs_store *s, PGconn *c, uint64_t since);

/* ---- notify.c: a change notification's payload -------------------------------- */

/* longer than any payload the triggers send ("R" with a project of
 * LIC_MAX_NAME and a domain of LIC_MAX_DOMAIN bytes: 889) */
#define PGS_NOTIFY_MAX 1024

typedef enum {
  PGS_NOTIFY_ACCOUNT = 1, /* an account (id) */
  PGS_NOTIFY_REGS,        /* an account's (id) registrations: schema version 2 */
  PGS_NOTIFY_CERTS,
  PGS_NOTIFY_TOKENS, /* not in the read copy */
  PGS_NOTIFY_REG,    /* one registration (id, project): read it */
  PGS_NOTIFY_ROW,    /* one registration written: row (schema version 4) */
  PGS_NOTIFY_GONE,   /* one registration (id, project) deleted (version 4) */
} pgs_notify_kind;

typedef struct {
  pgs_notify_kind kind;
  uint8_t id[LIC_ID_LEN];      /* ACCOUNT, REGS, REG: the account */
  uint8_t project[LIC_ID_LEN]; /* REG, ROW, GONE */
  store_registration row;      /* ROW */
  bool has_origin;             /* the writer that made the change said who it was */
  uint8_t origin[PGS_ORIGIN_LEN];
} pgs_notify;

/* Parse len bytes of payload (no NUL needed); LIC_FORMAT for anything the
 * trigger does not send, *out zeroed then. */
int pgs__notify_parse(const char *payload, size_t len, pgs_notify *out);

/* ---- stop.c: the bound on a write in flight at stop ------------------------------ */

/* The writer's new connection: its cancel handle and the notice receiver
 * that notes warnings into wwarn (writer thread). Detach before PQfinish. */
void pgs__wconn_attach(pgs_store *s);
void pgs__wconn_detach(pgs_store *s);
/* pgs_open: the stop state's lock. */
void pgs__stop_init(pgs_store *s);
/* Before a group's statements: false when writes were canceled (the group
 * must not touch the database); otherwise the group is busy from now. */
bool pgs__group_begin(pgs_store *s);
/* After them: true when the stop bound canceled this group. */
bool pgs__group_end(pgs_store *s);
/* Whether writes were canceled (the writer checks between passes). */
bool pgs__canceled(pgs_store *s);
/* pgs_close: the watchdog's end, the cancel handle freed (writer joined). */
void pgs__stop_end(pgs_store *s);

/* ---- readq.c ------------------------------------------------------------------- */

/* Stop the reader thread (store_read_quiesce) and free the queue: pgs_close. */
void pgs__readq_free(pgs_store *s);

/* ---- writer.c ------------------------------------------------------------------ */

void *pgs__writer_main(void *arg);
int64_t pgs__now_ms(void);

/* Private-mode operations on this backend. */
int pgs__private_only(const char *what);

#endif
