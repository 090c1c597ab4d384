/* cmd/common.c - what licsrv's data subcommands share: the data directory
 * (--data / `data =` in --config), opening the store, audited writes. */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/err.h"
#include "lic/util.h"

void licsrv_opts_init(licsrv_opts *o) {
  memset(o, 0, sizeof *o);
  optind = 0; /* a fresh getopt scan (dispatch may have run one) */
  opterr = 0;
}

int licsrv_read_meta(const licsrv_opts *o, store *s, bool need_node_key, store_meta *meta) {
  store_reader *rd = NULL;
  int r;
  if ((r = store_reader_new(s, &rd)) == LIC_OK && (r = store_reader_begin(rd)) == LIC_OK)
    r = store_meta_get(rd, meta);
  store_reader_free(rd);
  if (r != LIC_OK)
    return cli_lic_error("store", r);
  if (need_node_key && !meta->has_node_key)
    return cli_error(EXIT_FAIL, o->data, "no node key (run 'licsrv init')");
  return EXIT_OK;
}

int licsrv_next_opt(const char *cmd, const char *help, int argc, char **argv,
                    const char *shortopts, const struct option *opts, licsrv_opts *o, int *ex) {
  int c;
  while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
    switch (c) {
    case 'd': o->data = optarg; break;
    case 'c': o->config = optarg; break;
    case 'S': o->store = optarg; break;
    case 'j': o->json = true; break;
    case 'h': fputs(help, stdout); *ex = EXIT_OK; return -1;
    case ':': *ex = cli_usage(cmd, "%s needs a value", argv[optind - 1]); return -1;
    case '?': *ex = cli_usage(cmd, "unknown option '%s'", argv[optind - 1]); return -1;
    default: return c;
    }
  }
  return 0;
}

/* Only `data` and `store` (at the top or in [licsrv], as `licsrv serve` reads them) are used
 * here; the server's config module owns and validates the rest. */
static int ini_data(void *user, const char *section, const char *name, const char *value) {
  licsrv_opts *o = user;
  if (section[0] != '\0' && strcmp(section, "licsrv") != 0)
    return 1;
  if (strcmp(name, "data") == 0) {
    if ((size_t)snprintf(o->data_buf, sizeof o->data_buf, "%s", value) >= sizeof o->data_buf)
      return 0;
    o->data = o->data_buf;
  } else if (strcmp(name, "store") == 0 && value[0] != '\0') {
    if ((size_t)snprintf(o->store_buf, sizeof o->store_buf, "%s", value) >= sizeof o->store_buf)
      return 0;
    o->store = o->store_buf;
  }
  return 1;
}

int licsrv_opts_finish(licsrv_opts *o, const char *cmd) {
  if ((o->data == NULL || o->store == NULL) && o->config != NULL) {
    const char *data = o->data, *st = o->store; /* the flags win over the file */
    int r = ini_parse(o->config, ini_data, o);
    if (r < 0)
      return cli_error(EXIT_FAIL, o->config, "cannot read the config file");
    if (r > 0)
      return cli_error(EXIT_FAIL, o->config, "syntax error on line %d", r);
    if (data != NULL)
      o->data = data;
    if (st != NULL)
      o->store = st;
  }
  if (o->store != NULL && !store_is_url(o->store))
    return cli_usage(cmd, "--store takes a postgresql:// URL (the LMDB store is DATA/store)");
  if (o->data == NULL)
    o->data = LICSRV_DEFAULT_DATA;
  if (o->data[0] == '\0')
    return cli_usage(cmd, "--data must not be empty");
  return EXIT_OK;
}

int licsrv_data_path(const licsrv_opts *o, const char *name, char *buf, size_t cap) {
  if ((size_t)snprintf(buf, cap, "%s/%s", o->data, name) >= cap)
    return cli_error(EXIT_FAIL, o->data, "path too long");
  return EXIT_OK;
}

int licsrv_open_store(const licsrv_opts *o, unsigned flags, store **s) {
  int r = store_open(o->store != NULL ? o->store : o->data, flags, s);
  return r == LIC_OK ? EXIT_OK : cli_error(EXIT_FAIL, "store", "%s", lic_errfull(r));
}

