/* terms.h - the contract terms sign and account share: one option table, one
 * parser, the same checks (SPEC §5: account takes them "as for sign"). */
#ifndef LICGEN_TERMS_H
#define LICGEN_TERMS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "lic/mp.h"

enum { LICGEN_T_FEATURES = 1000, LICGEN_T_DOMAIN, LICGEN_T_PORT, LICGEN_T_APP, LICGEN_T_MAJOR,
       LICGEN_T_EXPIRES, LICGEN_T_NOTBEFORE, LICGEN_T_HEARTBEAT, LICGEN_T_GRACE };

/* Spliced into a subcommand's struct option table. */
#define LICGEN_TERM_OPTIONS                                                        \
  {"features", required_argument, NULL, LICGEN_T_FEATURES},                        \
  {"domain", required_argument, NULL, LICGEN_T_DOMAIN},                            \
  {"port", required_argument, NULL, LICGEN_T_PORT},                                \
  {"app", required_argument, NULL, LICGEN_T_APP},                                  \
  {"major", required_argument, NULL, LICGEN_T_MAJOR},                              \
  {"expires", required_argument, NULL, LICGEN_T_EXPIRES},                          \
  {"not-before", required_argument, NULL, LICGEN_T_NOTBEFORE},                     \
  {"heartbeat", required_argument, NULL, LICGEN_T_HEARTBEAT},                      \
  {"grace", required_argument, NULL, LICGEN_T_GRACE}

typedef struct {
  /* as given (NULL: not given) */
  const char *features, *major, *expires, *notbefore;
  bool has_heartbeat, has_grace;          /* given on the command line */
  /* parsed; lists owned until taken */
  lic_strlist feature_list, domains, apps;
  int64_t *ports;
  size_t nports;
  int64_t major_v, not_before, expires_v; /* expires_v 0 = never */
  int64_t heartbeat, grace;
} licgen_terms;

void licgen_terms_init(licgen_terms *t);
void licgen_terms_free(licgen_terms *t);
/* One getopt result: -1 when c is not a term option, else an exit code. */
int licgen_terms_opt(const char *cmd, licgen_terms *t, int c, const char *arg);
/* After the options: the required ones present (features, major, expires
 * when required is true; otherwise none, none-given meaning any/never), dates
 * in order and in the future, lists bounded. Exit code. */
int licgen_terms_finish(const char *cmd, licgen_terms *t, int64_t now, bool required);
/* The terms of the license or account being renewed (borrowed): every term
 * not given on the command line is copied from it (licgen renew, account
 * --renew). */
typedef struct {
  const lic_strlist *features, *domains, *apps;
  const int64_t *ports;
  size_t nports;
  int64_t major, not_before, expires, heartbeat, grace;
} licgen_terms_base;
/* licgen_terms_finish for a renewal: no term is required; the ones not given
 * come from base. A copied end already past is refused (give --expires). */
int licgen_terms_finish_from(const char *cmd, licgen_terms *t, int64_t now,
                             const licgen_terms_base *base);
/* features, domains, ports, apps, major, not_before, expires, heartbeat, grace. */
json_t *licgen_terms_json(const licgen_terms *t);
json_t *licgen_strlist_json(const lic_strlist *l);

#endif
