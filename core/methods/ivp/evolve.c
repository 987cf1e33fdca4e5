/* The `evolve` stage (docs/methods/neural-ivp.md §3-6, §11): integrates the network's
 * parameters theta(t) from t = 0 with theta_dot solving
 * (M + mu_a I) theta_dot = F, M = J^T J / n, F = J^T f / n, f = L[N] at n
 * fresh uniform samples per step attempt (shared by the attempt's stages),
 * with the pipeline's linsolver (warm-started from the previous theta_dot),
 * precond and integrator. Adaptive samples carry weights p/q (M = J^T W J / n, F = J^T W f / n; sampler.c); the
 * preconditioner may be sketched from an f32 or block-diagonal view of M (sketch_op.c) and the solve run as f32
 * iterations inside f64 refinement (refine.c), docs/methods/neural-ivp.md §1.4, §4.8.
 *
 * Per accepted step it writes a metrics.csv row: CG iterations, the PDE
 * residual of docs/methods/neural-ivp.md §3.4 on a fixed evaluation set (R_true and the reference
 * code's R_code = R_true / sqrt(N_eval), measured at the first stage of the
 * step, i.e. at the step's start), the step size, lambda_max and mu_a.
 * Restarts (docs/methods/neural-ivp.md §6.3) refit the network to its own prediction between steps
 * by one of five policies. Checkpoints at a wall-time interval hold all a
 * killed run needs to continue bit for bit (`npde resume DIR`); a run that
 * fails keeps its last good state in the checkpoint.
 *
 * theta at any t: every trajectory_every-th accepted step's start (and every
 * output time, segment start and segment end) is kept as a node (t, theta,
 * theta_dot) in trajectory.npz, for the cubic Hermite interpolant between
 * nodes (trajectory.c). A node's theta_dot is the first stage of the accepted
 * attempt that starts there; at the end of a segment (a restart, t_end),
 * where no step starts, one more rhs on the next attempt's samples gives it,
 * with every counter and the warm start restored, so keeping the trajectory
 * changes none of the run's numbers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm_reduce.h"
#include "config_impl.h"
#include "log_impl.h"
#include "npde/npde_comm.h"
#include "npde/npde_log.h"
#include "npde/npde_solvers.h"
#include "ivp_impl.h"
#include "sampler.h"
#include "sketch_op.h"

static const npde_param_spec evolve_params[] = {
    {.name = "t_end", .type = NPDE_PARAM_REAL, .min = 0, .flags = NPDE_PARAM_HAS_MIN, .doc = "final time"},
    {.name = "snapshots", .type = NPDE_PARAM_REAL_LIST, .default_value = "[]",
     .doc = "intermediate output times in (0, t_end), increasing"},
    {.name = "mu", .type = NPDE_PARAM_REAL, .default_value = "1e-6", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "absolute regulariser when the pipeline has no preconditioner (which otherwise decides mu_a)"},
    {.name = "warm_start", .type = NPDE_PARAM_BOOL, .default_value = "true",
     .doc = "start each linear solve from the previous theta_dot (false: from 0, as the reference code)"},
    {.name = "eval_points", .type = NPDE_PARAM_INT, .default_value = "10000", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "held-out points of the error against the exact solution at each output time"},
    {.name = "residual_points", .type = NPDE_PARAM_INT, .default_value = "10000", .min = 0,
     .flags = NPDE_PARAM_HAS_MIN,
     .doc = "fixed points of the PDE residual metric (docs/methods/neural-ivp.md §3.4); 0: not measured"},
    {.name = "on_cg_failure", .type = NPDE_PARAM_ENUM, .default_value = "reject", .choices = "reject|accept",
     .doc = "a linear solve that misses its tolerance: reject the step (retried smaller, fresh samples), or accept "
            "its iterate as the reference code does (counted in metrics.csv)"},
    {.name = "cg_retries", .type = NPDE_PARAM_INT, .default_value = "3", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "on_cg_failure: reject: step attempts in a row, each on fresh samples, whose solve may miss its tolerance "
            "before the run stops and says which settings help (the system does not depend on the step size)"},
    {.name = "max_residual", .type = NPDE_PARAM_REAL, .default_value = "0", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "stop the run (keeping the last good state) when the relative residual R_true exceeds this; 0: never"},
    {.name = "restarts", .type = NPDE_PARAM_ANY, .default_value = "{policy: none}",
     .doc = "refits to the network's own prediction (docs/methods/neural-ivp.md §6.3): {policy: "
            "none|walltime|work|fixed_count|"
            "cg_trigger, count, time_fraction, cg_threshold, fit: {...fit stage keys}}"},
    {.name = "log_every", .type = NPDE_PARAM_REAL, .default_value = "1", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "seconds between progress lines (the log file's, when a terminal shows a live line)"},
    {.name = "sampling", .type = NPDE_PARAM_ANY, .default_value = "{type: uniform}",
     .doc = "where each step attempt's samples lie (docs/methods/neural-ivp.md §1.4): {type: uniform}, or {type: "
            "adaptive, mix: 0.5, candidates: 4}: a share `mix` resampled from `candidates` x n uniform points by "
            "u^2 + |grad u|^2 of the network, every sample weighted by p/q"},
    {.name = "sketch_precision", .type = NPDE_PARAM_ENUM, .default_value = "f64", .choices = "f64|f32",
     .doc = "precision of the preconditioner's sketch products (the linear solve stays f64): f32 runs the network's "
            "block product in single precision, about twice as fast (docs/methods/neural-ivp.md §4.8)"},
    {.name = "sketch_blocks", .type = NPDE_PARAM_ENUM, .default_value = "joint", .choices = "joint|per_output",
     .doc = "per_output: tell the preconditioner that M is block diagonal by output branch, so that it sketches each "
            "branch's block with its own columns at a fraction of a product each (docs/methods/neural-ivp.md §4.8)"},
    {.name = "solve_precision", .type = NPDE_PARAM_ENUM, .default_value = "f64", .choices = "f64|mixed",
     .doc = "mixed: the linear solve's Krylov iterations apply M in f32, inside f64 iterative refinement to the "
            "linsolver's tol (the same f64 criterion; docs/methods/neural-ivp.md §4.8); needs an iterative linsolver "
            "with a tol (cg)"},
    {.name = "mixed_inner_tol", .type = NPDE_PARAM_REAL, .default_value = "1e-4", .min = 0, .max = 1,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX,
     .doc = "solve_precision mixed: the relative tolerance of each f32 inner solve"},
    {.name = "trajectory_every", .type = NPDE_PARAM_INT, .default_value = "1", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "keep theta and theta_dot at every k-th accepted step (and at output times and restarts) in "
            "trajectory.npz, so that npde eval gives u at any t; 0: keep none (2 p doubles per node)"},
    {0},
};

static const npde_param_spec restart_params[] = {
    {.name = "policy", .type = NPDE_PARAM_ENUM, .default_value = "none",
     .choices = "none|walltime|work|fixed_count|cg_trigger",
     .doc = "walltime: the reference code's rule (restart when the wall time since the last fit exceeds the mean "
            "fit time / time_fraction; not reproducible); work: the same rule counting M v products (reproducible); "
            "fixed_count: `count` restarts at equally spaced times; cg_trigger: when a step's largest CG iteration "
            "count exceeds cg_threshold"},
    {.name = "count", .type = NPDE_PARAM_INT, .default_value = "10", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "fixed_count: number of restarts"},
    {.name = "time_fraction", .type = NPDE_PARAM_REAL, .default_value = "0.5", .min = 0, .max = 1,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX, .doc = "walltime, work: the share of the cost spent refitting"},
    {.name = "cg_threshold", .type = NPDE_PARAM_INT, .default_value = "500", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "cg_trigger: CG iterations of one solve that trigger a restart"},
    {.name = "fit", .type = NPDE_PARAM_ANY, .default_value = "{}",
     .doc = "fit-stage keys for the refits (default: those of the pipeline's first fit stage)"},
    {0},
};

typedef enum restart_policy { RESTART_NONE, RESTART_WALLTIME, RESTART_WORK, RESTART_FIXED, RESTART_CG } restart_policy;

/* Points with their x-jets, f = L[N] and host scratch: the step's samples and
 * the fixed residual set. On several ranks each holds its slice [first,
 * first + n) of the total set. */
typedef struct jet_set {
  int64_t n, total, first;
  void *x, *f;                         /* backend: points (n x d), f (n x K) */
  double *xh, *val, *grad, *sec, *fh;  /* host */
} jet_set;

