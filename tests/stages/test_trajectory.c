/* theta at any t (evolve.trajectory_every, trajectory.npz, npde_model_eval between steps): the nodes hold the
 * snapshots' bits; the model at a node is the network with that node's theta; between two steps the error
 * against the exact solution stays within that of the neighbouring steps; keeping the trajectory changes none
 * of the run's numbers, restarts included; at a restart time the model gives the state before the refit. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npde/npde.h"
#include "test_files.h"
#include "test_sanitized.h"

static npde_registry *reg;
static char tmp[256];

static void setup(void) { test_run_fixture_begin(&reg, tmp, sizeof tmp, "trajectory"); }
static void teardown(void) { test_run_fixture_end(&reg, tmp); }
TestSuite(trajectory, .init = setup, .fini = teardown, .timeout = 300);

#define NETWORK "{envelope: dirichlet, layers: [{type: sinusoidal, frequencies: 2}, {type: mlp, width: 16, depth: 2}]}"
#define PDE "{type: heat, dim: 2, s: 0.25, scale: 1}"

/* A heat run (its exact solution meets the PDE and the boundary condition; the run checks it) to t = 0.2, with a
 * snapshot at 0.1, in tmp/NAME. */
static void run(const char *name, const char *evolve_extra) {
  char yaml[2048], dir[300];
  snprintf(dir, sizeof dir, "%s/%s", tmp, name);
  snprintf(yaml, sizeof yaml,
           "seed: 4\noutput: %s\nplots: false\npde: " PDE "\nnetwork: " NETWORK "\nsamples: {n: 600}\n"
           "linsolver: {type: cg, tol: 1e-8, max_iters: 2000}\nprecond: {type: nystrom, rank: 40, mu: 1e-8}\n"
           "integrator: {type: rk23, rtol: 1e-5}\n"
           "stages:\n  - fit: {epochs: 400, lr: 1e-2, batch: 600, head_points: 6000, eval_points: 1000}\n"
           "  - evolve: {t_end: 0.2, snapshots: [0.1], eval_points: 1000, residual_points: 0%s}\n",
           dir, evolve_extra);
  npde_config *cfg;
  cr_assert_eq(npde_config_load_string(yaml, "trajectory.yaml", &cfg), NPDE_OK, "%s", npde_last_error());
  npde_pipeline *pl;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pipeline_run(pl), NPDE_OK, "%s", npde_last_error());
  npde_pipeline_destroy(&pl);
  npde_config_destroy(&cfg);
}

static npde_npy_array member(const char *name, const char *file, const char *key) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s/%s", tmp, name, file);
  npde_npy_array a = {0};
  cr_assert_eq(npde_npz_read(path, key, &a), NPDE_OK, "%s", npde_last_error());
  return a;
}

static npde_model *load(const char *name) {
  char dir[300];
  snprintf(dir, sizeof dir, "%s/%s", tmp, name);
  npde_model *m = NULL;
  cr_assert_eq(npde_model_load(dir, NULL, &m), NPDE_OK, "%s", npde_last_error());
  return m;
}

/* n points, uniform in the box [-1, 1]^2 (a fixed LCG: the same points for every call). */
static double *points(int64_t n) {
  double *x = malloc((size_t)(2 * n) * sizeof *x);
  uint64_t s = 7;
  for (int64_t i = 0; i < 2 * n; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x[i] = -1.0 + 2.0 * (double)(s >> 11) / 9007199254740992.0;
  }
  return x;
}

/* The network of the run with parameters theta (host) at the points x. */
static void network_values(const double *theta, int64_t p, const double *x, int64_t n, double *u) {
  npde_config *node;
  cr_assert_eq(npde_config_load_string(NETWORK, "net.yaml", &node), NPDE_OK);
  npde_backend *be = NULL;
  cr_assert_eq(npde_backend_create(reg, "cpu", NULL, &be), NPDE_OK, "%s", npde_last_error());
  npde_network *net = NULL;
  cr_assert_eq(npde_network_create(reg, node, be, 2, &net), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_network_n_params(net), p);
  npde_mat th = npde_mat_view((void *)theta, NPDE_F64, p, 1), X = npde_mat_view((void *)x, NPDE_F64, n, 2),
           U = npde_mat_view(u, NPDE_F64, n, 1);
  cr_assert_eq(npde_network_eval(net, &th, &X, &U), NPDE_OK, "%s", npde_last_error());
  npde_network_destroy(&net);
  npde_backend_destroy(&be);
  npde_config_destroy(&node);
}

