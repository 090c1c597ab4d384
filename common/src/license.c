/* license.c - license body build/parse and the pure decision on its terms. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "lic/envelope.h"
#include "lic/fileio.h"
#include "lic/license.h"
#include "lic/rif.h"

static const char *const MODES[] = {"local", "private", "public"};

const char *lic_mode_name(lic_mode m) {
  return (unsigned)m < 3 ? MODES[m] : "unknown";
}

int lic_mode_from_name(const char *s) {
  for (int i = 0; i < 3; i++)
    if (strcmp(s, MODES[i]) == 0)
      return i;
  return -1;
}

void lic_license_clear(lic_license *l) {
  if (l == NULL)
    return;
  free(l->customer);
  free(l->project);
  free(l->product);
  lic_strlist_free(&l->features);
  lic_strlist_free(&l->domains);
  lic_strlist_free(&l->apps);
  free(l->ports);
  free(l->macs);
  memset(l, 0, sizeof *l);
}

int lic_license_pack(const lic_license *l, uint8_t **body, size_t *len) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  int bad = 0;
  /* 19 keys always (SPEC §3.3), machine, node_key and supersedes when present */
  size_t nkeys = 19 + (l->has_machine ? 1 : 0) + (l->has_node_key ? 1 : 0) +
                 (l->has_supersedes ? 1 : 0);

  *body = NULL;
  *len = 0;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  bad |= msgpack_pack_map(&pk, nkeys);
  bad |= lic_mp_pack_cstr(&pk, "typ") | lic_mp_pack_cstr(&pk, "license");
  bad |= lic_mp_pack_cstr(&pk, "id") | lic_mp_pack_bin(&pk, l->id, LIC_ID_LEN);
  bad |= lic_mp_pack_cstr(&pk, "mode") | lic_mp_pack_cstr(&pk, lic_mode_name(l->mode));
  bad |= lic_mp_pack_cstr(&pk, "issued") | msgpack_pack_int64(&pk, l->issued);
  bad |= lic_mp_pack_cstr(&pk, "not_before") | msgpack_pack_int64(&pk, l->not_before);
  bad |= lic_mp_pack_cstr(&pk, "expires") | msgpack_pack_int64(&pk, l->expires);
  bad |= lic_mp_pack_cstr(&pk, "customer") | lic_mp_pack_cstr(&pk, l->customer);
  bad |= lic_mp_pack_cstr(&pk, "project") | lic_mp_pack_cstr(&pk, l->project);
  bad |= lic_mp_pack_cstr(&pk, "project_id") | lic_mp_pack_bin(&pk, l->project_id, LIC_ID_LEN);
  bad |= lic_mp_pack_cstr(&pk, "product") | lic_mp_pack_cstr(&pk, l->product);
  bad |= lic_mp_pack_cstr(&pk, "major") | msgpack_pack_int64(&pk, l->major);
  bad |= lic_mp_pack_cstr(&pk, "features") | lic_mp_pack_strlist(&pk, &l->features);
  bad |= lic_mp_pack_cstr(&pk, "domains") | lic_mp_pack_strlist(&pk, &l->domains);
  bad |= lic_mp_pack_cstr(&pk, "ports") | msgpack_pack_array(&pk, l->nports);
  for (size_t i = 0; i < l->nports; i++)
    bad |= msgpack_pack_int64(&pk, l->ports[i]);
  bad |= lic_mp_pack_cstr(&pk, "apps") | lic_mp_pack_strlist(&pk, &l->apps);
  bad |= lic_mp_pack_cstr(&pk, "max_nodes") | msgpack_pack_int64(&pk, l->max_nodes);
  if (l->has_machine) {
    bad |= lic_mp_pack_cstr(&pk, "machine") | msgpack_pack_map(&pk, 2);
    bad |= lic_mp_pack_cstr(&pk, "code") | lic_mp_pack_cstr(&pk, l->machine_code);
    bad |= lic_mp_pack_cstr(&pk, "macs") | msgpack_pack_array(&pk, l->nmacs);
    for (size_t i = 0; i < l->nmacs; i++)
      bad |= lic_mp_pack_bin(&pk, l->macs + i * LIC_MAC_HASH_LEN, LIC_MAC_HASH_LEN);
  }
  if (l->has_node_key)
    bad |= lic_mp_pack_cstr(&pk, "node_key") | lic_mp_pack_bin(&pk, l->node_key, LIC_PUBKEY_LEN);
  bad |= lic_mp_pack_cstr(&pk, "heartbeat") | msgpack_pack_int64(&pk, l->heartbeat);
  bad |= lic_mp_pack_cstr(&pk, "grace") | msgpack_pack_int64(&pk, l->grace);
  bad |= lic_mp_pack_cstr(&pk, "rif") | lic_mp_pack_bin(&pk, l->rif, 32);
  if (l->has_supersedes)
    bad |= lic_mp_pack_cstr(&pk, "supersedes") | lic_mp_pack_bin(&pk, l->supersedes, LIC_ID_LEN);
  if (bad) {
    msgpack_sbuffer_destroy(&sb);
    return LIC_NOMEM;
  }
  *body = (uint8_t *)sb.data;
  *len = sb.size;
  return LIC_OK;
}

