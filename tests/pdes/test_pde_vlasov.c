/* The vlasov PDE plugin (docs/methods/neural-ivp.md §7, §10.1, V20): the golden field E and
 * IC peak, rhs -(v . grad_x u + E . grad_v u) on hand-derived jets, the
 * backward-characteristic reference: exact(0) = initial, exact() against the
 * PDE (FD in t against rhs on FD x-jets), against an independent
 * Stormer-Verlet integration of the characteristics, RK4's fourth order in
 * characteristic_dt, info, YAML errors. */
#include "pde_fixture.h"

#define TWO_PI 6.283185307179586

/* docs/methods/neural-ivp.md §10.1: E at x = (0.1, 0.2, -0.3); §7: the IC peak (2 pi 0.09)^-3 */
static const double GOLDEN_E[3] = {-0.173871647080, -0.347743294160, 0.521614941239};
#define GOLDEN_PEAK 5.5300984967763185

TestSuite(pde_vlasov, .init = pf_setup, .fini = pf_teardown);

/* E(x) = -2 x exp(-|x|^2), written out here. */
static void field(const double *x, double *E) {
  const double e = exp(-(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]));
  for (int j = 0; j < 3; ++j) E[j] = -2.0 * x[j] * e;
}

/* N(x; 0, s^2 I3) N(v; 0, s^2 I3) as the product of the two normalised 3D densities. */
static double ic(double s, const double *z) {
  double px = 0.0, pv = 0.0;
  for (int j = 0; j < 3; ++j) px += z[j] * z[j], pv += z[3 + j] * z[3 + j];
  const double n3 = pow(TWO_PI * s * s, -1.5);
  return n3 * exp(-px / (2 * s * s)) * n3 * exp(-pv / (2 * s * s));
}

Test(pde_vlasov, golden_field_through_rhs) {
  npde_pde *p = pf_make("{type: vlasov}");
  /* grad u = e_{3+j} (d/dv_j) gives F = -E_j(x); grad u = e_j (d/dx_j) gives F = -v_j */
  const double z[6] = {0.1, 0.2, -0.3, 0.45, -0.6, 0.75};
  double value[6] = {0}, grad[36] = {0}, x[36], F[6];
  for (int i = 0; i < 6; ++i) {
    memcpy(x + 6 * i, z, sizeof z);
    grad[6 * i + i] = 1.0;
  }
  npde_pde_jets jets = {.n = 6, .d = 6, .K = 1, .order = NPDE_JET_GRAD, .x = x, .value = value, .grad = grad};
  cr_assert_eq(npde_pde_rhs(p, 0.0, &jets, F), NPDE_OK, "%s", npde_last_error());
  for (int j = 0; j < 3; ++j) {
    cr_expect(fabs(F[j] + z[3 + j]) <= 1e-15, "d/dx_%d: F = %.17g, expected -v = %.17g", j, F[j], -z[3 + j]);
    cr_expect(fabs(-F[3 + j] - GOLDEN_E[j]) <= 1e-11, "E_%d = %.15g, golden %.15g", j, -F[3 + j], GOLDEN_E[j]);
  }
  /* the same from this file's E */
  double E[3];
  field(z, E);
  for (int j = 0; j < 3; ++j) cr_expect(fabs(E[j] - GOLDEN_E[j]) <= 1e-11, "test's E_%d = %.15g", j, E[j]);
  npde_pde_destroy(&p);
}

Test(pde_vlasov, initial_values) {
  npde_pde *p = pf_make("{type: vlasov}");
  double u = 0.0;
  const double origin[6] = {0};
  cr_assert_eq(npde_pde_initial(p, origin, 1, &u), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(u - GOLDEN_PEAK) <= 1e-13 * GOLDEN_PEAK, "peak %.17g, expected (2 pi 0.09)^-3 = %.17g", u,
            GOLDEN_PEAK);
  cr_expect(fabs(u - 5.530) < 5e-4, "peak %.6g (spec: 5.530)", u);
  enum { N = 40 };
  double z[N * 6], U[N];
  for (int i = 0; i < N * 6; ++i) z[i] = pf_uniform(-1.0, 1.0);
  /* the centre of a face: e^{-1/(2 s^2)} of the peak, about 0.4% */
  for (int j = 0; j < 6; ++j) z[j] = 0.0;
  z[4] = -1.0;
  cr_assert_eq(npde_pde_initial(p, z, N, U), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(U[0] / GOLDEN_PEAK - exp(-1.0 / 0.18)) <= 1e-14 && U[0] / GOLDEN_PEAK > 0.0038 &&
                U[0] / GOLDEN_PEAK < 0.0039,
            "face centre: %.6g of the peak", U[0] / GOLDEN_PEAK);
  for (int i = 0; i < N; ++i) {
    const double want = ic(0.3, z + 6 * i);
    cr_expect(fabs(U[i] - want) <= 1e-13 * fmax(want, 1e-300), "point %d: %.17g, formula %.17g", i, U[i], want);
  }
  npde_pde_destroy(&p);
  p = pf_make("{type: vlasov, s: 0.5}");
  cr_assert_eq(npde_pde_initial(p, z + 6, N - 1, U), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < N - 1; ++i) {
    const double want = ic(0.5, z + 6 * (i + 1));
    cr_expect(fabs(U[i] - want) <= 1e-13 * want, "s = 0.5, point %d: %.17g, formula %.17g", i, U[i], want);
  }
  npde_pde_destroy(&p);
}

