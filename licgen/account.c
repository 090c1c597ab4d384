/* account.c - licgen account: a public-mode account (SPEC §3.4) and its token,
 * shown once and never stored in clear. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "licgen.h"
#include "lic/account.h"
#include "lic/envelope.h"
#include "lic/fileio.h"
#include "lic/rif.h"
#include "terms.h"

static const char USAGE[] =
    "usage: licgen account --key KEY.pem --customer NAME --capacity N -o ACCOUNT\n"
    "       licgen account --renew OLD.acct --key KEY.pem -o ACCOUNT [--capacity N]\n"
    "         [--customer NAME] [--new-token] [terms as below] [--trust PUB.pem]...\n"
    "         [--features a,b] [--domain D]... [--port P]... [--app A]... [--major N]\n"
    "         [--expires YYYY-MM-DD|never] [--not-before YYYY-MM-DD] [--heartbeat S]\n"
    "         [--grace S] [--token-out FILE] [--passphrase-file F] [--dry-run] [--json]\n\n"
    "Signs a public-mode account and prints, once, its id and its token:\n"
    "  account ID\n"
    "  token lsk_...\n"
    "The token is the customer's secret: the account file holds only its SHA-256,\n"
    "and no tool stores it in clear. Give it to the customer, then forget it.\n"
    "  --key KEY.pem     the vendor's root private key (from 'licgen keygen')\n"
    "  --customer NAME   the customer's name, signed into the account\n"
    "  --capacity N      projects the account may register at once (1..1000000)\n"
    "  --features LIST   authorized functions, comma separated (default none)\n"
    "  --domain D        access domain name, exact or '*.example.com'; repeat; none = any\n"
    "  --port P          1..65535, repeat; none = any port\n"
    "  --app A           application name, repeat; none = any application\n"
    "  --major N         licensed major version (default 0 = any)\n"
    "  --expires D       last day is the day before D (UTC), or 'never' (default)\n"
    "  --not-before D    first valid day (default: now)\n"
    "  --heartbeat S     seconds between checks (1..2592000, default 7200; warns below 60)\n"
    "  --grace S         seconds a report server stays licensed without a valid check\n"
    "                    (default 86400)\n"
    "  -o, --out FILE    account file to write (for 'licsrv import')\n"
    "  --token-out FILE  write the token to FILE (a new file, mode 0600) instead of stdout\n"
    "  --passphrase-file F  the key's passphrase (first line of F)\n"
    LICGEN_KEY_HELP
    "  --renew OLD.acct  renew or upgrade an account in place: the same id and token,\n"
    "                    every term not given copied from OLD; 'licsrv import' of the\n"
    "                    result replaces the old terms and keeps every registration\n"
    "                    (docs/operations.md, \"Renewing and upgrading\")\n"
    "  --new-token       with --renew: issue a new token (the old one stops working)\n"
    "  --trust FILE      with --renew: trusted root key that signed OLD, when another\n"
    "                    root key than --key did (repeatable)\n"
    "  --force           with --renew: renew an account another root key signed\n"
    "  --dry-run         print what would be signed; write nothing, make no token\n"
    "  --json            {\"account\": ID, \"token\": TOKEN} (or \"token_file\")\n";

enum { O_KEY = 256, O_CUSTOMER, O_CAPACITY, O_TOKEN_OUT, O_PASS, O_DRY, O_JSON, O_RENEW,
       O_NEW_TOKEN, O_TRUST, O_FORCE };

static const char *const SIDE_KEYS[] = {"id",     "customer", "capacity", "features",
                                        "domains", "ports",   "apps",     "major",
                                        "not_before", "expires", "heartbeat", "grace",
                                        "token"};

/* The old account's terms, for the side-by-side of a renewal. */
static json_t *old_account_json(const lic_account *a) {
  licgen_terms t;
  licgen_terms_init(&t);
  t.feature_list = a->features;
  t.domains = a->domains;
  t.apps = a->apps;
  t.ports = a->ports;
  t.nports = a->nports;
  t.major_v = a->major;
  t.not_before = a->not_before;
  t.expires_v = a->expires;
  t.heartbeat = a->heartbeat;
  t.grace = a->grace;
  char id[LIC_UUID_LEN + 1];
  lic_uuid_format(a->id, id);
  json_t *o = licgen_terms_json(&t); /* borrows the lists: t is not freed */
  json_object_set_new(o, "id", json_string(id));
  json_object_set_new(o, "customer", json_string(a->customer));
  json_object_set_new(o, "capacity", json_integer(a->capacity));
  json_object_set_new(o, "token", json_string("kept"));
  return o;
}

