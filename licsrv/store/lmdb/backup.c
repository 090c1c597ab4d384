/* store/lmdb/backup.c - a consistent compacted copy of the environment, and its
 * size, for `licsrv backup` and the stats. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lic/err.h"
#include "store/lmdb/internal.h"

int lmdb_backup(store *s, const char *dest_dir) {
  char path[PATH_MAX + 16];
  struct stat st;
  int mrc;

  if (mkdir(dest_dir, 0700) != 0 && errno != EEXIST)
    return lic_fail(LIC_IO, "%s: %s", dest_dir, strerror(errno));
  if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", dest_dir) >= sizeof path)
    return lic_fail(LIC_INVALID, "%s: path too long", dest_dir);
  if (stat(path, &st) == 0)
    return lic_fail(LIC_EXISTS, "%s: already holds a store", dest_dir);
  /* A consistent snapshot from one read transaction; writers go on meanwhile. */
  if ((mrc = mdb_env_copy2(s->env, dest_dir, MDB_CP_COMPACT)) != 0) {
    unlink(path);
    return lmdb__fail(mrc, dest_dir);
  }
  chmod(path, 0600);
  return LIC_OK;
}

int lmdb_size(store *s, uint64_t *used, uint64_t *mapsize) {
  MDB_envinfo info;
  MDB_stat st;
  int mrc;
  *used = *mapsize = 0;
  if ((mrc = mdb_env_info(s->env, &info)) != 0 || (mrc = mdb_env_stat(s->env, &st)) != 0)
    return lmdb__fail(mrc, "size");
  *used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
  *mapsize = info.me_mapsize;
  return LIC_OK;
}
