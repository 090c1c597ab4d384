/* session.c - the report server's license session (SPEC §8): when to check,
 * which server to ask, what a failure or a denial does to the state, and the
 * last valid verdict kept in the state directory across restarts. */
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lic/fileio.h"
#include "lic/keys.h"
#include "lic/revocations.h"
#include "lic/session.h"

#define ERR_CAP 1024
#define FILE_VERSION 1

struct lic_session {
  lic_verify_opts vo; /* strings below are our copies */
  lic_tls_opts tls;   /* the caller's, with our resume unless it gave one */
  lic_tls_resume *resume; /* the last TLS session per server: each check resumes it */
  char *domain, *app, *version, *node;
  uint8_t license_id[LIC_ID_LEN];
  uint8_t account[LIC_ID_LEN], project_id[LIC_ID_LEN]; /* public mode */
  char *token;                                          /* a secret: wiped when freed */
  char *urls[LIC_SESSION_MAX_SERVERS];
  size_t nurls, preferred;
  char *path; /* the state file, NULL = not persisted */
  char *clock_path; /* the second high-water mark (LIC_SESSION_CLOCK_FILE) */
  lic_session_verify_fn transport;
  void *transport_ctx;

  /* The last valid verdict, and the response that proves it (kept so a
   * restart can check it again rather than trust a file). */
  bool have_valid;
  int64_t last_valid, lv_heartbeat, lv_grace, lv_expires;
  char lv_license[LIC_UUID_LEN + 1]; /* the license (or account) it answered for, "" = none */
  uint8_t lv_id[LIC_ID_LEN];         /* the same as bytes, when lv_license is set */
  bool lv_account;                   /* lv_id is an account (public mode) */
  lic_strlist features;
  uint8_t *proof;
  size_t proof_len;
  uint8_t proof_nonce[LIC_NONCE_MAX];
  size_t proof_nonce_len;
  int64_t proof_checked_at;

  /* A trustworthy denial ends the license until a valid verdict. */
  bool denied;
  lic_status denial;
  char denial_reason[LIC_MAX_REASON + 1];
  unsigned denials;

  int64_t heartbeat, grace; /* terms of the last trustworthy verdict (scheduling) */
  bool last_failed;
  unsigned failures;
  char last_error[ERR_CAP];
  char server[512];
  int64_t checked_at, next_check;
  bool force;

  int64_t hwm, hwm_saved; /* clock high-water mark and the value last written */
  bool rollback;

  /* The vendor's revocation list kept in the state directory (seq 0: none):
   * sent as revocations_seq, replaced by a newer one a server sends. */
  char *dir;
  lic_revocations rev;
  char rev_note[ERR_CAP]; /* the last thing that happened to a list, "" = nothing */
  unsigned rev_events;
  bool rev_refused;
  char rev_detail[LIC_MAX_REASON + 1];

  lic_session_state state;
  const char *reason;
};

const char *lic_session_state_name(lic_session_state s) {
  switch (s) {
  case LIC_SESSION_LICENSED: return "licensed";
  case LIC_SESSION_GRACE: return "grace";
  default: return "unlicensed";
  }
}

int64_t lic_session_backoff(int64_t heartbeat, unsigned n) {
  int64_t hb = heartbeat > 0 ? heartbeat : LIC_DEFAULT_HEARTBEAT;
  int64_t d = hb < LIC_SESSION_BASE_RETRY ? hb : LIC_SESSION_BASE_RETRY;
  for (unsigned i = 1; i < n && d < hb; i++)
    d *= 2;
  return d < hb ? d : hb;
}

int64_t lic_session_backoff_jitter(int64_t heartbeat, unsigned n) {
  int64_t d = lic_session_backoff(heartbeat, n);
  uint8_t b[4] = {0};
  /* Without randomness, no jitter: the delay itself stays correct. */
  if (lic_random(b, sizeof b) != LIC_OK)
    return d;
  uint32_t u = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
  /* d * (0.9 .. 1.1) in milliseconds, rounded to the nearest second. */
  int64_t ms = d * 1000;
  int64_t span = ms / 5; /* 20% of d */
  int64_t j = ms - ms / 10 + (int64_t)((uint64_t)u * (uint64_t)(span + 1) >> 32);
  int64_t s = (j + 500) / 1000;
  return s < 1 ? 1 : s;
}

