/* The run context: what the run engine hands the stages of a pipeline, and
 * the registry methods put their stages into (core/methods/<method>/).
 *
 * A pipeline run owns one npde_run_ctx: the validated configuration, the
 * components it names (backend, pde, network and its parameters theta,
 * solvers), the figures the stages report, the snapshots of theta, the
 * arrays bound for results.npz and the run directory. A stage reads what it
 * needs from the context and writes its results back through the calls
 * below; it never reads another stage's configuration, except through
 * npde_run_stage_params for a stage of its own method.
 *
 * Methods: a method registers its stages (npde_run_register_stage) and, where
 * its PDEs need it, an npde_run_method that the run engine asks instead of
 * branching on a PDE's kind (how many network outputs, which eval, what the
 * model's value is). The engine names no method.
 *
 * In-tree, not installed: the functions are exported from libnpde_run for the
 * method libraries. */
#ifndef NPDE_RUN_CONTEXT_H
#define NPDE_RUN_CONTEXT_H

#include <stdio.h>
#include <time.h>

#include "npde/npde_backend.h"
#include "npde/npde_io.h"
#include "npde/npde_network.h"
#include "npde/npde_pde.h"
#include "npde/npde_pipeline.h"
#include "npde/npde_solvers.h"
#include "npde/plugin/npde_plugin.h"

#include "npde/npde_export.h"

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
  NPDE__STREAM_TRAIN = 0x7f070000,    /* train: random points (+0), epoch shuffles (+1), sketches (+2) */
  NPDE__STREAM_EXACT = 0x7f080000,    /* the exact-solution check's points */
  NPDE__STREAM_FIT_RHS = 0x7f090000   /* + fit index: zero_head rhs, the zero outputs' feature fit */
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
typedef struct npde_run_ctx npde_run_ctx;
struct npde_run_ctx {
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
  int lock_fd; /* the run directory's .lock, held while locked (rundir.c) */
  bool locked;
  int64_t metrics_bytes; /* length of metrics.csv after its last complete row */
  double checkpoint_every; /* seconds of wall time between checkpoints */
  npde__result results[NPDE__MAX_RESULTS]; /* arrays for results.npz besides the snapshots */
  int n_results;
  size_t stage_index;      /* the stage running */
  const char *resume_from; /* checkpoint to continue from (the running stage reads its part), or NULL */
  /* the PDE's exact solution failed npde__exact_check: errors are "against the reference" */
  bool exact_is_reference;
};

/* Run directory (rundir.c). All writes go to a temporary name and are
 * renamed. Functions are no-ops returning NPDE_OK without a directory. */
/* Append theta (p values, backend memory) at time t with its error (NaN if none). */
NPDE_API npde_status npde__snapshot_add(npde_run_ctx *rs, double t, const npde_mat *theta, double error);
/* Put an array into results.npz (copied; replaces one of the same name). */
NPDE_API npde_status npde__result_put(npde_run_ctx *rs, const char *name, npde_npy_type type, const void *data, int ndim,
                             const int64_t *shape);
/* Write results.npz now: times, theta snapshots, errors, the put arrays. */
NPDE_API npde_status npde__results_write(npde_run_ctx *rs);
/* One row of metrics.csv (the header is written before the first row). */
NPDE_API npde_status npde__metrics_row(npde_run_ctx *rs, const char *header, const char *fmt, ...) NPDE_PRINTF(3, 4);
/* Start a checkpoint with the pipeline's part (stage, theta, counters,
 * figures, snapshots, results); the running stage adds its members, then
 * npde_npz_commit. *w is NULL without a run directory. */
NPDE_API npde_status npde__checkpoint_begin(npde_run_ctx *rs, size_t stage, npde_npz_writer **w);
/* Read the pipeline's part of a checkpoint back into rs; *stage is the stage to continue with. */
NPDE_API npde_status npde__checkpoint_load(npde_run_ctx *rs, const char *path, size_t *stage);
/* Create dir (fresh: refuse one that holds a run), write config.yaml, open
 * log.txt and copy the log there; close releases it all. */
NPDE_API npde_status npde__rundir_open(npde_run_ctx *rs, const char *dir, bool resuming);
NPDE_API void npde__rundir_close(npde_run_ctx *rs);
/* dir/plugins.txt: the file, plugin, version and CRC-32 of every plugin the registry loaded. */
NPDE_API npde_status npde__rundir_record_plugins(npde_run_ctx *rs);

/* A result array the run has put (npde__result_put), or NULL. */
NPDE_API const npde__result *npde__result_get(const npde_run_ctx *rs, const char *name);
/* theta_dot (p, host) of the snapshot at time t, once known: row of results.npz theta_dot (n_snapshots x p, NaN
 * rows until known), kept from the first call for that snapshot. */
