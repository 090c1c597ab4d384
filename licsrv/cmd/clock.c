/* cmd/clock.c - `licsrv clock show|reset`: the clock high-water mark. A
 * forward clock jump (a bad NTP step, a VM restored with a wrong clock) moves
 * the mark into the future; once the clock is right again every verify is
 * clock_rollback until an operator who checked the clock resets the mark. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "core/app.h"
#include "core/decide.h"
#include "lic/err.h"

static const char HELP[] =
    "usage: licsrv clock show [--data DIR] [--config FILE] [--json]\n"
    "       licsrv clock reset [--yes] [--data DIR] [--config FILE]\n"
    "\n"
    "The clock high-water mark is the latest time the server has seen; when the\n"
    "clock is more than an hour behind it, every verify is clock_rollback.\n"
    "'show' prints the mark and whether the clock is behind it. 'reset' sets the\n"
    "mark to now, after asking (or with --yes): only do it when the clock is\n"
    "right and the mark came from a forward jump. Audited as 'clock_reset'; a\n"
    "running server applies it within a second.\n"
    "\n"
    "  --yes          do not ask\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         (show) print as JSON\n";

static int reset_apply(store_wtxn *w, void *arg) {
  return store_w_clock_hwm_reset(w, *(const int64_t *)arg);
}

static void fmt_time(int64_t t, char *buf, size_t cap) {
  struct tm tm;
  time_t tt = (time_t)t;
  if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
    snprintf(buf, cap, "never");
    return;
  }
  strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int licsrv_cmd_clock(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"yes", no_argument, NULL, 'y'},        {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
  licsrv_opts o;
  store *s = NULL;
  store_reader *rd = NULL;
  bool yes = false;
  int64_t mark = 0, now = (int64_t)time(NULL);
  char subject[STORE_MAX_SUBJECT + 1], a[32], b[32];
  int c, r, ex;

  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt("clock", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    if (c == 'y')
      yes = true;
  if (c < 0)
    return ex;
  if (argc - optind != 1 || (strcmp(argv[optind], "show") != 0 && strcmp(argv[optind], "reset") != 0))
    return cli_usage("clock", "give 'show' or 'reset'");
  bool reset = strcmp(argv[optind], "reset") == 0;
  if ((ex = licsrv_opts_finish(&o, "clock")) != EXIT_OK)
    return ex;
  if ((ex = licsrv_open_store(&o, reset ? 0 : STORE_RDONLY, &s)) != EXIT_OK)
    return ex;
  if ((r = store_reader_new(s, &rd)) == LIC_OK && (r = store_reader_begin(rd)) == LIC_OK) {
    r = store_clock_hwm_get(rd, &mark);
    store_reader_end(rd);
  }
  store_reader_free(rd);
  if (r != LIC_OK) {
    ex = cli_lic_error("clock", r);
    goto out;
  }
  bool behind = mark > 0 && now < mark - SRV_ROLLBACK_SLACK;
  fmt_time(mark, a, sizeof a);
  fmt_time(now, b, sizeof b);
  if (!reset) {
    if (o.json)
      ex = cli_json_print(json_pack("{s:I, s:s, s:I, s:b, s:I}", "high_water", (json_int_t)mark,
                                    "high_water_at", a, "now", (json_int_t)now, "rollback", behind,
                                    "behind_seconds", (json_int_t)(mark > now ? mark - now : 0)));
    else {
      printf("high-water mark %s, now %s: %s\n", a, b,
             behind ? "the clock is behind the mark (verifies answer clock_rollback)" : "ok");
      ex = EXIT_OK;
    }
    goto out;
  }
  if (!yes) {
    char line[16] = "";
    fprintf(stderr, "Set the clock high-water mark from %s to now (%s)? Only if this clock is right. [y/N] ",
            a, b);
    fflush(stderr);
    if (fgets(line, sizeof line, stdin) == NULL ||
        (strcmp(line, "y\n") != 0 && strcmp(line, "yes\n") != 0 && strcmp(line, "y") != 0 &&
         strcmp(line, "yes") != 0)) {
      ex = cli_error(EXIT_FAIL, "clock", "not confirmed: the mark stays at %s (--yes to skip the question)", a);
      goto out;
    }
  }
  snprintf(subject, sizeof subject, "clock:%lld", (long long)now);
  if ((r = licsrv_write_audited(s, reset_apply, &now, APP_CLOCK_RESET_ACTION, subject)) != LIC_OK) {
    ex = cli_lic_error("clock", r);
    goto out;
  }
  printf("clock high-water mark set from %s to %s\n", a, b);
  ex = EXIT_OK;
out:
  store_close(s);
  return ex;
}
