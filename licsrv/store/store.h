/* store/store.h - the interface to licsrv's persistent state. No backend type
 * appears here: the handles are opaque. store_open picks the backend by the
 * location: a directory is the LMDB backend (store/lmdb/, one file per
 * concern, docs/storage.md "Code layout"), a postgresql:// URL the PostgreSQL
 * backend (store/pg/, public mode only). Every function below is one indirect
 * call into the backend of its handle (store/backend.h).
 *
 * Reads go through a per-thread reader (one read transaction reused with
 * reset/renew); every value handed out is a copy. Writes go through one writer
 * thread per process: callers submit operations, the thread applies all queued
 * operations in one transaction (when one fails, the group is replayed with
 * each in its own nested transaction, so one failure does not abort the
 * others), commits with one sync (LMDB: the next group's commit may carry a
 * group's meta page, docs/storage.md), then completes them all. Heartbeat
 * bookkeeping (node last seen, clock high-water mark) is batched in memory and
 * flushed at least every STORE_FLUSH_MS and at close. */
#ifndef LICSRV_STORE_H
#define LICSRV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/keys.h"
#include "lic/limits.h"
#include "lic/util.h"

/* LMDB: 2 since each account's registration count is kept, 3 since each
 * owner's record count is (docs/storage.md) */
#define STORE_SCHEMA_VERSION 3
#define STORE_SUBDIR         "store"          /* the environment: DIR/store/ */
#define STORE_MAP_SIZE       ((size_t)1 << 30) /* 1 GiB of address space */
#define STORE_MAX_READERS    256
#define STORE_FLUSH_MS       2000             /* batched node writes */
#define STORE_MAX_BATCH      65536            /* pending node entries before a forced flush */
#define STORE_MAX_TOKEN_NAME 64
#define STORE_MAX_ACTION     32
#define STORE_MAX_SUBJECT    160
#define STORE_MAX_STATUS     32
#define STORE_MAX_REASON     LIC_MAX_NAME
#define STORE_MAX_NODE       LIC_MAX_NAME
#define STORE_TOKEN_HASH_LEN 32
#define STORE_MAX_DAYS       36500            /* retention and registration TTL, in days */

/* store_open flags */
#define STORE_CREATE 1u /* create DIR/store and the schema when absent */
#define STORE_RDONLY 2u /* read-only environment, no writer thread */
#define STORE_MIGRATE 4u /* PostgreSQL: upgrade an older schema (licsrv migrate) */
/* PostgreSQL: answer account, registration and certificate reads from a
 * per-process copy kept fresh by LISTEN/NOTIFY (the serving process; the
 * copy is filled at open). Ignored by LMDB, whose reads cost no round trip. */
#define STORE_CACHED 8u

typedef struct store store;
typedef struct store_reader store_reader;
typedef struct store_wtxn store_wtxn; /* a write transaction inside the writer thread */

/* Benchmarks only: with the environment variable LICSRV_BENCH_NOSYNC set to
 * exactly "1" at open, a writable store's LMDB environment is opened with
 * MDB_NOSYNC|MDB_NOMETASYNC, so a commit is answered before it is on disk (a
 * crash loses it). `make bench` uses it as the baseline of the durable-write
 * figure; store_stats.nosync says it is on, and serve logs it at start. */
#define STORE_BENCH_NOSYNC_ENV "LICSRV_BENCH_NOSYNC"

/* where: the data directory (LMDB in where/store/) or a postgresql:// (or
 * postgres://) libpq URL. */
int store_open(const char *where, unsigned flags, store **out);
/* Whether where names a PostgreSQL store rather than a directory. */
bool store_is_url(const char *where);
/* "lmdb" or "postgresql". */
const char *store_backend_name(const store *s);
/* The same with another LMDB map size (bytes; 0 = STORE_MAP_SIZE). A map
 * smaller than the data file grows to the file's size. A URL ignores it. */
int store_open_mapped(const char *where, unsigned flags, size_t map_size, store **out);
/* Flushes batched writes, completes queued operations, stops the writer,
 * syncs and closes the environment. Accepts NULL. */
