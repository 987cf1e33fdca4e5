/* The heat equation (docs/methods/neural-ivp.md §7, "Heat"; §3.5: needs the
 * Laplacian only):
 *
 *   u_t = D lap u   on [-1, 1]^d,   u(x, 0) = G(x),   K = 1,
 *
 * with the common Gaussian IC of ../common/pde_gaussian.h,
 * G(x) = A exp(-|x - x0|^2 / (2 s^2)), A = scale / (2 pi s^2) in every d.
 *
 * Exact solution (free space, R^d). The heat kernel of u_t = D lap u is a
 * Gaussian of variance 2 D t per axis, and convolving Gaussians adds their
 * variances, so the solution stays a Gaussian of variance
 * sigma_t^2 = s^2 + 2 D t per axis whose integral is conserved:
 *
 *   u(x, t) = A (s^2 / sigma_t^2)^(d/2) exp(-|x - x0|^2 / (2 sigma_t^2)).
 *
 * Check: with r^2 = |x - x0|^2, d(sigma_t^2)/dt = 2 D and
 *   u_t   = 2 D u (-d / (2 sigma_t^2) + r^2 / (2 sigma_t^4)) = D u (r^2 / sigma_t^4 - d / sigma_t^2),
 *   lap u = sum_j u ((x_j - x0_j)^2 / sigma_t^4 - 1 / sigma_t^2)  = u (r^2 / sigma_t^4 - d / sigma_t^2),
 * so u_t = D lap u, and u(x, 0) = G. For d = 2 and D = 0.05 this is the
 * (scale) exp(-|x|^2/(2 sigma_t^2)) / (2 pi sigma_t^2), sigma_t^2 =
 * s^2 + 0.1 t, of docs/methods/neural-ivp.md §7.
 *
 * On the box. The problem solved holds u = 0 on the faces of [-1, 1]^d (the
 * network's envelope), where the free-space Gaussian is not zero (7e-3 of
 * its peak there for s = 0.25 by t = 0.5). The method of images makes it
 * exact: per axis, the sum over n of g(x_j - x0_j - 4n) - g(x_j - (2 - x0_j)
 * - 4n), with g(y) = exp(-y^2 / (2 sigma_t^2)), vanishes at x_j = +-1 (the
 * images reflect x0_j in both faces, period 4) and solves the 1-D heat
 * equation; the product over the axes solves the d-dimensional one with u
 * = 0 on every face. initial() is the same sum at t = 0, so the initial
 * condition, the boundary values and exact() agree. The sum keeps
 * |n| <= N, N = ceil((2 + 10 sigma_t) / 4): every image left out is more
 * than 10 sigma_t from the box, below e^-50 of the peak. exact() needs
 * sigma_t^2 > 0 (t > -s^2 / (2 D)).
 *
 * YAML: {type: heat, dim: 2, diffusivity: 0.05, s: 0.05, scale: 1/30, center: [0]}.
 */
#include <math.h>

#include "npde/plugin/npde_ext.h"

#include "../common/pde_gaussian.h"

typedef struct heat_state {
  pde_gaussian ic;
  double D;
} heat_state;

static npde_status heat_create(npde_pde *p, const npde_config *cfg, npde_backend *be) {
  (void)be;
  heat_state *s = npde_pde_state(p);
  NPDE_TRY(pde_gaussian_read(cfg, "heat", &s->ic));
  return pde_read_real(cfg, "heat", "diffusivity", &s->D);
}

static void heat_destroy(npde_pde *p) { (void)p; }

static npde_status heat_info(const npde_pde *p, npde_pde_info *info) {
  const heat_state *s = npde_pde_state(p);
  info->dim = s->ic.d;
  info->outputs = 1;
  info->order = NPDE_JET_LAPLACIAN;
  info->has_exact = true;
  info->dirichlet_zero = true;
  return NPDE_OK;
}

/* Images per side that keep every one left out 10 sigma outside the box (see the top). */
static int image_count(double var) { return (int)ceil((2.0 + 10.0 * sqrt(var)) / 4.0); }

/* The Gaussian of variance var per axis with its images k = -N..N in the faces of [-1, 1]^d, at x. */
static double images(const pde_gaussian *g, double var, int N, const double *x) {
  double u = 1.0;
  for (int64_t j = 0; j < g->d; ++j) {
    double axis = 0.0;
    for (int k = -N; k <= N; ++k) {
      const double a = x[j] - g->center[j] - 4.0 * k, b = x[j] - (2.0 - g->center[j]) - 4.0 * k;
      axis += exp(-a * a / (2.0 * var)) - exp(-b * b / (2.0 * var));
    }
    u *= axis;
  }
  return u;
}

static npde_status heat_initial(const npde_pde *p, const double *x, int64_t n, double *U) {
  const heat_state *s = npde_pde_state(p);
  const int64_t d = s->ic.d;
  const double amp = pde_gaussian_peak(&s->ic), var = s->ic.s * s->ic.s;
  const int N = image_count(var);
  for (int64_t i = 0; i < n; ++i) U[i] = amp * images(&s->ic, var, N, x + i * d);
  return NPDE_OK;
}

static npde_status heat_exact(const npde_pde *p, double t, const double *x, int64_t n, double *U) {
  const heat_state *s = npde_pde_state(p);
  const int64_t d = s->ic.d;
  const double s2 = s->ic.s * s->ic.s, var = s2 + 2.0 * s->D * t;
  if (!(var > 0.0))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG,
                      "pde 'heat': exact(t = %g) needs s^2 + 2 D t > 0 (the solution does not exist before t = %g)",
                      t, -s2 / (2.0 * s->D));
  /* (s^2 / sigma_t^2)^(d/2) is exactly 1 at t = 0, so exact(0) == initial bit for bit */
  const double amp = pde_gaussian_peak(&s->ic) * pow(s2 / var, 0.5 * (double)d);
  const int N = image_count(var);
  for (int64_t i = 0; i < n; ++i) U[i] = amp * images(&s->ic, var, N, x + i * d);
  return NPDE_OK;
}

static npde_status heat_rhs(const npde_pde *p, double t, const npde_pde_jets *jets, double *F) {
  (void)t;
  const heat_state *s = npde_pde_state(p);
  const int64_t n = jets->n, K = jets->K;
  if (n > 0 && !jets->second)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde 'heat': rhs needs the second-derivative jets");
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < K; ++k) F[i * K + k] = s->D * npde_jets_laplacian(jets, i, k);
  return NPDE_OK;
}

static const npde_pde_ops heat_ops = {
    .struct_size = sizeof(npde_pde_ops),
    .create = heat_create,
    .destroy = heat_destroy,
    .info = heat_info,
    .initial = heat_initial,
    .exact = heat_exact,
    .rhs = heat_rhs,
};

static const npde_param_spec heat_params[] = {
    PDE_DIM_PARAM,
    {.name = "diffusivity", .type = NPDE_PARAM_REAL, .default_value = "0.05", .doc = "D in u_t = D lap u",
     .min = 0, .flags = NPDE_PARAM_HAS_MIN},
    PDE_GAUSSIAN_PARAMS,
    {0},
};

const npde_component_desc heat_pde_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_PDE,
    .name = "heat",
    .summary = "u_t = D lap u, u = 0 on the faces, Gaussian IC with its images, exact solution on the box",
    .ops = &heat_ops,
    .state_size = sizeof(heat_state),
    .params = heat_params,
};
