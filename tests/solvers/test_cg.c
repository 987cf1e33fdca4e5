/* linsolver cg: known solutions, ill conditioning, zero rhs, the iteration
 * cap, warm start, breakdown and NaN, YAML parameters (docs/methods/neural-ivp.md §4.4, V13). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <criterion/criterion.h>

#include "helpers.h"

static th_env env;
static void setup(void) { th_env_init(&env); }
static void teardown(void) { th_env_fini(&env); }
TestSuite(cg, .init = setup, .fini = teardown);

static npde_linsolver *make_solver(const char *yaml) { return th_linsolver(&env, yaml); }

/* An SPD (or any symmetric) matrix with the given spectrum. */
static double *matrix(uint64_t seed, int64_t n, const double *lambda) {
  th_rng r = {seed};
  double *A = malloc((size_t)(n * n) * sizeof *A);
  cr_assert(A);
  th_from_spectrum(&r, n, lambda, A);
  return A;
}

static double *logspace_spectrum(int64_t n, double decades) {
  double *l = malloc((size_t)n * sizeof *l);
  cr_assert(l);
  for (int64_t i = 0; i < n; ++i) l[i] = pow(10.0, -decades * (double)i / (double)n);
  return l;
}

/* b = A xs for a random xs (returned through xs). */
static double *rhs_for(uint64_t seed, int64_t n, const double *A, double shift, double *xs) {
  th_rng r = {seed};
  th_normal_fill(&r, xs, n);
  double *b = malloc((size_t)n * sizeof *b);
  cr_assert(b);
  cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, A, (int)n, xs, 1, 0.0, b, 1);
  cblas_daxpy((int)n, shift, xs, 1, b, 1);
  return b;
}

/* Upload b and x, solve, download x. */
static npde_status solve(npde_linsolver *ls, th_op *op, double shift, npde_precond *P, const double *b, double *x,
                         npde_solve_stats *st) {
  void *db = th_vec_new(env.be, b, op->n, op->dtype), *dx = th_vec_new(env.be, x, op->n, op->dtype);
  npde_mat vb = th_vec_view(db, op->n, op->dtype), vx = th_vec_view(dx, op->n, op->dtype);
  npde_status s = npde_linsolver_solve(ls, &op->op, shift, P, &vb, &vx, st);
  th_vec_get(env.be, dx, x, op->n, op->dtype);
  npde_backend_free(env.be, db);
  npde_backend_free(env.be, dx);
  return s;
}

#define HCAP 10000
static double hist[HCAP];
static npde_solve_stats stats(void) {
  return (npde_solve_stats){.struct_size = sizeof(npde_solve_stats), .history = hist, .history_cap = HCAP};
}

Test(cg, test_cg_spd_known_solution) {
  const int64_t n = 200;
  double *lam = logspace_spectrum(n, 3.0), *A = matrix(1, n, lam), *xs = malloc(n * sizeof(double));
  double *b = rhs_for(2, n, A, 0.0, xs), *x = calloc(n, sizeof(double));
  th_op op;
  th_op_init(&op, env.be, A, n, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: cg, tol: 1e-10}");
  npde_solve_stats st = stats();
  OK(solve(ls, &op, 0.0, NULL, b, x, &st));
  double bn = th_norm(n, b), tr = th_residual(n, A, 0.0, x, b);
  cr_assert_leq(tr, 10 * 1e-10 * bn, "true relative residual %.3e > 10 tol", tr / bn);
  cr_assert_leq(th_rel_diff(n, x, xs), 1e-6, "||x - x*|| / ||x*|| = %.3e", th_rel_diff(n, x, xs));
  cr_assert_gt(st.iterations, 10);
  cr_assert_eq(st.history_len, st.iterations);
  cr_assert_eq(op.matvecs, st.iterations + 1, "one product per iteration plus the warm-start residual");
  cr_assert_leq(hist[st.history_len - 1], 1e-10);
  cr_assert_gt(hist[st.history_len - 2], 1e-10);
  cr_assert_float_eq(st.rhs_norm, bn, 1e-12 * bn);
  cr_assert_float_eq(st.residual_norm / st.rhs_norm, hist[st.history_len - 1], 1e-12 * hist[st.history_len - 1]);
  npde_linsolver_destroy(&ls);
  cr_assert_null(ls);
  th_op_fini(&op);
  free(lam), free(A), free(xs), free(b), free(x);
}

