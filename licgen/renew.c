/* renew.c - licgen renew: a license's successor (a renewal or an upgrade) from
 * the license file alone: its binding kept, the terms given replaced, the
 * rest copied (docs/operations.md, "Renewing and upgrading"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "licgen.h"
#include "lic/envelope.h"
#include "lic/fileio.h"
#include "lic/license.h"
#include "terms.h"

static const char USAGE[] =
    "usage: licgen renew OLD.lic --key KEY.pem -o NEW.lic\n"
    "         [--features a,b] [--domain D]... [--port P]... [--app A]... [--major N]\n"
    "         [--expires YYYY-MM-DD|TIME|never] [--not-before YYYY-MM-DD|TIME]\n"
    "         [--max-nodes N] [--heartbeat S] [--grace S] [--trust PUB.pem]...\n"
    "         [--passphrase-file F] [--force] [--dry-run] [--json]\n\n"
    "Signs the successor of a license: a renewal (a later end) or an upgrade (more\n"
    "functions, nodes, a new major version). No RIF is needed: the successor keeps\n"
    "the old license's binding (mode, machine, node key, customer, project, product)\n"
    "and names it in 'supersedes'; every term not given is copied. A license server\n"
    "holding both answers for the newest one in force, so a renewal signed ahead\n"
    "(--not-before = the old end) takes over at that second with no gap.\n"
    "See docs/operations.md, \"Renewing and upgrading\".\n\n"
    "  --features LIST   authorized functions, comma separated (replaces the old list)\n"
    "  --domain D        access domain name, repeat (replaces the old list)\n"
    "  --port P          1..65535, repeat (replaces the old list)\n"
    "  --app A           application name, repeat (replaces the old list)\n"
    "  --major N         licensed major version (0 = any)\n"
    "  --expires D       the end: valid until the start of day D (UTC), the last day is\n"
    "                    the day before; or an exact time YYYY-MM-DDTHH:MM:SSZ; or 'never'\n"
    "  --not-before D    the start, a day or an exact time (default: the old start);\n"
    "                    give the old end to renew ahead of time\n"
    "  --max-nodes N     report-server nodes at once (private mode; 0 = unlimited)\n"
    "  --heartbeat S     seconds between checks\n"
    "  --grace S         seconds a report server stays licensed without a valid check\n"
    "  --trust FILE      trusted root public key (repeatable): checks OLD when another\n"
    "                    root key than --key signed it\n"
    "  -o, --out FILE    the successor license to write, never replaced without --force\n"
    "                    (--output alike)\n"
    "  --force           replace an existing output file, and renew a license that another\n"
    "                    root key signed (a root key rotation)\n"
    "  --passphrase-file F  the key's passphrase (first line of F)\n"
    LICGEN_KEY_HELP
    "  --dry-run         show the old and the new terms side by side; write nothing\n"
    "  --json            print the old and the new terms as JSON\n";

enum { O_KEY = 256, O_MAXNODES, O_TRUST, O_PASS, O_DRY, O_JSON, O_FORCE };

/* The successor: the old license's binding, then the new terms. */
static int successor(const lic_license *old, licgen_terms *t, lic_license *l, int64_t now) {
  int rc;
  memset(l, 0, sizeof *l);
  l->mode = old->mode;
  if ((l->customer = strdup(old->customer)) == NULL || (l->project = strdup(old->project)) == NULL ||
      (l->product = strdup(old->product)) == NULL)
    return LIC_NOMEM;
  memcpy(l->project_id, old->project_id, LIC_ID_LEN);
  l->has_machine = old->has_machine;
  memcpy(l->machine_code, old->machine_code, sizeof l->machine_code);
  if (old->nmacs > 0) {
    if ((l->macs = malloc(old->nmacs * LIC_MAC_HASH_LEN)) == NULL)
      return LIC_NOMEM;
    memcpy(l->macs, old->macs, old->nmacs * LIC_MAC_HASH_LEN);
    l->nmacs = old->nmacs;
  }
  l->has_node_key = old->has_node_key;
  memcpy(l->node_key, old->node_key, LIC_PUBKEY_LEN);
  memcpy(l->rif, old->rif, sizeof l->rif);
  /* the terms move from t */
  l->features = t->feature_list;
  l->domains = t->domains;
  l->apps = t->apps;
  l->ports = t->ports;
  l->nports = t->nports;
  memset(&t->feature_list, 0, sizeof t->feature_list);
  memset(&t->domains, 0, sizeof t->domains);
  memset(&t->apps, 0, sizeof t->apps);
  t->ports = NULL;
  t->nports = 0;
  l->major = t->major_v;
  l->not_before = t->not_before;
  l->expires = t->expires_v;
  l->heartbeat = t->heartbeat;
  l->grace = t->grace;
  l->max_nodes = old->max_nodes;
  l->has_supersedes = true;
  memcpy(l->supersedes, old->id, LIC_ID_LEN);
  /* issued orders a lineage: never at or before the license it renews */
  l->issued = now > old->issued ? now : old->issued + 1;
  if ((rc = lic_random(l->id, LIC_ID_LEN)) != LIC_OK)
    return rc;
  return LIC_OK;
}

