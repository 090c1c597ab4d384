/* p11key.c - vendor root keys inside a PKCS#11 token through the PKCS#11 C
 * API (pkcs11.h from p11-kit, the module dlopen'ed only when a pkcs11: URI
 * is given, so nothing else links it). Why not OpenSSL's engine_pkcs11:
 * docs/keys.md. */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "lic/err.h"
#include "lic/fileio.h"
#include "lic/keys.h"
#include "p11key.h"
#include "p11uri.h"

/* DER of the Ed25519 curve's OID 1.3.101.112, CKA_EC_PARAMS of an Ed25519 key. */
static const CK_BYTE ED25519_PARAMS[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
/* The same curve by name (PKCS#11 3.0 allows a PrintableString). */
static const CK_BYTE ED25519_NAME[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's',
                                       '2', '5', '5', '1', '9'};

/* The loaded module, shared by every session (one per signing thread). */
typedef struct {
  void *dl;
  CK_FUNCTION_LIST_PTR f;
  bool finalize; /* we initialised it */
  atomic_int refs;
  CK_SLOT_ID slot;
  char token[33];
  p11_uri uri; /* finds the key again in a new session */
} p11_module;

typedef struct {
  p11_module *m;
  CK_SESSION_HANDLE s;
  CK_OBJECT_HANDLE key;
} p11_ctx;

static const char *rv_name(CK_RV rv) {
  static const struct {
    CK_RV rv;
    const char *name;
  } names[] = {
#define N(x) {x, #x}
      N(CKR_OK), N(CKR_HOST_MEMORY), N(CKR_SLOT_ID_INVALID), N(CKR_GENERAL_ERROR),
      N(CKR_FUNCTION_FAILED), N(CKR_ARGUMENTS_BAD), N(CKR_ATTRIBUTE_READ_ONLY),
      N(CKR_ATTRIBUTE_SENSITIVE), N(CKR_ATTRIBUTE_TYPE_INVALID),
      N(CKR_ATTRIBUTE_VALUE_INVALID), N(CKR_DEVICE_ERROR), N(CKR_DEVICE_MEMORY),
      N(CKR_DEVICE_REMOVED), N(CKR_KEY_HANDLE_INVALID), N(CKR_KEY_TYPE_INCONSISTENT),
      N(CKR_KEY_FUNCTION_NOT_PERMITTED), N(CKR_MECHANISM_INVALID),
      N(CKR_MECHANISM_PARAM_INVALID), N(CKR_OPERATION_ACTIVE), N(CKR_PIN_INCORRECT),
      N(CKR_PIN_INVALID), N(CKR_PIN_LEN_RANGE), N(CKR_PIN_EXPIRED), N(CKR_PIN_LOCKED),
      N(CKR_SESSION_HANDLE_INVALID), N(CKR_SESSION_COUNT), N(CKR_TEMPLATE_INCOMPLETE),
      N(CKR_TEMPLATE_INCONSISTENT), N(CKR_TOKEN_NOT_PRESENT), N(CKR_TOKEN_NOT_RECOGNIZED),
      N(CKR_TOKEN_WRITE_PROTECTED), N(CKR_USER_NOT_LOGGED_IN), N(CKR_USER_PIN_NOT_INITIALIZED),
      N(CKR_USER_TYPE_INVALID), N(CKR_BUFFER_TOO_SMALL),
      N(CKR_CRYPTOKI_NOT_INITIALIZED), N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
      N(CKR_FUNCTION_NOT_SUPPORTED), N(CKR_DATA_LEN_RANGE),
#undef N
  };
  static _Thread_local char hex[32];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].rv == rv)
      return names[i].name;
  snprintf(hex, sizeof hex, "CKR 0x%lx", (unsigned long)rv);
  return hex;
}

/* A fixed-width, space-padded CK_TOKEN_INFO field as a C string. */
static void field(const CK_UTF8CHAR *f, size_t n, char *out) {
  while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == '\0'))
    n--;
  memcpy(out, f, n);
  out[n] = '\0';
}

