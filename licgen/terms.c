/* terms.c - contract-term options shared by licgen sign and licgen account. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lic/license.h"
#include "lic/rif.h"
#include "lic/util.h"
#include "terms.h"

void licgen_terms_init(licgen_terms *t) {
  memset(t, 0, sizeof *t);
  t->heartbeat = LIC_DEFAULT_HEARTBEAT;
  t->grace = LIC_DEFAULT_GRACE;
}

void licgen_terms_free(licgen_terms *t) {
  if (t == NULL)
    return;
  lic_strlist_free(&t->feature_list);
  lic_strlist_free(&t->domains);
  lic_strlist_free(&t->apps);
  free(t->ports);
  memset(t, 0, sizeof *t);
}

static int parse_num(const char *cmd, const char *opt, const char *s, int64_t min, int64_t max,
                     int64_t *v) {
  int rc = lic_parse_int(s, min, max, v);
  return rc == LIC_OK ? EXIT_OK : cli_usage(cmd, "%s: %s", opt, lic_errfull(rc));
}

int licgen_terms_opt(const char *cmd, licgen_terms *t, int c, const char *arg) {
  int rc;
  int64_t v;
  switch (c) {
  case LICGEN_T_FEATURES: t->features = arg; return EXIT_OK;
  case LICGEN_T_MAJOR: t->major = arg; return EXIT_OK;
  case LICGEN_T_EXPIRES: t->expires = arg; return EXIT_OK;
  case LICGEN_T_NOTBEFORE: t->notbefore = arg; return EXIT_OK;
  case LICGEN_T_DOMAIN:
    if ((rc = lic_domain_check(arg, true)) != LIC_OK)
      return cli_usage(cmd, "--domain: %s", lic_errfull(rc));
    if (t->domains.n >= LIC_MAX_LIST || lic_strlist_add(&t->domains, arg) != LIC_OK)
      return cli_usage(cmd, "--domain: at most %d", LIC_MAX_LIST);
    return EXIT_OK;
  case LICGEN_T_PORT: {
    int r;
    if ((r = parse_num(cmd, "--port", arg, 1, 65535, &v)) != EXIT_OK)
      return r;
    if (t->nports >= LIC_MAX_LIST)
      return cli_usage(cmd, "--port: at most %d", LIC_MAX_LIST);
    int64_t *np = realloc(t->ports, (t->nports + 1) * sizeof *np);
    if (np == NULL)
      return cli_error(EXIT_FAIL, cmd, "out of memory");
    t->ports = np;
    t->ports[t->nports++] = v;
    return EXIT_OK;
  }
  case LICGEN_T_APP:
    if ((rc = lic_name_check("--app", arg)) != LIC_OK)
      return cli_usage(cmd, "%s", lic_errfull(rc));
    if (t->apps.n >= LIC_MAX_LIST || lic_strlist_add(&t->apps, arg) != LIC_OK)
      return cli_usage(cmd, "--app: at most %d", LIC_MAX_LIST);
    return EXIT_OK;
  case LICGEN_T_HEARTBEAT:
    t->has_heartbeat = true;
    return parse_num(cmd, "--heartbeat", arg, LIC_MIN_HEARTBEAT, LIC_MAX_HEARTBEAT, &t->heartbeat);
  case LICGEN_T_GRACE:
    t->has_grace = true;
    return parse_num(cmd, "--grace", arg, 0, 365 * 86400, &t->grace);
  default:
    return -1;
  }
}

static int copy_list(const char *cmd, const lic_strlist *from, lic_strlist *to) {
  for (size_t i = 0; from != NULL && i < from->n; i++)
    if (lic_strlist_add(to, from->v[i]) != LIC_OK)
      return cli_error(EXIT_FAIL, cmd, "out of memory");
  return EXIT_OK;
}

/* The options given, parsed; the rest from base (a renewal) or the defaults
 * (base NULL: any, never, now), then the checks every term set passes. */
