/* config.c - licsrv settings: one table of keys shared by the INI file and the flags. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ini.h>

#include "util/config.h"
#include "util/log.h"

typedef enum { K_STR, K_U32, K_SIZE, K_MS, K_BOOL, K_ADDR } key_type;

typedef struct {
  const char *name;
  key_type type;
  size_t off;  /* offset in srv_config */
  size_t size; /* K_STR/K_ADDR: buffer size */
  uint64_t min, max;
  const char *help;
} key_def;

#define O(f) offsetof(srv_config, f)
#define S(f) sizeof(((srv_config *)0)->f)
static const key_def keys[] = {
    {"listen", K_ADDR, O(listen), S(listen), 0, 0, "HOST:PORT of the verify API (127.0.0.1:7470)"},
    {"admin_listen", K_ADDR, O(admin_listen), S(admin_listen), 0, 0,
     "HOST:PORT of the admin API (127.0.0.1:7471)"},
    {"threads", K_U32, O(threads), 0, 1, 256, "worker loops (default: the number of online cores)"},
    {"data", K_STR, O(data), S(data), 0, 0, "data directory (/var/lib/licsrv)"},
    {"store", K_STR, O(store), S(store), 0, 0,
     "a postgresql:// URL for a shared public-mode store (empty: DATA/store)"},
    {"max_body", K_SIZE, O(lim.max_body), 0, 1, 64u << 20, "largest request body, bytes (64K)"},
    {"max_header_bytes", K_SIZE, O(lim.max_header_bytes), 0, 256, 1u << 20,
     "request line + headers, bytes (8K)"},
    {"max_headers", K_U32, O(lim.max_headers), 0, 1, 1024, "header fields per request (64)"},
    {"max_connections", K_U32, O(lim.max_connections), 0, 1, 10000000,
     "open connections on the public listener (20000)"},
    {"admin_max_connections", K_U32, O(lim.admin_max_connections), 0, 1, 10000000,
     "open connections on the admin listener, counted apart (256)"},
    {"max_connections_per_ip", K_U32, O(lim.max_connections_per_ip), 0, 0, 10000000,
     "open public connections per client address, 0 = off (1000)"},
    {"header_timeout_ms", K_MS, O(lim.header_timeout_ms), 0, 1, 3600000,
     "time to receive a whole request once it started (10000)"},
    {"idle_timeout_ms", K_MS, O(lim.idle_timeout_ms), 0, 1, 86400000,
     "keep-alive connection without a request (60000)"},
    {"write_timeout_ms", K_MS, O(lim.write_timeout_ms), 0, 1, 3600000,
     "time for one write to the client to complete (10000)"},
    {"rate_per_ip", K_U32, O(lim.rate_per_ip), 0, 0, 10000000,
     "requests per second per client address, 0 = off (0)"},
    {"rate_burst", K_U32, O(lim.rate_burst), 0, 0, 10000000,
     "burst above rate_per_ip, 0 = rate_per_ip (0)"},
    {"shutdown_timeout_ms", K_MS, O(lim.shutdown_timeout_ms), 0, 0, 600000,
     "drain time on SIGTERM before closing the rest (5000)"},
    {"log_full_ips", K_BOOL, O(lim.log_full_ips), 0, 0, 0,
     "log whole client addresses instead of /24 and /48 (false)"},
    {"access_log", K_STR, O(access_log), S(access_log), 0, 0,
     "per-request log lines: all, errors (status >= 400) or off (all)"},
    {"failure_list_size", K_U32, O(app.failure_list_size), 0, 1, 1000000,
     "failed checks kept per license, the most recent (1000)"},
    {"unlimited_max_nodes", K_U32, O(app.unlimited_max_nodes), 0, 1, 10000000,
     "nodes remembered for a license without max_nodes, oldest idle evicted (10000)"},
    {"new_nodes_per_hour", K_U32, O(app.new_nodes_per_hour), 0, 0, 10000000,
     "new node names one client address may introduce per hour, 0 = off (1000)"},
    {"account_requests_per_minute", K_U32, O(app.account_requests_per_minute), 0, 0, 10000000,
     "public mode: requests one account may make per minute (register, unregister, verify), past "
     "it 429 with Retry-After; 0 = off (600)"},
    {"account_new_nodes_per_hour", K_U32, O(app.account_new_nodes_per_hour), 0, 0, 10000000,
     "public mode: new node names one account may bring per hour, past it 429 with Retry-After; "
     "0 = off (1000)"},
    {"account_unregisters_per_hour", K_U32, O(app.account_unregisters_per_hour), 0, 0, 10000000,
     "public mode: registrations one account may free per hour (bounds register/unregister "
     "churn and its audit), past it 429 with Retry-After; 0 = off (100)"},
    {"account_store_quota", K_U32, O(app.account_store_quota), 0, 0, 4000000000u,
     "public mode: records one account may hold in the store, past it 507 "
     "account_store_full; the largest stop first at 90% of the map; 0 = off (50000)"},
    {"node_secret", K_STR, O(app.node_secret), S(app.node_secret), 0, 0,
     "shared secret every verify must carry, unset = none (unset)"},
    {"store_map_size", K_SIZE, O(app.store_map_size), 0, 256u << 10, 4095u << 20,
     "LMDB map size, bytes (1024M); a full map is said in /healthz and the log"},
    {"tls_cert", K_STR, O(tls_cert), S(tls_cert), 0, 0,
     "PEM certificate (chain) for TLS on both listeners (none: plain HTTP)"},
    {"tls_key", K_STR, O(tls_key), S(tls_key), 0, 0, "PEM private key of tls_cert"},
    {"admin_tls_cert", K_STR, O(admin_tls_cert), S(admin_tls_cert), 0, 0,
     "PEM certificate for the admin listener (default: tls_cert)"},
    {"admin_tls_key", K_STR, O(admin_tls_key), S(admin_tls_key), 0, 0,
     "PEM private key of admin_tls_cert"},
    {"tls_ticket_lifetime_s", K_U32, O(tls_ticket_lifetime_s), 0, 3600, 604800,
     "seconds a TLS session resumes: the longest heartbeat served + 10% + an hour at least (14400)"},
    {"allow_expired_cert", K_BOOL, O(allow_expired_cert), 0, 0, 0,
     "serve a TLS certificate that is expired or not yet valid, at start and on SIGHUP (false)"},
    {"behind_tls_proxy", K_BOOL, O(behind_tls_proxy), 0, 0, 0,
     "public mode: a proxy in front terminates TLS, so plain HTTP may listen beyond loopback (false)"},
    {"registration_ttl_days", K_U32, O(registration_ttl_days), 0, 0, 36500,
     "public mode: release a registration without a valid verify for this many days (0 = never)"},
};
#undef O
#undef S
#define NKEYS (sizeof keys / sizeof keys[0])

