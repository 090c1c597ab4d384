/* fuzz_srv_tls.c - raw bytes into the read BIO of a server-side TLS
 * connection (http/tls.c) as conn.c feeds it: the ClientHello parser, record
 * layer and alerts of OpenSSL behind our state machine. The first byte picks
 * the size of each "socket read". The certificate is made once at start
 * (ECDSA P-256, in a temporary directory). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "http/tls.h"
#include "util/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static srv_tls *tls;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  char dir[] = "/tmp/fuzz_srv_tls.XXXXXX", err[256];
  srv_config cfg;
  EVP_PKEY *k = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  X509_NAME *n;
  FILE *f;
  (void)argc;
  (void)argv;
  if (k == NULL || x == NULL || mkdtemp(dir) == NULL)
    abort();
  srv_config_defaults(&cfg);
  snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s/c.pem", dir);
  snprintf(cfg.tls_key, sizeof cfg.tls_key, "%s/k.pem", dir);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, k);
  n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
  X509_set_issuer_name(x, n);
  if (X509_sign(x, k, EVP_sha256()) <= 0 || (f = fopen(cfg.tls_cert, "w")) == NULL)
    abort();
  PEM_write_X509(f, x);
  fclose(f);
  if ((f = fopen(cfg.tls_key, "w")) == NULL)
    abort();
  PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  X509_free(x);
  EVP_PKEY_free(k);
  if (srv_tls_new(&cfg, &tls, err, sizeof err) != 0 || tls == NULL)
    abort();
  /* Loaded: the files are not needed any more. */
  unlink(cfg.tls_cert);
  unlink(cfg.tls_key);
  rmdir(dir);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char plain[4096];
  srv_tls_conn *c;
  size_t chunk, off = 0;
  int r = SRV_TLS_AGAIN;
  if (size < 1)
    return 0;
  chunk = (size_t)(data[0] % 128) + 1;
  data++, size--;
  if ((c = srv_tls_conn_new(tls, 0)) == NULL)
    abort();
  while (off < size && r != SRV_TLS_FAIL && r != SRV_TLS_EOF) {
    size_t n = size - off < chunk ? size - off : chunk;
    if (srv_tls_feed(c, data + off, n) != 0)
      abort();
    off += n;
    while ((r = srv_tls_read(c, plain, sizeof plain)) > 0)
      if ((size_t)r > sizeof plain) /* never more than asked */
        abort();
    /* What the server would send goes to the socket. */
    srv_buf *o = srv_tls_out(c);
    if (o->len > 0 && o->p == NULL)
      abort();
    o->len = 0;
  }
  if (r == SRV_TLS_FAIL && srv_tls_write(c, "x", 1) != -1) /* a failed link writes nothing */
    abort();
  srv_tls_shutdown(c);
  srv_tls_conn_free(c);
  return 0;
}