Test(pde_vlasov, info) {
  npde_pde *p = pf_make("{type: vlasov}");
  npde_pde_info info = npde_pde_get_info(p);
  cr_expect_eq(info.struct_size, sizeof(npde_pde_info));
  cr_expect_eq(info.dim, 6);
  cr_expect_eq(info.outputs, 1);
  cr_expect_eq(info.order, NPDE_JET_GRAD);
  cr_expect(info.has_exact);
  cr_expect(info.dirichlet_zero);
  npde_pde_destroy(&p);
}

/* rhs on the fixture's test function against the closed form c . grad u with the point's own
 * c = -(v, E(x)). */
static void check_rhs(const char *yaml, npde_jet_order order) {
  npde_pde *p = pf_make(yaml);
  enum { N = 40, D = 6 };
  double x[N * D], value[N], grad[N * D], second[N * D * D], F[N];
  double a[D], b[D];
  for (int j = 0; j < D; ++j) a[j] = 0.3 * sin(1.0 + j), b[j] = 1.1 - 0.45 * j;
  for (int i = 0; i < N * D; ++i) x[i] = pf_uniform(-1.0, 1.0);
  npde_pde_jets jets = pf_test_jets(D, N, order, a, b, x, value, grad, second);
  cr_assert_eq(npde_pde_rhs(p, 0.3, &jets, F), NPDE_OK, "%s: %s", yaml, npde_last_error());
  for (int i = 0; i < N; ++i) {
    const double *z = x + i * D;
    double c[D];
    field(z, c + 3);
    for (int j = 0; j < 3; ++j) c[j] = -z[3 + j], c[3 + j] = -c[3 + j];
    const double want = pf_test_advection(D, a, b, c, z);
    cr_expect(fabs(F[i] - want) <= 1e-13 * fmax(1.0, fabs(want)), "%s: point %d: rhs %.17g, closed form %.17g", yaml,
              i, F[i], want);
  }
  npde_pde_destroy(&p);
}

Test(pde_vlasov, rhs_on_analytic_jets) {
  check_rhs("{type: vlasov}", NPDE_JET_GRAD);
  check_rhs("{type: vlasov, s: 0.2}", NPDE_JET_GRAD);       /* s only changes the IC */
  check_rhs("{type: vlasov}", NPDE_JET_LAPLACIAN);           /* higher orders carry the same gradient */
  check_rhs("{type: vlasov}", NPDE_JET_HESSIAN);
}

Test(pde_vlasov, rhs_rejects_value_only_jets_and_takes_no_points) {
  npde_pde *p = pf_make("{type: vlasov}");
  double x[6] = {0}, v = 1.0, F = 0.0;
  npde_pde_jets jets = {.n = 1, .d = 6, .K = 1, .order = NPDE_JET_VALUE, .x = x, .value = &v};
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, &F), NPDE_ERR_INVALID_ARG);
  jets = (npde_pde_jets){.n = 1, .d = 3, .K = 1, .order = NPDE_JET_GRAD, .x = x, .value = &v, .grad = x};
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, &F), NPDE_ERR_INVALID_ARG); /* d must be 6 */
  jets = (npde_pde_jets){.n = 0, .d = 6, .K = 1, .order = NPDE_JET_GRAD};
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, &F), NPDE_OK, "%s", npde_last_error());
  cr_expect_eq(npde_pde_exact(p, 0.1, x, 0, &F), NPDE_OK, "%s", npde_last_error());
  npde_pde_destroy(&p);
}

