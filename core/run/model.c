/* A trained network loaded from a run directory (npde_model.h): the run's
 * own pipeline is instantiated from its config.yaml (so plugins, backend,
 * PDE and network are exactly the run's), then theta is taken from
 * results.npz. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "npde/npde_model.h"
#include "run_context.h"

struct npde_model {
  npde_registry *reg;
  npde_pipeline *pl;
  npde_run_ctx rs;
  int64_t d, K, p, n_times;
  const npde_run_method *method; /* the method that claims the run's PDE, or NULL */
  double *times, *thetas; /* n_times, n_times x p (host) */
  int64_t loaded;         /* index of the theta now in rs.theta, -2 for theta(loaded_t) from the trajectory, or -1 */
  double loaded_t;
  npde__trajectory traj;  /* the evolve stage's nodes (trajectory.npz), theta at any t between them; n = 0: none */
  double *theta_t;        /* p (host): theta(t) interpolated */
  bool outside;           /* points outside the PDE's box are evaluated (warned), not refused */
  double lo[64], hi[64];  /* the PDE's box */
};

static npde_status read_member(const char *path, const char *name, int64_t count, npde_npy_array *a) {
  NPDE_TRY(npde_npz_read(path, name, a));
  if (a->type != NPDE_NPY_F64 || (count >= 0 && a->count % (count ? count : 1) != 0)) {
    npde_npy_array_free(a);
    return NPDE_ERROR(NPDE_ERR_IO, "'%s': '%s' does not hold f64 parameters of this network (%lld per row)", path,
                      name, (long long)count);
  }
  return NPDE_OK;
}

static npde_status load_thetas(npde_model *m, const char *dir) {
  size_t n = strlen(dir) + sizeof "/trajectory.npz";
  char *path = malloc(n);
  if (!path) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  snprintf(path, n, "%s/results.npz", dir);
  npde_npy_array t = {0}, th = {0};
  npde_status st = read_member(path, "t", -1, &t);
  if (st == NPDE_OK && t.count > 0) st = read_member(path, "theta", m->p, &th);
  if (st == NPDE_OK && t.count > 0 && th.count != t.count * m->p)
    st = NPDE_ERROR(NPDE_ERR_IO, "'%s': %lld times but %lld parameter values (%lld per network)", path,
                    (long long)t.count, (long long)th.count, (long long)m->p);
  if (st == NPDE_OK && t.count == 0) { /* a run without snapshots: its final parameters */
    st = read_member(path, "theta_final", m->p, &th);
    if (st == NPDE_OK && th.count != m->p)
      st = NPDE_ERROR(NPDE_ERR_IO, "'%s': theta_final has %lld values, the network %lld", path, (long long)th.count,
                      (long long)m->p);
    if (st == NPDE_OK) {
      free(t.data);
      t.count = 1;
      t.data = malloc(sizeof(double));
      if (!t.data) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
      else *(double *)t.data = NAN;
    }
  }
  if (st == NPDE_OK) {
    m->n_times = t.count;
    m->times = t.data;
    m->thetas = th.data;
    t.data = th.data = NULL;
  }
  npde_npy_array_free(&t);
  npde_npy_array_free(&th);
  /* theta between the saved times, when the run kept its trajectory */
  if (st == NPDE_OK) snprintf(path, n, "%s/trajectory.npz", dir);
  m->traj.p = m->p;
  if (st == NPDE_OK && access(path, R_OK) == 0) st = npde__trajectory_read(path, &m->traj);
  if (st == NPDE_OK && m->traj.n > 0 && !(m->theta_t = malloc((size_t)m->p * sizeof *m->theta_t)))
    st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  free(path);
  return st;
}

