/* The `evolve` stage (neural-ivp.md §3-5, §11): integrates the network's
 * parameters theta(t) from t = 0 with theta_dot solving
 * (M + mu_a I) theta_dot = F, M = J^T J / n, F = J^T f / n, f = L[N] at n
 * fresh uniform samples per step attempt (shared by the attempt's stages),
 * with the pipeline's linsolver, precond and integrator. Reports the
 * relative L2 error against the PDE's exact solution when it has one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde_log.h"
#include "npde/npde_philox.h"
#include "npde/npde_solvers.h"
#include "stage_impl.h"

static const npde_param_spec evolve_params[] = {
    {.name = "t_end", .type = NPDE_PARAM_REAL, .min = 0, .flags = NPDE_PARAM_HAS_MIN, .doc = "final time"},
    {.name = "snapshots", .type = NPDE_PARAM_REAL_LIST, .default_value = "[]",
     .doc = "intermediate output times in (0, t_end), increasing"},
    {.name = "mu", .type = NPDE_PARAM_REAL, .default_value = "1e-6", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "absolute regulariser when the pipeline has no preconditioner (which otherwise decides mu_a)"},
    {.name = "eval_points", .type = NPDE_PARAM_INT, .default_value = "10000", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "held-out points of the error against the exact solution"},
    {.name = "log_every", .type = NPDE_PARAM_REAL, .default_value = "1", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "seconds between progress lines"},
    {0},
};

typedef struct evolve_ctx {
  npde__run_state *rs;
  npde_backend *be;
  npde_network *net;
  npde_linsolver *ls;
  npde_precond *pc;
  int64_t n, d, K, p;
  double mu;
  npde_jet_order order;
  void *x, *f;                 /* backend: samples (n x d), f (n x K) */
  void *rhs;                   /* backend: F, the right-hand side of the solve (p) */
  double *xh, *val, *grad, *sec, *fh; /* host jets and f */
  npde_linearization *lin;
  int64_t attempt, rhs_evals, cg_last, cg_total;
  double mu_last, lambda_last, t_end, t0, last_log, log_every;
} evolve_ctx;

static npde_status evolve_begin_attempt(void *ctx, double t, double h, int64_t attempt) {
  evolve_ctx *c = ctx;
  (void)t;
  (void)h;
  c->attempt = attempt;
  /* one fresh sample set per attempt, shared by all its stages (spec 1.3) */
  npde_mat X = npde_mat_view(c->x, NPDE_F64, c->n, c->d);
  return npde_backend_rng_uniform(c->be, c->rs->seed, NPDE__STREAM_EVOLVE,
                                  (uint64_t)attempt * npde_philox_blocks((uint64_t)(c->n * c->d)), -1.0, 1.0, &X);
}