Test(pde_vlasov, exact_at_zero_is_initial) {
  const char *yamls[] = {"{type: vlasov}", "{type: vlasov, s: 0.45, characteristic_dt: 0.1}"};
  for (size_t c = 0; c < sizeof yamls / sizeof *yamls; ++c) {
    npde_pde *p = pf_make(yamls[c]);
    enum { N = 50 };
    double z[N * 6], u0[N], ue[N];
    for (int i = 0; i < N * 6; ++i) z[i] = pf_uniform(-1.0, 1.0);
    cr_assert_eq(npde_pde_initial(p, z, N, u0), NPDE_OK, "%s", npde_last_error());
    cr_assert_eq(npde_pde_exact(p, 0.0, z, N, ue), NPDE_OK, "%s", npde_last_error());
    for (int i = 0; i < N; ++i)
      cr_expect(ue[i] == u0[i], "%s: point %d: exact(0) %.17g, initial %.17g", yamls[c], i, ue[i], u0[i]);
    npde_pde_destroy(&p);
  }
}

Test(pde_vlasov, exact_satisfies_the_pde) {
  npde_pde *p = pf_make("{type: vlasov}");
  const double origin[6] = {0};
  /* points within 0.45 of the origin (width 0.15, +-3 widths), where u varies on the scale s = 0.3 */
  const double ts[] = {0.1, 0.25, 0.5, -0.2};
  for (size_t k = 0; k < sizeof ts / sizeof *ts; ++k)
    pf_check_exact_satisfies(p, ts[k], origin, 0.15, 2e-3, 2e-3, 20, 1e-6);
  /* off-centre, where E is largest (|x| = 1/sqrt 2) */
  const double off[6] = {0.4, -0.3, 0.35, 0.1, 0.2, -0.1};
  pf_check_exact_satisfies(p, 0.3, off, 0.1, 2e-3, 2e-3, 20, 1e-6);
  npde_pde_destroy(&p);
  p = pf_make("{type: vlasov, s: 0.5}");
  pf_check_exact_satisfies(p, 0.4, origin, 0.25, 3e-3, 3e-3, 20, 1e-6);
  npde_pde_destroy(&p);
}

/* The characteristic through z traced back over time t by Stormer-Verlet (kick-drift-kick,
 * second order, a different method from the plugin's RK4), m steps; returns u0 there. */
static double verlet_reference(double s, const double *z, double t, int m) {
  double X[3] = {z[0], z[1], z[2]}, V[3] = {z[3], z[4], z[5]}, E[3];
  const double h = -t / m;
  field(X, E);
  for (int k = 0; k < m; ++k) {
    for (int j = 0; j < 3; ++j) V[j] += 0.5 * h * E[j];
    for (int j = 0; j < 3; ++j) X[j] += h * V[j];
    field(X, E);
    for (int j = 0; j < 3; ++j) V[j] += 0.5 * h * E[j];
  }
  const double w[6] = {X[0], X[1], X[2], V[0], V[1], V[2]};
  return ic(s, w);
}

Test(pde_vlasov, exact_follows_the_characteristics) {
  npde_pde *p = pf_make("{type: vlasov}");
  enum { N = 16 };
  double z[N * 6], U[N];
  for (int i = 0; i < N * 6; ++i) z[i] = pf_uniform(-0.6, 0.6);
  /* t not a multiple of dt (a shortened last step), backward and forward in time */
  const double ts[] = {0.2537, 0.5, -0.31};
  for (size_t c = 0; c < sizeof ts / sizeof *ts; ++c) {
    cr_assert_eq(npde_pde_exact(p, ts[c], z, N, U), NPDE_OK, "%s", npde_last_error());
    double worst = 0.0, big = 0.0;
    for (int i = 0; i < N; ++i) {
      const double want = verlet_reference(0.3, z + 6 * i, ts[c], 20000);
      big = fmax(big, want);
      worst = fmax(worst, fabs(U[i] - want));
    }
    cr_expect(worst <= 1e-7 * big, "t = %g: max |exact - Verlet| = %.3e, max u %.3e", ts[c], worst, big);
    cr_log_info("t = %g: max |exact - Verlet| / max u = %.3e", ts[c], worst / big);
  }
  /* the origin of phase space is a fixed point: u stays at the peak */
  const double origin[6] = {0};
  double u;
  cr_assert_eq(npde_pde_exact(p, 0.7, origin, 1, &u), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(u - GOLDEN_PEAK) <= 1e-13 * GOLDEN_PEAK, "exact(0.7) at the origin %.17g", u);
  /* from x = 0 with v = 0.5 e1, for a short t: near the origin E = -2 x (1 - |x|^2 + ...), a harmonic
   * oscillator of frequency sqrt 2, so X(-t) = -v sin(sqrt2 t)/sqrt2, V(-t) = v cos(sqrt2 t) up to
   * |X|^2 = 2.5e-7 relative corrections of the force (u changes by 3e-6 relative from the free flight
   * X = -t v, V = v, so this sees the field) */
  const double t = 1e-3, v = 0.5, w = sqrt(2.0);
  cr_assert_eq(npde_pde_exact(p, t, (double[]){0, 0, 0, v, 0, 0}, 1, &u), NPDE_OK, "%s", npde_last_error());
  const double want = ic(0.3, (double[]){-v * sin(w * t) / w, 0, 0, v * cos(w * t), 0, 0});
  const double free = ic(0.3, (double[]){-v * t, 0, 0, v, 0, 0});
  cr_expect(fabs(u - want) <= 1e-10 * want, "short flight: %.17g vs harmonic %.17g", u, want);
  cr_expect(fabs(u - free) >= 1e-6 * want, "short flight: %.17g is the free flight %.17g (no force?)", u, free);
  npde_pde_destroy(&p);
}

