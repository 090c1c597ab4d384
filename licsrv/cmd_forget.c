/* cmd_forget.c - `licsrv forget`: erase everything about one license or
 * account, audit entries naming it included (SPEC §6), and report counts. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "cmds.h"
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
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print the counts as JSON\n";

int licsrv_cmd_forget(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'},    {"config", required_argument, NULL, 'c'},
      {"license", required_argument, NULL, 'l'}, {"account", required_argument, NULL, 'a'},
      {"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  licsrv_opts o;
  const char *lic_text = NULL, *acct_text = NULL;
  uint8_t id[LIC_ID_LEN];
  char uuid[LIC_UUID_LEN + 1];
  store *s = NULL;
  store_counts cnt;
  int c, r, ex;

  licsrv_opts_init(&o);
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': o.data = optarg; break;
    case 'c': o.config = optarg; break;
    case 'l': lic_text = optarg; break;
    case 'a': acct_text = optarg; break;
    case 'j': o.json = true; break;
    case 'h': fputs(HELP, stdout); return EXIT_OK;
    case ':': return cli_usage("forget", "%s needs a value", argv[optind - 1]);
    default: return cli_usage("forget", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage("forget", "unexpected argument '%s'", argv[optind]);
  if ((lic_text == NULL) == (acct_text == NULL))
    return cli_usage("forget", "give exactly one of --license ID or --account ID");
  if ((ex = licsrv_parse_id("forget", lic_text ? "--license" : "--account",
                            lic_text ? lic_text : acct_text, id)) != EXIT_OK)
    return ex;
  lic_uuid_format(id, uuid);
  if ((ex = licsrv_opts_finish(&o, "forget")) != EXIT_OK)
    return ex;
  if ((ex = licsrv_open_store(&o, 0, &s)) != EXIT_OK)
    return ex;
  r = store_forget(s, lic_text ? STORE_SUBJECT_LICENSE : STORE_SUBJECT_ACCOUNT, id, &cnt);
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
