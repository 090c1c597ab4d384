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

static json_t *time_json(int64_t t) {
  char buf[21];
  if (t <= 0)
    return json_null();
  lic_time_format(t, buf);
  return json_string(buf);
}

/* The status document of SPEC §8 (plus heartbeat, grace, detail, node). */
char *licctl_status_json(const lic_session_info *in, const char *node) {
  json_t *feat = json_array();
  for (size_t i = 0; i < in->features->n; i++)
    json_array_append_new(feat, json_string(in->features->v[i]));
  json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:o, s:I, s:I, s:s}",
                        "state", lic_session_state_name(in->state), "reason", in->reason,
                        "detail", in->detail, "features", feat, "expires",
                        in->last_valid == 0 ? json_null()
                        : in->expires == 0  ? json_string("never")
                                            : time_json(in->expires),
                        "grace_until", time_json(in->grace_until), "last_valid",
                        time_json(in->last_valid), "last_error", in->last_error, "server",
                        in->server, "checked_at", time_json(in->checked_at), "next_check",
                        time_json(in->next_check), "heartbeat", (json_int_t)in->heartbeat,
                        "grace", (json_int_t)in->grace, "node", node);
  if (o != NULL) /* the kept revocation list, 0: none (docs/revocation.md) */
    json_object_set_new(o, "revocations_seq", json_integer(in->revocations_seq));
  if (o != NULL)
    json_object_set_new(o, "license", in->license != NULL && in->license[0] != '\0'
                                          ? json_string(in->license)
                                          : json_null());
  if (o == NULL)
    return NULL;
  char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(o);
  return s;
}
