/* tls_resume.c - the TLS sessions liblic's https:// calls keep (lic/tls.h):
 * one per (host, port, trust) for the last few servers, the newest kept,
 * offered at the next call to the same one. OpenSSL's own lock, so calls on
 * several threads may share one. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "internal.h"

#define SLOTS 8 /* servers: a primary and its standbys (LIC_SESSION_MAX_SERVERS) */
#define KEYLEN 1024

typedef struct {
  char key[KEYLEN];
  SSL_SESSION *s;
  uint64_t used; /* the call count when last used: the oldest goes first */
} slot;

struct lic_tls_resume {
  CRYPTO_RWLOCK *lock;
  slot slots[SLOTS];
  uint64_t calls, full, resumed;
};

int lic_tls_resume_new(lic_tls_resume **out) {
  lic_tls_resume *r = calloc(1, sizeof *r);
  *out = NULL;
  if (r == NULL || (r->lock = CRYPTO_THREAD_lock_new()) == NULL) {
    free(r);
    return LIC_NOMEM;
  }
  *out = r;
  return LIC_OK;
}

void lic_tls_resume_free(lic_tls_resume *r) {
  if (r == NULL)
    return;
  for (size_t i = 0; i < SLOTS; i++)
    SSL_SESSION_free(r->slots[i].s);
  CRYPTO_THREAD_lock_free(r->lock);
  free(r);
}

void lic_tls_resume_counts(lic_tls_resume *r, uint64_t *full, uint64_t *resumed) {
  *full = *resumed = 0;
  if (r == NULL || !CRYPTO_THREAD_read_lock(r->lock))
    return;
  *full = r->full;
  *resumed = r->resumed;
  CRYPTO_THREAD_unlock(r->lock);
}

static slot *find(lic_tls_resume *r, const char *key) {
  for (size_t i = 0; i < SLOTS; i++)
    if (r->slots[i].key[0] != '\0' && strcmp(r->slots[i].key, key) == 0)
      return &r->slots[i];
  return NULL;
}

SSL_SESSION *lic__tls_resume_get(lic_tls_resume *r, const char *key) {
  SSL_SESSION *s = NULL;
  if (r == NULL || strlen(key) >= KEYLEN || !CRYPTO_THREAD_write_lock(r->lock))
    return NULL;
  slot *sl = find(r, key);
  if (sl != NULL && sl->s != NULL && SSL_SESSION_is_resumable(sl->s) &&
      SSL_SESSION_up_ref(sl->s) == 1)
    s = sl->s;
  CRYPTO_THREAD_unlock(r->lock);
  return s;
}

void lic__tls_resume_put(lic_tls_resume *r, const char *key, SSL_SESSION *s, bool resumed) {
  if (r == NULL || !CRYPTO_THREAD_write_lock(r->lock)) {
    SSL_SESSION_free(s);
    return;
  }
  if (s != NULL) /* NULL: a handshake that failed */
    (*(resumed ? &r->resumed : &r->full))++;
  r->calls++;
  slot *sl = strlen(key) < KEYLEN ? find(r, key) : NULL;
  if (sl == NULL && s != NULL && strlen(key) < KEYLEN) {
    sl = &r->slots[0];
    for (size_t i = 1; i < SLOTS; i++) /* a free slot, or the least recently used */
      if (r->slots[i].key[0] == '\0' || (sl->key[0] != '\0' && r->slots[i].used < sl->used))
        sl = &r->slots[i];
    memcpy(sl->key, key, strlen(key) + 1);
  }
  if (sl != NULL) {
    SSL_SESSION_free(sl->s);
    sl->s = s; /* NULL: forgotten (its handshake failed) */
    sl->used = r->calls;
    if (s == NULL)
      sl->key[0] = '\0';
    s = NULL;
  }
  CRYPTO_THREAD_unlock(r->lock);
  SSL_SESSION_free(s);
}