/* A label as shown in error lines on a terminal: control bytes read '?'. */
static void printable(char *s) {
  for (; *s != '\0'; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      *s = '?';
}

static void module_unref(p11_module *m) {
  if (m == NULL || atomic_fetch_sub(&m->refs, 1) != 1)
    return;
  if (m->finalize)
    m->f->C_Finalize(NULL);
  if (m->dl != NULL)
    dlclose(m->dl);
  free(m);
}

static void ctx_free(void *p) {
  p11_ctx *c = p;
  if (c == NULL)
    return;
  if (c->s != CK_INVALID_HANDLE)
    c->m->f->C_CloseSession(c->s);
  module_unref(c->m);
  free(c);
}

/* The one object of class cls matching the URI's object=/id= (and, for the
 * public half of a found private key, its CKA_ID or label). */
static int find_one(p11_module *m, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const void *id,
                    size_t idlen, const char *label, CK_OBJECT_HANDLE *out, size_t *count) {
  CK_KEY_TYPE kt = CKK_EC_EDWARDS;
  CK_ATTRIBUTE t[4] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt}};
  CK_ULONG n = 2, found = 0;
  CK_OBJECT_HANDLE h[2];
  CK_RV rv;
  if (id != NULL)
    t[n++] = (CK_ATTRIBUTE){CKA_ID, (void *)id, idlen};
  if (label != NULL)
    t[n++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
  *count = 0;
  if ((rv = m->f->C_FindObjectsInit(s, t, n)) != CKR_OK)
    return lic_fail(LIC_KEY, "--key: token '%s': searching for the key: %s", m->token,
                    rv_name(rv));
  rv = m->f->C_FindObjects(s, h, 2, &found);
  m->f->C_FindObjectsFinal(s);
  if (rv != CKR_OK)
    return lic_fail(LIC_KEY, "--key: token '%s': searching for the key: %s", m->token,
                    rv_name(rv));
  *count = found;
  if (found == 1)
    *out = h[0];
  return LIC_OK;
}

static const char *uri_object(const p11_uri *u, char *buf, size_t cap) {
  if (u->has_object)
    snprintf(buf, cap, "object=%s", u->object);
  else if (u->has_id)
    snprintf(buf, cap, "id= (%zu bytes)", u->id_len);
  else
    snprintf(buf, cap, "(no object= nor id=)");
  return buf;
}

static int find_private(p11_module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *out) {
  const p11_uri *u = &m->uri;
  char what[300];
  size_t count;
  int rc = find_one(m, s, CKO_PRIVATE_KEY, u->has_id ? u->id : NULL, u->id_len,
                    u->has_object ? u->object : NULL, out, &count);
  if (rc != LIC_OK)
    return rc;
  if (count == 0)
    return lic_fail(LIC_NOTFOUND, "--key: token '%s' holds no Ed25519 private key %s%s",
                    m->token, uri_object(u, what, sizeof what),
                    " (a wrong name, or not logged in: does it need --pin-file?)");
  if (count > 1)
    return lic_fail(LIC_KEY, "--key: token '%s' holds several Ed25519 private keys matching "
                    "%s: name one with object= or id=", m->token,
                    uri_object(u, what, sizeof what));
  return LIC_OK;
}

