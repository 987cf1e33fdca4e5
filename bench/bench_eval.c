/* Evaluation throughput of trained networks (what npde_model_eval and
 * `npde eval` run): points per second for the paper's networks on this
 * machine, values only and values with the x-gradient, host points in and
 * host values out, next to the machine's dgemm rate measured in the same
 * run. The paper networks: per output a sinusoidal embedding (L = 5) and
 * 3 x 100 swish layers, with the dirichlet envelope.
 *   bench_eval [--points N] [--reps R] */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_NAME "bench_eval"
#include "bench_util.h"

typedef struct case_ {
  const char *name;
  int64_t d, K;
} case_;

static double dgemm_gflops(int64_t n, int reps) {
  double *a = calloc((size_t)(n * 100), sizeof *a), *w = calloc(100 * 100, sizeof *w),
         *c = calloc((size_t)(n * 100), sizeof *c), t[9];
  for (int64_t i = 0; i < n * 100; ++i) a[i] = 1e-3 * (double)(i % 97);
  for (int r = 0; r < reps; ++r) {
    double t0 = now();
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, 100, 100, 1.0, a, 100, w, 100, 0.0, c, 100);
    t[r] = now() - t0;
  }
  free(a);
  free(w);
  free(c);
  return 2.0 * (double)n * 100 * 100 / median(t, reps) * 1e-9;
}

int main(int argc, char **argv) {
  int64_t n = 100000;
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--points") && i + 1 < argc) n = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_eval [--points N] [--reps R (<= 9)]\n");
      return 2;
    }
  }
  if (reps < 1 || reps > 9 || n < 1) return 2;
  npde_log_set_level(NPDE_LOG_WARN);
  npde_registry *reg;
  npde_backend *be;
  CHECK(npde_registry_create(&reg));
  CHECK(npde_registry_load_defaults(reg));
  CHECK(npde_backend_create(reg, "cpu", NULL, &be));
  printf("bench_eval: %s\n", npde_backend_describe(be));
  printf("bench_eval: OpenBLAS config: %s\n", openblas_get_config());
  double ref = dgemm_gflops(n, reps);
  printf("bench_eval: %lld points, median of %d; dgemm (%lld x 100)(100 x 100): %.1f GFLOP/s\n", (long long)n, reps,
         (long long)n, ref);
  printf("%-22s %8s %4s %4s %14s %14s %12s\n", "network", "params", "d", "K", "values pts/s", "+grad pts/s",
         "values %dgemm");
  static const case_ cases[] = {
      {"heat/advection 2D", 2, 1}, {"wave 2D", 2, 2}, {"wave 3D (Fig. 6)", 3, 2}, {"vlasov 6D", 6, 1},
      {"fokker-planck 8D", 8, 1},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    const case_ *k = &cases[c];
    char yaml[256];
    snprintf(yaml, sizeof yaml,
             "{envelope: dirichlet, outputs: %lld, layers: [{type: sinusoidal, frequencies: 5}, "
             "{type: mlp, width: 100, depth: 3, activation: swish}]}",
             (long long)k->K);
    npde_config *cfg;
    npde_network *net;
    CHECK(npde_config_load_string(yaml, "<bench_eval>", &cfg));
    CHECK(npde_network_create(reg, cfg, be, k->d, &net));
    int64_t p = npde_network_n_params(net);
    void *tb, *xb, *ub;
    CHECK(npde_backend_alloc(be, (size_t)p * sizeof(double), &tb));
    CHECK(npde_backend_alloc(be, (size_t)(n * k->d) * sizeof(double), &xb));
    CHECK(npde_backend_alloc(be, (size_t)(n * k->K) * sizeof(double), &ub));
    npde_mat th = npde_mat_view(tb, NPDE_F64, p, 1), X = npde_mat_view(xb, NPDE_F64, n, k->d),
             U = npde_mat_view(ub, NPDE_F64, n, k->K);
    CHECK(npde_network_init(net, &th, 0));
    double *xh = malloc((size_t)(n * k->d) * sizeof *xh), *uh = malloc((size_t)(n * k->K) * sizeof *uh),
           *gh = malloc((size_t)(n * k->K * k->d) * sizeof *gh);
    for (int64_t i = 0; i < n * k->d; ++i) xh[i] = 2.0 * (double)((i * 2654435761u) % 1000003) / 1000003.0 - 1.0;
    double tv[9], tg[9];
    for (int r = 0; r < reps; ++r) {
      double t0 = now(); /* as npde_model_eval: upload, evaluate, download */
      CHECK(npde_backend_upload(be, xb, xh, (size_t)(n * k->d) * sizeof(double)));
      CHECK(npde_network_eval(net, &th, &X, &U));
      CHECK(npde_backend_download(be, uh, ub, (size_t)(n * k->K) * sizeof(double)));
      tv[r] = now() - t0;
      t0 = now();
      CHECK(npde_backend_upload(be, xb, xh, (size_t)(n * k->d) * sizeof(double)));
      CHECK(npde_network_jet(net, &th, &X, NPDE_JET_GRAD, uh, gh, NULL));
      tg[r] = now() - t0;
    }
    double sv = median(tv, reps), sg = median(tg, reps);
    /* useful flops of a forward pass: the three 100-wide layers and the embedding's first layer */
    double flops = (double)k->K * (double)n * 2.0 * (2.0 * 5 * (double)k->d * 100 + 2 * 100 * 100 + 100);
    printf("%-22s %8lld %4lld %4lld %14.3e %14.3e %11.0f%%\n", k->name, (long long)p, (long long)k->d,
           (long long)k->K, (double)n / sv, (double)n / sg, 100.0 * flops / sv * 1e-9 / ref);
    free(xh);
    free(uh);
    free(gh);
    npde_backend_free(be, tb);
    npde_backend_free(be, xb);
    npde_backend_free(be, ub);
    npde_network_destroy(&net);
    npde_config_destroy(&cfg);
  }
  npde_backend_destroy(&be);
  npde_registry_destroy(&reg);
  return 0;
}
