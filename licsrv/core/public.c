/* public.c - public mode's online keys, certificate selection and account
 * lookups (SPEC §2 online key, §3.7, §4 public mode). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <openssl/crypto.h>

#include "core/datadir.h"
#include "core/public.h"
#include "lic/envelope.h"
#include "lic/err.h"
#include "util/invariant.h"
#include "util/log.h"

struct app_public {
  store *st;
  char dir[4096];
  pthread_mutex_t mu;
  lic_key *keys[PUB_MAX_KEYS];
  int64_t checked;        /* second of the last refresh */
  int64_t keys_loaded;    /* second of the last key-file load */
  uint64_t gen;           /* changes with the selection */
  int cur;                /* index into keys, -1 = none */
  uint8_t *cert;
  size_t cert_len;
  int64_t cert_expires;
  int64_t last_end; /* the latest end of a certificate usable now for a key held, 0 none */
  char why[200];
};

static const char *const KEY_FILES[PUB_MAX_KEYS] = {LICSRV_ONLINE_KEY, LICSRV_ONLINE_NEXT,
                                                    LICSRV_ONLINE_PREV};

/* (Re)load the key files that exist; a missing next/prev is normal. */
static void load_keys(app_public *p) {
  for (int i = 0; i < PUB_MAX_KEYS; i++) {
    char path[4200];
    lic_key *k = NULL;
    snprintf(path, sizeof path, "%s/%s", p->dir, KEY_FILES[i]);
    int rc = lic_key_load_private(path, NULL, &k);
    if (rc != LIC_OK && rc != LIC_NOTFOUND)
    {
      char q[320];
      srv_log(SRV_LOG_WARN, "online_key_unreadable", "file=%s error=%s", KEY_FILES[i],
              SRV_LOG_Q(lic_errfull(rc), q));
    }
    lic_key_free(p->keys[i]);
    p->keys[i] = k;
  }
}

static int key_index(const app_public *p, const uint8_t pub[LIC_PUBKEY_LEN]) {
  for (int i = 0; i < PUB_MAX_KEYS; i++)
    if (p->keys[i] != NULL && memcmp(lic_key_raw_public(p->keys[i]), pub, LIC_PUBKEY_LEN) == 0)
      return i;
  return -1;
}

typedef struct {
  app_public *p;
  int64_t now;
  int best;
  lic_cert bc;
  int64_t imported;
  uint8_t *env;
  size_t len;
  bool missing_key; /* a usable cert for a key we do not hold (yet) */
  int nusable;
  int64_t last_end; /* the latest end among usable certs for keys held */
} pick;

static int pick_cb(const store_cert *sc, void *arg) {
  pick *k = arg;
  lic_envelope e;
  lic_cert c;
  /* Verified against the trust store at import; decoded strictly here. */
  if (lic_envelope_decode(sc->env, sc->env_len, &e) != LIC_OK || strcmp(e.typ, LIC_CERT_TYP) != 0 ||
      lic_cert_parse(e.body, e.body_len, &c) != LIC_OK || lic_cert_usable(&c, k->now) != LIC_OK)
    return 0;
  k->nusable++;
  int i = key_index(k->p, c.pubkey);
  if (i < 0) {
    k->missing_key = true;
    return 0;
  }
  if (c.expires > k->last_end)
    k->last_end = c.expires;
  /* Newest first: the later window, then the later import, then the newer
   * key file (pending over current over previous). */
  static const int RANK[PUB_MAX_KEYS] = {1, 2, 0};
  if (k->best >= 0) {
    int64_t d = c.not_before != k->bc.not_before ? c.not_before - k->bc.not_before
                : sc->imported != k->imported   ? sc->imported - k->imported
                                                : RANK[i] - RANK[k->best];
    if (d <= 0)
      return 0;
  }
  uint8_t *copy = malloc(sc->env_len);
  if (copy == NULL)
    return LIC_NOMEM;
  memcpy(copy, sc->env, sc->env_len);
  free(k->env);
  k->env = copy;
  k->len = sc->env_len;
  k->best = i;
  k->bc = c;
  k->imported = sc->imported;
  return 0;
}

