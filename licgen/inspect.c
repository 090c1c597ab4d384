/* inspect.c - licgen inspect: show any envelope or activation code and check
 * its signature. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "licgen.h"
#include "lic/account.h"
#include "lic/actcode.h"
#include "lic/b64.h"
#include "lic/cert.h"
#include "lic/envelope.h"
#include "lic/fileio.h"
#include "lic/license.h"
#include "lic/revocations.h"
#include "lic/rif.h"

static const char USAGE[] =
    "usage: licgen inspect FILE|CODE [--trust PUB.pem]... [--pubkey PUB.pem] [--json]\n\n"
    "Shows a license, RIF, account, certificate, revocation list, verdict or receipt\n"
    "(armored or raw)\n"
    "and checks its signature: against the trust store for vendor-signed objects,\n"
    "against the embedded key for a RIF, or against --pubkey (e.g. a license\n"
    "server's node key for a verdict). Exit 0 only when the signature holds and the\n"
    "body is well formed.\n"
    "An argument that is not a readable file but reads as a designer activation code\n"
    "is shown as one (product, serial, edition, expiry) and checked against the\n"
    "trust store (or --pubkey); exit 0 only when it is genuine.\n"
    "A file (or '-', standard input) holding one base64 or base64url string is\n"
    "decoded first: the verdict or chain entry of a JSON verify answer.\n\n"
    "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
    "  --pubkey FILE   check the signature against this public key instead\n"
    "  --json          machine-readable output\n";

enum { O_TRUST = 256, O_PUBKEY, O_JSON };

/* The whole input is one base64 or base64url string (trailing newline
 * allowed): what a JSON verify answer holds, pasted or piped. */
static bool b64_text(const uint8_t *b, size_t n) {
  while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' '))
    n--;
  if (n < 8)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((b[i] >= 'A' && b[i] <= 'Z') || (b[i] >= 'a' && b[i] <= 'z') ||
          (b[i] >= '0' && b[i] <= '9') || b[i] == '-' || b[i] == '_' || b[i] == '+' ||
          b[i] == '/' || b[i] == '='))
      return false;
  return true;
}