static char *dup_or_null(const char *s) { return s == NULL ? NULL : strdup(s); }

static void clear_valid(lic_session *s) {
  s->have_valid = false;
  s->last_valid = s->lv_heartbeat = s->lv_grace = s->lv_expires = 0;
  lic_strlist_free(&s->features);
  free(s->proof);
  s->proof = NULL;
  s->proof_len = s->proof_nonce_len = 0;
  s->proof_checked_at = 0;
}

void lic_session_free(lic_session *s) {
  if (s == NULL)
    return;
  clear_valid(s);
  free(s->domain);
  free(s->app);
  free(s->version);
  free(s->node);
  lic_secret_free(s->token, s->token != NULL ? strlen(s->token) : 0);
  for (size_t i = 0; i < s->nurls; i++)
    free(s->urls[i]);
  free(s->path);
  free(s->dir);
  lic_revocations_clear(&s->rev);
  lic_tls_resume_free(s->resume);
  free(s->clock_path);
  free(s);
}

/* "state file PATH[ ignored]: WHY" into last_error. */
static void set_file_error(lic_session *s, const char *what, const char *why) {
  snprintf(s->last_error, sizeof s->last_error, "state file %s%s: %s", s->path, what, why);
}

/* The terms a verdict carries, falling back to its license's. */
static void verdict_terms(const lic_verify_result *res, int64_t *hb, int64_t *grace) {
  *hb = res->verdict.heartbeat > 0 ? res->verdict.heartbeat : res->license.heartbeat;
  *grace = res->verdict.grace > 0 ? res->verdict.grace : res->license.grace;
  if (*hb < LIC_MIN_HEARTBEAT)
    *hb = LIC_DEFAULT_HEARTBEAT;
  if (*grace < *hb)
    *grace = *hb;
}

/* Take a checked valid verdict as the session's last valid one; res keeps
 * nothing the session needs afterwards. local_now is our clock when it was
 * checked: the verdict counts from the earlier of that and its own time, so
 * no clock difference stretches the grace past time + grace. */
static int adopt_valid(lic_session *s, lic_verify_result *res, int64_t local_now) {
  lic_verdict *v = &res->verdict;
  clear_valid(s);
  s->have_valid = true;
  s->last_valid = v->time < local_now ? v->time : local_now;
  verdict_terms(res, &s->lv_heartbeat, &s->lv_grace);
  s->lv_expires = v->expires;
  /* After a renewal the server answers for the successor: its id, not the
   * one asked for (docs/operations.md, "Renewing and upgrading"). */
  s->lv_account = false;
  if (v->has_license) {
    lic_uuid_format(v->license, s->lv_license);
    memcpy(s->lv_id, v->license, LIC_ID_LEN);
  } else if (res->public_mode) {
    lic_uuid_format(v->account, s->lv_license);
    memcpy(s->lv_id, v->account, LIC_ID_LEN);
    s->lv_account = true;
  } else {
    s->lv_license[0] = '\0';
  }
  s->features = v->features; /* transferred */
  memset(&v->features, 0, sizeof v->features);
  s->proof = res->body;
  s->proof_len = res->body_len;
  res->body = NULL;
  memcpy(s->proof_nonce, res->nonce, res->nonce_len);
  s->proof_nonce_len = res->nonce_len;
  s->proof_checked_at = res->checked_at;
  s->heartbeat = s->lv_heartbeat;
  s->grace = s->lv_grace;
  if (v->time > s->hwm)
    s->hwm = v->time;
  return LIC_OK;
}

/* --- the state file ------------------------------------------------------ */

