/* What several stages share: the held-out evaluation points and the
 * network's values there, relative errors against the exact solution, and
 * each rank's slice of a draw. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "npde/npde_comm.h"

#include "run_context.h"

npde_status npde__heldout_eval(npde_run_ctx *rs, int64_t n, npde__heldout *h) {
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

void npde__relative_errors(const double *u, const double *ref, int64_t n, int64_t K, double *err,
                           double *per_output) {
  double num = 0, den = 0;
  for (int64_t o = 0; o < K; ++o) {
    double d2 = 0, r2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double e = u[i * K + o] - ref[i * K + o];
      d2 += e * e;
      r2 += ref[i * K + o] * ref[i * K + o];
    }
    per_output[o] = r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
    num += d2;
    den += r2;
  }
  *err = den > 0 ? sqrt(num / den) : sqrt(num);
}

npde_status npde__exact_error(npde_run_ctx *rs, double t, int64_t n, double *err, double *per_output) {
  int64_t d = npde_network_dim(rs->net), K = npde_network_outputs(rs->net);
  double *xh = malloc((size_t)(n * d) * sizeof *xh), *uh = malloc((size_t)(n * K) * sizeof *uh),
         *eh = malloc((size_t)(n * K) * sizeof *eh);
  npde__heldout h = {.be = rs->backend};
  npde_status st = xh && uh && eh ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) st = npde__heldout_eval(rs, n, &h);
  if (st == NPDE_OK) st = npde_backend_download(rs->backend, xh, h.x, (size_t)(n * d) * sizeof(double));
  if (st == NPDE_OK) st = npde_backend_download(rs->backend, uh, h.u, (size_t)(n * K) * sizeof(double));
  if (st == NPDE_OK) st = npde_pde_exact(rs->pde, t, xh, n, eh);
  if (st == NPDE_OK) st = npde_pde_add_lift(rs->pde, t, xh, n, 1.0, uh, NULL);
  if (st == NPDE_OK) npde__relative_errors(uh, eh, n, K, err, per_output);
  npde__heldout_free(&h);
  free(xh);
  free(uh);
  free(eh);
  return st;
}

const char *npde__exact_label(const npde_run_ctx *rs) {
  return rs && rs->exact_is_reference ? "the reference" : "the exact solution";
}

void npde__log_exact_error(const npde_run_ctx *rs, const char *stage, double t, double err, const double *per_output,
                           int64_t K) {
  char parts[256] = "";
  size_t used = 0;
  for (int64_t o = 0; K > 1 && o < K && used < sizeof parts; ++o) {
    int w = snprintf(parts + used, sizeof parts - used, "%s%.3e%s", o ? ", " : " (per output: ", per_output[o],
                     o == K - 1 ? ")" : "");
    if (w < 0) break;
    used += (size_t)w;
  }
  npde_log(NPDE_LOG_INFO, "%s: t = %.6g: relative L2 error against %s %.3e%s", stage, t, npde__exact_label(rs), err,
           parts);
}

void npde__sample_slice(int64_t rows, int64_t d, int64_t *first, int64_t *count) {
  npde_comm_slice(rows, d % 2 ? 2 : 1, first, count);
}
