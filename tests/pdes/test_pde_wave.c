/* The wave PDE plugin (docs/methods/neural-ivp.md §7, §7.1, §7.2, §10.1): the golden radial IC
 * values, the Gaussian IC, rhs [u_1, c^2 lap u_0] on hand-derived jets, the
 * source-free radial solution f(r - ct) H(r - ct) / r against the PDE (FD in
 * t against rhs on FD and analytic x-jets) and against its IC, the wave
 * packet against an independent formula and mpmath values, info, YAML errors. */
#include "pde_fixture.h"

#define TWO_PI 6.283185307179586

/* docs/methods/neural-ivp.md §10.1: the radial wave's IC at r = 0.07 */
#define GOLDEN_PHI0 0.052543553839
#define GOLDEN_PHIT0 -0.030024887908

TestSuite(pde_wave, .init = pf_setup, .fini = pf_teardown);

/* [phi, phi_t] of the yaml's PDE at one point: exact(t) (t >= 0) or initial (t < 0). */
static void eval2(const npde_pde *p, double t, const double *x, double *U) {
  npde_status st = t < 0 ? npde_pde_initial(p, x, 1, U) : npde_pde_exact(p, t, x, 1, U);
  cr_assert_eq(st, NPDE_OK, "%s", npde_last_error());
}

Test(pde_wave, golden_radial_initial_values) {
  npde_pde *p = pf_make("{type: wave, initial: radial}");
  /* r = 0.07 along an axis and along a generic direction (0.03, -0.02, 0.06) */
  const double xs[2][3] = {{0.07, 0.0, 0.0}, {0.03, -0.02, 0.06}};
  for (int c = 0; c < 2; ++c) {
    double U[2], E[2];
    eval2(p, -1.0, xs[c], U);
    cr_expect(fabs(U[0] - GOLDEN_PHI0) <= 1e-11, "phi0 at r = 0.07: %.15g, expected %.15g", U[0], GOLDEN_PHI0);
    cr_expect(fabs(U[1] - GOLDEN_PHIT0) <= 1e-11, "phi_t0 at r = 0.07: %.15g, expected %.15g", U[1], GOLDEN_PHIT0);
    eval2(p, 0.0, xs[c], E);
    cr_expect(E[0] == U[0] && E[1] == U[1], "exact(0) = (%.17g, %.17g), initial (%.17g, %.17g)", E[0], E[1], U[0],
              U[1]);
  }
  /* the origin: the cone's tip phi0 = 0, phi_t0 = -4 */
  double U[2];
  eval2(p, -1.0, (double[]){0, 0, 0}, U);
  cr_expect(U[0] == 0.0 && U[1] == -4.0, "at the origin: (%.17g, %.17g)", U[0], U[1]);
  eval2(p, 0.0, (double[]){0, 0, 0}, U);
  cr_expect(U[0] == 0.0 && U[1] == -4.0, "exact(0) at the origin: (%.17g, %.17g)", U[0], U[1]);
  npde_pde_destroy(&p);
  /* center moves the origin of r; c scales phi_t0 */
  p = pf_make("{type: wave, initial: radial, center: [0.1, 0.2, -0.3], c: 0.5}");
  eval2(p, -1.0, (double[]){0.17, 0.2, -0.3}, U);
  cr_expect(fabs(U[0] - GOLDEN_PHI0) <= 1e-11, "shifted phi0 %.15g", U[0]);
  cr_expect(fabs(U[1] - 0.5 * GOLDEN_PHIT0) <= 1e-11, "c = 0.5: phi_t0 %.15g", U[1]);
  npde_pde_destroy(&p);
}

Test(pde_wave, gaussian_initial_value) {
  npde_pde *p = pf_make("{type: wave}");
  double U[2];
  cr_assert_eq(npde_pde_initial(p, (double[]){0.03, -0.02, 0.0}, 1, U), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(U[0] - PF_GOLDEN_G) <= 1e-11, "G(0.03, -0.02, 0) = %.15g, expected %.15g", U[0], PF_GOLDEN_G);
  cr_expect(U[1] == 0.0, "phi_t0 = %g", U[1]);
  /* in 3D the free-space solution is exact (gaussian_exact_* below) */
  cr_expect_eq(npde_pde_exact(p, 0.1, (double[]){0, 0, 0}, 1, U), NPDE_OK, "%s", npde_last_error());
  npde_pde_destroy(&p);
  p = pf_make("{type: wave, dim: 2, c: 0.31622776601683794}");
  cr_assert_eq(npde_pde_initial(p, (double[]){0.03, -0.02}, 1, U), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(U[0] - PF_GOLDEN_G) <= 1e-11, "2D: G(0.03, -0.02) = %.15g", U[0]);
  cr_expect(U[1] == 0.0);
  npde_pde_destroy(&p);
  p = pf_make("{type: wave, dim: 2, s: 0.2, scale: 3, center: [0.1, -0.1]}");
  cr_assert_eq(npde_pde_initial(p, (double[]){0.2, 0.1}, 1, U), NPDE_OK, "%s", npde_last_error());
  const double want = 3.0 * exp(-(0.01 + 0.04) / (2 * 0.04)) / (TWO_PI * 0.04);
  cr_expect(fabs(U[0] - want) <= 1e-14 * want, "G with s = 0.2, scale 3: %.17g vs %.17g", U[0], want);
  npde_pde_destroy(&p);
}