static int save(lic_session *s) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  int bad = 0, rc;

  if (s->path == NULL)
    return LIC_OK;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  size_t n = 4 + (s->have_valid ? 3 : 0) + (s->denied ? 2 : 0);
  bad |= msgpack_pack_map(&pk, n);
  /* The question the stored verdict answers (no secret: no token, no node
   * secret), so `licctl status` and the Java client's status can check the
   * stored chain the same way. Unsigned: it can only change what is checked,
   * and the verdict must still answer it. */
  const lic_verify_opts *q = &s->vo;
  size_t qn = 3 + (q->app != NULL) + (q->version != NULL) + (q->license != NULL) +
              (q->account != NULL ? 2 : 0);
  bad |= lic_mp_pack_cstr(&pk, "question") | msgpack_pack_map(&pk, qn);
  bad |= lic_mp_pack_cstr(&pk, "domain") | lic_mp_pack_cstr(&pk, q->domain);
  bad |= lic_mp_pack_cstr(&pk, "port") | msgpack_pack_int64(&pk, q->port);
  bad |= lic_mp_pack_cstr(&pk, "node") | lic_mp_pack_cstr(&pk, q->node);
  if (q->app != NULL)
    bad |= lic_mp_pack_cstr(&pk, "app") | lic_mp_pack_cstr(&pk, q->app);
  if (q->version != NULL)
    bad |= lic_mp_pack_cstr(&pk, "version") | lic_mp_pack_cstr(&pk, q->version);
  if (q->license != NULL)
    bad |= lic_mp_pack_cstr(&pk, "license") | lic_mp_pack_bin(&pk, q->license, LIC_ID_LEN);
  if (q->account != NULL) {
    bad |= lic_mp_pack_cstr(&pk, "account") | lic_mp_pack_bin(&pk, q->account, LIC_ID_LEN);
    bad |= lic_mp_pack_cstr(&pk, "project_id") | lic_mp_pack_bin(&pk, q->project_id, LIC_ID_LEN);
  }
  bad |= lic_mp_pack_cstr(&pk, "v") | msgpack_pack_int64(&pk, FILE_VERSION);
  bad |= lic_mp_pack_cstr(&pk, "hwm") | msgpack_pack_int64(&pk, s->hwm);
  bad |= lic_mp_pack_cstr(&pk, "server") | lic_mp_pack_cstr(&pk, s->server);
  if (s->have_valid) {
    bad |= lic_mp_pack_cstr(&pk, "response") | lic_mp_pack_bin(&pk, s->proof, s->proof_len);
    bad |= lic_mp_pack_cstr(&pk, "nonce") | lic_mp_pack_bin(&pk, s->proof_nonce, s->proof_nonce_len);
    bad |= lic_mp_pack_cstr(&pk, "checked_at") | msgpack_pack_int64(&pk, s->proof_checked_at);
  }
  if (s->denied) {
    bad |= lic_mp_pack_cstr(&pk, "denied") | lic_mp_pack_cstr(&pk, lic_status_name(s->denial));
    bad |= lic_mp_pack_cstr(&pk, "reason") | lic_mp_pack_cstr(&pk, s->denial_reason);
  }
  rc = bad ? LIC_NOMEM : lic_file_write(s->path, sb.data, sb.size, 0600, 0);
  if (rc != LIC_OK) {
    set_file_error(s, "", lic_errfull(rc));
  } else {
    /* The mark again on its own, after the state: restoring an older state
     * file alone does not take the mark back. */
    char line[24];
    int ln = snprintf(line, sizeof line, "%lld\n", (long long)s->hwm);
    if ((rc = lic_file_write(s->clock_path, line, (size_t)ln, 0600, 0)) != LIC_OK)
      snprintf(s->last_error, sizeof s->last_error, "clock file %s: %s", s->clock_path,
               lic_errfull(rc));
  }
  if (rc == LIC_OK)
    s->hwm_saved = s->hwm;
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

/* Read the state file and check its verdict again exactly as if it had just
 * arrived (trust store, chain, node, license id, terms), at the time we first
 * checked it. Nothing in the file is believed that is not signed, except the
 * high-water mark (which can only make the session stricter) and a denial
 * (which can only end the license). */
/* The second mark: raises s->hwm, never lowers it. A missing file is an
 * older install's (or a first start); a bad one is said and ignored. */
static void load_clock(lic_session *s) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int64_t hwm;
  int rc = lic_file_read_regular(s->clock_path, 64, &buf, &len);
  if (rc == LIC_OK) {
    while (len > 0 && buf[len - 1] == '\n')
      buf[--len] = '\0';
    if ((rc = lic_parse_int((const char *)buf, 0, INT64_MAX, &hwm)) == LIC_OK && hwm > s->hwm)
      s->hwm = hwm;
  }
  if (rc != LIC_OK && rc != LIC_NOTFOUND)
    snprintf(s->last_error, sizeof s->last_error, "clock file %s ignored: %s", s->clock_path,
             lic_errfull(rc));
  free(buf);
}

