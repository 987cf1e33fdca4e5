/* CUDA backend: data movement and BLAS. npde views are row-major and cuBLAS
 * is column-major: a row-major m x n matrix with leading dimension ld is the
 * column-major n x m matrix of its transpose with the same ld, so each call
 * computes the transposed product (C^T = op(B)^T op(A)^T) with its operands
 * swapped, as CBLAS's row-major layer does. transpose is a kernel. */
#include <limits.h>

#include "cuda_impl.h"

static cublasOperation_t op(npde_trans t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }

/* cuBLAS's int interface: every size, leading dimension and batch count must fit. */
static npde_status fits_int(const char *what, int n, const int64_t *v) {
  for (int i = 0; i < n; ++i)
    if (v[i] > INT_MAX)
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "cuda backend: %s: dimension %lld exceeds cuBLAS's int range; split "
                        "the work into smaller chunks", what, (long long)v[i]);
  return NPDE_OK;
}
#define FITS_INT(what, ...) NPDE_TRY(fits_int(what, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), \
                                              (int64_t[]){__VA_ARGS__}))

npde_status cuda_copy(npde_backend *be, const npde_mat *src, npde_mat *dst) {
  if (src->rows == 0 || src->cols == 0) return NPDE_OK;
  size_t es = npde_dtype_size(src->dtype);
  CUDA_TRY(cudaMemcpy2DAsync(dst->data, (size_t)dst->ld * es, src->data, (size_t)src->ld * es,
                             (size_t)src->cols * es, (size_t)src->rows, cudaMemcpyDeviceToDevice,
                             CUDA_STATE(be)->stream),
           "copy");
  return NPDE_OK;
}

npde_status cuda_fill(npde_backend *be, npde_mat *dst, double value) {
  CUDA_TRY(cuk_fill(CUDA_STATE(be)->stream, dst, value), "fill");
  return NPDE_OK;
}

npde_status cuda_convert(npde_backend *be, const npde_mat *src, npde_mat *dst) {
  CUDA_TRY(cuk_convert(CUDA_STATE(be)->stream, src, dst), "convert");
  return NPDE_OK;
}

npde_status cuda_axpy(npde_backend *be, double alpha, const npde_mat *x, npde_mat *y) {
  CUDA_TRY(cuk_axpy(CUDA_STATE(be)->stream, alpha, x, y), "axpy");
  return NPDE_OK;
}

npde_status cuda_scal(npde_backend *be, double alpha, npde_mat *x) {
  CUDA_TRY(cuk_scal(CUDA_STATE(be)->stream, alpha, x), "scal");
  return NPDE_OK;
}

/* The scalar a reduction left in scratch[CUK_SCRATCH_RESULT], on the host. */
static npde_status fetch_scalar(cuda_state *s, double *out, const char *what) {
  CUDA_TRY(cudaMemcpyAsync(s->result, s->scratch + CUK_SCRATCH_RESULT, sizeof(double), cudaMemcpyDeviceToHost,
                           s->stream),
           what);
  CUDA_TRY(cudaStreamSynchronize(s->stream), what);
  *out = *s->result;
  return NPDE_OK;
}

npde_status cuda_dot(npde_backend *be, const npde_mat *x, const npde_mat *y, double *out) {
  cuda_state *s = CUDA_STATE(be);
  CUDA_TRY(cuk_dot(s->stream, x, y, s->scratch, s->scratch + CUK_SCRATCH_RESULT), "dot");
  return fetch_scalar(s, out, "dot");
}

npde_status cuda_nrm2(npde_backend *be, const npde_mat *x, double *out) {
  cuda_state *s = CUDA_STATE(be);
  CUDA_TRY(cuk_nrm2(s->stream, x, s->scratch, s->scratch + CUK_SCRATCH_RESULT), "nrm2");
  return fetch_scalar(s, out, "nrm2");
}

/* C = beta C when the product has no terms (k = 0). */
static npde_status scale_only(npde_backend *be, double beta, npde_mat *C) {
  return beta == 0.0 ? cuda_fill(be, C, 0.0) : cuda_scal(be, beta, C);
}

npde_status cuda_gemm(npde_backend *be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                      const npde_mat *B, double beta, npde_mat *C) {
  cuda_state *s = CUDA_STATE(be);
  const int64_t m = C->rows, n = C->cols, k = ta ? A->rows : A->cols;
  if (m == 0 || n == 0) return NPDE_OK;
  if (k == 0) return scale_only(be, beta, C);
  FITS_INT("gemm", m, n, k, A->ld, B->ld, C->ld);
  if (C->dtype == NPDE_F64)
    CUBLAS_TRY(s->blas.cublasDgemm_v2(s->blas.handle, op(tb), op(ta), (int)n, (int)m, (int)k, &alpha, B->data,
                                      (int)B->ld, A->data, (int)A->ld, &beta, C->data, (int)C->ld),
               "gemm");
  else {
    float a = (float)alpha, b = (float)beta;
    CUBLAS_TRY(s->blas.cublasSgemm_v2(s->blas.handle, op(tb), op(ta), (int)n, (int)m, (int)k, &a, B->data,
                                      (int)B->ld, A->data, (int)A->ld, &b, C->data, (int)C->ld),
               "gemm");
  }
  return NPDE_OK;
}