npde_status npde_model_load(const char *dir, const npde_model_options *opt, npde_model **out) {
  if (!dir || !out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_model_load: NULL argument");
  if (opt && opt->struct_size < offsetof(npde_model_options, outside))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_model_load: set npde_model_options.struct_size");
  *out = NULL;
  npde_model *m = calloc(1, sizeof *m);
  if (!m) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  m->loaded = -1;
  m->outside = opt && opt->struct_size >= offsetof(npde_model_options, outside) + sizeof opt->outside && opt->outside;
  size_t n = strlen(dir) + sizeof "/config.yaml";
  char *path = malloc(n);
  npde_config *cfg = NULL;
  npde_status st = path ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) {
    snprintf(path, n, "%s/config.yaml", dir);
    st = npde_config_load_file(path, &cfg);
  }
  /* evaluation writes nothing and needs no solver: no output, and the backend the caller asks for */
  if (st == NPDE_OK) st = npde_config_apply_override(cfg, "output=~");
  if (st == NPDE_OK && opt && opt->backend) {
    char o[128];
    snprintf(o, sizeof o, "backend=%s", opt->backend);
    st = npde_config_apply_override(cfg, o);
  }
  if (st == NPDE_OK) st = npde_registry_create(&m->reg);
  if (st == NPDE_OK) st = npde_registry_load_defaults(m->reg);
  if (st == NPDE_OK) st = npde_rundir_load_plugins(m->reg, dir); /* a third-party plugin the run used */
  if (st == NPDE_OK) st = npde_pipeline_create(m->reg, cfg, &m->pl);
  if (st == NPDE_OK) st = npde__pipeline_instantiate(m->pl, &m->rs);
  if (st == NPDE_OK && !m->rs.net)
    st = NPDE_ERROR(NPDE_ERR_CONFIG, "'%s' is a run without a network: nothing to evaluate", path);
  if (st == NPDE_OK && npde_network_dim(m->rs.net) > 64)
    st = NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_model_load: at most 64 dimensions");
  if (st == NPDE_OK) {
    m->d = npde_network_dim(m->rs.net);
    m->K = npde_network_outputs(m->rs.net);
    const npde_pde_info info = npde_pde_get_info(m->rs.pde);
    if (info.sides == 0) npde_pde_domain(m->rs.pde, m->lo, m->hi);
    for (int64_t j = 0; info.sides != 0 && j < m->d && j < 3; ++j) m->lo[j] = info.box_lo[j], m->hi[j] = info.box_hi[j];
    m->p = npde_network_n_params(m->rs.net);
    m->method = npde_run_method_for(m->rs.pde);
    st = load_thetas(m, dir);
  }
  npde_config_destroy(&cfg);
  free(path);
  if (st != NPDE_OK) {
    npde_model_free(&m);
    return st;
  }
  *out = m;
  return NPDE_OK;
}

void npde_model_free(npde_model **mp) {
  if (!mp || !*mp) return;
  npde_model *m = *mp;
  npde__pipeline_release(&m->rs);
  npde_pipeline_destroy(&m->pl);
  npde_registry_destroy(&m->reg);
  free(m->times);
  free(m->thetas);
  npde__trajectory_free(&m->traj);
  free(m->theta_t);
  free(m);
  *mp = NULL;
}

int64_t npde_model_dim(const npde_model *m) { return m ? m->d : 0; }
int64_t npde_model_outputs(const npde_model *m) {
  if (!m) return 0;
  return m->method && m->method->model_outputs ? m->method->model_outputs(m->K) : m->K;
}
int64_t npde_model_n_params(const npde_model *m) { return m ? m->p : 0; }
int64_t npde_model_n_times(const npde_model *m) { return m ? m->n_times : 0; }
double npde_model_time(const npde_model *m, int64_t i) {
  return m && i >= 0 && i < m->n_times ? m->times[i] : NAN;
}
bool npde_model_time_range(const npde_model *m, double *t_first, double *t_last) {
  if (!m || m->traj.n == 0) return false;
  if (t_first) *t_first = m->traj.t[0];
  if (t_last) *t_last = m->traj.t[m->traj.n - 1];
  return true;
}

/* The index of the saved time t (NaN: the last), or -2 when the trajectory gives theta(t). */
static npde_status find_time(const npde_model *m, double t, int64_t *idx) {
  if (isnan(t)) {
    *idx = m->n_times - 1;
    return NPDE_OK;
  }
  for (int64_t i = 0; i < m->n_times; ++i)
    if (fabs(m->times[i] - t) <= 1e-12 * fmax(1.0, fabs(t))) {
      *idx = i;
      return NPDE_OK;
    }
  if (m->traj.n > 0) {
    const double t0 = m->traj.t[0], t1 = m->traj.t[m->traj.n - 1];
    if (t >= t0 && t <= t1) {
      *idx = -2;
      return NPDE_OK;
    }
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_model_eval: t = %.9g is outside the run's [%.9g, %.9g]", t, t0, t1);
  }
  char list[512] = "";
  size_t used = 0;
  for (int64_t i = 0; i < m->n_times && used + 32 < sizeof list; ++i)
    used += (size_t)snprintf(list + used, sizeof list - used, "%s%.9g", i ? ", " : "", m->times[i]);
  return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_model_eval: theta is saved at t = %s only, not at t = %.9g, and the "
                    "run kept no trajectory.npz (evolve.trajectory_every: 0, or a run made before trajectories were kept): add the time "
                    "to its snapshots", list, t);
}

/* Every output of the network (at the loaded theta) at n points of the PDE's box: u (n x K), grad (n x K x d) or
 * NULL. The network lives on the reference cube: points are mapped there, gradients back (the PDE's domain:). */
