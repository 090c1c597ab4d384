/* activation.c - the designer's local activation file: written once by
 * activate, re-checked (code, product, expiry, machine) at every start. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "lic/activation.h"
#include "lic/envelope.h"
#include "lic/fileio.h"
#include "lic/mp.h"
#include "lic/receipt.h"

static int path_of(const char *state_dir, char path[PATH_MAX]) {
  if (state_dir == NULL || *state_dir == '\0')
    return lic__fail(LIC_INVALID, "no state directory");
  if ((size_t)snprintf(path, PATH_MAX, "%s/%s", state_dir, LIC_ACTIVATION_NAME) >= PATH_MAX)
    return lic__fail(LIC_INVALID, "state directory path too long");
  return LIC_OK;
}

/* The file's map; receipt (the server's signed claim receipt) is optional. */
static int encode(const lic_code *c, const lic_machine *m, int64_t now, const uint8_t *receipt,
                  size_t receipt_len, char **out, size_t *outlen) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  uint8_t bin[LIC_CODE_BIN_LEN];
  char text[LIC_CODE_TEXT_LEN + 1], comment[220];
  int bad = 0, r;

  *out = NULL;
  *outlen = 0;
  lic_code_bytes(c, bin);
  lic_code_format(bin, text);
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  bad |= msgpack_pack_map(&pk, receipt != NULL ? 9 : 8);
  bad |= lic_mp_pack_cstr(&pk, "typ") | lic_mp_pack_cstr(&pk, LIC_ACTIVATION_TYP);
  bad |= lic_mp_pack_cstr(&pk, "code") | lic_mp_pack_cstr(&pk, text);
  bad |= lic_mp_pack_cstr(&pk, "product") | msgpack_pack_int64(&pk, c->product);
  bad |= lic_mp_pack_cstr(&pk, "serial") | msgpack_pack_int64(&pk, c->serial);
  bad |= lic_mp_pack_cstr(&pk, "edition") | msgpack_pack_int64(&pk, c->edition);
  bad |= lic_mp_pack_cstr(&pk, "expires") | msgpack_pack_int64(&pk, lic_code_expires(c));
  bad |= lic_mp_pack_cstr(&pk, "machine") | msgpack_pack_map(&pk, 2);
  bad |= lic_mp_pack_cstr(&pk, "code") | lic_mp_pack_cstr(&pk, m->code);
  bad |= lic_mp_pack_cstr(&pk, "macs") | msgpack_pack_array(&pk, m->nmacs);
  for (size_t i = 0; i < m->nmacs; i++)
    bad |= lic_mp_pack_bin(&pk, m->mac_hash[i], LIC_MAC_HASH_LEN);
  bad |= lic_mp_pack_cstr(&pk, "activated") | msgpack_pack_int64(&pk, now);
  if (receipt != NULL)
    bad |= lic_mp_pack_cstr(&pk, "receipt") | lic_mp_pack_bin(&pk, receipt, receipt_len);
  if (bad != 0) {
    r = LIC_NOMEM;
    goto out;
  }
  snprintf(comment, sizeof comment,
           "licsrv designer activation: product %u, serial %u, machine %s%s\n"
           "Not signed by the vendor; checked against the code and this machine.",
           c->product, c->serial, m->code, receipt != NULL ? " (claimed online)" : "");
  r = lic_armor_encode(LIC_ACTIVATION_TYP, comment, (const uint8_t *)sb.data, sb.size, out,
                       outlen);
out:
  msgpack_sbuffer_destroy(&sb);
  return r;
}

int lic_activation_encode(const lic_code *c, const lic_machine *m, int64_t now, char **out,
                          size_t *outlen) {
  return encode(c, m, now, NULL, 0, out, outlen);
}

