/* cmd/table.c - the one table printer of the admin subcommands, and their
 * UTC time texts. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd/table.h"
#include "lic/err.h"
#include "lic/util.h"
#include "util/array.h"

void licsrv_table_init(licsrv_table *t, const char *const *head) {
  memset(t, 0, sizeof *t);
  while (head[t->ncols] != NULL && t->ncols < LICSRV_TABLE_MAX_COLS) {
    t->head[t->ncols] = head[t->ncols];
    t->ncols++;
  }
}

void licsrv_table_row(licsrv_table *t, const char *const *cells) {
  if (t->oom)
    return;
  /* a row of ncols cells is the array's element */
  if (srv_array_reserve_(&t->cells, &t->cap, t->nrows + 1, t->ncols * sizeof *t->cells, 16) != LIC_OK) {
    t->oom = 1;
    return;
  }
  char **row = t->cells + t->nrows * t->ncols;
  for (size_t c = 0; c < t->ncols; c++) {
    row[c] = strdup(cells[c] != NULL ? cells[c] : "-");
    if (row[c] == NULL)
      t->oom = 1;
  }
  t->nrows++;
}

/* Display width: code points (UTF-8 continuation bytes take no column). */
static size_t width(const char *s) {
  size_t n = 0;
  for (; *s != '\0'; s++)
    if (((unsigned char)*s & 0xc0) != 0x80)
      n++;
  return n;
}

int licsrv_table_print(licsrv_table *t, FILE *f) {
  size_t w[LICSRV_TABLE_MAX_COLS];
  if (t->oom)
    return cli_error(EXIT_FAIL, "output", "out of memory");
  for (size_t c = 0; c < t->ncols; c++) {
    w[c] = width(t->head[c]);
    for (size_t r = 0; r < t->nrows; r++) {
      const char *cell = t->cells[r * t->ncols + c];
      size_t cw = cell != NULL ? width(cell) : 1;
      if (cw > w[c])
        w[c] = cw;
    }
  }
  for (size_t r = 0; r <= t->nrows; r++) {
    for (size_t c = 0; c < t->ncols; c++) {
      const char *cell = r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncols + c];
      if (cell == NULL)
        cell = "-";
      fputs(cell, f);
      if (c + 1 < t->ncols)
        fprintf(f, "%*s", (int)(w[c] - width(cell) + 2), "");
    }
    fputc('\n', f);
  }
  if (t->nrows == 0)
    fputs("(none)\n", f);
  return EXIT_OK;
}

void licsrv_table_free(licsrv_table *t) {
  if (t->cells != NULL)
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
      free(t->cells[i]);
  free(t->cells);
  memset(t, 0, sizeof *t);
}

void licsrv_time_text(int64_t t, char *buf, size_t cap) {
  char iso[21];
  if (t == 0) {
    snprintf(buf, cap, "-");
    return;
  }
  lic_time_format(t, iso); /* YYYY-MM-DDTHH:MM:SSZ */
  snprintf(buf, cap, "%.10s %.8s UTC", iso, iso + 11);
}

void licsrv_json_time(json_t *obj, const char *key, int64_t t) {
  char at[80], iso[21];
  snprintf(at, sizeof at, "%s_at", key);
  json_object_set_new(obj, key, json_integer(t));
  if (t == 0) {
    json_object_set_new(obj, at, json_null());
  } else {
    lic_time_format(t, iso);
    json_object_set_new(obj, at, json_string(iso));
  }
}
