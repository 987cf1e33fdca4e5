/* What the NBM stages share: the nodes of a grid, the network's value on the
 * side of the interface a point lies, and the error norms they report. */
#include <math.h>
#include <stdlib.h>

#include "nbm_impl.h"

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

npde_status npde__side_values(npde_run_ctx *rs, const double *x, const double *phi, int64_t n, double *u) {
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

