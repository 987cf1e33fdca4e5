/* npde_model: a run's network loaded from its directory evaluates to the
 * fields the run wrote into results.npz (to 1e-12), its gradient matches
 * finite differences, bad times and points are refused; `npde eval` writes
 * the same values into a .npy file. */
#include <criterion/criterion.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "npde/npde.h"

extern char **environ;

static char tmp[256], run[300];

/* Run the pipeline of a YAML text to its end. */
static void run_yaml(const char *yaml) {
  npde_config *cfg;
  cr_assert_eq(npde_config_load_string(yaml, "model.yaml", &cfg), NPDE_OK, "%s", npde_last_error());
  npde_registry *reg;
  cr_assert_eq(npde_registry_create(&reg), NPDE_OK);
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_OK, "%s", npde_last_error());
  npde_pipeline *pl;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pipeline_run(pl), NPDE_OK, "%s", npde_last_error());
  npde_pipeline_destroy(&pl);
  npde_config_destroy(&cfg);
  npde_registry_destroy(&reg);
}

/* One small run with snapshots and an eval grid, shared by the tests. */
static void setup(void) {
  npde_log_set_level(NPDE_LOG_WARN);
  snprintf(tmp, sizeof tmp, "/tmp/npde-model-XXXXXX");
  cr_assert_not_null(mkdtemp(tmp));
  snprintf(run, sizeof run, "%s/run", tmp);
  char yaml[2048];
  snprintf(yaml, sizeof yaml,
           "seed: 1\noutput: %s\n"
           "pde: {type: wave, dim: 2, c: 0.5, s: 0.3, scale: 1}\n"
           "network:\n  envelope: dirichlet\n"
           "  layers: [{type: sinusoidal, frequencies: 2}, {type: mlp, width: 12, depth: 2}]\n"
           "samples: {n: 300}\n"
           "linsolver: {type: cg, tol: 1e-7, max_iters: 1000}\n"
           "precond: {type: nystrom, rank: 30, mu: 1e-6}\n"
           "integrator: {type: rk23, rtol: 1e-3}\n"
           "stages:\n"
           "  - fit: {epochs: 200, lr: 1e-2, batch: 300, head_points: 3000, eval_points: 500}\n"
           "  - evolve: {t_end: 0.02, snapshots: [0.01], eval_points: 500, residual_points: 300}\n"
           "  - eval: {grid: [7, 5], points: 500}\n",
           run);
  run_yaml(yaml);
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  cr_expect_eq(system(cmd), 0);
}

TestSuite(model, .init = setup, .fini = teardown, .timeout = 240);

static npde_npy_array member(const char *name) {
  char path[400];
  snprintf(path, sizeof path, "%s/results.npz", run);
  npde_npy_array a = {0};
  cr_assert_eq(npde_npz_read(path, name, &a), NPDE_OK, "%s", npde_last_error());
  return a;
}

/* The grid points of field_u ('ij' order: x0 slowest). */
static double *grid_points(int64_t *n) {
  npde_npy_array x0 = member("grid_x0"), x1 = member("grid_x1");
  *n = x0.count * x1.count;
  double *x = malloc((size_t)*n * 2 * sizeof *x);
  for (int64_t i = 0; i < x0.count; ++i)
    for (int64_t j = 0; j < x1.count; ++j) {
      x[2 * (i * x1.count + j)] = ((double *)x0.data)[i];
      x[2 * (i * x1.count + j) + 1] = ((double *)x1.data)[j];
    }
  npde_npy_array_free(&x0);
  npde_npy_array_free(&x1);
  return x;
}

Test(model, test_model_matches_the_fields_in_results) {
  npde_model *m = NULL;
  cr_assert_eq(npde_model_load(run, NULL, &m), NPDE_OK, "%s", npde_last_error());
  cr_expect_eq(npde_model_dim(m), 2);
  cr_expect_eq(npde_model_outputs(m), 2);
  cr_assert_eq(npde_model_n_times(m), 3);
  cr_expect(npde_model_time(m, 0) == 0.0 && npde_model_time(m, 1) == 0.01 && npde_model_time(m, 2) == 0.02);
  int64_t n;
  double *x = grid_points(&n);
  npde_npy_array field = member("field_u");
  cr_assert_eq(field.count, 3 * n * 2);
  double *u = malloc((size_t)n * 2 * sizeof *u);
  for (int s = 0; s < 3; ++s) {
    cr_assert_eq(npde_model_eval(m, npde_model_time(m, s), x, n, u, NULL), NPDE_OK, "%s", npde_last_error());
    const double *ref = (const double *)field.data + (int64_t)s * n * 2;
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < n * 2; ++i) {
      worst = fmax(worst, fabs(u[i] - ref[i]));
      scale = fmax(scale, fabs(ref[i]));
    }
    cr_expect_leq(worst, 1e-12 * fmax(scale, 1.0), "snapshot %d: max difference %g (scale %g)", s, worst, scale);
  }
  /* NaN: the last time */
  double *last = malloc((size_t)n * 2 * sizeof *last);
  cr_assert_eq(npde_model_eval(m, NAN, x, n, last, NULL), NPDE_OK);
  cr_expect_eq(memcmp(last, u, (size_t)n * 2 * sizeof *u), 0);
  free(last);
  free(u);
  free(x);
  npde_npy_array_free(&field);
  npde_model_free(&m);
  cr_expect_null(m);
}

