/* The nbm-interface PDE plugin through the core (docs/methods/nbm.md §7.3, §6.5): the
 * grid reference solve of the sphere benchmark with both kernels and both
 * placements of beta / mu reproduces the error tables of
 * docs/methods/nbm.md §6.5 within 10 %,
 * the interface-free problem converges at second order, and the plugin's
 * stencil, level set, info and YAML errors. */
#include "paper_equations.h"
#include "pde_fixture.h"

TestSuite(pde_nbm, .init = pf_setup, .fini = pf_teardown);

/* RMSE and L-infinity error of the grid reference over all N^3 nodes. */
static void grid_errors(const char *yaml, int64_t N, double *rmse, double *linf) {
  npde_pde *p = pf_make(yaml);
  const npde_grid g = npde_pde_box_grid(p, N);
  const int64_t n = N * N * N;
  double *u = malloc((size_t)n * sizeof *u), *x = malloc((size_t)n * 3 * sizeof *x), *e = malloc((size_t)n * sizeof *e);
  cr_assert(u && x && e);
  npde_grid_solve_report rep;
  cr_assert_eq(npde_pde_grid_solve(p, &g, NULL, u, &rep), NPDE_OK, "%s: %s", yaml, npde_last_error());
  cr_expect(rep.relative_residual < 1e-10, "%s N = %lld: residual %g", yaml, (long long)N, rep.relative_residual);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < N; ++k) {
        double *xi = x + 3 * ((i * N + j) * N + k);
        xi[0] = g.lo[0] + (double)i * g.spacing[0];
        xi[1] = g.lo[1] + (double)j * g.spacing[1];
        xi[2] = g.lo[2] + (double)k * g.spacing[2];
      }
  cr_assert_eq(npde_pde_exact(p, 0.0, x, n, e), NPDE_OK, "%s", npde_last_error());
  double s = 0.0, m = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = fabs(u[i] - e[i]);
    s += d * d;
    m = fmax(m, d);
  }
  *rmse = sqrt(s / (double)n);
  *linf = m;
  free(u), free(x), free(e);
  npde_pde_destroy(&p);
}

typedef struct table_row {
  const char *yaml;
  double rmse[3], linf[3]; /* N = 8, 16, 32 */
} table_row;

Test(pde_nbm, grid_reference_reproduces_the_spec_tables) {
  static const table_row rows[] = {
      /* docs/methods/nbm.md §6.5 table: b / mu at q */
      {"{type: nbm-interface, problem: sphere, variant: corrected, jump_mu: point}",
       {3.96e-3, 1.03e-3, 2.65e-4}, {2.82e-2, 8.21e-3, 2.14e-3}},
      {"{type: nbm-interface, problem: sphere, variant: faithful, jump_mu: point}",
       {4.84e-2, 1.77e-2, 8.32e-3}, {4.02e-1, 2.35e-1, 1.35e-1}},
      /* §6.5, b / mu at x_Gamma, exactly as §3.5 */
      {"{type: nbm-interface, problem: sphere, variant: corrected}",
       {4.14e-3, 1.08e-3, 3.05e-4}, {3.70e-2, 9.56e-3, 4.03e-3}},
      {"{type: nbm-interface, problem: sphere, variant: faithful}",
       {4.46e-2, 1.68e-2, 8.10e-3}, {3.73e-1, 2.26e-1, 1.30e-1}},
  };
  const int64_t Ns[3] = {8, 16, 32};
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; ++r)
    for (int t = 0; t < 3; ++t) {
      double rmse, linf;
      grid_errors(rows[r].yaml, Ns[t], &rmse, &linf);
      cr_log_info("%s N = %lld: RMSE %.3e (spec %.2e), Linf %.3e (spec %.2e)", rows[r].yaml, (long long)Ns[t], rmse,
                  rows[r].rmse[t], linf, rows[r].linf[t]);
      cr_expect(fabs(rmse / rows[r].rmse[t] - 1) < 0.1, "%s N = %lld: RMSE %.3e, spec %.2e", rows[r].yaml,
                (long long)Ns[t], rmse, rows[r].rmse[t]);
      cr_expect(fabs(linf / rows[r].linf[t] - 1) < 0.1, "%s N = %lld: Linf %.3e, spec %.2e", rows[r].yaml,
                (long long)Ns[t], linf, rows[r].linf[t]);
    }
}

