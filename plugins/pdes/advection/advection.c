/* Advection with constant velocity (docs/methods/neural-ivp.md §7,
 * "Advection"; §3.5: needs grad u only):
 *
 *   u_t = c . grad u   on [-1, 1]^d,   u(x, 0) = G(x),   K = 1,
 *
 * with the common Gaussian IC G of ../common/pde_gaussian.h. The sign follows
 * the reference code (RHS = d1 u + d2 u for c = (1, 1)), so the profile moves
 * along -c: the exact solution is the translate
 *
 *   u(x, t) = G(x + t c)     (u_t = c . grad G(x + t c) = c . grad u).
 *
 * It ignores the boundary: G is e^-200 of its peak at distance 1 from its
 * center (s = 0.05), so it is exact on the cube while the pulse stays well
 * inside (for c = (1, 1) and center 0 until t of about 0.8). dirichlet_zero:
 * the network's envelope imposes u = 0 on the faces.
 *
 * YAML: {type: advection, dim: 2, velocity: [1], s: 0.05, scale: 1/30, center: [0]};
 * velocity and center take `dim` entries or one used on every axis.
 */
#include <math.h>

#include "npde/plugin/npde_ext.h"

#include "../common/pde_gaussian.h"

typedef struct adv_state {
  pde_gaussian ic;
  double c[PDE_MAX_DIM];
} adv_state;

static npde_status adv_create(npde_pde *p, const npde_config *cfg, npde_backend *be) {
  (void)be;
  adv_state *s = npde_pde_state(p);
  NPDE_TRY(pde_gaussian_read(cfg, "advection", &s->ic));
  return pde_read_vector(cfg, "advection", "velocity", s->ic.d, s->c);
}

static void adv_destroy(npde_pde *p) { (void)p; }

static npde_status adv_info(const npde_pde *p, npde_pde_info *info) {
  const adv_state *s = npde_pde_state(p);
  info->dim = s->ic.d;
  info->outputs = 1;
  info->order = NPDE_JET_GRAD;
  info->has_exact = true;
  info->dirichlet_zero = true;
  return NPDE_OK;
}

static npde_status adv_initial(const npde_pde *p, const double *x, int64_t n, double *U) {
  const adv_state *s = npde_pde_state(p);
  const int64_t d = s->ic.d;
  const double amp = pde_gaussian_peak(&s->ic), var = s->ic.s * s->ic.s;
  for (int64_t i = 0; i < n; ++i) U[i] = pde_gaussian_eval(&s->ic, amp, var, x + i * d, NULL);
  return NPDE_OK;
}

static npde_status adv_exact(const npde_pde *p, double t, const double *x, int64_t n, double *U) {
  const adv_state *s = npde_pde_state(p);
  const int64_t d = s->ic.d;
  const double amp = pde_gaussian_peak(&s->ic), var = s->ic.s * s->ic.s;
  double shift[PDE_MAX_DIM];
  for (int64_t j = 0; j < d; ++j) shift[j] = t * s->c[j];
  for (int64_t i = 0; i < n; ++i) U[i] = pde_gaussian_eval(&s->ic, amp, var, x + i * d, shift);
  return NPDE_OK;
}

static npde_status adv_rhs(const npde_pde *p, double t, const npde_pde_jets *jets, double *F) {
  (void)t;
  const adv_state *s = npde_pde_state(p);
  const int64_t n = jets->n, d = jets->d, K = jets->K;
  if (n > 0 && !jets->grad) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde 'advection': rhs needs the gradient jets");
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < K; ++k) {
      const double *g = jets->grad + (i * K + k) * d;
      double f = 0.0;
      for (int64_t j = 0; j < d; ++j) f += s->c[j] * g[j];
      F[i * K + k] = f;
    }
  return NPDE_OK;
}

static const npde_pde_ops adv_ops = {
    .struct_size = sizeof(npde_pde_ops),
    .create = adv_create,
    .destroy = adv_destroy,
    .info = adv_info,
    .initial = adv_initial,
    .exact = adv_exact,
    .rhs = adv_rhs,
};

static const npde_param_spec adv_params[] = {
    PDE_DIM_PARAM,
    {.name = "velocity", .type = NPDE_PARAM_REAL_LIST, .default_value = "[1]",
     .doc = "c in u_t = c . grad u (the profile moves along -c): dim entries, or one for every axis"},
    PDE_GAUSSIAN_PARAMS,
    {0},
};

const npde_component_desc advection_pde_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_PDE,
    .name = "advection",
    .summary = "u_t = c . grad u, Gaussian IC, exact solution G(x + t c)",
    .ops = &adv_ops,
    .state_size = sizeof(adv_state),
    .params = adv_params,
};
