/**
 * The training loss of the Neural Bootstrapping Method (docs/methods/nbm.md §4.1, §8.4)
 * for a discrete interface PDE and a network with one output per side:
 *
 *   L(theta) = (1 / B) sum_{q in rows} 1/2 (m_q r_q)^2,
 *   r_q = sum_j w_qj N_{side j}(x_j; theta) + w0_q,
 *
 * the stencils (w, x, side) built once, at construction, for the given
 * collocation points and cell size (they do not depend on theta), over the
 * distinct samples of all points. Evaluating the loss runs the network once
 * at the samples of the chosen rows; its gradient is one pull-back
 * J^T (W^T m^2 r) / B. The Gauss-Newton operator J_r^T diag(m^2) J_r / B is
 * available for second-order training. The train stage is built on this;
 * applications may drive their own optimisers with it.
 *
 * Threads: one loss object per thread.
 */
#ifndef NPDE_DISCRETE_H
#define NPDE_DISCRETE_H

#include "npde_linop.h"
#include "npde_network.h"
#include "npde_pde.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_discrete_loss npde_discrete_loss;

/**
 * Stencils of the n collocation points (host, n x 3) for cell sizes h[3].
 * The network (borrowed; it must outlive the loss) needs 3 inputs and 2
 * outputs (inside, outside). Since: ABI 1.1
 */
NPDE_API NPDE_NODISCARD npde_status npde_discrete_loss_create(const npde_pde *pde, npde_network *net,
                                                              const double *points, int64_t n, const double *h,
                                                              npde_discrete_loss **out);
NPDE_API void npde_discrete_loss_destroy(npde_discrete_loss **loss);

/** Distinct samples over all points, stencils cut by the interface, and weights in the table. */
NPDE_API void npde_discrete_loss_sizes(const npde_discrete_loss *loss, int64_t *samples, int64_t *crossed,
                                       int64_t *weights);

/**
 * Linearise at theta (p x 1, backend) on the points rows[0..nrows) (NULL:
 * all points, nrows = n) with per-point weights mask (n values indexed by
 * point; NULL: 1), and return the loss. If grad is not NULL it receives
 * d loss / d theta (p x 1, backend). Later calls with the same rows reuse
 * the gathered samples. Since: ABI 1.1
 */
NPDE_API NPDE_NODISCARD npde_status npde_discrete_loss_eval(npde_discrete_loss *loss, const npde_mat *theta,
                                                            const int64_t *rows, int64_t nrows, const double *mask,
                                                            double *value, npde_mat *grad);

/** The residuals r_q of the rows of the last eval (nrows host values, unmasked). */
NPDE_API const double *npde_discrete_loss_residuals(const npde_discrete_loss *loss);

/**
 * y = J_r^T diag(m^2) J_r x / B at the theta, rows and mask of the last eval
 * (valid until the next eval). Since: ABI 1.1
 */
NPDE_API npde_linop npde_discrete_loss_gauss_newton(npde_discrete_loss *loss);

/* ----------------------------------------------------------- grid reference */

typedef enum npde_grid_solve_method {
  NPDE_GRID_SOLVE_AUTO = 0,   /* direct up to direct_max_unknowns, iterative above */
  NPDE_GRID_SOLVE_DIRECT = 1, /* UMFPACK (SuiteSparse) */
  NPDE_GRID_SOLVE_ITERATIVE = 2 /* BiCGSTAB with ILU(0) */
} npde_grid_solve_method;

typedef struct npde_grid_solve_options {
  npde_grid_solve_method method;
  double tolerance;            /* iterative: relative residual (0: 1e-12) */
  int64_t max_iterations;      /* iterative (0: 20000) */
  int64_t direct_max_unknowns; /* auto (0: 70000) */
} npde_grid_solve_options;

typedef struct npde_grid_solve_report {
  int64_t unknowns, nonzeros, iterations;
  bool direct;
  double relative_residual; /* |A u - b| / |b| of the returned u */
  double assembly_seconds, solve_seconds;
} npde_grid_solve_report;

/**
 * The grid reference of a discrete PDE (docs/methods/nbm.md §7.3): the stencils at every
 * node with h = spacing, nodal unknowns in place of the networks, the sparse
 * system solved; u gets n[0] n[1] n[2] values. opt and rep may be NULL. Since: ABI 1.1
 */
NPDE_API NPDE_NODISCARD npde_status npde_pde_grid_solve(const npde_pde *pde, const npde_grid *grid,
                                                        const npde_grid_solve_options *opt, double *u,
                                                        npde_grid_solve_report *rep);

#ifdef __cplusplus
}
#endif
#endif