static int load(lic_session *s) {
  uint8_t *buf = NULL;
  size_t len = 0;
  lic_mp_obj o;
  lic_verify_result res;
  int64_t ver, hwm, checked_at;
  const uint8_t *body, *nonce;
  size_t blen, nlen;
  char *server = NULL, *denied = NULL, *reason = NULL;
  int rc;

  memset(&res, 0, sizeof res);
  if ((rc = lic_file_read_regular(s->path, LIC_SESSION_MAX_FILE, &buf, &len)) != LIC_OK)
    goto out;
  if ((rc = lic_mp_obj_parse(buf, len, &o)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "v", FILE_VERSION, FILE_VERSION, &ver)) != LIC_OK ||
      (rc = lic_mp_get_int(&o, "hwm", 0, INT64_MAX, &hwm)) != LIC_OK ||
      (rc = lic_mp_get_str(&o, "server", 0, sizeof s->server - 1, &server)) != LIC_OK)
    goto out;
  if (hwm > s->hwm)
    s->hwm = hwm;
  s->hwm_saved = s->hwm;
  for (size_t i = 0; i < s->nurls; i++)
    if (strcmp(s->urls[i], server) == 0)
      s->preferred = i;
  if (lic_mp_obj_has(&o, "denied")) {
    int st;
    if ((rc = lic_mp_get_str(&o, "denied", 1, 64, &denied)) != LIC_OK ||
        (rc = lic_mp_get_str(&o, "reason", 0, LIC_MAX_REASON, &reason)) != LIC_OK)
      goto out;
    if ((st = lic_status_from_name(denied)) < 0 || st == LIC_STATUS_VALID) {
      rc = lic__fail(LIC_FORMAT, "'%s' is not a denial", denied);
      goto out;
    }
    s->denied = true;
    s->denial = (lic_status)st;
    snprintf(s->denial_reason, sizeof s->denial_reason, "%s", reason);
    snprintf(s->server, sizeof s->server, "%s", server);
  }
  if (lic_mp_obj_has(&o, "response")) {
    if ((rc = lic_mp_get_bin(&o, "response", 1, LIC_VERIFY_MAX_RESPONSE, &body, &blen)) != LIC_OK ||
        (rc = lic_mp_get_bin(&o, "nonce", LIC_NONCE_MIN, LIC_NONCE_MAX, &nonce, &nlen)) != LIC_OK ||
        (rc = lic_mp_get_int(&o, "checked_at", 0, INT64_MAX, &checked_at)) != LIC_OK)
      goto out;
    if ((rc = lic_verify_response(&s->vo, nonce, nlen, checked_at, body, blen, &res)) != LIC_OK)
      goto out;
    if (res.verdict.status != LIC_STATUS_VALID) {
      rc = lic__fail(LIC_FORMAT, "the stored verdict is not valid");
      goto out;
    }
    if (!s->denied) {
      adopt_valid(s, &res, checked_at);
      snprintf(s->server, sizeof s->server, "%s", server);
    }
  }
out:
  if (rc != LIC_OK && rc != LIC_NOTFOUND) {
    set_file_error(s, " ignored", lic_errfull(rc));
    s->denied = false;
  }
  lic_verify_result_clear(&res);
  free(server);
  free(denied);
  free(reason);
  free(buf);
  return rc;
}

/* --- the state machine --------------------------------------------------- */

static int64_t grace_until(const lic_session *s) {
  int64_t g = s->last_valid + s->lv_grace;
  if (s->lv_expires != 0 && s->lv_expires < g)
    g = s->lv_expires;
  return g;
}

/* The last valid verdict's license (or account) is on the kept list: it
 * reads revoked, whichever server said valid and whenever the list came. */
static bool listed(lic_session *s) {
  if (!s->have_valid || s->lv_license[0] == '\0' || s->rev.seq == 0)
    return false;
  if (!(s->lv_account ? lic_revocations_has_account(&s->rev, s->lv_id)
                      : lic_revocations_has_license(&s->rev, s->lv_id)))
    return false;
  snprintf(s->rev_detail, sizeof s->rev_detail,
           "the %s is on the vendor's revocation list (seq %lld)",
           s->lv_account ? "account" : "license", (long long)s->rev.seq);
  return true;
}