/* One attribute's value into a malloc'd buffer. */
static int get_attr(p11_module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                    CK_ATTRIBUTE_TYPE type, uint8_t **val, size_t *len) {
  CK_ATTRIBUTE a = {type, NULL, 0};
  CK_RV rv;
  *val = NULL;
  *len = 0;
  if ((rv = m->f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK ||
      a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 4096)
    return lic_fail(LIC_KEY, "--key: token '%s': reading an attribute of the key: %s",
                    m->token, rv_name(rv));
  if ((a.pValue = malloc(a.ulValueLen + 1)) == NULL)
    return LIC_NOMEM;
  if ((rv = m->f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK) {
    free(a.pValue);
    return lic_fail(LIC_KEY, "--key: token '%s': reading an attribute of the key: %s",
                    m->token, rv_name(rv));
  }
  *val = a.pValue;
  *len = a.ulValueLen;
  return LIC_OK;
}

/* The raw 32-byte public key of the pair whose private half is priv: from the
 * public key object of the same CKA_ID (or label). */
static int public_of(p11_module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                     uint8_t pub[LIC_PUBKEY_LEN]) {
  uint8_t *id = NULL, *label = NULL, *point = NULL, *params = NULL;
  size_t idlen = 0, labellen = 0, plen = 0, parlen = 0, count = 0;
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  char lab[P11URI_MAX_STR];
  int rc;

  if ((rc = get_attr(m, s, priv, CKA_ID, &id, &idlen)) != LIC_OK ||
      (rc = get_attr(m, s, priv, CKA_LABEL, &label, &labellen)) != LIC_OK)
    goto out;
  snprintf(lab, sizeof lab, "%.*s", (int)labellen, label != NULL ? (char *)label : "");
  char shown[P11URI_MAX_STR];
  memcpy(shown, lab, sizeof shown);
  printable(shown);
  if (idlen > 0)
    rc = find_one(m, s, CKO_PUBLIC_KEY, id, idlen, NULL, &h, &count);
  if (rc == LIC_OK && count != 1 && labellen > 0)
    rc = find_one(m, s, CKO_PUBLIC_KEY, NULL, 0, lab, &h, &count);
  if (rc != LIC_OK)
    goto out;
  if (count != 1) {
    rc = lic_fail(LIC_KEY, "--key: token '%s': the private key '%s' has %s public key object "
                  "beside it (same id or label): the kid needs it", m->token, shown,
                  count == 0 ? "no" : "more than one");
    goto out;
  }
  if ((rc = get_attr(m, s, h, CKA_EC_PARAMS, &params, &parlen)) != LIC_OK ||
      (rc = get_attr(m, s, h, CKA_EC_POINT, &point, &plen)) != LIC_OK)
    goto out;
  if (!((parlen == sizeof ED25519_PARAMS && memcmp(params, ED25519_PARAMS, parlen) == 0) ||
        (parlen == sizeof ED25519_NAME && memcmp(params, ED25519_NAME, parlen) == 0))) {
    rc = lic_fail(LIC_KEY, "--key: token '%s': '%s' is an Edwards key but not Ed25519 "
                  "(Ed448?)", m->token, shown);
    goto out;
  }
  /* CKA_EC_POINT: DER OCTET STRING (04 20 ...) per the standard, or the raw
   * 32 bytes as some tokens give it. */
  if (plen == 2 + LIC_PUBKEY_LEN && point[0] == 0x04 && point[1] == LIC_PUBKEY_LEN)
    memcpy(pub, point + 2, LIC_PUBKEY_LEN);
  else if (plen == LIC_PUBKEY_LEN)
    memcpy(pub, point, LIC_PUBKEY_LEN);
  else
    rc = lic_fail(LIC_KEY, "--key: token '%s': '%s': the public point is not 32 bytes",
                  m->token, shown);
out:
  free(id);
  free(label);
  free(point);
  free(params);
  return rc;
}

static int p11_sign(void *p, const uint8_t *msg, size_t len, uint8_t sig[LIC_SIG_LEN]) {
  p11_ctx *c = p;
  CK_MECHANISM mech = {CKM_EDDSA, NULL, 0};
  CK_BYTE out[LIC_SIG_LEN];
  CK_ULONG outlen = sizeof out;
  CK_RV rv = c->m->f->C_SignInit(c->s, &mech, c->key);
  if (rv == CKR_OK)
    rv = c->m->f->C_Sign(c->s, (CK_BYTE_PTR)msg, len, out, &outlen);
  if (rv != CKR_OK)
    return lic_fail(LIC_CRYPTO, "--key: token '%s' did not sign: %s", c->m->token,
                    rv_name(rv));
  if (outlen != LIC_SIG_LEN)
    return lic_fail(LIC_CRYPTO, "--key: token '%s' gave a %lu-byte signature, not 64",
                    c->m->token, (unsigned long)outlen);
  memcpy(sig, out, LIC_SIG_LEN);
  return LIC_OK;
}

/* A session of its own, for one more signing thread (the login is the
 * application's, shared by its sessions). */
static int p11_open(void *p, void **out) {
  p11_ctx *parent = p, *c;
  CK_RV rv;
  int rc;
  *out = NULL;
  if ((c = calloc(1, sizeof *c)) == NULL)
    return LIC_NOMEM;
  c->m = parent->m;
  atomic_fetch_add(&c->m->refs, 1);
  c->s = CK_INVALID_HANDLE;
  if ((rv = c->m->f->C_OpenSession(c->m->slot, CKF_SERIAL_SESSION, NULL, NULL, &c->s)) !=
      CKR_OK) {
    c->s = CK_INVALID_HANDLE;
    ctx_free(c);
    return lic_fail(LIC_KEY, "--key: token '%s': opening a session: %s", parent->m->token,
                    rv_name(rv));
  }
  if ((rc = find_private(c->m, c->s, &c->key)) != LIC_OK) {
    ctx_free(c);
    return rc;
  }
  *out = c;
  return LIC_OK;
}

/* The PIN: the first line of a file that only its owner reads. */
static int read_pin(const char *pinfile, char **pin) {
  int rc;
  *pin = NULL;
  if (pinfile == NULL)
    return LIC_OK;
  if ((rc = lic_file_check_private(pinfile)) != LIC_OK ||
      (rc = lic_passphrase_read(pinfile, pin)) != LIC_OK) {
    char d[400];
    snprintf(d, sizeof d, "%s", lic_errfull(rc));
    return lic_fail(rc, "--pin-file: %s", d);
  }
  return LIC_OK;
}

static const char *module_of(const char *module, const p11_uri *u) {
  const char *env = getenv(P11_MODULE_ENV);
  if (module != NULL)
    return module;
  if (env != NULL && env[0] != '\0')
    return env;
  return u->has_module_path ? u->module_path : NULL;
}

static bool token_matches(const p11_uri *u, CK_SLOT_ID slot, const CK_TOKEN_INFO *ti,
                          char label[33]) {
  char man[33], serial[17], model[17];
  field(ti->label, sizeof ti->label, label);
  field(ti->manufacturerID, sizeof ti->manufacturerID, man);
  field(ti->serialNumber, sizeof ti->serialNumber, serial);
  field(ti->model, sizeof ti->model, model);
  return (!u->has_token || strcmp(u->token, label) == 0) &&
         (!u->has_manufacturer || strcmp(u->manufacturer, man) == 0) &&
         (!u->has_serial || strcmp(u->serial, serial) == 0) &&
         (!u->has_model || strcmp(u->model, model) == 0) &&
         (!u->has_slot_id || u->slot_id == slot);
}

/* The token lists mech among its mechanisms, for flag (CKF_SIGN ...). The
 * list, not C_GetMechanismInfo alone: a module may answer the latter for a
 * mechanism a token was configured without. */
static bool has_mechanism(p11_module *m, CK_MECHANISM_TYPE mech, CK_FLAGS flag) {
  CK_MECHANISM_TYPE *list = NULL;
  CK_MECHANISM_INFO mi;
  CK_ULONG n = 0;
  bool found = false;
  if (m->f->C_GetMechanismList(m->slot, NULL, &n) != CKR_OK || n == 0 || n > 4096 ||
      (list = calloc(n, sizeof *list)) == NULL)
    return false;
  if (m->f->C_GetMechanismList(m->slot, list, &n) == CKR_OK)
    for (CK_ULONG i = 0; i < n && !found; i++)
      found = list[i] == mech;
  free(list);
  return found && m->f->C_GetMechanismInfo(m->slot, mech, &mi) == CKR_OK && (mi.flags & flag);
}

/* Load the module, find the one token, check it does CKM_EDDSA, open a
 * session (read-write for keygen) and log in. *ctx is the first session. */
static int open_token(const char *uri, const char *module, const char *pinfile, bool rw,
                      p11_ctx **ctx) {
  p11_module *m = NULL;
  p11_ctx *c = NULL;
  char *pin = NULL, seen[200] = "";
  CK_SLOT_ID slots[64];
  CK_ULONG nslots = 64, matches = 0;
  CK_TOKEN_INFO ti;
  CK_C_GetFunctionList get;
  CK_C_INITIALIZE_ARGS args = {0};
  CK_RV rv;
  int rc;

  *ctx = NULL;
  if ((m = calloc(1, sizeof *m)) == NULL)
    return LIC_NOMEM;
  atomic_init(&m->refs, 1);
  if ((rc = p11_uri_parse(uri, &m->uri)) != LIC_OK) {
    char d[400];
    snprintf(d, sizeof d, "%s", lic_errdetail());
    rc = lic_fail(LIC_INVALID, "--key: %s", d);
    goto fail;
  }
  if (!m->uri.has_object && !m->uri.has_id) {
    rc = lic_fail(LIC_INVALID, "--key: the pkcs11 URI names no key: add object=LABEL (or "
                  "id=)");
    goto fail;
  }
  const char *path = module_of(module, &m->uri);
  if (path == NULL) {
    rc = lic_fail(LIC_INVALID, "--key: a pkcs11: key needs its token's module: give "
                  "--pkcs11-module FILE.so or set " P11_MODULE_ENV);
    goto fail;
  }
  if ((rc = read_pin(pinfile, &pin)) != LIC_OK)
    goto fail;
  if ((m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
    const char *e = dlerror();
    rc = lic_fail(LIC_NOTFOUND, "--pkcs11-module: cannot load %s: %s", path,
                  e != NULL ? e : "unknown reason");
    goto fail;
  }
  *(void **)&get = dlsym(m->dl, "C_GetFunctionList");
  if (get == NULL || get(&m->f) != CKR_OK || m->f == NULL) {
    rc = lic_fail(LIC_INVALID, "--pkcs11-module: %s is not a PKCS#11 module (no "
                  "C_GetFunctionList)", path);
    goto fail;
  }
  args.flags = CKF_OS_LOCKING_OK; /* codes --jobs signs from several threads */
  rv = m->f->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    rc = lic_fail(LIC_KEY, "--pkcs11-module: %s did not start: %s", path, rv_name(rv));
    goto fail;
  }
  m->finalize = rv == CKR_OK;
  if ((rv = m->f->C_GetSlotList(CK_TRUE, slots, &nslots)) != CKR_OK) {
    rc = lic_fail(LIC_KEY, "--pkcs11-module: %s: listing the tokens: %s", path, rv_name(rv));
    goto fail;
  }
  for (CK_ULONG i = 0; i < nslots; i++) {
    char label[33];
    if (m->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
      continue;
    bool match = token_matches(&m->uri, slots[i], &ti, label);
    printable(label);
    size_t l = strlen(seen);
    if ((ti.flags & CKF_TOKEN_INITIALIZED) && l + strlen(label) + 5 < sizeof seen)
      snprintf(seen + l, sizeof seen - l, "%s'%s'", l > 0 ? ", " : "", label);
    if (match && (ti.flags & CKF_TOKEN_INITIALIZED)) {
      if (matches++ == 0) {
        m->slot = slots[i];
        memcpy(m->token, label, sizeof m->token);
      }
    }
  }
  if (matches != 1) {
    rc = lic_fail(matches == 0 ? LIC_NOTFOUND : LIC_KEY,
                  matches == 0 ? "--key: no token matches the URI (tokens of %s: %s)"
                               : "--key: several tokens match the URI (%s: %s): add token=",
                  path, seen[0] != '\0' ? seen : "none");
    goto fail;
  }
  if (m->f->C_GetTokenInfo(m->slot, &ti) != CKR_OK)
    memset(&ti, 0, sizeof ti);
  if (!has_mechanism(m, CKM_EDDSA, CKF_SIGN)) {
    rc = lic_fail(LIC_KEY, "--key: token '%s' cannot sign with CKM_EDDSA (Ed25519)", m->token);
    goto fail;
  }
  if (rw && !has_mechanism(m, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR)) {
    rc = lic_fail(LIC_KEY, "--pkcs11: token '%s' cannot make Ed25519 keys "
                  "(CKM_EC_EDWARDS_KEY_PAIR_GEN)", m->token);
    goto fail;
  }
  if ((c = calloc(1, sizeof *c)) == NULL) {
    rc = LIC_NOMEM;
    goto fail;
  }
  c->m = m;
  m = NULL; /* c holds the reference */
  c->s = CK_INVALID_HANDLE;
  rv = c->m->f->C_OpenSession(c->m->slot, CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0), NULL,
                              NULL, &c->s);
  if (rv != CKR_OK) {
    c->s = CK_INVALID_HANDLE;
    rc = lic_fail(LIC_KEY, "--key: token '%s': opening a session: %s", c->m->token,
                  rv_name(rv));
    goto fail;
  }
  if (pin == NULL && (ti.flags & CKF_LOGIN_REQUIRED) && rw) {
    rc = lic_fail(LIC_PASSPHRASE, "--pin-file: token '%s' needs its user PIN to make a key",
                  c->m->token);
    goto fail;
  }
  if (pin != NULL) {
    rv = c->m->f->C_Login(c->s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
        rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_INVALID) {
      rc = lic_fail(LIC_PASSPHRASE, "--pin-file: token '%s' refused the PIN (%s)%s",
                    c->m->token, rv_name(rv),
                    rv == CKR_PIN_LOCKED ? ": the token is locked, ask its security officer"
                                         : "");
      goto fail;
    }
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
      rc = lic_fail(LIC_KEY, "--pin-file: token '%s': login failed: %s", c->m->token,
                    rv_name(rv));
      goto fail;
    }
  }
  lic_secret_free(pin, pin != NULL ? strlen(pin) : 0);
  *ctx = c;
  return LIC_OK;
fail:
  lic_secret_free(pin, pin != NULL ? strlen(pin) : 0);
  ctx_free(c);
  module_unref(m);
  return rc;
}

static const lic_key_signer P11_SIGNER = {p11_sign, p11_open, ctx_free};

/* The lic_key of the session's key: its public half read, and, for a key
 * found in the token (probe), one signature checked against it: a public
 * object that belongs to another pair would give every signature a wrong
 * kid. A pair keygen just made matches by construction. */
static int make_key(p11_ctx *c, bool probe, lic_key **out) {
  uint8_t pub[LIC_PUBKEY_LEN], sig[LIC_SIG_LEN];
  static const uint8_t msg[] = "licgen: does this token key match its public half?";
  int rc;
  if ((rc = public_of(c->m, c->s, c->key, pub)) != LIC_OK ||
      (probe && (rc = p11_sign(c, msg, sizeof msg, sig)) != LIC_OK)) {
    ctx_free(c);
    return rc;
  }
  if (probe && lic_sig_verify2(pub, msg, sizeof msg, NULL, 0, sig) != LIC_OK) {
    rc = lic_fail(LIC_KEY, "--key: token '%s': the private key does not match the public key "
                  "object beside it", c->m->token);
    ctx_free(c);
    return rc;
  }
  return lic_key_from_signer(pub, &P11_SIGNER, c, out);
}

int p11_key_load(const char *uri, const char *module, const char *pinfile, lic_key **out) {
  p11_ctx *c;
  int rc;
  *out = NULL;
  lic_errdetail_clear(); /* a failure's detail is ours alone */
  if ((rc = open_token(uri, module, pinfile, false, &c)) != LIC_OK)
    return rc;
  if (c->m->uri.has_type && strcmp(c->m->uri.type, "private") != 0) {
    rc = lic_fail(LIC_INVALID, "--key: type=%s: signing needs the private key (type=private "
                  "or no type)", c->m->uri.type);
    ctx_free(c);
    return rc;
  }
  if ((rc = find_private(c->m, c->s, &c->key)) != LIC_OK) {
    ctx_free(c);
    return rc;
  }
  return make_key(c, true, out);
}

int p11_key_generate(const char *uri, const char *module, const char *pinfile, lic_key **out) {
  CK_MECHANISM mech = {CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0};
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, privc = CKO_PRIVATE_KEY;
  CK_KEY_TYPE kt = CKK_EC_EDWARDS;
  CK_OBJECT_HANDLE hpub, hpriv, h;
  p11_ctx *c;
  size_t count;
  CK_RV rv;
  int rc;

  *out = NULL;
  lic_errdetail_clear();
  if ((rc = open_token(uri, module, pinfile, true, &c)) != LIC_OK) {
    char d[400];
    const char *e = lic_errdetail();
    /* keygen names the URI --pkcs11, not --key */
    snprintf(d, sizeof d, "%s", strncmp(e, "--key:", 6) == 0 ? e + 6 : e);
    return lic_fail(rc, "%s%s", strncmp(e, "--key:", 6) == 0 ? "--pkcs11:" : "", d);
  }
  p11_uri *u = &c->m->uri;
  if (!u->has_object) {
    ctx_free(c);
    return lic_fail(LIC_INVALID, "--pkcs11: name the new key with object=LABEL");
  }
  /* Never a second key under the same name: the next --key would be ambiguous. */
  for (int cls = 0; cls < 2; cls++) {
    CK_OBJECT_CLASS oc = cls == 0 ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY;
    count = 0;
    rc = u->has_id ? find_one(c->m, c->s, oc, u->id, u->id_len, NULL, &h, &count) : LIC_OK;
    if (rc == LIC_OK && count == 0)
      rc = find_one(c->m, c->s, oc, NULL, 0, u->object, &h, &count);
    if (rc == LIC_OK && count > 0)
      rc = lic_fail(LIC_EXISTS, "--pkcs11: token '%s' already holds a key object=%s%s: a "
                    "key is never replaced (choose another label)", c->m->token, u->object,
                    u->has_id ? " or that id" : "");
    if (rc != LIC_OK) {
      ctx_free(c);
      return rc;
    }
  }
  CK_ULONG lablen = strlen(u->object);
  CK_ATTRIBUTE pubt[] = {
      {CKA_CLASS, &pubc, sizeof pubc},
      {CKA_KEY_TYPE, &kt, sizeof kt},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &no, sizeof no},
      {CKA_VERIFY, &yes, sizeof yes},
      {CKA_EC_PARAMS, (void *)ED25519_PARAMS, sizeof ED25519_PARAMS},
      {CKA_LABEL, u->object, lablen},
      {CKA_ID, u->id, u->id_len},
  };
  CK_ATTRIBUTE privt[] = {
      {CKA_CLASS, &privc, sizeof privc},
      {CKA_KEY_TYPE, &kt, sizeof kt},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SIGN, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &no, sizeof no},
      {CKA_LABEL, u->object, lablen},
      {CKA_ID, u->id, u->id_len},
  };
  CK_ULONG npub = sizeof pubt / sizeof pubt[0], npriv = sizeof privt / sizeof privt[0];
  if (!u->has_id) { /* no id: the label alone names the pair */
    npub--;
    npriv--;
  }
  rv = c->m->f->C_GenerateKeyPair(c->s, &mech, pubt, npub, privt, npriv, &hpub, &hpriv);
  if (rv != CKR_OK) {
    rc = lic_fail(LIC_KEY, "--pkcs11: token '%s' did not make the key pair: %s%s", c->m->token,
                  rv_name(rv), rv == CKR_USER_NOT_LOGGED_IN ? " (give --pin-file)" : "");
    ctx_free(c);
    return rc;
  }
  c->key = hpriv;
  (void)hpub;
  return make_key(c, false, out);
}