Test(cg, test_cg_shift) {
  const int64_t n = 150;
  const double shift = 0.25;
  double *lam = logspace_spectrum(n, 4.0), *A = matrix(3, n, lam), *xs = malloc(n * sizeof(double));
  double *b = rhs_for(4, n, A, shift, xs), *x = calloc(n, sizeof(double));
  th_op op;
  th_op_init(&op, env.be, A, n, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: cg, tol: 1e-11}");
  npde_solve_stats st = stats();
  OK(solve(ls, &op, shift, NULL, b, x, &st));
  double bn = th_norm(n, b);
  cr_assert_leq(th_residual(n, A, shift, x, b), 1e-10 * bn);
  cr_assert_leq(th_rel_diff(n, x, xs), 1e-9);
  cr_assert_lt(st.iterations, 60, "well conditioned with the shift: %lld iterations", (long long)st.iterations);
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(lam), free(A), free(xs), free(b), free(x);
}

Test(cg, test_cg_ill_conditioned) {
  const int64_t n = 300;
  double *lam = logspace_spectrum(n, 6.0), *A = matrix(5, n, lam), *xs = malloc(n * sizeof(double));
  double *b = rhs_for(6, n, A, 0.0, xs), *x = calloc(n, sizeof(double));
  th_op op;
  th_op_init(&op, env.be, A, n, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: cg, tol: 1e-8, max_iters: 20000}");
  npde_solve_stats st = stats();
  OK(solve(ls, &op, 0.0, NULL, b, x, &st));
  double bn = th_norm(n, b), tr = th_residual(n, A, 0.0, x, b);
  cr_assert_leq(tr, 10 * 1e-8 * bn, "true relative residual %.3e (recursive %.3e) after %lld iterations", tr / bn,
                st.residual_norm / bn, (long long)st.iterations);
  cr_assert_gt(st.iterations, 50);
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(lam), free(A), free(xs), free(b), free(x);
}

Test(cg, test_cg_zero_rhs) {
  const int64_t n = 50;
  double *lam = logspace_spectrum(n, 2.0), *A = matrix(7, n, lam), *b = calloc(n, sizeof(double));
  double *x = malloc(n * sizeof(double));
  for (int64_t i = 0; i < n; ++i) x[i] = 3.0 + (double)i; /* a warm start that must be discarded */
  th_op op;
  th_op_init(&op, env.be, A, n, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: cg}");
  npde_solve_stats st = stats();
  OK(solve(ls, &op, 0.0, NULL, b, x, &st));
  for (int64_t i = 0; i < n; ++i) cr_assert_eq(x[i], 0.0);
  cr_assert_eq(st.iterations, 0);
  cr_assert_eq(st.history_len, 0);
  cr_assert_eq(st.rhs_norm, 0.0);
  cr_assert_eq(st.residual_norm, 0.0);
  cr_assert_eq(op.matvecs, 0);
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(lam), free(A), free(b), free(x);
}

