/* cmd/purge.c - `licsrv purge`: retention (SPEC §6) on demand. */
#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/err.h"
#include "lic/util.h"

static const char HELP[] =
    "usage: licsrv purge [--retention-days N] [--registration-ttl-days N] [--data DIR]\n"
    "                    [--config FILE] [--json]\n"
    "\n"
    "Delete node records, failure entries and audit entries older than the\n"
    "retention period, and report how many were deleted. The server does the\n"
    "same daily. Durable once this command returns.\n"
    "\n"
    "  --retention-days N  keep this many days (default 180)\n"
    "  --registration-ttl-days N  public mode: also release registrations without a\n"
    "                      valid verify for N days, each release audited (the server\n"
    "                      does it daily when registration_ttl_days is set)\n"
    "  --data DIR          data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL         a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE       read `data =` from this INI file\n"
    "  --json              print the counts as JSON\n";

int licsrv_cmd_purge(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"retention-days", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
      {"registration-ttl-days", required_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
  licsrv_opts o;
  int64_t days = LICSRV_DEFAULT_RETENTION_DAYS, ttl = 0;
  size_t released = 0;
  store *s = NULL;
  store_counts cnt;
  int c, r, ex;

  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt("purge", HELP, argc, argv, ":h", opts, &o, &ex)) > 0) {
    switch (c) {
    case 'r':
      if (lic_parse_int(optarg, 1, 36500, &days) != LIC_OK)
        return cli_usage("purge", "--retention-days must be a whole number of days, 1..36500");
      break;
    case 't':
      if (lic_parse_int(optarg, 1, 36500, &ttl) != LIC_OK)
        return cli_usage("purge", "--registration-ttl-days must be a whole number of days, 1..36500");
      break;
    }
  }
  if (c < 0)
    return ex;
  if (optind != argc)
    return cli_usage("purge", "unexpected argument '%s'", argv[optind]);
  if ((ex = licsrv_opts_finish(&o, "purge")) != EXIT_OK)
    return ex;
  if ((ex = licsrv_open_store(&o, 0, &s)) != EXIT_OK)
    return ex;
  char actor[STORE_MAX_TOKEN_NAME + 1];
  licsrv_operator(actor, sizeof actor); /* audited as the person, like the other commands */
  if ((r = store_purge(s, (int64_t)time(NULL), days, actor, &cnt)) != LIC_OK ||
      (ttl > 0 && (r = store_registration_release_idle(s, (int64_t)time(NULL), ttl, &released)) !=
                      LIC_OK)) {
    ex = cli_lic_error("purge", r);
    goto out;
  }
  if (o.json)
    ex = cli_json_print(json_pack("{s:I, s:I, s:I, s:I, s:I}", "retention_days", (json_int_t)days,
                                  "nodes", (json_int_t)cnt.nodes, "failures",
                                  (json_int_t)cnt.failures, "audit", (json_int_t)cnt.audit,
                                  "registrations", (json_int_t)released));
  else {
    printf("purged %zu node record%s, %zu failure%s, %zu audit %s older than %lld day%s\n",
           cnt.nodes, CLI_S(cnt.nodes), cnt.failures, CLI_S(cnt.failures), cnt.audit,
           CLI_PL(cnt.audit, "entry", "entries"), (long long)days, CLI_S(days));
    if (ttl > 0)
      printf("released %zu registration%s idle for %lld day%s\n", released, CLI_S(released),
             (long long)ttl, CLI_S(ttl));
    ex = EXIT_OK;
  }
out:
  store_close(s);
  return ex;
}