Test(pde_wave, info) {
  npde_pde *p = pf_make("{type: wave}");
  npde_pde_info info = npde_pde_get_info(p);
  cr_expect_eq(info.struct_size, sizeof(npde_pde_info));
  cr_expect_eq(info.dim, 3);
  cr_expect_eq(info.outputs, 2);
  cr_expect_eq(info.order, NPDE_JET_LAPLACIAN);
  cr_expect(info.has_exact, "the 3D gaussian has the free-space solution");
  cr_expect(info.dirichlet_zero);
  npde_pde_destroy(&p);
  p = pf_make("{type: wave, initial: radial}");
  info = npde_pde_get_info(p);
  cr_expect(info.has_exact && info.dirichlet_zero && info.dim == 3 && info.outputs == 2);
  npde_pde_destroy(&p);
  p = pf_make("{type: wave, initial: packet}");
  cr_expect(!npde_pde_get_info(p).has_exact);
  npde_pde_destroy(&p);
  p = pf_make("{type: wave, dim: 2}");
  cr_expect_eq(npde_pde_get_info(p).dim, 2);
  cr_expect(npde_pde_get_info(p).has_exact, "the 2D gaussian has its sine series on the square");
  npde_pde_destroy(&p);
  p = pf_make("{type: wave, dim: 8}");
  cr_expect_eq(npde_pde_get_info(p).dim, 8);
  npde_pde_destroy(&p);
}

/* rhs on K = 2 jets: u_0 = the fixture's test function (a, b), u_1 = another (a1, b1); against the
 * closed forms F = [u_1, c^2 lap u_0]. */
static void check_rhs(const char *yaml, int64_t d, double c, npde_jet_order order) {
  npde_pde *p = pf_make(yaml);
  enum { N = 30 };
  double x[N * PF_MAX_D], value[2 * N], grad[2 * N * PF_MAX_D], second[2 * N * PF_MAX_D * PF_MAX_D], F[2 * N];
  double a[PF_MAX_D], b[PF_MAX_D], a1[PF_MAX_D], b1[PF_MAX_D];
  for (int64_t j = 0; j < d; ++j) {
    a[j] = 0.25 * sin(0.5 + (double)j), b[j] = 1.2 + 0.3 * (double)j;
    a1[j] = -0.3 * cos(1.5 * (double)j), b1[j] = 2.5 - 0.6 * (double)j;
  }
  for (int64_t i = 0; i < N * d; ++i) x[i] = pf_uniform(-1.0, 1.0);
  const int64_t srow = order == NPDE_JET_HESSIAN ? d * d : d;
  for (int64_t i = 0; i < N; ++i)
    for (int k = 0; k < 2; ++k) {
      double *g = grad + (2 * i + k) * d, *s = second + (2 * i + k) * srow;
      value[2 * i + k] = pf_test_fn(d, k ? a1 : a, k ? b1 : b, x + i * d, g, order == NPDE_JET_HESSIAN ? NULL : s,
                                    order == NPDE_JET_HESSIAN ? s : NULL);
    }
  npde_pde_jets jets = {.n = N, .d = d, .K = 2, .order = order, .x = x, .value = value, .grad = grad,
                        .second = second};
  cr_assert_eq(npde_pde_rhs(p, 0.2, &jets, F), NPDE_OK, "%s: %s", yaml, npde_last_error());
  for (int64_t i = 0; i < N; ++i) {
    const double *xi = x + i * d;
    double r2 = 0.0, bx = 0.0;
    for (int64_t j = 0; j < d; ++j) r2 += (xi[j] - a1[j]) * (xi[j] - a1[j]), bx += b1[j] * xi[j];
    const double want0 = exp(-r2) * sin(bx), want1 = c * c * pf_test_laplacian(d, a, b, xi);
    cr_expect(fabs(F[2 * i] - want0) <= 1e-12 * fmax(1.0, fabs(want0)), "%s: point %lld: F_0 %.17g, u_1 %.17g", yaml,
              (long long)i, F[2 * i], want0);
    cr_expect(fabs(F[2 * i + 1] - want1) <= 1e-12 * fmax(1.0, fabs(want1)),
              "%s: point %lld: F_1 %.17g, c^2 lap u_0 %.17g", yaml, (long long)i, F[2 * i + 1], want1);
  }
  npde_pde_destroy(&p);
}

