/* The integrator dispatcher. */
#include <math.h>

#include "npde/npde_solvers.h"
#include "registry_impl.h"

npde_status npde_integrator_create(const npde_registry *reg, const char *name, const npde_config *node,
                                   npde_backend *be, npde_integrator **out) {
  return npde__object_create_kind(reg, NPDE_KIND_INTEGRATOR, name, node, be, (npde_object **)out);
}

void npde_integrator_destroy(npde_integrator **in) { npde_object_destroy((npde_object **)in); }

/* Checks shared by integrate and resume, then the plugin's integrate. */
static npde_status dispatch(const char *fn, npde_integrator *in, const npde_ode *ode, double t0, npde_mat *y,
                            const double *t_out, int64_t n_out, npde_output_fn output, void *output_ctx,
                            const npde_step_state *resume, npde_integrate_stats *st) {
  NPDE_TRY(npde__object_check(in, NPDE_KIND_INTEGRATOR, fn));
  if (!ode || !ode->rhs || !y || (n_out > 0 && !t_out) || n_out < 0)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: NULL ode, rhs, state or output times", fn);
  if (y->rows * y->cols != ode->n || (y->cols != 1 && y->rows != 1) || y->dtype != ode->dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: y must be a vector of %lld entries", fn, (long long)ode->n);
  int64_t first = resume ? resume->next_output : 0;
  if (resume && (resume->struct_size < sizeof *resume || first < 0 || first > n_out || !isfinite(resume->t) ||
                 (first < n_out && t_out[first] < resume->t)))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: the saved state (t = %g, next output %lld of %lld) does not fit "
                      "these output times", fn, resume->t, (long long)first, (long long)n_out);
  double prev = t0;
  for (int64_t i = first; i < n_out; ++i) {
    if (!isfinite(t_out[i]) || t_out[i] < prev || (i > first && t_out[i] == prev))
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: output times must increase from t0 = %g (t_out[%lld] = %g)", fn,
                        t0, (long long)i, t_out[i]);
    prev = t_out[i];
  }
  const npde_integrator_ops *ops = NPDE__OPS(in, npde_integrator_ops);
  if (!ops->integrate)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "integrator '%s' has no 'integrate'", ((npde_object *)in)->type_name);
  npde_status status;
  NPDE__TRACKED(status, in, "integrate", ops->integrate(in, ode, t0, y, t_out, n_out, output, output_ctx, resume, st));
  return status;
}

npde_status npde_integrator_integrate(npde_integrator *in, const npde_ode *ode, double t0, npde_mat *y,
                                      const double *t_out, int64_t n_out, npde_output_fn output, void *output_ctx,
                                      npde_integrate_stats *st) {
  return dispatch("npde_integrator_integrate", in, ode, t0, y, t_out, n_out, output, output_ctx, NULL, st);
}

npde_status npde_integrator_resume(npde_integrator *in, const npde_ode *ode, const npde_step_state *state,
                                   npde_mat *y, const double *t_out, int64_t n_out, npde_output_fn output,
                                   void *output_ctx, npde_integrate_stats *st) {
  if (!state) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_integrator_resume: NULL state");
  return dispatch("npde_integrator_resume", in, ode, state->t, y, t_out, n_out, output, output_ctx, state, st);
}
