/* cmd/trust.c - `licsrv trust add|list|remove`: the vendor root keys this
 * server trusts besides the built-in ones (PEM files in DATA/trusted), for imports
 * through the admin API and `licsrv import`, and for online activation
 * claims. Changes are audited. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "cmd/table.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/keys.h"

static const char HELP[] =
    "usage: licsrv trust add PUB.pem | list | remove KID|PUB.pem [--data DIR] [--config FILE]\n"
    "         [--store URL] [--json]\n"
    "\n"
    "The vendor root public keys this server trusts: the ones built into this\n"
    "build (none in a build from the source repository) and the ones added here,\n"
    "kept as DATA/" LICSRV_TRUST_DIR "/KID.pub.pem. Licenses, accounts and certificates\n"
    "imported with 'licsrv import' (without --trust) or through the admin API, and\n"
    "online activation claims, are checked against them. A running server picks\n"
    "a change up at its next request. 'add' and 'remove' are audited as\n"
    "trust.add / trust.remove, subject key:KID.\n"
    "\n"
    "  add PUB.pem      trust this Ed25519 public key (from 'licgen keygen')\n"
    "  list             the trusted keys: key id and where each comes from\n"
    "  remove KID       stop trusting a key added here (its 16-hex-digit key id, or\n"
    "                   a PEM file holding it); built-in keys cannot be removed\n"
    "  --data DIR       data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL      a PostgreSQL store for the audit entry (postgresql://...)\n"
    "  --config FILE    read `data =` and `store =` from this INI file\n"
    "  --json           print as JSON\n";

static bool is_pem(const char *name) {
  size_t n = strlen(name);
  return n > 4 && strcmp(name + n - 4, ".pem") == 0;
}

/* One PEM file of DATA/trusted: its key id, or ok false when unreadable. */
typedef int (*file_cb)(const char *name, const char *path, bool ok,
                       const uint8_t pub[LIC_PUBKEY_LEN], void *arg);

static int each_file(const char *dir, file_cb fn, void *arg) {
  struct dirent **ents = NULL;
  int n = scandir(dir, &ents, NULL, alphasort), r = 0;
  if (n < 0)
    return errno == ENOENT ? 0 : lic_fail(LIC_IO, "%s: %s", dir, strerror(errno));
  for (int i = 0; i < n; i++) {
    char path[4400];
    if (r == 0 && is_pem(ents[i]->d_name) &&
        (size_t)snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name) < sizeof path) {
      lic_key *k = NULL;
      bool ok = lic_key_load_public(path, &k) == LIC_OK;
      r = fn(ents[i]->d_name, path, ok, ok ? lic_key_raw_public(k) : NULL, arg);
      lic_key_free(k);
    }
    free(ents[i]);
  }
  free(ents);
  return r;
}

static int load_cb(const char *name, const char *path, bool ok, const uint8_t pub[LIC_PUBKEY_LEN],
                   void *arg) {
  (void)name;
  (void)path;
  if (ok)
    (void)lic_trust_add_raw(arg, pub); /* a full store keeps the first LIC_MAX_TRUST */
  return 0;
}

int licsrv_trust_load(const char *data, lic_trust *t) {
  char dir[4200];
  if (lic_trust_builtin(t) != LIC_OK)
    lic_trust_init(t);
  snprintf(dir, sizeof dir, "%s/%s", data, LICSRV_TRUST_DIR);
  return each_file(dir, load_cb, t);
}

/* ---- list -------------------------------------------------------------------------------- */

typedef struct {
  licsrv_table t;
  json_t *arr;
} list_ctx;

static void list_row(list_ctx *l, const char *kid, const char *source, const char *state) {
  if (l->arr != NULL) {
    json_array_append_new(l->arr, json_pack("{s:s?, s:s, s:s}", "kid", kid, "source", source,
                                            "state", state));
  } else {
    const char *cells[] = {kid, source, state};
    licsrv_table_row(&l->t, cells);
  }
}

static int list_file(const char *name, const char *path, bool ok,
                     const uint8_t pub[LIC_PUBKEY_LEN], void *arg) {
  char kid[2 * LIC_KID_LEN + 1], source[300];
  uint8_t k[LIC_KID_LEN];
  (void)path;
  snprintf(source, sizeof source, LICSRV_TRUST_DIR "/%s", name);
  if (ok) {
    lic_kid_of(pub, k);
    lic_kid_hex(k, kid);
  }
  list_row(arg, ok ? kid : NULL, source, ok ? "trusted" : "unreadable (ignored)");
  return 0;
}

