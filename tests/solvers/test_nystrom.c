/* precond nystrom: exact low rank, decaying spectra, preconditioner algebra,
 * mu modes, preconditioned CG (docs/methods/neural-ivp.md §4.1-4.3, V10-V13). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <lapacke.h>

#include "helpers.h"
#include "npde_nystrom.h"

static th_env env;
static void setup(void) { th_env_init(&env); }
static void teardown(void) { th_env_fini(&env); }
TestSuite(nystrom, .init = setup, .fini = teardown);

static npde_precond *make_precond(const char *yaml) { return th_precond(&env, yaml); }

static npde_linsolver *make_solver(const char *yaml) { return th_linsolver(&env, yaml); }

static npde_precond_info new_info(void) { return (npde_precond_info){.struct_size = sizeof(npde_precond_info)}; }

/* The factors of the last setup, U downloaded (n x l row-major, caller frees). */
typedef struct factors {
  int64_t n, l;
  double *U;
  const double *lambda;
  double nu, mu_a;
} factors;

static factors get_factors(npde_precond *pc) {
  npde_nystrom_factors_fn fn = (npde_nystrom_factors_fn)th_get_proc(pc, NPDE_NYSTROM_FACTORS_PROC);
  cr_assert_not_null(fn, "nystrom has no get_proc(\"%s\")", NPDE_NYSTROM_FACTORS_PROC);
  npde_nystrom_factors f;
  OK(fn(pc, &f));
  factors out = {.n = f.U.rows, .l = f.rank, .lambda = f.lambda, .nu = f.nu, .mu_a = f.mu_a};
  cr_assert_eq(f.U.cols, f.rank);
  out.U = malloc((size_t)(out.n * out.l) * sizeof(double));
  cr_assert(out.U);
  OK(npde_backend_download(env.be, out.U, f.U.data, (size_t)(out.n * out.l) * sizeof(double)));
  return out;
}

/* Ahat = U diag(lambda) U^T (n x n). */
static double *reconstruct(const factors *f) {
  const int64_t n = f->n, l = f->l;
  double *UL = malloc((size_t)(n * l) * sizeof *UL), *Ah = malloc((size_t)(n * n) * sizeof *Ah);
  cr_assert(UL && Ah);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < l; ++k) UL[i * l + k] = f->U[i * l + k] * f->lambda[k];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)l, 1.0, UL, (int)l, f->U, (int)l, 0.0,
              Ah, (int)n);
  free(UL);
  return Ah;
}

static double fro(int64_t m, const double *A) { return cblas_dnrm2((int)m, A, 1); }

static double fro_diff(int64_t m, const double *A, const double *B) {
  double s = 0.0;
  for (int64_t i = 0; i < m; ++i) s += (A[i] - B[i]) * (A[i] - B[i]);
  return sqrt(s);
}

static double *spectrum_matrix(uint64_t seed, int64_t n, const double *lambda) {
  th_rng r = {seed};
  double *A = malloc((size_t)(n * n) * sizeof *A);
  cr_assert(A);
  th_from_spectrum(&r, n, lambda, A);
  return A;
}

/* P^-1 as a dense matrix, by applying the plugin to every unit vector. */
static double *dense_pinv(npde_precond *pc, int64_t n) {
  double *M = malloc((size_t)(n * n) * sizeof *M), *e = calloc((size_t)n, sizeof *e);
  cr_assert(M && e);
  void *de = th_vec_new(env.be, e, n, NPDE_F64), *dz = th_vec_new(env.be, e, n, NPDE_F64);
  npde_mat ve = th_vec_view(de, n, NPDE_F64), vz = th_vec_view(dz, n, NPDE_F64);
  for (int64_t j = 0; j < n; ++j) {
    e[j] = 1.0;
    OK(npde_backend_upload(env.be, de, e, (size_t)n * sizeof *e));
    OK(npde_precond_apply(pc, &ve, &vz));
    e[j] = 0.0;
    th_vec_get(env.be, dz, M + j * n, n, NPDE_F64); /* row j = P^-1 e_j (P^-1 symmetric) */
  }
  npde_backend_free(env.be, de);
  npde_backend_free(env.be, dz);
  free(e);
  return M;
}