/* A list a server sent with a checked answer: kept when newer (verified
 * against the trust store; a forged one changes nothing), noted either way. */
static void take_revocations(lic_session *s, const lic_verify_result *res, const char *url) {
  lic_revocations rv;
  bool replaced = false;
  if (res->revocations == NULL || s->dir == NULL)
    return;
  int rc = lic_revocations_remember(s->dir, res->revocations, res->revocations_len, s->vo.trust,
                                    &rv, &replaced);
  s->rev_refused = rc != LIC_OK;
  if (rc != LIC_OK) {
    snprintf(s->rev_note, sizeof s->rev_note, "revocation list from %s ignored: %s", url,
             lic_errfull(rc));
  } else {
    if (replaced)
      snprintf(s->rev_note, sizeof s->rev_note, "revocation list seq %lld from %s kept",
               (long long)rv.seq, url);
    else
      snprintf(s->rev_note, sizeof s->rev_note,
               "revocation list from %s not newer than the kept seq %lld", url,
               (long long)rv.seq);
    lic_revocations_clear(&s->rev);
    s->rev = rv;
    s->vo.revocations_seq = s->rev.seq;
  }
  s->rev_events++;
}

static void compute(lic_session *s, int64_t now) {
  if (s->rollback) {
    s->state = LIC_SESSION_UNLICENSED, s->reason = "clock_rollback";
  } else if (s->denied) {
    s->state = LIC_SESSION_UNLICENSED, s->reason = lic_status_name(s->denial);
  } else if (listed(s)) {
    s->state = LIC_SESSION_UNLICENSED, s->reason = lic_status_name(LIC_STATUS_REVOKED);
  } else if (!s->have_valid) {
    s->state = LIC_SESSION_UNLICENSED, s->reason = "no_verdict";
  } else if (now >= grace_until(s)) {
    s->state = LIC_SESSION_UNLICENSED;
    s->reason = s->lv_expires != 0 && now >= s->lv_expires ? "expired" : "grace_expired";
  } else if (now < s->last_valid + s->lv_heartbeat && !s->last_failed) {
    s->state = LIC_SESSION_LICENSED, s->reason = "valid";
  } else {
    s->state = LIC_SESSION_GRACE, s->reason = s->last_failed ? "check_failed" : "stale";
  }
  /* What each state promises the application (docs/integration.md): licensed
   * or in grace only on a kept valid verdict, never after a trustworthy
   * denial or a clock rollback; a denial is never "valid". */
  assert(s->state == LIC_SESSION_UNLICENSED ||
         (s->have_valid && !s->denied && !s->rollback && now < grace_until(s)));
  assert(s->state != LIC_SESSION_LICENSED || !s->last_failed);
  assert(!s->denied || s->denial != LIC_STATUS_VALID);
  assert(s->reason != NULL);
}

/* One check round: servers in order, the one that last answered first; the
 * first trustworthy answer (valid or a denial) ends the round. */
