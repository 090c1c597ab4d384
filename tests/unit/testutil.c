/* testutil.c - shared helpers of the unit tests. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lic/err.h"
#include "lic/fileio.h"
#include "testutil.h"

const char *tu_src(const char *rel) {
  static char buf[4][PATH_MAX];
  static int slot;
  const char *root = getenv("LIC_SOURCE_DIR");
  char *b = buf[slot++ % 4];
  snprintf(b, PATH_MAX, "%s/%s", root != NULL ? root : LIC_SOURCE_DIR, rel);
  return b;
}

lic_key *tu_test_root_key(void) {
  lic_key *k = NULL;
  const char *p = tu_src("keys/test/test-root.pem");
  chmod(p, 0600); /* git does not keep modes beyond the x bit */
  int rc = lic_key_load_private(p, NULL, &k);
  if (rc != LIC_OK)
    fail_msg("cannot load the test key %s: %s", p, lic_errfull(rc));
  return k;
}

char *tu_tmpdir(void) {
  char tmpl[] = "/tmp/lictest.XXXXXX";
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  return strdup(d);
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

void tu_rmtree(const char *dir) {
  if (dir != NULL)
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_write(const char *dir, const char *rel, const char *content) {
  char path[PATH_MAX], parent[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  snprintf(parent, sizeof parent, "%s", path);
  char *slash = strrchr(parent, '/');
  *slash = '\0';
  assert_int_equal(lic_mkdirs(parent, 0755), LIC_OK);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

void tu_fake_machine(const char *dir, const char *machine_id, const char *uuid,
                     const char *const *nics, size_t n) {
  char rel[256], line[64];
  snprintf(line, sizeof line, "%s\n", machine_id);
  tu_write(dir, "etc/machine-id", line);
  if (uuid != NULL) {
    snprintf(line, sizeof line, "%s\n", uuid);
    tu_write(dir, "sys/class/dmi/id/product_uuid", line);
  }
  for (size_t i = 0; i < n; i++) {
    char name[32], mac[32];
    const char *eq = strchr(nics[i], '=');
    snprintf(name, sizeof name, "%.*s", (int)(eq - nics[i]), nics[i]);
    snprintf(mac, sizeof mac, "%.17s\n", eq + 1);
    snprintf(rel, sizeof rel, "sys/class/net/%s/address", name);
    tu_write(dir, rel, mac);
    if (strstr(eq, ",virtual") == NULL) {
      snprintf(rel, sizeof rel, "sys/class/net/%s/device/uevent", name);
      tu_write(dir, rel, "");
    }
  }
}
