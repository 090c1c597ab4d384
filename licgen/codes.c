/* codes.c - licgen codes: designer activation codes signed on every core,
 * written in serial order, with a ledger so serials never repeat. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "licgen.h"
#include "p11uri.h"
#include "lic/actcode.h"
#include "lic/util.h"

static const char USAGE[] =
    "usage: licgen codes --key KEY.pem --product ID --count N -o CODES.csv\n"
    "         [--expires YYYY-MM-DD|never] [--edition E] [--jobs J] [--ledger FILE]\n"
    "         [--first-serial S] [--passphrase-file F]\n\n"
    "Issues N designer activation codes (docs/activation.md) as CSV with the header\n"
    "'serial,code,product,edition,expires', ordered by serial. Serials never repeat\n"
    "for a product: the ledger records every issued range, the next range starts\n"
    "after the highest one, and an explicit --first-serial that overlaps an issued\n"
    "range is refused. The ledger is appended (and synced) only once the CSV is\n"
    "complete on disk; an interrupted run leaves neither. An existing CSV is never\n"
    "replaced.\n\n"
    "  --product ID        product id, 0..255\n"
    "  --count N           codes to issue, 1..10000000\n"
    "  --expires D         codes stop working on day D (UTC), or 'never' (default)\n"
    "  --edition E         edition flags, 0..255 (default 0)\n"
    "  --jobs J            signing threads, 1..64 (default: the number of cores)\n"
    "  --ledger FILE       issued ranges (default KEY.ledger, next to the key;\n"
    "                      required with a key in a token)\n"
    "  --first-serial S    start at serial S instead of after the ledger's highest\n"
    "  --passphrase-file F passphrase of an encrypted key\n"
    LICGEN_KEY_HELP
    "  -o, --out FILE      the CSV to write (--output alike)\n";

enum { O_KEY = 256, O_PRODUCT, O_COUNT, O_EXPIRES, O_EDITION, O_JOBS, O_LEDGER, O_FIRST,
       O_PASS };

#define MAX_COUNT   10000000
#define MAX_JOBS    64   /* bounds the ring: (2 * 64 + 2) blocks of ~200 KB */
#define BLOCK       1024                    /* codes signed per unit of work */
#define LINE_MAX_   (11 + LIC_CODE_TEXT_LEN + 4 + 4 + 11 + 5) /* one CSV line, generous */
#define LEDGER_MAX  (64u << 20)             /* bytes of ledger we read */

/* Set by SIGINT/SIGTERM/SIGHUP; the run then stops and removes its temp file. */
static atomic_int stop_signal;

static void on_signal(int sig) { atomic_store(&stop_signal, sig); }

/* ---- the ledger: "product first last time" per issued range ---- */

typedef struct {
  int fd;
  uint32_t highest; /* highest serial issued for the product */
  bool any;         /* any range of the product at all */
  bool empty;       /* file has no bytes yet */
} ledger;

/* Open and lock the ledger for the whole run (a concurrent run against the
 * same ledger must not pick the same range), then read it. With first != NULL
 * check that [*first, *first + count) overlaps no issued range of product;
 * else set *first after the highest. Exit code. */
