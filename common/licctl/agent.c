/* agent.c - licctl agent: the license session in the foreground (for
 * systemd), with STATE/status.json for report servers that do not link C. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "licctl.h"
#include "lic/fileio.h"
#include "lic/rif.h"
#include "lic/session.h"

static const char USAGE[] =
    "usage: licctl agent URL [URL...] --domain D --port P --node N\n"
    "         [--license ID | --account ID --token-file F] [--app A] [--version V]\n"
    "         [--secret-file F] [--trust PUB.pem]... [--cacert FILE | --pin PIN...]\n"
    "         [--timeout MS] [--state DIR]\n\n"
    "Runs the license session in the foreground: checks with the license servers\n"
    "(the first URL is the primary, the others standbys; the one that answered last\n"
    "is asked first) every heartbeat, retries failed checks with backoff, stays in\n"
    "grace while no server gives a trustworthy answer, and turns unlicensed at once\n"
    "on a signed denial or when grace runs out. The last valid verdict is kept in\n"
    "STATE/" LIC_SESSION_FILE " and checked again at start, so a restart during an\n"
    "outage keeps the original grace deadline. Every change is written atomically to\n"
    "STATE/status.json (read it, or run 'licctl status'); one log line per state\n"
    "change on stderr. SIGTERM or SIGINT: exit 0. SIGHUP: check now.\n\n"
    "  URL             https://HOST:PORT (or http://) of a license server (up to 16)\n"
    "  --domain D      the access domain name this report server answers on\n"
    "  --port P        its port\n"
    "  --node N        this report-server instance id (holds a seat)\n"
    "  --license ID    license id (UUID); leave it out when standbys hold other licenses\n"
    "  --account ID    public mode: the account (UUID); the project id is the state\n"
    "                  directory's (register it first with 'licctl register')\n"
    "  --token-file F  public mode: the account's token (a 0600 file, never printed)\n"
    "  --app A         application name\n"
    "  --version V     product version, e.g. 11.0.18 (its major number is checked)\n"
    "  --secret-file F the server's node_secret (one line, file mode 0600), sent with\n"
    "                  every check (docs/server.md)\n"
    "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
    CLI_TLS_HELP
    "  --timeout MS    each exchange: connect, TLS handshake, answer (default 10000)\n"
    "  --state DIR     state directory (default $XDG_STATE_HOME/licctl)\n";

enum { O_DOMAIN = 256, O_PORT, O_NODE, O_LICENSE, O_APP, O_VERSION, O_TRUST, O_TIMEOUT,
       O_STATE, O_CACERT, O_PIN, O_ACCOUNT, O_TOKEN_FILE, O_SECRET };

#define STATUS_FILE "status.json"
#define AGENT_LOCK_FILE "agent.lock" /* held while the agent runs */
#define CHUNK_S 5 /* longest sleep between ticks: a wall-clock jump is seen within it */

static void log_state(const lic_session_info *in, int64_t now) {
  char ts[21];
  lic_time_format(now, ts);
  fprintf(stderr, "ts=%s level=%s msg=state state=%s reason=%s server=\"%s\"", ts,
          in->state == LIC_SESSION_LICENSED ? "info" : "warn", lic_session_state_name(in->state),
          in->reason, in->server);
  if (in->grace_until > 0) {
    char gu[21];
    lic_time_format(in->grace_until, gu);
    fprintf(stderr, " grace_until=%s", gu);
  }
  if (in->detail[0] != '\0')
    fprintf(stderr, " detail=\"%s\"", in->detail);
  if (in->last_error[0] != '\0')
    fprintf(stderr, " error=\"%s\"", in->last_error);
  fputc('\n', stderr);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The signal that arrived while the tick ran (file and network I/O run with
 * signals unblocked, so nothing can hold SIGTERM back); SIGTERM/SIGINT win
 * over SIGHUP. */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig) {
  if (got_signal != SIGTERM && got_signal != SIGINT)
    got_signal = sig;
}

/* Wait until wall-clock second `wake` (at most CHUNK_S) or a signal.
 * Returns the signal, or 0 on timeout. The signals are blocked only here:
 * one that came before the block was recorded by on_signal, one after it
 * stays pending for sigtimedwait, so none is lost between the check and the
 * sleep. */
