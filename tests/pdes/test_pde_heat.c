/* The heat PDE plugin (docs/methods/neural-ivp.md §7, §10.1, V18): the golden IC value, rhs
 * on hand-derived Laplacian and Hessian jets, the free-space Gaussian against
 * the PDE and the 2D formula of docs/methods/neural-ivp.md §7, exact(0) =
 * initial, info, YAML errors. */
#include "pde_fixture.h"

#define TWO_PI 6.283185307179586

TestSuite(pde_heat, .init = pf_setup, .fini = pf_teardown);

Test(pde_heat, golden_initial_value) {
  npde_pde *p = pf_make("{type: heat}");
  const double x[2] = {0.03, -0.02};
  double u = 0.0, e = 0.0;
  cr_assert_eq(npde_pde_initial(p, x, 1, &u), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(u - PF_GOLDEN_G) <= 1e-11, "G(0.03, -0.02) = %.15g, expected %.15g", u, PF_GOLDEN_G);
  cr_assert_eq(npde_pde_exact(p, 0.0, x, 1, &e), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(e - PF_GOLDEN_G) <= 1e-11, "exact(0) at (0.03, -0.02) = %.15g", e);
  npde_pde_destroy(&p);
  /* the same formula (2D normalisation) in 3D: G(0.03, -0.02, 0) is the same number */
  p = pf_make("{type: heat, dim: 3}");
  cr_assert_eq(npde_pde_initial(p, (double[]){0.03, -0.02, 0.0}, 1, &u), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(u - PF_GOLDEN_G) <= 1e-11, "3D: G(0.03, -0.02, 0) = %.15g", u);
  npde_pde_destroy(&p);
}

Test(pde_heat, info) {
  npde_pde *p = pf_make("{type: heat}");
  npde_pde_info info = npde_pde_get_info(p);
  cr_expect_eq(info.struct_size, sizeof(npde_pde_info));
  cr_expect_eq(info.dim, 2);
  cr_expect_eq(info.outputs, 1);
  cr_expect_eq(info.order, NPDE_JET_LAPLACIAN);
  cr_expect(info.has_exact);
  cr_expect(info.dirichlet_zero);
  npde_pde_destroy(&p);
  p = pf_make("{type: heat, dim: 3}");
  cr_expect_eq(npde_pde_get_info(p).dim, 3);
  npde_pde_destroy(&p);
}

/* rhs on the test function's jets against the closed form D lap u. */
static void check_rhs(const char *yaml, int64_t d, double D, npde_jet_order order) {
  npde_pde *p = pf_make(yaml);
  enum { N = 40 };
  double x[N * PF_MAX_D], value[N], grad[N * PF_MAX_D], second[N * PF_MAX_D * PF_MAX_D], F[N];
  double a[PF_MAX_D], b[PF_MAX_D];
  for (int64_t j = 0; j < d; ++j) a[j] = -0.2 * cos(2.0 + (double)j), b[j] = 1.5 + 0.4 * (double)j;
  for (int64_t i = 0; i < N * d; ++i) x[i] = pf_uniform(-1.0, 1.0);
  npde_pde_jets jets = pf_test_jets(d, N, order, a, b, x, value, grad, second);
  cr_assert_eq(npde_pde_rhs(p, 0.1, &jets, F), NPDE_OK, "%s: %s", yaml, npde_last_error());
  for (int64_t i = 0; i < N; ++i) {
    double want = D * pf_test_laplacian(d, a, b, x + i * d);
    cr_expect(fabs(F[i] - want) <= 1e-12 * fmax(1.0, fabs(want)), "%s: point %lld: rhs %.17g, D lap u %.17g", yaml,
              (long long)i, F[i], want);
  }
  npde_pde_destroy(&p);
}

Test(pde_heat, rhs_on_analytic_jets) {
  check_rhs("{type: heat}", 2, 0.05, NPDE_JET_LAPLACIAN);
  check_rhs("{type: heat, dim: 1, diffusivity: 2}", 1, 2.0, NPDE_JET_LAPLACIAN);
  check_rhs("{type: heat, dim: 3, diffusivity: 0.7}", 3, 0.7, NPDE_JET_LAPLACIAN);
  check_rhs("{type: heat, dim: 8, diffusivity: 1.25}", 8, 1.25, NPDE_JET_LAPLACIAN);
  /* the full Hessian layout: rhs sums its diagonal */
  check_rhs("{type: heat, dim: 3, diffusivity: 0.7}", 3, 0.7, NPDE_JET_HESSIAN);
  check_rhs("{type: heat, dim: 5, diffusivity: 0.3}", 5, 0.3, NPDE_JET_HESSIAN);
  check_rhs("{type: heat, diffusivity: 0}", 2, 0.0, NPDE_JET_LAPLACIAN);
}

