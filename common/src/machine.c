/* machine.c - machine code and physical-NIC MAC hashes from /etc and /sys. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "internal.h"
#include "lic/b32.h"
#include "lic/machine.h"

#define CODE_DOMAIN "licsrv machine v1"
#define MAC_DOMAIN  "licsrv mac v1"

static void root_path(char *out, size_t cap, const char *rel) {
  const char *root = getenv("LIC_SYSROOT");
  if (root != NULL && *root != '\0')
    snprintf(out, cap, "%s/%s", root, rel);
  else
    snprintf(out, cap, "/%s", rel);
}

/* First line of a small file, trimmed; false when unreadable or empty. */
static bool read_line(const char *path, char *out, size_t cap) {
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return false;
  bool ok = fgets(out, (int)cap, f) != NULL;
  fclose(f);
  if (!ok)
    return false;
  size_t n = strlen(out);
  while (n > 0 && isspace((unsigned char)out[n - 1]))
    out[--n] = '\0';
  size_t s = 0;
  while (isspace((unsigned char)out[s]))
    s++;
  memmove(out, out + s, n - s + 1);
  return out[0] != '\0';
}

void lic_machine_code(const char *machine_id, const char *product_uuid,
                      char code[LIC_MACHINE_CODE_LEN + 1]) {
  /* SHA-256("licsrv machine v1\0" || "machine-id=" ID "\n" [|| "product_uuid=" U "\n"]) */
  uint8_t h[SHA256_DIGEST_LENGTH];
  char sym[LIC_B32_LEN(10) + 1];
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned int hl = 0;
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  EVP_DigestUpdate(ctx, CODE_DOMAIN, sizeof CODE_DOMAIN); /* includes the NUL */
  EVP_DigestUpdate(ctx, "machine-id=", 11);
  EVP_DigestUpdate(ctx, machine_id, strlen(machine_id));
  EVP_DigestUpdate(ctx, "\n", 1);
  if (product_uuid != NULL && *product_uuid != '\0') {
    EVP_DigestUpdate(ctx, "product_uuid=", 13);
    EVP_DigestUpdate(ctx, product_uuid, strlen(product_uuid));
    EVP_DigestUpdate(ctx, "\n", 1);
  }
  EVP_DigestFinal_ex(ctx, h, &hl);
  EVP_MD_CTX_free(ctx);
  lic_b32_encode(h, 10, sym, sizeof sym);
  snprintf(code, LIC_MACHINE_CODE_LEN + 1, "%.4s-%.4s-%.4s-%.4s", sym, sym + 4, sym + 8, sym + 12);
}

bool lic_machine_code_valid(const char *code) {
  if (strlen(code) != LIC_MACHINE_CODE_LEN)
    return false;
  for (int i = 0; i < LIC_MACHINE_CODE_LEN; i++) {
    if (i % 5 == 4) {
      if (code[i] != '-')
        return false;
    } else if (lic_b32_value(code[i]) < 0 || islower((unsigned char)code[i]) ||
               code[i] == 'I' || code[i] == 'L' || code[i] == 'O') {
      return false; /* canonical form only */
    }
  }
  return true;
}

void lic_mac_hash(const uint8_t mac[6], uint8_t out[LIC_MAC_HASH_LEN]) {
  uint8_t in[sizeof MAC_DOMAIN + 6], h[SHA256_DIGEST_LENGTH];
  memcpy(in, MAC_DOMAIN, sizeof MAC_DOMAIN);
  memcpy(in + sizeof MAC_DOMAIN, mac, 6);
  SHA256(in, sizeof in, h);
  memcpy(out, h, LIC_MAC_HASH_LEN);
}

void lic_mac_mask(const uint8_t mac[6], char out[LIC_MAC_MASKED_LEN + 1]) {
  snprintf(out, LIC_MAC_MASKED_LEN + 1, "%02x:%02x:%02x:**:**:%02x", mac[0], mac[1], mac[2],
           mac[5]);
}

