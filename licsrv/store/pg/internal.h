/* store/pg/internal.h - what every file of the PostgreSQL backend needs and
 * nothing outside store/pg/ may see: the store handle, which holds one struct
 * per room (each declared in its room's header, beside its code, with its own
 * lock), the schema version, and pgs_open's options.
 *
 * The backend holds public mode's state (meta, certificates, accounts,
 * registrations, nodes, audit, admin tokens) in one PostgreSQL database that
 * several licsrv processes share; private-mode records (licenses, activations)
 * answer LIC_INVALID (private mode is LMDB only). Each reader owns one
 * connection (readers are per thread); the writer thread owns another and runs
 * the LMDB writer's group commit on it. Queries use binary results.
 *
 * The rooms, lowest first; a room calls only rooms below it
 * (docs/architecture.md; tests/layering/check_layers.py checks it): lock.c,
 * notify.c < conn.c < stop.c < cache.c < listen.c < pipe.c < writer.c <
 * readq.c < records.c < maint.c (the operations) < schema.c (open, close,
 * meta). A file reads and writes the members of its own room's struct only;
 * the others' through their functions. */
#ifndef LICSRV_STORE_PG_INTERNAL_H
#define LICSRV_STORE_PG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "store/backend.h"
#include "store/pg/cache.h"
#include "store/pg/conn.h"
#include "store/pg/listen.h"
#include "store/pg/lock.h"
#include "store/pg/notify.h"
#include "store/pg/pipe.h"
#include "store/pg/readq.h"
#include "store/pg/stop.h"
#include "store/pg/writer.h"

STORE_DECLARE(pgs)

#define PGS_SCHEMA_VERSION 6 /* store/pg/schema.c: the migrations, in order */

/* An audit insert's tail from schema version 6 on: a repeat of the public
 * listener's entry (same action and subject, same clock hour) merges into
 * it, across processes (store/pg/schema.c MIGRATION_6). */
#define PGS_STR_(x) #x
#define PGS_STR(x) PGS_STR_(x)
#define PGS_AUDIT_MERGE                                                                    \
  " ON CONFLICT (action, subject, (time / " PGS_STR(STORE_AUDIT_COALESCE_S) "))"           \
  " WHERE token = '" STORE_AUDIT_COALESCE_TOKEN "' DO UPDATE SET"                          \
  " count = licsrv_audit.count + 1,"                                                       \
  " last = GREATEST(licsrv_audit.last, licsrv_audit.time, EXCLUDED.time)"

struct pgs_store {
  const store_ops *ops; /* first: the dispatcher reads it */
  /* set at open, read-only after */
  char *url;
  bool rdonly;
  bool cached; /* STORE_CACHED: the read copy answers the verify path */
  /* this process's writer, as its session tells the triggers (licsrv.origin) */
  uint8_t origin[PGS_ORIGIN_LEN];
  char origin_hex[2 * PGS_ORIGIN_LEN + 1];
  pgs_owner wowner; /* the writer thread, while it runs */
  pgs_wconn wc;     /* the writer's connection (writer thread only) */
  /* the rooms */
  pgs_writer writer;
  pgs_pipe pipe;
  pgs_cache cache;
  pgs_listen listen;
  pgs_stop stop;
  pgs_readq readq;
};

/* Writer thread only (the opener before it starts, the closer after). */
#define PGS_ASSERT_WRITER(s) PGS_ASSERT_OWNER(&(s)->wowner)

/* What pgs_open_with takes beyond the flags (pgs_open: none, all zero). */
typedef struct {
  pgs_cache_hook_fn cache_hook;
} pgs_open_opts;

/* ---- schema.c ------------------------------------------------------------------ */

/* pgs_open with options (o NULL: none); tests open a store with a hook. */
int pgs_open_with(const char *url, unsigned flags, const pgs_open_opts *o, store **out);
/* The schema version recorded in the database (0: no licsrv schema). */
int pgs__schema_get(PGconn *c, int *version);
/* Apply the migrations from version `from` up to PGS_SCHEMA_VERSION, in one
 * transaction. */
int pgs__migrate(PGconn *c, int from);
/* The same up to version `to` only (tests: a database an older licsrv made). */
int pgs__migrate_to(PGconn *c, int to);

#endif
