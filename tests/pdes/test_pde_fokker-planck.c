/* The fokker-planck PDE plugin (docs/methods/neural-ivp.md §7, §10.1, V21): the golden drift
 * h and div h through rhs, the IC against its formula and its unit mass,
 * rhs on hand-derived jets of the fixture's test function and of the
 * manufactured u = B(x) exp(-|x|^2) against finite differences of the flux
 * D grad u - u h (d = 2, 5, 8, 20), info, YAML errors. */
#include "pde_fixture.h"

#define FP_MAX_D 20

TestSuite(pde_fokker_planck, .init = pf_setup, .fini = pf_teardown);

/* h(x) = (a - x) + alpha (1 1^T / d - I) x, as the matrix product, entry by entry. */
static void drift(int64_t d, const double *a, double alpha, const double *x, double *h) {
  for (int64_t i = 0; i < d; ++i) {
    double Mx = 0.0; /* ((1 1^T / d - I) x)_i */
    for (int64_t j = 0; j < d; ++j) Mx += (1.0 / (double)d - (i == j ? 1.0 : 0.0)) * x[j];
    h[i] = a[i] - x[i] + alpha * Mx;
  }
}

Test(pde_fokker_planck, golden_drift_through_rhs) {
  /* docs/methods/neural-ivp.md §10.1: d = 4, x = (0.1, -0.2, 0.3, 0):
   * h = (0.0875, 0.4625, -0.1625, 0.2125), div h = -4.75 */
  const double golden_h[4] = {0.0875, 0.4625, -0.1625, 0.2125}, golden_divh = -4.75;
  npde_pde *p = pf_make("{type: fokker-planck, dim: 4}");
  const double xp[4] = {0.1, -0.2, 0.3, 0.0};
  /* points 0-3: u = 0, grad u = e_j, so F = -h_j; point 4: u = 1, so F = -div h; point 5: d2u/dx_0^2 = 1, F = D */
  enum { N = 6 };
  double x[N * 4], value[N] = {0}, grad[N * 4] = {0}, second[N * 4] = {0}, F[N];
  for (int i = 0; i < N; ++i) memcpy(x + 4 * i, xp, sizeof xp);
  for (int j = 0; j < 4; ++j) grad[4 * j + j] = 1.0;
  value[4] = 1.0;
  second[4 * 5] = 1.0;
  npde_pde_jets jets = {.n = N, .d = 4, .K = 1, .order = NPDE_JET_LAPLACIAN, .x = x, .value = value, .grad = grad,
                        .second = second};
  cr_assert_eq(npde_pde_rhs(p, 0.0, &jets, F), NPDE_OK, "%s", npde_last_error());
  for (int j = 0; j < 4; ++j)
    cr_expect(fabs(-F[j] - golden_h[j]) <= 1e-15, "h_%d = %.17g, golden %g", j, -F[j], golden_h[j]);
  cr_expect(fabs(-F[4] - golden_divh) <= 1e-14, "div h = %.17g, golden %g", -F[4], golden_divh);
  cr_expect(fabs(F[5] - 0.01) <= 1e-17, "D lap u = %.17g, D = 0.01", F[5]);
  /* the test's own drift agrees */
  double h[4];
  drift(4, (double[]){0.2, 0.2, 0.2, 0.2}, 0.25, xp, h);
  for (int j = 0; j < 4; ++j) cr_expect(fabs(h[j] - golden_h[j]) <= 1e-15, "test's h_%d = %.17g", j, h[j]);
  npde_pde_destroy(&p);
  /* the paper's d = 8: div h = -9.75 */
  p = pf_make("{type: fokker-planck}");
  double x8[8] = {0.1, 0.2, 0.3, 0.4, -0.5, -0.6, 0.7, 0.8}, g8[8] = {0}, s8[8] = {0}, one = 1.0, F8;
  jets = (npde_pde_jets){.n = 1, .d = 8, .K = 1, .order = NPDE_JET_LAPLACIAN, .x = x8, .value = &one, .grad = g8,
                         .second = s8};
  cr_assert_eq(npde_pde_rhs(p, 0.0, &jets, &F8), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(F8 - 9.75) <= 1e-14, "d = 8: -div h = %.17g", F8);
  npde_pde_destroy(&p);
}

