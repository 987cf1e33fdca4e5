/**
 * A linear solver for A x = b with a symmetric positive (semi)definite
 * operator A (npde_linop) and an optional preconditioner (a precond
 * component already set up for A). Runs on the pipeline's backend.
 */
#ifndef NPDE_LINSOLVER_OPS_H
#define NPDE_LINSOLVER_OPS_H

#include "../npde_linop.h"
#include "npde_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_linsolver npde_linsolver;
typedef struct npde_precond npde_precond;

/** What a solve reports. The caller sets struct_size; history may be NULL. */
typedef struct npde_solve_stats {
  uint32_t struct_size;
  int64_t iterations;     /* operator applications in the iteration (0 for direct solves) */
  double rhs_norm;        /* ||b|| */
  double residual_norm;   /* ||b - A x|| as the solver tracks it (recursive for CG) */
  double *history;        /* caller-owned, history_cap entries: ||r_k|| / ||b|| per iteration */
  int64_t history_cap;
  int64_t history_len;
} npde_solve_stats;

typedef struct npde_linsolver_ops {
  NPDE_OPS_COMMON(npde_linsolver);
  /**
   * Solve (A + shift I) x = b. x holds the initial guess on entry (warm
   * start) and the solution on exit. Returns NPDE_OK when the tolerance is
   * met, NPDE_NOT_CONVERGED when the iteration cap is hit (x is the last
   * iterate), NPDE_ERR_NUMERIC on breakdown or non-finite values, with a
   * message saying which. Required.
   */
  npde_status (*solve)(npde_linsolver *ls, const npde_linop *A, double shift, npde_precond *P, const npde_mat *b,
                       npde_mat *x, npde_solve_stats *st);
  /* append below this line, never reorder; each append bumps NPDE_ABI_MINOR */
} npde_linsolver_ops;

#ifdef __cplusplus
}
#endif
#endif