static void check_round(lic_session *s, int64_t now) {
  char errs[ERR_CAP] = "";
  size_t elen = 0;
  lic_verify_result res;

  s->checked_at = now;
  for (size_t k = 0; k < s->nurls; k++) {
    size_t i = k == 0 ? s->preferred : (k <= s->preferred ? k - 1 : k);
    s->vo.url = s->urls[i];
    memset(&res, 0, sizeof res);
    lic_errdetail_clear();
    int rc = s->transport(s->transport_ctx, &s->vo, &res);
    if (rc == LIC_OK && res.unchecked)
      /* A denial without a chain is unsigned: anyone on the path could send
       * one, so it ends no grace; it counts as a failing server. */
      rc = lic__fail(LIC_DENIED, "%s: %s (unsigned: the server sent no license)",
                     lic_status_name(res.verdict.status), res.verdict.reason);
    if (rc != LIC_OK) {
      int n = snprintf(errs + elen, sizeof errs - elen, "%s%s: %s", elen > 0 ? "; " : "",
                       s->urls[i], lic_errfull(rc));
      if (n > 0)
        elen = (size_t)n < sizeof errs - elen ? elen + (size_t)n : sizeof errs - 1;
      lic_verify_result_clear(&res);
      continue;
    }
    /* A trustworthy answer. */
    take_revocations(s, &res, s->urls[i]);
    s->preferred = i;
    snprintf(s->server, sizeof s->server, "%s", s->urls[i]);
    s->last_failed = false;
    s->failures = 0;
    s->last_error[0] = '\0';
    if (res.verdict.status == LIC_STATUS_VALID) {
      s->denied = false;
      s->denials = 0;
      s->rollback = false;
      /* Our clock agrees with a trusted server's (within the allowed skew):
       * whatever set the mark higher was wrong, not this clock. */
      s->hwm = now;
      /* The proof is stored as checked at this round's time: reloaded, it
       * counts from the same moment (the exchange's own clock reading was a
       * second later at times, moving grace_until across a restart). */
      res.checked_at = now;
      adopt_valid(s, &res, now);
      int64_t due = s->last_valid + s->lv_heartbeat;
      s->next_check = due > now ? due : now + 1;
    } else {
      clear_valid(s);
      s->denied = true;
      s->denial = res.verdict.status;
      snprintf(s->denial_reason, sizeof s->denial_reason, "%s", res.verdict.reason);
      verdict_terms(&res, &s->heartbeat, &s->grace);
      s->next_check = now + lic_session_backoff_jitter(s->heartbeat, ++s->denials);
    }
    lic_verify_result_clear(&res);
    save(s);
    return;
  }
  s->last_failed = true;
  s->failures++;
  snprintf(s->last_error, sizeof s->last_error, "%s", errs);
  s->next_check = now + lic_session_backoff_jitter(s->heartbeat, s->failures);
}

int64_t lic_session_tick(lic_session *s, int64_t now) {
  /* The clock went back: nothing measured on it can be believed. */
  if (now + LIC_SESSION_ROLLBACK < s->hwm) {
    if (!s->rollback)
      s->next_check = now; /* ask at once: a trusted server can vouch for the clock */
    s->rollback = true;
  } else {
    s->rollback = false;
    if (now > s->hwm)
      s->hwm = now;
  }
  if (s->force || now >= s->next_check) {
    s->force = false;
    check_round(s, now);
  }
  if (!s->rollback && s->hwm - s->hwm_saved >= LIC_SESSION_BASE_RETRY)
    save(s);
  compute(s, now);

  int64_t wake = s->next_check;
  if (s->have_valid && !s->denied && !s->rollback) {
    int64_t hb_end = s->last_valid + s->lv_heartbeat, gu = grace_until(s);
    if (s->state == LIC_SESSION_LICENSED && hb_end > now && hb_end < wake)
      wake = hb_end;
    if (gu > now && gu < wake)
      wake = gu;
  }
  return wake > now ? wake : now + 1;
}

void lic_session_check_now(lic_session *s) { s->force = true; }

void lic_session_info_get(const lic_session *s, lic_session_info *info) {
  static const lic_strlist none = {0, NULL};
  memset(info, 0, sizeof *info);
  info->state = s->state;
  info->reason = s->reason != NULL ? s->reason : "no_verdict";
  info->detail = s->denied                                    ? s->denial_reason
                 : s->reason != NULL && strcmp(s->reason, "revoked") == 0 ? s->rev_detail
                                                                          : "";
  info->features = s->have_valid ? &s->features : &none;
  info->expires = s->have_valid ? s->lv_expires : 0;
  info->license = s->have_valid ? s->lv_license : "";
  info->grace_until = s->have_valid ? grace_until(s) : 0;
  info->last_valid = s->have_valid ? s->last_valid : 0;
  info->heartbeat = s->heartbeat;
  info->grace = s->grace;
  info->last_error = s->last_error;
  info->server = s->server;
  info->checked_at = s->checked_at;
  info->next_check = s->next_check;
  info->failures = s->failures;
  info->revocations_seq = s->rev.seq;
  info->revocations_note = s->rev_note;
  info->revocations_events = s->rev_events;
  info->revocations_refused = s->rev_refused;
}

static int default_transport(void *ctx, const lic_verify_opts *o, lic_verify_result *res) {
  (void)ctx;
  return lic_verify(o, res);
}

