/* Data-parallel runs under mpirun (npde_comm.h): a run on 2 ranks gives the
 * parameters of the same run on 1 rank (the samples split, the sums joined
 * by MPI_Allreduce), for evolve (CG and the dense solver) and for train, with sample counts that split
 * evenly and ones that do not; a rank killed mid-run stops the run with a
 * message, and a resume from the checkpoint ends with the bits of an
 * uninterrupted run. Needs mpirun (Open MPI); ctest skips this test visibly
 * when the build has no MPI. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "npde/npde.h"
#include "test_files.h"

extern char **environ;

static char tmp[256];
static char npde_bin[512];

static void setup(void) {
  snprintf(tmp, sizeof tmp, "/tmp/npde-mpi-XXXXXX");
  cr_assert_not_null(mkdtemp(tmp));
  snprintf(npde_bin, sizeof npde_bin, "%s/bin/npde", NPDE_BINARY_DIR);
}

static void teardown(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  cr_expect_eq(system(cmd), 0);
}

TestSuite(mpi, .init = setup, .fini = teardown, .timeout = 300);

/* mpirun -np K npde run CONFIG output=TMP/NAME [extra], its output in TMP/NAME.log; the exit status. */
static int run_ranks(int k, const char *config, const char *name, const char *extra) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "mpirun -np %d --oversubscribe '%s' run '%s' output='%s/%s' %s > '%s/%s.log' 2>&1", k,
           npde_bin, config, tmp, name, extra ? extra : "", tmp, name);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static npde_npy_array read_member(const char *name, const char *member) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s/results.npz", tmp, name);
  npde_npy_array a = {0};
  cr_assert_eq(npde_npz_read(path, member, &a), NPDE_OK, "%s: %s", path, npde_last_error());
  cr_assert_eq(a.type, NPDE_NPY_F64);
  return a;
}

/* max |a - b| / max |a| over the member of two runs' results.npz */
static double relative_difference(const char *a, const char *b, const char *member) {
  npde_npy_array x = read_member(a, member), y = read_member(b, member);
  cr_assert_eq(x.count, y.count);
  const double *u = x.data, *v = y.data;
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < x.count; ++i) {
    num = fmax(num, fabs(u[i] - v[i]));
    den = fmax(den, fabs(u[i]));
  }
  npde_npy_array_free(&x);
  npde_npy_array_free(&y);
  return den > 0 ? num / den : num;
}

static void expect_same_on_1_and_2_ranks(const char *config, const char *name, const char *extra,
                                         const char *member) {
  char one[128], two[128], log[512];
  snprintf(one, sizeof one, "%s-1", name);
  snprintf(two, sizeof two, "%s-2", name);
  cr_assert_eq(run_ranks(1, config, one, extra), 0, "%s on 1 rank failed (see %s/%s.log)", name, tmp, one);
  int code = run_ranks(2, config, two, extra);
  snprintf(log, sizeof log, "%s/%s.log", tmp, two);
  char *text = test_slurp(log, NULL);
  cr_assert_eq(code, 0, "%s on 2 ranks failed:\n%s", name, text ? text : "");
  cr_expect(text && strstr(text, "data-parallel: 2 ranks"), "the run did not use 2 ranks:\n%s", text ? text : "");
  free(text);
  const double diff = relative_difference(one, two, member);
  cr_log_info("%s: largest relative difference of %s between 1 and 2 ranks: %.3e", name, member, diff);
  fprintf(stderr, "mpi: %s: largest relative difference of %s between 1 and 2 ranks: %.3e\n", name, member, diff);
  cr_expect_lt(diff, 1e-10, "%s: %s on 2 ranks differs from 1 rank by %.3e (relative)", name, member, diff);
}

