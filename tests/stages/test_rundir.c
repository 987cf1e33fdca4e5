/* Run directories, restarts, the residual metric, divergence and resume: a
 * small advection run writes config.yaml, log.txt, metrics.csv, results.npz
 * and checkpoint.npz; a run killed with SIGKILL and resumed ends bitwise
 * where the uninterrupted run ends. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "npde/npde.h"
#include "test_files.h"

extern char **environ;

static npde_registry *reg;
static char tmp[256];

static void setup(void) { test_run_fixture_begin(&reg, tmp, sizeof tmp, "rundir"); }
static void teardown(void) { test_run_fixture_end(&reg, tmp); }
TestSuite(rundir, .init = setup, .fini = teardown, .timeout = 240);

/* A small advection run: enough accepted steps to kill it in the middle. */
#define SMALL(extra, evolve)                                                                       \
  "seed: 3\n"                                                                                      \
  "pde: {type: advection, dim: 2, s: 0.25}\n"                                                       \
  "network:\n"                                                                                     \
  "  envelope: dirichlet\n"                                                                       \
  "  layers: [{type: sinusoidal, frequencies: 2}, {type: mlp, width: 16, depth: 2}]\n"            \
  "samples: {n: 400}\n"                                                                            \
  "linsolver: {type: cg, tol: 1e-7, max_iters: 1000}\n"                                            \
  "precond: {type: nystrom, rank: 40, mu: 1e-6}\n"                                                 \
  "integrator: {type: rk23, rtol: 1e-6}\n" extra                                                   \
  "stages:\n"                                                                                      \
  "  - fit: {epochs: 300, lr: 1e-2, batch: 400, head_points: 4000, eval_points: 1000}\n"          \
  "  - evolve: {t_end: 0.03, snapshots: [0.01, 0.02], eval_points: 1000, residual_points: 800" evolve "}\n"

static npde_status run_yaml(const char *yaml, npde_pipeline **out) {
  npde_config *cfg;
  cr_assert_eq(npde_config_load_string(yaml, "rundir.yaml", &cfg), NPDE_OK, "%s", npde_last_error());
  npde_pipeline *pl;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  npde_config_destroy(&cfg);
  npde_status st = npde_pipeline_run(pl);
  if (out) *out = pl;
  else npde_pipeline_destroy(&pl);
  return st;
}

static int count_lines(const char *text) {
  int n = 0;
  for (const char *c = text; *c; ++c) n += *c == '\n';
  return n;
}

static npde_npy_array read_npz(const char *dir, const char *file, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  npde_npy_array a = {0};
  cr_assert_eq(npde_npz_read(path, name, &a), NPDE_OK, "%s: %s", path, npde_last_error());
  return a;
}

static double metric(npde_pipeline *pl, const char *name) {
  double v = NAN;
  cr_assert_eq(npde_pipeline_metric(pl, name, &v), NPDE_OK, "%s", npde_last_error());
  return v;
}

