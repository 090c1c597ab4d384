/* lmdb_sync.c - the durable-write baseline of `make bench`: single-record
 * LMDB commits, each synced, for a fixed time; prints commits per second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  MDB_env *env;
  MDB_dbi dbi;
  MDB_txn *txn;
  char val[256];
  long n = 0;
  if (argc != 3) {
    fprintf(stderr, "usage: lmdb_sync DIR SECONDS\n");
    return 2;
  }
  double secs = strtod(argv[2], NULL);
  memset(val, 'v', sizeof val);
  if (mdb_env_create(&env) || mdb_env_set_mapsize(env, (size_t)1 << 30) ||
      mdb_env_open(env, argv[1], 0, 0600)) {
    fprintf(stderr, "lmdb_sync: cannot open %s\n", argv[1]);
    return 1;
  }
  double t0 = now_s(), t;
  do {
    char key[32];
    int kl = snprintf(key, sizeof key, "k%ld", n);
    MDB_val k = {(size_t)kl, key}, v = {sizeof val, val};
    if (mdb_txn_begin(env, NULL, 0, &txn) || (n == 0 && mdb_dbi_open(txn, NULL, 0, &dbi)) ||
        mdb_put(txn, dbi, &k, &v, 0) || mdb_txn_commit(txn)) { /* commit syncs */
      fprintf(stderr, "lmdb_sync: write failed\n");
      return 1;
    }
    n++;
  } while ((t = now_s()) - t0 < secs);
  printf("%.1f\n", (double)n / (t - t0));
  mdb_env_close(env);
  return 0;
}