Test(pde_fokker_planck, info) {
  npde_pde *p = pf_make("{type: fokker-planck}");
  npde_pde_info info = npde_pde_get_info(p);
  cr_expect_eq(info.struct_size, sizeof(npde_pde_info));
  cr_expect_eq(info.dim, 8);
  cr_expect_eq(info.outputs, 1);
  cr_expect_eq(info.order, NPDE_JET_LAPLACIAN);
  cr_expect(!info.has_exact);
  cr_expect(info.dirichlet_zero);
  double x[8] = {0}, u;
  cr_expect_eq(npde_pde_exact(p, 0.0, x, 1, &u), NPDE_ERR_NOT_IMPLEMENTED);
  npde_pde_destroy(&p);
  const int64_t dims[] = {1, 5, 20, 64};
  for (size_t c = 0; c < sizeof dims / sizeof *dims; ++c) {
    char yaml[64];
    snprintf(yaml, sizeof yaml, "{type: fokker-planck, dim: %lld}", (long long)dims[c]);
    p = pf_make(yaml);
    cr_expect_eq(npde_pde_get_info(p).dim, dims[c]);
    npde_pde_destroy(&p);
  }
}

Test(pde_fokker_planck, initial_values_and_mass) {
  const int64_t dims[] = {1, 2, 5, 8, 20};
  for (size_t c = 0; c < sizeof dims / sizeof *dims; ++c) {
    const int64_t d = dims[c];
    char yaml[64];
    snprintf(yaml, sizeof yaml, "{type: fokker-planck, dim: %lld}", (long long)d);
    npde_pde *p = pf_make(yaml);
    enum { N = 20 };
    double x[N * FP_MAX_D], U[N];
    for (int64_t i = 0; i < N * d; ++i) x[i] = pf_uniform(-1.0, 1.0);
    for (int64_t j = 0; j < d; ++j) x[j] = 0.0; /* the peak (3/4)^d */
    x[d + d - 1] = 1.0;                         /* a face: exactly 0 */
    x[2 * d] = -1.0;
    cr_assert_eq(npde_pde_initial(p, x, N, U), NPDE_OK, "%s", npde_last_error());
    cr_expect(fabs(U[0] - pow(0.75, (double)d)) <= 1e-15 * U[0], "d = %lld: peak %.17g", (long long)d, U[0]);
    cr_expect(U[1] == 0.0 && U[2] == 0.0, "d = %lld: on the faces %g, %g", (long long)d, U[1], U[2]);
    for (int i = 3; i < N; ++i) {
      double want = pow(0.75, (double)d);
      for (int64_t j = 0; j < d; ++j) want *= 1.0 - x[i * d + j] * x[i * d + j];
      cr_expect(fabs(U[i] - want) <= 1e-14 * want, "d = %lld, point %d: %.17g, formula %.17g", (long long)d, i, U[i],
                want);
    }
    npde_pde_destroy(&p);
  }
  /* unit mass: Simpson's rule on the nodes -1, 0, 1 of each axis (weights 1/3, 4/3, 1/3) is exact for
   * the quadratic factors, so the sum over the 3^d grid is the integral over the cube, 1 */
  for (int64_t d = 1; d <= 4; ++d) {
    char yaml[64];
    snprintf(yaml, sizeof yaml, "{type: fokker-planck, dim: %lld}", (long long)d);
    npde_pde *p = pf_make(yaml);
    int64_t n = 1;
    for (int64_t j = 0; j < d; ++j) n *= 3;
    double mass = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      double x[4], w = 1.0, u;
      for (int64_t j = 0, q = k; j < d; ++j, q /= 3) {
        x[j] = (double)(q % 3) - 1.0;
        w *= q % 3 == 1 ? 4.0 / 3.0 : 1.0 / 3.0;
      }
      cr_assert_eq(npde_pde_initial(p, x, 1, &u), NPDE_OK, "%s", npde_last_error());
      mass += w * u;
    }
    cr_expect(fabs(mass - 1.0) <= 1e-14, "d = %lld: mass %.17g", (long long)d, mass);
    npde_pde_destroy(&p);
  }
}

/* rhs on the fixture's test function u = exp(-|x - a'|^2) sin(b . x) against the closed form
 * D lap u - h . grad u - u div h, with lap u and h . grad u from the fixture's closed forms and
 * div h = -d - alpha (d - 1). */
