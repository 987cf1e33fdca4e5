/* The nbm-interface kernel (docs/methods/nbm.md §7.2): the residual of exact solutions
 * vanishes to round-off where the scheme is exact (quadratics without an
 * interface; piecewise-linear solutions across a planar interface with the
 * corrected ghosts), the faithful JAX-DIPS ghosts do not, the consistency
 * figures of §7.2.3, and the benchmark data against finite differences. */
#include <math.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "benchmarks.h"
#include "nbm.h"

static double uniform(double lo, double hi) { return lo + (hi - lo) * ((double)rand() / (double)RAND_MAX); }

/* r_p with the exact solution in place of the networks. */
static double residual_of_exact(const nbm_problem *pb, const nbm_options *opt, const double p[3], const double h[3],
                                nbm_stencil *st) {
  cr_assert_eq(nbm_stencil_at(pb, opt, p, h, st), 0, "stencil at (%g, %g, %g) failed", p[0], p[1], p[2]);
  double r = st->w0;
  for (int j = 0; j < st->n; ++j) r += st->s[j].weight * pb->u[st->s[j].side](st->s[j].x, pb->user);
  return r;
}

/* ---- a quadratic without interface ---- */

static double q_u(const double x[3], const void *u) {
  (void)u;
  return 0.3 + 0.5 * x[0] - 0.2 * x[1] + 0.7 * x[2] + 0.4 * x[0] * x[0] - 0.3 * x[1] * x[1] + 0.25 * x[2] * x[2] +
         0.6 * x[0] * x[1] - 0.1 * x[1] * x[2] + 0.2 * x[0] * x[2];
}
static double q_phi(const double x[3], const void *u) { (void)u; return sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]) + 0.5; }
static double q_mu(const double x[3], const void *u) { (void)x; (void)u; return 1.7; }
static double q_k(const double x[3], const void *u) { (void)x; (void)u; return 0.3; }
static double q_f(const double x[3], const void *u) { return 0.3 * q_u(x, u) - 1.7 * 2.0 * (0.4 - 0.3 + 0.25); }

Test(nbm_kernel, quadratic_without_interface_is_exact) {
  srand(3);
  nbm_problem pb = {.phi = q_phi, .mu = {q_mu, q_mu}, .k = {q_k, q_k}, .f = {q_f, q_f}, .u = {q_u, q_u},
                    .lo = {-1, -1, -1}, .hi = {1, 1, 1}};
  const nbm_options opt = {0};
  nbm_stencil st;
  for (int t = 0; t < 200; ++t) {
    const double h[3] = {uniform(0.01, 0.2), uniform(0.01, 0.2), uniform(0.01, 0.2)};
    const double p[3] = {uniform(-0.7, 0.7), uniform(-0.7, 0.7), uniform(-0.7, 0.7)};
    const double r = residual_of_exact(&pb, &opt, p, h, &st);
    cr_expect(fabs(r) < 1e-12, "r = %g at (%g, %g, %g)", r, p[0], p[1], p[2]);
    cr_expect(!st.crossed && !st.boundary && st.n == 7, "%d samples", st.n);
  }
}

/* ---- piecewise linear across a plane ---- */

typedef struct plane {
  double n[3], c, mu[2];
} plane;
static const double lin_a[2][4] = {{0.2, 0.3, -0.5, 0.1}, {-0.1, 0.7, 0.2, -0.4}};
static double pl_phi(const double x[3], const void *u) {
  const plane *P = u;
  return P->n[0] * x[0] + P->n[1] * x[1] + P->n[2] * x[2] - P->c;
}
static void pl_grad_phi(const double x[3], const void *u, double g[3]) {
  (void)x;
  const plane *P = u;
  for (int a = 0; a < 3; ++a) g[a] = P->n[a];
}
static double pl_u_m(const double x[3], const void *u) {
  (void)u;
  return lin_a[0][0] + lin_a[0][1] * x[0] + lin_a[0][2] * x[1] + lin_a[0][3] * x[2];
}
static double pl_u_p(const double x[3], const void *u) {
  (void)u;
  return lin_a[1][0] + lin_a[1][1] * x[0] + lin_a[1][2] * x[1] + lin_a[1][3] * x[2];
}
static void pl_gu_m(const double x[3], const void *u, double g[3]) {
  (void)x, (void)u;
  for (int a = 0; a < 3; ++a) g[a] = lin_a[0][1 + a];
}
static void pl_gu_p(const double x[3], const void *u, double g[3]) {
  (void)x, (void)u;
  for (int a = 0; a < 3; ++a) g[a] = lin_a[1][1 + a];
}
static double pl_mu_m(const double x[3], const void *u) { (void)x; return ((const plane *)u)->mu[0]; }
static double pl_mu_p(const double x[3], const void *u) { (void)x; return ((const plane *)u)->mu[1]; }
static double zero(const double x[3], const void *u) { (void)x; (void)u; return 0.0; }