typedef struct evolve_ctx {
  npde_run_ctx *rs;
  npde_backend *be;
  npde_network *net;
  npde_linsolver *ls;
  npde_precond *pc;
  int64_t d, K, p;
  double mu, max_residual;
  bool warm_start, accept_cg_failure;
  int64_t cg_retries, cg_streak; /* attempts in a row whose solve missed its tolerance */
  npde_jet_order order;
  jet_set samples, resid;
  void *rhs;      /* backend: F (p) */
  void *prev_dot; /* backend: the last theta_dot (warm start) */
  void *resid_jv; /* backend: J theta_dot on the residual set (n_resid x K) */
  npde_linearization *lin, *lin_resid;
  npde__dist_op m_all;          /* M summed over the ranks' samples */
  bool sketch_f32, sketch_per_output;
  npde__sketch_op sketch;       /* sketch_precision f32 or sketch_blocks per_output: the operator to sketch */
  npde__dist_op sketch_all;
  npde__refine refine;          /* solve_precision mixed (refine.inner set) */
  npde__sampler sampler;        /* sampling: adaptive draws at an attempt's first stage, from its theta */
  void *sqrt_w;                 /* backend: the samples' sqrt(p/q) (adaptive) */
  double *sqrt_wh;              /* host */
  bool draw_pending;            /* adaptive: the attempt (c->attempt) has not drawn its samples yet */
  npde__sketch_op solve32;      /* its f32 operator, when the sketch's is not one */
  npde__dist_op solve32_all;
  npde__comm_scratch reduce;    /* host staging of F */
  /* counters (checkpointed) */
  int64_t rhs_evals, cg_total, restarts, cg_failures;
  double elapsed0; /* wall time of earlier sessions of this run */
  /* the current attempt */
  int64_t attempt, stage, att_cg, att_cg_max;
  double res_true, res_code, res_rms, f_rms, mu_last, lambda_last, t_prev;
  /* restarts */
  restart_policy policy;
  int64_t restart_count, cg_threshold;
  double time_fraction, fit_seconds_mean, fit_work_mean, last_fit_wall, work_since_fit, fit_work;
  int64_t n_fit_timings;
  npde_config *fit_params; /* resolved fit-stage params with target: network */
  bool log_cg_after_restart;
  /* progress, checkpoints */
  double t_end, t0, last_log, last_live, last_ckpt, log_every;
  double t_session; /* simulation time when this session began (remaining-time estimate) */
  npde_step_state last_state; /* after the last accepted step */
  bool have_state;
  /* theta at any t: the kept nodes, and the node at the last accepted step, whose theta_dot comes next */
  int64_t traj_every;
  npde__trajectory traj;
  void *first_dot, *saved_dot;  /* backend: the attempt's first stage; the warm start kept over a segment end */
  double *pend_theta, *pend_dot; /* host */
  double pend_t;
  int64_t pend_step;
  const double *t_out;
  size_t n_out;
} evolve_ctx;

static double elapsed(const evolve_ctx *c) { return c->elapsed0 + npde__now_seconds() - c->t0; }

/* This rank's slice of a set of `total` points (npde__sample_slice). */
static npde_status jet_set_alloc(evolve_ctx *c, jet_set *s, int64_t total, const char *what) {
  const int64_t sec = npde_jet_second_width(c->order, c->d) > 0 ? npde_jet_second_width(c->order, c->d) : 1;
  int64_t n;
  s->total = total;
  npde__sample_slice(total, c->d, &s->first, &n);
  if (n < 1)
    return NPDE_ERROR(NPDE_ERR_CONFIG, "evolve: %s = %lld points leave rank %d of %d without any: use at least %d",
                      what, (long long)total, npde_comm_rank(), npde_comm_size(), 2 * npde_comm_size());
  s->n = n;
  NPDE_TRY(npde_backend_alloc(c->be, (size_t)(n * c->d) * sizeof(double), &s->x));
  NPDE_TRY(npde_backend_alloc(c->be, (size_t)(n * c->K) * sizeof(double), &s->f));
  s->xh = malloc((size_t)(n * c->d) * sizeof(double));
  s->val = malloc((size_t)(n * c->K) * sizeof(double));
  s->grad = malloc((size_t)(n * c->K * c->d) * sizeof(double));
  s->sec = malloc((size_t)(n * c->K * sec) * sizeof(double));
  s->fh = malloc((size_t)(n * c->K) * sizeof(double));
  if (!s->xh || !s->val || !s->grad || !s->sec || !s->fh)
    return NPDE_ERROR(NPDE_ERR_NOMEM, "evolve: out of host memory for the jets of %lld points", (long long)n);
  return NPDE_OK;
}

static void jet_set_free(evolve_ctx *c, jet_set *s) {
  npde_backend_free(c->be, s->x);
  npde_backend_free(c->be, s->f);
  free(s->xh);
  free(s->val);
  free(s->grad);
  free(s->sec);
  free(s->fh);
  memset(s, 0, sizeof *s);
}

/* Draw the set's points (this rank's rows of draw number `draw` of the stream) and copy them to the host
 * (s->xh), once per new sample set, not per RHS evaluation. */
static npde_status jet_set_draw(evolve_ctx *c, jet_set *s, uint64_t stream, uint64_t draw) {
  npde_mat X = npde_mat_view(s->x, NPDE_F64, s->n, c->d);
  NPDE_TRY(npde__sample_uniform(c->be, c->rs->seed, stream, draw, s->total, s->first, &X));
  return npde_backend_download(c->be, s->xh, s->x, (size_t)(s->n * c->d) * sizeof(double));
}

/* The network's values and derivatives at the set's points are finite, or the run stops naming how many are not. */
static npde_status jets_finite(const evolve_ctx *c, const jet_set *s, double t) {
  const int64_t K = c->K, d = c->d, sec = npde_jet_second_width(c->order, d);
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < s->n; ++i) {
    bool ok = true;
    for (int64_t k = 0; k < K; ++k) ok = ok && isfinite(s->val[i * K + k]);
    for (int64_t e = 0; c->order >= NPDE_JET_GRAD && e < K * d; ++e) ok = ok && isfinite(s->grad[i * K * d + e]);
    for (int64_t e = 0; e < K * sec; ++e) ok = ok && isfinite(s->sec[i * K * sec + e]);
    if (!ok && first < 0) first = i;
    bad += !ok;
  }
  if (!bad) return NPDE_OK;
  return NPDE_ERROR(NPDE_ERR_NO_RETRY, "evolve: t = %.9g: the network's values or derivatives are NaN or Inf at %lld "
                    "of %lld points (first: point %lld, x1 = %g)", t, (long long)bad, (long long)s->n,
                    (long long)first, s->xh[first * d]);
}

/* f = L[N](x, t) at the set's points (s->xh current), on the host from the network's x-jets, then uploaded. */
static npde_status jet_set_rhs(evolve_ctx *c, jet_set *s, const npde_mat *theta, double t) {
  npde_mat X = npde_mat_view(s->x, NPDE_F64, s->n, c->d);
  NPDE_TRY(npde_network_jet(c->net, theta, &X, c->order, s->val, s->grad, s->sec));
  NPDE_TRY(jets_finite(c, s, t));
  npde_pde_jets jets = {.n = s->n, .d = c->d, .K = c->K, .order = c->order, .x = s->xh, .value = s->val,
                        .grad = s->grad, .second = s->sec};
  NPDE_TRY(npde_pde_rhs(c->rs->pde, t, &jets, s->fh));
  if (s == &c->samples && c->sampler.adaptive) /* F = J^T W f / n = (sqrt(W) J)^T (sqrt(W) f) / n */
    for (int64_t i = 0; i < s->n; ++i)
      for (int64_t k = 0; k < c->K; ++k) s->fh[i * c->K + k] *= c->sqrt_wh[i];
  return npde_backend_upload(c->be, s->f, s->fh, (size_t)(s->n * c->K) * sizeof(double));
}

/* The attempt's samples: uniform, or adaptive from the network at the attempt's theta (sampler.c). */
static npde_status draw_samples(evolve_ctx *c, const npde_mat *theta, uint64_t attempt) {
  jet_set *s = &c->samples;
  if (!c->sampler.adaptive) return jet_set_draw(c, s, NPDE__STREAM_EVOLVE, attempt);
  npde_mat X = npde_mat_view(s->x, NPDE_F64, s->n, c->d);
  NPDE_TRY(npde__sampler_draw(&c->sampler, c->net, theta, NULL, NULL, c->rs->seed, NPDE__STREAM_EVOLVE, attempt,
                              s->total, s->first, s->n, &X, c->sqrt_wh));
  c->draw_pending = false;
  npde_log(NPDE_LOG_DEBUG, "evolve: attempt %llu: adaptive samples, effective sample size %.3f n, p/q in [%.3g, %.3g]",
           (unsigned long long)attempt, c->sampler.ess, c->sampler.w_min, c->sampler.w_max);
  NPDE_TRY(npde_backend_upload(c->be, c->sqrt_w, c->sqrt_wh, (size_t)s->n * sizeof(double)));
  return npde_backend_download(c->be, s->xh, s->x, (size_t)(s->n * c->d) * sizeof(double));
}

