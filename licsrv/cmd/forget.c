/* cmd/forget.c - `licsrv forget`: erase everything about one license or
 * account, audit entries naming it included (SPEC §6), and report counts. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/err.h"
#include "lic/util.h"

static const char HELP[] =
    "usage: licsrv forget --license ID | --account ID [--yes] [--data DIR] [--config FILE]\n"
    "                     [--json]\n"
    "\n"
    "Delete everything stored about a license or an account: its record, its\n"
    "nodes and failures, its registrations and every audit entry naming it, and\n"
    "report what was deleted. The erasure itself is audited without the id.\n"
    "A server that is running stops accepting the license at once. A revoked\n"
    "license leaves a tombstone (its id and revocation time, nothing personal), so\n"
    "importing it again never makes it valid. On a terminal it asks first; from a\n"
    "script it needs --yes. A renewed license's nodes are kept under its\n"
    "lineage's first license: forgetting a later license leaves them, forgetting\n"
    "the first erases them (docs/storage.md).\n"
    "\n"
    "  --license ID   a license id (UUID)\n"
    "  --account ID   an account id (UUID)\n"
    "  --yes          do not ask (required when standard input is not a terminal)\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print the counts as JSON\n";

int licsrv_cmd_forget(int argc, char **argv) {
  licsrv_opts o;
  bool is_license, help;
  uint8_t id[LIC_ID_LEN];
  char uuid[LIC_UUID_LEN + 1];
  store *s = NULL;
  store_counts cnt;
  int r, ex;

  if ((ex = licsrv_subject_args("forget", HELP, argc, argv, &o, &is_license, id, uuid, &help)) != EXIT_OK ||
      help)
    return ex;
  if (!o.yes) {
    /* Erasure cannot be undone: a script says --yes, a person answers. */
    if (!isatty(STDIN_FILENO))
      return cli_usage("forget", "erasing cannot be undone: give --yes (standard input is not a "
                       "terminal to ask on)");
    char line[16];
    fprintf(stderr, "forget %s %s and everything stored about it? [y/N] ",
            is_license ? "license" : "account", uuid);
    fflush(stderr);
    if (fgets(line, sizeof line, stdin) == NULL || (line[0] != 'y' && line[0] != 'Y'))
      return cli_error(EXIT_FAIL, "forget", "not confirmed; nothing erased");
  }
  if ((ex = licsrv_open_store(&o, 0, &s)) != EXIT_OK)
    return ex;
  char actor[STORE_MAX_TOKEN_NAME + 1];
  licsrv_operator(actor, sizeof actor); /* audited as the person, like the other commands */
  r = store_forget(s, is_license ? STORE_SUBJECT_LICENSE : STORE_SUBJECT_ACCOUNT, id, actor, &cnt);
  if (r != LIC_OK) {
    ex = cli_lic_error("forget", r);
    goto out;
  }
  if (o.json)
    ex = cli_json_print(json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "id", uuid, "licenses", (json_int_t)cnt.licenses,
        "accounts", (json_int_t)cnt.accounts, "registrations", (json_int_t)cnt.registrations,
        "nodes", (json_int_t)cnt.nodes, "failures", (json_int_t)cnt.failures, "audit",
        (json_int_t)cnt.audit, "tombstone", cnt.tombstones > 0));
  else {
    printf("forgot %s: %zu license%s, %zu account%s, %zu registration%s, %zu node%s "
           "(%zu failure%s), %zu audit %s\n",
           uuid, cnt.licenses, CLI_S(cnt.licenses), cnt.accounts, CLI_S(cnt.accounts),
           cnt.registrations, CLI_S(cnt.registrations), cnt.nodes, CLI_S(cnt.nodes),
           cnt.failures, CLI_S(cnt.failures), cnt.audit, CLI_PL(cnt.audit, "entry", "entries"));
    if (cnt.tombstones > 0)
      printf("kept a tombstone of the revoked license's id: importing it again leaves it revoked\n");
    ex = EXIT_OK;
  }
out:
  store_close(s);
  return ex;
}