static nbm_problem plane_problem(const plane *P) {
  return (nbm_problem){.phi = pl_phi, .grad_phi = pl_grad_phi, .mu = {pl_mu_m, pl_mu_p}, .k = {zero, zero},
                       .f = {zero, zero}, .u = {pl_u_m, pl_u_p}, .grad_u = {pl_gu_m, pl_gu_p}, .user = P,
                       .lo = {-1, -1, -1}, .hi = {1, 1, 1}};
}

/* The largest |r| of the exact solution over grid points and random points, and how many stencils were crossed. */
static double plane_max_residual(const plane *P, const nbm_options *opt, int *crossed) {
  const nbm_problem pb = plane_problem(P);
  const double h[3] = {0.1, 0.1, 0.1};
  nbm_stencil st;
  double worst = 0.0;
  *crossed = 0;
  for (int i = -6; i <= 6; ++i)
    for (int j = -6; j <= 6; ++j)
      for (int k = -6; k <= 6; ++k) {
        const double p[3] = {0.1 * i + 0.003, 0.1 * j - 0.002, 0.1 * k + 0.001};
        worst = fmax(worst, fabs(residual_of_exact(&pb, opt, p, h, &st)));
        *crossed += st.crossed;
      }
  return worst;
}

Test(nbm_kernel, corrected_is_exact_for_linear_across_a_plane) {
  const double mus[2][2] = {{4, 1}, {1, 4}};
  for (int m = 0; m < 2; ++m) {
    const plane P = {.n = {0.6, 0, 0.8}, .c = 0.013, .mu = {mus[m][0], mus[m][1]}};
    int crossed;
    for (int at_point = 0; at_point < 2; ++at_point) {
      const nbm_options corrected = {.variant = NBM_CORRECTED, .jump_mu_at_point = at_point};
      const double r = plane_max_residual(&P, &corrected, &crossed);
      cr_expect(r < 1e-13, "mu- = %g, mu+ = %g, jump mu at %s: corrected max |r| = %g", P.mu[0], P.mu[1],
                at_point ? "q" : "x_Gamma", r);
      cr_expect(crossed > 100, "only %d crossed stencils", crossed);
    }
    const nbm_options faithful = {.variant = NBM_FAITHFUL};
    const double rf = plane_max_residual(&P, &faithful, &crossed);
    cr_expect(rf > 1e-3, "mu- = %g, mu+ = %g: the faithful (JAX-DIPS) ghosts should not be exact, max |r| = %g",
              P.mu[0], P.mu[1], rf);
  }
}

/* ---- consistency (§7.2.3) ---- */

static void max_residual_on_nodes(const nbm_problem *pb, const nbm_options *opt, int N, double *all,
                                  double *crossed) {
  const double hh = 2.0 / (N - 1), h[3] = {hh, hh, hh};
  nbm_stencil st;
  *all = *crossed = 0.0;
  for (int i = 1; i < N - 1; ++i)
    for (int j = 1; j < N - 1; ++j)
      for (int k = 1; k < N - 1; ++k) {
        const double p[3] = {-1 + i * hh, -1 + j * hh, -1 + k * hh};
        const double r = fabs(residual_of_exact(pb, opt, p, h, &st));
        *all = fmax(*all, r);
        if (st.crossed) *crossed = fmax(*crossed, r);
      }
}

Test(nbm_kernel, consistency_without_interface) {
  const nbm_setup setup = {.id = NBM_NO_INTERFACE};
  nbm_problem pb;
  nbm_benchmark(&setup, &pb);
  const nbm_options opt = {0};
  const int Ns[3] = {8, 16, 32};
  const double want[3] = {1.8e-4, 1.0e-5, 5.8e-7};
  for (int t = 0; t < 3; ++t) {
    double all, crossed;
    max_residual_on_nodes(&pb, &opt, Ns[t], &all, &crossed);
    cr_expect(fabs(all / want[t] - 1) < 0.1, "N = %d: max |r| = %.3g, spec %.2g", Ns[t], all, want[t]);
  }
}

Test(nbm_kernel, consistency_at_sphere_crossed_cells) {
  const nbm_setup setup = {.id = NBM_SPHERE};
  nbm_problem pb;
  nbm_benchmark(&setup, &pb);
  const int Ns[3] = {8, 16, 32};
  const double want[3] = {1.3e-2, 2.9e-3, 1.4e-3};
  for (int t = 0; t < 3; ++t) {
    double all, crossed, crossed_q;
    const nbm_options at_q = {.variant = NBM_CORRECTED, .jump_mu_at_point = true};
    max_residual_on_nodes(&pb, &at_q, Ns[t], &all, &crossed_q);
    const nbm_options opt = {.variant = NBM_CORRECTED};
    max_residual_on_nodes(&pb, &opt, Ns[t], &all, &crossed);
    cr_log_info("N = %d: max |r| at crossed cells %.3g (b/mu at x_Gamma), %.3g (at q)", Ns[t], crossed, crossed_q);
    /* the figures of docs/methods/nbm.md §7.2 were made with b / mu at q (see its §6.5) */
    cr_expect(fabs(crossed_q / want[t] - 1) < 0.05, "N = %d: max |r| at crossed cells %.3g, spec %.2g", Ns[t],
              crossed_q, want[t]);
    cr_expect(crossed < 2.5 * want[t], "N = %d: max |r| at crossed cells %.3g with b / mu at x_Gamma", Ns[t], crossed);
  }
}

