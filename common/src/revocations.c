/* revocations.c - the signed revocation list (SPEC §3.8): body build/parse,
 * lookups, and the newest copy kept in a state directory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "lic/fileio.h"
#include "lic/revocations.h"

void lic_revocations_clear(lic_revocations *r) {
  if (r == NULL)
    return;
  free(r->licenses);
  free(r->accounts);
  free(r->activations);
  memset(r, 0, sizeof *r);
}

size_t lic_revocations_count(const lic_revocations *r) {
  return r->nlicenses + r->naccounts + r->nactivations;
}

int lic_revocations_pack(const lic_revocations *r, uint8_t **body, size_t *len) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  int bad = 0;

  *body = NULL;
  *len = 0;
  if (lic_revocations_count(r) > LIC_REVOKE_MAX_ENTRIES)
    return lic__fail(LIC_LIMIT, "%zu revoked entries (at most %d in one list)",
                     lic_revocations_count(r), LIC_REVOKE_MAX_ENTRIES);
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  bad |= msgpack_pack_map(&pk, 6);
  bad |= lic_mp_pack_cstr(&pk, "typ") | lic_mp_pack_cstr(&pk, LIC_REVOCATIONS_TYP);
  bad |= lic_mp_pack_cstr(&pk, "seq") | msgpack_pack_int64(&pk, r->seq);
  bad |= lic_mp_pack_cstr(&pk, "issued") | msgpack_pack_int64(&pk, r->issued);
  bad |= lic_mp_pack_cstr(&pk, "licenses") | msgpack_pack_array(&pk, r->nlicenses);
  for (size_t i = 0; i < r->nlicenses; i++)
    bad |= lic_mp_pack_bin(&pk, r->licenses + i * LIC_ID_LEN, LIC_ID_LEN);
  bad |= lic_mp_pack_cstr(&pk, "accounts") | msgpack_pack_array(&pk, r->naccounts);
  for (size_t i = 0; i < r->naccounts; i++)
    bad |= lic_mp_pack_bin(&pk, r->accounts + i * LIC_ID_LEN, LIC_ID_LEN);
  bad |= lic_mp_pack_cstr(&pk, "activations") | msgpack_pack_array(&pk, r->nactivations);
  for (size_t i = 0; i < r->nactivations; i++)
    bad |= msgpack_pack_array(&pk, 2) |
           msgpack_pack_int64(&pk, r->activations[i].product) |
           msgpack_pack_int64(&pk, r->activations[i].serial);
  if (bad) {
    msgpack_sbuffer_destroy(&sb);
    return LIC_NOMEM;
  }
  *body = (uint8_t *)sb.data;
  *len = sb.size;
  return LIC_OK;
}

/* activations: an array of [product, serial] pairs. */
static int get_activations(const lic_mp_obj *o, size_t maxn, lic_revocations *r) {
  lic_mp v;
  uint32_t n;
  int rc;
  const lic_mp_kv *kv = NULL;

  for (size_t i = 0; i < o->n; i++)
    if (o->e[i].klen == 11 && memcmp(o->e[i].k, "activations", 11) == 0)
      kv = &o->e[i];
  if (kv == NULL)
    return lic__fail(LIC_NOTFOUND, "missing key 'activations'");
  v = kv->v;
  if ((rc = lic_mp_array(&v, &n)) != LIC_OK)
    return lic__fail(rc, "key 'activations' is not a list");
  if (n > maxn)
    return lic__fail(LIC_LIMIT, "key 'activations': %u entries (at most %zu)", n, maxn);
  if (n == 0)
    return LIC_OK;
  r->activations = calloc(n, sizeof *r->activations);
  if (r->activations == NULL)
    return LIC_NOMEM;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t two;
    int64_t product, serial;
    if ((rc = lic_mp_array(&v, &two)) != LIC_OK || two != 2)
      return lic__fail(rc != LIC_OK ? rc : LIC_FORMAT,
                       "key 'activations': entry %u is not a [product, serial] pair", i);
    if ((rc = lic_mp_int(&v, &product)) != LIC_OK || (rc = lic_mp_int(&v, &serial)) != LIC_OK)
      return lic__fail(rc == LIC_LIMIT ? LIC_LIMIT : LIC_FORMAT,
                       "key 'activations': entry %u holds a non-integer", i);
    if (product < 0 || product > 255 || serial < 0 || serial > (int64_t)UINT32_MAX)
      return lic__fail(LIC_LIMIT, "key 'activations': entry %u is out of range", i);
    r->activations[i].product = (uint8_t)product;
    r->activations[i].serial = (uint32_t)serial;
  }
  r->nactivations = n;
  return LIC_OK;
}

