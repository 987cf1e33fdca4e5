/* The wave-maps PDE plugin (docs/methods/neural-ivp.md §7.2, §7.3, §10.1, V22): the golden
 * metric values through rhs; the closed forms g^00, g^ij, Gamma^sigma against
 * a numerically built and inverted Schwarzschild metric with finite-
 * differenced Christoffels; the plugin's phi_tt on cubic polynomials against
 * the generic contraction with that numerical metric; the flat limit rs = 0;
 * the horizon point; the packet and Gaussian ICs (against the wave plugin's
 * packet and mpmath values); info; YAML errors. */
#include "pde_fixture.h"

#define TWO_PI 6.283185307179586

TestSuite(pde_wave_maps, .init = pf_setup, .fini = pf_teardown);

/* ---- the metric, built numerically ---------------------------------------------------------- */

/* g_{mu nu} at x (index 0 = t, 1..3 = x) for the black hole at c with radius rs. */
static void metric(double rs, const double *c, const double *x, double g[4][4]) {
  double y[3], r2 = 0.0;
  for (int j = 0; j < 3; ++j) y[j] = x[j] - c[j], r2 += y[j] * y[j];
  const double r = sqrt(r2), q = rs / (r - rs);
  memset(g, 0, 16 * sizeof(double));
  g[0][0] = -(1.0 - rs / r);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) g[1 + i][1 + j] = (i == j ? 1.0 : 0.0) + q * y[i] * y[j] / r2;
}

/* inv = A^-1 by Gauss-Jordan elimination with partial pivoting. */
static void invert4(double A[4][4], double inv[4][4]) {
  double M[4][8];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) M[i][j] = j < 4 ? A[i][j] : (j - 4 == i ? 1.0 : 0.0);
  for (int col = 0; col < 4; ++col) {
    int piv = col;
    for (int i = col + 1; i < 4; ++i)
      if (fabs(M[i][col]) > fabs(M[piv][col])) piv = i;
    cr_assert(fabs(M[piv][col]) > 1e-300, "singular metric");
    for (int j = 0; j < 8; ++j) {
      double t = M[col][j];
      M[col][j] = M[piv][j], M[piv][j] = t;
    }
    const double p = M[col][col];
    for (int j = 0; j < 8; ++j) M[col][j] /= p;
    for (int i = 0; i < 4; ++i)
      if (i != col) {
        const double f = M[i][col];
        for (int j = 0; j < 8; ++j) M[i][j] -= f * M[col][j];
      }
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) inv[i][j] = M[i][4 + j];
}

/* The numerical geometry at x: ginv = g^{mu nu} (inverted), Gam[s] = g^{ab} Gamma^s_{ab} with
 * Gamma^c_{ab} = 1/2 g^{cd} (d_a g_{bd} + d_b g_{da} - d_d g_{ab}), d_0 = 0 (static), the spatial
 * derivatives by fourth-order central differences of metric() with step h. */
static void geometry(double rs, const double *c, const double *x, double h, double ginv[4][4], double Gam[4]) {
  double g[4][4], dg[4][4][4] = {{{0}}}; /* dg[a][mu][nu] = d_a g_{mu nu} */
  metric(rs, c, x, g);
  invert4(g, ginv);
  for (int a = 1; a < 4; ++a) {
    double f[5][4][4];
    for (int q = -2; q <= 2; ++q) {
      double y[3] = {x[0], x[1], x[2]};
      y[a - 1] += q * h;
      metric(rs, c, y, f[q + 2]);
    }
    for (int m = 0; m < 4; ++m)
      for (int n = 0; n < 4; ++n)
        dg[a][m][n] = (f[0][m][n] - 8.0 * f[1][m][n] + 8.0 * f[3][m][n] - f[4][m][n]) / (12.0 * h);
  }
  for (int s = 0; s < 4; ++s) {
    Gam[s] = 0.0;
    for (int a = 0; a < 4; ++a)
      for (int b = 0; b < 4; ++b) {
        double chr = 0.0; /* Gamma^s_{ab} */
        for (int d = 0; d < 4; ++d) chr += 0.5 * ginv[s][d] * (dg[a][b][d] + dg[b][d][a] - dg[d][a][b]);
        Gam[s] += ginv[a][b] * chr;
      }
  }
}

