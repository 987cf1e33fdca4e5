/* nystrom: the randomised Nystrom preconditioner (Frangella, Tropp, Udell;
 * docs/methods/neural-ivp.md §4.2-4.3, linops get_nys_approx / NystromPrecond).
 *
 * setup, with l = min(rank, n):
 *   Omega (n x l) ~ N(0, 1) from Philox (seed, stream, counter), on the backend;
 *   Omega <- orth(Omega) by CholeskyQR2 (G = Omega^T Omega by gemm, Cholesky of
 *            G on the host, Omega <- Omega R^-1 by trsm; twice; a shifted first
 *            pass and a third pass if G is numerically singular);
 *   Y = A Omega (one block product);
 *   nu = eps ||Y||_F (shift_rule linops) or sqrt(n) 2.2e-16 ||Y||_2 (frangella);
 *   Y_nu = Y + nu Omega; S = sym(Omega^T Y_nu) = C C^T (host Cholesky; nu *= 10
 *            and retry on failure);
 *   B = Y_nu C^-T (trsm); B^T B = V Sigma^2 V^T (host dsyevd) and
 *   U = B V Sigma^-1 (one gemm; directions with sigma^2 <= l eps_mach max sigma^2
 *            are dropped: zero column, lambda 0);
 *   Lambda = max(Sigma^2 - nu, 0), descending; mu_a = mu max Lambda (relative)
 *            or mu (absolute, and the fallback when max Lambda = 0).
 * apply: z = r + U diag((lambda_l + mu_a)/(Lambda_i + mu_a) - 1) U^T r (two
 * gemv and an l-entry row_scale).
 *
 * Only l x l matrices and l-vectors visit the host. The two n x l backend
 * buffers (Omega, later U; Y, later B) and the small ones are allocated when
 * n or l changes and reused otherwise; apply allocates nothing.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "npde/plugin/npde_ext.h"
#include "npde_nystrom.h"

/* The Cholesky retries raise nu by 10 while it stays below this times ||Y||_F. */
#define NYS_MAX_NU 1e-3

typedef struct nys_state {
  npde_backend *be;
  /* parameters */
  int64_t rank;
  double mu, eps;
  bool mu_relative, frangella;
  /* buffers, for the current (n, l) */
  int64_t n, l;
  void *omega; /* n x l: Omega, then U */
  void *y;     /* n x l: Y, Y_nu, then B */
  void *small; /* l x l: G, R, S, C, B^T B, W */
  void *dvec;  /* l: apply coefficients */
  void *tvec;  /* l: apply work */
  double *h_a, *h_b; /* l x l host */
  double *h_w, *h_lambda, *h_d; /* l host */
  bool has_row_scale;
  /* the last setup */
  bool ready;
  double nu, mu_a, lambda_max, lambda_min;
} nys_state;

static npde_status nys_create(npde_precond *pc, const npde_config *cfg, npde_backend *be) {
  nys_state *s = npde_precond_state(pc);
  if (!be) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "nystrom: needs a backend");
  s->be = be;
  const char *mode = NULL, *rule = NULL;
  NPDE_TRY(npde_config_get_int(cfg, "rank", &s->rank));
  NPDE_TRY(npde_config_get_real(cfg, "mu", &s->mu));
  NPDE_TRY(npde_config_get_string(cfg, "mu_mode", &mode));
  NPDE_TRY(npde_config_get_real(cfg, "eps", &s->eps));
  NPDE_TRY(npde_config_get_string(cfg, "shift_rule", &rule));
  s->mu_relative = strcmp(mode, "relative") == 0;
  s->frangella = strcmp(rule, "frangella") == 0;
  if (!(s->eps > 0.0) && !s->frangella)
    return npde_config_error(npde_config_get(cfg, "eps"), "nystrom: eps = %g must be > 0", s->eps);
  return NPDE_OK;
}

static void free_buffers(nys_state *s) {
  void **dev[] = {&s->omega, &s->y, &s->small, &s->dvec, &s->tvec};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; ++i) {
    if (*dev[i]) npde_backend_free(s->be, *dev[i]);
    *dev[i] = NULL;
  }
  double **host[] = {&s->h_a, &s->h_b, &s->h_w, &s->h_lambda, &s->h_d};
  for (size_t i = 0; i < sizeof host / sizeof host[0]; ++i) {
    npde_free(*host[i]);
    *host[i] = NULL;
  }
  s->n = s->l = 0;
  s->ready = false;
}

