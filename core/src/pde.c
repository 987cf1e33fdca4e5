/* The pde dispatcher. */
#include <math.h>
#include <stdlib.h>

#include "npde/npde_pde.h"
#include "registry_impl.h"

struct npde_pde {
  npde_object hdr;
  npde_pde_info info;
};

#define OPS(p) NPDE__OPS(p, npde_pde_ops)

void npde_pde_destroy(npde_pde **pde) { npde_object_destroy((npde_object **)pde); }

npde_status npde_pde_create(const npde_registry *reg, const char *name, const npde_config *node, npde_pde **out) {
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_create: NULL out");
  *out = NULL;
  npde_pde *p = NULL;
  NPDE_TRY(npde__object_create_sized(reg, NPDE_KIND_PDE, name, node, NULL, sizeof *p, (npde_object **)&p));
  npde_status st = NPDE_OK;
  if (!OPS(p)->info || !OPS(p)->initial)
    st = NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "pde '%s' lacks 'info' or 'initial'", p->hdr.type_name);
  if (st == NPDE_OK) {
    p->info.struct_size = sizeof p->info;
    st = OPS(p)->info(p, &p->info);
  }
  if (st == NPDE_OK && (p->info.dim < 1 || p->info.outputs < 1 || (unsigned)p->info.order > NPDE_JET_HESSIAN))
    st = NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde '%s' reports dim %lld, outputs %lld, order %d", p->hdr.type_name,
                    (long long)p->info.dim, (long long)p->info.outputs, (int)p->info.order);
  if (st == NPDE_OK && p->info.has_exact && !OPS(p)->exact)
    st = NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde '%s' says it has an exact solution but has no 'exact'",
                    p->hdr.type_name);
  if (st != NPDE_OK) {
    npde_pde_destroy(&p);
    return st;
  }
  *out = p;
  return NPDE_OK;
}

npde_pde_info npde_pde_get_info(const npde_pde *pde) {
  npde_pde_info none = {0};
  return npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_get_info") == NPDE_OK ? pde->info : none;
}

static npde_status check_finite(const npde_pde *pde, const char *what, const double *v, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    if (!isfinite(v[i]))
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "pde '%s': %s returned a non-finite value at entry %lld",
                        pde->hdr.type_name, what, (long long)i);
  return NPDE_OK;
}

npde_status npde_pde_initial(const npde_pde *pde, const double *x, int64_t n, double *U) {
  NPDE_TRY(npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_initial"));
  if (n < 0 || (n && (!x || !U))) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_initial: NULL arrays");
  NPDE_TRY(OPS(pde)->initial(pde, x, n, U));
  return check_finite(pde, "initial", U, n * pde->info.outputs);
}

npde_status npde_pde_exact(const npde_pde *pde, double t, const double *x, int64_t n, double *U) {
  NPDE_TRY(npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_exact"));
  if (!OPS(pde)->exact)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "pde '%s' has no exact solution", pde->hdr.type_name);
  if (n < 0 || (n && (!x || !U))) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_exact: NULL arrays");
  NPDE_TRY(OPS(pde)->exact(pde, t, x, n, U));
  return check_finite(pde, "exact", U, n * pde->info.outputs);
}

npde_status npde_pde_rhs(const npde_pde *pde, double t, const npde_pde_jets *jets, double *F) {
  NPDE_TRY(npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_rhs"));
  if (!OPS(pde)->rhs) return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "pde '%s' has no 'rhs'", pde->hdr.type_name);
  if (!jets || !F || jets->d != pde->info.dim || jets->K != pde->info.outputs || jets->order < pde->info.order)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_rhs: jets must have d = %lld, K = %lld and order >= %d",
                      (long long)pde->info.dim, (long long)pde->info.outputs, (int)pde->info.order);
  if (jets->n > 0 && (!jets->x || !jets->value || (jets->order >= NPDE_JET_GRAD && !jets->grad) ||
                      (jets->order >= NPDE_JET_LAPLACIAN && !jets->second)))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_rhs: the jets lack an array their order needs");
  NPDE_TRY(OPS(pde)->rhs(pde, t, jets, F));
  return check_finite(pde, "rhs", F, jets->n * pde->info.outputs);
}
