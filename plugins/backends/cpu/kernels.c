/* CPU backend: the fused element-wise kernels networks use. Each kernel is
 * written once as a macro over the element type and instantiated for f64
 * and f32; arithmetic is done in the element type except transcendental
 * functions, which use the double libm. */
#include <math.h>
#include <stdbool.h>

#include "cpu_impl.h"
#include "npde/npde_kernel_math.h"

#define ROW(T, m, i) ((T *)cpu_row((m), (i)))

/* Element-wise kernels split their rows over OpenMP threads when there is
 * enough work; results do not depend on the thread count (no reductions
 * here: col_sums stays sequential for a fixed summation order). */
#define PARALLEL_MIN_ELEMS 32768

#define DEFINE_ACTIVATION(T, sfx)                                                           \
  static void activation_##sfx(npde_activation act, const npde_mat *Z, npde_mat *S0, npde_mat *S1, \
                               npde_mat *S2) {                                              \
    int par = Z->rows * Z->cols >= PARALLEL_MIN_ELEMS;                                      \
    _Pragma("omp parallel for schedule(static) if(par)")                                    \
    for (int64_t i = 0; i < Z->rows; ++i) {                                                 \
      const T *z = ROW(T, Z, i);                                                            \
      T *o0 = S0 ? ROW(T, S0, i) : NULL, *o1 = S1 ? ROW(T, S1, i) : NULL;                   \
      T *o2 = S2 ? ROW(T, S2, i) : NULL;                                                    \
      for (int64_t j = 0; j < Z->cols; ++j) {                                               \
        double a0, a1, a2;                                                                  \
        npde_activation_eval(act, (double)z[j], &a0, &a1, &a2);                             \
        if (o0) o0[j] = (T)a0;                                                              \
        if (o1) o1[j] = (T)a1;                                                              \
        if (o2) o2[j] = (T)a2;                                                              \
      }                                                                                     \
    }                                                                                       \
  }

#define DEFINE_MUL_BLOCKS(T, sfx)                                                           \
  static void mul_blocks_##sfx(const npde_mat *S, const npde_mat *X, npde_mat *Y, int64_t m) { \
    int64_t n = S->rows;                                                                    \
    int par = m * n * S->cols >= PARALLEL_MIN_ELEMS;                                        \
    _Pragma("omp parallel for collapse(2) schedule(static) if(par)")                        \
    for (int64_t k = 0; k < m; ++k)                                                         \
      for (int64_t i = 0; i < n; ++i) {                                                     \
        const T *s = ROW(T, S, i), *x = ROW(T, X, k * n + i);                               \
        T *y = ROW(T, Y, k * n + i);                                                        \
        for (int64_t j = 0; j < S->cols; ++j) y[j] = s[j] * x[j];                           \
      }                                                                                     \
  }

#define DEFINE_JET2(T, sfx)                                                                 \
  static void jet2_##sfx(const npde_mat *S1, const npde_mat *S2, const npde_mat *Xa, const npde_mat *Xb, \
                         const npde_mat *Xdd, npde_mat *Y, int64_t m) {                     \
    int64_t n = S1->rows;                                                                   \
    int par = m * n * S1->cols >= PARALLEL_MIN_ELEMS;                                       \
    _Pragma("omp parallel for collapse(2) schedule(static) if(par)")                        \
    for (int64_t k = 0; k < m; ++k)                                                         \
      for (int64_t i = 0; i < n; ++i) {                                                     \
        const T *s1 = ROW(T, S1, i), *s2 = ROW(T, S2, i);                                   \
        const T *a = ROW(T, Xa, k * n + i), *b = ROW(T, Xb, k * n + i);                     \
        const T *dd = ROW(T, Xdd, k * n + i);                                               \
        T *y = ROW(T, Y, k * n + i);                                                        \
        for (int64_t j = 0; j < S1->cols; ++j) y[j] = s2[j] * a[j] * b[j] + s1[j] * dd[j];  \
      }                                                                                     \
  }

#define DEFINE_SINUSOIDAL(T, sfx)                                                           \
  static void sinusoidal_##sfx(const npde_mat *X, int64_t nfreq, double alpha, double amp, int order, \
                               int64_t dir, npde_mat *Y) {                                  \
    int64_t d = X->cols, half = nfreq * d;                                                  \
    for (int64_t k = 0; k < nfreq; ++k) {                                                   \
      double w = npde_sinusoidal_frequency(k);                                              \
      double c = npde_sinusoidal_scale(w, amp, order, alpha);                               \
      int par = X->rows * d >= PARALLEL_MIN_ELEMS / 8;                                      \
      _Pragma("omp parallel for schedule(static) if(par)")                                  \
      for (int64_t i = 0; i < X->rows; ++i) {                                               \
        const T *x = ROW(T, X, i);                                                          \
        T *y = ROW(T, Y, i);                                                                \
        for (int64_t j = 0; j < d; ++j) {                                                   \
          double sn = sin(w * (double)x[j]), cs = cos(w * (double)x[j]);                    \
          double fs, fc;                                                                    \
          npde_sincos_derivative(order, sn, cs, &fs, &fc);                                  \
          bool on = dir < 0 || dir == j;                                                    \
          y[k * d + j] = on ? (T)(c * fs) : (T)0;                                           \
          y[half + k * d + j] = on ? (T)(c * fc) : (T)0;                                    \
        }                                                                                   \
      }                                                                                     \
    }                                                                                       \
  }