Test(pde_wave, rhs_on_analytic_jets) {
  check_rhs("{type: wave}", 3, 1.0, NPDE_JET_LAPLACIAN);
  check_rhs("{type: wave, dim: 2, c: 0.31622776601683794}", 2, 0.31622776601683794, NPDE_JET_LAPLACIAN);
  check_rhs("{type: wave, dim: 1, c: 2}", 1, 2.0, NPDE_JET_LAPLACIAN);
  check_rhs("{type: wave, dim: 8, c: 0.5}", 8, 0.5, NPDE_JET_LAPLACIAN);
  check_rhs("{type: wave, initial: radial, c: 1.5}", 3, 1.5, NPDE_JET_LAPLACIAN);
  check_rhs("{type: wave, c: 0}", 3, 0.0, NPDE_JET_LAPLACIAN);
  /* the full Hessian layout: rhs sums its diagonal */
  check_rhs("{type: wave, c: 0.7}", 3, 0.7, NPDE_JET_HESSIAN);
  check_rhs("{type: wave, dim: 5, c: 1.1}", 5, 1.1, NPDE_JET_HESSIAN);
}

Test(pde_wave, rhs_rejects_gradient_only_jets_and_takes_no_points) {
  npde_pde *p = pf_make("{type: wave}");
  double x[3] = {0, 0, 0}, v[2] = {1, 2}, g[6] = {0}, F[2] = {0};
  npde_pde_jets jets = {.n = 1, .d = 3, .K = 2, .order = NPDE_JET_GRAD, .x = x, .value = v, .grad = g};
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, F), NPDE_ERR_INVALID_ARG);
  jets = (npde_pde_jets){.n = 1, .d = 3, .K = 1, .order = NPDE_JET_LAPLACIAN, .x = x, .value = v, .grad = g,
                         .second = g};
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, F), NPDE_ERR_INVALID_ARG); /* K must be 2 */
  jets = (npde_pde_jets){.n = 0, .d = 3, .K = 2, .order = NPDE_JET_LAPLACIAN};
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, F), NPDE_OK, "%s", npde_last_error());
  cr_expect_eq(npde_pde_initial(p, x, 0, F), NPDE_OK, "%s", npde_last_error());
  npde_pde_destroy(&p);
}

/* f''(s) for f(s) = 2 s^2 e^{-200 s^2}: (4 - 4000 s^2 + 320000 s^4) e^{-200 s^2}. */
static double f2(double s) { return (4.0 - 4000.0 * s * s + 320000.0 * s * s * s * s) * exp(-200.0 * s * s); }

/* Fourth-order central differences of [phi, phi_t] = exact() at (t, x) along axis j (j < 0: along t):
 * first derivatives into d1[2], pure second derivatives into d2[2]. */
static void fd2(const npde_pde *p, double t, const double *x, int64_t j, double h, double *d1, double *d2) {
  double f[5][2];
  for (int q = -2; q <= 2; ++q) {
    double y[3] = {x[0], x[1], x[2]}, tt = t;
    if (j < 0) tt += q * h;
    else y[j] += q * h;
    eval2(p, tt, y, f[q + 2]);
  }
  for (int k = 0; k < 2; ++k) {
    d1[k] = (f[0][k] - 8.0 * f[1][k] + 8.0 * f[3][k] - f[4][k]) / (12.0 * h);
    d2[k] = (-f[0][k] + 16.0 * f[1][k] - 30.0 * f[2][k] + 16.0 * f[3][k] - f[4][k]) / (12.0 * h * h);
  }
}

/* lap phi of the radial solution: (r phi)_rr / r with r phi = f(r - c t). */
static double radial_lap(double r, double c, double t) { return f2(r - c * t) / r; }

/* The default Gaussian IC, g(u) = G_AMP e^{-u^2 / (2 G_VAR)} (s = 0.05, scale 1/30). */
#define G_VAR (0.05 * 0.05)
#define G_AMP ((1.0 / 30.0) / (TWO_PI * G_VAR))

