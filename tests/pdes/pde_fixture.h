/* Shared set-up of the PDE plugin tests: a registry with the build tree's
 * plugins, PDEs made from YAML text (file name "t.yaml"), an analytic test
 * function with hand-derived derivatives, and the check that an exact
 * solution satisfies its PDE (finite differences in t and x of exact() fed to
 * rhs). */
#ifndef NPDE_TEST_PDE_FIXTURE_H
#define NPDE_TEST_PDE_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "npde/npde_config.h"
#include "npde/npde_pde.h"
#include "npde/npde_registry.h"

#define PF_MAX_D 8

/* docs/methods/neural-ivp.md §10.1: G(0.03, -0.02) with s = 0.05, scale 1/30 */
#define PF_GOLDEN_G 1.636222283460

static npde_registry *g_reg;

static inline void pf_setup(void) {
  cr_assert_eq(npde_registry_create(&g_reg), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_registry_load_defaults(g_reg), NPDE_OK, "%s", npde_last_error());
}

static inline void pf_teardown(void) { npde_registry_destroy(&g_reg); }

/* npde_pde_create from YAML text ({type: NAME, ...}); returns its status. */
static inline npde_status pf_try(const char *yaml, npde_pde **out) {
  npde_config *cfg = NULL;
  npde_status st = npde_config_load_string(yaml, "t.yaml", &cfg);
  cr_assert_eq(st, NPDE_OK, "parsing %s: %s", yaml, npde_last_error());
  st = npde_pde_create(g_reg, NULL, cfg, out);
  npde_config_destroy(&cfg);
  return st;
}

static inline npde_pde *pf_make(const char *yaml) {
  npde_pde *p = NULL;
  npde_status st = pf_try(yaml, &p);
  cr_assert_eq(st, NPDE_OK, "creating %s: %s", yaml, npde_last_error());
  cr_assert_not_null(p);
  return p;
}

/* Creating from yaml fails with NPDE_ERR_CONFIG and a message that holds every needle. */
static inline void pf_expect_config_error(const char *yaml, const char *const *needles) {
  npde_pde *p = NULL;
  npde_status st = pf_try(yaml, &p);
  cr_expect_eq(st, NPDE_ERR_CONFIG, "%s: status %s (%s)", yaml, npde_status_str(st), npde_last_error());
  cr_expect_null(p);
  for (const char *const *n = needles; *n; ++n)
    cr_expect(strstr(npde_last_error(), *n) != NULL, "%s: the message '%s' does not mention '%s'", yaml,
              npde_last_error(), *n);
  npde_pde_destroy(&p);
}

/* A small deterministic generator (splitmix64) for sample points. */
static uint64_t pf_rng_state = 0x9e3779b97f4a7c15ull;
static inline double pf_uniform(double lo, double hi) {
  uint64_t z = (pf_rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return lo + (hi - lo) * (double)(z >> 11) * 0x1.0p-53;
}

/*
 * The test function u(x) = exp(-|x - a|^2) sin(b . x) = g h and its
 * derivatives, by hand: with y = x - a, S = sin(b . x), C = cos(b . x),
 *   d_j g = -2 y_j g,  d_jl g = (4 y_j y_l - 2 [j == l]) g,
 *   d_j h = b_j C,     d_jl h = -b_j b_l S,
 *   d_j u  = g (-2 y_j S + b_j C),
 *   d_jl u = d_jl g h + d_j g d_l h + d_l g d_j h + g d_jl h
 *          = g ((4 y_j y_l - 2 [j == l] - b_j b_l) S - 2 (y_j b_l + y_l b_j) C).
 * grad[j], lap[j] = d_jj u and hess[j d + l] (full matrix) may each be NULL.
 */
static inline double pf_test_fn(int64_t d, const double *a, const double *b, const double *x, double *grad, double *lap,
                         double *hess) {
  double y[PF_MAX_D], r2 = 0.0, bx = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    y[j] = x[j] - a[j];
    r2 += y[j] * y[j];
    bx += b[j] * x[j];
  }
  const double g = exp(-r2), S = sin(bx), C = cos(bx);
  for (int64_t j = 0; j < d; ++j) {
    if (grad) grad[j] = g * (-2.0 * y[j] * S + b[j] * C);
    for (int64_t l = 0; l < d; ++l) {
      double v = g * ((4.0 * y[j] * y[l] - 2.0 * (j == l) - b[j] * b[l]) * S - 2.0 * (y[j] * b[l] + y[l] * b[j]) * C);
      if (hess) hess[j * d + l] = v;
      if (lap && j == l) lap[j] = v;
    }
  }
  return g * S;
}

/* Closed forms of the operators on the test function (summed by hand, not from the per-axis terms):
 *   c . grad u = g (-2 (c . y) S + (c . b) C),
 *   lap u      = g ((4 |y|^2 - 2 d - |b|^2) S - 4 (y . b) C). */
static inline double pf_test_advection(int64_t d, const double *a, const double *b, const double *c, const double *x) {
  double r2 = 0.0, bx = 0.0, cy = 0.0, cb = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    double y = x[j] - a[j];
    r2 += y * y, bx += b[j] * x[j], cy += c[j] * y, cb += c[j] * b[j];
  }
  return exp(-r2) * (-2.0 * cy * sin(bx) + cb * cos(bx));
}