static void evolve_config(const char *path, int dim) {
  char text[2048];
  snprintf(text, sizeof text,
           "backend: cpu\nseed: 7\nplots: false\n"
           "pde: {type: heat, dim: %d, s: 0.25, scale: 1}\n"
           "network:\n  envelope: dirichlet\n  layers:\n    - {type: sinusoidal, frequencies: 2}\n"
           "    - {type: mlp, width: 12, depth: 2, activation: swish}\n"
           "linsolver: {type: cg, tol: 1e-13, max_iters: 2000}\n"
           "precond: {type: nystrom, rank: 20, mu: 1e-3}\n"
           "integrator: {type: rk23, rtol: 1e-3}\n"
           "stages:\n"
           "  - fit: {epochs: 100, lr: 1e-2, batch: 300, head_points: 4000, head_lambda: 0}\n"
           "  - evolve: {t_end: 0.1, residual_points: 999, eval_points: 1000}\n",
           dim);
  test_write_file(path, text);
}

Test(mpi, test_evolve_on_2_ranks_matches_1_rank) {
  char cfg[300];
  snprintf(cfg, sizeof cfg, "%s/evolve2.yaml", tmp);
  evolve_config(cfg, 2);
  expect_same_on_1_and_2_ranks(cfg, "evolve-even", "samples.n=1000", "theta_final");
  /* the dense solver: each rank forms its samples' M (npde_linop.form), MPI_Allreduce adds the matrices */
  expect_same_on_1_and_2_ranks(cfg, "evolve-dense", "samples.n=1000 'linsolver={type: dense}' precond=null",
                               "theta_final");
  /* an odd n in 3 dimensions: the slices start on a Philox block, not at n / 2 */
  snprintf(cfg, sizeof cfg, "%s/evolve3.yaml", tmp);
  evolve_config(cfg, 3);
  expect_same_on_1_and_2_ranks(cfg, "evolve-odd", "samples.n=1001 stages.0.fit.batch=301", "theta_final");
  /* a restart mid-run: the refit (Adam and head tuning) runs data-parallel inside evolve */
  expect_same_on_1_and_2_ranks(cfg, "evolve-restart",
                               "samples.n=1001 stages.0.fit.batch=301 'stages.1.evolve.restarts={policy: fixed_count, "
                               "count: 1, fit: {epochs: 50, head_points: 3001}}'",
                               "theta_final");
}

/* The walltime restart rule reads the clock, which differs between ranks: rank 0 decides for all, so the
 * ranks restart together and the run ends (it would hang in a reduction otherwise). The rule compares wall
 * times, so the initial fit is made much shorter than the evolution (2 epochs against many small steps):
 * a restart is then due after the first attempt on any machine load, not only when the steps happen to
 * outlast the fit. */
Test(mpi, test_walltime_restarts_agree_across_ranks) {
  char cfg[300], log[320];
  snprintf(cfg, sizeof cfg, "%s/evolve2.yaml", tmp);
  evolve_config(cfg, 2);
  const int code = run_ranks(2, cfg, "walltime", "samples.n=1000 stages.0.fit.epochs=2 integrator.rtol=1e-5 "
                                                 "'stages.1.evolve.restarts={policy: walltime, "
                                                 "time_fraction: 0.9, fit: {epochs: 20, head_points: 2000}}'");
  snprintf(log, sizeof log, "%s/walltime.log", tmp);
  char *text = test_slurp(log, NULL);
  cr_assert_not_null(text);
  cr_expect_eq(code, 0, "the run failed:\n%s", text);
  cr_expect(strstr(text, "evolve: restart 1 at t") != NULL, "no restart happened:\n%s", text);
  free(text);
}

/* Device memory under MPI: the reductions copy to the host and back (comm.c). The "guarded" fixture backend
 * (tests/device_memory) crashes on any host access outside its ops; 2 ranks on it match 1 rank on the CPU. */