/* lap phi of the 3D Gaussian's (s = 0.05, scale 1/30) free-space solution: r phi = [h(r + ct) + h(r - ct)]/2
 * with h(u) = u g(u), so lap phi = [h''(r + ct) + h''(r - ct)] / (2r), h''(u) = g(u) u (u^2/s^4 - 3/s^2). */
static double gaussian_lap(double r, double c, double t) {
  double sum = 0.0;
  for (int sign = -1; sign <= 1; sign += 2) {
    const double u = r + sign * c * t;
    sum += G_AMP * exp(-u * u / (2 * G_VAR)) * u * (u * u / (G_VAR * G_VAR) - 3.0 / G_VAR);
  }
  return sum / (2.0 * r);
}

/*
 * An exact solution satisfies u_t = [u_1, c^2 lap u_0] at N points with r_lo < r < r_hi (r = |x - center|,
 * random directions; the radial wave: away from its front r = c t and the origin), u_t by differences of
 * exact() in t against rhs fed the jets of exact(): second derivatives by differences in x, and the
 * analytic lap phi = lap(r, c, t). Relative to the largest |rhs| of each component.
 */
static void check_exact_satisfies(const char *yaml, double c, const double *center, double t, double r_lo,
                                  double r_hi, double (*lap)(double r, double c, double t)) {
  npde_pde *p = pf_make(yaml);
  enum { N = 24 };
  const double h = 2.5e-4;
  double x[N * 3], value[2 * N], grad[2 * N * 3] = {0}, sfd[2 * N * 3] = {0}, san[2 * N * 3] = {0};
  double ut[2 * N], Ffd[2 * N], Fan[2 * N];
  for (int i = 0; i < N; ++i) {
    double dir[3], n2 = 0.0;
    do {
      n2 = 0.0;
      for (int j = 0; j < 3; ++j) dir[j] = pf_uniform(-1.0, 1.0), n2 += dir[j] * dir[j];
    } while (n2 < 0.05 || n2 > 1.0);
    const double r = pf_uniform(r_lo, r_hi);
    double *xi = x + 3 * i;
    for (int j = 0; j < 3; ++j) xi[j] = center[j] + r * dir[j] / sqrt(n2);
    eval2(p, t, xi, value + 2 * i);
    double d1[2], d2[2];
    fd2(p, t, xi, -1, h, ut + 2 * i, d2);
    for (int j = 0; j < 3; ++j) {
      fd2(p, t, xi, j, h, d1, d2);
      grad[2 * i * 3 + j] = d1[0], grad[(2 * i + 1) * 3 + j] = d1[1];
      sfd[2 * i * 3 + j] = d2[0], sfd[(2 * i + 1) * 3 + j] = d2[1];
    }
    /* analytic: lap phi in one slot (rhs sums the d entries) */
    const double rr = sqrt((xi[0] - center[0]) * (xi[0] - center[0]) + (xi[1] - center[1]) * (xi[1] - center[1]) +
                           (xi[2] - center[2]) * (xi[2] - center[2]));
    san[2 * i * 3] = lap(rr, c, t);
  }
  npde_pde_jets jets = {.n = N, .d = 3, .K = 2, .order = NPDE_JET_LAPLACIAN, .x = x, .value = value, .grad = grad,
                        .second = sfd};
  cr_assert_eq(npde_pde_rhs(p, t, &jets, Ffd), NPDE_OK, "%s", npde_last_error());
  jets.second = san;
  cr_assert_eq(npde_pde_rhs(p, t, &jets, Fan), NPDE_OK, "%s", npde_last_error());
  for (int pass = 0; pass < 2; ++pass) {
    const double *F = pass ? Fan : Ffd;
    for (int k = 0; k < 2; ++k) {
      double worst = 0.0, scale = 0.0;
      int at = 0;
      for (int i = 0; i < N; ++i) {
        scale = fmax(scale, fabs(F[2 * i + k]));
        if (fabs(ut[2 * i + k] - F[2 * i + k]) > worst) worst = fabs(ut[2 * i + k] - F[2 * i + k]), at = i;
      }
      cr_expect(scale > 1e-3, "%s: rhs component %d is (nearly) zero at every point", yaml, k);
      cr_expect(worst <= 1e-6 * scale,
                "%s, t = %g, %s x-jets, component %d: |u_t - F| = %.3e at point %d (u_t %.12g, F %.12g), max |F| %.3e",
                yaml, t, pass ? "analytic" : "FD", k, worst, at, ut[2 * at + k], F[2 * at + k], scale);
      cr_log_info("%s t = %g %s k = %d: rel %.3e", yaml, t, pass ? "analytic" : "FD", k, worst / scale);
    }
  }
  npde_pde_destroy(&p);
}

