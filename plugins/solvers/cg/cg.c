/* cg: preconditioned conjugate gradients for (A + shift I) x = b on any
 * npde_linop (docs/methods/neural-ivp.md §4.4, linops run_batched_cg).
 *
 * b is normalised by s = ||b|| and the iteration runs on x~ = x / s, so the
 * recursively updated residual r~ is the relative residual; the solve stops
 * when ||r~|| <= tol, i.e. ||b - (A + shift I) x|| <= tol ||b||. The warm
 * start x (true units) is divided by s before the iteration (see
 * docs/methods/neural-ivp.md §4.4; the reference's unscaled x0 is a latent
 * bug).
 *
 * Every vector operation goes through the backend (any dtype it supports),
 * so the solver runs wherever the operator's vectors live. Four work
 * vectors (r, z, d, q) are allocated on the first solve and reused while n
 * and the dtype stay the same.
 */
#include <math.h>
#include <stddef.h>

#include "npde/plugin/npde_ext.h"

/* Denominators below this are replaced by it (docs/methods/neural-ivp.md §4.4). */
#define CG_TINY 1e-40

typedef struct cg_state {
  npde_backend *be;
  double tol;
  int64_t max_iters;
  bool warm_start;
  bool check_true_residual;
  void *work; /* 4 n elements: r, z, d, q */
  int64_t work_n;
  npde_dtype work_dtype;
} cg_state;

static npde_status cg_create(npde_linsolver *ls, const npde_config *cfg, npde_backend *be) {
  cg_state *s = npde_linsolver_state(ls);
  if (!be) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "cg: needs a backend");
  s->be = be;
  NPDE_TRY(npde_config_get_real(cfg, "tol", &s->tol));
  if (!(s->tol > 0.0))
    return npde_config_error(npde_config_get(cfg, "tol"), "cg: tol = %g must be > 0", s->tol);
  NPDE_TRY(npde_config_get_int(cfg, "max_iters", &s->max_iters));
  NPDE_TRY(npde_config_get_bool(cfg, "warm_start", &s->warm_start));
  NPDE_TRY(npde_config_get_bool(cfg, "check_true_residual", &s->check_true_residual));
  return NPDE_OK;
}

static void cg_destroy(npde_linsolver *ls) {
  cg_state *s = npde_linsolver_state(ls);
  if (s->work) npde_backend_free(s->be, s->work);
  s->work = NULL;
}

/* A vector (n x 1 with any stride, or 1 x n) as an n x 1 view. */
static npde_mat as_col(const npde_mat *v) {
  if (v->cols == 1) return *v;
  npde_mat c = *v;
  c.rows = v->cols;
  c.cols = 1;
  c.ld = 1;
  return c;
}

static npde_status ensure_work(cg_state *s, int64_t n, npde_dtype dt) {
  if (s->work && s->work_n == n && s->work_dtype == dt) return NPDE_OK;
  if (s->work) npde_backend_free(s->be, s->work);
  s->work = NULL;
  s->work_n = 0;
  NPDE_TRY(npde_backend_alloc(s->be, 4 * (size_t)n * npde_dtype_size(dt), &s->work));
  s->work_n = n;
  s->work_dtype = dt;
  return NPDE_OK;
}

/* y = (A + shift I) x */
static npde_status apply_op(cg_state *s, const npde_linop *A, double shift, const npde_mat *x, npde_mat *y) {
  NPDE_TRY(A->matvec(A->ctx, x, y));
  if (shift != 0.0) NPDE_TRY(npde_backend_axpy(s->be, shift, x, y));
  return NPDE_OK;
}

static void record(npde_solve_stats *st, int64_t k, double rel) {
  if (!st || !st->history || k < 1 || k > st->history_cap) return;
  st->history[k - 1] = rel;
  st->history_len = k;
}

/* The iteration proper on x~ (already divided by s); r = b~ - (A + shift) x~
 * on entry. Returns the status and leaves the iteration count and final
 * ||r~|| in *iters and *rnorm. */
