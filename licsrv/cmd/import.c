/* cmd/import.c - `licsrv import`: a license (private mode), an account or an
 * online-key certificate (public mode), verified, stored durably, audited.
 * Safe while the server runs: LMDB serializes writers across processes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lic/machine.h"
#include "cmd/cmd.h"
#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/license.h"
#include "lic/mp.h"
#include "lic/account.h"
#include "lic/cert.h"
#include "lic/revocations.h"
#include "core/lineage_store.h"
#include "core/public.h"
#include "core/renew.h"

static const char HELP[] =
    "usage: licsrv import FILE [--trust PEM]... [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "Import a signed license (private mode: it must name this server's node key),\n"
    "an account or an online-key certificate (public mode). The signature is\n"
    "checked against the trust store first: the built-in vendor keys (none in a\n"
    "build from the source repository) and those of 'licsrv trust add', or only\n"
    "the --trust keys when given. --trust is for this import only: to trust a\n"
    "vendor key for the admin API and online activation claims too, run\n"
    "'licsrv trust add VENDOR.pub.pem'. A renewal (a license that supersedes\n"
    "another) must keep the binding of the license it renews when that one is\n"
    "imported here: customer, project, machine, node key ... (docs/server.md);\n"
    "once its not_before is reached it answers for the lineage. The import is\n"
    "committed and synced\n"
    "before this command returns, and works while 'licsrv serve' runs.\n"
    "Accounts and certificates are stored as signed; the public-mode server\n"
    "parses their terms when it uses them. An account already imported is\n"
    "renewed in place by an envelope of the same id with a later 'issued'\n"
    "(its registrations and revocation stay); an older one is refused\n"
    "(docs/public.md, \"Renewing an account\").\n"
    "A revocation list (licgen revoke) is kept in the data directory when it is\n"
    "newer than the one there, and every license and account it names that this\n"
    "server holds is revoked, audited (docs/revocation.md).\n"
    "\n"
    "  --trust PEM    trusted vendor root public key for this import (repeatable;\n"
    "                 replaces the server's trust store)\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print the result as JSON\n";

typedef struct {
  const char *typ;
  uint8_t id[LIC_ID_LEN];
  const uint8_t *env;
  size_t len;
  int64_t now;
  store_import_outcome outcome; /* licenses */
  lic_account acct;             /* accounts: parsed, for the renewal decision */
  pub_import renewal;
  char actor[STORE_MAX_TOKEN_NAME + 1];
  const lic_revocations *rv; /* the kept revocation list (seq 0: none) */
  bool listed;               /* the license or account is on it: revoked in the same write */
} import_op;

/* A license or account the kept revocation list names is revoked as it comes
 * in, whichever was imported first (docs/revocation.md). */
static int import_apply(store_wtxn *w, void *arg) {
  import_op *op = arg;
  int rc;
  op->listed = false; /* the write may be applied again */
  if (strcmp(op->typ, "license") == 0) {
    rc = store_w_license_import(w, op->id, op->env, op->len, op->now, &op->outcome);
    if (rc == LIC_OK && lic_revocations_has_license(op->rv, op->id) &&
        (rc = store_w_license_revoke(w, op->id, op->now)) == LIC_OK)
      op->listed = true;
    return rc;
  }
  if (strcmp(op->typ, "account") == 0) {
    rc = pub_w_account_import(w, op->env, op->len, &op->acct, op->now, op->actor, &op->renewal);
    if (rc == LIC_OK && lic_revocations_has_account(op->rv, op->id) &&
        (rc = store_w_account_revoke(w, op->id, op->now)) == LIC_OK)
      op->listed = true;
    return rc;
  }
  return store_w_cert_add(w, op->id, op->env, op->len, op->now);
}

