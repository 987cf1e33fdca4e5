/* gemm through the npde backend against the same call straight to OpenBLAS.
 *
 * Shapes are those networks produce: activations (n x k) times a weight
 * (k x k), its transpose, and the weight-gradient product A^T B (k x n times
 * n x k). Calls alternate between the two paths; medians of the repeats are
 * compared, so load on a shared machine hits both alike.
 *
 *   bench_gemm [--backend cpu] [--n 20000] [--reps 15] [--dtype f64|f32]
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npde/npde.h"

#define BENCH_NAME "bench_gemm"
#include "bench_util.h"

typedef struct shape {
  const char *label;
  npde_trans ta, tb;
  int64_t ar, ac, br, bc, cr, cc; /* stored shapes of A, B, C */
} shape;

int main(int argc, char **argv) {
  const char *backend_name = "cpu";
  int64_t n = 20000;
  int reps = 15;
  npde_dtype dtype = NPDE_F64;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--backend") && i + 1 < argc) backend_name = argv[++i];
    else if (!strcmp(argv[i], "--n") && i + 1 < argc) n = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) dtype = strcmp(argv[++i], "f32") ? NPDE_F64 : NPDE_F32;
    else {
      fprintf(stderr, "usage: bench_gemm [--backend NAME] [--n N] [--reps R] [--dtype f64|f32]\n");
      return 2;
    }
  }
  if (reps < 3 || reps > 1000) reps = 15;

  npde_registry *reg;
  npde_backend *be;
  CHECK(npde_registry_create(&reg));
  CHECK(npde_registry_load_defaults(reg));
  CHECK(npde_backend_create(reg, backend_name, NULL, &be));
  printf("bench_gemm: backend %s\n", npde_backend_describe(be));
  printf("direct:     OpenBLAS %s; kernel %s; %d threads; OPENBLAS_CORETYPE=%s\n", openblas_get_config(),
         openblas_get_corename(), openblas_get_num_threads(),
         getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");
  printf("n = %lld, %d repeats each, alternating, dtype %s; ratio = direct median / backend median "
         "(target >= 0.95)\n\n", (long long)n, reps, dtype == NPDE_F64 ? "f64" : "f32");
  printf("%-28s %5s %12s %12s %10s %10s %7s\n", "product", "k", "backend ms", "direct ms", "bk GFLOP/s",
         "dir GFLOP/s", "ratio");

  bool host = npde_backend_memtype(be) == NPDE_MEM_HOST;
  size_t es = npde_dtype_size(dtype);
  double worst = INFINITY;
  static const int64_t ks[] = {100, 200};
  double *times_b = malloc((size_t)reps * sizeof *times_b), *times_d = malloc((size_t)reps * sizeof *times_d);
  for (size_t ki = 0; ki < 2; ++ki) {
    int64_t k = ks[ki];
    shape shapes[] = {
        {"C = A W      (n x k)(k x k)", NPDE_NO_TRANS, NPDE_NO_TRANS, n, k, k, k, n, k},
        {"C = A W^T    (n x k)(k x k)", NPDE_NO_TRANS, NPDE_TRANS, n, k, k, k, n, k},
        {"G = A^T B    (k x n)(n x k)", NPDE_TRANS, NPDE_NO_TRANS, n, k, n, k, k, k},
    };
    for (size_t s = 0; s < 3; ++s) {
      shape *sh = &shapes[s];
      void *a, *b, *c;
      CHECK(npde_backend_alloc(be, (size_t)(sh->ar * sh->ac) * es, &a));
      CHECK(npde_backend_alloc(be, (size_t)(sh->br * sh->bc) * es, &b));
      CHECK(npde_backend_alloc(be, (size_t)(sh->cr * sh->cc) * es, &c));
      npde_mat A = npde_mat_view(a, dtype, sh->ar, sh->ac), B = npde_mat_view(b, dtype, sh->br, sh->bc);
      npde_mat C = npde_mat_view(c, dtype, sh->cr, sh->cc);
      CHECK(npde_backend_rng_uniform(be, 1, 0, 0, -1, 1, &A));
      CHECK(npde_backend_rng_uniform(be, 1, 1, 0, -1, 1, &B));
      double flops = 2.0 * (double)sh->cr * (double)sh->cc * (double)(sh->ta ? sh->ar : sh->ac);
      for (int r = -2; r < reps; ++r) { /* two warm-up rounds; the first path alternates */
        double tb_ = 0.0, td_ = 0.0;
        for (int half = 0; half < 2; ++half) {
          bool backend_turn = (half == 0) == (r % 2 == 0);
          double t0 = now(), sink;
          if (backend_turn) {
            CHECK(npde_backend_gemm(be, sh->ta, sh->tb, 1.0, &A, &B, 0.0, &C));
          } else if (host) {
            CBLAS_TRANSPOSE ta = sh->ta ? CblasTrans : CblasNoTrans, tb = sh->tb ? CblasTrans : CblasNoTrans;
            blasint m = (blasint)sh->cr, nn = (blasint)sh->cc, kk = (blasint)(sh->ta ? sh->ar : sh->ac);
            if (dtype == NPDE_F64)
              cblas_dgemm(CblasRowMajor, ta, tb, m, nn, kk, 1.0, a, (blasint)sh->ac, b, (blasint)sh->bc, 0.0, c,
                          (blasint)sh->cc);
            else
              cblas_sgemm(CblasRowMajor, ta, tb, m, nn, kk, 1.0f, a, (blasint)sh->ac, b, (blasint)sh->bc, 0.0f, c,
                          (blasint)sh->cc);
          } else {
            continue;
          }
          CHECK(npde_backend_nrm2(be, &C, &sink)); /* the same sync point on both paths */
          if (backend_turn) tb_ = now() - t0;
          else td_ = now() - t0;
        }
        if (r >= 0) { times_b[r] = tb_; times_d[r] = td_; }
      }
      double mb = median(times_b, reps);
      if (host) {
        double md = median(times_d, reps), ratio = md / mb;
        if (ratio < worst) worst = ratio;
        printf("%-28s %5lld %12.3f %12.3f %10.2f %10.2f %7.3f\n", sh->label, (long long)k, 1e3 * mb, 1e3 * md,
               flops / mb * 1e-9, flops / md * 1e-9, ratio);
      } else {
        printf("%-28s %5lld %12.3f %12s %10.2f %10s %7s\n", sh->label, (long long)k, 1e3 * mb, "-",
               flops / mb * 1e-9, "-", "-");
      }
      npde_backend_free(be, a);
      npde_backend_free(be, b);
      npde_backend_free(be, c);
    }
  }
  if (host) printf("\nworst ratio %.3f (%s the 0.95 target)\n", worst, worst >= 0.95 ? "meets" : "MISSES");
  free(times_b);
  free(times_d);
  npde_backend_destroy(&be);
  npde_registry_destroy(&reg);
  return 0;
}