Test(rundir, test_run_writes_config_log_metrics_results_and_checkpoint) {
  npde_log_set_level(NPDE_LOG_INFO); /* what log.txt receives */
  char yaml[4096], dir[300];
  snprintf(dir, sizeof dir, "%s/a", tmp);
  snprintf(yaml, sizeof yaml, SMALL("output: %s\n", ""), dir);
  npde_pipeline *pl = NULL;
  cr_assert_eq(run_yaml(yaml, &pl), NPDE_OK, "%s", npde_last_error());
  double accepted = metric(pl, "evolve.accepted"), r = metric(pl, "evolve.residual");
  npde_pipeline_destroy(&pl);
  char path[512];
  const char *files[] = {"config.yaml", "log.txt", "metrics.csv", "results.npz", "checkpoint.npz"};
  for (int i = 0; i < 5; ++i) {
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    cr_expect_eq(stat(path, &sb), 0, "%s is missing", path);
  }
  /* no temporary file is left behind */
  snprintf(path, sizeof path, "ls -a '%s' | grep -q tmp", dir);
  cr_expect_neq(system(path), 0, "a temporary file is left in %s", dir);
  /* config.yaml is the resolved configuration and loads back */
  snprintf(path, sizeof path, "%s/config.yaml", dir);
  npde_config *cfg = NULL;
  cr_expect_eq(npde_config_load_file(path, &cfg), NPDE_OK, "%s", npde_last_error());
  cr_expect_not_null(npde_config_find(cfg, "precond.rank"));
  cr_expect_not_null(npde_config_find(cfg, "integrator.rtol"));
  npde_config_destroy(&cfg);
  /* metrics.csv: a header and one row per accepted step, residuals finite */
  snprintf(path, sizeof path, "%s/metrics.csv", dir);
  char *csv = test_slurp(path, NULL);
  cr_assert_not_null(csv);
  cr_expect(strncmp(csv, "step,t,h,cg_iterations,cg_max,residual_true,residual_code,lambda_max,mu_a", 70) == 0,
            "header: %.80s", csv);
  cr_expect_eq(count_lines(csv), (int)accepted + 1, "%d lines for %g steps", count_lines(csv), accepted);
  const char *row2 = strchr(strchr(csv, '\n') + 1, '\n') + 1;
  long step;
  double t, h, rt, rc;
  long cg, cgmax;
  cr_assert_eq(sscanf(row2, "%ld,%lf,%lf,%ld,%ld,%lf,%lf", &step, &t, &h, &cg, &cgmax, &rt, &rc), 7, "%s", row2);
  cr_expect_eq(step, 2);
  cr_expect(cg > 0 && cgmax <= cg && h > 0 && t > h);
  cr_expect(isfinite(rt) && rt > 0 && rt < 1, "R_true %g", rt);
  cr_expect_lt(fabs(rc - rt / sqrt(800.0)), 1e-9 * rt, "R_code = R_true / sqrt(N_eval): %g vs %g", rc, rt);
  cr_expect(isfinite(r) && r > 0);
  free(csv);
  /* log.txt holds the log lines */
  snprintf(path, sizeof path, "%s/log.txt", dir);
  char *log = test_slurp(path, NULL);
  cr_assert_not_null(log);
  cr_expect(strstr(log, "evolve: done"), "log.txt: %.400s", log);
  free(log);
  /* results.npz: t = [0, 0.01, 0.02, 0.03], theta per time, errors, the final theta */
  npde_npy_array tt = read_npz(dir, "results.npz", "t"), th = read_npz(dir, "results.npz", "theta"),
                 err = read_npz(dir, "results.npz", "rel_error"), fin = read_npz(dir, "results.npz", "theta_final");
  cr_assert_eq(tt.count, 4);
  const double *tv = tt.data;
  cr_expect(tv[0] == 0 && tv[1] == 0.01 && tv[2] == 0.02 && tv[3] == 0.03);
  cr_expect(th.ndim == 2 && th.shape[0] == 4 && th.shape[1] == fin.count);
  cr_expect_eq(memcmp((double *)th.data + 3 * fin.count, fin.data, (size_t)fin.count * sizeof(double)), 0,
               "the last snapshot is the final theta");
  for (int i = 0; i < 4; ++i) cr_expect(((double *)err.data)[i] > 0 && ((double *)err.data)[i] < 0.5);
  npde_npy_array_free(&tt);
  npde_npy_array_free(&th);
  npde_npy_array_free(&err);
  npde_npy_array_free(&fin);
  /* a second run into the same directory is refused: nothing is overwritten */
  cr_expect_eq(run_yaml(yaml, NULL), NPDE_ERR_CONFIG);
  cr_expect(strstr(npde_last_error(), "already holds a run"), "%s", npde_last_error());
}

/* Restarts: fixed_count runs `count` refits at equally spaced times; the work
 * policy is reproducible bit for bit. */
