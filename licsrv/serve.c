/* serve.c - `licsrv serve`: defaults, --config, flags, then run the server
 * until SIGTERM/SIGINT (drain) with SIGHUP reloading the limits. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cli.h"
#include "lic/err.h"
#include "util/config.h"
#include "util/log.h"
#include "core/app.h"
#include "store/store.h"
#include "serve.h"
#include "http/server.h"
#include "routes/routes.h"

#define MAX_FLAGS 64

typedef struct {
  const char *config; /* --config FILE or NULL */
  const char *key[MAX_FLAGS], *val[MAX_FLAGS];
  int n;
} serve_args;

static void usage(void) {
  printf("usage: licsrv serve [--config FILE] [--data DIR] [--listen HOST:PORT]\n"
         "                    [--admin-listen HOST:PORT] [--threads N] [--KEY VALUE ...]\n\n"
         "Run the license server. Settings come from the defaults, then the INI file\n"
         "(--config), then these flags. SIGTERM/SIGINT drain and exit 0 (a store write\n"
         "still running after 3/4 of shutdown_timeout_ms is canceled and answered 503);\n"
         "SIGHUP reloads the limits, node_secret, new_nodes_per_hour and the account_*\n"
         "limits from the file (not the addresses or threads) and the TLS certificate\n"
         "and key files.\n\n"
         "  --config FILE            INI file (keys as below, '_' for '-')\n"
         "  --print-config           print a config file with every key and its default\n");
  srv_config_usage(stdout);
}

static int parse_args(int argc, char **argv, serve_args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *eq, *val;
    char key[64];
    size_t kl;
    int ki = i;
    if (strncmp(arg, "--", 2) != 0)
      return cli_usage("serve", "unexpected argument '%s'", arg);
    arg += 2;
    eq = strchr(arg, '=');
    kl = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    if (kl >= sizeof key)
      return cli_usage("serve", "unknown option '--%s'", arg);
    memcpy(key, arg, kl);
    key[kl] = '\0';
    if (strcmp(key, "config") != 0 && !srv_config_has_key(key))
      return cli_usage("serve", "unknown option '--%s'", key);
    if (eq != NULL)
      val = eq + 1;
    else if (srv_config_key_is_bool(key) && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0))
      val = "true";
    else if (i + 1 < argc)
      val = argv[++i];
    else
      return cli_usage("serve", "--%s needs a value", key);
    if (strcmp(key, "config") == 0) {
      a->config = val;
      continue;
    }
    if (a->n >= MAX_FLAGS)
      return cli_usage("serve", "too many options");
    /* argv outlives the server: keep pointers; the key is looked up again. */
    a->key[a->n] = argv[ki] + 2;
    a->val[a->n] = val;
    a->n++;
  }
  return 0;
}

/* Defaults, then the file, then the flags: also what SIGHUP redoes. */
static int build_config(const serve_args *a, srv_config *cfg, char *err, size_t errlen) {
  char msg[300];
  srv_config_defaults(cfg);
  if (a->config != NULL && srv_config_load(cfg, a->config, err, errlen) != 0)
    return -1;
  for (int i = 0; i < a->n; i++) {
    char key[64];
    const char *eq = strchr(a->key[i], '=');
    size_t kl = eq != NULL ? (size_t)(eq - a->key[i]) : strlen(a->key[i]);
    snprintf(key, sizeof key, "%.*s", (int)kl, a->key[i]);
    if (srv_config_set(cfg, key, a->val[i], msg, sizeof msg) != 0) {
      snprintf(err, errlen, "--%s", msg);
      return -1;
    }
  }
  return srv_config_check(cfg, err, errlen);
}

static void set_access_log(const srv_config *cfg) {
  srv_access_mode m = SRV_ACCESS_ALL;
  (void)srv_access_mode_parse(cfg->access_log, &m); /* checked by srv_config_check */
  srv_log_set_access(m);
}

typedef struct {
  srv_server *s;
  app *ap;
  const serve_args *args;
  uv_loop_t loop;
  uv_signal_t sig[3];
  uv_async_t quit;
  uv_timer_t expiry; /* the daily expiry warning, checked every APP_EXPIRY_TICK_S */
  uint64_t stop_grace_ms; /* the time a write still running at SIGTERM is given: stop_grace() */
} sig_ctx;

/* A write in flight at SIGTERM gets three quarters of shutdown_timeout_ms,
 * then is canceled and answered 503 (store_stop_begin): the answer leaves
 * before the drain closes the connections at shutdown_timeout_ms. */
static uint64_t stop_grace(const srv_config *cfg) { return cfg->lim.shutdown_timeout_ms / 4 * 3; }

