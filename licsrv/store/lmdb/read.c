/* store/lmdb/read.c - store_read_submit on LMDB: a read transaction never
 * waits on anything (MVCC, memory-mapped pages), so the read runs at once on
 * the caller's thread and reader, exactly as a direct read would. */
#include "lic/err.h"
#include "store/lmdb/internal.h"

int lmdb_read_submit(store *s, store_reader *rd, store_read_fn read, store_read_done_fn done,
                     void *arg) {
  store_reader *own = NULL;
  int rc;
  if (rd == NULL) {
    if ((rc = lmdb_reader_new(s, &own)) != LIC_OK)
      return rc;
    rd = own;
  }
  lic_errdetail_clear(); /* the detail is per thread: not an earlier call's */
  if ((rc = lmdb_reader_begin(rd)) == LIC_OK) {
    rc = read(rd, arg);
    lmdb_reader_end(rd);
  }
  done(arg, rc, rc != LIC_OK ? lic_errdetail() : "");
  lmdb_reader_free(own);
  return LIC_OK;
}

void lmdb_read_quiesce(store *s) { (void)s; }
