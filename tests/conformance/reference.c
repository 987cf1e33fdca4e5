/* Plain C host references for the backend conformance suite (see reference.h). */
#include "reference.h"

#include <math.h>
#include <stdlib.h>

#include "npde/npde_philox.h"

uint64_t ref_rng_next(ref_rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double ref_rng_uniform(ref_rng *r, double lo, double hi) {
  return lo + (hi - lo) * ((double)(ref_rng_next(r) >> 11) * 0x1.0p-53);
}

int64_t ref_rng_int(ref_rng *r, int64_t n) { return n > 0 ? (int64_t)(ref_rng_next(r) % (uint64_t)n) : 0; }

void ref_gemm(npde_trans ta, npde_trans tb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
              int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc, double *scale) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0, sa = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        double t = ref_op_at(a, lda, ta, i, p) * ref_op_at(b, ldb, tb, p, j);
        s += t;
        sa += fabs(t);
      }
      double old = beta == 0.0 ? 0.0 : beta * c[i * ldc + j];
      c[i * ldc + j] = alpha * s + old;
      if (scale) scale[i * ldc + j] = fabs(alpha) * sa + fabs(old);
    }
}

void ref_gemv(npde_trans ta, int64_t rows, int64_t cols, double alpha, const double *a, int64_t lda,
              const double *x, int64_t incx, double beta, double *y, int64_t incy, double *scale) {
  int64_t m = ta ? cols : rows, k = ta ? rows : cols;
  for (int64_t i = 0; i < m; ++i) {
    double s = 0.0, sa = 0.0;
    for (int64_t p = 0; p < k; ++p) {
      double t = ref_op_at(a, lda, ta, i, p) * x[p * incx];
      s += t;
      sa += fabs(t);
    }
    double old = beta == 0.0 ? 0.0 : beta * y[i * incy];
    y[i * incy] = alpha * s + old;
    if (scale) scale[i * incy] = fabs(alpha) * sa + fabs(old);
  }
}

/* Solve T y = v in place for dense triangular T (n x n, leading dimension n). */
static void tri_solve(const double *t, int64_t n, bool lower, double *v, int64_t inc) {
  if (lower) {
    for (int64_t i = 0; i < n; ++i) {
      double s = v[i * inc];
      for (int64_t p = 0; p < i; ++p) s -= t[i * n + p] * v[p * inc];
      v[i * inc] = s / t[i * n + i];
    }
  } else {
    for (int64_t i = n - 1; i >= 0; --i) {
      double s = v[i * inc];
      for (int64_t p = i + 1; p < n; ++p) s -= t[i * n + p] * v[p * inc];
      v[i * inc] = s / t[i * n + i];
    }
  }
}

void ref_trsm(npde_side side, npde_uplo uplo, npde_trans ta, npde_diag diag, double alpha, const double *a,
              int64_t lda, double *b, int64_t rows, int64_t cols, int64_t ldb) {
  int64_t n = side == NPDE_LEFT ? rows : cols;
  if (n == 0) return;
  /* Dense op(A) with the unread triangle zeroed and a unit diagonal when asked. */
  double *t = calloc((size_t)(n * n), sizeof *t);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      bool in_tri = uplo == NPDE_LOWER ? j <= i : j >= i;
      double v = !in_tri ? 0.0 : (i == j && diag == NPDE_UNIT) ? 1.0 : a[i * lda + j];
      if (ta) t[j * n + i] = v;
      else t[i * n + j] = v;
    }
  bool op_lower = (uplo == NPDE_LOWER) != (ta == NPDE_TRANS);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) b[i * ldb + j] *= alpha;
  if (side == NPDE_LEFT) {
    for (int64_t j = 0; j < cols; ++j) tri_solve(t, n, op_lower, b + j, ldb);
  } else {
    /* X op(A) = R  <=>  op(A)^T X^T = R^T: solve with the transpose, row by row. */
    double *tt = calloc((size_t)(n * n), sizeof *tt);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) tt[j * n + i] = t[i * n + j];
    for (int64_t i = 0; i < rows; ++i) tri_solve(tt, n, !op_lower, b + i * ldb, 1);
    free(tt);
  }
  free(t);
}

void ref_activation(npde_activation act, double z, double s[3]) {
  switch (act) {
    case NPDE_ACT_IDENTITY:
      s[0] = z; s[1] = 1.0; s[2] = 0.0;
      return;
    case NPDE_ACT_SWISH: {
      /* s = z sigma(z); s' = sigma + z sigma'; s'' = 2 sigma' + z sigma'', with
       * sigma' = sigma (1 - sigma) and sigma'' = sigma' (1 - 2 sigma). */
      double sg = 1.0 / (1.0 + exp(-z)), d1 = sg * (1.0 - sg), d2 = d1 * (1.0 - 2.0 * sg);
      s[0] = z * sg; s[1] = sg + z * d1; s[2] = 2.0 * d1 + z * d2;
      return;
    }
    case NPDE_ACT_TANH: {
      double t = tanh(z), c = cosh(z), sech2 = 1.0 / (c * c);
      s[0] = t; s[1] = sech2; s[2] = -2.0 * t * sech2;
      return;
    }
    case NPDE_ACT_SIN:
      s[0] = sin(z); s[1] = cos(z); s[2] = -sin(z);
      return;
    default:
      s[0] = s[1] = s[2] = NAN;
      return;
  }
}

double ref_nrm2(const double *x, int64_t n, int64_t inc) {
  double mx = 0.0;
  for (int64_t i = 0; i < n; ++i) mx = fmax(mx, fabs(x[i * inc]));
  if (mx == 0.0) return 0.0;
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double q = x[i * inc] / mx;
    s += q * q;
  }
  return mx * sqrt(s);
}

double ref_sin_freq(int64_t k) { return 0.5 * M_PI * ldexp(1.0, (int)k); }

double ref_sinusoidal(double x, int64_t k, double alpha, double amp, int order, bool cosine) {
  double w = ref_sin_freq(k), c = amp / pow(w, alpha), sn = sin(w * x), cs = cos(w * x);
  /* d/dx sin(wx) = w cos(wx), d/dx cos(wx) = -w sin(wx) */
  switch (order) {
    case 0: return c * (cosine ? cs : sn);
    case 1: return c * w * (cosine ? -sn : cs);
    default: return c * w * w * (cosine ? -cs : -sn);
  }
}

void ref_philox_uniform_pair(uint64_t seed, uint64_t stream, uint64_t block, double u[2]) {
  uint32_t w[4];
  npde_philox_block(seed, stream, block, w);
  u[0] = npde_philox_u01(w[0], w[1]);
  u[1] = npde_philox_u01(w[2], w[3]);
}

void ref_philox_normal_pair(uint64_t seed, uint64_t stream, uint64_t block, double z[2]) {
  double u[2];
  ref_philox_uniform_pair(seed, stream, block, u);
  double r = sqrt(-2.0 * log1p(-u[0])), angle = 2.0 * M_PI * u[1];
  z[0] = r * cos(angle);
  z[1] = r * sin(angle);
}
