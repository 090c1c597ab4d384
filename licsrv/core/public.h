/* public.h - public mode's state (SPEC §4): the online keys and their
 * certificates (which key signs now), and account lookups with the same work
 * for an unknown account as for a wrong token. */
#ifndef LICSRV_PUBLIC_H
#define LICSRV_PUBLIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/decide.h"
#include "core/request.h"
#include "lic/account.h"
#include "lic/cert.h"
#include "lic/verdict.h"
#include "store/store.h"

#define PUB_MAX_KEYS       3    /* online.pem, online.next.pem, online.prev.pem */
#define PUB_ACCOUNT_CACHE  16   /* parsed accounts kept per worker */
#define PUB_TOUCH_S        3600 /* a registration's last_valid is rewritten at most hourly */

typedef struct app_public app_public;

/* The online keys of data_dir (DATA/online*.pem) over the store st: LIC_OK, or
 * a LIC_* code with a detail naming the key that does not load. */
int app_public_new(store *st, const char *data_dir, app_public **out);
void app_public_free(app_public *p);

/* One thread's signer for the current online key and a copy of its cert. */
typedef struct {
  uint64_t gen;
  lic_signer *signer;
  uint8_t *cert;
  size_t cert_len;
} app_pub_signer;

void app_pub_signer_clear(app_pub_signer *ps);
/* Bring ps to the current selection: the newest certificate usable now
 * whose key this server holds (re-read from the store at most once a
 * second). LIC_NOTFOUND (detail says why) when there is none. */
int app_public_signer(app_public *p, app_pub_signer *ps, int64_t now);
/* For /healthz and status: the selection now (kid hex and cert expiry). */
int app_public_current(app_public *p, int64_t now, char kid[2 * LIC_KID_LEN + 1],
                       int64_t *cert_expires, char *why, size_t cap);

/* When this server's last usable certificate ends: the latest `expires`
 * among the certificates usable now for an online key it holds (current,
 * pending or previous), 0 when there is none (SPEC §4.6: warned 30 days
 * ahead). Refreshed like the selection, at most once a second. */
int64_t app_public_cert_end(app_public *p, int64_t now);

/* A worker's parsed-account cache. */
typedef struct {
  struct {
    bool used;
    uint8_t *env;
    size_t len;
    lic_account acct;
    uint64_t tick;
  } slot[PUB_ACCOUNT_CACHE];
  uint64_t tick;
} app_pub_cache;

void app_pub_cache_clear(app_pub_cache *c);

/* What a public request's credentials find (reader rd, outside a snapshot):
 * ps filled for srv_decide_*; *used the account's registered projects and
 * *reg the project's registration when ps->registered. The token is hashed
 * and compared in constant time whether or not the account exists. */
int app_public_lookup(store_reader *rd, app_pub_cache *c, const srv_verify_req *q,
                      srv_public_state *ps, size_t *used, store_registration *reg);

/* The verdict body fields of an account (borrowed into v). */
void app_public_verdict_terms(lic_verdict *v, const lic_account *a);

/* Which online key file of data_dir holds pub: LICSRV_ONLINE_KEY (0), the
 * pending LICSRV_ONLINE_NEXT (1), LICSRV_ONLINE_PREV (2), or -1. */
int pub_key_role(const char *data_dir, const uint8_t pub[LIC_PUBKEY_LEN]);
/* The pending key becomes the current one (its certificate is imported):
 * online.pem -> online.prev.pem, online.next.pem -> online.pem, the public
 * halves alike, then the directory is synced. */
int pub_promote_next(const char *data_dir);

#endif
