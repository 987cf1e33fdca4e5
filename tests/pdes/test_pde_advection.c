/* The advection PDE plugin (docs/methods/neural-ivp.md §7, §10.1): the golden IC value,
 * rhs on hand-derived jets, the exact translate G(x + t c) against the PDE,
 * exact(0) = initial, info, and YAML errors. */
#include "pde_fixture.h"

TestSuite(pde_advection, .init = pf_setup, .fini = pf_teardown);

Test(pde_advection, golden_initial_value) {
  npde_pde *p = pf_make("{type: advection}");
  const double x[2] = {0.03, -0.02};
  double u = 0.0, e = 0.0;
  cr_assert_eq(npde_pde_initial(p, x, 1, &u), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(u - PF_GOLDEN_G) <= 1e-11, "G(0.03, -0.02) = %.15g, expected %.15g", u, PF_GOLDEN_G);
  cr_assert_eq(npde_pde_exact(p, 0.0, x, 1, &e), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(e - PF_GOLDEN_G) <= 1e-11, "exact(0) at (0.03, -0.02) = %.15g", e);
  /* the peak scale / (2 pi s^2) = 2.1221 (docs/methods/neural-ivp.md §7) */
  const double zero[2] = {0.0, 0.0};
  cr_assert_eq(npde_pde_initial(p, zero, 1, &u), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(u - 1.0 / (30.0 * 6.283185307179586 * 0.0025)) <= 1e-13, "peak %.15g", u);
  npde_pde_destroy(&p);
}

Test(pde_advection, info) {
  npde_pde *p = pf_make("{type: advection}");
  npde_pde_info info = npde_pde_get_info(p);
  cr_expect_eq(info.struct_size, sizeof(npde_pde_info));
  cr_expect_eq(info.dim, 2);
  cr_expect_eq(info.outputs, 1);
  cr_expect_eq(info.order, NPDE_JET_GRAD);
  cr_expect(info.has_exact);
  cr_expect(info.dirichlet_zero);
  npde_pde_destroy(&p);
  p = pf_make("{type: advection, dim: 5}");
  cr_expect_eq(npde_pde_get_info(p).dim, 5);
  npde_pde_destroy(&p);
  p = pf_make("{type: advection, dim: 64, velocity: 0.5}");
  cr_expect_eq(npde_pde_get_info(p).dim, 64);
  npde_pde_destroy(&p);
}

/* rhs of the yaml's PDE on the test function's jets against the closed form c . grad u. */
static void check_rhs(const char *yaml, int64_t d, const double *c, npde_jet_order order) {
  npde_pde *p = pf_make(yaml);
  enum { N = 40 };
  double x[N * PF_MAX_D], value[N], grad[N * PF_MAX_D], second[N * PF_MAX_D * PF_MAX_D], F[N];
  double a[PF_MAX_D], b[PF_MAX_D];
  for (int64_t j = 0; j < d; ++j) a[j] = 0.3 * sin(1.0 + (double)j), b[j] = 2.0 - 0.7 * (double)j;
  for (int64_t i = 0; i < N * d; ++i) x[i] = pf_uniform(-1.0, 1.0);
  npde_pde_jets jets = pf_test_jets(d, N, order, a, b, x, value, grad, second);
  cr_assert_eq(npde_pde_rhs(p, 0.3, &jets, F), NPDE_OK, "%s: %s", yaml, npde_last_error());
  for (int64_t i = 0; i < N; ++i) {
    double want = pf_test_advection(d, a, b, c, x + i * d);
    cr_expect(fabs(F[i] - want) <= 1e-12 * fmax(1.0, fabs(want)), "%s: point %lld: rhs %.17g, c . grad u %.17g",
              yaml, (long long)i, F[i], want);
  }
  npde_pde_destroy(&p);
}

Test(pde_advection, rhs_on_analytic_jets) {
  check_rhs("{type: advection}", 2, (double[]){1, 1}, NPDE_JET_GRAD);
  check_rhs("{type: advection, dim: 1, velocity: [-2.5]}", 1, (double[]){-2.5}, NPDE_JET_GRAD);
  check_rhs("{type: advection, dim: 3, velocity: [0.5, -1, 2]}", 3, (double[]){0.5, -1, 2}, NPDE_JET_GRAD);
  check_rhs("{type: advection, dim: 3, velocity: 0.75}", 3, (double[]){0.75, 0.75, 0.75}, NPDE_JET_GRAD);
  check_rhs("{type: advection, dim: 4, velocity: [1.5]}", 4, (double[]){1.5, 1.5, 1.5, 1.5}, NPDE_JET_GRAD);
  check_rhs("{type: advection, dim: 7, velocity: [1, -2, 3, -4, 5, -6, 7]}", 7, (double[]){1, -2, 3, -4, 5, -6, 7},
            NPDE_JET_GRAD);
  /* richer jets than needed are fine */
  check_rhs("{type: advection, dim: 3, velocity: [0.5, -1, 2]}", 3, (double[]){0.5, -1, 2}, NPDE_JET_LAPLACIAN);
  check_rhs("{type: advection, dim: 3, velocity: [0.5, -1, 2]}", 3, (double[]){0.5, -1, 2}, NPDE_JET_HESSIAN);
}

