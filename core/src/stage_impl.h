/* Private: pipeline stages (fit, evolve, train, ... join this table). */
#ifndef NPDE_STAGE_IMPL_H
#define NPDE_STAGE_IMPL_H

#include <stdio.h>
#include <time.h>

#include "npde/npde_backend.h"
#include "npde/npde_io.h"
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
  NPDE__STREAM_SKETCH = 0x7f050000,  /* evolve: Nystrom test matrices */
  NPDE__STREAM_RESIDUAL = 0x7f060000, /* evolve: the fixed residual evaluation set */
  NPDE__STREAM_TRAIN = 0x7f070000     /* train: random points (+0), epoch shuffles (+1), sketches (+2) */
};

#define NPDE__MAX_METRICS 64
#define NPDE__MAX_RESULTS 32

/* An array bound for results.npz. */
typedef struct npde__result {
  char name[64];
  npde_npy_type type;
  int ndim;
  int64_t shape[NPDE_NPY_MAX_DIMS];
  void *data;
} npde__result;

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
  /* theta at the output times so far (host; evolve appends, eval reads) */
  int64_t n_snap, snap_cap;
  double *snap_t, *snap_theta, *snap_error; /* n_snap, n_snap x p, n_snap (NaN: no exact solution) */
  /* the run directory (dir NULL: the run writes no files) */
  char *dir;
  FILE *log, *metrics;
  int64_t metrics_bytes; /* length of metrics.csv after its last complete row */
  double checkpoint_every; /* seconds of wall time between checkpoints */
  npde__result results[NPDE__MAX_RESULTS]; /* arrays for results.npz besides the snapshots */
  int n_results;
  size_t stage_index;      /* the stage running */
  const char *resume_from; /* checkpoint to continue from (the running stage reads its part), or NULL */
} npde__run_state;

/* Run directory (rundir.c). All writes go to a temporary name and are
 * renamed. Functions are no-ops returning NPDE_OK without a directory. */
/* Append theta (p values, backend memory) at time t with its error (NaN if none). */
npde_status npde__snapshot_add(npde__run_state *rs, double t, const npde_mat *theta, double error);
/* Put an array into results.npz (copied; replaces one of the same name). */
npde_status npde__result_put(npde__run_state *rs, const char *name, npde_npy_type type, const void *data, int ndim,
                             const int64_t *shape);
/* Write results.npz now: times, theta snapshots, errors, the put arrays. */
npde_status npde__results_write(npde__run_state *rs);
/* One row of metrics.csv (the header is written before the first row). */
npde_status npde__metrics_row(npde__run_state *rs, const char *header, const char *fmt, ...) NPDE_PRINTF(3, 4);
/* Start a checkpoint with the pipeline's part (stage, theta, counters,
 * figures, snapshots, results); the running stage adds its members, then
 * npde_npz_commit. *w is NULL without a run directory. */
npde_status npde__checkpoint_begin(npde__run_state *rs, size_t stage, npde_npz_writer **w);
/* Read the pipeline's part of a checkpoint back into rs; *stage is the stage to continue with. */
npde_status npde__checkpoint_load(npde__run_state *rs, const char *path, size_t *stage);
/* Create dir (fresh: refuse one that holds a run), write config.yaml, open
 * log.txt and copy the log there; close releases it all. */
npde_status npde__rundir_open(npde__run_state *rs, const char *dir, bool resuming);
void npde__rundir_close(npde__run_state *rs);

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
/* sqrt(sum (u - ref)^2 / sum ref^2) of n x K host values over every output (*err) and over each output
 * alone (per_output, K entries); a zero reference gives the absolute norm. */
void npde__relative_errors(const double *u, const double *ref, int64_t n, int64_t K, double *err,
                           double *per_output);
/* npde__relative_errors of the network (rs->theta) against the PDE's exact solution at time t on n
 * held-out points. */
npde_status npde__exact_error(npde__run_state *rs, double t, int64_t n, double *err, double *per_output);
/* Logs "STAGE: t = T: relative L2 error against the exact solution E (per output: e0, e1)" (the
 * parenthesis only for K > 1). */
void npde__log_exact_error(const char *stage, double t, double err, const double *per_output, int64_t K);

/* This rank's rows [*first, *first + *count) of a draw of `rows` points with d coordinates each (all rows
 * on one rank). Slices start on a Philox block (2 values), so a rank that draws from counter
 * base + npde_philox_blocks(*first * d) gets exactly its rows of the single-process draw. */
void npde__sample_slice(int64_t rows, int64_t d, int64_t *first, int64_t *count);

/* Interface PDEs: the nodes of g ('ij' order, n x 3, malloc'ed into *x); u (n values) = the output of
 * the network (rs->theta) of the side phi selects, at the n host points x; RMSE and max |a - b|. */
npde_status npde__grid_points(const npde_grid *g, double **x);
npde_status npde__side_values(npde__run_state *rs, const double *x, const double *phi, int64_t n, double *u);
void npde__rmse_linf(const double *a, const double *b, int64_t n, double *rmse, double *linf);
/* sum (a - b)^2 and max |a - b| over n values (the parts of RMSE and Linf that add up over ranks). */
void npde__sq_sum_max(const double *a, const double *b, int64_t n, double *sum_sq, double *max_abs);

/* The eval stage of discrete interface PDEs (stage_eval_discrete.c). */
npde_status npde__eval_discrete(npde__run_state *rs, const npde_config *params);

/* Record a figure under name (e.g. "fit.rel_error"). */
void npde__metric(npde__run_state *rs, const char *name, double value);
/* The figure recorded under name, if any. */
bool npde__metric_get(const npde__run_state *rs, const char *name, double *value);

typedef struct npde__stage {
  const char *name;
  const char *summary;
  const npde_param_spec *params;
  /* params: the stage's validated node, defaults filled */
  npde_status (*run)(npde__run_state *rs, const npde_config *params);
  bool rank0_only; /* data-parallel runs: only rank 0 runs it (no reductions inside; it reports and writes) */
} npde__stage;

extern const npde__stage npde__stage_probe;
extern const npde__stage npde__stage_fit;
extern const npde__stage npde__stage_evolve;
extern const npde__stage npde__stage_train;
extern const npde__stage npde__stage_eval;

/* Create the backend and the components a pipeline names, with the network's
 * initial parameters, into a zeroed rs (pipeline.c); release undoes it. A
 * failure leaves what was made for release. */
npde_status npde__pipeline_instantiate(npde_pipeline *pl, npde__run_state *rs);
void npde__pipeline_release(npde__run_state *rs);

/* The schema of the `network:` node (network.c). */
const npde_param_spec *npde__network_params(void);

/* The stage of this name, or NULL. */
const npde__stage *npde__stage_find(const char *name);

#endif
