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
 * A block-diagonal operator (npde_linop.n_blocks, docs/methods/neural-ivp.md §4.8) is
 * sketched block by block: block k of n_k indices gets l_k = max(1, round(rank
 * n_k / n)) columns of its own (at most n_k), through block_matmat, so the
 * sketch costs about l_k n_k / n products per block instead of l_k; U is then
 * block diagonal (stored block by block), the Lambda are the blocks' together,
 * and lambda_l in apply is the smallest of them all.
 *
 * Only l x l matrices and l-vectors visit the host. The two n x l backend
 * buffers (Omega, later U; Y, later B) and the small ones are allocated when
 * n or l changes and reused otherwise; apply allocates nothing.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "npde/npde_philox.h"
#include "npde/plugin/npde_ext.h"
#include "npde_nystrom.h"

/* The Cholesky retries raise nu by 10 while it stays below this times ||Y||_F. */
#define NYS_MAX_NU 1e-3

/* Block k of the layout: indices [row, row + rows) with cols columns, stored from element off of omega and y, its
 * Lambda from entry col. */
typedef struct nys_block {
  int64_t row, rows, cols, off, col;
} nys_block;

typedef struct nys_state {
  npde_backend *be;
  /* parameters */
  int64_t rank;
  double mu, eps;
  bool mu_relative, frangella;
  /* the block layout of the last setup: nb blocks (1 for an operator without structure) */
  int64_t nb, nb_cap;
  nys_block *blk;
  /* buffers, for the current layout */
  int64_t n, l, lmax, elems;
  void *omega; /* the blocks' n_k x l_k: Omega, then U */
  void *y;     /* the blocks' n_k x l_k: Y, Y_nu, then B */
  void *small; /* lmax x lmax: G, R, S, C, B^T B, W */
  void *dvec;  /* l: apply coefficients */
  void *tvec;  /* l: apply work */
  double *h_a, *h_b; /* lmax x lmax host */
  double *h_w, *h_lambda, *h_d; /* lmax; l; l host */
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
  s->n = s->l = s->lmax = s->elems = 0;
  s->ready = false;
}

static void nys_destroy(npde_precond *pc) {
  nys_state *s = npde_precond_state(pc);
  free_buffers(s);
  free(s->blk);
  s->blk = NULL;
}

/* The block layout of A for this setup: one block, or A's diagonal blocks with their share of the rank. */
static npde_status plan_blocks(nys_state *s, const npde_linop *A) {
  const bool blocks = A->n_blocks > 1 && A->block_start && A->block_matmat;
  const int64_t nb = blocks ? A->n_blocks : 1, n = A->n;
  if (nb > s->nb_cap) {
    free(s->blk);
    s->blk = malloc((size_t)nb * sizeof *s->blk);
    s->nb_cap = s->blk ? nb : 0;
    if (!s->blk) return NPDE_ERROR(NPDE_ERR_NOMEM, "nystrom: out of memory for %lld blocks", (long long)nb);
  }
  int64_t l = 0, lmax = 0, elems = 0;
  for (int64_t k = 0; k < nb; ++k) {
    const int64_t r0 = blocks ? A->block_start[k] : 0, nk = blocks ? A->block_start[k + 1] - r0 : n;
    if (nk < 1 || r0 + nk > n)
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "nystrom: the operator's block %lld covers [%lld, %lld) of n = %lld",
                        (long long)k, (long long)r0, (long long)(r0 + nk), (long long)n);
    int64_t lk = blocks ? (int64_t)((double)s->rank * (double)nk / (double)n + 0.5) : s->rank;
    lk = lk < 1 ? 1 : lk > nk ? nk : lk;
    s->blk[k] = (nys_block){.row = r0, .rows = nk, .cols = lk, .off = elems, .col = l};
    elems += nk * lk;
    l += lk;
    if (lk > lmax) lmax = lk;
  }
  s->nb = nb;
  if (s->n == n && s->l == l && s->lmax == lmax && s->elems == elems && s->omega) return NPDE_OK;
  free_buffers(s);
  const size_t ne = (size_t)elems * sizeof(double), ll = (size_t)lmax * (size_t)lmax * sizeof(double);
  NPDE_TRY(npde_backend_alloc(s->be, ne, &s->omega));
  NPDE_TRY(npde_backend_alloc(s->be, ne, &s->y));
  NPDE_TRY(npde_backend_alloc(s->be, ll, &s->small));
  NPDE_TRY(npde_backend_alloc(s->be, (size_t)l * sizeof(double), &s->dvec));
  NPDE_TRY(npde_backend_alloc(s->be, (size_t)l * sizeof(double), &s->tvec));
  s->h_a = npde_alloc(ll);
  s->h_b = npde_alloc(ll);
  s->h_w = npde_alloc((size_t)(lmax > l ? lmax : l) * sizeof(double));
  s->h_lambda = npde_alloc((size_t)l * sizeof(double));
  s->h_d = npde_alloc((size_t)l * sizeof(double));
  if (!s->h_a || !s->h_b || !s->h_w || !s->h_lambda || !s->h_d) {
    free_buffers(s);
    return NPDE_ERROR(NPDE_ERR_NOMEM, "nystrom: cannot allocate host work for rank %lld", (long long)l);
  }
  s->n = n;
  s->l = l;
  s->lmax = lmax;
  s->elems = elems;
  return NPDE_OK;
}

