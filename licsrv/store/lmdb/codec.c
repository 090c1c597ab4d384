/* store/lmdb/codec.c - the one place an MDB_* code becomes a lic_err, and the
 * record codec every database file encodes and decodes with: a version byte,
 * big-endian ints, u16-length strings, u32-length blobs (docs/storage.md
 * "Record encoding"). Decoding never trusts a length it has not checked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "util/array.h"
#include "store/lmdb/internal.h"

/* ---- errors: every MDB_* code becomes a lic_err here, detail kept ------- */

/* MDB_MAP_FULL seen by this thread: LIC_LIMIT alone also means a value too
 * long, and the writer must tell the map filling from that. */
static _Thread_local uint64_t map_full_seen;

uint64_t lmdb__map_full_count(void) { return map_full_seen; }

int lmdb__fail(int mrc, const char *what) {
  int e;
  if (mrc == MDB_MAP_FULL)
    map_full_seen++;
  switch (mrc) {
  case MDB_NOTFOUND: e = LIC_NOTFOUND; break;
  case MDB_KEYEXIST: e = LIC_EXISTS; break;
  case MDB_MAP_FULL: case MDB_DBS_FULL: case MDB_READERS_FULL: case MDB_TXN_FULL:
  case MDB_CURSOR_FULL: case MDB_PAGE_FULL: case MDB_MAP_RESIZED: case MDB_BAD_VALSIZE:
  case MDB_TLS_FULL:
    e = LIC_LIMIT;
    break;
  case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND: case MDB_INVALID: case MDB_VERSION_MISMATCH:
  case MDB_INCOMPATIBLE: case MDB_BAD_DBI:
    e = LIC_FORMAT;
    break;
  case ENOMEM: e = LIC_NOMEM; break;
  case ENOENT: e = LIC_NOTFOUND; break;
  case EINVAL: e = LIC_INVALID; break;
  default: e = LIC_IO; break;
  }
  return lic_fail(e, "%s: %s", what, mdb_strerror(mrc));
}

int lmdb__corrupt(const char *what, const char *why) {
  return lic_fail(LIC_FORMAT, "stored %s record is corrupt (%s)", what, why);
}

/* ---- record codec: version byte, big-endian ints, u16/u32-length strings -- */

static void wb_put(wbuf *b, const void *d, size_t len) {
  if (b->bad)
    return;
  if (len > SIZE_MAX - b->n || srv_array_reserve(&b->p, &b->cap, b->n + len, 128) != LIC_OK) {
    b->bad = true;
    return;
  }
  if (len > 0)
    memcpy(b->p + b->n, d, len);
  b->n += len;
}

void lmdb__be_put(uint8_t *o, uint64_t v, size_t w) {
  for (size_t i = 0; i < w; i++)
    o[i] = (uint8_t)(v >> (8 * (w - 1 - i)));
}

uint64_t lmdb__be_get(const uint8_t *p, size_t w) {
  uint64_t v = 0;
  for (size_t i = 0; i < w; i++)
    v = (v << 8) | p[i];
  return v;
}

void lmdb__wb_u8(wbuf *b, uint8_t v) { wb_put(b, &v, 1); }
void lmdb__wb_i64(wbuf *b, int64_t v) {
  uint8_t o[8];
  lmdb__be_put(o, (uint64_t)v, 8);
  wb_put(b, o, 8);
}
void lmdb__wb_str(wbuf *b, const char *s) {
  size_t len = s != NULL ? strlen(s) : 0;
  uint8_t o[2];
  if (len > UINT16_MAX) {
    b->bad = true;
    return;
  }
  lmdb__be_put(o, len, 2);
  wb_put(b, o, 2);
  wb_put(b, s, len);
}
void lmdb__wb_blob(wbuf *b, const uint8_t *d, size_t len) {
  uint8_t o[4];
  if (len > UINT32_MAX) {
    b->bad = true;
    return;
  }
  lmdb__be_put(o, len, 4);
  wb_put(b, o, 4);
  wb_put(b, d, len);
}

uint64_t lmdb__rb_uint(rbuf *r, size_t w) {
  if (r->bad || r->n < w) {
    r->bad = true;
    return 0;
  }
  uint64_t v = lmdb__be_get(r->p, w);
  r->p += w;
  r->n -= w;
  return v;
}
int64_t lmdb__rb_i64(rbuf *r) { return (int64_t)lmdb__rb_uint(r, 8); }
/* A string of at most cap-1 bytes without NULs, copied NUL-terminated. */
void lmdb__rb_str(rbuf *r, char *out, size_t cap) {
  size_t len = (size_t)lmdb__rb_uint(r, 2);
  out[0] = '\0';
  if (r->bad || len > r->n || len >= cap || memchr(r->p, '\0', len) != NULL) {
    r->bad = true;
    return;
  }
  memcpy(out, r->p, len);
  out[len] = '\0';
  r->p += len;
  r->n -= len;
}
/* A blob copied out (malloc'd; NULL for an empty one). */
void lmdb__rb_blob(rbuf *r, size_t max, uint8_t **out, size_t *outlen) {
  size_t len = (size_t)lmdb__rb_uint(r, 4);
  *out = NULL;
  *outlen = 0;
  if (r->bad || len > r->n || len > max) {
    r->bad = true;
    return;
  }
  if (len > 0) {
    if ((*out = malloc(len)) == NULL) {
      r->bad = true;
      return;
    }
    memcpy(*out, r->p, len);
  }
  *outlen = len;
  r->p += len;
  r->n -= len;
}
void lmdb__rb_begin(rbuf *r, const MDB_val *v) {
  r->p = v->mv_data;
  r->n = v->mv_size;
  r->bad = false;
  if (lmdb__rb_uint(r, 1) != REC_VERSION)
    r->bad = true;
}
bool lmdb__rb_done(const rbuf *r) { return !r->bad && r->n == 0; }
