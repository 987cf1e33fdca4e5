/* Adam for the methods' first-order loops (Neural IVP's fit, NBM's Adam
 * training): the moments in backend memory and one clipped step, so both
 * loops take the same steps with the same constants. */
#include "run_context.h"

npde_status npde__adam_init(npde__adam *a, npde_backend *be, int64_t p) {
  *a = (npde__adam){.be = be};
  void *m = NULL, *v = NULL;
  NPDE_TRY(npde_backend_alloc(be, (size_t)p * sizeof(double), &m));
  a->m = npde_mat_view(m, NPDE_F64, p, 1);
  NPDE_TRY(npde_backend_alloc(be, (size_t)p * sizeof(double), &v));
  a->v = npde_mat_view(v, NPDE_F64, p, 1);
  NPDE_TRY(npde_backend_fill(be, &a->m, 0.0));
  return npde_backend_fill(be, &a->v, 0.0);
}

npde_status npde__adam_step(npde__adam *a, npde_mat *theta, npde_mat *g, double lr, double clip, int64_t step) {
  if (clip > 0) {
    double norm = 0.0;
    NPDE_TRY(npde_backend_nrm2(a->be, g, &norm));
    if (norm > clip) NPDE_TRY(npde_backend_scal(a->be, clip / norm, g));
  }
  return npde_backend_adam(a->be, theta, g, &a->m, &a->v, lr, NPDE__ADAM_B1, NPDE__ADAM_B2, NPDE__ADAM_EPS, step);
}

void npde__adam_free(npde__adam *a) {
  if (!a->be) return;
  npde_backend_free(a->be, a->m.data);
  npde_backend_free(a->be, a->v.data);
  *a = (npde__adam){0};
}