static inline double pf_test_laplacian(int64_t d, const double *a, const double *b, const double *x) {
  double r2 = 0.0, bx = 0.0, yb = 0.0, b2 = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    double y = x[j] - a[j];
    r2 += y * y, bx += b[j] * x[j], yb += y * b[j], b2 += b[j] * b[j];
  }
  return exp(-r2) * ((4.0 * r2 - 2.0 * (double)d - b2) * sin(bx) - 4.0 * yb * cos(bx));
}

/* Jets (K = 1) of the test function at n points x (n x d), of the given order; arrays are the caller's. */
static inline npde_pde_jets pf_test_jets(int64_t d, int64_t n, npde_jet_order order, const double *a, const double *b,
                                  const double *x, double *value, double *grad, double *second) {
  for (int64_t i = 0; i < n; ++i) {
    const double *xi = x + i * d;
    value[i] = pf_test_fn(d, a, b, xi, order >= NPDE_JET_GRAD ? grad + i * d : NULL,
                          order == NPDE_JET_LAPLACIAN ? second + i * d : NULL,
                          order == NPDE_JET_HESSIAN ? second + i * d * d : NULL);
  }
  return (npde_pde_jets){.n = n, .d = d, .K = 1, .order = order, .x = x, .value = value,
                         .grad = order >= NPDE_JET_GRAD ? grad : NULL,
                         .second = order >= NPDE_JET_LAPLACIAN ? second : NULL};
}

/* exact(t) at one point (K = 1). */
static inline double pf_exact1(const npde_pde *p, double t, const double *x) {
  double u = 0.0;
  cr_assert_eq(npde_pde_exact(p, t, x, 1, &u), NPDE_OK, "%s", npde_last_error());
  return u;
}

/* Fourth-order central differences of exact() at x along axis j (j < 0: along t):
 * first derivative into *d1, pure second derivative into *d2. */
static inline void pf_fd(const npde_pde *p, double t, const double *x, int64_t d, int64_t j, double h, double *d1,
                  double *d2) {
  double f[5];
  for (int q = -2; q <= 2; ++q) {
    double y[PF_MAX_D];
    memcpy(y, x, (size_t)d * sizeof *y);
    double tt = t;
    if (j < 0) tt += q * h;
    else y[j] += q * h;
    f[q + 2] = pf_exact1(p, tt, y);
  }
  *d1 = (f[0] - 8.0 * f[1] + 8.0 * f[3] - f[4]) / (12.0 * h);
  *d2 = (-f[0] + 16.0 * f[1] - 30.0 * f[2] + 16.0 * f[3] - f[4]) / (12.0 * h * h);
}

/*
 * The exact solution satisfies u_t = L[u]: at n random points around `center`
 * (each axis within +-3 width of it) and time t, u_t by differences of exact()
 * in t (step ht) against rhs fed the jets of exact() by differences in x (step
 * hx) at the PDE's order. Norm-wise relative: max |u_t - rhs| <= rel max |rhs|.
 */
static inline void pf_check_exact_satisfies(const npde_pde *p, double t, const double *center, double width, double hx,
                                     double ht, int64_t n, double rel) {
  npde_pde_info info = npde_pde_get_info(p);
  const int64_t d = info.dim;
  cr_assert(d <= PF_MAX_D && info.outputs == 1 && info.has_exact);
  double *x = calloc((size_t)(n * d), sizeof *x), *value = calloc((size_t)n, sizeof *value);
  double *grad = calloc((size_t)(n * d), sizeof *grad), *second = calloc((size_t)(n * d), sizeof *second);
  double *F = calloc((size_t)n, sizeof *F), *ut = calloc((size_t)n, sizeof *ut);
  cr_assert(x && value && grad && second && F && ut);
  for (int64_t i = 0; i < n; ++i) {
    double *xi = x + i * d;
    for (int64_t j = 0; j < d; ++j) xi[j] = center[j] + width * pf_uniform(-3.0, 3.0);
    value[i] = pf_exact1(p, t, xi);
    double unused;
    pf_fd(p, t, xi, d, -1, ht, &ut[i], &unused);
    for (int64_t j = 0; j < d; ++j) pf_fd(p, t, xi, d, j, hx, &grad[i * d + j], &second[i * d + j]);
  }
  npde_jet_order order = info.order < NPDE_JET_GRAD ? NPDE_JET_GRAD : info.order;
  cr_assert(order <= NPDE_JET_LAPLACIAN, "the helper builds gradient and Laplacian jets only");
  npde_pde_jets jets = {.n = n, .d = d, .K = 1, .order = order, .x = x, .value = value, .grad = grad,
                        .second = order == NPDE_JET_LAPLACIAN ? second : NULL};
  cr_assert_eq(npde_pde_rhs(p, t, &jets, F), NPDE_OK, "%s", npde_last_error());
  double worst = 0.0, scale = 0.0;
  int64_t at = 0;
  for (int64_t i = 0; i < n; ++i) {
    scale = fmax(scale, fabs(F[i]));
    if (fabs(ut[i] - F[i]) > worst) worst = fabs(ut[i] - F[i]), at = i;
  }
  cr_expect(scale > 0.0, "rhs vanished at every sample point");
  cr_expect(worst <= rel * scale, "t = %g: |u_t - L[u]| = %.3e at point %lld (u_t %.12g, rhs %.12g), max |rhs| %.3e",
            t, worst, (long long)at, ut[at], F[at], scale);
  cr_log_info("t = %g, d = %lld: max |u_t - L[u]| / max |L[u]| = %.3e", t, (long long)d, worst / scale);
  free(x), free(value), free(grad), free(second), free(F), free(ut);
}

#endif