Test(pde_nbm, grid_reference_without_interface_is_second_order) {
  const int64_t Ns[3] = {8, 16, 32};
  const double want[3] = {8.3e-4, 2.0e-4, 4.8e-5};
  for (int t = 0; t < 3; ++t) {
    double rmse, linf;
    grid_errors("{type: nbm-interface, problem: no-interface}", Ns[t], &rmse, &linf);
    cr_expect(fabs(linf / want[t] - 1) < 0.1, "N = %lld: Linf %.3e, spec %.2e", (long long)Ns[t], linf, want[t]);
  }
}

Test(pde_nbm, iterative_matches_direct) {
  npde_pde *p = pf_make("{type: nbm-interface, problem: sphere}");
  const int64_t N = 16, n = N * N * N;
  const npde_grid g = npde_pde_box_grid(p, N);
  double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
  npde_grid_solve_options direct = {.method = NPDE_GRID_SOLVE_DIRECT};
  npde_grid_solve_options iterative = {.method = NPDE_GRID_SOLVE_ITERATIVE, .tolerance = 1e-13};
  npde_grid_solve_report rep;
  cr_assert_eq(npde_pde_grid_solve(p, &g, &direct, a, &rep), NPDE_OK, "%s", npde_last_error());
  cr_expect(rep.direct);
  cr_assert_eq(npde_pde_grid_solve(p, &g, &iterative, b, &rep), NPDE_OK, "%s", npde_last_error());
  cr_expect(!rep.direct && rep.iterations > 0);
  double worst = 0.0;
  for (int64_t i = 0; i < n; ++i) worst = fmax(worst, fabs(a[i] - b[i]));
  cr_expect(worst < 1e-10, "BiCGSTAB + ILU(0) differs from UMFPACK by %g (%lld iterations)", worst,
            (long long)rep.iterations);
  free(a), free(b);
  npde_pde_destroy(&p);
}

Test(pde_nbm, info_level_set_and_stencil) {
  npde_pde *p = pf_make("{type: nbm-interface}");
  const npde_pde_info info = npde_pde_get_info(p);
  cr_expect_eq(info.sides, 2);
  cr_expect_eq(info.dim, 3);
  cr_expect(info.stencil_max >= 81);
  cr_expect(info.box_lo[0] == -1.0 && info.box_hi[2] == 1.0);
  double phi[2];
  cr_assert_eq(npde_pde_level_set(p, (double[]){0, 0, 0, 1, 0, 0}, 2, phi), NPDE_OK);
  cr_expect(fabs(phi[0] + 0.5) < 1e-15 && fabs(phi[1] - 0.5) < 1e-15);
  npde_stencil_sample smp[200];
  npde_stencil st = {.struct_size = sizeof st, .capacity = 200, .samples = smp};
  /* far from the interface: the 7-point stencil, its weights summing to the k term (0) */
  const double h[3] = {0.1, 0.1, 0.1};
  cr_assert_eq(npde_pde_stencil(p, (double[]){0.8, 0.1, -0.2}, h, &st), NPDE_OK, "%s", npde_last_error());
  cr_expect_eq(st.n, 7);
  cr_expect_eq(st.flags, 0u);
  double sum = 0.0;
  for (int64_t j = 0; j < st.n; ++j) sum += smp[j].weight;
  cr_expect(fabs(sum) < 1e-14, "weights sum to %g", sum);
  /* at the interface: crossed, more samples, both sides */
  cr_assert_eq(npde_pde_stencil(p, (double[]){0.5, 0.02, 0.01}, h, &st), NPDE_OK, "%s", npde_last_error());
  cr_expect(st.flags & NPDE_STENCIL_CROSSED);
  cr_expect(st.n > 7 && st.n <= 81, "%lld samples", (long long)st.n);
  /* on the box: r = v - g */
  cr_assert_eq(npde_pde_stencil(p, (double[]){1.0, 0.3, 0.2}, h, &st), NPDE_OK);
  cr_expect(st.flags & NPDE_STENCIL_BOUNDARY);
  cr_expect(st.n == 1 && smp[0].weight == 1.0 && fabs(st.w0 + cos(1.0) * sin(0.3)) < 1e-15);
  /* the time-dependent calls are refused */
  double U;
  cr_expect_neq(npde_pde_initial(p, (double[]){0, 0, 0}, 1, &U), NPDE_OK);
  npde_pde_destroy(&p);
}