Test(model, test_gradient_matches_finite_differences) {
  npde_model *m = NULL;
  cr_assert_eq(npde_model_load(run, NULL, &m), NPDE_OK, "%s", npde_last_error());
  double x[6] = {0.1, -0.3, 0.55, 0.2, -0.7, 0.8}, u[6], g[12], up[6], um[6];
  cr_assert_eq(npde_model_eval(m, 0.01, x, 3, u, g), NPDE_OK, "%s", npde_last_error());
  const double h = 1e-6;
  for (int j = 0; j < 2; ++j) {
    double xp[6], xm[6];
    memcpy(xp, x, sizeof x);
    memcpy(xm, x, sizeof x);
    for (int i = 0; i < 3; ++i) {
      xp[2 * i + j] += h;
      xm[2 * i + j] -= h;
    }
    cr_assert_eq(npde_model_eval(m, 0.01, xp, 3, up, NULL), NPDE_OK);
    cr_assert_eq(npde_model_eval(m, 0.01, xm, 3, um, NULL), NPDE_OK);
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 2; ++k) {
        double fd = (up[2 * i + k] - um[2 * i + k]) / (2 * h), an = g[(2 * i + k) * 2 + j];
        cr_expect_leq(fabs(fd - an), 1e-6 * fmax(1.0, fabs(an)), "point %d output %d axis %d: %g vs %g", i, k, j,
                      an, fd);
      }
  }
  npde_model_free(&m);
}

Test(model, test_bad_time_points_and_directory_are_refused) {
  npde_model *m = NULL;
  cr_assert_eq(npde_model_load(run, NULL, &m), NPDE_OK, "%s", npde_last_error());
  double x[2] = {0, 0}, u[2];
  /* between the saved times through the trajectory; outside the run's time, refused */
  cr_expect_eq(npde_model_eval(m, 0.015, x, 1, u, NULL), NPDE_OK, "%s", npde_last_error());
  cr_expect_eq(npde_model_eval(m, 0.03, x, 1, u, NULL), NPDE_ERR_INVALID_ARG);
  cr_expect(strstr(npde_last_error(), "t = 0.03 is outside the run's [0, 0.02]"), "%s", npde_last_error());
  /* a run without its trajectory: the saved times only, listed */
  char traj[400], hidden[400];
  snprintf(traj, sizeof traj, "%s/trajectory.npz", run);
  snprintf(hidden, sizeof hidden, "%s/trajectory.hidden", run);
  cr_assert_eq(rename(traj, hidden), 0);
  npde_model *saved_only = NULL;
  cr_assert_eq(npde_model_load(run, NULL, &saved_only), NPDE_OK, "%s", npde_last_error());
  cr_expect_not(npde_model_time_range(saved_only, NULL, NULL));
  cr_expect_eq(npde_model_eval(saved_only, 0.015, x, 1, u, NULL), NPDE_ERR_INVALID_ARG);
  cr_expect(strstr(npde_last_error(), "0, 0.01, 0.02") && strstr(npde_last_error(), "no trajectory.npz"), "%s",
            npde_last_error());
  npde_model_free(&saved_only);
  cr_assert_eq(rename(hidden, traj), 0);
  x[1] = NAN;
  cr_expect_eq(npde_model_eval(m, 0.01, x, 1, u, NULL), NPDE_ERR_INVALID_ARG);
  /* outside the box the network was trained on: refused (it gave -74.5 and inf), unless asked for */
  double far[4] = {0.5, 0.2, 3.0, -0.1};
  cr_expect_eq(npde_model_eval(m, 0.01, far, 2, u, NULL), NPDE_ERR_INVALID_ARG);
  cr_expect(strstr(npde_last_error(), "1 of 2 points lie outside the PDE's box") &&
            strstr(npde_last_error(), "x1 = 3, outside [-1, 1]") && strstr(npde_last_error(), "--outside"),
            "%s", npde_last_error());
  x[1] = 1.0; /* the closed box: its faces are in */
  cr_expect_eq(npde_model_eval(m, 0.01, x, 1, u, NULL), NPDE_OK, "%s", npde_last_error());
  npde_model_free(&m);
  npde_model_options opt = {.struct_size = sizeof opt, .outside = true};
  cr_assert_eq(npde_model_load(run, &opt, &m), NPDE_OK, "%s", npde_last_error());
  double u2[4]; /* 2 points x 2 outputs */
  cr_expect_eq(npde_model_eval(m, 0.01, far, 2, u2, NULL), NPDE_OK, "%s", npde_last_error());
  npde_model_free(&m);
  char nowhere[300];
  snprintf(nowhere, sizeof nowhere, "%s/nowhere", tmp);
  cr_expect_neq(npde_model_load(nowhere, NULL, &m), NPDE_OK);
  cr_expect(strstr(npde_last_error(), "nowhere/config.yaml"), "%s", npde_last_error());
  cr_expect_null(m);
}

