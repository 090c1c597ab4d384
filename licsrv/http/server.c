/* http/server.c - the server's lifecycle: workers (one libuv loop and
 * SO_REUSEPORT listeners each), hooks, start, drain, reload and free. Routes
 * and dispatch are router.c's; a connection is conn.c's. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/connlimit.h"
#include "http/worker.h"

/* --- setup -------------------------------------------------------------------- */

/* /healthz: still ready, with a warning from SRV_TLS_CERT_WARN_DAYS before a
 * served certificate ends. */
/* The served certificate names no customer: the same text on both listeners. */
static int health_tls_cert(void *arg, bool admin, char *msg, size_t len) {
  srv_server *s = arg;
  (void)admin;
  return srv_tls_cert_warning(s->cs.tls, (int64_t)time(NULL), msg, len);
}

int srv_server_new(const srv_config *cfg, srv_server **out, char *err, size_t errlen) {
  srv_server *s = NULL;
  int r = -1;
  *out = NULL;
  if (srv_config_check(cfg, err, errlen) != 0)
    goto out;
  if ((s = calloc(1, sizeof *s)) == NULL || (s->metrics = srv_metrics_new()) == NULL) {
    srv_errf(err, errlen, "out of memory");
    goto out;
  }
  s->cfg = *cfg;
  if (srv_tls_new(cfg, &s->cs.tls, err, errlen) != 0)
    goto out;
  if (s->cs.tls != NULL && srv_health_add(s, "tls_cert", health_tls_cert, s) != 0) {
    srv_errf(err, errlen, "out of memory");
    goto out;
  }
  if (srv_router_init(s) != 0 || (s->cs.per_ip = srv_connlimit_new()) == NULL) {
    srv_errf(err, errlen, "out of memory");
    goto out;
  }
  s->cs.other[SRV_PUBLIC] = &s->routes[SRV_PUBLIC].other.count;
  s->cs.other[SRV_ADMIN] = &s->routes[SRV_ADMIN].other.count;
  *out = s;
  s = NULL;
  r = 0;
out:
  srv_server_free(s);
  return r;
}

int srv_on_worker_start(srv_server *s, void (*fn)(srv_worker *w, void *arg), void *arg) {
  if (s->started || s->nwstart >= SRV_MAX_HOOKS)
    return -1;
  s->wstart[s->nwstart++] = (srv_whook){fn, arg};
  return 0;
}

int srv_on_worker_stop(srv_server *s, void (*fn)(srv_worker *w, void *arg), void *arg) {
  if (s->started || s->nwstop >= SRV_MAX_HOOKS)
    return -1;
  s->wstop[s->nwstop++] = (srv_whook){fn, arg};
  return 0;
}

int srv_on_shutdown(srv_server *s, void (*fn)(void *arg), void *arg) {
  if (s->started || s->nshutdown >= SRV_MAX_HOOKS)
    return -1;
  s->shutdown[s->nshutdown].fn = fn;
  s->shutdown[s->nshutdown++].arg = arg;
  return 0;
}

int srv_health_add(srv_server *s, const char *name,
                   int (*check)(void *arg, bool admin, char *msg, size_t msglen), void *arg) {
  srv_health *h;
  if (s->started || s->nhealth >= SRV_MAX_HOOKS || check == NULL ||
      strlen(name) >= sizeof h->name)
    return -1;
  for (const char *p = name; *p; p++) /* shown inside JSON unescaped */
    if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
      return -1;
  h = &s->health[s->nhealth++];
  snprintf(h->name, sizeof h->name, "%s", name);
  h->check = check;
  h->arg = arg;
  return 0;
}

srv_metrics *srv_server_metrics(srv_server *s) { return s->metrics; }
void srv_server_set_user(srv_server *s, void *user) { s->user = user; }
void *srv_server_user(const srv_server *s) { return s->user; }
const srv_config *srv_server_config(const srv_server *s) { return &s->cfg; }
uint16_t srv_server_port(const srv_server *s) { return s->port[SRV_PUBLIC]; }
uint16_t srv_server_admin_port(const srv_server *s) { return s->port[SRV_ADMIN]; }
int srv_worker_id(const srv_worker *w) { return w->id; }
srv_server *srv_worker_server(const srv_worker *w) { return w->s; }
void *srv_worker_user(const srv_worker *w) { return w->cn.user; }
void srv_worker_set_user(srv_worker *w, void *user) { w->cn.user = user; }