int srv_errf(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (err != NULL && errlen > 0)
    vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

void srv_config_defaults(srv_config *cfg) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->listen, sizeof cfg->listen, "127.0.0.1:7470");
  snprintf(cfg->admin_listen, sizeof cfg->admin_listen, "127.0.0.1:7471");
  cfg->threads = n < 1 ? 1 : n > 256 ? 256 : (uint32_t)n;
  snprintf(cfg->data, sizeof cfg->data, "/var/lib/licsrv");
  cfg->lim.max_body = 64 * 1024;
  cfg->lim.max_header_bytes = 8 * 1024;
  cfg->lim.max_headers = 64;
  cfg->lim.max_connections = SRV_DEFAULT_MAX_CONNECTIONS;
  cfg->lim.admin_max_connections = SRV_DEFAULT_ADMIN_MAX_CONNECTIONS;
  cfg->lim.max_connections_per_ip = 1000;
  cfg->lim.header_timeout_ms = 10000;
  cfg->lim.idle_timeout_ms = 60000;
  cfg->lim.write_timeout_ms = 10000;
  cfg->lim.rate_per_ip = 0;
  cfg->lim.rate_burst = 0;
  cfg->lim.shutdown_timeout_ms = 5000;
  cfg->lim.log_full_ips = false;
  snprintf(cfg->access_log, sizeof cfg->access_log, "all");
  cfg->tls_ticket_lifetime_s = 4 * 3600; /* a 2-hour heartbeat + 10% + an hour, rounded up */
  cfg->app.failure_list_size = 1000;
  cfg->app.unlimited_max_nodes = 10000;
  cfg->app.new_nodes_per_hour = 1000;
  cfg->app.account_requests_per_minute = 600;
  cfg->app.account_new_nodes_per_hour = 1000;
  cfg->app.account_unregisters_per_hour = 100;
  cfg->app.account_store_quota = 50000; /* SRV_ACCOUNT_STORE_QUOTA (core/quota.h) */
  cfg->app.store_map_size = 1024u << 20;
}

