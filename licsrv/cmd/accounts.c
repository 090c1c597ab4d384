/* cmd/accounts.c - `licsrv accounts` (public mode): list, show, revoke,
 * delete accounts, list and release their registrations, list the online-key
 * certificates; on the data directory, while the server runs (a running
 * server sees a change at its next request). Mutations are durable and
 * audited as the operator ("cli:USER", licsrv_operator). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "cmd/table.h"
#include "lic/account.h"
#include "lic/cert.h"
#include "lic/envelope.h"
#include "lic/err.h"

static const char HELP[] =
    "usage: licsrv accounts [list] [--data DIR] [--config FILE] [--json]\n"
    "       licsrv accounts show|revoke|delete|registrations ACCOUNT-ID [...]\n"
    "       licsrv accounts release ACCOUNT-ID PROJECT-ID [...]\n"
    "       licsrv accounts certificates [...]\n"
    "\n"
    "Public mode's accounts on the data directory (works while serving):\n"
    "  list           every account: id, customer, capacity, registered projects, state\n"
    "  show ID        one account with its terms\n"
    "  revoke ID      deny the account from its next request (a re-import keeps it revoked)\n"
    "  delete ID      remove the account and free its registrations\n"
    "  registrations ID   the account's registered projects\n"
    "  release ID PROJECT-ID  free one project's slot\n"
    "  certificates   the imported online-key certificates\n"
    "Mutations are committed, synced and audited before this command returns.\n"
    "\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print as JSON\n";

typedef struct {
  store_reader *rd;
  json_t *rows;
  bool json;
  bool terms;
} walk;

static json_t *account_row(store_reader *rd, const store_account *sa, bool terms) {
  char id[LIC_UUID_LEN + 1], ex[11] = "never";
  lic_envelope e;
  lic_account a;
  size_t used = 0;
  lic_uuid_format(sa->id, id);
  json_t *o = json_pack("{s:s, s:b, s:I}", "id", id, "revoked", sa->revoked_at != 0,
                        "revoked_at", (json_int_t)sa->revoked_at);
  licsrv_json_time(o, "imported", sa->imported);
  if (lic_envelope_decode(sa->env, sa->env_len, &e) == LIC_OK &&
      lic_account_parse(e.body, e.body_len, &a) == LIC_OK) {
    store_registration_count(rd, sa->id, &used);
    if (a.expires != 0)
      lic_date_format(a.expires, ex);
    json_object_set_new(o, "customer", json_string(a.customer));
    json_object_set_new(o, "capacity", json_integer(a.capacity));
    json_object_set_new(o, "registrations", json_integer((json_int_t)used));
    store_usage u;
    if (store_usage_get(rd, sa->id, &u) == LIC_OK && u.counted)
      json_object_set_new(o, "store_records", json_integer((json_int_t)u.records));
    licsrv_json_time(o, "expires", a.expires);
    json_object_set_new(o, "expires_date", json_string(ex));
    if (terms) {
      json_t *t = json_object();
      json_t *f = json_array();
      for (size_t i = 0; i < a.features.n; i++)
        json_array_append_new(f, json_string(a.features.v[i]));
      json_object_set_new(t, "features", f);
      json_t *d = json_array();
      for (size_t i = 0; i < a.domains.n; i++)
        json_array_append_new(d, json_string(a.domains.v[i]));
      json_object_set_new(t, "domains", d);
      json_t *p = json_array();
      for (size_t i = 0; i < a.nports; i++)
        json_array_append_new(p, json_integer(a.ports[i]));
      json_object_set_new(t, "ports", p);
      json_t *ap = json_array();
      for (size_t i = 0; i < a.apps.n; i++)
        json_array_append_new(ap, json_string(a.apps.v[i]));
      json_object_set_new(t, "apps", ap);
      json_object_set_new(t, "major", json_integer(a.major));
      licsrv_json_time(t, "not_before", a.not_before);
      json_object_set_new(t, "heartbeat", json_integer(a.heartbeat));
      json_object_set_new(t, "grace", json_integer(a.grace));
      json_object_set_new(o, "terms", t);
    }
    lic_account_clear(&a);
  }
  return o;
}

static void table_add(licsrv_table *t, json_t *o) {
  const char *st = json_is_true(json_object_get(o, "revoked")) ? "REVOKED" : "active";
  char projects[48];
  snprintf(projects, sizeof projects, "%lld/%lld",
           (long long)json_integer_value(json_object_get(o, "registrations")),
           (long long)json_integer_value(json_object_get(o, "capacity")));
  const char *cells[] = {json_string_value(json_object_get(o, "id")),
                         json_string_value(json_object_get(o, "customer")), projects,
                         json_string_value(json_object_get(o, "expires_date")), st};
  licsrv_table_row(t, cells);
}

static int list_cb(const store_account *sa, void *arg) {
  walk *w = arg;
  json_array_append_new(w->rows, account_row(w->rd, sa, w->terms));
  return 0;
}

static int reg_cb(const store_registration *g, void *arg) {
  char p[LIC_UUID_LEN + 1];
  lic_uuid_format(g->project_id, p);
  json_t *o = json_pack("{s:s, s:s, s:s}", "project_id", p, "project", g->project, "domain",
                        g->domain);
  licsrv_json_time(o, "created", g->created);
  licsrv_json_time(o, "last_valid", g->last_valid);
  json_array_append_new(arg, o);
  return 0;
}

static int cert_cb(const store_cert *sc, void *arg) {
  lic_envelope e;
  lic_cert c;
  char id[LIC_UUID_LEN + 1], kh[2 * LIC_KID_LEN + 1];
  uint8_t kid[LIC_KID_LEN];
  if (lic_envelope_decode(sc->env, sc->env_len, &e) != LIC_OK ||
      lic_cert_parse(e.body, e.body_len, &c) != LIC_OK)
    return 0;
  lic_uuid_format(c.id, id);
  lic_kid_of(c.pubkey, kid);
  lic_kid_hex(kid, kh);
  json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "id", id, "role", c.role, "pubkey_kid", kh,
                        "usable_now", lic_cert_usable(&c, (int64_t)time(NULL)) == LIC_OK);
  licsrv_json_time(o, "not_before", c.not_before);
  licsrv_json_time(o, "expires", c.expires);
  json_array_append_new(arg, o);
  return 0;
}

typedef struct {
  int kind; /* 0 revoke, 1 delete, 2 release */
  uint8_t id[LIC_ID_LEN], project[LIC_ID_LEN];
  int64_t now;
  size_t released;
} mut_op;

