/* npde_plot_run and `npde plot`: a small heat pipeline's run directory gets
 * metrics.png, fit_loss.png and fields_NNNN.png of the documented sizes, each
 * a complete PNG that is not blank (decoded with libpng when the build has
 * it); a small NBM (train, eval) run gets metrics.png against epoch and
 * fields.png of its 3D grid; synthetic run directories cover 1D and 3D
 * grids, slices whose axes come from config.yaml, metrics without results,
 * train runs without an exact solution, the options, and the errors (each
 * names its file). Without PLplot the tests skip, saying so,
 * and one checks that npde_plot_run says which packages to install. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#if NPDE_TEST_HAVE_LIBPNG
#include <png.h>
#endif

#include "npde/npde.h"
#include "test_files.h"

static char tmp[256];

static void setup(void) {
  npde_log_set_level(NPDE_LOG_WARN);
  tmp[0] = '\0';
}
/* Not called after cr_skip_test: a test makes its directory once it runs. */
static void teardown(void) {
  if (!tmp[0]) return;
  if (getenv("NPDE_PLOT_TEST_KEEP")) { /* to look at the figures */
    cr_log_info("kept %s", tmp);
    return;
  }
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  cr_expect_eq(system(cmd), 0);
}
TestSuite(plot, .init = setup, .fini = teardown, .timeout = 240);

/* Skip without PLplot, else make the test's temporary directory. */
#define NEED_PLPLOT()                                                                                    \
  do {                                                                                                   \
    if (!npde_plot_available())                                                                          \
      cr_skip_test("npde was built without PLplot or PLplot has no pngcairo driver: install "            \
                   "libplplot-dev and plplot-driver-cairo and rebuild to run the plot tests");           \
    snprintf(tmp, sizeof tmp, "/tmp/npde-plot-XXXXXX");                                                  \
    cr_assert_not_null(mkdtemp(tmp));                                                                    \
  } while (0)

/* Sizes npde_plot.h documents. */
enum { METRICS_W = 1400, METRICS_H = 1000, LOSS_W = 1000, LOSS_H = 700, FIELDS_W = 2000, FIELDS_W2 = 1380,
       FIELDS_W1 = 820, FIELDS_H = 660, CURVES_W = 1400, CURVES_H = 640 };

/* dir/name in one of 4 rotating buffers: use the result before 4 more calls. */
static const char *path_in(const char *dir, const char *name) {
  static char buf[4][512];
  static int k;
  char joined[512];
  snprintf(joined, sizeof joined, "%s/%s", dir, name);
  return memcpy(buf[k++ % 4], joined, sizeof joined);
}

static bool exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static int count_files(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "exit $(ls -A '%s' | wc -l)", dir);
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* A PNG file: signature, IHDR size, and (decoded) how much is drawn. */
static void expect_png(const char *path, uint32_t w, uint32_t h, int min_colours) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s is missing", path);
  unsigned char head[24];
  size_t got = fread(head, 1, sizeof head, f);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  cr_assert(got == 24 && memcmp(head, sig, 8) == 0 && memcmp(head + 12, "IHDR", 4) == 0,
            "%s does not start with a PNG signature and IHDR", path);
  uint32_t fw = (uint32_t)head[16] << 24 | (uint32_t)head[17] << 16 | (uint32_t)head[18] << 8 | head[19];
  uint32_t fh = (uint32_t)head[20] << 24 | (uint32_t)head[21] << 16 | (uint32_t)head[22] << 8 | head[23];
  cr_expect(fw == w && fh == h, "%s is %ux%u, expected %ux%u", path, fw, fh, w, h);
#if NPDE_TEST_HAVE_LIBPNG
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  cr_assert(png_image_begin_read_from_file(&img, path), "libpng cannot read %s: %s", path, img.message);
  img.format = PNG_FORMAT_RGB;
  unsigned char *px = malloc(PNG_IMAGE_SIZE(img));
  cr_assert_not_null(px);
  cr_assert(png_image_finish_read(&img, NULL, px, 0, NULL), "libpng cannot decode %s: %s", path, img.message);
  /* distinct colours at 4 bits per channel, and the share of non-white pixels */
  static unsigned char seen[4096];
  memset(seen, 0, sizeof seen);
  size_t n = (size_t)img.width * img.height, ink = 0;
  int colours = 0;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char *p = px + 3 * i;
    ink += p[0] < 250 || p[1] < 250 || p[2] < 250;
    int q = (p[0] >> 4) << 8 | (p[1] >> 4) << 4 | p[2] >> 4;
    colours += !seen[q];
    seen[q] = 1;
  }
  free(px);
  cr_log_info("%s: %ux%u, %ld bytes, %.1f%% drawn, %d colours", path, fw, fh, size, 100.0 * (double)ink / (double)n,
              colours);
  cr_expect((double)ink / (double)n > 0.01, "%s is blank: %.3f%% of its pixels are not white", path,
            100.0 * (double)ink / (double)n);
  cr_expect(colours >= min_colours, "%s has %d colours, expected at least %d", path, colours, min_colours);
