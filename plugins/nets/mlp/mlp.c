/* The mlp layer: `depth` dense layers of `width` units, a_l = s(W_l a_{l-1} + b_l)
 * (docs/methods/neural-ivp.md §2.2, §2.7), with its parameter and input tangents, cotangent
 * pull-back and x-jets. All array work goes through backend ops, so the layer
 * runs on any backend and in the dtype of the views it is given.
 *
 * Parameters: [W_1, b_1, W_2, b_2, ...], W_l stored out x in row-major
 * (width x fan_in), then b_l (width).
 *
 * Cache of a forward on n points (n x width blocks, contiguous):
 *   A_0 .. A_{depth-2}   the hidden activations (the last one is Y itself)
 *   S1_0 .. S1_{depth-1} s'(z_l)
 *
 * Init (docs/methods/neural-ivp.md §2.3): W entries T / sqrt(fan_in), T a standard normal
 * truncated to [-2, 2] by rejection from Philox normals
 * (npde_philox_trunc_normal_at(seed, stream, e), e = the entry's index in
 * the layer's theta), drawn on the host and uploaded; biases zero. With
 * `omega0` (activation sin only) the init is SIREN's instead, with omega0
 * folded into the weights so that the activation stays sin(z): first layer
 * W ~ U(-omega0 / fan_in, omega0 / fan_in), later layers
 * W ~ U(-sqrt(6 / fan_in), sqrt(6 / fan_in)); biases zero. This is the same
 * function class as SIREN's sin(omega0 (W x + b)) with W scaled by omega0.
 * With `init_std` every W entry is init_std T instead (haiku's default
 * initialiser with 0.1, which the NBM reference networks use).
 */
#include <math.h>
#include <stdbool.h>

#include "npde/npde_philox.h"
#include "npde/plugin/npde_ext.h"

typedef struct mlp_state {
  npde_backend *be;
  int64_t width, depth, in;
  npde_activation act;
  bool siren;
  double omega0;
  double init_std; /* > 0: W = init_std T for every layer (haiku's default, as JAX-DIPS) */
} mlp_state;

/* ------------------------------------------------------------ layout */

static int64_t fan_in(const mlp_state *s, int64_t l) { return l ? s->width : s->in; }

static int64_t w_off(const mlp_state *s, int64_t l) {
  return l ? s->in * s->width + s->width + (l - 1) * (s->width * s->width + s->width) : 0;
}

static int64_t b_off(const mlp_state *s, int64_t l) { return w_off(s, l) + fan_in(s, l) * s->width; }

/* Row k of a parameter-shaped view P (m x n_params), columns [off, off + rows cols), as a rows x cols matrix. */
static npde_mat pslice(const npde_mat *P, int64_t k, int64_t off, int64_t rows, int64_t cols) {
  npde_mat v = npde_mat_sub(*P, k, off, 1, rows * cols);
  v.rows = rows;
  v.cols = cols;
  v.ld = cols;
  return v;
}

static npde_mat weights(const mlp_state *s, const npde_mat *P, int64_t k, int64_t l) {
  return pslice(P, k, w_off(s, l), s->width, fan_in(s, l));
}

static npde_mat bias(const mlp_state *s, const npde_mat *P, int64_t k, int64_t l) {
  return pslice(P, k, b_off(s, l), 1, s->width);
}

/* Block k (rows [k n, (k + 1) n)) of a stack of blocks. */
static npde_mat block(const npde_mat *M, int64_t k, int64_t n) { return npde_mat_sub(*M, k * n, 0, n, M->cols); }

/* A contiguous rows x cols view at element offset `at` of a buffer. */
static npde_mat at(const void *buf, npde_dtype dt, int64_t off, int64_t rows, int64_t cols) {
  return npde_mat_view((char *)buf + (size_t)off * npde_dtype_size(dt), dt, rows, cols);
}

