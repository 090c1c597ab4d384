/* test_session.c - the license session as a pure state machine: a fake clock
 * (the `now` every call takes) and a fake transport that signs real verdicts
 * with the test keys, so every answer goes through lic_verify_response. */
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "lic/envelope.h"
#include "lic/fileio.h"
#include "lic/revocations.h"
#include "lic/session.h"
#include "testutil.h"

static const int64_t T0 = 1800000000;
#define HB 100
#define GRACE 1000

enum { UP, DOWN, DENY, FORGED, BAD_NONCE, GARBAGE, UNSIGNED_DENY };

typedef struct {
  int mode;
  lic_status deny;
  int lic; /* which license this server holds: 0 or 1 */
  int64_t skew; /* its clock minus the agent's */
} fake_server;

typedef struct {
  lic_key *root, *node[2], *other;
  lic_trust trust;
  uint8_t *env[2];
  size_t env_len[2];
  int64_t expires;
  fake_server srv[3];
  int64_t now; /* the agent's clock, as the test last passed it */
  char calls[64];
  size_t ncalls;
  char *dir;
  /* The revocation list the fake servers keep (sent when newer than the
   * client's revocations_seq, as licsrv does), and what the client said. */
  uint8_t *rev;
  size_t rev_len;
  int64_t rev_seq, seen_seq;
} fixture;