/* Block k's n_k x l_k part of a layout buffer. */
static npde_mat block_view(const nys_state *s, void *buf, int64_t k) {
  return npde_mat_view((double *)buf + s->blk[k].off, NPDE_F64, s->blk[k].rows, s->blk[k].cols);
}

/* h_a = op(X)^T Y for n x l backend blocks (an l x l gemm, then a download). */
static npde_status gram_to_host(nys_state *s, const npde_mat *X, const npde_mat *Y) {
  const int64_t l = X->cols;
  npde_mat G = npde_mat_view(s->small, NPDE_F64, l, l);
  NPDE_TRY(npde_backend_gemm(s->be, NPDE_TRANS, NPDE_NO_TRANS, 1.0, X, Y, 0.0, &G));
  NPDE_TRY(npde_backend_download(s->be, s->h_a, s->small, (size_t)(l * l) * sizeof(double)));
  return NPDE_OK;
}

/* Zero the strict lower (upper = true) or upper triangle of h_a and upload it. */
static npde_status upload_triangle(nys_state *s, int64_t l, bool upper) {
  for (int64_t i = 0; i < l; ++i)
    for (int64_t j = 0; j < l; ++j)
      if (upper ? j < i : j > i) s->h_a[i * l + j] = 0.0;
  NPDE_TRY(npde_backend_upload(s->be, s->small, s->h_a, (size_t)(l * l) * sizeof(double)));
  return NPDE_OK;
}

/* Omega <- Q of a thin QR by CholeskyQR2 (a shifted CholeskyQR first, then
 * two plain passes, if the Gram matrix is numerically singular). */
static npde_status orthonormalise(nys_state *s, npde_mat *Om) {
  const int64_t n = Om->rows, l = Om->cols;
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
    NPDE_TRY(upload_triangle(s, l, true));
    npde_mat R = npde_mat_view(s->small, NPDE_F64, l, l);
    NPDE_TRY(npde_backend_trsm(s->be, NPDE_RIGHT, NPDE_UPPER, NPDE_NO_TRANS, NPDE_NON_UNIT, 1.0, &R, Om));
  }
  return NPDE_OK;
}

/* Largest eigenvalue of the symmetric l x l h_a (destroys it). */
static npde_status host_max_eig(nys_state *s, int64_t l, double *out) {
  lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)l, s->h_a, (lapack_int)l, s->h_w);
  if (info != 0) return NPDE_ERROR(NPDE_ERR_NUMERIC, "nystrom: dsyevd failed (info %d)", (int)info);
  *out = s->h_w[l - 1];
  return NPDE_OK;
}

