/**
 * A PDE operator for Neural IVP: u_t = L[u](x, t) on x in [-1, 1]^d for a
 * field of K components, with its initial condition and, where one exists,
 * its exact solution. PDEs are plain C on host arrays: the core evaluates
 * the network's x-jets, downloads them chunk by chunk and calls rhs, so a
 * third-party PDE needs no backend code. Callbacks must be reentrant: the
 * core may call them on disjoint chunks at once.
 *
 * Discrete PDEs (NBM, ABI 1.1; docs/methods/nbm.md §8): an elliptic problem on a box
 * split by a level-set interface, solved by two networks (one per side),
 * whose residual at a collocation point p for cell size h is an affine
 * function of network samples, r_p = sum_j w_j v_j + w0, v_j the value at
 * x_j of the network of side j. Such a PDE reports info.sides = 2 and
 * implements stencil and level_set; initial and rhs may then be NULL, and
 * exact (t ignored) is the solution of the side the level set selects.
 */
#ifndef NPDE_PDE_OPS_H
#define NPDE_PDE_OPS_H

#include "npde_layer_ops.h"
#include "npde_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_pde npde_pde;

/** What a PDE is. The caller sets struct_size. */
typedef struct npde_pde_info {
  uint32_t struct_size;
  int64_t dim;            /* d */
  int64_t outputs;        /* K */
  npde_jet_order order;   /* the x-derivatives rhs needs (VALUE, GRAD, LAPLACIAN or HESSIAN) */
  bool has_exact;         /* exact() is available */
  bool dirichlet_zero;    /* u = 0 on the boundary: use the network's dirichlet envelope */
  /* ABI 1.1 */
  int64_t sides;          /* 0: a time-dependent PDE; 2: discrete, one network per side of phi = 0 */
  int64_t stencil_max;    /* discrete: the most samples one stencil holds */
  double box_lo[3], box_hi[3]; /* discrete: the box (dim <= 3 entries used) */
} npde_pde_info;

/** One sample of a discrete residual: the value at x of the network of `side`. ABI 1.1 */
typedef struct npde_stencil_sample {
  double x[3];
  int32_t side;   /* 0: phi < 0 (inside), 1: phi >= 0 */
  int32_t reserved;
  double weight;  /* d r / d v */
} npde_stencil_sample;

#define NPDE_STENCIL_CROSSED 0x1u  /* a cell of the stencil is cut by the interface */
#define NPDE_STENCIL_BOUNDARY 0x2u /* p lies on the box: r = v(p) - g(p) */

/** A discrete residual r = sum_j weight_j v_j + w0. The caller sets struct_size, capacity and samples. ABI 1.1 */
typedef struct npde_stencil {
  uint32_t struct_size;
  uint32_t flags;                /* out: NPDE_STENCIL_* */
  int64_t capacity;              /* in: room in samples (info.stencil_max suffices) */
  npde_stencil_sample *samples;  /* in: the caller's array */
  int64_t n;                     /* out: samples written (each (x, side) once) */
  double w0;                     /* out */
  double diag;                   /* out: the diagonal the residual was scaled by (1 on boundary rows) */
} npde_stencil;

/**
 * x-jets of the current solution at n points, host memory, row-major:
 * x[i d + j]; value[i K + k]; grad[(i K + k) d + j]; second: LAPLACIAN
 * [(i K + k) d + j] = d2u_k/dx_j2, HESSIAN [((i K + k) d + j) d + l].
 */
typedef struct npde_pde_jets {
  int64_t n, d, K;
  npde_jet_order order;
  const double *x, *value, *grad, *second;
} npde_pde_jets;

/**
 * lap u_k at point i: the d pure second derivatives summed in coordinate
 * order, from a LAPLACIAN row or the diagonal of a HESSIAN. Needs second.
 */
static inline double npde_jets_laplacian(const npde_pde_jets *jets, int64_t i, int64_t k) {
  const int64_t d = jets->d;
  const int hessian = jets->order == NPDE_JET_HESSIAN;
  const double *h = jets->second + (i * jets->K + k) * (hessian ? d * d : d);
  double lap = 0.0;
  for (int64_t j = 0; j < d; ++j) lap += h[j * (hessian ? d + 1 : 1)];
  return lap;
}

typedef struct npde_pde_ops {
  NPDE_OPS_COMMON(npde_pde);
  /** Dimension, outputs, derivative needs. Required. */
  npde_status (*info)(const npde_pde *pde, npde_pde_info *info);
  /** U (n x K) = u(x, 0) at the n points x (n x d); time starts at t = 0. Required for time
   * evolution; discrete PDEs (sides = 2) leave it NULL. */
  npde_status (*initial)(const npde_pde *pde, const double *x, int64_t n, double *U);
  /** U (n x K) = the exact u(x, t). Optional (info.has_exact). */
  npde_status (*exact)(const npde_pde *pde, double t, const double *x, int64_t n, double *U);
  /** F (n x K) = L[u](x, t) from the jets of u. Required for time evolution. */
  npde_status (*rhs)(const npde_pde *pde, double t, const npde_pde_jets *jets, double *F);
  /* append below this line, never reorder; each append bumps NPDE_ABI_MINOR */
  /** Discrete: the residual at p (dim values) for cell sizes h (dim values). */
  npde_status (*stencil)(const npde_pde *pde, const double *p, const double *h, npde_stencil *st);
  /** Discrete: phi (n values) at the n points x (n x dim). */
  npde_status (*level_set)(const npde_pde *pde, const double *x, int64_t n, double *phi);
} npde_pde_ops;

#ifdef __cplusplus
}
#endif
#endif
