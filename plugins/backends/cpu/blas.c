/* CPU backend: data movement and BLAS on OpenBLAS (f64 and f32). */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "cpu_impl.h"

static enum CBLAS_TRANSPOSE cblas_trans(npde_trans t) { return t ? CblasTrans : CblasNoTrans; }

/* A view whose elements are contiguous in memory (or a strided vector) is
 * handled by one BLAS-1 call: *n elements with stride *inc. */
static bool as_strided(const npde_mat *m, int64_t *n, int64_t *inc) {
  if (m->rows <= 1 || m->cols == 1) {
    *n = m->rows * m->cols;
    *inc = m->rows <= 1 ? 1 : m->ld;
    return true;
  }
  if (m->ld == m->cols) {
    *n = m->rows * m->cols;
    *inc = 1;
    return true;
  }
  return false;
}

npde_status cpu_copy(npde_backend *be, const npde_mat *src, npde_mat *dst) {
  (void)be;
  size_t row_bytes = (size_t)src->cols * npde_dtype_size(src->dtype);
  for (int64_t i = 0; i < src->rows; ++i) memmove(cpu_row(dst, i), cpu_row(src, i), row_bytes);
  return NPDE_OK;
}

npde_status cpu_fill(npde_backend *be, npde_mat *dst, double value) {
  (void)be;
  for (int64_t i = 0; i < dst->rows; ++i) {
    if (dst->dtype == NPDE_F64) {
      double *r = (double *)cpu_row(dst, i);
      for (int64_t j = 0; j < dst->cols; ++j) r[j] = value;
    } else {
      float *r = (float *)cpu_row(dst, i);
      for (int64_t j = 0; j < dst->cols; ++j) r[j] = (float)value;
    }
  }
  return NPDE_OK;
}

npde_status cpu_convert(npde_backend *be, const npde_mat *src, npde_mat *dst) {
  if (src->dtype == dst->dtype) return cpu_copy(be, src, dst);
  for (int64_t i = 0; i < src->rows; ++i) {
    if (src->dtype == NPDE_F64) {
      const double *s = (const double *)cpu_row(src, i);
      float *d = (float *)cpu_row(dst, i);
      for (int64_t j = 0; j < src->cols; ++j) d[j] = (float)s[j];
    } else {
      const float *s = (const float *)cpu_row(src, i);
      double *d = (double *)cpu_row(dst, i);
      for (int64_t j = 0; j < src->cols; ++j) d[j] = s[j];
    }
  }
  return NPDE_OK;
}

npde_status cpu_gemm(npde_backend *be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                     const npde_mat *B, double beta, npde_mat *C) {
  int64_t m = C->rows, n = C->cols, k = ta ? A->rows : A->cols;
  if (m == 0 || n == 0) return NPDE_OK;
  if (k == 0) {
    if (beta == 0.0) return cpu_fill(be, C, 0.0);
    return cpu_scal(be, beta, C);
  }
  if (C->dtype == NPDE_F64)
    cblas_dgemm(CblasRowMajor, cblas_trans(ta), cblas_trans(tb), (blasint)m, (blasint)n, (blasint)k, alpha,
                A->data, (blasint)A->ld, B->data, (blasint)B->ld, beta, C->data, (blasint)C->ld);
  else
    cblas_sgemm(CblasRowMajor, cblas_trans(ta), cblas_trans(tb), (blasint)m, (blasint)n, (blasint)k, (float)alpha,
                A->data, (blasint)A->ld, B->data, (blasint)B->ld, (float)beta, C->data, (blasint)C->ld);
  return NPDE_OK;
}

npde_status cpu_gemm_batched(npde_backend *be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                             int64_t stride_a, const npde_mat *B, int64_t stride_b, double beta, npde_mat *C,
                             int64_t stride_c, int64_t batch) {
  for (int64_t i = 0; i < batch; ++i) {
    npde_mat a = npde_mat_offset(*A, i * stride_a), b = npde_mat_offset(*B, i * stride_b);
    npde_mat c = npde_mat_offset(*C, i * stride_c);
    NPDE_TRY(cpu_gemm(be, ta, tb, alpha, &a, &b, beta, &c));
  }
  return NPDE_OK;
}

