/* test_verify_client.c - the report server's checks on a verify response, and
 * the HTTP exchange against a scripted fake server on loopback. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lic/envelope.h"
#include "lic/verify_client.h"
#include "testutil.h"

static const int64_t NOW = 1800000000;
static const uint8_t NONCE[32] = {7, 7, 7};

typedef struct {
  lic_key *root, *node;
  lic_trust trust;
  uint8_t *lic_env;
  size_t lic_len;
  lic_license lic;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->root = tu_test_root_key();
  const char *np = tu_src("keys/test/test-node.pem");
  chmod(np, 0600);
  assert_int_equal(lic_key_load_private(np, NULL, &f->node), LIC_OK);
  lic_trust_init(&f->trust);
  lic_trust_add_raw(&f->trust, lic_key_raw_public(f->root));

  lic_license *l = &f->lic;
  memset(l->id, 0x11, LIC_ID_LEN);
  l->mode = LIC_MODE_PRIVATE;
  l->issued = l->not_before = NOW - 100;
  l->expires = NOW + 86400;
  l->customer = strdup("Acme");
  l->project = strdup("P");
  l->product = strdup("RS");
  l->major = 11;
  lic_strlist_add(&l->domains, "reports.acme.com");
  l->ports = calloc(1, sizeof *l->ports);
  l->ports[0] = 8443;
  l->nports = 1;
  l->has_machine = true;
  snprintf(l->machine_code, sizeof l->machine_code, "0000-0000-0000-0000");
  l->macs = calloc(1, LIC_MAC_HASH_LEN);
  l->nmacs = 1;
  l->has_node_key = true;
  memcpy(l->node_key, lic_key_raw_public(f->node), LIC_PUBKEY_LEN);
  l->heartbeat = 7200;
  l->grace = 86400;
  uint8_t *body;
  size_t blen;
  assert_int_equal(lic_license_pack(l, &body, &blen), LIC_OK);
  assert_int_equal(lic_envelope_seal("license", body, blen, f->root, &f->lic_env, &f->lic_len), LIC_OK);
  free(body);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  lic_key_free(f->root);
  lic_key_free(f->node);
  free(f->lic_env);
  lic_license_clear(&f->lic);
  free(f);
  return 0;
}

/* Build a response {verdict, chain:[license]} with knobs to break it. */
typedef struct {
  const uint8_t *nonce;
  size_t nonce_len;
  int64_t time;
  const char *node;
  lic_status status;
  const lic_key *signer;
  int chain_len;
  bool other_license;
} knobs;

static msgpack_sbuffer response(fixture *f, const knobs *k) {
  lic_verdict v;
  memset(&v, 0, sizeof v);
  memcpy(v.nonce, k->nonce, k->nonce_len);
  v.nonce_len = k->nonce_len;
  v.time = k->time;
  v.has_license = true;
  memset(v.license, k->other_license ? 0x22 : 0x11, LIC_ID_LEN);
  snprintf(v.node, sizeof v.node, "%s", k->node);
  v.status = k->status;
  snprintf(v.reason, sizeof v.reason, "%s", lic_status_reason(k->status));
  v.heartbeat = 7200;
  msgpack_sbuffer body, env, out;
  msgpack_sbuffer_init(&body);
  msgpack_sbuffer_init(&env);
  msgpack_sbuffer_init(&out);
  assert_int_equal(lic_verdict_pack(&v, &body), LIC_OK);
  lic_signer *s;
  assert_int_equal(lic_signer_new(k->signer, &s), LIC_OK);
  assert_int_equal(lic_signer_seal(s, "verdict", (uint8_t *)body.data, body.size, &env), LIC_OK);
  lic_signer_free(s);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 2);
  lic_mp_pack_cstr(&pk, "verdict");
  lic_mp_pack_bin(&pk, env.data, env.size);
  lic_mp_pack_cstr(&pk, "chain");
  msgpack_pack_array(&pk, (size_t)k->chain_len);
  for (int i = 0; i < k->chain_len; i++)
    lic_mp_pack_bin(&pk, f->lic_env, f->lic_len);
  msgpack_sbuffer_destroy(&body);
  msgpack_sbuffer_destroy(&env);
  return out;
}