/* The cached activation A_l (l < depth - 1) and s'(z_l) of a forward on n points. */
static npde_mat cache_a(const mlp_state *s, const void *cache, npde_dtype dt, int64_t n, int64_t l) {
  return at(cache, dt, l * n * s->width, n, s->width);
}
static npde_mat cache_s1(const mlp_state *s, const void *cache, npde_dtype dt, int64_t n, int64_t l) {
  return at(cache, dt, (s->depth - 1 + l) * n * s->width, n, s->width);
}

/* ------------------------------------------------------------ lifecycle */

static npde_status mlp_create(npde_layer *l, const npde_config *cfg, npde_backend *be) {
  mlp_state *s = npde_layer_state(l);
  if (!cfg) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "layer 'mlp': created without a config node");
  if (!be) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "layer 'mlp': created without a backend");
  s->be = be;
  const char *act = NULL;
  NPDE_TRY(npde_config_get_int(cfg, "width", &s->width));
  NPDE_TRY(npde_config_get_int(cfg, "depth", &s->depth));
  NPDE_TRY(npde_config_get_string(cfg, "activation", &act));
  if (!npde_activation_lookup(act, &s->act))
    return npde_config_error(npde_config_get(cfg, "activation"),
                             "mlp: 'activation' must be one of swish|tanh|sin|identity, found %s", act);
  const npde_config *om = npde_config_get(cfg, "omega0");
  if (om && npde_config_node_type(om) == NPDE_CONFIG_SCALAR && npde_config_scalar(om)[0] &&
      npde_config_as_real(om, &s->omega0) == NPDE_OK) {
    if (s->act != NPDE_ACT_SIN)
      return npde_config_error(om, "mlp: 'omega0' (SIREN init) needs activation: sin, not %s", act);
    if (!(s->omega0 > 0.0) || !isfinite(s->omega0))
      return npde_config_error(om, "mlp: 'omega0' = %g must be a finite number > 0", s->omega0);
    s->siren = true;
  }
  const npde_config *is = npde_config_get(cfg, "init_std");
  if (is && npde_config_node_type(is) == NPDE_CONFIG_SCALAR && npde_config_scalar(is)[0]) {
    NPDE_TRY(npde_config_as_real(is, &s->init_std));
    if (s->siren) return npde_config_error(is, "mlp: 'init_std' and 'omega0' are two different inits: choose one");
    if (!(s->init_std > 0.0) || !isfinite(s->init_std))
      return npde_config_error(is, "mlp: 'init_std' = %g must be a finite number > 0", s->init_std);
  }
  return NPDE_OK;
}

static void mlp_destroy(npde_layer *l) { (void)l; }

static npde_status mlp_configure(npde_layer *l, int64_t in_dim, int64_t *out_dim, int64_t *n_params) {
  mlp_state *s = npde_layer_state(l);
  s->in = in_dim;
  *out_dim = s->width;
  *n_params = b_off(s, s->depth - 1) + s->width;
  return NPDE_OK;
}

static npde_status mlp_init(npde_layer *l, npde_mat *theta, uint64_t seed, uint64_t stream) {
  mlp_state *s = npde_layer_state(l);
  int64_t p = b_off(s, s->depth - 1) + s->width;
  double *h = npde_alloc((size_t)p * sizeof *h);
  if (!h) return NPDE_ERROR(NPDE_ERR_NOMEM, "mlp init: cannot allocate %lld host values", (long long)p);
  for (int64_t layer = 0; layer < s->depth; ++layer) {
    int64_t fin = fan_in(s, layer), nw = fin * s->width, w0 = w_off(s, layer);
    double root = s->init_std > 0.0 ? 1.0 / s->init_std : sqrt((double)fin);
    double bound = layer == 0 ? s->omega0 / (double)fin : sqrt(6.0 / (double)fin);
    /* element e = the parameter's index in theta, so each has its own counters */
    for (int64_t i = w0; i < w0 + nw; ++i)
      h[i] = s->siren ? bound * (2.0 * npde_philox_uniform_at(seed, stream, 0, (uint64_t)i) - 1.0)
                      : npde_philox_trunc_normal_at(seed, stream, (uint64_t)i) / root;
    for (int64_t i = 0; i < s->width; ++i) h[w0 + nw + i] = 0.0;
  }
  void *src = h;
  float *f = NULL;
  if (theta->dtype == NPDE_F32) {
    f = npde_alloc((size_t)p * sizeof *f);
    if (!f) {
      npde_free(h);
      return NPDE_ERROR(NPDE_ERR_NOMEM, "mlp init: cannot allocate %lld host values", (long long)p);
    }
    for (int64_t i = 0; i < p; ++i) f[i] = (float)h[i];
    src = f;
  }
  npde_status st = npde_backend_upload(s->be, theta->data, src, (size_t)p * npde_dtype_size(theta->dtype));
  npde_free(f);
  npde_free(h);
  return st;
}