static void check_rhs(const char *yaml, int64_t d, double D, double alpha, const double *trap,
                      npde_jet_order order) {
  npde_pde *p = pf_make(yaml);
  enum { N = 30 };
  double x[N * PF_MAX_D], value[N], grad[N * PF_MAX_D], second[N * PF_MAX_D * PF_MAX_D], F[N];
  double a[PF_MAX_D], b[PF_MAX_D];
  for (int64_t j = 0; j < d; ++j) a[j] = 0.15 * cos(0.7 + (double)j), b[j] = 0.9 + 0.35 * (double)j;
  for (int64_t i = 0; i < N * d; ++i) x[i] = pf_uniform(-1.0, 1.0);
  npde_pde_jets jets = pf_test_jets(d, N, order, a, b, x, value, grad, second);
  cr_assert_eq(npde_pde_rhs(p, 0.4, &jets, F), NPDE_OK, "%s: %s", yaml, npde_last_error());
  const double divh = -(double)d - alpha * (double)(d - 1);
  for (int64_t i = 0; i < N; ++i) {
    const double *xi = x + i * d;
    double h[PF_MAX_D], r2 = 0.0, bx = 0.0;
    drift(d, trap, alpha, xi, h);
    for (int64_t j = 0; j < d; ++j) r2 += (xi[j] - a[j]) * (xi[j] - a[j]), bx += b[j] * xi[j];
    const double u = exp(-r2) * sin(bx);
    const double want = D * pf_test_laplacian(d, a, b, xi) - pf_test_advection(d, a, b, h, xi) - u * divh;
    cr_expect(fabs(F[i] - want) <= 1e-13 * fmax(1.0, fabs(want)), "%s: point %lld: rhs %.17g, closed form %.17g",
              yaml, (long long)i, F[i], want);
  }
  npde_pde_destroy(&p);
}

Test(pde_fokker_planck, rhs_on_analytic_jets) {
  const double a02[PF_MAX_D] = {0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2};
  check_rhs("{type: fokker-planck}", 8, 0.01, 0.25, a02, NPDE_JET_LAPLACIAN);
  check_rhs("{type: fokker-planck, dim: 1}", 1, 0.01, 0.25, a02, NPDE_JET_LAPLACIAN);
  check_rhs("{type: fokker-planck, dim: 5, D: 0.7, alpha: -0.5, a: 0.1}", 5, 0.7, -0.5,
            (double[]){0.1, 0.1, 0.1, 0.1, 0.1}, NPDE_JET_LAPLACIAN);
  check_rhs("{type: fokker-planck, dim: 3, D: 0.3, alpha: 2, a: [0.3, -0.4, 0.05]}", 3, 0.3, 2.0,
            (double[]){0.3, -0.4, 0.05}, NPDE_JET_LAPLACIAN);
  check_rhs("{type: fokker-planck, dim: 4, D: 0}", 4, 0.0, 0.25, a02, NPDE_JET_LAPLACIAN);
  /* the full Hessian layout: rhs uses its diagonal */
  check_rhs("{type: fokker-planck, dim: 5, D: 0.7, alpha: -0.5, a: 0.1}", 5, 0.7, -0.5,
            (double[]){0.1, 0.1, 0.1, 0.1, 0.1}, NPDE_JET_HESSIAN);
  check_rhs("{type: fokker-planck, D: 0.2}", 8, 0.2, 0.25, a02, NPDE_JET_HESSIAN);
}

Test(pde_fokker_planck, rhs_rejects_gradient_only_jets) {
  npde_pde *p = pf_make("{type: fokker-planck, dim: 2}");
  double x[2] = {0, 0}, v = 1.0, g[2] = {0, 0}, F = 0.0;
  npde_pde_jets jets = {.n = 1, .d = 2, .K = 1, .order = NPDE_JET_GRAD, .x = x, .value = &v, .grad = g};
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, &F), NPDE_ERR_INVALID_ARG);
  jets = (npde_pde_jets){.n = 1, .d = 3, .K = 1, .order = NPDE_JET_LAPLACIAN, .x = x, .value = &v, .grad = g,
                         .second = g};
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, &F), NPDE_ERR_INVALID_ARG); /* d must be dim */
  npde_pde_destroy(&p);
}