Test(nystrom, test_nystrom_exact_low_rank) {
  const int64_t p = 500, r = 30, l = 50;
  th_rng rng = {31};
  double *G = malloc((size_t)(p * r) * sizeof *G), *A = malloc((size_t)(p * p) * sizeof *A);
  cr_assert(G && A);
  th_normal_fill(&rng, G, p * r);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p, (int)p, (int)r, 1.0, G, (int)r, G, (int)r, 0.0, A,
              (int)p);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_precond *pc = make_precond("{type: nystrom, rank: 50}");
  npde_precond_info info = new_info();
  OK(npde_precond_setup(pc, &op.op, 7, 0, 0, &info));
  cr_assert_eq(op.matmats, 1, "one block product");
  cr_assert_eq(op.matmat_cols, l);
  cr_assert_eq(op.matvecs, 0);
  cr_assert_eq(info.rank, l);
  cr_assert_eq(info.operator_products, l);

  factors f = get_factors(pc);
  cr_assert_eq(f.l, l);
  double *Ah = reconstruct(&f);
  double err = fro_diff(p * p, A, Ah) / fro(p * p, A);
  cr_log_info("exact low rank: ||A - Ahat||_F / ||A||_F = %.3e, nu = %.3e", err, f.nu);
  cr_assert_leq(err, 1e-5, "||A - Ahat||_F / ||A||_F = %.3e", err);
  {
    /* the error scales with the shift eps: a smaller one recovers A to 1e-6 (the figure) */
    npde_precond *tight = make_precond("{type: nystrom, rank: 50, eps: 1e-10}");
    npde_precond_info ti = new_info();
    OK(npde_precond_setup(tight, &op.op, 7, 0, 0, &ti));
    factors tf = get_factors(tight);
    double *Th = reconstruct(&tf);
    double terr = fro_diff(p * p, A, Th) / fro(p * p, A);
    cr_log_info("exact low rank, eps 1e-10: ||A - Ahat||_F / ||A||_F = %.3e", terr);
    cr_assert_leq(terr, 1e-6, "eps 1e-10: ||A - Ahat||_F / ||A||_F = %.3e", terr);
    free(Th);
    free(tf.U);
    npde_precond_destroy(&tight);
  }

  double *w = malloc((size_t)p * sizeof *w);
  th_eigvals_desc(p, A, w);
  for (int64_t i = 0; i < r; ++i)
    cr_assert_leq(fabs(f.lambda[i] - w[i]), 1e-5 * w[i], "lambda %lld: nystrom %.12e, dsyevd %.12e", (long long)i,
                  f.lambda[i], w[i]);
  for (int64_t i = r; i < l; ++i) cr_assert_leq(f.lambda[i], 1e-5 * w[0], "lambda %lld = %.3e", (long long)i, f.lambda[i]);
  for (int64_t i = 1; i < l; ++i) cr_assert_leq(f.lambda[i], f.lambda[i - 1], "descending");
  cr_assert_eq(info.lambda_max, f.lambda[0]);
  cr_assert_eq(info.lambda_min, f.lambda[l - 1]);

  /* U has orthonormal columns */
  double *UtU = malloc((size_t)(l * l) * sizeof *UtU);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l, (int)l, (int)p, 1.0, f.U, (int)l, f.U, (int)l, 0.0, UtU,
              (int)l);
  /* U has orthonormal columns: to round-off on the captured range; the l - r
   * directions of the null space (sigma^2 ~ nu) are computed less accurately
   * (B^T B squares their condition) but carry Lambda ~ 0 */
  double orth_top = 0.0, orth_all = 0.0;
  for (int64_t i = 0; i < l; ++i)
    for (int64_t j = 0; j < l; ++j) {
      double e = fabs(UtU[i * l + j] - (i == j));
      orth_all = fmax(orth_all, e);
      if (i < r && j < r) orth_top = fmax(orth_top, e);
    }
  cr_log_info("exact low rank: |U^T U - I| %.3e on the captured range, %.3e overall", orth_top, orth_all);
  cr_assert_leq(orth_top, 1e-12, "U^T U - I on the captured range: %.3e", orth_top);
  cr_assert_leq(orth_all, 1e-6, "U^T U - I: %.3e", orth_all);
  npde_precond_destroy(&pc);
  cr_assert_null(pc);
  th_op_fini(&op);
  free(G), free(A), free(Ah), free(w), free(UtU), free(f.U);
}

Test(nystrom, test_nystrom_frangella_shift) {
  const int64_t p = 300, r = 20;
  th_rng rng = {32};
  double *G = malloc((size_t)(p * r) * sizeof *G), *A = malloc((size_t)(p * p) * sizeof *A);
  th_normal_fill(&rng, G, p * r);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p, (int)p, (int)r, 1.0, G, (int)r, G, (int)r, 0.0, A,
              (int)p);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_precond *pc = make_precond("{type: nystrom, rank: 40, shift_rule: frangella}");
  npde_precond_info info = new_info();
  OK(npde_precond_setup(pc, &op.op, 8, 0, 0, &info));
  factors f = get_factors(pc);
  double *Ah = reconstruct(&f);
  double err = fro_diff(p * p, A, Ah) / fro(p * p, A);
  cr_log_info("frangella: error %.3e, nu %.3e", err, f.nu);
  cr_assert_leq(f.nu, 1e-12 * info.lambda_max, "nu = %.3e", f.nu);
  cr_assert_leq(err, 1e-9, "||A - Ahat||_F / ||A||_F = %.3e", err);
  npde_precond_destroy(&pc);
  th_op_fini(&op);
  free(G), free(A), free(Ah), free(f.U);
}

