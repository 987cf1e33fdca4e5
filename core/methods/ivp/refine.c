/* Mixed-precision solve by iterative refinement (docs/methods/neural-ivp.md §4.8):
 * (M + mu I) x = b with M's products in f32 for the Krylov iterations and
 * in f64 only for the residual that decides convergence.
 *
 *   r = b - (M + mu I) x                      (f64 operator: one product)
 *   while ||r|| > tol ||b||:
 *     solve (M32 + mu I) d = r to inner_tol   (the inner linsolver, PCG on the f32 operator)
 *     x += d;  r = b - (M + mu I) x
 *
 * The f32 operator differs from M by its rounding (about 1e-6 relative),
 * so each pass reduces the f64 residual by about inner_tol, down to any
 * tolerance: the result satisfies the same f64 criterion as a plain solve. */
#include <math.h>

#include "npde/npde_log.h"
#include "sketch_op.h"

npde_status npde__solve_refined(npde__refine *rf, const npde_linop *M, const npde_linop *M32, double shift,
                                npde_precond *pc, const npde_mat *b, npde_mat *x, npde_solve_stats *stats) {
  npde_backend *be = rf->be;
  const int64_t p = M->n;
  npde_mat r = npde_mat_view(rf->r, NPDE_F64, p, 1), d = npde_mat_view(rf->d, NPDE_F64, p, 1);
  double bn;
  NPDE_TRY(npde_backend_nrm2(be, b, &bn));
  stats->iterations = 0;
  stats->rhs_norm = bn;
  for (int64_t pass = 0;; ++pass) {
    NPDE_TRY(M->matvec(M->ctx, x, &r)); /* r = b - (M + shift I) x */
    if (shift != 0.0) NPDE_TRY(npde_backend_axpy(be, shift, x, &r));
    NPDE_TRY(npde_backend_scal(be, -1.0, &r));
    NPDE_TRY(npde_backend_axpy(be, 1.0, b, &r));
    double rn;
    NPDE_TRY(npde_backend_nrm2(be, &r, &rn));
    stats->residual_norm = rn;
    if (rn <= rf->tol * bn) return NPDE_OK;
    if (pass == rf->max_passes) {
      npde_log(NPDE_LOG_DEBUG, "refine: %lld passes leave the relative residual at %.3e > tol %.3e",
               (long long)pass, bn > 0 ? rn / bn : rn, rf->tol);
      return NPDE_NOT_CONVERGED;
    }
    NPDE_TRY(npde_backend_fill(be, &d, 0.0));
    npde_solve_stats in = {.struct_size = sizeof in};
    npde_status st = npde_linsolver_solve(rf->inner, M32, shift, pc, &r, &d, &in);
    stats->iterations += in.iterations;
    if (st != NPDE_OK && st != NPDE_NOT_CONVERGED) return st;
    NPDE_TRY(npde_backend_axpy(be, 1.0, &d, x)); /* a pass that missed inner_tol still made progress */
  }
}