Test(pde_advection, rhs_rejects_value_only_jets_and_takes_no_points) {
  npde_pde *p = pf_make("{type: advection}");
  double x[2] = {0, 0}, v = 1.0, F = 0.0;
  npde_pde_jets jets = {.n = 1, .d = 2, .K = 1, .order = NPDE_JET_VALUE, .x = x, .value = &v};
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, &F), NPDE_ERR_INVALID_ARG);
  jets = (npde_pde_jets){.n = 0, .d = 2, .K = 1, .order = NPDE_JET_GRAD};
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, &F), NPDE_OK, "%s", npde_last_error());
  cr_expect_eq(npde_pde_initial(p, x, 0, &F), NPDE_OK, "%s", npde_last_error());
  npde_pde_destroy(&p);
}

Test(pde_advection, exact_satisfies_the_pde) {
  npde_pde *p = pf_make("{type: advection}");
  for (double t = 0.05; t < 0.6; t += 0.18) {
    const double center[2] = {-t, -t}; /* the pulse moves along -c */
    pf_check_exact_satisfies(p, t, center, 0.05, 5e-4, 5e-4, 30, 1e-6);
  }
  npde_pde_destroy(&p);
  p = pf_make("{type: advection, dim: 3, velocity: [0.5, -1, 2], s: 0.2, scale: 3, center: [0.1, 0.2, -0.3]}");
  const double t = 0.2, center[3] = {0.1 - 0.5 * t, 0.2 + t, -0.3 - 2 * t};
  pf_check_exact_satisfies(p, t, center, 0.2, 2e-3, 1e-3, 30, 1e-6);
  npde_pde_destroy(&p);
  p = pf_make("{type: advection, dim: 1, velocity: -3}");
  pf_check_exact_satisfies(p, 0.1, (double[]){0.3}, 0.05, 5e-4, 1.5e-4, 20, 1e-6);
  npde_pde_destroy(&p);
}

Test(pde_advection, exact_at_zero_is_initial_and_translates) {
  npde_pde *p = pf_make("{type: advection, dim: 3, velocity: [0.5, -1, 2], center: [0.1, 0, -0.1], s: 0.1}");
  enum { N = 50 };
  double x[N * 3], shifted[N * 3], u0[N], ue[N], ut[N];
  const double c[3] = {0.5, -1, 2}, t = 0.17;
  for (int i = 0; i < N * 3; ++i) x[i] = pf_uniform(-0.4, 0.4);
  for (int i = 0; i < N * 3; ++i) shifted[i] = x[i] + t * c[i % 3];
  cr_assert_eq(npde_pde_initial(p, x, N, u0), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pde_exact(p, 0.0, x, N, ue), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < N; ++i) cr_expect(ue[i] == u0[i], "point %d: exact(0) %.17g, initial %.17g", i, ue[i], u0[i]);
  /* u(x, t) = G(x + t c) */
  cr_assert_eq(npde_pde_exact(p, t, x, N, ut), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pde_initial(p, shifted, N, u0), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < N; ++i)
    cr_expect(fabs(ut[i] - u0[i]) <= 1e-14 * fmax(1.0, fabs(u0[i])), "point %d: exact %.17g, G(x + t c) %.17g", i,
              ut[i], u0[i]);
  npde_pde_destroy(&p);
}

Test(pde_advection, yaml_errors) {
  pf_expect_config_error("{type: advection, speed: [1, 1]}",
                         (const char *[]){"speed", "dim", "velocity", "s", "scale", "center", NULL});
  /* velocity of the wrong length: the message names the list's file:line:column */
  pf_expect_config_error("type: advection\ndim: 3\nvelocity: [1, 2]\n",
                         (const char *[]){"t.yaml:3:11", "velocity", "2 entries", "dim = 3", NULL});
  pf_expect_config_error("{type: advection, velocity: [1, 2, 3]}",
                         (const char *[]){"t.yaml:1:29", "velocity", "3 entries", NULL});
  pf_expect_config_error("{type: advection, velocity: []}", (const char *[]){"velocity", "0 entries", NULL});
  pf_expect_config_error("type: advection\ncenter: [0.1, 0.2, 0.3]\n",
                         (const char *[]){"t.yaml:2:9", "center", "3 entries", NULL});
  pf_expect_config_error("{type: advection, velocity: [1, .inf]}", (const char *[]){"velocity", "finite", NULL});
  pf_expect_config_error("{type: advection, velocity: [1, fast]}", (const char *[]){"velocity", "fast", NULL});
  pf_expect_config_error("{type: advection, dim: 0}", (const char *[]){"dim", "out of range", NULL});
  pf_expect_config_error("{type: advection, dim: 65}", (const char *[]){"dim", "out of range", NULL});
  pf_expect_config_error("{type: advection, s: 0}", (const char *[]){"'s'", ">=", NULL});
}