void store_close(store *s);
/* The process is stopping (serve, on SIGTERM): a write still running
 * grace_ms from now (or grace_ms after it started, if later) is canceled and
 * answered LIC_UNAVAILABLE, and from then on nothing more is written (every
 * later write LIC_UNAVAILABLE, batched heartbeats dropped; said in the log).
 * PostgreSQL only: a COMMIT waiting for a vanished synchronous standby never
 * returns by itself. LMDB writes wait on no network: nothing to do. Call it
 * once; returns at once. */
void store_stop_begin(store *s, uint64_t grace_ms);

/* ---- per-account store use (public mode's quota, docs/server.md) --------- */
typedef struct {
  bool counted;          /* the backend keeps the count (LMDB schema 3); else records is 0 */
  uint64_t records;      /* the account's registrations + node records + audit entries */
  uint64_t top_records;  /* the largest account's, as this process's writer saw it
                          * (store_w_usage_get only; 0 otherwise) */
  uint64_t used, mapsize; /* bytes in live pages, and the map's size (0, 0: no map) */
} store_usage;

int store_usage_get(store_reader *rd, const uint8_t account[LIC_ID_LEN], store_usage *u);
int store_w_usage_get(store_wtxn *w, const uint8_t account[LIC_ID_LEN], store_usage *u);

/* ---- readers ---------------------------------------------------------- */
int store_reader_new(store *s, store_reader **out);
void store_reader_free(store_reader *rd);
/* Start (renew) / end (reset) the read snapshot. Begin on an active reader
 * restarts it on the newest snapshot. */
int store_reader_begin(store_reader *rd);
void store_reader_end(store_reader *rd);

/* ---- meta ------------------------------------------------------------- */
typedef struct {
  uint32_t schema;
  char mode[LIC_MAX_MODE + 1];   /* "private" | "public" ("" before init) */
  bool has_node_key;
  uint8_t node_kid[LIC_KID_LEN];
  uint8_t node_pub[LIC_PUBKEY_LEN];
  uint8_t project_id[LIC_ID_LEN];
  int64_t created;
  int64_t clock_hwm;             /* 0 when never set */
} store_meta;

int store_meta_get(store_reader *rd, store_meta *m);
/* Whole identity, written once by `licsrv init` (LIC_EXISTS when present). */
int store_w_meta_init(store_wtxn *w, const char *mode, const uint8_t kid[LIC_KID_LEN],
                      const uint8_t pub[LIC_PUBKEY_LEN], const uint8_t project_id[LIC_ID_LEN],
                      int64_t now);
/* The highest server time seen (clock rollback detection), including a mark
 * noted but not yet flushed. */
int store_clock_hwm_get(store_reader *rd, int64_t *t);
/* Raise the mark (never lowers it); batched, not synced per call. */
void store_clock_hwm_note(store *s, int64_t now);
int store_w_clock_hwm_set(store_wtxn *w, int64_t t);
/* Set the mark to t even when that lowers it (`licsrv clock reset`, after a
 * forward clock jump poisoned it). */
int store_w_clock_hwm_reset(store_wtxn *w, int64_t t);
/* The online-key certificate (public mode): raw envelope. */
int store_w_cert_put(store_wtxn *w, const uint8_t *env, size_t len);
int store_cert_get(store_reader *rd, uint8_t **env, size_t *len);

/* ---- online-key certificates (public mode), by cert id -------------------- */
/* Every imported certificate is kept (the server picks the newest usable one
 * it holds the key of: rotation without a gap). Stored as signed; parsed by
 * the public-mode code. */
typedef struct {
  uint8_t id[LIC_ID_LEN];
  uint8_t *env;
  size_t env_len;
  int64_t imported;
} store_cert;

void store_cert_clear(store_cert *c);
/* Insert or replace by id. */
int store_w_cert_add(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env, size_t len,
                     int64_t now);
typedef int (*store_cert_cb)(const store_cert *c, void *arg);
int store_cert_each(store_reader *rd, store_cert_cb cb, void *arg);

