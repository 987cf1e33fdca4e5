/* initial: and exact: as expressions for any time-dependent PDE (the
 * engine's keys, read before the plugin's schema): values, a parsed exact
 * solution checked against the PDE, presets kept, and the errors. */
#include "pde_fixture.h"

TestSuite(pde_expressions, .init = pf_setup, .fini = pf_teardown);

/* zero-Dirichlet heat on [-1, 1]^2: the first sine mode decays at D pi^2 / 2 */
#define HEAT_MODE                                                                                     \
  "{type: heat, diffusivity: 0.05, params: {D: 0.05, a: 0.5},"                                        \
  " initial: ['a*sin(pi*(x+1)/2)*sin(pi*(y+1)/2)'],"                                                 \
  " exact: ['a*exp(-D*pi^2/2*t)*sin(pi*(x1+1)/2)*sin(pi*(x2+1)/2)']}"

Test(pde_expressions, heat_from_expressions) {
  npde_pde *p = pf_make(HEAT_MODE);
  cr_expect(npde_pde_get_info(p).has_exact);
  const double x[4] = {0.3, -0.4, -0.9, 0.1};
  double u[2], e[2];
  cr_assert_eq(npde_pde_initial(p, x, 2, u), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pde_exact(p, 0.2, x, 2, e), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < 2; ++i) {
    const double s = 0.5 * sin(M_PI * (x[2 * i] + 1) / 2) * sin(M_PI * (x[2 * i + 1] + 1) / 2);
    cr_expect(fabs(u[i] - s) <= 1e-15, "initial at point %d: %.17g, expected %.17g", i, u[i], s);
    cr_expect(fabs(e[i] - s * exp(-0.05 * M_PI * M_PI / 2 * 0.2)) <= 1e-15, "exact at point %d: %.17g", i, e[i]);
  }
  /* the parsed exact solution satisfies the plugin's rhs */
  pf_check_exact_satisfies(p, 0.3, (double[]){0.0, 0.0}, 0.25, 1e-3, 1e-3, 50, 1e-7);
  npde_pde_destroy(&p);
}

/* What the run's check (core/run/exact_check.c, tested in test_cli) must catch: a parsed exact solution with the
 * wrong decay rate evaluates, and is not a solution, by differences in t and x. */
Test(pde_expressions, a_wrong_exact_expression_is_not_a_solution) {
  /* the decay rate of the 1D mode, not the 2D one: not a solution */
  npde_pde *p = pf_make("{type: heat, params: {D: 0.05}, exact: ['exp(-D*pi^2/4*t)*sin(pi*(x+1)/2)*sin(pi*(y+1)/2)']}");
  npde_pde_info info = npde_pde_get_info(p);
  const double x[2] = {0.2, 0.1};
  double ut, unused, lap = 0.0, d1;
  pf_fd(p, 0.1, x, 2, -1, 1e-3, &ut, &unused);
  for (int j = 0; j < 2; ++j) {
    double d2;
    pf_fd(p, 0.1, x, 2, j, 1e-3, &d1, &d2);
    lap += d2;
  }
  cr_expect(fabs(ut - 0.05 * lap) > 1e-3 * fabs(ut), "a wrong exact solution passed: u_t %g, D lap u %g", ut,
            0.05 * lap);
  cr_expect(info.has_exact);
  npde_pde_destroy(&p);
}

Test(pde_expressions, wave_keeps_its_presets_and_takes_a_list) {
  npde_pde *p = pf_make("{type: wave, initial: radial, dim: 3}");
  npde_pde_destroy(&p);
  p = pf_make("{type: wave, dim: 2, initial: ['exp(-20*r^2)', '0']}");
  double x[2] = {0.1, 0.2}, U[2];
  cr_assert_eq(npde_pde_initial(p, x, 1, U), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(U[0] - exp(-20 * 0.05)) <= 1e-15 && U[1] == 0.0, "U = (%.17g, %g)", U[0], U[1]);
  npde_pde_destroy(&p);
}

