/* What several stages share: the held-out evaluation points and the
 * network's values there. */
#include <math.h>
#include <stdlib.h>

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

/* sqrt(sum (N - u)^2 / sum u^2) of the network (rs->theta) against the exact
 * solution at time t, on n held-out points, every output. */
npde_status npde__exact_error(npde__run_state *rs, double t, int64_t n, double *err) {
  int64_t d = npde_network_dim(rs->net), K = npde_network_outputs(rs->net);
  double *xh = malloc((size_t)(n * d) * sizeof *xh), *uh = malloc((size_t)(n * K) * sizeof *uh),
         *eh = malloc((size_t)(n * K) * sizeof *eh);
  npde__heldout h = {.be = rs->backend};
  npde_status st = xh && uh && eh ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) st = npde__heldout_eval(rs, n, &h);
  if (st == NPDE_OK) st = npde_backend_download(rs->backend, xh, h.x, (size_t)(n * d) * sizeof(double));
  if (st == NPDE_OK) st = npde_backend_download(rs->backend, uh, h.u, (size_t)(n * K) * sizeof(double));
  if (st == NPDE_OK) st = npde_pde_exact(rs->pde, t, xh, n, eh);
  double num = 0, den = 0;
  for (int64_t i = 0; st == NPDE_OK && i < n * K; ++i) {
    num += (uh[i] - eh[i]) * (uh[i] - eh[i]);
    den += eh[i] * eh[i];
  }
  *err = den > 0 ? sqrt(num / den) : sqrt(num);
  npde__heldout_free(&h);
  free(xh);
  free(uh);
  free(eh);
  return st;
}

