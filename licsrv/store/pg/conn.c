/* store/pg/conn.c - connections and queries: parameters in, binary rows out,
 * PostgreSQL's errors as lic_err codes (a lost or refused connection is
 * LIC_UNAVAILABLE: the caller answers 503 and retries later). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lic/err.h"
#include "store/pg/conn.h"
#include "store/pg/internal.h"

/* This thread's settle function (pgs__conn_settle_set; NULL: none). */
static _Thread_local pgs_settle_fn settle_fn;

void pgs__conn_settle_set(pgs_settle_fn fn) { settle_fn = fn; }

/* This thread's waits for an answer (pgs__conn_waits). */
static _Thread_local uint64_t waits;

uint64_t pgs__conn_waits(void) { return waits; }

void pgs__conn_waited(void) { waits++; }

/* The answers ahead of a statement that waits on c, first (pipe.c). */
static int settle(PGconn *c) { return settle_fn != NULL ? settle_fn(c) : LIC_OK; }

int64_t pgs__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's notices (e.g. "relation already exists, skipping") are not ours to
 * print on stderr. */
/* libpq's messages span lines (one per host tried): one line, "; " between. */
static void one_line(char *m) {
  size_t n = strlen(m);
  while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
    m[--n] = '\0';
  for (char *p = m; *p != '\0'; p++)
    if (*p == '\n')
      *p = ';';
}

static void quiet(void *arg, const char *msg) {
  (void)arg;
  (void)msg;
}

int pgs__connect(const char *url, PGconn **out) {
  /* A URL without connect_timeout would wait for the kernel's TCP timeout;
   * the URL's own settings come later and win. */
  const char *keys[] = {"connect_timeout", "tcp_user_timeout", "application_name", "dbname", NULL};
  const char *vals[] = {"5", "10000", "licsrv", url, NULL};
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  *out = NULL;
  if (c == NULL)
    return lic_fail(LIC_NOMEM, "postgresql: cannot allocate a connection");
  if (PQstatus(c) != CONNECTION_OK) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
    one_line(msg);
    PQfinish(c);
    return lic_fail(LIC_UNAVAILABLE, "postgresql: %s", msg);
  }
  PQsetNoticeProcessor(c, quiet, NULL);
  *out = c;
  return LIC_OK;
}

bool pgs__conn_ok(PGconn *c) { return c != NULL && PQstatus(c) == CONNECTION_OK; }

void pgs__p_bytes(pgs_params *p, const void *d, size_t n) {
  if (p->n >= PGS_MAX_PARAMS)
    abort(); /* a query written with too many parameters: a bug, caught by the tests */
  p->v[p->n] = d;
  p->len[p->n] = (int)n;
  p->fmt[p->n] = 1;
  p->n++;
}

void pgs__p_text(pgs_params *p, const char *s) {
  if (p->n >= PGS_MAX_PARAMS)
    abort();
  p->v[p->n] = s;
  p->len[p->n] = 0;
  p->fmt[p->n] = 0;
  p->n++;
}

void pgs__p_i64(pgs_params *p, int64_t v) {
  if (p->n >= PGS_MAX_PARAMS)
    abort();
  snprintf(p->ibuf[p->n], sizeof p->ibuf[p->n], "%lld", (long long)v);
  pgs__p_text(p, p->ibuf[p->n]);
}

int pgs__error_of(PGconn *c, PGresult *res) {
  const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  char msg[512];
  snprintf(msg, sizeof msg, "%s",
           res != NULL && PQresultErrorMessage(res)[0] != '\0' ? PQresultErrorMessage(res)
                                                              : PQerrorMessage(c));
  one_line(msg);
  if (!pgs__conn_ok(c) || state == NULL || strncmp(state, "08", 2) == 0 ||
      strncmp(state, "57P", 3) == 0 || strcmp(state, "57014") == 0 ||
      strcmp(state, "25006") == 0) /* 57014: canceled (statement_timeout, a cancel request) */
    return lic_fail(LIC_UNAVAILABLE, "postgresql: %s", msg[0] ? msg : "connection lost");
  if (strcmp(state, "23505") == 0)
    return lic_fail(LIC_EXISTS, "postgresql: %s", msg);
  if (strncmp(state, "42", 2) == 0)
    return lic_fail(LIC_FORMAT, "postgresql: %s (run 'licsrv migrate'?)", msg);
  return lic_fail(LIC_IO, "postgresql: %s", msg);
}

int pgs__exec(PGconn *c, const char *sql, const pgs_params *p, PGresult **res) {
  static const pgs_params none;
  if (p == NULL)
    p = &none;
  *res = NULL;
  if (c == NULL)
    return lic_fail(LIC_UNAVAILABLE, "postgresql: not connected");
  int src = settle(c); /* the claims sent ahead are answered first */
  if (src != LIC_OK)
    return src;
  waits++;
  PGresult *r = PQexecParams(c, sql, p->n, NULL, p->v, p->len, p->fmt, 1);
  ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    int rc = pgs__error_of(c, r);
    PQclear(r);
    return rc;
  }
  *res = r;
  return LIC_OK;
}

/* The writer's hot statements, each prepared once per connection (parsed and
 * planned once instead of at every registration). */
