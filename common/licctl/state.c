/* state.c - licctl's state directory: instance key and project id, made once. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "licctl.h"
#include "lic/fileio.h"

const char *licctl_state_dir(const char *opt) {
  static char buf[PATH_MAX];
  const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
  if (opt != NULL)
    return opt;
  if (x != NULL && *x == '/')
    snprintf(buf, sizeof buf, "%s/licctl", x);
  else
    snprintf(buf, sizeof buf, "%s/.local/state/licctl", home != NULL ? home : ".");
  return buf;
}

int licctl_state_ensure(const char *dir) {
  int rc = lic_mkdirs(dir, 0700);
  return rc == LIC_OK ? EXIT_OK : cli_lic_error("--state", rc);
}

int licctl_instance_key(const char *dir, lic_key **key) {
  char path[PATH_MAX];
  int rc;
  *key = NULL;
  snprintf(path, sizeof path, "%s/instance.pem", dir);
  rc = lic_key_load_private(path, NULL, key);
  if (rc == LIC_NOTFOUND) {
    /* First use: create it. NOREPLACE keeps a concurrent first use safe. */
    if ((rc = lic_key_generate(key)) == LIC_OK &&
        (rc = lic_key_save_private(*key, path, NULL)) == LIC_EXISTS) {
      lic_key_free(*key);
      *key = NULL;
      rc = lic_key_load_private(path, NULL, key);
    }
  }
  if (rc != LIC_OK) {
    lic_key_free(*key);
    *key = NULL;
    return cli_lic_error(path, rc);
  }
  return EXIT_OK;
}

int licctl_project_id(const char *dir, uint8_t id[LIC_ID_LEN]) {
  char path[PATH_MAX], text[LIC_UUID_LEN + 2];
  uint8_t *buf = NULL;
  size_t len;
  int rc;

  snprintf(path, sizeof path, "%s/project_id", dir);
  rc = lic_file_read_regular(path, 128, &buf, &len);
  if (rc == LIC_OK) {
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
      len--;
    rc = lic_uuid_parse((const char *)buf, len, id);
    free(buf);
    return rc == LIC_OK ? EXIT_OK : cli_lic_error(path, rc);
  }
  if (rc != LIC_NOTFOUND)
    return cli_lic_error(path, rc);
  if ((rc = lic_random(id, LIC_ID_LEN)) != LIC_OK)
    return cli_lic_error("random", rc);
  lic_uuid_format(id, text);
  text[LIC_UUID_LEN] = '\n';
  text[LIC_UUID_LEN + 1] = '\0';
  rc = lic_file_write(path, text, strlen(text), 0600, LIC_WRITE_NOREPLACE);
  if (rc == LIC_EXISTS)
    return licctl_project_id(dir, id); /* made concurrently: use that one */
  return rc == LIC_OK ? EXIT_OK : cli_lic_error(path, rc);
}