static int ledger_open(const char *path, int product, uint32_t count, bool explicit_first,
                       uint32_t *first, ledger *lg) {
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int r = EXIT_FAIL, lineno = 0;
  struct stat st;

  lg->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  lg->any = false;
  lg->highest = 0;
  if (lg->fd < 0)
    return cli_error(EXIT_FAIL, path, "cannot open the ledger: %s", strerror(errno));
  if (flock(lg->fd, LOCK_EX | LOCK_NB) != 0)
    return cli_error(EXIT_FAIL, path, "the ledger is in use by another 'licgen codes' run");
  if (fstat(lg->fd, &st) != 0 || !S_ISREG(st.st_mode))
    return cli_error(EXIT_FAIL, path, "the ledger is not a regular file");
  if ((uint64_t)st.st_size > LEDGER_MAX)
    return cli_error(EXIT_FAIL, path, "the ledger is over %u MiB", LEDGER_MAX >> 20);
  lg->empty = st.st_size == 0;
  cap = (size_t)st.st_size + 1;
  if ((buf = malloc(cap)) == NULL)
    return cli_error(EXIT_FAIL, path, "out of memory");
  while (len < cap - 1) {
    ssize_t n = pread(lg->fd, buf + len, cap - 1 - len, (off_t)len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n < 0) {
        r = cli_error(EXIT_FAIL, path, "%s", strerror(errno));
        goto out;
      }
      break;
    }
    len += (size_t)n;
  }
  buf[len] = '\0';

  uint64_t want_lo = *first, want_hi = (uint64_t)*first + count - 1;
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    char *f[5], *fs = NULL;
    int nf = 0;
    int64_t v[4];
    lineno++;
    for (char *t = strtok_r(line, " \t\r", &fs); t != NULL && nf < 5; t = strtok_r(NULL, " \t\r", &fs))
      f[nf++] = t;
    if (nf == 0 || f[0][0] == '#')
      continue;
    if (nf != 4 || lic_parse_int(f[0], 0, 255, &v[0]) != LIC_OK ||
        lic_parse_int(f[1], 0, UINT32_MAX, &v[1]) != LIC_OK ||
        lic_parse_int(f[2], v[1], UINT32_MAX, &v[2]) != LIC_OK ||
        lic_parse_int(f[3], 0, INT64_MAX, &v[3]) != LIC_OK) {
      /* Guessing around a damaged ledger could reissue serials: stop. */
      r = cli_error(EXIT_FAIL, path, "line %d is not 'product first last time'; fix the "
                    "ledger by hand", lineno);
      goto out;
    }
    if (v[0] != product)
      continue;
    if (!lg->any || (uint64_t)v[2] > lg->highest)
      lg->highest = (uint32_t)v[2];
    lg->any = true;
    if (explicit_first && (uint64_t)v[1] <= want_hi && (uint64_t)v[2] >= want_lo) {
      char when[21];
      lic_time_format(v[3], when);
      r = cli_error(EXIT_FAIL, "--first-serial", "serials %llu..%llu overlap %lld..%lld "
                    "issued for product %d at %s (ledger %s line %d)",
                    (unsigned long long)want_lo, (unsigned long long)want_hi, (long long)v[1],
                    (long long)v[2], product, when, path, lineno);
      goto out;
    }
  }
  if (!explicit_first) {
    uint64_t next = lg->any ? (uint64_t)lg->highest + 1 : 1;
    if (next + count - 1 > UINT32_MAX) {
      r = cli_error(EXIT_FAIL, path, "product %d has no %u serials left (highest issued %u)",
                    product, count, lg->highest);
      goto out;
    }
    *first = (uint32_t)next;
  }
  r = EXIT_OK;
out:
  free(buf);
  return r;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Append the issued range durably. */
static int ledger_append(ledger *lg, const char *path, int product, uint32_t first,
                         uint32_t count) {
  char line[160];
  int n = 0;
  if (lg->empty)
    n = snprintf(line, sizeof line, "# licgen codes ledger: product first last time\n");
  n += snprintf(line + n, sizeof line - (size_t)n, "%d %u %u %lld\n", product, first,
                first + (count - 1), (long long)time(NULL));
  if (write_all(lg->fd, line, (size_t)n) != 0 || fsync(lg->fd) != 0)
    return cli_error(EXIT_FAIL, path, "cannot append to the ledger: %s", strerror(errno));
  return EXIT_OK;
}

/* ---- signing: workers fill a ring of blocks, the main thread writes them in order ---- */

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t done; /* a block was signed */
  pthread_cond_t room; /* a slot was written out */
  const lic_key *key;
  uint32_t first, count;
  uint8_t product, edition;
  uint16_t day;
  char expires[11];
  uint64_t nblocks, next, written;
  size_t nslots;
  int64_t *ready; /* per slot: the block it holds, -1 while empty */
  char *buf;      /* nslots * BLOCK * LINE_MAX_ */
  size_t *len;
  int err;        /* first liblic error of a worker */
  char errmsg[400];
} ring;