static int check_list_names(const char *what, const lic_strlist *l) {
  for (size_t i = 0; i < l->n; i++) {
    int rc = lic_name_check(what, l->v[i]);
    if (rc != LIC_OK)
      return rc;
  }
  return LIC_OK;
}

int lic_license_parse(const uint8_t *body, size_t len, lic_license *l) {
  lic_mp_obj o, mo;
  char *s = NULL;
  int rc;

  memset(l, 0, sizeof *l);
  if ((rc = lic_mp_obj_parse(body, len, &o)) != LIC_OK)
    goto out;
  if ((rc = lic_mp_get_str(&o, "typ", 1, 16, &s)) != LIC_OK)
    goto out;
  if (strcmp(s, "license") != 0) {
    rc = lic__fail(LIC_TYPE, "body typ is '%s', not license", s);
    goto out;
  }
  free(s);
  s = NULL;
  if ((rc = lic_mp_get_binx(&o, "id", l->id, LIC_ID_LEN)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "mode", 1, LIC_MAX_MODE, &s)) != LIC_OK)
    goto out;
  int mode = lic_mode_from_name(s);
  if (mode < 0) {
    rc = lic__fail(LIC_FORMAT, "mode '%s' is not local, private or public", s);
    goto out;
  }
  l->mode = (lic_mode)mode;
  if ((rc = lic_mp_get_int(&o, "issued", 0, INT64_MAX, &l->issued)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "not_before", 0, INT64_MAX, &l->not_before)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "expires", 0, INT64_MAX, &l->expires)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "customer", 1, LIC_MAX_NAME, &l->customer)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "project", 1, LIC_MAX_NAME, &l->project)) != LIC_OK ||
      (rc = lic_mp_get_binx(&o, "project_id", l->project_id, LIC_ID_LEN)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "product", 1, LIC_MAX_NAME, &l->product)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "major", 0, INT32_MAX, &l->major)) != LIC_OK ||
      (rc = lic_mp_get_strlist(&o, "features", LIC_MAX_LIST, 1, LIC_MAX_NAME, &l->features)) != LIC_OK ||
      (rc = lic_mp_get_strlist(&o, "domains", LIC_MAX_LIST, 1, LIC_MAX_DOMAIN, &l->domains)) != LIC_OK ||
      (rc = lic_mp_get_intlist(&o, "ports", LIC_MAX_LIST, 1, 65535, &l->ports, &l->nports)) != LIC_OK ||
      (rc = lic_mp_get_strlist(&o, "apps", LIC_MAX_LIST, 1, LIC_MAX_NAME, &l->apps)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "max_nodes", 0, INT32_MAX, &l->max_nodes)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "heartbeat", LIC_MIN_HEARTBEAT, LIC_MAX_HEARTBEAT, &l->heartbeat)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "grace", 0, 365 * 86400, &l->grace)) != LIC_OK ||
      (rc = lic_mp_get_binx(&o, "rif", l->rif, 32)) != LIC_OK)
    goto out;
  if ((rc = check_list_names("feature", &l->features)) != LIC_OK ||
      (rc = check_list_names("app", &l->apps)) != LIC_OK)
    goto out;
  /* lic_domain_check says LIC_INVALID (a bad argument, exit 2 in the tools);
   * inside a signed body the same fault is malformed data. */
  for (size_t i = 0; i < l->domains.n; i++)
    if ((rc = lic_domain_check(l->domains.v[i], true)) != LIC_OK) {
      rc = rc == LIC_INVALID ? LIC_FORMAT : rc;
      goto out;
    }
  if (l->expires != 0 && l->expires < l->not_before) {
    rc = lic__fail(LIC_FORMAT, "expires before not_before");
    goto out;
  }
  /* A report server checks every heartbeat and lives on grace between
   * checks: a grace shorter than one heartbeat would expire between checks. */
  if (l->grace < l->heartbeat) {
    rc = lic__fail(LIC_FORMAT, "grace (%lld s) is shorter than heartbeat (%lld s)",
                   (long long)l->grace, (long long)l->heartbeat);
    goto out;
  }
  if (lic_mp_obj_has(&o, "machine")) {
    char *code = NULL;
    if ((rc = lic_mp_get_obj(&o, "machine", &mo)) != LIC_OK ||
        (rc = lic_mp_get_str(&mo, "code", LIC_MACHINE_CODE_LEN, LIC_MACHINE_CODE_LEN, &code)) != LIC_OK)
      goto out;
    memcpy(l->machine_code, code, LIC_MACHINE_CODE_LEN + 1);
    free(code);
    if (!lic_machine_code_valid(l->machine_code)) {
      rc = lic__fail(LIC_FORMAT, "machine code is malformed");
      goto out;
    }
    if ((rc = lic_mp_get_binlist(&mo, "macs", LIC_MAX_LIST, LIC_MAC_HASH_LEN, &l->macs, &l->nmacs)) != LIC_OK)
      goto out;
    l->has_machine = true;
  }
  if (lic_mp_obj_has(&o, "node_key")) {
    if ((rc = lic_mp_get_binx(&o, "node_key", l->node_key, LIC_PUBKEY_LEN)) != LIC_OK)
      goto out;
    l->has_node_key = true;
  }
  if (l->mode != LIC_MODE_PUBLIC && (!l->has_machine || l->nmacs == 0)) {
    rc = lic__fail(LIC_FORMAT, "a %s license must name a machine with at least one MAC",
                   lic_mode_name(l->mode));
    goto out;
  }
  if (l->mode == LIC_MODE_PRIVATE && !l->has_node_key) {
    rc = lic__fail(LIC_FORMAT, "a private license must carry node_key");
    goto out;
  }
  if (lic_mp_obj_has(&o, "supersedes")) {
    if ((rc = lic_mp_get_binx(&o, "supersedes", l->supersedes, LIC_ID_LEN)) != LIC_OK)
      goto out;
    if (memcmp(l->supersedes, l->id, LIC_ID_LEN) == 0) {
      rc = lic__fail(LIC_FORMAT, "a license cannot supersede itself");
      goto out;
    }
    l->has_supersedes = true;
  }