#define DEFINE_ROW_SCALE(T, sfx)                                                            \
  static void row_scale_##sfx(const npde_mat *s, const npde_mat *X, npde_mat *Y, int64_t m) { \
    int64_t n = X->rows / m, inc = cpu_vec_stride(s);                                       \
    const T *sv = (const T *)s->data;                                                       \
    int par = X->rows * X->cols >= PARALLEL_MIN_ELEMS;                                      \
    _Pragma("omp parallel for collapse(2) schedule(static) if(par)")                        \
    for (int64_t k = 0; k < m; ++k)                                                         \
      for (int64_t i = 0; i < n; ++i) {                                                     \
        T f = sv[i * inc];                                                                  \
        const T *x = ROW(T, X, k * n + i);                                                  \
        T *y = ROW(T, Y, k * n + i);                                                        \
        for (int64_t j = 0; j < X->cols; ++j) y[j] = f * x[j];                              \
      }                                                                                     \
  }

/* Column sums accumulate in double, in row order, for reproducibility. */
#define DEFINE_COL_SUMS(T, sfx)                                                             \
  static npde_status col_sums_##sfx(double alpha, const npde_mat *X, double beta, npde_mat *y) { \
    int64_t w = X->cols, inc = cpu_vec_stride(y);                                           \
    double *acc = npde_alloc((size_t)(w ? w : 1) * sizeof *acc);                            \
    if (!acc) return NPDE_ERROR(NPDE_ERR_NOMEM, "cpu col_sums: out of memory");             \
    for (int64_t j = 0; j < w; ++j) acc[j] = 0.0;                                           \
    for (int64_t i = 0; i < X->rows; ++i) {                                                 \
      const T *x = ROW(T, X, i);                                                            \
      for (int64_t j = 0; j < w; ++j) acc[j] += (double)x[j];                               \
    }                                                                                       \
    T *yv = (T *)y->data;                                                                   \
    for (int64_t j = 0; j < w; ++j)                                                         \
      yv[j * inc] = (T)(alpha * acc[j] + (beta == 0.0 ? 0.0 : beta * (double)yv[j * inc])); \
    npde_free(acc);                                                                         \
    return NPDE_OK;                                                                         \
  }

#define DEFINE_ADD_ROW(T, sfx)                                                              \
  static void add_row_##sfx(double alpha, const npde_mat *b, npde_mat *X) {                 \
    int64_t inc = cpu_vec_stride(b);                                                        \
    const T *bv = (const T *)b->data;                                                       \
    T a = (T)alpha;                                                                         \
    int par = X->rows * X->cols >= PARALLEL_MIN_ELEMS;                                      \
    _Pragma("omp parallel for schedule(static) if(par)")                                    \
    for (int64_t i = 0; i < X->rows; ++i) {                                                 \
      T *x = ROW(T, X, i);                                                                  \
      for (int64_t j = 0; j < X->cols; ++j) x[j] += a * bv[j * inc];                        \
    }                                                                                       \
  }

#define DEFINE_ADAM(T, sfx)                                                                 \
  static void adam_##sfx(npde_mat *theta, const npde_mat *g, npde_mat *m, npde_mat *v, double lr, double b1, \
                         double b2, double eps, double c1, double c2) {                     \
    int par = theta->rows * theta->cols >= PARALLEL_MIN_ELEMS;                              \
    _Pragma("omp parallel for schedule(static) if(par)")                                    \
    for (int64_t i = 0; i < theta->rows; ++i) {                                             \
      T *t = ROW(T, theta, i), *mm = ROW(T, m, i), *vv = ROW(T, v, i);                      \
      const T *gg = ROW(T, g, i);                                                           \
      for (int64_t j = 0; j < theta->cols; ++j) {                                           \
        double mj = (double)mm[j], vj = (double)vv[j], tj = (double)t[j];                   \
        npde_adam_element((double)gg[j], &mj, &vj, &tj, lr, b1, b2, eps, c1, c2);           \
        mm[j] = (T)mj;                                                                      \
        vv[j] = (T)vj;                                                                      \
        t[j] = (T)tj;                                                                       \
      }                                                                                     \
    }                                                                                       \
  }

#define DEFINE_ALL(T, sfx)                                                                  \
  DEFINE_ADAM(T, sfx)                                                                       \
  DEFINE_ACTIVATION(T, sfx)                                                                 \
  DEFINE_MUL_BLOCKS(T, sfx)                                                                 \
  DEFINE_JET2(T, sfx)                                                                       \
  DEFINE_SINUSOIDAL(T, sfx)                                                                 \
  DEFINE_ROW_SCALE(T, sfx)                                                                  \
  DEFINE_COL_SUMS(T, sfx)                                                                   \
  DEFINE_ADD_ROW(T, sfx)