static npde_status evolve_begin_attempt(void *ctx, double t, double h, int64_t attempt) {
  evolve_ctx *c = ctx;
  (void)h;
  c->attempt = attempt;
  c->stage = 0;
  c->att_cg = c->att_cg_max = 0;
  c->t_prev = t;
  /* one fresh sample set per attempt, shared by all its stages (docs/methods/neural-ivp.md §1.3); an adaptive one
   * needs the attempt's theta, which its first stage brings */
  c->draw_pending = c->sampler.adaptive;
  if (c->draw_pending) return NPDE_OK;
  return jet_set_draw(c, &c->samples, NPDE__STREAM_EVOLVE, (uint64_t)attempt);
}

/* R_true = ||J theta_dot - f|| / ||f|| on the fixed residual set (docs/methods/neural-ivp.md §3.4). */
static npde_status residual(evolve_ctx *c, const npde_mat *theta, double t, const npde_mat *theta_dot) {
  jet_set *s = &c->resid;
  NPDE_TRY(jet_set_rhs(c, s, theta, t));
  npde_mat X = npde_mat_view(s->x, NPDE_F64, s->n, c->d), F = npde_mat_view(s->f, NPDE_F64, s->n, c->K),
           JV = npde_mat_view(c->resid_jv, NPDE_F64, s->n, c->K);
  NPDE_TRY(c->lin_resid ? npde_linearization_update(c->lin_resid, theta, &X)
                        : npde_linearization_create(c->net, theta, &X, &c->lin_resid));
  NPDE_TRY(npde_linearization_jvp(c->lin_resid, theta_dot, &JV));
  double fn, rn;
  NPDE_TRY(npde_backend_nrm2(c->be, &F, &fn));
  NPDE_TRY(npde_backend_axpy(c->be, -1.0, &F, &JV));
  NPDE_TRY(npde_backend_nrm2(c->be, &JV, &rn));
  if (npde_comm_size() > 1) { /* the norms over all ranks' slices */
    double sq[2] = {fn * fn, rn * rn};
    NPDE_TRY(npde_comm_allreduce(sq, 2, NPDE_COMM_SUM));
    fn = sqrt(sq[0]);
    rn = sqrt(sq[1]);
  }
  c->res_true = fn > 0 ? rn / fn : rn;
  c->res_code = c->res_true / sqrt((double)s->total);
  c->res_rms = rn / sqrt((double)(s->total * c->K)); /* the absolute residual and the scale R_true divides by */
  c->f_rms = fn / sqrt((double)(s->total * c->K));
  return NPDE_OK;
}

/* The solve keeps missing its tolerance on fresh samples: the step size is not the cause, so stop and say what is. */
static npde_status cg_gives_up(const evolve_ctx *c, double t, const npde_solve_stats *ss, double reached, double mu,
                               int64_t rank) {
  const npde_config *cfg = c->rs->cfg;
  const char *max_iters = npde_config_scalar(npde_config_find(cfg, "linsolver.max_iters"));
  const char *tol = npde_config_scalar(npde_config_find(cfg, "linsolver.tol"));
  return NPDE_ERROR(NPDE_ERR_NO_RETRY, "evolve: t = %.9g: the linear solve missed its tolerance in %lld step attempts "
                    "in a row, each on fresh samples (last: %lld iterations, relative residual %.3e against tol %s; "
                    "shift mu %.3e, preconditioner rank %lld). A smaller step does not change this system. Settings "
                    "that help: linsolver.max_iters (now %s), precond.rank (now %lld), precond.mu (a larger shift), "
                    "or evolve.on_cg_failure: accept (take the iterate, as the reference code does); "
                    "evolve.cg_retries (now %lld) sets the attempts", t, (long long)(c->cg_retries + 1),
                    (long long)ss->iterations, reached, tol ? tol : "?", mu, (long long)rank,
                    max_iters ? max_iters : "?", (long long)rank, (long long)c->cg_retries);
}

static npde_status evolve_rhs(void *ctx, double t, const npde_mat *y, npde_mat *dydt) {
  evolve_ctx *c = ctx;
  npde_mat theta = npde_mat_view(y->data, NPDE_F64, c->p, 1), X = npde_mat_view(c->samples.x, NPDE_F64, c->samples.n, c->d);
  npde_mat W = npde_mat_view(c->samples.f, NPDE_F64, c->samples.n, c->K);
  const double w0 = npde__now_seconds();
  if (c->draw_pending) NPDE_TRY(draw_samples(c, &theta, (uint64_t)c->attempt));
  NPDE_TRY(jet_set_rhs(c, &c->samples, &theta, t));
  /* M and F at (theta, X) */
  NPDE_TRY(c->lin ? npde_linearization_update(c->lin, &theta, &X)
                  : npde_linearization_create(c->net, &theta, &X, &c->lin));
  npde_mat sqrt_w = npde_mat_view(c->sqrt_w, NPDE_F64, c->samples.n, 1);
  if (c->sampler.adaptive) NPDE_TRY(npde_linearization_scale_rows(c->lin, &sqrt_w)); /* M = J^T W J / n */
  npde_mat B = npde_mat_view(c->rhs, NPDE_F64, c->p, 1), prev = npde_mat_view(c->prev_dot, NPDE_F64, c->p, 1);
  /* F = J^T f / n and M = J^T J / n over all ranks' samples: each rank sums its own, MPI_Allreduce adds them */
  NPDE_TRY(npde_linearization_vjp(c->lin, &W, 1.0 / (double)c->samples.total, 0.0, &B));
  NPDE_TRY(npde__comm_allreduce_mat(c->be, &B, &c->reduce));
  npde_linop M = npde__dist_op_wrap(&c->m_all, npde_linearization_operator(c->lin),
                                    (double)c->samples.n / (double)c->samples.total, c->be);
  double shift = c->mu;
  int64_t rank = 0;
  npde_linop M32 = {0};
  const double w1 = npde__now_seconds();
  if (c->pc) {
    npde_precond_info info = {.struct_size = sizeof info};
    npde_linop S = M;
    if (c->sketch_f32 || c->sketch_per_output) {
      npde_linop sk;
      NPDE_TRY(npde__sketch_op_update(&c->sketch, c->net, c->sketch_f32 ? NPDE_F32 : NPDE_F64, c->sketch_per_output,
                                      &theta, &X, c->sampler.adaptive ? &sqrt_w : NULL, &sk));
      S = npde__dist_op_wrap(&c->sketch_all, sk, (double)c->samples.n / (double)c->samples.total, c->be);
      if (c->sketch_f32) M32 = S;
    }
    NPDE_TRY(npde_precond_setup(c->pc, &S, c->rs->seed, NPDE__STREAM_SKETCH, (uint64_t)c->rhs_evals << 20, &info));
    shift = info.shift;
    rank = info.rank;
    c->lambda_last = info.lambda_max;
  }
  c->mu_last = shift;
  ++c->rhs_evals;
  /* warm start from the last theta_dot (zero after a restart), or from 0 as docs/methods/neural-ivp.md §4.4 */
  NPDE_TRY(c->warm_start ? npde_backend_copy(c->be, &prev, dydt) : npde_backend_fill(c->be, dydt, 0.0));
  npde_solve_stats ss = {.struct_size = sizeof ss};
  const double w2 = npde__now_seconds();
  if (c->refine.inner && !M32.matvec) { /* the f32 operator of a mixed solve, when the sketch's is not one */
    NPDE_TRY(npde__sketch_op_update(&c->solve32, c->net, NPDE_F32, false, &theta, &X,
                                    c->sampler.adaptive ? &sqrt_w : NULL, &M32));
    M32 = npde__dist_op_wrap(&c->solve32_all, M32, (double)c->samples.n / (double)c->samples.total, c->be);
  }
  npde_status st = c->refine.inner ? npde__solve_refined(&c->refine, &M, &M32, shift, c->pc, &B, dydt, &ss)
                                   : npde_linsolver_solve(c->ls, &M, shift, c->pc, &B, dydt, &ss);
  const double w3 = npde__now_seconds();
  npde_log(NPDE_LOG_DEBUG, "evolve: rhs %lld: jets and F %.2f s, preconditioner %.2f s (rank %lld), solve %.2f s "
           "(%lld iterations)", (long long)c->rhs_evals, w1 - w0, w2 - w1, (long long)rank, w3 - w2,
           (long long)ss.iterations);
  c->cg_total += ss.iterations;
  c->att_cg += ss.iterations;
  if (ss.iterations > c->att_cg_max) c->att_cg_max = ss.iterations;
  /* cost in M v products on the samples: the sketch, the iterations, F */
  c->work_since_fit += (double)(rank + ss.iterations + 1);
  if (st == NPDE_NOT_CONVERGED) {
    c->cg_failures++;
    const double reached = ss.rhs_norm > 0 ? ss.residual_norm / ss.rhs_norm : ss.residual_norm;
    if (!c->accept_cg_failure && ++c->cg_streak > c->cg_retries) return cg_gives_up(c, t, &ss, reached, shift, rank);
    npde_log(c->accept_cg_failure ? NPDE_LOG_DEBUG : NPDE_LOG_WARN, "evolve: t = %.6g: the linear solve missed its "
             "tolerance after %lld iterations (relative residual %.3e); %s", t, (long long)ss.iterations, reached,
             c->accept_cg_failure ? "accepting its iterate" : "rejecting the step attempt, retrying on fresh samples");
    if (!c->accept_cg_failure) return NPDE_STEP_REJECTED;
    st = NPDE_OK;
  } else if (st == NPDE_OK) {
    c->cg_streak = 0;
  }
  NPDE_TRY(st);
  NPDE_TRY(npde_backend_copy(c->be, dydt, &prev));
  if (c->stage == 0 && c->first_dot) {
    npde_mat first = npde_mat_view(c->first_dot, NPDE_F64, c->p, 1);
    NPDE_TRY(npde_backend_copy(c->be, dydt, &first));
  }
  if (c->stage++ == 0 && c->resid.n > 0) NPDE_TRY(residual(c, &theta, t, dydt));
  return NPDE_OK;
}

