/**
 * Extension of the nystrom precond component, reached through its ops
 * table's get_proc(NPDE_NYSTROM_FACTORS_PROC): the factors of the last
 * setup, for tests and diagnostics.
 *
 *   const npde_precond_ops *ops = (const npde_precond_ops *)
 *       npde_object_component((const npde_object *)pc)->desc->ops;
 *   npde_nystrom_factors_fn get = (npde_nystrom_factors_fn)ops->get_proc(NPDE_NYSTROM_FACTORS_PROC);
 */
#ifndef NPDE_NYSTROM_H
#define NPDE_NYSTROM_H

#include <stdint.h>

#include "npde/npde_mat.h"
#include "npde/plugin/npde_precond_ops.h"

#define NPDE_NYSTROM_FACTORS_PROC "npde_nystrom_factors"

/** The approximation A ~ U diag(lambda) U^T of the last setup. All borrowed
 * from the preconditioner until its next setup or destroy. */
typedef struct npde_nystrom_factors {
  npde_mat U;            /* n x rank, orthonormal columns, backend memory (zero columns for dropped directions) */
  const double *lambda;  /* rank entries, host memory, descending, >= 0 */
  int64_t rank;          /* l = min(rank, n) */
  double nu;             /* the shift nu the sketch finally used */
  double mu_a;           /* the regularisation (info.shift) */
} npde_nystrom_factors;

/** NPDE_ERR_INVALID_ARG before the first setup. */
typedef npde_status (*npde_nystrom_factors_fn)(const npde_precond *pc, npde_nystrom_factors *out);

#endif
