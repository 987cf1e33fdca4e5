/**
 * A PDE operator for Neural IVP: u_t = L[u](x, t) on x in [-1, 1]^d for a
 * field of K components, with its initial condition and, where one exists,
 * its exact solution. PDEs are plain C on host arrays: the core evaluates
 * the network's x-jets, downloads them chunk by chunk and calls rhs, so a
 * third-party PDE needs no backend code. Callbacks must be reentrant: the
 * core may call them on disjoint chunks at once.
 * (The discrete NBM stencil slots are appended by the NBM work, ABI 1.x.)
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
} npde_pde_info;

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

typedef struct npde_pde_ops {
  NPDE_OPS_COMMON(npde_pde);
  /** Dimension, outputs, derivative needs. Required. */
  npde_status (*info)(const npde_pde *pde, npde_pde_info *info);
  /** U (n x K) = u(x, 0) at the n points x (n x d); time starts at t = 0. Required. */
  npde_status (*initial)(const npde_pde *pde, const double *x, int64_t n, double *U);
  /** U (n x K) = the exact u(x, t). Optional (info.has_exact). */
  npde_status (*exact)(const npde_pde *pde, double t, const double *x, int64_t n, double *U);
  /** F (n x K) = L[u](x, t) from the jets of u. Required for time evolution. */
  npde_status (*rhs)(const npde_pde *pde, double t, const npde_pde_jets *jets, double *F);
  /* ABI 1.1 and later: append below this line, never reorder */
} npde_pde_ops;

#ifdef __cplusplus
}
#endif
#endif