int lic_session_new(const lic_session_opts *o, int64_t now, lic_session **out) {
  lic_session *s = NULL;
  int rc;

  *out = NULL;
  if (o->nurls < 1 || o->nurls > LIC_SESSION_MAX_SERVERS || o->urls == NULL)
    return lic__fail(LIC_INVALID, "give 1 to %d server URLs", LIC_SESSION_MAX_SERVERS);
  if (o->verify.trust == NULL || o->verify.domain == NULL || o->verify.node == NULL)
    return lic__fail(LIC_INVALID, "trust, domain and node are required");
  if ((s = calloc(1, sizeof *s)) == NULL)
    return LIC_NOMEM;
  s->vo = o->verify;
  s->vo.url = NULL;
  /* Every check a new connection (Connection: close): offering the last
   * check's TLS session skips the server's certificate signature. */
  if (o->verify.tls != NULL)
    s->tls = *o->verify.tls;
  if (s->tls.resume == NULL) {
    if ((rc = lic_tls_resume_new(&s->resume)) != LIC_OK)
      goto out;
    s->tls.resume = s->resume;
  }
  s->vo.tls = &s->tls;
  s->domain = strdup(o->verify.domain);
  s->node = strdup(o->verify.node);
  s->app = dup_or_null(o->verify.app);
  s->version = dup_or_null(o->verify.version);
  if (s->domain == NULL || s->node == NULL || (o->verify.app != NULL && s->app == NULL) ||
      (o->verify.version != NULL && s->version == NULL)) {
    rc = LIC_NOMEM;
    goto out;
  }
  s->vo.domain = s->domain, s->vo.node = s->node, s->vo.app = s->app, s->vo.version = s->version;
  if (o->verify.license != NULL) {
    memcpy(s->license_id, o->verify.license, LIC_ID_LEN);
    s->vo.license = s->license_id;
  }
  if (o->verify.account != NULL) { /* public mode: account + token + project id */
    if (o->verify.token == NULL || o->verify.project_id == NULL) {
      rc = lic__fail(LIC_INVALID, "an account needs its token and the project id");
      goto out;
    }
    memcpy(s->account, o->verify.account, LIC_ID_LEN);
    memcpy(s->project_id, o->verify.project_id, LIC_ID_LEN);
    if ((s->token = strdup(o->verify.token)) == NULL) {
      rc = LIC_NOMEM;
      goto out;
    }
    s->vo.account = s->account;
    s->vo.project_id = s->project_id;
    s->vo.token = s->token;
  }
  for (size_t i = 0; i < o->nurls; i++, s->nurls++)
    if (o->urls[i] == NULL || (s->urls[i] = strdup(o->urls[i])) == NULL) {
      rc = o->urls[i] == NULL ? lic__fail(LIC_INVALID, "server URL %zu is NULL", i) : LIC_NOMEM;
      goto out;
    }
  s->transport = o->transport != NULL ? o->transport : default_transport;
  s->transport_ctx = o->transport_ctx;
  s->heartbeat = LIC_DEFAULT_HEARTBEAT;
  s->grace = LIC_DEFAULT_GRACE;
  s->next_check = now; /* check at once */
  s->state = LIC_SESSION_UNLICENSED;
  s->reason = "no_verdict";
  if (o->state_dir != NULL) {
    size_t n = strlen(o->state_dir) + sizeof "/" LIC_SESSION_FILE;
    if ((s->path = malloc(n)) == NULL) {
      rc = LIC_NOMEM;
      goto out;
    }
    snprintf(s->path, n, "%s/%s", o->state_dir, LIC_SESSION_FILE);
    n = strlen(o->state_dir) + sizeof "/" LIC_SESSION_CLOCK_FILE;
    if ((s->clock_path = malloc(n)) == NULL) {
      rc = LIC_NOMEM;
      goto out;
    }
    snprintf(s->clock_path, n, "%s/%s", o->state_dir, LIC_SESSION_CLOCK_FILE);
    if ((rc = lic_mkdirs(o->state_dir, 0700)) != LIC_OK)
      goto out;
    load_clock(s);
    load(s); /* a bad file is reported in last_error and otherwise ignored */
    if ((s->dir = strdup(o->state_dir)) == NULL) {
      rc = LIC_NOMEM;
      goto out;
    }
    /* The kept list; one that no longer opens is noted (and a newer one
     * cannot replace it: remove it to start over, docs/revocation.md). */
    int rr = lic_revocations_remember(s->dir, NULL, 0, s->vo.trust, &s->rev, NULL);
    if (rr != LIC_OK && rr != LIC_NOTFOUND) {
      snprintf(s->rev_note, sizeof s->rev_note, "%s", lic_errfull(rr));
      s->rev_refused = true;
      s->rev_events++;
    }
    s->vo.revocations_seq = s->rev.seq;
  }
  /* What holds before the first check (a restart during an outage). */
  if (now + LIC_SESSION_ROLLBACK < s->hwm)
    s->rollback = true;
  compute(s, now);
  *out = s;
  s = NULL;
  rc = LIC_OK;
out:
  lic_session_free(s);
  return rc;
}

