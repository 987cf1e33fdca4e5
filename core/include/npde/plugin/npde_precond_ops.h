/**
 * A preconditioner for A + mu I, built from products with A. setup decides
 * the regularisation mu (absolute, or relative to its largest eigenvalue
 * estimate) and reports it; apply computes z = P^-1 r.
 */
#ifndef NPDE_PRECOND_OPS_H
#define NPDE_PRECOND_OPS_H

#include "../npde_linop.h"
#include "npde_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_precond npde_precond;

/** What setup found. The caller sets struct_size. */
typedef struct npde_precond_info {
  uint32_t struct_size;
  double shift;       /* mu_a: the regularisation to solve A + mu_a I with */
  double lambda_max;  /* largest eigenvalue estimate of A (0 if unknown) */
  double lambda_min;  /* smallest retained estimate (Nystrom: lambda_l) */
  int64_t rank;       /* rank of the approximation (0 if none) */
  int64_t operator_products; /* products with A that setup used */
} npde_precond_info;

typedef struct npde_precond_ops {
  NPDE_OPS_COMMON(npde_precond);
  /**
   * Build the preconditioner for A (and A + mu_a I). seed/stream/counter key
   * the random test matrix (Philox), so runs are reproducible. Required.
   */
  npde_status (*setup)(npde_precond *pc, const npde_linop *A, uint64_t seed, uint64_t stream, uint64_t counter,
                       npde_precond_info *info);
  /** z = P^-1 r (z may not alias r). Required. */
  npde_status (*apply)(npde_precond *pc, const npde_mat *r, npde_mat *z);
  /* append below this line, never reorder; each append bumps NPDE_ABI_MINOR */
} npde_precond_ops;

#ifdef __cplusplus
}
#endif
#endif