/* The apply coefficients d_i = (lambda_l + mu_a)/(Lambda_i + mu_a) - 1, uploaded. */
static npde_status finish(nys_state *s, npde_precond_info *info) {
  const int64_t l = s->l;
  s->lambda_max = s->h_lambda[0];
  s->lambda_min = s->h_lambda[l - 1];
  for (int64_t k = 1; k < s->nb; ++k) { /* each block's Lambda is descending */
    if (s->h_lambda[s->blk[k].col] > s->lambda_max) s->lambda_max = s->h_lambda[s->blk[k].col];
    if (s->h_lambda[s->blk[k].col + s->blk[k].cols - 1] < s->lambda_min) s->lambda_min = s->h_lambda[s->blk[k].col + s->blk[k].cols - 1];
  }
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
  npde_log(NPDE_LOG_DEBUG, "nystrom: n %lld, rank %lld in %lld block(s), nu %.3e, lambda [%.3e, %.3e], mu_a %.3e",
           (long long)s->n, (long long)l, (long long)s->nb, s->nu, s->lambda_min, s->lambda_max, s->mu_a);
  return NPDE_OK;
}

/* Steps 1-9 for block k: Omega_k, its sketch, and U_k and Lambda_k in place of Omega_k and at h_lambda + col[k]. */
static npde_status sketch_block(nys_state *s, const npde_linop *A, int64_t k, uint64_t seed, uint64_t stream,
                                uint64_t counter) {
  npde_backend *be = s->be;
  const int64_t n = s->blk[k].rows, l = s->blk[k].cols;
  double *lambda = s->h_lambda + s->blk[k].col;
  npde_mat Om = block_view(s, s->omega, k), Y = block_view(s, s->y, k);

  /* 1-2. Omega, orthonormalised */
  NPDE_TRY(npde_backend_rng_normal(be, seed, stream, counter, 0.0, 1.0, &Om));
  NPDE_TRY(orthonormalise(s, &Om));

  /* 3. the sketch: one block product */
  NPDE_TRY(s->nb == 1 ? npde_linop_apply_block(A, &Om, &Y) : A->block_matmat(A->ctx, k, &Om, &Y));
  double yf;
  NPDE_TRY(npde_backend_nrm2(be, &Y, &yf));
  if (!isfinite(yf)) return NPDE_ERROR(NPDE_ERR_NUMERIC, "nystrom: the sketch A Omega has NaN or Inf (||Y||_F = %g)", yf);
  if (yf == 0.0) { /* A = 0 on range(Omega): no information; P^-1 = I there */
    NPDE_TRY(npde_backend_fill(be, &Om, 0.0));
    for (int64_t i = 0; i < l; ++i) lambda[i] = 0.0;
    npde_log(NPDE_LOG_WARN, "nystrom: the sketch A Omega is zero%s; the preconditioner is the identity there",
             s->nb > 1 ? " on a block" : "");
    return NPDE_OK;
  }

  /* 4. the shift */
  double nu;
  if (s->frangella) {
    double ev = 0.0;
    NPDE_TRY(gram_to_host(s, &Y, &Y));
    NPDE_TRY(host_max_eig(s, l, &ev));
    nu = sqrt((double)n) * 2.2e-16 * sqrt(ev > 0.0 ? ev : 0.0);
    if (!(nu > 0.0)) nu = 2.2e-16 * yf;
  } else {
    nu = s->eps * yf;
  }

  /* 5-6. Y_nu = Y + nu Omega; Cholesky of sym(Omega^T Y_nu), raising nu on failure */
  NPDE_TRY(npde_backend_axpy(be, nu, &Om, &Y));
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
    if (attempt >= 16 || 10.0 * nu > NYS_MAX_NU * yf)
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "nystrom: Omega^T (A + nu I) Omega is not positive definite with nu = "
                        "%.3e = %.1e ||A Omega||_F (dpotrf info %d, %d retries): the operator is not positive "
                        "semidefinite", nu, nu / yf, (int)inf, attempt);
    npde_log(NPDE_LOG_WARN, "nystrom: Cholesky of Omega^T Y_nu failed (dpotrf info %d) with nu = %.3e; retrying with "
             "nu = %.3e", (int)inf, nu, 10.0 * nu);
    NPDE_TRY(npde_backend_axpy(be, 9.0 * nu, &Om, &Y));
    nu *= 10.0;
  }
  if (nu > s->nu) s->nu = nu;

  /* 7. B = Y_nu C^-T, in place */
  NPDE_TRY(upload_triangle(s, l, false));
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
  for (int64_t c = 0; c < l; ++c) {
    const int64_t j = l - 1 - c;
    const double sig2 = s->h_w[j];
    const bool keep = sig2 > drop;
    const double inv = keep ? 1.0 / sqrt(sig2) : 0.0;
    for (int64_t i = 0; i < l; ++i) s->h_b[i * l + c] = s->h_a[i * l + j] * inv;
    lambda[c] = keep && sig2 > nu ? sig2 - nu : 0.0; /* 9. Lambda = max(Sigma^2 - nu, 0) */
    dropped += !keep;
  }
  if (dropped)
    npde_log(NPDE_LOG_DEBUG, "nystrom: dropped %lld of %lld directions with sigma^2 <= %.3e", (long long)dropped,
             (long long)l, drop);
  NPDE_TRY(npde_backend_upload(be, s->small, s->h_b, (size_t)(l * l) * sizeof(double)));
  npde_mat W = npde_mat_view(s->small, NPDE_F64, l, l);
  /* U = B W, into Omega's buffer (Omega is not needed any more) */
  return npde_backend_gemm(be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &Y, &W, 0.0, &Om);
}

