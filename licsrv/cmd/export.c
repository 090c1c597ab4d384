/* cmd/export.c - `licsrv export`: everything stored about one license or
 * account as JSON (data portability, SPEC §6). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "lic/b64.h"
#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/license.h"

static const char HELP[] =
    "usage: licsrv export --license ID | --account ID [--data DIR] [--config FILE]\n"
    "\n"
    "Print, as JSON, everything the server stores about a license or an account:\n"
    "its record and signed envelope, its terms, its report-server nodes with\n"
    "their last failure, its registrations (accounts) and the audit entries\n"
    "that name it. IDs are UUIDs. A license's nodes are its lineage's (a renewal\n"
    "shares the seats of the license it supersedes): \"lineage\" names the id\n"
    "they are kept under.\n"
    "\n"
    "  --license ID   a license id\n"
    "  --account ID   an account id\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         accepted (the output is always JSON)\n";

static json_t *b64j(const uint8_t *b, size_t n) {
  char *s = NULL;
  size_t sl;
  if (lic_b64_encode(b, n, LIC_B64_URL, &s, &sl) != LIC_OK)
    return NULL;
  json_t *j = json_string(s);
  free(s);
  return j;
}

static json_t *strlist_j(const lic_strlist *l) {
  json_t *a = json_array();
  for (size_t i = 0; i < l->n; i++)
    json_array_append_new(a, json_string(l->v[i]));
  return a;
}

static json_t *terms_j(const uint8_t *env_bytes, size_t len) {
  lic_envelope env;
  lic_license l;
  json_t *j, *ports;
  if (lic_envelope_decode(env_bytes, len, &env) != LIC_OK ||
      lic_license_parse(env.body, env.body_len, &l) != LIC_OK)
    return json_null();
  ports = json_array();
  for (size_t i = 0; i < l.nports; i++)
    json_array_append_new(ports, json_integer(l.ports[i]));
  j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:I, s:s}",
                "mode", lic_mode_name(l.mode), "customer", l.customer, "project", l.project,
                "product", l.product, "major", (json_int_t)l.major, "issued", (json_int_t)l.issued,
                "not_before", (json_int_t)l.not_before, "expires", (json_int_t)l.expires,
                "max_nodes", (json_int_t)l.max_nodes, "features", strlist_j(&l.features),
                "domains", strlist_j(&l.domains), "apps", strlist_j(&l.apps), "ports", ports,
                "heartbeat", (json_int_t)l.heartbeat, "machine_code",
                l.has_machine ? l.machine_code : "");
  lic_license_clear(&l);
  return j;
}

static int node_row(const store_node *n, void *arg) {
  json_array_append_new(arg, json_pack("{s:s, s:I, s:I, s:s, s:s}", "node", n->node, "last_seen",
                                       (json_int_t)n->last_seen, "fail_time",
                                       (json_int_t)n->fail_time, "fail_status", n->fail_status,
                                       "fail_reason", n->fail_reason));
  return 0;
}

static int audit_row(const store_audit *a, void *arg) {
  json_array_append_new(arg, json_pack("{s:I, s:s, s:s, s:s, s:I}", "time", (json_int_t)a->time,
                                       "token", a->token, "action", a->action, "subject",
                                       a->subject, "count",
                                       (json_int_t)(a->count > 1 ? a->count : 1)));
  return 0;
}

static int reg_row(const store_registration *g, void *arg) {
  char pid[LIC_UUID_LEN + 1];
  lic_uuid_format(g->project_id, pid);
  json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:I}", "project_id", pid, "project",
                                       g->project, "domain", g->domain, "created",
                                       (json_int_t)g->created));
  return 0;
}

int licsrv_cmd_export(int argc, char **argv) {
  licsrv_opts o;
  bool is_license, help;
  uint8_t id[LIC_ID_LEN], key[LIC_ID_LEN];
  char uuid[LIC_UUID_LEN + 1], keys[LIC_UUID_LEN + 1];
  store *s = NULL;
  store_reader *rd = NULL;
  json_t *out = NULL, *nodes = NULL, *audit = NULL, *regs = NULL;
  int r, ex;

  if ((ex = licsrv_subject_args("export", HELP, argc, argv, &o, &is_license, id, uuid, &help)) != EXIT_OK ||
      help)
    return ex;
  if ((ex = licsrv_open_store(&o, STORE_RDONLY, &s)) != EXIT_OK)
    return ex;
  if ((r = store_reader_new(s, &rd)) != LIC_OK || (r = store_reader_begin(rd)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  out = json_object();
  nodes = json_array();
  audit = json_array();
  memcpy(key, id, LIC_ID_LEN);
  if (is_license) {
    /* A renewal's nodes are kept under its lineage's first license: those
     * are the nodes that hold its seats (docs/server.md). */
    srv_lineages lin;
    if ((r = srv_lineages_read(rd, &lin)) != LIC_OK) {
      ex = cli_lic_error("store", r);
      goto out;
    }
    srv_lineages_key(&lin, id, key);
    srv_lineages_clear(&lin);
    lic_uuid_format(key, keys);
    json_object_set_new(out, "lineage", json_string(keys));
    store_license l;
    r = store_license_get(rd, id, &l);
    if (r == LIC_OK) {
      json_object_set_new(out, "license",
                          json_pack("{s:s, s:I, s:b, s:I, s:o, s:o}", "id", uuid, "imported",
                                    (json_int_t)l.imported, "revoked", l.revoked, "revoked_at",
                                    (json_int_t)l.revoked_at, "envelope", b64j(l.env, l.env_len),
                                    "terms", terms_j(l.env, l.env_len)));
      store_license_clear(&l);
    } else if (r != LIC_NOTFOUND) {
      ex = cli_lic_error("store", r);
      goto out;
    } else {
      json_object_set_new(out, "license", json_null());
    }
  } else {
    store_account a;
    r = store_account_get(rd, id, &a);
    if (r == LIC_OK) {
      json_object_set_new(out, "account",
                          json_pack("{s:s, s:I, s:o}", "id", uuid, "imported",
                                    (json_int_t)a.imported, "envelope", b64j(a.env, a.env_len)));
      store_account_clear(&a);
    } else if (r != LIC_NOTFOUND) {
      ex = cli_lic_error("store", r);
      goto out;
    } else {
      json_object_set_new(out, "account", json_null());
    }
    regs = json_array();
    if ((r = store_registration_each(rd, id, reg_row, regs)) != LIC_OK) {
      ex = cli_lic_error("store", r);
      goto out;
    }
    json_object_set_new(out, "registrations", regs);
    regs = NULL;
  }
  if ((r = store_node_each(rd, key, node_row, nodes)) != LIC_OK ||
      (r = store_audit_each(rd, 0, uuid, audit_row, audit)) != LIC_OK) {
    ex = cli_lic_error("store", r);
    goto out;
  }
  bool found = json_object_get(out, is_license ? "license" : "account") != json_null() ||
               json_array_size(nodes) > 0 || json_array_size(audit) > 0;
  json_object_set_new(out, "nodes", nodes);
  json_object_set_new(out, "audit", audit);
  nodes = audit = NULL;
  if (!found) {
    ex = cli_error(EXIT_FAIL, uuid, "nothing is stored about this %s",
                   is_license ? "license" : "account");
    goto out;
  }
  ex = cli_json_print(out);
  out = NULL;
out:
  json_decref(out);
  json_decref(nodes);
  json_decref(audit);
  json_decref(regs);
  store_reader_free(rd);
  store_close(s);
  return ex;
}
