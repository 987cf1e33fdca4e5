/* Benchmark data (docs/methods/nbm.md §1.3 sphere, §1.4 star, §1.5 no interface), all
 * with k = 0, and grid level sets with the interpolants of §2.2.
 *
 * Star f, derived here (k = 0, f = -mu lap u - grad mu . grad u):
 *   u- = sin 2x cos 2y e^z, lap u- = -7 u-,
 *   mu- = 10 (1 + 0.2 C S cos z), C = cos 2pi(x+y), S = sin 2pi(x-y):
 *   f- = 7 mu- u- - grad mu- . grad u-;
 *   u+ = T5(s) ln w cos z, s = (y - x)/3, w = x + y + 3, mu+ = 1:
 *   lap u+ = cos z (2/9 T5'' ln w - 2 T5 / w^2 - T5 ln w), f+ = -lap u+.
 * (tests/pdes/test_nbm_kernel.c checks every f against finite differences of -div(mu grad u)). */
#include <math.h>

#include "benchmarks.h"

#define SETUP(user) ((const nbm_setup *)(user))

/* ---- level sets ---- */

static const double star_r0 = 0.483;
static const double star_n[3] = {3, 4, 7}, star_b[3] = {0.1, -0.1, 0.15}, star_t[3] = {0.5, 1.8, 0.0};

static double analytic_phi(nbm_problem_id id, const double x[3]) {
  const double R = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
  switch (id) {
  case NBM_SPHERE: return R - 0.5;
  case NBM_STAR: {
    if (R == 0.0) return -star_r0; /* the bracket's 0/0 taken as its value 0 there */
    const double rho2 = x[0] * x[0] + x[1] * x[1], th = atan2(x[1], x[0]), q = rho2 / (R * R);
    double sum = 0.0;
    for (int k = 0; k < 3; ++k) sum += star_b[k] * cos(star_n[k] * (th - star_t[k]));
    return R - star_r0 * (1.0 + q * q * sum);
  }
  default: return R + 0.5;
  }
}

static double phi_fn(const double x[3], const void *user) {
  const nbm_setup *s = SETUP(user);
  return s->grid ? nbm_grid_levelset_eval(s->grid, x) : analytic_phi(s->id, x);
}

static void sphere_grad_phi(const double x[3], const void *user, double out[3]) {
  (void)user;
  const double R = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
  for (int a = 0; a < 3; ++a) out[a] = R > 0.0 ? x[a] / R : 0.0;
}

/* minmod of two second differences: the smaller magnitude if they agree in sign, else 0 */
static double minmod(double a, double b) {
  if (a * b <= 0.0) return 0.0;
  return fabs(a) < fabs(b) ? a : b;
}

