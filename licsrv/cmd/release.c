/* cmd/release.c - `licsrv release`: free what a customer holds, one form per
 * kind of hold, chosen by the option that names it. This file dispatches and
 * holds the activation form; the node-seat (--node N --license L) and the
 * registration (--project P --account A) forms plug into FORMS. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd/cmd.h"
#include "cmd/table.h"

static const char HELP[] =
    "usage: licsrv release --node N --license ID [--data DIR] [--store URL] [--config FILE]\n"
    "       licsrv release --activation PRODUCT:SERIAL [--data DIR] [--config FILE] [--json]\n"
    "       licsrv release --project PROJECT-ID --account ACCOUNT-ID [...] (public mode:\n"
    "       free a registration; durable, audited, seen by a running server at once)\n"
    "\n"
    "--node: free the seat node N holds on license ID at once (a running server's\n"
    "next verify sees it); audited as 'release'.\n"
    "--activation: release a designer activation claim (the user replaced the\n"
    "machine): the serial can be claimed again at once, also on a server that is\n"
    "running now.\n"
    "Durable (synced) and written to the audit log with your user name.\n"
    "\n"
    "  --node N       the report-server node name (with --license ID, its UUID)\n"
    "  --activation PRODUCT:SERIAL  the claim, e.g. 7:1234 (`licgen inspect CODE`\n"
    "                               shows a code's product and serial)\n"
    "  --data DIR     data directory (default " LICSRV_DEFAULT_DATA ")\n"
    "  --store URL    a PostgreSQL store (postgresql://...; default DIR/store)\n"
    "  --config FILE  read `data =` from this INI file\n"
    "  --json         print {\"product\", \"serial\", \"machine\", \"released\"}\n";

typedef struct {
  uint8_t product;
  uint32_t serial;
} act_arg;

static int act_apply(store_wtxn *w, void *arg) {
  act_arg *a = arg;
  return store_w_activation_delete(w, a->product, a->serial);
}

/* "PRODUCT:SERIAL", product 0..255, serial 0..2^32-1. */
static int parse_activation(const char *s, act_arg *a) {
  const char *colon = strchr(s, ':');
  char prod[8];
  int64_t p, n;
  if (colon == NULL || (size_t)(colon - s) >= sizeof prod || colon == s)
    return LIC_FORMAT;
  memcpy(prod, s, (size_t)(colon - s));
  prod[colon - s] = '\0';
  if (prod[0] < '0' || prod[0] > '9' || colon[1] < '0' || colon[1] > '9' ||
      lic_parse_int(prod, 0, 255, &p) != LIC_OK || lic_parse_int(colon + 1, 0, UINT32_MAX, &n) != LIC_OK)
    return LIC_FORMAT;
  a->product = (uint8_t)p;
  a->serial = (uint32_t)n;
  return LIC_OK;
}

static int release_activation(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'},       {"config", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"activation", required_argument, NULL, 'a'}, {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0}};
  licsrv_opts o;
  store *s = NULL;
  store_reader *rd = NULL;
  store_activation cur;
  act_arg a;
  const char *text = NULL;
  char subject[STORE_MAX_SUBJECT + 1], what[64];
  int ch, ex, r;

  memset(&cur, 0, sizeof cur);
  licsrv_opts_init(&o);
  while ((ch = licsrv_next_opt("release", HELP, argc, argv, ":h", opts, &o, &ex)) > 0)
    if (ch == 'a')
      text = optarg;
  if (ch < 0)
    return ex;
  if (optind != argc)
    return cli_usage("release", "unexpected argument '%s'", argv[optind]);
  if (text == NULL || parse_activation(text, &a) != LIC_OK)
    return cli_usage("release", "--activation: '%.64s' is not PRODUCT:SERIAL (0..255:0..4294967295)",
                     text != NULL ? text : "");
  if ((ex = licsrv_opts_finish(&o, "release")) != EXIT_OK ||
      (ex = licsrv_open_store(&o, 0, &s)) != EXIT_OK)
    return ex;
  snprintf(what, sizeof what, "activation %u:%u", a.product, a.serial);
  /* Read first, to say which machine held it. */
  if ((r = store_reader_new(s, &rd)) != LIC_OK || (r = store_reader_begin(rd)) != LIC_OK ||
      (r = store_activation_get(rd, a.product, a.serial, &cur)) != LIC_OK) {
    ex = r == LIC_NOTFOUND ? cli_error(EXIT_FAIL, what, "not claimed on this server")
                           : cli_lic_error("store", r);
    goto out;
  }
  store_reader_end(rd);
  /* The subject the admin API writes for the same release. */
  snprintf(subject, sizeof subject, "activation:%u/%u", a.product, a.serial);
  if ((r = licsrv_write_audited(s, act_apply, &a, "activation.release", subject)) != LIC_OK) {
    ex = r == LIC_NOTFOUND ? cli_error(EXIT_FAIL, what, "released meanwhile by someone else")
                           : cli_lic_error("release", r);
    goto out;
  }
  if (o.json) {
    ex = cli_json_print(json_pack("{s:i, s:I, s:s, s:b}", "product", (int)a.product, "serial",
                                  (json_int_t)a.serial, "machine", cur.machine_code, "released", 1));
  } else {
    printf("released %s (was claimed by machine %s)\n", what, cur.machine_code);
    ex = EXIT_OK;
  }
out:
  store_activation_clear(&cur);
  store_reader_free(rd);
  store_close(s);
  return ex;
}

/* The option that names a form, and its function (argv as given). */
typedef struct {
  const char *opt;
  int (*fn)(int argc, char **argv);
} release_form;

static int release_registration(int argc, char **argv) {
  return licsrv_account_form("release", 2, argc, argv);
}

static const release_form FORMS[] = {
    {"--activation", release_activation},
    {"--node", licsrv_release_node},
    {"--license", licsrv_release_node},
    {"--project", release_registration},
};

int licsrv_cmd_release(int argc, char **argv) {
  const release_form *form = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(HELP, stdout);
      return EXIT_OK;
    }
    for (size_t k = 0; k < sizeof FORMS / sizeof FORMS[0]; k++) {
      size_t n = strlen(FORMS[k].opt);
      if (strncmp(argv[i], FORMS[k].opt, n) == 0 && (argv[i][n] == '\0' || argv[i][n] == '=')) {
        if (form != NULL && form->fn != FORMS[k].fn) /* --node and --license: one form */
          return cli_usage("release", "give one of %s and %s, not both", form->opt, FORMS[k].opt);
        form = &FORMS[k];
      }
    }
  }
  if (form == NULL)
    return cli_usage("release", "say what to release: --node N --license ID, --activation "
                                "PRODUCT:SERIAL or --project P --account A");
  return form->fn(argc, argv);
}