int lic_revocations_parse(const uint8_t *body, size_t len, lic_revocations *r) {
  lic_mp_obj o;
  char *s = NULL;
  int rc;

  memset(r, 0, sizeof *r);
  if ((rc = lic_mp_obj_parse(body, len, &o)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "typ", 1, LIC_MAX_TYP, &s)) != LIC_OK)
    goto out;
  if (strcmp(s, LIC_REVOCATIONS_TYP) != 0) {
    rc = lic__fail(LIC_TYPE, "body typ is '%s', not revocations", s);
    goto out;
  }
  if ((rc = lic_mp_get_int(&o, "seq", 1, INT64_MAX, &r->seq)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "issued", 1, INT64_MAX, &r->issued)) != LIC_OK ||
      (rc = lic_mp_get_binlist(&o, "licenses", LIC_REVOKE_MAX_ENTRIES, LIC_ID_LEN, &r->licenses,
                               &r->nlicenses)) != LIC_OK ||
      (rc = lic_mp_get_binlist(&o, "accounts", LIC_REVOKE_MAX_ENTRIES - r->nlicenses,
                               LIC_ID_LEN, &r->accounts, &r->naccounts)) != LIC_OK ||
      (rc = get_activations(&o, LIC_REVOKE_MAX_ENTRIES - r->nlicenses - r->naccounts, r)) !=
          LIC_OK)
    goto out;
out:
  free(s);
  if (rc != LIC_OK)
    lic_revocations_clear(r);
  return rc;
}

int lic_revocations_open(const uint8_t *buf, size_t len, const lic_trust *t, lic_revocations *r) {
  lic_envelope env;
  int rc;
  memset(r, 0, sizeof *r);
  if ((rc = lic__envelope_open(buf, len, LIC_REVOCATIONS_TYP, "a revocation list", t, &env)) !=
      LIC_OK)
    return rc;
  return lic_revocations_parse(env.body, env.body_len, r);
}

static int open_revocations(const uint8_t *buf, size_t len, const lic_trust *t, void *out) {
  return lic_revocations_open(buf, len, t, out);
}

int lic_revocations_load(const char *path, const lic_trust *t, lic_revocations *r,
                         uint8_t **env_out, size_t *env_len) {
  memset(r, 0, sizeof *r);
  return lic__signed_load(path, t, open_revocations, r, env_out, env_len);
}

static bool has_id(const uint8_t *ids, size_t n, const uint8_t id[LIC_ID_LEN]) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(ids + i * LIC_ID_LEN, id, LIC_ID_LEN) == 0)
      return true;
  return false;
}

bool lic_revocations_has_license(const lic_revocations *r, const uint8_t id[LIC_ID_LEN]) {
  return has_id(r->licenses, r->nlicenses, id);
}

bool lic_revocations_has_account(const lic_revocations *r, const uint8_t id[LIC_ID_LEN]) {
  return has_id(r->accounts, r->naccounts, id);
}

bool lic_revocations_has_activation(const lic_revocations *r, uint8_t product, uint32_t serial) {
  for (size_t i = 0; i < r->nactivations; i++)
    if (r->activations[i].product == product && r->activations[i].serial == serial)
      return true;
  return false;
}

static int room(const lic_revocations *r) {
  if (lic_revocations_count(r) >= LIC_REVOKE_MAX_ENTRIES)
    return lic__fail(LIC_LIMIT, "the list is full (%d entries)", LIC_REVOKE_MAX_ENTRIES);
  return LIC_OK;
}

static int add_id(lic_revocations *r, uint8_t **ids, size_t *n, const uint8_t id[LIC_ID_LEN]) {
  int rc;
  if (has_id(*ids, *n, id))
    return LIC_OK;
  if ((rc = room(r)) != LIC_OK)
    return rc;
  uint8_t *nv = realloc(*ids, (*n + 1) * LIC_ID_LEN);
  if (nv == NULL)
    return LIC_NOMEM;
  memcpy(nv + *n * LIC_ID_LEN, id, LIC_ID_LEN);
  *ids = nv;
  (*n)++;
  return LIC_OK;
}

int lic_revocations_add_license(lic_revocations *r, const uint8_t id[LIC_ID_LEN]) {
  return add_id(r, &r->licenses, &r->nlicenses, id);
}

int lic_revocations_add_account(lic_revocations *r, const uint8_t id[LIC_ID_LEN]) {
  return add_id(r, &r->accounts, &r->naccounts, id);
}

int lic_revocations_add_activation(lic_revocations *r, uint8_t product, uint32_t serial) {
  int rc;
  if (lic_revocations_has_activation(r, product, serial))
    return LIC_OK;
  if ((rc = room(r)) != LIC_OK)
    return rc;
  lic_revoked_activation *nv = realloc(r->activations, (r->nactivations + 1) * sizeof *nv);
  if (nv == NULL)
    return LIC_NOMEM;
  nv[r->nactivations].product = product;
  nv[r->nactivations].serial = serial;
  r->activations = nv;
  r->nactivations++;
  return LIC_OK;
}