static bool stopping(ring *g) {
  return g->err != LIC_OK || atomic_load(&stop_signal) != 0;
}

static void *worker(void *arg) {
  ring *g = arg;
  lic_code_signer *s = NULL;
  int rc = lic_code_signer_new(g->key, &s);

  pthread_mutex_lock(&g->mu);
  while (rc == LIC_OK && !stopping(g) && g->next < g->nblocks) {
    uint64_t b = g->next;
    if (b >= g->written + g->nslots) {
      pthread_cond_wait(&g->room, &g->mu);
      continue;
    }
    g->next++;
    pthread_mutex_unlock(&g->mu);

    size_t slot = (size_t)(b % g->nslots), o = 0;
    char *out = g->buf + slot * BLOCK * LINE_MAX_;
    uint64_t lo = b * BLOCK, hi = lo + BLOCK < g->count ? lo + BLOCK : g->count;
    for (uint64_t i = lo; i < hi && rc == LIC_OK; i++) {
      lic_code c = {0};
      char text[LIC_CODE_TEXT_LEN + 1];
      c.product = g->product;
      c.serial = g->first + (uint32_t)i;
      c.expiry_day = g->day;
      c.edition = g->edition;
      if ((rc = lic_code_signer_make(s, &c, text)) == LIC_OK)
        o += (size_t)snprintf(out + o, LINE_MAX_, "%u,%s,%u,%u,%s\n", c.serial, text,
                              c.product, c.edition, g->expires);
      if ((i & 63) == 0 && atomic_load(&stop_signal) != 0)
        break;
    }

    pthread_mutex_lock(&g->mu);
    g->len[slot] = o;
    g->ready[slot] = (int64_t)b;
    pthread_cond_broadcast(&g->done);
  }
  if (rc != LIC_OK && g->err == LIC_OK) {
    g->err = rc;
    snprintf(g->errmsg, sizeof g->errmsg, "%s", lic_errfull(rc));
  }
  pthread_cond_broadcast(&g->done);
  pthread_cond_broadcast(&g->room);
  pthread_mutex_unlock(&g->mu);
  lic_code_signer_free(s);
  return NULL;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void progress(uint64_t done, uint64_t total, double t0, bool final) {
  double el = now_s() - t0, rate = el > 0 ? (double)done / el : 0;
  double eta = rate > 0 ? (double)(total - done) / rate : 0;
  int bar = (int)(30 * done / total);
  char bars[31];
  memset(bars, '#', (size_t)bar);
  memset(bars + bar, '.', (size_t)(30 - bar));
  bars[30] = '\0';
  fprintf(stderr, "\r[%s] %llu/%llu codes %5.1f%% %8.0f/s ETA %02d:%02d%s", bars,
          (unsigned long long)done, (unsigned long long)total, 100.0 * (double)done / (double)total,
          rate, (int)eta / 60, (int)eta % 60, final ? "\n" : "");
  fflush(stderr);
}

/* Sign everything and write it to fd in serial order. Exit code. */
static int generate(ring *g, int fd, const char *out, unsigned jobs) {
  pthread_t th[MAX_JOBS];
  unsigned started = 0;
  bool tty = isatty(STDERR_FILENO) == 1;
  double t0 = now_s(), last = 0;
  int r = EXIT_FAIL;
  sigset_t all, old;

  static const char header[] = "serial,code,product,edition,expires\n";
  if (write_all(fd, header, sizeof header - 1) != 0)
    return cli_error(EXIT_FAIL, out, "%s", strerror(errno));

  /* Signals go to this thread only: workers inherit a blocked mask. */
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  for (; started < jobs; started++)
    if (pthread_create(&th[started], NULL, worker, g) != 0)
      break;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (started == 0) {
    pthread_mutex_lock(&g->mu);
    g->err = LIC_NOMEM;
    snprintf(g->errmsg, sizeof g->errmsg, "cannot start a signing thread");
    pthread_mutex_unlock(&g->mu);
  }

  for (uint64_t w = 0; w < g->nblocks; w++) {
    size_t slot = (size_t)(w % g->nslots);
    pthread_mutex_lock(&g->mu);
    while (g->ready[slot] != (int64_t)w && !stopping(g)) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 100 * 1000000L; /* wake to notice signals and draw progress */
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&g->done, &g->mu, &ts);
      if (tty && now_s() - last > 0.2) {
        last = now_s();
        progress(w * BLOCK, g->count, t0, false);
      }
    }
    bool go = !stopping(g);
    pthread_mutex_unlock(&g->mu);
    if (!go)
      break;
    if (write_all(fd, g->buf + slot * BLOCK * LINE_MAX_, g->len[slot]) != 0) {
      pthread_mutex_lock(&g->mu);
      g->err = LIC_IO;
      snprintf(g->errmsg, sizeof g->errmsg, "%s: %s", out, strerror(errno));
      pthread_cond_broadcast(&g->room);
      pthread_mutex_unlock(&g->mu);
      break;
    }
    pthread_mutex_lock(&g->mu);
    g->ready[slot] = -1;
    g->written = w + 1;
    pthread_cond_broadcast(&g->room);
    pthread_mutex_unlock(&g->mu);
    if (tty && now_s() - last > 0.2) {
      last = now_s();
      progress((w + 1) * BLOCK < g->count ? (w + 1) * BLOCK : g->count, g->count, t0, false);
    }
  }
  /* Wake workers waiting for room so they see the stop. */
  pthread_mutex_lock(&g->mu);
  pthread_cond_broadcast(&g->room);
  pthread_mutex_unlock(&g->mu);
  for (unsigned i = 0; i < started; i++)
    pthread_join(th[i], NULL);
  if (atomic_load(&stop_signal) != 0) {
    if (tty)
      fputc('\n', stderr);
    r = cli_error(EXIT_FAIL, NULL, "interrupted (signal %d): no codes written, ledger unchanged",
                  atomic_load(&stop_signal));
  } else if (g->err != LIC_OK) {
    r = cli_error(EXIT_FAIL, "codes", "%s", g->errmsg);
  } else {
    if (tty)
      progress(g->count, g->count, t0, true);
    r = EXIT_OK;
  }
  return r;
}

