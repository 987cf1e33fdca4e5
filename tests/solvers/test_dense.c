/* linsolver dense: the explicit-matrix Cholesky baseline; agreement with CG
 * (V14), refusal above its size limits, non-SPD and f32 handling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "helpers.h"

static th_env env;
static void setup(void) { th_env_init(&env); }
static void teardown(void) { th_env_fini(&env); }
TestSuite(dense, .init = setup, .fini = teardown);

static npde_linsolver *make_solver(const char *yaml) { return th_linsolver(&env, yaml); }

static double *spectrum_matrix(uint64_t seed, int64_t n, const double *lambda) {
  th_rng r = {seed};
  double *A = malloc((size_t)(n * n) * sizeof *A);
  cr_assert(A);
  th_from_spectrum(&r, n, lambda, A);
  return A;
}

static npde_status solve(npde_linsolver *ls, th_op *op, double shift, const double *b, double *x,
                         npde_solve_stats *st) {
  void *db = th_vec_new(env.be, b, op->n, op->dtype), *dx = th_vec_new(env.be, x, op->n, op->dtype);
  npde_mat vb = th_vec_view(db, op->n, op->dtype), vx = th_vec_view(dx, op->n, op->dtype);
  npde_status s = npde_linsolver_solve(ls, &op->op, shift, NULL, &vb, &vx, st);
  th_vec_get(env.be, dx, x, op->n, op->dtype);
  npde_backend_free(env.be, db);
  npde_backend_free(env.be, dx);
  return s;
}

Test(dense, test_dense_equals_cg) {
  const int64_t p = 300;
  const double shift = 1e-5;
  double *lam = malloc((size_t)p * sizeof *lam);
  for (int64_t i = 0; i < p; ++i) lam[i] = pow(10.0, -4.0 * (double)i / (double)p);
  double *A = spectrum_matrix(51, p, lam), *b = malloc((size_t)p * sizeof *b);
  double *xd = calloc((size_t)p, sizeof *xd), *xc = calloc((size_t)p, sizeof *xc), *x2 = calloc((size_t)p, sizeof *x2);
  th_rng rng = {52};
  th_normal_fill(&rng, b, p);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);

  npde_linsolver *dense = make_solver("{type: dense}"), *cg = make_solver("{type: cg, tol: 1e-10, max_iters: 5000}");
  npde_solve_stats sd = {.struct_size = sizeof sd}, sc = {.struct_size = sizeof sc};
  OK(solve(dense, &op, shift, b, xd, &sd));
  cr_assert_eq(op.matmats, 2, "300 columns in chunks of 256");
  cr_assert_eq(op.matmat_cols, p);
  cr_assert_eq(op.matvecs, 1, "one more product for the true residual");
  OK(solve(cg, &op, shift, b, xc, &sc));
  double diff = th_rel_diff(p, xc, xd), bn = th_norm(p, b), rd = th_residual(p, A, shift, xd, b);
  cr_log_info("dense vs cg (tol 1e-10, %lld iterations): rel. diff %.3e; dense residual %.3e", (long long)sc.iterations,
              diff, rd / bn);
  cr_assert_leq(diff, 1e-6, "||x_cg - x_dense|| / ||x_dense|| = %.3e", diff);
  cr_assert_leq(rd, 1e-10 * bn);
  cr_assert_eq(sd.iterations, 0);
  cr_assert_eq(sd.history_len, 0);
  cr_assert_float_eq(sd.rhs_norm, bn, 1e-12 * bn);
  cr_assert_float_eq(sd.residual_norm, rd, 1e-3 * rd + 1e-14 * bn, "reported %.3e, host %.3e", sd.residual_norm, rd);

  /* another chunk size (not dividing n) gives the same matrix and solution */
  npde_linsolver *d2 = make_solver("{type: dense, chunk: 64}");
  op.matmats = op.matmat_cols = 0;
  OK(solve(d2, &op, shift, b, x2, NULL));
  cr_assert_eq(op.matmats, 5);
  cr_assert_eq(op.matmat_cols, p);
  cr_assert_leq(th_rel_diff(p, x2, xd), 1e-13);

  npde_linsolver_destroy(&dense);
  npde_linsolver_destroy(&d2);
  npde_linsolver_destroy(&cg);
  th_op_fini(&op);
  free(lam), free(A), free(b), free(xd), free(xc), free(x2);
}