static void check_radial_satisfies(const char *yaml, double c, const double *center, double t) {
  check_exact_satisfies(yaml, c, center, t, c * t + 0.05, c * t + 0.35, radial_lap);
}

Test(pde_wave, radial_exact_satisfies_the_pde) {
  const double origin[3] = {0, 0, 0};
  for (double t = 0.1; t < 0.5; t += 0.15) check_radial_satisfies("{type: wave, initial: radial}", 1.0, origin, t);
  check_radial_satisfies("{type: wave, initial: radial, c: 0.5, center: [0.1, -0.2, 0.05]}", 0.5,
                         (double[]){0.1, -0.2, 0.05}, 0.3);
  /* near t = 0 (the stencil in t stays at t >= 0) */
  check_radial_satisfies("{type: wave, initial: radial}", 1.0, origin, 1e-3);
}

/* The 3D Gaussian's free-space solution: smooth everywhere, so on a shell around the pulse at r = c t. */
Test(pde_wave, gaussian_exact_satisfies_the_pde) {
  const double origin[3] = {0, 0, 0};
  for (double t = 0.1; t < 0.5; t += 0.15)
    check_exact_satisfies("{type: wave}", 1.0, origin, t, fmax(0.02, t - 0.15), t + 0.15, gaussian_lap);
  check_exact_satisfies("{type: wave, c: 0.5, center: [0.1, -0.2, 0.05]}", 0.5, (double[]){0.1, -0.2, 0.05}, 0.3,
                        0.02, 0.3, gaussian_lap);
  /* near t = 0, while the pulse is still at the center */
  check_exact_satisfies("{type: wave}", 1.0, origin, 1e-3, 0.01, 0.15, gaussian_lap);
}

/* exact(0) is the IC; later the pulse splits into the outgoing shell r phi = (r - ct) g(r - ct) / 2 (far
 * from the center the incoming half is negligible); at the center the r -> 0 limit joins the formula. */
Test(pde_wave, gaussian_exact_is_the_initial_pulse_and_spreads) {
  npde_pde *p = pf_make("{type: wave}");
  enum { N = 40 };
  double x[N * 3], u0[2 * N], ue[2 * N];
  for (int i = 0; i < N * 3; ++i) x[i] = pf_uniform(-0.2, 0.2);
  cr_assert_eq(npde_pde_initial(p, x, N, u0), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pde_exact(p, 0.0, x, N, ue), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < 2 * N; ++i) cr_expect(ue[i] == u0[i], "entry %d: exact(0) %.17g, initial %.17g", i, ue[i], u0[i]);
  /* on the outgoing shell at t = 0.4, r = 0.42 */
  double U[2];
  eval2(p, 0.4, (double[]){0.0, 0.42, 0.0}, U);
  const double u = 0.02, g = G_AMP * exp(-u * u / (2 * G_VAR));
  cr_expect(fabs(U[0] - u * g / (2 * 0.42)) <= 1e-12 * fabs(U[0]), "phi on the shell %.17g vs %.17g", U[0],
            u * g / (2 * 0.42));
  cr_expect(fabs(U[1] + g * (1 - u * u / G_VAR) / (2 * 0.42)) <= 1e-12 * fabs(U[1]), "phi_t on the shell %.17g", U[1]);
  /* continuity at the center: r = 0 (the limit) against r = 2e-6 and 1e-3 (the formula) */
  for (double t = 0.02; t < 0.2; t += 0.05) {
    double U0[2], U1[2], U2[2];
    eval2(p, t, (double[]){0, 0, 0}, U0);
    eval2(p, t, (double[]){0, 2e-6, 0}, U1);
    eval2(p, t, (double[]){1e-3, 0, 0}, U2);
    for (int k = 0; k < 2; ++k) {
      const double scale = fmax(fabs(U0[k]), 1e-3 * G_AMP);
      cr_expect(fabs(U1[k] - U0[k]) <= 1e-7 * scale, "t = %g, k = %d: r = 2e-6 %.12g vs r = 0 %.12g", t, k, U1[k],
                U0[k]);
      cr_expect(fabs(U2[k] - U0[k]) <= 1e-2 * scale, "t = %g, k = %d: r = 1e-3 %.12g vs r = 0 %.12g", t, k, U2[k],
                U0[k]);
    }
  }
  /* 2D has its sine series on the square (gaussian_2d_series_on_the_square); the other dimensions none */
  npde_pde_destroy(&p);
  p = pf_make("{type: wave, dim: 1}");
  cr_expect_eq(npde_pde_exact(p, 0.1, (double[]){0}, 1, U), NPDE_ERR_NOT_IMPLEMENTED);
  cr_expect(!npde_pde_get_info(p).has_exact);
  npde_pde_destroy(&p);
}

