/* The linsolver dispatcher. */
#include "npde/npde_solvers.h"
#include "registry_impl.h"

npde_status npde_linsolver_create(const npde_registry *reg, const char *name, const npde_config *node,
                                  npde_backend *be, npde_linsolver **out) {
  return npde__object_create_kind(reg, NPDE_KIND_LINSOLVER, name, node, be, (npde_object **)out);
}

void npde_linsolver_destroy(npde_linsolver **ls) { npde_object_destroy((npde_object **)ls); }

npde_status npde_linsolver_solve(npde_linsolver *ls, const npde_linop *A, double shift, npde_precond *P,
                                 const npde_mat *b, npde_mat *x, npde_solve_stats *st) {
  NPDE_TRY(npde__object_check(ls, NPDE_KIND_LINSOLVER, "npde_linsolver_solve"));
  if (P) NPDE_TRY(npde__object_check(P, NPDE_KIND_PRECOND, "npde_linsolver_solve (preconditioner)"));
  if (!A || !b || !x || !A->matvec)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linsolver_solve: NULL operator, right-hand side or solution");
  if (b->rows * b->cols != A->n || x->rows * x->cols != A->n || (b->cols != 1 && b->rows != 1) ||
      (x->cols != 1 && x->rows != 1) || b->dtype != A->dtype || x->dtype != A->dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linsolver_solve: b and x must be vectors of %lld entries in the "
                      "operator's dtype", (long long)A->n);
  const npde_linsolver_ops *ops = NPDE__OPS(ls, npde_linsolver_ops);
  if (!ops->solve)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "linsolver '%s' has no 'solve'", ((npde_object *)ls)->type_name);
  if (st) st->history_len = 0;
  npde_status status;
  NPDE__TRACKED(status, ls, "solve", ops->solve(ls, A, shift, P, b, x, st));
  return status;
}
