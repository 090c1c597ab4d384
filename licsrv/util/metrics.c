/* metrics.c - registry of counters and gauges for the /metrics endpoint. */
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "util/metrics.h"

enum { M_COUNTER, M_GAUGE, M_GAUGE_FN, M_FAMILY };

struct srv_metric {
  struct srv_metric *next;
  int kind;
  char *name, *labels, *help;
  _Atomic int64_t v;
  double (*fn)(void *arg);
  void (*family)(void *arg, srv_buf *out); /* M_FAMILY: writes its own samples */
  void *arg;
};

struct srv_metrics {
  uv_mutex_t mu;
  struct srv_metric *head, *tail;
};

srv_metrics *srv_metrics_new(void) {
  srv_metrics *m = calloc(1, sizeof *m);
  if (m == NULL)
    return NULL;
  if (uv_mutex_init(&m->mu) != 0) {
    free(m);
    return NULL;
  }
  return m;
}

static void metric_free(struct srv_metric *x) {
  if (x == NULL)
    return;
  free(x->name);
  free(x->labels);
  free(x->help);
  free(x);
}

void srv_metrics_free(srv_metrics *m) {
  if (m == NULL)
    return;
  for (struct srv_metric *x = m->head, *n; x != NULL; x = n) {
    n = x->next;
    metric_free(x);
  }
  uv_mutex_destroy(&m->mu);
  free(m);
}

static struct srv_metric *metric_add(srv_metrics *m, int kind, const char *name,
                                     const char *labels, const char *help) {
  struct srv_metric *x = NULL, *y;
  if (m == NULL || name == NULL)
    return NULL;
  uv_mutex_lock(&m->mu);
  for (y = m->head; y != NULL; y = y->next)
    if (strcmp(y->name, name) == 0 && (y->kind == M_COUNTER) != (kind == M_COUNTER))
      goto out; /* one name, one type */
  if ((x = calloc(1, sizeof *x)) == NULL)
    goto out;
  x->kind = kind;
  x->name = strdup(name);
  x->labels = strdup(labels != NULL ? labels : "");
  x->help = strdup(help != NULL ? help : "");
  if (x->name == NULL || x->labels == NULL || x->help == NULL) {
    metric_free(x);
    x = NULL;
    goto out;
  }
  /* Keep a name's series together so HELP/TYPE is printed once. */
  for (y = m->head; y != NULL; y = y->next)
    if (strcmp(y->name, name) == 0 && (y->next == NULL || strcmp(y->next->name, name) != 0))
      break;
  if (y != NULL) {
    x->next = y->next;
    y->next = x;
    if (m->tail == y)
      m->tail = x;
  } else if (m->tail != NULL) {
    m->tail->next = x;
    m->tail = x;
  } else {
    m->head = m->tail = x;
  }
out:
  uv_mutex_unlock(&m->mu);
  return x;
}

srv_counter *srv_metrics_counter(srv_metrics *m, const char *name, const char *labels,
                                 const char *help) {
  return metric_add(m, M_COUNTER, name, labels, help);
}

srv_gauge *srv_metrics_gauge(srv_metrics *m, const char *name, const char *labels,
                             const char *help) {
  return metric_add(m, M_GAUGE, name, labels, help);
}

srv_gauge *srv_metrics_gauge_fn(srv_metrics *m, const char *name, const char *labels,
                                const char *help, double (*fn)(void *arg), void *arg) {
  struct srv_metric *x;
  if (fn == NULL)
    return NULL;
  /* fn is set under the lock's release: readers take the same lock. */
  if (m == NULL)
    return NULL;
  x = metric_add(m, M_GAUGE_FN, name, labels, help);
  if (x != NULL) {
    uv_mutex_lock(&m->mu);
    x->fn = fn;
    x->arg = arg;
    uv_mutex_unlock(&m->mu);
  }
  return x;
}

int srv_metrics_family(srv_metrics *m, const char *name, const char *help,
                       void (*fn)(void *arg, srv_buf *out), void *arg) {
  struct srv_metric *x;
  if (m == NULL || fn == NULL || (x = metric_add(m, M_FAMILY, name, NULL, help)) == NULL)
    return -1;
  uv_mutex_lock(&m->mu);
  x->family = fn;
  x->arg = arg;
  uv_mutex_unlock(&m->mu);
  return 0;
}

void srv_counter_add(srv_counter *c, uint64_t n) {
  if (c != NULL)
    atomic_fetch_add_explicit(&c->v, (int64_t)n, memory_order_relaxed);
}

void srv_gauge_set(srv_gauge *g, int64_t v) {
  if (g != NULL)
    atomic_store_explicit(&g->v, v, memory_order_relaxed);
}

void srv_gauge_add(srv_gauge *g, int64_t delta) {
  if (g != NULL)
    atomic_fetch_add_explicit(&g->v, delta, memory_order_relaxed);
}

void srv_metrics_render(srv_metrics *m, srv_buf *out) {
  const char *prev = NULL;
  if (m == NULL)
    return;
  uv_mutex_lock(&m->mu);
  for (struct srv_metric *x = m->head; x != NULL; x = x->next) {
    if (prev == NULL || strcmp(prev, x->name) != 0) {
      if (x->help[0] != '\0')
        srv_buf_printf(out, "# HELP %s %s\n", x->name, x->help);
      srv_buf_printf(out, "# TYPE %s %s\n", x->name, x->kind == M_COUNTER ? "counter" : "gauge");
      prev = x->name;
    }
    if (x->kind == M_FAMILY) {
      if (x->family != NULL)
        x->family(x->arg, out);
      continue;
    }
    srv_buf_printf(out, "%s%s%s%s ", x->name, x->labels[0] ? "{" : "", x->labels,
                   x->labels[0] ? "}" : "");
    if (x->kind == M_GAUGE_FN && x->fn != NULL)
      srv_buf_printf(out, "%.17g\n", x->fn(x->arg));
    else
      srv_buf_printf(out, "%lld\n",
                     (long long)atomic_load_explicit(&x->v, memory_order_relaxed));
  }
  uv_mutex_unlock(&m->mu);
}