out:
  free(s);
  if (rc != LIC_OK)
    lic_license_clear(l);
  return rc;
}

static bool str_eq(const char *a, const char *b) {
  return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

const char *lic_license_binding_diff(const lic_license *prev, const lic_license *next) {
  if (prev->mode != next->mode)
    return "mode";
  if (prev->has_machine != next->has_machine ||
      (prev->has_machine && strcmp(prev->machine_code, next->machine_code) != 0))
    return "machine code";
  if (prev->nmacs != next->nmacs ||
      (prev->nmacs > 0 && memcmp(prev->macs, next->macs, prev->nmacs * LIC_MAC_HASH_LEN) != 0))
    return "machine MACs";
  if (prev->has_node_key != next->has_node_key ||
      (prev->has_node_key && memcmp(prev->node_key, next->node_key, LIC_PUBKEY_LEN) != 0))
    return "node_key";
  if (!str_eq(prev->customer, next->customer))
    return "customer";
  if (!str_eq(prev->project, next->project))
    return "project";
  if (memcmp(prev->project_id, next->project_id, LIC_ID_LEN) != 0)
    return "project_id";
  if (!str_eq(prev->product, next->product))
    return "product";
  if (memcmp(prev->rif, next->rif, sizeof prev->rif) != 0)
    return "rif";
  return NULL;
}

int lic_license_open(const uint8_t *buf, size_t len, const lic_trust *t, lic_license *l) {
  lic_envelope env;
  int rc;
  memset(l, 0, sizeof *l);
  if ((rc = lic__envelope_open(buf, len, "license", "a license", t, &env)) != LIC_OK)
    return rc;
  return lic_license_parse(env.body, env.body_len, l);
}

static int open_license(const uint8_t *buf, size_t len, const lic_trust *t, void *out) {
  return lic_license_open(buf, len, t, out);
}

int lic_license_load(const char *path, const lic_trust *t, lic_license *l, uint8_t **env_out,
                     size_t *env_len) {
  memset(l, 0, sizeof *l);
  return lic__signed_load(path, t, open_license, l, env_out, env_len);
}

/* Host name without a trailing dot, as (ptr, len). */
static size_t trimdot(const char *s) {
  size_t n = strlen(s);
  if (n > 0 && s[n - 1] == '.')
    n--;
  return n;
}

bool lic_domain_match(const char *pattern, const char *host) {
  if (pattern == NULL || host == NULL)
    return false;
  size_t pn = trimdot(pattern), hn = trimdot(host);
  if (pn == 0 || hn == 0)
    return false;
  if (pn >= 2 && pattern[0] == '*' && pattern[1] == '.') {
    /* "*.example.com": host = one non-empty label + ".example.com" */
    size_t sn = pn - 1; /* ".example.com" */
    if (hn <= sn)
      return false;
    const char *tail = host + hn - sn;
    if (strncasecmp(tail, pattern + 1, sn) != 0)
      return false;
    return memchr(host, '.', hn - sn) == NULL;
  }
  return pn == hn && strncasecmp(pattern, host, pn) == 0;
}

int lic_domain_check(const char *d, bool allow_wildcard) {
  size_t n = strlen(d);
  const char *p = d;
  if (n == 0 || n > LIC_MAX_DOMAIN)
    return lic__fail(LIC_LIMIT, "domain must be 1..%d bytes", LIC_MAX_DOMAIN);
  if (n > 0 && d[n - 1] == '.')
    n--;
  if (allow_wildcard && n >= 2 && d[0] == '*' && d[1] == '.') {
    p = d + 2;
    n -= 2;
    /* At least two labels under the wildcard: "*.com" is broader than one
     * customer's names. */
    if (memchr(p, '.', n) == NULL)
      return lic__fail(LIC_INVALID, "wildcard '%s' covers a whole top-level domain", d);
  }
  size_t label = 0;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (c == '.') {
      if (label == 0)
        return lic__fail(LIC_INVALID, "domain '%s' has an empty label", d);
      label = 0;
      continue;
    }
    if (c == '*')
      return lic__fail(LIC_INVALID, "wildcard in '%s' is broader than one leading label", d);
    if (!isalnum((unsigned char)c) && c != '-' && c != '_')
      return lic__fail(LIC_INVALID, "domain '%s' holds '%c'", d, isprint((unsigned char)c) ? c : '?');
    if (++label > 63)
      return lic__fail(LIC_INVALID, "domain '%s' has a label over 63 bytes", d);
  }
  if (label == 0)
    return lic__fail(LIC_INVALID, "domain '%s' has an empty label", d);
  return LIC_OK;
}