static npde_status eval_outputs(npde_model *m, double t, const double *x, int64_t n, double *u, double *grad) {
  npde_backend *be = m->rs.backend;
  const int64_t d = m->d;
  double *lo = malloc((size_t)(2 * d) * sizeof *lo), *xi = NULL;
  if (!lo) return NPDE_ERROR(NPDE_ERR_NOMEM, "npde_model_eval: out of memory");
  double *hi = lo + d;
  const bool mapped = m->rs.pde && npde_pde_domain(m->rs.pde, lo, hi);
  if (mapped) {
    xi = malloc((size_t)(n * d) * sizeof *xi);
    if (!xi) {
      free(lo);
      return NPDE_ERROR(NPDE_ERR_NOMEM, "npde_model_eval: out of memory");
    }
    npde_pde_to_reference(m->rs.pde, x, n, xi);
    x = xi;
  }
  void *xb = NULL;
  npde_status st = npde_backend_alloc(be, (size_t)(n * m->d) * sizeof(double), &xb);
  npde_mat X = npde_mat_view(xb, NPDE_F64, n, m->d), th = npde_mat_view(m->rs.theta, NPDE_F64, m->p, 1);
  if (st == NPDE_OK) st = npde_backend_upload(be, xb, x, (size_t)(n * m->d) * sizeof(double));
  if (st == NPDE_OK && grad) {
    st = npde_network_jet(m->rs.net, &th, &X, NPDE_JET_GRAD, u, grad, NULL);
  } else if (st == NPDE_OK) {
    void *ub = NULL;
    st = npde_backend_alloc(be, (size_t)(n * m->K) * sizeof(double), &ub);
    npde_mat U = npde_mat_view(ub, NPDE_F64, n, m->K);
    if (st == NPDE_OK) st = npde_network_eval(m->rs.net, &th, &X, &U);
    if (st == NPDE_OK) st = npde_backend_download(be, u, ub, (size_t)(n * m->K) * sizeof(double));
    npde_backend_free(be, ub);
  }
  if (st == NPDE_OK && m->rs.pde) st = npde_pde_add_lift(m->rs.pde, t, x, n, 1.0, u, grad); /* u = g + N */
  for (int64_t e = 0; st == NPDE_OK && mapped && grad && e < n * m->K; ++e)
    for (int64_t j = 0; j < d; ++j) grad[e * d + j] *= 2.0 / (hi[j] - lo[j]);
  npde_backend_free(be, xb);
  free(lo), free(xi);
  return st;
}

/* A method's own model value (npde_run_method.model_value) from the network's outputs and gradients. */
static npde_status eval_method(npde_model *m, double t, const double *x, int64_t n, double *u, double *grad) {
  const int64_t K = m->K, d = m->d;
  double *uk = malloc((size_t)(n * K) * sizeof *uk);
  double *gk = grad ? malloc((size_t)(n * K * d) * sizeof *gk) : NULL;
  npde_status st = uk && (!grad || gk) ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "npde_model_eval: out of memory");
  if (st == NPDE_OK) st = eval_outputs(m, t, x, n, uk, gk);
  if (st == NPDE_OK) st = m->method->model_value(m->rs.pde, x, n, K, d, uk, gk, u, grad);
  free(uk), free(gk);
  return st;
}

npde_status npde_model_eval(npde_model *m, double t, const double *x, int64_t n, double *u, double *grad) {
  if (!m || (n > 0 && (!x || !u)) || n < 0) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_model_eval: bad argument");
  for (int64_t i = 0; i < n * m->d; ++i)
    if (!isfinite(x[i]))
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_model_eval: point %lld has a non-finite coordinate",
                        (long long)(i / m->d));
  /* the network is trained on the PDE's closed box only: refuse (or, asked to, warn about) points outside it */
  int64_t outside = 0, first = -1, axis = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m->d; ++j) {
      const double slack = 1e-12 * (m->hi[j] - m->lo[j]);
      if (x[i * m->d + j] < m->lo[j] - slack || x[i * m->d + j] > m->hi[j] + slack) {
        if (first < 0) first = i, axis = j;
        ++outside;
        break;
      }
    }
  if (outside && !m->outside)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%lld of %lld points lie outside the PDE's box, where the network was not "
                      "trained (first: point %lld, x%lld = %g, outside [%g, %g]); evaluate them anyway with --outside "
                      "(npde_model_options.outside)", (long long)outside, (long long)n, (long long)first,
                      (long long)axis + 1, x[first * m->d + axis], m->lo[axis], m->hi[axis]);
  if (outside)
    npde_log(NPDE_LOG_WARN, "eval: %lld of %lld points lie outside the PDE's box, where the network was not trained",
             (long long)outside, (long long)n);
  int64_t k = 0;
  NPDE_TRY(find_time(m, t, &k));
  npde_backend *be = m->rs.backend;
  if (k == -2 && !(m->loaded == -2 && m->loaded_t == t)) {
    NPDE_TRY(npde__trajectory_at(&m->traj, t, m->theta_t));
    NPDE_TRY(npde_backend_upload(be, m->rs.theta, m->theta_t, (size_t)m->p * sizeof(double)));
    m->loaded = -2, m->loaded_t = t;
  } else if (k >= 0 && m->loaded != k) {
    NPDE_TRY(npde_backend_upload(be, m->rs.theta, m->thetas + k * m->p, (size_t)m->p * sizeof(double)));
    m->loaded = k;
  }
  if (n == 0) return NPDE_OK;
  return m->method && m->method->model_value ? eval_method(m, t, x, n, u, grad) : eval_outputs(m, t, x, n, u, grad);
}
