/* actcode.c - designer activation codes: layout, grouped base32 with check
 * symbols, Ed25519 signing (one context per signer) and checking. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "internal.h"
#include "lic/actcode.h"
#include "lic/b32.h"
#include "lic/util.h"

#define DOMAIN_LEN (sizeof LIC_CODE_SIG_DOMAIN - 1)

void lic_code_payload(const lic_code *c, uint8_t out[LIC_CODE_PAYLOAD_LEN]) {
  out[0] = c->version;
  out[1] = c->product;
  out[2] = (uint8_t)(c->serial >> 24);
  out[3] = (uint8_t)(c->serial >> 16);
  out[4] = (uint8_t)(c->serial >> 8);
  out[5] = (uint8_t)c->serial;
  out[6] = (uint8_t)(c->expiry_day >> 8);
  out[7] = (uint8_t)c->expiry_day;
  out[8] = c->edition;
}

void lic_code_bytes(const lic_code *c, uint8_t out[LIC_CODE_BIN_LEN]) {
  lic_code_payload(c, out);
  memcpy(out + LIC_CODE_PAYLOAD_LEN, c->sig, LIC_SIG_LEN);
}

int64_t lic_code_expires(const lic_code *c) {
  if (c->expiry_day == 0)
    return 0;
  return ((int64_t)LIC_CODE_EPOCH_DAYS + c->expiry_day) * 86400;
}

int lic_code_day_of(int64_t t, uint16_t *day) {
  *day = 0;
  if (t % 86400 != 0)
    return lic__fail(LIC_INVALID, "expiry must be a UTC midnight");
  int64_t d = t / 86400 - LIC_CODE_EPOCH_DAYS;
  if (d < 1 || d > LIC_CODE_MAX_DAY)
    return lic__fail(LIC_LIMIT, "a code's expiry must lie between 2020-01-02 and 2199-06-06");
  *day = (uint16_t)d;
  return LIC_OK;
}

void lic_code_format(const uint8_t bin[LIC_CODE_BIN_LEN], char out[LIC_CODE_TEXT_LEN + 1]) {
  char data[LIC_CODE_DATA_SYMS + 1];
  int vals[LIC_CODE_GROUP];
  size_t o = 0;

  lic_b32_encode(bin, LIC_CODE_BIN_LEN, data, sizeof data); /* cannot fail: sized */
  for (size_t g = 0; g < LIC_CODE_GROUPS; g++) {
    size_t first = g * LIC_CODE_GROUP;
    size_t n = LIC_CODE_DATA_SYMS - first < LIC_CODE_GROUP ? LIC_CODE_DATA_SYMS - first
                                                           : LIC_CODE_GROUP;
    if (g > 0)
      out[o++] = '-';
    for (size_t i = 0; i < n; i++) {
      out[o++] = data[first + i];
      vals[i] = lic_b32_value(data[first + i]);
    }
    out[o++] = lic_b32_check(vals, n);
  }
  out[o] = '\0';
}

struct lic_code_signer {
  EVP_PKEY *pkey; /* a reference of the caller's key */
  EVP_MD_CTX *ctx;
  int ready; /* ctx initialised and reusable */
  const lic_key *ext; /* a key held in a token: signs through its own context */
  void *ext_ctx;      /* (a session of this signer's thread) */
};

int lic_code_signer_new(const lic_key *key, lic_code_signer **out) {
  lic_code_signer *s = NULL;
  int r;

  *out = NULL;
  if (key == NULL || !lic_key_has_private(key))
    return lic__fail(LIC_KEY, "signing codes needs a private key");
  if (lic_key_is_external(key)) {
    if ((s = calloc(1, sizeof *s)) == NULL)
      return LIC_NOMEM;
    if ((r = lic_key_signer_open(key, &s->ext_ctx)) != LIC_OK) {
      free(s);
      return r;
    }
    s->ext = key;
    *out = s;
    return LIC_OK;
  }
  if ((s = calloc(1, sizeof *s)) == NULL || (s->ctx = EVP_MD_CTX_new()) == NULL) {
    r = LIC_NOMEM;
    goto out;
  }
  s->pkey = lic__key_pkey(key);
  if (EVP_PKEY_up_ref(s->pkey) != 1) {
    s->pkey = NULL;
    r = lic__fail_ssl(LIC_CRYPTO, "key reference");
    goto out;
  }
  *out = s;
  s = NULL;
  r = LIC_OK;
out:
  lic_code_signer_free(s);
  return r;
}