static void make_license(fixture *f, int i, uint8_t idbyte) {
  lic_license l;
  memset(&l, 0, sizeof l);
  memset(l.id, idbyte, LIC_ID_LEN);
  l.mode = LIC_MODE_PRIVATE;
  l.issued = l.not_before = T0 - 1000000;
  l.expires = f->expires;
  l.customer = strdup("Acme");
  l.project = strdup("P");
  l.product = strdup("RS");
  l.major = 11;
  lic_strlist_add(&l.domains, "reports.acme.com");
  lic_strlist_add(&l.features, "export");
  l.has_machine = true;
  snprintf(l.machine_code, sizeof l.machine_code, "0000-0000-0000-0000");
  l.macs = calloc(1, LIC_MAC_HASH_LEN);
  l.nmacs = 1;
  l.has_node_key = true;
  memcpy(l.node_key, lic_key_raw_public(f->node[i]), LIC_PUBKEY_LEN);
  l.heartbeat = HB;
  l.grace = GRACE;
  uint8_t *body;
  size_t blen;
  assert_int_equal(lic_license_pack(&l, &body, &blen), LIC_OK);
  free(f->env[i]);
  assert_int_equal(lic_envelope_seal("license", body, blen, f->root, &f->env[i], &f->env_len[i]),
                   LIC_OK);
  free(body);
  lic_license_clear(&l);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->root = tu_test_root_key();
  const char *np = tu_src("keys/test/test-node.pem");
  chmod(np, 0600);
  assert_int_equal(lic_key_load_private(np, NULL, &f->node[0]), LIC_OK);
  assert_int_equal(lic_key_generate(&f->node[1]), LIC_OK);
  assert_int_equal(lic_key_generate(&f->other), LIC_OK);
  lic_trust_init(&f->trust);
  lic_trust_add_raw(&f->trust, lic_key_raw_public(f->root));
  f->expires = T0 + 100 * 86400;
  make_license(f, 0, 0x11);
  make_license(f, 1, 0x22);
  f->srv[1].lic = f->srv[2].lic = 1;
  f->dir = tu_tmpdir();
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  lic_key_free(f->root);
  lic_key_free(f->node[0]);
  lic_key_free(f->node[1]);
  lic_key_free(f->other);
  free(f->env[0]);
  free(f->env[1]);
  free(f->rev);
  tu_rmtree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

/* The fake license server behind URL "s0".."s2": signs a verdict for our
 * nonce with its license's node key, then the real client checks apply. */
static int fake_verify(void *ctx, const lic_verify_opts *o, lic_verify_result *res) {
  fixture *f = ctx;
  int i = o->url[1] - '0';
  fake_server *sv = &f->srv[i];
  uint8_t nonce[32] = {0};
  int rc;

  memset(res, 0, sizeof *res);
  if (f->ncalls < sizeof f->calls - 1)
    f->calls[f->ncalls++] = (char)('0' + i);
  if (sv->mode == DOWN)
    return lic_fail(LIC_IO, "connect: connection refused");
  if (sv->mode == GARBAGE) {
    static const uint8_t junk[] = {0x81, 0xa1, 'x', 0xc0};
    return lic_verify_response(o, nonce, sizeof nonce, f->now, junk, sizeof junk, res);
  }
  lic_random(nonce, sizeof nonce);
  lic_verdict v;
  memset(&v, 0, sizeof v);
  memcpy(v.nonce, nonce, sizeof nonce);
  if (sv->mode == BAD_NONCE)
    v.nonce[0] ^= 1;
  v.nonce_len = sizeof nonce;
  v.time = f->now + sv->skew;
  v.has_license = true;
  memset(v.license, sv->lic == 0 ? 0x11 : 0x22, LIC_ID_LEN);
  snprintf(v.node, sizeof v.node, "%s", o->node);
  v.status = sv->mode == DENY || sv->mode == UNSIGNED_DENY ? sv->deny : LIC_STATUS_VALID;
  snprintf(v.reason, sizeof v.reason, "%s", lic_status_reason(v.status));
  lic_strlist_add(&v.features, "export");
  v.expires = f->expires;
  v.heartbeat = HB;
  v.grace = GRACE;
  msgpack_sbuffer body, env, out;
  msgpack_sbuffer_init(&body);
  msgpack_sbuffer_init(&env);
  msgpack_sbuffer_init(&out);
  assert_int_equal(lic_verdict_pack(&v, &body), LIC_OK);
  lic_strlist_free(&v.features);
  lic_signer *s;
  assert_int_equal(lic_signer_new(sv->mode == FORGED ? f->other : f->node[sv->lic], &s), LIC_OK);
  assert_int_equal(lic_signer_seal(s, "verdict", (uint8_t *)body.data, body.size, &env), LIC_OK);
  lic_signer_free(s);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
  bool send_rev = f->rev != NULL && f->rev_seq > o->revocations_seq;
  f->seen_seq = o->revocations_seq;
  msgpack_pack_map(&pk, send_rev ? 3 : 2);
  if (send_rev) {
    lic_mp_pack_cstr(&pk, "revocations");
    lic_mp_pack_bin(&pk, f->rev, f->rev_len);
  }
  lic_mp_pack_cstr(&pk, "verdict");
  lic_mp_pack_bin(&pk, env.data, env.size);
  lic_mp_pack_cstr(&pk, "chain");
  /* UNSIGNED_DENY: no license in the chain, so nothing to check it with */
  msgpack_pack_array(&pk, sv->mode == UNSIGNED_DENY ? 0 : 1);
  if (sv->mode != UNSIGNED_DENY)
    lic_mp_pack_bin(&pk, f->env[sv->lic], f->env_len[sv->lic]);
  rc = lic_verify_response(o, nonce, sizeof nonce, f->now, (uint8_t *)out.data, out.size, res);
  msgpack_sbuffer_destroy(&body);
  msgpack_sbuffer_destroy(&env);
  msgpack_sbuffer_destroy(&out);
  return rc;
}

static const char *const URLS[] = {"s0", "s1", "s2"};

static lic_session *open_session(fixture *f, size_t nurls, const char *node, bool persist,
                                 int64_t now) {
  lic_session_opts o = {
      .verify = {.trust = &f->trust, .domain = "reports.acme.com", .port = 8443, .node = node,
                 .app = NULL, .version = "11.0.18"},
      .urls = URLS, .nurls = nurls, .state_dir = persist ? f->dir : NULL,
      .transport = fake_verify, .transport_ctx = f};
  lic_session *s;
  f->now = now;
  assert_int_equal(lic_session_new(&o, now, &s), LIC_OK);
  return s;
}

static int64_t tick(fixture *f, lic_session *s, int64_t now) {
  f->now = now;
  f->ncalls = 0;
  memset(f->calls, 0, sizeof f->calls);
  int64_t w = lic_session_tick(s, now);
  assert_true(w > now);
  return w;
}

static lic_session_state state_of(const lic_session *s, const char **reason) {
  lic_session_info in;
  lic_session_info_get(s, &in);
  if (reason != NULL)
    *reason = in.reason;
  return in.state;
}

static void assert_state(const lic_session *s, lic_session_state st, const char *reason) {
  const char *r;
  lic_session_state got = state_of(s, &r);
  if (got != st || strcmp(r, reason) != 0)
    fail_msg("state %s/%s, expected %s/%s", lic_session_state_name(got), r,
             lic_session_state_name(st), reason);
}

static void reset(fixture *f) {
  for (int i = 0; i < 3; i++)
    f->srv[i].mode = UP, f->srv[i].skew = 0;
  f->expires = T0 + 100 * 86400;
  make_license(f, 0, 0x11);
  tu_rmtree(f->dir);
  lic_mkdirs(f->dir, 0700);
}

/* valid -> heartbeat passes (check again, still licensed) -> the check fails
 * -> grace -> grace runs out, exactly at grace_until. */
static void test_valid_grace_unlicensed(void **state) {
  fixture *f = *state;
  reset(f);
  lic_session *s = open_session(f, 1, "rs-1", false, T0);
  assert_state(s, LIC_SESSION_UNLICENSED, "no_verdict");
  int64_t w = tick(f, s, T0);
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  assert_int_equal(w, T0 + HB);
  lic_session_info in;
  lic_session_info_get(s, &in);
  assert_int_equal(in.last_valid, T0);
  assert_int_equal(in.grace_until, T0 + GRACE);
  assert_string_equal(in.server, "s0");
  assert_int_equal(in.features->n, 1);
  assert_string_equal(in.features->v[0], "export");
  assert_int_equal(in.heartbeat, HB);

  /* a tick before the check is due asks nobody */
  w = tick(f, s, T0 + 50);
  assert_int_equal(f->ncalls, 0);
  assert_int_equal(w, T0 + HB);
  /* the heartbeat: checked again, never out of licensed */
  w = tick(f, s, T0 + HB);
  assert_int_equal(f->ncalls, 1);
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  assert_int_equal(w, T0 + 2 * HB);

  int64_t last = T0 + HB;
  f->srv[0].mode = DOWN;
  w = tick(f, s, T0 + 2 * HB);
  assert_state(s, LIC_SESSION_GRACE, "check_failed");
  lic_session_info_get(s, &in);
  assert_non_null(strstr(in.last_error, "s0: "));
  assert_non_null(strstr(in.last_error, "connection refused"));
  assert_int_equal(in.failures, 1);
  assert_int_equal(in.grace_until, last + GRACE);
  /* first retry: min(60, heartbeat) with ±10% */
  assert_in_range(w - (T0 + 2 * HB), 54, 66);

  /* keep following the wake-ups: one of them is grace_until itself */
  bool hit = false;
  int64_t t = w;
  for (int i = 0; i < 100 && t <= last + GRACE; i++) {
    int64_t before = t;
    assert_int_not_equal(state_of(s, NULL), LIC_SESSION_UNLICENSED);
    t = tick(f, s, t);
    if (before == last + GRACE)
      hit = true;
    if (before < last + GRACE)
      assert_state(s, LIC_SESSION_GRACE, "check_failed");
    /* the retry never waits longer than the heartbeat (+10%) */
    assert_true(t - before <= HB + HB / 10);
  }
  assert_true(hit);
  assert_state(s, LIC_SESSION_UNLICENSED, "grace_expired");
  /* one second before the deadline it was still grace (fresh session) */
  lic_session_free(s);

  reset(f);
  s = open_session(f, 1, "rs-1", false, T0);
  tick(f, s, T0);
  f->srv[0].mode = DOWN;
  tick(f, s, T0 + HB);
  tick(f, s, T0 + GRACE - 1);
  assert_state(s, LIC_SESSION_GRACE, "check_failed");
  tick(f, s, T0 + GRACE);
  assert_state(s, LIC_SESSION_UNLICENSED, "grace_expired");
  lic_session_free(s);
}

/* Failures of every kind only count against grace: no answer, a forged
 * verdict, an unreadable body, a verdict for another nonce. */
static void test_failures_count_against_grace(void **state) {
  fixture *f = *state;
  const int modes[] = {DOWN, FORGED, GARBAGE, BAD_NONCE};
  for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
    reset(f);
    lic_session *s = open_session(f, 1, "rs-1", false, T0);
    tick(f, s, T0);
    f->srv[0].mode = modes[m];
    tick(f, s, T0 + HB);
    assert_state(s, LIC_SESSION_GRACE, "check_failed");
    /* a forged "denial" is no denial either */
    lic_session_free(s);
  }
  reset(f);
  lic_session *s = open_session(f, 1, "rs-1", false, T0);
  tick(f, s, T0);
  f->srv[0].mode = FORGED;
  f->srv[0].deny = LIC_STATUS_REVOKED;
  tick(f, s, T0 + HB);
  assert_state(s, LIC_SESSION_GRACE, "check_failed");
  lic_session_free(s);
  /* nor is an unsigned one (a chainless denial anyone on the path could send) */
  reset(f);
  s = open_session(f, 1, "rs-1", false, T0);
  tick(f, s, T0);
  f->srv[0].mode = UNSIGNED_DENY;
  f->srv[0].deny = LIC_STATUS_UNKNOWN_LICENSE;
  tick(f, s, T0 + HB);
  assert_state(s, LIC_SESSION_GRACE, "check_failed");
  lic_session_free(s);
}

