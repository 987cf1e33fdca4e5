/* The operator evolve sketches its preconditioner from (sketch_op.c). */
#ifndef NPDE_SKETCH_OP_H
#define NPDE_SKETCH_OP_H

#include <stdbool.h>

#include "npde/npde_linop.h"
#include "npde/npde_network.h"
#include "npde/npde_solvers.h"

typedef struct npde__sketch_op {
  npde_backend *be;
  npde_dtype dtype;
  int64_t n_views;            /* 1 (the whole network) or K (one per output branch) */
  npde_network **views;       /* views of the network in dtype (they borrow its layers) */
  npde_linearization **lins;  /* one per view, at theta and the samples (f32 copies of them for f32) */
  int64_t *block_start;       /* n_views + 1 parameter offsets */
  void *theta, *x, *in, *out, *vec, *scale; /* backend scratch */
  int64_t theta_cap, x_cap, in_cap, out_cap, vec_cap, scale_cap;
} npde__sketch_op;

/* M = J^T W J / n of net at (theta, X) (f64, on net's backend; W = diag(row_scale^2), or I for a NULL row_scale)
 * as an f64 operator whose products run in dtype, and, with per_output, block diagonal by output branch
 * (npde_linop.n_blocks). dtype and per_output are fixed by the first update. *out stays valid until the next update
 * or free. */
npde_status npde__sketch_op_update(npde__sketch_op *s, npde_network *net, npde_dtype dtype, bool per_output,
                                   const npde_mat *theta, const npde_mat *X, const npde_mat *row_scale,
                                   npde_linop *out);
void npde__sketch_op_free(npde__sketch_op *s);

/* Iterative refinement with an f32 operator inside (refine.c). */
typedef struct npde__refine {
  npde_backend *be;
  npde_linsolver *inner; /* the pipeline's linsolver, with tol = inner tol */
  double tol;            /* the pipeline linsolver's tol: ||b - (M + mu I) x|| <= tol ||b|| in f64 */
  int64_t max_passes;
  void *r, *d;           /* backend: p each */
} npde__refine;

/* Solve (M + shift I) x = b (x: the start on entry) by refinement: inner solves of (M32 + shift I) d = r,
 * preconditioned by pc; stats->iterations counts the inner iterations. NPDE_NOT_CONVERGED after max_passes. */
npde_status npde__solve_refined(npde__refine *rf, const npde_linop *M, const npde_linop *M32, double shift,
                                npde_precond *pc, const npde_mat *b, npde_mat *x, npde_solve_stats *stats);

#endif