/* -------------------------------------------------------------- restarts */

static const char *const policy_names[] = {"none", "walltime", "work", "fixed_count", "cg_trigger"};

static bool restart_due(const evolve_ctx *c, double t) {
  switch (c->policy) {
    case RESTART_NONE: return false;
    case RESTART_FIXED:
      return c->restarts < c->restart_count &&
             t >= (double)(c->restarts + 1) * c->t_end / (double)(c->restart_count + 1) * (1.0 - 1e-12);
    case RESTART_WALLTIME: {
      /* wall clocks differ between ranks: rank 0's decides for all */
      double due = npde_comm_rank() == 0 && npde__now_seconds() - c->last_fit_wall > c->fit_seconds_mean / c->time_fraction;
      if (npde_comm_allreduce(&due, 1, NPDE_COMM_MAX) != NPDE_OK) return false;
      return due > 0;
    }
    case RESTART_WORK: return c->work_since_fit > c->fit_work_mean / c->time_fraction;
    case RESTART_CG: return c->att_cg_max > c->cg_threshold;
  }
  return false;
}

/* Refit the network to its own prediction y from the initial parameters (docs/methods/neural-ivp.md §6.3). */
static npde_status restart(evolve_ctx *c, double t, npde_mat *y) {
  npde_run_ctx *rs = c->rs;
  npde_mat th = npde_mat_view(rs->theta, NPDE_F64, c->p, 1), prev = npde_mat_view(c->prev_dot, NPDE_F64, c->p, 1);
  npde_log(NPDE_LOG_INFO, "evolve: restart %lld at t = %.6g (%s policy): refitting the network to its own "
           "prediction; CG iterations of the last step: %lld (largest solve %lld)", (long long)c->restarts + 1, t,
           policy_names[c->policy],
           (long long)c->att_cg, (long long)c->att_cg_max);
  double start = npde__now_seconds();
  NPDE_TRY(npde_backend_copy(c->be, y, &th));
  NPDE_TRY(npde__stage_fit.run(rs, c->fit_params));
  NPDE_TRY(npde_backend_copy(c->be, &th, y));
  NPDE_TRY(npde_backend_fill(c->be, &prev, 0.0)); /* theta_dot history is discarded */
  double took = npde__now_seconds() - start;
  c->restarts++;
  c->n_fit_timings++;
  c->fit_seconds_mean += (took - c->fit_seconds_mean) / (double)c->n_fit_timings;
  c->fit_work_mean += (c->fit_work - c->fit_work_mean) / (double)c->n_fit_timings;
  c->last_fit_wall = npde__now_seconds();
  c->work_since_fit = 0;
  c->log_cg_after_restart = true;
  double err;
  if (npde__metric_get(rs, "refit.rel_error", &err))
    npde_log(NPDE_LOG_INFO, "evolve: restart %lld took %.1f s; refit relative error %.3e", (long long)c->restarts,
             took, err);
  npde__metric(rs, "evolve.restarts", (double)c->restarts);
  return NPDE_OK;
}

/* Fit-stage parameters for the refits: the pipeline's first fit stage (or the
 * defaults), overridden by restarts.fit, with target: network. */
static npde_status restart_fit_params(evolve_ctx *c, const npde_config *restarts) {
  const npde_config *base = npde_run_stage_params(c->rs, &npde__stage_fit);
  npde_config *merged = NULL;
  if (base) NPDE_TRY(npde_config_clone(base, &merged));
  else {
    merged = npde__config_new(NPDE_CONFIG_MAP, restarts->file, restarts->line, restarts->column);
    if (!merged) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  }
  const npde_config *over = npde_config_get(restarts, "fit");
  npde_status st = NPDE_OK;
  if (npde_config_node_type(over) != NPDE_CONFIG_MAP)
    st = npde_config_error(over, "evolve.restarts.fit must be a mapping of fit-stage keys");
  for (size_t i = 0; st == NPDE_OK && i < npde_config_size(over); ++i) {
    npde_config *v = NULL;
    st = npde_config_clone(npde_config_at(over, i), &v);
    if (st == NPDE_OK && !npde__config_set(merged, npde_config_key_at(over, i), v))
      st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  }
  npde_config *target = st == NPDE_OK ? npde__config_new_scalar("network", over->file, over->line, over->column) : NULL;
  if (st == NPDE_OK && (!target || !npde__config_set(merged, "target", target)))
    st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK)
    st = npde_params_validate(npde__stage_fit.params, "evolve.restarts.fit", merged, NULL, &c->fit_params);
  npde__config_free(merged);
  NPDE_TRY(st);
  /* a fit's cost in M v products on the samples: Adam passes over epochs x
   * batch points, head tuning over K x head_points */
  int64_t epochs, batch, head_points;
  bool head;
  NPDE_TRY(npde_config_get_int(c->fit_params, "epochs", &epochs));
  NPDE_TRY(npde_config_get_int(c->fit_params, "batch", &batch));
  NPDE_TRY(npde_config_get_int(c->fit_params, "head_points", &head_points));
  NPDE_TRY(npde_config_get_bool(c->fit_params, "head_tuning", &head));
  c->fit_work = ((double)epochs * (double)batch + (head ? (double)(c->K * head_points) : 0.0)) /
                (double)c->samples.total;
  return NPDE_OK;
}

/* ------------------------------------------------------------ trajectory */

/* theta_dot at the end of a segment, where no step starts: one more rhs on the samples the next attempt draws, with
 * every counter, the warm start and the CG policy as they were (the run goes on as if it had not been made). */
static npde_status segment_end_dot(evolve_ctx *c, const npde_step_state *s, npde_mat *y) {
  const evolve_ctx kept = *c;
  npde_mat prev = npde_mat_view(c->prev_dot, NPDE_F64, c->p, 1), saved = npde_mat_view(c->saved_dot, NPDE_F64, c->p, 1),
           out = npde_mat_view(c->first_dot, NPDE_F64, c->p, 1);
  NPDE_TRY(npde_backend_copy(c->be, &prev, &saved));
  c->stage = 1; /* not an attempt's first stage: no residual metric, first_dot left alone */
  c->accept_cg_failure = true;
  npde_mat theta = npde_mat_view(y->data, NPDE_F64, c->p, 1);
  npde_status st = draw_samples(c, &theta, (uint64_t)s->attempts);
  if (st == NPDE_OK) st = evolve_rhs(c, s->t, y, &out);
  c->rhs_evals = kept.rhs_evals, c->cg_total = kept.cg_total, c->cg_failures = kept.cg_failures;
  c->cg_streak = kept.cg_streak, c->work_since_fit = kept.work_since_fit, c->stage = kept.stage;
  c->accept_cg_failure = kept.accept_cg_failure, c->lambda_last = kept.lambda_last, c->mu_last = kept.mu_last;
  c->att_cg = kept.att_cg, c->att_cg_max = kept.att_cg_max;
  if (st == NPDE_OK) st = npde_backend_copy(c->be, &saved, &prev);
  if (st == NPDE_OK) st = npde_backend_download(c->be, c->pend_dot, c->first_dot, (size_t)c->p * sizeof(double));
  return st;
}

