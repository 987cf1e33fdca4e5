/**
 * A trained network as a product: load a run directory and evaluate the
 * saved solution u(x, t) (and its x-gradient) at any points, on any backend.
 *
 *   npde_model *m;
 *   npde_model_load("runs/heat-2d-20261123-142000", NULL, &m);
 *   npde_model_eval(m, 0.25, x, n, u, NULL);   // u: n x K
 *   npde_model_free(&m);
 *
 * For an interface (NBM) run u is one value per point: the output of the
 * network of the side the level set selects there (outputs() is 1).
 */
#ifndef NPDE_MODEL_H
#define NPDE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "npde_error.h"
#include "npde_export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_model npde_model;

/** Options of npde_model_load (NULL: the defaults). The caller sets struct_size. */
typedef struct npde_model_options {
  unsigned struct_size;
  const char *backend; /* a backend type to evaluate on instead of the run's (e.g. "cpu"), or NULL */
  /* ABI 1.3 */
  bool outside; /* evaluate points outside the PDE's box too (with a warning), instead of refusing them */
} npde_model_options;

/**
 * Load the run in dir: its config.yaml (plugins, backend, PDE, network) and
 * the parameters in results.npz (theta at every output time, else
 * theta_final). Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_model_load(const char *dir, const npde_model_options *opt,
                                                    npde_model **out);
NPDE_API void npde_model_free(npde_model **m);

/** Input dimension d, outputs K, parameters p. Since: ABI 1.0 */
NPDE_API int64_t npde_model_dim(const npde_model *m);
NPDE_API int64_t npde_model_outputs(const npde_model *m);
NPDE_API int64_t npde_model_n_params(const npde_model *m);
/** The saved times (theta is known there); the last is the run's end. NaN for a run without snapshots. */
NPDE_API int64_t npde_model_n_times(const npde_model *m);
NPDE_API double npde_model_time(const npde_model *m, int64_t i);

/**
 * Whether u can be evaluated at any t in [*t_first, *t_last] (the run kept
 * its trajectory, trajectory.npz), not only at the saved times. Either
 * pointer may be NULL. Since: ABI 1.3
 */
NPDE_API bool npde_model_time_range(const npde_model *m, double *t_first, double *t_last);

/**
 * u (n x K, row-major, host) = N(x; theta(t)) at the n points x (n x d,
 * host), and, when grad is not NULL, grad (n x K x d) = d u / d x. NaN
 * means the last saved time. At a saved time (to 1e-12 relative) theta is
 * the saved one; between, when the run kept its trajectory, theta(t) is the
 * cubic Hermite interpolant in parameter space between the evolve stage's
 * accepted steps (at a restart time, the state before the refit); otherwise
 * NPDE_ERR_INVALID_ARG lists the saved times. Since: ABI 1.0 (any t: 1.3)
 */
NPDE_API NPDE_NODISCARD npde_status npde_model_eval(npde_model *m, double t, const double *x, int64_t n, double *u,
                                                    double *grad);

#ifdef __cplusplus
}
#endif
#endif
