/* The integrator dispatcher. */
#include <math.h>

#include "npde/npde_solvers.h"
#include "registry_impl.h"

npde_status npde_integrator_create(const npde_registry *reg, const char *name, const npde_config *node,
                                   npde_backend *be, npde_integrator **out) {
  return npde__object_create_kind(reg, NPDE_KIND_INTEGRATOR, name, node, be, (npde_object **)out);
}

void npde_integrator_destroy(npde_integrator **in) { npde_object_destroy((npde_object **)in); }

npde_status npde_integrator_integrate(npde_integrator *in, const npde_ode *ode, double t0, npde_mat *y,
                                      const double *t_out, int64_t n_out, npde_output_fn output, void *output_ctx,
                                      npde_integrate_stats *st) {
  NPDE_TRY(npde__object_check(in, NPDE_KIND_INTEGRATOR, "npde_integrator_integrate"));
  if (!ode || !ode->rhs || !y || (n_out > 0 && !t_out) || n_out < 0)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_integrator_integrate: NULL ode, rhs, state or output times");
  if (y->rows * y->cols != ode->n || (y->cols != 1 && y->rows != 1) || y->dtype != ode->dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_integrator_integrate: y must be a vector of %lld entries",
                      (long long)ode->n);
  double prev = t0;
  for (int64_t i = 0; i < n_out; ++i) {
    if (!isfinite(t_out[i]) || t_out[i] < prev || (i > 0 && t_out[i] == prev))
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_integrator_integrate: output times must increase from t0 = %g "
                        "(t_out[%lld] = %g)", t0, (long long)i, t_out[i]);
    prev = t_out[i];
  }
  const npde_integrator_ops *ops = NPDE__OPS(in, npde_integrator_ops);
  if (!ops->integrate)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "integrator '%s' has no 'integrate'", ((npde_object *)in)->type_name);
  return ops->integrate(in, ode, t0, y, t_out, n_out, output, output_ctx, st);
}