Test(pde_nbm, yaml_errors) {
  pf_expect_config_error("{type: nbm-interface, variant: jaxdips}",
                         (const char *const[]){"t.yaml", "variant", "corrected", "faithful", NULL});
  pf_expect_config_error("{type: nbm-interface, level_set: /nonexistent/phi.npy, level_set_box: [-1, 1, -1, 1, -1, 1]}",
                         (const char *const[]){"t.yaml", "/nonexistent/phi.npy", NULL});
}

/* A Helmholtz term k u on each side: f gains k u_exact, so the presets keep their exact solutions, and the
 * grid reference still converges to them (at the k = 0 rate); the term really enters the stencil. */
Test(pde_nbm, helmholtz_term_keeps_the_exact_solution) {
  double r0[2], rk[2], linf;
  for (int t = 0; t < 2; ++t) {
    const int64_t N = t ? 32 : 16;
    grid_errors("{type: nbm-interface, problem: sphere}", N, &r0[t], &linf);
    grid_errors("{type: nbm-interface, problem: sphere, k: [5, 20]}", N, &rk[t], &linf);
    cr_log_info("N = %lld: RMSE %.3e with k = [5, 20], %.3e with k = 0", (long long)N, rk[t], r0[t]);
    cr_expect(rk[t] <= 1.5 * r0[t], "N = %lld: RMSE %.3e with k, %.3e without", (long long)N, rk[t], r0[t]);
  }
  cr_expect(rk[1] <= 0.5 * rk[0], "no convergence with k: RMSE %.3e at N = 16, %.3e at N = 32", rk[0], rk[1]);
  /* the stencil's constant w0 changes with k (f and the k u diagonal both enter it) */
  npde_pde *a = pf_make("{type: nbm-interface, problem: sphere}"), *b = pf_make("{type: nbm-interface, k: [5, 20]}");
  npde_stencil_sample sa[128], sb[128];
  npde_stencil s0 = {.struct_size = sizeof s0, .capacity = 128, .samples = sa};
  npde_stencil s1 = {.struct_size = sizeof s1, .capacity = 128, .samples = sb};
  const double x[3] = {0.1, 0.2, -0.3}, h[3] = {0.125, 0.125, 0.125};
  cr_assert_eq(npde_pde_stencil(a, x, h, &s0), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pde_stencil(b, x, h, &s1), NPDE_OK, "%s", npde_last_error());
  cr_expect(s0.w0 != s1.w0, "k did not change the residual's constant (%g)", s0.w0);
  npde_pde_destroy(&a), npde_pde_destroy(&b);
  pf_expect_config_error("{type: nbm-interface, k: [1, 2, 3]}", (const char *const[]){"or two, [inside", NULL});
  pf_expect_config_error("{type: nbm-interface, k: [1, -2]}", (const char *const[]){"k must be >= 0", NULL});
}

/* The presets written as YAML problems (problem: expressions, docs/problems.md). The sphere gives its f; the star
 * only its coefficients and exact solutions, so f, alpha, beta and g are derived (a manufactured solution). */
