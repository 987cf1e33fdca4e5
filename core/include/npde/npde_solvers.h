/**
 * Linear solvers, preconditioners and integrators: creation from the
 * registry and the calls that dispatch to their plugins.
 *
 * Handles are opaque; create them with a component name and an optional
 * config node (validated here against the component's schema, defaults
 * filled), destroy them with the matching destroy (NULL accepted).
 * Threads: one thread per handle.
 */
#ifndef NPDE_SOLVERS_H
#define NPDE_SOLVERS_H

#include "npde_linop.h"
#include "npde_registry.h"
#include "plugin/npde_integrator_ops.h"
#include "plugin/npde_linsolver_ops.h"
#include "plugin/npde_precond_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/** YAML: linsolver.type and that plugin's keys. Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_linsolver_create(const npde_registry *reg, const char *name,
                                                          const npde_config *node, npde_backend *be,
                                                          npde_linsolver **out);
NPDE_API void npde_linsolver_destroy(npde_linsolver **ls);
/**
 * Solve (A + shift I) x = b; x is the warm start on entry. P may be NULL.
 * @return NPDE_OK; NPDE_NOT_CONVERGED (recoverable, x is the last iterate);
 *         NPDE_ERR_NUMERIC on breakdown; other errors as raised.
 */
NPDE_API NPDE_NODISCARD npde_status npde_linsolver_solve(npde_linsolver *ls, const npde_linop *A, double shift,
                                                         npde_precond *P, const npde_mat *b, npde_mat *x,
                                                         npde_solve_stats *st);

/** YAML: precond.type and that plugin's keys. Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_precond_create(const npde_registry *reg, const char *name,
                                                        const npde_config *node, npde_backend *be,
                                                        npde_precond **out);
NPDE_API void npde_precond_destroy(npde_precond **pc);
NPDE_API NPDE_NODISCARD npde_status npde_precond_setup(npde_precond *pc, const npde_linop *A, uint64_t seed,
                                                       uint64_t stream, uint64_t counter, npde_precond_info *info);
NPDE_API NPDE_NODISCARD npde_status npde_precond_apply(npde_precond *pc, const npde_mat *r, npde_mat *z);

/** YAML: integrator.type and that plugin's keys. Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_integrator_create(const npde_registry *reg, const char *name,
                                                           const npde_config *node, npde_backend *be,
                                                           npde_integrator **out);
NPDE_API void npde_integrator_destroy(npde_integrator **in);
NPDE_API NPDE_NODISCARD npde_status npde_integrator_integrate(npde_integrator *in, const npde_ode *ode, double t0,
                                                              npde_mat *y, const double *t_out, int64_t n_out,
                                                              npde_output_fn output, void *output_ctx,
                                                              npde_integrate_stats *st);
/** Continue an integration from a state an after_step hook saved (with y as
 * it was then): bitwise the uninterrupted run. Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_integrator_resume(npde_integrator *in, const npde_ode *ode,
                                                           const npde_step_state *state, npde_mat *y,
                                                           const double *t_out, int64_t n_out, npde_output_fn output,
                                                           void *output_ctx, npde_integrate_stats *st);

#ifdef __cplusplus
}
#endif
#endif