/* --- workers ------------------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static int listen_on(srv_worker *w, srv_listener lis, const char *addr, uint16_t port_override,
                     char *err, size_t errlen);
static uint64_t fd_budget(uint32_t nloops);
static void cap_limits(const srv_server *s, srv_limits *lim, bool say);

static void on_listener_closed(uv_handle_t *h) {
  srv_worker *w = h->data;
  w->lis_closing[h == (uv_handle_t *)&w->lis[SRV_ADMIN] ? SRV_ADMIN : SRV_PUBLIC] = false;
}

/* Open the paused listeners again; what still fails waits a longer back-off. */
static void on_accept_retry(uv_timer_t *t) {
  srv_worker *w = t->data;
  char err[300];
  bool pending = false;
  if (w->cn.draining)
    return;
  for (int i = 0; i < 2; i++) {
    if (!w->lis_paused[i])
      continue;
    if (w->lis_closing[i] ||
        listen_on(w, (srv_listener)i, i == SRV_ADMIN ? w->s->cfg.admin_listen : w->s->cfg.listen,
                  w->s->port[i], err, sizeof err) != 0) {
      if (w->has_lis[i]) { /* failed after the handle was made: close it first */
        w->has_lis[i] = false;
        w->lis_closing[i] = true;
        uv_close((uv_handle_t *)&w->lis[i], on_listener_closed);
      }
      pending = true;
      continue;
    }
    w->lis_paused[i] = false;
    srv_log(SRV_LOG_INFO, "accept_resumed", "worker=%d listener=%s", w->id,
            i == SRV_ADMIN ? "admin" : "public");
  }
  if (pending) {
    w->backoff_ms = w->backoff_ms * 2 > SRV_ACCEPT_BACKOFF_MAX_MS ? SRV_ACCEPT_BACKOFF_MAX_MS
                                                                 : w->backoff_ms * 2;
    uv_timer_start(&w->accept_timer, on_accept_retry, w->backoff_ms, 0);
  } else {
    w->backoff_ms = 0;
  }
}

/* EMFILE/ENFILE on accept: libuv would call accept again at once, forever,
 * inside one callback (the loop spins and no signal gets through). Closing
 * the listener ends that; other workers' sockets on the port keep taking
 * connections, and this one is opened again after a back-off. */
static void pause_accepting(srv_worker *w, srv_listener lis, int status) {
  if (w->lis_paused[lis] || !w->has_lis[lis])
    return;
  w->lis_paused[lis] = w->lis_closing[lis] = true;
  w->has_lis[lis] = false;
  uv_close((uv_handle_t *)&w->lis[lis], on_listener_closed);
  atomic_fetch_add(&w->s->emfile_pauses, 1);
  if (w->backoff_ms == 0)
    w->backoff_ms = SRV_ACCEPT_BACKOFF_MS;
  srv_log(SRV_LOG_WARN, "accept_paused", "worker=%d listener=%s error=%s backoff_ms=%llu", w->id,
          lis == SRV_ADMIN ? "admin" : "public", uv_err_name(status),
          (unsigned long long)w->backoff_ms);
  if (!uv_is_active((uv_handle_t *)&w->accept_timer))
    uv_timer_start(&w->accept_timer, on_accept_retry, w->backoff_ms, 0);
}

static void on_connection(uv_stream_t *lis, int status) {
  srv_worker *w = lis->data;
  srv_listener which = lis == (uv_stream_t *)&w->lis[SRV_ADMIN] ? SRV_ADMIN : SRV_PUBLIC;
  if (status == UV_EMFILE || status == UV_ENFILE || status == UV_ENOBUFS || status == UV_ENOMEM) {
    if (!w->cn.draining)
      pause_accepting(w, which, status);
    return;
  }
  if (status < 0 || w->cn.draining)
    return;
  srv_conn_accept(&w->cn, which, lis);
}

/* Every connection gone while draining: close the loop's own handles. */
static void worker_check_done(srv_worker *w) {
  if (!w->cn.draining || w->cn.head != NULL || w->done)
    return;
  uv_mutex_lock(&w->mu);
  w->done = true; /* ask_workers sends to ctl no more */
  uv_mutex_unlock(&w->mu);
  srv_conns_close(&w->cn);
  uv_close((uv_handle_t *)&w->ctl, on_handle_closed);
  uv_close((uv_handle_t *)&w->prep, on_handle_closed);
  uv_close((uv_handle_t *)&w->drain_timer, on_handle_closed);
  uv_close((uv_handle_t *)&w->accept_timer, on_handle_closed);
}