/* Under p->mu. */
static void refresh(app_public *p, int64_t now) {
  store_reader *rd = NULL;
  pick k;
  int rc;
  SRV_ASSERT_LOCKED(&p->mu);
  for (int attempt = 0; attempt < 2; attempt++) {
    memset(&k, 0, sizeof k);
    k.p = p;
    k.now = now;
    k.best = -1;
    if ((rc = store_reader_new(p->st, &rd)) == LIC_OK && (rc = store_reader_begin(rd)) == LIC_OK) {
      rc = store_cert_each(rd, pick_cb, &k);
      store_reader_end(rd);
    }
    store_reader_free(rd);
    rd = NULL;
    /* A certificate for a key file written since we loaded them (rekey, then
     * import): load the files again, at most every few seconds. */
    if (k.missing_key && now - p->keys_loaded >= 2 && attempt == 0) {
      free(k.env);
      load_keys(p);
      p->keys_loaded = now;
      continue;
    }
    break;
  }
  if (rc != LIC_OK) {
    snprintf(p->why, sizeof p->why, "store: %s", lic_errfull(rc));
    free(k.env);
    return; /* keep the last selection */
  }
  p->last_end = k.last_end;
  if (k.best < 0) {
    snprintf(p->why, sizeof p->why, "%s",
             k.nusable > 0 ? "no certificate usable now is for an online key of this server"
                           : "no certificate usable now: certify DATA/online.pub.pem with "
                             "'licgen certify' and 'licsrv import' it");
    if (p->cur >= 0)
      p->gen++;
    p->cur = -1;
    free(p->cert);
    p->cert = NULL;
    p->cert_len = 0;
    free(k.env);
    return;
  }
  p->why[0] = '\0';
  if (k.best != p->cur || p->cert == NULL || k.len != p->cert_len ||
      memcmp(k.env, p->cert, k.len) != 0) {
    char kid[2 * LIC_KID_LEN + 1];
    lic_kid_hex(lic_key_kid(p->keys[k.best]), kid);
    srv_log(SRV_LOG_INFO, "signing_key", "kid=%s file=%s", kid, KEY_FILES[k.best]);
    free(p->cert);
    p->cert = k.env; /* transferred */
    p->cert_len = k.len;
    p->cur = k.best;
    p->cert_expires = k.bc.expires;
    p->gen++;
  } else {
    free(k.env);
  }
}

int app_public_new(store *st, const char *data_dir, app_public **out, char *err, size_t cap) {
  app_public *p = calloc(1, sizeof *p);
  *out = NULL;
  if (p == NULL) {
    snprintf(err, cap, "out of memory");
    return -1;
  }
  pthread_mutex_init(&p->mu, NULL);
  p->st = st;
  p->cur = -1;
  p->gen = 1;
  snprintf(p->dir, sizeof p->dir, "%s", data_dir);
  load_keys(p);
  if (p->keys[0] == NULL) {
    char path[4200];
    lic_key *k = NULL;
    snprintf(path, sizeof path, "%s/%s", data_dir, LICSRV_ONLINE_KEY);
    int rc = lic_key_load_private(path, NULL, &k);
    snprintf(err, cap, "online key %s: %s", path, lic_errfull(rc));
    lic_key_free(k);
    app_public_free(p);
    return -1;
  }
  *out = p;
  return 0;
}

