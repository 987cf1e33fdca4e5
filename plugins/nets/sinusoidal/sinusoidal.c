/* The sinusoidal embedding layer (docs/methods/neural-ivp.md §2.1): x in R^d maps to the
 * 2 L d features amp sin(w_k x_j) / w_k^alpha (column k d + j) and
 * amp cos(w_k x_j) / w_k^alpha (column L d + k d + j), w_k = (pi/2) 2^k. It
 * has no parameters. Every feature depends on one coordinate only, so
 * D = npde_backend_sinusoidal(order 1, dir -1) holds the whole Jacobian:
 * d feature(q d + j) / dx_c = D[:, q d + j] if c == j, else 0 (q < 2 L).
 *
 *   jvp: dY_k[:, q d + j] = D[:, q d + j] dX_k[:, j]: copy dX_k into each of
 *        the 2 L column groups of dY, then one mul_blocks by D.
 *   vjp: gX_k[:, j] = sum_q (G_k .* D)[:, q d + j]: mul_blocks in place in
 *        G, then the sum of the 2 L column groups (copy + axpy).
 *   jet: only of the raw coordinates (it must be a branch's first layer):
 *        value, gradient block j = order 1 along x_j, second blocks (j, j) =
 *        order 2 along x_j, mixed blocks zero.
 * Work: D (n x 2 L d) for jvp and vjp; no cache.
 */
#include "npde/plugin/npde_ext.h"

typedef struct sin_state {
  npde_backend *be;
  int64_t freqs, d;
  double alpha, amp;
} sin_state;

static npde_status sin_create(npde_layer *l, const npde_config *cfg, npde_backend *be) {
  sin_state *s = npde_layer_state(l);
  if (!cfg) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "layer 'sinusoidal': created without a config node");
  if (!be) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "layer 'sinusoidal': created without a backend");
  s->be = be;
  NPDE_TRY(npde_config_get_int(cfg, "frequencies", &s->freqs));
  NPDE_TRY(npde_config_get_real(cfg, "alpha", &s->alpha));
  NPDE_TRY(npde_config_get_real(cfg, "amplitude", &s->amp));
  return NPDE_OK;
}

static void sin_destroy(npde_layer *l) { (void)l; }

static npde_status sin_configure(npde_layer *l, int64_t in_dim, int64_t *out_dim, int64_t *n_params) {
  sin_state *s = npde_layer_state(l);
  s->d = in_dim;
  *out_dim = 2 * s->freqs * in_dim;
  *n_params = 0;
  return NPDE_OK;
}

static npde_status sin_init(npde_layer *l, npde_mat *theta, uint64_t seed, uint64_t stream) {
  (void)l, (void)theta, (void)seed, (void)stream;
  return NPDE_OK;
}

static npde_status sin_cache_size(npde_layer *l, int64_t n, int64_t *elems) {
  (void)l, (void)n;
  *elems = 0;
  return NPDE_OK;
}

static npde_status sin_work_size(npde_layer *l, int64_t n, int64_t m, npde_jet_order order, int64_t d,
                                 int64_t *elems) {
  (void)m, (void)order, (void)d;
  sin_state *s = npde_layer_state(l);
  *elems = n * 2 * s->freqs * s->d;
  return NPDE_OK;
}

static npde_status sin_forward(npde_layer *l, const npde_mat *theta, const npde_mat *X, npde_mat *Y, void *cache,
                               void *work) {
  (void)work;
  (void)theta, (void)cache;
  sin_state *s = npde_layer_state(l);
  if (X->rows == 0) return NPDE_OK;
  return npde_backend_sinusoidal(s->be, X, s->freqs, s->alpha, s->amp, 0, -1, Y);
}

/* D = the features' derivatives along their own coordinates, in work. */
static npde_status jacobian(sin_state *s, const npde_mat *X, void *work, npde_mat *D) {
  if (!work) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "sinusoidal: jvp and vjp need work (see work_size)");
  *D = npde_mat_view(work, X->dtype, X->rows, 2 * s->freqs * s->d);
  return npde_backend_sinusoidal(s->be, X, s->freqs, s->alpha, s->amp, 1, -1, D);
}

