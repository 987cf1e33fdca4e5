/* Private: pipeline stages (fit, evolve, train, ... join this table). */
#ifndef NPDE_STAGE_IMPL_H
#define NPDE_STAGE_IMPL_H

#include <time.h>

#include "npde/npde_backend.h"
#include "npde/npde_network.h"
#include "npde/npde_pde.h"
#include "npde/npde_pipeline.h"
#include "npde/npde_solvers.h"
#include "npde/plugin/npde_plugin.h"

/* The Philox streams of the core's random draws: every consumer has its own,
 * so runs are reproducible and consumers never overlap (architecture,
 * "Determinism"). Network initialisation uses streams (output << 16 | layer). */
enum {
  NPDE__STREAM_PROBE = 0x7f000000,
  NPDE__STREAM_FIT = 0x7f010000,  /* + fit index: Adam batches */
  NPDE__STREAM_HEAD = 0x7f020000, /* + fit index: head-tuning points */
  NPDE__STREAM_EVAL = 0x7f030000,  /* held-out evaluation points */
  NPDE__STREAM_EVOLVE = 0x7f040000, /* evolve: samples per step attempt */
  NPDE__STREAM_SKETCH = 0x7f050000  /* evolve: Nystrom test matrices */
};

#define NPDE__MAX_METRICS 64

/* What stages share while a pipeline runs. */
typedef struct npde__run_state {
  const npde_config *cfg; /* the validated pipeline config */
  const npde_registry *reg;
  npde_backend *backend;
  npde_dtype dtype;
  uint64_t seed;
  npde_pde *pde;       /* NULL without `pde:` */
  npde_network *net;   /* NULL without `network:` */
  void *theta;         /* the network's parameters (backend memory, p values) */
  npde_linsolver *linsolver;   /* NULL without `linsolver:` */
  npde_precond *precond;       /* NULL without `precond:` */
  npde_integrator *integrator; /* NULL without `integrator:` */
  int64_t n_fits;      /* fits run so far (each draws from its own stream) */
  /* named figures the stages report (last value wins) */
  char metric_names[NPDE__MAX_METRICS][48];
  double metric_values[NPDE__MAX_METRICS];
  int n_metrics;
} npde__run_state;

/* Seconds on a monotonic clock (progress lines, timings). */
static inline double npde__now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* n held-out points (Philox stream NPDE__STREAM_EVAL, so every stage and
 * run uses the same ones) and the network's values there, in backend
 * memory; release with npde__heldout_free (also after a failure). */
typedef struct npde__heldout {
  npde_backend *be;
  void *x, *u;
  npde_mat X, U; /* n x d points, n x K values */
} npde__heldout;
npde_status npde__heldout_eval(npde__run_state *rs, int64_t n, npde__heldout *h);
void npde__heldout_free(npde__heldout *h);

/* Record a figure under name (e.g. "fit.rel_error"). */
void npde__metric(npde__run_state *rs, const char *name, double value);

typedef struct npde__stage {
  const char *name;
  const char *summary;
  const npde_param_spec *params;
  /* params: the stage's validated node, defaults filled */
  npde_status (*run)(npde__run_state *rs, const npde_config *params);
} npde__stage;

extern const npde__stage npde__stage_probe;
extern const npde__stage npde__stage_fit;
extern const npde__stage npde__stage_evolve;

/* The schema of the `network:` node (network.c). */
const npde_param_spec *npde__network_params(void);

/* The stage of this name, or NULL. */
const npde__stage *npde__stage_find(const char *name);

#endif