#else
  /* No libpng: a blank page of w x h compresses to about w h 4 / 1000 bytes
   * (deflate's best ratio is about 1000:1); figures are several times more. */
  (void)min_colours;
  long blank = (long)w * (long)h * 4 / 1000 + 1000;
  cr_log_info("%s: %ux%u, %ld bytes (no libpng: compared with a blank page's ~%ld)", path, fw, fh, size, blank);
  cr_expect(size > 3 * blank, "%s has %ld bytes: blank? (a blank page has about %ld)", path, size, blank);
#endif
}

static void expect_no_temporary(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -q tmp", dir);
  cr_expect_neq(system(cmd), 0, "a temporary file is left in %s", dir);
}

/* ------------------------------------------------------ synthetic runs */

static void npz_add(npde_npz_writer *w, const char *name, const double *data, int ndim, const int64_t *shape) {
  cr_assert_eq(npde_npz_add(w, name, NPDE_NPY_F64, data, ndim, shape), NPDE_OK, "%s", npde_last_error());
}

/* results.npz with 3 snapshots of a Gaussian on a grid over `axes` (dims
 * points each), K components, the exact solution (slightly different) if
 * asked, a fit loss, and one NaN in u if asked. */
static bool with_residual; /* write_results without an exact solution: also a field_residual (u - e) */

static void write_results(const char *dir, int n_axes, const int *axes, const int64_t *dims, int64_t K, bool exact,
                          bool nan) {
  cr_assert_eq(npde_mkdir_p(dir), NPDE_OK, "%s", npde_last_error());
  npde_npz_writer *w = NULL;
  cr_assert_eq(npde_npz_create(path_in(dir, "results.npz"), &w), NPDE_OK, "%s", npde_last_error());
  const int64_t n_snap = 3;
  double t[3] = {0.0, 0.05, 0.1}, rel[3] = {1e-3, 2e-3, 4e-3}, loss[50];
  for (int i = 0; i < 50; ++i) loss[i] = exp(-0.1 * i);
  int64_t three = 3, fifty = 50;
  npz_add(w, "t", t, 1, &three);
  npz_add(w, "rel_error", rel, 1, &three);
  npz_add(w, "fit_loss", loss, 1, &fifty);
  int64_t shape[5] = {n_snap}, n = 1;
  for (int i = 0; i < n_axes; ++i) n *= shape[i + 1] = dims[i];
  shape[n_axes + 1] = K;
  double *u = malloc((size_t)(n_snap * n * K) * sizeof *u), *e = malloc((size_t)(n_snap * n * K) * sizeof *e);
  cr_assert(u && e);
  for (int64_t s = 0; s < n_snap; ++s)
    for (int64_t p = 0; p < n; ++p) {
      double r2 = 0;
      for (int64_t rest = p, i = n_axes - 1; i >= 0; --i) { /* the last axis runs fastest */
        double x = -1.0 + 2.0 * (double)(rest % dims[i]) / (double)(dims[i] - 1);
        r2 += x * x;
        rest /= dims[i];
      }
      for (int64_t k = 0; k < K; ++k) {
        e[(s * n + p) * K + k] = exp(-r2 / (0.1 + t[s])) / (double)(k + 1);
        u[(s * n + p) * K + k] = e[(s * n + p) * K + k] * (1.0 + 0.05 * sin(7.0 * (double)p / (double)n));
      }
    }
  if (nan) u[n * K + n / 2] = NAN;
  npz_add(w, "field_u", u, n_axes + 2, shape);
  if (exact) npz_add(w, "field_exact", e, n_axes + 2, shape);
  if (!exact && with_residual) {
    for (int64_t i = 0; i < n_snap * n * K; ++i) e[i] = u[i] - e[i];
    npz_add(w, "field_residual", e, n_axes + 2, shape);
  }
  for (int i = 0; i < n_axes; ++i) {
    double *x = malloc((size_t)dims[i] * sizeof *x);
    for (int64_t k = 0; k < dims[i]; ++k) x[k] = -1.0 + 2.0 * (double)k / (double)(dims[i] - 1);
    char name[32];
    snprintf(name, sizeof name, "grid_x%d", axes[i]);
    npz_add(w, name, x, 1, &dims[i]);
    free(x);
  }
  npz_add(w, "field_t", t, 1, &three);
  if (exact) npz_add(w, "eval_rel_error", rel, 1, &three);
  cr_assert_eq(npde_npz_commit(&w), NPDE_OK, "%s", npde_last_error());
  free(u);
  free(e);
}

/* ------------------------------------------------------ a real run */