Test(cg, test_cg_max_iters_not_converged) {
  const int64_t n = 200;
  double *lam = logspace_spectrum(n, 6.0), *A = matrix(8, n, lam), *xs = malloc(n * sizeof(double));
  double *b = rhs_for(9, n, A, 0.0, xs), *x = calloc(n, sizeof(double));
  th_op op;
  th_op_init(&op, env.be, A, n, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: cg, tol: 1e-12, max_iters: 7}");
  npde_solve_stats st = stats();
  npde_status s = solve(ls, &op, 0.0, NULL, b, x, &st);
  cr_assert_eq(s, NPDE_NOT_CONVERGED, "got %d (%s)", (int)s, npde_last_error());
  cr_assert_gt(s, 0, "recoverable");
  cr_assert(strstr(npde_last_error(), "not converged"), "message: %s", npde_last_error());
  cr_assert_eq(st.iterations, 7);
  cr_assert_eq(st.history_len, 7);
  for (int64_t k = 0; k < 7; ++k) cr_assert_gt(hist[k], 1e-12);
  /* x is the last iterate: its true residual is the one reported */
  double bn = th_norm(n, b), tr = th_residual(n, A, 0.0, x, b);
  cr_assert_float_eq(tr / bn, st.residual_norm / bn, 1e-8, "true %.6e vs reported %.6e", tr / bn,
                     st.residual_norm / bn);
  cr_assert_float_eq(st.residual_norm / st.rhs_norm, hist[6], 1e-12 * hist[6]);
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(lam), free(A), free(xs), free(b), free(x);
}

Test(cg, test_cg_history_cap_smaller_than_iterations) {
  const int64_t n = 100;
  double *lam = logspace_spectrum(n, 3.0), *A = matrix(10, n, lam), *xs = malloc(n * sizeof(double));
  double *b = rhs_for(11, n, A, 0.0, xs), *x = calloc(n, sizeof(double));
  th_op op;
  th_op_init(&op, env.be, A, n, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: cg, tol: 1e-10}");
  double small[4] = {-1, -1, -1, -7};
  npde_solve_stats st = {.struct_size = sizeof st, .history = small, .history_cap = 3};
  OK(solve(ls, &op, 0.0, NULL, b, x, &st));
  cr_assert_gt(st.iterations, 3);
  cr_assert_eq(st.history_len, 3);
  cr_assert_eq(small[3], -7.0, "history written past its cap");
  cr_assert(small[0] > small[2] && small[2] > 0);
  /* and with no history at all */
  npde_solve_stats none = {.struct_size = sizeof none};
  memset(x, 0, n * sizeof(double));
  OK(solve(ls, &op, 0.0, NULL, b, x, &none));
  cr_assert_eq(none.history_len, 0);
  cr_assert_eq(none.iterations, st.iterations);
  OK(solve(ls, &op, 0.0, NULL, b, x, NULL)); /* stats are optional */
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(lam), free(A), free(xs), free(b), free(x);
}

Test(cg, test_cg_warm_start_from_solution) {
  const int64_t n = 200;
  double *lam = logspace_spectrum(n, 4.0), *A = matrix(12, n, lam), *xs = malloc(n * sizeof(double));
  double *b = rhs_for(13, n, A, 0.0, xs), *x = malloc(n * sizeof(double));
  th_op op;
  th_op_init(&op, env.be, A, n, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: cg, tol: 1e-10}");
  npde_solve_stats st = stats();
  memcpy(x, xs, n * sizeof(double));
  OK(solve(ls, &op, 0.0, NULL, b, x, &st));
  cr_assert_leq(st.iterations, 1, "warm start from x*: %lld iterations", (long long)st.iterations);
  cr_assert_leq(th_rel_diff(n, x, xs), 1e-10);
  npde_linsolver_destroy(&ls);

  /* warm_start: false ignores the guess */
  ls = make_solver("{type: cg, tol: 1e-10, warm_start: false}");
  memcpy(x, xs, n * sizeof(double));
  OK(solve(ls, &op, 0.0, NULL, b, x, &st));
  cr_assert_gt(st.iterations, 20);
  cr_assert_leq(th_residual(n, A, 0.0, x, b), 1e-9 * th_norm(n, b));
  npde_linsolver_destroy(&ls);

  /* a nearby guess converges faster than zero */
  ls = make_solver("{type: cg, tol: 1e-10}");
  th_rng r = {99};
  for (int64_t i = 0; i < n; ++i) x[i] = xs[i] * (1.0 + 1e-6 * th_normal(&r));
  npde_solve_stats near = stats();
  OK(solve(ls, &op, 0.0, NULL, b, x, &near));
  cr_assert_lt(near.iterations, st.iterations, "near %lld vs cold %lld", (long long)near.iterations,
               (long long)st.iterations);
  cr_assert_leq(th_residual(n, A, 0.0, x, b), 1e-9 * th_norm(n, b));
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(lam), free(A), free(xs), free(b), free(x);
}

