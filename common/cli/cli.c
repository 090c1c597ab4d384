/* cli.c - shared plumbing of licgen, licctl and licsrv's command line. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lic/err.h"
#include "lic/util.h"

static const char *tool = "lic";
static const char *subcmd = NULL;

void cli_set_tool(const char *t) {
  tool = t;
  /* getopt's own "unrecognized option" line would be a second stderr line
   * before ours (SPEC §5: errors are one line). */
  opterr = 0;
}
const char *cli_tool(void) { return tool; }

int cli_error(int code, const char *what, const char *fmt, ...) {
  va_list ap;
  char why[LIC_ERRDETAIL_MAX + 512]; /* a whole detail (a path and its reason) and words around it */
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  /* One line, always: strip any newline a detail may carry. */
  for (char *p = why; *p != '\0'; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  if (what != NULL && *what != '\0')
    fprintf(stderr, "%s: error: %s: %s\n", tool, what, why);
  else
    fprintf(stderr, "%s: error: %s\n", tool, why);
  return code;
}

int cli_lic_error(const char *what, int rc) {
  int code = rc == LIC_INVALID ? EXIT_USAGE : EXIT_FAIL;
  /* The library says no key is trusted; the fix is the tool's option. */
  if (rc == LIC_UNTRUSTED && strstr(lic_errdetail(), "no vendor key is trusted") != NULL)
    return cli_error(code, what, "%s (pass --trust VENDOR.pub.pem)", lic_errfull(rc));
  return cli_error(code, what, "%s", lic_errfull(rc));
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  char why[512];
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  (void)subcmd;
  fprintf(stderr, "%s: error: %s%s%s (see '%s %s%s--help')\n", tool, cmd ? cmd : "",
          cmd ? ": " : "", why, tool, cmd ? cmd : "", cmd ? " " : "");
  return EXIT_USAGE;
}

int cli_bad_option(const char *cmd, char **argv, const struct option *opts) {
  const char *arg = optind > 0 ? argv[optind - 1] : NULL;
  if (arg != NULL && strncmp(arg, "--", 2) == 0) {
    size_t n = strcspn(arg + 2, "=");
    for (const struct option *o = opts; o != NULL && o->name != NULL; o++)
      if (strlen(o->name) == n && strncmp(o->name, arg + 2, n) == 0)
        return cli_usage(cmd, o->has_arg == no_argument ? "'--%s' takes no value"
                                                        : "'--%s' needs a value", o->name);
    return cli_usage(cmd, "unknown option '%.*s'", (int)(n + 2), arg);
  }
  /* A short option (getopt's optopt), or a stray word. */
  for (const struct option *o = opts; optopt != 0 && o != NULL && o->name != NULL; o++)
    if (o->val == optopt && o->has_arg == required_argument)
      return cli_usage(cmd, "'-%c' needs a value", optopt);
  if (optopt > ' ' && optopt < 0x7f)
    return cli_usage(cmd, "unknown option '-%c'", optopt);
  return cli_usage(cmd, "unknown option '%s'", arg != NULL ? arg : "?");
}

static const char *const TIME_KEYS[] = {"issued",     "not_before", "expires",  "imported",
                                        "time",       "last_valid", "last_seen", "activated",
                                        "revoked_time", "created",  "claimed"};

static bool is_time_key(const char *k) {
  for (size_t i = 0; i < sizeof TIME_KEYS / sizeof TIME_KEYS[0]; i++)
    if (strcmp(k, TIME_KEYS[i]) == 0)
      return true;
  return false;
}

/* twins: add KEY_at beside; else replace the value with its date. */
static void times_walk(json_t *v, bool twins, int depth) {
  if (depth > 16)
    return;
  if (json_is_array(v)) {
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) times_walk(e, twins, depth + 1);
    return;
  }
  if (!json_is_object(v))
    return;
  const char *k;
  json_t *e;
  void *tmp;
  /* Keys are added while walking: collect first (at most 32 time fields). */
  const char *found[32];
  size_t n = 0;
  json_object_foreach_safe(v, tmp, k, e) {
    if (json_is_integer(e) && is_time_key(k) && n < 32)
      found[n++] = k;
    else
      times_walk(e, twins, depth + 1);
  }
  for (size_t i = 0; i < n; i++) {
    json_int_t t = json_integer_value(json_object_get(v, found[i]));
    char date[21], key[64];
    lic_time_format((int64_t)t, date);
    json_t *d = t > 0 ? json_string(date) : twins ? json_null() : json_string("never");
    if (twins) {
      /* "revoked_time" -> "revoked_at"; "expires" -> "expires_at" */
      size_t kl = strlen(found[i]);
      if (kl > 5 && strcmp(found[i] + kl - 5, "_time") == 0)
        snprintf(key, sizeof key, "%.*s_at", (int)(kl - 5), found[i]);
      else
        snprintf(key, sizeof key, "%s_at", found[i]);
      json_object_set_new(v, key, d);
    } else {
      json_object_set_new(v, found[i], d); /* found[i] stays valid: the key is kept */
    }
  }
}