/* The 2D Gaussian on the square with phi = 0 on the faces: the sine series starts at the IC, vanishes on the
 * faces, and satisfies phi_t = d/dt phi and phi_tt = c^2 lap phi by differences. */
Test(pde_wave, gaussian_2d_series_on_the_square) {
  const double c = 0.31622776601683794;
  npde_pde *p = pf_make("{type: wave, dim: 2, c: 0.31622776601683794, s: 0.1, scale: 1, center: [0.1, -0.2]}");
  cr_expect(npde_pde_get_info(p).has_exact);
  const double peak = 1.0 / (2 * M_PI * 0.01);
  enum { N = 12 };
  double x[2 * N], U0[2 * N], U[2 * N];
  for (int i = 0; i < N; ++i) x[2 * i] = 0.1 + pf_uniform(-0.3, 0.3), x[2 * i + 1] = -0.2 + pf_uniform(-0.3, 0.3);
  cr_assert_eq(npde_pde_initial(p, x, N, U0), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pde_exact(p, 1e-9, x, N, U), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < N; ++i) {
    cr_expect(fabs(U[2 * i] - U0[2 * i]) <= 1e-10 * peak, "point %d: series %.15g, IC %.15g", i, U[2 * i], U0[2 * i]);
    cr_expect(fabs(U[2 * i + 1]) <= 1e-6 * peak, "point %d: phi_t(0+) = %g", i, U[2 * i + 1]);
  }
  /* the faces */
  double f[8] = {-1, 0.3, 1, -0.7, 0.45, -1, -0.2, 1}, Uf[8];
  cr_assert_eq(npde_pde_exact(p, 0.7, f, 4, Uf), NPDE_OK, "%s", npde_last_error());
  for (int k = 0; k < 8; ++k) cr_expect(fabs(Uf[k]) <= 1e-13 * peak, "face value %d: %g", k, Uf[k]);
  /* phi_t = d phi / dt, phi_tt = c^2 lap phi (fourth-order differences, h = 1e-3) */
  const double t = 0.4, h = 1e-3;
  for (int i = 0; i < N; ++i) {
    double v[5][2], lap = 0.0;
    for (int q = -2; q <= 2; ++q) cr_assert_eq(npde_pde_exact(p, t + q * h, x + 2 * i, 1, v[q + 2]), NPDE_OK);
    const double dphi = (v[0][0] - 8 * v[1][0] + 8 * v[3][0] - v[4][0]) / (12 * h);
    const double dphit = (v[0][1] - 8 * v[1][1] + 8 * v[3][1] - v[4][1]) / (12 * h);
    for (int a = 0; a < 2; ++a) {
      double w[5][2];
      for (int q = -2; q <= 2; ++q) {
        double y[2] = {x[2 * i], x[2 * i + 1]};
        y[a] += q * h;
        cr_assert_eq(npde_pde_exact(p, t, y, 1, w[q + 2]), NPDE_OK);
      }
      lap += (-w[0][0] + 16 * w[1][0] - 30 * w[2][0] + 16 * w[3][0] - w[4][0]) / (12 * h * h);
    }
    cr_expect(fabs(dphi - v[2][1]) <= 1e-6 * peak, "point %d: d phi/dt %.10g, phi_t %.10g", i, dphi, v[2][1]);
    cr_expect(fabs(dphit - c * c * lap) <= 1e-5 * peak, "point %d: phi_tt %.10g, c^2 lap phi %.10g", i, dphit,
              c * c * lap);
  }
  npde_pde_destroy(&p);
}