static void nys_destroy(npde_precond *pc) { free_buffers(npde_precond_state(pc)); }

static npde_status ensure_buffers(nys_state *s, int64_t n, int64_t l) {
  if (s->n == n && s->l == l && s->omega) return NPDE_OK;
  free_buffers(s);
  const size_t nl = (size_t)n * (size_t)l * sizeof(double), ll = (size_t)l * (size_t)l * sizeof(double);
  NPDE_TRY(npde_backend_alloc(s->be, nl, &s->omega));
  NPDE_TRY(npde_backend_alloc(s->be, nl, &s->y));
  NPDE_TRY(npde_backend_alloc(s->be, ll, &s->small));
  NPDE_TRY(npde_backend_alloc(s->be, (size_t)l * sizeof(double), &s->dvec));
  NPDE_TRY(npde_backend_alloc(s->be, (size_t)l * sizeof(double), &s->tvec));
  s->h_a = npde_alloc(ll);
  s->h_b = npde_alloc(ll);
  s->h_w = npde_alloc((size_t)l * sizeof(double));
  s->h_lambda = npde_alloc((size_t)l * sizeof(double));
  s->h_d = npde_alloc((size_t)l * sizeof(double));
  if (!s->h_a || !s->h_b || !s->h_w || !s->h_lambda || !s->h_d) {
    free_buffers(s);
    return NPDE_ERROR(NPDE_ERR_NOMEM, "nystrom: cannot allocate host work for rank %lld", (long long)l);
  }
  s->n = n;
  s->l = l;
  return NPDE_OK;
}

/* h_a = op(X)^T Y for n x l backend blocks (an l x l gemm, then a download). */
static npde_status gram_to_host(nys_state *s, const npde_mat *X, const npde_mat *Y) {
  npde_mat G = npde_mat_view(s->small, NPDE_F64, s->l, s->l);
  NPDE_TRY(npde_backend_gemm(s->be, NPDE_TRANS, NPDE_NO_TRANS, 1.0, X, Y, 0.0, &G));
  NPDE_TRY(npde_backend_download(s->be, s->h_a, s->small, (size_t)(s->l * s->l) * sizeof(double)));
  return NPDE_OK;
}

/* Zero the strict lower (upper = true) or upper triangle of h_a and upload it. */
static npde_status upload_triangle(nys_state *s, bool upper) {
  const int64_t l = s->l;
  for (int64_t i = 0; i < l; ++i)
    for (int64_t j = 0; j < l; ++j)
      if (upper ? j < i : j > i) s->h_a[i * l + j] = 0.0;
  NPDE_TRY(npde_backend_upload(s->be, s->small, s->h_a, (size_t)(l * l) * sizeof(double)));
  return NPDE_OK;
}

/* Omega <- Q of a thin QR by CholeskyQR2 (a shifted CholeskyQR first, then
 * two plain passes, if the Gram matrix is numerically singular). */
static npde_status orthonormalise(nys_state *s, npde_mat *Om) {
  const int64_t n = s->n, l = s->l;
  int passes = 2;
  for (int pass = 0; pass < passes; ++pass) {
    NPDE_TRY(gram_to_host(s, Om, Om));
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)l, s->h_a, (lapack_int)l);
    if (info != 0 && pass == 0) {
      /* shifted CholeskyQR (Fukaya et al.): G + sigma I with sigma = 11 (n l + l (l + 1)) u ||G||_2 */
      NPDE_TRY(gram_to_host(s, Om, Om));
      double trace = 0.0;
      for (int64_t i = 0; i < l; ++i) trace += s->h_a[i * l + i];
      double sigma = 11.0 * ((double)n * (double)l + (double)l * (double)(l + 1)) * DBL_EPSILON * trace;
      for (int64_t i = 0; i < l; ++i) s->h_a[i * l + i] += sigma;
      info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)l, s->h_a, (lapack_int)l);
      npde_log(NPDE_LOG_DEBUG, "nystrom: test matrix Gram not positive definite; shifted CholeskyQR (sigma %.3e)",
               sigma);
      passes = 3;
    }
    if (info != 0)
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "nystrom: CholeskyQR of the %lld x %lld test matrix failed (dpotrf info "
                        "%d in pass %d): the test matrix is numerically rank deficient", (long long)n, (long long)l,
                        (int)info, pass + 1);
    NPDE_TRY(upload_triangle(s, true));
    npde_mat R = npde_mat_view(s->small, NPDE_F64, l, l);
    NPDE_TRY(npde_backend_trsm(s->be, NPDE_RIGHT, NPDE_UPPER, NPDE_NO_TRANS, NPDE_NON_UNIT, 1.0, &R, Om));
  }
  return NPDE_OK;
}