/* A point of the cube at r - rs >= margin from the hole (rejection sampling). */
static void sample(double rs, const double *c, double margin, double *x) {
  for (int tries = 0; tries < 100000; ++tries) {
    double r2 = 0.0;
    for (int j = 0; j < 3; ++j) x[j] = pf_uniform(-1.0, 1.0), r2 += (x[j] - c[j]) * (x[j] - c[j]);
    if (sqrt(r2) - rs >= margin) return;
  }
  cr_assert_fail("no sample point at r - rs >= %g", margin);
}

/* ---- the closed forms -------------------------------------------------------------------- */

static void check_closed_forms_at(double rs, const double *c, const double *x, double h, double tol) {
  double ginv[4][4], Gam[4], y[3], r2 = 0.0;
  geometry(rs, c, x, h, ginv, Gam);
  for (int j = 0; j < 3; ++j) y[j] = x[j] - c[j], r2 += y[j] * y[j];
  const double r = sqrt(r2);
  const double g00 = -r / (r - rs);
  cr_expect(fabs(ginv[0][0] - g00) <= tol * fabs(g00), "rs %g, x (%g, %g, %g): g^00 %.15g, closed %.15g", rs, x[0],
            x[1], x[2], ginv[0][0], g00);
  for (int i = 0; i < 3; ++i) {
    cr_expect(fabs(ginv[0][1 + i]) <= tol && fabs(ginv[1 + i][0]) <= tol, "g^0%d = %g", i + 1, ginv[0][1 + i]);
    for (int j = 0; j < 3; ++j) {
      const double want = (i == j ? 1.0 : 0.0) - rs * y[i] * y[j] / (r2 * r);
      cr_expect(fabs(ginv[1 + i][1 + j] - want) <= tol, "rs %g: g^%d%d %.15g, closed %.15g", rs, i + 1, j + 1,
                ginv[1 + i][1 + j], want);
    }
    const double want = rs * y[i] / (r2 * r);
    cr_expect(fabs(Gam[1 + i] - want) <= tol, "rs %g, x (%g, %g, %g): Gamma^%d %.15g, closed %.15g", rs, x[0], x[1],
              x[2], i + 1, Gam[1 + i], want);
  }
  cr_expect(fabs(Gam[0]) <= tol, "Gamma^0 = %.3e", Gam[0]);
}

Test(pde_wave_maps, metric_closed_forms_against_the_numerical_metric) {
  const double c0[3] = {-2, 0, 0};
  /* the golden point (docs/methods/neural-ivp.md §10.1) through the numerical metric */
  const double xg[3] = {0.2, -0.3, 0.5};
  double ginv[4][4], Gam[4];
  geometry(1.0, c0, xg, 5e-4, ginv, Gam);
  cr_expect(fabs(ginv[0][0] - (-1.783722807500)) <= 1e-11, "golden g^00: %.15g", ginv[0][0]);
  const double gG[3] = {0.186607047367, -0.025446415550, 0.042410692583};
  for (int i = 0; i < 3; ++i) cr_expect(fabs(Gam[1 + i] - gG[i]) <= 1e-9, "golden Gamma^%d: %.15g", i + 1, Gam[1 + i]);
  check_closed_forms_at(1.0, c0, xg, 5e-4, 1e-8);
  /* random points: the default hole, a smaller one elsewhere, a bigger one farther out */
  const struct {
    double rs, c[3];
  } cases[] = {{1.0, {-2, 0, 0}}, {0.5, {0.3, -2.2, 1.4}}, {2.0, {3.5, 1.0, -0.5}}};
  for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k)
    for (int i = 0; i < 20; ++i) {
      double x[3];
      sample(cases[k].rs, cases[k].c, 0.25, x);
      check_closed_forms_at(cases[k].rs, cases[k].c, x, 5e-4, 1e-8);
    }
  /* close to the horizon the inversion still agrees (no differences there: g_ij is steep) */
  for (int i = 0; i < 10; ++i) {
    const double x[3] = {-1.0, 0.1 * pf_uniform(-1, 1), 0.1 * pf_uniform(-1, 1)};
    double g[4][4], gi[4][4], y1 = x[0] + 2.0, r2 = y1 * y1 + x[1] * x[1] + x[2] * x[2], r = sqrt(r2);
    metric(1.0, c0, x, g);
    invert4(g, gi);
    cr_expect(fabs(gi[0][0] + r / (r - 1.0)) <= 1e-8 * r / (r - 1.0), "near the horizon (r - rs = %.3g): g^00 %.15g",
              r - 1.0, gi[0][0]);
    cr_expect(fabs(gi[1][1] - (1.0 - y1 * y1 / (r2 * r))) <= 1e-8, "near the horizon: g^11 %.15g", gi[1][1]);
  }
}