static bool is_output_time(const evolve_ctx *c, double t) {
  for (size_t i = 0; i < c->n_out; ++i)
    if (c->t_out[i] == t) return true;
  return false;
}

/* The node at the last accepted step becomes the one at s->t (theta y): the accepted attempt's first stage was
 * theta_dot at the old one, which is kept when it is every k-th step, an output time or its segment's first. */
static npde_status trajectory_step(evolve_ctx *c, const npde_step_state *s, const npde_mat *y) {
  const int64_t seg = c->restarts;
  const bool first_of_segment = c->traj.n == 0 || c->traj.segment[c->traj.n - 1] != seg;
  const bool output = is_output_time(c, c->pend_t);
  if (c->pend_step % c->traj_every == 0 || first_of_segment || output) {
    NPDE_TRY(npde_backend_download(c->be, c->pend_dot, c->first_dot, (size_t)c->p * sizeof(double)));
    NPDE_TRY(npde__trajectory_push(&c->traj, c->pend_t, c->pend_theta, c->pend_dot, seg));
    if (output || c->pend_t == 0.0) NPDE_TRY(npde__snapshot_dot(c->rs, c->pend_t, c->pend_dot)); /* eval's residual */
  }
  c->pend_t = s->t;
  c->pend_step = s->accepted;
  return npde_backend_download(c->be, c->pend_theta, y->data, (size_t)c->p * sizeof(double));
}

/* The segment ends at the last accepted step (a restart follows, or t_end): its node is kept with its theta_dot. */
static npde_status trajectory_segment_end(evolve_ctx *c, const npde_step_state *s, npde_mat *y) {
  NPDE_TRY(segment_end_dot(c, s, y));
  if (is_output_time(c, c->pend_t)) NPDE_TRY(npde__snapshot_dot(c->rs, c->pend_t, c->pend_dot));
  return npde__trajectory_push(&c->traj, c->pend_t, c->pend_theta, c->pend_dot, c->restarts);
}

static npde_status trajectory_write(const evolve_ctx *c) {
  if (!c->rs->dir || c->traj_every == 0) return NPDE_OK;
  size_t n = strlen(c->rs->dir) + sizeof "/trajectory.npz";
  char *path = malloc(n);
  if (!path) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  snprintf(path, n, "%s/trajectory.npz", c->rs->dir);
  npde_status st = npde__trajectory_write(&c->traj, path);
  free(path);
  return st;
}

/* Resuming: the nodes kept before the checkpoint's step (a trajectory written after it loses the later ones), and
 * the node at its step, whose theta_dot the next step gives. */
static npde_status trajectory_resume(evolve_ctx *c, const npde_step_state *s, const npde_mat *y) {
  size_t n = strlen(c->rs->dir) + sizeof "/trajectory.npz";
  char *path = malloc(n);
  if (!path) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  snprintf(path, n, "%s/trajectory.npz", c->rs->dir);
  npde_status st = access(path, R_OK) == 0 ? npde__trajectory_read(path, &c->traj) : NPDE_OK;
  free(path);
  while (st == NPDE_OK && c->traj.n > 0 &&
         (c->traj.segment[c->traj.n - 1] > c->restarts ||
          (c->traj.segment[c->traj.n - 1] == c->restarts && c->traj.t[c->traj.n - 1] >= s->t)))
    c->traj.n--;
  c->pend_t = s->t;
  c->pend_step = s->accepted;
  if (st == NPDE_OK) st = npde_backend_download(c->be, c->pend_theta, y->data, (size_t)c->p * sizeof(double));
  return st;
}

/* ---------------------------------------------------------- checkpoints */

static npde_status checkpoint(evolve_ctx *c, const npde_step_state *s, const npde_mat *y) {
  npde_npz_writer *w = NULL;
  NPDE_TRY(trajectory_write(c)); /* first: a resume drops nodes a later checkpoint would have kept, never misses one */
  NPDE_TRY(npde__checkpoint_begin(c->rs, c->rs->stage_index, &w));
  if (!w) return NPDE_OK;
  double *host = malloc(2 * (size_t)c->p * sizeof *host);
  npde_status st = host ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) st = npde_backend_download(c->be, host, y->data, (size_t)c->p * sizeof *host);
  if (st == NPDE_OK) st = npde_backend_download(c->be, host + c->p, c->prev_dot, (size_t)c->p * sizeof *host);
  double reals[] = {s->t, s->t_comp, s->h, s->err_target, elapsed(c), c->fit_seconds_mean, c->fit_work_mean,
                    c->work_since_fit, npde__now_seconds() - c->last_fit_wall};
  int64_t ints[] = {s->attempts, s->next_output, s->accepted, s->rejected, s->rhs_evals, c->rhs_evals, c->cg_total,
                    c->restarts, c->n_fit_timings, c->cg_failures};
  int64_t nr = sizeof reals / sizeof reals[0], ni = sizeof ints / sizeof ints[0], two[2] = {2, c->p};
  if (st == NPDE_OK) st = npde_npz_add(w, "evolve.reals", NPDE_NPY_F64, reals, 1, &nr);
  if (st == NPDE_OK) st = npde_npz_add(w, "evolve.ints", NPDE_NPY_I64, ints, 1, &ni);
  if (st == NPDE_OK) st = npde_npz_add(w, "evolve.y_theta_dot", NPDE_NPY_F64, host, 2, two);
  free(host);
  if (st == NPDE_OK) st = npde_npz_commit(&w);
  else npde_npz_abort(&w);
  if (st == NPDE_OK) npde_log(NPDE_LOG_DEBUG, "evolve: checkpoint at t = %.6g", s->t);
  return st;
}

/* The evolve part of the checkpoint being resumed, if it has one (*found). */
static npde_status load_checkpoint(evolve_ctx *c, npde_step_state *s, npde_mat *y, bool *found) {
  *found = false;
  const char *path = c->rs->resume_from;
  if (!path) return NPDE_OK;
  npde_npy_array r = {0}, i = {0}, v = {0};
  npde_status st = npde_npz_read(path, "evolve.reals", &r);
  if (st == NPDE_ERR_NOT_FOUND) {
    npde_clear_error();
    return NPDE_OK; /* checkpointed before this stage began */
  }
  if (st == NPDE_OK) st = npde_npz_read(path, "evolve.ints", &i);
  if (st == NPDE_OK) st = npde_npz_read(path, "evolve.y_theta_dot", &v);
  if (st == NPDE_OK && (r.count != 9 || i.count != 10 || v.count != 2 * c->p || r.type != NPDE_NPY_F64 ||
                        i.type != NPDE_NPY_I64 || v.type != NPDE_NPY_F64))
    st = NPDE_ERROR(NPDE_ERR_IO, "checkpoint '%s': the evolve state does not match this run (%lld parameters)",
                    path, (long long)c->p);
  if (st == NPDE_OK) {
    const double *re = r.data;
    const int64_t *in = i.data;
    *s = (npde_step_state){.struct_size = sizeof *s, .t = re[0], .t_comp = re[1], .h = re[2], .err_target = re[3],
                           .attempts = in[0], .next_output = in[1], .accepted = in[2], .rejected = in[3],
                           .rhs_evals = in[4]};
    c->elapsed0 = re[4];
    c->fit_seconds_mean = re[5];
    c->fit_work_mean = re[6];
    c->work_since_fit = re[7];
    c->last_fit_wall = npde__now_seconds() - re[8];
    c->rhs_evals = in[5];
    c->cg_total = in[6];
    c->restarts = in[7];
    c->n_fit_timings = in[8];
    c->cg_failures = in[9];
    const double *yv = v.data;
    st = npde_backend_upload(c->be, y->data, yv, (size_t)c->p * sizeof(double));
    if (st == NPDE_OK) st = npde_backend_upload(c->be, c->prev_dot, yv + c->p, (size_t)c->p * sizeof(double));
    *found = st == NPDE_OK;
  }
  npde_npy_array_free(&r);
  npde_npy_array_free(&i);
  npde_npy_array_free(&v);
  return st;
}

/* ------------------------------------------------------- after each step */