/* srv_conns' on_empty: the last connection of the draining loop closed. */
static void worker_conns_empty(srv_conns *cn) { worker_check_done(cn->owner); }

static void on_drain_timeout(uv_timer_t *t) {
  srv_worker *w = t->data;
  srv_conns_close_all(&w->cn);
}

static void worker_drain(srv_worker *w) {
  if (w->cn.draining)
    return;
  uv_timer_stop(&w->accept_timer);
  for (int i = 0; i < 2; i++)
    if (w->has_lis[i])
      uv_close((uv_handle_t *)&w->lis[i], on_handle_closed);
  srv_conns_drain(&w->cn);
  uv_timer_start(&w->drain_timer, on_drain_timeout, w->cn.lim.shutdown_timeout_ms, 0);
  worker_check_done(w);
}

static void on_ctl(uv_async_t *a) {
  srv_worker *w = a->data;
  bool stop, reload;
  uv_mutex_lock(&w->mu);
  stop = w->stop_req;
  reload = w->reload_req;
  w->reload_req = false;
  if (reload)
    w->cn.lim = w->new_lim;
  uv_mutex_unlock(&w->mu);
  if (stop)
    worker_drain(w);
}

static void on_prepare(uv_prepare_t *p) {
  srv_worker *w = p->data;
  srv_logbuf_flush(&w->cn.log);
}

static void worker_main(void *arg) {
  srv_worker *w = arg;
  srv_conns_on_loop(&w->cn);
  for (size_t i = 0; i < w->s->nwstart; i++)
    w->s->wstart[i].fn(w, w->s->wstart[i].arg);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  srv_logbuf_flush(&w->cn.log);
  for (size_t i = 0; i < w->s->nwstop; i++)
    w->s->wstop[i].fn(w, w->s->wstop[i].arg);
}

/* Our own socket so SO_REUSEPORT is set before bind (libuv 1.44 cannot). */
static int listen_on(srv_worker *w, srv_listener lis, const char *addr, uint16_t port_override,
                     char *err, size_t errlen) {
  char host[SRV_MAX_ADDR], portstr[8];
  uint16_t port;
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
  struct addrinfo *ai = NULL;
  int fd = -1, one = 1, r = -1, e;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (srv_addr_split(addr, host, sizeof host, &port) != 0)
    return srv_errf(err, errlen, "%s: not HOST:PORT", addr);
  if (port_override != 0)
    port = port_override;
  snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
  if ((e = getaddrinfo(host, portstr, &hints, &ai)) != 0) {
    srv_errf(err, errlen, "%s: %s", addr, gai_strerror(e)); /* serve resolved names */
    goto out;
  }
  /* SO_REUSEPORT would let a second licsrv share the port silently: probe it
   * without the option first (the workers of this process then join it). */
  if (port_override == 0 && port != 0) {
    if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      srv_errf(err, errlen, "%s: %s", addr, strerror(errno));
      goto out;
    }
    close(fd);
  }
  if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
      bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SRV_BACKLOG) != 0 ||
      getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
    srv_errf(err, errlen, "%s: %s", addr, strerror(errno));
    goto out;
  }
  w->s->port[lis] = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
  uv_tcp_init(&w->loop, &w->lis[lis]);
  w->lis[lis].data = w;
  w->has_lis[lis] = true;
  if ((e = uv_tcp_open(&w->lis[lis], fd)) != 0 ||
      (e = uv_listen((uv_stream_t *)&w->lis[lis], SRV_BACKLOG, on_connection)) != 0) {
    fd = -1; /* the handle owns it now */
    srv_errf(err, errlen, "%s: %s", addr, uv_strerror(e));
    goto out;
  }
  fd = -1;
  r = 0;
out:
  if (fd >= 0)
    close(fd);
  if (ai != NULL)
    freeaddrinfo(ai);
  return r;
}

