/* The `eval` stage: what a run leaves to look at. At every theta snapshot
 * (the evolve stage's output times, or the current parameters when there
 * are none) it evaluates the network on a viewing grid (the whole box for
 * d <= 3, or a 1-3 axis slice through it), the exact solution and the error
 * there when the PDE has one, and the relative L2 error against the exact
 * solution on held-out points. Fields go to results.npz (indexing 'ij':
 * field_u[snapshot, i0, i1(, i2), component]) and, per snapshot, to
 * DIR/fields/u_NNNN.vti with a fields.pvd time series for ParaView.
 * A method may evaluate the PDEs it claims its own way (npde_run_method.eval). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde_log.h"
#include "run_context.h"

static const npde_param_spec eval_params[] = {
    {.name = "grid", .type = NPDE_PARAM_INT_LIST, .default_value = "[0]",
     .doc = "points per grid axis (one value for every axis; 0: 129 per axis in 1D/2D, 49 in 3D)"},
    {.name = "axes", .type = NPDE_PARAM_INT_LIST, .default_value = "[]",
     .doc = "the input axes the grid spans, 1 to 3 of them (default: all for d <= 3, else [0, 1])"},
    {.name = "at", .type = NPDE_PARAM_REAL_LIST, .default_value = "[0]", /* on the PDE's box */
     .doc = "the other coordinates of a slice (d entries, or one for all)"},
    {.name = "exact", .type = NPDE_PARAM_BOOL, .default_value = "true",
     .doc = "compare with the PDE's exact solution when it has one"},
    {.name = "points", .type = NPDE_PARAM_INT, .default_value = "10000", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "held-out points of the relative L2 error"},
    {.name = "vti", .type = NPDE_PARAM_BOOL, .default_value = "true",
     .doc = "write fields/u_NNNN.vti and fields.pvd (interface PDEs: solution.vti) into the run directory"},
    {.name = "reference", .type = NPDE_PARAM_ENUM, .default_value = "none", .choices = "none|grid",
     .doc = "interface PDEs: also solve the grid reference (docs/methods/nbm.md §7.3) and compare the network with it"},
    {0},
};

typedef struct eval_grid {
  int n_axes;
  int axes[3];
  int64_t dims[3]; /* points along each grid axis */
  int64_t count;   /* points in all */
  double *x;       /* count x d on the reference cube, 'ij' order (the last grid axis fastest) */
  double lo[3], hi[3]; /* each grid axis's extent on the PDE's box (its domain:) */
} eval_grid;

static npde_status read_int_list(const npde_config *params, const char *key, int64_t *v, size_t cap, size_t *n) {
  const npde_config *node = npde_config_get(params, key);
  *n = 0;
  if (npde_config_node_type(node) != NPDE_CONFIG_SEQUENCE) {
    *n = 1;
    return npde_config_as_int(node, v);
  }
  if (npde_config_size(node) > cap) return npde_config_error(node, "eval: '%s' takes at most %zu entries", key, cap);
  for (size_t i = 0; i < npde_config_size(node); ++i) NPDE_TRY(npde_config_as_int(npde_config_at(node, i), &v[i]));
  *n = npde_config_size(node);
  return NPDE_OK;
}

