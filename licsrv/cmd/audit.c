/* cmd/audit.c - `licsrv audit [--since D]`: the audit log (who changed what,
 * when), oldest first. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "cmd/table.h"

static const char HELP[] =
    "usage: licsrv audit [--since DATE] [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "The audit log, oldest first: time (UTC), actor (an admin token's name, or\n"
    "cli:USER for a change made from the shell), action and subject. Register\n"
    "and unregister repeats of one project within an hour are one entry: the\n"
    "subject then ends in (xN, last TIME), --json gives count and last\n"
    "(docs/server.md \"What the audit log keeps\").\n"
    "\n"
    "  --since DATE   only entries from DATE on: YYYY-MM-DD (UTC midnight) or\n"
    "                 YYYY-MM-DDTHH:MM:SSZ\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print {\"audit\": [...]} (times as Unix seconds and *_at)\n";

typedef struct {
  licsrv_table t;
  json_t *arr;
} ctx;

/* YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SSZ (exactly, UTC). */
static int parse_since(const char *s, int64_t *t) {
  char day[11];
  int64_t h, m, sec;
  size_t n = strlen(s);
  if (n == 10)
    return lic_date_parse(s, t);
  if (n != 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
    return LIC_FORMAT;
  memcpy(day, s, 10);
  day[10] = '\0';
  char hh[3] = {s[11], s[12], 0}, mm[3] = {s[14], s[15], 0}, ss[3] = {s[17], s[18], 0};
  if (lic_date_parse(day, t) != LIC_OK || lic_parse_int(hh, 0, 23, &h) != LIC_OK ||
      lic_parse_int(mm, 0, 59, &m) != LIC_OK || lic_parse_int(ss, 0, 59, &sec) != LIC_OK ||
      hh[0] < '0' || mm[0] < '0' || ss[0] < '0')
    return LIC_FORMAT;
  *t += h * 3600 + m * 60 + sec;
  return LIC_OK;
}

static int row(const store_audit *a, void *arg) {
  ctx *c = arg;
  char when[40];
  if (c->arr != NULL) {
    json_t *o = json_pack("{s:I, s:s, s:s, s:s}", "seq", (json_int_t)a->seq, "actor", a->token,
                          "action", a->action, "subject", a->subject);
    if (o == NULL)
      return LIC_NOMEM;
    licsrv_json_time(o, "time", a->time);
    json_object_set_new(o, "count", json_integer((json_int_t)(a->count > 1 ? a->count : 1)));
    if (a->count > 1)
      licsrv_json_time(o, "last", a->last);
    json_array_append_new(c->arr, o);
    return 0;
  }
  licsrv_time_text(a->time, when, sizeof when);
  /* merged repeats (register/unregister churn): how many, until when */
  char subject[STORE_MAX_SUBJECT + 96], until[40];
  if (a->count > 1) {
    licsrv_time_text(a->last, until, sizeof until);
    snprintf(subject, sizeof subject, "%s (x%llu, last %s)", a->subject,
             (unsigned long long)a->count, until);
  } else {
    snprintf(subject, sizeof subject, "%s", a->subject);
  }
  const char *cells[] = {when, a->token, a->action, subject};
  licsrv_table_row(&c->t, cells);
  return 0;
}

int licsrv_cmd_audit(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'},  {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"since", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
  static const char *const head[] = {"TIME", "ACTOR", "ACTION", "SUBJECT", NULL};
  licsrv_opts o;
  store *s = NULL;
  store_reader *rd = NULL;
  ctx c;
  int64_t since = 0;
  int ch, ex, r;

  memset(&c, 0, sizeof c);
  licsrv_opts_init(&o);
  while ((ch = licsrv_next_opt("audit", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    if (ch == 's' && parse_since(optarg, &since) != LIC_OK)
      return cli_usage("audit", "--since: '%.64s' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ",
                       optarg);
  if (ch < 0)
    return ex;
  if (optind != argc)
    return cli_usage("audit", "unexpected argument '%s'", argv[optind]);
  if ((ex = licsrv_opts_finish(&o, "audit")) != EXIT_OK ||
      (ex = licsrv_open_store(&o, STORE_RDONLY, &s)) != EXIT_OK)
    return ex;
  licsrv_table_init(&c.t, head);
  if (o.json && (c.arr = json_array()) == NULL) {
    ex = cli_error(EXIT_FAIL, "output", "out of memory");
    goto out;
  }
  if ((r = store_reader_new(s, &rd)) != LIC_OK || (r = store_reader_begin(rd)) != LIC_OK ||
      (r = store_audit_each(rd, since, NULL, row, &c)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  ex = o.json ? cli_json_print(json_pack("{s:O}", "audit", c.arr)) : licsrv_table_print(&c.t, stdout);
out:
  json_decref(c.arr);
  licsrv_table_free(&c.t);
  store_reader_free(rd);
  store_close(s);
  return ex;
}