static npde_status nys_setup(npde_precond *pc, const npde_linop *A, uint64_t seed, uint64_t stream, uint64_t counter,
                             npde_precond_info *info) {
  nys_state *s = npde_precond_state(pc);
  s->ready = false;
  if (A->dtype != NPDE_F64)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "nystrom: only f64 operators are supported (the host Cholesky and "
                      "eigen-decomposition run in double); got an f32 operator");
  if (A->n < 1) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "nystrom: operator size n = %lld", (long long)A->n);
  NPDE_TRY(plan_blocks(s, A));
  s->has_row_scale = npde_backend_supports(s->be, NPDE_OP_ROW_SCALE, NPDE_F64);
  s->nu = 0.0;
  for (int64_t k = 0; k < s->nb; ++k) /* block k's test matrix from its own counters */
    NPDE_TRY(sketch_block(s, A, k, seed, stream, counter + npde_philox_blocks((uint64_t)s->blk[k].off)));
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
  npde_mat t = npde_mat_view(s->tvec, NPDE_F64, l, 1), d = npde_mat_view(s->dvec, NPDE_F64, l, 1);
  for (int64_t k = 0; k < s->nb; ++k) { /* t = U^T r, block by block */
    npde_mat U = block_view(s, s->omega, k), rk = npde_mat_sub(rc, s->blk[k].row, 0, s->blk[k].rows, 1);
    npde_mat tk = npde_mat_sub(t, s->blk[k].col, 0, s->blk[k].cols, 1);
    NPDE_TRY(npde_backend_gemv(be, NPDE_TRANS, 1.0, &U, &rk, 0.0, &tk));
  }
  if (s->has_row_scale) {
    NPDE_TRY(npde_backend_row_scale(be, &d, &t, &t, 1));
  } else { /* l numbers through the host */
    NPDE_TRY(npde_backend_download(be, s->h_w, s->tvec, (size_t)l * sizeof(double)));
    for (int64_t i = 0; i < l; ++i) s->h_w[i] *= s->h_d[i];
    NPDE_TRY(npde_backend_upload(be, s->tvec, s->h_w, (size_t)l * sizeof(double)));
  }
  NPDE_TRY(npde_backend_copy(be, &rc, &zc));
  for (int64_t k = 0; k < s->nb; ++k) { /* z = r + U t */
    npde_mat U = block_view(s, s->omega, k), zk = npde_mat_sub(zc, s->blk[k].row, 0, s->blk[k].rows, 1);
    npde_mat tk = npde_mat_sub(t, s->blk[k].col, 0, s->blk[k].cols, 1);
    NPDE_TRY(npde_backend_gemv(be, NPDE_NO_TRANS, 1.0, &U, &tk, 1.0, &zk));
  }
  return NPDE_OK;
}

static npde_status nys_factors(const npde_precond *pc, npde_nystrom_factors *out) {
  const nys_state *s = npde_precond_state(pc);
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "nystrom factors: NULL out");
  if (!s->ready) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "nystrom factors: no successful setup yet");
  if (s->nb > 1)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "nystrom factors: the last setup was block diagonal (%lld blocks); "
                      "U is stored block by block", (long long)s->nb);
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