/* The kept list: LIC_NOTFOUND when there is none; *body is its body (a copy). */
static int load_kept(const char *path, const lic_trust *t, lic_revocations *r, uint8_t **body,
                     size_t *blen) {
  uint8_t *buf = NULL;
  size_t len = 0;
  lic_envelope env;
  int rc;

  *body = NULL;
  *blen = 0;
  if ((rc = lic_file_read_regular(path, LIC_MAX_FILE, &buf, &len)) != LIC_OK)
    return rc == LIC_NOTFOUND ? rc : lic__fail(rc, "%s: %s", path, lic_errdetail());
  if ((rc = lic_envelope_decode(buf, len, &env)) != LIC_OK ||
      (rc = lic_revocations_open(buf, len, t, r)) != LIC_OK) {
    char d[320];
    snprintf(d, sizeof d, "%s", lic_errdetail());
    free(buf);
    return lic__fail(rc, "%s: the kept revocation list does not open (%s); remove it to start over",
                     path, d);
  }
  *body = malloc(env.body_len);
  if (*body == NULL) {
    free(buf);
    lic_revocations_clear(r);
    return LIC_NOMEM;
  }
  memcpy(*body, env.body, env.body_len);
  *blen = env.body_len;
  free(buf);
  return LIC_OK;
}

/* A blocking exclusive lock beside the kept file: two checkers remembering at
 * once must not let the older list win the rename. */
static int lock_dir(const char *state_dir, int *fd) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s.lock", state_dir, LIC_REVOCATIONS_FILE) >=
      (int)sizeof path)
    return lic__fail(LIC_LIMIT, "state directory path too long");
  *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (*fd < 0)
    return lic__fail(LIC_IO, "%s: cannot open the lock file: %s", path, strerror(errno));
  if (lic__lock_fd(*fd, true) != 0) {
    int e = errno;
    close(*fd);
    *fd = -1;
    return lic__fail(LIC_IO, "%s: cannot lock: %s", path, strerror(e));
  }
  return LIC_OK;
}

int lic_revocations_remember(const char *state_dir, const uint8_t *env, size_t len,
                             const lic_trust *t, lic_revocations *out, bool *replaced) {
  char path[PATH_MAX];
  lic_revocations given, kept;
  lic_envelope genv;
  uint8_t *kbody = NULL;
  size_t kblen = 0;
  int rc, fd = -1;
  bool have_kept = false;

  memset(out, 0, sizeof *out);
  memset(&given, 0, sizeof given);
  memset(&kept, 0, sizeof kept);
  if (replaced != NULL)
    *replaced = false;
  if (snprintf(path, sizeof path, "%s/%s", state_dir, LIC_REVOCATIONS_FILE) >= (int)sizeof path)
    return lic__fail(LIC_LIMIT, "state directory path too long");
  if (env != NULL) {
    if ((rc = lic_revocations_open(env, len, t, &given)) != LIC_OK)
      return rc;
    /* opened above, so this decode succeeds: it locates the body bytes */
    if ((rc = lic_envelope_decode(env, len, &genv)) != LIC_OK)
      goto out;
    if ((rc = lic_mkdirs(state_dir, 0700)) != LIC_OK || (rc = lock_dir(state_dir, &fd)) != LIC_OK)
      goto out;
  }
  rc = load_kept(path, t, &kept, &kbody, &kblen);
  if (rc == LIC_OK)
    have_kept = true;
  else if (rc != LIC_NOTFOUND)
    goto out;
  if (env == NULL) {
    if (!have_kept)
      goto out; /* LIC_NOTFOUND */
    *out = kept;
    memset(&kept, 0, sizeof kept);
    rc = LIC_OK;
    goto out;
  }
  if (have_kept && given.seq < kept.seq) {
    *out = kept;
    memset(&kept, 0, sizeof kept);
    rc = LIC_OK;
    goto out;
  }
  if (have_kept && given.seq == kept.seq) {
    if (kblen == genv.body_len && memcmp(kbody, genv.body, kblen) == 0) {
      *out = kept;
      memset(&kept, 0, sizeof kept);
      rc = LIC_OK;
    } else {
      rc = lic__fail(LIC_EXISTS,
                     "a different revocation list with seq %lld is already kept in %s: "
                     "refused",
                     (long long)kept.seq, state_dir);
    }
    goto out;
  }
  if ((rc = lic_file_write(path, env, len, 0600, 0)) != LIC_OK)
    goto out;
  if (replaced != NULL)
    *replaced = true;
  *out = given;
  memset(&given, 0, sizeof given);
  rc = LIC_OK;
out:
  if (fd >= 0)
    close(fd); /* releases the lock */
  free(kbody);
  lic_revocations_clear(&given);
  lic_revocations_clear(&kept);
  return rc;
}