static int wait_until(const sigset_t *set, int64_t wake) {
  sigset_t old;
  int sig;
  sigprocmask(SIG_BLOCK, set, &old);
  sig = got_signal;
  got_signal = 0;
  if (sig == 0) {
    int64_t left = wake * 1000000000 - now_ns() + 1000000; /* 1 ms past the second */
    if (left > (int64_t)CHUNK_S * 1000000000)
      left = (int64_t)CHUNK_S * 1000000000;
    if (left > 0) {
      struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
      sig = sigtimedwait(set, NULL, &ts);
      if (sig < 0)
        sig = 0;
    }
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  return sig;
}

int licctl_agent(int argc, char **argv) {
  static const struct option opts[] = {
      {"domain", required_argument, NULL, O_DOMAIN}, {"port", required_argument, NULL, O_PORT},
      {"node", required_argument, NULL, O_NODE}, {"license", required_argument, NULL, O_LICENSE},
      {"app", required_argument, NULL, O_APP}, {"version", required_argument, NULL, O_VERSION},
      {"trust", required_argument, NULL, O_TRUST}, {"timeout", required_argument, NULL, O_TIMEOUT},
      {"state", required_argument, NULL, O_STATE}, {"help", no_argument, NULL, 'h'},
      {"cacert", required_argument, NULL, O_CACERT}, {"pin", required_argument, NULL, O_PIN},
      {"account", required_argument, NULL, O_ACCOUNT},
      {"token-file", required_argument, NULL, O_TOKEN_FILE},
      {"secret-file", required_argument, NULL, O_SECRET},
      {NULL, 0, NULL, 0}};
  lic_session_opts so;
  lic_session *s = NULL;
  cli_trust ct;
  cli_tls tls;
  uint8_t id[LIC_ID_LEN];
  const char *port = NULL, *state_opt = NULL, *account = NULL, *token_file = NULL,
             *secret_file = NULL;
  char secret[LIC_MAX_NODE_SECRET + 1] = "";
  char prev_license[LIC_UUID_LEN + 1] = "";
  unsigned prev_rev_events = 0;
  licctl_account cred;
  char path[PATH_MAX], *last = NULL;
  lic_session_state prev_state = LIC_SESSION_UNLICENSED;
  const char *prev_reason = NULL;
  sigset_t set;
  int64_t v;
  int c, r, rc;

  memset(&so, 0, sizeof so);
  cli_trust_init(&ct);
  cli_tls_init(&tls);
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_DOMAIN: so.verify.domain = optarg; break;
    case O_PORT: port = optarg; break;
    case O_NODE: so.verify.node = optarg; break;
    case O_LICENSE:
      if (lic_uuid_parse(optarg, strlen(optarg), id) != LIC_OK)
        return cli_usage("agent", "--license: '%.40s' is not a UUID", optarg);
      so.verify.license = id;
      break;
    case O_APP: so.verify.app = optarg; break;
    case O_VERSION: so.verify.version = optarg; break;
    case O_TRUST:
      if ((r = cli_trust_add(&ct, optarg)) != EXIT_OK)
        return r;
      break;
    case O_TIMEOUT:
      if ((rc = lic_parse_int(optarg, 1, 600000, &v)) != LIC_OK)
        return cli_usage("agent", "--timeout: %s", lic_errfull(rc));
      so.verify.timeout_ms = (int)v;
      break;
    case O_STATE: state_opt = optarg; break;
    case O_ACCOUNT: account = optarg; break;
    case O_TOKEN_FILE: token_file = optarg; break;
    case O_SECRET: secret_file = optarg; break;
    case O_CACERT: tls.o.cacert = optarg; break;
    case O_PIN:
      if ((r = cli_tls_pin_add(&tls, "agent", optarg)) != EXIT_OK)
        return r;
      break;
    case 'h': fputs(USAGE, stdout); return EXIT_OK;
    default: return cli_bad_option("agent", argv, opts);
    }
  }
  if (argc - optind < 1 || argc - optind > LIC_SESSION_MAX_SERVERS)
    return cli_usage("agent", "give 1 to %d license server URLs", LIC_SESSION_MAX_SERVERS);
  for (int i = optind; i < argc; i++)
    if (strncmp(argv[i], "http://", 7) != 0 && strncmp(argv[i], "https://", 8) != 0)
      return cli_usage("agent", "'%.80s' is not an http:// or https:// URL", argv[i]);
  if (tls.o.cacert != NULL && tls.o.npins > 0)
    return cli_usage("agent", "give --cacert or --pin, not both");
  so.verify.tls = &tls.o;
  so.urls = (const char *const *)&argv[optind];
  so.nurls = (size_t)(argc - optind);
  const char *missing = so.verify.domain == NULL ? "--domain" : port == NULL ? "--port"
                      : so.verify.node == NULL ? "--node" : NULL;
  if (missing != NULL)
    return cli_usage("agent", "%s is required", missing);
  if ((rc = lic_parse_int(port, 1, 65535, &so.verify.port)) != LIC_OK)
    return cli_usage("agent", "--port: %s", lic_errfull(rc));
  if ((rc = lic_domain_check(so.verify.domain, false)) != LIC_OK)
    return cli_usage("agent", "--domain: %s", lic_errfull(rc));
  if ((rc = lic_name_check("--node", so.verify.node)) != LIC_OK)
    return cli_usage("agent", "%s", lic_errfull(rc));
  so.verify.trust = &ct.t;
  so.state_dir = licctl_state_dir(state_opt);
  if ((r = licctl_state_ensure(so.state_dir)) != EXIT_OK)
    return r;
  /* Two agents on one state directory would overwrite each other's status
   * and session state: the second one refuses to start (the lock dies with
   * the process, so a crash leaves none behind). */
  char lockpath[PATH_MAX + 16], line[48], who[128];
  int lockfd;
  snprintf(lockpath, sizeof lockpath, "%s/%s", so.state_dir, AGENT_LOCK_FILE);
  snprintf(line, sizeof line, "pid %ld\n", (long)getpid());
  if ((rc = lic_file_lock(lockpath, line, &lockfd, who, sizeof who)) == LIC_EXISTS)
    return cli_error(EXIT_FAIL, so.state_dir, "another licctl agent (%s) runs with this state "
                     "directory: stop it, or give this one its own --state",
                     *who ? who : "pid unknown");
  if (rc != LIC_OK)
    return cli_lic_error("agent", rc);
  memset(&cred, 0, sizeof cred);
  if (account != NULL && so.verify.license != NULL)
    return cli_usage("agent", "give --license or --account, not both");
  if (account == NULL && token_file != NULL)
    return cli_usage("agent", "--token-file goes with --account");
  if (account != NULL) {
    if ((r = licctl_account_opts("agent", state_opt, account, token_file, &cred)) != EXIT_OK)
      return r;
    so.verify.account = cred.account;
    so.verify.token = cred.token;
    so.verify.project_id = cred.project_id;
  }
  if (secret_file != NULL) {
    if ((rc = lic_secret_file_read(secret_file, secret)) != LIC_OK) {
      licctl_account_clear(&cred);
      return cli_lic_error(secret_file, rc);
    }
    so.verify.secret = secret; /* borrowed by the session: wiped when it ends */
  }
  snprintf(path, sizeof path, "%s/%s", so.state_dir, STATUS_FILE);

  /* Signals are recorded by a handler while the session works and taken
   * with sigtimedwait while it sleeps (wait_until); they are never blocked
   * across file or network I/O. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  setvbuf(stderr, NULL, _IOLBF, 0);

  rc = lic_session_new(&so, (int64_t)time(NULL), &s);
  licctl_account_clear(&cred); /* the session keeps its own copy of the token */
  if (rc != LIC_OK)
    return cli_lic_error("agent", rc);
  r = EXIT_OK;
  for (;;) {
    int64_t now = (int64_t)time(NULL);
    int64_t wake = lic_session_tick(s, now);
    lic_session_info in;
    lic_session_info_get(s, &in);
    if (prev_reason == NULL || in.state != prev_state || strcmp(in.reason, prev_reason) != 0)
      log_state(&in, now);
    if (in.license[0] != '\0' && strcmp(in.license, prev_license) != 0) {
      /* The license the checks are answered for: after a renewal, its
       * successor takes over here without a change of state. */
      char ts[21], until[LIC_UNTIL_LEN];
      lic_time_format(now, ts);
      lic_until_format(in.expires, until);
      fprintf(stderr, "ts=%s level=info msg=license license=%s%s%s until=\"%s\"\n", ts, in.license,
              prev_license[0] != '\0' ? " previous=" : "", prev_license, until);
      snprintf(prev_license, sizeof prev_license, "%s", in.license);
    }
    if (in.revocations_events != prev_rev_events) {
      /* A revocation list a server sent: kept, or ignored (forged, damaged,
       * a different list under a kept seq) with why. */
      char ts[21];
      lic_time_format(now, ts);
      fprintf(stderr, "ts=%s level=%s msg=revocations seq=%lld note=\"%s\"\n", ts,
              in.revocations_refused ? "warn" : "info", (long long)in.revocations_seq,
              in.revocations_note);
      prev_rev_events = in.revocations_events;
    }
    prev_state = in.state;
    prev_reason = in.reason; /* a static string of the session */
    char *doc = licctl_status_json(&in, so.verify.node);
    if (doc == NULL) {
      r = cli_error(EXIT_FAIL, "agent", "out of memory");
      break;
    }
    if (last == NULL || strcmp(doc, last) != 0) {
      size_t n = strlen(doc);
      doc[n] = '\n'; /* json_dumps leaves room: write with a newline, then restore */
      rc = lic_file_write(path, doc, n + 1, 0644, 0);
      doc[n] = '\0';
      if (rc != LIC_OK) { /* logged, and retried on the next change */
        char ts[21];
        lic_time_format(now, ts);
        fprintf(stderr, "ts=%s level=error msg=status_write path=\"%s\" error=\"%s\"\n", ts,
                path, lic_errfull(rc));
      }
      free(last);
      last = rc == LIC_OK ? doc : NULL;
      if (rc != LIC_OK)
        free(doc);
    } else {
      free(doc);
    }
    int sig = wait_until(&set, wake);
    if (sig == SIGTERM || sig == SIGINT)
      break;
    if (sig == SIGHUP)
      lic_session_check_now(s);
  }
  free(last);
  lic_session_free(s);
  OPENSSL_cleanse(secret, sizeof secret);
  return r;
}