static npde_status evolve_rhs(void *ctx, double t, const npde_mat *y, npde_mat *dydt) {
  evolve_ctx *c = ctx;
  npde_mat theta = npde_mat_view(y->data, NPDE_F64, c->p, 1), X = npde_mat_view(c->x, NPDE_F64, c->n, c->d);
  npde_mat W = npde_mat_view(c->f, NPDE_F64, c->n, c->K);
  /* f = L[N](x, t) on the host from the network's x-jets */
  NPDE_TRY(npde_network_jet(c->net, &theta, &X, c->order, c->val, c->grad, c->sec));
  NPDE_TRY(npde_backend_download(c->be, c->xh, c->x, (size_t)(c->n * c->d) * sizeof(double)));
  npde_pde_jets jets = {.n = c->n, .d = c->d, .K = c->K, .order = c->order, .x = c->xh, .value = c->val,
                        .grad = c->grad, .second = c->sec};
  NPDE_TRY(npde_pde_rhs(c->rs->pde, t, &jets, c->fh));
  NPDE_TRY(npde_backend_upload(c->be, c->f, c->fh, (size_t)(c->n * c->K) * sizeof(double)));
  /* M and F at (theta, X) */
  NPDE_TRY(c->lin ? npde_linearization_update(c->lin, &theta, &X)
                  : npde_linearization_create(c->net, &theta, &X, &c->lin));
  NPDE_TRY(npde_linearization_vjp(c->lin, &W, 1.0 / (double)c->n, 0.0, dydt));
  npde_linop M = npde_linearization_operator(c->lin);
  double shift = c->mu;
  if (c->pc) {
    npde_precond_info info = {.struct_size = sizeof info};
    NPDE_TRY(npde_precond_setup(c->pc, &M, c->rs->seed, NPDE__STREAM_SKETCH, (uint64_t)c->rhs_evals << 20, &info));
    shift = info.shift;
    c->lambda_last = info.lambda_max;
  }
  c->mu_last = shift;
  ++c->rhs_evals;
  /* F moves to its own buffer; theta_dot starts from 0 (spec 4.4) */
  npde_mat B = npde_mat_view(c->rhs, NPDE_F64, c->p, 1);
  npde_status st = npde_backend_copy(c->be, dydt, &B);
  if (st == NPDE_OK) st = npde_backend_fill(c->be, dydt, 0.0);
  npde_solve_stats ss = {.struct_size = sizeof ss};
  if (st == NPDE_OK) st = npde_linsolver_solve(c->ls, &M, shift, c->pc, &B, dydt, &ss);
  c->cg_last = ss.iterations;
  c->cg_total += ss.iterations;
  if (st == NPDE_NOT_CONVERGED) {
    npde_log(NPDE_LOG_WARN, "evolve: t = %.6g: the linear solve missed its tolerance after %lld iterations "
             "(residual %.3e); rejecting the step", t, (long long)ss.iterations,
             ss.rhs_norm > 0 ? ss.residual_norm / ss.rhs_norm : ss.residual_norm);
    return NPDE_STEP_REJECTED;
  }
  return st;
}


static npde_status evolve_after_step(void *ctx, double t, npde_mat *y, double h_next) {
  evolve_ctx *c = ctx;
  (void)y;
  double now = npde__now_seconds();
  if (now - c->last_log >= c->log_every || t >= c->t_end) {
    double frac = c->t_end > 0 ? t / c->t_end : 1.0, el = now - c->t0;
    npde_log(NPDE_LOG_INFO, "evolve: t %.4g/%.4g  h %.2e  CG %lld it  mu_a %.2e  lambda_max %.3e  %.1f s, ~%.0f s left",
             t, c->t_end, h_next, (long long)c->cg_last, c->mu_last, c->lambda_last, el,
             frac > 0 ? el * (1.0 - frac) / frac : 0.0);
    c->last_log = now;
  }
  return NPDE_OK;
}

/* sqrt(sum (N - u)^2 / sum u^2) against the exact solution at time t. */
static npde_status exact_error(evolve_ctx *c, double t, int64_t n, double *err) {
  double *xh = malloc((size_t)(n * c->d) * sizeof *xh), *uh = malloc((size_t)(n * c->K) * sizeof *uh),
         *eh = malloc((size_t)(n * c->K) * sizeof *eh);
  npde__heldout h = {.be = c->be};
  npde_status st = xh && uh && eh ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "evolve: out of memory");
  if (st == NPDE_OK) st = npde__heldout_eval(c->rs, n, &h);
  if (st == NPDE_OK) st = npde_backend_download(c->be, xh, h.x, (size_t)(n * c->d) * sizeof(double));
  if (st == NPDE_OK) st = npde_backend_download(c->be, uh, h.u, (size_t)(n * c->K) * sizeof(double));
  if (st == NPDE_OK) st = npde_pde_exact(c->rs->pde, t, xh, n, eh);
  double num = 0, den = 0;
  for (int64_t i = 0; st == NPDE_OK && i < n * c->K; ++i) {
    num += (uh[i] - eh[i]) * (uh[i] - eh[i]);
    den += eh[i] * eh[i];
  }
  *err = den > 0 ? sqrt(num / den) : sqrt(num);
  npde__heldout_free(&h);
  free(xh);
  free(uh);
  free(eh);
  return st;
}