#define HEAT_RUN(dir)                                                                                  \
  "name: plot-heat\n"                                                                                  \
  "seed: 1\n"                                                                                          \
  "pde: {type: heat, dim: 2, s: 0.25, scale: 1}\n"                                                    \
  "network:\n"                                                                                         \
  "  envelope: dirichlet\n"                                                                           \
  "  layers: [{type: sinusoidal, frequencies: 2}, {type: mlp, width: 16, depth: 2}]\n"                \
  "samples: {n: 400}\n"                                                                                \
  "linsolver: {type: cg, tol: 1e-7, max_iters: 1000}\n"                                                \
  "precond: {type: nystrom, rank: 40, mu: 1e-6}\n"                                                     \
  "integrator: {type: rk23, rtol: 1e-4}\n"                                                             \
  "output: " dir "\n"                                                                                  \
  "stages:\n"                                                                                          \
  "  - fit: {epochs: 200, lr: 1e-2, batch: 400, head_points: 4000, eval_points: 1000}\n"              \
  "  - evolve: {t_end: 0.02, snapshots: [0.01], eval_points: 1000, residual_points: 800}\n"           \
  "  - eval: {grid: [17, 17], points: 1000, vti: false}\n"

Test(plot, test_plot_small_run_draws_every_figure) {
  NEED_PLPLOT();
  char dir[300], yaml[4096];
  snprintf(dir, sizeof dir, "%s/run", tmp);
  snprintf(yaml, sizeof yaml, HEAT_RUN("%s"), dir);
  npde_registry *reg = NULL;
  cr_assert_eq(npde_registry_create(&reg), NPDE_OK);
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_OK, "%s", npde_last_error());
  npde_config *cfg = NULL;
  cr_assert_eq(npde_config_load_string(yaml, "plot.yaml", &cfg), NPDE_OK, "%s", npde_last_error());
  npde_pipeline *pl = NULL;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  npde_config_destroy(&cfg);
  cr_assert_eq(npde_pipeline_run(pl), NPDE_OK, "%s", npde_last_error());
  npde_pipeline_destroy(&pl);
  npde_registry_destroy(&reg);

  /* `plots: true` (the default) drew them at the end of the run */
  char plots[320];
  snprintf(plots, sizeof plots, "%s/plots", dir);
  cr_expect(exists(path_in(plots, "metrics.png")), "the pipeline drew no %s/metrics.png", plots);
  /* and npde_plot_run draws them again in the same process */
  cr_assert_eq(npde_plot_run(dir, NULL), NPDE_OK, "%s", npde_last_error());
  npde_npy_array fu = {0};
  cr_assert_eq(npde_npz_read(path_in(dir, "results.npz"), "field_u", &fu), NPDE_OK, "%s", npde_last_error());
  int64_t n_snap = fu.shape[0];
  cr_expect_eq(fu.ndim, 4);
  npde_npy_array_free(&fu);
  cr_assert_geq(n_snap, 3, "snapshots t = 0, 0.01, 0.02 at least");
  expect_png(path_in(plots, "metrics.png"), METRICS_W, METRICS_H, 6);
  expect_png(path_in(plots, "fit_loss.png"), LOSS_W, LOSS_H, 4);
  int64_t want[3] = {0, (n_snap - 1) / 2, n_snap - 1};
  for (int k = 0; k < 3; ++k) {
    char name[32];
    snprintf(name, sizeof name, "fields_%04lld.png", (long long)want[k]);
    expect_png(path_in(plots, name), FIELDS_W, FIELDS_H, 40);
  }
  cr_expect_eq(count_files(plots), 5, "%s: metrics, fit_loss and three fields", plots);
  expect_no_temporary(plots);

  /* a third call with options: the last snapshot only, elsewhere */
  char out[320];
  snprintf(out, sizeof out, "%s/elsewhere", tmp);
  const int last[] = {-1};
  npde_plot_options opt = {.struct_size = sizeof opt, .out_dir = out, .snapshots = last, .n_snapshots = 1};
  cr_assert_eq(npde_plot_run(dir, &opt), NPDE_OK, "%s", npde_last_error());
  char name[32];
  snprintf(name, sizeof name, "fields_%04lld.png", (long long)(n_snap - 1));
  expect_png(path_in(out, name), FIELDS_W, FIELDS_H, 40);
  cr_expect_eq(count_files(out), 3, "%s: metrics, fit_loss and the last fields", out);
}

static int npde_cmd(const char *args);

/* A train run (NBM): metrics.csv has a column epoch, not t; results.npz has
 * field_u[i, j, k] and no field_t. */
#define NBM_RUN(dir)                                                                                   \
  "{name: plot-nbm, seed: 1, backend: cpu, output: " dir ",\n"                                        \
  " pde: {type: nbm-interface, problem: sphere},\n"                                                   \
  " network: {envelope: none, layers: [{type: mlp, width: 8, depth: 2, activation: sin}]},\n"         \
  " stages: [{train: {n: 10, epochs: 50, error_every: 10}}, {eval: {reference: grid}}]}\n"

