/* What several stages share: the held-out evaluation points and the
 * network's values there; for interface PDEs, grid points, the value of
 * the network of each point's side, and error norms. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "npde/npde_comm.h"

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

npde_status npde__exact_error(npde__run_state *rs, double t, int64_t n, double *err, double *per_output) {
  int64_t d = npde_network_dim(rs->net), K = npde_network_outputs(rs->net);
  double *xh = malloc((size_t)(n * d) * sizeof *xh), *uh = malloc((size_t)(n * K) * sizeof *uh),
         *eh = malloc((size_t)(n * K) * sizeof *eh);
  npde__heldout h = {.be = rs->backend};
  npde_status st = xh && uh && eh ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) st = npde__heldout_eval(rs, n, &h);
  if (st == NPDE_OK) st = npde_backend_download(rs->backend, xh, h.x, (size_t)(n * d) * sizeof(double));
  if (st == NPDE_OK) st = npde_backend_download(rs->backend, uh, h.u, (size_t)(n * K) * sizeof(double));
  if (st == NPDE_OK) st = npde_pde_exact(rs->pde, t, xh, n, eh);
  if (st == NPDE_OK) npde__relative_errors(uh, eh, n, K, err, per_output);
  npde__heldout_free(&h);
  free(xh);
  free(uh);
  free(eh);
  return st;
}

void npde__log_exact_error(const char *stage, double t, double err, const double *per_output, int64_t K) {
  char parts[256] = "";
  size_t used = 0;
  for (int64_t o = 0; K > 1 && o < K && used < sizeof parts; ++o) {
    int w = snprintf(parts + used, sizeof parts - used, "%s%.3e%s", o ? ", " : " (per output: ", per_output[o],
                     o == K - 1 ? ")" : "");
    if (w < 0) break;
    used += (size_t)w;
  }
  npde_log(NPDE_LOG_INFO, "%s: t = %.6g: relative L2 error against the exact solution %.3e%s", stage, t, err, parts);
}

void npde__sample_slice(int64_t rows, int64_t d, int64_t *first, int64_t *count) {
  npde_comm_slice(rows, d % 2 ? 2 : 1, first, count);
}

npde_status npde__grid_points(const npde_grid *g, double **out) {
  const int64_t n = g->n[0] * g->n[1] * g->n[2];
  double *x = malloc((size_t)n * 3 * sizeof *x);
  *out = x;
  if (!x) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory for %lld grid points", (long long)n);
  for (int64_t i = 0; i < g->n[0]; ++i)
    for (int64_t j = 0; j < g->n[1]; ++j)
      for (int64_t k = 0; k < g->n[2]; ++k) {
        double *xi = x + 3 * ((i * g->n[1] + j) * g->n[2] + k);
        const int64_t ijk[3] = {i, j, k};
        for (int a = 0; a < 3; ++a) xi[a] = g->lo[a] + (double)ijk[a] * g->spacing[a];
      }
  return NPDE_OK;
}

npde_status npde__side_values(npde__run_state *rs, const double *x, const double *phi, int64_t n, double *u) {
  const int64_t p = npde_network_n_params(rs->net);
  void *xb = NULL, *ub = NULL;
  double *uh = malloc((size_t)n * 2 * sizeof *uh);
  npde_status st = uh ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) st = npde_backend_alloc(rs->backend, (size_t)n * 3 * sizeof(double), &xb);
  if (st == NPDE_OK) st = npde_backend_alloc(rs->backend, (size_t)n * 2 * sizeof(double), &ub);
  if (st == NPDE_OK) st = npde_backend_upload(rs->backend, xb, x, (size_t)n * 3 * sizeof(double));
  npde_mat th = npde_mat_view(rs->theta, NPDE_F64, p, 1), X = npde_mat_view(xb, NPDE_F64, n, 3),
           U = npde_mat_view(ub, NPDE_F64, n, 2);
  if (st == NPDE_OK) st = npde_network_eval(rs->net, &th, &X, &U);
  if (st == NPDE_OK) st = npde_backend_download(rs->backend, uh, ub, (size_t)n * 2 * sizeof(double));
  for (int64_t i = 0; st == NPDE_OK && i < n; ++i) u[i] = uh[2 * i + (phi[i] >= 0.0)];
  npde_backend_free(rs->backend, xb);
  npde_backend_free(rs->backend, ub);
  free(uh);
  return st;
}

void npde__sq_sum_max(const double *a, const double *b, int64_t n, double *sum_sq, double *max_abs) {
  double s = 0.0, m = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = fabs(a[i] - b[i]);
    s += d * d;
    m = fmax(m, d);
  }
  *sum_sq = s;
  *max_abs = m;
}

void npde__rmse_linf(const double *a, const double *b, int64_t n, double *rmse, double *linf) {
  double s;
  npde__sq_sum_max(a, b, n, &s, linf);
  *rmse = sqrt(s / (double)n);
}