/* ---- licenses --------------------------------------------------------- */
typedef struct {
  uint8_t id[LIC_ID_LEN];
  uint8_t *env;      /* the signed license envelope as imported (malloc'd) */
  size_t env_len;
  int64_t imported;
  bool revoked;
  int64_t revoked_at;
} store_license;

void store_license_clear(store_license *l);
int store_license_get(store_reader *rd, const uint8_t id[LIC_ID_LEN], store_license *out);
/* The one license when the server holds exactly one (LIC_NOTFOUND for none,
 * LIC_EXISTS for several: the request must name it). */
int store_license_only(store_reader *rd, store_license *out);
/* Visit every license in id order; a non-zero return from cb stops (and is
 * returned). The record is valid during the call only. */
typedef int (*store_license_cb)(const store_license *l, void *arg);
int store_license_each(store_reader *rd, store_license_cb cb, void *arg);
/* Insert or replace the envelope; a revoked license stays revoked, and so
 * does a revoked license that was forgotten (its tombstone keeps the id). */
int store_w_license_put(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env,
                        size_t len, int64_t now);
typedef enum {
  STORE_IMPORT_NEW,     /* no record before */
  STORE_IMPORT_AGAIN,   /* replaced a record that is not revoked */
  STORE_IMPORT_REVOKED, /* stays revoked (its record, or its tombstone, says so) */
} store_import_outcome;
/* store_w_license_put saying what the import did (out may be NULL). */
int store_w_license_import(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env,
                           size_t len, int64_t now, store_import_outcome *out);
/* LIC_NOTFOUND when absent; revoking twice keeps the first time. */
int store_w_license_revoke(store_wtxn *w, const uint8_t id[LIC_ID_LEN], int64_t now);

/* ---- accounts (public mode; parsed by the public-mode code) ------------ */
typedef struct {
  uint8_t id[LIC_ID_LEN];
  uint8_t *env;
  size_t env_len;
  int64_t imported;
  int64_t revoked_at; /* 0 = not revoked */
} store_account;

void store_account_clear(store_account *a);
int store_account_get(store_reader *rd, const uint8_t id[LIC_ID_LEN], store_account *out);
typedef int (*store_account_cb)(const store_account *a, void *arg);
int store_account_each(store_reader *rd, store_account_cb cb, void *arg);
/* Insert or replace the envelope; a revoked account stays revoked. */
int store_w_account_put(store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env,
                        size_t len, int64_t now);
int store_w_account_delete(store_wtxn *w, const uint8_t id[LIC_ID_LEN]);
/* LIC_NOTFOUND when absent; revoking twice keeps the first time. */
int store_w_account_revoke(store_wtxn *w, const uint8_t id[LIC_ID_LEN], int64_t now);
/* The account as this write transaction sees it (LIC_NOTFOUND). */
int store_w_account_get(store_wtxn *w, const uint8_t id[LIC_ID_LEN], store_account *out);

/* ---- registrations (public mode: account + project id) ----------------- */
typedef struct {
  uint8_t account[LIC_ID_LEN];
  uint8_t project_id[LIC_ID_LEN];
  char project[LIC_MAX_NAME + 1];
  char domain[LIC_MAX_DOMAIN + 1];
  int64_t created;
  int64_t last_valid; /* last valid verify or registration (TTL release) */
} store_registration;

int store_registration_get(store_reader *rd, const uint8_t account[LIC_ID_LEN],
                           const uint8_t project_id[LIC_ID_LEN], store_registration *out);
typedef int (*store_registration_cb)(const store_registration *r, void *arg);
int store_registration_each(store_reader *rd, const uint8_t account[LIC_ID_LEN],
                            store_registration_cb cb, void *arg);
int store_registration_count(store_reader *rd, const uint8_t account[LIC_ID_LEN], size_t *n);
int store_w_registration_put(store_wtxn *w, const store_registration *r);
int store_w_registration_delete(store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                                const uint8_t project_id[LIC_ID_LEN]);
/* As this write transaction sees them: the capacity check of a registration
 * runs on the writer, so concurrent registrations cannot overshoot. */