static bool parse_mac(const char *s, uint8_t mac[6]) {
  unsigned v[6];
  char tail;
  if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
    return false;
  unsigned any = 0;
  for (int i = 0; i < 6; i++)
    any |= (mac[i] = (uint8_t)v[i]);
  return any != 0;
}

static bool exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

/* Virtual interfaces that can look physical in some containers. */
static bool virtual_name(const char *n) {
  static const char *const pre[] = {"lo", "veth", "docker", "br-", "virbr", "tun", "tap",
                                    "vnet", "cni", "flannel", "kube", "wg", "zt"};
  for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
    if (strncmp(n, pre[i], strlen(pre[i])) == 0)
      return true;
  return false;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int lic_machine_read(lic_machine *m) {
  char path[PATH_MAX], id[256], uuid[256], line[64];
  char *names[LIC_MAX_LOCAL_MACS * 2];
  size_t nn = 0;
  struct dirent *de;
  DIR *d;

  memset(m, 0, sizeof *m);
  root_path(path, sizeof path, "etc/machine-id");
  if (!read_line(path, id, sizeof id)) {
    root_path(path, sizeof path, "var/lib/dbus/machine-id");
    if (!read_line(path, id, sizeof id))
      return lic__fail(LIC_MACHINE, "no /etc/machine-id nor /var/lib/dbus/machine-id "
                                    "(systemd-machine-id-setup creates one)");
  }
  root_path(path, sizeof path, "sys/class/dmi/id/product_uuid");
  if (!read_line(path, uuid, sizeof uuid))
    uuid[0] = '\0';
  for (char *p = uuid; *p != '\0'; p++)
    *p = (char)tolower((unsigned char)*p);
  lic_machine_code(id, uuid, m->code);
  OPENSSL_cleanse(id, sizeof id);

  root_path(path, sizeof path, "sys/class/net");
  if ((d = opendir(path)) == NULL)
    return LIC_OK; /* no network information: a code-only machine */
  while ((de = readdir(d)) != NULL && nn < sizeof names / sizeof names[0]) {
    if (de->d_name[0] == '.' || virtual_name(de->d_name))
      continue;
    if ((names[nn] = strdup(de->d_name)) == NULL) {
      closedir(d);
      for (size_t i = 0; i < nn; i++)
        free(names[i]);
      return LIC_NOMEM;
    }
    nn++;
  }
  closedir(d);
  qsort(names, nn, sizeof names[0], cmp_name);
  for (size_t i = 0; i < nn; i++) {
    char rel[PATH_MAX];
    uint8_t mac[6];
    snprintf(rel, sizeof rel, "sys/class/net/%s/device", names[i]);
    root_path(path, sizeof path, rel);
    bool physical = exists(path);
    snprintf(rel, sizeof rel, "sys/class/net/%s/bridge", names[i]);
    root_path(path, sizeof path, rel);
    physical = physical && !exists(path);
    snprintf(rel, sizeof rel, "sys/class/net/%s/address", names[i]);
    root_path(path, sizeof path, rel);
    if (physical && m->nmacs < LIC_MAX_LOCAL_MACS && read_line(path, line, sizeof line) &&
        parse_mac(line, mac)) {
      lic_mac_hash(mac, m->mac_hash[m->nmacs]);
      lic_mac_mask(mac, m->masked[m->nmacs]);
      m->nmacs++;
      OPENSSL_cleanse(mac, sizeof mac);
    }
    free(names[i]);
  }
  return LIC_OK;
}

bool lic_machine_matches(const lic_machine *m, const char *code, const uint8_t *macs,
                         size_t nmacs) {
  if (strlen(code) != LIC_MACHINE_CODE_LEN ||
      CRYPTO_memcmp(m->code, code, LIC_MACHINE_CODE_LEN) != 0)
    return false;
  bool any = false;
  for (size_t i = 0; i < m->nmacs; i++)
    for (size_t j = 0; j < nmacs; j++)
      any |= CRYPTO_memcmp(m->mac_hash[i], macs + j * LIC_MAC_HASH_LEN, LIC_MAC_HASH_LEN) == 0;
  return any;
}
