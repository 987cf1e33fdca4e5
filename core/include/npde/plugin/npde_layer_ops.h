/**
 * A network layer: a map from n x in to n x out on a batch of n points, with
 * its parameters in a slice of the network's flat parameter vector, and its
 * exact derivatives: parameter and input tangents (JVP), cotangent
 * pull-back (VJP) and spatial jets. Everything runs through backend ops, so
 * a layer runs on any backend. The core composes layers into networks
 * (branches, heads, envelope) and chunks points; a layer sees one chunk.
 *
 * Blocks: m tangents or cotangents of an n-point chunk are stacked as
 * (m n) x w matrices, block k in rows [k n, (k+1) n). Parameter tangents
 * are m x n_params (row k = tangent k).
 */
#ifndef NPDE_LAYER_OPS_H
#define NPDE_LAYER_OPS_H

#include "npde_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_layer npde_layer;

/** How much of the x-jet to propagate. */
typedef enum npde_jet_order {
  NPDE_JET_VALUE = 0,     /* values only */
  NPDE_JET_GRAD = 1,      /* + gradient */
  NPDE_JET_LAPLACIAN = 2, /* + the d pure second derivatives d2/dx_j2 */
  NPDE_JET_HESSIAN = 3    /* + all d (d + 1) / 2 second derivatives */
} npde_jet_order;

/** Number of second-derivative blocks of a jet. */
static inline int64_t npde_jet_second_blocks(npde_jet_order order, int64_t d) {
  return order == NPDE_JET_LAPLACIAN ? d : order == NPDE_JET_HESSIAN ? d * (d + 1) / 2 : 0;
}
/** Entries of npde_network_jet's and npde_pde_jets' `second` per point and output: d (LAPLACIAN), d d (HESSIAN), else 0. */
static inline int64_t npde_jet_second_width(npde_jet_order order, int64_t d) {
  return order == NPDE_JET_HESSIAN ? d * d : order == NPDE_JET_LAPLACIAN ? d : 0;
}

/**
 * How the solution meets each pair of faces of the reference cube (one kind
 * per axis): NONE, no condition; DIRICHLET, the network's envelope holds it
 * to zero there (a PDE's lift adds the face values); PERIODIC, the network
 * is exactly 2-periodic along the axis. Since: ABI 1.3
 */
typedef enum npde_boundary_kind {
  NPDE_BOUNDARY_NONE = 0,
  NPDE_BOUNDARY_DIRICHLET = 1,
  NPDE_BOUNDARY_PERIODIC = 2
} npde_boundary_kind;

/** Index of the Hessian block (j, k), j <= k, in row order (0,0) (0,1) .. (0,d-1) (1,1) .. */
static inline int64_t npde_jet_hessian_index(int64_t j, int64_t k, int64_t d) {
  if (j > k) { int64_t t = j; j = k; k = t; }
  return j * d - j * (j - 1) / 2 + (k - j);
}

/**
 * x-derivatives of a batch of n points at one layer boundary (width w).
 * grad is (d n) x w, block j = d/dx_j; second is (s n) x w with s =
 * npde_jet_second_blocks(order, d): block j = d2/dx_j2 (LAPLACIAN) or block
 * npde_jet_hessian_index(j, k, d) = d2/dx_j dx_k (HESSIAN). identity: this
 * jet is of the raw coordinates (value = X, gradient the identity, second
 * derivatives zero); layers that must come first (sinusoidal) require it.
 */
typedef struct npde_jet {
  int64_t n, d;
  npde_jet_order order;
  bool identity;
  npde_mat value, grad, second;
} npde_jet;

typedef struct npde_layer_ops {
  NPDE_OPS_COMMON(npde_layer);
  /** Called once after create with the input width; reports the output width and parameter count. Required. */
  npde_status (*configure)(npde_layer *l, int64_t in_dim, int64_t *out_dim, int64_t *n_params);
  /** Initialise the parameters (a 1 x n_params view in backend memory) from Philox (seed, stream). Required. */
  npde_status (*init)(npde_layer *l, npde_mat *theta, uint64_t seed, uint64_t stream);
  /** Elements (of the dtype) of the cache that forward fills for a chunk of n points. Required. */
  npde_status (*cache_size)(npde_layer *l, int64_t n, int64_t *elems);
  /**
   * Scratch elements for the largest use: forward on n points, jvp/vjp with
   * m blocks on n points, jet at this order and d. Required.
   */
  npde_status (*work_size)(npde_layer *l, int64_t n, int64_t m, npde_jet_order order, int64_t d, int64_t *elems);
  /**
   * Y (n x out) = layer(X (n x in)); when cache is non-NULL, keep there what
   * jvp and vjp need (layers with cache_size > 0 need it there). work may be
   * NULL (the layer then allocates what it needs). Required.
   */
  npde_status (*forward)(npde_layer *l, const npde_mat *theta, const npde_mat *X, npde_mat *Y, void *cache,
                         void *work);
  /**
   * dY_k = d/dt layer(theta + t dtheta_k, X + t dX_k) at t = 0, k < m, from
   * the cache of the last forward on X. dtheta (m x n_params) or dX
   * ((m n) x in) may be NULL (a zero tangent). Required.
   */
  npde_status (*jvp)(npde_layer *l, const npde_mat *theta, const npde_mat *X, const void *cache,
                     const npde_mat *dtheta, const npde_mat *dX, npde_mat *dY, int64_t m, void *work);
  /**
   * Pull back m cotangents G ((m n) x out, may be overwritten): gtheta
   * (m x n_params, may be NULL) += d<G_k, layer>/dtheta, and gX ((m n) x in,
   * may be NULL) = d<G_k, layer>/dX. Uses the cache of the last forward on X. Required.
   */
  npde_status (*vjp)(npde_layer *l, const npde_mat *theta, const npde_mat *X, const void *cache, npde_mat *G,
                     npde_mat *gX, npde_mat *gtheta, int64_t m, void *work);
  /** Propagate an x-jet through the layer (out->order == in->order, out->identity false). Required. */
  npde_status (*jet)(npde_layer *l, const npde_mat *theta, const npde_jet *in, npde_jet *out, void *work);
  /* append below this line, never reorder; each append bumps NPDE_ABI_MINOR */
} npde_layer_ops;

#ifdef __cplusplus
}
#endif
#endif
