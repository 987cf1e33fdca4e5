/* What several stages share: the held-out evaluation points and the
 * network's values there. */
#include "stage_impl.h"

npde_status npde__heldout_eval(npde__run_state *rs, int64_t n, npde__heldout *h) {
  int64_t d = npde_network_dim(rs->net), K = npde_network_outputs(rs->net), p = npde_network_n_params(rs->net);
  *h = (npde__heldout){.be = rs->backend};
  NPDE_TRY(npde_backend_alloc(h->be, (size_t)(n * d) * sizeof(double), &h->x));
  NPDE_TRY(npde_backend_alloc(h->be, (size_t)(n * K) * sizeof(double), &h->u));
  h->X = npde_mat_view(h->x, NPDE_F64, n, d);
  h->U = npde_mat_view(h->u, NPDE_F64, n, K);
  npde_mat theta = npde_mat_view(rs->theta, NPDE_F64, p, 1);
  NPDE_TRY(npde_backend_rng_uniform(h->be, rs->seed, NPDE__STREAM_EVAL, 0, -1.0, 1.0, &h->X));
  return npde_network_eval(rs->net, &theta, &h->X, &h->U);
}

void npde__heldout_free(npde__heldout *h) {
  npde_backend_free(h->be, h->x);
  npde_backend_free(h->be, h->u);
  h->x = h->u = NULL;
}