void app_public_free(app_public *p) {
  if (p == NULL)
    return;
  for (int i = 0; i < PUB_MAX_KEYS; i++)
    lic_key_free(p->keys[i]);
  free(p->cert);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

void app_pub_signer_clear(app_pub_signer *ps) {
  if (ps == NULL)
    return;
  lic_signer_free(ps->signer);
  free(ps->cert);
  memset(ps, 0, sizeof *ps);
}

int app_public_signer(app_public *p, app_pub_signer *ps, int64_t now) {
  int rc = LIC_OK;
  pthread_mutex_lock(&p->mu);
  if (now != p->checked) {
    refresh(p, now);
    p->checked = now;
  }
  if (p->cur < 0) {
    rc = lic_fail(LIC_NOTFOUND, "%s", p->why);
    goto out;
  }
  if (ps->gen != p->gen || ps->signer == NULL) {
    lic_signer *s = NULL;
    uint8_t *cert = malloc(p->cert_len);
    if (cert == NULL || (rc = lic_signer_new(p->keys[p->cur], &s)) != LIC_OK) {
      free(cert);
      rc = rc != LIC_OK ? rc : LIC_NOMEM;
      goto out;
    }
    memcpy(cert, p->cert, p->cert_len);
    app_pub_signer_clear(ps);
    ps->signer = s;
    ps->cert = cert;
    ps->cert_len = p->cert_len;
    ps->gen = p->gen;
  }
out:
  pthread_mutex_unlock(&p->mu);
  return rc;
}

int app_public_current(app_public *p, int64_t now, char kid[2 * LIC_KID_LEN + 1],
                       int64_t *cert_expires, char *why, size_t cap) {
  int rc = LIC_OK;
  pthread_mutex_lock(&p->mu);
  if (now != p->checked) {
    refresh(p, now);
    p->checked = now;
  }
  kid[0] = '\0';
  *cert_expires = 0;
  if (p->cur < 0) {
    snprintf(why, cap, "%s", p->why);
    rc = LIC_NOTFOUND;
  } else {
    lic_kid_hex(lic_key_kid(p->keys[p->cur]), kid);
    *cert_expires = p->cert_expires;
    why[0] = '\0';
  }
  pthread_mutex_unlock(&p->mu);
  return rc;
}

int64_t app_public_cert_end(app_public *p, int64_t now) {
  int64_t end;
  pthread_mutex_lock(&p->mu);
  if (now != p->checked) {
    refresh(p, now);
    p->checked = now;
  }
  end = p->last_end;
  pthread_mutex_unlock(&p->mu);
  return end;
}

void app_pub_cache_clear(app_pub_cache *c) {
  if (c == NULL)
    return;
  for (int i = 0; i < PUB_ACCOUNT_CACHE; i++) {
    free(c->slot[i].env);
    lic_account_clear(&c->slot[i].acct);
  }
  memset(c, 0, sizeof *c);
}

/* The parsed account for the stored envelope (cached by its bytes). */
static const lic_account *cached_account(app_pub_cache *c, store_account *sa) {
  int slot = 0;
  uint64_t oldest = UINT64_MAX;
  for (int i = 0; i < PUB_ACCOUNT_CACHE; i++) {
    if (c->slot[i].used && c->slot[i].len == sa->env_len &&
        memcmp(c->slot[i].env, sa->env, sa->env_len) == 0) {
      c->slot[i].tick = ++c->tick;
      return &c->slot[i].acct;
    }
    uint64_t t = c->slot[i].used ? c->slot[i].tick : 0;
    if (t < oldest) {
      oldest = t;
      slot = i;
    }
  }
  lic_envelope e;
  lic_account a;
  if (lic_envelope_decode(sa->env, sa->env_len, &e) != LIC_OK ||
      strcmp(e.typ, LIC_ACCOUNT_TYP) != 0 || lic_account_parse(e.body, e.body_len, &a) != LIC_OK) {
    char q[320];
    srv_log(SRV_LOG_ERROR, "stored_account_unusable", "error=%s",
            SRV_LOG_Q(lic_errfull(LIC_FORMAT), q));
    return NULL;
  }
  free(c->slot[slot].env);
  lic_account_clear(&c->slot[slot].acct);
  c->slot[slot].used = true;
  c->slot[slot].env = sa->env; /* transferred */
  c->slot[slot].len = sa->env_len;
  sa->env = NULL;
  c->slot[slot].acct = a;
  c->slot[slot].tick = ++c->tick;
  return &c->slot[slot].acct;
}

/* Compared against when the account is unknown: the same hash and compare. */
static const uint8_t NO_ACCOUNT_HASH[LIC_TOKEN_HASH_LEN] = {0};

int app_public_lookup(store_reader *rd, app_pub_cache *c, const srv_verify_req *q,
                      srv_public_state *ps, size_t *used, store_registration *reg) {
  store_account sa;
  const lic_account *a = NULL;
  uint8_t h[LIC_TOKEN_HASH_LEN];
  int rc;

  memset(ps, 0, sizeof *ps);
  memset(reg, 0, sizeof *reg);
  memset(&sa, 0, sizeof sa);
  *used = 0;
  /* Hash first, whatever the lookup finds. */
  lic_token_hash(q->token, strlen(q->token), h);
  if ((rc = store_reader_begin(rd)) != LIC_OK)
    return rc;
  rc = store_account_get(rd, q->account, &sa);
  if (rc == LIC_OK) {
    a = cached_account(c, &sa);
  } else if (rc == LIC_NOTFOUND) {
    rc = LIC_OK;
  }
  /* Compared in constant time, against a dummy when there is no account:
   * an unknown account and a wrong token cost the same. */
  ps->acct = a;
  ps->token_ok = CRYPTO_memcmp(h, a != NULL ? a->token_hash : NO_ACCOUNT_HASH, sizeof h) == 0 &&
                 a != NULL;
  OPENSSL_cleanse(h, sizeof h);
  /* Only a right token looks further: a wrong one learns nothing, and costs
   * no more than an unknown account. */
  if (rc == LIC_OK && ps->token_ok) {
    ps->revoked = sa.revoked_at != 0;
    int rr = store_registration_get(rd, q->account, q->project_id, reg);
    ps->registered = rr == LIC_OK;
    if (rr != LIC_OK && rr != LIC_NOTFOUND)
      rc = rr;
    else
      rc = store_registration_count(rd, q->account, used);
  }
  store_reader_end(rd);
  store_account_clear(&sa);
  return rc;
}

void app_public_verdict_terms(lic_verdict *v, const lic_account *a) {
  v->features = a->features;
  v->domains = a->domains;
  v->apps = a->apps;
  v->ports = a->ports;
  v->nports = a->nports;
  v->expires = a->expires;
  v->heartbeat = a->heartbeat;
  v->grace = a->grace;
}

int pub_key_role(const char *data_dir, const uint8_t pub[LIC_PUBKEY_LEN]) {
  static const char *const PUBS[PUB_MAX_KEYS] = {LICSRV_ONLINE_PUB, LICSRV_ONLINE_NEXT_PUB,
                                                 LICSRV_ONLINE_PREV_PUB};
  for (int i = 0; i < PUB_MAX_KEYS; i++) {
    char path[4200];
    lic_key *k = NULL;
    snprintf(path, sizeof path, "%s/%s", data_dir, PUBS[i]);
    if (lic_key_load_public(path, &k) != LIC_OK)
      continue;
    bool same = memcmp(lic_key_raw_public(k), pub, LIC_PUBKEY_LEN) == 0;
    lic_key_free(k);
    if (same)
      return i;
  }
  return -1;
}

static int move(const char *dir, const char *from, const char *to) {
  char a[4200], b[4200];
  snprintf(a, sizeof a, "%s/%s", dir, from);
  snprintf(b, sizeof b, "%s/%s", dir, to);
  if (rename(a, b) != 0)
    return lic_fail(LIC_IO, "rename %s to %s: %s", from, to, strerror(errno));
  return LIC_OK;
}

int pub_promote_next(const char *data_dir) {
  int rc;
  if ((rc = move(data_dir, LICSRV_ONLINE_KEY, LICSRV_ONLINE_PREV)) != LIC_OK ||
      (rc = move(data_dir, LICSRV_ONLINE_PUB, LICSRV_ONLINE_PREV_PUB)) != LIC_OK ||
      (rc = move(data_dir, LICSRV_ONLINE_NEXT, LICSRV_ONLINE_KEY)) != LIC_OK ||
      (rc = move(data_dir, LICSRV_ONLINE_NEXT_PUB, LICSRV_ONLINE_PUB)) != LIC_OK)
    return rc;
  int fd = open(data_dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  return LIC_OK;
}