/* A trustworthy denial in the middle of grace ends the license at once;
 * then a valid verdict brings it back. */
static void test_denial_and_recovery(void **state) {
  fixture *f = *state;
  reset(f);
  lic_session *s = open_session(f, 1, "rs-1", false, T0);
  tick(f, s, T0);
  f->srv[0].mode = DOWN;
  int64_t w = tick(f, s, T0 + HB);
  assert_state(s, LIC_SESSION_GRACE, "check_failed");
  f->srv[0].mode = DENY;
  f->srv[0].deny = LIC_STATUS_REVOKED;
  w = tick(f, s, w);
  assert_state(s, LIC_SESSION_UNLICENSED, "revoked");
  lic_session_info in;
  lic_session_info_get(s, &in);
  assert_string_equal(in.detail, lic_status_reason(LIC_STATUS_REVOKED));
  assert_int_equal(in.grace_until, 0);
  assert_int_equal(in.features->n, 0);
  assert_string_equal(in.last_error, "");
  /* checked again on the retry schedule, not only every heartbeat */
  assert_true(w - T0 - HB <= 2 * 66 + 1);

  /* recovery: a valid verdict again, failures forgotten */
  f->srv[0].mode = DOWN;
  w = tick(f, s, w);
  assert_state(s, LIC_SESSION_UNLICENSED, "revoked");
  f->srv[0].mode = UP;
  int64_t now = w;
  w = tick(f, s, now);
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  lic_session_info_get(s, &in);
  assert_int_equal(in.failures, 0);
  assert_string_equal(in.last_error, "");
  assert_int_equal(in.last_valid, now);
  assert_int_equal(w, now + HB);

  /* recovery from grace */
  f->srv[0].mode = DOWN;
  w = tick(f, s, now + HB);
  assert_state(s, LIC_SESSION_GRACE, "check_failed");
  f->srv[0].mode = UP;
  tick(f, s, w);
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  lic_session_free(s);
}

