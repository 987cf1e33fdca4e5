/* Plain C host references for the backend conformance suite.
 *
 * Every routine works in double on row-major host arrays (element (i, j) at
 * a[i * lda + j]); vectors are (pointer, increment). Where a result is a sum,
 * the routine can also return the matching sum of magnitudes, which the
 * suite uses to scale its tolerances (|error| <= tol * sum |terms|). */
#ifndef NPDE_TEST_REFERENCE_H
#define NPDE_TEST_REFERENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "npde/npde_backend.h"

/* ---- deterministic test data (splitmix64) ---- */
typedef struct ref_rng {
  uint64_t s;
} ref_rng;
uint64_t ref_rng_next(ref_rng *r);
/* Uniform in [lo, hi). */
double ref_rng_uniform(ref_rng *r, double lo, double hi);
/* Integer in [0, n). */
int64_t ref_rng_int(ref_rng *r, int64_t n);

/* op(A)[i, p] for A stored row-major with leading dimension lda. */
static inline double ref_op_at(const double *a, int64_t lda, npde_trans t, int64_t i, int64_t p) {
  return t ? a[p * lda + i] : a[i * lda + p];
}

/* C = alpha op(A) op(B) + beta C (C m x n, inner k); beta == 0 ignores C.
 * scale (may be NULL, leading dimension ldc) receives |alpha| sum |a b| + |beta c|. */
void ref_gemm(npde_trans ta, npde_trans tb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
              int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc, double *scale);

/* y = alpha op(A) x + beta y, A rows x cols; beta == 0 ignores y. scale as for ref_gemm (stride incy). */
void ref_gemv(npde_trans ta, int64_t rows, int64_t cols, double alpha, const double *a, int64_t lda,
              const double *x, int64_t incx, double beta, double *y, int64_t incy, double *scale);

/* B = alpha op(A)^-1 B (LEFT) or alpha B op(A)^-1 (RIGHT), B rows x cols, A
 * n x n triangular; only the uplo triangle of A is read, and not its
 * diagonal when diag is UNIT. */
void ref_trsm(npde_side side, npde_uplo uplo, npde_trans ta, npde_diag diag, double alpha, const double *a,
              int64_t lda, double *b, int64_t rows, int64_t cols, int64_t ldb);

/* Activation value and first two derivatives, from closed forms. */
void ref_activation(npde_activation act, double z, double s[3]);

/* ||x||_2 of n values with stride inc, scaled so it neither overflows nor underflows. */
double ref_nrm2(const double *x, int64_t n, int64_t inc);

/* Angular frequency w_k = (pi/2) 2^k of the sinusoidal features. */
double ref_sin_freq(int64_t k);
/* Column value of the sinusoidal features: derivative `order` of
 * amp sin(w x) / w^alpha (cosine when cosine is true). */
double ref_sinusoidal(double x, int64_t k, double alpha, double amp, int order, bool cosine);

/* The two Philox-derived values of block `block` (uniform in [0,1), or standard
 * normals by Box-Muller), following npde_philox.h. */
void ref_philox_uniform_pair(uint64_t seed, uint64_t stream, uint64_t block, double u[2]);
void ref_philox_normal_pair(uint64_t seed, uint64_t stream, uint64_t block, double z[2]);

#endif
