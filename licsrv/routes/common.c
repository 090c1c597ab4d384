/* routes/common.c - what the routes share: admin bearer auth, JSON replies, the
 * trust store of DATA/trusted, and durable writes answered by the writer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "lic/b64.h"
#include "lic/mp.h"
#include "util/hash.h"
#include "util/log.h"
#include "core/tokens.h"
#include "routes/common.h"

bool route_type_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

app_worker *route_public_begin(srv_req *r, bool *msgpack_in) {
  app_worker *w = srv_req_worker_user(r);
  char why[200];
  /* The error detail is per thread: a call that fails without setting one
   * would otherwise answer with an earlier request's (lic_errfull). */
  lic_errdetail_clear();
  if (w == NULL) {
    srv_reply_error(r, 503, "unavailable", "server is starting or out of memory");
    return NULL;
  }
  if (!app_machine_ok(w->a, (int64_t)time(NULL), why, sizeof why)) {
    srv_counter_add(w->a->machine_mismatch, 1);
    srv_reply_error(r, 503, "machine_mismatch", why);
    return NULL;
  }
  const char *ct = srv_req_content_type(r);
  if (route_type_is(ct, "application/msgpack") || route_type_is(ct, "application/x-msgpack"))
    *msgpack_in = true;
  else if (route_type_is(ct, "application/json"))
    *msgpack_in = false;
  else {
    srv_reply_error(r, 415, "unsupported_media_type", "send application/msgpack or application/json");
    return NULL;
  }
  return w;
}

static bool is_pem(const char *name) {
  size_t n = strlen(name);
  return n > 4 && strcmp(name + n - 4, ".pem") == 0;
}

/* A fingerprint of DATA/trusted (FNV-1a over what says a file changed: name,
 * inode, size, mtime): 0 when the directory is missing. */
