/**
 * A time integrator: advances an npde_ode from t0 through a list of output
 * times, landing on each exactly, with adaptive step control where the
 * method has an error estimate.
 */
#ifndef NPDE_INTEGRATOR_OPS_H
#define NPDE_INTEGRATOR_OPS_H

#include "../npde_linop.h"
#include "npde_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_integrator npde_integrator;

/** Called when the integration reaches an output time (y is borrowed). */
typedef npde_status (*npde_output_fn)(void *ctx, int64_t index, double t, const npde_mat *y);

/** Counters of one integration. The caller sets struct_size. */
typedef struct npde_integrate_stats {
  uint32_t struct_size;
  int64_t accepted, rejected, rhs_evals;
  double h_last;   /* the step size the controller proposes next */
  double t_reached;
} npde_integrate_stats;

typedef struct npde_integrator_ops {
  NPDE_OPS_COMMON(npde_integrator);
  /**
   * Integrate y from t0 through t_out[0] < t_out[1] < ... (all > t0 or equal
   * to it), calling output at each. y holds y(t0) on entry and y at the last
   * time reached on exit. With resume non-NULL (a state an after_step hook
   * was given, and y as it was then), continue that integration instead:
   * t0 is resume->t, outputs before resume->next_output are not repeated,
   * and the result is bitwise the uninterrupted one. Returns NPDE_OK, or
   * the first fatal status (from rhs, a hook, or too many consecutive
   * rejections), with y the last accepted state. Required.
   */
  npde_status (*integrate)(npde_integrator *in, const npde_ode *ode, double t0, npde_mat *y, const double *t_out,
                           int64_t n_out, npde_output_fn output, void *output_ctx, const npde_step_state *resume,
                           npde_integrate_stats *st);
  /* append below this line, never reorder; each append bumps NPDE_ABI_MINOR */
} npde_integrator_ops;

#ifdef __cplusplus
}
#endif
#endif