/* --- reading a state file without checking (licctl status) ------------------ */

int lic_session_read_state(const char *state_dir, const lic_trust *trust,
                           const lic_verify_opts *question, int64_t now, lic_session **out) {
  char path[4096];
  uint8_t *buf = NULL;
  size_t len = 0;
  lic_mp_obj o, q;
  lic_verify_opts vo;
  char *domain = NULL, *node = NULL, *app = NULL, *version = NULL;
  uint8_t license[LIC_ID_LEN], account[LIC_ID_LEN], project_id[LIC_ID_LEN];
  int64_t port = 0;
  int rc;

  *out = NULL;
  if ((size_t)snprintf(path, sizeof path, "%s/%s", state_dir, LIC_SESSION_FILE) >= sizeof path)
    return lic__fail(LIC_INVALID, "state directory path too long");
  if ((rc = lic_file_read_regular(path, LIC_SESSION_MAX_FILE, &buf, &len)) != LIC_OK)
    goto out;
  if (question == NULL) {
    /* The question the agent recorded beside its verdict. */
    memset(&vo, 0, sizeof vo);
    if ((rc = lic_mp_obj_parse(buf, len, &o)) != LIC_OK)
      goto out;
    if (!lic_mp_obj_has(&o, "question")) {
      rc = lic__fail(LIC_FORMAT, "%s records no question (an older agent's): give the agent's "
                     "--domain, --port and --node", path);
      goto out;
    }
    if ((rc = lic_mp_get_obj(&o, "question", &q)) != LIC_OK ||
        (rc = lic_mp_get_str(&q, "domain", 1, LIC_MAX_DOMAIN, &domain)) != LIC_OK ||
        (rc = lic_mp_get_int(&q, "port", 1, 65535, &port)) != LIC_OK ||
        (rc = lic_mp_get_str(&q, "node", 1, LIC_MAX_NAME, &node)) != LIC_OK ||
        (lic_mp_obj_has(&q, "app") &&
         (rc = lic_mp_get_str(&q, "app", 1, LIC_MAX_NAME, &app)) != LIC_OK) ||
        (lic_mp_obj_has(&q, "version") &&
         (rc = lic_mp_get_str(&q, "version", 1, LIC_MAX_NAME, &version)) != LIC_OK))
      goto out;
    vo.domain = domain, vo.port = port, vo.node = node, vo.app = app, vo.version = version;
    if (lic_mp_obj_has(&q, "license")) {
      if ((rc = lic_mp_get_binx(&q, "license", license, LIC_ID_LEN)) != LIC_OK)
        goto out;
      vo.license = license;
    }
    if (lic_mp_obj_has(&q, "account")) {
      if ((rc = lic_mp_get_binx(&q, "account", account, LIC_ID_LEN)) != LIC_OK ||
          (rc = lic_mp_get_binx(&q, "project_id", project_id, LIC_ID_LEN)) != LIC_OK)
        goto out;
      vo.account = account, vo.project_id = project_id;
      vo.token = ""; /* not stored; a stored answer is checked without sending anything */
    }
    question = &vo;
  }
  lic_session_opts so;
  static const char *const none[] = {"http://127.0.0.1:0"}; /* never asked */
  memset(&so, 0, sizeof so);
  so.verify = *question;
  so.verify.trust = trust;
  so.urls = none;
  so.nurls = 1;
  so.state_dir = state_dir;
  /* lic_session_new loads and re-checks the file and computes the state at
   * now as a restart would: no check round, nothing written. */
  rc = lic_session_new(&so, now, out);
out:
  free(buf);
  free(domain);
  free(node);
  free(app);
  free(version);
  return rc;
}