/* Largest eigenvalue of the symmetric l x l h_a (destroys it). */
static npde_status host_max_eig(nys_state *s, double *out) {
  lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)s->l, s->h_a, (lapack_int)s->l, s->h_w);
  if (info != 0) return NPDE_ERROR(NPDE_ERR_NUMERIC, "nystrom: dsyevd failed (info %d)", (int)info);
  *out = s->h_w[s->l - 1];
  return NPDE_OK;
}

/* The apply coefficients d_i = (lambda_l + mu_a)/(Lambda_i + mu_a) - 1, uploaded. */
static npde_status finish(nys_state *s, npde_precond_info *info) {
  const int64_t l = s->l;
  s->lambda_max = s->h_lambda[0];
  s->lambda_min = s->h_lambda[l - 1];
  s->mu_a = s->mu_relative && s->lambda_max > 0.0 ? s->mu * s->lambda_max : s->mu;
  for (int64_t i = 0; i < l; ++i) {
    double den = s->h_lambda[i] + s->mu_a;
    s->h_d[i] = den > 0.0 ? (s->lambda_min + s->mu_a) / den - 1.0 : 0.0;
  }
  NPDE_TRY(npde_backend_upload(s->be, s->dvec, s->h_d, (size_t)l * sizeof(double)));
  if (s->mu_a == 0.0 && s->lambda_min == 0.0 && s->lambda_max > 0.0)
    npde_log(NPDE_LOG_WARN, "nystrom: mu_a = 0 and lambda_l = 0: the preconditioner is singular");
  s->ready = true;
  if (info) {
    info->shift = s->mu_a;
    info->lambda_max = s->lambda_max;
    info->lambda_min = s->lambda_min;
    info->rank = l;
    info->operator_products = l;
  }
  npde_log(NPDE_LOG_DEBUG, "nystrom: n %lld, rank %lld, nu %.3e, lambda [%.3e, %.3e], mu_a %.3e", (long long)s->n,
           (long long)l, s->nu, s->lambda_min, s->lambda_max, s->mu_a);
  return NPDE_OK;
}