Test(nystrom, test_nystrom_decaying_spectrum) {
  const int64_t p = 400, l = 40;
  double *lam = malloc((size_t)p * sizeof *lam);
  for (int64_t i = 0; i < p; ++i) lam[i] = pow(0.8, (double)i);
  double *A = spectrum_matrix(33, p, lam);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_precond *pc = make_precond("{type: nystrom, rank: 40}");
  npde_precond_info info = new_info();
  OK(npde_precond_setup(pc, &op.op, 9, 1, 0, &info));
  factors f = get_factors(pc);
  /* Ahat <= A (up to nu): Lambda_i <= lambda_i + 2 nu, sorted */
  for (int64_t i = 0; i < l; ++i)
    cr_assert_leq(f.lambda[i], lam[i] + 2.0 * f.nu, "Lambda_%lld = %.15e > lambda + 2 nu = %.15e", (long long)i,
                  f.lambda[i], lam[i] + 2.0 * f.nu);
  /* trace error bound (Tropp et al., factor 3 of margin) */
  double tr = 0.0, trh = 0.0;
  for (int64_t i = 0; i < p; ++i) tr += lam[i];
  for (int64_t i = 0; i < l; ++i) trh += f.lambda[i];
  double best = INFINITY;
  for (int64_t r = 0; r <= l - 2; ++r) {
    double tail = 0.0;
    for (int64_t j = r; j < p; ++j) tail += lam[j]; /* sum_{j > r}, 1-based */
    double b = (1.0 + (double)r / (double)(l - r - 1)) * tail;
    if (b < best) best = b;
  }
  cr_log_info("decaying: tr(A - Ahat) = %.3e, bound 3 x %.3e, top Lambda %.6f", tr - trh, best, f.lambda[0]);
  cr_assert_geq(tr - trh, -1e-12 * tr, "Ahat <= A: trace error %.3e", tr - trh);
  cr_assert_leq(tr - trh, 3.0 * best, "tr(A - Ahat) = %.3e > 3 x %.3e", tr - trh, best);
  /* the top estimates are good */
  cr_assert_leq(fabs(f.lambda[0] - 1.0), 1e-3);
  npde_precond_destroy(&pc);
  th_op_fini(&op);
  free(lam), free(A), free(f.U);
}