/* The grid's axes, sizes and extents (no points yet): what `npde check` refuses is refused here. */
static npde_status grid_shape(const npde_config *params, const npde_pde *pde, int64_t d, eval_grid *g,
                              double *at_v) {
  int64_t axes[3], dims[3];
  double lo[64], hi[64];
  if (d > 64) return npde_config_error(params, "eval: inputs of dimension %lld > 64 are not supported", (long long)d);
  size_t n_axes, n_dims;
  NPDE_TRY(read_int_list(params, "axes", axes, 3, &n_axes));
  NPDE_TRY(read_int_list(params, "grid", dims, 3, &n_dims));
  if (n_axes == 0) {
    n_axes = d <= 3 ? (size_t)d : 2;
    for (size_t i = 0; i < n_axes; ++i) axes[i] = (int64_t)i;
  }
  for (size_t i = 0; i < n_axes; ++i) {
    if (axes[i] < 0 || axes[i] >= d)
      return npde_config_error(npde_config_get(params, "axes"), "eval: axis %lld is not an input axis (0..%lld)",
                               (long long)axes[i], (long long)(d - 1));
    for (size_t j = 0; j < i; ++j)
      if (axes[j] == axes[i])
        return npde_config_error(npde_config_get(params, "axes"), "eval: axis %lld is listed twice",
                                 (long long)axes[i]);
  }
  if (n_dims != 1 && n_dims != n_axes)
    return npde_config_error(npde_config_get(params, "grid"), "eval: 'grid' needs one entry or one per axis (%zu)",
                             n_axes);
  const npde_config *at = npde_config_get(params, "at");
  size_t n_at = npde_config_node_type(at) == NPDE_CONFIG_SEQUENCE ? npde_config_size(at) : 1;
  if (n_at != 1 && n_at != (size_t)d)
    return npde_config_error(at, "eval: 'at' needs one entry or d = %lld", (long long)d);
  for (int64_t j = 0; j < d; ++j)
    NPDE_TRY(npde_config_as_real(n_at == 1 && npde_config_node_type(at) != NPDE_CONFIG_SEQUENCE
                                     ? at
                                     : npde_config_at(at, n_at == 1 ? 0 : (size_t)j),
                                 &at_v[j]));
  npde_pde_domain(pde, lo, hi);
  npde_pde_to_reference(pde, at_v, 1, at_v);
  g->n_axes = (int)n_axes;
  g->count = 1;
  for (int i = 0; i < g->n_axes; ++i) {
    int64_t n = dims[n_dims == 1 ? 0 : i];
    if (n == 0) n = n_axes == 3 ? 49 : 129;
    if (n < 2) return npde_config_error(npde_config_get(params, "grid"), "eval: a grid axis needs >= 2 points");
    g->axes[i] = (int)axes[i];
    g->dims[i] = n;
    g->lo[i] = lo[axes[i]];
    g->hi[i] = hi[axes[i]];
    if (n > INT64_MAX / g->count)
      return npde_config_error(npde_config_get(params, "grid"), "eval: the grid has more than %.3g points",
                               (double)INT64_MAX);
    g->count *= n;
  }
  for (int i = g->n_axes; i < 3; ++i) g->dims[i] = 1;
  return NPDE_OK;
}

/* The grid on the reference cube [-1, 1]^d; at: and the axes' extents are on the PDE's box. */
static npde_status make_grid(const npde_config *params, const npde_pde *pde, int64_t d, eval_grid *g) {
  double at_v[64];
  NPDE_TRY(grid_shape(params, pde, d, g, at_v));
  g->x = malloc((size_t)(g->count * d) * sizeof *g->x);
  if (!g->x) return NPDE_ERROR(NPDE_ERR_NOMEM, "eval: out of memory for a grid of %lld points", (long long)g->count);
  for (int64_t p = 0; p < g->count; ++p) {
    double *x = g->x + p * d;
    for (int64_t j = 0; j < d; ++j) x[j] = at_v[j];
    int64_t rest = p;
    for (int i = g->n_axes - 1; i >= 0; --i) { /* the last grid axis runs fastest */
      int64_t k = rest % g->dims[i];
      rest /= g->dims[i];
      x[g->axes[i]] = -1.0 + 2.0 * (double)k / (double)(g->dims[i] - 1);
    }
  }
  return NPDE_OK;
}

/* The network at the grid points for parameters theta (host, p values) into U (count x K, host). */
static npde_status network_on_grid(npde_run_ctx *rs, const double *theta_h, const eval_grid *g, void *xb, void *ub,
                                   double *U) {
  int64_t p = npde_network_n_params(rs->net), d = npde_network_dim(rs->net), K = npde_network_outputs(rs->net);
  NPDE_TRY(npde_backend_upload(rs->backend, rs->theta, theta_h, (size_t)p * sizeof(double)));
  npde_mat th = npde_mat_view(rs->theta, NPDE_F64, p, 1), X = npde_mat_view(xb, NPDE_F64, g->count, d),
           Ub = npde_mat_view(ub, NPDE_F64, g->count, K);
  NPDE_TRY(npde_network_eval(rs->net, &th, &X, &Ub));
  return npde_backend_download(rs->backend, U, ub, (size_t)(g->count * K) * sizeof(double));
}