void lic_code_signer_free(lic_code_signer *s) {
  if (s == NULL)
    return;
  if (s->ext != NULL)
    lic_key_signer_close(s->ext, s->ext_ctx);
  EVP_MD_CTX_free(s->ctx); /* the context's key state is wiped by OpenSSL */
  EVP_PKEY_free(s->pkey);
  free(s);
}

/* One-shot Ed25519 over DOMAIN + payload. OpenSSL 3.0 lets a one-shot
 * context sign again (about 20% faster than initialising per code); should a
 * later version refuse, initialise afresh and retry once. */
static int signer_sign(lic_code_signer *s, const uint8_t *msg, size_t len,
                       uint8_t sig[LIC_SIG_LEN]) {
  if (s->ext != NULL)
    return lic_key_signer_sign(s->ext, s->ext_ctx, msg, len, sig);
  for (int attempt = 0; attempt < 2; attempt++) {
    size_t siglen = LIC_SIG_LEN;
    if (!s->ready) {
      if (EVP_MD_CTX_reset(s->ctx) != 1 ||
          EVP_DigestSignInit(s->ctx, NULL, NULL, NULL, s->pkey) != 1)
        return lic__fail_ssl(LIC_CRYPTO, "Ed25519 signing setup");
      s->ready = 1;
    }
    if (EVP_DigestSign(s->ctx, sig, &siglen, msg, len) == 1 && siglen == LIC_SIG_LEN)
      return LIC_OK;
    ERR_clear_error();
    s->ready = 0;
  }
  return lic__fail(LIC_CRYPTO, "Ed25519 signing failed");
}

int lic_code_signer_make(lic_code_signer *s, lic_code *c, char out[LIC_CODE_TEXT_LEN + 1]) {
  uint8_t msg[DOMAIN_LEN + LIC_CODE_PAYLOAD_LEN], bin[LIC_CODE_BIN_LEN];
  int r;

  c->version = LIC_CODE_VERSION;
  memcpy(msg, LIC_CODE_SIG_DOMAIN, DOMAIN_LEN);
  lic_code_payload(c, msg + DOMAIN_LEN);
  if ((r = signer_sign(s, msg, sizeof msg, c->sig)) != LIC_OK)
    return r;
  lic_code_bytes(c, bin);
  lic_code_format(bin, out);
  return LIC_OK;
}

int lic_code_make(lic_code *c, const lic_key *key, char out[LIC_CODE_TEXT_LEN + 1]) {
  lic_code_signer *s = NULL;
  int r;

  if ((r = lic_code_signer_new(key, &s)) == LIC_OK)
    r = lic_code_signer_make(s, c, out);
  lic_code_signer_free(s);
  return r;
}

