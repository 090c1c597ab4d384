/* cmd/forget.c - `licsrv forget`: erase everything about one license or
 * account, audit entries naming it included (SPEC §6), and report counts. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/err.h"
#include "lic/util.h"

static const char HELP[] =
    "usage: licsrv forget --license ID | --account ID [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "Delete everything stored about a license or an account: its record, its\n"
    "nodes and failures, its registrations and every audit entry naming it, and\n"
    "report what was deleted. The erasure itself is audited without the id.\n"
    "A server that is running stops accepting the license at once.\n"
    "\n"
    "  --license ID   a license id (UUID)\n"
    "  --account ID   an account id (UUID)\n"
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
  if ((ex = licsrv_open_store(&o, 0, &s)) != EXIT_OK)
    return ex;
  r = store_forget(s, is_license ? STORE_SUBJECT_LICENSE : STORE_SUBJECT_ACCOUNT, id, &cnt);
  if (r != LIC_OK) {
    ex = cli_lic_error("forget", r);
    goto out;
  }
  if (o.json)
    ex = cli_json_print(json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "id", uuid, "licenses", (json_int_t)cnt.licenses,
        "accounts", (json_int_t)cnt.accounts, "registrations", (json_int_t)cnt.registrations,
        "nodes", (json_int_t)cnt.nodes, "failures", (json_int_t)cnt.failures, "audit",
        (json_int_t)cnt.audit));
  else {
    printf("forgot %s: %zu license, %zu account, %zu registrations, %zu nodes (%zu failures), "
           "%zu audit entries\n",
           uuid, cnt.licenses, cnt.accounts, cnt.registrations, cnt.nodes, cnt.failures,
           cnt.audit);
    ex = EXIT_OK;
  }
out:
  store_close(s);
  return ex;
}