/* The license's expiry ends grace early. */
static void test_expiry_caps_grace(void **state) {
  fixture *f = *state;
  reset(f);
  f->expires = T0 + HB + 300;
  make_license(f, 0, 0x11);
  lic_session *s = open_session(f, 1, "rs-1", false, T0);
  tick(f, s, T0);
  lic_session_info in;
  lic_session_info_get(s, &in);
  assert_int_equal(in.grace_until, T0 + HB + 300);
  f->srv[0].mode = DOWN;
  tick(f, s, T0 + HB);
  tick(f, s, T0 + HB + 299);
  assert_state(s, LIC_SESSION_GRACE, "check_failed");
  tick(f, s, T0 + HB + 300);
  assert_state(s, LIC_SESSION_UNLICENSED, "expired");
  lic_session_free(s);
}

/* The clock set back more than an hour below the high-water mark. */
static void test_clock_step_back(void **state) {
  fixture *f = *state;
  reset(f);
  lic_session *s = open_session(f, 1, "rs-1", false, T0);
  tick(f, s, T0);
  /* back by less than an hour: no rollback (the server's clock is the
   * agent's old one, so it answers; the check is not even due) */
  tick(f, s, T0 - 3000);
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  /* back by two hours; the server's clock is the true one (T0), so the
   * verdict fails the skew check too */
  f->srv[0].skew = 7200;
  int64_t w = tick(f, s, T0 - 7200);
  assert_state(s, LIC_SESSION_UNLICENSED, "clock_rollback");
  assert_true(w > T0 - 7200);
  /* every later tick on the wrong clock stays unlicensed */
  tick(f, s, T0 - 7000);
  assert_state(s, LIC_SESSION_UNLICENSED, "clock_rollback");
  /* the clock fixed: the grace rules are back */
  f->srv[0].skew = 0;
  f->srv[0].mode = DOWN;
  tick(f, s, T0 + 10);
  assert_state(s, LIC_SESSION_GRACE, "check_failed");
  f->srv[0].mode = UP;
  lic_session_check_now(s);
  tick(f, s, T0 + 20);
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  lic_session_free(s);

  /* A clock that was wrong ahead and is now right: a trusted server whose
   * clock agrees re-anchors the mark (else the node stayed unlicensed). */
  reset(f);
  s = open_session(f, 1, "rs-1", false, T0 + 100000);
  tick(f, s, T0 + 100000);
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  tick(f, s, T0);
  assert_int_equal(f->ncalls, 1); /* rollback seen: asked at once */
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  lic_session_free(s);
}