/* ---- phi_tt on polynomials ----------------------------------------------------------------- */

/* A cubic with every mixed term, and its gradient and Hessian by hand. */
static double cubic(const double *p, double *g, double *H) {
  const double x = p[0], y = p[1], z = p[2];
  if (g) {
    g[0] = 0.3 + 1.0 * x + 0.6 * y - 0.9 * z + 0.75 * x * x + 1.4 * x * y - 0.6 * x * z + 0.55 * y * y + 0.4 * z * z +
           1.1 * y * z;
    g[1] = -0.7 - 0.8 * y + 0.6 * x + 0.35 * z - 0.45 * y * y + 0.7 * x * x + 1.1 * x * y - 1.3 * y * z + 0.2 * z * z +
           1.1 * x * z;
    g[2] = 0.2 + 1.6 * z - 0.9 * x + 0.35 * y + 1.35 * z * z - 0.3 * x * x - 0.65 * y * y + 0.8 * x * z + 0.4 * y * z +
           1.1 * x * y;
  }
  if (H) {
    H[0] = 1.0 + 1.5 * x + 1.4 * y - 0.6 * z;
    H[4] = -0.8 - 0.9 * y + 1.1 * x - 1.3 * z;
    H[8] = 1.6 + 2.7 * z + 0.8 * x + 0.4 * y;
    H[1] = H[3] = 0.6 + 1.4 * x + 1.1 * y + 1.1 * z;
    H[2] = H[6] = -0.9 - 0.6 * x + 0.8 * z + 1.1 * y;
    H[5] = H[7] = 0.35 - 1.3 * y + 0.4 * z + 1.1 * x;
  }
  return 1.0 + 0.3 * x - 0.7 * y + 0.2 * z + 0.5 * x * x - 0.4 * y * y + 0.8 * z * z + 0.6 * x * y - 0.9 * x * z +
         0.35 * y * z + 0.25 * x * x * x - 0.15 * y * y * y + 0.45 * z * z * z + 0.7 * x * x * y - 0.3 * x * x * z +
         0.55 * y * y * x - 0.65 * y * y * z + 0.4 * z * z * x + 0.2 * z * z * y + 1.1 * x * y * z;
}

/* A random cubic c0 + a . x + x^T A x / 2 + T(x, x, x) / 6 (A, T symmetric): grad = a + A x + T(x, x, .) / 2,
 * Hessian = A + T(x, ., .). */
typedef struct poly3 {
  double c0, a[3], A[3][3], T[3][3][3];
} poly3;

static poly3 random_cubic(void) {
  poly3 q;
  q.c0 = pf_uniform(-1, 1);
  for (int i = 0; i < 3; ++i) q.a[i] = pf_uniform(-1, 1);
  for (int i = 0; i < 3; ++i)
    for (int j = i; j < 3; ++j) q.A[i][j] = q.A[j][i] = pf_uniform(-1, 1);
  for (int i = 0; i < 3; ++i)
    for (int j = i; j < 3; ++j)
      for (int k = j; k < 3; ++k) {
        const double v = pf_uniform(-1, 1);
        q.T[i][j][k] = q.T[i][k][j] = q.T[j][i][k] = q.T[j][k][i] = q.T[k][i][j] = q.T[k][j][i] = v;
      }
  return q;
}

