/* cmd/backup.c - `licsrv backup DEST`: a hot, compacted copy of the store plus
 * the key files, written into a temporary directory and renamed into place. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/keys.h"

static const char HELP[] =
    "usage: licsrv backup DEST [--data DIR] [--config FILE]\n"
    "\n"
    "Write a consistent, compacted copy of the store (DEST/store/data.mdb) and\n"
    "the server's key files and trusted roots (DATA/trusted/) into the new\n"
    "directory DEST (mode 0700), while the server keeps serving. DEST is a\n"
    "complete data directory: restore it with\n"
    "'licsrv serve --data DEST'. It holds the node private key: keep it safe.\n"
    "\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n";

static int copy_file(const licsrv_opts *o, const char *name, const char *dir, mode_t mode) {
  char src[PATH_MAX], dst[PATH_MAX];
  uint8_t *buf = NULL;
  size_t len = 0;
  int r;
  if (licsrv_data_path(o, name, src, sizeof src) != EXIT_OK)
    return LIC_INVALID;
  if ((size_t)snprintf(dst, sizeof dst, "%s/%s", dir, name) >= sizeof dst)
    return LIC_INVALID;
  if ((r = lic_file_read(src, LIC_MAX_FILE, &buf, &len)) == LIC_NOTFOUND)
    return LIC_OK; /* nothing to copy */
  if (r == LIC_OK)
    r = lic_file_write(dst, buf, len, mode, LIC_WRITE_NOREPLACE);
  if (buf != NULL)
    lic_secret_free(buf, len);
  return r;
}

#define TRUST_DIR "trusted" /* extra roots the admin API and claims trust */

/* DATA/trusted/: the roots imports and claims are checked against. Without
 * them a restored server answers claims not_genuine and imports untrusted.
 * Regular files only (a symlink would copy what it points at by surprise). */
