/* store/pg/conn.h - connections and queries (conn.c): parameters in, binary
 * rows out, PostgreSQL's errors as lic_err codes; the writer's connection and
 * its prepared statements; the readers' connections. The lowest room of
 * store/pg/ but lock.c and notify.c: it calls no other (docs/architecture.md). */
#ifndef LICSRV_STORE_PG_CONN_H
#define LICSRV_STORE_PG_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/backend.h"

typedef struct pgs_store pgs_store;

#define PGS_MAX_PARAMS 12

/* Parameters of one query: bytes are sent binary, integers and text as text. */
typedef struct {
  const char *v[PGS_MAX_PARAMS];
  int len[PGS_MAX_PARAMS];
  int fmt[PGS_MAX_PARAMS];
  char ibuf[PGS_MAX_PARAMS][24];
  int n;
} pgs_params;

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

/* The writer's connection: the writer thread's once it runs (the opener's
 * before), writer thread only. */
typedef struct {
  PGconn *c;
  /* its prepared statements (bit i: PGS_STMT i), none on a new connection */
  uint32_t prepared;
} pgs_wconn;

/* A reader: its own connection (readers are per thread). */
typedef struct {
  const store_ops *ops;
  pgs_store *s;
  PGconn *c; /* connected on first use, again after a failure */
} pgs_reader;

/* The writer's transaction (writer.c hands it to each operation). */
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

/* The reader's connection, (re)connected when absent or broken. */
int pgs__rconn(pgs_reader *rd, PGconn **c);

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
/* As pgs__exec on the writer transaction's connection, the statement
 * prepared there the first time. */
int pgs__wexec(store_wtxn *w, pgs_stmt id, const char *sql, const pgs_params *p,
               PGresult **res);
int pgs__wrun(store_wtxn *w, pgs_stmt id, const char *sql, const pgs_params *p);
/* Prepare statement id on the writer connection unless it is; its name into
 * name. */
int pgs__wprepare(pgs_store *s, pgs_stmt id, const char *sql, int nparams, char *name,
                  size_t cap);
/* A new writer connection's session: nothing prepared on it, this process's
 * origin told to the triggers (the caller forgets its own state of the old
 * connection: pgs__pipe_reset). */
int pgs__wconn_session(pgs_store *s);
/* A failed result (or connection) as a lic_err code with the server's words. */
int pgs__error_of(PGconn *c, PGresult *res);
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

/* Before a statement that waits on c, this thread's settle function runs
 * (NULL: none). pipe.c sets it on the writer thread: the answers of the
 * claims sent ahead on c are read first, and a BEGIN sent ahead that failed
 * fails the statement (conn.c calls no room above it: pipe.c tells it so). */
typedef int (*pgs_settle_fn)(PGconn *c);
void pgs__conn_settle_set(pgs_settle_fn fn);

/* The waits for PostgreSQL's answers this thread made since it started: one
 * per statement run, one per pipeline sent with its sync (pipe.c counts
 * those with pgs__conn_waited). The writer's, per group, are its round trips
 * (store_stats.round_trips). */
uint64_t pgs__conn_waits(void);
void pgs__conn_waited(void);

int64_t pgs__now_ms(void); /* CLOCK_MONOTONIC */

/* Private-mode operations on this backend. */
int pgs__private_only(const char *what);

#endif