static double poly3_eval(const poly3 *q, const double *x, double *g, double *H) {
  double v = q->c0;
  for (int i = 0; i < 3; ++i) {
    v += q->a[i] * x[i];
    if (g) g[i] = q->a[i];
    for (int j = 0; j < 3; ++j) {
      v += 0.5 * q->A[i][j] * x[i] * x[j];
      if (g) g[i] += q->A[i][j] * x[j];
      if (H) H[3 * i + j] = q->A[i][j];
      for (int k = 0; k < 3; ++k) {
        v += q->T[i][j][k] * x[i] * x[j] * x[k] / 6.0;
        if (g) g[i] += 0.5 * q->T[i][j][k] * x[j] * x[k];
        if (H) H[3 * i + j] += q->T[i][j][k] * x[k];
      }
    }
  }
  return v;
}

/* phi (one of the two test functions) with gradient g and Hessian H at x. */
static double test_phi(const poly3 *q, const double *x, double *g, double *H) {
  return q ? poly3_eval(q, x, g, H) : cubic(x, g, H);
}

Test(pde_wave_maps, test_polynomials_have_the_hand_derivatives) {
  poly3 q = random_cubic();
  const double h = 1e-3;
  for (int which = 0; which < 2; ++which)
    for (int n = 0; n < 5; ++n) {
      double x[3], g[3], H[9];
      for (int j = 0; j < 3; ++j) x[j] = pf_uniform(-1, 1);
      test_phi(which ? &q : NULL, x, g, H);
      for (int j = 0; j < 3; ++j) {
        double y[3] = {x[0], x[1], x[2]}, gp[3], gm[3];
        y[j] = x[j] + h;
        const double fp = test_phi(which ? &q : NULL, y, gp, NULL);
        y[j] = x[j] - h;
        const double fm = test_phi(which ? &q : NULL, y, gm, NULL);
        /* central differences are exact for quadratics; the cubic leaves h^2/6 phi''' */
        cr_expect(fabs((fp - fm) / (2 * h) - g[j]) <= 1e-5, "poly %d: d_%d %.12g vs FD %.12g", which, j, g[j],
                  (fp - fm) / (2 * h));
        for (int l = 0; l < 3; ++l)
          cr_expect(fabs((gp[l] - gm[l]) / (2 * h) - H[3 * j + l]) <= 1e-9, "poly %d: d_%d%d %.12g vs FD %.12g", which,
                    j, l, H[3 * j + l], (gp[l] - gm[l]) / (2 * h));
      }
    }
}

/* F = rhs at n points for u_0 = phi (test_phi) and u_1 = phi_t = psi (another cubic, so that grad phi_t
 * is not zero: its terms g^0i and Gamma^0 must vanish). */
static void rhs_on_cubics(const npde_pde *p, const poly3 *q, const poly3 *psi, int64_t n, const double *x, double *F) {
  double *value = calloc((size_t)(2 * n), sizeof *value), *grad = calloc((size_t)(6 * n), sizeof *grad);
  double *second = calloc((size_t)(18 * n), sizeof *second);
  cr_assert(value && grad && second);
  for (int64_t i = 0; i < n; ++i) {
    value[2 * i] = test_phi(q, x + 3 * i, grad + 6 * i, second + 18 * i);
    value[2 * i + 1] = poly3_eval(psi, x + 3 * i, grad + 6 * i + 3, second + 18 * i + 9);
  }
  npde_pde_jets jets = {.n = n, .d = 3, .K = 2, .order = NPDE_JET_HESSIAN, .x = x, .value = value, .grad = grad,
                        .second = second};
  cr_assert_eq(npde_pde_rhs(p, 0.1, &jets, F), NPDE_OK, "%s", npde_last_error());
  free(value), free(grad), free(second);
}

/* The generic phi_tt = (-g^ij d_ij phi + Gamma^i d_i phi + Gamma^0 phi_t - 2 g^0i d_i phi_t) / g^00 with
 * the numerical metric, against the plugin's, on both cubics. */
