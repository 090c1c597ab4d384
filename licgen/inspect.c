/* inspect.c - licgen inspect: show any envelope and check its signature. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "licgen.h"
#include "lic/envelope.h"
#include "lic/fileio.h"
#include "lic/license.h"
#include "lic/rif.h"

static const char USAGE[] =
    "usage: licgen inspect FILE [--trust PUB.pem]... [--pubkey PUB.pem] [--json]\n\n"
    "Shows a license, RIF, account, certificate, verdict or receipt (armored or raw)\n"
    "and checks its signature: against the trust store for vendor-signed objects,\n"
    "against the embedded key for a RIF, or against --pubkey (e.g. a license\n"
    "server's node key for a verdict). Exit 0 only when the signature holds and the\n"
    "body is well formed.\n\n"
    "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
    "  --pubkey FILE   check the signature against this public key instead\n"
    "  --json          machine-readable output\n";

enum { O_TRUST = 256, O_PUBKEY, O_JSON };

int licgen_inspect(int argc, char **argv) {
  static const struct option opts[] = {{"trust", required_argument, NULL, O_TRUST},
                                       {"pubkey", required_argument, NULL, O_PUBKEY},
                                       {"json", no_argument, NULL, O_JSON},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  cli_trust ct;
  const char *pubfile = NULL;
  bool json = false;
  uint8_t *file = NULL, *bytes = NULL;
  size_t flen, blen;
  lic_envelope env;
  lic_key *pub = NULL;
  json_t *out = NULL, *body = NULL;
  int c, r, rc;

  cli_trust_init(&ct);
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_TRUST:
      if ((r = cli_trust_add(&ct, optarg)) != EXIT_OK)
        return r;
      break;
    case O_PUBKEY: pubfile = optarg; break;
    case O_JSON: json = true; break;
    case 'h': fputs(USAGE, stdout); return EXIT_OK;
    default: return cli_usage("inspect", "bad option");
    }
  }
  if (argc - optind != 1)
    return cli_usage("inspect", "give exactly one FILE");
  const char *path = argv[optind];
  if (pubfile != NULL && (rc = lic_key_load_public(pubfile, &pub)) != LIC_OK)
    return cli_lic_error("--pubkey", rc);

  r = EXIT_FAIL;
  if ((rc = lic_file_read(path, LIC_MAX_FILE, &file, &flen)) != LIC_OK ||
      (rc = lic_unarmor_any(file, flen, &bytes, &blen)) != LIC_OK ||
      (rc = lic_envelope_decode(bytes, blen, &env)) != LIC_OK) {
    r = cli_lic_error(path, rc);
    goto out;
  }

  /* Signature: which key, and does it hold? */
  const char *sigstate, *signer;
  char kid[2 * LIC_KID_LEN + 1], sigwhy[400] = "";
  lic_rif rif;
  lic_kid_hex(env.kid, kid);
  if (pub != NULL) {
    signer = "--pubkey";
    rc = lic_envelope_verify_with(&env, lic_key_raw_public(pub));
  } else if (strcmp(env.typ, "rif") == 0) {
    signer = "embedded instance/node key (proof of possession)";
    /* From the bytes already read: re-reading path fails for "-" (stdin). */
    if ((rc = lic_rif_parse(env.body, env.body_len, &rif)) == LIC_OK)
      rc = lic_envelope_verify_with(&env, rif.pubkey);
    lic_rif_clear(&rif);
  } else {
    signer = "trust store";
    rc = lic_envelope_verify(&env, &ct.t);
  }
  sigstate = rc == LIC_OK ? "valid" : rc == LIC_UNTRUSTED ? "untrusted" : "invalid";
  if (rc != LIC_OK)
    snprintf(sigwhy, sizeof sigwhy, "%s", lic_errfull(rc));
  bool ok = rc == LIC_OK;

  /* The body, shown even when the signature fails (it is labeled so). */
  lic_mp br = {env.body, env.body_len};
  if ((rc = cli_mp_to_json(&br, NULL, 0, &body)) != LIC_OK || br.n != 0) {
    r = cli_error(EXIT_FAIL, path, "body is not a well-formed MessagePack map");
    goto out;
  }
  char formwhy[400] = "";
  if (strcmp(env.typ, "license") == 0) {
    lic_license l;
    if ((rc = lic_license_parse(env.body, env.body_len, &l)) != LIC_OK) {
      snprintf(formwhy, sizeof formwhy, "%s", lic_errfull(rc));
      ok = false;
    }
    lic_license_clear(&l);
  } else {
    lic_mp_obj o;
    if ((rc = lic_envelope_body(&env, &o)) != LIC_OK) {
      snprintf(formwhy, sizeof formwhy, "%s", lic_errfull(rc));
      ok = false;
    }
  }

  if (json) {
    out = json_pack("{s:s, s:s, s:s, s:s, s:b, s:O}", "typ", env.typ, "kid", kid, "signature",
                    sigstate, "checked_with", signer, "ok", ok, "body", body);
    if (sigwhy[0] != '\0')
      json_object_set_new(out, "signature_error", json_string(sigwhy));
    if (formwhy[0] != '\0')
      json_object_set_new(out, "body_error", json_string(formwhy));
    cli_json_print(out);
    out = NULL;
  } else {
    printf("%-16s %s\n%-16s %s\n%-16s %s (%s)%s%s\n", "typ", env.typ, "kid", kid, "signature",
           sigstate, signer, sigwhy[0] ? ": " : "", sigwhy);
    if (formwhy[0] != '\0')
      printf("%-16s %s\n", "body error", formwhy);
    cli_print_flat(body, "");
    fflush(stdout);
  }
  r = ok ? EXIT_OK : EXIT_FAIL;
out:
  json_decref(body);
  json_decref(out);
  lic_key_free(pub);
  free(file);
  free(bytes);
  return r;
}