static npde_status mlp_cache_size(npde_layer *l, int64_t n, int64_t *elems) {
  mlp_state *s = npde_layer_state(l);
  *elems = (2 * s->depth - 1) * n * s->width;
  return NPDE_OK;
}

/* Rows of a jet's stacked blocks: value, d gradient blocks, the second blocks. */
static int64_t jet_rows(int64_t n, npde_jet_order order, int64_t d) {
  return n * (1 + (order >= NPDE_JET_GRAD ? d : 0) + npde_jet_second_blocks(order, d));
}

static npde_status mlp_work_size(npde_layer *l, int64_t n, int64_t m, npde_jet_order order, int64_t d,
                                 int64_t *elems) {
  mlp_state *s = npde_layer_state(l);
  int64_t w = s->width;
  int64_t tangents = s->depth > 1 ? m * n * w : 0; /* jvp, vjp: one ping-pong buffer */
  int64_t rows = jet_rows(n, order, d);
  int64_t jet = rows * w * (s->depth > 1 ? 2 : 1) + (order >= NPDE_JET_GRAD ? n * w : 0) +
                (order >= NPDE_JET_LAPLACIAN ? n * w : 0);
  *elems = tangents > jet ? tangents : jet;
  return NPDE_OK;
}

/* ------------------------------------------------------------ forward */

static npde_status mlp_forward(npde_layer *l, const npde_mat *theta, const npde_mat *X, npde_mat *Y, void *cache,
                               void *work) {
  mlp_state *s = npde_layer_state(l);
  npde_backend *be = s->be;
  npde_dtype dt = X->dtype;
  int64_t n = X->rows, w = s->width;
  if (n == 0) return NPDE_OK;
  /* without a cache, hidden layers alternate between tmp (work if given) and Y */
  void *tmp = NULL, *owned = NULL;
  if (!cache && s->depth > 1) {
    if (!work) NPDE_TRY(npde_backend_alloc(be, (size_t)(n * w) * npde_dtype_size(dt), &owned));
    tmp = work ? work : owned;
  }
  npde_status st = NPDE_OK;
  npde_mat prev = *X;
  for (int64_t k = 0; k < s->depth && st == NPDE_OK; ++k) {
    npde_mat W = weights(s, theta, 0, k), b = bias(s, theta, 0, k), Z;
    if (k == s->depth - 1) Z = *Y;
    else if (cache) Z = cache_a(s, cache, dt, n, k);
    else Z = (s->depth - 1 - k) % 2 ? at(tmp, dt, 0, n, w) : *Y;
    st = npde_backend_gemm(be, NPDE_NO_TRANS, NPDE_TRANS, 1.0, &prev, &W, 0.0, &Z);
    if (st == NPDE_OK) st = npde_backend_add_row(be, 1.0, &b, &Z);
    npde_mat S1 = cache ? cache_s1(s, cache, dt, n, k) : Z;
    if (st == NPDE_OK) st = npde_backend_activation(be, s->act, &Z, &Z, cache ? &S1 : NULL, NULL);
    prev = Z;
  }
  npde_backend_free(be, owned);
  if (st != NPDE_OK) return npde_trace_error(st, __func__, __FILE__, __LINE__);
  return NPDE_OK;
}

