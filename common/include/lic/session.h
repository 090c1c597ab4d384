/* session.h - the report server's license session (SPEC §8): heartbeat,
 * grace, failover and the persisted last valid verdict, as a state machine
 * driven by the caller's clock. No thread, no timer, no signal: the caller
 * calls lic_session_tick(now) and sleeps until the time it returns. */
#ifndef LIC_SESSION_H
#define LIC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/api.h"
#include "lic/mp.h"
#include "lic/verify_client.h"

#define LIC_SESSION_MAX_SERVERS 16
#define LIC_SESSION_ROLLBACK    3600 /* s the clock may go back below the high-water mark */
#define LIC_SESSION_BASE_RETRY  60   /* first retry after a failed check, if heartbeat is longer */
#define LIC_SESSION_FILE        "session.state" /* in the state directory */
/* A second copy of the clock high-water mark, in a file of its own: a
 * restored older session.state does not lower the mark with it. */
#define LIC_SESSION_CLOCK_FILE  "session.clock"
#define LIC_SESSION_MAX_FILE    (LIC_VERIFY_MAX_RESPONSE + 4096)

typedef enum {
  LIC_SESSION_UNLICENSED,
  LIC_SESSION_GRACE,
  LIC_SESSION_LICENSED,
} lic_session_state;

LIC_API const char *lic_session_state_name(lic_session_state s);

/* One verify exchange with one server: lic_verify's contract (LIC_OK = a
 * checked verdict, valid or not, in res; anything else = no trustworthy
 * answer). o->url is the server to ask. Tests inject a fake. */
typedef int (*lic_session_verify_fn)(void *ctx, const lic_verify_opts *o, lic_verify_result *res);

typedef struct {
  lic_verify_opts verify;   /* as for lic_verify; .url is ignored */
  const char *const *urls;  /* primary first, then standbys (1..LIC_SESSION_MAX_SERVERS) */
  size_t nurls;
  const char *state_dir;    /* where LIC_SESSION_FILE lives; NULL: nothing persisted */
  lic_session_verify_fn transport; /* NULL: lic_verify */
  void *transport_ctx;
} lic_session_opts;

/* What the session says now. Pointers are owned by the session and valid
 * until its next tick, check_now or free. */
typedef struct {
  lic_session_state state;
  const char *reason;       /* valid | check_failed | stale | grace_expired | expired |
                               no_verdict | clock_rollback | a denial's status name */
  const char *detail;       /* a denial's reason text from the server, or "" */
  const lic_strlist *features; /* of the last valid verdict (empty when none) */
  int64_t expires;          /* license expiry, 0 = perpetual or unknown */
  const char *license;      /* UUID of the license (or account) the last valid verdict
                               is for: after a renewal, the successor's ("" = none) */
  int64_t grace_until;      /* 0 when there is no valid verdict */
  int64_t last_valid;       /* time of the last valid verdict, 0 = none */
  int64_t heartbeat, grace; /* the terms of the last trustworthy verdict */
  const char *last_error;   /* the last failed check ("" when the last check answered) */
  const char *server;       /* URL that gave the last trustworthy answer ("" = none) */
  int64_t checked_at;       /* the last check round (0 = none yet) */
  int64_t next_check;       /* when the next check round is due */
  unsigned failures;        /* failed rounds since the last trustworthy answer */
  /* The vendor's revocation list kept in the state directory (private mode:
   * a server keeping a newer one sends it with its answer; docs/revocation.md).
   * A license or account on it reads revoked (detail says the seq). */
  int64_t revocations_seq;  /* 0: none kept */
  const char *revocations_note; /* the last list event: kept, ignored (forged...), "" */
  unsigned revocations_events;  /* counts notes: log revocations_note when it moves */
  bool revocations_refused;     /* the last note is a list refused or unreadable */
} lic_session_info;

typedef struct lic_session lic_session;

/* Copies everything it needs from o (strings, URL list; the trust store is
 * borrowed and must outlive the session). Loads the state file when there is
 * one: a file that does not re-verify (corrupt, edited, another node's, an
 * untrusted chain) is ignored and named in last_error. */
LIC_API int lic_session_new(const lic_session_opts *o, int64_t now, lic_session **out);
LIC_API void lic_session_free(lic_session *s);

/* Advance to now: run a check round when one is due (servers in order, the
 * last one that answered first; stop at the first trustworthy answer), then
 * recompute the state. Returns the next time tick must be called: the next
 * check, or an earlier moment at which the state changes by itself (the end
 * of the heartbeat, grace_until). Always > now. */
LIC_API int64_t lic_session_tick(lic_session *s, int64_t now);
/* Make the next tick check at once (SIGHUP). */
LIC_API void lic_session_check_now(lic_session *s);
LIC_API void lic_session_info_get(const lic_session *s, lic_session_info *info);

/* The state a session's state directory proves now, read without asking any
 * server and without writing: the stored verdict and its chain are checked
 * again against trust exactly as on a restart, for question (the verify
 * options; NULL: the ones the agent recorded in its state file), and the
 * state, grace and clock mark follow from now. LIC_NOTFOUND without a state
 * file. What status.json says is never read. Free with lic_session_free. */
LIC_API int lic_session_read_state(const char *state_dir, const lic_trust *trust,
                                   const lic_verify_opts *question, int64_t now,
                                   lic_session **out);

/* The retry delay after n consecutive failed rounds (n >= 1), before jitter:
 * min(heartbeat, LIC_SESSION_BASE_RETRY) doubling to heartbeat. */
LIC_API int64_t lic_session_backoff(int64_t heartbeat, unsigned n);
/* The same with ±10% jitter from RAND_bytes, at least 1 s. */
LIC_API int64_t lic_session_backoff_jitter(int64_t heartbeat, unsigned n);

#endif