static void check_contraction(const char *yaml, double rs, const double *c) {
  npde_pde *p = pf_make(yaml);
  enum { N = 30 };
  poly3 q = random_cubic(), psi = random_cubic();
  double x[3 * N], F[2 * N];
  for (int i = 0; i < N; ++i) sample(rs, c, 0.25, x + 3 * i);
  for (int which = 0; which < 2; ++which) {
    const poly3 *qq = which ? &q : NULL;
    rhs_on_cubics(p, qq, &psi, N, x, F);
    double worst = 0.0, scale = 0.0;
    int at = 0;
    double want[N];
    for (int i = 0; i < N; ++i) {
      const double *xi = x + 3 * i;
      double ginv[4][4], Gam[4], g[3], H[9], gt[3];
      geometry(rs, c, xi, 5e-4, ginv, Gam);
      test_phi(qq, xi, g, H);
      const double phit = poly3_eval(&psi, xi, gt, NULL);
      double num = Gam[0] * phit;
      for (int a = 0; a < 3; ++a) {
        num += Gam[1 + a] * g[a] - 2.0 * ginv[0][1 + a] * gt[a];
        for (int b = 0; b < 3; ++b) num -= ginv[1 + a][1 + b] * H[3 * a + b];
      }
      want[i] = num / ginv[0][0];
      cr_expect(fabs(F[2 * i] - phit) <= 1e-15 * fmax(1.0, fabs(phit)), "%s: F_0 %.17g, phi_t %.17g", yaml, F[2 * i],
                phit);
      scale = fmax(scale, fabs(want[i]));
      if (fabs(F[2 * i + 1] - want[i]) > worst) worst = fabs(F[2 * i + 1] - want[i]), at = i;
    }
    cr_expect(worst <= 1e-10 * scale, "%s, poly %d: |phi_tt - generic| = %.3e at point %d (%.15g vs %.15g), max %.3e",
              yaml, which, worst, at, F[2 * at + 1], want[at], scale);
    cr_log_info("%s poly %d: max |phi_tt - generic| / max = %.3e", yaml, which, worst / scale);
  }
  npde_pde_destroy(&p);
}

Test(pde_wave_maps, phi_tt_is_the_generic_contraction) {
  check_contraction("{type: wave-maps}", 1.0, (double[]){-2, 0, 0});
  check_contraction("{type: wave-maps, rs: 0.5, center: [0.3, -2.2, 1.4]}", 0.5, (double[]){0.3, -2.2, 1.4});
  check_contraction("{type: wave-maps, rs: 2, center: [3.5, 1.0, -0.5], initial: gaussian}", 2.0,
                    (double[]){3.5, 1.0, -0.5});
}

