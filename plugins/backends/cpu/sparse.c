/* CPU backend: a CSR sparse matrix times a dense block, and its transpose.
 * Every element of Y is summed in the order of A's entries (npde_backend.h),
 * so the products are the same with any thread count: NO_TRANS splits rows,
 * each summed by one thread; TRANS scatters sequentially in entry order. */
#include "cpu_impl.h"

#define ROW(T, m, i) ((T *)cpu_row((m), (i)))

/* Rows per thread are worth splitting above this much work. */
#define PARALLEL_MIN_WORK 32768

#define DEFINE_CSRMM(T, sfx)                                                                      \
  static void csrmm_n_##sfx(double alpha, const npde_csr *A, const npde_mat *X, double beta, npde_mat *Y) { \
    const T *v = (const T *)A->values;                                                            \
    const int64_t w = X->cols;                                                                    \
    int par = A->nnz * w >= PARALLEL_MIN_WORK;                                                    \
    _Pragma("omp parallel for schedule(static) if(par)")                                          \
    for (int64_t i = 0; i < A->rows; ++i) {                                                       \
      T *y = ROW(T, Y, i);                                                                        \
      for (int64_t c = 0; c < w; ++c) {                                                           \
        double acc = 0.0;                                                                         \
        for (int64_t k = A->rowptr[i]; k < A->rowptr[i + 1]; ++k)                                 \
          acc += (double)v[k] * (double)ROW(T, X, A->colind[k])[c];                               \
        y[c] = (T)(beta == 0.0 ? alpha * acc : alpha * acc + beta * (double)y[c]);                \
      }                                                                                           \
    }                                                                                             \
  }                                                                                               \
  static void csrmm_t_##sfx(double alpha, const npde_csr *A, const npde_mat *X, double beta, npde_mat *Y) { \
    const T *v = (const T *)A->values;                                                            \
    const int64_t w = X->cols;                                                                    \
    for (int64_t j = 0; j < Y->rows; ++j) {                                                       \
      T *y = ROW(T, Y, j);                                                                        \
      for (int64_t c = 0; c < w; ++c) y[c] = beta == 0.0 ? (T)0 : (T)(beta * (double)y[c]);       \
    }                                                                                             \
    for (int64_t i = 0; i < A->rows; ++i) {                                                       \
      const T *x = ROW(T, X, i);                                                                  \
      for (int64_t k = A->rowptr[i]; k < A->rowptr[i + 1]; ++k) {                                 \
        T *y = ROW(T, Y, A->colind[k]);                                                           \
        for (int64_t c = 0; c < w; ++c) y[c] = (T)((double)y[c] + (double)v[k] * (alpha * (double)x[c])); \
      }                                                                                           \
    }                                                                                             \
  }

DEFINE_CSRMM(double, f64)
DEFINE_CSRMM(float, f32)

npde_status cpu_csrmm(npde_backend *be, npde_trans ta, double alpha, const npde_csr *A, const npde_mat *X, double beta,
                      npde_mat *Y) {
  (void)be;
  const bool f64 = A->dtype == NPDE_F64;
  if (ta == NPDE_TRANS) f64 ? csrmm_t_f64(alpha, A, X, beta, Y) : csrmm_t_f32(alpha, A, X, beta, Y);
  else f64 ? csrmm_n_f64(alpha, A, X, beta, Y) : csrmm_n_f32(alpha, A, X, beta, Y);
  return NPDE_OK;
}
