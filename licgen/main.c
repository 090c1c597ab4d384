/* main.c - licgen, the sales-ops tool: its subcommands. */
#include "cli.h"
#include "licgen.h"

static const cli_command CMDS[] = {
    {"account", licgen_account, "issue a public-mode account and its token"},
    {"certify", licgen_certify, "certify a public-mode server's online key"},
    {"codes", licgen_codes, "issue designer activation codes (CSV, ledger of serials)"},
    {"inspect", licgen_inspect, "show any envelope or activation code and check its signature"},
    {"keygen", licgen_keygen, "create a vendor root key pair"},
    {"renew", licgen_renew, "sign a license's successor: a renewal or an upgrade, no RIF needed"},
    {"revoke", licgen_revoke, "sign the next revocation list (licenses, accounts, activations)"},
    {"sign", licgen_sign, "sign a registration information file into a license"},
};

int main(int argc, char **argv) {
  return cli_dispatch("licgen", "Signs licenses for licsrv from customers' registration information files,\n"
                      "issues designer activation codes, public-mode accounts, online-key certificates\n"
                      "and revocation lists.", CMDS, sizeof CMDS / sizeof CMDS[0], argc, argv);
}