/* ------------------------------------------------------------ jvp */

static npde_status mlp_jvp(npde_layer *l, const npde_mat *theta, const npde_mat *X, const void *cache,
                           const npde_mat *dtheta, const npde_mat *dX, npde_mat *dY, int64_t m, void *work) {
  mlp_state *s = npde_layer_state(l);
  npde_backend *be = s->be;
  npde_dtype dt = X->dtype;
  int64_t n = X->rows, w = s->width;
  if (n == 0) return NPDE_OK;
  if (!dX && !dtheta) return npde_backend_fill(be, dY, 0.0);
  if (!cache) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "mlp jvp: needs the cache of a forward on X");
  if (s->depth > 1 && !work) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "mlp jvp: needs work (see work_size)");
  npde_mat T = s->depth > 1 ? at(work, dt, 0, m * n, w) : *dY;
  npde_mat prev = dX ? *dX : *dY;
  bool have_prev = dX != NULL;
  for (int64_t k = 0; k < s->depth; ++k) {
    /* layer k writes dY when depth - 1 - k is even, so the last one lands there */
    npde_mat Z = (s->depth - 1 - k) % 2 ? T : *dY;
    npde_mat W = weights(s, theta, 0, k), A = k ? cache_a(s, cache, dt, n, k - 1) : *X;
    double beta = 0.0;
    if (have_prev) { /* dZ = dA_prev W^T, all m blocks in one product */
      NPDE_TRY(npde_backend_gemm(be, NPDE_NO_TRANS, NPDE_TRANS, 1.0, &prev, &W, 0.0, &Z));
      beta = 1.0;
    }
    if (dtheta) { /* dZ_j += A_prev dW_j^T + db_j */
      npde_mat dW = weights(s, dtheta, 0, k), Z0 = block(&Z, 0, n);
      NPDE_TRY(npde_backend_gemm_batched(be, NPDE_NO_TRANS, NPDE_TRANS, 1.0, &A, 0, &dW, dtheta->ld, beta, &Z0,
                                         n * Z.ld, m));
      for (int64_t j = 0; j < m; ++j) {
        npde_mat db = bias(s, dtheta, j, k), Zj = block(&Z, j, n);
        NPDE_TRY(npde_backend_add_row(be, 1.0, &db, &Zj));
      }
    }
    npde_mat S1 = cache_s1(s, cache, dt, n, k);
    NPDE_TRY(npde_backend_mul_blocks(be, &S1, &Z, &Z, m));
    prev = Z;
    have_prev = true;
  }
  return NPDE_OK;
}

/* ------------------------------------------------------------ vjp */