static int do_list(const licsrv_opts *o, const char *dir) {
  static const char *const head[] = {"KEY ID", "SOURCE", "STATE", NULL};
  list_ctx l;
  lic_trust bt;
  int r, ex;
  char kid[2 * LIC_KID_LEN + 1];
  licsrv_table_init(&l.t, head);
  l.arr = o->json ? json_array() : NULL;
  if (lic_trust_builtin(&bt) != LIC_OK)
    lic_trust_init(&bt);
  for (size_t i = 0; i < bt.n; i++) {
    lic_kid_hex(bt.k[i].kid, kid);
    list_row(&l, kid, "built-in", "trusted");
  }
  if ((r = each_file(dir, list_file, &l)) != LIC_OK) {
    ex = cli_lic_error("trust", r);
    json_decref(l.arr);
  } else {
    ex = o->json ? cli_json_print(json_pack("{s:o}", "keys", l.arr))
                 : licsrv_table_print(&l.t, stdout);
  }
  licsrv_table_free(&l.t);
  return ex;
}

/* ---- add / remove ------------------------------------------------------------------------- */

typedef struct {
  uint8_t kid[LIC_KID_LEN];
  char found[300]; /* add: a file that already holds the key */
  int removed, failed;
  int err;
} key_match;

static int find_file(const char *name, const char *path, bool ok,
                     const uint8_t pub[LIC_PUBKEY_LEN], void *arg) {
  key_match *m = arg;
  uint8_t k[LIC_KID_LEN];
  (void)path;
  if (!ok)
    return 0;
  lic_kid_of(pub, k);
  if (memcmp(k, m->kid, LIC_KID_LEN) == 0 && m->found[0] == '\0')
    snprintf(m->found, sizeof m->found, "%s", name);
  return 0;
}

static int remove_file(const char *name, const char *path, bool ok,
                       const uint8_t pub[LIC_PUBKEY_LEN], void *arg) {
  key_match *m = arg;
  uint8_t k[LIC_KID_LEN];
  (void)name;
  if (!ok)
    return 0;
  lic_kid_of(pub, k);
  if (memcmp(k, m->kid, LIC_KID_LEN) != 0)
    return 0;
  if (unlink(path) == 0) {
    m->removed++;
  } else {
    m->err = lic_fail(LIC_IO, "%s: %s", path, strerror(errno));
    m->failed++;
  }
  return 0;
}

static bool parse_kid(const char *text, uint8_t kid[LIC_KID_LEN]) {
  if (strlen(text) != 2 * LIC_KID_LEN)
    return false;
  for (size_t i = 0; i < LIC_KID_LEN; i++) {
    unsigned v = 0;
    for (size_t j = 0; j < 2; j++) {
      char c = text[2 * i + j];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0)
        return false;
      v = v * 16 + (unsigned)d;
    }
    kid[i] = (uint8_t)v;
  }
  return true;
}

static int audit(store *s, const char *action, const char *kid) {
  char subject[64];
  snprintf(subject, sizeof subject, "key:%s", kid);
  int r = licsrv_write_audited(s, NULL, NULL, action, subject);
  return r == LIC_OK ? EXIT_OK : cli_lic_error("store", r);
}

