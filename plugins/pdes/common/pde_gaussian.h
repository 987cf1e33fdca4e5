/* What the heat and advection plugins share (header only; this directory is
 * no plugin): the common initial condition of docs/methods/neural-ivp.md §7,
 *
 *   G(x) = scale exp(-|x - x0|^2 / (2 s^2)) / (2 pi s^2),   s = 0.05, scale = 1/30,
 *
 * with the 2D normalisation 1/(2 pi s^2) in every dimension, as the reference
 * code does (so it is no normalised density for d != 2), and the reading of
 * the list parameters (velocity, center): `dim` entries, or one entry used on
 * every axis. Include after npde/plugin/npde_ext.h. */
#ifndef NPDE_PLUGINS_PDE_GAUSSIAN_H
#define NPDE_PLUGINS_PDE_GAUSSIAN_H

#include <math.h>

#include "npde/plugin/npde_ext.h"

#define PDE_TWO_PI 6.28318530717958647692528676655900577

/* The largest `dim` these PDEs accept (the schemas' max), so state is fixed-size. */
#define PDE_MAX_DIM 64

/* The IC's schema rows, shared by both PDEs' tables. */
#define PDE_DIM_PARAM                                                                                   \
  {.name = "dim", .type = NPDE_PARAM_INT, .default_value = "2", .doc = "d: the domain is [-1, 1]^d",     \
   .min = 1, .max = PDE_MAX_DIM, .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX}
#define PDE_GAUSSIAN_PARAMS                                                                             \
  {.name = "s", .type = NPDE_PARAM_REAL, .default_value = "0.05",                                       \
   .doc = "width of the initial Gaussian G = scale exp(-|x - center|^2/(2 s^2))/(2 pi s^2)",            \
   .min = 1e-6, .flags = NPDE_PARAM_HAS_MIN},                                                           \
  {.name = "scale", .type = NPDE_PARAM_REAL, .default_value = "0.033333333333333333",                   \
   .doc = "factor of the initial Gaussian (1/30 in docs/methods/neural-ivp.md §7)"},                    \
  {.name = "center", .type = NPDE_PARAM_REAL_LIST, .default_value = "[0]",                              \
   .doc = "center of the initial Gaussian: dim entries, or one for every axis"}

typedef struct pde_gaussian {
  int64_t d;
  double s, scale;
  double center[PDE_MAX_DIM];
} pde_gaussian;

static inline npde_status pde_finite(const npde_config *node, const char *what, const char *key, double v) {
  if (!isfinite(v)) return npde_config_error(node, "%s: '%s' must be finite", what, key);
  return NPDE_OK;
}

/* A real parameter of the validated map, which must be finite. */
static inline npde_status pde_read_real(const npde_config *cfg, const char *what, const char *key, double *out) {
  NPDE_TRY(npde_config_get_real(cfg, key, out));
  return pde_finite(npde_config_get(cfg, key), what, key, *out);
}

/* out[0..d) from the list `key`: d entries, or one (a scalar or a list of one) for every axis. */
static inline npde_status pde_read_vector(const npde_config *cfg, const char *what, const char *key, int64_t d,
                                          double *out) {
  const npde_config *node = npde_config_get(cfg, key);
  if (!node) return npde_config_error(cfg, "%s: missing '%s'", what, key);
  if (npde_config_node_type(node) == NPDE_CONFIG_SCALAR) {
    NPDE_TRY(npde_config_as_real(node, &out[0]));
    NPDE_TRY(pde_finite(node, what, key, out[0]));
    for (int64_t j = 1; j < d; ++j) out[j] = out[0];
    return NPDE_OK;
  }
  size_t n = npde_config_size(node);
  if (npde_config_node_type(node) != NPDE_CONFIG_SEQUENCE || (n != 1 && n != (size_t)d))
    return npde_config_error(node, "%s: '%s' has %zu entries; it needs dim = %lld entries, or one for every axis",
                             what, key, n, (long long)d);
  for (size_t j = 0; j < n; ++j) {
    const npde_config *item = npde_config_at(node, j);
    NPDE_TRY(npde_config_as_real(item, &out[j]));
    NPDE_TRY(pde_finite(item, what, key, out[j]));
  }
  for (int64_t j = (int64_t)n; j < d; ++j) out[j] = out[0];
  return NPDE_OK;
}

/* dim, s, scale and center from a node validated against PDE_DIM_PARAM and PDE_GAUSSIAN_PARAMS. */
static inline npde_status pde_gaussian_read(const npde_config *cfg, const char *what, pde_gaussian *g) {
  if (!cfg) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde '%s': created without a config node", what);
  NPDE_TRY(npde_config_get_int(cfg, "dim", &g->d));
  if (g->d < 1 || g->d > PDE_MAX_DIM)
    return npde_config_error(npde_config_get(cfg, "dim"), "%s: 'dim' = %lld is out of range [1, %d]", what,
                             (long long)g->d, PDE_MAX_DIM);
  NPDE_TRY(pde_read_real(cfg, what, "s", &g->s));
  NPDE_TRY(pde_read_real(cfg, what, "scale", &g->scale));
  return pde_read_vector(cfg, what, "center", g->d, g->center);
}

/* |y - center|^2 for y = x + shift (shift may be NULL). */
static inline double pde_dist2(const pde_gaussian *g, const double *x, const double *shift) {
  double r2 = 0.0;
  for (int64_t j = 0; j < g->d; ++j) {
    double y = x[j] + (shift ? shift[j] : 0.0) - g->center[j];
    r2 += y * y;
  }
  return r2;
}

/* amp exp(-|x + shift - center|^2 / (2 var)); G itself is amp = scale / (2 pi s^2), var = s^2. */
static inline double pde_gaussian_eval(const pde_gaussian *g, double amp, double var, const double *x,
                                       const double *shift) {
  return amp * exp(-pde_dist2(g, x, shift) / (2.0 * var));
}

/* The peak of G: scale / (2 pi s^2). */
static inline double pde_gaussian_peak(const pde_gaussian *g) {
  return g->scale / (PDE_TWO_PI * g->s * g->s);
}

#endif