static npde_status evolve_after_step(void *ctx, const npde_step_state *s, npde_mat *y) {
  evolve_ctx *c = ctx;
  npde_run_ctx *rs = c->rs;
  double h_taken = s->t - c->t_prev, now = npde__now_seconds();
  if (c->log_cg_after_restart) {
    npde_log(NPDE_LOG_INFO, "evolve: first step after restart %lld: %lld CG iterations (largest solve %lld)",
             (long long)c->restarts, (long long)c->att_cg, (long long)c->att_cg_max);
    c->log_cg_after_restart = false;
  }
  NPDE_TRY(npde__metrics_row(rs, "step,t,h,cg_iterations,cg_max,residual_true,residual_code,lambda_max,mu_a,"
                             "rejected,restarts,cg_failures,residual_rms,f_rms,wall_s",
                             "%lld,%.17g,%.17g,%lld,%lld,%.9e,%.9e,%.9e,%.9e,%lld,%lld,%lld,%.9e,%.9e,%.3f",
                             (long long)s->accepted, s->t, h_taken, (long long)c->att_cg, (long long)c->att_cg_max,
                             c->res_true, c->res_code, c->lambda_last, c->mu_last, (long long)s->rejected,
                             (long long)c->restarts, (long long)c->cg_failures, c->res_rms, c->f_rms, elapsed(c)));
  NPDE_TRY(npde__comm_check_replicated(c->be, y, &c->reduce, "parameters"));
  c->last_state = *s;
  c->have_state = true;
  if (c->max_residual > 0 && c->res_true > c->max_residual)
    return NPDE_ERROR(NPDE_ERR_NUMERIC, "evolve: the relative PDE residual %.3e at t = %.6g exceeds max_residual = "
                      "%g: the solution is diverging", c->res_true, c->t_prev, c->max_residual);
  if (c->traj_every > 0) NPDE_TRY(trajectory_step(c, s, y));
  const bool restart_now = restart_due(c, s->t);
  if (c->traj_every > 0 && (restart_now || s->t >= c->t_end)) NPDE_TRY(trajectory_segment_end(c, s, y));
  if (restart_now) {
    NPDE_TRY(restart(c, s->t, y));
    if (c->traj_every > 0) /* the next segment starts from the refitted theta */
      NPDE_TRY(npde_backend_download(c->be, c->pend_theta, y->data, (size_t)c->p * sizeof(double)));
  }
  c->last_state = *s;

  double el = elapsed(c), frac = c->t_end > 0 ? s->t / c->t_end : 1.0, done = s->t - c->t_session;
  double left = done > 0 ? (now - c->t0) * (c->t_end - s->t) / done : 0.0;
  char line[320], lambda[32] = "";
  /* without a Nystrom preconditioner there is no lambda_max estimate to show */
  if (isfinite(c->lambda_last)) snprintf(lambda, sizeof lambda, "  lambda_max %.2e", c->lambda_last);
  snprintf(line, sizeof line, "evolve: t %.4g/%.4g (%3.0f%%)  step %lld  h %.2e  CG %lld it  R %.2e%s  "
           "%.0f s, ~%.0f s left", s->t, c->t_end, 100 * frac, (long long)s->accepted, s->h,
           (long long)c->att_cg, c->res_true, lambda, el, left);
  bool live = npde__log_live();
  if (live && now - c->last_live >= 0.2) {
    npde__log_progress("%s", line);
    c->last_live = now;
  }
  if (now - c->last_log >= c->log_every) {
    if (live) npde__log_file("%s", line);
    else npde_log(NPDE_LOG_INFO, "%s", line);
    c->last_log = now;
  }
  if (rs->dir && now - c->last_ckpt >= rs->checkpoint_every) {
    NPDE_TRY(checkpoint(c, s, y));
    c->last_ckpt = npde__now_seconds();
  }
  /* a stop lands on an accepted step, where the checkpoint holds all a resume needs to go on bit for bit (warm
   * starts and the integrator's state included); a second signal in the npde command does not wait */
  if (s->t < c->t_end && npde__stop_requested())
    return NPDE_ERROR(NPDE_ERR_INTERRUPTED, "evolve: stopped on request at t = %.9g (step %lld)", s->t,
                      (long long)s->accepted);
  return NPDE_OK;
}

typedef struct output_ctx {
  evolve_ctx *c;
  int64_t eval_points;
} output_ctx;

/* theta at an output time: error against the exact solution, a snapshot, results.npz. */
static npde_status record_output(output_ctx *o, double t, const npde_mat *y) {
  evolve_ctx *c = o->c;
  npde_pde_info info = npde_pde_get_info(c->rs->pde);
  double err = NAN;
  if (info.has_exact) {
    npde_mat keep = npde_mat_view(c->rs->theta, NPDE_F64, c->p, 1);
    if (y->data != keep.data) NPDE_TRY(npde_backend_copy(c->be, y, &keep));
    int64_t K = npde_network_outputs(c->rs->net);
    double *parts = malloc((size_t)K * sizeof *parts);
    if (!parts) return NPDE_ERROR(NPDE_ERR_NOMEM, "evolve: out of memory");
    npde_status st = npde__exact_error(c->rs, t, o->eval_points, &err, parts);
    if (st == NPDE_OK) npde__log_exact_error(c->rs, "evolve", t, err, parts, K);
    free(parts);
    NPDE_TRY(st);
    npde__metric(c->rs, "evolve.rel_error", err);
  } else {
    npde_mat th = npde_mat_view(c->rs->theta, NPDE_F64, c->p, 1);
    NPDE_TRY(npde_backend_copy(c->be, y, &th));
    if (isnan(c->res_true)) npde_log(NPDE_LOG_INFO, "evolve: reached t = %.6g", t);
    else npde_log(NPDE_LOG_INFO, "evolve: reached t = %.6g (R_true %.3e)", t, c->res_true);
  }
  npde__metric(c->rs, "evolve.t", t);
  NPDE_TRY(npde__snapshot_add(c->rs, t, y, err));
  return npde__results_write(c->rs);
}

static npde_status evolve_output(void *ctx, int64_t index, double t, const npde_mat *y) {
  (void)index;
  return record_output(ctx, t, y);
}

/* --------------------------------------------------------------- the stage */

static npde_status read_output_times(const npde_config *params, double t_end, double **t_out, size_t *n_out) {
  const npde_config *snaps = npde_config_get(params, "snapshots");
  size_t ns = npde_config_node_type(snaps) == NPDE_CONFIG_SEQUENCE ? npde_config_size(snaps) : 1;
  double *t = calloc(ns + 1, sizeof *t);
  if (!t) return NPDE_ERROR(NPDE_ERR_NOMEM, "evolve: out of memory");
  size_t n = 0;
  for (size_t i = 0; i < ns; ++i) {
    const npde_config *e = npde_config_node_type(snaps) == NPDE_CONFIG_SEQUENCE ? npde_config_at(snaps, i) : snaps;
    double v;
    npde_status st = npde_config_as_real(e, &v);
    if (st == NPDE_OK && (v <= (n ? t[n - 1] : 0.0) || v >= t_end))
      st = npde_config_error(e, "evolve: snapshot times must increase inside (0, t_end = %g)", t_end);
    if (st != NPDE_OK) {
      free(t);
      return st;
    }
    t[n++] = v;
  }
  t[n++] = t_end;
  *t_out = t;
  *n_out = n;
  return NPDE_OK;
}

static npde_status read_restarts(evolve_ctx *c, const npde_config *params) {
  npde_config *r = NULL;
  NPDE_TRY(npde_params_validate(restart_params, "evolve.restarts", npde_config_get(params, "restarts"), NULL, &r));
  const char *policy;
  npde_status st = npde_config_get_string(r, "policy", &policy);
  for (int i = 0; st == NPDE_OK && i < 5; ++i)
    if (strcmp(policy, policy_names[i]) == 0) c->policy = (restart_policy)i;
  if (st == NPDE_OK) st = npde_config_get_int(r, "count", &c->restart_count);
  if (st == NPDE_OK) st = npde_config_get_int(r, "cg_threshold", &c->cg_threshold);
  if (st == NPDE_OK) st = npde_config_get_real(r, "time_fraction", &c->time_fraction);
  if (st == NPDE_OK && c->policy != RESTART_NONE && !(c->time_fraction > 0))
    st = npde_config_error(npde_config_get(r, "time_fraction"), "evolve.restarts.time_fraction must be > 0");
  if (st == NPDE_OK && c->policy != RESTART_NONE) st = restart_fit_params(c, r);
  npde__config_free(r);
  return st;
}

/* solve_precision mixed: the inner linsolver (the pipeline's, with tol = mixed_inner_tol) and the outer tol (the
 * pipeline linsolver's). */
