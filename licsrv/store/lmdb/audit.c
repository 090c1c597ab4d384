/* store/lmdb/audit.c - the audit database: entries keyed by time and a
 * global sequence number, read from a point in time on; the public
 * listener's repeats within an hour merged into one entry with a count
 * (store.h, STORE_AUDIT_COALESCE_TOKEN). */
#include <stdio.h>
#include <string.h>

#include "lic/err.h"
#include "store/lmdb/internal.h"

int lmdb__audit_decode(const MDB_val *k, const MDB_val *v, store_audit *a) {
  rbuf r;
  memset(a, 0, sizeof *a);
  if (k->mv_size != 16)
    return lmdb__corrupt("audit", "key length");
  a->seq = lmdb__be_get((const uint8_t *)k->mv_data + 8, 8);
  lmdb__rb_begin(&r, v);
  a->time = lmdb__rb_i64(&r);
  lmdb__rb_str(&r, a->token, sizeof a->token);
  lmdb__rb_str(&r, a->action, sizeof a->action);
  lmdb__rb_str(&r, a->subject, sizeof a->subject);
  a->count = 1;
  a->last = a->time;
  if (!r.bad && r.n >= 16) { /* merged repeats: i64 count, i64 last */
    int64_t n = lmdb__rb_i64(&r);
    a->last = lmdb__rb_i64(&r);
    if (n < 1)
      r.bad = true;
    a->count = (uint64_t)n;
  }
  return lmdb__rb_done(&r) ? LIC_OK : lmdb__corrupt("audit", "layout");
}

static void audit_encode(wbuf *b, const store_audit *a) {
  lmdb__wb_u8(b, REC_VERSION);
  lmdb__wb_i64(b, a->time);
  lmdb__wb_str(b, a->token);
  lmdb__wb_str(b, a->action);
  lmdb__wb_str(b, a->subject);
  if (a->count > 1) {
    lmdb__wb_i64(b, (int64_t)a->count);
    lmdb__wb_i64(b, a->last);
  }
}

/* Merge this event into the entry this writer appended for the same action
 * and subject in the same hour, if it is still there: *merged says so. The
 * key is checked to hold that entry (a rolled-back group may have reused
 * the sequence number for another). */
static int coalesce(store_wtxn *w, int64_t time, const char *action, const char *subject,
                    bool *merged) {
  int64_t hour = time / STORE_AUDIT_COALESCE_S;
  *merged = false;
  for (unsigned i = 0; i < LMDB_AUDIT_RECENT; i++) {
    lmdb_audit_recent *e = &w->s->recent[i];
    if (!e->used || e->hour != hour || strcmp(e->action, action) != 0 ||
        strcmp(e->subject, subject) != 0)
      continue;
    MDB_val k = lmdb__val(e->key, sizeof e->key), v;
    store_audit a;
    wbuf b = {0};
    int r = lmdb__get(w->s, w->txn, DB_AUDIT, e->key, sizeof e->key, &v);
    if (r == LIC_NOTFOUND) {
      e->used = false; /* purged or rolled back: append anew */
      return LIC_OK;
    }
    if (r != LIC_OK)
      return r;
    if (lmdb__audit_decode(&k, &v, &a) != LIC_OK ||
        strcmp(a.token, STORE_AUDIT_COALESCE_TOKEN) != 0 || strcmp(a.action, action) != 0 ||
        strcmp(a.subject, subject) != 0 || a.time / STORE_AUDIT_COALESCE_S != hour) {
      e->used = false;
      return LIC_OK;
    }
    a.count++;
    if (time > a.last)
      a.last = time;
    audit_encode(&b, &a);
    if ((r = lmdb__put_wbuf(w, DB_AUDIT, e->key, sizeof e->key, &b)) == LIC_OK)
      *merged = true; /* the same record: the account's count is unchanged */
    return r;
  }
  return LIC_OK;
}

static void recent_note(store *s, const uint8_t key[16], int64_t time, const char *action,
                        const char *subject) {
  lmdb_audit_recent *e = &s->recent[s->recent_next++ % LMDB_AUDIT_RECENT];
  e->used = true;
  e->hour = time / STORE_AUDIT_COALESCE_S;
  memcpy(e->key, key, sizeof e->key);
  snprintf(e->action, sizeof e->action, "%s", action);
  snprintf(e->subject, sizeof e->subject, "%s", subject);
}

