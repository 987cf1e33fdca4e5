/* The layer dispatcher: argument checks, then the plugin's op. */
#include <stdlib.h>

#include "npde/npde_layer.h"
#include "registry_impl.h"

struct npde_layer {
  npde_object hdr;
  int64_t in, out, n_params;
};

#define OPS(l) NPDE__OPS(l, npde_layer_ops)

void npde_layer_destroy(npde_layer **l) { npde_object_destroy((npde_object **)l); }

npde_status npde_layer_create(const npde_registry *reg, const char *name, const npde_config *node, npde_backend *be,
                              int64_t in_dim, npde_layer **out) {
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_layer_create: NULL out");
  *out = NULL;
  if (in_dim < 1) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_layer_create: input width %lld < 1", (long long)in_dim);
  npde_layer *l = NULL;
  NPDE_TRY(npde__object_create_sized(reg, NPDE_KIND_LAYER, name, node, be, sizeof *l, (npde_object **)&l));
  const npde_layer_ops *ops = OPS(l);
  npde_status st = NPDE_OK;
  if (!ops->configure || !ops->init || !ops->cache_size || !ops->work_size || !ops->forward || !ops->jvp ||
      !ops->vjp || !ops->jet)
    st = NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "layer '%s' lacks a required op (configure, init, cache_size, "
                    "work_size, forward, jvp, vjp, jet)", l->hdr.type_name);
  if (st == NPDE_OK) {
    l->in = in_dim;
    st = ops->configure(l, in_dim, &l->out, &l->n_params);
    if (st == NPDE_OK && (l->out < 1 || l->n_params < 0))
      st = NPDE_ERROR(NPDE_ERR_INVALID_ARG, "layer '%s' configured to %lld outputs, %lld parameters",
                      l->hdr.type_name, (long long)l->out, (long long)l->n_params);
  }
  if (st != NPDE_OK) {
    npde_layer_destroy(&l);
    return st;
  }
  *out = l;
  return NPDE_OK;
}

static npde_status check(const npde_layer *l, const char *call) {
  return npde__object_check(l, NPDE_KIND_LAYER, call);
}

int64_t npde_layer_in_dim(const npde_layer *l) { return check(l, "npde_layer_in_dim") == NPDE_OK ? l->in : 0; }
int64_t npde_layer_out_dim(const npde_layer *l) { return check(l, "npde_layer_out_dim") == NPDE_OK ? l->out : 0; }
int64_t npde_layer_n_params(const npde_layer *l) {
  return check(l, "npde_layer_n_params") == NPDE_OK ? l->n_params : 0;
}
const char *npde_layer_type(const npde_layer *l) {
  return check(l, "npde_layer_type") == NPDE_OK ? l->hdr.type_name : "?";
}

static npde_status shape(const char *call, const char *what, const npde_mat *m, int64_t rows, int64_t cols) {
  if (!m) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: %s is NULL", call, what);
  if (m->rows != rows || m->cols != cols)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: %s is %lld x %lld, expected %lld x %lld", call, what,
                      (long long)m->rows, (long long)m->cols, (long long)rows, (long long)cols);
  return NPDE_OK;
}

npde_status npde_layer_init(npde_layer *l, npde_mat *theta, uint64_t seed, uint64_t stream) {
  NPDE_TRY(check(l, "npde_layer_init"));
  if (l->n_params == 0) return NPDE_OK;
  NPDE_TRY(shape("npde_layer_init", "theta", theta, 1, l->n_params));
  return OPS(l)->init(l, theta, seed, stream);
}

npde_status npde_layer_cache_size(npde_layer *l, int64_t n, int64_t *elems) {
  NPDE_TRY(check(l, "npde_layer_cache_size"));
  *elems = 0;
  return OPS(l)->cache_size(l, n, elems);
}

npde_status npde_layer_work_size(npde_layer *l, int64_t n, int64_t m, npde_jet_order order, int64_t d, int64_t *elems) {
  NPDE_TRY(check(l, "npde_layer_work_size"));
  *elems = 0;
  return OPS(l)->work_size(l, n, m, order, d, elems);
}