static uint64_t trust_dir_sig(const char *dir) {
  char path[SRV_MAX_PATHNAME + 300];
  struct dirent *de;
  struct stat st;
  uint64_t h = SRV_FNV64_BASIS;
  DIR *d = opendir(dir);
  if (d == NULL)
    return 0;
  while ((de = readdir(d)) != NULL) {
    if (!is_pem(de->d_name))
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    memset(&st, 0, sizeof st);
    (void)stat(path, &st);
    int64_t f[4] = {(int64_t)st.st_ino, (int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec,
                    (int64_t)st.st_mtim.tv_nsec};
    h = srv_fnv1a64(h, de->d_name, strlen(de->d_name) + 1);
    h = srv_fnv1a64(h, f, sizeof f);
  }
  closedir(d);
  return h != 0 ? h : 1;
}

static void trust_load(const char *dir, lic_trust *t) {
  char path[SRV_MAX_PATHNAME + 300];
  struct dirent *de;
  if (lic_trust_builtin(t) != LIC_OK)
    lic_trust_init(t);
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  while ((de = readdir(d)) != NULL) {
    if (is_pem(de->d_name)) {
      snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
      if (lic_trust_add_file(t, path) != LIC_OK)
      {
        char qp[sizeof path + 100], q[900];
        srv_log(SRV_LOG_WARN, "trusted_key_unreadable", "file=%s error=%s", SRV_LOG_Q(path, qp),
                SRV_LOG_Q(lic_errfull(LIC_KEY), q));
      }
    }
  }
  closedir(d);
}

const lic_trust *route_trust(app_worker *w) {
  char dir[SRV_MAX_PATHNAME + 16];
  snprintf(dir, sizeof dir, "%s/%s", srv_server_config(w->a->srv)->data, ROUTE_TRUST_DIR);
  uint64_t sig = trust_dir_sig(dir);
  if (!w->trust_loaded || sig != w->trust_sig) {
    trust_load(dir, &w->trust);
    w->trust_sig = sig;
    w->trust_loaded = true;
  }
  return &w->trust;
}

const char *route_trust_error(int rc, char *buf, size_t cap) {
  if (rc != LIC_UNTRUSTED)
    return lic_errfull(rc);
  snprintf(buf, cap, "%s: on the license server, run 'licsrv trust add VENDOR.pub.pem' (the "
           "admin API trusts the built-in keys and DATA/" ROUTE_TRUST_DIR "/)", lic_errfull(rc));
  return buf;
}

bool route_submit(srv_req *r, srv_deferred **slot, store_apply_fn apply, store_done_fn done,
                  void *op) {
  if ((*slot = srv_req_defer(r)) == NULL) {
    srv_reply_error(r, 503, "unavailable", "out of memory");
    return false;
  }
  app *a = srv_server_user(srv_worker_server(srv_req_worker(r)));
  if (store_submit(a->st, apply, done, op) != LIC_OK)
    done(op, LIC_IO, "the store is closing");
  return true;
}

/* ---- admin requests (common.h): auth and reads off the loop ---------------- */

void route_call_json(route_call *c, int status, json_t *doc) {
  if (c->status != 0) {
    json_decref(doc);
    return;
  }
  /* Admin JSON: every Unix-seconds field gets its RFC 3339 twin (SPEC §4.1). */
  cli_json_time_twins(doc);
  c->text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(doc);
  if (c->text == NULL)
    route_call_error(c, 503, "unavailable", "out of memory");
  else
    c->status = status;
}

void route_call_error(route_call *c, int status, const char *code, const char *message) {
  if (c->status != 0)
    return;
  c->status = status;
  snprintf(c->code, sizeof c->code, "%s", code);
  c->message = strdup(message != NULL ? message : "");
}

void route_call_store_error(route_call *c, int rc) {
  route_call_error(c, rc == LIC_NOTFOUND ? 404 : rc == LIC_UNAVAILABLE ? 503 : 500,
                   rc == LIC_NOTFOUND      ? "not_found"
                   : rc == LIC_UNAVAILABLE ? "store_unavailable"
                                           : "store_error",
                   lic_errfull(rc));
}

void route_call_write(route_call *c, srv_deferred **slot, char *token, store_apply_fn apply,
                      store_done_fn done, void *op, void (*op_free)(void *)) {
  if (c->wop != NULL && c->wfree != NULL)
    c->wfree(c->wop); /* one write per request: a second one replaces it */
  c->wop = op;
  c->wslot = slot;
  c->wtoken = token;
  c->wapply = apply;
  c->wdone = done;
  c->wfree = op_free;
}

static void call_clear(route_call *c) {
  c->status = 0;
  free(c->text);
  c->text = NULL;
  free(c->message);
  c->message = NULL;
}

static void call_free(route_call *c) {
  if (c->wop != NULL && c->wfree != NULL)
    c->wfree(c->wop);
  if (c->arg != NULL)
    (c->arg_free != NULL ? c->arg_free : free)(c->arg);
  free(c->text);
  free(c->message);
  OPENSSL_cleanse(c->hash, sizeof c->hash);
  free(c);
}

/* On a started reader where waiting is allowed: the token, then run. */
static int call_read(store_reader *rd, void *arg) {
  route_call *c = arg;
  int rc = store_token_lookup(rd, c->hash, &c->tok);
  if (rc == LIC_NOTFOUND) {
    call_clear(c); /* an answer prep set is not for an unknown caller */
    route_call_error(c, 401, "unauthorized", "unknown or revoked token");
    return LIC_OK;
  }
  if (rc != LIC_OK)
    return rc;
  if (c->status == 0 && c->run != NULL)
    c->run(c, rd);
  return LIC_OK;
}

/* Answer, or hand the answer to the write (any thread). */
static void call_done(void *arg, int rc, const char *detail) {
  route_call *c = arg;
  if (rc != LIC_OK) {
    call_clear(c);
    route_call_error(c, rc == LIC_UNAVAILABLE ? 503 : 500,
                     rc == LIC_UNAVAILABLE ? "store_unavailable" : "store_error",
                     detail != NULL && *detail ? detail : lic_strerror(rc));
  }
  if (c->status == 0 && c->wop != NULL) {
    void *op = c->wop;
    store_done_fn done = c->wdone;
    snprintf(c->wtoken, STORE_MAX_TOKEN_NAME + 1, "%s", c->tok.name);
    *c->wslot = c->d;
    c->d = NULL;
    c->wop = NULL; /* the write's now: done frees it */
    if (store_submit(c->a->st, c->wapply, done, op) != LIC_OK)
      done(op, LIC_IO, "the store is closing");
  } else if (c->status == 0) {
    srv_reply_deferred_error(c->d, 500, "store_error", "the request set no answer");
  } else if (c->text != NULL) {
    srv_reply_deferred(c->d, c->status, "application/json", c->text, strlen(c->text));
  } else {
    srv_reply_deferred_error(c->d, c->status, c->code,
                             c->message != NULL ? c->message : "out of memory");
  }
  call_free(c);
}

void route_admin_call(srv_req *r, route_prep_fn prep, route_run_fn run) {
  app_worker *w = srv_req_worker_user(r);
  const char *h = srv_req_authorization(r);
  route_call *c;
  lic_errdetail_clear(); /* as in route_public_begin */
  if (w == NULL) {
    srv_reply_error(r, 503, "unavailable", "server is starting or out of memory");
    return;
  }
  /* No token at all needs no store: answered here, on the loop. */
  if (strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
    srv_reply_error(r, 401, "unauthorized", "send Authorization: Bearer TOKEN (licsrv token add NAME)");
    return;
  }
  if ((c = calloc(1, sizeof *c)) == NULL) {
    srv_reply_error(r, 503, "unavailable", "out of memory");
    return;
  }
  c->a = w->a;
  c->run = run;
  licsrv_token_hash(h + 7, strlen(h + 7), c->hash);
  if (prep != NULL)
    prep(c, r, w);
  if ((c->d = srv_req_defer(r)) == NULL) {
    call_free(c);
    srv_reply_error(r, 503, "unavailable", "out of memory");
    return;
  }
  int rc = store_read_submit(c->a->st, w->rd, call_read, call_done, c);
  if (rc != LIC_OK) /* done was not called: answer as it would have */
    call_done(c, rc == LIC_NOMEM ? LIC_NOMEM : LIC_UNAVAILABLE, lic_errdetail());
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decode [s, s+n) into out (cap bytes with the NUL); false on a bad
 * escape, an embedded NUL or no room. */
static bool unescape(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      int hi, lo;
      if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
        return false;
      c = hi * 16 + lo;
      i += 2;
    } else if (c == '+') {
      c = ' ';
    }
    if (c == 0 || o + 1 >= cap)
      return false;
    out[o++] = (char)c;
  }
  out[o] = '\0';
  return true;
}