static int worker_init(srv_server *s, srv_worker *w, int id, char *err, size_t errlen) {
  w->s = s;
  w->id = id;
  if (uv_loop_init(&w->loop) != 0)
    return srv_errf(err, errlen, "cannot create an event loop");
  w->loop_init = true;
  uv_mutex_init(&w->mu);
  if (srv_conns_init(&w->cn, &w->loop, &s->cs, &s->cfg.lim) != 0)
    return srv_errf(err, errlen, "cannot create an event loop");
  w->cn.on_request = srv_dispatch; /* the router: conn.c calls nothing above it */
  w->cn.on_empty = worker_conns_empty;
  w->cn.owner = w;
  uv_async_init(&w->loop, &w->ctl, on_ctl);
  uv_prepare_init(&w->loop, &w->prep);
  uv_prepare_start(&w->prep, on_prepare);
  uv_timer_init(&w->loop, &w->drain_timer);
  uv_unref((uv_handle_t *)&w->drain_timer);
  uv_timer_init(&w->loop, &w->accept_timer);
  w->ctl.data = w->prep.data = w->drain_timer.data = w->accept_timer.data = w;
  if (s->cfg.lim.rate_per_ip > 0 && (w->rate = srv_rate_new()) == NULL)
    return srv_errf(err, errlen, "out of memory");
  return 0;
}

int srv_server_start(srv_server *s, char *err, size_t errlen) {
  /* threads loops serve the public listener; one more loop of its own
   * serves the admin listener, so a slow admin call (a long listing, an
   * import) never makes a verify wait. */
  uint32_t nth = s->cfg.threads < 1 ? 1 : s->cfg.threads, n = nth + 1;
  if (s->started)
    return srv_errf(err, errlen, "server already started");
  s->started = true;
  signal(SIGPIPE, SIG_IGN); /* a peer gone mid-write is an error code, not a death */
  /* http_parser's own (global) header cap must not be below ours. */
  if (s->cfg.lim.max_header_bytes > 80 * 1024)
    http_parser_set_max_header_size(s->cfg.lim.max_header_bytes);
  s->fd_budget = fd_budget(n + 1); /* the workers and the signal loop */
  cap_limits(s, &s->cfg.lim, true);
  if ((s->workers = calloc(n, sizeof *s->workers)) == NULL)
    return srv_errf(err, errlen, "out of memory");
  s->nworkers = n;
  for (uint32_t i = 0; i < n; i++) {
    srv_worker *w = &s->workers[i];
    if (worker_init(s, w, (int)i, err, errlen) != 0)
      goto fail;
    /* Port 0: worker 0 learns the port, the others join it. */
    if (i < nth &&
        listen_on(w, SRV_PUBLIC, s->cfg.listen, i == 0 ? 0 : s->port[SRV_PUBLIC], err, errlen) != 0)
      goto fail;
    if (i == nth && listen_on(w, SRV_ADMIN, s->cfg.admin_listen, 0, err, errlen) != 0)
      goto fail;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (uv_thread_create(&s->workers[i].thread, worker_main, &s->workers[i]) != 0) {
      srv_errf(err, errlen, "cannot start worker thread");
      goto fail;
    }
    s->workers[i].thread_started = true;
  }
  return 0;
fail:
  srv_server_stop(s);
  /* Workers without a thread drain on this one. */
  for (uint32_t i = 0; i < n; i++) {
    srv_worker *w = &s->workers[i];
    if (w->loop_init && !w->thread_started) {
      worker_drain(w);
      uv_run(&w->loop, UV_RUN_DEFAULT);
    }
  }
  srv_server_wait(s);
  return -1;
}

/* RLIMIT_NOFILE: the soft limit raised to the hard one, then what
 * connections may use of it (less a reserve for the store, logs and loops). */
static uint64_t fd_budget(uint32_t nloops) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return UINT64_MAX;
  if (rl.rlim_cur < rl.rlim_max) {
    struct rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
      srv_log(SRV_LOG_INFO, "fd_limit_raised", "from=%llu to=%llu",
              (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
      rl.rlim_cur = rl.rlim_max;
    }
  }
  uint64_t reserve = SRV_FD_RESERVE + (uint64_t)SRV_FD_PER_LOOP * nloops;
  if (rl.rlim_cur == RLIM_INFINITY)
    return UINT64_MAX;
  return rl.rlim_cur > reserve + 2 ? rl.rlim_cur - reserve : 2;
}

/* Connection limits that fit the descriptor budget: the admin listener at
 * most a quarter of it, the public one the rest; and when that lowered the
 * public limit, one address at most 1/SRV_PER_IP_SHARE of it (otherwise one
 * client holds every slot a small ulimit -n leaves). */
