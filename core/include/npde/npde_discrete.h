/**
 * The training loss of the Neural Bootstrapping Method (nbm.md §4.1, §8.4)
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

#ifdef __cplusplus
}
#endif
#endif