typedef struct output_ctx {
  evolve_ctx *c;
  int64_t eval_points;
} output_ctx;

static npde_status evolve_output(void *ctx, int64_t index, double t, const npde_mat *y) {
  output_ctx *o = ctx;
  evolve_ctx *c = o->c;
  (void)index;
  npde_mat th = npde_mat_view(c->rs->theta, NPDE_F64, c->p, 1);
  NPDE_TRY(npde_backend_copy(c->be, y, &th));
  npde_pde_info info = npde_pde_get_info(c->rs->pde);
  if (!info.has_exact) {
    npde_log(NPDE_LOG_INFO, "evolve: reached t = %.6g", t);
    return NPDE_OK;
  }
  double err;
  NPDE_TRY(exact_error(c, t, o->eval_points, &err));
  npde_log(NPDE_LOG_INFO, "evolve: t = %.6g: relative L2 error against the exact solution %.3e", t, err);
  npde__metric(c->rs, "evolve.rel_error", err);
  npde__metric(c->rs, "evolve.t", t);
  return NPDE_OK;
}

static npde_status evolve_run(npde__run_state *rs, const npde_config *params) {
  if (!rs->net || !rs->pde) return npde_config_error(params, "evolve: the pipeline needs a 'pde:' and a 'network:'");
  if (!rs->linsolver || !rs->integrator)
    return npde_config_error(params, "evolve: the pipeline needs a 'linsolver:' (e.g. {type: cg}) and an "
                             "'integrator:' (e.g. {type: rk23})");
  double t_end, mu, log_every;
  int64_t eval_points;
  NPDE_TRY(npde_config_get_real(params, "t_end", &t_end));
  NPDE_TRY(npde_config_get_real(params, "mu", &mu));
  NPDE_TRY(npde_config_get_real(params, "log_every", &log_every));
  NPDE_TRY(npde_config_get_int(params, "eval_points", &eval_points));
  const npde_config *snaps = npde_config_get(params, "snapshots");
  size_t ns = npde_config_node_type(snaps) == NPDE_CONFIG_SEQUENCE ? npde_config_size(snaps) : 1;
  double *t_out = calloc(ns + 1, sizeof *t_out);
  if (!t_out) return NPDE_ERROR(NPDE_ERR_NOMEM, "evolve: out of memory");
  size_t n_out = 0;
  for (size_t i = 0; i < ns; ++i) {
    const npde_config *e = npde_config_node_type(snaps) == NPDE_CONFIG_SEQUENCE ? npde_config_at(snaps, i) : snaps;
    double v;
    npde_status st = npde_config_as_real(e, &v);
    if (st == NPDE_OK && (v <= (n_out ? t_out[n_out - 1] : 0.0) || v >= t_end))
      st = npde_config_error(e, "evolve: snapshot times must increase inside (0, t_end = %g)", t_end);
    if (st != NPDE_OK) { free(t_out); return st; }
    t_out[n_out++] = v;
  }
  t_out[n_out++] = t_end;

  const npde_config *samples = npde_config_get(rs->cfg, "samples");
  int64_t n = 10000;
  if (samples && npde_config_get(samples, "n")) NPDE_TRY(npde_config_get_int(samples, "n", &n));
  npde_pde_info info = npde_pde_get_info(rs->pde);
  evolve_ctx c = {.rs = rs, .be = rs->backend, .net = rs->net, .ls = rs->linsolver, .pc = rs->precond, .n = n,
                  .d = info.dim, .K = info.outputs, .p = npde_network_n_params(rs->net), .mu = mu,
                  .order = info.order, .t_end = t_end, .log_every = log_every};
  int64_t s = npde_jet_second_blocks(info.order, c.d) ? c.d : 0;
  if (info.order == NPDE_JET_HESSIAN) s = c.d * c.d;
  npde_status st = npde_backend_alloc(c.be, (size_t)(n * c.d) * sizeof(double), &c.x);
  if (st == NPDE_OK) st = npde_backend_alloc(c.be, (size_t)(n * c.K) * sizeof(double), &c.f);
  if (st == NPDE_OK) st = npde_backend_alloc(c.be, (size_t)c.p * sizeof(double), &c.rhs);
  c.xh = malloc((size_t)(n * c.d) * sizeof(double));
  c.val = malloc((size_t)(n * c.K) * sizeof(double));
  c.grad = malloc((size_t)(n * c.K * c.d) * sizeof(double));
  c.sec = malloc((size_t)(n * c.K * (s ? s : 1)) * sizeof(double));
  c.fh = malloc((size_t)(n * c.K) * sizeof(double));
  if (st == NPDE_OK && (!c.xh || !c.val || !c.grad || !c.sec || !c.fh))
    st = NPDE_ERROR(NPDE_ERR_NOMEM, "evolve: out of memory for %lld samples", (long long)n);
  void *y = NULL;
  if (st == NPDE_OK) st = npde_backend_alloc(c.be, (size_t)c.p * sizeof(double), &y);
  npde_mat Y = npde_mat_view(y, NPDE_F64, c.p, 1), th = npde_mat_view(rs->theta, NPDE_F64, c.p, 1);
  if (st == NPDE_OK) st = npde_backend_copy(c.be, &th, &Y);
  npde_ode ode = {.n = c.p, .dtype = NPDE_F64, .rhs = evolve_rhs, .begin_attempt = evolve_begin_attempt,
                  .after_step = evolve_after_step, .ctx = &c};
  output_ctx oc = {.c = &c, .eval_points = eval_points};
  npde_integrate_stats is = {.struct_size = sizeof is};
  c.t0 = c.last_log = npde__now_seconds();
  if (st == NPDE_OK) {
    npde_log(NPDE_LOG_INFO, "evolve: to t = %g with %lld samples per step attempt, %lld parameters", t_end,
             (long long)n, (long long)c.p);
    st = npde_integrator_integrate(rs->integrator, &ode, 0.0, &Y, t_out, (int64_t)n_out, evolve_output, &oc, &is);
  }
  if (st == NPDE_OK) {
    npde_log(NPDE_LOG_INFO, "evolve: done in %.1f s: %lld accepted and %lld rejected steps, %lld RHS evaluations, "
             "%lld CG iterations", npde__now_seconds() - c.t0, (long long)is.accepted, (long long)is.rejected,
             (long long)is.rhs_evals, (long long)c.cg_total);
    npde__metric(rs, "evolve.accepted", (double)is.accepted);
    npde__metric(rs, "evolve.rejected", (double)is.rejected);
    npde__metric(rs, "evolve.cg_iterations", (double)c.cg_total);
  } else {
    /* keep the last good state: the integrator leaves y at the last accepted step */
    npde_status keep = npde_backend_copy(c.be, &Y, &th);
    (void)keep;
  }
  npde_linearization_destroy(&c.lin);
  npde_backend_free(c.be, y);
  npde_backend_free(c.be, c.x);
  npde_backend_free(c.be, c.f);
  npde_backend_free(c.be, c.rhs);
  free(c.xh);
  free(c.val);
  free(c.grad);
  free(c.sec);
  free(c.fh);
  free(t_out);
  return st;
}

const npde__stage npde__stage_evolve = {
    .name = "evolve",
    .summary = "Neural IVP: evolve the parameters with (M + mu I) theta_dot = F and Runge-Kutta",
    .params = evolve_params,
    .run = evolve_run,
};