int lic_activation_decode(const uint8_t *buf, size_t len, lic_activation_info *info) {
  uint8_t *raw = NULL, *macs = NULL;
  size_t rawlen = 0, nmacs = 0;
  char *typ = NULL, *code = NULL, *mcode = NULL;
  lic_mp_obj o, mo;
  int64_t product, serial, edition, expires, activated;
  int r;

  memset(info, 0, sizeof *info);
  if (len > LIC_MAX_ACTIVATION) {
    r = lic__fail(LIC_LIMIT, "activation file over %d bytes", LIC_MAX_ACTIVATION);
    goto out;
  }
  if ((r = lic_unarmor_any(buf, len, &raw, &rawlen)) != LIC_OK ||
      (r = lic_mp_obj_parse(raw, rawlen, &o)) != LIC_OK ||
      (r = lic_mp_get_str(&o, "typ", 1, LIC_MAX_TYP, &typ)) != LIC_OK)
    goto out;
  if (strcmp(typ, LIC_ACTIVATION_TYP) != 0) {
    r = lic__fail(LIC_TYPE, "typ is '%s', not '%s'", typ, LIC_ACTIVATION_TYP);
    goto out;
  }
  if ((r = lic_mp_get_str(&o, "code", 1, LIC_CODE_TEXT_LEN, &code)) != LIC_OK ||
      (r = lic_mp_get_int(&o, "product", 0, 255, &product)) != LIC_OK ||
      (r = lic_mp_get_int(&o, "serial", 0, UINT32_MAX, &serial)) != LIC_OK ||
      (r = lic_mp_get_int(&o, "edition", 0, 255, &edition)) != LIC_OK ||
      (r = lic_mp_get_int(&o, "expires", 0, INT64_MAX, &expires)) != LIC_OK ||
      (r = lic_mp_get_int(&o, "activated", 0, INT64_MAX, &activated)) != LIC_OK ||
      (r = lic_mp_get_obj(&o, "machine", &mo)) != LIC_OK ||
      (r = lic_mp_get_str(&mo, "code", LIC_MACHINE_CODE_LEN, LIC_MACHINE_CODE_LEN, &mcode)) !=
          LIC_OK ||
      (r = lic_mp_get_binlist(&mo, "macs", LIC_MAX_LOCAL_MACS, LIC_MAC_HASH_LEN, &macs,
                              &nmacs)) != LIC_OK)
    goto out;
  if (!lic_machine_code_valid(mcode)) {
    r = lic__fail(LIC_FORMAT, "machine code '%s' is malformed", mcode);
    goto out;
  }
  if (lic_mp_obj_has(&o, "receipt")) {
    const uint8_t *rb;
    size_t rl;
    lic_envelope renv;
    if ((r = lic_mp_get_bin(&o, "receipt", 1, LIC_MAX_ENVELOPE, &rb, &rl)) != LIC_OK ||
        (r = lic_envelope_decode(rb, rl, &renv)) != LIC_OK)
      goto out;
    if (strcmp(renv.typ, LIC_RECEIPT_TYP) != 0) {
      r = lic__fail(LIC_TYPE, "the activation's receipt is a %s", renv.typ);
      goto out;
    }
    info->has_receipt = true;
  }
  memcpy(info->code, code, strlen(code) + 1);
  info->product = (int)product;
  info->serial = (uint32_t)serial;
  info->edition = (int)edition;
  info->expires = expires;
  info->activated = activated;
  memcpy(info->machine_code, mcode, LIC_MACHINE_CODE_LEN + 1);
  info->nmacs = nmacs;
  if (nmacs > 0)
    memcpy(info->macs, macs, nmacs * LIC_MAC_HASH_LEN);
  r = LIC_OK;
out:
  if (r != LIC_OK)
    memset(info, 0, sizeof *info);
  free(raw);
  free(macs);
  free(typ);
  free(code);
  free(mcode);
  return r;
}

static const lic_trust *trust_or_builtin(const lic_trust *trust, lic_trust *tmp) {
  if (trust != NULL)
    return trust;
  if (lic_trust_builtin(tmp) != LIC_OK)
    lic_trust_init(tmp);
  return tmp;
}

static void info_from_code(const lic_code *c, lic_activation_info *info) {
  uint8_t bin[LIC_CODE_BIN_LEN];
  lic_code_bytes(c, bin);
  lic_code_format(bin, info->code);
  info->product = c->product;
  info->serial = c->serial;
  info->edition = c->edition;
  info->expires = lic_code_expires(c);
}