static npde_status mlp_vjp(npde_layer *l, const npde_mat *theta, const npde_mat *X, const void *cache, npde_mat *G,
                           npde_mat *gX, npde_mat *gtheta, int64_t m, void *work) {
  mlp_state *s = npde_layer_state(l);
  npde_backend *be = s->be;
  npde_dtype dt = X->dtype;
  int64_t n = X->rows, w = s->width;
  if (n == 0 || (!gX && !gtheta)) return NPDE_OK;
  if (!cache) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "mlp vjp: needs the cache of a forward on X");
  if (s->depth > 1 && !work) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "mlp vjp: needs work (see work_size)");
  npde_mat T = s->depth > 1 ? at(work, dt, 0, m * n, w) : *G;
  npde_mat g = *G; /* the cotangent of a_k; becomes that of z_k in place */
  bool in_G = true;
  for (int64_t k = s->depth - 1; k >= 0; --k) {
    npde_mat S1 = cache_s1(s, cache, dt, n, k), W = weights(s, theta, 0, k);
    NPDE_TRY(npde_backend_mul_blocks(be, &S1, &g, &g, m));
    if (gtheta) { /* gW_j += gZ_j^T A_prev, gb_j += column sums of gZ_j */
      npde_mat A = k ? cache_a(s, cache, dt, n, k - 1) : *X;
      npde_mat gW = weights(s, gtheta, 0, k), g0 = block(&g, 0, n);
      NPDE_TRY(npde_backend_gemm_batched(be, NPDE_TRANS, NPDE_NO_TRANS, 1.0, &g0, n * g.ld, &A, 0, 1.0, &gW,
                                         gtheta->ld, m));
      for (int64_t j = 0; j < m; ++j) {
        npde_mat gb = bias(s, gtheta, j, k), gj = block(&g, j, n);
        NPDE_TRY(npde_backend_col_sums(be, 1.0, &gj, 1.0, &gb));
      }
    }
    if (k > 0) { /* the cotangent of a_{k-1} = gZ W, into the other buffer */
      npde_mat next = in_G ? T : *G;
      NPDE_TRY(npde_backend_gemm(be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &g, &W, 0.0, &next));
      g = next;
      in_G = !in_G;
    } else if (gX) {
      NPDE_TRY(npde_backend_gemm(be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &g, &W, 0.0, gX));
    }
  }
  return NPDE_OK;
}

/* ------------------------------------------------------------ jet */

typedef struct jet_parts {
  npde_mat value, grad, second;
} jet_parts;

/* A stacked rows x w buffer split into a jet's value, gradient and second blocks. */
static jet_parts split(const npde_mat *S, int64_t n, npde_jet_order order, int64_t d) {
  jet_parts p;
  int64_t ng = order >= NPDE_JET_GRAD ? d : 0, ns = npde_jet_second_blocks(order, d);
  p.value = npde_mat_sub(*S, 0, 0, n, S->cols);
  p.grad = npde_mat_sub(*S, n, 0, ng * n, S->cols);
  p.second = npde_mat_sub(*S, (1 + ng) * n, 0, ns * n, S->cols);
  return p;
}

static npde_status mlp_jet(npde_layer *l, const npde_mat *theta, const npde_jet *in, npde_jet *out, void *work) {
  mlp_state *s = npde_layer_state(l);
  npde_backend *be = s->be;
  npde_dtype dt = in->value.dtype;
  int64_t n = in->n, d = in->d, w = s->width, rows = jet_rows(n, in->order, d);
  npde_jet_order order = in->order;
  if (n == 0) return NPDE_OK;
  if (!work) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "mlp jet: needs work (see work_size)");
  int64_t off = 0;
  npde_mat Zs = at(work, dt, off, rows, w); /* the z-jet, stacked */
  off += rows * w;
  npde_mat Js = s->depth > 1 ? at(work, dt, off, rows, w) : Zs; /* hidden a-jets, stacked */
  off += s->depth > 1 ? rows * w : 0;
  npde_mat S1 = order >= NPDE_JET_GRAD ? at(work, dt, off, n, w) : Zs;
  npde_mat S2 = order >= NPDE_JET_LAPLACIAN ? at(work, dt, off + n * w, n, w) : Zs;
  jet_parts Z = split(&Zs, n, order, d), J = split(&Js, n, order, d);
  jet_parts src = {in->value, in->grad, in->second}, dst = {out->value, out->grad, out->second};
  int64_t ns = npde_jet_second_blocks(order, d);
  for (int64_t k = 0; k < s->depth; ++k) {
    npde_mat W = weights(s, theta, 0, k), b = bias(s, theta, 0, k);
    /* z-jet = W applied to every block; the bias enters the value only */
    if (k == 0) {
      NPDE_TRY(npde_backend_gemm(be, NPDE_NO_TRANS, NPDE_TRANS, 1.0, &src.value, &W, 0.0, &Z.value));
      if (order >= NPDE_JET_GRAD)
        NPDE_TRY(npde_backend_gemm(be, NPDE_NO_TRANS, NPDE_TRANS, 1.0, &src.grad, &W, 0.0, &Z.grad));
      if (ns) NPDE_TRY(npde_backend_gemm(be, NPDE_NO_TRANS, NPDE_TRANS, 1.0, &src.second, &W, 0.0, &Z.second));
    } else {
      NPDE_TRY(npde_backend_gemm(be, NPDE_NO_TRANS, NPDE_TRANS, 1.0, &Js, &W, 0.0, &Zs));
    }
    NPDE_TRY(npde_backend_add_row(be, 1.0, &b, &Z.value));
    jet_parts *to = k == s->depth - 1 ? &dst : &J;
    /* the activation's chain rule */
    NPDE_TRY(npde_backend_activation(be, s->act, &Z.value, &to->value, order >= NPDE_JET_GRAD ? &S1 : NULL,
                                     order >= NPDE_JET_LAPLACIAN ? &S2 : NULL));
    if (order >= NPDE_JET_GRAD) NPDE_TRY(npde_backend_mul_blocks(be, &S1, &Z.grad, &to->grad, d));
    if (order == NPDE_JET_LAPLACIAN)
      NPDE_TRY(npde_backend_jet2(be, &S1, &S2, &Z.grad, &Z.grad, &Z.second, &to->second, d));
    if (order == NPDE_JET_HESSIAN)
      for (int64_t i = 0; i < d; ++i)
        for (int64_t j = i; j < d; ++j) {
          int64_t h = npde_jet_hessian_index(i, j, d);
          npde_mat gi = block(&Z.grad, i, n), gj = block(&Z.grad, j, n), zs = block(&Z.second, h, n);
          npde_mat y = block(&to->second, h, n);
          NPDE_TRY(npde_backend_jet2(be, &S1, &S2, &gi, &gj, &zs, &y, 1));
        }
  }
  return NPDE_OK;
}