static double rel_error(const double *u, const double *ref, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) num += (u[i] - ref[i]) * (u[i] - ref[i]), den += ref[i] * ref[i];
  return sqrt(num / den);
}

Test(trajectory, test_nodes_hold_the_snapshots_and_the_model_interpolates_within_the_step_errors) {
  run("a", "");
  npde_npy_array t = member("a", "trajectory.npz", "t"), th = member("a", "trajectory.npz", "theta"),
                 seg = member("a", "trajectory.npz", "segment"), st = member("a", "results.npz", "t"),
                 sth = member("a", "results.npz", "theta");
  const int64_t n = t.count, p = th.count / n;
  const double *tn = t.data, *thn = th.data;
  cr_assert_geq(n, 5, "only %lld nodes", (long long)n);
  cr_expect_eq(tn[0], 0.0);
  cr_expect_eq(tn[n - 1], 0.2);
  for (int64_t i = 0; i < n; ++i) cr_expect_eq(((int64_t *)seg.data)[i], 0);
  /* every output time is a node, with the snapshot's bits */
  for (int64_t k = 0; k < st.count; ++k) {
    int64_t at = -1;
    for (int64_t i = 0; i < n; ++i)
      if (tn[i] == ((double *)st.data)[k]) at = i;
    cr_assert_geq(at, 0, "output time %g is not a node", ((double *)st.data)[k]);
    cr_expect_eq(memcmp(thn + at * p, (double *)sth.data + k * p, (size_t)p * sizeof(double)), 0,
                 "the node at t = %g differs from the snapshot", tn[at]);
  }
  /* the model at a node is the network with the node's theta; between nodes its error against the exact solution
   * is within that of the neighbouring steps (bound: 1.1 times the larger) */
  const int64_t np = 2000;
  double *x = points(np), *u = malloc((size_t)np * sizeof *u), *v = malloc((size_t)np * sizeof *v),
         *ex = malloc((size_t)np * sizeof *ex);
  npde_model *m = load("a");
  double t0, t1;
  cr_assert(npde_model_time_range(m, &t0, &t1));
  cr_expect(t0 == 0.0 && t1 == 0.2, "range [%g, %g]", t0, t1);
  npde_config *pnode;
  cr_assert_eq(npde_config_load_string(PDE, "pde.yaml", &pnode), NPDE_OK);
  npde_pde *pde = NULL;
  cr_assert_eq(npde_pde_create(reg, NULL, pnode, &pde), NPDE_OK, "%s", npde_last_error());
  double worst = 0, prev_err = NAN;
  for (int64_t i = 0; i < n; ++i) {
    cr_assert_eq(npde_model_eval(m, tn[i], x, np, u, NULL), NPDE_OK, "%s", npde_last_error());
    network_values(thn + i * p, p, x, np, v);
    cr_expect_eq(memcmp(u, v, (size_t)np * sizeof *u), 0, "the model at node %lld (t = %g) is not the network with "
                 "its theta", (long long)i, tn[i]);
    cr_assert_eq(npde_pde_exact(pde, tn[i], x, np, ex), NPDE_OK);
    const double err = rel_error(u, ex, np);
    if (i > 0) {
      const double mid = 0.5 * (tn[i - 1] + tn[i]);
      cr_assert_eq(npde_model_eval(m, mid, x, np, v, NULL), NPDE_OK, "%s", npde_last_error());
      cr_assert_eq(npde_pde_exact(pde, mid, x, np, ex), NPDE_OK);
      const double err_mid = rel_error(v, ex, np), bound = fmax(prev_err, err);
      worst = fmax(worst, err_mid / bound);
      cr_expect_leq(err_mid, 1.1 * bound, "t = %.6g between steps: error %.4e, steps %.4e and %.4e", mid, err_mid,
                    prev_err, err);
    }
    prev_err = err;
  }
  fprintf(stderr, "trajectory: %lld nodes; the error between steps is at most %.3f times that of the larger of its "
          "neighbouring steps\n", (long long)n, worst);
  cr_expect_eq(npde_model_eval(m, 0.25, x, 1, u, NULL), NPDE_ERR_INVALID_ARG);
  cr_expect(strstr(npde_last_error(), "outside the run's [0, 0.2]"), "%s", npde_last_error());
  npde_pde_destroy(&pde);
  npde_config_destroy(&pnode);
  npde_model_free(&m);
  free(x), free(u), free(v), free(ex);
  npde_npy_array *all[] = {&t, &th, &seg, &st, &sth};
  for (size_t i = 0; i < 5; ++i) npde_npy_array_free(all[i]);
}