Test(rundir, test_restart_policies) {
  npde_pipeline *pl = NULL;
  cr_assert_eq(run_yaml(SMALL("", ", restarts: {policy: fixed_count, count: 2}"), &pl), NPDE_OK, "%s",
               npde_last_error());
  cr_expect_eq(metric(pl, "evolve.restarts"), 2.0);
  double refit = metric(pl, "refit.rel_error"), err = metric(pl, "evolve.rel_error");
  cr_expect_lt(refit, 0.2, "a refit reproduces the network: %g", refit);
  cr_expect_lt(err, 0.5, "error after restarts %g", err);
  npde_pipeline_destroy(&pl);
  double e[2], r[2];
  for (int i = 0; i < 2; ++i) {
    cr_assert_eq(run_yaml(SMALL("", ", restarts: {policy: work, time_fraction: 0.5, fit: {epochs: 100}}"), &pl),
                 NPDE_OK, "%s", npde_last_error());
    e[i] = metric(pl, "evolve.rel_error");
    r[i] = metric(pl, "evolve.restarts");
    npde_pipeline_destroy(&pl);
  }
  cr_expect_gt(r[0], 0.0, "the work rule restarted");
  cr_expect(e[0] == e[1] && r[0] == r[1], "work restarts are reproducible: %.17g vs %.17g", e[0], e[1]);
}

/* A residual beyond max_residual stops the run with a message, keeping the
 * last good state in the checkpoint; resume with the limit lifted finishes. */
Test(rundir, test_divergence_stops_and_keeps_the_last_good_state) {
  char yaml[4096], dir[300];
  snprintf(dir, sizeof dir, "%s/div", tmp);
  snprintf(yaml, sizeof yaml, SMALL("output: %s\ncheckpoint_every: 1e9\n", ", max_residual: 1e-12"), dir);
  cr_assert_eq(run_yaml(yaml, NULL), NPDE_ERR_NUMERIC);
  cr_expect(strstr(npde_last_error(), "max_residual"), "%s", npde_last_error());
  npde_npy_array ints = read_npz(dir, "checkpoint.npz", "evolve.ints");
  cr_expect_eq(((int64_t *)ints.data)[2], 1, "the checkpoint holds the state after the first accepted step");
  npde_npy_array_free(&ints);
  char path[512];
  snprintf(path, sizeof path, "%s/config.yaml", dir);
  npde_config *cfg = NULL;
  cr_assert_eq(npde_config_load_file(path, &cfg), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_config_apply_override(cfg, "stages.1.evolve.max_residual=0"), NPDE_OK, "%s", npde_last_error());
  npde_pipeline *pl = NULL;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  npde_config_destroy(&cfg);
  cr_expect_eq(npde_pipeline_resume(pl, dir), NPDE_OK, "%s", npde_last_error());
  cr_expect_eq(metric(pl, "evolve.t"), 0.03);
  npde_pipeline_destroy(&pl);
}

/* The members of an .npz, as "name,name,..." (sorted by the archive's order). */
static npde_status add_member(const char *member, void *user) {
  char *list = user;
  strncat(list, member, 4095 - strlen(list));
  strncat(list, ",", 4095 - strlen(list));
  return NPDE_OK;
}

static void members_of(const char *dir, const char *file, char list[4096]) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  list[0] = 0;
  cr_assert_eq(npde_npz_members(path, add_member, list), NPDE_OK, "%s", npde_last_error());
}

/* Nothing lost: resuming a finished run keeps every array results.npz had (fit_loss, the fields, ...), and a
 * checkpoint whose data fails its zip CRC is refused by name rather than resumed from. */
Test(rundir, test_resume_keeps_every_array_and_refuses_a_damaged_checkpoint) {
  char yaml[4096], dir[300], before[4096], after[4096];
  snprintf(dir, sizeof dir, "%s/keep", tmp);
  snprintf(yaml, sizeof yaml, SMALL("output: %s\n", "") "  - eval: {grid: [9, 9], points: 500}\n", dir);
  cr_assert_eq(run_yaml(yaml, NULL), NPDE_OK, "%s", npde_last_error());
  members_of(dir, "results.npz", before);
  cr_assert(strstr(before, "fit_loss.npy") && strstr(before, "field_u.npy"), "%s", before);
  npde_config *cfg = NULL;
  char path[512];
  snprintf(path, sizeof path, "%s/config.yaml", dir);
  cr_assert_eq(npde_config_load_file(path, &cfg), NPDE_OK, "%s", npde_last_error());
  npde_pipeline *pl = NULL;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pipeline_resume(pl, dir), NPDE_OK, "%s", npde_last_error());
  npde_pipeline_destroy(&pl);
  members_of(dir, "results.npz", after);
  cr_expect_str_eq(after, before, "resuming the finished run changed results.npz's arrays");
  /* one flipped byte inside theta's data */
  snprintf(path, sizeof path, "%s/checkpoint.npz", dir);
  size_t size = 0;
  char *bytes = test_slurp(path, &size);
  cr_assert_not_null(bytes);
  const char *name = memmem(bytes, size, "theta.npy", 9);
  cr_assert_not_null(name);
  const char *magic = memmem(name, size - (size_t)(name - bytes), "\x93NUMPY", 6);
  cr_assert_not_null(magic);
  const size_t at = (size_t)(magic - bytes) + 128 + 8 * 20; /* past the 128-byte .npy header, the 21st value */
  cr_assert_lt(at, size);
  bytes[at] ^= 0x10;
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(bytes, 1, size, f), size);
  fclose(f);
  free(bytes);
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  npde_config_destroy(&cfg);
  cr_expect_eq(npde_pipeline_resume(pl, dir), NPDE_ERR_IO);
  cr_expect(strstr(npde_last_error(), "checkpoint.npz") && strstr(npde_last_error(), "damaged"), "%s",
            npde_last_error());
  npde_pipeline_destroy(&pl);
}

