/* cli.h - what every command-line tool shares: one-line errors, exit codes,
 * the --trust store, JSON output. */
#ifndef LIC_CLI_H
#define LIC_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "lic/err.h"
#include "lic/keys.h"
#include "lic/tls.h"

#define EXIT_OK    0
#define EXIT_FAIL  1 /* invalid, denied, I/O */
#define EXIT_USAGE 2

/* Name used in messages ("licgen"). */
void cli_set_tool(const char *tool);
const char *cli_tool(void);
/* "TOOL: error: WHAT: WHY" on stderr; returns code. */
int cli_error(int code, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same, with WHY taken from a liblic error and its detail. */
int cli_lic_error(const char *what, int rc);
/* Usage error (exit 2) with a hint to --help of cmd. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct option;
/* The usage error of getopt_long's '?' or ':' (opterr is 0): names the
 * option, "unknown option '--bogus'" or "'--key' needs a value". */
int cli_bad_option(const char *cmd, char **argv, const struct option *opts);

/* "s" unless n is 1: "1 key", "2 keys". CLI_PL for other plurals. */
#define CLI_S(n)             ((n) == 1 ? "" : "s")
#define CLI_PL(n, one, many) ((n) == 1 ? (one) : (many))

/* --trust handling: the first --trust replaces the built-in store. */
typedef struct {
  lic_trust t;
  bool replaced;
} cli_trust;
void cli_trust_init(cli_trust *ct);
int cli_trust_add(cli_trust *ct, const char *path); /* returns exit code */

/* --cacert FILE and --pin sha256/BASE64 (repeatable) for https:// servers. */
typedef struct {
  lic_tls_opts o;
  const char *pins[LIC_TLS_MAX_PINS];
} cli_tls;
void cli_tls_init(cli_tls *t);
/* Exit code: EXIT_USAGE for a malformed pin or too many. */
int cli_tls_pin_add(cli_tls *t, const char *cmd, const char *pin);
/* The options' help lines (shared by every command that talks to a server). */
#define CLI_TLS_HELP \
  "  --cacert FILE   PEM CA certificate(s) to check an https:// server against\n" \
  "                  (default: the system store, /etc/ssl/certs)\n" \
  "  --pin PIN       sha256/BASE64 of the server key's SPKI (repeatable): accept a\n" \
  "                  server whose key matches, instead of checking a CA\n"

/* Print a JSON value on stdout (sorted keys, indented), then free it. */
int cli_json_print(json_t *v);
/* Lower-case hex of bytes (malloc'd). */
char *cli_hex(const uint8_t *b, size_t n);

/* A tool's subcommands, and main() for all of them: --help, --version,
 * dispatch, usage errors. summary is printed under the usage line. */
typedef struct {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *help;
} cli_command;
int cli_dispatch(const char *tool, const char *summary, const cli_command *cmds, size_t n,
                 int argc, char **argv);

/* Read a passphrase file when path is non-NULL (exit code; *pass NULL if none). */
int cli_passphrase(const char *path, char **pass);



#include "lic/mp.h"

/* A MessagePack value (bounded reader) as JSON for display: 16-byte bins
 * under id-like keys become UUIDs, other bins lower-case hex. */
int cli_mp_to_json(lic_mp *r, const char *key, int depth, json_t **out);
/* Print a JSON object as "key: value" lines (nested keys dotted). */
void cli_print_flat(json_t *obj, const char *prefix);
/* Fields of Unix seconds (issued, not_before, expires, imported, time,
 * last_valid, last_seen, activated, revoked_time ...), anywhere in v: for
 * JSON, each gets an RFC 3339 UTC twin KEY_at (null when 0: never/none);
 * for text, each is shown as that date in place ("never" when 0). */
void cli_json_time_twins(json_t *v);
void cli_json_times_as_dates(json_t *v);
/* Split "a,b,c" into a list (empty string: empty list). Exit code. */
int cli_split_list(const char *opt, const char *s, lic_strlist *out);
#endif
