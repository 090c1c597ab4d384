/* receipt.c - claim receipts: packing and parsing the body, and the designer's
 * side of POST /v1/activations (claim, then check root -> license -> receipt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lic/envelope.h"
#include "lic/mp.h"
#include "lic/receipt.h"

int lic_receipt_pack(const lic_receipt *r, msgpack_sbuffer *sb) {
  msgpack_packer pk;
  int bad = 0;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  bad |= msgpack_pack_map(&pk, 6);
  bad |= lic_mp_pack_cstr(&pk, "typ") | lic_mp_pack_cstr(&pk, LIC_RECEIPT_TYP);
  bad |= lic_mp_pack_cstr(&pk, "product") | msgpack_pack_int64(&pk, r->product);
  bad |= lic_mp_pack_cstr(&pk, "serial") | msgpack_pack_int64(&pk, r->serial);
  bad |= lic_mp_pack_cstr(&pk, "machine") | lic_mp_pack_cstr(&pk, r->machine);
  bad |= lic_mp_pack_cstr(&pk, "time") | msgpack_pack_int64(&pk, r->time);
  bad |= lic_mp_pack_cstr(&pk, "node_kid") | lic_mp_pack_bin(&pk, r->node_kid, LIC_KID_LEN);
  return bad ? LIC_NOMEM : LIC_OK;
}

int lic_receipt_parse(const uint8_t *body, size_t len, lic_receipt *r) {
  lic_mp_obj o;
  char *typ = NULL, *machine = NULL;
  int64_t product, serial, t;
  int rc;

  memset(r, 0, sizeof *r);
  if ((rc = lic_mp_obj_parse(body, len, &o)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "typ", 1, LIC_MAX_TYP, &typ)) != LIC_OK)
    goto out;
  if (strcmp(typ, LIC_RECEIPT_TYP) != 0) {
    rc = lic__fail(LIC_TYPE, "typ is '%s', not '%s'", typ, LIC_RECEIPT_TYP);
    goto out;
  }
  if ((rc = lic_mp_get_int(&o, "product", 0, 255, &product)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "serial", 0, UINT32_MAX, &serial)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "machine", LIC_MACHINE_CODE_LEN, LIC_MACHINE_CODE_LEN,
                           &machine)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "time", 0, INT64_MAX, &t)) != LIC_OK ||
      (rc = lic_mp_get_binx(&o, "node_kid", r->node_kid, LIC_KID_LEN)) != LIC_OK)
    goto out;
  if (!lic_machine_code_valid(machine)) {
    rc = lic__fail(LIC_FORMAT, "receipt: machine code '%s' is malformed", machine);
    goto out;
  }
  r->product = (int)product;
  r->serial = (uint32_t)serial;
  memcpy(r->machine, machine, LIC_MACHINE_CODE_LEN + 1);
  r->time = t;
  rc = LIC_OK;
out:
  if (rc != LIC_OK)
    memset(r, 0, sizeof *r);
  free(typ);
  free(machine);
  return rc;
}

void lic_claim_result_clear(lic_claim_result *res) {
  if (res == NULL)
    return;
  free(res->receipt_env);
  lic_license_clear(&res->license);
  memset(res, 0, sizeof *res);
}

int lic_claim_response_check(const uint8_t *body, size_t len, const lic_trust *trust,
                             const lic_code *c, const char *machine, lic_claim_result *res) {
  lic_mp_obj doc;
  lic_mp chain = {NULL, 0};
  const uint8_t *rbytes, *lbytes;
  size_t rlen, llen;
  uint32_t nchain;
  lic_envelope renv;
  int rc;

  memset(res, 0, sizeof *res);
  if ((rc = lic_mp_obj_parse(body, len, &doc)) != LIC_OK ||
      (rc = lic_mp_get_bin(&doc, "receipt", 1, LIC_MAX_ENVELOPE, &rbytes, &rlen)) != LIC_OK)
    goto out;
  for (size_t i = 0; i < doc.n; i++)
    if (doc.e[i].klen == 5 && memcmp(doc.e[i].k, "chain", 5) == 0)
      chain = doc.e[i].v;
  if (chain.p == NULL) {
    rc = lic__fail(LIC_FORMAT, "claim response has no chain");
    goto out;
  }
  if ((rc = lic_mp_array(&chain, &nchain)) != LIC_OK)
    goto out;
  if (nchain != 1) {
    rc = lic__fail(LIC_FORMAT, "expected a chain of one license, got %u entries", nchain);
    goto out;
  }
  if ((rc = lic_mp_bin(&chain, &lbytes, &llen)) != LIC_OK)
    goto out;
  /* root -> license: the license certifies the server's node key */
  if ((rc = lic_license_open(lbytes, llen, trust, &res->license)) != LIC_OK)
    goto out;
  if (!res->license.has_node_key) {
    rc = lic__fail(LIC_FORMAT, "the chain's license certifies no node key");
    goto out;
  }
  /* license -> receipt */
  if ((rc = lic_envelope_decode(rbytes, rlen, &renv)) != LIC_OK)
    goto out;
  if (strcmp(renv.typ, LIC_RECEIPT_TYP) != 0) {
    rc = lic__fail(LIC_TYPE, "expected a receipt, got a %s", renv.typ);
    goto out;
  }
  if ((rc = lic_envelope_verify_with(&renv, res->license.node_key)) != LIC_OK ||
      (rc = lic_receipt_parse(renv.body, renv.body_len, &res->receipt)) != LIC_OK)
    goto out;
  if (memcmp(res->receipt.node_kid, renv.kid, LIC_KID_LEN) != 0) {
    rc = lic__fail(LIC_MISMATCHED, "the receipt names another signer than its envelope");
    goto out;
  }
  if (res->receipt.product != c->product || res->receipt.serial != c->serial) {
    rc = lic__fail(LIC_MISMATCHED, "the receipt is for product %d serial %u, not %u/%u",
                   res->receipt.product, res->receipt.serial, c->product, c->serial);
    goto out;
  }
  if (strcmp(res->receipt.machine, machine) != 0) {
    rc = lic__fail(LIC_MISMATCHED, "the receipt binds machine %s, not this one (%s)",
                   res->receipt.machine, machine);
    goto out;
  }
  if ((res->receipt_env = malloc(rlen)) == NULL) {
    rc = LIC_NOMEM;
    goto out;
  }
  memcpy(res->receipt_env, rbytes, rlen);
  res->receipt_len = rlen;
  rc = LIC_OK;
