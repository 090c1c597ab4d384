/* acctlimit.c - requests per account (public mode): a token bucket per
 * account in a table of SRV_ACCTLIMIT_SLOTS probed linearly, the stalest
 * entry of a full probe run replaced (as core/nodelimit.c). A request is
 * UNIT units and a millisecond adds per_minute of them: the refill is exact
 * in integers, no remainder lost between requests. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "core/acctlimit.h"

#define PROBE 8
#define UNIT 60000 /* one request: the units a minute's milliseconds refill at 1/min */

typedef struct {
  uint8_t account[LIC_ID_LEN];
  bool used;
  int64_t at;      /* ms of the last refill */
  int64_t units;   /* requests x UNIT, at most per_minute x UNIT */
} entry;

struct srv_acctlimit {
  pthread_mutex_t mu;
  _Atomic uint32_t per_minute; /* read without mu: 0 skips the table */
  entry t[SRV_ACCTLIMIT_SLOTS];
};

srv_acctlimit *srv_acctlimit_new(uint32_t per_minute) {
  srv_acctlimit *l = calloc(1, sizeof *l);
  if (l == NULL)
    return NULL;
  l->per_minute = per_minute;
  pthread_mutex_init(&l->mu, NULL);
  return l;
}

void srv_acctlimit_free(srv_acctlimit *l) {
  if (l == NULL)
    return;
  pthread_mutex_destroy(&l->mu);
  free(l);
}

uint32_t srv_acctlimit_get(srv_acctlimit *l) { return l != NULL ? atomic_load(&l->per_minute) : 0; }

void srv_acctlimit_set(srv_acctlimit *l, uint32_t per_minute) {
  if (l != NULL)
    atomic_store(&l->per_minute, per_minute);
}

/* The account's entry (a new one starts full); never NULL. */
static entry *lookup(srv_acctlimit *l, const uint8_t account[LIC_ID_LEN], int64_t now_ms,
                     int64_t full) {
  uint64_t h = srv_fnv1a64(SRV_FNV64_BASIS, account, LIC_ID_LEN);
  entry *stale = NULL;
  for (int p = 0; p < PROBE; p++) {
    entry *e = &l->t[(h + (uint64_t)p) % SRV_ACCTLIMIT_SLOTS];
    if (e->used && memcmp(e->account, account, LIC_ID_LEN) == 0)
      return e;
    if (!e->used) { /* the first free slot, else the one refilled longest ago */
      if (stale == NULL || stale->used)
        stale = e;
    } else if (stale == NULL || (stale->used && e->at < stale->at)) {
      stale = e;
    }
  }
  memset(stale, 0, sizeof *stale);
  stale->used = true;
  memcpy(stale->account, account, LIC_ID_LEN);
  stale->at = now_ms;
  stale->units = full;
  return stale;
}

bool srv_acctlimit_take(srv_acctlimit *l, const uint8_t account[LIC_ID_LEN], int64_t now_ms,
                        uint32_t *retry_s) {
  uint32_t per_minute = srv_acctlimit_get(l);
  *retry_s = 0;
  if (per_minute == 0)
    return true;
  int64_t full = (int64_t)per_minute * UNIT;
  pthread_mutex_lock(&l->mu);
  entry *e = lookup(l, account, now_ms, full);
  if (now_ms > e->at) {
    int64_t dt = now_ms - e->at;
    int64_t add = dt >= 60000 ? full : dt * (int64_t)per_minute;
    e->units = e->units + add > full ? full : e->units + add;
    e->at = now_ms;
  } else if (now_ms < e->at) {
    e->at = now_ms; /* the clock stepped back: refill from here */
  }
  if (e->units > full)
    e->units = full; /* the rate was lowered */
  bool ok = e->units >= UNIT;
  if (ok) {
    e->units -= UNIT;
  } else {
    int64_t ms = (UNIT - e->units + per_minute - 1) / per_minute; /* until one request */
    *retry_s = (uint32_t)((ms + 999) / 1000);
    if (*retry_s == 0)
      *retry_s = 1;
  }
  pthread_mutex_unlock(&l->mu);
  return ok;
}