int pgs__wexec(store_wtxn *wt, pgs_stmt id, const char *sql, const pgs_params *p,
               PGresult **res) {
  static const pgs_params none;
  pgs_wtxn *w = (pgs_wtxn *)wt;
  pgs_store *s = w->s;
  char name[32];
  if (p == NULL)
    p = &none;
  *res = NULL;
  if (w->c == NULL)
    return lic_fail(LIC_UNAVAILABLE, "postgresql: not connected");
  if (w->c != s->wc.c || id >= PGS_STMT_COUNT) /* not the writer's: plain */
    return pgs__exec(w->c, sql, p, res);
  int rc = pgs__wprepare(s, id, sql, p->n, name, sizeof name);
  if (rc != LIC_OK)
    return rc;
  if ((rc = settle(w->c)) != LIC_OK)
    return rc;
  waits++;
  PGresult *r = PQexecPrepared(w->c, name, p->n, p->v, p->len, p->fmt, 1);
  ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    rc = pgs__error_of(w->c, r);
    PQclear(r);
    return rc;
  }
  *res = r;
  return LIC_OK;
}

int pgs__wrun(store_wtxn *w, pgs_stmt id, const char *sql, const pgs_params *p) {
  PGresult *r;
  int rc = pgs__wexec(w, id, sql, p, &r);
  PQclear(r);
  return rc;
}

int pgs__wprepare(pgs_store *s, pgs_stmt id, const char *sql, int nparams, char *name,
                  size_t cap) {
  PGS_ASSERT_WRITER(s);
  snprintf(name, cap, "licsrv_%d", (int)id);
  if ((s->wc.prepared & (1u << id)) != 0)
    return LIC_OK;
  int src = settle(s->wc.c); /* PQprepare waits: not inside a pipeline */
  if (src != LIC_OK)
    return src;
  waits++;
  PGresult *r = PQprepare(s->wc.c, name, sql, nparams, NULL);
  if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
    int rc = pgs__error_of(s->wc.c, r);
    PQclear(r);
    return rc;
  }
  PQclear(r);
  s->wc.prepared |= 1u << id;
  return LIC_OK;
}

/* A new writer connection: nothing prepared on it yet, and its session tells
 * the triggers this process's origin (the listener skips what it sent). */
int pgs__wconn_session(pgs_store *s) {
  pgs_params p = {0};
  PGS_ASSERT_WRITER(s);
  s->wc.prepared = 0;
  pgs__p_text(&p, s->origin_hex);
  return pgs__run(s->wc.c, "SELECT set_config('licsrv.origin', $1, false)", &p);
}

int pgs__run(PGconn *c, const char *sql, const pgs_params *p) {
  PGresult *r;
  int rc = pgs__exec(c, sql, p, &r);
  PQclear(r);
  return rc;
}

int pgs__script(PGconn *c, const char *sql) {
  if (c == NULL)
    return lic_fail(LIC_UNAVAILABLE, "postgresql: not connected");
  int src = settle(c);
  if (src != LIC_OK)
    return src;
  waits++;
  PGresult *r = PQexec(c, sql); /* the simple protocol: several statements */
  int rc = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK ? LIC_OK : pgs__error_of(c, r);
  PQclear(r);
  return rc;
}

static uint64_t be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

int64_t pgs__i64(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
    return 0;
  return (int64_t)be((const uint8_t *)PQgetvalue(r, row, col), 8);
}

int32_t pgs__i32(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 4)
    return 0;
  return (int32_t)(uint32_t)be((const uint8_t *)PQgetvalue(r, row, col), 4);
}

int pgs__text(const PGresult *r, int row, int col, char *out, size_t cap) {
  size_t n = PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
  if (n >= cap)
    return lic_fail(LIC_FORMAT, "postgresql: column %s is longer than %zu bytes",
                    PQfname(r, col), cap - 1);
  memcpy(out, PQgetvalue(r, row, col), n);
  out[n] = '\0';
  return LIC_OK;
}

int pgs__fixed(const PGresult *r, int row, int col, uint8_t *out, size_t n) {
  if (PQgetisnull(r, row, col) || (size_t)PQgetlength(r, row, col) != n)
    return lic_fail(LIC_FORMAT, "postgresql: column %s is not %zu bytes", PQfname(r, col), n);
  memcpy(out, PQgetvalue(r, row, col), n);
  return LIC_OK;
}

int pgs__blob(const PGresult *r, int row, int col, uint8_t **out, size_t *n) {
  size_t len = PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
  *out = malloc(len > 0 ? len : 1);
  if (*out == NULL)
    return LIC_NOMEM;
  memcpy(*out, PQgetvalue(r, row, col), len);
  *n = len;
  return LIC_OK;
}

int pgs__rconn(pgs_reader *rd, PGconn **c) {
  if (rd->c != NULL && !pgs__conn_ok(rd->c)) {
    PQfinish(rd->c);
    rd->c = NULL;
  }
  if (rd->c == NULL) {
    int rc = pgs__connect(rd->s->url, &rd->c);
    if (rc != LIC_OK)
      return rc;
  }
  *c = rd->c;
  return LIC_OK;
}

/* ---- readers: one connection each, no snapshot (every query reads the
 * newest committed state) ---------------------------------------------------- */

int pgs_reader_new(store *st, store_reader **out) {
  pgs_reader *rd = calloc(1, sizeof *rd);
  if (rd == NULL)
    return LIC_NOMEM;
  rd->ops = &pgs_ops;
  rd->s = (pgs_store *)st;
  *out = (store_reader *)rd;
  return LIC_OK;
}

void pgs_reader_free(store_reader *r) {
  pgs_reader *rd = (pgs_reader *)r;
  PQfinish(rd->c);
  free(rd);
}

/* A cached store's verify path must not wait on (or for) the database: its
 * reads connect on first use instead. */
int pgs_reader_begin(store_reader *r) {
  PGconn *c;
  if (((pgs_reader *)r)->s->cached)
    return LIC_OK;
  return pgs__rconn((pgs_reader *)r, &c);
}

void pgs_reader_end(store_reader *r) { (void)r; }

int pgs__private_only(const char *what) {
  return lic_fail(LIC_INVALID, "%s: private mode is LMDB only (this store is PostgreSQL)", what);
}