npde_status npde_layer_forward(npde_layer *l, const npde_mat *theta, const npde_mat *X, npde_mat *Y, void *cache,
                               void *work) {
  NPDE_TRY(check(l, "npde_layer_forward"));
  if (!X) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_layer_forward: X is NULL");
  if (l->n_params) NPDE_TRY(shape("npde_layer_forward", "theta", theta, 1, l->n_params));
  NPDE_TRY(shape("npde_layer_forward", "X", X, X->rows, l->in));
  NPDE_TRY(shape("npde_layer_forward", "Y", Y, X->rows, l->out));
  return OPS(l)->forward(l, theta, X, Y, cache, work);
}

npde_status npde_layer_jvp(npde_layer *l, const npde_mat *theta, const npde_mat *X, const void *cache,
                           const npde_mat *dtheta, const npde_mat *dX, npde_mat *dY, int64_t m, void *work) {
  NPDE_TRY(check(l, "npde_layer_jvp"));
  if (!X || m < 1) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_layer_jvp: NULL X or m < 1");
  int64_t n = X->rows;
  if (l->n_params) NPDE_TRY(shape("npde_layer_jvp", "theta", theta, 1, l->n_params));
  NPDE_TRY(shape("npde_layer_jvp", "X", X, n, l->in));
  if (dtheta && l->n_params) NPDE_TRY(shape("npde_layer_jvp", "dtheta", dtheta, m, l->n_params));
  if (dX) NPDE_TRY(shape("npde_layer_jvp", "dX", dX, m * n, l->in));
  NPDE_TRY(shape("npde_layer_jvp", "dY", dY, m * n, l->out));
  return OPS(l)->jvp(l, theta, X, cache, l->n_params ? dtheta : NULL, dX, dY, m, work);
}

npde_status npde_layer_vjp(npde_layer *l, const npde_mat *theta, const npde_mat *X, const void *cache, npde_mat *G,
                           npde_mat *gX, npde_mat *gtheta, int64_t m, void *work) {
  NPDE_TRY(check(l, "npde_layer_vjp"));
  if (!X || m < 1) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_layer_vjp: NULL X or m < 1");
  int64_t n = X->rows;
  if (l->n_params) NPDE_TRY(shape("npde_layer_vjp", "theta", theta, 1, l->n_params));
  NPDE_TRY(shape("npde_layer_vjp", "X", X, n, l->in));
  NPDE_TRY(shape("npde_layer_vjp", "G", G, m * n, l->out));
  if (gX) NPDE_TRY(shape("npde_layer_vjp", "gX", gX, m * n, l->in));
  if (gtheta && l->n_params) NPDE_TRY(shape("npde_layer_vjp", "gtheta", gtheta, m, l->n_params));
  return OPS(l)->vjp(l, theta, X, cache, G, gX, l->n_params ? gtheta : NULL, m, work);
}

static npde_status check_jet(const char *what, const npde_jet *j, int64_t w) {
  const char *call = "npde_layer_jet";
  if (!j) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: %s jet is NULL", call, what);
  if (j->n < 0 || j->d < 1 || (unsigned)j->order > NPDE_JET_HESSIAN)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: %s jet has n = %lld, d = %lld, order %d", call, what,
                      (long long)j->n, (long long)j->d, (int)j->order);
  NPDE_TRY(shape(call, what, &j->value, j->n, w));
  if (j->order >= NPDE_JET_GRAD) NPDE_TRY(shape(call, what, &j->grad, j->d * j->n, w));
  int64_t s = npde_jet_second_blocks(j->order, j->d);
  if (s) NPDE_TRY(shape(call, what, &j->second, s * j->n, w));
  return NPDE_OK;
}

npde_status npde_layer_jet(npde_layer *l, const npde_mat *theta, const npde_jet *in, npde_jet *out, void *work) {
  NPDE_TRY(check(l, "npde_layer_jet"));
  if (l->n_params) NPDE_TRY(shape("npde_layer_jet", "theta", theta, 1, l->n_params));
  NPDE_TRY(check_jet("input", in, l->in));
  NPDE_TRY(check_jet("output", out, l->out));
  if (out->n != in->n || out->d != in->d || out->order != in->order)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_layer_jet: the output jet must match the input's n, d and order");
  out->identity = false;
  return OPS(l)->jet(l, theta, in, out, work);
}