/* An operator that can form itself: the dense solver takes its matrix from form (no column products), and
 * `assemble: columns` ignores form; both give the same solution. */
static int form_calls;
static npde_status form_from_host(void *ctx, npde_mat *M) {
  th_op *o = ctx;
  ++form_calls;
  cr_assert_eq(M->rows, o->n);
  cr_assert_eq(M->cols, o->n);
  return npde_backend_upload(o->be, M->data, o->host, (size_t)(o->n * o->n) * sizeof(double));
}

Test(dense, test_dense_takes_the_operators_own_form) {
  const int64_t p = 200;
  double *lam = malloc((size_t)p * sizeof *lam), *b = malloc((size_t)p * sizeof *b);
  for (int64_t i = 0; i < p; ++i) lam[i] = pow(10.0, -3.0 * (double)i / (double)p);
  double *A = spectrum_matrix(61, p, lam), *xf = calloc((size_t)p, sizeof *xf), *xc = calloc((size_t)p, sizeof *xc);
  th_rng rng = {62};
  th_normal_fill(&rng, b, p);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  op.op.form = form_from_host;
  npde_linsolver *by_form = make_solver("{type: dense}"), *by_cols = make_solver("{type: dense, assemble: columns}");
  form_calls = 0;
  OK(solve(by_form, &op, 1e-6, b, xf, NULL));
  cr_assert_eq(form_calls, 1);
  cr_assert_eq(op.matmat_cols, 0, "form replaces the column products");
  cr_assert_eq(op.matvecs, 1, "one product for the true residual");
  OK(solve(by_cols, &op, 1e-6, b, xc, NULL));
  cr_assert_eq(form_calls, 1, "assemble: columns does not call form");
  cr_assert_eq(op.matmat_cols, p);
  const double diff = th_rel_diff(p, xf, xc);
  cr_assert_leq(diff, 1e-12, "form against columns: %.3e", diff);
  npde_linsolver_destroy(&by_form);
  npde_linsolver_destroy(&by_cols);
  th_op_fini(&op);
  free(lam), free(A), free(b), free(xf), free(xc);
}

static npde_status never(void *ctx, const npde_mat *x, npde_mat *y) {
  (void)x, (void)y;
  *(int *)ctx += 1;
  return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "the operator must not be applied");
}

static void expect_refusal(npde_linsolver *ls, int64_t n, const char *const *needles) {
  int calls = 0;
  npde_linop op = {.n = n, .dtype = NPDE_F64, .matvec = never, .matmat = never, .ctx = &calls};
  void *db = NULL, *dx = NULL;
  OK(npde_backend_alloc(env.be, (size_t)n * sizeof(double), &db));
  OK(npde_backend_alloc(env.be, (size_t)n * sizeof(double), &dx));
  npde_mat vb = th_vec_view(db, n, NPDE_F64), vx = th_vec_view(dx, n, NPDE_F64);
  OK(npde_backend_fill(env.be, &vb, 1.0));
  npde_status s = npde_linsolver_solve(ls, &op, 0.0, NULL, &vb, &vx, NULL);
  cr_assert_eq(s, NPDE_ERR_INVALID_ARG, "n = %lld: got %d (%s)", (long long)n, (int)s, npde_last_error());
  cr_assert_eq(calls, 0);
  for (const char *const *nd = needles; *nd; ++nd)
    cr_assert(strstr(npde_last_error(), *nd), "message lacks '%s': %s", *nd, npde_last_error());
  npde_backend_free(env.be, db);
  npde_backend_free(env.be, dx);
}