static void test_backoff_bounds(void **state) {
  (void)state;
  const int64_t want[] = {60, 120, 240, 480, 960, 1920, 3840, 7200, 7200};
  for (unsigned n = 1; n <= 9; n++)
    assert_int_equal(lic_session_backoff(7200, n), want[n - 1]);
  assert_int_equal(lic_session_backoff(7200, 1000), 7200);
  assert_int_equal(lic_session_backoff(30, 1), 30);
  assert_int_equal(lic_session_backoff(30, 5), 30);
  assert_int_equal(lic_session_backoff(100, 1), 60);
  assert_int_equal(lic_session_backoff(100, 2), 100);
  assert_int_equal(lic_session_backoff(1, 1), 1);

  int64_t lo = INT64_MAX, hi = 0;
  for (int i = 0; i < 2000; i++) {
    int64_t d = lic_session_backoff_jitter(7200, 1);
    assert_in_range(d, 54, 66);
    lo = d < lo ? d : lo, hi = d > hi ? d : hi;
  }
  assert_true(lo <= 56 && hi >= 64); /* spread over the whole ±10% */
  lo = INT64_MAX, hi = 0;
  for (int i = 0; i < 2000; i++) {
    int64_t d = lic_session_backoff_jitter(7200, 40);
    assert_in_range(d, 6480, 7920);
    lo = d < lo ? d : lo, hi = d > hi ? d : hi;
  }
  assert_true(lo < 6600 && hi > 7800);
  for (int i = 0; i < 100; i++)
    assert_in_range(lic_session_backoff_jitter(1, 3), 1, 1);
}

/* Servers in order; the one that answered last goes first next round; a
 * standby with another license of the same vendor is accepted. */
static void test_server_order(void **state) {
  fixture *f = *state;
  reset(f);
  lic_session *s = open_session(f, 3, "rs-1", false, T0);
  tick(f, s, T0);
  assert_string_equal(f->calls, "0");
  f->srv[0].mode = DOWN;
  int64_t w = tick(f, s, T0 + HB);
  assert_string_equal(f->calls, "01");
  /* moved to the standby without leaving licensed */
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  lic_session_info in;
  lic_session_info_get(s, &in);
  assert_string_equal(in.server, "s1");
  assert_string_equal(in.last_error, "");
  /* sticky: s1 first, even though s0 is back */
  f->srv[0].mode = UP;
  w = tick(f, s, w);
  assert_string_equal(f->calls, "1");
  /* s1 down: s0 (the list order from the top, skipping s1) */
  f->srv[1].mode = DOWN;
  w = tick(f, s, w);
  assert_string_equal(f->calls, "10");
  lic_session_info_get(s, &in);
  assert_string_equal(in.server, "s0");
  /* all down: every one tried, the errors of all kept */
  f->srv[0].mode = f->srv[2].mode = DOWN;
  w = tick(f, s, w);
  assert_string_equal(f->calls, "012");
  assert_state(s, LIC_SESSION_GRACE, "check_failed");
  lic_session_info_get(s, &in);
  assert_non_null(strstr(in.last_error, "s0: "));
  assert_non_null(strstr(in.last_error, "s2: "));
  /* s2 answers: sticky on it */
  f->srv[2].mode = UP;
  w = tick(f, s, w);
  assert_string_equal(f->calls, "012");
  w = tick(f, s, w);
  assert_string_equal(f->calls, "2");
  /* a denial from the first server that answers ends the round (and the
   * license): no shopping around for a server that says yes */
  f->srv[2].mode = DENY;
  f->srv[2].deny = LIC_STATUS_SEATS_EXHAUSTED;
  f->srv[0].mode = UP;
  tick(f, s, w);
  assert_string_equal(f->calls, "2");
  assert_state(s, LIC_SESSION_UNLICENSED, "seats_exhausted");
  lic_session_free(s);
}

static char *state_path(fixture *f) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", f->dir, LIC_SESSION_FILE);
  return p;
}

/* A restart during an outage stays in grace until the original deadline,
 * not a second longer; a denial and the clock mark survive restarts too. */