Test(nystrom, test_nystrom_precond_algebra) {
  const int64_t p = 300, l = 60;
  double *lam = malloc((size_t)p * sizeof *lam);
  for (int64_t i = 0; i < p; ++i) lam[i] = pow(0.95, (double)i);
  double *A = spectrum_matrix(34, p, lam);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_precond *pc = make_precond("{type: nystrom, rank: 60, mu: 1e-3}");
  npde_precond_info info = new_info();
  OK(npde_precond_setup(pc, &op.op, 10, 0, 0, &info));
  factors f = get_factors(pc);
  const double mu = info.shift, ll = info.lambda_min;
  cr_assert_float_eq(mu, 1e-3 * info.lambda_max, 1e-18);

  /* P and P^-1 from U, Lambda on the host (docs/methods/neural-ivp.md §4.3) */
  double *P = malloc((size_t)(p * p) * sizeof *P), *Pi = malloc((size_t)(p * p) * sizeof *Pi);
  double *UA = malloc((size_t)(p * l) * sizeof *UA), *UB = malloc((size_t)(p * l) * sizeof *UB);
  cr_assert(P && Pi && UA && UB);
  for (int64_t i = 0; i < p; ++i)
    for (int64_t k = 0; k < l; ++k) {
      UA[i * l + k] = f.U[i * l + k] * ((f.lambda[k] + mu) / (ll + mu) - 1.0);
      UB[i * l + k] = f.U[i * l + k] * ((ll + mu) / (f.lambda[k] + mu) - 1.0);
    }
  for (int64_t i = 0; i < p * p; ++i) P[i] = Pi[i] = 0.0;
  for (int64_t i = 0; i < p; ++i) P[i * p + i] = Pi[i * p + i] = 1.0;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p, (int)p, (int)l, 1.0, UA, (int)l, f.U, (int)l, 1.0, P,
              (int)p);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p, (int)p, (int)l, 1.0, UB, (int)l, f.U, (int)l, 1.0, Pi,
              (int)p);

  /* the plugin's P^-1 equals the host one, and P P^-1 = I */
  double *Pp = dense_pinv(pc, p), *PPi = malloc((size_t)(p * p) * sizeof *PPi);
  cr_assert(PPi);
  double dmax = 0.0;
  for (int64_t i = 0; i < p * p; ++i) dmax = fmax(dmax, fabs(Pp[i] - Pi[i]));
  cr_assert_leq(dmax, 1e-13, "plugin P^-1 vs host P^-1: %.3e", dmax);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p, (int)p, (int)p, 1.0, P, (int)p, Pp, (int)p, 0.0, PPi,
              (int)p);
  double emax = 0.0;
  for (int64_t i = 0; i < p; ++i)
    for (int64_t j = 0; j < p; ++j) emax = fmax(emax, fabs(PPi[i * p + j] - (i == j)));
  cr_log_info("P P^-1 - I: %.3e; plugin vs host P^-1: %.3e", emax, dmax);
  cr_assert_leq(emax, 1e-12, "max |P P^-1 - I| = %.3e", emax);

  /* P^-1 symmetric positive definite, eigenvalues in [(lambda_l + mu)/(lambda_1 + mu), 1] */
  double smax = 0.0;
  for (int64_t i = 0; i < p; ++i)
    for (int64_t j = 0; j < i; ++j) smax = fmax(smax, fabs(Pp[i * p + j] - Pp[j * p + i]));
  cr_assert_leq(smax, 1e-15, "P^-1 asymmetry %.3e", smax);
  double *w = malloc((size_t)p * sizeof *w);
  th_eigvals_desc(p, Pp, w);
  cr_assert_gt(w[p - 1], 0.0, "P^-1 not positive definite: min eigenvalue %.3e", w[p - 1]);
  cr_assert_geq(w[p - 1], (ll + mu) / (info.lambda_max + mu) * (1 - 1e-10));
  cr_assert_leq(w[0], 1.0 + 1e-12);

  /* V12: kappa(P^-1/2 (A + mu I) P^-1/2) <= (lambda_l + mu + ||A - Ahat||_2) / mu, with O(nu/mu) slack */
  double *V = malloc((size_t)(p * p) * sizeof *V), *ev = malloc((size_t)p * sizeof *ev);
  double *S = malloc((size_t)(p * p) * sizeof *S), *T = malloc((size_t)(p * p) * sizeof *T);
  cr_assert(V && ev && S && T);
  memcpy(V, Pp, (size_t)(p * p) * sizeof *V);
  cr_assert_eq(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)p, V, (lapack_int)p, ev), 0);
  for (int64_t i = 0; i < p; ++i)
    for (int64_t k = 0; k < p; ++k) T[i * p + k] = V[i * p + k] * sqrt(ev[k]);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p, (int)p, (int)p, 1.0, T, (int)p, V, (int)p, 0.0, S,
              (int)p); /* S = P^-1/2 */
  double *Am = malloc((size_t)(p * p) * sizeof *Am);
  memcpy(Am, A, (size_t)(p * p) * sizeof *Am);
  for (int64_t i = 0; i < p; ++i) Am[i * p + i] += mu;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p, (int)p, (int)p, 1.0, S, (int)p, Am, (int)p, 0.0, T,
              (int)p);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p, (int)p, (int)p, 1.0, T, (int)p, S, (int)p, 0.0, Am,
              (int)p);
  for (int64_t i = 0; i < p; ++i)
    for (int64_t j = 0; j < i; ++j) Am[i * p + j] = Am[j * p + i] = 0.5 * (Am[i * p + j] + Am[j * p + i]);
  th_eigvals_desc(p, Am, w);
  double kappa = w[0] / w[p - 1];
  double *Ah = reconstruct(&f), *E = malloc((size_t)(p * p) * sizeof *E);
  for (int64_t i = 0; i < p * p; ++i) E[i] = A[i] - Ah[i];
  th_eigvals_desc(p, E, ev);
  double e2 = fmax(fabs(ev[0]), fabs(ev[p - 1]));
  double bound = (ll + mu + e2) / mu;
  cr_log_info("kappa %.4e, bound %.4e (||E||_2 %.3e, nu/mu %.3e); kappa(A + mu I) = %.4e", kappa, bound, e2,
              f.nu / mu, (1.0 + mu) / (lam[p - 1] + mu));
  cr_assert_leq(kappa, bound * (1.0 + 1e-8) + 4.0 * f.nu / mu, "kappa %.6e > bound %.6e", kappa, bound);
  cr_assert_lt(kappa, (1.0 + mu) / (lam[p - 1] + mu) / 5.0, "the preconditioner should help");
  npde_precond_destroy(&pc);
  th_op_fini(&op);
  free(lam), free(A), free(f.U), free(P), free(Pi), free(UA), free(UB), free(Pp), free(PPi), free(w), free(V), free(ev),
      free(S), free(T), free(Am), free(Ah), free(E);
}

Test(nystrom, test_nystrom_mu_modes) {
  const int64_t p = 100;
  double *lam = malloc((size_t)p * sizeof *lam);
  for (int64_t i = 0; i < p; ++i) lam[i] = 3.0 * pow(0.7, (double)i);
  double *A = spectrum_matrix(35, p, lam);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_precond_info ia = new_info(), ir = new_info(), id = new_info();
  npde_precond *pa = make_precond("{type: nystrom, rank: 30, mu: 1e-3, mu_mode: absolute}");
  npde_precond *pr = make_precond("{type: nystrom, rank: 30, mu: 1e-3, mu_mode: relative}");
  npde_precond *pd = NULL;
  OK(npde_precond_create(env.reg, "nystrom", NULL, env.be, &pd)); /* defaults: relative, 1e-6, rank 200 */
  OK(npde_precond_setup(pa, &op.op, 1, 2, 3, &ia));
  OK(npde_precond_setup(pr, &op.op, 1, 2, 3, &ir));
  OK(npde_precond_setup(pd, &op.op, 1, 2, 3, &id));
  cr_assert_eq(ia.shift, 1e-3, "absolute: shift %.17g", ia.shift);
  cr_assert_eq(ir.shift, 1e-3 * ir.lambda_max, "relative: shift %.17g, lambda_max %.17g", ir.shift, ir.lambda_max);
  cr_assert_float_eq(ir.lambda_max, 3.0, 0.05, "lambda_max %.6f", ir.lambda_max);
  cr_assert_eq(ia.lambda_max, ir.lambda_max, "same sketch, same estimates");
  cr_assert_eq(ir.rank, 30);
  cr_assert_eq(ir.operator_products, 30);
  cr_assert_leq(ir.lambda_min, ir.lambda_max);
  cr_assert_geq(ir.lambda_min, 0.0);
  cr_assert_eq(id.rank, p, "rank 200 >= n uses n");
  cr_assert_eq(id.shift, 1e-6 * id.lambda_max);
  npde_precond_destroy(&pa);
  npde_precond_destroy(&pr);
  npde_precond_destroy(&pd);
  th_op_fini(&op);
  free(lam), free(A);
}