Test(pde_wave_maps, golden_values_through_rhs) {
  /* docs/methods/neural-ivp.md §10.1 at x = (0.2, -0.3, 0.5), rs = 1, c = -2 e1 */
  const double r = 2.275961335348, g00 = -1.783722807500, lapse = 0.560625224836;
  const double Gam[3] = {0.186607047367, -0.025446415550, 0.042410692583};
  const double y[3] = {2.2, -0.3, 0.5};
  npde_pde *p = pf_make("{type: wave-maps}");
  /* points 0-2: grad phi = e_j, so phi_tt = Gamma^j / g^00; point 3: hess phi = I, phi_tt = lapse (3 - rs/r);
   * point 4: hess phi = e1 e1^T, phi_tt = lapse (1 - rs y1^2 / r^3) */
  enum { N = 5 };
  double x[3 * N], value[2 * N] = {0}, grad[6 * N] = {0}, second[18 * N] = {0}, F[2 * N];
  for (int i = 0; i < N; ++i) x[3 * i] = 0.2, x[3 * i + 1] = -0.3, x[3 * i + 2] = 0.5, value[2 * i + 1] = 0.25 * i;
  for (int j = 0; j < 3; ++j) grad[6 * j + j] = 1.0;
  for (int j = 0; j < 3; ++j) second[18 * 3 + 4 * j] = 1.0;
  second[18 * 4] = 1.0;
  npde_pde_jets jets = {.n = N, .d = 3, .K = 2, .order = NPDE_JET_HESSIAN, .x = x, .value = value, .grad = grad,
                        .second = second};
  cr_assert_eq(npde_pde_rhs(p, 0.0, &jets, F), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < N; ++i) cr_expect(F[2 * i] == 0.25 * i, "F_0 = %g, phi_t = %g", F[2 * i], 0.25 * i);
  for (int j = 0; j < 3; ++j)
    cr_expect(fabs(F[2 * j + 1] - Gam[j] / g00) <= 1e-11, "grad e_%d: phi_tt %.15g, Gamma/g^00 %.15g", j,
              F[2 * j + 1], Gam[j] / g00);
  cr_expect(fabs(F[7] - lapse * (3.0 - 1.0 / r)) <= 1e-11, "hess I: phi_tt %.15g, expected %.15g", F[7],
            lapse * (3.0 - 1.0 / r));
  cr_expect(fabs(F[9] - lapse * (1.0 - y[0] * y[0] / (r * r * r))) <= 1e-11, "hess e1e1: phi_tt %.15g", F[9]);
  /* the relations between the golden numbers of docs/methods/neural-ivp.md §10.1 */
  cr_expect(fabs(-1.0 / g00 - lapse) <= 1e-11, "1 - rs/r = -1/g^00");
  npde_pde_destroy(&p);
}

Test(pde_wave_maps, flat_limit) {
  /* rs = 0: phi_tt = lap phi exactly, wherever the (now harmless) centre is, even at it */
  const char *yamls[] = {"{type: wave-maps, rs: 0}", "{type: wave-maps, rs: 0, center: [0.1, 0.2, 0.3]}"};
  enum { N = 20 };
  poly3 psi = random_cubic();
  for (size_t c = 0; c < 2; ++c) {
    npde_pde *p = pf_make(yamls[c]);
    double x[3 * N], F[2 * N];
    for (int i = 0; i < 3 * N; ++i) x[i] = pf_uniform(-1, 1);
    x[0] = 0.1, x[1] = 0.2, x[2] = 0.3;
    rhs_on_cubics(p, NULL, &psi, N, x, F);
    for (int i = 0; i < N; ++i) {
      double H[9];
      cubic(x + 3 * i, NULL, H);
      const double lap = H[0] + H[4] + H[8];
      cr_expect(fabs(F[2 * i + 1] - lap) <= 1e-15 * fmax(1.0, fabs(lap)), "%s: point %d: phi_tt %.17g, lap %.17g",
                yamls[c], i, F[2 * i + 1], lap);
    }
    npde_pde_destroy(&p);
  }
  /* a tiny hole: within rs of the flat result */
  npde_pde *p = pf_make("{type: wave-maps, rs: 1e-9}");
  double x[3 * N], F[2 * N];
  for (int i = 0; i < 3 * N; ++i) x[i] = pf_uniform(-1, 1);
  rhs_on_cubics(p, NULL, &psi, N, x, F);
  for (int i = 0; i < N; ++i) {
    double H[9];
    cubic(x + 3 * i, NULL, H);
    const double lap = H[0] + H[4] + H[8];
    cr_expect(fabs(F[2 * i + 1] - lap) <= 1e-8 * fmax(1.0, fabs(lap)) && F[2 * i + 1] != lap,
              "rs 1e-9: point %d: phi_tt %.17g, lap %.17g", i, F[2 * i + 1], lap);
  }
  npde_pde_destroy(&p);
}