Test(pde_wave, radial_exact_is_the_outgoing_initial_profile) {
  npde_pde *p = pf_make("{type: wave, initial: radial}");
  enum { N = 40 };
  double x[N * 3], u0[2 * N], ue[2 * N];
  for (int i = 0; i < N * 3; ++i) x[i] = pf_uniform(-0.5, 0.5);
  x[0] = x[1] = x[2] = 0.0; /* the origin too */
  cr_assert_eq(npde_pde_initial(p, x, N, u0), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pde_exact(p, 0.0, x, N, ue), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < 2 * N; ++i) cr_expect(ue[i] == u0[i], "entry %d: exact(0) %.17g, initial %.17g", i, ue[i], u0[i]);
  /* r u(r, t) = (r - t) u0(r - t) for r > t (r phi = f(r - t) and f(s) = s phi0(s), likewise phi_t), 0 inside */
  const double t = 0.21;
  cr_assert_eq(npde_pde_exact(p, t, x, N, ue), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < N; ++i) {
    const double *xi = x + 3 * i;
    const double r = sqrt(xi[0] * xi[0] + xi[1] * xi[1] + xi[2] * xi[2]);
    double want[2] = {0.0, 0.0};
    if (r > t) {
      double y[3] = {r - t, 0.0, 0.0}, U[2];
      eval2(p, -1.0, y, U);
      want[0] = (r - t) * U[0] / r, want[1] = (r - t) * U[1] / r;
    }
    for (int k = 0; k < 2; ++k)
      cr_expect(fabs(ue[2 * i + k] - want[k]) <= 1e-13 * fmax(1.0, fabs(want[k])),
                "point %d (r = %g), component %d: exact %.17g, profile %.17g", i, r, k, ue[2 * i + k], want[k]);
  }
  /* a value by hand: r = 0.27, t = 0.2, s = 0.07: phi = f(s)/r, phi_t = -f'(s)/r */
  double U[2];
  eval2(p, 0.2, (double[]){0.0, 0.27, 0.0}, U);
  const double s = 0.07, e = exp(-200 * s * s);
  const double phi = 2 * s * s * e / 0.27, phit = -(4 * s - 800 * s * s * s) * e / 0.27;
  cr_expect(fabs(U[0] - phi) <= 1e-14 && fabs(U[1] - phit) <= 1e-14, "(%.17g, %.17g) vs (%.17g, %.17g)", U[0], U[1],
            phi, phit);
  /* inside the front and at the origin: at rest */
  eval2(p, 0.3, (double[]){0.1, -0.1, 0.2}, U);
  cr_expect(U[0] == 0.0 && U[1] == 0.0, "inside: (%g, %g)", U[0], U[1]);
  eval2(p, 0.3, (double[]){0, 0, 0}, U);
  cr_expect(U[0] == 0.0 && U[1] == 0.0, "origin: (%g, %g)", U[0], U[1]);
  /* the faces: tiny but not zero (e^-200) */
  eval2(p, -1.0, (double[]){1.0, 0.0, 0.0}, U);
  cr_expect(fabs(U[0]) < 1e-80 && fabs(U[1]) < 1e-80, "face: (%g, %g)", U[0], U[1]);
  /* before time 0 */
  cr_expect_eq(npde_pde_exact(p, -0.1, x, 1, U), NPDE_ERR_INVALID_ARG);
  npde_pde_destroy(&p);
}

/* The packet of docs/methods/neural-ivp.md §7.2, written out independently: centres (0, 1/2, 1/2) and -(1, 1, 1)/6,
 * directions n = (1, 1, 0)/sqrt(2), m = (1/6, 1/2, 0). */
static double packet_ref(const double *x, double s1, double s2, double f) {
  const double c1[3] = {0.0, 0.5, 0.5}, c2[3] = {-1.0 / 6, -1.0 / 6, -1.0 / 6};
  const double n[3] = {1.0 / sqrt(2.0), 1.0 / sqrt(2.0), 0.0}, m[3] = {1.0 / 6, 0.5, 0.0};
  double v2 = 0.0, w2 = 0.0, xn = 0.0, xm = 0.0;
  for (int j = 0; j < 3; ++j) {
    v2 += (x[j] - c1[j]) * (x[j] - c1[j]);
    w2 += (x[j] - c2[j]) * (x[j] - c2[j]);
    xn += x[j] * n[j];
    xm += x[j] * m[j];
  }
  const double pi = TWO_PI / 2;
  return 30.0 * exp(-v2 / (2 * s1 * s1)) * cos(2 * pi * f * xn) / (2 * pi * s1 * s1) +
         24.0 * exp(-w2 / (2 * s2 * s2)) * cos(2 * pi * f * xm) / (2 * pi * s2 * s2);
}

