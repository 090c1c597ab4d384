/* sign.c - licgen sign: a verified RIF plus contract terms into a signed license. */
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
#include "lic/rif.h"
#include "terms.h"

static const char USAGE[] =
    "usage: licgen sign RIF --key KEY.pem --mode local|private --customer NAME\n"
    "         --features a,b --major N --expires YYYY-MM-DD|never -o LICENSE\n"
    "         [--domain D]... [--port P]... [--app A]... [--not-before YYYY-MM-DD]\n"
    "         [--max-nodes N] [--heartbeat S] [--grace S] [--passphrase-file F]\n"
    "         [--force] [--dry-run] [--json]\n\n"
    "Checks the RIF's own signature, then signs a license binding its machine.\n"
    "  --key KEY.pem     the vendor's root private key (from 'licgen keygen')\n"
    "  --customer NAME   the customer's name, signed into the license\n"
    "  --mode local      the report server's own machine checks it offline (licctl check)\n"
    "  --mode private    a license server (licsrv) holds it; needs a RIF from 'licsrv rif'\n"
    "  --features LIST   authorized functions, comma separated ('' for none)\n"
    "  --domain D        access domain name, exact or '*.example.com' (one label); repeat;\n"
    "                    none = any domain\n"
    "  --port P          1..65535, repeat; none = any port\n"
    "  --app A           application name, repeat; none = any application\n"
    "  --major N         licensed major version (0 = any)\n"
    "  --expires D       last day is the day before D (UTC), or 'never'\n"
    "  --not-before D    first valid day (default: now)\n"
    "  --max-nodes N     private mode: report-server nodes at once (0 = unlimited)\n"
    "  --heartbeat S     seconds between checks (1..2592000, default 7200; warns below 60)\n"
    "  --grace S         seconds a report server stays licensed without a valid check\n"
    "                    (default 86400)\n"
    "  -o, --out FILE    license file to write, never replaced without --force\n"
    "                    (--output alike)\n"
    "  --force           replace an existing license file\n"
    "  --passphrase-file F  the key's passphrase (first line of F)\n"
    LICGEN_KEY_HELP
    "  --dry-run         print what would be signed; write nothing\n"
    "  --json            print the license terms as JSON\n";

enum { O_KEY = 256, O_MODE, O_CUSTOMER, O_MAXNODES, O_PASS, O_DRY, O_JSON, O_FORCE };

static int parse_num(const char *opt, const char *s, int64_t min, int64_t max, int64_t *v) {
  int rc = lic_parse_int(s, min, max, v);
  return rc == LIC_OK ? EXIT_OK : cli_usage("sign", "%s: %s", opt, lic_errfull(rc));
}

/* The parsed terms move into the license. */
static void take_terms(licgen_terms *t, lic_license *l) {
  l->features = t->feature_list;
  l->domains = t->domains;
  l->apps = t->apps;
  l->ports = t->ports;
  l->nports = t->nports;
  l->major = t->major_v;
  l->not_before = t->not_before;
  l->expires = t->expires_v;
  l->heartbeat = t->heartbeat;
  l->grace = t->grace;
  memset(&t->feature_list, 0, sizeof t->feature_list);
  memset(&t->domains, 0, sizeof t->domains);
  memset(&t->apps, 0, sizeof t->apps);
  t->ports = NULL;
  t->nports = 0;
}