/* A login name as the store keeps token names: [A-Za-z0-9._-], else '_'. */
static void name_clean(char *s) {
  for (; *s != '\0'; s++) {
    char c = *s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-'))
      *s = '_';
  }
}

void licsrv_operator(char *buf, size_t cap) {
  const char *sudo = getenv("SUDO_USER"), *sudo_uid = getenv("SUDO_UID");
  struct passwd *pw;
  char name[48];
  int64_t su = -1;
  /* Under sudo (to root, or -u licsrv as the docs say), the person is SUDO_USER. */
  if (sudo_uid != NULL && lic_parse_int(sudo_uid, 0, INT32_MAX, &su) != LIC_OK)
    su = -1;
  if (sudo != NULL && sudo[0] != '\0' && su >= 0 && (geteuid() == 0 || (uid_t)su != getuid()))
    snprintf(name, sizeof name, "%s", sudo);
  else if ((pw = getpwuid(getuid())) != NULL && pw->pw_name != NULL)
    snprintf(name, sizeof name, "%s", pw->pw_name);
  else
    snprintf(name, sizeof name, "uid%lu", (unsigned long)getuid());
  name_clean(name);
  snprintf(buf, cap, "cli:%s", name);
}

typedef struct {
  store_apply_fn fn;
  void *arg;
  const char *action, *subject;
  char actor[STORE_MAX_TOKEN_NAME + 1];
} audited;

static int audited_apply(store_wtxn *w, void *arg) {
  audited *a = arg;
  int r;
  if (a->fn != NULL && (r = a->fn(w, a->arg)) != LIC_OK)
    return r;
  return store_w_audit_append(w, store_wtxn_now(w), a->actor, a->action, a->subject);
}

int licsrv_write_audited(store *s, store_apply_fn fn, void *arg, const char *action,
                         const char *subject) {
  audited a = {fn, arg, action, subject, ""};
  licsrv_operator(a.actor, sizeof a.actor);
  return store_write(s, audited_apply, &a);
}

void licsrv_subject(const char *kind, const uint8_t id[LIC_ID_LEN], char *buf, size_t cap) {
  char u[LIC_UUID_LEN + 1];
  lic_uuid_format(id, u);
  snprintf(buf, cap, "%s:%s", kind, u);
}

int licsrv_parse_id(const char *cmd, const char *opt, const char *text, uint8_t id[LIC_ID_LEN]) {
  if (lic_uuid_parse(text, strlen(text), id) != LIC_OK)
    return cli_usage(cmd, "%s: '%.64s' is not a UUID (8-4-4-4-12 hex)", opt, text);
  return EXIT_OK;
}

int licsrv_subject_args(const char *cmd, const char *help_text, int argc, char **argv,
                        licsrv_opts *o, bool *is_license, uint8_t id[LIC_ID_LEN],
                        char uuid[LIC_UUID_LEN + 1], bool *help) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'},    {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"license", required_argument, NULL, 'l'}, {"account", required_argument, NULL, 'a'},
      {"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
      {"yes", no_argument, NULL, 'y'},           {NULL, 0, NULL, 0}};
  const char *lic_text = NULL, *acct_text = NULL;
  int c, ex;

  *help = false;
  licsrv_opts_init(o);
  while ((c = licsrv_next_opt(cmd, help_text, argc, argv, ":h", opts, o, &ex)) > 0) {
    if (c == 'l')
      lic_text = optarg;
    else if (c == 'a')
      acct_text = optarg;
    else if (c == 'y' && strcmp(cmd, "forget") == 0) /* only forget asks */
      o->yes = true;
    else if (c == 'y')
      return cli_usage(cmd, "unknown option '--yes'");
  }
  if (c < 0) {
    *help = ex == EXIT_OK;
    return ex;
  }
  if (optind != argc)
    return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
  if ((lic_text == NULL) == (acct_text == NULL))
    return cli_usage(cmd, "give exactly one of --license ID or --account ID");
  *is_license = lic_text != NULL;
  if ((ex = licsrv_parse_id(cmd, lic_text ? "--license" : "--account",
                            lic_text ? lic_text : acct_text, id)) != EXIT_OK)
    return ex;
  lic_uuid_format(id, uuid);
  return licsrv_opts_finish(o, cmd);
}