Test(nystrom, test_nystrom_rank_at_least_n) {
  const int64_t p = 60;
  double *lam = malloc((size_t)p * sizeof *lam);
  for (int64_t i = 0; i < p; ++i) lam[i] = 1.0 + (double)i;
  double *A = spectrum_matrix(36, p, lam);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_precond *pc = make_precond("{type: nystrom, rank: 200}");
  npde_precond_info info = new_info();
  OK(npde_precond_setup(pc, &op.op, 1, 0, 0, &info));
  cr_assert_eq(info.rank, p);
  cr_assert_eq(op.matmat_cols, p);
  factors f = get_factors(pc);
  double *Ah = reconstruct(&f);
  double err = fro_diff(p * p, A, Ah) / fro(p * p, A);
  cr_assert_leq(err, 1e-8, "full-rank sketch reproduces A: %.3e", err);
  for (int64_t i = 0; i < p; ++i) cr_assert_float_eq(f.lambda[i], lam[p - 1 - i], 1e-7 * lam[p - 1 - i]);
  npde_precond_destroy(&pc);
  th_op_fini(&op);
  free(lam), free(A), free(Ah), free(f.U);
}

Test(nystrom, test_nystrom_zero_operator) {
  const int64_t p = 50;
  double *A = calloc((size_t)(p * p), sizeof *A), *r = malloc((size_t)p * sizeof *r), *z = malloc((size_t)p * sizeof *z);
  th_rng rng = {37};
  th_normal_fill(&rng, r, p);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_precond *pc = make_precond("{type: nystrom, rank: 10, mu: 1e-4}");
  npde_precond_info info = new_info();
  OK(npde_precond_setup(pc, &op.op, 1, 0, 0, &info));
  cr_assert_eq(info.lambda_max, 0.0);
  cr_assert_eq(info.shift, 1e-4, "relative mu falls back to absolute when max Lambda = 0");
  void *dr = th_vec_new(env.be, r, p, NPDE_F64), *dz = th_vec_new(env.be, r, p, NPDE_F64);
  npde_mat vr = th_vec_view(dr, p, NPDE_F64), vz = th_vec_view(dz, p, NPDE_F64);
  OK(npde_precond_apply(pc, &vr, &vz));
  th_vec_get(env.be, dz, z, p, NPDE_F64);
  for (int64_t i = 0; i < p; ++i) cr_assert_eq(z[i], r[i], "P^-1 = I");
  npde_backend_free(env.be, dr);
  npde_backend_free(env.be, dz);
  npde_precond_destroy(&pc);
  th_op_fini(&op);
  free(A), free(r), free(z);
}

Test(nystrom, test_nystrom_seeded_reproducible) {
  const int64_t p = 120;
  double *lam = malloc((size_t)p * sizeof *lam);
  for (int64_t i = 0; i < p; ++i) lam[i] = pow(0.85, (double)i);
  double *A = spectrum_matrix(38, p, lam);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_precond *pc = make_precond("{type: nystrom, rank: 25}");
  npde_precond_info info = new_info();
  OK(npde_precond_setup(pc, &op.op, 42, 3, 100, &info));
  factors f1 = get_factors(pc);
  double l1[25];
  memcpy(l1, f1.lambda, sizeof l1);
  OK(npde_precond_setup(pc, &op.op, 42, 3, 100, &info)); /* same key: same bits */
  factors f2 = get_factors(pc);
  cr_assert_eq(memcmp(l1, f2.lambda, sizeof l1), 0);
  cr_assert_eq(memcmp(f1.U, f2.U, (size_t)(p * 25) * sizeof(double)), 0);
  OK(npde_precond_setup(pc, &op.op, 42, 3, 101, &info)); /* another counter: another sketch */
  factors f3 = get_factors(pc);
  cr_assert_neq(memcmp(l1, f3.lambda, sizeof l1), 0);
  OK(npde_precond_setup(pc, &op.op, 42, 4, 100, &info)); /* another stream */
  factors f4 = get_factors(pc);
  cr_assert_neq(memcmp(l1, f4.lambda, sizeof l1), 0);
  npde_precond_destroy(&pc);
  th_op_fini(&op);
  free(lam), free(A), free(f1.U), free(f2.U), free(f3.U), free(f4.U);
}

