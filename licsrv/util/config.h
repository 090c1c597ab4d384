/* config.h - licsrv server settings: safe defaults, the INI file and --flags. */
#ifndef LICSRV_CONFIG_H
#define LICSRV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_MAX_ADDR 256
#define SRV_MAX_PATHNAME 4096
/* Defaults fitted quietly to RLIMIT_NOFILE at start (an operator's own
 * values are capped with a warning). */
#define SRV_DEFAULT_MAX_CONNECTIONS 20000
#define SRV_DEFAULT_ADMIN_MAX_CONNECTIONS 256

/* The limits a running server can pick up again on SIGHUP. */
typedef struct {
  uint64_t max_body;          /* bytes of a request body */
  uint32_t max_header_bytes;  /* request line + headers */
  uint32_t max_headers;       /* header fields per request */
  uint32_t max_connections;   /* open client connections, all workers (public listener) */
  uint32_t admin_max_connections; /* open connections on the admin listener */
  uint32_t max_connections_per_ip; /* open public connections per client address, 0 = off */
  uint64_t header_timeout_ms; /* first byte of a request -> whole request read */
  uint64_t idle_timeout_ms;   /* keep-alive connection without a request */
  uint64_t write_timeout_ms;  /* one write to the client to complete */
  uint32_t rate_per_ip;       /* requests/s per client address, 0 = off */
  uint32_t rate_burst;        /* bucket size, 0 = same as rate_per_ip */
  uint64_t shutdown_timeout_ms; /* drain on SIGTERM before closing the rest */
  bool log_full_ips;          /* log whole client addresses (default: masked) */
} srv_limits;

/* The license server's own settings (core/, not the HTTP server's). */
#define SRV_MAX_SECRET 256
typedef struct {
  uint32_t failure_list_size;   /* failures kept per license (most recent) */
  uint32_t unlimited_max_nodes; /* seat table of a license without max_nodes */
  uint32_t new_nodes_per_hour;  /* new node names per client address and hour, 0 = off */
  uint32_t account_requests_per_minute; /* public mode: per account, 0 = off */
  uint32_t account_new_nodes_per_hour;  /* public mode: new node names per account, 0 = off */
  uint32_t account_unregisters_per_hour; /* public mode: slots freed per account, 0 = off */
  uint32_t account_store_quota; /* public mode: records one account may hold in the store, 0 = off */
  char node_secret[SRV_MAX_SECRET + 1]; /* "" = verify needs no secret */
  uint32_t store_map_size;      /* bytes of LMDB map (address space) */
} srv_app_settings;

typedef struct {
  char listen[SRV_MAX_ADDR];       /* HOST:PORT of the verify API */
  char admin_listen[SRV_MAX_ADDR]; /* HOST:PORT of the admin API */
  uint32_t threads;                /* worker loops */
  char data[SRV_MAX_PATHNAME];     /* data directory */
  char store[SRV_MAX_PATHNAME];    /* "" (DATA/store) or a postgresql:// URL */
  char tls_cert[SRV_MAX_PATHNAME]; /* PEM certificate (chain) of both listeners: TLS on */
  char tls_key[SRV_MAX_PATHNAME];  /* its PEM private key */
  char admin_tls_cert[SRV_MAX_PATHNAME]; /* the admin listener's own pair (default: the above) */
  char admin_tls_key[SRV_MAX_PATHNAME];
  char access_log[8];              /* "all" | "errors" | "off" (reloaded on SIGHUP) */
  bool behind_tls_proxy;           /* public mode: a proxy terminates TLS */
  uint32_t tls_ticket_lifetime_s;  /* a TLS session ticket resumes this long (seconds) */
  bool allow_expired_cert;         /* serve a certificate outside its validity (start, SIGHUP) */
  uint32_t registration_ttl_days;  /* public mode: release idle registrations, 0 = never */
  srv_limits lim;
  srv_app_settings app;
} srv_config;

/* Defaults: 127.0.0.1:7470 / :7471, one thread per core, 64 KiB bodies ... */
void srv_config_defaults(srv_config *cfg);
/* Set one key from text (the INI key or the flag without "--", '-' or '_').
 * 0 on success; otherwise -1 with a one-line reason in err. */
int srv_config_set(srv_config *cfg, const char *key, const char *value, char *err,
                   size_t errlen);
/* Whether key names a setting (for the command line), and a boolean one
 * (a bare --flag then means true). */
bool srv_config_has_key(const char *key);
bool srv_config_key_is_bool(const char *key);
/* Load an INI file over cfg; errors read "FILE:LINE: reason". */
int srv_config_load(srv_config *cfg, const char *path, char *err, size_t errlen);
/* Checks across keys (a TLS certificate needs its key, ...). */
int srv_config_check(const srv_config *cfg, char *err, size_t errlen);
/* Public mode carries tokens in request bodies: plain HTTP only on a loopback
 * listener, unless TLS is configured or behind_tls_proxy says a proxy
 * terminates it. 0, or -1 with the reason. */
int srv_config_check_public(const srv_config *cfg, char *err, size_t errlen);
/* 127.0.0.0/8, ::1 or "localhost". */
bool srv_host_is_loopback(const char *host);
/* Split "HOST:PORT" or "[V6]:PORT" (host copied NUL-terminated). */
int srv_addr_split(const char *addr, char *host, size_t hostlen, uint16_t *port);
/* HOST:PORT with HOST a numeric address, or a name resolved now (once, at
 * start: the workers bind numeric addresses): out is "IP:PORT" ("[IP6]:PORT"),
 * an IPv4 address preferred when a name has both. 0, or -1 with a reason. */
int srv_addr_resolve(const char *addr, char *out, size_t outlen, char *err, size_t errlen);
/* A one-line reason into err (when given); returns -1. */
int srv_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The default config file: every key commented out with its help line and
 * default (`licsrv serve --print-config`, installed as licsrv.conf). */
void srv_config_print(void *file);
/* Every key with its help line, for --help. */
void srv_config_usage(void *file);

#endif