/* "--max-body" and "max_body" name the same key. */
static const key_def *key_find(const char *name) {
  for (size_t i = 0; i < NKEYS; i++) {
    const char *a = keys[i].name, *b = name;
    while (*a != '\0' && (*a == *b || (*a == '_' && *b == '-')))
      a++, b++;
    if (*a == '\0' && *b == '\0')
      return &keys[i];
  }
  return NULL;
}

bool srv_config_has_key(const char *key) { return key_find(key) != NULL; }

bool srv_config_key_is_bool(const char *key) {
  const key_def *k = key_find(key);
  return k != NULL && k->type == K_BOOL;
}

static int parse_u64(const char *v, bool suffix, uint64_t *out) {
  char *end = NULL;
  if (*v < '0' || *v > '9') /* no sign, no blanks */
    return -1;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno != 0 || end == v)
    return -1;
  uint64_t mul = 1;
  if (suffix && (*end == 'k' || *end == 'K'))
    mul = 1024, end++;
  else if (suffix && (*end == 'm' || *end == 'M'))
    mul = 1024 * 1024, end++;
  if (*end != '\0' || x > UINT64_MAX / mul)
    return -1;
  *out = (uint64_t)x * mul;
  return 0;
}

int srv_addr_split(const char *addr, char *host, size_t hostlen, uint16_t *port) {
  const char *colon, *h = addr;
  size_t hl;
  uint64_t p;
  if (addr[0] == '[') {
    const char *close = strchr(addr, ']');
    if (close == NULL || close[1] != ':')
      return -1;
    h = addr + 1;
    hl = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(addr, ':');
    if (colon == NULL)
      return -1;
    hl = (size_t)(colon - addr);
  }
  if (hl == 0 || hl >= hostlen || parse_u64(colon + 1, false, &p) != 0 || p > 65535)
    return -1;
  memcpy(host, h, hl);
  host[hl] = '\0';
  *port = (uint16_t)p;
  return 0;
}

int srv_addr_resolve(const char *addr, char *out, size_t outlen, char *err, size_t errlen) {
  char host[SRV_MAX_ADDR], ip[INET6_ADDRSTRLEN];
  uint16_t port;
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM};
  struct addrinfo *ai = NULL, *pick;
  int e;
  if (srv_addr_split(addr, host, sizeof host, &port) != 0)
    return srv_errf(err, errlen, "%s: not HOST:PORT", addr);
  /* Numeric first: no resolver is asked for an address it does not need. */
  if ((e = getaddrinfo(host, NULL, &hints, &ai)) != 0) {
    hints.ai_flags = AI_ADDRCONFIG;
    if ((e = getaddrinfo(host, NULL, &hints, &ai)) != 0)
      return srv_errf(err, errlen, "%s: cannot resolve '%s': %s", addr, host, gai_strerror(e));
  }
  pick = ai;
  for (struct addrinfo *p = ai; p != NULL; p = p->ai_next)
    if (p->ai_family == AF_INET) {
      pick = p;
      break;
    }
  const void *a = pick->ai_family == AF_INET6
                      ? (const void *)&((struct sockaddr_in6 *)(void *)pick->ai_addr)->sin6_addr
                      : (const void *)&((struct sockaddr_in *)(void *)pick->ai_addr)->sin_addr;
  int fam = pick->ai_family;
  if (inet_ntop(fam, a, ip, sizeof ip) == NULL) {
    freeaddrinfo(ai);
    return srv_errf(err, errlen, "%s: %s", addr, strerror(errno));
  }
  freeaddrinfo(ai);
  int n = snprintf(out, outlen, fam == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, (unsigned)port);
  if (n < 0 || (size_t)n >= outlen)
    return srv_errf(err, errlen, "%s: address too long", addr);
  return 0;
}