npde_status cuda_gemm_batched(npde_backend *be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                              int64_t stride_a, const npde_mat *B, int64_t stride_b, double beta, npde_mat *C,
                              int64_t stride_c, int64_t batch) {
  cuda_state *s = CUDA_STATE(be);
  const int64_t m = C->rows, n = C->cols, k = ta ? A->rows : A->cols;
  if (m == 0 || n == 0 || batch == 0) return NPDE_OK;
  if (k == 0) {
    for (int64_t i = 0; i < batch; ++i) {
      npde_mat c = npde_mat_offset(*C, i * stride_c);
      NPDE_TRY(scale_only(be, beta, &c));
    }
    return NPDE_OK;
  }
  /* output blocks that overlap (stride_c 0 accumulates) need the CPU's order: one product at a time */
  if (batch > 1 && stride_c < (m - 1) * C->ld + n) {
    for (int64_t i = 0; i < batch; ++i) {
      npde_mat a = npde_mat_offset(*A, i * stride_a), b = npde_mat_offset(*B, i * stride_b);
      npde_mat c = npde_mat_offset(*C, i * stride_c);
      NPDE_TRY(cuda_gemm(be, ta, tb, alpha, &a, &b, beta, &c));
    }
    return NPDE_OK;
  }
  FITS_INT("gemm_batched", m, n, k, A->ld, B->ld, C->ld, batch);
  if (C->dtype == NPDE_F64)
    CUBLAS_TRY(s->blas.cublasDgemmStridedBatched(s->blas.handle, op(tb), op(ta), (int)n, (int)m, (int)k, &alpha,
                                                 B->data, (int)B->ld, stride_b, A->data, (int)A->ld, stride_a, &beta,
                                                 C->data, (int)C->ld, stride_c, (int)batch),
               "gemm_batched");
  else {
    float a = (float)alpha, b = (float)beta;
    CUBLAS_TRY(s->blas.cublasSgemmStridedBatched(s->blas.handle, op(tb), op(ta), (int)n, (int)m, (int)k, &a,
                                                 B->data, (int)B->ld, stride_b, A->data, (int)A->ld, stride_a, &b,
                                                 C->data, (int)C->ld, stride_c, (int)batch),
               "gemm_batched");
  }
  return NPDE_OK;
}

static int64_t vec_inc(const npde_mat *v) { return v->cols == 1 ? v->ld : 1; }

npde_status cuda_gemv(npde_backend *be, npde_trans ta, double alpha, const npde_mat *A, const npde_mat *x,
                      double beta, npde_mat *y) {
  cuda_state *s = CUDA_STATE(be);
  if (A->rows == 0 || A->cols == 0) {
    int64_t leny = ta ? A->cols : A->rows;
    if (leny == 0) return NPDE_OK;
    return scale_only(be, beta, y);
  }
  /* row-major A is column-major A^T (cols x rows): op flips */
  cublasOperation_t o = ta ? CUBLAS_OP_N : CUBLAS_OP_T;
  FITS_INT("gemv", A->rows, A->cols, A->ld, vec_inc(x), vec_inc(y));
  if (A->dtype == NPDE_F64)
    CUBLAS_TRY(s->blas.cublasDgemv_v2(s->blas.handle, o, (int)A->cols, (int)A->rows, &alpha, A->data, (int)A->ld,
                                      x->data, (int)vec_inc(x), &beta, y->data, (int)vec_inc(y)),
               "gemv");
  else {
    float a = (float)alpha, b = (float)beta;
    CUBLAS_TRY(s->blas.cublasSgemv_v2(s->blas.handle, o, (int)A->cols, (int)A->rows, &a, A->data, (int)A->ld,
                                      x->data, (int)vec_inc(x), &b, y->data, (int)vec_inc(y)),
               "gemv");
  }
  return NPDE_OK;
}

npde_status cuda_trsm(npde_backend *be, npde_side side, npde_uplo uplo, npde_trans ta, npde_diag diag, double alpha,
                      const npde_mat *A, npde_mat *B) {
  cuda_state *s = CUDA_STATE(be);
  if (B->rows == 0 || B->cols == 0) return NPDE_OK;
  /* X = op(A)^-1 B  <=>  X^T = B^T op(A)^-T: the side and (A^T's) triangle flip, op stays */
  cublasSideMode_t sd = side == NPDE_LEFT ? CUBLAS_SIDE_RIGHT : CUBLAS_SIDE_LEFT;
  cublasFillMode_t ul = uplo == NPDE_UPPER ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
  cublasDiagType_t dg = diag == NPDE_UNIT ? CUBLAS_DIAG_UNIT : CUBLAS_DIAG_NON_UNIT;
  FITS_INT("trsm", B->rows, B->cols, A->ld, B->ld);
  if (B->dtype == NPDE_F64)
    CUBLAS_TRY(s->blas.cublasDtrsm_v2(s->blas.handle, sd, ul, op(ta), dg, (int)B->cols, (int)B->rows, &alpha,
                                      A->data, (int)A->ld, B->data, (int)B->ld),
               "trsm");
  else {
    float a = (float)alpha;
    CUBLAS_TRY(s->blas.cublasStrsm_v2(s->blas.handle, sd, ul, op(ta), dg, (int)B->cols, (int)B->rows, &a, A->data,
                                      (int)A->ld, B->data, (int)B->ld),
               "trsm");
  }
  return NPDE_OK;
}

/* A kernel rather than cuBLAS geam: geam with beta = 0 is not documented to skip reading its output, which
 * may hold NaN (fresh pool memory). */
npde_status cuda_transpose(npde_backend *be, const npde_mat *A, npde_mat *B) {
  CUDA_TRY(cuk_transpose(CUDA_STATE(be)->stream, A, B), "transpose");
  return NPDE_OK;
}
