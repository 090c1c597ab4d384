/* pgtest.h - the PostgreSQL unit tests' own connections to the server
 * tests/unit/with_pg.py starts for them (its URL in LIC_TEST_PG_URL): to
 * empty the database between tests and to read or change it behind the
 * store's back. Every failure fails the running test. */
#ifndef LIC_TESTS_PGTEST_H
#define LIC_TESTS_PGTEST_H

#include <stdbool.h>

#include <libpq-fe.h>

/* A connection to LIC_TEST_PG_URL, notices below warnings muted. */
PGconn *tu_pg_conn(void);
/* Run sql (one or more statements) on c; it must succeed. */
void tu_pg_exec(PGconn *c, const char *sql);
/* The same on a connection of its own. */
void tu_pg_sql(const char *sql);
/* The one number a query answers (one row, one column). */
long tu_pg_long(const char *sql);
/* An empty database: the public schema dropped and made again. */
void tu_pg_reset(void);
/* Where a test of both stores opens its store: dir for LMDB; for
 * PostgreSQL (pg) LIC_TEST_PG_URL, emptied first. */
const char *tu_pg_store_where(bool pg, const char *dir);

#endif