static void test_persistence(void **state) {
  fixture *f = *state;
  reset(f);
  lic_session *s = open_session(f, 2, "rs-1", true, T0);
  tick(f, s, T0);
  f->srv[0].mode = DOWN;
  tick(f, s, T0 + HB); /* answered by s1 */
  lic_session_info in;
  lic_session_info_get(s, &in);
  int64_t deadline = in.grace_until;
  assert_int_equal(deadline, T0 + HB + GRACE);
  lic_session_free(s);
  struct stat st;
  assert_int_equal(stat(state_path(f), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);

  /* restart in the outage */
  f->srv[1].mode = DOWN;
  s = open_session(f, 2, "rs-1", true, T0 + 300);
  assert_state(s, LIC_SESSION_GRACE, "stale");
  lic_session_info_get(s, &in);
  assert_int_equal(in.grace_until, deadline);
  assert_string_equal(in.server, "s1");
  int64_t w = tick(f, s, T0 + 300);
  assert_string_equal(f->calls, "10"); /* the last good server first */
  assert_state(s, LIC_SESSION_GRACE, "check_failed");
  assert_true(w <= deadline);
  lic_session_free(s);
  s = open_session(f, 2, "rs-1", true, deadline - 1);
  tick(f, s, deadline - 1);
  assert_state(s, LIC_SESSION_GRACE, "check_failed");
  tick(f, s, deadline);
  assert_state(s, LIC_SESSION_UNLICENSED, "grace_expired");
  lic_session_free(s);
  s = open_session(f, 2, "rs-1", true, deadline + 5);
  assert_state(s, LIC_SESSION_UNLICENSED, "grace_expired");
  lic_session_free(s);

  /* restart within the heartbeat: licensed at once, before any check */
  reset(f);
  s = open_session(f, 1, "rs-1", true, T0);
  tick(f, s, T0);
  lic_session_free(s);
  s = open_session(f, 1, "rs-1", true, T0 + 10);
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  lic_session_free(s);

  /* the clock mark: a restart with the clock two hours back */
  s = open_session(f, 1, "rs-1", true, T0 - 7200);
  assert_state(s, LIC_SESSION_UNLICENSED, "clock_rollback");
  lic_session_free(s);

  /* a denial survives the restart: the older valid verdict is gone */
  f->srv[0].mode = DENY;
  f->srv[0].deny = LIC_STATUS_REVOKED;
  s = open_session(f, 1, "rs-1", true, T0 + 20);
  lic_session_check_now(s);
  tick(f, s, T0 + 20);
  assert_state(s, LIC_SESSION_UNLICENSED, "revoked");
  lic_session_free(s);
  s = open_session(f, 1, "rs-1", true, T0 + 30);
  assert_state(s, LIC_SESSION_UNLICENSED, "revoked");
  lic_session_free(s);
}

/* Re-pack the state file with one integer field replaced (a hand edit). */
static void edit_int(const char *path, const char *key, int64_t val) {
  uint8_t *buf;
  size_t len;
  lic_mp_obj o;
  assert_int_equal(lic_file_read(path, LIC_SESSION_MAX_FILE, &buf, &len), LIC_OK);
  assert_int_equal(lic_mp_obj_parse(buf, len, &o), LIC_OK);
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, o.n);
  for (size_t i = 0; i < o.n; i++) {
    msgpack_pack_str(&pk, o.e[i].klen);
    msgpack_pack_str_body(&pk, o.e[i].k, o.e[i].klen);
    if (o.e[i].klen == strlen(key) && memcmp(o.e[i].k, key, o.e[i].klen) == 0)
      msgpack_pack_int64(&pk, val);
    else
      msgpack_sbuffer_write(&sb, (const char *)o.e[i].v.p, o.e[i].v.n);
  }
  free(buf);
  assert_int_equal(lic_file_write(path, sb.data, sb.size, 0600, 0), LIC_OK);
  msgpack_sbuffer_destroy(&sb);
}

static void write_bytes(const char *path, const uint8_t *b, size_t n) {
  assert_int_equal(lic_file_write(path, b, n, 0600, 0), LIC_OK);
}

/* Restoring an older session.state and setting the clock back restored
 * grace: the second high-water mark, in a file of its own, keeps the newer
 * mark (issue 23 item 6). Removing that file too is what an offline check
 * cannot tell from a first start. */
