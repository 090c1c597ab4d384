/* fuzz_session_state.c - libFuzzer target for the session's state file
 * (STATE/session.state): whatever is in it, lic_session_new loads or ignores
 * it without crashing, and never ends up licensed from a file that does not
 * verify against the (test) trust store. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lic/err.h"
#include "lic/session.h"

static char dir[64], path[128];
static lic_trust trust;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cleanup(void) {
  remove(path);
  remove(dir);
}

static int never(void *ctx, const lic_verify_opts *o, lic_verify_result *res) {
  (void)ctx, (void)o, (void)res;
  return LIC_IO;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (dir[0] == '\0') {
    snprintf(dir, sizeof dir, "/tmp/fuzz-session-XXXXXX");
    if (mkdtemp(dir) == NULL)
      abort();
    snprintf(path, sizeof path, "%s/%s", dir, LIC_SESSION_FILE);
    lic_trust_init(&trust); /* empty: no stored verdict can verify */
    atexit(cleanup);
  }
  FILE *f = fopen(path, "wb");
  if (f == NULL)
    abort();
  fwrite(data, 1, size, f);
  fclose(f);
  const char *urls[] = {"http://127.0.0.1:1"};
  lic_session_opts o = {.verify = {.trust = &trust, .domain = "reports.acme.com", .port = 8443,
                                   .node = "rs-1"},
                        .urls = urls, .nurls = 1, .state_dir = dir, .transport = never};
  lic_session *s;
  if (lic_session_new(&o, 1800000000, &s) == LIC_OK) {
    lic_session_info in;
    lic_session_info_get(s, &in);
    if (in.state != LIC_SESSION_UNLICENSED)
      abort();
    lic_session_free(s);
  }
  return 0;
}
