/* revoked.c - the newest revocation list an offline check honours: the one
 * given with --revocations (shipped beside the product) or the one kept in
 * the state directory from before (docs/revocation.md). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "licctl.h"
#include "lic/envelope.h"
#include "lic/fileio.h"

int licctl_revocations(const char *dir, const char *file, const lic_trust *t,
                       lic_revocations *out, bool *have) {
  uint8_t *raw = NULL, *env = NULL;
  size_t rawlen = 0, elen = 0;
  int rc;

  *have = false;
  if (file != NULL) {
    if ((rc = lic_file_read(file, LIC_MAX_FILE, &raw, &rawlen)) != LIC_OK ||
        (rc = lic_unarmor_any(raw, rawlen, &env, &elen)) != LIC_OK) {
      free(raw);
      return cli_lic_error(file, rc);
    }
    free(raw);
  }
  rc = lic_revocations_remember(dir, env, elen, t, out, NULL);
  free(env);
  if (rc == LIC_NOTFOUND && file == NULL)
    return EXIT_OK; /* no list given, none kept: nothing is revoked */
  if (rc != LIC_OK)
    return cli_lic_error(file != NULL ? file : "revocations", rc);
  *have = true;
  return EXIT_OK;
}