static npde_status iterate(cg_state *s, const npde_linop *A, double shift, npde_precond *P, npde_mat *x, npde_mat *r,
                           npde_mat *z, npde_mat *d, npde_mat *q, npde_solve_stats *st, int64_t *iters,
                           double *rnorm) {
  npde_backend *be = s->be;
  int64_t k = 0;
  double rn;
  NPDE_TRY(npde_backend_nrm2(be, r, &rn));
  *iters = 0;
  *rnorm = rn;
  if (!isfinite(rn))
    return NPDE_ERROR(NPDE_ERR_NUMERIC, "cg: initial residual is %g (NaN or Inf in the operator, b or the warm "
                      "start)", rn);
  if (rn <= s->tol) return NPDE_OK;

  /* z = P^-1 r (z is r itself without a preconditioner), d = z, gamma = r^T z */
  const npde_mat *zz = r;
  if (P) {
    NPDE_TRY(npde_precond_apply(P, r, z));
    zz = z;
  }
  NPDE_TRY(npde_backend_copy(be, zz, d));
  double gamma;
  NPDE_TRY(npde_backend_dot(be, r, zz, &gamma));
  if (!(gamma > 0.0) || !isfinite(gamma))
    return NPDE_ERROR(NPDE_ERR_NUMERIC, "cg: breakdown: r^T P^-1 r = %g at iteration 0 (the preconditioner is not "
                      "positive definite, or produced NaN/Inf)", gamma);

  while (k < s->max_iters) {
    NPDE_TRY(apply_op(s, A, shift, d, q));
    double dq;
    NPDE_TRY(npde_backend_dot(be, d, q, &dq));
    if (!isfinite(dq))
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "cg: d^T (A + shift I) d = %g at iteration %lld: NaN or Inf in the "
                        "operator product", dq, (long long)k);
    if (dq <= 0.0)
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "cg: breakdown at iteration %lld: d^T (A + shift I) d = %.3e <= 0, so "
                        "A + shift I (shift %g) is not positive definite", (long long)k, dq, shift);
    double alpha = gamma / (dq > CG_TINY ? dq : CG_TINY);
    NPDE_TRY(npde_backend_axpy(be, alpha, d, x));
    NPDE_TRY(npde_backend_axpy(be, -alpha, q, r));
    NPDE_TRY(npde_backend_nrm2(be, r, &rn));
    ++k;
    *iters = k;
    *rnorm = rn;
    record(st, k, rn);
    if (!isfinite(rn))
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "cg: residual norm is %g at iteration %lld", rn, (long long)k);
    if (rn <= s->tol) return NPDE_OK;
    if (P) NPDE_TRY(npde_precond_apply(P, r, z));
    double gamma_new;
    NPDE_TRY(npde_backend_dot(be, r, zz, &gamma_new));
    if (!(gamma_new > 0.0) || !isfinite(gamma_new))
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "cg: breakdown: r^T P^-1 r = %g at iteration %lld (the preconditioner "
                        "is not positive definite, or produced NaN/Inf)", gamma_new, (long long)k);
    double beta = gamma_new / (gamma > CG_TINY ? gamma : CG_TINY);
    NPDE_TRY(npde_backend_scal(be, beta, d));
    NPDE_TRY(npde_backend_axpy(be, 1.0, zz, d));
    gamma = gamma_new;
  }
  return NPDE_NOT_CONVERGED;
}

