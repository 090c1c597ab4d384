/* licctl.h - the report-server/designer tool's subcommands, one file each. */
#ifndef LICCTL_H
#define LICCTL_H

#include "lic/account.h"
#include "lic/session.h"
#include "lic/keys.h"
#include "lic/revocations.h"
#include "lic/util.h"

int licctl_rif(int argc, char **argv);        /* rif.c */
int licctl_check(int argc, char **argv);      /* check.c */
int licctl_activate(int argc, char **argv);   /* activate.c */
int licctl_activation(int argc, char **argv); /* activate.c */
int licctl_verify(int argc, char **argv);     /* verify.c */
int licctl_agent(int argc, char **argv);      /* agent.c */
int licctl_status(int argc, char **argv);     /* status.c */
int licctl_register(int argc, char **argv);   /* public.c */
int licctl_unregister(int argc, char **argv); /* public.c */

/* The state directory (--state, else $XDG_STATE_HOME/licctl, else
 * ~/.local/state/licctl): the instance key, the project id, the activation. */
const char *licctl_state_dir(const char *opt);
/* Create the state directory (0700) if needed. Exit code. */
int licctl_state_ensure(const char *dir);
/* The install's instance key, created once (state/instance.pem, 0600). */
int licctl_instance_key(const char *dir, lic_key **key);
/* The install's project id, generated once (state/project_id). */
int licctl_project_id(const char *dir, uint8_t id[LIC_ID_LEN]);

/* The status document (docs/integration.md: state, reason, features, expires,
 * grace_until ... and heartbeat, grace, detail, node), malloc'd JSON text:
 * what the agent writes to STATE/status.json and `licctl status --json`
 * prints after checking the signed state. */
char *licctl_status_json(const lic_session_info *in, const char *node);

/* licctl check's clock high-water mark (clock.c, STATE/clock): *behind > 0
 * (and reason said) when now is more than LIC_SESSION_ROLLBACK below the
 * latest time a check saw; else the mark is raised to now. Exit code; a
 * one-line error said. */
int licctl_clock_check(const char *dir, int64_t now, int64_t *behind, char *reason,
                       size_t cap);

/* The newest revocation list for an offline check (revoked.c): file (from
 * --revocations, NULL when not given) remembered in dir, else the one kept
 * there; *have false when there is none at all. A list older than the kept
 * one is no error (the kept one is used). Exit code; a one-line error said
 * (a forged or damaged list, a kept copy that no longer opens). */
int licctl_revocations(const char *dir, const char *file, const lic_trust *t,
                       lic_revocations *out, bool *have);

/* Public mode's credentials (public.c): the account, its token from a 0600
 * file (never the command line) and the state directory's project id. */
typedef struct {
  uint8_t account[LIC_ID_LEN];
  char token[LIC_TOKEN_LEN + 1];
  uint8_t project_id[LIC_ID_LEN];
} licctl_account;
int licctl_token_read(const char *path, char token[LIC_TOKEN_LEN + 1]);
/* Exit code; out is wiped with licctl_account_clear. */
int licctl_account_opts(const char *cmd, const char *state, const char *account,
                        const char *token_file, licctl_account *out);
void licctl_account_clear(licctl_account *a);

#endif
