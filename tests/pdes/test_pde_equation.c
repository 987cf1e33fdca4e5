/* The equation PDE (docs/problems.md): its rhs against the built-in
 * plugins' on the same analytic jets, the jet order it infers from the
 * names used, mixed derivatives from Hessian jets, several fields, and the
 * errors. */
#include "pde_fixture.h"

TestSuite(pde_equation, .init = pf_setup, .fini = pf_teardown);

enum { N = 40 };

/* rhs of two PDEs (K = 1) on the test function's jets of the given order: equal to rel. */
static void same_rhs(const char *eq, const char *builtin, int64_t d, npde_jet_order order, double rel) {
  npde_pde *p = pf_make(eq), *q = pf_make(builtin);
  static double x[N * PF_MAX_D], value[N], grad[N * PF_MAX_D], second[N * PF_MAX_D * PF_MAX_D], F[N], G[N];
  double a[PF_MAX_D], b[PF_MAX_D];
  for (int64_t j = 0; j < d; ++j) a[j] = 0.3 * sin(1.0 + (double)j), b[j] = 2.0 - 0.3 * (double)j;
  for (int64_t i = 0; i < N * d; ++i) x[i] = pf_uniform(-1.0, 1.0);
  npde_pde_jets jets = pf_test_jets(d, N, order, a, b, x, value, grad, second);
  cr_assert_eq(npde_pde_rhs(p, 0.3, &jets, F), NPDE_OK, "%s: %s", eq, npde_last_error());
  cr_assert_eq(npde_pde_rhs(q, 0.3, &jets, G), NPDE_OK, "%s: %s", builtin, npde_last_error());
  for (int64_t i = 0; i < N; ++i)
    cr_expect(fabs(F[i] - G[i]) <= rel * fmax(1.0, fabs(G[i])), "%s: point %lld: %.17g, %s gives %.17g", eq,
              (long long)i, F[i], builtin, G[i]);
  npde_pde_destroy(&p);
  npde_pde_destroy(&q);
}

Test(pde_equation, heat_and_advection_as_equations) {
  same_rhs("{type: equation, initial: ['0'], params: {D: 0.05}, rhs: ['D*lap_u']}", "{type: heat, diffusivity: 0.05}", 2,
           NPDE_JET_LAPLACIAN, 0.0);
  same_rhs("{type: equation, initial: ['0'], dim: 3, params: {D: 0.2}, rhs: ['D*(u_xx + u_yy + u_zz)']}",
           "{type: heat, dim: 3, diffusivity: 0.2}", 3, NPDE_JET_HESSIAN, 1e-15);
  same_rhs("{type: equation, initial: ['0'], dim: 5, rhs: ['0.1*lap_u']}", "{type: heat, dim: 5, diffusivity: 0.1}", 5,
           NPDE_JET_LAPLACIAN, 1e-15);
  same_rhs("{type: equation, initial: ['0'], dim: 3, rhs: ['0.5*u_x - u_y + 2*u_z']}", "{type: advection, dim: 3, velocity: [0.5, -1, 2]}",
           3, NPDE_JET_GRAD, 1e-15);
  same_rhs("{type: equation, initial: ['0'], dim: 4, rhs: ['1.5*(u_x1 + u_x2 + u_x3 + u_x4)']}",
           "{type: advection, dim: 4, velocity: [1.5]}", 4, NPDE_JET_GRAD, 1e-15);
}

/* Fokker-Planck in 8D with the plugin's drift h = (a - x) + alpha (mean(x) - x) written as an expression */
Test(pde_equation, fokker_planck_8d_as_an_equation) {
  char S[256] = "", P[256] = "", eq[1024];
  size_t ls = 0, lp = 0;
  for (int j = 1; j <= 8; ++j) {
    ls += (size_t)snprintf(S + ls, sizeof S - ls, "%su_x%d", j > 1 ? " + " : "", j);
    lp += (size_t)snprintf(P + lp, sizeof P - lp, "%sx%d*u_x%d", j > 1 ? " + " : "", j, j);
  }
  /* h . grad u = (a + alpha mean) S - (1 + alpha) P; div h = -d - alpha (d - 1) */
  snprintf(eq, sizeof eq,
           "{type: equation, dim: 8, initial: ['0'], params: {D: 0.01, alpha: 0.25, a: 0.2},"
           " rhs: ['D*lap_u - ((a + alpha*avg(x1,x2,x3,x4,x5,x6,x7,x8))*(%s) - (1 + alpha)*(%s)) + u*(8 + alpha*7)']}",
           S, P);
  same_rhs(eq, "{type: fokker-planck, dim: 8, D: 0.01, alpha: 0.25, a: 0.2}", 8, NPDE_JET_LAPLACIAN, 1e-13);
}