Test(plot, test_plot_nbm_run_draws_metrics_against_epoch_and_a_slice) {
  NEED_PLPLOT();
  char dir[300], yaml[4096];
  snprintf(dir, sizeof dir, "%s/run", tmp);
  snprintf(yaml, sizeof yaml, NBM_RUN("%s"), dir);
  npde_registry *reg = NULL;
  cr_assert_eq(npde_registry_create(&reg), NPDE_OK);
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_OK, "%s", npde_last_error());
  npde_config *cfg = NULL;
  cr_assert_eq(npde_config_load_string(yaml, "nbm.yaml", &cfg), NPDE_OK, "%s", npde_last_error());
  npde_pipeline *pl = NULL;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  npde_config_destroy(&cfg);
  cr_assert_eq(npde_pipeline_run(pl), NPDE_OK, "%s", npde_last_error());
  npde_pipeline_destroy(&pl);
  npde_registry_destroy(&reg);

  /* the end of the run drew both (it used to warn that metrics.csv has no column t) */
  char plots[320];
  snprintf(plots, sizeof plots, "%s/plots", dir);
  cr_expect(exists(path_in(plots, "metrics.png")), "the pipeline drew no %s/metrics.png", plots);
  cr_expect(exists(path_in(plots, "fields.png")), "the pipeline drew no %s/fields.png", plots);
  cr_expect_eq(count_files(plots), 2, "%s: metrics and fields", plots);
  /* and npde_plot_run draws them again */
  cr_assert_eq(npde_plot_run(dir, NULL), NPDE_OK, "%s", npde_last_error());
  expect_png(path_in(plots, "metrics.png"), METRICS_W, METRICS_H, 6);
  expect_png(path_in(plots, "fields.png"), FIELDS_W, FIELDS_H, 40);
  cr_expect_eq(count_files(plots), 2, "%s: metrics and fields, no fields_NNNN", plots);
  expect_no_temporary(plots);

  /* one grid, no snapshots: 0 and -1 name it, 1 is out of range, [] draws no fields */
  char out[320];
  snprintf(out, sizeof out, "%s/elsewhere", tmp);
  const int last[] = {-1}, one[] = {1};
  npde_plot_options opt = {.struct_size = sizeof opt, .out_dir = out, .snapshots = last, .n_snapshots = 1};
  cr_assert_eq(npde_plot_run(dir, &opt), NPDE_OK, "%s", npde_last_error());
  expect_png(path_in(out, "fields.png"), FIELDS_W, FIELDS_H, 40);
  cr_expect_eq(count_files(out), 2, "%s: metrics and fields", out);
  opt.snapshots = one;
  cr_expect_eq(npde_plot_run(dir, &opt), NPDE_ERR_INVALID_ARG);
  cr_expect(strstr(npde_last_error(), "3D grid"), "%s", npde_last_error());
  opt.n_snapshots = 0;
  remove(path_in(out, "fields.png"));
  cr_assert_eq(npde_plot_run(dir, &opt), NPDE_OK, "%s", npde_last_error());
  cr_expect(!exists(path_in(out, "fields.png")), "no snapshots asked for, yet a fields.png");

  /* `npde plot RUNDIR` */
  remove(path_in(plots, "metrics.png"));
  remove(path_in(plots, "fields.png"));
  char args[400];
  snprintf(args, sizeof args, "'%s'", dir);
  cr_expect_eq(npde_cmd(args), 0);
  expect_png(path_in(plots, "metrics.png"), METRICS_W, METRICS_H, 6);
  expect_png(path_in(plots, "fields.png"), FIELDS_W, FIELDS_H, 40);
}

/* ----------------------------------------------------- synthetic runs */

/* results.npz of a train run's eval: field_u[i, j, k] of n^3 nodes on
 * [-1, 1]^3, the level set of the sphere r = 0.5, and the exact solution
 * and the grid reference if asked. */
static void write_volume(const char *dir, int64_t n, bool exact, bool reference) {
  cr_assert_eq(npde_mkdir_p(dir), NPDE_OK, "%s", npde_last_error());
  npde_npz_writer *w = NULL;
  cr_assert_eq(npde_npz_create(path_in(dir, "results.npz"), &w), NPDE_OK, "%s", npde_last_error());
  const int64_t shape[3] = {n, n, n}, count = n * n * n;
  double *u = malloc((size_t)count * 4 * sizeof *u), *x = malloc((size_t)n * sizeof *x);
  cr_assert(u && x);
  double *e = u + count, *phi = u + 2 * count, *ref = u + 3 * count;
  for (int64_t i = 0; i < n; ++i) x[i] = -1.0 + 2.0 * (double)i / (double)(n - 1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < n; ++k) {
        const int64_t p = (i * n + j) * n + k;
        const double r2 = x[i] * x[i] + x[j] * x[j] + x[k] * x[k];
        phi[p] = sqrt(r2) - 0.5;
        e[p] = phi[p] < 0 ? 1.0 : x[i] * x[j];
        ref[p] = e[p] + 1e-3 * sin(5.0 * x[i]);
        u[p] = e[p] + 0.02 * cos(3.0 * x[j]);
      }
  npz_add(w, "field_u", u, 3, shape);
  if (exact) npz_add(w, "field_exact", e, 3, shape);
  npz_add(w, "field_phi", phi, 3, shape);
  if (reference) npz_add(w, "field_reference", ref, 3, shape);
  for (int a = 0; a < 3; ++a) {
    char name[16];
    snprintf(name, sizeof name, "grid_x%d", a);
    npz_add(w, name, x, 1, &n);
  }
  cr_assert_eq(npde_npz_commit(&w), NPDE_OK, "%s", npde_last_error());
  free(u);
  free(x);
}

