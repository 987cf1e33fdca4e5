/* The Fokker-Planck equation of a harmonic trap with coupling
 * (docs/methods/neural-ivp.md §7, "Fokker-Planck (harmonic trap)" and its
 * notes; §3.5: needs u, grad u and lap u; the residual check of V21):
 *
 *   u_t = D lap u - div(u h)   on [-1, 1]^d,   K = 1,
 *
 *   h(x) = (a - x) + alpha (1 1^T / d - I) x,   i.e.   h_i = a_i - x_i + alpha (mean(x) - x_i),
 *
 * the drift of particles pulled toward a (a_i = 0.2) and toward their mean,
 * with diffusion D. The reference code writes h = (a - x) + (alpha / d)
 * (sum_j x_j 1 - d x), the same thing. The divergence is expanded as
 *
 *   div(u h) = h . grad u + u div h,   div h = sum_i dh_i/dx_i = -d + alpha (1 - d) = -d - alpha (d - 1),
 *
 * a constant (-9.75 for the paper's d = 8), so
 *
 *   u_t = D lap u - h . grad u - u div h = div(D grad u - u h),
 *
 * the divergence of the flux D grad u - u h (u_t = -div J for the probability
 * current J = u h - D grad u). Defaults: D = 0.01, alpha = 1/4, a = 0.2 1,
 * d = 8 (the paper's; the code's d = 5; the paper scans d up to 20).
 *
 * Initial condition (3/4)^d prod_i (1 - x_i^2): the envelope B(x) itself,
 * scaled so that it integrates to 1 over the cube (int_{-1}^{1} (1 - s^2) ds
 * = 4/3). It vanishes on the faces, so it is exactly representable by an
 * enveloped network (g = (3/4)^d). There is no exact solution (has_exact
 * false); runs are judged by their residual only (docs/methods/neural-ivp.md
 * §7). dirichlet_zero: u = 0 on the faces (the envelope), as in the paper and
 * its code; mass can leave through the faces (a no-flux condition would
 * conserve it instead).
 *
 * info: order LAPLACIAN (a HESSIAN jet is accepted, its diagonal used).
 *
 * YAML: {type: fokker-planck, dim: 8, D: 0.01, alpha: 0.25, a: 0.2}; a takes
 * one number (every entry) or dim entries.
 */
#include <math.h>

#include "npde/plugin/npde_ext.h"

#include "../common/pde_gaussian.h"

typedef struct fp_state {
  int64_t d;
  double D, alpha, divh;
  double a[PDE_MAX_DIM];
} fp_state;

static npde_status fp_create(npde_pde *p, const npde_config *cfg, npde_backend *be) {
  (void)be;
  fp_state *s = npde_pde_state(p);
  if (!cfg) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde 'fokker-planck': created without a config node");
  NPDE_TRY(npde_config_get_int(cfg, "dim", &s->d));
  if (s->d < 1 || s->d > PDE_MAX_DIM) /* the schema has already refused this */
    return npde_config_error(npde_config_get(cfg, "dim"), "fokker-planck: 'dim' = %lld is out of range [1, %d]",
                             (long long)s->d, PDE_MAX_DIM);
  NPDE_TRY(pde_read_real(cfg, "fokker-planck", "D", &s->D));
  NPDE_TRY(pde_read_real(cfg, "fokker-planck", "alpha", &s->alpha));
  NPDE_TRY(pde_read_vector(cfg, "fokker-planck", "a", s->d, s->a));
  s->divh = -(double)s->d - s->alpha * (double)(s->d - 1);
  return NPDE_OK;
}

static void fp_destroy(npde_pde *p) { (void)p; }

static npde_status fp_info(const npde_pde *p, npde_pde_info *info) {
  const fp_state *s = npde_pde_state(p);
  info->dim = s->d;
  info->outputs = 1;
  info->order = NPDE_JET_LAPLACIAN;
  info->has_exact = false;
  info->dirichlet_zero = true;
  return NPDE_OK;
}

static npde_status fp_initial(const npde_pde *p, const double *x, int64_t n, double *U) {
  const fp_state *s = npde_pde_state(p);
  const int64_t d = s->d;
  for (int64_t i = 0; i < n; ++i) {
    double u = 1.0;
    for (int64_t j = 0; j < d; ++j) u *= 0.75 * (1.0 - x[i * d + j] * x[i * d + j]);
    U[i] = u;
  }
  return NPDE_OK;
}

static npde_status fp_rhs(const npde_pde *p, double t, const npde_pde_jets *jets, double *F) {
  (void)t;
  const fp_state *s = npde_pde_state(p);
  const int64_t n = jets->n, d = jets->d, K = jets->K;
  if (n > 0 && (!jets->grad || !jets->second))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde 'fokker-planck': rhs needs the gradient and second-derivative jets");
  for (int64_t i = 0; i < n; ++i) {
    const double *x = jets->x + i * d;
    double mean = 0.0;
    for (int64_t j = 0; j < d; ++j) mean += x[j];
    mean /= (double)d;
    for (int64_t k = 0; k < K; ++k) {
      const double *g = jets->grad + (i * K + k) * d;
      double hg = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        const double h = s->a[j] - x[j] + s->alpha * (mean - x[j]);
        hg += h * g[j];
      }
      F[i * K + k] = s->D * npde_jets_laplacian(jets, i, k) - hg - jets->value[i * K + k] * s->divh;
    }
  }
  return NPDE_OK;
}

static const npde_pde_ops fp_ops = {
    .struct_size = sizeof(npde_pde_ops),
    .create = fp_create,
    .destroy = fp_destroy,
    .info = fp_info,
    .initial = fp_initial,
    .rhs = fp_rhs,
};

static const npde_param_spec fp_params[] = {
    {.name = "dim", .type = NPDE_PARAM_INT, .default_value = "8",
     .doc = "d: the domain is [-1, 1]^d (the paper: 8, scanned up to 20; the code: 5)", .min = 1, .max = PDE_MAX_DIM,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX},
    {.name = "D", .type = NPDE_PARAM_REAL, .default_value = "0.01", .doc = "diffusion coefficient D in D lap u",
     .min = 0, .flags = NPDE_PARAM_HAS_MIN},
    {.name = "alpha", .type = NPDE_PARAM_REAL, .default_value = "0.25",
     .doc = "coupling alpha of the drift h = (a - x) + alpha (1 1^T / d - I) x"},
    {.name = "a", .type = NPDE_PARAM_REAL_LIST, .default_value = "0.2",
     .doc = "the trap's centre a in the drift: one number for every entry (a = 0.2 1), or dim entries"},
    {0},
};

const npde_component_desc fokker_planck_pde_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_PDE,
    .name = "fokker-planck",
    .summary = "u_t = D lap u - div(u h), h = (a - x) + alpha (1 1^T/d - I) x (harmonic trap), "
               "IC (3/4)^d prod(1 - x_i^2), no exact solution",
    .ops = &fp_ops,
    .state_size = sizeof(fp_state),
    .params = fp_params,
};