static int finish(const char *cmd, licgen_terms *t, int64_t now, const licgen_terms_base *base) {
  int r, rc;
  if (t->features != NULL) {
    if ((r = cli_split_list("--features", t->features, &t->feature_list)) != EXIT_OK)
      return r;
    for (size_t i = 0; i < t->feature_list.n; i++)
      if ((rc = lic_name_check("--features entry", t->feature_list.v[i])) != LIC_OK)
        return cli_usage(cmd, "%s", lic_errfull(rc));
    if (t->feature_list.n > LIC_MAX_LIST)
      return cli_usage(cmd, "--features: at most %d", LIC_MAX_LIST);
  } else if (base != NULL && (r = copy_list(cmd, base->features, &t->feature_list)) != EXIT_OK) {
    return r;
  }
  if (base != NULL && t->domains.n == 0 && (r = copy_list(cmd, base->domains, &t->domains)) != EXIT_OK)
    return r;
  if (base != NULL && t->apps.n == 0 && (r = copy_list(cmd, base->apps, &t->apps)) != EXIT_OK)
    return r;
  if (base != NULL && t->nports == 0 && base->nports > 0) {
    if ((t->ports = malloc(base->nports * sizeof *t->ports)) == NULL)
      return cli_error(EXIT_FAIL, cmd, "out of memory");
    memcpy(t->ports, base->ports, base->nports * sizeof *t->ports);
    t->nports = base->nports;
  }
  t->major_v = base != NULL ? base->major : 0;
  if (t->major != NULL && (r = parse_num(cmd, "--major", t->major, 0, INT32_MAX, &t->major_v)) != EXIT_OK)
    return r;
  if (base != NULL && !t->has_heartbeat)
    t->heartbeat = base->heartbeat;
  if (base != NULL && !t->has_grace)
    t->grace = base->grace;
  t->expires_v = base != NULL ? base->expires : 0;
  if (t->expires == NULL) {
    if (base != NULL && t->expires_v != 0 && t->expires_v <= now) {
      char until[LIC_UNTIL_LEN];
      lic_until_format(t->expires_v, until);
      return cli_usage(cmd, "the old terms ended (%s): give --expires", until);
    }
  } else if (strcmp(t->expires, "never") == 0) {
    t->expires_v = 0;
  } else if ((rc = lic_time_parse(t->expires, &t->expires_v)) != LIC_OK) {
    return cli_usage(cmd, "--expires: %s", lic_errfull(rc));
  } else if (t->expires_v <= now) {
    return cli_usage(cmd, "--expires %s is in the past", t->expires);
  }
  if (t->grace < t->heartbeat)
    return cli_usage(cmd, "--grace (%lld s) is shorter than --heartbeat (%lld s)",
                     (long long)t->grace, (long long)t->heartbeat);
  /* Allowed (tests, demos) but a fleet checking every few seconds loads the
   * license server for nothing. */
  if (t->heartbeat < LIC_WARN_HEARTBEAT)
    fprintf(stderr, "licgen: warning: --heartbeat %lld s is below %d s: meant for tests and demos\n",
            (long long)t->heartbeat, LIC_WARN_HEARTBEAT);
  t->not_before = base != NULL ? base->not_before : now;
  if (t->notbefore != NULL && (rc = lic_time_parse(t->notbefore, &t->not_before)) != LIC_OK)
    return cli_usage(cmd, "--not-before: %s", lic_errfull(rc));
  if (t->expires_v != 0 && t->expires_v <= t->not_before)
    return cli_usage(cmd, "--expires is not after --not-before");
  return EXIT_OK;
}

int licgen_terms_finish(const char *cmd, licgen_terms *t, int64_t now, bool required) {
  if (required) {
    const char *missing = t->features == NULL ? "--features" : t->major == NULL ? "--major"
                        : t->expires == NULL ? "--expires" : NULL;
    if (missing != NULL)
      return cli_usage(cmd, "%s is required", missing);
  }
  return finish(cmd, t, now, NULL);
}

int licgen_terms_finish_from(const char *cmd, licgen_terms *t, int64_t now,
                             const licgen_terms_base *base) {
  return finish(cmd, t, now, base);
}

json_t *licgen_strlist_json(const lic_strlist *l) {
  json_t *a = json_array();
  for (size_t i = 0; i < l->n; i++)
    json_array_append_new(a, json_string(l->v[i]));
  return a;
}

json_t *licgen_terms_json(const licgen_terms *t) {
  char nb[11], ex[11];
  lic_date_format(t->not_before, nb);
  lic_date_format(t->expires_v, ex);
  json_t *ports = json_array();
  for (size_t i = 0; i < t->nports; i++)
    json_array_append_new(ports, json_integer(t->ports[i]));
  return json_pack("{s:o, s:o, s:o, s:o, s:I, s:s, s:s, s:I, s:I}", "features",
                   licgen_strlist_json(&t->feature_list), "domains",
                   licgen_strlist_json(&t->domains), "ports", ports, "apps",
                   licgen_strlist_json(&t->apps), "major", (json_int_t)t->major_v, "not_before",
                   nb, "expires", t->expires_v == 0 ? "never" : ex, "heartbeat",
                   (json_int_t)t->heartbeat, "grace", (json_int_t)t->grace);
}
