/* decide.c - the verify decision, a pure function of its inputs. */
#include <stdio.h>

#include "core/decide.h"

lic_status srv_decide(const srv_verify_req *q, const lic_license *lic, bool revoked, int64_t now,
                      int64_t high_water, char *reason, size_t cap) {
  if (high_water > 0 && now < high_water - SRV_ROLLBACK_SLACK) {
    snprintf(reason, cap, "server clock is %lld s behind the last time it saw",
             (long long)(high_water - now));
    return LIC_STATUS_CLOCK_ROLLBACK;
  }
  if (lic == NULL) {
    snprintf(reason, cap, "%s", q->has_license ? "no such license on this server"
                                               : "this server holds no single license: name one");
    return LIC_STATUS_UNKNOWN_LICENSE;
  }
  if (revoked) {
    snprintf(reason, cap, "%s", lic_status_reason(LIC_STATUS_REVOKED));
    return LIC_STATUS_REVOKED;
  }
  lic_check_req cq = {q->domain, q->port, q->app[0] != '\0' ? q->app : NULL, q->major};
  return lic_license_decide(lic, &cq, now, reason, cap);
}

/* The steps register and verify share: credentials, revocation, dates. */
static lic_status public_account(const srv_public_state *ps, int64_t now, int64_t high_water,
                                 char *reason, size_t cap) {
  if (high_water > 0 && now < high_water - SRV_ROLLBACK_SLACK) {
    snprintf(reason, cap, "server clock is %lld s behind the last time it saw",
             (long long)(high_water - now));
    return LIC_STATUS_CLOCK_ROLLBACK;
  }
  /* One answer for an unknown account and a wrong token: accounts cannot be
   * enumerated. */
  if (ps->acct == NULL || !ps->token_ok) {
    snprintf(reason, cap, "%s", lic_status_reason(LIC_STATUS_BAD_CREDENTIALS));
    return LIC_STATUS_BAD_CREDENTIALS;
  }
  if (ps->revoked) {
    snprintf(reason, cap, "account was revoked");
    return LIC_STATUS_REVOKED;
  }
  return lic_window_decide("account", ps->acct->not_before, ps->acct->expires, now, reason, cap);
}

static lic_check_req check_req(const srv_verify_req *q) {
  lic_check_req cq = {q->domain, q->port, q->app[0] != '\0' ? q->app : NULL, q->major};
  return cq;
}

lic_status srv_decide_public(const srv_verify_req *q, const srv_public_state *ps, int64_t now,
                             int64_t high_water, char *reason, size_t cap) {
  lic_status st = public_account(ps, now, high_water, reason, cap);
  if (st != LIC_STATUS_VALID)
    return st;
  lic_check_req cq = check_req(q);
  return lic_account_decide(ps->acct, &cq, now, ps->registered, reason, cap);
}

lic_status srv_decide_register(const srv_verify_req *q, const srv_public_state *ps, size_t used,
                               int64_t now, int64_t high_water, char *reason, size_t cap) {
  lic_status st = public_account(ps, now, high_water, reason, cap);
  if (st != LIC_STATUS_VALID)
    return st;
  lic_check_req cq = check_req(q);
  const lic_account *a = ps->acct;
  lic_terms t = {a->major, &a->domains, a->ports, a->nports, &a->apps};
  if ((st = lic_terms_decide("account", &t, &cq, reason, cap)) != LIC_STATUS_VALID)
    return st;
  if (!ps->registered && used >= (size_t)a->capacity) {
    snprintf(reason, cap, "all %lld registrations of the account are taken",
             (long long)a->capacity);
    return LIC_STATUS_CAPACITY_EXHAUSTED;
  }
  snprintf(reason, cap, "%s", ps->registered ? "project is registered" : "project registered");
  return LIC_STATUS_VALID;
}
