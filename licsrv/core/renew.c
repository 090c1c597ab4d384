/* renew.c - an account renewed in place (SPEC §3.4, §4.6): the decision on
 * an import over a stored envelope, and the write that applies it. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/renew.h"
#include "lic/envelope.h"
#include "lic/err.h"

/* The stored envelope's issued and capacity; false when it does not parse. */
static bool stored_terms(const uint8_t *env, size_t len, int64_t *issued, int64_t *capacity,
                         uint8_t token_hash[LIC_TOKEN_HASH_LEN]) {
  lic_envelope e;
  lic_account a;
  if (lic_envelope_decode(env, len, &e) != LIC_OK || strcmp(e.typ, LIC_ACCOUNT_TYP) != 0 ||
      lic_account_parse(e.body, e.body_len, &a) != LIC_OK)
    return false;
  *issued = a.issued;
  *capacity = a.capacity;
  memcpy(token_hash, a.token_hash, LIC_TOKEN_HASH_LEN);
  lic_account_clear(&a);
  return true;
}

void pub_account_import_decide(const uint8_t *old, size_t old_len, const uint8_t *next,
                               size_t next_len, const lic_account *next_acct, pub_import *out) {
  uint8_t old_hash[LIC_TOKEN_HASH_LEN];
  memset(out, 0, sizeof *out);
  if (old == NULL || old_len == 0) {
    out->kind = PUB_IMPORT_NEW;
    return;
  }
  if (old_len == next_len && memcmp(old, next, next_len) == 0) {
    out->kind = PUB_IMPORT_SAME;
    stored_terms(old, old_len, &out->old_issued, &out->old_capacity, old_hash);
    return;
  }
  if (!stored_terms(old, old_len, &out->old_issued, &out->old_capacity, old_hash)) {
    out->old_issued = -1;
    out->old_capacity = 0;
    memcpy(old_hash, next_acct->token_hash, sizeof old_hash);
  }
  if (next_acct->issued <= out->old_issued) {
    out->kind = PUB_IMPORT_STALE;
    return;
  }
  out->kind = PUB_IMPORT_RENEWED;
  out->token_changed = memcmp(old_hash, next_acct->token_hash, sizeof old_hash) != 0;
}

static void when(int64_t t, char *buf, size_t cap) {
  struct tm tm;
  time_t tt = (time_t)t;
  if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
    snprintf(buf, cap, "%s", "undated (signed before accounts carried 'issued')");
  else
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

int pub_w_account_import(store_wtxn *w, const uint8_t *next, size_t next_len,
                         const lic_account *next_acct, int64_t now, const char *actor,
                         pub_import *out) {
  store_account cur;
  char subject[STORE_MAX_SUBJECT + 1], id[LIC_UUID_LEN + 1];
  int rc = store_w_account_get(w, next_acct->id, &cur);
  memset(out, 0, sizeof *out);
  if (rc != LIC_OK && rc != LIC_NOTFOUND)
    return rc;
  pub_account_import_decide(rc == LIC_OK ? cur.env : NULL, rc == LIC_OK ? cur.env_len : 0, next,
                            next_len, next_acct, out);
  store_account_clear(&cur);
  lic_uuid_format(next_acct->id, id);
  if (out->kind == PUB_IMPORT_STALE) {
    char a[64], b[64];
    when(next_acct->issued, a, sizeof a);
    when(out->old_issued, b, sizeof b);
    return lic_fail(LIC_EXISTS,
                    "account %s: this envelope was issued %s, the one in the store %s; a "
                    "renewal must be issued later (licgen account --renew)",
                    id, a, b);
  }
  if ((rc = store_w_account_put(w, next_acct->id, next, next_len, now)) != LIC_OK)
    return rc;
  if (out->token_changed) {
    snprintf(subject, sizeof subject, "account:%s", id);
    rc = store_w_audit_append(w, now, actor, "account.token", subject);
  }
  return rc;
}