static int bounded(const char *what, const char *s, size_t max) {
  size_t n = s != NULL ? strlen(s) : 0;
  if (n > max)
    return lic_fail(LIC_LIMIT, "audit %s longer than %zu bytes", what, max);
  return LIC_OK;
}

int lmdb_w_audit_append(store_wtxn *w, int64_t time, const char *token, const char *action,
                         const char *subject) {
  uint8_t key[16];
  uint64_t seq;
  int64_t last = 0;
  wbuf b = {0};
  store_audit e;
  bool merged = false;
  int r;

  if ((r = bounded("token", token, STORE_MAX_TOKEN_NAME)) != LIC_OK ||
      (r = bounded("action", action, STORE_MAX_ACTION)) != LIC_OK ||
      (r = bounded("subject", subject, STORE_MAX_SUBJECT)) != LIC_OK)
    return r;
  bool coalescible = token != NULL && action != NULL && subject != NULL &&
                     strcmp(token, STORE_AUDIT_COALESCE_TOKEN) == 0 && time >= 0;
  if (coalescible && ((r = coalesce(w, time, action, subject, &merged)) != LIC_OK || merged))
    return r;
  /* Key: time then a global sequence number (meta "audit_seq"), so entries
   * stay unique and in order even when the clock repeats or steps back. */
  if ((r = lmdb__meta_get_int(w->s, w->txn, "audit_seq", &last)) != LIC_OK && r != LIC_NOTFOUND)
    return r;
  seq = (uint64_t)last + 1;
  if ((r = lmdb__meta_put_int(w->s, w->txn, "audit_seq", (int64_t)seq)) != LIC_OK)
    return r;
  if (time < 0)
    time = 0;
  lmdb__be_put(key, (uint64_t)time, 8);
  lmdb__be_put(key + 8, seq, 8);
  memset(&e, 0, sizeof e);
  e.time = time;
  snprintf(e.token, sizeof e.token, "%s", token != NULL ? token : "");
  snprintf(e.action, sizeof e.action, "%s", action != NULL ? action : "");
  snprintf(e.subject, sizeof e.subject, "%s", subject != NULL ? subject : "");
  audit_encode(&b, &e);
  if ((r = lmdb__put_wbuf(w, DB_AUDIT, key, sizeof key, &b)) != LIC_OK)
    return r;
  if (coalescible)
    recent_note(w->s, key, time, e.action, e.subject);
  return lmdb__usage_audit(w->s, w->txn, subject, 1); /* an account's entry counts */
}

typedef struct {
  store_audit_cb cb;
  void *arg;
  const char *needle;
} audit_walk;

static int audit_visit(const MDB_val *k, const MDB_val *v, void *arg) {
  audit_walk *aw = arg;
  store_audit a;
  int r = lmdb__audit_decode(k, v, &a);
  if (r != LIC_OK)
    return r;
  if (aw->needle != NULL && strstr(a.subject, aw->needle) == NULL)
    return 0;
  return aw->cb(&a, aw->arg);
}

int lmdb_audit_each(store_reader *rd, int64_t since, const char *needle, store_audit_cb cb,
                     void *arg) {
  MDB_txn *t;
  MDB_cursor *c = NULL;
  MDB_val k, v;
  uint8_t key[16] = {0};
  audit_walk aw = {cb, arg, needle};
  int mrc, r;

  if ((r = lmdb__rtxn(rd, &t)) != LIC_OK)
    return r;
  if ((mrc = mdb_cursor_open(t, rd->s->dbi[DB_AUDIT], &c)) != 0)
    return lmdb__fail(mrc, "audit");
  lmdb__be_put(key, (uint64_t)(since < 0 ? 0 : since), 8);
  k = lmdb__val(key, sizeof key);
  r = LIC_OK;
  for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0;
       mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
    if ((r = audit_visit(&k, &v, &aw)) != 0)
      break;
  if (r == 0 && mrc != MDB_NOTFOUND)
    r = lmdb__fail(mrc, "audit");
  mdb_cursor_close(c);
  return r;
}
