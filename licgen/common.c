/* common.c - what licgen's signing subcommands share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lic/envelope.h"
#include "lic/fileio.h"
#include "lic/keys.h"
#include "lic/license.h"
#include "lic/util.h"
#include "licgen.h"
#include "p11key.h"
#include "p11uri.h"
#include "terms.h"

int licgen_p11_error(int rc) {
  /* The detail names the option itself ("--pin-file: ..."); out of memory
   * has none. */
  if (lic_errdetail()[0] == '\0')
    return cli_lic_error("--key", rc);
  return cli_error(rc == LIC_INVALID ? EXIT_USAGE : EXIT_FAIL, NULL, "%s", lic_errdetail());
}

int licgen_key_load(const char *keyfile, const char *passfile, const licgen_p11 *p11,
                    lic_key **key) {
  char *pass = NULL;
  int r, rc;
  *key = NULL;
  if (p11_uri_is(keyfile)) {
    if (passfile != NULL)
      return cli_error(EXIT_USAGE, "--passphrase-file", "is for key files: a token's PIN "
                       "comes from --pin-file");
    if ((rc = p11_key_load(keyfile, p11->module, p11->pinfile, key)) == LIC_OK)
      return EXIT_OK;
    return licgen_p11_error(rc);
  }
  if (p11->module != NULL || p11->pinfile != NULL)
    return cli_error(EXIT_USAGE, p11->module != NULL ? "--pkcs11-module" : "--pin-file",
                     "only with a pkcs11: URI as --key (a key file takes --passphrase-file)");
  if ((r = cli_passphrase(passfile, &pass)) != EXIT_OK)
    return r;
  rc = lic_key_load_private(keyfile, pass, key);
  if (pass != NULL)
    lic_secret_free(pass, strlen(pass));
  return rc == LIC_OK ? EXIT_OK : cli_lic_error("--key", rc);
}

static const char *lic_article(const char *noun) {
  return strchr("aeiou", noun[0]) != NULL && noun[0] != '\0' ? "an" : "a";
}

int licgen_load_predecessor(const char *path, const char *typ, const lic_key *key,
                            const lic_trust *trust, bool force, uint8_t **env, size_t *len) {
  uint8_t *raw = NULL, *bytes = NULL;
  size_t rawlen = 0, blen = 0;
  lic_envelope e;
  int r = EXIT_FAIL, rc;

  *env = NULL;
  *len = 0;
  if ((rc = lic_file_read(path, LIC_MAX_FILE, &raw, &rawlen)) != LIC_OK ||
      (rc = lic_unarmor_any(raw, rawlen, &bytes, &blen)) != LIC_OK ||
      (rc = lic_envelope_decode(bytes, blen, &e)) != LIC_OK) {
    r = cli_lic_error(path, rc);
    goto out;
  }
  if (strcmp(e.typ, typ) != 0) {
    r = cli_error(EXIT_FAIL, path, "this is %s %s, not %s %s%s", lic_article(e.typ), e.typ,
                  lic_article(typ), typ,
                  strcmp(e.typ, "account") == 0 ? " (renew it with 'licgen account --renew')"
                  : strcmp(e.typ, "license") == 0 ? " (renew it with 'licgen renew')" : "");
    goto out;
  }
  char kid_old[2 * LIC_KID_LEN + 1], kid_new[2 * LIC_KID_LEN + 1];
  lic_kid_hex(e.kid, kid_old);
  lic_kid_hex(lic_key_kid(key), kid_new);
  if (memcmp(e.kid, lic_key_kid(key), LIC_KID_LEN) == 0) {
    rc = lic_envelope_verify_with(&e, lic_key_raw_public(key));
  } else {
    /* Another root signed it: renewing under a new root (a key rotation) is
     * deliberate, and the old signature must still hold against the trust
     * store, or a forged file would gain a genuine successor. */
    if ((rc = lic_envelope_verify(&e, trust)) == LIC_UNTRUSTED) {
      r = cli_error(EXIT_FAIL, path,
                    "signed by root key %s, not by --key (%s), and %s is not in the trust "
                    "store: give --trust with its public key (and --force to renew it under "
                    "--key's root)", kid_old, kid_new, kid_old);
      goto out;
    }
    if (rc == LIC_OK && !force) {
      r = cli_error(EXIT_FAIL, path,
                    "signed by root key %s, and --key is %s: give --force to renew it under "
                    "another root key (a key rotation)", kid_old, kid_new);
      goto out;
    }
  }
  if (rc != LIC_OK) {
    r = cli_lic_error(path, rc);
    goto out;
  }
  *env = bytes;
  *len = blen;
  bytes = NULL; /* transferred */
  r = EXIT_OK;
out:
  free(raw);
  free(bytes);
  return r;
}