int srv_config_set(srv_config *cfg, const char *key, const char *value, char *err,
                   size_t errlen) {
  const key_def *k = key_find(key);
  char *dst;
  uint64_t v = 0;
  if (k == NULL)
    return srv_errf(err, errlen, "unknown key '%s'", key);
  dst = (char *)cfg + k->off;
  switch (k->type) {
  case K_ADDR: {
    char host[SRV_MAX_ADDR];
    uint16_t port;
    if (srv_addr_split(value, host, sizeof host, &port) != 0)
      return srv_errf(err, errlen, "%s: '%s' is not HOST:PORT", k->name, value);
  }
  /* fall through */
  case K_STR:
    if (strlen(value) >= k->size)
      return srv_errf(err, errlen, "%s: value too long", k->name);
    memcpy(dst, value, strlen(value) + 1);
    return 0;
  case K_BOOL:
    if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1") ||
        !strcasecmp(value, "on"))
      *(bool *)(void *)dst = true;
    else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0") ||
             !strcasecmp(value, "off"))
      *(bool *)(void *)dst = false;
    else
      return srv_errf(err, errlen, "%s: '%s' is not a boolean (true/false)", k->name, value);
    return 0;
  case K_U32:
  case K_SIZE:
  case K_MS:
    if (parse_u64(value, k->type == K_SIZE, &v) != 0)
      return srv_errf(err, errlen, "%s: '%s' is not a non-negative integer%s", k->name, value,
                  k->type == K_SIZE ? " (K/M suffix allowed)" : "");
    if (v < k->min || v > k->max)
      return srv_errf(err, errlen, "%s: %s is out of range %llu..%llu", k->name, value,
                  (unsigned long long)k->min, (unsigned long long)k->max);
    if (k->type == K_MS || (k->type == K_SIZE && k->off == offsetof(srv_config, lim.max_body)))
      *(uint64_t *)(void *)dst = v;
    else
      *(uint32_t *)(void *)dst = (uint32_t)v;
    return 0;
  }
  return srv_errf(err, errlen, "%s: bad key type", k->name);
}

typedef struct {
  srv_config *cfg;
  char msg[256];
  bool failed;
} ini_ctx;

static int ini_cb(void *user, const char *section, const char *name, const char *value) {
  ini_ctx *x = user;
  if (x->failed)
    return 0; /* keep the first error; inih reports its line */
  if (section[0] != '\0' && strcmp(section, "licsrv") != 0) {
    snprintf(x->msg, sizeof x->msg, "unknown section [%s] (keys go at the top or in [licsrv])",
             section);
    x->failed = true;
    return 0;
  }
  if (value == NULL) {
    snprintf(x->msg, sizeof x->msg, "key '%s' has no value", name);
    x->failed = true;
    return 0;
  }
  if (srv_config_set(x->cfg, name, value, x->msg, sizeof x->msg) != 0) {
    x->failed = true;
    return 0;
  }
  return 1;
}

int srv_config_load(srv_config *cfg, const char *path, char *err, size_t errlen) {
  ini_ctx x = {.cfg = cfg};
  int line = ini_parse(path, ini_cb, &x);
  if (line == -1)
    return srv_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  if (line == -2)
    return srv_errf(err, errlen, "%s: out of memory", path);
  if (line != 0)
    return srv_errf(err, errlen, "%s:%d: %s", path, line, x.failed ? x.msg : "syntax error");
  return 0;
}

int srv_config_check(const srv_config *cfg, char *err, size_t errlen) {
  if ((cfg->tls_cert[0] != '\0') != (cfg->tls_key[0] != '\0'))
    return srv_errf(err, errlen, "tls_cert and tls_key go together: set both or neither");
  if ((cfg->admin_tls_cert[0] != '\0') != (cfg->admin_tls_key[0] != '\0'))
    return srv_errf(err, errlen,
                    "admin_tls_cert and admin_tls_key go together: set both or neither");
  srv_access_mode am;
  if (srv_access_mode_parse(cfg->access_log, &am) != 0)
    return srv_errf(err, errlen, "access_log: '%s' is not all, errors or off", cfg->access_log);
  size_t n = strlen(cfg->listen);
  if (strcmp(cfg->listen, cfg->admin_listen) == 0 && !(n >= 2 && strcmp(cfg->listen + n - 2, ":0") == 0))
    return srv_errf(err, errlen, "listen and admin_listen must differ (%s)", cfg->listen);
  if (cfg->lim.max_header_bytes > UINT32_MAX / 2)
    return srv_errf(err, errlen, "max_header_bytes too large");
  if (cfg->store[0] != '\0' && strncmp(cfg->store, "postgresql://", 13) != 0 &&
      strncmp(cfg->store, "postgres://", 11) != 0)
    return srv_errf(err, errlen, "store must be a postgresql:// URL (or empty for DATA/store)");
  return 0;
}