/* A signature by a key not trusted here: the fix for this interface. */
static int untrusted_error(const char *path, int r, bool given) {
  if (r != LIC_UNTRUSTED)
    return cli_error(EXIT_FAIL, path, "%s", lic_errfull(r));
  return cli_error(EXIT_FAIL, path, "%s: %s", lic_errfull(r),
                   given ? "give the --trust key that signed it"
                         : "trust the vendor's key once with 'licsrv trust add VENDOR.pub.pem' "
                           "(or give --trust VENDOR.pub.pem for this import only)");
}

int licsrv_cmd_import(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"trust", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
  licsrv_opts o;
  cli_trust ct;
  const char *path;
  uint8_t *file = NULL, *bytes = NULL;
  size_t flen = 0, blen = 0;
  lic_envelope env;
  lic_license lic;
  lic_revocations kept;
  lic_trust srvtrust;
  store *s = NULL;
  store_meta meta;
  import_op op;
  char subject[80], idtext[LIC_UUID_LEN + 1] = "";
  int cert_role = -1;
  uint8_t cert_kid[LIC_KID_LEN] = {0};
  int c, r, ex;

  memset(&lic, 0, sizeof lic);
  memset(&op, 0, sizeof op);
  memset(&kept, 0, sizeof kept);
  op.rv = &kept;
  licsrv_opts_init(&o);
  cli_trust_init(&ct);
  while ((c = licsrv_next_opt("import", HELP, argc, argv, ":h", opts, &o, &ex)) > 0) {
    switch (c) {
    case 't':
      if ((ex = cli_trust_add(&ct, optarg)) != EXIT_OK)
        return ex;
      break;
    }
  }
  if (c < 0)
    return ex;
  if (argc - optind != 1)
    return cli_usage("import", "expected exactly one FILE");
  path = argv[optind];
  if ((ex = licsrv_opts_finish(&o, "import")) != EXIT_OK)
    return ex;
  /* Without --trust: what the running server trusts (built-in + DATA/trusted). */
  if (!ct.replaced && (r = licsrv_trust_load(o.data, &ct.t)) != LIC_OK)
    return cli_lic_error("trust", r);

  /* Verify everything before touching the store. */
  if ((r = lic_file_read(path, LIC_MAX_FILE, &file, &flen)) != LIC_OK ||
      (r = lic_unarmor_any(file, flen, &bytes, &blen)) != LIC_OK ||
      (r = lic_envelope_decode(bytes, blen, &env)) != LIC_OK) {
    ex = cli_error(EXIT_FAIL, path, "%s", lic_errfull(r));
    goto out;
  }
  if (strcmp(env.typ, LIC_REVOCATIONS_TYP) == 0) {
    ex = licsrv_import_revocations(&o, &ct.t, path, bytes, blen);
    goto out;
  }
  if (strcmp(env.typ, "license") != 0 && strcmp(env.typ, "account") != 0 &&
      strcmp(env.typ, "cert") != 0) {
    ex = cli_error(EXIT_FAIL, path, "this is a %s; licsrv imports a license, account, cert or "
                   "revocation list", env.typ);
    goto out;
  }
  if ((ex = licsrv_open_store(&o, 0, &s)) != EXIT_OK || (ex = licsrv_read_meta(&o, s, true, &meta)) != EXIT_OK)
    goto out;
  op.typ = env.typ;
  op.env = bytes;
  op.len = blen;
  op.now = (int64_t)time(NULL);
  if (strcmp(env.typ, "license") == 0) {
    if ((r = lic_license_open(bytes, blen, &ct.t, &lic)) != LIC_OK) {
      ex = untrusted_error(path, r, ct.replaced);
      goto out;
    }
    if (strcmp(meta.mode, "private") != 0) {
      ex = cli_error(EXIT_FAIL, path, "a license is imported by a private-mode server (this one is %s)", meta.mode);
      goto out;
    }
    if (lic.mode != LIC_MODE_PRIVATE) {
      ex = cli_error(EXIT_FAIL, path, "this is a %s-mode license; licsrv serves private-mode licenses",
                     lic_mode_name(lic.mode));
      goto out;
    }
    if (!lic.has_node_key || memcmp(lic.node_key, meta.node_pub, LIC_PUBKEY_LEN) != 0) {
      uint8_t kid[LIC_KID_LEN];
      char theirs[2 * LIC_KID_LEN + 1], ours[2 * LIC_KID_LEN + 1];
      lic_kid_of(lic.node_key, kid);
      lic_kid_hex(kid, theirs);
      lic_kid_hex(meta.node_kid, ours);
      ex = cli_error(EXIT_FAIL, path,
                     "the license is for another license server (node key %s; this server's is %s)",
                     theirs, ours);
      goto out;
    }
    lic_machine m;
    if ((r = lic_machine_read(&m)) != LIC_OK) {
      ex = cli_lic_error("machine", r);
      goto out;
    }
    if (!lic_machine_matches(&m, lic.machine_code, lic.macs, lic.nmacs)) {
      ex = cli_error(EXIT_FAIL, path, "the license is bound to machine %s, this is %s",
                     lic.machine_code, m.code);
      goto out;
    }
    /* A renewal keeps the binding of the license it renews (SPEC §4.6). */
    store_reader *rd = NULL;
    char why[300];
    if ((r = store_reader_new(s, &rd)) == LIC_OK && (r = store_reader_begin(rd)) == LIC_OK) {
      r = srv_lineage_import_check(rd, &lic, why, sizeof why);
      store_reader_end(rd);
    }
    store_reader_free(rd);
    if (r != LIC_OK) {
      ex = r == LIC_INVALID ? cli_error(EXIT_FAIL, path, "%s", why) : cli_lic_error("store", r);
      goto out;
    }
    memcpy(op.id, lic.id, LIC_ID_LEN);
  } else {
    if (strcmp(meta.mode, "public") != 0) {
      ex = cli_error(EXIT_FAIL, path, "an %s is imported by a public-mode server (this one is %s)",
                     env.typ, meta.mode);
      goto out;
    }
    if (strcmp(env.typ, "account") == 0) {
      if ((r = lic_account_open(bytes, blen, &ct.t, &op.acct)) != LIC_OK) {
        ex = untrusted_error(path, r, ct.replaced);
        goto out;
      }
      memcpy(op.id, op.acct.id, LIC_ID_LEN);
      licsrv_operator(op.actor, sizeof op.actor);
    } else {
      lic_cert cert;
      if ((r = lic_cert_open(bytes, blen, &ct.t, &cert)) != LIC_OK) {
        ex = untrusted_error(path, r, ct.replaced);
        goto out;
      }
      if (strcmp(cert.role, LIC_CERT_ROLE) != 0) {
        ex = cli_error(EXIT_FAIL, path, "the certificate's role is '%s', not %s", cert.role,
                       LIC_CERT_ROLE);
        goto out;
      }
      if (cert.expires <= op.now) {
        ex = cli_error(EXIT_FAIL, path, "the certificate has expired");
        goto out;
      }
      cert_role = pub_key_role(o.data, cert.pubkey);
      if (cert_role < 0 || cert_role == 2) {
        ex = cli_error(EXIT_FAIL, path, "the certificate is for another online key than %s/%s "
                       "or %s/%s", o.data, LICSRV_ONLINE_PUB, o.data, LICSRV_ONLINE_NEXT_PUB);
        goto out;
      }
      memcpy(op.id, cert.id, LIC_ID_LEN);
      lic_kid_of(cert.pubkey, cert_kid);
    }
  }
  if (strcmp(env.typ, "cert") == 0) {
    char kid[2 * LIC_KID_LEN + 1];
    lic_kid_hex(cert_kid, kid);
    snprintf(subject, sizeof subject, "cert:%s", kid);
    lic_uuid_format(op.id, idtext);
  } else {
    licsrv_subject(env.typ, op.id, subject, sizeof subject);
    lic_uuid_format(op.id, idtext);
  }
  /* The kept list, under this import's trust or else what the server trusts
   * (it was imported under either): one that opens under neither stops the
   * import rather than being skipped. */
  r = lic_revocations_remember(o.data, NULL, 0, &ct.t, &kept, NULL);
  if (r != LIC_OK && r != LIC_NOTFOUND && ct.replaced &&
      licsrv_trust_load(o.data, &srvtrust) == LIC_OK)
    r = lic_revocations_remember(o.data, NULL, 0, &srvtrust, &kept, NULL);
  if (r != LIC_OK && r != LIC_NOTFOUND) {
    ex = cli_error(EXIT_FAIL, "revocations", "%s", lic_errfull(r));
    goto out;
  }
  if ((r = licsrv_write_audited(s, import_apply, &op, "import", subject)) != LIC_OK) {
    /* an account older than the one stored: the detail says both dates */
    if (r == LIC_EXISTS && strcmp(env.typ, "account") == 0)
      ex = cli_error(EXIT_FAIL, path, "%s", lic_errdetail());
    else
      ex = cli_lic_error("store", r);
    goto out;
  }
  /* The pending key's certificate is in: it becomes the signing key. */
  if (cert_role == 1 && (r = pub_promote_next(o.data)) != LIC_OK) {
    ex = cli_lic_error("rekey", r);
    goto out;
  }
  if (o.json) {
    json_t *j = json_pack("{s:s, s:s}", "type", env.typ, "subject", subject);
    if (j != NULL && idtext[0] != '\0')
      json_object_set_new(j, "id", json_string(idtext));
    if (j != NULL && strcmp(env.typ, "license") == 0) {
      json_object_set_new(j, "customer", json_string(lic.customer));
      json_object_set_new(j, "expires", json_integer(lic.expires));
      json_object_set_new(j, "revoked",
                          json_boolean(op.outcome == STORE_IMPORT_REVOKED || op.listed));
    }
    if (j != NULL && strcmp(env.typ, "account") == 0) {
      json_object_set_new(j, "renewed", json_boolean(op.renewal.kind == PUB_IMPORT_RENEWED));
      json_object_set_new(j, "capacity", json_integer(op.acct.capacity));
      json_object_set_new(j, "token_changed", json_boolean(op.renewal.token_changed));
      json_object_set_new(j, "revoked", json_boolean(op.listed));
    }
    ex = cli_json_print(j);
  } else {
    if (strcmp(env.typ, "license") == 0) {
      char until[LIC_UNTIL_LEN];
      lic_until_format(lic.expires, until);
      /* A revoked license stays revoked: "imported" would read as usable. */
      printf("%s license %s (%s, %s)\n",
             op.outcome == STORE_IMPORT_REVOKED ? "already imported (revoked):" : "imported",
             idtext, lic.customer, until);
    } else if (strcmp(env.typ, "account") == 0 && op.renewal.kind == PUB_IMPORT_RENEWED) {
      char until[LIC_UNTIL_LEN];
      lic_until_format(op.acct.expires, until);
      /* registrations and the token stay unless the renewal has a new one */
      printf("renewed account %s (capacity %lld -> %lld, %s%s)\n", idtext,
             (long long)op.renewal.old_capacity, (long long)op.acct.capacity, until,
             op.renewal.token_changed ? "; a new token: the old one no longer works" : "");
    } else {
      printf("imported %s %s%s\n", env.typ, idtext[0] != '\0' ? idtext : subject,
             cert_role == 1 ? " (the pending online key signs from now on)" : "");
    }
    if (op.listed)
      printf("revoked: the %s is on the vendor's revocation list (seq %lld)\n", env.typ,
             (long long)kept.seq);
    ex = EXIT_OK;
  }
out:
  lic_revocations_clear(&kept);
  lic_license_clear(&lic);
  lic_account_clear(&op.acct);
  store_close(s);
  free(file);
  free(bytes);
  return ex;
}