Test(cg, test_cg_indefinite_breakdown) {
  const int64_t n = 80;
  double *lam = malloc(n * sizeof(double));
  for (int64_t i = 0; i < n; ++i) lam[i] = i < 4 ? 1.0 : -1.0 - (double)i / (double)n; /* mostly negative */
  double *A = matrix(14, n, lam), *xs = malloc(n * sizeof(double));
  double *b = rhs_for(15, n, A, 0.0, xs), *x = calloc(n, sizeof(double));
  th_op op;
  th_op_init(&op, env.be, A, n, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: cg}");
  npde_solve_stats st = stats();
  npde_status s = solve(ls, &op, 0.0, NULL, b, x, &st);
  cr_assert_eq(s, NPDE_ERR_NUMERIC, "got %d (%s)", (int)s, npde_last_error());
  cr_assert(strstr(npde_last_error(), "not positive definite"), "message: %s", npde_last_error());
  cr_assert(strstr(npde_last_error(), "breakdown"), "message: %s", npde_last_error());
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(lam), free(A), free(xs), free(b), free(x);
}

Test(cg, test_cg_nan_rhs_and_operator) {
  const int64_t n = 40;
  double *lam = logspace_spectrum(n, 2.0), *A = matrix(16, n, lam), *xs = malloc(n * sizeof(double));
  double *b = rhs_for(17, n, A, 0.0, xs), *x = calloc(n, sizeof(double));
  th_op op;
  th_op_init(&op, env.be, A, n, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: cg}");
  npde_solve_stats st = stats();
  b[5] = NAN;
  npde_status s = solve(ls, &op, 0.0, NULL, b, x, &st);
  cr_assert_eq(s, NPDE_ERR_NUMERIC, "NaN in b: got %d (%s)", (int)s, npde_last_error());
  cr_assert(strstr(npde_last_error(), "NaN"), "message: %s", npde_last_error());
  th_op_fini(&op);

  b[5] = 1.0;
  A[3 * n + 7] = NAN;
  th_op_init(&op, env.be, A, n, NPDE_F64);
  memset(x, 0, n * sizeof(double));
  s = solve(ls, &op, 0.0, NULL, b, x, &st);
  cr_assert_eq(s, NPDE_ERR_NUMERIC, "NaN in A: got %d (%s)", (int)s, npde_last_error());
  cr_assert(strstr(npde_last_error(), "NaN"), "message: %s", npde_last_error());
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(lam), free(A), free(xs), free(b), free(x);
}

Test(cg, test_cg_check_true_residual) {
  const int64_t n = 200;
  double *lam = logspace_spectrum(n, 5.0), *A = matrix(18, n, lam), *xs = malloc(n * sizeof(double));
  double *b = rhs_for(19, n, A, 0.0, xs), *x = calloc(n, sizeof(double));
  th_op op;
  th_op_init(&op, env.be, A, n, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: cg, tol: 1e-6, check_true_residual: true}");
  npde_solve_stats st = stats();
  OK(solve(ls, &op, 1e-3, NULL, b, x, &st));
  double tr = th_residual(n, A, 1e-3, x, b);
  cr_assert_float_eq(st.residual_norm, tr, 1e-9 * th_norm(n, b), "reported %.6e, host %.6e", st.residual_norm, tr);
  cr_assert_eq(op.matvecs, st.iterations + 2, "warm-start residual, iterations, and the final check");
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(lam), free(A), free(xs), free(b), free(x);
}