NPDE_API npde_status npde__snapshot_dot(npde_run_ctx *rs, double t, const double *dot);
/* The PDE residual r = N_t - F(N) (n x K, host) of the network with theta and theta_dot (host, p each) at n points
 * x (host, n x d, on the reference cube) at time t. */
NPDE_API npde_status npde__pde_residual(npde_run_ctx *rs, double t, const double *theta, const double *theta_dot,
                                        const double *x, int64_t n, double *r);

/* An evolve stage's nodes for theta at any t (trajectory.c): host arrays, n of capacity cap, p parameters each. */
typedef struct npde__trajectory {
  int64_t p, n, cap;
  double *t;           /* n, non-decreasing; equal only across a restart */
  int64_t *segment;    /* n: the restarts before the node */
  double *theta, *dot; /* n x p: theta and theta_dot */
} npde__trajectory;
NPDE_API npde_status npde__trajectory_push(npde__trajectory *tr, double t, const double *theta, const double *dot,
                                           int64_t segment);
/* path (trajectory.npz: t, segment, theta, theta_dot) written atomically, or read (tr->p set by the caller). */
NPDE_API npde_status npde__trajectory_write(const npde__trajectory *tr, const char *path);
NPDE_API npde_status npde__trajectory_read(const char *path, npde__trajectory *tr);
/* theta (p, host) at t: the node's own at a node, else the cubic Hermite interpolant between the nodes around t in
 * one segment; NPDE_ERR_INVALID_ARG outside [t_0, t_last]. */
NPDE_API npde_status npde__trajectory_at(const npde__trajectory *tr, double t, double *theta);
NPDE_API void npde__trajectory_free(npde__trajectory *tr);

/* Whether npde_pipeline_request_stop was called; on several ranks, whether any rank was asked (an allreduce, so
 * call it where every rank does, in step with the others). */
NPDE_API bool npde__stop_requested(void);

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
NPDE_API npde_status npde__heldout_eval(npde_run_ctx *rs, int64_t n, npde__heldout *h);
NPDE_API void npde__heldout_free(npde__heldout *h);
/* sqrt(sum (u - ref)^2 / sum ref^2) of n x K host values over every output (*err) and over each output
 * alone (per_output, K entries); a zero reference gives the absolute norm. */
NPDE_API void npde__relative_errors(const double *u, const double *ref, int64_t n, int64_t K, double *err,
                           double *per_output);
/* npde__relative_errors of the network (rs->theta) against the PDE's exact solution at time t on n
 * held-out points. */
NPDE_API npde_status npde__exact_error(npde_run_ctx *rs, double t, int64_t n, double *err, double *per_output);
/* Logs "STAGE: t = T: relative L2 error against the exact solution E (per output: e0, e1)" (the
 * parenthesis only for K > 1; "the reference" when the exact solution failed its check). */
NPDE_API void npde__log_exact_error(const npde_run_ctx *rs, const char *stage, double t, double err,
                                    const double *per_output, int64_t K);
/* "the exact solution", or "the reference" when it failed npde__exact_check. */
NPDE_API const char *npde__exact_label(const npde_run_ctx *rs);
/* Whether the PDE's exact solution is one: its PDE residual by differences in x and t at random points, and
 * its values on the faces when the PDE says it vanishes there. A failure is logged with the figures and sets
 * rs->exact_is_reference; NPDE_OK either way unless evaluating fails. No-op without a time-dependent PDE with
 * an exact solution. */
NPDE_API npde_status npde__exact_check(npde_run_ctx *rs);

/* This rank's rows [*first, *first + *count) of a draw of `rows` points with d coordinates each (all rows
 * on one rank). Slices start on a Philox block (2 values), so a rank that draws from counter
 * base + npde_philox_blocks(*first * d) gets exactly its rows of the single-process draw. */
NPDE_API void npde__sample_slice(int64_t rows, int64_t d, int64_t *first, int64_t *count);

/* Record a figure under name (e.g. "fit.rel_error"). */
NPDE_API void npde__metric(npde_run_ctx *rs, const char *name, double value);
/* The figure recorded under name, if any. */
NPDE_API bool npde__metric_get(const npde_run_ctx *rs, const char *name, double *value);

/* Adam (Kingma and Ba) on a p x 1 parameter vector in backend memory, with
 * the constants both methods use. The moments start at zero and are the
 * caller's to checkpoint; release with npde__adam_free (also after a
 * failed init). */