/* fields (count x K, 'ij' order) into VTK's x-fastest order, one field per output. */
static void to_vtk_order(const eval_grid *g, const double *src, int64_t K, int64_t k, double *dst) {
  for (int64_t p = 0; p < g->count; ++p) {
    int64_t idx[3] = {0, 0, 0}, rest = p;
    for (int i = g->n_axes - 1; i >= 0; --i) {
      idx[i] = rest % g->dims[i];
      rest /= g->dims[i];
    }
    dst[(idx[2] * g->dims[1] + idx[1]) * g->dims[0] + idx[0]] = src[p * K + k];
  }
}

static npde_status write_vti(npde_run_ctx *rs, const eval_grid *g, int64_t K, int64_t snap, const double *U,
                             const double *E, char *file, size_t file_size) {
  static const char *const names[] = {"u", "exact", "error"};
  double *buf = malloc((size_t)(g->count * K * 3) * sizeof *buf);
  if (!buf) return NPDE_ERROR(NPDE_ERR_NOMEM, "eval: out of memory");
  npde_vti_field fields[3 * 8];
  char fname[3 * 8][32];
  int nf = 0;
  for (int which = 0; which < (E ? 3 : 1); ++which)
    for (int64_t k = 0; k < K && k < 8; ++k) {
      double *dst = buf + (size_t)nf * (size_t)g->count;
      if (which < 2) to_vtk_order(g, which == 0 ? U : E, K, k, dst);
      else
        for (int64_t p = 0; p < g->count; ++p) dst[p] = buf[(size_t)k * (size_t)g->count + (size_t)p] -
                                                      buf[(size_t)(K + k) * (size_t)g->count + (size_t)p];
      if (K == 1) snprintf(fname[nf], sizeof fname[nf], "%s", names[which]);
      else snprintf(fname[nf], sizeof fname[nf], "%s_%lld", names[which], (long long)k);
      fields[nf] = (npde_vti_field){.name = fname[nf], .components = 1, .data = dst};
      ++nf;
    }
  npde_vti_grid vg = {.dims = {1, 1, 1}, .origin = {0, 0, 0}, .spacing = {1, 1, 1}};
  for (int i = 0; i < g->n_axes; ++i) {
    vg.dims[i] = g->dims[i];
    vg.origin[i] = g->lo[i];
    vg.spacing[i] = (g->hi[i] - g->lo[i]) / (double)(g->dims[i] - 1);
  }
  snprintf(file, file_size, "fields/u_%04lld.vti", (long long)snap);
  size_t n = strlen(rs->dir) + strlen(file) + 2;
  char *path = malloc(n);
  npde_status st = path ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) {
    snprintf(path, n, "%s/%s", rs->dir, file);
    st = npde_vti_write(path, &vg, fields, nf);
  }
  free(path);
  free(buf);
  return st;
}

static npde_status eval_preflight(const npde_run_ctx *rs, const npde_config *params) {
  NPDE_TRY(npde__stage_needs(rs, params, "eval", NPDE__NEEDS_NETWORK));
  if (npde_run_method_for(rs->pde) && npde_run_method_for(rs->pde)->eval) return NPDE_OK;
  const npde_pde_info info = npde_pde_get_info(rs->pde);
  eval_grid g = {0};
  double at_v[64];
  int64_t points;
  NPDE_TRY(grid_shape(params, rs->pde, info.dim, &g, at_v));
  NPDE_TRY(npde_config_get_int(params, "points", &points));
  /* the grid's points, the network's values and gradients there, the exact values and the error */
  const double per_point = 8.0 * (double)(info.dim + info.outputs * (3 + info.dim));
  return npde__memory_fits(npde_config_get(params, "grid"), "eval: the grid's points and fields",
                           per_point * ((double)g.count + (double)points));
}