npde_status cpu_gemv(npde_backend *be, npde_trans ta, double alpha, const npde_mat *A, const npde_mat *x, double beta,
                     npde_mat *y) {
  if (A->rows == 0 || A->cols == 0) {
    int64_t leny = ta ? A->cols : A->rows;
    if (leny == 0) return NPDE_OK;
    return beta == 0.0 ? cpu_fill(be, y, 0.0) : cpu_scal(be, beta, y);
  }
  if (A->dtype == NPDE_F64)
    cblas_dgemv(CblasRowMajor, cblas_trans(ta), (blasint)A->rows, (blasint)A->cols, alpha, A->data,
                (blasint)A->ld, x->data, (blasint)cpu_vec_stride(x), beta, y->data, (blasint)cpu_vec_stride(y));
  else
    cblas_sgemv(CblasRowMajor, cblas_trans(ta), (blasint)A->rows, (blasint)A->cols, (float)alpha, A->data,
                (blasint)A->ld, x->data, (blasint)cpu_vec_stride(x), (float)beta, y->data,
                (blasint)cpu_vec_stride(y));
  return NPDE_OK;
}

npde_status cpu_axpy(npde_backend *be, double alpha, const npde_mat *x, npde_mat *y) {
  (void)be;
  int64_t nx, incx, ny, incy;
  if (as_strided(x, &nx, &incx) && as_strided(y, &ny, &incy)) {
    if (x->dtype == NPDE_F64) cblas_daxpy((blasint)nx, alpha, x->data, (blasint)incx, y->data, (blasint)incy);
    else cblas_saxpy((blasint)nx, (float)alpha, x->data, (blasint)incx, y->data, (blasint)incy);
    return NPDE_OK;
  }
  for (int64_t i = 0; i < x->rows; ++i) {
    if (x->dtype == NPDE_F64) cblas_daxpy((blasint)x->cols, alpha, (double *)cpu_row(x, i), 1, (double *)cpu_row(y, i), 1);
    else cblas_saxpy((blasint)x->cols, (float)alpha, (float *)cpu_row(x, i), 1, (float *)cpu_row(y, i), 1);
  }
  return NPDE_OK;
}

npde_status cpu_scal(npde_backend *be, double alpha, npde_mat *x) {
  (void)be;
  int64_t n, inc;
  if (as_strided(x, &n, &inc)) {
    if (x->dtype == NPDE_F64) cblas_dscal((blasint)n, alpha, x->data, (blasint)inc);
    else cblas_sscal((blasint)n, (float)alpha, x->data, (blasint)inc);
    return NPDE_OK;
  }
  for (int64_t i = 0; i < x->rows; ++i) {
    if (x->dtype == NPDE_F64) cblas_dscal((blasint)x->cols, alpha, (double *)cpu_row(x, i), 1);
    else cblas_sscal((blasint)x->cols, (float)alpha, (float *)cpu_row(x, i), 1);
  }
  return NPDE_OK;
}

/* Sum of products of n elements in double. For f32 the products of two
 * floats are exact in double; OpenBLAS's dsdot adds short contiguous runs in
 * float first, so it is not used. */
static double dot_strided(const npde_mat *x, const void *xd, int64_t incx, const void *yd, int64_t incy, int64_t n) {
  if (x->dtype == NPDE_F64) return cblas_ddot((blasint)n, xd, (blasint)incx, yd, (blasint)incy);
  const float *xf = xd, *yf = yd;
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += (double)xf[i * incx] * (double)yf[i * incy];
  return s;
}

npde_status cpu_dot(npde_backend *be, const npde_mat *x, const npde_mat *y, double *out) {
  (void)be;
  int64_t nx, incx, ny, incy;
  if (as_strided(x, &nx, &incx) && as_strided(y, &ny, &incy)) {
    *out = dot_strided(x, x->data, incx, y->data, incy, nx);
    return NPDE_OK;
  }
  double s = 0.0;
  for (int64_t i = 0; i < x->rows; ++i) s += dot_strided(x, cpu_row(x, i), 1, cpu_row(y, i), 1, x->cols);
  *out = s;
  return NPDE_OK;
}