json_t *licgen_license_json(const lic_license *l) {
  char id[LIC_UUID_LEN + 1], pid[LIC_UUID_LEN + 1], nb[21], ex[11], until[21], last[11];
  lic_uuid_format(l->id, id);
  lic_uuid_format(l->project_id, pid);
  if (l->not_before % 86400 == 0) /* a day, as given; else the exact second */
    lic_date_format(l->not_before, nb);
  else
    lic_time_format(l->not_before, nb);
  lic_date_format(l->expires, ex);
  /* the end is exclusive: valid until that second, the day before is the last */
  lic_time_format(l->expires, until);
  lic_date_format(l->expires - 1, last);
  json_t *ports = json_array();
  for (size_t i = 0; i < l->nports; i++)
    json_array_append_new(ports, json_integer(l->ports[i]));
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:s, s:s,"
                        " s:s, s:I, s:I, s:I, s:s}",
                        "id", id, "mode", lic_mode_name(l->mode), "customer", l->customer,
                        "project", l->project, "project_id", pid, "product", l->product,
                        "major", (json_int_t)l->major, "features",
                        licgen_strlist_json(&l->features), "domains",
                        licgen_strlist_json(&l->domains), "ports", ports, "apps",
                        licgen_strlist_json(&l->apps), "not_before", nb, "expires",
                        l->expires == 0 ? "never" : ex, "valid_until",
                        l->expires == 0 ? "never" : until, "max_nodes",
                        (json_int_t)l->max_nodes, "heartbeat", (json_int_t)l->heartbeat, "grace",
                        (json_int_t)l->grace, "machine_code", l->machine_code);
  if (o != NULL && l->expires != 0)
    json_object_set_new(o, "last_day", json_string(last));
  if (o != NULL && l->has_supersedes) {
    char sup[LIC_UUID_LEN + 1];
    lic_uuid_format(l->supersedes, sup);
    json_object_set_new(o, "supersedes", json_string(sup));
  }
  return o;
}

void licgen_license_comments(const lic_license *l, const lic_key *key, char *out, size_t cap) {
  char id[LIC_UUID_LEN + 1], kid[2 * LIC_KID_LEN + 1], until[LIC_UNTIL_LEN], sup[80] = "";
  lic_uuid_format(l->id, id);
  lic_until_format(l->expires, until);
  lic_kid_hex(lic_key_kid(key), kid);
  if (l->has_supersedes) {
    char old[LIC_UUID_LEN + 1];
    lic_uuid_format(l->supersedes, old);
    snprintf(sup, sizeof sup, "\nrenews: %s", old);
  }
  snprintf(out, cap,
           "licsrv license %s\ncustomer: %.128s\nproduct: %.128s (major %lld)\n"
           "mode: %s\n%s%s\nsigned by: %s",
           id, l->customer, l->product, (long long)l->major, lic_mode_name(l->mode), until, sup,
           kid);
}

void licgen_print_side_by_side(json_t *old, json_t *neu, const char *const *keys, size_t n) {
  printf("would sign (dry run, nothing written):\n");
  printf("  %-13s %-40s %s\n", "", "old", "new (* changed)");
  for (size_t i = 0; i < n; i++) {
    json_t *a = json_object_get(old, keys[i]), *b = json_object_get(neu, keys[i]);
    char *sa = a != NULL ? json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    char *sb = b != NULL ? json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    const char *va = a == NULL ? "-" : json_is_string(a) ? json_string_value(a) : sa;
    const char *vb = b == NULL ? "-" : json_is_string(b) ? json_string_value(b) : sb;
    bool same = (a == NULL && b == NULL) || (a != NULL && b != NULL && json_equal(a, b));
    printf("%c %-13s %-40s %s\n", same ? ' ' : '*', keys[i], va != NULL ? va : "?",
           vb != NULL ? vb : "?");
    free(sa);
    free(sb);
  }
}