Test(pde_wave_maps, horizon_and_centre) {
  npde_pde *p = pf_make("{type: wave-maps}");
  /* the face point (-1, 0, 0) is on the horizon r = rs = 1: 1 - rs/r = 0, so phi_tt = 0 (bounded) */
  poly3 psi = random_cubic();
  double x[6] = {-1.0, 0.0, 0.0, -1.0, 1e-4, 0.0}, F[4];
  rhs_on_cubics(p, NULL, &psi, 2, x, F);
  cr_expect(F[1] == 0.0, "at the horizon phi_tt = %.17g", F[1]);
  cr_expect(fabs(F[3]) < 1e-6 && fabs(F[3]) > 0.0, "next to it phi_tt = %.3e", F[3]);
  /* the hole's centre (outside the cube) is refused */
  double xc[3] = {-2.0, 0.0, 0.0}, v[2] = {0, 0}, g[6] = {0}, H[18] = {0}, Fc[2];
  npde_pde_jets jets = {.n = 1, .d = 3, .K = 2, .order = NPDE_JET_HESSIAN, .x = xc, .value = v, .grad = g,
                        .second = H};
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, Fc), NPDE_ERR_INVALID_ARG);
  cr_expect(strstr(npde_last_error(), "r = 0") != NULL, "%s", npde_last_error());
  /* Laplacian-only jets are not enough */
  jets.order = NPDE_JET_LAPLACIAN;
  cr_expect_eq(npde_pde_rhs(p, 0.0, &jets, Fc), NPDE_ERR_INVALID_ARG);
  npde_pde_destroy(&p);
}

Test(pde_wave_maps, info) {
  npde_pde *p = pf_make("{type: wave-maps}");
  npde_pde_info info = npde_pde_get_info(p);
  cr_expect_eq(info.struct_size, sizeof(npde_pde_info));
  cr_expect_eq(info.dim, 3);
  cr_expect_eq(info.outputs, 2);
  cr_expect_eq(info.order, NPDE_JET_HESSIAN);
  cr_expect(!info.has_exact);
  cr_expect(info.dirichlet_zero);
  double x[3] = {0}, U[2];
  cr_expect_eq(npde_pde_exact(p, 0.1, x, 1, U), NPDE_ERR_NOT_IMPLEMENTED);
  npde_pde_destroy(&p);
}

Test(pde_wave_maps, packet_initial_condition) {
  /* mpmath values of the docs/methods/neural-ivp.md §7.2 packet (s1 = 0.15, s2 = 0.25, f = 1), as in
   * test_pde_wave.c */
  npde_pde *p = pf_make("{type: wave-maps}");
  const double xs[3][3] = {{0.1, 0.4, 0.3}, {-0.2, -0.1, -0.15}, {0.0, 0.5, 0.5}};
  const double golden[3] = {-33.784531342517161, 50.514367193890091, -128.53350383426283};
  for (int c = 0; c < 3; ++c) {
    double U[2];
    cr_assert_eq(npde_pde_initial(p, xs[c], 1, U), NPDE_OK, "%s", npde_last_error());
    cr_expect(fabs(U[0] - golden[c]) <= 1e-12 * fabs(golden[c]), "packet at point %d: %.17g, expected %.17g", c, U[0],
              golden[c]);
    cr_expect(U[1] == 0.0, "phi_t0 = %g", U[1]);
  }
  npde_pde_destroy(&p);
  /* the same packet as the wave plugin's, with every packet parameter and the translation */
  const char *pairs[][2] = {
      {"{type: wave-maps}", "{type: wave, initial: packet}"},
      {"{type: wave-maps, s1: 0.1, s2: 0.3, frequency: 4, ic_center: [0.1, -0.05, 0.2]}",
       "{type: wave, initial: packet, s1: 0.1, s2: 0.3, frequency: 4, center: [0.1, -0.05, 0.2]}"},
      {"{type: wave-maps, initial: gaussian, s: 0.2, scale: 3, ic_center: -0.1, rs: 0.5}",
       "{type: wave, initial: gaussian, s: 0.2, scale: 3, center: -0.1}"},
  };
  for (size_t c = 0; c < sizeof pairs / sizeof *pairs; ++c) {
    npde_pde *wm = pf_make(pairs[c][0]), *w = pf_make(pairs[c][1]);
    enum { N = 50 };
    double x[3 * N], A[2 * N], B[2 * N];
    for (int i = 0; i < 3 * N; ++i) x[i] = pf_uniform(-1, 1);
    cr_assert_eq(npde_pde_initial(wm, x, N, A), NPDE_OK, "%s", npde_last_error());
    cr_assert_eq(npde_pde_initial(w, x, N, B), NPDE_OK, "%s", npde_last_error());
    for (int i = 0; i < N; ++i) {
      cr_expect(fabs(A[2 * i] - B[2 * i]) <= 1e-14 * fmax(1.0, fabs(B[2 * i])), "%s: point %d: %.17g, wave %.17g",
                pairs[c][0], i, A[2 * i], B[2 * i]);
      cr_expect(A[2 * i + 1] == 0.0);
    }
    npde_pde_destroy(&wm), npde_pde_destroy(&w);
  }
}