Test(pde_heat, rhs_rejects_gradient_only_jets) {
  npde_pde *p = pf_make("{type: heat}");
  double x[2] = {0, 0}, v = 1.0, g[2] = {0, 0}, F = 0.0;
  npde_pde_jets jets = {.n = 1, .d = 2, .K = 1, .order = NPDE_JET_GRAD, .x = x, .value = &v, .grad = g};
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, &F), NPDE_ERR_INVALID_ARG);
  npde_pde_destroy(&p);
}

Test(pde_heat, exact_satisfies_the_pde) {
  npde_pde *p = pf_make("{type: heat}");
  const double origin[3] = {0, 0, 0};
  for (double t = 0.02; t < 0.6; t += 0.19) {
    double sigma = sqrt(0.0025 + 0.1 * t);
    pf_check_exact_satisfies(p, t, origin, sigma, 0.01 * sigma, 0.002 * sigma * sigma / 0.05, 30, 1e-6);
  }
  npde_pde_destroy(&p);
  p = pf_make("{type: heat, dim: 3, diffusivity: 0.2, s: 0.1, scale: 2, center: [0.1, -0.2, 0.3]}");
  double t = 0.05, sigma = sqrt(0.01 + 0.4 * t);
  pf_check_exact_satisfies(p, t, (double[]){0.1, -0.2, 0.3}, sigma, 0.01 * sigma, 0.002 * sigma * sigma / 0.2, 30,
                           1e-6);
  npde_pde_destroy(&p);
  p = pf_make("{type: heat, dim: 1, diffusivity: 1}");
  t = 0.01, sigma = sqrt(0.0025 + 2 * t);
  pf_check_exact_satisfies(p, t, origin, sigma, 0.01 * sigma, 0.002 * sigma * sigma, 20, 1e-6);
  npde_pde_destroy(&p);
}

/* Per axis, the Gaussian centred at 0 and its images in the faces +-1: sum over k of g(y - 4k) - g(y - 2 - 4k). */
static double images_1d(double y, double var) {
  double sum = 0.0;
  for (int k = -3; k <= 3; ++k)
    sum += exp(-(y - 4.0 * k) * (y - 4.0 * k) / (2 * var)) - exp(-(y - 2.0 - 4.0 * k) * (y - 2.0 - 4.0 * k) / (2 * var));
  return sum;
}

Test(pde_heat, exact_matches_the_spec_formula) {
  /* docs/methods/neural-ivp.md §7: (1/30) exp(-|x|^2 / (2 sigma_t^2)) / (2 pi sigma_t^2),
   * sigma_t^2 = s^2 + 0.1 t (2D), with its images in the faces (u = 0 there) */
  npde_pde *p = pf_make("{type: heat}");
  enum { N = 40 };
  double x[N * 2], u[N];
  for (int i = 0; i < N * 2; ++i) x[i] = pf_uniform(-0.5, 0.5);
  for (double t = 0.0; t <= 0.5; t += 0.125) {
    cr_assert_eq(npde_pde_exact(p, t, x, N, u), NPDE_OK, "%s", npde_last_error());
    const double var = 0.0025 + 0.1 * t;
    for (int i = 0; i < N; ++i) {
      const double want = images_1d(x[2 * i], var) * images_1d(x[2 * i + 1], var) / (TWO_PI * var) / 30.0;
      cr_expect(fabs(u[i] - want) <= 1e-13 * fmax(want, 1e-300) + 1e-300, "t = %g, point %d: %.17g vs %.17g", t,
                i, u[i], want);
    }
  }
  npde_pde_destroy(&p);
  /* 3D: the mass-conserving decay A (s^2 / sigma_t^2)^(3/2) of the peak, A = scale / (2 pi s^2) */
  p = pf_make("{type: heat, dim: 3, diffusivity: 0.5}");
  double peak;
  cr_assert_eq(npde_pde_exact(p, 0.01, (double[]){0, 0, 0}, 1, &peak), NPDE_OK, "%s", npde_last_error());
  const double want = 1.0 / (30.0 * TWO_PI * 0.0025) * pow(0.0025 / (0.0025 + 0.01), 1.5);
  cr_expect(fabs(peak - want) <= 1e-14 * want, "3D peak %.17g vs %.17g", peak, want);
  /* before the solution exists (s^2 + 2 D t <= 0) */
  cr_expect_eq(npde_pde_exact(p, -0.01, (double[]){0, 0, 0}, 1, &peak), NPDE_ERR_INVALID_ARG);
  npde_pde_destroy(&p);
}

