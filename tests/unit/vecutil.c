/* vecutil.c - the vector tests' shared helpers (see vecutil.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/fileio.h"
#include "testutil.h"
#include "vecutil.h"

const char *tu_vec_path(const char *name) {
  static char b[2][4096];
  static int slot;
  char *p = b[slot++ % 2];
  snprintf(p, 4096, "%s%s", tu_src("tests/vectors/"), name);
  return p;
}

tu_blob tu_vec_stored(const char *name) {
  tu_blob b = {NULL, 0};
  int rc = lic_file_read(tu_vec_path(name), LIC_MAX_FILE, &b.p, &b.n);
  if (rc != LIC_OK)
    fail_msg("%s: %s (regenerate with LIC_REGEN_VECTORS=1, see tests/vectors/README.md)",
             tu_vec_path(name), lic_errfull(rc));
  return b;
}

lic_key *tu_vec_key(const char *rel) {
  lic_key *k = NULL;
  const char *p = tu_src(rel);
  chmod(p, 0600);
  int rc = lic_key_load_private(p, NULL, &k);
  if (rc != LIC_OK)
    fail_msg("%s: %s", rel, lic_errfull(rc));
  return k;
}

int tu_vec_regen(const char *const *files, const tu_blob *b, size_t n) {
  const char *regen = getenv("LIC_REGEN_VECTORS");
  if (regen == NULL || strcmp(regen, "1") != 0)
    return 0;
  if (lic_mkdirs(tu_src("tests/vectors"), 0755) != LIC_OK)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (lic_file_write(tu_vec_path(files[i]), b[i].p, b[i].n, 0644, 0) != LIC_OK)
      return -1;
    fprintf(stderr, "wrote %s (%zu bytes)\n", tu_vec_path(files[i]), b[i].n);
  }
  return 0;
}

void tu_vec_compare(const char *file, const tu_blob *now) {
  tu_blob s = tu_vec_stored(file);
  if (s.n != now->n || memcmp(s.p, now->p, s.n) != 0)
    fail_msg("%s differs from what the fixed inputs give now (%zu vs %zu bytes)", file, s.n,
             now->n);
  free(s.p);
}

void tu_vec_openssl_check(const char *envfile, const char *bodyfile, const char *typ,
                          const char *pubpem) {
  tu_blob e = tu_vec_stored(envfile), b = tu_vec_stored(bodyfile);
  lic_envelope env;
  assert_int_equal(lic_envelope_decode(e.p, e.n, &env), LIC_OK);
  assert_string_equal(env.typ, typ);
  assert_int_equal(env.body_len, b.n);
  assert_memory_equal(env.body, b.p, b.n);
  FILE *fp = fopen(tu_src(pubpem), "r");
  assert_non_null(fp);
  EVP_PKEY *pk = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
  fclose(fp);
  assert_non_null(pk);
  uint8_t raw[32], h[32];
  size_t rl = 32;
  assert_int_equal(EVP_PKEY_get_raw_public_key(pk, raw, &rl), 1);
  SHA256(raw, 32, h);
  assert_memory_equal(env.kid, h, 8);
  size_t tl = strlen(typ), ml = 9 + tl + b.n;
  uint8_t *m = malloc(ml);
  assert_non_null(m);
  memcpy(m, "LICSRV1 ", 8);
  memcpy(m + 8, typ, tl);
  m[8 + tl] = '\n';
  memcpy(m + 9 + tl, b.p, b.n);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk), 1);
  assert_int_equal(EVP_DigestVerify(ctx, env.sig, 64, m, ml), 1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pk);
  free(m);
  free(e.p);
  free(b.p);
}