Test(plot, test_plot_train_runs_without_exact_solution_gauss_newton_and_levels) {
  NEED_PLPLOT();
  char ref[300], bare[300];
  snprintf(ref, sizeof ref, "%s/ref", tmp);
  snprintf(bare, sizeof bare, "%s/bare", tmp);
  /* no exact solution but the grid reference: u, the reference and their difference */
  write_volume(ref, 12, false, true);
  /* Gauss-Newton (lambda, CG iterations), two levels in sequence, errors
   * every other epoch and none at all in one row, a row being written */
  test_write_file(path_in(ref, "metrics.csv"), "epoch,level,h,loss,rmse,linf,lambda,cg_iterations,wall_s\n"
                                          "1,0,0.2,1e-1,nan,nan,1e-3,20,0.1\n"
                                          "2,0,0.2,5e-2,3e-2,9e-2,3e-4,25,0.2\n"
                                          "3,1,0.1,4e-2,nan,nan,1e-4,40,0.3\n"
                                          "4,1,0.1,1e-2,1e-2,4e-2,4e-4,35,0.4\n"
                                          "5,1,0.1,5e-3,8e-3,3e-2,1e-4,30,0.5\n"
                                          "6,1,0.1,4e-");
  cr_assert_eq(npde_plot_run(ref, NULL), NPDE_OK, "%s", npde_last_error());
  expect_png(path_in(ref, "plots/metrics.png"), METRICS_W, METRICS_H, 6);
  expect_png(path_in(ref, "plots/fields.png"), FIELDS_W, FIELDS_H, 40);
  /* neither: one map; Adam without errors (all NaN) and without the optional columns */
  write_volume(bare, 9, false, false);
  test_write_file(path_in(bare, "metrics.csv"), "epoch,loss,rmse,linf\n1,1e-1,nan,nan\n2,5e-2,nan,nan\n3,2e-2,nan,nan\n");
  cr_assert_eq(npde_plot_run(bare, NULL), NPDE_OK, "%s", npde_last_error());
  expect_png(path_in(bare, "plots/metrics.png"), METRICS_W, METRICS_H, 4);
  expect_png(path_in(bare, "plots/fields.png"), FIELDS_W1, FIELDS_H, 30);
  cr_expect_eq(count_files(path_in(bare, "plots")), 2);
  /* a train run's metrics.csv without its loss, and one that is neither kind */
  test_write_file(path_in(bare, "metrics.csv"), "epoch,level,rmse,linf\n1,0,nan,nan\n");
  cr_expect_eq(npde_plot_run(bare, NULL), NPDE_ERR_IO);
  cr_expect(strstr(npde_last_error(), "metrics.csv") && strstr(npde_last_error(), "'loss'"), "%s",
            npde_last_error());
  test_write_file(path_in(bare, "metrics.csv"), "step,loss\n1,0.1\n");
  cr_expect_eq(npde_plot_run(bare, NULL), NPDE_ERR_IO);
  cr_expect(strstr(npde_last_error(), "'t'") && strstr(npde_last_error(), "'epoch'"), "%s", npde_last_error());
  /* a volume without its coordinates */
  remove(path_in(bare, "metrics.csv"));
  npde_npz_writer *w = NULL;
  cr_assert_eq(npde_npz_create(path_in(bare, "results.npz"), &w), NPDE_OK, "%s", npde_last_error());
  const int64_t shape[3] = {3, 3, 3};
  double u[27] = {0};
  npz_add(w, "field_u", u, 3, shape);
  cr_assert_eq(npde_npz_commit(&w), NPDE_OK, "%s", npde_last_error());
  cr_expect_eq(npde_plot_run(bare, NULL), NPDE_ERR_IO);
  cr_expect(strstr(npde_last_error(), "grid_x0") && strstr(npde_last_error(), "results.npz"), "%s",
            npde_last_error());
}

