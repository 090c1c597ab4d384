/* rif.c - registration information file: build, sign, parse, verify. */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "internal.h"
#include "lic/envelope.h"
#include "lic/fileio.h"
#include "lic/rif.h"

void lic_rif_clear(lic_rif *r) {
  if (r == NULL)
    return;
  free(r->product);
  free(r->version);
  free(r->project);
  free(r->macs);
  lic_strlist_free(&r->macs_masked);
  memset(r, 0, sizeof *r);
}

int lic_name_check(const char *what, const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > LIC_MAX_NAME)
    return lic__fail(LIC_LIMIT, "%s must be 1..%d bytes", what, LIC_MAX_NAME);
  if (!lic_utf8_valid(s, n))
    return lic__fail(LIC_FORMAT, "%s is not valid UTF-8", what);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return lic__fail(LIC_FORMAT, "%s holds a control character", what);
  return LIC_OK;
}

int lic_rif_pack(const lic_rif *r, uint8_t **body, size_t *len) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  int bad = 0;

  *body = NULL;
  *len = 0;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  bad |= msgpack_pack_map(&pk, 9); /* the nine keys of SPEC §3.2 */
  bad |= lic_mp_pack_cstr(&pk, "typ") | lic_mp_pack_cstr(&pk, "rif");
  bad |= lic_mp_pack_cstr(&pk, "created") | msgpack_pack_int64(&pk, r->created);
  bad |= lic_mp_pack_cstr(&pk, "product") | lic_mp_pack_cstr(&pk, r->product);
  bad |= lic_mp_pack_cstr(&pk, "version") | lic_mp_pack_cstr(&pk, r->version);
  bad |= lic_mp_pack_cstr(&pk, "project") | lic_mp_pack_cstr(&pk, r->project);
  bad |= lic_mp_pack_cstr(&pk, "project_id") | lic_mp_pack_bin(&pk, r->project_id, LIC_ID_LEN);
  bad |= lic_mp_pack_cstr(&pk, "machine") | msgpack_pack_map(&pk, 3);
  bad |= lic_mp_pack_cstr(&pk, "code") | lic_mp_pack_cstr(&pk, r->code);
  bad |= lic_mp_pack_cstr(&pk, "macs") | msgpack_pack_array(&pk, r->nmacs);
  for (size_t i = 0; i < r->nmacs; i++)
    bad |= lic_mp_pack_bin(&pk, r->macs + i * LIC_MAC_HASH_LEN, LIC_MAC_HASH_LEN);
  bad |= lic_mp_pack_cstr(&pk, "macs_masked") | lic_mp_pack_strlist(&pk, &r->macs_masked);
  bad |= lic_mp_pack_cstr(&pk, "pubkey") | lic_mp_pack_bin(&pk, r->pubkey, LIC_PUBKEY_LEN);
  bad |= lic_mp_pack_cstr(&pk, "mode_hint") | lic_mp_pack_cstr(&pk, r->mode_hint);
  if (bad) {
    msgpack_sbuffer_destroy(&sb);
    return LIC_NOMEM;
  }
  *body = (uint8_t *)sb.data;
  *len = sb.size;
  return LIC_OK;
}

int lic_rif_parse(const uint8_t *body, size_t len, lic_rif *r) {
  lic_mp_obj o, mo;
  char *mode = NULL;
  int rc;

  memset(r, 0, sizeof *r);
  if ((rc = lic_mp_obj_parse(body, len, &o)) != LIC_OK)
    goto out;
  char *typ = NULL;
  if ((rc = lic_mp_get_str(&o, "typ", 1, 16, &typ)) != LIC_OK)
    goto out;
  rc = strcmp(typ, "rif") == 0 ? LIC_OK : lic__fail(LIC_TYPE, "body typ is '%s', not rif", typ);
  free(typ);
  if (rc != LIC_OK)
    goto out;
  if ((rc = lic_mp_get_int(&o, "created", 0, INT64_MAX, &r->created)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "product", 1, LIC_MAX_NAME, &r->product)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "version", 1, LIC_MAX_NAME, &r->version)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "project", 1, LIC_MAX_NAME, &r->project)) != LIC_OK ||
      (rc = lic_mp_get_binx(&o, "project_id", r->project_id, LIC_ID_LEN)) != LIC_OK ||
      (rc = lic_mp_get_binx(&o, "pubkey", r->pubkey, LIC_PUBKEY_LEN)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "mode_hint", 1, LIC_MAX_MODE, &mode)) != LIC_OK ||
      (rc = lic_mp_get_obj(&o, "machine", &mo)) != LIC_OK)
    goto out;
  if (strcmp(mode, "local") != 0 && strcmp(mode, "private") != 0) {
    rc = lic__fail(LIC_FORMAT, "mode_hint '%s' is not local or private", mode);
    goto out;
  }
  memcpy(r->mode_hint, mode, strlen(mode) + 1);
  char *code = NULL;
  if ((rc = lic_mp_get_str(&mo, "code", LIC_MACHINE_CODE_LEN, LIC_MACHINE_CODE_LEN, &code)) != LIC_OK)
    goto out;
  memcpy(r->code, code, LIC_MACHINE_CODE_LEN + 1);
  free(code);
  if (!lic_machine_code_valid(r->code)) {
    rc = lic__fail(LIC_FORMAT, "machine code '%s' is malformed", r->code);
    goto out;
  }
  if ((rc = lic_mp_get_binlist(&mo, "macs", LIC_MAX_LIST, LIC_MAC_HASH_LEN, &r->macs, &r->nmacs)) != LIC_OK ||
      (rc = lic_mp_get_strlist(&mo, "macs_masked", LIC_MAX_LIST, 1, LIC_MAC_MASKED_LEN,
                               &r->macs_masked)) != LIC_OK)
    goto out;
  if (r->macs_masked.n != r->nmacs)
    rc = lic__fail(LIC_FORMAT, "macs and macs_masked differ in length");