double nbm_grid_levelset_eval(const nbm_grid_levelset *ls, const double x[3]) {
  int64_t i0[3];
  double t[3];
  for (int a = 0; a < 3; ++a) {
    const double s = (x[a] - ls->lo[a]) / ls->spacing[a];
    int64_t i = (int64_t)floor(s);
    if (i < 0) i = 0;
    if (i > ls->n[a] - 2) i = ls->n[a] - 2;
    i0[a] = i;
    t[a] = s - (double)i;
  }
  /* value with one ghost layer by linear extrapolation */
  double c[2][2][2];
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      for (int d = 0; d < 2; ++d) c[a][b][d] = ls->value[((i0[0] + a) * ls->n[1] + i0[1] + b) * ls->n[2] + i0[2] + d];
  double T = 0.0;
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      for (int d = 0; d < 2; ++d)
        T += c[a][b][d] * (a ? t[0] : 1 - t[0]) * (b ? t[1] : 1 - t[1]) * (d ? t[2] : 1 - t[2]);
  if (ls->interp == NBM_INTERP_TRILINEAR) return T;
  double D[3];
  for (int axis = 0; axis < 3; ++axis) {
    double best = 0.0;
    bool first = true;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b)
        for (int d = 0; d < 2; ++d) {
          int64_t idx[3] = {i0[0] + a, i0[1] + b, i0[2] + d};
          double v[3];
          for (int s = -1; s <= 1; ++s) {
            int64_t j[3] = {idx[0], idx[1], idx[2]};
            j[axis] += s;
            double val;
            if (j[axis] < 0 || j[axis] >= ls->n[axis]) { /* ghost: c_-1 = 2 c_0 - c_1 (and mirrored) */
              int64_t j0[3] = {idx[0], idx[1], idx[2]}, j1[3] = {idx[0], idx[1], idx[2]};
              j1[axis] -= s;
              val = 2.0 * ls->value[(j0[0] * ls->n[1] + j0[1]) * ls->n[2] + j0[2]] -
                    ls->value[(j1[0] * ls->n[1] + j1[1]) * ls->n[2] + j1[2]];
            } else {
              val = ls->value[(j[0] * ls->n[1] + j[1]) * ls->n[2] + j[2]];
            }
            v[s + 1] = val;
          }
          const double d2 = v[0] - 2.0 * v[1] + v[2];
          if (first) best = ls->interp == NBM_INTERP_ABSMIN ? fabs(d2) : d2;
          else best = ls->interp == NBM_INTERP_ABSMIN ? fmin(best, fabs(d2)) : minmod(best, d2);
          first = false;
        }
    D[axis] = best;
  }
  return T - D[0] * t[0] * (1 - t[0]) / 2 - D[1] * t[1] * (1 - t[1]) / 2 - D[2] * t[2] * (1 - t[2]) / 2;
}

/* ---- sphere (§1.3) ---- */

static double sphere_u_m(const double x[3], const void *u) { (void)u; return exp(x[2]); }
static double sphere_u_p(const double x[3], const void *u) { (void)u; return cos(x[0]) * sin(x[1]); }
static void sphere_gu_m(const double x[3], const void *u, double g[3]) {
  (void)u;
  g[0] = 0.0;
  g[1] = 0.0;
  g[2] = exp(x[2]);
}
static void sphere_gu_p(const double x[3], const void *u, double g[3]) {
  (void)u;
  g[0] = -sin(x[0]) * sin(x[1]);
  g[1] = cos(x[0]) * cos(x[1]);
  g[2] = 0.0;
}
static double sphere_mu_m(const double x[3], const void *u) { (void)u; return x[1] * x[1] * log(x[0] + 2.0) + 4.0; }
static double sphere_mu_p(const double x[3], const void *u) { (void)u; return exp(-x[2]); }
static double sphere_f_m(const double x[3], const void *u) { return -sphere_mu_m(x, u) * exp(x[2]); }
static double sphere_f_p(const double x[3], const void *u) { (void)u; return 2.0 * exp(-x[2]) * cos(x[0]) * sin(x[1]); }

/* ---- star (§1.4) ---- */