static int num_opt(const char *opt, const char *s, int64_t min, int64_t max, int64_t *v) {
  int rc = lic_parse_int(s, min, max, v);
  return rc == LIC_OK ? EXIT_OK : cli_usage("codes", "%s: %s", opt, lic_errfull(rc));
}

static void fsync_dir_of(const char *path) {
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (slash == NULL)
    snprintf(dir, sizeof dir, ".");
  else if (slash == path)
    snprintf(dir, sizeof dir, "/");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
}

int licgen_codes(int argc, char **argv) {
  static const struct option opts[] = {
      {"key", required_argument, NULL, O_KEY}, {"product", required_argument, NULL, O_PRODUCT},
      {"count", required_argument, NULL, O_COUNT},
      {"expires", required_argument, NULL, O_EXPIRES},
      {"edition", required_argument, NULL, O_EDITION}, {"jobs", required_argument, NULL, O_JOBS},
      {"ledger", required_argument, NULL, O_LEDGER},
      {"first-serial", required_argument, NULL, O_FIRST},
      {"passphrase-file", required_argument, NULL, O_PASS}, LICGEN_KEY_OPTIONS,
      {"out", required_argument, NULL, 'o'}, {"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *keyfile = NULL, *product_s = NULL, *count_s = NULL, *expires_s = NULL,
             *edition_s = NULL, *jobs_s = NULL, *ledger_s = NULL, *first_s = NULL,
             *passfile = NULL, *out = NULL;
  char ledger_path[PATH_MAX], tmp[PATH_MAX] = "";
  int64_t product, count, edition = 0, jobs, first = 0, exp_t = 0;
  uint32_t first_serial = 0;
  uint16_t day = 0;
  ledger lg = {-1, 0, false, false};
  lic_key *key = NULL;
  ring g;
  int c, r, rc, fd = -1;
  struct sigaction sa, old_int, old_term, old_hup;

  memset(&g, 0, sizeof g);
  licgen_p11 p11 = {NULL, NULL};
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case O_KEY: keyfile = optarg; break;
    case O_PRODUCT: product_s = optarg; break;
    case O_COUNT: count_s = optarg; break;
    case O_EXPIRES: expires_s = optarg; break;
    case O_EDITION: edition_s = optarg; break;
    case O_JOBS: jobs_s = optarg; break;
    case O_LEDGER: ledger_s = optarg; break;
    case O_FIRST: first_s = optarg; break;
    case O_PASS: passfile = optarg; break;
    case LICGEN_O_P11MOD: p11.module = optarg; break;
    case LICGEN_O_PIN: p11.pinfile = optarg; break;
    case 'o': out = optarg; break;
    case 'h': fputs(USAGE, stdout); return EXIT_OK;
    default: return cli_bad_option("codes", argv, opts);
    }
  }
  if (optind != argc)
    return cli_usage("codes", "unexpected argument '%.40s'", argv[optind]);
  const char *missing = keyfile == NULL ? "--key" : product_s == NULL ? "--product"
                      : count_s == NULL ? "--count" : out == NULL ? "-o" : NULL;
  if (missing != NULL)
    return cli_usage("codes", "%s is required", missing);
  if ((r = num_opt("--product", product_s, 0, 255, &product)) != EXIT_OK ||
      (r = num_opt("--count", count_s, 1, MAX_COUNT, &count)) != EXIT_OK ||
      (edition_s != NULL && (r = num_opt("--edition", edition_s, 0, 255, &edition)) != EXIT_OK) ||
      (first_s != NULL && (r = num_opt("--first-serial", first_s, 0, UINT32_MAX, &first)) != EXIT_OK))
    return r;
  if (first_s != NULL && first + count - 1 > UINT32_MAX)
    return cli_usage("codes", "--first-serial: %lld + %lld codes passes the last serial %u",
                     (long long)first, (long long)count, UINT32_MAX);
  if (jobs_s != NULL) {
    if ((r = num_opt("--jobs", jobs_s, 1, MAX_JOBS, &jobs)) != EXIT_OK)
      return r;
  } else {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    jobs = n < 1 ? 1 : n > MAX_JOBS ? MAX_JOBS : n;
  }
  if (expires_s != NULL && strcmp(expires_s, "never") != 0) {
    if ((rc = lic_date_parse(expires_s, &exp_t)) != LIC_OK)
      return cli_usage("codes", "--expires: %s", lic_errfull(rc));
    if (exp_t <= (int64_t)time(NULL))
      return cli_usage("codes", "--expires: %s is in the past", expires_s);
    if ((rc = lic_code_day_of(exp_t, &day)) != LIC_OK)
      return cli_usage("codes", "--expires: %s", lic_errfull(rc));
  }
  if (strcmp(out, "-") == 0)
    return cli_usage("codes", "-o: write to a file (the ledger is updated only once the file "
                     "is complete)");
  if (access(out, F_OK) == 0)
    return cli_error(EXIT_FAIL, out, "exists; issued codes are never overwritten (choose "
                     "another file)");
  if (ledger_s == NULL && p11_uri_is(keyfile))
    return cli_usage("codes", "--ledger FILE is required with a key in a token (there is no "
                     "key file to keep it beside)");
  if ((size_t)snprintf(ledger_path, sizeof ledger_path, "%s.ledger",
                       ledger_s != NULL ? ledger_s : keyfile) >= sizeof ledger_path ||
      (size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", out) >= sizeof tmp)
    return cli_usage("codes", "path too long");
  if (ledger_s != NULL)
    snprintf(ledger_path, sizeof ledger_path, "%s", ledger_s);
  tmp[0] = '\0';

  /* From here an interruption must leave nothing behind. */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGHUP, &sa, &old_hup);

  if ((r = licgen_key_load(keyfile, passfile, &p11, &key)) != EXIT_OK)
    goto out;
  r = EXIT_FAIL;
  first_serial = (uint32_t)first;
  if ((r = ledger_open(ledger_path, (int)product, (uint32_t)count, first_s != NULL,
                       &first_serial, &lg)) != EXIT_OK)
    goto out;
  r = EXIT_FAIL;

  snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", out);
  if ((fd = mkstemp(tmp)) < 0) {
    r = cli_error(EXIT_FAIL, out, "%s", strerror(errno));
    tmp[0] = '\0';
    goto out;
  }
  /* Codes are bearer secrets until handed out: owner-only like the key. */
  fchmod(fd, 0600);

  g.key = key;
  g.first = first_serial;
  g.count = (uint32_t)count;
  g.product = (uint8_t)product;
  g.edition = (uint8_t)edition;
  g.day = day;
  if (day != 0)
    lic_date_format(exp_t, g.expires);
  else
    snprintf(g.expires, sizeof g.expires, "never");
  g.nblocks = ((uint64_t)count + BLOCK - 1) / BLOCK;
  g.nslots = (size_t)(2 * jobs + 2); /* room for every worker to run ahead of the writer */
  g.ready = malloc(g.nslots * sizeof *g.ready);
  g.len = calloc(g.nslots, sizeof *g.len);
  g.buf = malloc(g.nslots * BLOCK * LINE_MAX_);
  if (g.ready == NULL || g.len == NULL || g.buf == NULL) {
    r = cli_error(EXIT_FAIL, NULL, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < g.nslots; i++)
    g.ready[i] = -1;
  pthread_mutex_init(&g.mu, NULL);
  pthread_cond_init(&g.done, NULL);
  pthread_cond_init(&g.room, NULL);
  r = generate(&g, fd, out, (unsigned)jobs);
  pthread_cond_destroy(&g.room);
  pthread_cond_destroy(&g.done);
  pthread_mutex_destroy(&g.mu);
  if (r != EXIT_OK)
    goto out;

  if (fsync(fd) != 0 || close(fd) != 0) {
    fd = -1;
    r = cli_error(EXIT_FAIL, out, "%s", strerror(errno));
    goto out;
  }
  fd = -1;
  if (atomic_load(&stop_signal) != 0) {
    r = cli_error(EXIT_FAIL, NULL, "interrupted: no codes written, ledger unchanged");
    goto out;
  }
  /* link() never replaces a file that appeared meanwhile, unlike rename(). */
  if (link(tmp, out) != 0) {
    r = cli_error(EXIT_FAIL, out, "%s", errno == EEXIST ? "appeared meanwhile; not replaced"
                                                         : strerror(errno));
    goto out;
  }
  unlink(tmp);
  tmp[0] = '\0';
  fsync_dir_of(out);
  /* Point of no return: the codes are on disk, so the range is spent. */
  if ((r = ledger_append(&lg, ledger_path, (int)product, first_serial, (uint32_t)count)) !=
      EXIT_OK) {
    unlink(out); /* never leave codes the ledger does not know */
    goto out;
  }
  if (lg.empty)
    fsync_dir_of(ledger_path);
  fprintf(stderr, "licgen: wrote %lld code%s (product %lld, serials %u..%u) to %s\n",
          (long long)count, CLI_S(count), (long long)product, first_serial,
          first_serial + (uint32_t)(count - 1), out);
  if (lg.empty) /* the first codes of this key: once, not on every run */
    fputs("licgen: hint: codes hold $ * ~ = (check symbols), which a shell expands inside "
          "double quotes: users paste a code at the prompt of 'licctl activate --product ID' "
          "or single-quote it\n", stderr);
  r = EXIT_OK;
out:
  if (fd >= 0)
    close(fd);
  if (tmp[0] != '\0')
    unlink(tmp);
  if (lg.fd >= 0)
    close(lg.fd);
  if (g.buf != NULL)
    OPENSSL_cleanse(g.buf, g.nslots * BLOCK * LINE_MAX_);
  free(g.buf);
  free(g.len);
  free(g.ready);
  lic_key_free(key);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  sigaction(SIGHUP, &old_hup, NULL);
  return r;
}