static void check_packet(const char *yaml, double s1, double s2, double f, const double *center) {
  npde_pde *p = pf_make(yaml);
  enum { N = 60 };
  double x[N * 3], U[2 * N], want[N], big = 0.0;
  for (int i = 0; i < N * 3; ++i) x[i] = pf_uniform(-1.0, 1.0);
  cr_assert_eq(npde_pde_initial(p, x, N, U), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < N; ++i) {
    double y[3];
    for (int j = 0; j < 3; ++j) y[j] = x[3 * i + j] - center[j];
    want[i] = packet_ref(y, s1, s2, f);
    big = fmax(big, fabs(want[i]));
  }
  for (int i = 0; i < N; ++i) {
    cr_expect(fabs(U[2 * i] - want[i]) <= 1e-13 * big, "%s: point %d: phi0 %.17g, formula %.17g", yaml, i, U[2 * i],
              want[i]);
    cr_expect(U[2 * i + 1] == 0.0, "%s: phi_t0 = %g", yaml, U[2 * i + 1]);
  }
  cr_expect_eq(npde_pde_exact(p, 0.1, x, 1, U), NPDE_ERR_NOT_IMPLEMENTED);
  npde_pde_destroy(&p);
}

Test(pde_wave, packet_initial_condition) {
  /* values computed with mpmath (30 digits) from the formula of docs/methods/neural-ivp.md §7.2,
   * s1 = 0.15, s2 = 0.25, f = 1 */
  npde_pde *p = pf_make("{type: wave, initial: packet}");
  const double xs[3][3] = {{0.1, 0.4, 0.3}, {-0.2, -0.1, -0.15}, {0.0, 0.5, 0.5}};
  const double golden[3] = {-33.784531342517161, 50.514367193890091, -128.53350383426283};
  for (int c = 0; c < 3; ++c) {
    double U[2];
    eval2(p, -1.0, xs[c], U);
    cr_expect(fabs(U[0] - golden[c]) <= 1e-12 * fabs(golden[c]), "packet at (%g, %g, %g): %.17g, expected %.17g",
              xs[c][0], xs[c][1], xs[c][2], U[0], golden[c]);
    cr_expect(U[1] == 0.0);
  }
  npde_pde_destroy(&p);
  /* f = 3 (mpmath) */
  p = pf_make("{type: wave, initial: packet, frequency: 3}");
  double U[2];
  eval2(p, -1.0, xs[0], U);
  cr_expect(fabs(U[0] - 51.650186276301969) <= 1e-12 * 51.65, "f = 3: %.17g", U[0]);
  npde_pde_destroy(&p);
  const double origin[3] = {0, 0, 0};
  check_packet("{type: wave, initial: packet}", 0.15, 0.25, 1.0, origin);
  check_packet("{type: wave, initial: packet, s1: 0.1, s2: 0.3, frequency: 4}", 0.1, 0.3, 4.0, origin);
  check_packet("{type: wave, initial: packet, frequency: 2, center: [0.1, -0.05, 0.2]}", 0.15, 0.25, 2.0,
               (double[]){0.1, -0.05, 0.2});
}

Test(pde_wave, yaml_errors) {
  /* the 3D ICs in another dimension: the message names the `initial` node */
  pf_expect_config_error("{type: wave, dim: 2, initial: radial}",
                         (const char *[]){"t.yaml:1:31", "radial", "dim = 3", "dim = 2", NULL});
  pf_expect_config_error("type: wave\ndim: 1\ninitial: packet\n",
                         (const char *[]){"t.yaml:3:10", "packet", "dim = 3", "dim = 1", NULL});
  /* an unknown IC lists the choices */
  pf_expect_config_error("{type: wave, initial: spherical}",
                         (const char *[]){"t.yaml:1:23", "initial", "spherical", "gaussian|radial|packet", NULL});
  pf_expect_config_error("{type: wave, speed: 1}", (const char *[]){"speed", "dim", "c", "initial", "s", "scale",
                                                                     "center", "s1", "s2", "frequency", NULL});
  pf_expect_config_error("type: wave\nc: -1\n", (const char *[]){"t.yaml:2:4", "'c'", ">= 0", NULL});
  pf_expect_config_error("{type: wave, c: .inf}", (const char *[]){"'c'", "finite", NULL});
  pf_expect_config_error("{type: wave, dim: 9}", (const char *[]){"dim", "out of range [1, 8]", NULL});
  pf_expect_config_error("{type: wave, dim: 0}", (const char *[]){"dim", "out of range", NULL});
  pf_expect_config_error("{type: wave, center: [0.1, 0.2]}",
                         (const char *[]){"t.yaml:1:22", "center", "2 entries", "dim = 3", NULL});
  pf_expect_config_error("{type: wave, initial: packet, s1: 0}", (const char *[]){"'s1'", ">=", NULL});
  pf_expect_config_error("{type: wave, initial: packet, frequency: .inf}",
                         (const char *[]){"frequency", "finite", NULL});
}
