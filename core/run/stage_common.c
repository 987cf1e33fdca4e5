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

npde_status npde__pde_residual(npde_run_ctx *rs, double t, const double *theta, const double *theta_dot,
                               const double *x, int64_t n, double *r) {
  const npde_pde_info info = npde_pde_get_info(rs->pde);
  const int64_t d = info.dim, K = info.outputs, p = npde_network_n_params(rs->net);
  const int64_t sec = npde_jet_second_width(info.order, d) > 0 ? npde_jet_second_width(info.order, d) : 1;
  npde_backend *be = rs->backend;
  double *val = malloc((size_t)(n * K) * sizeof *val), *grad = malloc((size_t)(n * K * d) * sizeof *grad),
         *second = malloc((size_t)(n * K * sec) * sizeof *second), *f = malloc((size_t)(n * K) * sizeof *f);
  void *xb = NULL, *tb = NULL, *db = NULL, *jb = NULL;
  npde_linearization *lin = NULL;
  npde_status st = val && grad && second && f ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) st = npde_backend_alloc(be, (size_t)(n * d) * sizeof(double), &xb);
  if (st == NPDE_OK) st = npde_backend_alloc(be, (size_t)p * sizeof(double), &tb);
  if (st == NPDE_OK) st = npde_backend_alloc(be, (size_t)p * sizeof(double), &db);
  if (st == NPDE_OK) st = npde_backend_alloc(be, (size_t)(n * K) * sizeof(double), &jb);
  if (st == NPDE_OK) st = npde_backend_upload(be, xb, x, (size_t)(n * d) * sizeof(double));
  if (st == NPDE_OK) st = npde_backend_upload(be, tb, theta, (size_t)p * sizeof(double));
  if (st == NPDE_OK) st = npde_backend_upload(be, db, theta_dot, (size_t)p * sizeof(double));
  npde_mat X = npde_mat_view(xb, NPDE_F64, n, d), th = npde_mat_view(tb, NPDE_F64, p, 1),
           dot = npde_mat_view(db, NPDE_F64, p, 1), JV = npde_mat_view(jb, NPDE_F64, n, K);
  /* F = L[N] from the network's x-jets (the lift's jets added and g_t taken off, as in evolve), N_t = J theta_dot */
  if (st == NPDE_OK) st = npde_network_jet(rs->net, &th, &X, info.order, val, grad, second);
  npde_pde_jets jets = {.n = n, .d = d, .K = K, .order = info.order, .x = x, .value = val, .grad = grad,
                        .second = second};
  if (st == NPDE_OK) st = npde_pde_rhs(rs->pde, t, &jets, f);
  if (st == NPDE_OK) st = npde_linearization_create(rs->net, &th, &X, &lin);
  if (st == NPDE_OK) st = npde_linearization_jvp(lin, &dot, &JV);
  if (st == NPDE_OK) st = npde_backend_download(be, r, jb, (size_t)(n * K) * sizeof(double));
  for (int64_t i = 0; st == NPDE_OK && i < n * K; ++i) r[i] -= f[i];
  npde_linearization_destroy(&lin);
  npde_backend_free(be, xb), npde_backend_free(be, tb), npde_backend_free(be, db), npde_backend_free(be, jb);
  free(val), free(grad), free(second), free(f);
  return st;
}
