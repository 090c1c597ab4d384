/* cmd/cmd.h - licsrv's data-management subcommands (one file each, cmd_*.c) and
 * what they share: the data directory, the store, audited writes. */
#ifndef LICSRV_CMDS_H
#define LICSRV_CMDS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/datadir.h"
#include "lic/keys.h"
#include "core/expiry.h"
#include "core/lineage_store.h"
#include "core/tokens.h"
#include "lic/keys.h"
#include "store/store.h"

int licsrv_cmd_accounts(int argc, char **argv); /* cmd/accounts.c (public mode) */
/* revoke --account A (kind 0) / release --project P --account A (kind 2). */
int licsrv_account_form(const char *cmd, int kind, int argc, char **argv);
int licsrv_cmd_migrate(int argc, char **argv);  /* migrate.c */
int licsrv_cmd_audit(int argc, char **argv);    /* audit.c */
int licsrv_cmd_backup(int argc, char **argv);  /* cmd_backup.c */
int licsrv_cmd_clock(int argc, char **argv);   /* cmd_clock.c */
int licsrv_cmd_export(int argc, char **argv);  /* cmd_export.c */
int licsrv_cmd_forget(int argc, char **argv);  /* cmd_forget.c */
int licsrv_cmd_failures(int argc, char **argv); /* failures.c */
int licsrv_cmd_import(int argc, char **argv);  /* cmd_import.c */
int licsrv_cmd_init(int argc, char **argv);    /* cmd_init.c */
int licsrv_cmd_licenses(int argc, char **argv); /* licenses.c */
int licsrv_cmd_nodes(int argc, char **argv);    /* nodes.c */
int licsrv_cmd_purge(int argc, char **argv);   /* cmd_purge.c */
int licsrv_cmd_rekey(int argc, char **argv);   /* cmd/rekey.c (public mode) */
int licsrv_cmd_release(int argc, char **argv);  /* release.c */
int licsrv_cmd_revoke(int argc, char **argv);   /* revoke.c */
int licsrv_release_node(int argc, char **argv); /* release_node.c: the --node form */
int licsrv_cmd_rif(int argc, char **argv);     /* cmd_rif.c */
int licsrv_cmd_status(int argc, char **argv);  /* cmd_status.c */
int licsrv_cmd_token(int argc, char **argv);   /* cmd_token.c */
int licsrv_cmd_trust(int argc, char **argv);   /* trust.c */
/* The trust store of this data directory: the built-in keys plus
 * the PEM files of DATA/trusted (what the admin API and claims check against). */
int licsrv_trust_load(const char *data, lic_trust *t);

/* Options every data subcommand takes. */
typedef struct {
  const char *data;   /* --data, else `data =` from --config, else the default */
  const char *config; /* --config FILE */
  const char *store;  /* --store URL, else `store =` from --config, else NULL (DATA/store) */
  bool json;
  bool yes;           /* --yes (forget only): no confirmation asked */
  char data_buf[4096];
  char store_buf[4096];
} licsrv_opts;

void licsrv_opts_init(licsrv_opts *o); /* also restarts getopt */
struct option;
/* getopt_long over opts (the command's table: data, config, help, and json
 * when it takes it, plus its own options). Handles --data, --config, --json
 * and --help (printing help) and the usage errors itself. Returns the next
 * option of the command's own (optarg set), 0 at the end (operands from
 * argv[optind]), or -1 with *ex the exit code to return. */
int licsrv_next_opt(const char *cmd, const char *help, int argc, char **argv,
                    const char *shortopts, const struct option *opts, licsrv_opts *o, int *ex);
/* Resolve the data directory once the options are parsed (reads `data =`
 * from the config file when --data was not given). Exit code. */
int licsrv_opts_finish(licsrv_opts *o, const char *cmd);
/* Path of a file in the data directory. */
int licsrv_data_path(const licsrv_opts *o, const char *name, char *buf, size_t cap);

/* Open the store (one-line error on failure). Exit code. */
int licsrv_open_store(const licsrv_opts *o, unsigned flags, store **s);

/* `licsrv import` of a revocation list (import_rev.c): env/len the envelope
 * read from path. Exit code; a one-line error said. */
int licsrv_import_revocations(const licsrv_opts *o, const lic_trust *t, const char *path,
                              const uint8_t *env, size_t len);

/* The store's meta (mode, node key, project id) through a one-shot reader;
 * with need_node_key a store without one is an error saying to run
 * `licsrv init`. Exit code. */
int licsrv_read_meta(const licsrv_opts *o, store *s, bool need_node_key, store_meta *meta);

/* Apply fn and an audit entry in one durable transaction, with the
 * operator as the actor (licsrv_operator). Returns the lic_err of the write. */
int licsrv_write_audited(store *s, store_apply_fn fn, void *arg, const char *action,
                         const char *subject);

/* The audit actor of a change made from the shell: "cli:USER", USER the
 * login of the real user, or SUDO_USER under sudo (`sudo -u licsrv licsrv
 * revoke ...` names the operator, not licsrv or root). */
void licsrv_operator(char *buf, size_t cap);

/* A license's state for people ("active", "expired", "not yet valid",
 * "revoked", "unreadable") and its JSON for scripts (licenses.c; shared
 * with status). */
const char *licsrv_license_state(const licsrv_terms *t, int64_t now);
json_t *licsrv_license_json(const licsrv_terms *t, int64_t now);
/* Whether another license of t's lineage answers for it now while t itself
 * is active (a renewal in force): its id in by. */
bool licsrv_license_superseded(const srv_lineages *lin, const licsrv_terms *t, int64_t now,
                               uint8_t by[LIC_ID_LEN]);
/* Adds to o (licsrv_license_json) the lineage: "state" "superseded" for
 * such a license, "lineage" (its key: the id its nodes are kept under),
 * "supersedes" and "superseded_by" (ids or null) and "in_force" (whether it
 * is the license in force answering for its lineage), as the admin API says. */
void licsrv_license_lineage_json(json_t *o, const srv_lineages *lin, const licsrv_terms *t,
                                 int64_t now);

/* "license:UUID" / "account:UUID" subjects. */
void licsrv_subject(const char *kind, const uint8_t id[LIC_ID_LEN], char *buf, size_t cap);

/* --license ID | --account ID (UUID text); exit code. */
/* The options of export and forget: --license ID | --account ID plus --data,
 * --config, --json, --help (*help set after printing it). Exit code. */
int licsrv_subject_args(const char *cmd, const char *help_text, int argc, char **argv,
                        licsrv_opts *o, bool *is_license, uint8_t id[LIC_ID_LEN],
                        char uuid[LIC_UUID_LEN + 1], bool *help);
int licsrv_parse_id(const char *cmd, const char *opt, const char *text, uint8_t id[LIC_ID_LEN]);

#endif
