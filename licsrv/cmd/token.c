/* cmd/token.c - `licsrv token add|list|revoke`: admin API tokens. Only the
 * SHA-256 of a token is stored; the token is printed once, at creation. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/err.h"
#include "lic/keys.h"
#include "lic/util.h"

static const char HELP[] =
    "usage: licsrv token add NAME | list | revoke NAME [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "Manage admin API tokens. 'add' prints a new token once on standard output\n"
    "(32 random bytes, base64url); only its SHA-256 is stored, so it cannot be\n"
    "shown again. Clients send it as 'Authorization: Bearer TOKEN' to the admin\n"
    "listener. 'list' shows names and creation times, never tokens. 'revoke'\n"
    "deletes the token with that name. Names: letters, digits, '.', '_', '-'.\n"
    "\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print as JSON\n";

typedef struct {
  uint8_t hash[STORE_TOKEN_HASH_LEN];
  const char *name;
  int64_t now;
} token_op;

static int add_apply(store_wtxn *w, void *arg) {
  token_op *t = arg;
  return store_w_token_put(w, t->hash, t->name, t->now);
}

static int revoke_apply(store_wtxn *w, void *arg) {
  token_op *t = arg;
  return store_w_token_revoke(w, t->name);
}

typedef struct {
  json_t *arr;
  size_t n;
} list_ctx;

static int list_row(const store_token *t, void *arg) {
  list_ctx *l = arg;
  char when[21];
  lic_time_format(t->created, when);
  l->n++;
  if (l->arr != NULL)
    json_array_append_new(l->arr, json_pack("{s:s, s:I}", "name", t->name, "created",
                                            (json_int_t)t->created));
  else
    printf("%s  created %s\n", t->name, when);
  return 0;
}

int licsrv_cmd_token(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"json", no_argument, NULL, 'j'},       {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  licsrv_opts o;
  store *s = NULL;
  store_reader *rd = NULL;
  const char *verb, *name = NULL;
  char *token = NULL, subject[80];
  size_t tlen = 0;
  token_op op;
  int c, r, ex;

  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt("token", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    ; /* no options of its own */
  if (c < 0)
    return ex;
  if (optind >= argc)
    return cli_usage("token", "expected add NAME, list or revoke NAME");
  verb = argv[optind++];
  if (strcmp(verb, "list") == 0) {
    if (optind != argc)
      return cli_usage("token", "list takes no argument");
  } else if (strcmp(verb, "add") == 0 || strcmp(verb, "revoke") == 0) {
    if (argc - optind != 1)
      return cli_usage("token", "%s takes exactly one NAME", verb);
    name = argv[optind];
    if (store_token_name_check(name) != LIC_OK)
      return cli_usage("token", "%s", lic_errdetail());
  } else {
    return cli_usage("token", "unknown action '%s' (add, list, revoke)", verb);
  }
  if ((ex = licsrv_opts_finish(&o, "token")) != EXIT_OK)
    return ex;
  if ((ex = licsrv_open_store(&o, name == NULL ? STORE_RDONLY : 0, &s)) != EXIT_OK)
    return ex;

  if (name == NULL) {
    list_ctx l = {o.json ? json_array() : NULL, 0};
    if ((r = store_reader_new(s, &rd)) != LIC_OK || (r = store_reader_begin(rd)) != LIC_OK ||
        (r = store_token_each(rd, list_row, &l)) != LIC_OK) {
      json_decref(l.arr);
      ex = cli_lic_error("store", r);
      goto out;
    }
    ex = o.json ? cli_json_print(json_pack("{s:o}", "tokens", l.arr)) : EXIT_OK;
    goto out;
  }
  memset(&op, 0, sizeof op);
  op.name = name;
  op.now = (int64_t)time(NULL);
  snprintf(subject, sizeof subject, "token:%s", name);
  if (strcmp(verb, "add") == 0) {
    if ((r = licsrv_token_generate(&token, &tlen)) != LIC_OK) {
      ex = cli_lic_error("token", r);
      goto out;
    }
    licsrv_token_hash(token, tlen, op.hash);
    if ((r = licsrv_write_audited(s, add_apply, &op, "token.add", subject)) != LIC_OK) {
      ex = cli_lic_error(name, r);
      goto out;
    }
    /* Only after the hash is durably stored: a printed token always works. */
    if (o.json)
      ex = cli_json_print(json_pack("{s:s, s:s}", "name", name, "token", token));
    else
      ex = printf("%s\n", token) < 0 || fflush(stdout) != 0
               ? cli_error(EXIT_FAIL, "stdout", "write failed")
               : EXIT_OK;
    if (!o.json)
      fprintf(stderr, "token '%s' created; it is shown only this once "
                      "(use it as 'Authorization: Bearer TOKEN')\n", name);
  } else {
    if ((r = licsrv_write_audited(s, revoke_apply, &op, "token.revoke", subject)) != LIC_OK) {
      ex = cli_lic_error(name, r);
      goto out;
    }
    if (o.json)
      ex = cli_json_print(json_pack("{s:s, s:b}", "name", name, "revoked", 1));
    else {
      printf("revoked token '%s'\n", name);
      ex = EXIT_OK;
    }
  }
out:
  if (token != NULL)
    lic_secret_free(token, tlen);
  store_reader_free(rd);
  store_close(s);
  return ex;
}
