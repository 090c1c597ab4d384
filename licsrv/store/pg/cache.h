/* store/pg/cache.h - the per-process read copy of what the verify path reads
 * (cache.c): accounts, their registrations, certificates, for a store opened
 * with STORE_CACHED; and the writer group's own changes it takes after their
 * commit. Its reads run on the caller's connection (the listener's, the
 * writer's, a test's); calls conn.c only. listen.c keeps it fresh. */
#ifndef LICSRV_STORE_PG_CACHE_H
#define LICSRV_STORE_PG_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/pg/lock.h"
#include "store/pg/notify.h"
#include "store/store.h"

typedef struct pgs_store pgs_store;

#define PGS_CACHE_MAX_AGE_MS 60000 /* a full reload at least this often */

/* Tests only (tests/unit/licsrv/store/test_srv_store_cache_pg.c): called by a
 * reload of the copy between its read and its swap, so a test can put
 * another reload in between; NULL in the server (pgs_open_opts). A failure
 * fails the reload. */
enum { PGS_HOOK_FULL, PGS_HOOK_ACCOUNT };
typedef int (*pgs_cache_hook_fn)(pgs_store *s, int what, const uint8_t *id);

/* A registration change of the writer's group, put in the copy after the
 * commit: the row written, deleted, or all the account's deleted. */
enum { PGS_DELTA_PUT = 1, PGS_DELTA_DELETE, PGS_DELTA_DELETE_ALL };
typedef struct {
  int op;
  store_registration g; /* DELETE: account and project_id; DELETE_ALL: account */
} pgs_delta;

/* An account as one read found it (an entry of the copy's table). */
typedef struct pgs_centry {
  uint8_t id[LIC_ID_LEN];
  uint64_t seq;  /* the whole read that filled it (its number) */
  uint64_t pseq; /* the newest part applied since: a delta's or a row read's number */
  uint64_t rsw;  /* when (a number) the last read's result was put in */
  bool gone, stale;
  /* this process's writer changed a registration here and the listener has
   * not seen one of its own notices for the account since: another
   * process's notice may be older than that change (both wrote the row), so
   * the row is read instead of taken from the notice */
  bool own_unseen;
  uint8_t *env;
  size_t env_len;
  int64_t imported, revoked_at;
  store_registration *regs;
  size_t nregs, capregs;
  /* regs by project id: open addressing, each slot an index + 1 (0: empty),
   * at most half full; NULL (out of memory): regs are scanned instead */
  uint32_t *ix;
  size_t ixcap;
  struct pgs_centry *next;
} pgs_centry;

/* The copy. Its sequence rules, the one place they are written:
 *
 * Reloads overlap (the listener's full reload, a snapshot swapped in whole;
 * account reloads, the writer's after its commit and the listener's after a
 * notice) on different connections. Every read takes a number from seq
 * (pgs__cache_mark, before its first statement): a read with a greater number
 * saw everything committed before the smaller one was taken. A swap keeps,
 * account by account, whichever read is newer: an entry's seq is its whole
 * read's number, and a read replaces it only with a greater one; an account
 * with no entry is as old as the last full reload (full_seq), which did not
 * find it; the certificates are as old as certs_seq. full_seq and certs_seq
 * only grow.
 *
 * Parts (a delta, a row read or a row from a notice: pseq) follow the same
 * order, with one more case: a whole read that began before a part applied
 * since (seq < its number <= pseq) may lack the part, and the part alone
 * lacks what the read brought; neither replaces the other, the entry is
 * marked stale (its id in stale[]) and reloaded whole a moment later by the
 * listener, a new number newer than both. A delta is this process's own
 * committed change: always applied (the client reads its own write), and
 * stale too when a read came in during that commit (rsw past the number taken
 * before the COMMIT: the read may hold a newer state of the same row another
 * process wrote). A part's number is taken under the lock, so it is greater
 * than the seq and pseq of every entry.
 *
 * gone: a read found the account absent; kept until a newer full reload, so
 * an older read still in flight cannot bring the account back; a verify never
 * reads a gone entry. stale: the entry's id is in stale[] (or full_owed is
 * set: stale[] could not grow), for the listener to reload. full_owed: a full
 * reload is owed (the listener does it on its next turn). */