static int mut_apply(store_wtxn *w, void *arg) {
  mut_op *m = arg;
  int rc;
  m->released = 0;
  switch (m->kind) {
  case 0: return store_w_account_revoke(w, m->id, m->now);
  case 1:
    if ((rc = store_w_account_delete(w, m->id)) != LIC_OK)
      return rc;
    return store_w_registration_delete_all(w, m->id, &m->released);
  default: return store_w_registration_delete(w, m->id, m->project);
  }
}

static int mutate(const licsrv_opts *o, store *s, int kind, const uint8_t id[LIC_ID_LEN],
                  const uint8_t *project) {
  static const char *const ACTIONS[] = {"revoke", "delete", "registration.release"};
  static const char *const DONE[] = {"revoked", "deleted", "released"};
  mut_op m;
  char subject[STORE_MAX_SUBJECT + 1], u[LIC_UUID_LEN + 1], p[LIC_UUID_LEN + 1] = "";
  memset(&m, 0, sizeof m);
  m.kind = kind;
  m.now = (int64_t)time(NULL);
  memcpy(m.id, id, LIC_ID_LEN);
  lic_uuid_format(id, u);
  if (project != NULL) {
    memcpy(m.project, project, LIC_ID_LEN);
    lic_uuid_format(project, p);
    snprintf(subject, sizeof subject, "account:%s project:%s", u, p);
  } else {
    snprintf(subject, sizeof subject, "account:%s", u);
  }
  int r = licsrv_write_audited(s, mut_apply, &m, ACTIONS[kind], subject);
  if (r == LIC_NOTFOUND)
    return cli_error(EXIT_FAIL, u, project != NULL ? "project %s holds no slot of this account"
                                                  : "no such account%s", p);
  if (r != LIC_OK)
    return cli_lic_error("store", r);
  if (o->json)
    return cli_json_print(json_pack("{s:s, s:b, s:I}", "id", u, DONE[kind], 1, "registrations_released",
                                    (json_int_t)m.released));
  if (kind == 1)
    printf("deleted account %s (%zu registrations freed)\n", u, m.released);
  else if (kind == 2)
    printf("released project %s of account %s\n", p, u);
  else
    printf("revoked account %s\n", u);
  return EXIT_OK;
}