void cli_json_time_twins(json_t *v) { times_walk(v, true, 0); }
void cli_json_times_as_dates(json_t *v) { times_walk(v, false, 0); }

void cli_trust_init(cli_trust *ct) {
  ct->replaced = false;
  if (lic_trust_builtin(&ct->t) != LIC_OK)
    lic_trust_init(&ct->t);
}

int cli_trust_add(cli_trust *ct, const char *path) {
  if (!ct->replaced) {
    lic_trust_init(&ct->t);
    ct->replaced = true;
  }
  int rc = lic_trust_add_file(&ct->t, path);
  return rc == LIC_OK ? EXIT_OK : cli_lic_error("--trust", rc);
}

void cli_tls_init(cli_tls *t) {
  memset(t, 0, sizeof *t);
  t->o.pins = t->pins;
}

int cli_tls_pin_add(cli_tls *t, const char *cmd, const char *pin) {
  int rc;
  if (t->o.npins >= LIC_TLS_MAX_PINS)
    return cli_usage(cmd, "at most %d --pin", LIC_TLS_MAX_PINS);
  if ((rc = lic_tls_pin_check(pin)) != LIC_OK)
    return cli_usage(cmd, "--pin: %s", lic_errdetail());
  t->pins[t->o.npins++] = pin;
  return EXIT_OK;
}

int cli_json_print(json_t *v) {
  if (v == NULL)
    return cli_error(EXIT_FAIL, NULL, "out of memory");
  int r = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(v);
  fputc('\n', stdout);
  return r == 0 && fflush(stdout) == 0 ? EXIT_OK : cli_error(EXIT_FAIL, "stdout", "write failed");
}

char *cli_hex(const uint8_t *b, size_t n) {
  static const char hex[] = "0123456789abcdef";
  char *s = malloc(2 * n + 1);
  if (s == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    s[2 * i] = hex[b[i] >> 4];
    s[2 * i + 1] = hex[b[i] & 15];
  }
  s[2 * n] = '\0';
  return s;
}

int cli_passphrase(const char *path, char **pass) {
  *pass = NULL;
  if (path == NULL)
    return EXIT_OK;
  int rc = lic_passphrase_read(path, pass);
  return rc == LIC_OK ? EXIT_OK : cli_lic_error("--passphrase-file", rc);
}

#include "lic/limits.h"
#include "lic/util.h"

static bool id_key(const char *k) {
  return k != NULL && (strcmp(k, "id") == 0 || strcmp(k, "project_id") == 0 ||
                       strcmp(k, "license") == 0 || strcmp(k, "account") == 0 ||
                       strcmp(k, "supersedes") == 0 || strcmp(k, "licenses") == 0 ||
                       strcmp(k, "accounts") == 0);
}