static json_t *account_json(const lic_account *a, const licgen_terms *t) {
  char id[LIC_UUID_LEN + 1];
  lic_uuid_format(a->id, id);
  json_t *o = licgen_terms_json(t);
  json_object_set_new(o, "id", json_string(id));
  json_object_set_new(o, "customer", json_string(a->customer));
  json_object_set_new(o, "capacity", json_integer(a->capacity));
  return o;
}

int licgen_account(int argc, char **argv) {
  static const struct option opts[] = {
      {"key", required_argument, NULL, O_KEY}, {"customer", required_argument, NULL, O_CUSTOMER},
      {"capacity", required_argument, NULL, O_CAPACITY}, LICGEN_TERM_OPTIONS,
      {"token-out", required_argument, NULL, O_TOKEN_OUT},
      {"passphrase-file", required_argument, NULL, O_PASS}, LICGEN_KEY_OPTIONS,
      {"dry-run", no_argument, NULL, O_DRY}, {"json", no_argument, NULL, O_JSON},
      {"renew", required_argument, NULL, O_RENEW}, {"new-token", no_argument, NULL, O_NEW_TOKEN},
      {"trust", required_argument, NULL, O_TRUST}, {"force", no_argument, NULL, O_FORCE},
      {"out", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *keyfile = NULL, *customer = NULL, *capacity = NULL, *out = NULL,
             *tokenout = NULL, *passfile = NULL, *renew = NULL;
  bool dry = false, json = false, token_written = false, new_token = false, force = false;
  bool make_token = true;
  licgen_terms terms;
  cli_trust trust;
  lic_account a, old;
  uint8_t *oldenv = NULL;
  size_t oldlen = 0;
  lic_key *key = NULL;
  char token[LIC_TOKEN_LEN + 1] = "", *armored = NULL;
  uint8_t *body = NULL, *env = NULL;
  size_t blen = 0, elen = 0, alen = 0;
  int c, r = EXIT_FAIL, rc;
  int64_t now = (int64_t)time(NULL);

  memset(&a, 0, sizeof a);
  memset(&old, 0, sizeof old);
  licgen_terms_init(&terms);
  cli_trust_init(&trust);
  licgen_p11 p11 = {NULL, NULL};
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case O_KEY: keyfile = optarg; break;
    case O_CUSTOMER: customer = optarg; break;
    case O_CAPACITY: capacity = optarg; break;
    case O_TOKEN_OUT: tokenout = optarg; break;
    case O_PASS: passfile = optarg; break;
    case LICGEN_O_P11MOD: p11.module = optarg; break;
    case LICGEN_O_PIN: p11.pinfile = optarg; break;
    case O_DRY: dry = true; break;
    case O_JSON: json = true; break;
    case O_RENEW: renew = optarg; break;
    case O_NEW_TOKEN: new_token = true; break;
    case O_FORCE: force = true; break;
    case O_TRUST:
      if ((r = cli_trust_add(&trust, optarg)) != EXIT_OK)
        goto out;
      break;
    case 'o': out = optarg; break;
    case 'h': fputs(USAGE, stdout); r = EXIT_OK; goto out;
    default:
      if ((r = licgen_terms_opt("account", &terms, c, optarg)) == -1)
        r = cli_bad_option("account", argv, opts);
      if (r != EXIT_OK)
        goto out;
    }
  }
  r = EXIT_USAGE;
  if (argc != optind) {
    r = cli_usage("account", "unexpected argument '%s'", argv[optind]);
    goto out;
  }
  if (renew == NULL && (new_token || force)) {
    r = cli_usage("account", "%s goes with --renew", new_token ? "--new-token" : "--force");
    goto out;
  }
  const char *missing = keyfile == NULL ? "--key"
                      : renew == NULL && customer == NULL ? "--customer"
                      : renew == NULL && capacity == NULL ? "--capacity"
                      : out == NULL && !dry ? "-o" : NULL;
  if (missing != NULL) {
    r = cli_usage("account", "%s is required", missing);
    goto out;
  }
  if (customer != NULL && (rc = lic_name_check("--customer", customer)) != LIC_OK) {
    r = cli_usage("account", "%s", lic_errfull(rc));
    goto out;
  }
  if (capacity != NULL &&
      (rc = lic_parse_int(capacity, 1, LIC_MAX_CAPACITY, &a.capacity)) != LIC_OK) {
    r = cli_usage("account", "--capacity: %s", lic_errfull(rc));
    goto out;
  }
  if (renew != NULL) {
    /* The key first: it tells whether the same root signed the old account. */
    if ((r = licgen_key_load(keyfile, passfile, &p11, &key)) != EXIT_OK ||
        (r = licgen_load_predecessor(renew, LIC_ACCOUNT_TYP, key, &trust.t, force, &oldenv,
                                     &oldlen)) != EXIT_OK)
      goto out;
    lic_envelope e;
    if ((rc = lic_envelope_decode(oldenv, oldlen, &e)) != LIC_OK ||
        (rc = lic_account_parse(e.body, e.body_len, &old)) != LIC_OK) {
      r = cli_lic_error(renew, rc);
      goto out;
    }
    licgen_terms_base base = {&old.features, &old.domains, &old.apps, old.ports, old.nports,
                              old.major, old.not_before, old.expires, old.heartbeat,
                              old.grace};
    if ((r = licgen_terms_finish_from("account", &terms, now, &base)) != EXIT_OK)
      goto out;
    memcpy(a.id, old.id, LIC_ID_LEN);
    if (capacity == NULL)
      a.capacity = old.capacity;
    if (customer == NULL)
      customer = old.customer;
    /* issued orders the envelopes of one id: the renewal is the newer */
    a.issued = now > old.issued ? now : old.issued + 1;
    make_token = new_token;
    if (!make_token)
      memcpy(a.token_hash, old.token_hash, LIC_TOKEN_HASH_LEN);
  } else {
    if ((r = licgen_terms_finish("account", &terms, now, false)) != EXIT_OK)
      goto out;
    a.issued = now;
  }
  r = EXIT_USAGE;
  if (tokenout != NULL && !make_token) {
    r = cli_usage("account", "--token-out: a renewal keeps the token (give --new-token for a new one)");
    goto out;
  }
  if (tokenout != NULL && out != NULL && strcmp(tokenout, out) == 0) {
    r = cli_usage("account", "--token-out and -o name the same file");
    goto out;
  }
  if (tokenout != NULL && strcmp(tokenout, "-") == 0) {
    r = cli_usage("account", "--token-out needs a file (the token goes to stdout without it)");
    goto out;
  }
  r = EXIT_FAIL;
  if ((a.customer = strdup(customer)) == NULL ||
      (renew == NULL && (rc = lic_random(a.id, LIC_ID_LEN)) != LIC_OK))
    goto out;
  a.major = terms.major_v;
  a.not_before = terms.not_before;
  a.expires = terms.expires_v;
  a.heartbeat = terms.heartbeat;
  a.grace = terms.grace;
  /* borrowed from terms for packing; terms frees them */
  a.features = terms.feature_list;
  a.domains = terms.domains;
  a.apps = terms.apps;
  a.ports = terms.ports;
  a.nports = terms.nports;

  if (dry && renew != NULL) {
    json_t *o = old_account_json(&old), *n = account_json(&a, &terms);
    json_object_set_new(n, "token", json_string(make_token ? "new" : "kept"));
    if (json) {
      cli_json_print(json_pack("{s:o, s:o, s:b}", "old", o, "new", n, "dry_run", true));
    } else {
      licgen_print_side_by_side(o, n, SIDE_KEYS, sizeof SIDE_KEYS / sizeof SIDE_KEYS[0]);
      json_decref(o);
      json_decref(n);
    }
    r = EXIT_OK;
    goto out;
  }
  if (dry) {
    json_t *t = account_json(&a, &terms);
    if (json) {
      cli_json_print(t);
    } else {
      printf("would sign (dry run, nothing written, no token made):\n");
      cli_print_flat(t, "");
      json_decref(t);
    }
    r = EXIT_OK;
    goto out;
  }

  if (key == NULL && (r = licgen_key_load(keyfile, passfile, &p11, &key)) != EXIT_OK)
    goto out;
  r = EXIT_FAIL;
  if (make_token) {
    if ((rc = lic_token_generate(token)) != LIC_OK) {
      r = cli_lic_error("token", rc);
      goto out;
    }
    lic_token_hash(token, strlen(token), a.token_hash);
  }
  if ((rc = lic_account_pack(&a, &body, &blen)) != LIC_OK ||
      (rc = lic_envelope_seal(LIC_ACCOUNT_TYP, body, blen, key, &env, &elen)) != LIC_OK) {
    r = cli_lic_error("sign", rc);
    goto out;
  }
  /* The token file first (a new file only): an account whose token could not
   * be handed over must not exist. */
  if (tokenout != NULL) {
    char line[LIC_TOKEN_LEN + 2];
    snprintf(line, sizeof line, "%s\n", token);
    rc = lic_file_write(tokenout, line, strlen(line), 0600, LIC_WRITE_NOREPLACE);
    OPENSSL_cleanse(line, sizeof line);
    if (rc != LIC_OK) {
      r = cli_lic_error(tokenout, rc);
      goto out;
    }
    token_written = true;
  }
  {
    char id[LIC_UUID_LEN + 1], until[LIC_UNTIL_LEN], kid[2 * LIC_KID_LEN + 1], comments[1024];
    lic_uuid_format(a.id, id);
    lic_until_format(a.expires, until);
    lic_kid_hex(lic_key_kid(key), kid);
    snprintf(comments, sizeof comments,
             "licsrv account %s%s\ncustomer: %.128s\ncapacity: %lld projects\n%s\n"
             "signed by: %s",
             id, renew != NULL ? " (renewed)" : "", a.customer, (long long)a.capacity, until, kid);
    if ((rc = lic_armor_encode(LIC_ACCOUNT_TYP, comments, env, elen, &armored, &alen)) != LIC_OK ||
        (rc = lic_file_write(out, armored, alen, 0644, 0)) != LIC_OK) {
      r = cli_lic_error(out, rc);
      if (token_written)
        unlink(tokenout);
      goto out;
    }
    if (json) {
      json_t *o = !make_token ? json_pack("{s:s, s:b}", "account", id, "token_kept", true)
                  : tokenout != NULL ? json_pack("{s:s, s:s}", "account", id, "token_file", tokenout)
                                     : json_pack("{s:s, s:s}", "account", id, "token", token);
      cli_json_print(o);
    } else {
      printf("account %s\n", id);
      if (make_token && tokenout == NULL)
        printf("token %s\n", token);
      fflush(stdout);
      fprintf(stderr, "licgen: wrote %saccount %s to %s%s%s%s\n", renew != NULL ? "renewed " : "",
              id, out, tokenout != NULL ? ", its token to " : "", tokenout != NULL ? tokenout : "",
              renew != NULL && !make_token ? " (its token is unchanged)" : "");
    }
  }
  r = EXIT_OK;
out:
  OPENSSL_cleanse(token, sizeof token);
  /* the lists belong to terms */
  memset(&a.features, 0, sizeof a.features);
  memset(&a.domains, 0, sizeof a.domains);
  memset(&a.apps, 0, sizeof a.apps);
  a.ports = NULL;
  lic_account_clear(&a);
  lic_account_clear(&old);
  free(oldenv);
  licgen_terms_free(&terms);
  lic_key_free(key);
  free(body);
  free(env);
  free(armored);
  return r;
}