Test(pde_expressions, errors) {
  pf_expect_config_error("{type: heat, initial: ['sin(x)', '1']}",
                         (const char *const[]){"t.yaml:1:23", "initial: 2 expressions for pde 'heat', which has 1 output",
                                               NULL});
  pf_expect_config_error("{type: heat, initial: ['sin(kx*x)'], params: {k: 1}}",
                         (const char *const[]){"t.yaml:1:24", "unknown name 'kx' at position 5", "known: x, y, x1, x2, r, k",
                                               NULL});
  pf_expect_config_error("{type: heat, initial: ['t*x']}", (const char *const[]){"unknown name 't'", NULL});
  pf_expect_config_error("{type: heat, params: {k: 1}}",
                         (const char *const[]){"params: are used by expressions", NULL});
  pf_expect_config_error("{type: heat, params: {t: 1}, exact: ['t']}",
                         (const char *const[]){"'t' is a built-in name", NULL});
  pf_expect_config_error("{type: nbm-interface, problem: sphere, exact: ['x', 'y']}",
                         (const char *const[]){"exact: is for problem: expressions", NULL});
  /* the plugin's schema still sees every other key */
  pf_expect_config_error("{type: heat, diffusivty: 1, exact: ['0']}", (const char *const[]){"diffusivty", NULL});
}

/* domain: the PDE on [0, 2] x [0, 1]; the network's reference cube maps onto it */
#define HEAT_BOX                                                                                        \
  "{type: equation, domain: {lo: [0, 0], hi: [2, 1]}, params: {D: 0.1}, rhs: ['D*lap_u'],"              \
  " initial: ['sin(pi*x/2)*sin(pi*y)'], exact: ['exp(-D*pi^2*(1/4 + 1)*t)*sin(pi*x/2)*sin(pi*y)']}"

Test(pde_expressions, a_box_other_than_the_cube) {
  npde_pde *p = pf_make(HEAT_BOX);
  double lo[2], hi[2];
  cr_expect(npde_pde_domain(p, lo, hi));
  cr_expect(lo[0] == 0 && lo[1] == 0 && hi[0] == 2 && hi[1] == 1, "box [%g, %g] x [%g, %g]", lo[0], hi[0], lo[1],
            hi[1]);
  /* the reference point (0, 0) is the box's centre (1, 0.5); (-1, 0.5) is x = 0, y = 0.75 */
  const double xi[4] = {0.0, 0.0, -1.0, 0.5};
  double u[2];
  cr_assert_eq(npde_pde_initial(p, xi, 2, u), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(u[0] - 1.0) <= 1e-15 && fabs(u[1]) <= 1e-15, "u = (%.17g, %.17g)", u[0], u[1]);
  /* the exact solution solves the mapped PDE: the jets are scaled by 2 / (hi - lo) before the rhs sees them */
  pf_check_exact_satisfies(p, 0.2, (double[]){0.1, -0.1}, 0.2, 1e-3, 1e-3, 40, 1e-7);
  npde_pde_destroy(&p);
  /* without domain: the cube */
  p = pf_make("{type: heat}");
  cr_expect(!npde_pde_domain(p, lo, hi));
  cr_expect(lo[0] == -1 && hi[1] == 1);
  npde_pde_destroy(&p);
  pf_expect_config_error("{type: heat, domain: {lo: [0, 1], hi: [1, 1]}}",
                         (const char *const[]){"hi must exceed lo on every axis (axis 2: lo 1, hi 1)", NULL});
  pf_expect_config_error("{type: heat, domain: [0, 1]}", (const char *const[]){"expected {lo: L, hi: H}", NULL});
  pf_expect_config_error("{type: heat, domain: {lo: [0, 0, 0], hi: 1}}",
                         (const char *const[]){"a list of 2 numbers", NULL});
  pf_expect_config_error("{type: nbm-interface, problem: sphere, domain: {lo: 0, hi: 1}}",
                         (const char *const[]){"its box is its own", NULL});
}