static void cap_limits(const srv_server *s, srv_limits *lim, bool say) {
  uint64_t b = s->fd_budget, admin = lim->admin_max_connections, pub = lim->max_connections;
  if (b == UINT64_MAX)
    return;
  if (admin > b / 4)
    lim->admin_max_connections = (uint32_t)(b / 4 > 0 ? b / 4 : 1);
  if (pub + lim->admin_max_connections > b)
    lim->max_connections = (uint32_t)(b - lim->admin_max_connections);
  if (lim->max_connections < pub && lim->max_connections_per_ip != 0 &&
      lim->max_connections_per_ip > lim->max_connections / SRV_PER_IP_SHARE)
    lim->max_connections_per_ip =
        lim->max_connections / SRV_PER_IP_SHARE > 0 ? lim->max_connections / SRV_PER_IP_SHARE : 1;
  /* A default that does not fit this machine is fitted quietly (it warned
   * on every start of an unchanged install); a value the operator chose and
   * cannot have is a warning. */
  bool capped = lim->max_connections < pub || lim->admin_max_connections < admin;
  bool chosen = (lim->max_connections < pub && pub != SRV_DEFAULT_MAX_CONNECTIONS) ||
                (lim->admin_max_connections < admin && admin != SRV_DEFAULT_ADMIN_MAX_CONNECTIONS);
  if (say)
    srv_log(chosen ? SRV_LOG_WARN : SRV_LOG_INFO, "connection_limits",
            "fd_budget=%llu max_connections=%u admin_max_connections=%u max_connections_per_ip=%u%s",
            (unsigned long long)b, lim->max_connections, lim->admin_max_connections,
            lim->max_connections_per_ip,
            chosen   ? " detail=\"capped to the descriptor limit (RLIMIT_NOFILE)\""
            : capped ? " detail=\"the defaults, fitted to the descriptor limit (RLIMIT_NOFILE)\""
                     : "");
}

/* Ask every running worker to stop (lim NULL) or to take new limits. */
static void ask_workers(srv_server *s, const srv_limits *lim) {
  if (s == NULL || s->workers == NULL)
    return;
  for (uint32_t i = 0; i < s->nworkers; i++) {
    srv_worker *w = &s->workers[i];
    if (!w->loop_init)
      continue;
    uv_mutex_lock(&w->mu);
    if (lim != NULL) {
      w->new_lim = *lim;
      w->reload_req = true;
    } else {
      w->stop_req = true;
    }
    if (!w->done)
      uv_async_send(&w->ctl);
    uv_mutex_unlock(&w->mu);
  }
}

void srv_server_stop(srv_server *s) { ask_workers(s, NULL); }

void srv_server_reload(srv_server *s, const srv_limits *lim) {
  srv_limits l = *lim;
  cap_limits(s, &l, true);
  ask_workers(s, &l);
}

int srv_server_reload_tls(srv_server *s, const srv_config *cfg, char *err, size_t errlen) {
  if (s->cs.tls == NULL) {
    if (srv_tls_wanted(cfg, SRV_PUBLIC) || srv_tls_wanted(cfg, SRV_ADMIN))
      return srv_errf(err, errlen, "TLS cannot be switched on by a reload; restart");
    return 0;
  }
  return srv_tls_reload(s->cs.tls, cfg, err, errlen);
}

bool srv_server_tls(const srv_server *s, srv_listener lis) { return srv_tls_enabled(s->cs.tls, lis); }

void srv_server_wait(srv_server *s) {
  if (s == NULL || s->waited || s->workers == NULL)
    return;
  s->waited = true;
  for (uint32_t i = 0; i < s->nworkers; i++)
    if (s->workers[i].thread_started)
      uv_thread_join(&s->workers[i].thread);
  for (size_t i = 0; i < s->nshutdown; i++)
    s->shutdown[i].fn(s->shutdown[i].arg);
}

void srv_server_free(srv_server *s) {
  if (s == NULL)
    return;
  if (s->workers != NULL) {
    srv_server_stop(s);
    srv_server_wait(s);
    for (uint32_t i = 0; i < s->nworkers; i++) {
      srv_worker *w = &s->workers[i];
      if (!w->loop_init)
        continue;
      uv_run(&w->loop, UV_RUN_NOWAIT); /* close callbacks still pending */
      uv_loop_close(&w->loop);
      uv_mutex_destroy(&w->mu);
      srv_conns_free(&w->cn);
      srv_rate_free(w->rate);
    }
    free(s->workers);
  }
  srv_router_free(s);
  srv_connlimit_free(s->cs.per_ip);
  srv_metrics_free(s->metrics);
  srv_tls_free(s->cs.tls);
  free(s);
}