Test(trajectory, test_keeping_it_changes_no_number_and_a_restart_splits_it) {
  NPDE_SKIP_UNDER_SANITIZERS();
  const char *restart = ", restarts: {policy: fixed_count, count: 1, fit: {epochs: 100}}";
  char with[256], without[256], thinned[256];
  snprintf(with, sizeof with, "%s", restart);
  snprintf(without, sizeof without, "%s, trajectory_every: 0", restart);
  snprintf(thinned, sizeof thinned, "%s, trajectory_every: 3", restart);
  run("with", with);
  run("without", without);
  run("thinned", thinned);
  npde_npy_array a = member("with", "results.npz", "theta_final"), b = member("without", "results.npz", "theta_final"),
                 c = member("thinned", "results.npz", "theta_final");
  cr_expect_eq(memcmp(a.data, b.data, (size_t)a.count * 8), 0, "keeping the trajectory changed theta_final");
  cr_expect_eq(memcmp(a.data, c.data, (size_t)a.count * 8), 0, "thinning the trajectory changed theta_final");
  char path[512];
  snprintf(path, sizeof path, "%s/without/trajectory.npz", tmp);
  cr_expect_neq(access(path, F_OK), 0, "trajectory_every: 0 wrote %s", path);
  /* the restart splits the nodes into two segments that meet at its time, with different parameters */
  npde_npy_array t = member("with", "trajectory.npz", "t"), th = member("with", "trajectory.npz", "theta"),
                 seg = member("with", "trajectory.npz", "segment"), tt = member("thinned", "trajectory.npz", "t");
  const int64_t n = t.count, p = th.count / n, *sg = seg.data;
  const double *tn = t.data;
  int64_t split = -1;
  for (int64_t i = 1; i < n; ++i)
    if (sg[i] != sg[i - 1]) split = i;
  cr_assert_geq(split, 1, "no restart in the trajectory");
  cr_expect_eq(sg[split], 1);
  cr_expect_eq(tn[split], tn[split - 1], "the segments do not meet: %g, %g", tn[split - 1], tn[split]);
  cr_expect_neq(memcmp((double *)th.data + split * p, (double *)th.data + (split - 1) * p, (size_t)p * 8), 0);
  cr_expect_lt(tt.count, n, "thinning kept %lld of %lld nodes", (long long)tt.count, (long long)n);
  /* at the restart time the model gives the state before the refit (what an output there records) */
  const int64_t np = 50;
  double *x = points(np), u[50], v[50];
  npde_model *m = load("with");
  cr_assert_eq(npde_model_eval(m, tn[split], x, np, u, NULL), NPDE_OK, "%s", npde_last_error());
  network_values((double *)th.data + (split - 1) * p, p, x, np, v);
  cr_expect_eq(memcmp(u, v, sizeof u), 0, "at the restart time the model is not the state before the refit");
  npde_model_free(&m);
  free(x);
  npde_npy_array *all[] = {&a, &b, &c, &t, &th, &seg, &tt};
  for (size_t i = 0; i < 7; ++i) npde_npy_array_free(all[i]);
}

/* Without an exact solution the eval stage writes the PDE residual N_t - F at every snapshot from the theta_dot
 * the run kept there: its RMS on the grid matches the absolute residual evolve measured on its own points at the
 * start of the step from that snapshot (the same theta and theta_dot, other points). */