static npde_status nys_setup(npde_precond *pc, const npde_linop *A, uint64_t seed, uint64_t stream, uint64_t counter,
                             npde_precond_info *info) {
  nys_state *s = npde_precond_state(pc);
  npde_backend *be = s->be;
  s->ready = false;
  if (A->dtype != NPDE_F64)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "nystrom: only f64 operators are supported (the host Cholesky and "
                      "eigen-decomposition run in double); got an f32 operator");
  const int64_t n = A->n;
  if (n < 1) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "nystrom: operator size n = %lld", (long long)n);
  const int64_t l = s->rank < n ? s->rank : n;
  NPDE_TRY(ensure_buffers(s, n, l));
  s->has_row_scale = npde_backend_supports(be, NPDE_OP_ROW_SCALE, NPDE_F64);
  npde_mat Om = npde_mat_view(s->omega, NPDE_F64, n, l), Y = npde_mat_view(s->y, NPDE_F64, n, l);

  /* 1-2. Omega, orthonormalised */
  NPDE_TRY(npde_backend_rng_normal(be, seed, stream, counter, 0.0, 1.0, &Om));
  NPDE_TRY(orthonormalise(s, &Om));

  /* 3. the sketch: one block product */
  NPDE_TRY(npde_linop_apply_block(A, &Om, &Y));
  double yf;
  NPDE_TRY(npde_backend_nrm2(be, &Y, &yf));
  if (!isfinite(yf)) return NPDE_ERROR(NPDE_ERR_NUMERIC, "nystrom: the sketch A Omega has NaN or Inf (||Y||_F = %g)", yf);
  if (yf == 0.0) { /* A = 0 on range(Omega): no information; P^-1 = I */
    s->nu = 0.0;
    NPDE_TRY(npde_backend_fill(be, &Om, 0.0));
    for (int64_t i = 0; i < l; ++i) s->h_lambda[i] = 0.0;
    npde_log(NPDE_LOG_WARN, "nystrom: the sketch A Omega is zero; the preconditioner is the identity");
    return finish(s, info);
  }

  /* 4. the shift */
  if (s->frangella) {
    double ev = 0.0;
    NPDE_TRY(gram_to_host(s, &Y, &Y));
    NPDE_TRY(host_max_eig(s, &ev));
    s->nu = sqrt((double)n) * 2.2e-16 * sqrt(ev > 0.0 ? ev : 0.0);
    if (!(s->nu > 0.0)) s->nu = 2.2e-16 * yf;
  } else {
    s->nu = s->eps * yf;
  }

  /* 5-6. Y_nu = Y + nu Omega; Cholesky of sym(Omega^T Y_nu), raising nu on failure */
  NPDE_TRY(npde_backend_axpy(be, s->nu, &Om, &Y));
  for (int attempt = 0;; ++attempt) {
    NPDE_TRY(gram_to_host(s, &Om, &Y));
    for (int64_t i = 0; i < l; ++i)
      for (int64_t j = 0; j < i; ++j) {
        double v = 0.5 * (s->h_a[i * l + j] + s->h_a[j * l + i]);
        s->h_a[i * l + j] = s->h_a[j * l + i] = v;
      }
    lapack_int inf = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)l, s->h_a, (lapack_int)l);
    if (inf == 0) break;
    /* the retries cure round-off (a PSD operator that looks slightly indefinite), not an indefinite one */
    if (attempt >= 16 || 10.0 * s->nu > NYS_MAX_NU * yf)
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "nystrom: Omega^T (A + nu I) Omega is not positive definite with nu = "
                        "%.3e = %.1e ||A Omega||_F (dpotrf info %d, %d retries): the operator is not positive "
                        "semidefinite", s->nu, s->nu / yf, (int)inf, attempt);
    npde_log(NPDE_LOG_WARN, "nystrom: Cholesky of Omega^T Y_nu failed (dpotrf info %d) with nu = %.3e; retrying with "
             "nu = %.3e", (int)inf, s->nu, 10.0 * s->nu);
    NPDE_TRY(npde_backend_axpy(be, 9.0 * s->nu, &Om, &Y));
    s->nu *= 10.0;
  }

  /* 7. B = Y_nu C^-T, in place */
  NPDE_TRY(upload_triangle(s, false));
  npde_mat C = npde_mat_view(s->small, NPDE_F64, l, l);
  NPDE_TRY(npde_backend_trsm(be, NPDE_RIGHT, NPDE_LOWER, NPDE_TRANS, NPDE_NON_UNIT, 1.0, &C, &Y));

  /* 8. B^T B = V Sigma^2 V^T on the host; W = V Sigma^-1 in descending order */
  NPDE_TRY(gram_to_host(s, &Y, &Y));
  lapack_int inf = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)l, s->h_a, (lapack_int)l, s->h_w);
  if (inf != 0) return NPDE_ERROR(NPDE_ERR_NUMERIC, "nystrom: dsyevd of B^T B failed (info %d)", (int)inf);
  const double smax = s->h_w[l - 1];
  if (!(smax > 0.0) || !isfinite(smax))
    return NPDE_ERROR(NPDE_ERR_NUMERIC, "nystrom: largest eigenvalue of B^T B is %g", smax);
  const double drop = (double)l * DBL_EPSILON * smax;
  int64_t dropped = 0;
  for (int64_t k = 0; k < l; ++k) {
    const int64_t j = l - 1 - k;
    const double sig2 = s->h_w[j];
    const bool keep = sig2 > drop;
    const double inv = keep ? 1.0 / sqrt(sig2) : 0.0;
    for (int64_t i = 0; i < l; ++i) s->h_b[i * l + k] = s->h_a[i * l + j] * inv;
    s->h_lambda[k] = keep && sig2 > s->nu ? sig2 - s->nu : 0.0; /* 9. Lambda = max(Sigma^2 - nu, 0) */
    dropped += !keep;
  }
  if (dropped)
    npde_log(NPDE_LOG_DEBUG, "nystrom: dropped %lld of %lld directions with sigma^2 <= %.3e", (long long)dropped,
             (long long)l, drop);
  NPDE_TRY(npde_backend_upload(be, s->small, s->h_b, (size_t)(l * l) * sizeof(double)));
  npde_mat W = npde_mat_view(s->small, NPDE_F64, l, l);
  /* U = B W, into Omega's buffer (Omega is not needed any more) */
  NPDE_TRY(npde_backend_gemm(be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &Y, &W, 0.0, &Om));
  return finish(s, info);
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