static npde_status sin_jvp(npde_layer *l, const npde_mat *theta, const npde_mat *X, const void *cache,
                           const npde_mat *dtheta, const npde_mat *dX, npde_mat *dY, int64_t m, void *work) {
  (void)theta, (void)cache, (void)dtheta; /* no parameters: dtheta is always NULL */
  sin_state *s = npde_layer_state(l);
  if (X->rows == 0) return NPDE_OK;
  if (!dX) return npde_backend_fill(s->be, dY, 0.0);
  npde_mat D;
  NPDE_TRY(jacobian(s, X, work, &D));
  for (int64_t q = 0; q < 2 * s->freqs; ++q) {
    npde_mat group = npde_mat_sub(*dY, 0, q * s->d, dY->rows, s->d);
    NPDE_TRY(npde_backend_copy(s->be, dX, &group));
  }
  return npde_backend_mul_blocks(s->be, &D, dY, dY, m);
}

static npde_status sin_vjp(npde_layer *l, const npde_mat *theta, const npde_mat *X, const void *cache, npde_mat *G,
                           npde_mat *gX, npde_mat *gtheta, int64_t m, void *work) {
  (void)theta, (void)cache, (void)gtheta;
  sin_state *s = npde_layer_state(l);
  if (!gX || X->rows == 0) return NPDE_OK;
  npde_mat D;
  NPDE_TRY(jacobian(s, X, work, &D));
  NPDE_TRY(npde_backend_mul_blocks(s->be, &D, G, G, m));
  for (int64_t q = 0; q < 2 * s->freqs; ++q) {
    npde_mat group = npde_mat_sub(*G, 0, q * s->d, G->rows, s->d);
    if (q == 0) NPDE_TRY(npde_backend_copy(s->be, &group, gX));
    else NPDE_TRY(npde_backend_axpy(s->be, 1.0, &group, gX));
  }
  return NPDE_OK;
}

static npde_status sin_jet(npde_layer *l, const npde_mat *theta, const npde_jet *in, npde_jet *out, void *work) {
  (void)theta, (void)work;
  sin_state *s = npde_layer_state(l);
  if (!in->identity)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG,
                      "sinusoidal must be the first layer of a branch: it takes raw coordinates");
  int64_t n = in->n, d = in->d;
  if (n == 0) return NPDE_OK;
  npde_backend *be = s->be;
  const npde_mat *X = &in->value;
  NPDE_TRY(npde_backend_sinusoidal(be, X, s->freqs, s->alpha, s->amp, 0, -1, &out->value));
  if (in->order >= NPDE_JET_GRAD)
    for (int64_t j = 0; j < d; ++j) {
      npde_mat g = npde_mat_sub(out->grad, j * n, 0, n, out->grad.cols);
      NPDE_TRY(npde_backend_sinusoidal(be, X, s->freqs, s->alpha, s->amp, 1, j, &g));
    }
  if (in->order == NPDE_JET_LAPLACIAN)
    for (int64_t j = 0; j < d; ++j) {
      npde_mat h = npde_mat_sub(out->second, j * n, 0, n, out->second.cols);
      NPDE_TRY(npde_backend_sinusoidal(be, X, s->freqs, s->alpha, s->amp, 2, j, &h));
    }
  if (in->order == NPDE_JET_HESSIAN)
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = i; j < d; ++j) {
        npde_mat h = npde_mat_sub(out->second, npde_jet_hessian_index(i, j, d) * n, 0, n, out->second.cols);
        if (i == j) NPDE_TRY(npde_backend_sinusoidal(be, X, s->freqs, s->alpha, s->amp, 2, j, &h));
        else NPDE_TRY(npde_backend_fill(be, &h, 0.0)); /* separable: no mixed derivatives */
      }
  return NPDE_OK;
}

static const npde_layer_ops sin_ops = {
    .struct_size = sizeof(npde_layer_ops),
    .create = sin_create,
    .destroy = sin_destroy,
    .configure = sin_configure,
    .init = sin_init,
    .cache_size = sin_cache_size,
    .work_size = sin_work_size,
    .forward = sin_forward,
    .jvp = sin_jvp,
    .vjp = sin_vjp,
    .jet = sin_jet,
};

static const npde_param_spec sin_params[] = {
    {.name = "frequencies", .type = NPDE_PARAM_INT, .default_value = "5",
     .doc = "L: frequencies w_k = (pi/2) 2^k, k < L", .min = 1, .max = 30,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX},
    {.name = "alpha", .type = NPDE_PARAM_REAL, .default_value = "1",
     .doc = "decay exponent: features are scaled by amplitude / w_k^alpha"},
    {.name = "amplitude", .type = NPDE_PARAM_REAL, .default_value = "6", .doc = "A: the features' amplitude"},
    {0},
};

const npde_component_desc sinusoidal_layer_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_LAYER,
    .name = "sinusoidal",
    .summary = "sinusoidal embedding of raw coordinates: 2 L d features, no parameters",
    .ops = &sin_ops,
    .state_size = sizeof(sin_state),
    .params = sin_params,
};