static void on_signal(uv_signal_t *h, int signum) {
  sig_ctx *x = h->data;
  if (signum == SIGHUP) {
    srv_config cfg;
    char err[512], q[600];
    app_machine_recheck(x->ap); /* a replaced NIC need not wait the hour */
    if (build_config(x->args, &cfg, err, sizeof err) != 0) {
      srv_log(SRV_LOG_ERROR, "reload", "signal=HUP result=failed error=%s",
              srv_log_quote(err, strlen(err), q, sizeof q));
      return;
    }
    /* The certificate files are read again even without --config: a renewed
     * certificate usually lands at the same path. */
    if (srv_server_reload_tls(x->s, &cfg, err, sizeof err) != 0)
      srv_log(SRV_LOG_ERROR, "reload", "signal=HUP tls=kept error=%s",
              srv_log_quote(err, strlen(err), q, sizeof q));
    else if (srv_server_tls(x->s, SRV_PUBLIC) || srv_server_tls(x->s, SRV_ADMIN))
      srv_log(SRV_LOG_INFO, "reload", "signal=HUP tls=reloaded");
    if (x->args->config == NULL) {
      srv_log(SRV_LOG_INFO, "reload", "signal=HUP result=unchanged detail=\"no --config file\"");
      return;
    }
    srv_server_reload(x->s, &cfg.lim);
    app_reload(x->ap, &cfg.app);
    x->stop_grace_ms = stop_grace(&cfg);
    set_access_log(&cfg);
    srv_log(SRV_LOG_INFO, "reload",
            "signal=HUP result=ok max_body=%llu max_connections=%u rate_per_ip=%u",
            (unsigned long long)cfg.lim.max_body, cfg.lim.max_connections, cfg.lim.rate_per_ip);
    return;
  }
  srv_log(SRV_LOG_INFO, "shutdown", "signal=%s stop_grace_ms=%llu",
          signum == SIGTERM ? "TERM" : "INT", (unsigned long long)x->stop_grace_ms);
  store_stop_begin(x->ap->st, x->stop_grace_ms); /* a COMMIT that never returns is bounded */
  srv_server_stop(x->s);
}

static void on_quit(uv_async_t *a) {
  sig_ctx *x = a->data;
  for (int i = 0; i < 3; i++)
    uv_close((uv_handle_t *)&x->sig[i], NULL);
  uv_close((uv_handle_t *)&x->quit, NULL);
  uv_close((uv_handle_t *)&x->expiry, NULL);
}

static void on_expiry_tick(uv_timer_t *t) {
  sig_ctx *x = t->data;
  app_expiry_tick(x->ap);
}

static void signal_thread(void *arg) {
  sig_ctx *x = arg;
  uv_run(&x->loop, UV_RUN_DEFAULT);
}

