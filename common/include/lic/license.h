/* license.h - the license (SPEC §3.3): build, parse, and the pure decision. */
#ifndef LIC_LICENSE_H
#define LIC_LICENSE_H

#include <stdbool.h>
#include <stdint.h>

#include "lic/api.h"
#include "lic/envelope.h"
#include "lic/limits.h"
#include "lic/machine.h"
#include "lic/mp.h"
#include "lic/status.h"
#include "lic/util.h"

#define LIC_DEFAULT_HEARTBEAT 7200
#define LIC_DEFAULT_GRACE     86400
/* SPEC §3.3: a heartbeat of 1 s is allowed (tests, demos); licgen warns
 * below LIC_WARN_HEARTBEAT. */
#define LIC_MIN_HEARTBEAT     1
#define LIC_MAX_HEARTBEAT     (30 * 86400)
#define LIC_WARN_HEARTBEAT    60

typedef enum { LIC_MODE_LOCAL, LIC_MODE_PRIVATE, LIC_MODE_PUBLIC } lic_mode;

LIC_API const char *lic_mode_name(lic_mode m);
/* -1 when unknown. */
LIC_API int lic_mode_from_name(const char *s);

typedef struct {
  uint8_t id[LIC_ID_LEN];
  lic_mode mode;
  int64_t issued, not_before, expires; /* expires 0 = perpetual */
  char *customer, *project, *product;
  uint8_t project_id[LIC_ID_LEN];
  int64_t major;
  lic_strlist features, domains, apps; /* empty domains/apps = any */
  int64_t *ports;                      /* empty = any */
  size_t nports;
  int64_t max_nodes;                   /* 0 = unlimited */
  bool has_machine;                    /* local and private */
  char machine_code[LIC_MACHINE_CODE_LEN + 1];
  uint8_t *macs;                       /* nmacs * LIC_MAC_HASH_LEN */
  size_t nmacs;
  bool has_node_key;                   /* private */
  uint8_t node_key[LIC_PUBKEY_LEN];
  int64_t heartbeat, grace;
  uint8_t rif[32];
  bool has_supersedes;                 /* a renewal or upgrade (docs/formats.md) */
  uint8_t supersedes[LIC_ID_LEN];      /* the license this one renews */
} lic_license;

LIC_API void lic_license_clear(lic_license *l);
LIC_API int lic_license_pack(const lic_license *l, uint8_t **body, size_t *len);
/* Strict parse plus consistency (mode needs machine/node_key, not_before <=
 * expires, valid domain patterns). */
LIC_API int lic_license_parse(const uint8_t *body, size_t len, lic_license *l);
/* Load a license file (armored or raw), verify against the trust store,
 * parse. *env_out (optional) gets the envelope bytes, malloc'd. */
LIC_API int lic_license_load(const char *path, const lic_trust *t, lic_license *l,
                             uint8_t **env_out, size_t *env_len);
/* Same, from envelope bytes in memory. */
LIC_API int lic_license_open(const uint8_t *env, size_t len, const lic_trust *t, lic_license *l);

/* A successor keeps its predecessor's binding: mode, machine, node_key,
 * customer, project, project_id, product, rif. Returns NULL when next keeps
 * prev's binding, else the name of the first field that differs. */
LIC_API const char *lic_license_binding_diff(const lic_license *prev, const lic_license *next);

/* What a report server asks for. app NULL / major < 0 mean "not given". */
typedef struct {
  const char *domain;
  int64_t port;
  const char *app;
  int64_t major;
} lic_check_req;

/* The terms licenses and accounts share (SPEC §3.3, §3.4), borrowed. */
typedef struct {
  int64_t major;                 /* 0 = any */
  const lic_strlist *domains;    /* empty = any */
  const int64_t *ports;
  size_t nports;                 /* 0 = any */
  const lic_strlist *apps;       /* empty = any */
} lic_terms;

/* not_before/expires (0 = perpetual) of "what" (license, account). */
LIC_API lic_status lic_window_decide(const char *what, int64_t not_before, int64_t expires,
                                     int64_t now, char *reason, size_t cap);
/* major version, domain, port, app, in SPEC order. */
LIC_API lic_status lic_terms_decide(const char *what, const lic_terms *t, const lic_check_req *q,
                                    char *reason, size_t cap);

/* The pure decision on the license terms, in SPEC order: not_before/expires,
 * major version, domain, port, app. reason gets a short human text. */
LIC_API lic_status lic_license_decide(const lic_license *l, const lic_check_req *q, int64_t now,
                                      char *reason, size_t cap);
/* Local mode: the machine first, then lic_license_decide. */
LIC_API lic_status lic_license_check_local(const lic_license *l, const lic_machine *m,
                                           const lic_check_req *q, int64_t now, char *reason,
                                           size_t cap);

/* "*.example.com" matches exactly one label; case-insensitive; a trailing dot
 * on either side is ignored. */
LIC_API bool lic_domain_match(const char *pattern, const char *host);
/* A host name or a one-label wildcard pattern, 1..253 bytes. */
LIC_API int lic_domain_check(const char *d, bool allow_wildcard);

#endif
