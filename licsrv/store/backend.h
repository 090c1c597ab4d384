/* store/backend.h - the seam between store/store.h and its backends, seen only
 * inside store/. Every operation of the interface that acts on a handle is
 * listed once here; store/store.c defines the public store_* functions as one
 * indirect call through the handle's table, and each backend defines
 * <prefix>_<name> for every entry and one table filled from this list.
 *
 * Every handle a backend hands out (store, store_reader, store_wtxn) starts
 * with a `const store_ops *ops` member: the dispatcher reads nothing else. The
 * LMDB backend owns the struct tags of store.h; other backends define their
 * own structs with the same first member and cast. */
#ifndef LICSRV_STORE_BACKEND_H
#define LICSRV_STORE_BACKEND_H

#include "store/store.h"

/* X(return type, name, (parameters), (arguments)): the handle comes first. */
#define STORE_OPS(X) \
  X(int, reader_new, (store *s, store_reader **out), (s, out)) \
  X(int, reader_begin, (store_reader *rd), (rd)) \
  X(int, meta_get, (store_reader *rd, store_meta *m), (rd, m)) \
  X(int, w_meta_init, (store_wtxn *w, const char *mode, const uint8_t kid[LIC_KID_LEN], const uint8_t pub[LIC_PUBKEY_LEN], const uint8_t project_id[LIC_ID_LEN], int64_t now), (w, mode, kid, pub, project_id, now)) \
  X(int, clock_hwm_get, (store_reader *rd, int64_t *t), (rd, t)) \
  X(int, w_clock_hwm_set, (store_wtxn *w, int64_t t), (w, t)) \
  X(int, w_clock_hwm_reset, (store_wtxn *w, int64_t t), (w, t)) \
  X(int, w_cert_put, (store_wtxn *w, const uint8_t *env, size_t len), (w, env, len)) \
  X(int, cert_get, (store_reader *rd, uint8_t **env, size_t *len), (rd, env, len)) \
  X(int, w_cert_add, (store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env, size_t len, int64_t now), (w, id, env, len, now)) \
  X(int, cert_each, (store_reader *rd, store_cert_cb cb, void *arg), (rd, cb, arg)) \
  X(int, license_get, (store_reader *rd, const uint8_t id[LIC_ID_LEN], store_license *out), (rd, id, out)) \
  X(int, license_only, (store_reader *rd, store_license *out), (rd, out)) \
  X(int, license_each, (store_reader *rd, store_license_cb cb, void *arg), (rd, cb, arg)) \
  X(int, w_license_put, (store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env, size_t len, int64_t now), (w, id, env, len, now)) \
  X(int, w_license_import, (store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env, size_t len, int64_t now, store_import_outcome *out), (w, id, env, len, now, out)) \
  X(int, w_license_revoke, (store_wtxn *w, const uint8_t id[LIC_ID_LEN], int64_t now), (w, id, now)) \
  X(int, account_get, (store_reader *rd, const uint8_t id[LIC_ID_LEN], store_account *out), (rd, id, out)) \
  X(int, account_each, (store_reader *rd, store_account_cb cb, void *arg), (rd, cb, arg)) \
  X(int, w_account_put, (store_wtxn *w, const uint8_t id[LIC_ID_LEN], const uint8_t *env, size_t len, int64_t now), (w, id, env, len, now)) \
  X(int, w_account_delete, (store_wtxn *w, const uint8_t id[LIC_ID_LEN]), (w, id)) \
  X(int, w_account_revoke, (store_wtxn *w, const uint8_t id[LIC_ID_LEN], int64_t now), (w, id, now)) \
  X(int, w_account_get, (store_wtxn *w, const uint8_t id[LIC_ID_LEN], store_account *out), (w, id, out)) \
  X(int, registration_get, (store_reader *rd, const uint8_t account[LIC_ID_LEN], const uint8_t project_id[LIC_ID_LEN], store_registration *out), (rd, account, project_id, out)) \
  X(int, registration_each, (store_reader *rd, const uint8_t account[LIC_ID_LEN], store_registration_cb cb, void *arg), (rd, account, cb, arg)) \
  X(int, registration_count, (store_reader *rd, const uint8_t account[LIC_ID_LEN], size_t *n), (rd, account, n)) \
  X(int, w_registration_put, (store_wtxn *w, const store_registration *r), (w, r)) \
  X(int, w_registration_delete, (store_wtxn *w, const uint8_t account[LIC_ID_LEN], const uint8_t project_id[LIC_ID_LEN]), (w, account, project_id)) \
  X(int, w_registration_get, (store_wtxn *w, const uint8_t account[LIC_ID_LEN], const uint8_t project_id[LIC_ID_LEN], store_registration *out), (w, account, project_id, out)) \
  X(int, w_registration_count, (store_wtxn *w, const uint8_t account[LIC_ID_LEN], size_t *n), (w, account, n)) \
  X(int, w_registration_delete_all, (store_wtxn *w, const uint8_t account[LIC_ID_LEN], size_t *n), (w, account, n)) \
  X(int, w_registration_claim, (store_wtxn *w, const store_registration *r, int64_t capacity, uint64_t quota, const char *audit_token, const char *audit_action, const char *audit_subject, store_claim *out), (w, r, capacity, quota, audit_token, audit_action, audit_subject, out)) \
  X(int, w_registration_release, (store_wtxn *w, const uint8_t account[LIC_ID_LEN], const uint8_t project_id[LIC_ID_LEN], int64_t now, const char *audit_token, const char *audit_action, const char *audit_subject, store_release *out), (w, account, project_id, now, audit_token, audit_action, audit_subject, out)) \
  X(int, node_seen, (store *s, const uint8_t owner[LIC_ID_LEN], const char *node, int64_t now), (s, owner, node, now)) \
  X(int, node_failure, (store *s, const uint8_t owner[LIC_ID_LEN], const char *node, int64_t now, const char *status, const char *reason), (s, owner, node, now, status, reason)) \
  X(int, node_drop, (store *s, const uint8_t owner[LIC_ID_LEN], const char *node), (s, owner, node)) \
  X(int, flush, (store *s), (s)) \
  X(int, node_get, (store_reader *rd, const uint8_t owner[LIC_ID_LEN], const char *node, store_node *out), (rd, owner, node, out)) \
  X(int, node_each, (store_reader *rd, const uint8_t *owner, store_node_cb cb, void *arg), (rd, owner, cb, arg)) \
  X(int, w_node_put, (store_wtxn *w, const store_node *n), (w, n)) \
  X(int, w_node_delete, (store_wtxn *w, const uint8_t owner[LIC_ID_LEN], const char *node), (w, owner, node)) \
  X(int, activation_get, (store_reader *rd, uint8_t product, uint32_t serial, store_activation *out), (rd, product, serial, out)) \
  X(int, activation_each, (store_reader *rd, store_activation_cb cb, void *arg), (rd, cb, arg)) \
  X(int, w_activation_get, (store_wtxn *w, uint8_t product, uint32_t serial, store_activation *out), (w, product, serial, out)) \
  X(int, w_activation_put, (store_wtxn *w, const store_activation *a), (w, a)) \
  X(int, w_activation_delete, (store_wtxn *w, uint8_t product, uint32_t serial), (w, product, serial)) \
  X(int, w_audit_append, (store_wtxn *w, int64_t time, const char *token, const char *action, const char *subject), (w, time, token, action, subject)) \
  X(int, audit_each, (store_reader *rd, int64_t since, const char *needle, store_audit_cb cb, void *arg), (rd, since, needle, cb, arg)) \
  X(int, token_lookup, (store_reader *rd, const uint8_t hash[STORE_TOKEN_HASH_LEN], store_token *out), (rd, hash, out)) \
  X(int, token_each, (store_reader *rd, store_token_cb cb, void *arg), (rd, cb, arg)) \
  X(int, w_token_put, (store_wtxn *w, const uint8_t hash[STORE_TOKEN_HASH_LEN], const char *name, int64_t now), (w, hash, name, now)) \
  X(int, w_token_revoke, (store_wtxn *w, const char *name), (w, name)) \
  X(int, submit, (store *s, store_apply_fn apply, store_done_fn done, void *arg), (s, apply, done, arg)) \
  X(int, read_submit, (store *s, store_reader *rd, store_read_fn read, store_read_done_fn done, void *arg), (s, rd, read, done, arg)) \
  X(int64_t, wtxn_now, (const store_wtxn *w), (w)) \
  X(int, backup, (store *s, const char *dest_dir), (s, dest_dir)) \
  X(int, forget, (store *s, store_subject kind, const uint8_t id[LIC_ID_LEN], const char *actor, store_counts *c), (s, kind, id, actor, c)) \
  X(int, size, (store *s, uint64_t *used, uint64_t *mapsize), (s, used, mapsize)) \
  X(int, usage_get, (store_reader *rd, const uint8_t account[LIC_ID_LEN], store_usage *u), (rd, account, u)) \
  X(int, w_usage_get, (store_wtxn *w, const uint8_t account[LIC_ID_LEN], store_usage *u), (w, account, u)) \
  X(int, w_raw_put, (store_wtxn *w, const char *db, const void *key, size_t klen, const void *val, size_t vlen), (w, db, key, klen, val, vlen))