static npde_status nys_apply(npde_precond *pc, const npde_mat *r, npde_mat *z) {
  nys_state *s = npde_precond_state(pc);
  if (!s->ready) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "nystrom: apply before a successful setup");
  npde_mat rc = as_col(r), zc = as_col(z);
  if (rc.rows != s->n || rc.cols != 1 || rc.dtype != NPDE_F64)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "nystrom: apply needs f64 vectors of %lld entries, got %lld x %lld",
                      (long long)s->n, (long long)r->rows, (long long)r->cols);
  npde_backend *be = s->be;
  const int64_t l = s->l;
  npde_mat U = npde_mat_view(s->omega, NPDE_F64, s->n, l);
  npde_mat t = npde_mat_view(s->tvec, NPDE_F64, l, 1), d = npde_mat_view(s->dvec, NPDE_F64, l, 1);
  NPDE_TRY(npde_backend_gemv(be, NPDE_TRANS, 1.0, &U, &rc, 0.0, &t));
  if (s->has_row_scale) {
    NPDE_TRY(npde_backend_row_scale(be, &d, &t, &t, 1));
  } else { /* l numbers through the host */
    NPDE_TRY(npde_backend_download(be, s->h_w, s->tvec, (size_t)l * sizeof(double)));
    for (int64_t i = 0; i < l; ++i) s->h_w[i] *= s->h_d[i];
    NPDE_TRY(npde_backend_upload(be, s->tvec, s->h_w, (size_t)l * sizeof(double)));
  }
  NPDE_TRY(npde_backend_copy(be, &rc, &zc));
  NPDE_TRY(npde_backend_gemv(be, NPDE_NO_TRANS, 1.0, &U, &t, 1.0, &zc));
  return NPDE_OK;
}

static npde_status nys_factors(const npde_precond *pc, npde_nystrom_factors *out) {
  const nys_state *s = npde_precond_state(pc);
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "nystrom factors: NULL out");
  if (!s->ready) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "nystrom factors: no successful setup yet");
  out->U = npde_mat_view(s->omega, NPDE_F64, s->n, s->l);
  out->lambda = s->h_lambda;
  out->rank = s->l;
  out->nu = s->nu;
  out->mu_a = s->mu_a;
  return NPDE_OK;
}

static void *nys_get_proc(const char *name) {
  if (name && strcmp(name, NPDE_NYSTROM_FACTORS_PROC) == 0) return (void *)nys_factors;
  return NULL;
}

static const npde_precond_ops nys_ops = {
    .struct_size = sizeof(npde_precond_ops),
    .create = nys_create,
    .destroy = nys_destroy,
    .get_proc = nys_get_proc,
    .setup = nys_setup,
    .apply = nys_apply,
};

static const npde_param_spec nys_params[] = {
    {.name = "rank", .type = NPDE_PARAM_INT, .default_value = "200",
     .doc = "sketch size l (one block product of l columns); min(rank, n) is used", .min = 1,
     .flags = NPDE_PARAM_HAS_MIN},
    {.name = "mu", .type = NPDE_PARAM_REAL, .default_value = "1e-6",
     .doc = "regularisation: mu_a = mu * max Lambda (relative) or mu (absolute)", .min = 0,
     .flags = NPDE_PARAM_HAS_MIN},
    {.name = "mu_mode", .type = NPDE_PARAM_ENUM, .default_value = "relative",
     .doc = "relative: mu_a = mu * lambda_max (absolute mu if lambda_max = 0); absolute: mu_a = mu",
     .choices = "relative|absolute"},
    {.name = "eps", .type = NPDE_PARAM_REAL, .default_value = "1e-8",
     .doc = "shift_rule linops: nu = eps * ||A Omega||_F", .min = 0, .flags = NPDE_PARAM_HAS_MIN},
    {.name = "shift_rule", .type = NPDE_PARAM_ENUM, .default_value = "linops",
     .doc = "linops: nu = eps ||Y||_F; frangella: nu = sqrt(n) * 2.2e-16 * ||Y||_2", .choices = "linops|frangella"},
    {0},
};

const npde_component_desc nystrom_precond_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_PRECOND,
    .name = "nystrom",
    .summary = "randomised Nystrom preconditioner from one block product, CholeskyQR2, relative or absolute mu",
    .ops = &nys_ops,
    .state_size = sizeof(nys_state),
    .params = nys_params,
};