/* An activation code given on the command line. Exit code. */
static int inspect_code(const lic_code *c, const lic_trust *t,
                        const lic_key *pub, bool json) {
  lic_trust one;
  const lic_trust *use = t;
  char canon[LIC_CODE_TEXT_LEN + 1], ex[11], why[400] = "";
  uint8_t bin[LIC_CODE_BIN_LEN];
  int rc;

  if (pub != NULL) {
    lic_trust_init(&one);
    lic_trust_add_raw(&one, lic_key_raw_public(pub));
    use = &one;
  }
  /* now = 0: the signature and version only; expiry is reported apart. */
  rc = lic_code_verify(c, use, -1, 0);
  if (rc != LIC_OK)
    snprintf(why, sizeof why, "%s", lic_errfull(rc));
  const char *sigstate = rc == LIC_OK ? "valid" : rc == LIC_NOTGENUINE ? "not genuine" : "invalid";
  int64_t exp = lic_code_expires(c);
  bool expired = exp != 0 && (int64_t)time(NULL) >= exp;
  lic_code_bytes(c, bin);
  lic_code_format(bin, canon);
  lic_date_format(exp, ex);
  if (json) {
    json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:I, s:i, s:s, s:b, s:s, s:s, s:b}", "typ",
                          "code", "code", canon, "version", c->version, "product", c->product,
                          "serial", (json_int_t)c->serial, "edition", c->edition, "expires",
                          exp == 0 ? "never" : ex, "expired", expired, "signature", sigstate,
                          "checked_with", pub != NULL ? "--pubkey" : "trust store", "ok",
                          rc == LIC_OK);
    if (o != NULL && why[0] != '\0')
      json_object_set_new(o, "signature_error", json_string(why));
    cli_json_print(o);
  } else {
    printf("%-16s %s\n%-16s %s\n%-16s %u\n%-16s %u\n%-16s %u\n%-16s %u (0x%02x)\n"
           "%-16s %s%s\n%-16s %s (%s)%s%s\n",
           "typ", "activation code", "code", canon, "version", c->version, "product",
           c->product, "serial", c->serial, "edition", c->edition, c->edition, "expires",
           exp == 0 ? "never" : ex, expired ? " (expired)" : "", "signature", sigstate,
           pub != NULL ? "--pubkey" : "trust store", why[0] ? ": " : "", why);
    fflush(stdout);
  }
  return rc == LIC_OK ? EXIT_OK : EXIT_FAIL;
}

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
    default: return cli_bad_option("inspect", argv, opts);
    }
  }
  if (argc - optind != 1)
    return cli_usage("inspect", "give exactly one FILE");
  const char *path = argv[optind];
  if (pubfile != NULL && (rc = lic_key_load_public(pubfile, &pub)) != LIC_OK)
    return cli_lic_error("--pubkey", rc);

  r = EXIT_FAIL;
  if ((rc = lic_file_read(path, LIC_MAX_FILE, &file, &flen)) != LIC_OK && strcmp(path, "-") != 0) {
    /* Not a readable file: perhaps a code typed or pasted as the argument. */
    lic_code code;
    int frc = rc;
    char ferr[400];
    snprintf(ferr, sizeof ferr, "%s", lic_errfull(frc));
    rc = lic_code_parse(path, &code);
    if (rc == LIC_OK) {
      r = inspect_code(&code, &ct.t, pub, json);
      goto out;
    }
    if (rc == LIC_TYPO) { /* clearly meant as a code */
      r = cli_lic_error("code", rc);
      goto out;
    }
    r = cli_error(EXIT_FAIL, path, "%s (and not an activation code either)", ferr);
    goto out;
  }
  if (rc == LIC_OK && b64_text(file, flen)) {
    /* One base64(url) string: the verdict or chain entry of a JSON answer. */
    size_t n = flen;
    while (n > 0 && (file[n - 1] == '\n' || file[n - 1] == '\r' || file[n - 1] == ' '))
      n--;
    rc = lic_b64_decode((const char *)file, n, &bytes, &blen);
    if (rc == LIC_OK)
      rc = lic_envelope_decode(bytes, blen, &env);
    if (rc != LIC_OK) {
      r = cli_lic_error(path, rc);
      goto out;
    }
  } else if (rc != LIC_OK ||
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
  char formwhy[400] = "", certnote[400] = "";
  if (strcmp(env.typ, "license") == 0) {
    lic_license l;
    if ((rc = lic_license_parse(env.body, env.body_len, &l)) != LIC_OK) {
      snprintf(formwhy, sizeof formwhy, "%s", lic_errfull(rc));
      ok = false;
    }
    lic_license_clear(&l);
  } else if (strcmp(env.typ, LIC_ACCOUNT_TYP) == 0) {
    lic_account a;
    if ((rc = lic_account_parse(env.body, env.body_len, &a)) != LIC_OK) {
      snprintf(formwhy, sizeof formwhy, "%s", lic_errfull(rc));
      ok = false;
    }
    lic_account_clear(&a);
  } else if (strcmp(env.typ, LIC_REVOCATIONS_TYP) == 0) {
    lic_revocations rv;
    if ((rc = lic_revocations_parse(env.body, env.body_len, &rv)) != LIC_OK) {
      snprintf(formwhy, sizeof formwhy, "%s", lic_errfull(rc));
      ok = false;
    }
    lic_revocations_clear(&rv);
  } else if (strcmp(env.typ, LIC_CERT_TYP) == 0) {
    lic_cert cb;
    if ((rc = lic_cert_parse(env.body, env.body_len, &cb)) != LIC_OK) {
      snprintf(formwhy, sizeof formwhy, "%s", lic_errfull(rc));
      ok = false;
    } else if ((rc = lic_cert_usable(&cb, (int64_t)time(NULL))) != LIC_OK) {
      /* well formed, but not usable now: said, not a failure of the file */
      snprintf(certnote, sizeof certnote, "%s", lic_errfull(rc));
    }
  } else {
    lic_mp_obj o;
    if ((rc = lic_envelope_body(&env, &o)) != LIC_OK) {
      snprintf(formwhy, sizeof formwhy, "%s", lic_errfull(rc));
      ok = false;
    }
  }

  if (json)
    cli_json_time_twins(body); /* the numbers stay, dates beside them */
  else
    cli_json_times_as_dates(body);
  if (json) {
    out = json_pack("{s:s, s:s, s:s, s:s, s:b, s:O}", "typ", env.typ, "kid", kid, "signature",
                    sigstate, "checked_with", signer, "ok", ok, "body", body);
    if (sigwhy[0] != '\0')
      json_object_set_new(out, "signature_error", json_string(sigwhy));
    if (formwhy[0] != '\0')
      json_object_set_new(out, "body_error", json_string(formwhy));
    if (certnote[0] != '\0')
      json_object_set_new(out, "cert_not_usable_now", json_string(certnote));
    cli_json_print(out);
    out = NULL;
  } else {
    printf("%-16s %s\n%-16s %s\n%-16s %s (%s)%s%s\n", "typ", env.typ, "kid", kid, "signature",
           sigstate, signer, sigwhy[0] ? ": " : "", sigwhy);
    if (formwhy[0] != '\0')
      printf("%-16s %s\n", "body error", formwhy);
    if (certnote[0] != '\0')
      printf("%-16s %s\n", "not usable now", certnote);
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