Test(cg, test_cg_row_vectors_and_strided) {
  const int64_t n = 60;
  double *lam = logspace_spectrum(n, 2.0), *A = matrix(20, n, lam), *xs = malloc(n * sizeof(double));
  double *b = rhs_for(21, n, A, 0.0, xs), *x = calloc(n, sizeof(double));
  th_op op;
  th_op_init(&op, env.be, A, n, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: cg, tol: 1e-12}");
  /* b as a 1 x n row view, x as every other element of a 2n buffer */
  double *x2 = calloc(2 * n, sizeof(double));
  void *db = th_vec_new(env.be, b, n, NPDE_F64), *dx = th_vec_new(env.be, x2, 2 * n, NPDE_F64);
  npde_mat vb = npde_mat_view(db, NPDE_F64, 1, n);
  npde_mat vx = {.data = dx, .rows = n, .cols = 1, .ld = 2, .dtype = NPDE_F64};
  OK(npde_linsolver_solve(ls, &op.op, 0.0, NULL, &vb, &vx, NULL));
  th_vec_get(env.be, dx, x2, 2 * n, NPDE_F64);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = x2[2 * i];
    cr_assert_eq(x2[2 * i + 1], 0.0, "gap element %lld written", (long long)i);
  }
  cr_assert_leq(th_rel_diff(n, x, xs), 1e-9);
  npde_backend_free(env.be, db);
  npde_backend_free(env.be, dx);
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(lam), free(A), free(xs), free(b), free(x), free(x2);
}

Test(cg, test_cg_f32) {
  const int64_t n = 100;
  double *lam = logspace_spectrum(n, 2.0), *A = matrix(22, n, lam), *xs = malloc(n * sizeof(double));
  double *b = rhs_for(23, n, A, 0.0, xs), *x = calloc(n, sizeof(double));
  th_op op;
  th_op_init(&op, env.be, A, n, NPDE_F32);
  npde_linsolver *ls = make_solver("{type: cg, tol: 1e-5}");
  npde_solve_stats st = stats();
  OK(solve(ls, &op, 0.0, NULL, b, x, &st));
  cr_assert_leq(th_residual(n, A, 0.0, x, b), 1e-4 * th_norm(n, b));
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(lam), free(A), free(xs), free(b), free(x);
}

Test(cg, test_cg_yaml_config) {
  npde_config *cfg = NULL;
  npde_linsolver *ls = NULL;
  OK(npde_config_load_string("{type: cg, tol: 1e-10}", "<test>", &cfg));
  OK(npde_linsolver_create(env.reg, NULL, cfg, env.be, &ls));
  cr_assert_not_null(ls);
  npde_linsolver_destroy(&ls);
  npde_config_destroy(&cfg);

  /* defaults with no node at all */
  OK(npde_linsolver_create(env.reg, "cg", NULL, env.be, &ls));
  npde_linsolver_destroy(&ls);

  OK(npde_config_load_string("{type: cg, tolerance: 1e-10}", "<test>", &cfg));
  npde_status s = npde_linsolver_create(env.reg, NULL, cfg, env.be, &ls);
  cr_assert_eq(s, NPDE_ERR_CONFIG, "got %d", (int)s);
  cr_assert_null(ls);
  const char *msg = npde_last_error();
  cr_assert(strstr(msg, "unknown key 'tolerance'"), "message: %s", msg);
  cr_assert(strstr(msg, "tol, max_iters, warm_start, check_true_residual"), "message: %s", msg);
  npde_config_destroy(&cfg);

  static const char *const bad[] = {"{type: cg, tol: 0}", "{type: cg, tol: -1}", "{type: cg, max_iters: 0}",
                                    "{type: cg, warm_start: maybe}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    OK(npde_config_load_string(bad[i], "<test>", &cfg));
    s = npde_linsolver_create(env.reg, NULL, cfg, env.be, &ls);
    cr_assert_eq(s, NPDE_ERR_CONFIG, "%s: got %d (%s)", bad[i], (int)s, npde_last_error());
    npde_config_destroy(&cfg);
  }
}