Test(pde_heat, exact_at_zero_is_initial) {
  const char *yamls[] = {"{type: heat}", "{type: heat, dim: 3, diffusivity: 0.3, s: 0.2, center: [0.1]}",
                         "{type: heat, dim: 6, scale: -2}"};
  for (size_t c = 0; c < sizeof yamls / sizeof *yamls; ++c) {
    npde_pde *p = pf_make(yamls[c]);
    const int64_t d = npde_pde_get_info(p).dim;
    enum { N = 50 };
    double x[N * 6], u0[N], ue[N];
    for (int64_t i = 0; i < N * d; ++i) x[i] = pf_uniform(-0.3, 0.3);
    cr_assert_eq(npde_pde_initial(p, x, N, u0), NPDE_OK, "%s", npde_last_error());
    cr_assert_eq(npde_pde_exact(p, 0.0, x, N, ue), NPDE_OK, "%s", npde_last_error());
    for (int i = 0; i < N; ++i)
      cr_expect(ue[i] == u0[i], "%s: point %d: exact(0) %.17g, initial %.17g", yamls[c], i, ue[i], u0[i]);
    npde_pde_destroy(&p);
  }
}

Test(pde_heat, yaml_errors) {
  pf_expect_config_error("{type: heat, diffusion: 0.1}",
                         (const char *[]){"diffusion", "dim", "diffusivity", "s", "scale", "center", NULL});
  pf_expect_config_error("type: heat\ndiffusivity: -1\n",
                         (const char *[]){"t.yaml:2:14", "diffusivity", "-1", ">= 0", NULL});
  pf_expect_config_error("{type: heat, diffusivity: .inf}", (const char *[]){"diffusivity", "finite", NULL});
  pf_expect_config_error("{type: heat, dim: 3, center: [1, 2]}",
                         (const char *[]){"t.yaml:1:30", "center", "2 entries", "dim = 3", NULL});
  pf_expect_config_error("{type: heat, dim: 100}", (const char *[]){"dim", "out of range [1, 64]", NULL});
  pf_expect_config_error("{type: heat, s: -0.05}", (const char *[]){"'s'", ">=", NULL});
}

Test(pde_heat, exact_vanishes_on_the_faces) {
  /* the demo's wide Gaussian: the free-space solution is 7e-3 of its peak on the faces by t = 0.5 */
  npde_pde *p = pf_make("{type: heat, dim: 2, s: 0.25, scale: 1, center: [0.2, -0.3]}");
  double peak = 0.0, face = 0.0;
  for (double t = 0.0; t <= 1.0; t += 0.25) {
    const double c[2] = {0.2, -0.3};
    double u = 0.0;
    cr_assert_eq(npde_pde_exact(p, t, c, 1, &u), NPDE_OK, "%s", npde_last_error());
    peak = fmax(peak, u);
    for (int i = 0; i < 64; ++i) {
      const double y = pf_uniform(-1.0, 1.0);
      const double x[2] = {i % 4 == 0 ? -1.0 : i % 4 == 1 ? 1.0 : y, i % 4 == 2 ? -1.0 : i % 4 == 3 ? 1.0 : y};
      cr_assert_eq(npde_pde_exact(p, t, x, 1, &u), NPDE_OK, "%s", npde_last_error());
      face = fmax(face, fabs(u));
    }
  }
  cr_expect(face <= 1e-15 * peak, "max |u| on the faces %.3e against the peak %.3e", face, peak);
  /* and the initial condition is the same sum */
  double x[2] = {1.0, 0.4}, u0 = 1.0;
  cr_assert_eq(npde_pde_initial(p, x, 1, &u0), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(u0) <= 1e-15 * peak, "initial on the face x = 1: %.3e", u0);
  npde_pde_destroy(&p);
}