static knobs good(fixture *f) {
  return (knobs){NONCE, sizeof NONCE, NOW, "rs-1", LIC_STATUS_VALID, f->node, 1, false};
}

static int check(fixture *f, const knobs *k, const char *domain) {
  lic_verify_opts o = {.trust = &f->trust, .domain = domain, .port = 8443, .node = "rs-1",
                       .version = "11.0.18"};
  lic_verify_result res;
  memset(&res, 0, sizeof res);
  msgpack_sbuffer sb = response(f, k);
  int rc = lic_verify_response(&o, NONCE, sizeof NONCE, NOW, (uint8_t *)sb.data, sb.size, &res);
  if (rc == LIC_OK)
    assert_int_equal(res.verdict.status, k->status);
  lic_verify_result_clear(&res);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

static void test_chain_checks(void **state) {
  fixture *f = *state;
  knobs k = good(f);
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_OK);
  k.status = LIC_STATUS_SEATS_EXHAUSTED; /* a signed denial is a trustworthy answer */
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_OK);

  uint8_t other[32] = {8};
  k = good(f), k.nonce = other;
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_MISMATCHED);
  k = good(f), k.signer = f->root; /* not the node key the license certifies */
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_UNTRUSTED);
  k = good(f), k.node = "someone-else";
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_MISMATCHED);
  k = good(f), k.time = NOW - 3600;
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_MISMATCHED);
  k = good(f), k.other_license = true;
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_MISMATCHED);
  k = good(f), k.chain_len = 0;
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_FORMAT);
  k = good(f), k.chain_len = 2;
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_FORMAT);
  /* A denial without a chain (no license to name): taken, marked unchecked,
   * but still for our nonce and node. */
  k = good(f), k.chain_len = 0, k.status = LIC_STATUS_UNKNOWN_LICENSE;
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_OK);
  k.nonce = other;
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_MISMATCHED);
  k = good(f), k.chain_len = 0, k.status = LIC_STATUS_UNKNOWN_LICENSE, k.node = "someone-else";
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_MISMATCHED);
  {
    lic_verify_opts o = {.trust = &f->trust, .domain = "reports.acme.com", .port = 8443,
                         .node = "rs-1"};
    lic_verify_result res;
    k = good(f), k.chain_len = 0, k.status = LIC_STATUS_REVOKED;
    msgpack_sbuffer sb = response(f, &k);
    assert_int_equal(lic_verify_response(&o, NONCE, sizeof NONCE, NOW, (uint8_t *)sb.data,
                                         sb.size, &res), LIC_OK);
    assert_true(res.unchecked);
    lic_verify_result_clear(&res);
    msgpack_sbuffer_destroy(&sb);
  }
  /* unknown_license with a chain: the license only certifies the node key,
   * so the verdict may name another id (the one asked for). */
  k = good(f), k.status = LIC_STATUS_UNKNOWN_LICENSE, k.other_license = true;
  assert_int_equal(check(f, &k, "reports.acme.com"), LIC_OK);
  /* "valid" for a domain the license does not cover: the client refuses it */
  k = good(f);
  assert_int_equal(check(f, &k, "evil.example"), LIC_MISMATCHED);

  /* a license signed by an untrusted root */
  lic_trust empty;
  lic_trust_init(&empty);
  lic_verify_opts o = {.trust = &empty, .domain = "reports.acme.com", .port = 8443, .node = "rs-1"};
  lic_verify_result res;
  k = good(f);
  msgpack_sbuffer sb = response(f, &k);
  assert_int_equal(lic_verify_response(&o, NONCE, sizeof NONCE, NOW, (uint8_t *)sb.data, sb.size, &res),
                   LIC_UNTRUSTED);
  lic_verify_result_clear(&res);
  /* every truncation of a good response fails cleanly */
  o.trust = &f->trust;
  for (size_t n = 0; n < sb.size; n++) {
    memset(&res, 0, sizeof res);
    assert_int_not_equal(lic_verify_response(&o, NONCE, sizeof NONCE, NOW, (uint8_t *)sb.data, n, &res),
                         LIC_OK);
    lic_verify_result_clear(&res);
  }
  msgpack_sbuffer_destroy(&sb);
}