/*
 * The manufactured u = B(x) exp(-|x|^2), B = prod_k (1 - x_k^2), by hand: with E = exp(-|x|^2) and
 * B_j = prod_{k != j} (1 - x_k^2) (so B = (1 - x_j^2) B_j, d_j B = -2 x_j B_j, d_jj B = -2 B_j),
 *   d_j u  = d_j B E + B d_j E = -2 x_j E (B_j + B),
 *   d_jj u = d_jj B E + 2 d_j B d_j E + B d_jj E = E (-2 B_j + 8 x_j^2 B_j + (4 x_j^2 - 2) B).
 * grad and lap (d entries each) may be NULL.
 */
static double manufactured(int64_t d, const double *x, double *grad, double *lap) {
  double B = 1.0, r2 = 0.0;
  for (int64_t k = 0; k < d; ++k) B *= 1.0 - x[k] * x[k], r2 += x[k] * x[k];
  const double E = exp(-r2);
  for (int64_t j = 0; j < d; ++j) {
    double Bj = 1.0; /* the product without factor j, not B / (1 - x_j^2): x_j may be +-1 */
    for (int64_t k = 0; k < d; ++k)
      if (k != j) Bj *= 1.0 - x[k] * x[k];
    if (grad) grad[j] = -2.0 * x[j] * E * (Bj + B);
    if (lap) lap[j] = E * (-2.0 * Bj + 8.0 * x[j] * x[j] * Bj + (4.0 * x[j] * x[j] - 2.0) * B);
  }
  return B * E;
}

/* Component j of the flux D grad u - u h at x. */
static double flux(int64_t d, double D, double alpha, const double *trap, const double *x, int64_t j) {
  double g[FP_MAX_D], h[FP_MAX_D];
  const double u = manufactured(d, x, g, NULL);
  drift(d, trap, alpha, x, h);
  return D * g[j] - u * h[j];
}

/*
 * V21: u_t = D lap u - div(u h) = div(D grad u - u h). At n random points, rhs fed the hand-derived jets
 * of the manufactured u against the divergence of the flux by fourth-order central differences (step
 * hx) of each flux component along its own axis. Norm-wise: max |rhs - div| <= 1e-6 max |rhs|.
 */
static void check_flux(const char *yaml, int64_t d, double D, double alpha, const double *trap) {
  npde_pde *p = pf_make(yaml);
  enum { N = 25 };
  const double hx = 1e-3;
  double *x = calloc((size_t)(N * d), sizeof *x), *grad = calloc((size_t)(N * d), sizeof *grad);
  double *lap = calloc((size_t)(N * d), sizeof *lap), value[N], F[N], div[N];
  cr_assert(x && grad && lap);
  for (int64_t i = 0; i < N; ++i) {
    double *xi = x + i * d;
    for (int64_t j = 0; j < d; ++j) xi[j] = pf_uniform(-0.9, 0.9);
    value[i] = manufactured(d, xi, grad + i * d, lap + i * d);
    div[i] = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      double y[FP_MAX_D], f[5];
      memcpy(y, xi, (size_t)d * sizeof *y);
      for (int q = -2; q <= 2; ++q) {
        y[j] = xi[j] + q * hx;
        f[q + 2] = flux(d, D, alpha, trap, y, j);
      }
      div[i] += (f[0] - 8.0 * f[1] + 8.0 * f[3] - f[4]) / (12.0 * hx);
    }
  }
  npde_pde_jets jets = {.n = N, .d = d, .K = 1, .order = NPDE_JET_LAPLACIAN, .x = x, .value = value, .grad = grad,
                        .second = lap};
  cr_assert_eq(npde_pde_rhs(p, 0.0, &jets, F), NPDE_OK, "%s: %s", yaml, npde_last_error());
  double worst = 0.0, scale = 0.0;
  int at = 0;
  for (int i = 0; i < N; ++i) {
    scale = fmax(scale, fabs(F[i]));
    if (fabs(F[i] - div[i]) > worst) worst = fabs(F[i] - div[i]), at = i;
  }
  cr_expect(scale > 0.0, "%s: rhs vanished everywhere", yaml);
  cr_expect(worst <= 1e-6 * scale, "%s: |rhs - div(flux)| = %.3e at point %d (rhs %.12g, FD %.12g), max |rhs| %.3e",
            yaml, worst, at, F[at], div[at], scale);
  cr_log_info("%s: max |rhs - div flux| / max |rhs| = %.3e", yaml, worst / scale);
  free(x), free(grad), free(lap);
  npde_pde_destroy(&p);
}