void srv_config_usage(void *file) {
  FILE *f = file;
  for (size_t i = 0; i < NKEYS; i++) {
    char flag[64];
    size_t j;
    for (j = 0; keys[i].name[j] != '\0' && j + 1 < sizeof flag; j++)
      flag[j] = keys[i].name[j] == '_' ? '-' : keys[i].name[j];
    flag[j] = '\0';
    fprintf(f, "  --%-22s %s\n", flag, keys[i].help);
  }
}

bool srv_host_is_loopback(const char *host) {
  return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
         strncmp(host, "127.", 4) == 0;
}

int srv_config_check_public(const srv_config *cfg, char *err, size_t errlen) {
  char host[SRV_MAX_ADDR];
  uint16_t port;
  if (cfg->tls_cert[0] != '\0' || cfg->behind_tls_proxy)
    return 0;
  if (srv_addr_split(cfg->listen, host, sizeof host, &port) != 0)
    return srv_errf(err, errlen, "listen '%s' is not HOST:PORT", cfg->listen);
  if (!srv_host_is_loopback(host))
    return srv_errf(err, errlen,
                    "public mode carries account tokens: plain HTTP on %s is refused (set "
                    "tls_cert/tls_key, or behind_tls_proxy = true when a proxy terminates TLS)",
                    cfg->listen);
  return 0;
}

/* One key's default as the INI file spells it. */
static void value_text(const srv_config *d, const key_def *k, char *buf, size_t cap) {
  const char *p = (const char *)d + k->off;
  switch (k->type) {
  case K_STR:
  case K_ADDR:
    snprintf(buf, cap, "%s", p);
    return;
  case K_BOOL:
    snprintf(buf, cap, "%s", *(const bool *)(const void *)p ? "true" : "false");
    return;
  case K_MS:
    snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)(const void *)p);
    return;
  case K_SIZE:
  case K_U32: {
    uint64_t v = k->type == K_SIZE && k->off == offsetof(srv_config, lim.max_body)
                     ? *(const uint64_t *)(const void *)p
                     : *(const uint32_t *)(const void *)p;
    if (k->type == K_SIZE && v != 0 && v % (1024 * 1024) == 0)
      snprintf(buf, cap, "%lluM", (unsigned long long)(v / (1024 * 1024)));
    else if (k->type == K_SIZE && v != 0 && v % 1024 == 0)
      snprintf(buf, cap, "%lluK", (unsigned long long)(v / 1024));
    else
      snprintf(buf, cap, "%llu", (unsigned long long)v);
    return;
  }
  }
  buf[0] = '\0';
}

void srv_config_print(void *file) {
  FILE *f = file;
  srv_config d;
  char v[SRV_MAX_PATHNAME];
  srv_config_defaults(&d);
  fprintf(f, "# licsrv.conf - settings of `licsrv serve --config FILE` (INI).\n"
             "# Generated from the server's own key table (licsrv serve --print-config):\n"
             "# every key, commented out, with its default. Uncomment to change one;\n"
             "# a --KEY VALUE flag of `licsrv serve` overrides the file. SIGHUP\n"
             "# (systemctl reload licsrv) re-reads the limits, not the addresses.\n"
             "\n[licsrv]\n");
  for (size_t i = 0; i < NKEYS; i++) {
    const key_def *k = &keys[i];
    value_text(&d, k, v, sizeof v);
    fprintf(f, "\n# %s\n", k->help);
    fprintf(f, "#%s = %s\n", k->name, v); /* threads: what runs here, this machine's cores */
  }
}