static npde_status eval_run(npde_run_ctx *rs, const npde_config *params) {
  const npde_run_method *method = npde_run_method_for(rs->pde);
  if (method && method->eval) return method->eval(rs, params);
  bool want_exact, vti;
  int64_t points;
  NPDE_TRY(npde_config_get_bool(params, "exact", &want_exact));
  NPDE_TRY(npde_config_get_bool(params, "vti", &vti));
  NPDE_TRY(npde_config_get_int(params, "points", &points));
  npde_pde_info info = npde_pde_get_info(rs->pde);
  bool exact = want_exact && info.has_exact;
  int64_t d = info.dim, K = info.outputs, p = npde_network_n_params(rs->net);
  eval_grid g = {0};
  NPDE_TRY(make_grid(params, rs->pde, d, &g));
  /* the snapshots, or the current parameters at t = 0 */
  int64_t n_snap = rs->n_snap > 0 ? rs->n_snap : 1;
  double t_now = 0.0, *theta_now = NULL;
  const double *times = rs->n_snap > 0 ? rs->snap_t : &t_now, *thetas = rs->snap_theta;
  void *xb = NULL, *ub = NULL;
  double *U = malloc((size_t)(n_snap * g.count * K) * sizeof *U);
  double *E = exact ? malloc((size_t)(n_snap * g.count * K) * sizeof *E) : NULL;
  /* without an exact solution, the PDE residual N_t - F at the snapshots whose theta_dot the run knows */
  const npde__result *dots = exact || rs->n_snap == 0 ? NULL : npde__result_get(rs, "theta_dot");
  if (dots && !(dots->ndim == 2 && dots->shape[0] == n_snap && dots->shape[1] == p)) dots = NULL;
  double *R = dots ? malloc((size_t)(n_snap * g.count * K) * sizeof *R) : NULL;
  double *errors = malloc((size_t)n_snap * sizeof *errors), *parts = malloc((size_t)(n_snap * K) * sizeof *parts);
  char **files = calloc((size_t)n_snap, sizeof *files);
  npde_status st = U && errors && parts && files && (!exact || E) && (!dots || R)
                       ? NPDE_OK
                       : NPDE_ERROR(NPDE_ERR_NOMEM, "eval: out of memory");
  if (st == NPDE_OK && rs->n_snap == 0) {
    theta_now = malloc((size_t)p * sizeof *theta_now);
    st = theta_now ? npde_backend_download(rs->backend, theta_now, rs->theta, (size_t)p * sizeof(double))
                   : NPDE_ERROR(NPDE_ERR_NOMEM, "eval: out of memory");
    thetas = theta_now;
  }
  if (st == NPDE_OK) st = npde_backend_alloc(rs->backend, (size_t)(g.count * d) * sizeof(double), &xb);
  if (st == NPDE_OK) st = npde_backend_alloc(rs->backend, (size_t)(g.count * K) * sizeof(double), &ub);
  if (st == NPDE_OK) st = npde_backend_upload(rs->backend, xb, g.x, (size_t)(g.count * d) * sizeof(double));
  if (st == NPDE_OK && vti && rs->dir) {
    size_t n = strlen(rs->dir) + sizeof "/fields";
    char *fdir = malloc(n);
    if (!fdir) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    else {
      snprintf(fdir, n, "%s/fields", rs->dir);
      st = npde_mkdir_p(fdir);
      free(fdir);
    }
  }
  double worst = 0;
  for (int64_t s = 0; st == NPDE_OK && s < n_snap; ++s) {
    double *Us = U + s * g.count * K, *Es = exact ? E + s * g.count * K : NULL;
    st = network_on_grid(rs, thetas + s * p, &g, xb, ub, Us);
    if (st == NPDE_OK) st = npde_pde_add_lift(rs->pde, times[s], g.x, g.count, 1.0, Us, NULL);
    if (st == NPDE_OK && exact) st = npde_pde_exact(rs->pde, times[s], g.x, g.count, Es);
    const double *dot_s = dots ? (const double *)dots->data + s * p : NULL;
    for (int64_t e = 0; R && e < g.count * K; ++e) R[s * g.count * K + e] = NAN;
    if (st == NPDE_OK && dot_s && !isnan(dot_s[0]))
      st = npde__pde_residual(rs, times[s], thetas + s * p, dot_s, g.x, g.count, R + s * g.count * K);
    errors[s] = NAN;
    if (st == NPDE_OK && exact) st = npde__exact_error(rs, times[s], points, &errors[s], parts + s * K);
    if (st == NPDE_OK && exact) {
      if (errors[s] > worst) worst = errors[s];
      npde__log_exact_error(rs, "eval", times[s], errors[s], parts + s * K, K);
    }
    if (st == NPDE_OK && vti && rs->dir) {
      files[s] = malloc(64);
      st = files[s] ? write_vti(rs, &g, K, s, Us, Es, files[s], 64) : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    }
  }
  /* leave theta as it was: the last snapshot is the final state */
  if (st == NPDE_OK)
    st = npde_backend_upload(rs->backend, rs->theta, thetas + (n_snap - 1) * p, (size_t)p * sizeof(double));
  if (st == NPDE_OK && vti && rs->dir) {
    size_t n = strlen(rs->dir) + sizeof "/fields.pvd";
    char *pvd = malloc(n);
    if (!pvd) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    else {
      snprintf(pvd, n, "%s/fields.pvd", rs->dir);
      st = npde_pvd_write(pvd, n_snap, times, (const char *const *)files);
      free(pvd);
    }
    if (st == NPDE_OK) npde_log(NPDE_LOG_INFO, "eval: %lld snapshots in %s/fields.pvd (open it in ParaView)",
                                (long long)n_snap, rs->dir);
  }
  if (st == NPDE_OK) {
    int64_t shape[6] = {n_snap}, nd = 1;
    for (int i = 0; i < g.n_axes; ++i) shape[nd++] = g.dims[i];
    shape[nd++] = K;
    st = npde__result_put(rs, "field_u", NPDE_NPY_F64, U, (int)nd, shape);
    if (st == NPDE_OK && exact) st = npde__result_put(rs, "field_exact", NPDE_NPY_F64, E, (int)nd, shape);
    if (st == NPDE_OK && R) st = npde__result_put(rs, "field_residual", NPDE_NPY_F64, R, (int)nd, shape);
    for (int i = 0; st == NPDE_OK && i < g.n_axes; ++i) {
      double *ax = malloc((size_t)g.dims[i] * sizeof *ax);
      if (!ax) { st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory"); break; }
      for (int64_t k = 0; k < g.dims[i]; ++k)
        ax[k] = g.lo[i] + (g.hi[i] - g.lo[i]) * (double)k / (double)(g.dims[i] - 1);
      char name[32];
      snprintf(name, sizeof name, "grid_x%d", g.axes[i]);
      st = npde__result_put(rs, name, NPDE_NPY_F64, ax, 1, &g.dims[i]);
      free(ax);
    }
    if (st == NPDE_OK) st = npde__result_put(rs, "field_t", NPDE_NPY_F64, times, 1, &n_snap);
    if (st == NPDE_OK && exact) st = npde__result_put(rs, "eval_rel_error", NPDE_NPY_F64, errors, 1, &n_snap);
    int64_t parts_shape[2] = {n_snap, K};
    if (st == NPDE_OK && exact)
      st = npde__result_put(rs, "eval_rel_error_components", NPDE_NPY_F64, parts, 2, parts_shape);
    if (st == NPDE_OK) st = npde__results_write(rs);
  }
  if (st == NPDE_OK && exact) {
    npde__metric(rs, "eval.rel_error", errors[n_snap - 1]);
    npde__metric(rs, "eval.rel_error_max", worst);
    for (int64_t o = 0; K > 1 && o < K; ++o) {
      char name[48];
      snprintf(name, sizeof name, "eval.rel_error_output%lld", (long long)o);
      npde__metric(rs, name, parts[(n_snap - 1) * K + o]);
    }
  }
  for (int64_t s = 0; files && s < n_snap; ++s) free(files[s]);
  free(files);
  npde_backend_free(rs->backend, xb);
  npde_backend_free(rs->backend, ub);
  free(U);
  free(E);
  free(R);
  free(errors);
  free(parts);
  free(theta_now);
  free(g.x);
  return st;
}

const npde_stage npde__stage_eval = {
    .name = "eval",
    .summary = "errors against the exact solution at every snapshot; fields on a grid for NumPy and ParaView",
    .params = eval_params,
    .run = eval_run,
    .preflight = eval_preflight,
    .rank0_only = true,
};
