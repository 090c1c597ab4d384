/* main.c - licctl, run by report servers and designers: its subcommands. */
#include "cli.h"
#include "licctl.h"

static const cli_command CMDS[] = {
    {"activate", licctl_activate, "activate this machine with a designer activation code"},
    {"activation", licctl_activation, "show the designer activation and check it holds here"},
    {"agent", licctl_agent, "run the license session: heartbeat, grace, status.json (docs/integration.md)"},
    {"check", licctl_check, "check a local-mode license on this machine (offline)"},
    {"register", licctl_register, "public mode: register this install's project under an account"},
    {"rif", licctl_rif, "export this machine's registration information file"},
    {"status", licctl_status, "show the agent's status.json; exit 0 when licensed or in grace"},
    {"unregister", licctl_unregister, "public mode: free this install's project slot"},
    {"verify", licctl_verify, "ask a license server for a signed verdict and check it"},
};

int main(int argc, char **argv) {
  return cli_dispatch("licctl", "Registration and license checks for report servers and designers. Every\n"
                      "command takes --state DIR (default $XDG_STATE_HOME/licctl or\n"
                      "~/.local/state/licctl).", CMDS, sizeof CMDS / sizeof CMDS[0], argc, argv);
}
