/* cmd/revoke.c - `licsrv revoke --license L`: durable and audited; a running
 * server answers `revoked` from its next verify (it reads the flag from the
 * store on every request). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "cmd/table.h"

static const char HELP[] =
    "usage: licsrv revoke --license ID [--data DIR] [--config FILE] [--json]\n"
    "       licsrv revoke --account ID [...] (public mode: the account is denied from\n"
    "       its next request; a re-import keeps it revoked)\n"
    "\n"
    "Revoke a license: every verify naming it is answered `revoked` from the\n"
    "next request on, also by a server that is running now. Durable (synced)\n"
    "and written to the audit log with your user name. Revoking twice keeps\n"
    "the first time.\n"
    "\n"
    "  --license ID   the license to revoke\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print {\"id\", \"revoked\", \"revoked_at\", \"already\"}\n";

typedef struct {
  uint8_t id[LIC_ID_LEN];
} revoke_arg;

static int apply(store_wtxn *w, void *arg) {
  revoke_arg *a = arg;
  return store_w_license_revoke(w, a->id, store_wtxn_now(w));
}

int licsrv_cmd_revoke(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'},    {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"license", required_argument, NULL, 'l'}, {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  licsrv_opts o;
  store *s = NULL;
  store_reader *rd = NULL;
  store_license sl;
  revoke_arg a;
  const char *lic_text = NULL;
  char uuid[LIC_UUID_LEN + 1], subject[STORE_MAX_SUBJECT + 1], when[40];
  bool already;
  int ch, ex, r;

  memset(&sl, 0, sizeof sl);
  for (int i = 1; i < argc; i++)
    if (strncmp(argv[i], "--account", 9) == 0 && (argv[i][9] == '\0' || argv[i][9] == '='))
      return licsrv_account_form("revoke", 0, argc, argv);
  licsrv_opts_init(&o);
  while ((ch = licsrv_next_opt("revoke", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    if (ch == 'l')
      lic_text = optarg;
  if (ch < 0)
    return ex;
  if (optind != argc)
    return cli_usage("revoke", "unexpected argument '%s'", argv[optind]);
  if (lic_text == NULL)
    return cli_usage("revoke", "give --license ID");
  if ((ex = licsrv_parse_id("revoke", "--license", lic_text, a.id)) != EXIT_OK ||
      (ex = licsrv_opts_finish(&o, "revoke")) != EXIT_OK ||
      (ex = licsrv_open_store(&o, 0, &s)) != EXIT_OK)
    return ex;
  lic_uuid_format(a.id, uuid);
  if ((r = store_reader_new(s, &rd)) != LIC_OK || (r = store_reader_begin(rd)) != LIC_OK ||
      (r = store_license_get(rd, a.id, &sl)) != LIC_OK) {
    ex = r == LIC_NOTFOUND ? cli_error(EXIT_FAIL, uuid, "no such license on this server")
                           : cli_lic_error("store", r);
    goto out;
  }
  already = sl.revoked;
  store_license_clear(&sl);
  store_reader_end(rd);
  if (!already) {
    licsrv_subject("license", a.id, subject, sizeof subject);
    if ((r = licsrv_write_audited(s, apply, &a, "revoke", subject)) != LIC_OK) {
      ex = cli_lic_error("revoke", r);
      goto out;
    }
  }
  /* Read back what the store now says (the first revocation's time). */
  if ((r = store_reader_begin(rd)) != LIC_OK || (r = store_license_get(rd, a.id, &sl)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  if (o.json) {
    json_t *j = json_pack("{s:s, s:b, s:b}", "id", uuid, "revoked", sl.revoked, "already", already);
    if (j != NULL) {
      licsrv_json_time(j, "revoked", sl.revoked_at);
      json_object_set_new(j, "revoked", json_boolean(sl.revoked));
    }
    ex = cli_json_print(j);
  } else {
    licsrv_time_text(sl.revoked_at, when, sizeof when);
    printf("license %s %srevoked at %s\n", uuid, already ? "was already " : "", when);
    ex = EXIT_OK;
  }
out:
  store_license_clear(&sl);
  store_reader_free(rd);
  store_close(s);
  return ex;
}