static int do_add(const licsrv_opts *o, store *s, const char *dir, const char *file) {
  lic_key *k = NULL;
  char *pem = NULL, kid[2 * LIC_KID_LEN + 1], path[4400];
  size_t len = 0;
  key_match m;
  int r, ex;

  memset(&m, 0, sizeof m);
  if ((r = lic_key_load_public(file, &k)) != LIC_OK)
    return cli_error(EXIT_FAIL, file, "%s (expected the vendor's Ed25519 public key, "
                     "VENDOR.pub.pem from 'licgen keygen')", lic_errfull(r));
  memcpy(m.kid, lic_key_kid(k), LIC_KID_LEN);
  lic_kid_hex(m.kid, kid);
  if ((r = each_file(dir, find_file, &m)) != LIC_OK) {
    ex = cli_lic_error("trust", r);
    goto out;
  }
  lic_trust bt;
  if (lic_trust_builtin(&bt) == LIC_OK && lic_trust_find(&bt, m.kid) != NULL)
    snprintf(m.found, sizeof m.found, "built in");
  if (m.found[0] != '\0') {
    ex = o->json ? cli_json_print(json_pack("{s:s, s:b, s:s}", "kid", kid, "added", 0, "source",
                                            m.found))
                 : printf("key %s is already trusted (%s)\n", kid, m.found) < 0;
    goto out;
  }
  snprintf(path, sizeof path, "%s/%s.pub.pem", dir, kid);
  if ((r = lic_key_public_pem(k, &pem, &len)) != LIC_OK || (r = lic_mkdirs(dir, 0700)) != LIC_OK ||
      (r = lic_file_write(path, pem, len, 0644, LIC_WRITE_NOREPLACE)) != LIC_OK) {
    ex = cli_lic_error("trust", r);
    goto out;
  }
  if ((ex = audit(s, "trust.add", kid)) != EXIT_OK) {
    unlink(path); /* not audited: not trusted */
    goto out;
  }
  ex = o->json ? cli_json_print(json_pack("{s:s, s:b, s:s}", "kid", kid, "added", 1, "file", path))
               : printf("trusted key %s (%s)\n", kid, path) < 0;
out:
  free(pem);
  lic_key_free(k);
  return ex;
}

static int do_remove(const licsrv_opts *o, store *s, const char *dir, const char *what) {
  key_match m;
  lic_trust bt;
  char kid[2 * LIC_KID_LEN + 1];
  int r, ex;

  memset(&m, 0, sizeof m);
  if (!parse_kid(what, m.kid)) {
    lic_key *k = NULL;
    if ((r = lic_key_load_public(what, &k)) != LIC_OK)
      return cli_usage("trust", "remove takes a key id (16 hex digits) or a public key file: "
                       "%s", lic_errfull(r));
    memcpy(m.kid, lic_key_kid(k), LIC_KID_LEN);
    lic_key_free(k);
  }
  lic_kid_hex(m.kid, kid);
  if ((r = each_file(dir, remove_file, &m)) != LIC_OK)
    return cli_lic_error("trust", r);
  if (m.failed > 0)
    return cli_lic_error("trust", m.err);
  if (m.removed == 0) {
    bool builtin = lic_trust_builtin(&bt) == LIC_OK && lic_trust_find(&bt, m.kid) != NULL;
    return cli_error(EXIT_FAIL, "trust", builtin ? "key %s is built into this build: it cannot "
                     "be removed here" : "key %s is not in %s", kid, dir);
  }
  if ((ex = audit(s, "trust.remove", kid)) != EXIT_OK)
    return ex;
  return o->json ? cli_json_print(json_pack("{s:s, s:b}", "kid", kid, "removed", 1))
                 : printf("no longer trusted: key %s\n", kid) < 0;
}

int licsrv_cmd_trust(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'}, {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
  licsrv_opts o;
  const char *verb;
  char dir[4200];
  int c, ex;

  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt("trust", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    ; /* no options of its own */
  if (c < 0)
    return ex;
  if (optind >= argc)
    return cli_usage("trust", "expected add PUB.pem, list or remove KID");
  verb = argv[optind++];
  if (strcmp(verb, "list") == 0) {
    if (optind != argc)
      return cli_usage("trust", "list takes no argument");
  } else if (strcmp(verb, "add") == 0 || strcmp(verb, "remove") == 0) {
    if (argc - optind != 1)
      return cli_usage("trust", "%s takes exactly one %s", verb,
                       strcmp(verb, "add") == 0 ? "PUB.pem" : "KID or PUB.pem");
  } else {
    return cli_usage("trust", "unknown action '%s' (add, list, remove)", verb);
  }
  if ((ex = licsrv_opts_finish(&o, "trust")) != EXIT_OK ||
      (ex = licsrv_data_path(&o, LICSRV_TRUST_DIR, dir, sizeof dir)) != EXIT_OK)
    return ex;
  if (strcmp(verb, "list") == 0)
    return do_list(&o, dir);
  /* The store first: a change that cannot be audited is not made. */
  store *s = NULL;
  if ((ex = licsrv_open_store(&o, 0, &s)) != EXIT_OK)
    return ex;
  ex = strcmp(verb, "add") == 0 ? do_add(&o, s, dir, argv[optind])
                                : do_remove(&o, s, dir, argv[optind]);
  store_close(s);
  return ex;
}