int store_w_registration_get(store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                             const uint8_t project_id[LIC_ID_LEN], store_registration *out);
int store_w_registration_count(store_wtxn *w, const uint8_t account[LIC_ID_LEN], size_t *n);
/* A registration's whole claim in one call, on the writer (capacity cannot
 * overshoot, across processes either: the account's row is locked first):
 * the account present and not revoked, the project not registered yet,
 * fewer than capacity registrations; then r is stored and one audit entry
 * (audit_token, audit_action, audit_subject, at r->created) appended. Only
 * STORE_CLAIM_NEW writes. used: the account's registrations after it (0 for
 * NO_ACCOUNT and REVOKED). LMDB runs the steps one by one (account,
 * registration, count, put, audit); PostgreSQL in one statement, sent ahead
 * without waiting for its answer: *out is filled in by the time the write
 * commits, so read it in the done callback (or after store_write), never in
 * the apply function.
 * quota: the account's store quota (account_store_quota, 0 = none). On
 * PostgreSQL, when the account's records (store_usage) + 2 (the
 * registration and its audit entry) exceed it, nothing is written and the
 * outcome is STORE_CLAIM_QUOTA with records the count: the check is inside
 * the one statement (a pipelined claim waits for nothing in between).
 * LMDB's claim ignores it: its caller checks store_w_usage_get first, in the
 * same write transaction (routes/public.c). */
typedef enum {
  STORE_CLAIM_NO_ACCOUNT,
  STORE_CLAIM_REVOKED,
  STORE_CLAIM_EXISTS, /* idempotent: the project holds its slot already */
  STORE_CLAIM_FULL,
  STORE_CLAIM_NEW,
  STORE_CLAIM_QUOTA, /* PostgreSQL: the account holds its quota (records); nothing written */
} store_claim_outcome;
typedef struct {
  store_claim_outcome outcome;
  size_t used;
  uint64_t records; /* PostgreSQL: the account's records after the claim (store_usage) */
} store_claim;
int store_w_registration_claim(store_wtxn *w, const store_registration *r, int64_t capacity,
                               uint64_t quota, const char *audit_token, const char *audit_action,
                               const char *audit_subject, store_claim *out);
/* The claim as the interface's single steps (what LMDB's claim is). */
int store_claim_steps(store_wtxn *w, const store_registration *r, int64_t capacity,
                      const char *audit_token, const char *audit_action,
                      const char *audit_subject, store_claim *out);
/* An unregistration in one call, on the writer: the account present and not
 * revoked, then the registration (account, project_id) deleted and, when
 * there was one, an audit entry appended (at now). used: the account's
 * registrations after it (0 for NO_ACCOUNT and REVOKED). LMDB runs the steps
 * one by one (store_release_steps); PostgreSQL in one statement, one round
 * trip (licsrv_release(), schema version 4). */
typedef enum {
  STORE_RELEASE_NO_ACCOUNT,
  STORE_RELEASE_REVOKED,
  STORE_RELEASE_ABSENT, /* not registered: nothing written */
  STORE_RELEASE_REMOVED,
} store_release_outcome;
typedef struct {
  store_release_outcome outcome;
  size_t used;
} store_release;
int store_w_registration_release(store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                                 const uint8_t project_id[LIC_ID_LEN], int64_t now,
                                 const char *audit_token, const char *audit_action,
                                 const char *audit_subject, store_release *out);
int store_release_steps(store_wtxn *w, const uint8_t account[LIC_ID_LEN],
                        const uint8_t project_id[LIC_ID_LEN], int64_t now,
                        const char *audit_token, const char *audit_action,
                        const char *audit_subject, store_release *out);
/* Delete every registration of an account; *n gets how many. */
int store_w_registration_delete_all(store_wtxn *w, const uint8_t account[LIC_ID_LEN], size_t *n);
/* Release registrations whose last_valid is older than ttl_days, one audit
 * entry ("registration.expire") each. Durable. */
int store_registration_release_idle(store *s, int64_t now, int64_t ttl_days, size_t *n);