Test(trajectory, test_the_residual_field_matches_the_residual_evolve_measured) {
  char yaml[2048], dir[300];
  snprintf(dir, sizeof dir, "%s/burgers", tmp);
  snprintf(yaml, sizeof yaml,
           "seed: 1\noutput: %s\nplots: false\n"
           "pde: {type: equation, dim: 1, fields: [u], params: {nu: 0.05}, rhs: ['nu*u_xx - u*u_x'], "
           "boundary: dirichlet, initial: ['-sin(pi*x)']}\n"
           "network: {envelope: dirichlet, layers: [{type: sinusoidal, frequencies: 3}, {type: mlp, width: 16, "
           "depth: 2}]}\nsamples: {n: 400}\nlinsolver: {type: cg, tol: 1e-8, max_iters: 1000}\n"
           "precond: {type: nystrom, rank: 30, mu: 1e-8}\nintegrator: {type: rk23, rtol: 1e-3}\n"
           "stages:\n  - fit: {epochs: 400, lr: 1e-2, batch: 400, head_points: 4000}\n"
           "  - evolve: {t_end: 0.4, snapshots: [0.2], residual_points: 2000}\n  - eval: {grid: [201]}\n", dir);
  npde_config *cfg;
  cr_assert_eq(npde_config_load_string(yaml, "burgers.yaml", &cfg), NPDE_OK, "%s", npde_last_error());
  npde_pipeline *pl;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pipeline_run(pl), NPDE_OK, "%s", npde_last_error());
  npde_pipeline_destroy(&pl);
  npde_config_destroy(&cfg);
  npde_npy_array res = member("burgers", "results.npz", "field_residual"), ft = member("burgers", "results.npz",
                                                                                        "field_t");
  cr_assert_eq(res.ndim, 3);
  const int64_t per = res.shape[1] * res.shape[2];
  char path[512];
  snprintf(path, sizeof path, "%s/metrics.csv", dir);
  char *csv = test_slurp(path, NULL);
  cr_assert_not_null(csv);
  /* the rows' (t, residual_rms): the residual of row i is measured at the start of its step, t of row i - 1 */
  double t_start[64], rms[64];
  int n_rows = 0, col_t = 1, col_rms = -1;
  char *line = strtok(csv, "\n");
  char *save = NULL, *head = strdup(line);
  int k = 0;
  for (char *f = strtok_r(head, ",", &save); f; f = strtok_r(NULL, ",", &save), ++k)
    if (!strcmp(f, "residual_rms")) col_rms = k;
  free(head);
  cr_assert_geq(col_rms, 0, "metrics.csv has no residual_rms");
  double prev_t = 0.0;
  while ((line = strtok(NULL, "\n")) && n_rows < 64) {
    double v[32];
    int m = 0;
    for (char *p = line; m < 32; ++m) {
      v[m] = strtod(p, &p);
      if (*p != ',') break;
      ++p;
    }
    t_start[n_rows] = prev_t;
    rms[n_rows++] = v[col_rms];
    prev_t = v[col_t];
  }
  free(csv);
  for (int64_t s = 0; s < ft.count; ++s) {
    const double ts = ((double *)ft.data)[s];
    double grid = 0;
    for (int64_t i = 0; i < per; ++i) grid += ((double *)res.data)[s * per + i] * ((double *)res.data)[s * per + i];
    grid = sqrt(grid / (double)per);
    cr_expect(isfinite(grid) && grid > 0, "snapshot %lld: no residual field", (long long)s);
    for (int i = 0; i < n_rows; ++i)
      if (t_start[i] == ts) {
        fprintf(stderr, "trajectory: t = %g: residual RMS %.4e on the eval grid, %.4e on evolve's points\n", ts, grid,
                rms[i]);
        cr_expect(grid > rms[i] / 1.5 && grid < rms[i] * 1.5, "t = %g: grid residual RMS %.4e, evolve's %.4e", ts,
                  grid, rms[i]);
      }
  }
  npde_npy_array_free(&res);
  npde_npy_array_free(&ft);
}