/* eval: fields on a grid at every snapshot into results.npz and .vti files,
 * the relative error against the exact solution at every snapshot. */
Test(rundir, test_eval_writes_fields_and_errors) {
  char yaml[4096], dir[300];
  snprintf(dir, sizeof dir, "%s/ev", tmp);
  snprintf(yaml, sizeof yaml, SMALL("output: %s\n", "") "  - eval: {grid: [17, 9], points: 1000}\n", dir);
  npde_pipeline *pl = NULL;
  cr_assert_eq(run_yaml(yaml, &pl), NPDE_OK, "%s", npde_last_error());
  double e_eval = metric(pl, "eval.rel_error"), e_evolve = metric(pl, "evolve.rel_error");
  cr_expect_eq(e_eval, e_evolve, "the same points, the same final theta: %g vs %g", e_eval, e_evolve);
  npde_pipeline_destroy(&pl);
  npde_npy_array u = read_npz(dir, "results.npz", "field_u"), ex = read_npz(dir, "results.npz", "field_exact"),
                 x0 = read_npz(dir, "results.npz", "grid_x0"), x1 = read_npz(dir, "results.npz", "grid_x1"),
                 er = read_npz(dir, "results.npz", "eval_rel_error");
  cr_assert(u.ndim == 4 && u.shape[0] == 4 && u.shape[1] == 17 && u.shape[2] == 9 && u.shape[3] == 1,
            "field_u shape (%lld, %lld, %lld, %lld)", (long long)u.shape[0], (long long)u.shape[1],
            (long long)u.shape[2], (long long)u.shape[3]);
  cr_expect_eq(x0.count, 17);
  cr_expect(((double *)x0.data)[0] == -1.0 && ((double *)x0.data)[16] == 1.0 && ((double *)x1.data)[4] == 0.0);
  /* u = 0 on the boundary (the envelope); the exact solution is the translated Gaussian */
  const double *uv = u.data, *ev = ex.data;
  cr_expect_eq(uv[0], 0.0);
  double num = 0, den = 0;
  for (int64_t i = 17 * 9; i < 2 * 17 * 9; ++i) { /* snapshot 1 (t = 0.01) */
    num += (uv[i] - ev[i]) * (uv[i] - ev[i]);
    den += ev[i] * ev[i];
  }
  cr_expect_lt(sqrt(num / den), 0.2, "grid error at t = 0.01: %g", sqrt(num / den));
  cr_expect_eq(er.count, 4);
  npde_npy_array_free(&u);
  npde_npy_array_free(&ex);
  npde_npy_array_free(&x0);
  npde_npy_array_free(&x1);
  npde_npy_array_free(&er);
  char path[512];
  snprintf(path, sizeof path, "%s/fields/u_0003.vti", dir);
  char *vti = test_slurp(path, NULL);
  cr_assert_not_null(vti, "%s is missing", path);
  cr_expect(strstr(vti, "WholeExtent=\"0 16 0 8 0 0\""), "%.300s", vti);
  cr_expect(strstr(vti, "Name=\"u\"") && strstr(vti, "Name=\"exact\"") && strstr(vti, "Name=\"error\""));
  free(vti);
  snprintf(path, sizeof path, "%s/fields.pvd", dir);
  char *pvd = test_slurp(path, NULL);
  cr_assert_not_null(pvd);
  cr_expect(strstr(pvd, "fields/u_0000.vti") && strstr(pvd, "fields/u_0003.vti"), "%s", pvd);
  cr_expect(strstr(pvd, "<VTKFile type=\"Collection\"") && strstr(pvd, "</VTKFile>"), "%s", pvd);
  /* every DataSet names a file that exists, at increasing times */
  double last_t = -1;
  int n_sets = 0;
  for (const char *p = strstr(pvd, "<DataSet"); p; p = strstr(p + 1, "<DataSet")) {
    const char *ts = strstr(p, "timestep=\""), *fs = strstr(p, "file=\"");
    cr_assert(ts && fs, "%s", p);
    double tv = strtod(ts + 10, NULL);
    cr_expect_gt(tv, last_t, "timesteps increase: %g after %g", tv, last_t);
    last_t = tv;
    char file[256], full[600];
    sscanf(fs + 6, "%255[^\"]", file);
    snprintf(full, sizeof full, "%s/%s", dir, file);
    struct stat sb;
    cr_expect_eq(stat(full, &sb), 0, "%s does not exist", full);
    n_sets++;
  }
  cr_expect_eq(n_sets, 4);
  cr_expect_eq(last_t, 0.03);
  free(pvd);
}