int licsrv_cmd_accounts(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"json", no_argument, NULL, 'j'},       {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  licsrv_opts o;
  store *s = NULL;
  store_reader *rd = NULL;
  store_meta meta;
  uint8_t id[LIC_ID_LEN], project[LIC_ID_LEN];
  int c, r, ex;

  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt("accounts", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    ;
  if (c < 0)
    return ex;
  const char *verb = optind < argc ? argv[optind] : "list";
  int nargs = argc - optind - (optind < argc ? 1 : 0);
  bool mut = strcmp(verb, "revoke") == 0 || strcmp(verb, "delete") == 0 ||
             strcmp(verb, "release") == 0;
  int want = strcmp(verb, "list") == 0 || strcmp(verb, "certificates") == 0 ? 0
             : strcmp(verb, "release") == 0                                 ? 2
             : strcmp(verb, "show") == 0 || strcmp(verb, "registrations") == 0 || mut ? 1
                                                                                       : -1;
  if (want < 0)
    return cli_usage("accounts", "unknown action '%s'", verb);
  if (nargs != want)
    return cli_usage("accounts", "%s takes %d argument%s", verb, want, want == 1 ? "" : "s");
  if (want >= 1 && (ex = licsrv_parse_id("accounts", "ACCOUNT-ID", argv[optind + 1], id)) != EXIT_OK)
    return ex;
  if (want == 2 && (ex = licsrv_parse_id("accounts", "PROJECT-ID", argv[optind + 2], project)) != EXIT_OK)
    return ex;
  if ((ex = licsrv_opts_finish(&o, "accounts")) != EXIT_OK ||
      (ex = licsrv_open_store(&o, mut ? 0 : STORE_RDONLY, &s)) != EXIT_OK)
    return ex;
  if ((ex = licsrv_read_meta(&o, s, true, &meta)) != EXIT_OK)
    goto out;
  if (strcmp(meta.mode, "public") != 0) {
    ex = cli_error(EXIT_FAIL, o.data, "accounts are public mode's (this server is %s)", meta.mode);
    goto out;
  }
  if (mut) {
    ex = mutate(&o, s, strcmp(verb, "revoke") == 0 ? 0 : strcmp(verb, "delete") == 0 ? 1 : 2, id,
                want == 2 ? project : NULL);
    goto out;
  }
  if ((r = store_reader_new(s, &rd)) != LIC_OK || (r = store_reader_begin(rd)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  json_t *rows = json_array(), *doc = NULL;
  if (strcmp(verb, "list") == 0) {
    walk w = {rd, rows, o.json, false};
    r = store_account_each(rd, list_cb, &w);
    doc = json_pack("{s:O}", "accounts", rows);
  } else if (strcmp(verb, "show") == 0) {
    store_account sa;
    if ((r = store_account_get(rd, id, &sa)) == LIC_OK) {
      doc = account_row(rd, &sa, true);
      store_account_clear(&sa);
    }
  } else if (strcmp(verb, "registrations") == 0) {
    r = store_registration_each(rd, id, reg_cb, rows);
    doc = json_pack("{s:s, s:O}", "account", argv[optind + 1], "registrations", rows);
  } else {
    r = store_cert_each(rd, cert_cb, rows);
    doc = json_pack("{s:O}", "certificates", rows);
  }
  store_reader_end(rd);
  if (r != LIC_OK) {
    json_decref(rows);
    json_decref(doc);
    ex = r == LIC_NOTFOUND ? cli_error(EXIT_FAIL, argv[optind + 1], "no such account")
                           : cli_lic_error("store", r);
    goto out;
  }
  if (o.json) {
    ex = cli_json_print(doc);
    doc = NULL;
  } else if (strcmp(verb, "list") == 0) {
    static const char *const head[] = {"ACCOUNT", "CUSTOMER", "PROJECTS", "EXPIRES", "STATE",
                                       NULL};
    licsrv_table t;
    size_t i;
    json_t *row;
    licsrv_table_init(&t, head);
    json_array_foreach(rows, i, row) table_add(&t, row);
    ex = licsrv_table_print(&t, stdout);
    licsrv_table_free(&t);
  } else if (strcmp(verb, "show") == 0) {
    cli_print_flat(doc, "");
    ex = EXIT_OK;
  } else {
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
      cli_print_flat(row, "");
      printf("\n");
    }
    if (json_array_size(rows) == 0)
      printf("none\n");
    ex = EXIT_OK;
  }
  json_decref(rows);
  json_decref(doc);
out:
  store_reader_free(rd);
  store_close(s);
  return ex;
}

/* The SPEC §5 spellings: `licsrv revoke --account A` (kind 0) and
 * `licsrv release --project P --account A` (kind 2), called by revoke.c and
 * release.c when they see those options. */
int licsrv_account_form(const char *cmd, int kind, int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'},    {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"account", required_argument, NULL, 'a'}, {"project", required_argument, NULL, 'p'},
      {"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  licsrv_opts o;
  store *s = NULL;
  store_meta meta;
  const char *acct = NULL, *proj = NULL;
  uint8_t id[LIC_ID_LEN], project[LIC_ID_LEN];
  int c, ex;

  licsrv_opts_init(&o);
  while ((c = licsrv_next_opt(cmd, HELP, argc, argv, ":h", opts, &o, &ex)) > 0) {
    if (c == 'a')
      acct = optarg;
    else if (c == 'p')
      proj = optarg;
  }
  if (c < 0)
    return ex;
  if (optind != argc)
    return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
  if (acct == NULL || (kind == 2) != (proj != NULL))
    return cli_usage(cmd, kind == 2 ? "give --project P --account A" : "give --account A");
  if ((ex = licsrv_parse_id(cmd, "--account", acct, id)) != EXIT_OK ||
      (kind == 2 && (ex = licsrv_parse_id(cmd, "--project", proj, project)) != EXIT_OK) ||
      (ex = licsrv_opts_finish(&o, cmd)) != EXIT_OK || (ex = licsrv_open_store(&o, 0, &s)) != EXIT_OK)
    return ex;
  if ((ex = licsrv_read_meta(&o, s, true, &meta)) == EXIT_OK) {
    if (strcmp(meta.mode, "public") != 0)
      ex = cli_error(EXIT_FAIL, o.data, "accounts are public mode's (this server is %s)", meta.mode);
    else
      ex = mutate(&o, s, kind, id, kind == 2 ? project : NULL);
  }
  store_close(s);
  return ex;
}
