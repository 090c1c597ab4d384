/* pgtest.c - the PostgreSQL unit tests' own connections (pgtest.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "pgtest.h"

PGconn *tu_pg_conn(void) {
  const char *url = getenv("LIC_TEST_PG_URL");
  if (url == NULL)
    fail_msg("LIC_TEST_PG_URL is not set: run this test through tests/unit/with_pg.py");
  PGconn *c = PQconnectdb(url);
  if (PQstatus(c) != CONNECTION_OK)
    fail_msg("cannot connect to %s: %s", url, PQerrorMessage(c));
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  return c;
}

void tu_pg_exec(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
    fail_msg("%s: %s", sql, PQerrorMessage(c));
  PQclear(r);
}

void tu_pg_sql(const char *sql) {
  PGconn *c = tu_pg_conn();
  tu_pg_exec(c, sql);
  PQfinish(c);
}

long tu_pg_long(const char *sql) {
  PGconn *c = tu_pg_conn();
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
    fail_msg("%s: %s", sql, PQerrorMessage(c));
  long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  PQfinish(c);
  return v;
}

void tu_pg_reset(void) { tu_pg_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public"); }

const char *tu_pg_store_where(bool pg, const char *dir) {
  if (!pg)
    return dir;
  tu_pg_reset();
  return getenv("LIC_TEST_PG_URL");
}