Test(nystrom, test_nystrom_resize_and_apply_checks) {
  npde_precond *pc = make_precond("{type: nystrom, rank: 20}");
  double r[100] = {0};
  void *dr = th_vec_new(env.be, r, 100, NPDE_F64), *dz = th_vec_new(env.be, r, 100, NPDE_F64);
  npde_mat vr = th_vec_view(dr, 100, NPDE_F64), vz = th_vec_view(dz, 100, NPDE_F64);
  npde_status s = npde_precond_apply(pc, &vr, &vz);
  cr_assert_eq(s, NPDE_ERR_INVALID_ARG, "apply before setup: %d", (int)s);
  cr_assert(strstr(npde_last_error(), "before"), "message: %s", npde_last_error());
  for (int64_t p = 100; p >= 40; p -= 60) {
    double *lam = malloc((size_t)p * sizeof *lam);
    for (int64_t i = 0; i < p; ++i) lam[i] = pow(0.8, (double)i);
    double *A = spectrum_matrix(39, p, lam);
    th_op op;
    th_op_init(&op, env.be, A, p, NPDE_F64);
    npde_precond_info info = new_info();
    OK(npde_precond_setup(pc, &op.op, 1, 0, 0, &info));
    cr_assert_float_eq(info.lambda_max, 1.0, 0.05, "lambda_max %.6f", info.lambda_max);
    npde_mat vr2 = th_vec_view(dr, p, NPDE_F64), vz2 = th_vec_view(dz, p, NPDE_F64);
    OK(npde_precond_apply(pc, &vr2, &vz2));
    th_op_fini(&op);
    free(lam), free(A);
  }
  s = npde_precond_apply(pc, &vr, &vz); /* n = 40 now, vectors of 100 */
  cr_assert_eq(s, NPDE_ERR_INVALID_ARG);
  npde_backend_free(env.be, dr);
  npde_backend_free(env.be, dz);
  npde_precond_destroy(&pc);
}

Test(nystrom, test_nystrom_cholesky_retry_and_indefinite) {
  const int64_t p = 80;
  double *lam = malloc((size_t)p * sizeof *lam);
  for (int64_t i = 0; i < p; ++i) lam[i] = i < p - 4 ? pow(0.8, (double)i) : -1e-10; /* numerically PSD */
  double *A = spectrum_matrix(40, p, lam);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_precond *pc = make_precond("{type: nystrom, rank: 80, shift_rule: frangella}");
  npde_precond_info info = new_info();
  OK(npde_precond_setup(pc, &op.op, 1, 0, 0, &info));
  factors f = get_factors(pc);
  cr_assert_geq(f.nu, 1e-10, "nu was raised past the negative eigenvalues: %.3e", f.nu);
  cr_assert_leq(f.nu, 1e-8);
  cr_assert_float_eq(info.lambda_max, 1.0, 1e-6);
  th_op_fini(&op);
  free(A), free(f.U);

  for (int64_t i = 0; i < p; ++i) lam[i] = i % 2 ? 1.0 : -1.0; /* indefinite */
  A = spectrum_matrix(41, p, lam);
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_status s = npde_precond_setup(pc, &op.op, 1, 0, 0, &info);
  cr_assert_eq(s, NPDE_ERR_NUMERIC, "got %d (%s)", (int)s, npde_last_error());
  cr_assert(strstr(npde_last_error(), "not positive semidefinite"), "message: %s", npde_last_error());
  /* a failed setup leaves no usable preconditioner */
  double r[80] = {0};
  void *dr = th_vec_new(env.be, r, p, NPDE_F64), *dz = th_vec_new(env.be, r, p, NPDE_F64);
  npde_mat vr = th_vec_view(dr, p, NPDE_F64), vz = th_vec_view(dz, p, NPDE_F64);
  cr_assert_eq(npde_precond_apply(pc, &vr, &vz), NPDE_ERR_INVALID_ARG);
  npde_backend_free(env.be, dr);
  npde_backend_free(env.be, dz);
  npde_precond_destroy(&pc);
  th_op_fini(&op);
  free(lam), free(A);
}

Test(nystrom, test_nystrom_f32_not_implemented) {
  const int64_t p = 30;
  double *A = calloc((size_t)(p * p), sizeof *A);
  for (int64_t i = 0; i < p; ++i) A[i * p + i] = 1.0;
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F32);
  npde_precond *pc = make_precond("{type: nystrom, rank: 10}");
  npde_precond_info info = new_info();
  npde_status s = npde_precond_setup(pc, &op.op, 1, 0, 0, &info);
  cr_assert_eq(s, NPDE_ERR_NOT_IMPLEMENTED);
  cr_assert(strstr(npde_last_error(), "f64"), "message: %s", npde_last_error());
  npde_precond_destroy(&pc);
  th_op_fini(&op);
  free(A);
}

Test(nystrom, test_nystrom_yaml_config) {
  static const char *const bad[] = {"{type: nystrom, rank: 0}", "{type: nystrom, mu: -1}",
                                    "{type: nystrom, mu_mode: scaled}", "{type: nystrom, shift_rule: tropp}",
                                    "{type: nystrom, eps: -1e-8}", "{type: nystrom, ranks: 10}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    npde_config *cfg = NULL;
    npde_precond *pc = NULL;
    OK(npde_config_load_string(bad[i], "<test>", &cfg));
    npde_status s = npde_precond_create(env.reg, NULL, cfg, env.be, &pc);
    cr_assert_eq(s, NPDE_ERR_CONFIG, "%s: got %d (%s)", bad[i], (int)s, npde_last_error());
    cr_assert_null(pc);
    if (strstr(bad[i], "ranks"))
      cr_assert(strstr(npde_last_error(), "rank, mu, mu_mode, eps, shift_rule"), "message: %s", npde_last_error());
    npde_config_destroy(&cfg);
  }
}

