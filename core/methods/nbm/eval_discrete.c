/* The `eval` stage for discrete interface PDEs (NBM runs): on an n^3 grid
 * of the box, the network (the output of the side the level set selects),
 * the exact solution, the error, the level set and, with `reference: grid`,
 * the grid reference solve (docs/methods/nbm.md §7.3) and the network's distance to it.
 * RMSE and L-infinity go to the figures; the fields to results.npz
 * (field_u[i, j, k], ..., 'ij' order, grid_x0..2) and to solution.vti,
 * one ParaView file with every field on the same grid. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde_log.h"
#include "nbm_impl.h"

enum { F_U, F_EXACT, F_ERROR, F_PHI, F_REF, F_REF_ERROR, F_NET_MINUS_REF, F_COUNT };
static const char *const field_names[F_COUNT] = {"u", "exact", "error", "phi", "reference", "reference_error",
                                                 "u_minus_reference"};

static npde_status write_solution_vti(npde_run_ctx *rs, const npde_grid *g, double *const *fields,
                                      const bool *present) {
  const int64_t N = g->n[0] * g->n[1] * g->n[2];
  double *buf = malloc((size_t)N * F_COUNT * sizeof *buf);
  if (!buf) return NPDE_ERROR(NPDE_ERR_NOMEM, "eval: out of memory");
  npde_vti_field vf[F_COUNT];
  int nf = 0;
  for (int f = 0; f < F_COUNT; ++f) {
    if (!present[f]) continue;
    double *dst = buf + (size_t)nf * (size_t)N;
    /* 'ij' (z fastest) to VTK's x fastest */
    for (int64_t i = 0; i < g->n[0]; ++i)
      for (int64_t j = 0; j < g->n[1]; ++j)
        for (int64_t k = 0; k < g->n[2]; ++k)
          dst[(k * g->n[1] + j) * g->n[0] + i] = fields[f][(i * g->n[1] + j) * g->n[2] + k];
    vf[nf++] = (npde_vti_field){.name = field_names[f], .components = 1, .data = dst};
  }
  npde_vti_grid vg;
  for (int a = 0; a < 3; ++a) {
    vg.dims[a] = g->n[a];
    vg.origin[a] = g->lo[a];
    vg.spacing[a] = g->spacing[a];
  }
  const size_t n = strlen(rs->dir) + sizeof "/solution.vti";
  char *path = malloc(n);
  npde_status st = path ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) {
    snprintf(path, n, "%s/solution.vti", rs->dir);
    st = npde_vti_write(path, &vg, vf, nf);
  }
  if (st == NPDE_OK) npde_log(NPDE_LOG_INFO, "eval: %s: %d fields on the %lld^3 grid (open it in ParaView)", path, nf,
                              (long long)g->n[0]);
  free(path);
  free(buf);
  return st;
}