static npde_status setup_refine(evolve_ctx *c, const npde_config *params) {
  const char *prec;
  double inner_tol;
  NPDE_TRY(npde_config_get_string(params, "solve_precision", &prec));
  NPDE_TRY(npde_config_get_real(params, "mixed_inner_tol", &inner_tol));
  if (strcmp(prec, "mixed") != 0) return NPDE_OK;
  const npde_component_info *info = npde_object_component((const npde_object *)c->ls);
  const npde_config *node = npde_config_get(c->rs->cfg, "linsolver");
  npde_config *full = NULL;
  NPDE_TRY(npde_params_validate(info->desc->params, "linsolver", node, NULL, &full));
  npde_status st = npde_config_get_real(full, "tol", &c->refine.tol); /* preflight saw that there is one */
  char text[32];
  snprintf(text, sizeof text, "%.17g", inner_tol);
  npde_config *tol = st == NPDE_OK ? npde__config_new_scalar(text, node->file, node->line, node->column) : NULL;
  if (st == NPDE_OK && (!tol || !npde__config_set(full, "tol", tol))) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) st = npde_linsolver_create(c->rs->reg, info->desc->name, full, c->be, &c->refine.inner);
  npde__config_free(full);
  NPDE_TRY(st);
  c->refine.be = c->be;
  c->refine.max_passes = 10;
  NPDE_TRY(npde_backend_alloc(c->be, (size_t)c->p * sizeof(double), &c->refine.r));
  return npde_backend_alloc(c->be, (size_t)c->p * sizeof(double), &c->refine.d);
}

static void evolve_free(evolve_ctx *c) {
  npde_linearization_destroy(&c->lin);
  npde_linearization_destroy(&c->lin_resid);
  jet_set_free(c, &c->samples);
  jet_set_free(c, &c->resid);
  npde_backend_free(c->be, c->rhs);
  npde_backend_free(c->be, c->prev_dot);
  npde_backend_free(c->be, c->resid_jv);
  npde_backend_free(c->be, c->first_dot);
  npde_backend_free(c->be, c->saved_dot);
  free(c->pend_theta);
  npde__trajectory_free(&c->traj);
  npde__config_free(c->fit_params);
  npde__comm_scratch_free(&c->reduce);
  npde__comm_scratch_free(&c->m_all.scratch);
  npde__comm_scratch_free(&c->sketch_all.scratch);
  npde__sketch_op_free(&c->sketch);
  npde__sketch_op_free(&c->solve32);
  npde__comm_scratch_free(&c->solve32_all.scratch);
  npde_linsolver_destroy(&c->refine.inner);
  npde__sampler_free(&c->sampler, c->be);
  npde_backend_free(c->be, c->sqrt_w);
  free(c->sqrt_wh);
  npde_backend_free(c->be, c->refine.r);
  npde_backend_free(c->be, c->refine.d);
}

static npde_status evolve_preflight(const npde_run_ctx *rs, const npde_config *params) {
  NPDE_TRY(npde__stage_needs(rs, params, "evolve", NPDE__NEEDS_NETWORK | NPDE__NEEDS_SOLVER | NPDE__NEEDS_INTEGRATOR));
  const char *prec;
  NPDE_TRY(npde_config_get_string(params, "solve_precision", &prec));
  if (!strcmp(prec, "mixed")) { /* the refinement's inner solves need a tolerance of their own */
    const npde_component_desc *ls = npde_object_component((const npde_object *)rs->linsolver)->desc;
    const npde_param_spec *spec = ls->params;
    while (spec && spec->name && strcmp(spec->name, "tol") != 0) ++spec;
    if (!spec || !spec->name)
      return npde_config_error(npde_config_get(params, "solve_precision"), "evolve.solve_precision: mixed needs an "
                               "iterative linsolver with a tol (cg); linsolver '%s' has none", ls->name);
  }
  const npde_config *samples = npde_config_get(rs->cfg, "samples"), *where = params;
  int64_t n = 10000, eval_points, residual_points, rank = 0;
  if (samples && npde_config_get(samples, "n")) {
    NPDE_TRY(npde_config_get_int(samples, "n", &n));
    where = npde_config_get(samples, "n");
  }
  NPDE_TRY(npde_config_get_int(params, "eval_points", &eval_points));
  NPDE_TRY(npde_config_get_int(params, "residual_points", &residual_points));
  const npde_config *pc = npde_config_get(rs->cfg, "precond"), *ls = npde_config_get(rs->cfg, "linsolver");
  if (rs->precond && npde_config_get(pc, "rank")) NPDE_TRY(npde_config_get_int(pc, "rank", &rank));
  const npde_pde_info info = npde_pde_get_info(rs->pde);
  const double d = (double)info.dim, K = (double)info.outputs, p = (double)npde_network_n_params(rs->net);
  /* per sample: the point, its jets to the PDE's order, the rhs, and the linearisation's activations */
  const double jet = 1.0 + (info.order >= 1 ? d : 0.0) + (info.order >= 2 ? d * d : 0.0);
  const double per_sample = 8.0 * (d + K * (jet + 2.0)) + (double)npde_network_point_bytes(rs->net);
  const char *solver = npde_config_scalar(npde_config_get(ls, "type"));
  /* the sketch and its basis; a dense solve holds M */
  const double solve = 16.0 * p * (double)rank + (solver && !strcmp(solver, "dense") ? 8.0 * p * p : 0.0);
  return npde__memory_fits(where, "evolve: the samples, their jets and linearisation, and the solver's matrices",
                           per_sample * (double)n + 8.0 * (d + K * jet) * (double)(eval_points + residual_points) +
                               solve);
}