bool route_page_args(srv_req *r, route_call *c, route_page *p) {
  const char *q = srv_req_query(r);
  p->limit = ROUTE_PAGE_DEFAULT;
  p->has_after = false;
  p->after[0] = '\0';
  while (*q != '\0') {
    const char *amp = strchr(q, '&'), *end = amp != NULL ? amp : q + strlen(q);
    const char *eq = memchr(q, '=', (size_t)(end - q));
    size_t kl = eq != NULL ? (size_t)(eq - q) : (size_t)(end - q);
    const char *v = eq != NULL ? eq + 1 : end;
    size_t vl = (size_t)(end - v);
    char num[16];
    if (kl == 5 && memcmp(q, "limit", 5) == 0) {
      char *e = NULL;
      unsigned long long n = 0;
      if (vl == 0 || vl >= sizeof num)
        goto bad;
      memcpy(num, v, vl);
      num[vl] = '\0';
      if (num[0] < '0' || num[0] > '9')
        goto bad;
      n = strtoull(num, &e, 10);
      if (*e != '\0' || n < 1 || n > ROUTE_PAGE_MAX)
        goto bad;
      p->limit = (size_t)n;
    } else if (kl == 5 && memcmp(q, "after", 5) == 0) {
      if (!unescape(v, vl, p->after, sizeof p->after))
        goto bad;
      p->has_after = true;
    } else if (kl > 0) {
      goto bad;
    }
    q = amp != NULL ? amp + 1 : end;
  }
  return true;
bad:
  route_call_error(c, 400, "bad_request",
                   "query: limit=1..10000 and after=CURSOR (the previous page's next) only");
  return false;
}

int route_signed_body(bool msgpack, const char *key, const uint8_t *rec, size_t rlen,
                      const uint8_t *lic, size_t llen, char **out, size_t *outlen) {
  *out = NULL;
  *outlen = 0;
  if (msgpack) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int bad = msgpack_pack_map(&pk, 2);
    bad |= lic_mp_pack_cstr(&pk, key) | lic_mp_pack_bin(&pk, rec, rlen);
    bad |= lic_mp_pack_cstr(&pk, "chain") | msgpack_pack_array(&pk, 1);
    bad |= lic_mp_pack_bin(&pk, lic, llen);
    if (bad) {
      msgpack_sbuffer_destroy(&sb);
      return LIC_NOMEM;
    }
    *out = sb.data; /* transferred */
    *outlen = sb.size;
    return LIC_OK;
  }
  char *r64 = NULL, *l64 = NULL;
  size_t n;
  json_t *doc = NULL;
  int rc = LIC_NOMEM;
  if (lic_b64_encode(rec, rlen, LIC_B64_URL, &r64, &n) == LIC_OK &&
      lic_b64_encode(lic, llen, LIC_B64_URL, &l64, &n) == LIC_OK &&
      (doc = json_pack("{s:s, s:[s]}", key, r64, "chain", l64)) != NULL &&
      (*out = json_dumps(doc, JSON_COMPACT)) != NULL) {
    *outlen = strlen(*out);
    rc = LIC_OK;
  }
  json_decref(doc);
  free(r64);
  free(l64);
  return rc;
}