/* ---- benchmark data against finite differences ---- */

Test(nbm_kernel, benchmark_data_satisfy_their_pde) {
  srand(5);
  for (int id = 0; id < 3; ++id) {
    const nbm_setup setup = {.id = (nbm_problem_id)id};
    nbm_problem pb;
    nbm_benchmark(&setup, &pb);
    for (int t = 0; t < 50; ++t) {
      const double x[3] = {uniform(-0.9, 0.9), uniform(-0.9, 0.9), uniform(-0.9, 0.9)};
      for (int s = 0; s < 2; ++s) {
        /* grad u against central differences of u */
        double g[3];
        pb.grad_u[s](x, NULL, g);
        const double e = 1e-5;
        for (int a = 0; a < 3; ++a) {
          double xp[3] = {x[0], x[1], x[2]}, xm[3] = {x[0], x[1], x[2]};
          xp[a] += e, xm[a] -= e;
          const double fd = (pb.u[s](xp, NULL) - pb.u[s](xm, NULL)) / (2 * e);
          cr_expect(fabs(fd - g[a]) < 1e-8 * fmax(1, fabs(g[a])), "problem %d side %d: du/dx%d %.12g, FD %.12g", id,
                    s, a, g[a], fd);
        }
        /* f = k u - div(mu grad u) with the flux differenced over a small box */
        const double e2 = 1e-5;
        double div = 0.0;
        for (int a = 0; a < 3; ++a) {
          double xp[3] = {x[0], x[1], x[2]}, xm[3] = {x[0], x[1], x[2]}, gp[3], gm[3];
          xp[a] += e2, xm[a] -= e2;
          pb.grad_u[s](xp, NULL, gp);
          pb.grad_u[s](xm, NULL, gm);
          div += (pb.mu[s](xp, pb.user) * gp[a] - pb.mu[s](xm, pb.user) * gm[a]) / (2 * e2);
        }
        const double want = pb.k[s](x, pb.user) * pb.u[s](x, NULL) - div, f = pb.f[s](x, pb.user);
        cr_expect(fabs(f - want) < 1e-6 * fmax(1, fabs(f)), "problem %d side %d: f = %.10g, -div(mu grad u) = %.10g",
                  id, s, f, want);
      }
    }
  }
  /* sphere beta: the closed form of docs/methods/nbm.md §1.3 */
  const nbm_setup setup = {.id = NBM_SPHERE};
  nbm_problem pb;
  nbm_benchmark(&setup, &pb);
  for (int t = 0; t < 20; ++t) {
    const double x[3] = {uniform(-0.5, 0.5), uniform(-0.5, 0.5), uniform(-0.5, 0.5)};
    const double r = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
    const double want = (exp(-x[2]) * (x[1] * cos(x[0]) * cos(x[1]) - x[0] * sin(x[0]) * sin(x[1])) -
                         (x[1] * x[1] * log(x[0] + 2) + 4) * x[2] * exp(x[2])) / r;
    cr_expect(fabs(nbm_beta(&pb, x) - want) < 1e-13, "beta %.15g, closed form %.15g", nbm_beta(&pb, x), want);
  }
}

/* §2.2: the quadratic interpolant reproduces quadratics (minmod) and the trilinear one linear functions. */
Test(nbm_kernel, grid_level_set_interpolation) {
  enum { N = 9 };
  static double val[N * N * N];
  nbm_grid_levelset ls = {.n = {N, N, N}, .lo = {-1, -1, -1}, .spacing = {0.25, 0.25, 0.25}, .value = val};
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < N; ++j)
      for (int k = 0; k < N; ++k) {
        const double x = -1 + 0.25 * i, y = -1 + 0.25 * j, z = -1 + 0.25 * k;
        val[(i * N + j) * N + k] = x * x + 0.5 * y * y + 2 * z * z - 0.3;
      }
  srand(9);
  for (int t = 0; t < 100; ++t) {
    /* away from the edge cells, whose ghost layer (linear extrapolation) has no curvature */
    const double x[3] = {uniform(-0.75, 0.75), uniform(-0.75, 0.75), uniform(-0.75, 0.75)};
    const double want = x[0] * x[0] + 0.5 * x[1] * x[1] + 2 * x[2] * x[2] - 0.3;
    ls.interp = NBM_INTERP_MINMOD;
    cr_expect(fabs(nbm_grid_levelset_eval(&ls, x) - want) < 1e-12, "minmod %.15g, exact %.15g",
              nbm_grid_levelset_eval(&ls, x), want);
    ls.interp = NBM_INTERP_ABSMIN;
    cr_expect(fabs(nbm_grid_levelset_eval(&ls, x) - want) < 1e-12, "absmin");
    ls.interp = NBM_INTERP_TRILINEAR;
    cr_expect(fabs(nbm_grid_levelset_eval(&ls, x) - want) < 0.25 * 0.25 * 3.5 / 4 + 1e-12, "trilinear");
  }
}