lic_status lic_window_decide(const char *what, int64_t not_before, int64_t expires, int64_t now,
                             char *reason, size_t cap) {
  char date[11];
  if (now < not_before) {
    lic_date_format(not_before, date);
    snprintf(reason, cap, "%s is valid from %s", what, date);
    return LIC_STATUS_NOT_YET_VALID;
  }
  if (expires != 0 && now >= expires) {
    lic_date_format(expires, date);
    snprintf(reason, cap, "%s expired on %s", what, date);
    return LIC_STATUS_EXPIRED;
  }
  return LIC_STATUS_VALID;
}

lic_status lic_terms_decide(const char *what, const lic_terms *t, const lic_check_req *q,
                            char *reason, size_t cap) {
  /* major 0 means "any version". */
  if (t->major != 0 && q->major != t->major) {
    if (q->major < 0)
      snprintf(reason, cap, "version not given; %s is for major %lld", what, (long long)t->major);
    else
      snprintf(reason, cap, "major version %lld is not licensed (%s: %lld)",
               (long long)q->major, what, (long long)t->major);
    return LIC_STATUS_VERSION_DENIED;
  }
  if (t->domains->n > 0) {
    bool ok = false;
    for (size_t i = 0; i < t->domains->n && !ok; i++)
      ok = lic_domain_match(t->domains->v[i], q->domain);
    if (!ok) {
      snprintf(reason, cap, "domain '%.100s' is not licensed", q->domain);
      return LIC_STATUS_DOMAIN_DENIED;
    }
  }
  if (t->nports > 0) {
    bool ok = false;
    for (size_t i = 0; i < t->nports; i++)
      ok |= t->ports[i] == q->port;
    if (!ok) {
      snprintf(reason, cap, "port %lld is not licensed", (long long)q->port);
      return LIC_STATUS_PORT_DENIED;
    }
  }
  if (t->apps->n > 0) {
    bool ok = false;
    for (size_t i = 0; i < t->apps->n && q->app != NULL; i++)
      ok |= strcmp(t->apps->v[i], q->app) == 0;
    if (!ok) {
      if (q->app == NULL)
        snprintf(reason, cap, "application not given; the %s restricts applications", what);
      else
        snprintf(reason, cap, "application '%.100s' is not licensed", q->app);
      return LIC_STATUS_APP_DENIED;
    }
  }
  snprintf(reason, cap, "%s", lic_status_reason(LIC_STATUS_VALID));
  return LIC_STATUS_VALID;
}

lic_status lic_license_decide(const lic_license *l, const lic_check_req *q, int64_t now,
                              char *reason, size_t cap) {
  lic_status st = lic_window_decide("license", l->not_before, l->expires, now, reason, cap);
  if (st != LIC_STATUS_VALID)
    return st;
  lic_terms t = {l->major, &l->domains, l->ports, l->nports, &l->apps};
  return lic_terms_decide("license", &t, q, reason, cap);
}

lic_status lic_license_check_local(const lic_license *l, const lic_machine *m,
                                   const lic_check_req *q, int64_t now, char *reason, size_t cap) {
  if (!l->has_machine || !lic_machine_matches(m, l->machine_code, l->macs, l->nmacs)) {
    snprintf(reason, cap, "this machine (%s) is not the licensed one", m->code);
    return LIC_STATUS_MACHINE_MISMATCH;
  }
  return lic_license_decide(l, q, now, reason, cap);
}