/* A revocation list beside the answer (docs/revocation.md): handed out as
 * bytes inside the kept body, unverified; absent: NULL; not binary: the
 * answer is refused (nothing half-checked is handed out). */
static void test_revocations_beside_the_answer(void **state) {
  fixture *f = *state;
  static const uint8_t list[] = {0x84, 0xa3, 't', 'y', 'p'}; /* any bytes: not checked here */
  lic_verify_opts o = {.trust = &f->trust, .domain = "reports.acme.com", .port = 8443,
                       .node = "rs-1", .version = "11.0.18"};
  knobs k = good(f);
  for (int variant = 0; variant < 3; variant++) {
    msgpack_sbuffer sb = response(f, &k);
    assert_int_equal((uint8_t)sb.data[0], 0x82); /* {verdict, chain} */
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (variant > 0) {
      sb.data[0] = (char)0x83;
      lic_mp_pack_cstr(&pk, "revocations");
      if (variant == 1)
        lic_mp_pack_bin(&pk, list, sizeof list);
      else
        lic_mp_pack_cstr(&pk, "not binary");
    }
    lic_verify_result res;
    int rc = lic_verify_response(&o, NONCE, sizeof NONCE, NOW, (uint8_t *)sb.data, sb.size, &res);
    if (variant == 0) {
      assert_int_equal(rc, LIC_OK);
      assert_null(res.revocations);
    } else if (variant == 1) {
      assert_int_equal(rc, LIC_OK);
      assert_int_equal(res.revocations_len, sizeof list);
      assert_memory_equal(res.revocations, list, sizeof list);
      assert_true(res.revocations > res.body && res.revocations < res.body + res.body_len);
    } else {
      assert_int_not_equal(rc, LIC_OK);
      assert_non_null(strstr(lic_errdetail(), "revocations"));
      assert_null(res.body);
    }
    lic_verify_result_clear(&res);
    msgpack_sbuffer_destroy(&sb);
  }
}

/* A renewal (docs/operations.md): a report server that named the old license
 * accepts a verdict for its successor, and only for a successor. */
static void test_successor_accepted(void **state) {
  fixture *f = *state;
  uint8_t named[LIC_ID_LEN];
  memset(named, 0x33, LIC_ID_LEN); /* the id the report server was set up with */
  lic_verify_opts o = {.trust = &f->trust, .domain = "reports.acme.com", .port = 8443,
                       .node = "rs-1", .version = "11.0.18", .license = named};
  lic_verify_result res;
  knobs k = good(f);
  /* the chain's license (0x11) is not a successor: another license answered */
  msgpack_sbuffer sb = response(f, &k);
  memset(&res, 0, sizeof res);
  assert_int_equal(lic_verify_response(&o, NONCE, sizeof NONCE, NOW, (uint8_t *)sb.data, sb.size,
                                       &res), LIC_MISMATCHED);
  lic_verify_result_clear(&res);
  msgpack_sbuffer_destroy(&sb);
  /* the same license renewing 0x33: accepted, and the result names the new id */
  uint8_t *saved = f->lic_env, *body = NULL;
  size_t saved_len = f->lic_len, blen = 0;
  f->lic.has_supersedes = true;
  memcpy(f->lic.supersedes, named, LIC_ID_LEN);
  assert_int_equal(lic_license_pack(&f->lic, &body, &blen), LIC_OK);
  assert_int_equal(lic_envelope_seal("license", body, blen, f->root, &f->lic_env, &f->lic_len),
                   LIC_OK);
  free(body);
  sb = response(f, &k);
  memset(&res, 0, sizeof res);
  assert_int_equal(lic_verify_response(&o, NONCE, sizeof NONCE, NOW, (uint8_t *)sb.data, sb.size,
                                       &res), LIC_OK);
  assert_memory_equal(res.license.id, f->lic.id, LIC_ID_LEN);
  assert_true(res.license.has_supersedes);
  lic_verify_result_clear(&res);
  msgpack_sbuffer_destroy(&sb);
  /* a successor still has to allow our terms */
  o.domain = "evil.example";
  sb = response(f, &k);
  memset(&res, 0, sizeof res);
  assert_int_equal(lic_verify_response(&o, NONCE, sizeof NONCE, NOW, (uint8_t *)sb.data, sb.size,
                                       &res), LIC_MISMATCHED);
  lic_verify_result_clear(&res);
  msgpack_sbuffer_destroy(&sb);
  free(f->lic_env);
  f->lic_env = saved;
  f->lic_len = saved_len;
  f->lic.has_supersedes = false;
}