/* Every stencil of two PDEs at n points of the box agrees: the same samples, weights and constant to rel. */
static void same_stencils(const char *a_yaml, const char *b_yaml, double rel) {
  npde_pde *a = pf_make(a_yaml), *b = pf_make(b_yaml);
  npde_stencil_sample sa[128], sb[128];
  npde_stencil s0 = {.struct_size = sizeof s0, .capacity = 128, .samples = sa};
  npde_stencil s1 = {.struct_size = sizeof s1, .capacity = 128, .samples = sb};
  const double h[3] = {2.0 / 15, 2.0 / 15, 2.0 / 15};
  int crossed = 0;
  double worst = 0.0;
  for (int i = 0; i < 400; ++i) {
    double x[3];
    for (int k = 0; k < 3; ++k) x[k] = pf_uniform(-1 + h[k], 1 - h[k]);
    if (i % 50 == 0) x[0] = -1.0; /* on the box: r = v - g */
    cr_assert_eq(npde_pde_stencil(a, x, h, &s0), NPDE_OK, "%s", npde_last_error());
    cr_assert_eq(npde_pde_stencil(b, x, h, &s1), NPDE_OK, "%s", npde_last_error());
    cr_assert_eq(s0.n, s1.n, "point %d: %lld samples against %lld", i, (long long)s0.n, (long long)s1.n);
    cr_assert_eq(s0.flags, s1.flags);
    crossed += (s0.flags & NPDE_STENCIL_CROSSED) != 0;
    const double scale = fabs(s0.w0) + fabs(s0.diag) + 1.0;
    worst = fmax(worst, fabs(s0.w0 - s1.w0) / scale);
    for (int64_t j = 0; j < s0.n; ++j) {
      cr_assert(sa[j].side == sb[j].side && sa[j].x[0] == sb[j].x[0] && sa[j].x[1] == sb[j].x[1] &&
                sa[j].x[2] == sb[j].x[2], "point %d: sample %lld differs", i, (long long)j);
      worst = fmax(worst, fabs(sa[j].weight - sb[j].weight) / (fabs(sa[j].weight) + 1.0));
    }
  }
  cr_log_info("largest relative difference of a stencil's weights and constant: %.2e (%d crossed cells)", worst,
              crossed);
  cr_expect(worst <= rel, "stencils differ by %.3e relative (bound %.0e)", worst, rel);
  cr_expect_gt(crossed, 20, "too few stencils crossed the interface to compare (%d)", crossed);
  cr_expect(npde_pde_get_info(b).has_exact);
  npde_pde_destroy(&a), npde_pde_destroy(&b);
}

Test(pde_nbm, presets_written_as_expressions_give_the_same_stencils) {
  same_stencils("{type: nbm-interface, problem: sphere}", SPHERE_YAML, 1e-8);
  same_stencils("{type: nbm-interface, problem: star}", STAR_YAML, 1e-7);
  /* and the same grid solution */
  double r_preset, r_yaml, linf;
  grid_errors("{type: nbm-interface, problem: star}", 16, &r_preset, &linf);
  grid_errors(STAR_YAML, 16, &r_yaml, &linf);
  cr_expect(fabs(r_yaml - r_preset) <= 1e-6 * r_preset, "star: grid RMSE %.9e as YAML, %.9e preset", r_yaml,
            r_preset);
}

/* A problem of one's own: an ellipsoid, a Helmholtz term and a manufactured solution with a jump; the derived f
 * and jumps make the grid reference converge to it at second order. */
#define ELLIPSOID_YAML                                                                                           \
  "{type: nbm-interface, problem: expressions, params: {a: 0.6, b: 0.4},"                                        \
  " level_set: 'sqrt((x/a)^2 + (y/b)^2 + (z/b)^2) - 1', mu: ['5 + x', 1], k: [0, 'x^2 + 1'],"                    \
  " exact: ['cos(x)*exp(y)', 'sin(x + z) + 2']}"

Test(pde_nbm, a_problem_of_ones_own_converges) {
  double rmse[2], linf[2];
  grid_errors(ELLIPSOID_YAML, 16, &rmse[0], &linf[0]);
  grid_errors(ELLIPSOID_YAML, 32, &rmse[1], &linf[1]);
  cr_log_info("ellipsoid: grid RMSE %.3e (N = 16), %.3e (N = 32)", rmse[0], rmse[1]);
  cr_expect(rmse[0] < 1e-2 && rmse[1] <= 0.35 * rmse[0], "RMSE %.3e at N = 16, %.3e at N = 32", rmse[0], rmse[1]);
  /* without exact:, f, alpha, beta and g are needed */
  pf_expect_config_error("{type: nbm-interface, problem: expressions, level_set: 'r - 0.5', mu: 1, f: [1, 1]}",
                         (const char *const[]){"t.yaml:1:1", "missing: alpha beta g", NULL});
  pf_expect_config_error("{type: nbm-interface, problem: sphere, mu: 1}",
                         (const char *const[]){"mu: is for problem: expressions", NULL});
  pf_expect_config_error("{type: nbm-interface, problem: expressions, level_set: 'r - R', mu: 1}",
                         (const char *const[]){"unknown name 'R'", NULL});
  /* no exact solution: the PDE says so */
  npde_pde *p = pf_make("{type: nbm-interface, problem: expressions, level_set: 'r - 0.5', mu: [2, 1], f: [1, 0],"
                        " alpha: 0, beta: 0, g: 0}");
  cr_expect(!npde_pde_get_info(p).has_exact);
  npde_pde_destroy(&p);
}
