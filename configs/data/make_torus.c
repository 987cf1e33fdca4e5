/* Writes torus.npy, the level-set grid of configs/nbm-torus.yaml: the signed
 * distance to a torus (major radius 0.5, minor 0.22, axis z) at the nodes of
 * a 41^3 grid of [-1, 1]^3, float64, 'ij' order (z fastest), negative inside.
 * Build target make_torus; run it from this directory to regenerate. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "npde/npde_io.h"

int main(int argc, char **argv) {
  const char *out = argc > 1 ? argv[1] : "torus.npy";
  enum { N = 41 };
  static double phi[N * N * N];
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < N; ++j)
      for (int k = 0; k < N; ++k) {
        const double x = -1 + 2.0 * i / (N - 1), y = -1 + 2.0 * j / (N - 1), z = -1 + 2.0 * k / (N - 1);
        const double ring = sqrt(x * x + y * y) - 0.5;
        phi[(i * N + j) * N + k] = sqrt(ring * ring + z * z) - 0.22;
      }
  const int64_t shape[3] = {N, N, N};
  if (npde_npy_save(out, NPDE_NPY_F64, phi, 3, shape) != NPDE_OK) {
    fprintf(stderr, "make_torus: cannot write %s\n", out);
    return 1;
  }
  printf("make_torus: wrote %s (%d^3)\n", out, N);
  return 0;
}