/* A one-shot fake HTTP server: answers the first connection with a script. */
typedef struct {
  int lfd;
  const char *reply;
  size_t reply_len;
  int delay_ms;
} fake;

static void *serve_once(void *arg) {
  fake *fk = arg;
  int c = accept(fk->lfd, NULL, NULL);
  if (c < 0)
    return NULL;
  char buf[4096];
  ssize_t n = recv(c, buf, sizeof buf, 0);
  (void)n;
  if (fk->delay_ms > 0)
    usleep((useconds_t)fk->delay_ms * 1000);
  if (fk->reply_len > 0)
    (void)!send(c, fk->reply, fk->reply_len, MSG_NOSIGNAL);
  close(c);
  return NULL;
}

static int run_fake(fixture *f, const char *reply, size_t len, int delay_ms, int timeout_ms) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  fake fk = {socket(AF_INET, SOCK_STREAM, 0), reply, len, delay_ms};
  assert_int_equal(bind(fk.lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(fk.lfd, 4), 0);
  getsockname(fk.lfd, (struct sockaddr *)&a, &al);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(a.sin_port));
  pthread_t th;
  pthread_create(&th, NULL, serve_once, &fk);
  lic_verify_opts o = {.url = url, .trust = &f->trust, .domain = "reports.acme.com", .port = 8443,
                       .node = "rs-1", .timeout_ms = timeout_ms};
  lic_verify_result res;
  int rc = lic_verify(&o, &res);
  lic_verify_result_clear(&res);
  pthread_join(th, NULL);
  close(fk.lfd);
  return rc;
}

static void test_http_failures(void **state) {
  fixture *f = *state;
  const char *garbage = "this is not HTTP\r\n\r\n";
  assert_int_equal(run_fake(f, garbage, strlen(garbage), 0, 2000), LIC_FORMAT);
  /* an error status with the server's {error, message} body (MessagePack) */
  const char err[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 39\r\n\r\n"
                     "\x82\xa5" "error" "\xb0" "machine_mismatch" "\xa7" "message" "\xa6" "moved!";
  assert_int_equal(run_fake(f, err, sizeof err - 1, 0, 2000), LIC_DENIED);
  assert_non_null(strstr(lic_errdetail(), "503"));
  /* a 200 whose body is not a response document */
  const char junk[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  assert_int_not_equal(run_fake(f, junk, sizeof junk - 1, 0, 2000), LIC_OK);
  /* closed mid-response */
  const char cut[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc";
  assert_int_equal(run_fake(f, cut, sizeof cut - 1, 0, 2000), LIC_IO);
  /* too slow */
  assert_int_equal(run_fake(f, garbage, strlen(garbage), 800, 200), LIC_IO);
  /* nobody listening */
  lic_verify_opts o = {.url = "http://127.0.0.1:1", .trust = &f->trust, .domain = "a.b", .port = 1,
                       .node = "n", .timeout_ms = 1000};
  lic_verify_result res;
  assert_int_equal(lic_verify(&o, &res), LIC_IO);
  o.url = "ftp://127.0.0.1:1";
  assert_int_equal(lic_verify(&o, &res), LIC_INVALID);
  o.url = "not a url";
  assert_int_equal(lic_verify(&o, &res), LIC_INVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_successor_accepted),
      cmocka_unit_test(test_chain_checks),
      cmocka_unit_test(test_revocations_beside_the_answer),
      cmocka_unit_test(test_http_failures),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