static npde_status evolve_run(npde_run_ctx *rs, const npde_config *params) {
  double t_end, mu, log_every, max_residual;
  int64_t eval_points, residual_points;
  bool warm_start;
  const char *on_cg_failure;
  int64_t cg_retries;
  NPDE_TRY(npde_config_get_string(params, "on_cg_failure", &on_cg_failure));
  NPDE_TRY(npde_config_get_int(params, "cg_retries", &cg_retries));
  NPDE_TRY(npde_config_get_real(params, "t_end", &t_end));
  NPDE_TRY(npde_config_get_real(params, "mu", &mu));
  NPDE_TRY(npde_config_get_real(params, "log_every", &log_every));
  NPDE_TRY(npde_config_get_real(params, "max_residual", &max_residual));
  NPDE_TRY(npde_config_get_int(params, "eval_points", &eval_points));
  NPDE_TRY(npde_config_get_int(params, "residual_points", &residual_points));
  NPDE_TRY(npde_config_get_bool(params, "warm_start", &warm_start));
  int64_t traj_every;
  NPDE_TRY(npde_config_get_int(params, "trajectory_every", &traj_every));
  const char *sketch_precision, *sketch_blocks;
  NPDE_TRY(npde_config_get_string(params, "sketch_precision", &sketch_precision));
  NPDE_TRY(npde_config_get_string(params, "sketch_blocks", &sketch_blocks));
  const npde_config *samples = npde_config_get(rs->cfg, "samples");
  int64_t n = 10000;
  if (samples && npde_config_get(samples, "n")) NPDE_TRY(npde_config_get_int(samples, "n", &n));
  npde_pde_info info = npde_pde_get_info(rs->pde);
  evolve_ctx c = {.rs = rs, .be = rs->backend, .net = rs->net, .ls = rs->linsolver, .pc = rs->precond,
                  .d = info.dim, .K = info.outputs, .p = npde_network_n_params(rs->net), .mu = mu,
                  .warm_start = warm_start, .accept_cg_failure = strcmp(on_cg_failure, "accept") == 0,
                  .cg_retries = cg_retries, .order = info.order, .t_end = t_end, .log_every = log_every,
                  .max_residual = max_residual, .res_true = NAN, .res_code = NAN, .res_rms = NAN, .f_rms = NAN,
                  .lambda_last = NAN,
                  .traj_every = traj_every, .sketch_f32 = strcmp(sketch_precision, "f32") == 0,
                  .sketch_per_output = strcmp(sketch_blocks, "per_output") == 0};
  c.traj.p = c.p;
  c.samples.total = n; /* the refits' cost is counted against it (read_restarts) */
  double *t_out = NULL;
  size_t n_out = 0;
  void *y = NULL;
  npde_status st = read_output_times(params, t_end, &t_out, &n_out);
  if (st == NPDE_OK) st = read_restarts(&c, params);
  if (st == NPDE_OK) st = setup_refine(&c, params);
  if (st == NPDE_OK) st = npde__sampler_read(&c.sampler, npde_config_get(params, "sampling"), "evolve.sampling");
  if (st == NPDE_OK) st = jet_set_alloc(&c, &c.samples, n, "samples.n");
  if (st == NPDE_OK && c.sampler.adaptive) {
    st = npde_backend_alloc(c.be, (size_t)c.samples.n * sizeof(double), &c.sqrt_w);
    c.sqrt_wh = malloc((size_t)c.samples.n * sizeof(double));
    if (st == NPDE_OK && !c.sqrt_wh) st = NPDE_ERROR(NPDE_ERR_NOMEM, "evolve: out of host memory");
  }
  if (st == NPDE_OK && residual_points > 0) st = jet_set_alloc(&c, &c.resid, residual_points, "residual_points");
  if (st == NPDE_OK && residual_points > 0)
    st = npde_backend_alloc(c.be, (size_t)(c.resid.n * c.K) * sizeof(double), &c.resid_jv);
  if (st == NPDE_OK && residual_points > 0) st = jet_set_draw(&c, &c.resid, NPDE__STREAM_RESIDUAL, 0);
  if (st == NPDE_OK) st = npde_backend_alloc(c.be, (size_t)c.p * sizeof(double), &c.rhs);
  if (st == NPDE_OK) st = npde_backend_alloc(c.be, (size_t)c.p * sizeof(double), &c.prev_dot);
  if (st == NPDE_OK) st = npde_backend_alloc(c.be, (size_t)c.p * sizeof(double), &y);
  if (st == NPDE_OK && traj_every > 0) {
    st = npde_backend_alloc(c.be, (size_t)c.p * sizeof(double), &c.first_dot);
    if (st == NPDE_OK) st = npde_backend_alloc(c.be, (size_t)c.p * sizeof(double), &c.saved_dot);
    c.pend_theta = malloc(2 * (size_t)c.p * sizeof(double));
    c.pend_dot = c.pend_theta + c.p;
    if (st == NPDE_OK && !c.pend_theta) st = NPDE_ERROR(NPDE_ERR_NOMEM, "evolve: out of memory");
  }
  c.t_out = t_out, c.n_out = n_out;
  npde_mat Y = npde_mat_view(y, NPDE_F64, c.p, 1), th = npde_mat_view(rs->theta, NPDE_F64, c.p, 1),
           prev = npde_mat_view(c.prev_dot, NPDE_F64, c.p, 1);
  if (st == NPDE_OK) st = npde_backend_copy(c.be, &th, &Y);
  if (st == NPDE_OK) st = npde_backend_fill(c.be, &prev, 0.0);
  npde_step_state resume = {0};
  bool resuming = false;
  if (st == NPDE_OK) st = load_checkpoint(&c, &resume, &Y, &resuming);
  c.t_session = resuming ? resume.t : 0.0;
  if (st == NPDE_OK && traj_every > 0 && resuming && rs->dir) st = trajectory_resume(&c, &resume, &Y);
  else if (st == NPDE_OK && traj_every > 0)
    st = npde_backend_download(c.be, c.pend_theta, y, (size_t)c.p * sizeof(double)); /* the node at t = 0 */

  npde_ode ode = {.n = c.p, .dtype = NPDE_F64, .rhs = evolve_rhs, .begin_attempt = evolve_begin_attempt,
                  .after_step = evolve_after_step, .ctx = &c};
  output_ctx oc = {.c = &c, .eval_points = eval_points};
  npde_integrate_stats is = {.struct_size = sizeof is};
  c.t0 = c.last_log = c.last_live = c.last_ckpt = npde__now_seconds();
  if (!resuming) {
    c.last_fit_wall = c.t0;
    /* the initial fit counts as the first fit (docs/methods/neural-ivp.md §6.3) */
    double fit_s = 0;
    (void)npde__metric_get(rs, "fit.seconds", &fit_s);
    c.fit_seconds_mean = fit_s;
    c.fit_work_mean = c.fit_work;
    c.n_fit_timings = 1;
  }
  if (st == NPDE_OK && !resuming) st = record_output(&oc, 0.0, &Y); /* theta(0) */
  if (st == NPDE_OK) {
    if (resuming)
      npde_log(NPDE_LOG_INFO, "evolve: resuming at t = %.9g (step %lld) towards t = %g", resume.t,
               (long long)resume.accepted, t_end);
    else
      npde_log(NPDE_LOG_INFO, "evolve: to t = %g with %lld samples per step attempt%s, %lld parameters, restarts: %s",
               t_end, (long long)n, npde_comm_size() > 1 ? " (split over the ranks)" : "", (long long)c.p,
               policy_names[c.policy]);
    st = resuming ? npde_integrator_resume(rs->integrator, &ode, &resume, &Y, t_out, (int64_t)n_out, evolve_output,
                                           &oc, &is)
                  : npde_integrator_integrate(rs->integrator, &ode, 0.0, &Y, t_out, (int64_t)n_out, evolve_output,
                                              &oc, &is);
  }
  npde__log_progress_end();
  if (st == NPDE_OK) st = trajectory_write(&c);
  if (st == NPDE_OK) {
    npde_log(NPDE_LOG_INFO, "evolve: done in %.1f s: %lld accepted and %lld rejected steps, %lld RHS evaluations, "
             "%lld CG iterations, %lld restarts", elapsed(&c), (long long)is.accepted, (long long)is.rejected,
             (long long)is.rhs_evals, (long long)c.cg_total, (long long)c.restarts);
    npde__metric(rs, "evolve.accepted", (double)is.accepted);
    npde__metric(rs, "evolve.rejected", (double)is.rejected);
    npde__metric(rs, "evolve.cg_iterations", (double)c.cg_total);
    npde__metric(rs, "evolve.restarts", (double)c.restarts);
    npde__metric(rs, "evolve.cg_failures", (double)c.cg_failures);
    if (c.resid.n > 0) npde__metric(rs, "evolve.residual", c.res_true);
    if (npde_comm_size() > 1 && c.m_all.products > 0)
      npde_log(NPDE_LOG_INFO, "data-parallel: %lld M v products, each summed over the ranks with %.0f bytes sent "
               "per rank (p = %lld doubles; this rank's samples: %lld of %lld)", (long long)c.m_all.products,
               8.0 * (double)c.m_all.doubles / (double)c.m_all.products, (long long)c.p, (long long)c.samples.n,
               (long long)c.samples.total);
  } else if (y) {
    /* keep the last good state: the integrator leaves y at the last accepted step */
    char why[2048];
    snprintf(why, sizeof why, "%s", npde_last_error());
    npde_status keep = npde_backend_copy(c.be, &Y, &th);
    if (keep == NPDE_OK && c.have_state && rs->dir) keep = checkpoint(&c, &c.last_state, &Y);
    if (keep == NPDE_OK && rs->dir) keep = npde__results_write(rs);
    if (c.have_state && rs->dir && st != NPDE_ERR_INTERRUPTED)
      npde_log(NPDE_LOG_ERROR, "evolve stopped at t = %.9g; the last good state (t = %.9g, step %lld) is kept in "
               "%s/checkpoint.npz: `npde resume %s [key=value ...]` continues from it", is.t_reached,
               c.last_state.t, (long long)c.last_state.accepted, rs->dir, rs->dir);
    else if (st != NPDE_ERR_INTERRUPTED)
      npde_log(NPDE_LOG_ERROR, "evolve stopped at t = %.9g, before its first accepted step%s%s%s", is.t_reached,
               rs->dir ? "; `npde resume " : "", rs->dir ? rs->dir : "",
               rs->dir ? " [key=value ...]` starts it again from the checkpoint the stage before left" : "");
    (void)keep;
    st = npde_set_error(st, __FILE__, __LINE__, "%s", why);
  }
  evolve_free(&c);
  npde_backend_free(c.be, y);
  free(t_out);
  return st;
}

/* evolve.restarts is a map of its own: its keys are checked with the stage's. */
static npde_status evolve_check(const npde_config *params) {
  npde_config *r = NULL;
  NPDE_TRY(npde_params_validate(restart_params, "evolve.restarts", npde_config_get(params, "restarts"), NULL, &r));
  npde_config_destroy(&r);
  npde__sampler sampler = {0};
  return npde__sampler_read(&sampler, npde_config_get(params, "sampling"), "evolve.sampling");
}

const npde_stage npde__stage_evolve = {
    .check = evolve_check,
    .preflight = evolve_preflight,
    .name = "evolve",
    .summary = "Neural IVP: evolve the parameters with (M + mu I) theta_dot = F and Runge-Kutta",
    .params = evolve_params,
    .run = evolve_run,
};