/* ---- nodes: seats and the failure list --------------------------------- */
/* owner is the license id (private) or the account id (public). */
typedef struct {
  uint8_t owner[LIC_ID_LEN];
  char node[STORE_MAX_NODE + 1];
  int64_t last_seen;  /* last valid check, 0 = never */
  int64_t fail_time;  /* last failure, 0 = none */
  char fail_status[STORE_MAX_STATUS + 1];
  char fail_reason[STORE_MAX_REASON + 1];
} store_node;

/* Batched (not synced per call): a valid check / a failed one. The batch is
 * visible to readers after its flush (at most STORE_FLUSH_MS later). */
int store_node_seen(store *s, const uint8_t owner[LIC_ID_LEN], const char *node, int64_t now);
int store_node_failure(store *s, const uint8_t owner[LIC_ID_LEN], const char *node,
                       int64_t now, const char *status, const char *reason);
/* Batched too: delete the node's record if it never held a seat (last valid
 * check 0) - a failure that left the bounded failure list. A later note of
 * the same node in the batch cancels it. PostgreSQL: only forgets what the
 * batch holds for the node (its record goes by store_w_node_delete). */
int store_node_drop(store *s, const uint8_t owner[LIC_ID_LEN], const char *node);
/* Write the pending batch now (waits for its commit). */
int store_flush(store *s);
int store_node_get(store_reader *rd, const uint8_t owner[LIC_ID_LEN], const char *node,
                   store_node *out);
typedef int (*store_node_cb)(const store_node *n, void *arg);
/* Nodes of one owner (NULL: all owners), in key order. */
int store_node_each(store_reader *rd, const uint8_t *owner, store_node_cb cb, void *arg);
/* Durable variant for callers already in a write transaction. */
int store_w_node_put(store_wtxn *w, const store_node *n);
/* Delete the node's record, durably (LIC_OK when there was none): public
 * mode's push-out on PostgreSQL, whose batch keeps no deletes. Note
 * store_node_drop first (before submitting this write): on PostgreSQL it
 * takes the node's pending heartbeat out of the batch, which would write
 * the row back after the delete. */
int store_w_node_delete(store_wtxn *w, const uint8_t owner[LIC_ID_LEN], const char *node);

/* ---- designer activations (serial -> machine) --------------------------- */
typedef struct {
  uint8_t product;
  uint32_t serial;
  char machine_code[LIC_MAX_NAME + 1];
  int64_t time;
  uint8_t *receipt; /* signed receipt envelope (malloc'd), may be NULL */
  size_t receipt_len;
} store_activation;

void store_activation_clear(store_activation *a);
int store_activation_get(store_reader *rd, uint8_t product, uint32_t serial,
                         store_activation *out);
typedef int (*store_activation_cb)(const store_activation *a, void *arg);
/* Every claim, in (product, serial) order; a non-zero return stops the walk. */
int store_activation_each(store_reader *rd, store_activation_cb cb, void *arg);
/* The claim as this write transaction sees it (LIC_NOTFOUND). */
int store_w_activation_get(store_wtxn *w, uint8_t product, uint32_t serial,
                           store_activation *out);
/* LIC_EXISTS when the serial is already claimed. */
int store_w_activation_put(store_wtxn *w, const store_activation *a);
/* Release a claim (the user replaced the machine): LIC_NOTFOUND when none. */
int store_w_activation_delete(store_wtxn *w, uint8_t product, uint32_t serial);

/* ---- audit log ---------------------------------------------------------- */
typedef struct {
  uint64_t seq;
  int64_t time;
  char token[STORE_MAX_TOKEN_NAME + 1]; /* token name, "cli" for the command line */
  char action[STORE_MAX_ACTION + 1];
  char subject[STORE_MAX_SUBJECT + 1];  /* "license:UUID", "token:NAME" ...: masked values only */
  uint64_t count; /* the events this entry stands for: > 1 when repeats were merged (0 = 1) */
  int64_t last;   /* the time of the last of them (count > 1) */
} store_audit;