out:
  free(mode);
  if (rc != LIC_OK)
    lic_rif_clear(r);
  return rc;
}

int lic_rif_make(const lic_machine *m, const char *project, const char *product,
                 const char *version, const uint8_t project_id[LIC_ID_LEN], const char *mode_hint,
                 const lic_key *key, int64_t now, char **armored, size_t *alen) {
  lic_rif r;
  uint8_t *body = NULL, *env = NULL;
  size_t blen, elen;
  char comments[1024], pid[LIC_UUID_LEN + 1];
  int rc;

  *armored = NULL;
  *alen = 0;
  memset(&r, 0, sizeof r);
  if ((rc = lic_name_check("project", project)) != LIC_OK ||
      (rc = lic_name_check("product", product)) != LIC_OK ||
      (rc = lic_name_check("version", version)) != LIC_OK)
    return rc;
  if (strcmp(mode_hint, "local") != 0 && strcmp(mode_hint, "private") != 0)
    return lic__fail(LIC_INVALID, "mode_hint '%s' is not local or private", mode_hint);
  r.created = now;
  r.product = (char *)product;
  r.version = (char *)version;
  r.project = (char *)project;
  memcpy(r.project_id, project_id, LIC_ID_LEN);
  memcpy(r.code, m->code, sizeof r.code);
  r.nmacs = m->nmacs;
  r.macs = (uint8_t *)m->mac_hash;
  char *masked[LIC_MAX_LOCAL_MACS];
  for (size_t i = 0; i < m->nmacs; i++)
    masked[i] = (char *)m->masked[i];
  r.macs_masked.n = m->nmacs;
  r.macs_masked.v = masked;
  memcpy(r.pubkey, lic_key_raw_public(key), LIC_PUBKEY_LEN);
  snprintf(r.mode_hint, sizeof r.mode_hint, "%s", mode_hint);
  if ((rc = lic_rif_pack(&r, &body, &blen)) != LIC_OK)
    goto out;
  if ((rc = lic_envelope_seal("rif", body, blen, key, &env, &elen)) != LIC_OK)
    goto out;
  lic_uuid_format(project_id, pid);
  snprintf(comments, sizeof comments,
           "licsrv registration information file (send it to your vendor)\n"
           "project: %.128s\nproject id: %s\nproduct: %.128s %.128s\nmachine code: %s\n"
           "network adapters: %zu",
           project, pid, product, version, m->code, m->nmacs);
  rc = lic_armor_encode("rif", comments, env, elen, armored, alen);
out:
  free(body);
  free(env);
  return rc;
}

int lic_rif_load(const char *path, lic_rif *r, uint8_t body_sha256[32]) {
  uint8_t *file = NULL, *bytes = NULL;
  size_t flen, blen;
  lic_envelope env;
  int rc;

  memset(r, 0, sizeof *r);
  if ((rc = lic_file_read(path, LIC_MAX_FILE, &file, &flen)) != LIC_OK)
    return rc;
  rc = lic_unarmor_any(file, flen, &bytes, &blen);
  free(file);
  if (rc != LIC_OK)
    return rc;
  if ((rc = lic_envelope_decode(bytes, blen, &env)) != LIC_OK)
    goto out;
  if (strcmp(env.typ, "rif") != 0) {
    rc = lic__fail(LIC_TYPE, "this is a %s, not a rif", env.typ);
    goto out;
  }
  /* The signer's key travels inside the body (proof of possession): the
   * strict parser reads it, then the signature must verify under it. */
  if ((rc = lic_rif_parse(env.body, env.body_len, r)) != LIC_OK)
    goto out;
  if ((rc = lic_envelope_verify_with(&env, r->pubkey)) != LIC_OK) {
    lic_rif_clear(r);
    goto out;
  }
  SHA256(env.body, env.body_len, body_sha256);
out:
  free(bytes);
  return rc;
}
