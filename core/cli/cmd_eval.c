/* npde eval RUNDIR --points P.npy [--time T] [--out U.npy] [--grad [G.npy]]
 * [--backend NAME]: the run's network at the user's points (npde_model.h).
 * P.npy is n x d (f64 or f32); U.npy gets n x K values, G.npy n x K x d
 * gradients. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static int usage_error(const char *why) {
  fprintf(stderr, "npde: error: %s\nusage: npde eval RUNDIR --points P.npy [--time T] [--out U.npy] "
          "[--grad [G.npy]] [--backend NAME] [--outside]\n", why);
  return EXIT_USAGE;
}

int cli_cmd_eval(int argc, char **argv) {
  const char *dir = NULL, *points = NULL, *out = "values.npy", *grad_out = NULL, *backend = NULL;
  double t = NAN;
  bool grad = false, outside = false;
  for (int i = 0; i < argc; ++i) {
    const char *a = argv[i];
    bool has_next = i + 1 < argc && argv[i + 1][0] != '-';
    if (!strcmp(a, "--points") && has_next) points = argv[++i];
    else if (!strcmp(a, "--out") && has_next) out = argv[++i];
    else if (!strcmp(a, "--backend") && has_next) backend = argv[++i];
    else if (!strcmp(a, "--time") && i + 1 < argc) {
      char *end;
      t = strtod(argv[++i], &end);
      if (*end || !isfinite(t)) return usage_error("--time takes a number");
    } else if (!strcmp(a, "--outside")) {
      outside = true;
    } else if (!strcmp(a, "--grad")) {
      grad = true;
      if (has_next && strstr(argv[i + 1], ".npy")) grad_out = argv[++i];
    } else if (a[0] != '-' && !dir) dir = a;
    else {
      char why[256];
      snprintf(why, sizeof why, "unexpected argument '%s'", a);
      return usage_error(why);
    }
  }
  if (!dir) return usage_error("missing RUNDIR");
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) { /* as resume: a run directory that is not there is a usage error */
    char why[4200];
    snprintf(why, sizeof why, "'%s' is not a run directory (no such directory)", dir);
    return usage_error(why);
  }
  if (!points) return usage_error("missing --points P.npy");
  char grad_default[4096];
  if (grad && !grad_out) {
    const char *dot = strrchr(out, '.');
    int stem = dot ? (int)(dot - out) : (int)strlen(out);
    snprintf(grad_default, sizeof grad_default, "%.*s_grad.npy", stem, out);
    grad_out = grad_default;
  }
  npde_npy_array pts = {0};
  npde_status st = npde_npy_load(points, &pts);
  if (st != NPDE_OK) return cli_fail(st, EXIT_USAGE);
  npde_model *m = NULL;
  npde_model_options opt = {.struct_size = sizeof opt, .backend = backend, .outside = outside};
  st = npde_model_load(dir, &opt, &m);
  int64_t d = npde_model_dim(m), K = npde_model_outputs(m), n = pts.ndim == 2 ? pts.shape[0] : 0;
  if (st == NPDE_OK && (pts.ndim != 2 || pts.shape[1] != d || (pts.type != NPDE_NPY_F64 && pts.type != NPDE_NPY_F32)))
    st = NPDE_ERROR(NPDE_ERR_INVALID_ARG, "'%s' must be an n x %lld array of f64 or f32 points (the run's input "
                    "dimension)", points, (long long)d);
  double *x = NULL, *u = NULL, *g = NULL;
  if (st == NPDE_OK) {
    x = malloc((size_t)(n * d) * sizeof *x);
    u = malloc((size_t)(n * K) * sizeof *u);
    g = grad ? malloc((size_t)(n * K * d) * sizeof *g) : NULL;
    if (!x || !u || (grad && !g)) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory for %lld points", (long long)n);
  }
  if (st == NPDE_OK) {
    for (int64_t i = 0; i < n * d; ++i)
      x[i] = pts.type == NPDE_NPY_F64 ? ((double *)pts.data)[i] : (double)((float *)pts.data)[i];
    st = npde_model_eval(m, t, x, n, u, g);
  }
  int64_t shape[3] = {n, K, d};
  if (st == NPDE_OK) st = npde_npy_save(out, NPDE_NPY_F64, u, 2, shape);
  if (st == NPDE_OK && grad) st = npde_npy_save(grad_out, NPDE_NPY_F64, g, 3, shape);
  const double t_used = isnan(t) ? npde_model_time(m, npde_model_n_times(m) - 1) : t;
  char when[64] = "with the final parameters"; /* runs without times (NBM) */
  if (!isnan(t_used)) snprintf(when, sizeof when, "at t = %.9g", t_used);
  if (st == NPDE_OK)
    npde_log(NPDE_LOG_INFO, "eval: %lld points %s -> %s (%lld x %lld)%s%s", (long long)n, when, out, (long long)n,
             (long long)K, grad ? ", gradients -> " : "", grad ? grad_out : "");
  int code = st == NPDE_OK ? 0 : cli_fail(st, cli_exit_code_for(st));
  free(x);
  free(u);
  free(g);
  npde_npy_array_free(&pts);
  npde_model_free(&m);
  return code;
}