Test(mpi, test_device_memory_backend_on_2_ranks_matches_the_cpu) {
  char cfg[300], guarded[600];
  snprintf(cfg, sizeof cfg, "%s/evolve2.yaml", tmp);
  evolve_config(cfg, 2);
  snprintf(guarded, sizeof guarded, "samples.n=1001 backend=guarded plugin_path='%s/guarded'", NPDE_TEST_FIXTURE_DIR);
  cr_assert_eq(run_ranks(1, cfg, "cpu-1", "samples.n=1001"), 0, "the CPU run failed (see %s/cpu-1.log)", tmp);
  int code = run_ranks(2, cfg, "guarded-2", guarded);
  char log[400];
  snprintf(log, sizeof log, "%s/guarded-2.log", tmp);
  char *text = test_slurp(log, NULL);
  cr_assert_eq(code, 0, "2 ranks on the guarded backend failed:\n%s", text ? text : "");
  cr_expect(text && strstr(text, "backend: guarded"), "the run did not use the guarded backend:\n%s", text ? text : "");
  free(text);
  const double diff = relative_difference("cpu-1", "guarded-2", "theta_final");
  fprintf(stderr, "mpi: guarded backend on 2 ranks vs cpu on 1: largest relative difference %.3e\n", diff);
  cr_expect_lt(diff, 1e-10, "theta_final on 2 guarded ranks differs from 1 CPU rank by %.3e (relative)", diff);
}

static void train_config(const char *path) {
  test_write_file(path, "backend: cpu\nseed: 3\nplots: false\n"
                   "pde: {type: nbm-interface, problem: sphere}\n"
                   "network: {layers: [{type: mlp, width: 10, depth: 3, activation: sin}]}\n"
                   "linsolver: {type: cg, tol: 1e-12, max_iters: 500}\n"
                   "stages:\n  - train: {n: 9, epochs: 40, switching: 2}\n");
}

Test(mpi, test_train_on_2_ranks_matches_1_rank) {
  char cfg[300];
  snprintf(cfg, sizeof cfg, "%s/train.yaml", tmp);
  train_config(cfg);
  /* 9^3 = 729 grid nodes, one batch: each rank holds the stencils of its slice only */
  expect_same_on_1_and_2_ranks(cfg, "train-adam", NULL, "theta_final");
  /* shuffled batches of 100 (the last one 29): each rank takes its share of every batch */
  expect_same_on_1_and_2_ranks(cfg, "train-batches", "stages.0.train.batch=100", "theta_final");
  /* Gauss-Newton: the operator J_r^T J_r / B summed over the ranks inside CG */
  expect_same_on_1_and_2_ranks(cfg, "train-gn", "stages.0.train.optimizer=gauss-newton stages.0.train.epochs=5",
                               "theta_final");
}

/* The pid of rank `rank` of the run whose command line holds `marker`, or 0. */
static pid_t find_rank(const char *marker, int rank) {
  DIR *d = opendir("/proc");
  if (!d) return 0;
  char want[64];
  snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
  pid_t found = 0;
  for (struct dirent *e; !found && (e = readdir(d));) {
    const pid_t pid = (pid_t)atol(e->d_name);
    if (pid <= 0) continue;
    char path[64], buf[16384];
    bool has_marker = false, has_rank = false;
    const char *files[2] = {"cmdline", "environ"};
    for (int f = 0; f < 2; ++f) {
      snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, files[f]);
      int fd = open(path, O_RDONLY);
      if (fd < 0) continue;
      ssize_t n = read(fd, buf, sizeof buf - 1);
      close(fd);
      if (n < 0) n = 0;
      buf[n] = '\0';
      for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
        if (f == 0 && strstr(buf + i, marker)) has_marker = true;
        if (f == 1 && strcmp(buf + i, want) == 0) has_rank = true;
      }
    }
    if (has_marker && has_rank) found = pid;
  }
  closedir(d);
  return found;
}

static int count_lines(const char *path) {
  char *s = test_slurp(path, NULL);
  int n = 0;
  for (char *c = s; c && *c; ++c) n += *c == '\n';
  free(s);
  return n;
}