int cli_mp_to_json(lic_mp *r, const char *key, int depth, json_t **out) {
  int rc;
  *out = NULL;
  if (depth > LIC_MP_MAX_DEPTH)
    return LIC_LIMIT;
  switch (lic_mp_peek(r)) {
  case LIC_MP_NIL:
    r->p++, r->n--;
    *out = json_null();
    return LIC_OK;
  case LIC_MP_BOOL: {
    bool b;
    if ((rc = lic_mp_bool(r, &b)) != LIC_OK)
      return rc;
    *out = json_boolean(b);
    return LIC_OK;
  }
  case LIC_MP_INT: {
    int64_t v;
    if ((rc = lic_mp_int(r, &v)) != LIC_OK)
      return rc;
    *out = json_integer(v);
    return LIC_OK;
  }
  case LIC_MP_STR: {
    const char *s;
    size_t n;
    if ((rc = lic_mp_str(r, &s, &n)) != LIC_OK)
      return rc;
    *out = json_stringn(s, n);
    return *out != NULL ? LIC_OK : LIC_FORMAT;
  }
  case LIC_MP_BIN: {
    const uint8_t *b;
    size_t n;
    if ((rc = lic_mp_bin(r, &b, &n)) != LIC_OK)
      return rc;
    if (n == LIC_ID_LEN && id_key(key)) {
      char u[LIC_UUID_LEN + 1];
      lic_uuid_format(b, u);
      *out = json_string(u);
    } else {
      char *h = cli_hex(b, n);
      *out = h != NULL ? json_string(h) : NULL;
      free(h);
    }
    return *out != NULL ? LIC_OK : LIC_NOMEM;
  }
  case LIC_MP_ARRAY: {
    uint32_t n;
    if ((rc = lic_mp_array(r, &n)) != LIC_OK)
      return rc;
    json_t *a = json_array();
    for (uint32_t i = 0; i < n; i++) {
      json_t *v;
      if ((rc = cli_mp_to_json(r, key, depth + 1, &v)) != LIC_OK) {
        json_decref(a);
        return rc;
      }
      json_array_append_new(a, v);
    }
    *out = a;
    return LIC_OK;
  }
  case LIC_MP_MAP: {
    lic_mp_obj o;
    if ((rc = lic_mp_obj_read(r, &o, depth)) != LIC_OK)
      return rc;
    json_t *m = json_object();
    for (size_t i = 0; i < o.n; i++) {
      char k[130];
      json_t *v;
      snprintf(k, sizeof k, "%.*s", (int)(o.e[i].klen > 128 ? 128 : o.e[i].klen), o.e[i].k);
      lic_mp vr = o.e[i].v;
      if ((rc = cli_mp_to_json(&vr, k, depth + 1, &v)) != LIC_OK) {
        json_decref(m);
        return rc;
      }
      json_object_set_new(m, k, v);
    }
    *out = m;
    return LIC_OK;
  }
  default:
    if ((rc = lic_mp_skip(r, depth)) != LIC_OK)
      return rc;
    *out = json_string("(unsupported MessagePack type)");
    return LIC_OK;
  }
}

void cli_print_flat(json_t *obj, const char *prefix) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    char name[256];
    snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", k);
    if (json_is_object(v)) {
      cli_print_flat(v, name);
      continue;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (json_is_string(v))
      printf("%-16s %s\n", name, json_string_value(v));
    else
      printf("%-16s %s\n", name, s != NULL ? s : "?");
    free(s);
  }
}

int cli_split_list(const char *opt, const char *s, lic_strlist *out) {
  const char *p = s;
  while (*p != '\0') {
    size_t n = strcspn(p, ",");
    char item[LIC_MAX_DOMAIN + 8];
    if (n == 0 || n >= sizeof item)
      return cli_usage(NULL, "%s: empty or over-long entry in '%.60s'", opt, s);
    snprintf(item, sizeof item, "%.*s", (int)n, p);
    if (lic_strlist_add(out, item) != LIC_OK)
      return cli_error(EXIT_FAIL, opt, "out of memory");
    p += n + (p[n] == ',');
  }
  return EXIT_OK;
}

static void dispatch_usage(FILE *f, const char *summary, const cli_command *cmds, size_t n) {
  fprintf(f, "usage: %s COMMAND [OPTIONS]\n\n%s\n\ncommands:\n", tool, summary);
  for (size_t i = 0; i < n; i++)
    fprintf(f, "  %-11s %s\n", cmds[i].name, cmds[i].help);
  fprintf(f, "\n'%s COMMAND --help' shows a command's options. --version prints the version.\n"
             "Exit status: 0 success, 1 failure, 2 usage error.\n", tool);
}

int cli_dispatch(const char *name, const char *summary, const cli_command *cmds, size_t n,
                 int argc, char **argv) {
  cli_set_tool(name);
  if (argc < 2) {
    dispatch_usage(stderr, summary, cmds, n);
    return EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    dispatch_usage(stdout, summary, cmds, n);
    return EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("%s %s\n", name, LIC_VERSION);
    return EXIT_OK;
  }
  for (size_t i = 0; i < n; i++)
    if (strcmp(argv[1], cmds[i].name) == 0)
      return cmds[i].fn(argc - 1, argv + 1);
  return cli_usage(NULL, "unknown command '%.40s'", argv[1]);
}