/* Register/unregister churn is coalesced: an entry of the public listener
 * (token STORE_AUDIT_COALESCE_TOKEN) repeating the action and subject of one
 * this process appended in the same clock hour (time / STORE_AUDIT_COALESCE_S)
 * is merged into it: its count goes up and its last time moves, its time and
 * key stay. A flood of one project's register/unregister writes two entries
 * an hour, not two per request. LMDB merges into the entries this process
 * appended (its last few); PostgreSQL (schema version 6) into the hour's
 * entry whoever wrote it, every process's repeats meeting in one row (a
 * unique index and ON CONFLICT DO UPDATE). A merge adds no record to the
 * account's count (store_usage). */
#define STORE_AUDIT_COALESCE_TOKEN "public"
#define STORE_AUDIT_COALESCE_S 3600
int store_w_audit_append(store_wtxn *w, int64_t time, const char *token, const char *action,
                         const char *subject);
typedef int (*store_audit_cb)(const store_audit *a, void *arg);
/* Entries with time >= since in time order; when needle is non-NULL only
 * those whose subject contains it. */
int store_audit_each(store_reader *rd, int64_t since, const char *needle, store_audit_cb cb,
                     void *arg);

/* ---- admin tokens (by SHA-256 of the secret) ----------------------------- */
typedef struct {
  uint8_t hash[STORE_TOKEN_HASH_LEN];
  char name[STORE_MAX_TOKEN_NAME + 1];
  int64_t created;
} store_token;

/* Constant-time lookup of the token whose hash is this (LIC_NOTFOUND). */
int store_token_lookup(store_reader *rd, const uint8_t hash[STORE_TOKEN_HASH_LEN],
                       store_token *out);
typedef int (*store_token_cb)(const store_token *t, void *arg);
int store_token_each(store_reader *rd, store_token_cb cb, void *arg);
/* LIC_EXISTS when the name is taken. */
int store_w_token_put(store_wtxn *w, const uint8_t hash[STORE_TOKEN_HASH_LEN],
                      const char *name, int64_t now);
/* LIC_NOTFOUND when no token has this name. */
int store_w_token_revoke(store_wtxn *w, const char *name);
/* Token name check: 1..STORE_MAX_TOKEN_NAME of [A-Za-z0-9._-]. */
int store_token_name_check(const char *name);

/* ---- the writer ---------------------------------------------------------- */
/* An operation of a group commit. It may run twice (its group is rolled back
 * and replayed, each operation in a nested transaction, when one of them
 * fails), so it must not accumulate into arg across runs. The writes of an
 * operation that fails are undone by the writer. */
typedef int (*store_apply_fn)(store_wtxn *w, void *arg);
/* Called on the writer thread once the operation's transaction is committed
 * and synced (rc LIC_OK) or failed (rc: the operation's or the commit's error;
 * detail: its detail line, "" when none). */
typedef void (*store_done_fn)(void *arg, int rc, const char *detail);

/* Queue apply(w, arg) for the next group commit; done is called exactly once
 * when this returns LIC_OK (operations queued before store_close still run).
 * LIC_INVALID on a read-only or closing store (done is then not called). */
int store_submit(store *s, store_apply_fn apply, store_done_fn done, void *arg);
/* Submit and wait: returns after the commit (and sync), with the operation's
 * detail line set on this thread on failure. Never call it (or store_flush)
 * from an apply or done callback: those run on the writer thread. */
int store_write(store *s, store_apply_fn apply, void *arg);
/* The time the operations of this write transaction are stamped with. */
int64_t store_wtxn_now(const store_wtxn *w);

/* ---- reads where waiting is allowed ---------------------------------------- */
/* A read that may wait on the database (an admin listing, a token lookup):
 * on a store whose reads can block (PostgreSQL) it must not run on an event
 * loop, whose every other request (verify first of all) would wait with it.
 * read runs on a started reader (begin before, end after) and returns LIC_OK
 * or an error; done(arg, rc, detail) then gets read's return (or the begin's
 * error, read not called), detail its detail line ("" when none).
 *
 * LMDB, whose reads never wait: both run at once on the caller's thread, on
 * rd (the caller's own reader; NULL: a temporary one), and done has run when
 * this returns. PostgreSQL: rd is not used; the read is queued for the
 * store's reader thread (its own connection), which calls done; at most
 * STORE_READQ_MAX wait at once. Returns LIC_OK when done will be called
 * exactly once; otherwise done is not called: LIC_UNAVAILABLE when the queue
 * is full or the store is closing (answer 503 store_unavailable), LIC_NOMEM. */