static void test_restored_state_file_keeps_the_mark(void **state) {
  fixture *f = *state;
  char clock[600];
  uint8_t *old = NULL;
  size_t oldlen = 0;
  reset(f);
  snprintf(clock, sizeof clock, "%s/%s", f->dir, LIC_SESSION_CLOCK_FILE);
  lic_session *s = open_session(f, 1, "rs-1", true, T0);
  tick(f, s, T0);
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  assert_int_equal(lic_file_read(state_path(f), LIC_SESSION_MAX_FILE, &old, &oldlen), LIC_OK);
  /* five and a half hours of valid checks later */
  lic_session_check_now(s);
  tick(f, s, T0 + 20000);
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  lic_session_free(s);
  struct stat st;
  assert_int_equal(stat(clock, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);

  /* the old state file back, the clock back to within its grace, no server */
  write_bytes(state_path(f), old, oldlen);
  f->srv[0].mode = DOWN;
  s = open_session(f, 1, "rs-1", true, T0 + 300);
  assert_state(s, LIC_SESSION_UNLICENSED, "clock_rollback");
  tick(f, s, T0 + 300);
  assert_state(s, LIC_SESSION_UNLICENSED, "clock_rollback");
  lic_session_free(s);

  /* a garbled clock file is said and ignored, like a bad state file */
  write_bytes(clock, (const uint8_t *)"soon\n", 5);
  s = open_session(f, 1, "rs-1", true, T0 + 300);
  lic_session_info in;
  lic_session_info_get(s, &in);
  assert_non_null(strstr(in.last_error, "clock file"));
  lic_session_free(s);

  /* both files from the backup: nothing on this machine remembers more */
  write_bytes(state_path(f), old, oldlen);
  assert_int_equal(unlink(clock), 0);
  s = open_session(f, 1, "rs-1", true, T0 + 300);
  assert_state(s, LIC_SESSION_GRACE, "stale");
  lic_session_free(s);
  free(old);
}

/* A corrupted, truncated, hand-edited or foreign state file extends nothing. */
static void test_bad_state_file(void **state) {
  fixture *f = *state;
  reset(f);
  lic_session *s = open_session(f, 1, "rs-1", true, T0);
  tick(f, s, T0);
  lic_session_free(s);
  uint8_t *good;
  size_t glen;
  assert_int_equal(lic_file_read(state_path(f), LIC_SESSION_MAX_FILE, &good, &glen), LIC_OK);
  f->srv[0].mode = DOWN;
  lic_session_info in;

  /* garbage */
  write_bytes(state_path(f), (const uint8_t *)"not a state file", 16);
  s = open_session(f, 1, "rs-1", true, T0 + 10);
  assert_state(s, LIC_SESSION_UNLICENSED, "no_verdict");
  lic_session_info_get(s, &in);
  assert_non_null(strstr(in.last_error, "state file"));
  lic_session_free(s);

  /* every truncation, and every single flipped byte inside the signed
   * response, is either ignored or changes nothing (never more grace) */
  for (size_t n = 0; n < glen; n += 7) {
    write_bytes(state_path(f), good, n);
    s = open_session(f, 1, "rs-1", true, T0 + 10);
    assert_state(s, LIC_SESSION_UNLICENSED, "no_verdict");
    lic_session_free(s);
  }
  for (size_t i = 0; i < glen; i += 5) {
    uint8_t *b = malloc(glen);
    memcpy(b, good, glen);
    b[i] ^= 0x20;
    write_bytes(state_path(f), b, glen);
    free(b);
    s = open_session(f, 1, "rs-1", true, T0 + 10);
    lic_session_info_get(s, &in);
    if (in.state != LIC_SESSION_UNLICENSED)
      assert_true(in.grace_until <= T0 + GRACE);
    lic_session_free(s);
  }

  /* checked_at moved far ahead: the signed time disagrees, ignored */
  write_bytes(state_path(f), good, glen);
  edit_int(state_path(f), "checked_at", T0 + 100000);
  s = open_session(f, 1, "rs-1", true, T0 + 10);
  assert_state(s, LIC_SESSION_UNLICENSED, "no_verdict");
  lic_session_free(s);
  /* moved ahead within the skew: the signed time still bounds the grace */
  write_bytes(state_path(f), good, glen);
  edit_int(state_path(f), "checked_at", T0 + 200);
  s = open_session(f, 1, "rs-1", true, T0 + 10);
  lic_session_info_get(s, &in);
  assert_int_equal(in.state, LIC_SESSION_LICENSED);
  assert_int_equal(in.grace_until, T0 + GRACE);
  lic_session_free(s);
  /* the clock mark lowered by hand: the verdict's own time still counts */
  write_bytes(state_path(f), good, glen);
  edit_int(state_path(f), "hwm", 0);
  s = open_session(f, 1, "rs-1", true, T0 - 7200);
  assert_state(s, LIC_SESSION_UNLICENSED, "clock_rollback");
  lic_session_free(s);

  /* another node's file (copied from rs-2) */
  write_bytes(state_path(f), good, glen);
  s = open_session(f, 1, "rs-2", true, T0 + 10);
  assert_state(s, LIC_SESSION_UNLICENSED, "no_verdict");
  lic_session_info_get(s, &in);
  assert_non_null(strstr(in.last_error, "another node"));
  lic_session_free(s);
  /* a trust store without the vendor key */
  free(good);
}

/* The list the fake servers send: seq, one license id byte (0: none),
 * signed by key. */
static void serve_list(fixture *f, int64_t seq, uint8_t idbyte, lic_key *key) {
  lic_revocations r;
  uint8_t id[LIC_ID_LEN], *body;
  size_t blen;
  memset(&r, 0, sizeof r);
  r.seq = seq;
  r.issued = T0;
  memset(id, 0x33, sizeof id);
  assert_int_equal(lic_revocations_add_license(&r, id), LIC_OK);
  if (idbyte != 0) {
    memset(id, idbyte, sizeof id);
    assert_int_equal(lic_revocations_add_license(&r, id), LIC_OK);
  }
  assert_int_equal(lic_revocations_pack(&r, &body, &blen), LIC_OK);
  free(f->rev);
  assert_int_equal(lic_envelope_seal(LIC_REVOCATIONS_TYP, body, blen, key, &f->rev, &f->rev_len),
                   LIC_OK);
  f->rev_seq = seq;
  free(body);
  lic_revocations_clear(&r);
}

static int64_t recheck(fixture *f, lic_session *s, int64_t now) {
  lic_session_check_now(s);
  return tick(f, s, now);
}

/* Lists from verify answers (docs/revocation.md): kept in the state
 * directory when newer and genuine, the kept seq sent with every check, a
 * forged one ignored and noted, and a license on the kept list reads
 * revoked, also after a restart and whatever a server says. */
static void test_revocations_from_answers(void **state) {
  fixture *f = *state;
  lic_session_info in;
  char kept[4096];
  struct stat st;
  reset(f);
  f->rev_seq = 0;
  snprintf(kept, sizeof kept, "%s/%s", f->dir, LIC_REVOCATIONS_FILE);
  lic_session *s = open_session(f, 1, "rs-1", true, T0);
  tick(f, s, T0); /* no list anywhere: as before */
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  lic_session_info_get(s, &in);
  assert_int_equal(in.revocations_seq, 0);
  assert_int_equal(in.revocations_events, 0);
  assert_int_equal(f->seen_seq, 0);

  serve_list(f, 2, 0, f->root); /* names another license */
  recheck(f, s, T0 + 1);
  lic_session_info_get(s, &in);
  assert_int_equal(in.revocations_seq, 2);
  assert_int_equal(in.revocations_events, 1);
  assert_false(in.revocations_refused);
  assert_non_null(strstr(in.revocations_note, "seq 2 from s0 kept"));
  assert_int_equal(stat(kept, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  recheck(f, s, T0 + 2); /* the kept seq goes out: nothing comes back */
  assert_int_equal(f->seen_seq, 2);
  lic_session_info_get(s, &in);
  assert_int_equal(in.revocations_events, 1);

  serve_list(f, 3, 0x11, f->other); /* forged: our license, not the vendor's key */
  recheck(f, s, T0 + 3);
  lic_session_info_get(s, &in);
  assert_int_equal(in.revocations_seq, 2);
  assert_int_equal(in.revocations_events, 2);
  assert_true(in.revocations_refused);
  assert_non_null(strstr(in.revocations_note, "ignored"));
  assert_state(s, LIC_SESSION_LICENSED, "valid");

  serve_list(f, 3, 0x11, f->root); /* genuine: the server still says valid */
  recheck(f, s, T0 + 4);
  assert_state(s, LIC_SESSION_UNLICENSED, "revoked");
  lic_session_info_get(s, &in);
  assert_int_equal(in.revocations_seq, 3);
  assert_false(in.revocations_refused);
  assert_non_null(strstr(in.detail, "revocation list (seq 3)"));
  lic_session_free(s);

  /* a restart reads revoked before any check; an older list changes nothing */
  s = open_session(f, 1, "rs-1", true, T0 + 5);
  assert_state(s, LIC_SESSION_UNLICENSED, "revoked");
  serve_list(f, 1, 0, f->root);
  f->rev_seq = 9; /* a server sending an older list anyway */
  tick(f, s, T0 + 5);
  assert_int_equal(f->seen_seq, 3);
  lic_session_info_get(s, &in);
  assert_int_equal(in.revocations_seq, 3);
  assert_false(in.revocations_refused);
  assert_state(s, LIC_SESSION_UNLICENSED, "revoked");
  lic_session_free(s);
  lic_session *r;
  assert_int_equal(lic_session_read_state(f->dir, &f->trust, NULL, T0 + 6, &r), LIC_OK);
  assert_state(r, LIC_SESSION_UNLICENSED, "revoked");
  lic_session_free(r);
  /* without a state directory nothing is kept: the verdict rules */
  serve_list(f, 4, 0x11, f->root);
  s = open_session(f, 1, "rs-1", false, T0 + 7);
  tick(f, s, T0 + 7);
  assert_state(s, LIC_SESSION_LICENSED, "valid");
  lic_session_free(s);
  free(f->rev);
  f->rev = NULL;
  f->rev_seq = 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_revocations_from_answers),
      cmocka_unit_test(test_valid_grace_unlicensed),
      cmocka_unit_test(test_failures_count_against_grace),
      cmocka_unit_test(test_denial_and_recovery),
      cmocka_unit_test(test_expiry_caps_grace),
      cmocka_unit_test(test_clock_step_back),
      cmocka_unit_test(test_backoff_bounds),
      cmocka_unit_test(test_server_order),
      cmocka_unit_test(test_persistence),
      cmocka_unit_test(test_bad_state_file),
      cmocka_unit_test(test_restored_state_file_keeps_the_mark),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