/* dirichlet: a lift g: the network carries N = u - g, and npde_pde_rhs returns N_t = F(g + N) - g_t, g's jets by
 * fourth-order differences (checked here against g's derivatives by hand, pure and mixed, on a mapped box). */
Test(pde_expressions, a_lift_enters_the_rhs_and_its_time_derivative_leaves_it) {
  npde_pde *p = pf_make("{type: equation, fields: [u], rhs: ['u_xy + u*u_x + 0.5*lap_u'], boundary: [dirichlet, "
                        "none], domain: {lo: [0, -1], hi: [2, 1]}, initial: ['0'], dirichlet: ['t*sin(x)*cos(y)']}");
  cr_assert(npde_pde_lifted(p));
  npde_boundary_kind kinds[2];
  cr_expect(npde_pde_boundary(p, kinds));
  cr_expect(kinds[0] == NPDE_BOUNDARY_DIRICHLET && kinds[1] == NPDE_BOUNDARY_NONE);
  /* N's jets: N = a + b xi1 on the reference square (value, gradient, zero Hessian) */
  const double xi[4] = {0.3, -0.4, -0.7, 0.8}, t = 0.6, a = 0.25, b = -0.5;
  double value[2], grad[4], hess[8] = {0}, F[2];
  for (int i = 0; i < 2; ++i) value[i] = a + b * xi[2 * i], grad[2 * i] = b, grad[2 * i + 1] = 0;
  npde_pde_jets jets = {.n = 2, .d = 2, .K = 1, .order = NPDE_JET_HESSIAN, .x = xi, .value = value, .grad = grad,
                        .second = hess};
  cr_assert_eq(npde_pde_rhs(p, t, &jets, F), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < 2; ++i) {
    const double x = 1 + xi[2 * i], y = xi[2 * i + 1]; /* the box: x = 1 + xi1, y = xi2 */
    const double g = t * sin(x) * cos(y), gx = t * cos(x) * cos(y), gxy = -t * cos(x) * sin(y), gt = sin(x) * cos(y);
    const double lap = -2 * g, u = g + value[i], ux = gx + b; /* d/dx = d/dxi1 on this box (half-width 1) */
    const double want = gxy + u * ux + 0.5 * lap - gt;
    cr_expect(fabs(F[i] - want) <= 1e-9, "point %d: rhs %.15g, by hand %.15g", i, F[i], want);
  }
  /* the values the run reports: u = g + N, its gradient on the reference square */
  double U[2] = {0, 0}, G[4] = {0, 0, 0, 0};
  cr_assert_eq(npde_pde_add_lift(p, t, xi, 2, 1.0, U, G), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < 2; ++i) {
    const double x = 1 + xi[2 * i], y = xi[2 * i + 1];
    cr_expect(fabs(U[i] - t * sin(x) * cos(y)) <= 1e-15, "g %.17g", U[i]);
    cr_expect(fabs(G[2 * i] - t * cos(x) * cos(y)) <= 1e-11 && fabs(G[2 * i + 1] + t * sin(x) * sin(y)) <= 1e-11,
              "grad g (%.15g, %.15g)", G[2 * i], G[2 * i + 1]);
  }
  npde_pde_destroy(&p);
  /* without dirichlet: nothing is added */
  p = pf_make("{type: equation, fields: [u], rhs: ['lap_u'], boundary: periodic, initial: ['0']}");
  cr_expect(!npde_pde_lifted(p));
  U[0] = 1.5;
  cr_assert_eq(npde_pde_add_lift(p, t, xi, 1, 1.0, U, NULL), NPDE_OK);
  cr_expect_eq(U[0], 1.5);
  npde_pde_destroy(&p);
}
