/* The precond dispatcher. */
#include "npde/npde_solvers.h"
#include "registry_impl.h"

npde_status npde_precond_create(const npde_registry *reg, const char *name, const npde_config *node,
                                npde_backend *be, npde_precond **out) {
  return npde__object_create_kind(reg, NPDE_KIND_PRECOND, name, node, be, (npde_object **)out);
}

void npde_precond_destroy(npde_precond **pc) { npde_object_destroy((npde_object **)pc); }

npde_status npde_precond_setup(npde_precond *pc, const npde_linop *A, uint64_t seed, uint64_t stream,
                               uint64_t counter, npde_precond_info *info) {
  NPDE_TRY(npde__object_check(pc, NPDE_KIND_PRECOND, "npde_precond_setup"));
  if (!A || !A->matvec) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_precond_setup: NULL operator or matvec");
  const npde_precond_ops *ops = NPDE__OPS(pc, npde_precond_ops);
  if (!ops->setup)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "precond '%s' has no 'setup'", ((npde_object *)pc)->type_name);
  npde_status status;
  NPDE__TRACKED(status, pc, "setup", ops->setup(pc, A, seed, stream, counter, info));
  return status;
}

npde_status npde_precond_apply(npde_precond *pc, const npde_mat *r, npde_mat *z) {
  NPDE_TRY(npde__object_check(pc, NPDE_KIND_PRECOND, "npde_precond_apply"));
  if (!r || !z || r->rows != z->rows || r->cols != z->cols || r->dtype != z->dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_precond_apply: r and z must be views of one shape and dtype");
  if (r->data == z->data) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_precond_apply: z aliases r");
  const npde_precond_ops *ops = NPDE__OPS(pc, npde_precond_ops);
  if (!ops->apply)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "precond '%s' has no 'apply'", ((npde_object *)pc)->type_name);
  npde_status status;
  NPDE__TRACKED(status, pc, "apply", ops->apply(pc, r, z));
  return status;
}