static bool separator(char ch) {
  return ch == '-' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Group (0-based) and whether position k of the symbol stream is a check symbol. */
static size_t group_of(size_t k, bool *check) {
  size_t g = k / (LIC_CODE_GROUP + 1), i = k % (LIC_CODE_GROUP + 1);
  size_t n = g == LIC_CODE_GROUPS - 1 ? LIC_CODE_DATA_SYMS - g * LIC_CODE_GROUP : LIC_CODE_GROUP;
  *check = i == n;
  return g;
}

int lic_code_parse(const char *text, lic_code *out) {
  int data[LIC_CODE_DATA_SYMS], chk[LIC_CODE_GROUPS];
  bool typo[LIC_CODE_GROUPS] = {false};
  uint8_t bin[LIC_CODE_BIN_LEN];
  size_t len, k = 0, nd = 0;

  memset(out, 0, sizeof *out);
  if (text == NULL)
    return lic__fail(LIC_INVALID, "no code given");
  if ((len = strnlen(text, LIC_CODE_MAX_INPUT + 1)) > LIC_CODE_MAX_INPUT)
    return lic__fail(LIC_FORMAT, "too long for an activation code (over %d characters)",
                     LIC_CODE_MAX_INPUT);
  for (size_t pos = 0; pos < len; pos++) {
    char ch = text[pos];
    bool is_check;
    if (separator(ch))
      continue;
    if (k == LIC_CODE_SYMS)
      return lic__fail(LIC_FORMAT, "too long: extra symbols from character %zu on (a code "
                       "has %d groups, %d symbols)", pos + 1, LIC_CODE_GROUPS, LIC_CODE_SYMS);
    size_t g = group_of(k, &is_check);
    int v = is_check ? lic_b32_check_value(ch) : lic_b32_value(ch);
    if (v < 0 && !is_check && lic_b32_check_value(ch) >= 0) {
      /* A check-only symbol (* ~ $ = U) where data belongs: a slip within
       * the group, reported as that group's typo. */
      typo[g] = true;
      v = 0;
    } else if (v < 0) {
      return lic__fail(LIC_FORMAT, "character %zu ('%c', in group %zu) is not a code symbol",
                       pos + 1, isgraph((unsigned char)ch) ? ch : '?', g + 1);
    }
    if (is_check)
      chk[g] = v;
    else
      data[nd++] = v;
    k++;
  }
  if (k != LIC_CODE_SYMS)
    return lic__fail(LIC_FORMAT, "too short: %zu of the %d symbols of a code (%d groups)", k,
                     LIC_CODE_SYMS, LIC_CODE_GROUPS);

  char list[LIC_CODE_GROUPS * 4];
  size_t ntypo = 0, o = 0, first_typo = 0;
  for (size_t g = 0; g < LIC_CODE_GROUPS; g++) {
    size_t first = g * LIC_CODE_GROUP;
    size_t n = g == LIC_CODE_GROUPS - 1 ? LIC_CODE_DATA_SYMS - first : LIC_CODE_GROUP;
    if (lic_b32_check_value(lic_b32_check(data + first, n)) != chk[g])
      typo[g] = true;
    if (!typo[g])
      continue;
    if (ntypo++ == 0)
      first_typo = g + 1;
    o += (size_t)snprintf(list + o, sizeof list - o, "%s%zu", o > 0 ? ", " : "", g + 1);
  }
  if (ntypo == 1)
    return lic__fail(LIC_TYPO, "group %zu has a typo", first_typo);
  if (ntypo > 1)
    return lic__fail(LIC_TYPO, "groups %s have typos", list);

  int r = lic_b32_unpack(data, nd, bin, sizeof bin);
  if (r != LIC_OK)
    return r;
  out->version = bin[0];
  out->product = bin[1];
  out->serial = (uint32_t)bin[2] << 24 | (uint32_t)bin[3] << 16 | (uint32_t)bin[4] << 8 | bin[5];
  out->expiry_day = (uint16_t)(bin[6] << 8 | bin[7]);
  out->edition = bin[8];
  memcpy(out->sig, bin + LIC_CODE_PAYLOAD_LEN, LIC_SIG_LEN);
  return LIC_OK;
}

int lic_code_verify(const lic_code *c, const lic_trust *t, int product, int64_t now) {
  uint8_t payload[LIC_CODE_PAYLOAD_LEN];
  bool genuine = false;

  lic_code_payload(c, payload);
  /* The code carries no key id: any root key of the store may have made it. */
  for (size_t i = 0; t != NULL && i < t->n && !genuine; i++)
    genuine = lic_sig_verify2(t->k[i].pub, (const uint8_t *)LIC_CODE_SIG_DOMAIN, DOMAIN_LEN,
                              payload, sizeof payload, c->sig) == LIC_OK;
  if (!genuine && (t == NULL || t->n == 0))
    return lic__fail(LIC_NOTGENUINE, "the trust store holds no keys");
  if (!genuine)
    return lic__fail(LIC_NOTGENUINE, "no trusted key signed this code (%zu tried); its "
                     "check symbols hold, so it is not a typo", t->n);
  if (c->version != LIC_CODE_VERSION)
    return lic__fail(LIC_FORMAT, "code version %u is not supported (this build reads %d)",
                     c->version, LIC_CODE_VERSION);
  if (product >= 0 && c->product != product)
    return lic__fail(LIC_PRODUCT, "the code is for product %u, not %d", c->product, product);
  int64_t exp = lic_code_expires(c);
  if (exp != 0 && now >= exp) {
    char date[11];
    lic_date_format(exp, date);
    return lic__fail(LIC_EXPIRED, "the code expired on %s", date);
  }
  return LIC_OK;
}