Test(pde_vlasov, characteristic_dt_sets_rk4_accuracy) {
  /* u at the RK4 characteristics with dt, dt/2, dt/4 against a fine Verlet reference: the L2 error over
   * the points falls by about 2^4 per halving (a single point's error is the projection of the
   * phase-space error on grad u0, which can cancel, so the norm over many points is compared) */
  enum { N = 40, M = 3 };
  double z[N * 6];
  for (int i = 0; i < N * 6; ++i) z[i] = pf_uniform(-0.8, 0.8);
  const double t = 1.0;
  double ref[N], err[M] = {0};
  for (int i = 0; i < N; ++i) ref[i] = verlet_reference(0.3, z + 6 * i, t, 100000);
  const double dts[M] = {0.05, 0.025, 0.0125};
  for (int c = 0; c < M; ++c) {
    char yaml[64];
    snprintf(yaml, sizeof yaml, "{type: vlasov, characteristic_dt: %g}", dts[c]);
    npde_pde *p = pf_make(yaml);
    double U[N];
    cr_assert_eq(npde_pde_exact(p, t, z, N, U), NPDE_OK, "%s", npde_last_error());
    for (int i = 0; i < N; ++i) err[c] += (U[i] - ref[i]) * (U[i] - ref[i]);
    err[c] = sqrt(err[c]);
    npde_pde_destroy(&p);
  }
  for (int c = 0; c + 1 < M; ++c) {
    const double ratio = err[c] / err[c + 1];
    cr_expect(ratio > 12.0 && ratio < 22.0, "RK4 L2 errors %.3e (dt %g), %.3e (dt %g): ratio %.3g, expected about 16",
              err[c], dts[c], err[c + 1], dts[c + 1], ratio);
    cr_log_info("RK4 error ratio dt %g / %g: %.4g (%.3e)", dts[c], dts[c + 1], ratio, err[c]);
  }
}

Test(pde_vlasov, exact_refuses_bad_times) {
  npde_pde *p = pf_make("{type: vlasov, characteristic_dt: 1e-9}");
  double z[6] = {0}, u;
  cr_expect_eq(npde_pde_exact(p, 10.0, z, 1, &u), NPDE_ERR_INVALID_ARG); /* 1e10 steps */
  cr_expect(strstr(npde_last_error(), "characteristic_dt") != NULL, "%s", npde_last_error());
  cr_expect_eq(npde_pde_exact(p, NAN, z, 1, &u), NPDE_ERR_INVALID_ARG);
  cr_expect_eq(npde_pde_exact(p, INFINITY, z, 1, &u), NPDE_ERR_INVALID_ARG);
  npde_pde_destroy(&p);
}

Test(pde_vlasov, yaml_errors) {
  /* d is fixed at 6: dim is no parameter; the message lists the valid ones */
  pf_expect_config_error("{type: vlasov, dim: 6}", (const char *[]){"dim", "s", "characteristic_dt", NULL});
  pf_expect_config_error("type: vlasov\ns: 0\n", (const char *[]){"t.yaml:2:4", "'s'", ">=", NULL});
  pf_expect_config_error("{type: vlasov, s: .inf}", (const char *[]){"'s'", "finite", NULL});
  pf_expect_config_error("{type: vlasov, s: wide}", (const char *[]){"'s'", "number", "wide", NULL});
  pf_expect_config_error("{type: vlasov, characteristic_dt: 0}",
                         (const char *[]){"characteristic_dt", ">= 1e-09", NULL});
  pf_expect_config_error("{type: vlasov, characteristic_dt: -1e-3}", (const char *[]){"characteristic_dt", NULL});
  pf_expect_config_error("{type: vlasov, characteristic_dt: .inf}",
                         (const char *[]){"characteristic_dt", "finite", NULL});
}