/* Offline checks, then (url != NULL) the online claim, then the file. */
static int activate(const char *state_dir, const char *code, const lic_trust *trust, int product,
                    int64_t now, const char *url, const lic_tls_opts *tls, int timeout_ms,
                    lic_activation_info *info) {
  char path[PATH_MAX], *file = NULL;
  size_t flen = 0;
  lic_trust tmp;
  lic_code c;
  lic_machine m;
  lic_claim_result claim;
  int r;

  memset(&claim, 0, sizeof claim);
  if (info != NULL)
    memset(info, 0, sizeof *info);
  if ((r = path_of(state_dir, path)) != LIC_OK || (r = lic_code_parse(code, &c)) != LIC_OK ||
      (r = lic_code_verify(&c, trust_or_builtin(trust, &tmp), product, now)) != LIC_OK ||
      (r = lic_machine_read(&m)) != LIC_OK)
    goto out;
  if (m.nmacs == 0) {
    r = lic__fail(LIC_MACHINE, "no physical network adapter found: an activation binds the "
                  "machine code and at least one adapter");
    goto out;
  }
  /* Claimed before anything is written: a refused claim leaves no file. */
  if (url != NULL &&
      (r = lic_activation_claim_tls(url, tls, &c, &m, trust_or_builtin(trust, &tmp), timeout_ms,
                                     &claim)) !=
          LIC_OK)
    goto out;
  if ((r = encode(&c, &m, now, claim.receipt_env, claim.receipt_len, &file, &flen)) != LIC_OK ||
      (r = lic_mkdirs(state_dir, 0700)) != LIC_OK ||
      (r = lic_file_write(path, file, flen, 0600, 0)) != LIC_OK)
    goto out;
  if (info != NULL) {
    info_from_code(&c, info);
    info->activated = now;
    memcpy(info->machine_code, m.code, sizeof info->machine_code);
    info->nmacs = m.nmacs;
    memcpy(info->macs, m.mac_hash, m.nmacs * LIC_MAC_HASH_LEN);
    info->has_receipt = claim.receipt_env != NULL;
  }
  r = LIC_OK;
out:
  lic_claim_result_clear(&claim);
  free(file);
  return r;
}

int lic_designer_activate(const char *state_dir, const char *code, const lic_trust *trust,
                          int product, int64_t now, lic_activation_info *info) {
  return activate(state_dir, code, trust, product, now, NULL, NULL, 0, info);
}

int lic_designer_activate_online(const char *state_dir, const char *code, const lic_trust *trust,
                                 int product, int64_t now, const char *server_url, int timeout_ms,
                                 lic_activation_info *info) {
  return lic_designer_activate_online_tls(state_dir, code, trust, product, now, server_url, NULL,
                                          timeout_ms, info);
}

int lic_designer_activate_online_tls(const char *state_dir, const char *code,
                                     const lic_trust *trust, int product, int64_t now,
                                     const char *server_url, const lic_tls_opts *tls,
                                     int timeout_ms, lic_activation_info *info) {
  if (server_url == NULL) {
    if (info != NULL)
      memset(info, 0, sizeof *info);
    return lic__fail(LIC_INVALID, "no license server URL");
  }
  return activate(state_dir, code, trust, product, now, server_url, tls, timeout_ms, info);
}

int lic_designer_check(const char *state_dir, const lic_trust *trust, int product,
                       lic_activation_info *info) {
  char path[PATH_MAX];
  uint8_t *buf = NULL;
  size_t len = 0;
  lic_activation_info a;
  lic_trust tmp;
  lic_code c;
  lic_machine m;
  int r;

  memset(&a, 0, sizeof a);
  if (info != NULL)
    memset(info, 0, sizeof *info);
  if ((r = path_of(state_dir, path)) != LIC_OK)
    goto out;
  if ((r = lic_file_read(path, LIC_MAX_ACTIVATION, &buf, &len)) != LIC_OK) {
    if (r == LIC_NOTFOUND)
      r = lic__fail(LIC_NOTFOUND, "not activated (no %s): enter an activation code", path);
    goto out;
  }
  if ((r = lic_activation_decode(buf, len, &a)) != LIC_OK)
    goto out;
  if ((r = lic_code_parse(a.code, &c)) != LIC_OK)
    goto out;
  /* The file is not signed: what counts comes from the (signed) code. */
  if (c.product != a.product || c.serial != a.serial || c.edition != a.edition ||
      lic_code_expires(&c) != a.expires) {
    r = lic__fail(LIC_FORMAT, "%s: fields disagree with its code (edited by hand?)", path);
    goto out;
  }
  info_from_code(&c, &a);
  if ((r = lic_code_verify(&c, trust_or_builtin(trust, &tmp), product, (int64_t)time(NULL))) !=
      LIC_OK)
    goto out;
  if ((r = lic_machine_read(&m)) != LIC_OK)
    goto out;
  if (!lic_machine_matches(&m, a.machine_code, &a.macs[0][0], a.nmacs)) {
    r = strcmp(m.code, a.machine_code) != 0
            ? lic__fail(LIC_DENIED, "activated on another machine (machine code %s, this is %s)",
                        a.machine_code, m.code)
            : lic__fail(LIC_DENIED, "none of the network adapters recorded at activation is "
                        "present on this machine");
    goto out;
  }
  r = LIC_OK;
out:
  if (info != NULL && a.code[0] != '\0')
    *info = a;
  free(buf);
  return r;
}