Test(plot, test_plot_options_choose_snapshots_and_make_the_directory) {
  NEED_PLPLOT();
  char dir[300], out[320];
  snprintf(dir, sizeof dir, "%s/run", tmp);
  snprintf(out, sizeof out, "%s/a/b/c", tmp);
  const int axes[2] = {0, 1};
  const int64_t dims[2] = {21, 21};
  write_results(dir, 2, axes, dims, 1, true, false);
  const int pick[2] = {0, -1};
  npde_plot_options opt = {.struct_size = sizeof opt, .out_dir = out, .snapshots = pick, .n_snapshots = 2};
  cr_assert_eq(npde_plot_run(dir, &opt), NPDE_OK, "%s", npde_last_error());
  expect_png(path_in(out, "fields_0000.png"), FIELDS_W, FIELDS_H, 40);
  expect_png(path_in(out, "fields_0002.png"), FIELDS_W, FIELDS_H, 40);
  expect_png(path_in(out, "fit_loss.png"), LOSS_W, LOSS_H, 3);
  cr_expect(!exists(path_in(out, "metrics.png")), "no metrics.csv, yet a metrics.png");
  cr_expect_eq(count_files(out), 3);
  cr_expect(!exists(path_in(dir, "plots")), "--out given, yet %s/plots was made", dir);
  /* no fields at all: an empty list */
  npde_plot_options none = {.struct_size = sizeof none, .out_dir = out, .snapshots = pick, .n_snapshots = 0};
  cr_assert_eq(npde_plot_run(dir, &none), NPDE_OK, "%s", npde_last_error());
}

/* Without an exact solution the second map is the PDE residual the eval stage wrote; config.yaml's plot_snapshots
 * chooses the snapshots when the caller does not. */
Test(plot, test_plot_residual_map_and_the_runs_snapshot_setting) {
  NEED_PLPLOT();
  char dir[300];
  snprintf(dir, sizeof dir, "%s/run", tmp);
  const int axes[2] = {0, 1};
  const int64_t dims[2] = {21, 21};
  with_residual = true;
  write_results(dir, 2, axes, dims, 1, false, false);
  with_residual = false;
  test_write_file(path_in(dir, "config.yaml"), "name: residual\nplot_snapshots: [1]\n");
  cr_assert_eq(npde_plot_run(dir, NULL), NPDE_OK, "%s", npde_last_error());
  expect_png(path_in(dir, "plots/fields_0001.png"), FIELDS_W2, FIELDS_H, 40);
  cr_expect(!exists(path_in(dir, "plots/fields_0000.png")) && !exists(path_in(dir, "plots/fields_0002.png")),
            "plot_snapshots: [1] drew other snapshots");
  test_write_file(path_in(dir, "config.yaml"), "name: residual\nplot_snapshots: [7]\n");
  cr_expect_eq(npde_plot_run(dir, NULL), NPDE_ERR_INVALID_ARG);
  cr_expect(strstr(npde_last_error(), "snapshot 7") && strstr(npde_last_error(), "plot_snapshots"), "%s",
            npde_last_error());
}

/* A sweep directory: its varying figures against the first swept key, a line per value of the other. */
Test(plot, test_plot_sweep_draws_figures_against_the_swept_values) {
  NEED_PLPLOT();
  char dir[300];
  snprintf(dir, sizeof dir, "%s/sweep", tmp);
  cr_assert_eq(npde_mkdir_p(dir), NPDE_OK);
  test_write_file(path_in(dir, "sweep.csv"),
                  "run,status,samples.n,\"pde.c\",evolve.rel_error,evolve.restarts,fit.seconds\n"
                  "run-000,ok,100,0.5,0.1,0,1.5\nrun-001,ok,100,1,0.2,0,1.7\nrun-002,ok,200,0.5,0.05,0,2.5\n"
                  "run-003,failed,200,1,,,\n");
  cr_expect_eq(npde_plot_run(dir, NULL), NPDE_ERR_IO, "a sweep without sweep.axes");
  cr_expect(strstr(npde_last_error(), "sweep.axes"), "%s", npde_last_error());
  test_write_file(path_in(dir, "sweep.axes"), "samples.n\npde.c\n");
  cr_assert_eq(npde_plot_run(dir, NULL), NPDE_OK, "%s", npde_last_error());
  /* two figures vary (evolve.restarts is constant): one row of two panels */
  expect_png(path_in(dir, "plots/sweep.png"), 2 * 620, 100 + 470, 4);
}

Test(plot, test_plot_bad_options_are_invalid_arguments) {
  NEED_PLPLOT();
  char dir[300];
  snprintf(dir, sizeof dir, "%s/run", tmp);
  const int axes[2] = {0, 1};
  const int64_t dims[2] = {9, 9};
  write_results(dir, 2, axes, dims, 1, false, false);
  const int pick[1] = {3};
  npde_plot_options opt = {.struct_size = sizeof opt, .snapshots = pick, .n_snapshots = 1};
  cr_expect_eq(npde_plot_run(dir, &opt), NPDE_ERR_INVALID_ARG);
  cr_expect(strstr(npde_last_error(), "snapshot 3") && strstr(npde_last_error(), "0..2"), "%s", npde_last_error());
  const int minus4[1] = {-4};
  opt.snapshots = minus4;
  cr_expect_eq(npde_plot_run(dir, &opt), NPDE_ERR_INVALID_ARG, "%s", npde_last_error());
  npde_plot_options old = {.struct_size = 0};
  cr_expect_eq(npde_plot_run(dir, &old), NPDE_ERR_INVALID_ARG);
  cr_expect(strstr(npde_last_error(), "struct_size"), "%s", npde_last_error());
  npde_plot_options no_array = {.struct_size = sizeof no_array, .n_snapshots = 2};
  cr_expect_eq(npde_plot_run(dir, &no_array), NPDE_ERR_INVALID_ARG);
  cr_expect_eq(npde_plot_run(NULL, NULL), NPDE_ERR_INVALID_ARG);
}