int licgen_sign(int argc, char **argv) {
  static const struct option opts[] = {
      {"key", required_argument, NULL, O_KEY}, {"mode", required_argument, NULL, O_MODE},
      {"customer", required_argument, NULL, O_CUSTOMER}, LICGEN_TERM_OPTIONS,
      {"max-nodes", required_argument, NULL, O_MAXNODES},
      {"passphrase-file", required_argument, NULL, O_PASS}, LICGEN_KEY_OPTIONS,
      {"dry-run", no_argument, NULL, O_DRY}, {"json", no_argument, NULL, O_JSON},
      {"force", no_argument, NULL, O_FORCE},
      {"out", required_argument, NULL, 'o'}, {"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *keyfile = NULL, *mode = NULL, *customer = NULL, *out = NULL, *passfile = NULL;
  licgen_terms terms;
  bool dry = false, json = false, max_nodes_given = false, force = false;
  lic_license l;
  lic_rif rif;
  lic_key *key = NULL;
  char *armored = NULL;
  uint8_t *body = NULL, *env = NULL;
  size_t blen = 0, elen = 0, alen = 0;
  int c, r = EXIT_FAIL, rc;
  int64_t now = (int64_t)time(NULL);

  memset(&l, 0, sizeof l);
  memset(&rif, 0, sizeof rif);
  licgen_terms_init(&terms);
  licgen_p11 p11 = {NULL, NULL};
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case O_KEY: keyfile = optarg; break;
    case O_MODE: mode = optarg; break;
    case O_CUSTOMER: customer = optarg; break;
    case O_MAXNODES:
      if ((r = parse_num("--max-nodes", optarg, 0, INT32_MAX, &l.max_nodes)) != EXIT_OK)
        goto out;
      max_nodes_given = true;
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
      if ((r = licgen_terms_opt("sign", &terms, c, optarg)) == -1)
        r = cli_bad_option("sign", argv, opts);
      if (r != EXIT_OK)
        goto out;
    }
  }
  r = EXIT_USAGE;
  if (argc - optind != 1) {
    r = cli_usage("sign", "give exactly one RIF file");
    goto out;
  }
  const char *missing = keyfile == NULL ? "--key" : mode == NULL ? "--mode"
                      : customer == NULL ? "--customer" : terms.features == NULL ? "--features"
                      : terms.major == NULL ? "--major" : terms.expires == NULL ? "--expires"
                      : out == NULL && !dry ? "-o" : NULL;
  if (missing != NULL) {
    r = cli_usage("sign", "%s is required", missing);
    goto out;
  }
  /* Refused before any work: a license already sent out must not vanish
   * under a mistyped -o (keygen, codes and backup refuse the same way). */
  if (!dry && !force && strcmp(out, "-") != 0 && access(out, F_OK) == 0) {
    r = cli_error(EXIT_FAIL, out, "exists; give --force to replace it");
    goto out;
  }
  int m = lic_mode_from_name(mode);
  if (m != LIC_MODE_LOCAL && m != LIC_MODE_PRIVATE) {
    r = cli_usage("sign", "--mode must be local or private (public mode uses 'licgen account')");
    goto out;
  }
  l.mode = (lic_mode)m;
  if ((rc = lic_name_check("--customer", customer)) != LIC_OK) {
    r = cli_usage("sign", "%s", lic_errfull(rc));
    goto out;
  }
  if ((r = licgen_terms_finish("sign", &terms, now, true)) != EXIT_OK)
    goto out;
  take_terms(&terms, &l);
  r = EXIT_USAGE;
  if (max_nodes_given && l.mode != LIC_MODE_PRIVATE) {
    r = cli_usage("sign", "--max-nodes applies to private licenses only");
    goto out;
  }

  /* The RIF: its own signature first, then consistency with the terms. */
  r = EXIT_FAIL;
  if ((rc = lic_rif_load(argv[optind], &rif, l.rif)) != LIC_OK) {
    r = cli_lic_error(argv[optind], rc);
    goto out;
  }
  if (strcmp(rif.mode_hint, lic_mode_name(l.mode)) != 0) {
    r = cli_error(EXIT_FAIL, argv[optind], "this RIF was made for %s mode (%s), not %s",
                  rif.mode_hint, strcmp(rif.mode_hint, "private") == 0 ? "licsrv rif" : "licctl rif",
                  mode);
    goto out;
  }
  if (rif.nmacs == 0) {
    r = cli_error(EXIT_FAIL, argv[optind],
                  "the RIF lists no network adapter: a %s license needs at least one MAC", mode);
    goto out;
  }
  if ((rc = lic_random(l.id, LIC_ID_LEN)) != LIC_OK)
    goto out;
  l.issued = now;
  if ((l.customer = strdup(customer)) == NULL || (l.project = strdup(rif.project)) == NULL ||
      (l.product = strdup(rif.product)) == NULL)
    goto out;
  memcpy(l.project_id, rif.project_id, LIC_ID_LEN);
  l.has_machine = true;
  memcpy(l.machine_code, rif.code, sizeof l.machine_code);
  l.macs = rif.macs;
  l.nmacs = rif.nmacs;
  rif.macs = NULL;
  if (l.mode == LIC_MODE_PRIVATE) {
    l.has_node_key = true;
    memcpy(l.node_key, rif.pubkey, LIC_PUBKEY_LEN);
  }

  if (dry || json) {
    json_t *t = licgen_license_json(&l);
    if (json)
      cli_json_print(t);
    else {
      printf("would sign (dry run, nothing written):\n");
      cli_print_flat(t, "");
      json_decref(t);
    }
    if (dry) {
      r = EXIT_OK;
      goto out;
    }
  }

  if ((r = licgen_key_load(keyfile, passfile, &p11, &key)) != EXIT_OK)
    goto out;
  r = EXIT_FAIL;
  if ((rc = lic_license_pack(&l, &body, &blen)) != LIC_OK ||
      (rc = lic_envelope_seal("license", body, blen, key, &env, &elen)) != LIC_OK) {
    r = cli_lic_error("sign", rc);
    goto out;
  }
  {
    char id[LIC_UUID_LEN + 1], comments[1024];
    lic_uuid_format(l.id, id);
    licgen_license_comments(&l, key, comments, sizeof comments);
    if ((rc = lic_armor_encode("license", comments, env, elen, &armored, &alen)) != LIC_OK ||
        (rc = lic_file_write(out, armored, alen, 0644,
                             force ? 0 : LIC_WRITE_NOREPLACE)) != LIC_OK) {
      r = cli_lic_error(out, rc);
      goto out;
    }
    if (!json)
      fprintf(stderr, "licgen: wrote license %s to %s\n", id, out);
  }
  r = EXIT_OK;
out:
  lic_license_clear(&l);
  licgen_terms_free(&terms);
  lic_rif_clear(&rif);
  lic_key_free(key);
  free(body);
  free(env);
  free(armored);
  return r;
}