#define NPDE__ADAM_B1 0.9
#define NPDE__ADAM_B2 0.999
#define NPDE__ADAM_EPS 1e-8
typedef struct npde__adam {
  npde_backend *be;
  npde_mat m, v; /* first and second moments, p x 1 */
} npde__adam;
NPDE_API npde_status npde__adam_init(npde__adam *a, npde_backend *be, int64_t p);
/* theta takes Adam step number `step` (from 1) at learning rate lr along g; g is first scaled to norm
 * clip when clip > 0 and ||g|| > clip. */
NPDE_API npde_status npde__adam_step(npde__adam *a, npde_mat *theta, npde_mat *g, double lr, double clip,
                                     int64_t step);
NPDE_API void npde__adam_free(npde__adam *a);

/* A stage: a name the pipeline's `stages:` list uses, its parameter schema
 * (validated before anything runs) and what it does. */
typedef struct npde_stage {
  const char *name;
  const char *summary;
  const npde_param_spec *params;
  /* params: the stage's validated node, defaults filled */
  npde_status (*run)(npde_run_ctx *rs, const npde_config *params);
  bool rank0_only; /* data-parallel runs: only rank 0 runs it (no reductions inside; it reports and writes) */
  /* optional: what the schema cannot say (nested maps of settings), refused at validation, so `npde check` does */
  npde_status (*check)(const npde_config *params);
  /* optional: what the stage needs of the created components (which ones, and the memory its sizes take); asked
   * for every stage before the first runs, and by `npde check`, so neither runs a pipeline that would fail later */
  npde_status (*preflight)(const npde_run_ctx *rs, const npde_config *params);
} npde_stage;

/* What a stage's preflight asks for: the components it uses, refused at `params` with `stage`'s name. */
enum { NPDE__NEEDS_NETWORK = 1, NPDE__NEEDS_SOLVER = 2, NPDE__NEEDS_INTEGRATOR = 4 };
NPDE_API npde_status npde__stage_needs(const npde_run_ctx *rs, const npde_config *params, const char *stage,
                                       unsigned needs);
/* Refuse, at `where`, a stage whose arrays for `what` need more than this machine's memory. bytes is a lower bound
 * for the whole run; on several ranks each machine holds its ranks' share. */
NPDE_API npde_status npde__memory_fits(const npde_config *where, const char *what, double bytes);
/* Each stage's preflight, in pipeline order. */
NPDE_API npde_status npde__stages_preflight(const npde_run_ctx *rs);

/* Make a stage available to pipelines (methods call this when their library
 * loads). A second stage of the same name is refused. */
NPDE_API npde_status npde_run_register_stage(const npde_stage *stage);
/* The registered stage of this name, or NULL. */
NPDE_API const npde_stage *npde_run_find_stage(const char *name);
/* The validated parameters of the pipeline's first `stage` entry, or NULL when the pipeline has none (a
 * method's stage reading the settings of another stage of the same method, e.g. evolve's refits). */
NPDE_API const npde_config *npde_run_stage_params(const npde_run_ctx *rs, const npde_stage *stage);

/* What the run engine asks a method about the PDEs it solves, instead of branching on the PDE's kind. */
typedef struct npde_run_method {
  const char *name;
  /* true when PDEs with this info are this method's */
  bool (*claims)(const npde_pde_info *info);
  /* the network's outputs for such a PDE, and what they are ("sides (one network each)") */
  int64_t (*network_outputs)(const npde_pde_info *info);
  const char *outputs_noun;
  /* the eval stage's work for such a PDE (params: the eval stage's node) */
  npde_status (*eval)(npde_run_ctx *rs, const npde_config *params);
  /* the trained model: its outputs (K network outputs), and its value u (n x outputs) and gradient (n x outputs
   * x d, or NULL) at n points x from the network's values uk (n x K) and gradients gk (n x K x d, or NULL) */
  int64_t (*model_outputs)(int64_t K);
  npde_status (*model_value)(const npde_pde *pde, const double *x, int64_t n, int64_t K, int64_t d,
                             const double *uk, const double *gk, double *u, double *grad);
} npde_run_method;
NPDE_API npde_status npde_run_register_method(const npde_run_method *method);
/* The method that claims this PDE, or NULL (the engine's defaults: one output per component). */
NPDE_API const npde_run_method *npde_run_method_for(const npde_pde *pde);

/* Create the backend and the components a pipeline names, with the network's
 * initial parameters, into a zeroed rs (pipeline.c); release undoes it. A
 * failure leaves what was made for release. */
NPDE_API npde_status npde__pipeline_instantiate(npde_pipeline *pl, npde_run_ctx *rs);
NPDE_API void npde__pipeline_release(npde_run_ctx *rs);

#endif