Test(plot, test_plot_draws_1d_curves_3d_slices_and_slices_of_a_6d_problem) {
  NEED_PLPLOT();
  char d1[300], d3[300], d6[300];
  snprintf(d1, sizeof d1, "%s/one", tmp);
  snprintf(d3, sizeof d3, "%s/three", tmp);
  snprintf(d6, sizeof d6, "%s/six", tmp);
  /* 1D, two components (like the wave equation's [phi, phi_t]) */
  const int a1[1] = {0};
  const int64_t n1[1] = {33};
  write_results(d1, 1, a1, n1, 2, true, false);
  cr_assert_eq(npde_plot_run(d1, NULL), NPDE_OK, "%s", npde_last_error());
  expect_png(path_in(d1, "plots/fields_0000.png"), CURVES_W, CURVES_H, 4);
  /* 3D with a NaN in u: the middle slice of the last axis; still drawn */
  const int a3[3] = {0, 1, 2};
  const int64_t n3[3] = {9, 11, 7};
  write_results(d3, 3, a3, n3, 1, true, true);
  cr_assert_eq(npde_plot_run(d3, NULL), NPDE_OK, "%s", npde_last_error());
  for (int s = 0; s < 3; ++s) {
    char name[40];
    snprintf(name, sizeof name, "plots/fields_%04d.png", s);
    expect_png(path_in(d3, name), FIELDS_W, FIELDS_H, 30);
  }
  /* a slice over axes [3, 0] of different lengths, no exact solution: only
   * config.yaml's order matches field_u's axes to grid_x3 and grid_x0 */
  const int a6[2] = {3, 0};
  const int64_t n6[2] = {13, 9};
  write_results(d6, 2, a6, n6, 1, false, false);
  test_write_file(path_in(d6, "config.yaml"), "name: six#d\nstages:\n  - fit: {epochs: 1}\n  - eval: {axes: [3, 0]}\n");
  cr_assert_eq(npde_plot_run(d6, NULL), NPDE_OK, "%s", npde_last_error());
  expect_png(path_in(d6, "plots/fields_0001.png"), FIELDS_W1, FIELDS_H, 30);
  /* the same directory without config.yaml: axes in increasing order do not fit */
  remove(path_in(d6, "config.yaml"));
  cr_expect_eq(npde_plot_run(d6, NULL), NPDE_ERR_IO);
  cr_expect(strstr(npde_last_error(), "grid_x0") && strstr(npde_last_error(), "results.npz"), "%s",
            npde_last_error());
}

Test(plot, test_plot_metrics_without_results_marks_restarts) {
  NEED_PLPLOT();
  char dir[300];
  snprintf(dir, sizeof dir, "%s/run", tmp);
  cr_assert_eq(npde_mkdir_p(dir), NPDE_OK);
  /* columns in another order, an extra one, a restart after step 3, a NaN
   * residual, and a last row still being written */
  test_write_file(path_in(dir, "metrics.csv"),
             "restarts,t,extra,h,cg_iterations,cg_max,residual_true,step\n"
             "0,0.01,1,0.01,100,30,1e-2,1\n"
             "0,0.03,1,0.02,120,40,2e-2,2\n"
             "0,0.06,1,0.03,150,50,nan,3\n"
             "1,0.08,1,0.02,90,30,5e-3,4\n"
             "1,0.12,1,0.04,110,35,6e-3,5\n"
             "1,0.1");
  cr_assert_eq(npde_plot_run(dir, NULL), NPDE_OK, "%s", npde_last_error());
  expect_png(path_in(dir, "plots/metrics.png"), METRICS_W, METRICS_H, 6);
  cr_expect_eq(count_files(path_in(dir, "plots")), 1, "only metrics.png without results.npz");
}