npde_status npde__eval_discrete(npde_run_ctx *rs, const npde_config *params) {
  bool want_exact, vti;
  int64_t grid_n[3] = {0};
  const char *reference = "none";
  NPDE_TRY(npde_config_get_bool(params, "exact", &want_exact));
  NPDE_TRY(npde_config_get_bool(params, "vti", &vti));
  NPDE_TRY(npde_config_get_string(params, "reference", &reference));
  const npde_config *gn = npde_config_get(params, "grid");
  NPDE_TRY(npde_config_as_int(npde_config_node_type(gn) == NPDE_CONFIG_SEQUENCE ? npde_config_at(gn, 0) : gn,
                              &grid_n[0]));
  double train_n = 0.0;
  int64_t N = grid_n[0] > 0 ? grid_n[0] : (npde__metric_get(rs, "train.n", &train_n) ? (int64_t)train_n : 32);
  if (N < 3 || N > 1024) return npde_config_error(gn, "eval: a grid of %lld nodes per axis is out of range [3, 1024]",
                                                  (long long)N);
  const npde_pde_info info = npde_pde_get_info(rs->pde);
  const bool exact = want_exact && info.has_exact, with_ref = strcmp(reference, "grid") == 0;
  const npde_grid g = npde_pde_box_grid(rs->pde, N);
  const int64_t n = N * N * N;
  double *fields[F_COUNT] = {0};
  bool present[F_COUNT] = {[F_U] = true, [F_PHI] = true, [F_EXACT] = exact, [F_ERROR] = exact, [F_REF] = with_ref,
                           [F_REF_ERROR] = with_ref && exact, [F_NET_MINUS_REF] = with_ref};
  double *x = NULL;
  npde_status st = npde__grid_points(&g, &x);
  for (int f = 0; st == NPDE_OK && f < F_COUNT; ++f)
    if (present[f] && !(fields[f] = malloc((size_t)n * sizeof(double))))
      st = NPDE_ERROR(NPDE_ERR_NOMEM, "eval: out of memory for a %lld^3 grid", (long long)N);
  if (st == NPDE_OK) st = npde_pde_level_set(rs->pde, x, n, fields[F_PHI]);
  if (st == NPDE_OK) st = npde__side_values(rs, x, fields[F_PHI], n, fields[F_U]);
  double rmse = NAN, linf = NAN;
  if (st == NPDE_OK && exact) {
    st = npde_pde_exact(rs->pde, 0.0, x, n, fields[F_EXACT]);
    for (int64_t i = 0; st == NPDE_OK && i < n; ++i) fields[F_ERROR][i] = fields[F_U][i] - fields[F_EXACT][i];
    npde__rmse_linf(fields[F_U], fields[F_EXACT], n, &rmse, &linf);
    if (st == NPDE_OK) {
      npde__metric(rs, "eval.rmse", rmse);
      npde__metric(rs, "eval.linf", linf);
      npde_log(NPDE_LOG_INFO, "eval: network against the exact solution on the %lld^3 grid: RMSE %.3e, Linf %.3e",
               (long long)N, rmse, linf);
    }
  }
  if (st == NPDE_OK && with_ref) {
    npde_grid_solve_report rep = {0};
    st = npde_pde_grid_solve(rs->pde, &g, NULL, fields[F_REF], &rep);
    if (st == NPDE_OK) {
      double r_rmse = NAN, r_linf = NAN, d_rmse, d_linf;
      npde__rmse_linf(fields[F_U], fields[F_REF], n, &d_rmse, &d_linf);
      for (int64_t i = 0; i < n; ++i) fields[F_NET_MINUS_REF][i] = fields[F_U][i] - fields[F_REF][i];
      if (exact) {
        npde__rmse_linf(fields[F_REF], fields[F_EXACT], n, &r_rmse, &r_linf);
        for (int64_t i = 0; i < n; ++i) fields[F_REF_ERROR][i] = fields[F_REF][i] - fields[F_EXACT][i];
      }
      npde__metric(rs, "reference.rmse", r_rmse);
      npde__metric(rs, "reference.linf", r_linf);
      npde__metric(rs, "reference.seconds", rep.assembly_seconds + rep.solve_seconds);
      npde__metric(rs, "eval.rmse_vs_reference", d_rmse);
      npde__metric(rs, "eval.linf_vs_reference", d_linf);
      npde_log(NPDE_LOG_INFO, "eval: grid reference (%s, %lld unknowns, residual %.1e, %.1f s): RMSE %.3e, Linf "
               "%.3e against the exact solution; the network is RMSE %.3e, Linf %.3e from it",
               rep.direct ? "UMFPACK" : "BiCGSTAB + ILU(0)", (long long)rep.unknowns, rep.relative_residual,
               rep.assembly_seconds + rep.solve_seconds, r_rmse, r_linf, d_rmse, d_linf);
    }
  }
  if (st == NPDE_OK && vti && rs->dir) st = write_solution_vti(rs, &g, fields, present);
  if (st == NPDE_OK) {
    const int64_t shape[3] = {N, N, N};
    for (int f = 0; st == NPDE_OK && f < F_COUNT; ++f) {
      if (!present[f]) continue;
      char name[48];
      snprintf(name, sizeof name, "field_%s", field_names[f]);
      st = npde__result_put(rs, name, NPDE_NPY_F64, fields[f], 3, shape);
    }
    for (int a = 0; st == NPDE_OK && a < 3; ++a) {
      double ax[1024];
      for (int64_t k = 0; k < N; ++k) ax[k] = g.lo[a] + (double)k * g.spacing[a];
      char name[16];
      snprintf(name, sizeof name, "grid_x%d", a);
      st = npde__result_put(rs, name, NPDE_NPY_F64, ax, 1, &N);
    }
    if (st == NPDE_OK) st = npde__results_write(rs);
  }
  for (int f = 0; f < F_COUNT; ++f) free(fields[f]);
  free(x);
  return st;
}