static int copy_trusted(const licsrv_opts *o, const char *dir) {
  char src[PATH_MAX], dst[PATH_MAX], name[PATH_MAX];
  struct dirent *de;
  struct stat st;
  int r = LIC_OK;
  if (licsrv_data_path(o, TRUST_DIR, src, sizeof src) != EXIT_OK)
    return LIC_INVALID;
  DIR *d = opendir(src);
  if (d == NULL)
    return errno == ENOENT ? LIC_OK : lic_fail(LIC_IO, "%s: %s", src, strerror(errno));
  if ((size_t)snprintf(dst, sizeof dst, "%s/%s", dir, TRUST_DIR) >= sizeof dst ||
      mkdir(dst, 0700) != 0) {
    closedir(d);
    return lic_fail(LIC_IO, "%s: %s", dst, strerror(errno));
  }
  while (r == LIC_OK && (de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    if ((size_t)snprintf(name, sizeof name, "%s/%s", src, de->d_name) >= sizeof name ||
        lstat(name, &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    snprintf(name, sizeof name, "%s/%s", TRUST_DIR, de->d_name);
    r = copy_file(o, name, dir, 0644);
  }
  closedir(d);
  return r;
}

static void rm_partial(const char *tmp) {
  char p[PATH_MAX + 32];
  snprintf(p, sizeof p, "%s/%s", tmp, TRUST_DIR);
  DIR *d = opendir(p);
  if (d != NULL) {
    struct dirent *de;
    char f[PATH_MAX + 300];
    while ((de = readdir(d)) != NULL)
      if (de->d_name[0] != '.' && (size_t)snprintf(f, sizeof f, "%s/%s", p, de->d_name) < sizeof f)
        unlink(f);
    closedir(d);
    rmdir(p);
  }
  static const char *const files[] = {"store/data.mdb", "store/lock.mdb", "store",
                                      LICSRV_NODE_KEY, LICSRV_NODE_PUB,
                                      LICSRV_ONLINE_KEY, LICSRV_ONLINE_PUB,
                                      LICSRV_ONLINE_NEXT, LICSRV_ONLINE_NEXT_PUB,
                                      LICSRV_ONLINE_PREV, LICSRV_ONLINE_PREV_PUB};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", tmp, files[i]);
    if (unlink(p) != 0)
      rmdir(p);
  }
  rmdir(tmp);
}

int licsrv_cmd_backup(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
  licsrv_opts o;
  store *s = NULL;
  const char *dest;
  char tmp[PATH_MAX], sub[PATH_MAX + 16], parent[PATH_MAX];
  bool have_tmp = false;
  struct stat st;
  int c, r, ex;

  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt("backup", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    ; /* no options of its own */
  if (c < 0)
    return ex;
  if (argc - optind != 1)
    return cli_usage("backup", "expected exactly one DEST directory");
  dest = argv[optind];
  if ((ex = licsrv_opts_finish(&o, "backup")) != EXIT_OK)
    return ex;
  if (lstat(dest, &st) == 0)
    return cli_error(EXIT_FAIL, dest, "already exists (a backup never replaces anything)");
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", dest) >= sizeof tmp)
    return cli_error(EXIT_FAIL, dest, "path too long");
  if ((ex = licsrv_open_store(&o, STORE_RDONLY, &s)) != EXIT_OK)
    return ex;
  if (mkdtemp(tmp) == NULL) {
    ex = cli_error(EXIT_FAIL, dest, "%s", strerror(errno));
    goto out;
  }
  have_tmp = true;
  snprintf(sub, sizeof sub, "%s/%s", tmp, STORE_SUBDIR);
  if ((r = store_backup(s, sub)) != LIC_OK) {
    ex = cli_lic_error(dest, r);
    goto out;
  }
  /* The keys that exist: the node key (private mode) or the online keys. */
  if ((r = copy_file(&o, LICSRV_NODE_KEY, tmp, 0600)) != LIC_OK ||
      (r = copy_file(&o, LICSRV_NODE_PUB, tmp, 0644)) != LIC_OK ||
      (r = copy_file(&o, LICSRV_ONLINE_KEY, tmp, 0600)) != LIC_OK ||
      (r = copy_file(&o, LICSRV_ONLINE_PUB, tmp, 0644)) != LIC_OK ||
      (r = copy_file(&o, LICSRV_ONLINE_NEXT, tmp, 0600)) != LIC_OK ||
      (r = copy_file(&o, LICSRV_ONLINE_NEXT_PUB, tmp, 0644)) != LIC_OK ||
      (r = copy_file(&o, LICSRV_ONLINE_PREV, tmp, 0600)) != LIC_OK ||
      (r = copy_file(&o, LICSRV_ONLINE_PREV_PUB, tmp, 0644)) != LIC_OK ||
      (r = copy_trusted(&o, tmp)) != LIC_OK) {
    ex = cli_lic_error(dest, r);
    goto out;
  }
  /* data.mdb durable, then the rename, then the parent directory entry. */
  snprintf(sub, sizeof sub, "%s/%s/data.mdb", tmp, STORE_SUBDIR);
  int fd = open(sub, O_RDONLY);
  if (fd < 0 || fsync(fd) != 0) {
    if (fd >= 0)
      close(fd);
    ex = cli_error(EXIT_FAIL, dest, "%s", strerror(errno));
    goto out;
  }
  close(fd);
  if (rename(tmp, dest) != 0) {
    ex = cli_error(EXIT_FAIL, dest, "%s", strerror(errno));
    goto out;
  }
  have_tmp = false;
  snprintf(parent, sizeof parent, "%s", dest);
  char *slash = strrchr(parent, '/');
  if (slash == NULL)
    snprintf(parent, sizeof parent, ".");
  else if (slash == parent)
    parent[1] = '\0';
  else
    *slash = '\0';
  if ((fd = open(parent, O_RDONLY | O_DIRECTORY)) >= 0) {
    fsync(fd);
    close(fd);
  }
  printf("backup written to %s\n", dest);
  ex = EXIT_OK;
out:
  if (have_tmp)
    rm_partial(tmp);
  store_close(s);
  return ex;
}
