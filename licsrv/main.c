/* main.c - licsrv, the license server: its subcommands (alphabetical). */
#include "cli.h"
#include "cmd/cmd.h"
#include "serve.h"

static const cli_command CMDS[] = {
    {"accounts", licsrv_cmd_accounts, "public mode: list, show, revoke, delete accounts; registrations; certificates"},
    {"audit", licsrv_cmd_audit, "the audit log: who changed what, when (UTC)"},
    {"backup", licsrv_cmd_backup, "hot copy of the store and keys into a new directory"},
    {"clock", licsrv_cmd_clock, "show or reset the clock high-water mark (after a forward jump)"},
    {"export", licsrv_cmd_export, "everything stored about a license or account, as JSON"},
    {"failures", licsrv_cmd_failures, "the registration failure list: failed checks, newest first"},
    {"forget", licsrv_cmd_forget, "erase everything about a license or account"},
    {"import", licsrv_cmd_import, "import a license, account or certificate"},
    {"init", licsrv_cmd_init, "create the data directory, the store and the node key"},
    {"licenses", licsrv_cmd_licenses, "imported licenses, their terms and days to expiry"},
    {"migrate", licsrv_cmd_migrate, "upgrade a PostgreSQL store's schema to this version"},
    {"nodes", licsrv_cmd_nodes, "report-server nodes: seats, last valid check, last failure"},
    {"purge", licsrv_cmd_purge, "delete node, failure and audit records past retention"},
    {"rekey", licsrv_cmd_rekey, "public mode: a new online key, pending until its certificate is imported"},
    {"release", licsrv_cmd_release, "free a node's seat, a designer activation claim or a registration"},
    {"revoke", licsrv_cmd_revoke, "revoke a license (a running server answers revoked at once)"},
    {"rif", licsrv_cmd_rif, "write this server machine's registration information file"},
    {"serve", licsrv_cmd_serve, "run the license server (HTTP verify and admin APIs)"},
    {"status", licsrv_cmd_status, "mode, keys, licenses and store size"},
    {"token", licsrv_cmd_token, "add, list or revoke admin API tokens"},
    {"trust", licsrv_cmd_trust, "add, list or remove trusted vendor root keys (DATA/trusted)"},
};

int main(int argc, char **argv) {
  return cli_dispatch("licsrv", "The license server (private and public mode): data directory, store, keys and the\n"
                      "HTTP verify and admin APIs. Every command takes --data DIR.", CMDS, sizeof CMDS / sizeof CMDS[0], argc, argv);
}