static double star_T5(double s) { return 16 * pow(s, 5) - 20 * s * s * s + 5 * s; }
static double star_T5d(double s) { return 80 * pow(s, 4) - 60 * s * s + 5; }
static double star_T5dd(double s) { return 320 * s * s * s - 120 * s; }
static double star_u_m(const double x[3], const void *u) { (void)u; return sin(2 * x[0]) * cos(2 * x[1]) * exp(x[2]); }
static void star_gu_m(const double x[3], const void *u, double g[3]) {
  (void)u;
  const double e = exp(x[2]);
  g[0] = 2 * cos(2 * x[0]) * cos(2 * x[1]) * e;
  g[1] = -2 * sin(2 * x[0]) * sin(2 * x[1]) * e;
  g[2] = sin(2 * x[0]) * cos(2 * x[1]) * e;
}
static double star_u_p(const double x[3], const void *u) {
  (void)u;
  return star_T5((x[1] - x[0]) / 3) * log(x[0] + x[1] + 3) * cos(x[2]);
}
static void star_gu_p(const double x[3], const void *u, double g[3]) {
  (void)u;
  const double s = (x[1] - x[0]) / 3, w = x[0] + x[1] + 3, T = star_T5(s), Td = star_T5d(s), L = log(w);
  g[0] = (-Td * L / 3 + T / w) * cos(x[2]);
  g[1] = (Td * L / 3 + T / w) * cos(x[2]);
  g[2] = -T * L * sin(x[2]);
}
static double star_mu_m(const double x[3], const void *u) {
  (void)u;
  return 10 * (1 + 0.2 * cos(2 * M_PI * (x[0] + x[1])) * sin(2 * M_PI * (x[0] - x[1])) * cos(x[2]));
}
static double star_one(const double x[3], const void *u) { (void)x; (void)u; return 1.0; }
static double star_f_m(const double x[3], const void *u) {
  const double C = cos(2 * M_PI * (x[0] + x[1])), Cs = sin(2 * M_PI * (x[0] + x[1]));
  const double S = sin(2 * M_PI * (x[0] - x[1])), Sc = cos(2 * M_PI * (x[0] - x[1]));
  const double cz = cos(x[2]);
  const double dmu[3] = {2 * cz * 2 * M_PI * (-Cs * S + C * Sc), 2 * cz * 2 * M_PI * (-Cs * S - C * Sc),
                         -2 * C * S * sin(x[2])};
  double g[3];
  star_gu_m(x, u, g);
  return 7 * star_mu_m(x, u) * star_u_m(x, u) - (dmu[0] * g[0] + dmu[1] * g[1] + dmu[2] * g[2]);
}
static double star_f_p(const double x[3], const void *u) {
  (void)u;
  const double s = (x[1] - x[0]) / 3, w = x[0] + x[1] + 3, T = star_T5(s), L = log(w);
  return -cos(x[2]) * (2.0 / 9.0 * star_T5dd(s) * L - 2 * T / (w * w) - T * L);
}

/* ---- no interface (§1.5) ---- */

static double plain_u(const double x[3], const void *u) { (void)u; return sin(x[1]) * cos(x[0]) * cos(x[2]); }
static void plain_gu(const double x[3], const void *u, double g[3]) {
  (void)u;
  g[0] = -sin(x[1]) * sin(x[0]) * cos(x[2]);
  g[1] = cos(x[1]) * cos(x[0]) * cos(x[2]);
  g[2] = -sin(x[1]) * cos(x[0]) * sin(x[2]);
}
static double plain_f(const double x[3], const void *u) { return 3.0 * plain_u(x, u); }

static double zero_fn(const double x[3], const void *u) { (void)x; (void)u; return 0.0; }

void nbm_benchmark(const nbm_setup *setup, nbm_problem *pb) {
  *pb = (nbm_problem){.phi = phi_fn, .user = setup, .k = {zero_fn, zero_fn}};
  switch (setup->id) {
  case NBM_SPHERE:
    pb->grad_phi = setup->grid ? NULL : sphere_grad_phi;
    pb->u[0] = sphere_u_m, pb->u[1] = sphere_u_p;
    pb->grad_u[0] = sphere_gu_m, pb->grad_u[1] = sphere_gu_p;
    pb->mu[0] = sphere_mu_m, pb->mu[1] = sphere_mu_p;
    pb->f[0] = sphere_f_m, pb->f[1] = sphere_f_p;
    break;
  case NBM_STAR:
    pb->u[0] = star_u_m, pb->u[1] = star_u_p;
    pb->grad_u[0] = star_gu_m, pb->grad_u[1] = star_gu_p;
    pb->mu[0] = star_mu_m, pb->mu[1] = star_one;
    pb->f[0] = star_f_m, pb->f[1] = star_f_p;
    break;
  default:
    pb->u[0] = pb->u[1] = plain_u;
    pb->grad_u[0] = pb->grad_u[1] = plain_gu;
    pb->mu[0] = pb->mu[1] = star_one;
    pb->f[0] = pb->f[1] = plain_f;
    break;
  }
  for (int a = 0; a < 3; ++a) {
    pb->lo[a] = setup->grid ? setup->grid->lo[a] : -1.0;
    pb->hi[a] = setup->grid ? setup->grid->lo[a] + (double)(setup->grid->n[a] - 1) * setup->grid->spacing[a] : 1.0;
  }
}