/* ------------------------------------------------ kill and resume via the CLI */

static pid_t spawn_npde(char *const argv[]) {
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 0x1 /* O_WRONLY */, 0);
  cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0, "cannot run %s", argv[0]);
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

static int wait_exit(pid_t pid) {
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Rows of metrics.csv, without the wall_s column. */
static char *rows_without_wall_time(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/metrics.csv", dir);
  char *csv = test_slurp(path, NULL);
  cr_assert_not_null(csv);
  char *out = calloc(strlen(csv) + 1, 1), *o = out;
  for (char *line = csv; *line;) {
    char *end = strchr(line, '\n');
    if (!end) break;
    char *comma = end;
    while (comma > line && *comma != ',') --comma;
    memcpy(o, line, (size_t)(comma - line));
    o += comma - line;
    *o++ = '\n';
    line = end + 1;
  }
  free(csv);
  return out;
}

/* Send sig to the run once its metrics.csv has `lines` lines (header included), reap it and check its exit status:
 * 128 + sig for SIGINT and SIGTERM (the run checkpoints and stops), none for SIGKILL. */
static void kill_after_rows(pid_t pid, const char *csv, int lines, int sig) {
  for (int i = 0; i < 12000; ++i) {
    char *text = test_slurp(csv, NULL);
    const int have = text ? count_lines(text) : 0;
    free(text);
    if (have >= lines) {
      kill(pid, sig);
      const int code = wait_exit(pid);
      if (sig != SIGKILL) cr_assert_eq(code, 128 + sig, "stopped by signal %d: exit status %d", sig, code);
      return;
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) cr_assert_fail("the run ended before it could be killed");
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  cr_assert_fail("the run never wrote %d lines of metrics.csv", lines);
}

/* Run the config in tmp/NAME-a to its end; run it again in tmp/NAME-b, SIGKILL it once its metrics.csv has
 * kill_lines lines and resume it (with `override`, a key=value that must not change the numbers, or none). Both
 * must end with the same bits of results.npz's `member` and the same metrics.csv rows (wall time aside), and b's
 * log must hold `resume_note` (NULL: no check). An override is recorded in config.yaml, the earlier settings kept
 * in config.1.yaml; a plain resume leaves config.yaml as it was. */
static void expect_killed_run_resumes(const char *cfgpath, const char *name, const char *extra[2], int kill_lines,
                                      const char *member, const char *resume_note, const char *override, int sig) {
  char a[300], b[300], oa[320], ob[320], npde[512], csv[512], log[512];
  snprintf(npde, sizeof npde, "%s/bin/npde", NPDE_BINARY_DIR);
  snprintf(a, sizeof a, "%s/%s-a", tmp, name);
  snprintf(b, sizeof b, "%s/%s-b", tmp, name);
  snprintf(oa, sizeof oa, "output=%s", a);
  snprintf(ob, sizeof ob, "output=%s", b);
  char *run_a[] = {npde, "run", (char *)cfgpath, oa, (char *)extra[0], (char *)extra[1], NULL};
  cr_assert_eq(wait_exit(spawn_npde(run_a)), 0, "the uninterrupted run failed");
  char *run_b[] = {npde, "run", (char *)cfgpath, ob, (char *)extra[0], (char *)extra[1], NULL};
  pid_t pid = spawn_npde(run_b);
  snprintf(csv, sizeof csv, "%s/metrics.csv", b);
  kill_after_rows(pid, csv, kill_lines, sig);
  char *resume[] = {npde, "resume", b, (char *)override, NULL};
  cr_assert_eq(wait_exit(spawn_npde(resume)), 0, "resume failed");
  char kept[512], cfg_b[512];
  snprintf(kept, sizeof kept, "%s/config.1.yaml", b);
  snprintf(cfg_b, sizeof cfg_b, "%s/config.yaml", b);
  char *earlier = test_slurp(kept, NULL), *now = test_slurp(cfg_b, NULL);
  cr_assert_not_null(now);
  if (override) {
    cr_assert_not_null(earlier, "resume %s: the earlier settings are not kept in config.1.yaml", override);
    cr_expect_str_neq(earlier, now, "config.yaml does not record the override %s", override);
  } else
    cr_expect_null(earlier, "a plain resume changed the settings:\n%s", earlier);
  free(earlier);
  free(now);
  if (resume_note) {
    snprintf(log, sizeof log, "%s/log.txt", b);
    char *text = test_slurp(log, NULL);
    cr_assert_not_null(text);
    cr_expect(strstr(text, resume_note) != NULL, "the resume did not continue mid-stage ('%s'):\n%s", resume_note,
              text);
    free(text);
  }
  npde_npy_array ta = read_npz(a, "results.npz", member), tb = read_npz(b, "results.npz", member);
  cr_assert_eq(ta.count, tb.count);
  cr_expect_eq(memcmp(ta.data, tb.data, (size_t)ta.count * sizeof(double)), 0,
               "%s: the resumed run's %s differs from the uninterrupted run's", name, member);
  npde_npy_array_free(&ta);
  npde_npy_array_free(&tb);
  /* theta at any t: the kept nodes, restarts' segments included, are the uninterrupted run's */
  char traj[512];
  snprintf(traj, sizeof traj, "%s/trajectory.npz", a);
  static const char *const traj_members[] = {"t", "segment", "theta", "theta_dot"};
  for (int i = 0; i < 4 && access(traj, R_OK) == 0; ++i) {
    npde_npy_array xa = read_npz(a, "trajectory.npz", traj_members[i]), xb = read_npz(b, "trajectory.npz",
                                                                                       traj_members[i]);
    cr_expect_eq(xa.count, xb.count, "%s: trajectory %s has %lld entries, resumed %lld", name, traj_members[i],
                 (long long)xa.count, (long long)xb.count);
    cr_expect(xa.count == xb.count && memcmp(xa.data, xb.data, (size_t)xa.count * 8) == 0,
              "%s: the resumed run's trajectory %s differs from the uninterrupted run's", name, traj_members[i]);
    npde_npy_array_free(&xa);
    npde_npy_array_free(&xb);
  }
  char *ra = rows_without_wall_time(a), *rb = rows_without_wall_time(b);
  cr_expect_str_eq(ra, rb, "%s: metrics.csv differs after the resume", name);
  free(ra);
  free(rb);
  /* resuming a finished run does nothing */
  cr_expect_eq(wait_exit(spawn_npde(resume)), 0);
}

Test(rundir, test_killed_run_resumes_to_the_same_bits) {
  char cfgpath[300];
  snprintf(cfgpath, sizeof cfgpath, "%s/small.yaml", tmp);
  test_write_file(cfgpath, SMALL("checkpoint_every: 0\n", ", restarts: {policy: fixed_count, count: 1}"));
  /* more steps (rtol 1e-8: some 33), so that the kill lands a few steps into evolve */
  const char *extra[2] = {"samples.n=400", "integrator.rtol=1e-8"};
  expect_killed_run_resumes(cfgpath, "evolve", extra, 6, "theta", "resume: the settings differ",
                            "stages.1.evolve.log_every=2", SIGKILL);
}

/* Ctrl-C: the run abandons its step attempt, checkpoints the last accepted step and exits 130; the resume ends
 * with the same bits. */
Test(rundir, test_interrupted_run_checkpoints_and_resumes_to_the_same_bits) {
  char cfgpath[300];
  snprintf(cfgpath, sizeof cfgpath, "%s/small.yaml", tmp);
  test_write_file(cfgpath, SMALL("checkpoint_every: 1e9\n", ""));
  const char *extra[2] = {"samples.n=400", "integrator.rtol=1e-8"};
  expect_killed_run_resumes(cfgpath, "interrupted", extra, 5, "theta", "resume: continuing", NULL, SIGINT);
}

/* One run per directory: while a run writes there, a second run (or resume) is refused, naming the holder. */
Test(rundir, test_a_second_run_in_the_same_directory_is_refused) {
  char cfgpath[300], dir[300], out[320], npde[512], lock[320];
  snprintf(cfgpath, sizeof cfgpath, "%s/slow.yaml", tmp);
  test_write_file(cfgpath, SMALL("checkpoint_every: 0\n", ""));
  snprintf(dir, sizeof dir, "%s/busy", tmp);
  snprintf(out, sizeof out, "output=%s", dir);
  snprintf(npde, sizeof npde, "%s/bin/npde", NPDE_BINARY_DIR);
  snprintf(lock, sizeof lock, "%s/.lock", dir);
  char *run[] = {npde, "run", cfgpath, out, "samples.n=400", "integrator.rtol=1e-8", NULL};
  const pid_t pid = spawn_npde(run);
  char want[32];
  snprintf(want, sizeof want, "%ld\n", (long)pid);
  char cfg_written[320];
  snprintf(cfg_written, sizeof cfg_written, "%s/config.yaml", dir);
  bool held = false; /* the child writes its pid once it holds the lock, then config.yaml */
  for (int i = 0; i < 12000 && !held; ++i) {
    char *text = test_slurp(lock, NULL);
    struct stat sb;
    held = text && strcmp(text, want) == 0 && stat(cfg_written, &sb) == 0;
    free(text);
    int status;
    if (!held && waitpid(pid, &status, WNOHANG) == pid) cr_assert_fail("the first run ended before it took the lock");
    struct timespec ts = {0, 5 * 1000 * 1000};
    if (!held) nanosleep(&ts, NULL);
  }
  cr_assert(held, "the first run never took the lock");
  char yaml[4096];
  snprintf(yaml, sizeof yaml, SMALL("output: %s\n", ""), dir);
  cr_expect_eq(run_yaml(yaml, NULL), NPDE_ERR_IO);
  char holder[64];
  snprintf(holder, sizeof holder, "in use by process %ld", (long)pid);
  cr_expect(strstr(npde_last_error(), holder), "%s", npde_last_error());
  kill(pid, SIGKILL);
  wait_exit(pid);
  /* the lock dies with its process: the directory can be resumed or refused on its own merits now */
  cr_expect_eq(run_yaml(yaml, NULL), NPDE_ERR_CONFIG, "%s", npde_last_error());
  cr_expect(strstr(npde_last_error(), "already holds a run"), "%s", npde_last_error());
}

/* The same for an NBM train run: killed between epochs, resumed, bitwise equal. */
Test(rundir, test_killed_train_run_resumes_to_the_same_bits) {
  char cfgpath[300];
  snprintf(cfgpath, sizeof cfgpath, "%s/nbm.yaml", tmp);
  test_write_file(cfgpath, "backend: cpu\nseed: 3\ncheckpoint_every: 0\nplots: false\n"
                        "pde: {type: nbm-interface, problem: sphere}\n"
                        "network: {layers: [{type: mlp, width: 16, depth: 3, activation: sin}]}\n"
                        "stages:\n  - train: {n: 14, epochs: 400, batch: 700, error_every: 50}\n");
  const char *extra[2] = {NULL, NULL};
  expect_killed_run_resumes(cfgpath, "train", extra, 40, "theta_final", "train: resuming after epoch", NULL, SIGTERM);
}
