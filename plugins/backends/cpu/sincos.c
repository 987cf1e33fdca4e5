/* sin and cos of a row of doubles, vectorised through glibc's libmvec.
 * This file alone is built with -ffast-math, which is what makes GCC call
 * the SIMD variants (<bits/math-vector.h> declares them only then); libmvec
 * is accurate to 4 ulp. It is half the cost of a sine network's forward
 * pass with the scalar libm (perf, bench/README.md). A file of its own so
 * that no other arithmetic gets fast-math's licence. */
#include <math.h>
#include <stdint.h>

#include "cpu_impl.h"

__attribute__((target_clones("avx2", "default"))) void cpu_sincos_row(const double *z, double *s, double *c, int64_t n) {
  if (s && c) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const double x = z[i]; /* z may be s or c itself (activations in place) */
      s[i] = sin(x);
      c[i] = cos(x);
    }
  } else if (s) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) s[i] = sin(z[i]);
  } else if (c) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) c[i] = cos(z[i]);
  }
}