Test(mpi, test_killed_rank_stops_the_run_and_it_resumes) {
  char cfg[300];
  snprintf(cfg, sizeof cfg, "%s/train.yaml", tmp);
  test_write_file(cfg, "backend: cpu\nseed: 5\nplots: false\ncheckpoint_every: 0\n"
                  "pde: {type: nbm-interface, problem: sphere}\n"
                  "network: {layers: [{type: mlp, width: 16, depth: 3, activation: sin}]}\n"
                  "stages:\n  - train: {n: 14, epochs: 600, batch: 700, error_every: 50}\n");
  cr_assert_eq(run_ranks(2, cfg, "whole", NULL), 0, "the uninterrupted run failed");

  char dir[300], out[320], log[320], csv[320], cmd[2048];
  snprintf(dir, sizeof dir, "%s/killed", tmp);
  snprintf(out, sizeof out, "output=%s", dir);
  snprintf(log, sizeof log, "%s/killed.log", tmp);
  snprintf(csv, sizeof csv, "%s/metrics.csv", dir);
  char *argv[] = {"mpirun", "-np", "2", "--oversubscribe", npde_bin, "run", cfg, out, NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t mpirun;
  cr_assert_eq(posix_spawnp(&mpirun, "mpirun", &fa, NULL, argv, environ), 0, "cannot start mpirun");
  posix_spawn_file_actions_destroy(&fa);
  /* kill rank 1 a hundred epochs in, after checkpoints were written: wait for that event, however slow the
   * machine, or for the run to end first */
  pid_t victim = 0;
  int status = 0;
  bool ended = false;
  while (!victim && !ended) {
    usleep(5000);
    if (count_lines(csv) > 100) victim = find_rank(dir, 1);
    if (!victim) ended = waitpid(mpirun, &status, WNOHANG) == mpirun;
  }
  cr_assert_neq(victim, 0, "rank 1 of the run was not found (the run ended first)");
  cr_assert_eq(kill(victim, SIGKILL), 0);
  cr_assert_eq(waitpid(mpirun, &status, 0), mpirun);
  cr_expect(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "mpirun exited 0 after a rank was killed");
  char *text = test_slurp(log, NULL);
  cr_assert_not_null(text);
  cr_expect(strstr(text, "rank 1") != NULL, "the message does not name rank 1:\n%s", text);
  cr_expect(strstr(text, "checkpoint.npz holds the last checkpoint") != NULL, "rank 0 did not say what is kept:\n%s",
            text);
  free(text);

  snprintf(cmd, sizeof cmd, "mpirun -np 2 --oversubscribe '%s' resume '%s' > '%s/resume.log' 2>&1", npde_bin, dir,
           tmp);
  cr_assert_eq(system(cmd), 0, "the resume under mpirun failed (see %s/resume.log)", tmp);
  snprintf(log, sizeof log, "%s/resume.log", tmp);
  text = test_slurp(log, NULL);
  cr_expect(text && strstr(text, "train: resuming after epoch"), "the resume did not continue mid-stage:\n%s",
            text ? text : "");
  free(text);
  npde_npy_array a = read_member("whole", "theta_final"), b = read_member("killed", "theta_final");
  cr_assert_eq(a.count, b.count);
  cr_expect_eq(memcmp(a.data, b.data, (size_t)a.count * sizeof(double)), 0,
               "the resumed run's parameters differ from the uninterrupted run's");
  npde_npy_array_free(&a);
  npde_npy_array_free(&b);
}

/* A rank that fails stops every rank (no rank hangs in a reduction), with a message naming it. */
Test(mpi, test_failing_rank_stops_the_run_with_its_name) {
  char cfg[300], log[320];
  snprintf(cfg, sizeof cfg, "%s/evolve2.yaml", tmp);
  evolve_config(cfg, 2);
  /* a batch of one point: rank 0's slice of it is empty (rank 1 goes on into the first reduction) */
  const int code = run_ranks(2, cfg, "fails", "stages.0.fit.batch=1");
  snprintf(log, sizeof log, "%s/fails.log", tmp);
  char *text = test_slurp(log, NULL);
  cr_assert_not_null(text);
  cr_expect_neq(code, 0, "the run did not fail:\n%s", text);
  cr_expect(strstr(text, "npde: rank 0 of 2: error:") && strstr(text, "without points"),
            "the message does not name the failing rank:\n%s", text);
  free(text);
  /* commands other than run and resume refuse mpirun */
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "mpirun -np 2 --oversubscribe '%s' plugins > '%s/plugins.log' 2>&1", npde_bin, tmp);
  cr_expect_neq(system(cmd), 0);
  snprintf(log, sizeof log, "%s/plugins.log", tmp);
  text = test_slurp(log, NULL);
  cr_expect(text && strstr(text, "only run and resume are data-parallel"), "%s", text ? text : "");
  free(text);
}
