/* rif.c - licctl rif: this machine's registration information file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "licctl.h"
#include "lic/fileio.h"
#include "lic/rif.h"

static const char USAGE[] =
    "usage: licctl rif --project NAME --product NAME --version V -o RIF [--state DIR]\n\n"
    "Writes this machine's registration information file (send it to your vendor).\n"
    "It holds the machine code, hashed MAC addresses of the physical network\n"
    "adapters (raw MACs never leave the machine), project, product and version, and\n"
    "is signed by this install's instance key (kept in the state directory).\n"
    "No host name, user name or IP address is collected.\n\n"
    "  --project NAME   project name (1..128 bytes)\n"
    "  --product NAME   product name\n"
    "  --version V      product version, e.g. 11.0.18\n"
    "  -o, --out FILE   output file ('-' for standard output; --output alike)\n"
    "  --state DIR      state directory\n";

enum { O_PROJECT = 256, O_PRODUCT, O_VERSION, O_STATE };

int licctl_rif(int argc, char **argv) {
  static const struct option opts[] = {{"project", required_argument, NULL, O_PROJECT},
                                       {"product", required_argument, NULL, O_PRODUCT},
                                       {"version", required_argument, NULL, O_VERSION},
                                       {"state", required_argument, NULL, O_STATE},
                                       {"out", required_argument, NULL, 'o'}, {"output", required_argument, NULL, 'o'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *project = NULL, *product = NULL, *version = NULL, *out = NULL, *state = NULL;
  uint8_t pid[LIC_ID_LEN];
  lic_machine m;
  lic_key *key = NULL;
  char *armored = NULL;
  size_t alen;
  int c, r, rc;

  optind = 1;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case O_PROJECT: project = optarg; break;
    case O_PRODUCT: product = optarg; break;
    case O_VERSION: version = optarg; break;
    case O_STATE: state = optarg; break;
    case 'o': out = optarg; break;
    case 'h': fputs(USAGE, stdout); return EXIT_OK;
    default: return cli_bad_option("rif", argv, opts);
    }
  }
  if (optind != argc)
    return cli_usage("rif", "unexpected argument '%.40s'", argv[optind]);
  const char *missing = project == NULL ? "--project" : product == NULL ? "--product"
                      : version == NULL ? "--version" : out == NULL ? "-o" : NULL;
  if (missing != NULL)
    return cli_usage("rif", "%s is required", missing);
  if ((rc = lic_name_check("--project", project)) != LIC_OK ||
      (rc = lic_name_check("--product", product)) != LIC_OK ||
      (rc = lic_name_check("--version", version)) != LIC_OK)
    return cli_usage("rif", "%s", lic_errfull(rc));

  if ((rc = lic_machine_read(&m)) != LIC_OK)
    return cli_lic_error("machine", rc);
  if (m.nmacs == 0)
    return cli_error(EXIT_FAIL, "machine", "no physical network adapter found: "
                     "a license binds at least one MAC address");
  state = licctl_state_dir(state);
  if ((r = licctl_state_ensure(state)) != EXIT_OK || (r = licctl_project_id(state, pid)) != EXIT_OK ||
      (r = licctl_instance_key(state, &key)) != EXIT_OK)
    return r;
  rc = lic_rif_make(&m, project, product, version, pid, "local", key, (int64_t)time(NULL),
                    &armored, &alen);
  if (rc == LIC_OK)
    rc = lic_file_write(out, armored, alen, 0644, 0);
  r = rc == LIC_OK ? EXIT_OK : cli_lic_error(out, rc);
  if (r == EXIT_OK && strcmp(out, "-") != 0)
    fprintf(stderr, "licctl: wrote %s (machine code %s, %zu network adapter%s)\n", out, m.code,
            m.nmacs, m.nmacs == 1 ? "" : "s");
  lic_key_free(key);
  free(armored);
  return r;
}