/* Scaled sum of squares (LAPACK dlassq style): value = scale^2 * ssq. */
static void lassq_f32(const float *v, int64_t n, int64_t inc, double *scale, double *ssq) {
  for (int64_t i = 0; i < n; ++i) {
    double a = fabs((double)v[i * inc]);
    if (a == 0.0) continue;
    if (*scale < a) {
      *ssq = 1.0 + *ssq * (*scale / a) * (*scale / a);
      *scale = a;
    } else {
      *ssq += (a / *scale) * (a / *scale);
    }
  }
}

static void lassq_add(double norm, double *scale, double *ssq) {
  if (norm == 0.0) return;
  if (*scale < norm) {
    *ssq = 1.0 + *ssq * (*scale / norm) * (*scale / norm);
    *scale = norm;
  } else {
    *ssq += (norm / *scale) * (norm / *scale);
  }
}

npde_status cpu_nrm2(npde_backend *be, const npde_mat *x, double *out) {
  (void)be;
  double scale = 0.0, ssq = 1.0;
  int64_t n, inc;
  bool strided = as_strided(x, &n, &inc);
  int64_t rows = strided ? 1 : x->rows;
  for (int64_t i = 0; i < rows; ++i) {
    const void *d = strided ? x->data : cpu_row(x, i);
    int64_t len = strided ? n : x->cols, step = strided ? inc : 1;
    if (x->dtype == NPDE_F64) lassq_add(cblas_dnrm2((blasint)len, d, (blasint)step), &scale, &ssq);
    else lassq_f32(d, len, step, &scale, &ssq);
  }
  *out = scale * sqrt(ssq);
  return NPDE_OK;
}

npde_status cpu_transpose(npde_backend *be, const npde_mat *A, npde_mat *B) {
  (void)be;
  /* blocked so both sides stay in cache */
  const int64_t blk = 32;
  for (int64_t i0 = 0; i0 < A->rows; i0 += blk)
    for (int64_t j0 = 0; j0 < A->cols; j0 += blk) {
      int64_t i1 = i0 + blk < A->rows ? i0 + blk : A->rows, j1 = j0 + blk < A->cols ? j0 + blk : A->cols;
      for (int64_t i = i0; i < i1; ++i) {
        if (A->dtype == NPDE_F64) {
          const double *a = (const double *)cpu_row(A, i);
          for (int64_t j = j0; j < j1; ++j) ((double *)cpu_row(B, j))[i] = a[j];
        } else {
          const float *a = (const float *)cpu_row(A, i);
          for (int64_t j = j0; j < j1; ++j) ((float *)cpu_row(B, j))[i] = a[j];
        }
      }
    }
  return NPDE_OK;
}

npde_status cpu_trsm(npde_backend *be, npde_side side, npde_uplo uplo, npde_trans ta, npde_diag diag, double alpha,
                     const npde_mat *A, npde_mat *B) {
  (void)be;
  if (B->rows == 0 || B->cols == 0) return NPDE_OK;
  enum CBLAS_SIDE s = side == NPDE_LEFT ? CblasLeft : CblasRight;
  enum CBLAS_UPLO u = uplo == NPDE_UPPER ? CblasUpper : CblasLower;
  enum CBLAS_DIAG d = diag == NPDE_UNIT ? CblasUnit : CblasNonUnit;
  if (B->dtype == NPDE_F64)
    cblas_dtrsm(CblasRowMajor, s, u, cblas_trans(ta), d, (blasint)B->rows, (blasint)B->cols, alpha, A->data,
                (blasint)A->ld, B->data, (blasint)B->ld);
  else
    cblas_strsm(CblasRowMajor, s, u, cblas_trans(ta), d, (blasint)B->rows, (blasint)B->cols, (float)alpha, A->data,
                (blasint)A->ld, B->data, (blasint)B->ld);
  return NPDE_OK;
}