Test(plot, test_plot_errors_name_the_file) {
  NEED_PLPLOT();
  char dir[300];
  /* a missing directory */
  snprintf(dir, sizeof dir, "%s/missing", tmp);
  cr_expect_eq(npde_plot_run(dir, NULL), NPDE_ERR_IO);
  cr_expect(strstr(npde_last_error(), dir), "%s", npde_last_error());
  /* a file, not a directory */
  test_write_file(path_in(tmp, "file"), "x");
  cr_expect_eq(npde_plot_run(path_in(tmp, "file"), NULL), NPDE_ERR_IO);
  cr_expect(strstr(npde_last_error(), "not a directory"), "%s", npde_last_error());
  /* an empty directory */
  snprintf(dir, sizeof dir, "%s/empty", tmp);
  cr_assert_eq(npde_mkdir_p(dir), NPDE_OK);
  cr_expect_eq(npde_plot_run(dir, NULL), NPDE_ERR_IO);
  cr_expect(strstr(npde_last_error(), "neither metrics.csv nor results.npz"), "%s", npde_last_error());
  /* a malformed metrics.csv: line and file */
  snprintf(dir, sizeof dir, "%s/badcsv", tmp);
  cr_assert_eq(npde_mkdir_p(dir), NPDE_OK);
  test_write_file(path_in(dir, "metrics.csv"), "step,t,h,cg_iterations,cg_max,residual_true,restarts\n"
                                          "1,0.1,0.1,5,5,1e-3,0\n"
                                          "2,0.2,0.1,five,5,1e-3,0\n");
  cr_expect_eq(npde_plot_run(dir, NULL), NPDE_ERR_IO);
  cr_expect(strstr(npde_last_error(), "metrics.csv") && strstr(npde_last_error(), "line 3"), "%s",
            npde_last_error());
  test_write_file(path_in(dir, "metrics.csv"), "step,t,h\n1,0.1,0.1\n");
  cr_expect_eq(npde_plot_run(dir, NULL), NPDE_ERR_IO);
  cr_expect(strstr(npde_last_error(), "metrics.csv") && strstr(npde_last_error(), "cg_iterations"), "%s",
            npde_last_error());
  /* results.npz that is not a zip */
  snprintf(dir, sizeof dir, "%s/badnpz", tmp);
  cr_assert_eq(npde_mkdir_p(dir), NPDE_OK);
  test_write_file(path_in(dir, "results.npz"), "not a zip archive");
  cr_expect_eq(npde_plot_run(dir, NULL), NPDE_ERR_IO);
  cr_expect(strstr(npde_last_error(), "results.npz"), "%s", npde_last_error());
  /* an output directory that cannot be made (its parent is a file) */
  snprintf(dir, sizeof dir, "%s/run", tmp);
  const int axes[2] = {0, 1};
  const int64_t dims[2] = {9, 9};
  write_results(dir, 2, axes, dims, 1, true, false);
  char out[320];
  snprintf(out, sizeof out, "%s/file/plots", tmp);
  npde_plot_options opt = {.struct_size = sizeof opt, .out_dir = out};
  cr_expect_eq(npde_plot_run(dir, &opt), NPDE_ERR_IO);
  cr_expect(strstr(npde_last_error(), "file"), "%s", npde_last_error());
}

/* ------------------------------------------------------------ npde plot */

static int npde_cmd(const char *args) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%s/bin/npde' -q plot %s >'%s/out.txt' 2>&1", NPDE_BINARY_DIR, args, tmp);
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

Test(plot, test_plot_command_exit_codes) {
  NEED_PLPLOT();
  char dir[300], args[900];
  snprintf(dir, sizeof dir, "%s/run", tmp);
  const int axes[2] = {0, 1};
  const int64_t dims[2] = {9, 9};
  write_results(dir, 2, axes, dims, 1, true, false);
  snprintf(args, sizeof args, "'%s' --out '%s/figs' --snapshots 1,-1", dir, tmp);
  cr_expect_eq(npde_cmd(args), 0);
  char figs[320];
  snprintf(figs, sizeof figs, "%s/figs", tmp);
  expect_png(path_in(figs, "fields_0001.png"), FIELDS_W, FIELDS_H, 30);
  expect_png(path_in(figs, "fields_0002.png"), FIELDS_W, FIELDS_H, 30);
  cr_expect_eq(count_files(figs), 3);
  snprintf(args, sizeof args, "--snapshots=0 '%s'", dir);
  cr_expect_eq(npde_cmd(args), 0);
  cr_expect(exists(path_in(dir, "plots/fields_0000.png")));
  cr_expect_eq(npde_cmd(""), 2, "no directory");
  cr_expect_eq(npde_cmd("--help"), 0);
  snprintf(args, sizeof args, "'%s' --snapshots 1,x", dir);
  cr_expect_eq(npde_cmd(args), 2, "a bad list");
  snprintf(args, sizeof args, "'%s' --snapshots", dir);
  cr_expect_eq(npde_cmd(args), 2, "no list");
  snprintf(args, sizeof args, "'%s' --bogus", dir);
  cr_expect_eq(npde_cmd(args), 2, "an unknown option");
  snprintf(args, sizeof args, "'%s' '%s'", dir, dir);
  cr_expect_eq(npde_cmd(args), 2, "two directories");
  snprintf(args, sizeof args, "'%s' --snapshots 7", dir);
  cr_expect_eq(npde_cmd(args), 2, "a snapshot out of range");
  snprintf(args, sizeof args, "'%s/missing'", tmp);
  cr_expect_eq(npde_cmd(args), 1, "a missing directory");
}

/* ------------------------------------------------------ without PLplot */

Test(plot, test_plot_without_plplot_says_what_to_install) {
  if (npde_plot_available()) cr_skip_test("this build has PLplot and its pngcairo driver");
  cr_expect_eq(npde_plot_run(".", NULL), NPDE_ERR_NOT_IMPLEMENTED);
  cr_expect(strstr(npde_last_error(), "libplplot-dev"), "%s", npde_last_error());
}