/* Plain CG vs Nystrom-PCG on lambda_i = 10^(-6 i / p) with mu relative. */
/* Plain CG and PCG (cg, tol 1e-8) on (A + shift I) x = b from x = 0; the true relative residuals, and a check that
 * the preconditioner saves at least 5x the iterations. */
static void pcg_against_plain(const npde_linop *op, const double *A, int64_t p, double shift, npde_precond *pc,
                              const double *b, const char *what) {
  double *x = calloc((size_t)p, sizeof *x);
  npde_linsolver *ls = make_solver("{type: cg, tol: 1e-8, max_iters: 20000}");
  void *db = th_vec_new(env.be, b, p, NPDE_F64), *dx = th_vec_new(env.be, x, p, NPDE_F64);
  npde_mat vb = th_vec_view(db, p, NPDE_F64), vx = th_vec_view(dx, p, NPDE_F64);
  npde_solve_stats plain = {.struct_size = sizeof plain}, pre = {.struct_size = sizeof pre};
  OK(npde_linsolver_solve(ls, op, shift, NULL, &vb, &vx, &plain));
  th_vec_get(env.be, dx, x, p, NPDE_F64);
  const double bn = th_norm(p, b), r_plain = th_residual(p, A, shift, x, b) / bn;
  OK(npde_backend_fill(env.be, &vx, 0.0));
  OK(npde_linsolver_solve(ls, op, shift, pc, &vb, &vx, &pre));
  th_vec_get(env.be, dx, x, p, NPDE_F64);
  const double r_pre = th_residual(p, A, shift, x, b) / bn;
  cr_log_info("%s: plain CG %lld iterations (true rel. residual %.2e), Nystrom-PCG %lld (%.2e)", what,
              (long long)plain.iterations, r_plain, (long long)pre.iterations, r_pre);
  cr_assert_leq(r_plain, 1e-7);
  cr_assert_leq(r_pre, 1e-7);
  cr_assert_geq(plain.iterations, 5 * pre.iterations, "plain %lld vs preconditioned %lld iterations",
                (long long)plain.iterations, (long long)pre.iterations);
  npde_backend_free(env.be, db);
  npde_backend_free(env.be, dx);
  npde_linsolver_destroy(&ls);
  free(x);
}

Test(nystrom, test_nystrom_pcg_fewer_iterations) {
  const int64_t p = 500;
  double *lam = malloc((size_t)p * sizeof *lam);
  for (int64_t i = 0; i < p; ++i) lam[i] = pow(10.0, -6.0 * (double)i / (double)p);
  double *A = spectrum_matrix(42, p, lam), *b = malloc((size_t)p * sizeof *b);
  th_rng rng = {43};
  th_normal_fill(&rng, b, p);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_precond *pc = make_precond("{type: nystrom, rank: 250, mu: 1e-8}");
  npde_precond_info info = new_info();
  OK(npde_precond_setup(pc, &op.op, 5, 0, 0, &info));
  char what[64];
  snprintf(what, sizeof what, "p %lld, rank %lld, mu_a %.3e", (long long)p, (long long)info.rank, info.shift);
  pcg_against_plain(&op.op, A, p, info.shift, pc, b, what);
  npde_precond_destroy(&pc);
  th_op_fini(&op);
  free(lam), free(A), free(b);
}

/* A block-diagonal operator that says so (npde_linop.n_blocks): the whole
 * matrix, and each diagonal block alone, counting the block products. */
typedef struct block_op {
  th_op whole; /* first: the linop's ctx serves matvec (a th_op) and block_matmat */
  th_op part[2];
  int64_t start[3], block_calls, block_cols;
} block_op;

static npde_status block_mm(void *ctx, int64_t k, const npde_mat *X, npde_mat *Y) {
  block_op *b = ctx;
  b->block_calls++;
  b->block_cols += X->cols;
  return npde_linop_apply_block(&b->part[k].op, X, Y);
}

/* diag(A1, A2) with A_k of spectrum lambda_i = 10^(-decades i / n_k); A1, A2 (n_k^2) and A (n^2) are the caller's. */
static void block_op_init(block_op *b, int64_t n1, int64_t n2, double decades, double **A1, double **A2, double **A) {
  memset(b, 0, sizeof *b);
  const int64_t n = n1 + n2, nk[2] = {n1, n2};
  double **Ak[2] = {A1, A2};
  *A = calloc((size_t)(n * n), sizeof **A);
  cr_assert(*A);
  for (int k = 0; k < 2; ++k) {
    double *lam = malloc((size_t)nk[k] * sizeof *lam);
    for (int64_t i = 0; i < nk[k]; ++i) lam[i] = pow(10.0, -decades * (double)i / (double)nk[k]) * (k ? 0.5 : 1.0);
    *Ak[k] = spectrum_matrix(60 + (uint64_t)k, nk[k], lam);
    free(lam);
    const int64_t r0 = k ? n1 : 0;
    for (int64_t i = 0; i < nk[k]; ++i)
      memcpy(*A + (r0 + i) * n + r0, *Ak[k] + i * nk[k], (size_t)nk[k] * sizeof **A);
    th_op_init(&b->part[k], env.be, *Ak[k], nk[k], NPDE_F64);
  }
  th_op_init(&b->whole, env.be, *A, n, NPDE_F64);
  b->start[1] = n1;
  b->start[2] = n;
  b->whole.op.n_blocks = 2;
  b->whole.op.block_start = b->start;
  b->whole.op.block_matmat = block_mm;
}