Test(pde_equation, the_jet_order_is_what_the_names_need) {
  const struct { const char *yaml; npde_jet_order order; } cases[] = {
      {"{type: equation, initial: ['0'], rhs: ['u*(1-u)']}", NPDE_JET_VALUE},
      {"{type: equation, initial: ['0'], rhs: ['sin(t)*u_x']}", NPDE_JET_GRAD},
      {"{type: equation, initial: ['0'], rhs: ['u_yy']}", NPDE_JET_LAPLACIAN},
      {"{type: equation, initial: ['0'], rhs: ['lap_u + u_x2']}", NPDE_JET_LAPLACIAN},
      {"{type: equation, initial: ['0'], rhs: ['u_xy']}", NPDE_JET_HESSIAN},
      {"{type: equation, initial: ['0'], dim: 3, rhs: ['u_x1x3']}", NPDE_JET_HESSIAN},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; ++c) {
    npde_pde *p = pf_make(cases[c].yaml);
    npde_pde_info info = npde_pde_get_info(p);
    cr_expect_eq(info.order, cases[c].order, "%s: order %d, expected %d", cases[c].yaml, (int)info.order,
                 (int)cases[c].order);
    cr_expect(!info.has_exact && !info.dirichlet_zero);
    npde_pde_destroy(&p);
  }
  npde_pde *p = pf_make("{type: equation, initial: ['0'], rhs: [u], boundary: dirichlet, exact: ['exp(t)*x']}");
  cr_expect(npde_pde_get_info(p).dirichlet_zero && npde_pde_get_info(p).has_exact);
  npde_pde_destroy(&p);
}

Test(pde_equation, mixed_derivatives_and_coordinates) {
  npde_pde *p = pf_make("{type: equation, initial: ['0'], dim: 3, rhs: ['u_xy - 2*u_x2x3 + x*t + u_z']}");
  const int64_t d = 3;
  static double x[N * 3], value[N], grad[N * 3], second[N * 9], F[N];
  double a[3] = {0.1, -0.2, 0.3}, b[3] = {1.0, 0.5, -1.5}, hess[9], g[3];
  for (int64_t i = 0; i < N * d; ++i) x[i] = pf_uniform(-1.0, 1.0);
  npde_pde_jets jets = pf_test_jets(d, N, NPDE_JET_HESSIAN, a, b, x, value, grad, second);
  cr_assert_eq(npde_pde_rhs(p, 0.7, &jets, F), NPDE_OK, "%s", npde_last_error());
  for (int64_t i = 0; i < N; ++i) {
    pf_test_fn(d, a, b, x + 3 * i, g, NULL, hess);
    const double want = hess[1] - 2 * hess[5] + x[3 * i] * 0.7 + g[2];
    cr_expect(fabs(F[i] - want) <= 1e-14 * fmax(1.0, fabs(want)), "point %lld: %.17g, expected %.17g", (long long)i,
              F[i], want);
  }
  npde_pde_destroy(&p);
}

Test(pde_equation, two_fields_as_the_wave_equation) {
  /* [phi, v]_t = [v, c^2 lap phi] against the wave plugin on the same jets */
  npde_pde *p = pf_make("{type: equation, initial: ['0', '0'], fields: [phi, v], params: {c: 0.5}, rhs: [v, 'c^2*lap_phi']}");
  npde_pde *q = pf_make("{type: wave, dim: 2, c: 0.5}");
  const int64_t d = 2, K = 2;
  static double x[N * 2], value[N * 2], grad[N * 4], second[N * 4], F[N * 2], G[N * 2];
  for (int64_t i = 0; i < N * d; ++i) x[i] = pf_uniform(-1.0, 1.0);
  for (int64_t i = 0; i < N * K * d; ++i) grad[i] = pf_uniform(-1.0, 1.0), second[i] = pf_uniform(-2.0, 2.0);
  for (int64_t i = 0; i < N * K; ++i) value[i] = pf_uniform(-1.0, 1.0);
  npde_pde_jets jets = {.n = N, .d = d, .K = K, .order = NPDE_JET_LAPLACIAN, .x = x, .value = value, .grad = grad,
                        .second = second};
  cr_assert_eq(npde_pde_rhs(p, 0.0, &jets, F), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pde_rhs(q, 0.0, &jets, G), NPDE_OK, "%s", npde_last_error());
  for (int64_t i = 0; i < N * K; ++i) cr_expect(F[i] == G[i], "entry %lld: %.17g vs %.17g", (long long)i, F[i], G[i]);
  npde_pde_destroy(&p);
  npde_pde_destroy(&q);
}