/* `npde eval` writes what the API computes. */
Test(model, test_cli_eval_writes_npy) {
  int64_t n;
  double *x = grid_points(&n);
  char pts[400], out[400], gout[400], npde[512];
  snprintf(pts, sizeof pts, "%s/pts.npy", tmp);
  snprintf(out, sizeof out, "%s/u.npy", tmp);
  snprintf(gout, sizeof gout, "%s/u_grad.npy", tmp);
  snprintf(npde, sizeof npde, "%s/bin/npde", NPDE_BINARY_DIR);
  int64_t shape[2] = {n, 2};
  cr_assert_eq(npde_npy_save(pts, NPDE_NPY_F64, x, 2, shape), NPDE_OK);
  char *argv[] = {npde, "-q", "eval", run, "--points", pts, "--time", "0.01", "--out", out, "--grad", NULL};
  pid_t pid;
  cr_assert_eq(posix_spawn(&pid, npde, NULL, NULL, argv, environ), 0);
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "npde eval failed");
  /* a run directory that is not there: a usage error (2), as for resume */
  char nowhere[400];
  snprintf(nowhere, sizeof nowhere, "%s/nowhere", tmp);
  char *missing[] = {npde, "-q", "eval", nowhere, "--points", pts, NULL};
  cr_assert_eq(posix_spawn(&pid, npde, NULL, NULL, missing, environ), 0);
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "npde eval of a missing directory: status %d", status);
  npde_npy_array u = {0}, g = {0}, field = member("field_u");
  cr_assert_eq(npde_npy_load(out, &u), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_npy_load(gout, &g), NPDE_OK, "%s", npde_last_error());
  cr_expect(u.ndim == 2 && u.shape[0] == n && u.shape[1] == 2);
  cr_expect(g.ndim == 3 && g.shape[0] == n && g.shape[1] == 2 && g.shape[2] == 2);
  const double *ref = (const double *)field.data + n * 2; /* snapshot 1: t = 0.01 */
  for (int64_t i = 0; i < n * 2; ++i)
    cr_expect_leq(fabs(((double *)u.data)[i] - ref[i]), 1e-12 * fmax(1.0, fabs(ref[i])));
  npde_npy_array_free(&u);
  npde_npy_array_free(&g);
  npde_npy_array_free(&field);
  free(x);
}

/* An NBM run: u is the output of the side the level set selects; it matches results.npz's field_u. */
Test(model, test_interface_run_selects_the_side_by_the_level_set) {
  char dir[320], yaml[1024];
  snprintf(dir, sizeof dir, "%s/nbm", tmp);
  snprintf(yaml, sizeof yaml,
           "{output: %s, plots: false, pde: {type: nbm-interface, problem: sphere}, "
           "network: {layers: [{type: mlp, width: 6, depth: 2, activation: sin}]}, "
           "stages: [{train: {n: 6, epochs: 30, error_every: 0}}, {eval: {grid: 5}}]}",
           dir);
  run_yaml(yaml);
  npde_model *m = NULL;
  cr_assert_eq(npde_model_load(dir, NULL, &m), NPDE_OK, "%s", npde_last_error());
  cr_expect_eq(npde_model_outputs(m), 1);
  char res[400];
  snprintf(res, sizeof res, "%s/results.npz", dir);
  npde_npy_array f = {0}, ax = {0};
  cr_assert_eq(npde_npz_read(res, "field_u", &f), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_npz_read(res, "grid_x0", &ax), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(f.count, 125);
  double x[125 * 3], u[125], g[125 * 3];
  const double *c = ax.data;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j)
      for (int k = 0; k < 5; ++k) {
        double *xi = x + 3 * ((i * 5 + j) * 5 + k);
        xi[0] = c[i], xi[1] = c[j], xi[2] = c[k];
      }
  cr_assert_eq(npde_model_eval(m, NAN, x, 125, u, g), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < 125; ++i)
    cr_expect(fabs(u[i] - ((const double *)f.data)[i]) < 1e-12, "point %d: %.15g, field_u %.15g", i, u[i],
              ((const double *)f.data)[i]);
  /* the gradient is the selected side's: central differences away from the interface */
  const double p[3] = {0.8, -0.3, 0.1}, e = 1e-6;
  double up, um, gp[3];
  cr_assert_eq(npde_model_eval(m, NAN, p, 1, &up, gp), NPDE_OK);
  for (int a = 0; a < 3; ++a) {
    double q[3] = {p[0], p[1], p[2]};
    q[a] += e;
    cr_assert_eq(npde_model_eval(m, NAN, q, 1, &up, NULL), NPDE_OK);
    q[a] -= 2 * e;
    cr_assert_eq(npde_model_eval(m, NAN, q, 1, &um, NULL), NPDE_OK);
    cr_expect(fabs((up - um) / (2 * e) - gp[a]) < 1e-7, "axis %d: gradient %.10g, finite difference %.10g", a, gp[a],
              (up - um) / (2 * e));
  }
  npde_npy_array_free(&f);
  npde_npy_array_free(&ax);
  npde_model_free(&m);
}