static npde_status cg_solve(npde_linsolver *ls, const npde_linop *A, double shift, npde_precond *P,
                            const npde_mat *bin, npde_mat *xin, npde_solve_stats *st) {
  cg_state *s = npde_linsolver_state(ls);
  npde_backend *be = s->be;
  const int64_t n = A->n;
  const npde_dtype dt = A->dtype;
  npde_mat b = as_col(bin), x = as_col(xin);
  if (st) {
    st->iterations = 0;
    st->history_len = 0;
    st->rhs_norm = 0.0;
    st->residual_norm = 0.0;
  }
  if (!isfinite(shift)) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "cg: shift = %g is not finite", shift);

  double bnorm;
  NPDE_TRY(npde_backend_nrm2(be, &b, &bnorm));
  if (!isfinite(bnorm)) return NPDE_ERROR(NPDE_ERR_NUMERIC, "cg: ||b|| = %g: the right-hand side has NaN or Inf", bnorm);
  if (st) st->rhs_norm = bnorm;
  if (bnorm == 0.0) { /* the solution of A x = 0 is 0 */
    NPDE_TRY(npde_backend_fill(be, &x, 0.0));
    return NPDE_OK;
  }
  NPDE_TRY(ensure_work(s, n, dt));
  size_t es = npde_dtype_size(dt);
  npde_mat r = npde_mat_view(s->work, dt, n, 1);
  npde_mat z = npde_mat_view((char *)s->work + 1 * (size_t)n * es, dt, n, 1);
  npde_mat d = npde_mat_view((char *)s->work + 2 * (size_t)n * es, dt, n, 1);
  npde_mat q = npde_mat_view((char *)s->work + 3 * (size_t)n * es, dt, n, 1);

  const double scale = bnorm > CG_TINY ? bnorm : CG_TINY;
  /* r = b / s - (A + shift I) x / s */
  NPDE_TRY(npde_backend_copy(be, &b, &r));
  NPDE_TRY(npde_backend_scal(be, 1.0 / scale, &r));
  if (s->warm_start) {
    NPDE_TRY(npde_backend_scal(be, 1.0 / scale, &x));
    NPDE_TRY(apply_op(s, A, shift, &x, &q));
    NPDE_TRY(npde_backend_axpy(be, -1.0, &q, &r));
  } else {
    NPDE_TRY(npde_backend_fill(be, &x, 0.0));
  }

  int64_t iters = 0;
  double rn = 0.0;
  npde_status res = iterate(s, A, shift, P, &x, &r, &z, &d, &q, st, &iters, &rn);
  /* back to true units whatever happened: x is the last iterate */
  NPDE_TRY(npde_backend_scal(be, scale, &x));
  if (st) {
    st->iterations = iters;
    st->residual_norm = rn * scale;
  }
  if (res < 0) return npde_trace_error(res, __func__, __FILE__, __LINE__);

  if (s->check_true_residual) {
    double tr;
    NPDE_TRY(apply_op(s, A, shift, &x, &q));
    NPDE_TRY(npde_backend_copy(be, &b, &r));
    NPDE_TRY(npde_backend_axpy(be, -1.0, &q, &r));
    NPDE_TRY(npde_backend_nrm2(be, &r, &tr));
    if (st) st->residual_norm = tr;
    npde_log(NPDE_LOG_DEBUG, "cg: true residual %.3e (recursive %.3e), ||b|| %.3e", tr, rn * scale, bnorm);
  }
  if (res == NPDE_NOT_CONVERGED) {
    npde_log(NPDE_LOG_WARN, "cg: not converged after %lld iterations: relative residual %.3e > tol %.3e",
             (long long)iters, rn, s->tol);
    return NPDE_ERROR(NPDE_NOT_CONVERGED, "cg: not converged after %lld iterations (max_iters): relative residual "
                      "%.3e > tol %.3e", (long long)iters, rn, s->tol);
  }
  npde_log(NPDE_LOG_DEBUG, "cg: converged in %lld iterations, relative residual %.3e", (long long)iters, rn);
  return NPDE_OK;
}

static const npde_linsolver_ops cg_ops = {
    .struct_size = sizeof(npde_linsolver_ops),
    .create = cg_create,
    .destroy = cg_destroy,
    .solve = cg_solve,
};

static const npde_param_spec cg_params[] = {
    {.name = "tol", .type = NPDE_PARAM_REAL, .default_value = "1e-8",
     .doc = "stop when ||b - (A + shift I) x|| <= tol ||b|| (recursively updated residual)", .min = 0,
     .flags = NPDE_PARAM_HAS_MIN},
    {.name = "max_iters", .type = NPDE_PARAM_INT, .default_value = "1000",
     .doc = "iteration cap; reaching it returns NPDE_NOT_CONVERGED with the last iterate", .min = 1,
     .flags = NPDE_PARAM_HAS_MIN},
    {.name = "warm_start", .type = NPDE_PARAM_BOOL, .default_value = "true",
     .doc = "start from the x passed in (true) or from 0 (false)"},
    {.name = "check_true_residual", .type = NPDE_PARAM_BOOL, .default_value = "false",
     .doc = "at exit recompute ||b - (A + shift I) x|| (one more product) and report it as residual_norm"},
    {0},
};

const npde_component_desc cg_linsolver_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_LINSOLVER,
    .name = "cg",
    .summary = "preconditioned conjugate gradients, relative-residual stop, warm start",
    .ops = &cg_ops,
    .state_size = sizeof(cg_state),
    .params = cg_params,
};