Test(pde_fokker_planck, rhs_is_the_divergence_of_the_flux) {
  double a02[FP_MAX_D];
  for (int j = 0; j < FP_MAX_D; ++j) a02[j] = 0.2;
  const int64_t dims[] = {2, 5, 8, 20};
  for (size_t c = 0; c < sizeof dims / sizeof *dims; ++c) {
    char yaml[96];
    snprintf(yaml, sizeof yaml, "{type: fokker-planck, dim: %lld}", (long long)dims[c]);
    check_flux(yaml, dims[c], 0.01, 0.25, a02);
    /* diffusion large enough to matter, another coupling */
    snprintf(yaml, sizeof yaml, "{type: fokker-planck, dim: %lld, D: 0.5, alpha: -0.7, a: -0.1}", (long long)dims[c]);
    double am[FP_MAX_D];
    for (int j = 0; j < FP_MAX_D; ++j) am[j] = -0.1;
    check_flux(yaml, dims[c], 0.5, -0.7, am);
  }
  check_flux("{type: fokker-planck, dim: 5, D: 0.2, alpha: 1.5, a: [0.841471, 0.272789, -0.04234, -0.287207, "
             "-0.083839]}",
             5, 0.2, 1.5, (double[]){0.841471, 0.272789, -0.04234, -0.287207, -0.083839});
}

/* The manufactured jets against central differences of manufactured() itself (the hand derivation). */
Test(pde_fokker_planck, manufactured_jets_are_its_derivatives) {
  const int64_t d = 6;
  const double h = 1e-3;
  for (int i = 0; i < 10; ++i) {
    double x[6], g[6], l[6];
    for (int j = 0; j < d; ++j) x[j] = pf_uniform(-0.95, 0.95);
    const double u = manufactured(d, x, g, l);
    for (int j = 0; j < d; ++j) {
      double f[5], y[6];
      memcpy(y, x, sizeof y);
      for (int q = -2; q <= 2; ++q) y[j] = x[j] + q * h, f[q + 2] = manufactured(d, y, NULL, NULL);
      const double d1 = (f[0] - 8.0 * f[1] + 8.0 * f[3] - f[4]) / (12.0 * h);
      const double d2 = (-f[0] + 16.0 * f[1] - 30.0 * f[2] + 16.0 * f[3] - f[4]) / (12.0 * h * h);
      cr_expect(fabs(d1 - g[j]) <= 1e-8 * fmax(fabs(u), 1e-3), "d_%d u: %.12g vs FD %.12g", j, g[j], d1);
      cr_expect(fabs(d2 - l[j]) <= 1e-6 * fmax(fabs(u), 1e-3), "d_%d%d u: %.12g vs FD %.12g", j, j, l[j], d2);
    }
  }
}

Test(pde_fokker_planck, yaml_errors) {
  pf_expect_config_error("{type: fokker-planck, dim: 65}",
                         (const char *[]){"t.yaml:1:28", "'dim' = 65", "out of range [1, 64]", NULL});
  pf_expect_config_error("{type: fokker-planck, dim: 0}", (const char *[]){"'dim' = 0", "out of range [1, 64]", NULL});
  pf_expect_config_error("{type: fokker-planck, dim: 2.5}", (const char *[]){"'dim'", "integer", NULL});
  pf_expect_config_error("type: fokker-planck\nD: -0.1\n", (const char *[]){"t.yaml:2:4", "'D'", ">= 0", NULL});
  pf_expect_config_error("{type: fokker-planck, D: .nan}", (const char *[]){"'D'", ".nan", NULL});
  pf_expect_config_error("{type: fokker-planck, alpha: .inf}", (const char *[]){"'alpha'", "finite", NULL});
  pf_expect_config_error("{type: fokker-planck, dim: 3, a: [0.1, 0.2]}",
                         (const char *[]){"t.yaml:1:34", "'a'", "2 entries", "dim = 3", NULL});
  pf_expect_config_error("{type: fokker-planck, a: [0.1, far]}", (const char *[]){"'a'", "far", NULL});
  pf_expect_config_error("{type: fokker-planck, diffusion: 0.1}",
                         (const char *[]){"diffusion", "dim", "D", "alpha", "a", NULL});
}