Test(pde_equation, errors) {
  pf_expect_config_error("{type: equation, initial: ['0'], rhs: ['lap_w']}",
                         (const char *const[]){"t.yaml:1:40", "unknown name 'lap_w'", "lap_u, u_x1x2, u_x, u_y, u_xx, u_yy, u_xy", NULL});
  pf_expect_config_error("{type: equation, initial: ['0', '0'], fields: [u, v], rhs: ['lap_u']}",
                         (const char *const[]){"rhs: 1 expressions for 2 fields", NULL});
  pf_expect_config_error("{type: equation, initial: ['0', '0'], fields: [u, u], rhs: [u, u]}", (const char *const[]){"named twice", NULL});
  pf_expect_config_error("{type: equation, initial: ['0'], fields: [x], rhs: [x]}", (const char *const[]){"a field name", NULL});
  pf_expect_config_error("{type: equation, initial: ['0'], rhs: ['k*u']}", (const char *const[]){"unknown name 'k'", NULL});
  pf_expect_config_error("{type: equation, initial: ['0'], rhs: [u], boundary: sideways}", 
                         (const char *const[]){"t.yaml:1:54", "unknown kind 'sideways'; valid: none, dirichlet, periodic", NULL});
  pf_expect_config_error("{type: equation, initial: ['0'], rhs: [u], boundary: [periodic]}",
                         (const char *const[]){"a list of 2 of them", NULL});
  pf_expect_config_error("{type: equation, initial: ['0'], rhs: [u], dirichlet: [x]}",
                         (const char *const[]){"has none (set boundary: dirichlet", NULL});
  pf_expect_config_error("{type: equation, initial: ['0'], params: {u: 1}, rhs: [u]}",
                         (const char *const[]){"'u' is a built-in name", NULL});
}

/* rhs of two PDEs on the same random jets (values, gradients, a symmetric Hessian, K outputs): equal to rel. */
static void same_rhs_random(const char *eq, const char *builtin, int64_t d, int64_t K, double rel) {
  npde_pde *p = pf_make(eq), *q = pf_make(builtin);
  const int64_t nk = N * K;
  double *x = malloc((size_t)(N * d) * sizeof *x), *value = malloc((size_t)nk * sizeof *value);
  double *grad = malloc((size_t)(nk * d) * sizeof *grad), *second = malloc((size_t)(nk * d * d) * sizeof *second);
  double *F = malloc((size_t)nk * sizeof *F), *G = malloc((size_t)nk * sizeof *G);
  for (int64_t i = 0; i < N * d; ++i) x[i] = pf_uniform(-1.0, 1.0);
  for (int64_t e = 0; e < nk; ++e) {
    value[e] = pf_uniform(-1.0, 1.0);
    for (int64_t j = 0; j < d; ++j) grad[e * d + j] = pf_uniform(-1.0, 1.0);
    for (int64_t j = 0; j < d; ++j)
      for (int64_t k = j; k < d; ++k) second[(e * d + j) * d + k] = second[(e * d + k) * d + j] = pf_uniform(-2, 2);
  }
  npde_pde_jets jets = {.n = N, .d = d, .K = K, .order = NPDE_JET_HESSIAN, .x = x, .value = value, .grad = grad,
                        .second = second};
  cr_assert_eq(npde_pde_rhs(p, 0.2, &jets, F), NPDE_OK, "%s: %s", eq, npde_last_error());
  cr_assert_eq(npde_pde_rhs(q, 0.2, &jets, G), NPDE_OK, "%s: %s", builtin, npde_last_error());
  for (int64_t e = 0; e < nk; ++e)
    cr_expect(fabs(F[e] - G[e]) <= rel * fmax(1.0, fabs(G[e])), "%s: entry %lld: %.17g, the plugin %.17g", builtin,
              (long long)e, F[e], G[e]);
  free(x), free(value), free(grad), free(second), free(F), free(G);
  npde_pde_destroy(&p);
  npde_pde_destroy(&q);
}

/* The two remaining paper PDEs need no plugin either: Vlasov in 6D phase space (z = (x, v), E = grad exp(-|x|^2))
 * and the wave on the Schwarzschild metric (black hole at c, y = x - c, the full Hessian). Written in the plugins'
 * order of operations, they give the same rhs bit for bit (and so the same evolve, tests/stages). */
#include "paper_equations.h"

Test(pde_equation, vlasov_and_wave_maps_as_equations) {
  same_rhs_random(VLASOV_EQ ", initial: ['0']}", "{type: vlasov}", 6, 1, 0.0);
  same_rhs_random(WAVE_MAPS_EQ ", initial: ['0', '0']}", "{type: wave-maps}", 3, 2, 0.0);
}