typedef struct {
  pgs_rwlock lock; /* everything below but seq, the counters and own */
  pgs_centry **buckets;
  size_t nb;
  store_cert *certs;
  size_t ncerts;
  int64_t loaded_ms; /* the last full reload (pgs__now_ms) */
  atomic_uint_fast64_t seq; /* the last number taken (no lock) */
  uint64_t full_seq, certs_seq;
  uint8_t (*stale)[LIC_ID_LEN]; /* accounts to reload whole */
  size_t nstale, capstale;
  bool full_owed;
  /* reads into the copy the listener made (a row, an account, the
   * certificates, everything: not the fill at open or after a lost feed),
   * and rows it took from notices without a read (/metrics) */
  atomic_uint_fast64_t reloads, notice_rows;
  pgs_cache_hook_fn hook; /* pgs_open_opts: tests only */
  /* the writer group's own changes (writer thread only), taken into the copy
   * after its commit, before its answers (pgs__cache_apply_own): accounts to
   * reload, the certificates, registration changes */
  struct {
    uint8_t (*dirty)[LIC_ID_LEN];
    size_t ndirty, capdirty;
    bool certs_dirty;
    pgs_delta *delta;
    size_t ndelta, capdelta;
  } own;
} pgs_cache;

/* pgs_open / pgs_close and its failure path. */
void pgs__cache_init(pgs_store *s, pgs_cache_hook_fn hook);
void pgs__cache_free(pgs_store *s);

/* ---- reloads (on the caller's connection c) ---- */
int pgs__cache_load_all(pgs_store *s, PGconn *c);
int pgs__cache_load_account(pgs_store *s, PGconn *c, const uint8_t id[LIC_ID_LEN]);
int pgs__cache_load_certs(pgs_store *s, PGconn *c);
/* Another process's change of one registration: that row read again. */
int pgs__cache_load_reg(pgs_store *s, PGconn *c, const uint8_t account[LIC_ID_LEN],
                        const uint8_t project_id[LIC_ID_LEN]);
/* Another process's registration change as its notice carries it (n->kind
 * PGS_NOTIFY_ROW or _GONE): no read unless the copy cannot take it. */
int pgs__cache_apply_row(pgs_store *s, PGconn *c, const pgs_notify *n);
/* One of this process's own registration notices for the account. */
void pgs__cache_own_seen(pgs_store *s, const uint8_t id[LIC_ID_LEN]);
/* The stale entries, reloaded whole (the listener, each turn). */
int pgs__cache_reload_stale(pgs_store *s, PGconn *c);
/* What the listener owes: the last full reload's time, whether entries are
 * stale, whether a full reload is owed (taken: cleared). */
void pgs__cache_due(pgs_store *s, int64_t *loaded_ms, bool *stale, bool *full_owed);
/* The listener made one more read into the copy (/metrics). */
void pgs__cache_count_reload(pgs_store *s);

/* ---- reads (a verify) ---- */
int pgs__cache_account(pgs_store *s, const uint8_t id[LIC_ID_LEN], store_account *out);
/* The registration (out, when non-NULL) and the account's count (when non-NULL). */
int pgs__cache_registration(pgs_store *s, const uint8_t account[LIC_ID_LEN],
                            const uint8_t project_id[LIC_ID_LEN], store_registration *out,
                            size_t *count);
int pgs__cache_cert_each(pgs_store *s, store_cert_cb cb, void *arg);
/* The copy's age and the listener's counters (store_health). */
void pgs__cache_health(pgs_store *s, store_health *h);

/* ---- the writer group's own changes (writer thread only) ---- */
/* Note a change the copy must reload after this group commits. */
void pgs__dirty(store_wtxn *w, const uint8_t id[LIC_ID_LEN]);
void pgs__dirty_certs(store_wtxn *w);
/* Note a registration change (PGS_DELTA_*) the copy takes after the commit. */
void pgs__delta(store_wtxn *w, int op, const store_registration *g);
void pgs__delta_own(pgs_store *s, int op, const store_registration *g);
/* The deltas noted so far (an operation's start), and back to them (the
 * operation failed: rolled back). */
size_t pgs__own_mark(pgs_store *s);
void pgs__own_rollback(pgs_store *s, size_t mark);
/* Forget the group's changes (a pass starts over, or the group failed). */
void pgs__own_clear(pgs_store *s);
/* A number to take just before COMMIT: reads put in the copy after it may
 * hold a newer state than the commit. */
uint64_t pgs__cache_mark(pgs_store *s);
/* After the group's COMMIT, before its answers: its deltas, dirty accounts
 * and certificates into the copy (since: pgs__cache_mark before the COMMIT);
 * the group's changes forgotten. */
int pgs__cache_apply_own(pgs_store *s, PGconn *c, uint64_t since);

#endif