int licsrv_cmd_serve(int argc, char **argv) {
  serve_args a;
  srv_config cfg;
  srv_server *s = NULL;
  sig_ctx x;
  uv_thread_t th;
  char err[512];
  static const int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
  int r;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage();
      return EXIT_OK;
    } else if (strcmp(argv[i], "--print-config") == 0) {
      srv_config_print(stdout);
      return fflush(stdout) == 0 ? EXIT_OK : cli_error(EXIT_FAIL, "stdout", "write failed");
    }
  if ((r = parse_args(argc, argv, &a)) != 0)
    return r;
  if (build_config(&a, &cfg, err, sizeof err) != 0)
    return cli_error(EXIT_USAGE, "serve", "%s", err);
  /* Names resolved once, here: the workers bind the numeric addresses, and
   * the log says which were bound. */
  char asked[2][SRV_MAX_ADDR];
  snprintf(asked[0], sizeof asked[0], "%s", cfg.listen);
  snprintf(asked[1], sizeof asked[1], "%s", cfg.admin_listen);
  if (srv_addr_resolve(asked[0], cfg.listen, sizeof cfg.listen, err, sizeof err) != 0 ||
      srv_addr_resolve(asked[1], cfg.admin_listen, sizeof cfg.admin_listen, err, sizeof err) != 0)
    return cli_error(EXIT_FAIL, "serve", "%s", err);
  set_access_log(&cfg);
  if (srv_server_new(&cfg, &s, err, sizeof err) != 0)
    return cli_error(EXIT_FAIL, "serve", "%s", err);
  /* The license server proper: store, node key, verify and admin routes. */
  app *ap = NULL;
  if (app_attach(s, cfg.data, &cfg.app, &ap) != LIC_OK) {
    /* the detail names a path and its cause: whole, past freeing the server */
    char why[LIC_ERRDETAIL_MAX];
    snprintf(why, sizeof why, "%s", lic_errdetail());
    srv_server_free(s);
    return cli_error(EXIT_FAIL, "serve", "%s", why);
  }
  /* Tokens travel in request bodies: no plain HTTP beyond loopback. */
  if (ap->public_mode && srv_config_check_public(&cfg, err, sizeof err) != 0) {
    srv_server_free(s);
    app_free(ap);
    return cli_error(EXIT_FAIL, "serve", "%s", err);
  }
  if (routes_install(s) != 0) {
    srv_server_free(s);
    app_free(ap);
    return cli_error(EXIT_FAIL, "serve", "cannot register routes");
  }
  memset(&x, 0, sizeof x);
  x.s = s;
  x.ap = ap;
  x.args = &a;
  x.stop_grace_ms = stop_grace(&cfg);
  if (uv_loop_init(&x.loop) != 0) {
    srv_server_free(s);
    return cli_error(EXIT_FAIL, "serve", "cannot create an event loop");
  }
  for (int i = 0; i < 3; i++) {
    uv_signal_init(&x.loop, &x.sig[i]);
    x.sig[i].data = &x;
    uv_signal_start(&x.sig[i], on_signal, sigs[i]);
  }
  uv_async_init(&x.loop, &x.quit, on_quit);
  x.quit.data = &x;
  uv_timer_init(&x.loop, &x.expiry);
  x.expiry.data = &x;
  if (srv_server_start(s, err, sizeof err) != 0) {
    r = cli_error(EXIT_FAIL, "serve", "%s", err);
    on_quit(&x.quit);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    uv_loop_close(&x.loop);
    srv_server_free(s);
    app_free(ap);
    return r;
  }
  {
    char ql[300], qa[300], qd[SRV_MAX_PATHNAME * 4 + 8], bl[SRV_MAX_ADDR + 8],
        ba[SRV_MAX_ADDR + 8], host[SRV_MAX_ADDR];
    uint16_t p;
    /* bound=: the address and the port actually bound (port 0 picks one). */
    srv_addr_split(cfg.listen, host, sizeof host, &p);
    snprintf(bl, sizeof bl, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, srv_server_port(s));
    srv_addr_split(cfg.admin_listen, host, sizeof host, &p);
    snprintf(ba, sizeof ba, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
             srv_server_admin_port(s));
    srv_log(SRV_LOG_INFO, "listening",
            "listen=%s bound=%s port=%u tls=%s admin_listen=%s admin_bound=%s admin_port=%u "
            "admin_tls=%s threads=%u data=%s",
            SRV_LOG_Q(asked[0], ql), bl, srv_server_port(s),
            srv_server_tls(s, SRV_PUBLIC) ? "on" : "off", SRV_LOG_Q(asked[1], qa), ba,
            srv_server_admin_port(s), srv_server_tls(s, SRV_ADMIN) ? "on" : "off", cfg.threads,
            SRV_LOG_Q(cfg.data, qd));
  }
  {
    /* Loud, on stderr and in the log: a bench-only setting that must never
     * be on in production (store.h). */
    store_stats sst;
    store_stats_get(ap->st, &sst);
    if (sst.nosync) {
      srv_log(SRV_LOG_WARN, "durability",
              "sync=off detail=\"" STORE_BENCH_NOSYNC_ENV "=1: LMDB does not sync, a crash "
              "loses acknowledged writes; for benchmarks only, never in production\"");
      fprintf(stderr, "licsrv: warning: " STORE_BENCH_NOSYNC_ENV
                      "=1: durability is OFF (benchmarks only, never in production)\n");
    }
  }
  /* Our own machine against the licenses: logged once the addresses are
   * bound, not before a start that fails. */
  app_machine_recheck(ap);
  /* At start (an operator restarting the service sees it at once), then on a
   * timer; each license is named at most once a day. */
  app_expiry_tick(ap);
  uv_timer_start(&x.expiry, on_expiry_tick, APP_EXPIRY_TICK_S * 1000ull, APP_EXPIRY_TICK_S * 1000ull);
  if (uv_thread_create(&th, signal_thread, &x) != 0) {
    srv_server_stop(s);
    srv_server_wait(s);
    srv_server_free(s);
    app_free(ap);
    return cli_error(EXIT_FAIL, "serve", "cannot start the signal thread");
  }
  srv_server_wait(s); /* until a signal drained the workers */
  uv_async_send(&x.quit);
  uv_thread_join(&th);
  uv_loop_close(&x.loop);
  srv_server_free(s);
  app_free(ap);
  srv_log(SRV_LOG_INFO, "stopped", NULL);
  return EXIT_OK;
}
