/* cmd/import_rev.c - `licsrv import` of a signed revocation list
 * (docs/revocation.md): the newest list is kept in the data directory (an
 * older one never replaces it), and every license and account it names that
 * this server holds is revoked, in one audited write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/err.h"
#include "lic/revocations.h"

typedef struct {
  const lic_revocations *rv;
  int64_t now;
  size_t licenses, accounts; /* held here (revoked now or before) */
} rev_op;

/* Revoking twice keeps the first time; an id this server does not hold is
 * no error (a list names every customer's licenses). */
static int rev_apply(store_wtxn *w, void *arg) {
  rev_op *op = arg;
  int rc;
  op->licenses = op->accounts = 0; /* the write may be applied again */
  for (size_t i = 0; i < op->rv->nlicenses; i++) {
    rc = store_w_license_revoke(w, op->rv->licenses + i * LIC_ID_LEN, op->now);
    if (rc == LIC_OK)
      op->licenses++;
    else if (rc != LIC_NOTFOUND)
      return rc;
  }
  for (size_t i = 0; i < op->rv->naccounts; i++) {
    rc = store_w_account_revoke(w, op->rv->accounts + i * LIC_ID_LEN, op->now);
    if (rc == LIC_OK)
      op->accounts++;
    else if (rc != LIC_NOTFOUND)
      return rc;
  }
  return LIC_OK;
}

int licsrv_import_revocations(const licsrv_opts *o, const lic_trust *t, const char *path,
                              const uint8_t *env, size_t len) {
  lic_revocations given, newest;
  store *s = NULL;
  bool replaced = false;
  char subject[STORE_MAX_SUBJECT + 1];
  int ex, r;

  memset(&newest, 0, sizeof newest);
  if ((r = lic_revocations_open(env, len, t, &given)) != LIC_OK)
    return cli_error(EXIT_FAIL, path, "%s", lic_errfull(r));
  int64_t given_seq = given.seq;
  lic_revocations_clear(&given);
  if ((ex = licsrv_open_store(o, 0, &s)) != EXIT_OK)
    return ex;
  if ((r = lic_revocations_remember(o->data, env, len, t, &newest, &replaced)) != LIC_OK) {
    ex = r == LIC_EXISTS ? cli_error(EXIT_FAIL, path, "%s", lic_errdetail())
                         : cli_lic_error(o->data, r);
    goto out;
  }
  rev_op op = {&newest, (int64_t)time(NULL), 0, 0};
  snprintf(subject, sizeof subject, "revocations:seq %lld", (long long)newest.seq);
  if ((r = licsrv_write_audited(s, rev_apply, &op, "import", subject)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  if (o->json) {
    ex = cli_json_print(json_pack("{s:s, s:I, s:I, s:b, s:I, s:I, s:I}", "type",
                                  LIC_REVOCATIONS_TYP, "seq", (json_int_t)given_seq, "kept_seq",
                                  (json_int_t)newest.seq, "replaced", replaced,
                                  "licenses_revoked", (json_int_t)op.licenses,
                                  "accounts_revoked", (json_int_t)op.accounts,
                                  "activations_listed", (json_int_t)newest.nactivations));
  } else {
    if (given_seq < newest.seq)
      printf("revocation list seq %lld is older than seq %lld imported before: kept seq %lld; ",
             (long long)given_seq, (long long)newest.seq, (long long)newest.seq);
    else
      printf("imported revocation list seq %lld: ", (long long)newest.seq);
    printf("%zu license%s and %zu account%s held here revoked\n", op.licenses,
           op.licenses == 1 ? "" : "s", op.accounts, op.accounts == 1 ? "" : "s");
    ex = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
  }
out:
  lic_revocations_clear(&newest);
  store_close(s);
  return ex;
}