/* The operations whose public function store/store.c writes out, checking
 * what holds for every backend before the one call (a days range), so that
 * a backend gets only arguments already checked. */
#define STORE_OPS_CHECKED(X) \
  X(int, registration_release_idle, (store *s, int64_t now, int64_t ttl_days, size_t *n), (s, now, ttl_days, n)) \
  X(int, purge, (store *s, int64_t now, int64_t retention_days, const char *actor, store_counts *c), (s, now, retention_days, actor, c))

/* V(name, (parameters), (arguments)): the operations returning nothing; the
 * dispatcher ignores a NULL handle. */
#define STORE_VOPS(V) \
  V(close, (store *s), (s)) \
  V(reader_free, (store_reader *rd), (rd)) \
  V(reader_end, (store_reader *rd), (rd)) \
  V(clock_hwm_note, (store *s, int64_t now), (s, now)) \
  V(read_quiesce, (store *s), (s)) \
  V(stats_get, (store *s, store_stats *st), (s, st)) \
  V(health_get, (store *s, store_health *h), (s, h)) \
  V(stop_begin, (store *s, uint64_t grace_ms), (s, grace_ms))

typedef struct store_ops {
  const char *name; /* "lmdb", "postgresql" */
#define STORE_OP_MEMBER(ret, name, params, args) ret(*name) params;
#define STORE_VOP_MEMBER(name, params, args) void(*name) params;
  STORE_OPS(STORE_OP_MEMBER)
  STORE_OPS_CHECKED(STORE_OP_MEMBER)
  STORE_VOPS(STORE_VOP_MEMBER)
#undef STORE_OP_MEMBER
#undef STORE_VOP_MEMBER
} store_ops;

