/* allen-cahn: a PDE plugin built out of tree against the installed npde SDK.
 * It shows what a third-party PDE needs: one file, the installed headers
 * (npde/plugin/npde_ext.h only; no file of npde's source tree), a parameter
 * schema, the npde_pde_ops table and NPDE_PLUGIN_DEFINE.
 *
 * The Allen-Cahn equation on the box [-1, 1]^d with u = 0 on its faces:
 *
 *   u_t = eps^2 lap u + u - u^3,   K = 1,
 *
 *   u(x, 0) = amplitude prod_j sin(modes pi (x_j + 1) / 2).
 *
 * The initial condition vanishes on every face (sin(modes pi) = 0 at x_j = 1,
 * sin(0) = 0 at x_j = -1), so it fits the network's dirichlet envelope
 * B(x) = prod_j (1 - x_j^2): u0 / B is smooth, and info.dirichlet_zero is true.
 * modes = 1 is one bump, cos(pi x_j / 2) on each axis; modes = 2 gives
 * prod_j (-sin(pi x_j)), a checkerboard of 2^d cells of alternating sign.
 *
 * Dynamics. The reaction u - u^3 drives u toward the stable states +1 and -1
 * and eps^2 lap u smooths; the interfaces between +1 and -1 regions are
 * tanh profiles of width about sqrt(2) eps. Linearised about u = 0, the
 * initial mode grows at the rate 1 - eps^2 d (modes pi / 2)^2: for the
 * defaults (eps = 0.1, d = 2, modes = 2) that is 1 - 0.197 = 0.80, so each
 * cell of the checkerboard grows toward +-1 with smooth interfaces of width
 * ~0.14 along the axes; when the rate is <= 0 the solution just decays to 0
 * (create logs a warning). There is no closed-form solution: has_exact is
 * false, and a run is judged by its PDE residual (metrics.csv).
 *
 * rhs needs u and the d pure second derivatives (order LAPLACIAN); a HESSIAN
 * jet is accepted too and its diagonal used. rhs reads the instance's state
 * only, so it is reentrant (the core may call it on disjoint chunks at once).
 *
 * YAML: pde: {type: allen-cahn, dim: 2, eps: 0.1, amplitude: 0.5, modes: 2}
 */
#include <math.h>

#include <npde/plugin/npde_ext.h>

#define AC_PI 3.14159265358979323846264338327950288

typedef struct ac_state {
  int64_t d, modes;
  double eps2, amplitude, k; /* eps^2; k = modes pi / 2 */
} ac_state;

/* A real parameter of the validated node, which must also be finite (".inf" passes the schema's min). */
static npde_status ac_read_real(const npde_config *cfg, const char *key, double *out) {
  NPDE_TRY(npde_config_get_real(cfg, key, out));
  if (!isfinite(*out)) return npde_config_error(npde_config_get(cfg, key), "allen-cahn: '%s' must be finite", key);
  return NPDE_OK;
}

/* cfg has been validated against ac_params below: every key is present, in range, defaults filled in. */
static npde_status ac_create(npde_pde *p, const npde_config *cfg, npde_backend *be) {
  (void)be; /* PDEs get no backend: they work on host arrays */
  ac_state *s = npde_pde_state(p);
  if (!cfg) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde 'allen-cahn': created without a config node");
  double eps = 0.0;
  NPDE_TRY(npde_config_get_int(cfg, "dim", &s->d));
  NPDE_TRY(npde_config_get_int(cfg, "modes", &s->modes));
  NPDE_TRY(ac_read_real(cfg, "eps", &eps));
  NPDE_TRY(ac_read_real(cfg, "amplitude", &s->amplitude));
  s->eps2 = eps * eps;
  s->k = 0.5 * AC_PI * (double)s->modes;
  const double rate = 1.0 - s->eps2 * (double)s->d * s->k * s->k;
  if (rate <= 0.0)
    npde_log(NPDE_LOG_WARN,
             "allen-cahn: eps = %g, dim = %lld, modes = %lld: the initial mode decays (growth rate %g <= 0); "
             "u tends to 0", eps, (long long)s->d, (long long)s->modes, rate);
  return NPDE_OK;
}

static void ac_destroy(npde_pde *p) { (void)p; /* nothing allocated */ }

static npde_status ac_info(const npde_pde *p, npde_pde_info *info) {
  const ac_state *s = npde_pde_state(p);
  info->dim = s->d;
  info->outputs = 1;
  info->order = NPDE_JET_LAPLACIAN;
  info->has_exact = false;
  info->dirichlet_zero = true;
  return NPDE_OK;
}

static npde_status ac_initial(const npde_pde *p, const double *x, int64_t n, double *U) {
  const ac_state *s = npde_pde_state(p);
  for (int64_t i = 0; i < n; ++i) {
    double u = s->amplitude;
    for (int64_t j = 0; j < s->d; ++j) u *= sin(s->k * (x[i * s->d + j] + 1.0));
    U[i] = u;
  }
  return NPDE_OK;
}

static npde_status ac_rhs(const npde_pde *p, double t, const npde_pde_jets *jets, double *F) {
  (void)t; /* autonomous */
  const ac_state *s = npde_pde_state(p);
  const int64_t n = jets->n, K = jets->K;
  if (n > 0 && !jets->second)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde 'allen-cahn': rhs needs the second-derivative jets");
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < K; ++k) {
      const double u = jets->value[i * K + k];
      F[i * K + k] = s->eps2 * npde_jets_laplacian(jets, i, k) + u - u * u * u;
    }
  return NPDE_OK;
}

static const npde_pde_ops ac_ops = {
    .struct_size = sizeof(npde_pde_ops),
    .create = ac_create,
    .destroy = ac_destroy,
    .info = ac_info,
    .initial = ac_initial,
    .exact = NULL, /* optional; has_exact is false */
    .rhs = ac_rhs,
};

/* The schema: the core validates the YAML against it (unknown keys, types, ranges), fills in the defaults,
 * and `npde plugins show allen-cahn` prints it. */
static const npde_param_spec ac_params[] = {
    {.name = "dim", .type = NPDE_PARAM_INT, .default_value = "2", .doc = "d: the domain is [-1, 1]^d",
     .min = 1, .max = 64, .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX},
    {.name = "eps", .type = NPDE_PARAM_REAL, .default_value = "0.1",
     .doc = "interface width: u_t = eps^2 lap u + u - u^3", .min = 0, .flags = NPDE_PARAM_HAS_MIN},
    {.name = "amplitude", .type = NPDE_PARAM_REAL, .default_value = "0.5",
     .doc = "A in u(x, 0) = A prod_j sin(modes pi (x_j + 1) / 2)"},
    {.name = "modes", .type = NPDE_PARAM_INT, .default_value = "2",
     .doc = "half-waves of the initial condition per axis (1: one bump; 2: a checkerboard)", .min = 1, .max = 16,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX},
    {0},
};

static const npde_component_desc ac_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_PDE,
    .name = "allen-cahn", /* the value of `type:` under `pde:` */
    .summary = "u_t = eps^2 lap u + u - u^3, sine-product IC, u = 0 on the faces, no exact solution",
    .ops = &ac_ops,
    .state_size = sizeof(ac_state),
    .params = ac_params,
};

static const npde_component_desc *const components[] = {&ac_component};

NPDE_PLUGIN_DEFINE(.name = "allen-cahn", .version = "0.1.0", .license = "MIT",
                   .description = "example out-of-tree PDE: the Allen-Cahn equation on [-1, 1]^d",
                   .n_components = 1, .components = components)