static const char *const SIDE_KEYS[] = {
    "id",       "supersedes", "mode",     "customer",  "project", "product",  "machine_code",
    "features", "domains",    "ports",    "apps",      "major",   "max_nodes", "not_before",
    "valid_until", "last_day", "heartbeat", "grace"};

int licgen_renew(int argc, char **argv) {
  static const struct option opts[] = {
      {"key", required_argument, NULL, O_KEY}, LICGEN_TERM_OPTIONS,
      {"max-nodes", required_argument, NULL, O_MAXNODES},
      {"trust", required_argument, NULL, O_TRUST},
      {"passphrase-file", required_argument, NULL, O_PASS}, LICGEN_KEY_OPTIONS,
      {"dry-run", no_argument, NULL, O_DRY}, {"json", no_argument, NULL, O_JSON},
      {"force", no_argument, NULL, O_FORCE},
      {"out", required_argument, NULL, 'o'}, {"output", required_argument, NULL, 'o'},
      {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  const char *keyfile = NULL, *out = NULL, *passfile = NULL, *maxnodes = NULL;
  licgen_terms terms;
  cli_trust trust;
  bool dry = false, json = false, force = false;
  lic_license old, l;
  lic_key *key = NULL;
  char *armored = NULL;
  uint8_t *oldenv = NULL, *body = NULL, *env = NULL;
  size_t oldlen = 0, blen = 0, elen = 0, alen = 0;
  int c, r = EXIT_FAIL, rc;
  int64_t now = (int64_t)time(NULL);

  memset(&old, 0, sizeof old);
  memset(&l, 0, sizeof l);
  licgen_terms_init(&terms);
  cli_trust_init(&trust);
  licgen_p11 p11 = {NULL, NULL};
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case O_KEY: keyfile = optarg; break;
    case O_MAXNODES: maxnodes = optarg; break;
    case O_TRUST:
      if ((r = cli_trust_add(&trust, optarg)) != EXIT_OK)
        goto out;
      break;
    case O_PASS: passfile = optarg; break;
    case LICGEN_O_P11MOD: p11.module = optarg; break;
    case LICGEN_O_PIN: p11.pinfile = optarg; break;
    case O_DRY: dry = true; break;
    case O_JSON: json = true; break;
    case O_FORCE: force = true; break;
    case 'o': out = optarg; break;
    case 'h': fputs(USAGE, stdout); r = EXIT_OK; goto out;
    default:
      if ((r = licgen_terms_opt("renew", &terms, c, optarg)) == -1)
        r = cli_bad_option("renew", argv, opts);
      if (r != EXIT_OK)
        goto out;
    }
  }
  r = EXIT_USAGE;
  if (argc - optind != 1) {
    r = cli_usage("renew", "give exactly one license file (the one to renew)");
    goto out;
  }
  const char *missing = keyfile == NULL ? "--key" : out == NULL && !dry ? "-o" : NULL;
  if (missing != NULL) {
    r = cli_usage("renew", "%s is required", missing);
    goto out;
  }
  if (!dry && !force && strcmp(out, "-") != 0 && access(out, F_OK) == 0) {
    r = cli_error(EXIT_FAIL, out, "exists; give --force to replace it");
    goto out;
  }
  /* The key first: it tells whether the same root signed the old license. */
  if ((r = licgen_key_load(keyfile, passfile, &p11, &key)) != EXIT_OK)
    goto out;
  if ((r = licgen_load_predecessor(argv[optind], "license", key, &trust.t, force, &oldenv,
                                   &oldlen)) != EXIT_OK)
    goto out;
  r = EXIT_FAIL;
  {
    lic_envelope e;
    if ((rc = lic_envelope_decode(oldenv, oldlen, &e)) != LIC_OK ||
        (rc = lic_license_parse(e.body, e.body_len, &old)) != LIC_OK) {
      r = cli_lic_error(argv[optind], rc);
      goto out;
    }
  }
  if (old.mode == LIC_MODE_PUBLIC) {
    r = cli_error(EXIT_FAIL, argv[optind], "a public-mode license: renew its account instead "
                                           "('licgen account --renew')");
    goto out;
  }
  licgen_terms_base base = {&old.features, &old.domains, &old.apps, old.ports, old.nports,
                            old.major, old.not_before, old.expires, old.heartbeat, old.grace};
  if ((r = licgen_terms_finish_from("renew", &terms, now, &base)) != EXIT_OK)
    goto out;
  r = EXIT_FAIL;
  if ((rc = successor(&old, &terms, &l, now)) != LIC_OK) {
    r = cli_lic_error("renew", rc);
    goto out;
  }
  if (maxnodes != NULL) {
    if (l.mode != LIC_MODE_PRIVATE) {
      r = cli_usage("renew", "--max-nodes applies to private licenses only");
      goto out;
    }
    if ((rc = lic_parse_int(maxnodes, 0, INT32_MAX, &l.max_nodes)) != LIC_OK) {
      r = cli_usage("renew", "--max-nodes: %s", lic_errfull(rc));
      goto out;
    }
  }

  if (dry || json) {
    json_t *o = licgen_license_json(&old), *n = licgen_license_json(&l);
    if (json) {
      cli_json_print(json_pack("{s:o, s:o, s:b}", "old", o, "new", n, "dry_run", dry));
    } else {
      licgen_print_side_by_side(o, n, SIDE_KEYS, sizeof SIDE_KEYS / sizeof SIDE_KEYS[0]);
      json_decref(o);
      json_decref(n);
    }
    if (dry) {
      r = EXIT_OK;
      goto out;
    }
  }

  if ((rc = lic_license_pack(&l, &body, &blen)) != LIC_OK ||
      (rc = lic_envelope_seal("license", body, blen, key, &env, &elen)) != LIC_OK) {
    r = cli_lic_error("renew", rc);
    goto out;
  }
  {
    char id[LIC_UUID_LEN + 1], oldid[LIC_UUID_LEN + 1], comments[1024];
    lic_uuid_format(l.id, id);
    lic_uuid_format(old.id, oldid);
    licgen_license_comments(&l, key, comments, sizeof comments);
    if ((rc = lic_armor_encode("license", comments, env, elen, &armored, &alen)) != LIC_OK ||
        (rc = lic_file_write(out, armored, alen, 0644, force ? 0 : LIC_WRITE_NOREPLACE)) != LIC_OK) {
      r = cli_lic_error(out, rc);
      goto out;
    }
    if (!json)
      fprintf(stderr, "licgen: wrote license %s (renews %s) to %s\n", id, oldid, out);
  }
  r = EXIT_OK;
out:
  lic_license_clear(&old);
  lic_license_clear(&l);
  licgen_terms_free(&terms);
  lic_key_free(key);
  free(oldenv);
  free(body);
  free(env);
  free(armored);
  return r;
}