/* Declare and fill a backend's functions: STORE_DECLARE(lmdb) declares
 * lmdb_close, lmdb_meta_get...; STORE_TABLE(lmdb, "lmdb") defines lmdb_ops. */
#define STORE_DECL_(p, ret, name, params) ret p##_##name params;
#define STORE_DECL_X_lmdb(ret, name, params, args) STORE_DECL_(lmdb, ret, name, params)
#define STORE_DECL_V_lmdb(name, params, args) STORE_DECL_(lmdb, void, name, params)
#define STORE_DECL_X_pgs(ret, name, params, args) STORE_DECL_(pgs, ret, name, params)
#define STORE_DECL_V_pgs(name, params, args) STORE_DECL_(pgs, void, name, params)
#define STORE_DECLARE(p) \
  STORE_OPS(STORE_DECL_X_##p) STORE_OPS_CHECKED(STORE_DECL_X_##p) STORE_VOPS(STORE_DECL_V_##p)
#define STORE_FILL_X_lmdb(ret, name, params, args) .name = lmdb_##name,
#define STORE_FILL_V_lmdb(name, params, args) .name = lmdb_##name,
#define STORE_FILL_X_pgs(ret, name, params, args) .name = pgs_##name,
#define STORE_FILL_V_pgs(name, params, args) .name = pgs_##name,
#define STORE_TABLE(p, label) \
  const store_ops p##_ops = {.name = label, STORE_OPS(STORE_FILL_X_##p) \
                             STORE_OPS_CHECKED(STORE_FILL_X_##p) STORE_VOPS(STORE_FILL_V_##p)}

/* The backends' entry points (store_open picks one by the location). */
extern const store_ops lmdb_ops, pgs_ops;
int lmdb_open(const char *dir, unsigned flags, store **out);
int lmdb_open_mapped(const char *dir, unsigned flags, size_t map_size, store **out);
int pgs_open(const char *url, unsigned flags, store **out);

#endif