DEFINE_ALL(double, f64)
DEFINE_ALL(float, f32)

/* sin in f64 through the vectorised cpu_sincos_row (sincos.c): the whole
 * block in one pass when the views are contiguous, else row by row. */
static void activation_sin_f64(const npde_mat *Z, npde_mat *S0, npde_mat *S1, npde_mat *S2) {
  const npde_mat *all[4] = {Z, S0, S1, S2};
  bool dense = true;
  for (int k = 0; k < 4; ++k) dense &= !all[k] || all[k]->ld == all[k]->cols;
  /* dense: chunks of 8192 values of the flat block; else one chunk per row */
  const int64_t cols = dense ? Z->rows * Z->cols : Z->cols, step = 8192;
  const int64_t chunks = dense ? (cols + step - 1) / step : Z->rows;
  int par = Z->rows * Z->cols >= PARALLEL_MIN_ELEMS;
  _Pragma("omp parallel for schedule(static) if(par)")
  for (int64_t q = 0; q < chunks; ++q) {
    const int64_t i = dense ? 0 : q, j0 = dense ? q * step : 0;
    const int64_t n = dense ? (j0 + step < cols ? step : cols - j0) : cols;
    const double *z = ROW(double, Z, i) + j0;
    double *o0 = S0 ? ROW(double, S0, i) + j0 : NULL, *o1 = S1 ? ROW(double, S1, i) + j0 : NULL;
    double *o2 = S2 ? ROW(double, S2, i) + j0 : NULL;
    cpu_sincos_row(z, o0 ? o0 : o2, o1, n);
    if (o2 && o0)
      for (int64_t j = 0; j < n; ++j) o2[j] = -o0[j];
    else if (o2)
      for (int64_t j = 0; j < n; ++j) o2[j] = -o2[j];
  }
}

npde_status cpu_activation(npde_backend *be, npde_activation act, const npde_mat *Z, npde_mat *S0, npde_mat *S1,
                           npde_mat *S2) {
  (void)be;
  if (Z->dtype == NPDE_F64 && act == NPDE_ACT_SIN) activation_sin_f64(Z, S0, S1, S2);
  else if (Z->dtype == NPDE_F64) activation_f64(act, Z, S0, S1, S2);
  else activation_f32(act, Z, S0, S1, S2);
  return NPDE_OK;
}

npde_status cpu_mul_blocks(npde_backend *be, const npde_mat *S, const npde_mat *X, npde_mat *Y, int64_t m) {
  (void)be;
  if (S->dtype == NPDE_F64) mul_blocks_f64(S, X, Y, m);
  else mul_blocks_f32(S, X, Y, m);
  return NPDE_OK;
}

npde_status cpu_jet2(npde_backend *be, const npde_mat *S1, const npde_mat *S2, const npde_mat *Xa, const npde_mat *Xb,
                     const npde_mat *Xdd, npde_mat *Y, int64_t m) {
  (void)be;
  if (S1->dtype == NPDE_F64) jet2_f64(S1, S2, Xa, Xb, Xdd, Y, m);
  else jet2_f32(S1, S2, Xa, Xb, Xdd, Y, m);
  return NPDE_OK;
}

npde_status cpu_sinusoidal(npde_backend *be, const npde_mat *X, int64_t nfreq, double alpha, double amp, int order,
                           int64_t dir, npde_mat *Y) {
  (void)be;
  if (X->dtype == NPDE_F64) sinusoidal_f64(X, nfreq, alpha, amp, order, dir, Y);
  else sinusoidal_f32(X, nfreq, alpha, amp, order, dir, Y);
  return NPDE_OK;
}

npde_status cpu_row_scale(npde_backend *be, const npde_mat *s, const npde_mat *X, npde_mat *Y, int64_t m) {
  (void)be;
  if (X->dtype == NPDE_F64) row_scale_f64(s, X, Y, m);
  else row_scale_f32(s, X, Y, m);
  return NPDE_OK;
}

npde_status cpu_col_sums(npde_backend *be, double alpha, const npde_mat *X, double beta, npde_mat *y) {
  (void)be;
  return X->dtype == NPDE_F64 ? col_sums_f64(alpha, X, beta, y) : col_sums_f32(alpha, X, beta, y);
}

npde_status cpu_adam(npde_backend *be, npde_mat *theta, const npde_mat *g, npde_mat *m, npde_mat *v, double lr,
                     double b1, double b2, double eps, int64_t step) {
  (void)be;
  double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
  if (theta->dtype == NPDE_F64) adam_f64(theta, g, m, v, lr, b1, b2, eps, c1, c2);
  else adam_f32(theta, g, m, v, lr, b1, b2, eps, c1, c2);
  return NPDE_OK;
}

npde_status cpu_add_row(npde_backend *be, double alpha, const npde_mat *b, npde_mat *X) {
  (void)be;
  if (X->dtype == NPDE_F64) add_row_f64(alpha, b, X);
  else add_row_f32(alpha, b, X);
  return NPDE_OK;
}
