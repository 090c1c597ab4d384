/* core/expiry.c - license terms for operators and the days left to expiry. */
#include <stdio.h>
#include <string.h>

#include "core/expiry.h"
#include "lic/envelope.h"
#include "lic/err.h"
#include "lic/license.h"

void licsrv_terms_read(const store_license *sl, licsrv_terms *t) {
  lic_envelope env;
  lic_license l;

  memset(t, 0, sizeof *t);
  memcpy(t->id, sl->id, LIC_ID_LEN);
  t->revoked = sl->revoked;
  t->imported = sl->imported;
  t->revoked_at = sl->revoked_at;
  memset(&l, 0, sizeof l);
  if (lic_envelope_decode(sl->env, sl->env_len, &env) != LIC_OK ||
      strcmp(env.typ, "license") != 0 || lic_license_parse(env.body, env.body_len, &l) != LIC_OK)
    return;
  t->readable = true;
  snprintf(t->customer, sizeof t->customer, "%s", l.customer != NULL ? l.customer : "");
  t->not_before = l.not_before;
  t->expires = l.expires;
  t->max_nodes = l.max_nodes;
  t->heartbeat = l.heartbeat;
  lic_license_clear(&l);
}

int64_t licsrv_days_left(int64_t expires, int64_t now) {
  if (expires == 0)
    return INT64_MAX;
  int64_t d = expires - now;
  /* Floor division: one second past expiry is day -1, not day 0. */
  return d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
}

bool licsrv_expiry_near(const licsrv_terms *t, int64_t now) {
  return t->readable && !t->revoked && t->expires != 0 &&
         licsrv_days_left(t->expires, now) < LICSRV_EXPIRY_WARN_DAYS;
}

void licsrv_expiry_text(const licsrv_terms *t, int64_t now, char *buf, size_t cap) {
  char id[LIC_UUID_LEN + 1], until[LIC_UNTIL_LEN], at[21];
  int64_t days = licsrv_days_left(t->expires, now);
  lic_uuid_format(t->id, id);
  lic_until_format(t->expires, until);
  lic_time_format(t->expires, at);
  if (t->expires <= now)
    snprintf(buf, cap, "license %s (%s) ended at %s", id, t->customer, at);
  else
    snprintf(buf, cap, "license %s (%s) ends in %lld day%s (%s)", id, t->customer,
             (long long)days, days == 1 ? "" : "s", until);
}

bool licsrv_expiry_log_due(licsrv_expiry_log *l, const uint8_t id[LIC_ID_LEN], int64_t now) {
  size_t oldest = 0;
  for (size_t i = 0; i < LICSRV_EXPIRY_LOG_SLOTS; i++) {
    if (l->slot[i].at != 0 && memcmp(l->slot[i].id, id, LIC_ID_LEN) == 0) {
      /* A clock stepped back counts as due too: better a warning too many. */
      if (now - l->slot[i].at < LICSRV_EXPIRY_WARN_EVERY && now >= l->slot[i].at)
        return false;
      l->slot[i].at = now;
      return true;
    }
    if (l->slot[i].at < l->slot[oldest].at)
      oldest = i;
  }
  memcpy(l->slot[oldest].id, id, LIC_ID_LEN);
  l->slot[oldest].at = now != 0 ? now : 1;
  return true;
}