/* ------------------------------------------------------------ descriptor */

static const npde_layer_ops mlp_ops = {
    .struct_size = sizeof(npde_layer_ops),
    .create = mlp_create,
    .destroy = mlp_destroy,
    .configure = mlp_configure,
    .init = mlp_init,
    .cache_size = mlp_cache_size,
    .work_size = mlp_work_size,
    .forward = mlp_forward,
    .jvp = mlp_jvp,
    .vjp = mlp_vjp,
    .jet = mlp_jet,
};

static const npde_param_spec mlp_params[] = {
    {.name = "width", .type = NPDE_PARAM_INT, .default_value = "100", .doc = "units per dense layer",
     .min = 1, .flags = NPDE_PARAM_HAS_MIN},
    {.name = "depth", .type = NPDE_PARAM_INT, .default_value = "3", .doc = "number of dense layers",
     .min = 1, .flags = NPDE_PARAM_HAS_MIN},
    {.name = "activation", .type = NPDE_PARAM_ENUM, .default_value = "swish",
     .doc = "activation after every dense layer", .choices = "swish|tanh|sin|identity"},
    {.name = "omega0", .type = NPDE_PARAM_REAL,
     .doc = "activation sin only: SIREN init with omega0 folded into the weights (first layer "
            "U(-omega0/in, omega0/in), later U(-sqrt(6/in), sqrt(6/in)))",
     .min = 0, .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_OPTIONAL},
    {.name = "init_std", .type = NPDE_PARAM_REAL,
     .doc = "weights init_std T (T standard normal truncated to [-2, 2]) instead of T / sqrt(fan_in); 0.1 is "
            "haiku's default, the init of the JAX-DIPS networks (docs/methods/nbm.md §5)",
     .min = 0, .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_OPTIONAL},
    {0},
};

const npde_component_desc mlp_layer_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_LAYER,
    .name = "mlp",
    .summary = "depth dense layers of width units, each followed by an activation",
    .ops = &mlp_ops,
    .state_size = sizeof(mlp_state),
    .params = mlp_params,
};