static void block_op_fini(block_op *b) {
  th_op_fini(&b->whole);
  th_op_fini(&b->part[0]);
  th_op_fini(&b->part[1]);
}

/* A block-diagonal operator and a nystrom preconditioner set up on it. */
static npde_precond *block_setup(block_op *b, int64_t n1, int64_t n2, double decades, const char *yaml, uint64_t seed,
                                 npde_precond_info *info, double **A1, double **A2, double **A) {
  block_op_init(b, n1, n2, decades, A1, A2, A);
  npde_precond *pc = make_precond(yaml);
  *info = new_info();
  OK(npde_precond_setup(pc, &b->whole.op, seed, 0, 0, info));
  return pc;
}

Test(nystrom, test_nystrom_block_diagonal_exact_at_full_rank) {
  const int64_t n1 = 40, n2 = 60, n = n1 + n2;
  double *A1, *A2, *A;
  block_op b;
  npde_precond_info info;
  npde_precond *pc = block_setup(&b, n1, n2, 3.0, "{type: nystrom, rank: 100, mu: 1e-6}", 9, &info, &A1, &A2, &A);
  /* each block sketched alone, with its own columns: n_k of them at rank n */
  cr_assert_eq(b.whole.matmats + b.whole.matvecs, 0, "the whole operator was applied");
  cr_assert_eq(b.block_calls, 2);
  cr_assert_eq(b.block_cols, n);
  cr_assert_eq(info.rank, n);
  /* at full rank the approximation is exact: P^-1 (A + mu_a I) = (lambda_l + mu_a) I */
  double *Pinv = dense_pinv(pc, n), *PA = malloc((size_t)(n * n) * sizeof *PA), *Ash = malloc((size_t)(n * n) * sizeof *Ash);
  cr_assert(PA && Ash);
  memcpy(Ash, A, (size_t)(n * n) * sizeof *A);
  for (int64_t i = 0; i < n; ++i) Ash[i * n + i] += info.shift;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, Pinv, (int)n, Ash, (int)n, 0.0,
              PA, (int)n);
  const double c = info.lambda_min + info.shift;
  double worst = 0.0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) worst = fmax(worst, fabs(PA[i * n + j] / c - (i == j)));
  cr_log_info("block diagonal, full rank: max |P^-1 (A + mu_a I) / (lambda_l + mu_a) - I| = %.3e (lambda [%.3e, %.3e])",
              worst, info.lambda_min, info.lambda_max);
  cr_assert_leq(worst, 1e-4, "P^-1 (A + mu_a I) is not (lambda_l + mu_a) I: %.3e", worst);
  cr_assert_float_eq(info.lambda_max, 1.0, 1e-6);
  cr_assert_float_eq(info.lambda_min, 0.5 * pow(10.0, -3.0 * (double)(n2 - 1) / (double)n2), 1e-6);
  /* the factors extension describes one dense U; a block setup says why it has none */
  npde_nystrom_factors_fn fn = (npde_nystrom_factors_fn)th_get_proc(pc, NPDE_NYSTROM_FACTORS_PROC);
  npde_nystrom_factors f;
  cr_assert_eq(fn(pc, &f), NPDE_ERR_NOT_IMPLEMENTED);
  npde_precond_destroy(&pc);
  block_op_fini(&b);
  free(A1), free(A2), free(A), free(Pinv), free(PA), free(Ash);
}

Test(nystrom, test_nystrom_block_diagonal_pcg_solves_the_system) {
  const int64_t n1 = 200, n2 = 300, n = n1 + n2;
  double *A1, *A2, *A;
  block_op b;
  npde_precond_info info; /* rank 250 split by size: 100 and 150 columns */
  npde_precond *pc = block_setup(&b, n1, n2, 6.0, "{type: nystrom, rank: 250, mu: 1e-8}", 5, &info, &A1, &A2, &A);
  cr_assert_eq(b.block_cols, 250);
  cr_assert_eq(info.rank, 250);
  double *rhs = malloc((size_t)n * sizeof *rhs);
  th_rng rng = {44};
  th_normal_fill(&rng, rhs, n);
  pcg_against_plain(&b.whole.op, A, n, info.shift, pc, rhs, "block diagonal, rank 100 + 150");
  npde_precond_destroy(&pc);
  block_op_fini(&b);
  free(A1), free(A2), free(A), free(rhs);
}
