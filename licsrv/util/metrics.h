/* metrics.h - Prometheus counters and gauges other modules register (verdicts
 * by status, LMDB size ...), rendered by GET /metrics. */
#ifndef LICSRV_METRICS_H
#define LICSRV_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct srv_metrics srv_metrics;
typedef struct srv_metric srv_counter;
typedef struct srv_metric srv_gauge;

srv_metrics *srv_metrics_new(void);
void srv_metrics_free(srv_metrics *m);

/* Register a series; same name with other labels shares HELP/TYPE. labels is
 * the inside of {...} (e.g. "status=\"valid\"") or NULL. Registration may
 * happen at any time (it locks); updates are lock-free. NULL on OOM or when
 * the name is taken by another type; the update functions accept NULL. */
srv_counter *srv_metrics_counter(srv_metrics *m, const char *name, const char *labels,
                                 const char *help);
srv_gauge *srv_metrics_gauge(srv_metrics *m, const char *name, const char *labels,
                             const char *help);
/* A gauge computed at scrape time (called on a worker thread: be thread-safe). */
srv_gauge *srv_metrics_gauge_fn(srv_metrics *m, const char *name, const char *labels,
                                const char *help, double (*fn)(void *arg), void *arg);
/* A gauge family whose series are known only at scrape time (one per
 * license ...): HELP/TYPE come from here, fn appends its sample lines
 * ("NAME{LABELS} VALUE\n", none when it has nothing). fn runs on a worker
 * thread under the registry's lock: be thread-safe, register nothing. 0 / -1. */
int srv_metrics_family(srv_metrics *m, const char *name, const char *help,
                       void (*fn)(void *arg, srv_buf *out), void *arg);
void srv_counter_add(srv_counter *c, uint64_t n);
void srv_gauge_set(srv_gauge *g, int64_t v);
void srv_gauge_add(srv_gauge *g, int64_t delta);

/* Append every registered series in the text exposition format. */
void srv_metrics_render(srv_metrics *m, srv_buf *out);

#endif