Test(pde_wave_maps, gaussian_initial_condition) {
  npde_pde *p = pf_make("{type: wave-maps, initial: gaussian}");
  double U[2];
  cr_assert_eq(npde_pde_initial(p, (double[]){0.03, -0.02, 0.0}, 1, U), NPDE_OK, "%s", npde_last_error());
  cr_expect(fabs(U[0] - PF_GOLDEN_G) <= 1e-11, "G(0.03, -0.02, 0) = %.15g, expected %.15g", U[0], PF_GOLDEN_G);
  cr_expect(U[1] == 0.0);
  npde_pde_destroy(&p);
  p = pf_make("{type: wave-maps, initial: gaussian, s: 0.2, scale: 3, ic_center: [0.1, -0.1, 0]}");
  cr_assert_eq(npde_pde_initial(p, (double[]){0.2, 0.1, 0.05}, 1, U), NPDE_OK, "%s", npde_last_error());
  const double want = 3.0 * exp(-(0.01 + 0.04 + 0.0025) / (2 * 0.04)) / (TWO_PI * 0.04);
  cr_expect(fabs(U[0] - want) <= 1e-14 * want, "G with s = 0.2, scale 3: %.17g vs %.17g", U[0], want);
  npde_pde_destroy(&p);
}

Test(pde_wave_maps, yaml_errors) {
  /* the horizon reaching into the cube: the message names the center node, rs and the remedy */
  pf_expect_config_error("type: wave-maps\ncenter: [-1.5, 0, 0]\n",
                         (const char *[]){"t.yaml:2:9", "horizon", "rs = 1", "[-1, 1]^3", NULL});
  pf_expect_config_error("{type: wave-maps, rs: 1.01}", (const char *[]){"horizon", "rs = 1.01", NULL});
  pf_expect_config_error("{type: wave-maps, rs: 0.5, center: 0}", (const char *[]){"horizon", NULL});
  pf_expect_config_error("{type: wave-maps, center: [-2, 0]}",
                         (const char *[]){"center", "2 entries", "dim = 3", NULL});
  pf_expect_config_error("{type: wave-maps, ic_center: [0, 0]}", (const char *[]){"ic_center", "2 entries", NULL});
  pf_expect_config_error("type: wave-maps\nrs: -1\n", (const char *[]){"t.yaml:2:5", "'rs'", ">= 0", NULL});
  pf_expect_config_error("{type: wave-maps, rs: .inf}", (const char *[]){"'rs'", "finite", NULL});
  pf_expect_config_error("{type: wave-maps, initial: radial}",
                         (const char *[]){"initial", "radial", "packet|gaussian", NULL});
  pf_expect_config_error("{type: wave-maps, s1: 0}", (const char *[]){"'s1'", ">=", NULL});
  pf_expect_config_error("{type: wave-maps, frequency: .inf}", (const char *[]){"frequency", "finite", NULL});
  pf_expect_config_error("{type: wave-maps, dim: 3}", (const char *[]){"dim", "rs", "center", "initial", "s1", "s2",
                                                                       "frequency", "s", "scale", "ic_center", NULL});
  /* touching is allowed: the default, and a hole at distance exactly rs */
  npde_pde *p = pf_make("{type: wave-maps, rs: 0.5, center: [0, 1.5, 0]}");
  npde_pde_destroy(&p);
}