out:
  if (rc != LIC_OK)
    lic_claim_result_clear(res);
  return rc;
}

static int pack_claim(const lic_code *c, const lic_machine *m, msgpack_sbuffer *sb) {
  uint8_t bin[LIC_CODE_BIN_LEN];
  char text[LIC_CODE_TEXT_LEN + 1];
  msgpack_packer pk;
  int bad = 0;
  lic_code_bytes(c, bin);
  lic_code_format(bin, text);
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  bad |= msgpack_pack_map(&pk, 3);
  bad |= lic_mp_pack_cstr(&pk, "code") | lic_mp_pack_cstr(&pk, text);
  bad |= lic_mp_pack_cstr(&pk, "machine") | lic_mp_pack_cstr(&pk, m->code);
  bad |= lic_mp_pack_cstr(&pk, "macs") | msgpack_pack_array(&pk, m->nmacs);
  for (size_t i = 0; i < m->nmacs; i++)
    bad |= lic_mp_pack_bin(&pk, m->mac_hash[i], LIC_MAC_HASH_LEN);
  return bad ? LIC_NOMEM : LIC_OK;
}

int lic_activation_claim(const char *url, const lic_code *c, const lic_machine *m,
                         const lic_trust *trust, int timeout_ms, lic_claim_result *res) {
  return lic_activation_claim_tls(url, NULL, c, m, trust, timeout_ms, res);
}

int lic_activation_claim_tls(const char *url, const lic_tls_opts *tls, const lic_code *c,
                             const lic_machine *m, const lic_trust *trust, int timeout_ms,
                             lic_claim_result *res) {
  msgpack_sbuffer sb;
  uint8_t *body = NULL;
  size_t blen = 0;
  int rc, status = 0;

  memset(res, 0, sizeof *res);
  msgpack_sbuffer_init(&sb);
  if (url == NULL || trust == NULL) {
    rc = lic__fail(LIC_INVALID, "a server URL and a trust store are required");
    goto out;
  }
  if ((rc = pack_claim(c, m, &sb)) != LIC_OK ||
      (rc = lic__http_post_tls(url, tls, LIC_CLAIM_PATH, (const uint8_t *)sb.data, sb.size, timeout_ms,
                           LIC_CLAIM_MAX_RESPONSE, &status, &body, &blen)) != LIC_OK)
    goto out;
  if (status != 200) {
    /* {error, message}: show the message, bounded. */
    char msg[200] = "";
    lic_mp_obj eo;
    char *mtext = NULL;
    if (lic_mp_obj_parse(body, blen, &eo) == LIC_OK &&
        lic_mp_get_str(&eo, "message", 0, 190, &mtext) == LIC_OK)
      snprintf(msg, sizeof msg, ": %s", mtext);
    free(mtext);
    rc = status == 409 ? lic__fail(LIC_EXISTS, "serial %u of product %u is already activated "
                                   "on another machine (HTTP 409); the license server's "
                                   "administrator can release it", c->serial, c->product)
                       : lic__fail(LIC_DENIED, "license server answered HTTP %d%s", status, msg);
    goto out;
  }
  rc = lic_claim_response_check(body, blen, trust, c, m->code, res);
out:
  res->http_status = status;
  msgpack_sbuffer_destroy(&sb);
  free(body);
  return rc;
}