Test(dense, test_dense_refuses_above_limits) {
  npde_linsolver *ls = make_solver("{type: dense}");
  /* 30000^2 doubles = 6866.5 MiB = 6.71 GiB */
  expect_refusal(ls, 30000, (const char *const[]){"n = 30000", "6866.5 MiB", "6.71 GiB", "max_n = 20000", NULL});
  npde_linsolver_destroy(&ls);
  ls = make_solver("{type: dense, max_n: 100}");
  expect_refusal(ls, 101, (const char *const[]){"n = 101", "0.1 MiB", "max_n = 100", NULL});
  npde_linsolver_destroy(&ls);
  ls = make_solver("{type: dense, max_memory_mb: 10}");
  /* 2000^2 doubles = 30.5 MiB */
  expect_refusal(ls, 2000, (const char *const[]){"30.5 MiB", "max_memory_mb = 10", NULL});
  npde_linsolver_destroy(&ls);
}

Test(dense, test_dense_not_positive_definite) {
  const int64_t p = 50;
  double *lam = malloc((size_t)p * sizeof *lam);
  for (int64_t i = 0; i < p; ++i) lam[i] = i == 10 ? -0.5 : 1.0 + (double)i;
  double *A = spectrum_matrix(53, p, lam), *b = malloc((size_t)p * sizeof *b), *x = calloc((size_t)p, sizeof *x);
  th_rng rng = {54};
  th_normal_fill(&rng, b, p);
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: dense}");
  npde_status s = solve(ls, &op, 0.0, b, x, NULL);
  cr_assert_eq(s, NPDE_ERR_NUMERIC, "got %d (%s)", (int)s, npde_last_error());
  cr_assert(strstr(npde_last_error(), "not positive definite"), "message: %s", npde_last_error());
  /* the shift makes it SPD */
  OK(solve(ls, &op, 1.0, b, x, NULL));
  cr_assert_leq(th_residual(p, A, 1.0, x, b), 1e-12 * th_norm(p, b));
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(lam), free(A), free(b), free(x);
}

Test(dense, test_dense_zero_rhs_and_f32) {
  const int64_t p = 20;
  double *A = calloc((size_t)(p * p), sizeof *A), *b = calloc((size_t)p, sizeof *b), *x = malloc((size_t)p * sizeof *x);
  for (int64_t i = 0; i < p; ++i) A[i * p + i] = 2.0, x[i] = 5.0;
  th_op op;
  th_op_init(&op, env.be, A, p, NPDE_F64);
  npde_linsolver *ls = make_solver("{type: dense}");
  npde_solve_stats st = {.struct_size = sizeof st};
  OK(solve(ls, &op, 0.0, b, x, &st));
  for (int64_t i = 0; i < p; ++i) cr_assert_eq(x[i], 0.0);
  cr_assert_eq(st.residual_norm, 0.0);
  th_op_fini(&op);

  th_op_init(&op, env.be, A, p, NPDE_F32);
  b[0] = 1.0;
  npde_status s = solve(ls, &op, 0.0, b, x, NULL);
  cr_assert_eq(s, NPDE_ERR_NOT_IMPLEMENTED, "got %d (%s)", (int)s, npde_last_error());
  cr_assert(strstr(npde_last_error(), "f64"), "message: %s", npde_last_error());
  npde_linsolver_destroy(&ls);
  th_op_fini(&op);
  free(A), free(b), free(x);
}

Test(dense, test_dense_yaml_config) {
  npde_config *cfg = NULL;
  npde_linsolver *ls = NULL;
  OK(npde_config_load_string("{type: dense, max_n: 5000, max_memory_mb: 512}", "<test>", &cfg));
  OK(npde_linsolver_create(env.reg, NULL, cfg, env.be, &ls));
  npde_linsolver_destroy(&ls);
  npde_config_destroy(&cfg);
  OK(npde_config_load_string("{type: dense, max_size: 10}", "<test>", &cfg));
  npde_status s = npde_linsolver_create(env.reg, NULL, cfg, env.be, &ls);
  cr_assert_eq(s, NPDE_ERR_CONFIG);
  cr_assert(strstr(npde_last_error(), "max_n, max_memory_mb, chunk"), "message: %s", npde_last_error());
  npde_config_destroy(&cfg);
  OK(npde_config_load_string("{type: dense, max_n: 0}", "<test>", &cfg));
  cr_assert_eq(npde_linsolver_create(env.reg, NULL, cfg, env.be, &ls), NPDE_ERR_CONFIG);
  npde_config_destroy(&cfg);
}
