/* cmd/table.h - how the admin subcommands print for people and for scripts:
 * one aligned-table printer, UTC dates, and JSON times with their RFC 3339
 * twin (SPEC §4.1: `expires` and `expires_at`). */
#ifndef LICSRV_CMD_TABLE_H
#define LICSRV_CMD_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define LICSRV_TABLE_MAX_COLS 8

typedef struct {
  size_t ncols;
  const char *head[LICSRV_TABLE_MAX_COLS];
  char **cells; /* nrows * ncols, malloc'd copies */
  size_t nrows, cap;
  int oom;
} licsrv_table;

/* Columns named by the NULL-terminated list of headers (at most
 * LICSRV_TABLE_MAX_COLS). */
void licsrv_table_init(licsrv_table *t, const char *const *head);
/* Append one row of ncols strings (copied; NULL prints as "-"). */
void licsrv_table_row(licsrv_table *t, const char *const *cells);
/* Print headers and rows, each column padded to its widest cell (in code
 * points, so UTF-8 names line up), two spaces apart; the last column is not
 * padded. "(none)" under the headers for an empty table. Exit code (1 when
 * memory ran out while filling it). */
int licsrv_table_print(licsrv_table *t, FILE *f);
void licsrv_table_free(licsrv_table *t);

/* "YYYY-MM-DD HH:MM:SS UTC", "-" for 0 (never). */
void licsrv_time_text(int64_t t, char *buf, size_t cap);
/* obj[key] = t and obj[key_at] = "YYYY-MM-DDTHH:MM:SSZ" (null for 0). */
void licsrv_json_time(json_t *obj, const char *key, int64_t t);

#endif