#define STORE_READQ_MAX 64
typedef int (*store_read_fn)(store_reader *rd, void *arg);
typedef void (*store_read_done_fn)(void *arg, int rc, const char *detail);
int store_read_submit(store *s, store_reader *rd, store_read_fn read, store_read_done_fn done,
                      void *arg);
/* Refuse new reads (LIC_UNAVAILABLE), answer the queued ones with
 * LIC_UNAVAILABLE, and wait for the one running: after this no done callback
 * of store_read_submit runs (call it before the HTTP server is freed;
 * store_close does it too; never from a read or done callback). LMDB:
 * nothing to do. */
void store_read_quiesce(store *s);

typedef struct {
  uint64_t ops;      /* operations applied (durable + batch flushes) */
  uint64_t commits;  /* write transactions committed */
  uint64_t syncs;    /* commits made durable (by their own sync or the next commit's) */
  uint64_t shared;   /* of those, made durable by the next commit's sync (LMDB) */
  uint64_t lingered; /* commits that waited (at most a sync's time) for a next one (LMDB) */
  /* PostgreSQL: the writer's waits for the database's answers (a statement,
   * or a pipeline with its sync: a group of claims, its BEGIN and COMMIT is
   * one); LMDB: 0 */
  uint64_t round_trips;
  uint64_t flushes;  /* batch flushes */
  uint64_t batch_failures; /* heartbeat batches that could not be written (kept for the next try) */
  bool full;         /* the last write found the map full (MDB_MAP_FULL) */
  bool nosync;       /* syncing is off (LICSRV_BENCH_NOSYNC=1): not durable */
} store_stats;

void store_stats_get(store *s, store_stats *st);

/* Whether writes can be stored now and how fresh the read copy is (for
 * /healthz and /metrics). LMDB: always writable, no copy. */
typedef struct {
  bool writable;         /* the last write round trip worked (or LMDB) */
  bool cached;           /* reads come from a per-process copy */
  bool cache_fresh;      /* the copy's change feed is connected */
  int64_t cache_age_ms;  /* since its last full reload */
  int64_t down_since;    /* when the change feed was lost (0: it was not) */
  uint64_t cache_reloads;     /* reads into the copy after a change (a row, an account, all) */
  uint64_t cache_notice_rows; /* registrations another process wrote, taken from its notice */
} store_health;

void store_health_get(store *s, store_health *h);

/* ---- maintenance ---------------------------------------------------------- */
/* Compacting hot copy into dest_dir (created 0700; must hold no data.mdb). */
int store_backup(store *s, const char *dest_dir);
typedef struct {
  size_t nodes, failures, audit, licenses, accounts, registrations;
  size_t tombstones; /* forget: a revoked license's id kept (it stays revoked) */
} store_counts;
/* Delete node records (last seen and failure older than the cutoff), clear
 * failures older than it and delete audit entries older than it. Durable.
 * Audited (when anything went) with actor as the token name: who ran it
 * ("cli:USER", at most STORE_MAX_TOKEN_NAME bytes). */
int store_purge(store *s, int64_t now, int64_t retention_days, const char *actor,
                store_counts *c);
/* Delete everything about a license or an account: its record, its nodes,
 * its registrations, and every audit entry whose subject names it. Durable.
 * A revoked license leaves a tombstone: its id and revocation time only. */
typedef enum { STORE_SUBJECT_LICENSE, STORE_SUBJECT_ACCOUNT } store_subject;
int store_forget(store *s, store_subject kind, const uint8_t id[LIC_ID_LEN], const char *actor,
                 store_counts *c);
/* Bytes used by the environment (last page * page size) and the map size. */
int store_size(store *s, uint64_t *used, uint64_t *mapsize);

/* For tests: write raw bytes under a key of a named database ("licenses"...). */
int store_w_raw_put(store_wtxn *w, const char *db, const void *key, size_t klen,
                    const void *val, size_t vlen);

#endif
