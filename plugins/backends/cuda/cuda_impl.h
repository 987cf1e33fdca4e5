/* Private to the CUDA backend: its state and the op families' entry points. */
#ifndef NPDE_CUDA_IMPL_H
#define NPDE_CUDA_IMPL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "cuda_device.h"
#include "cuda_kernels.h"
#include "npde/plugin/npde_ext.h"

/* cuBLAS is opened when a cuda backend is created, not when the plugin
 * loads: every npde process loads every plugin, and libcublas with
 * libcublasLt is over half a gigabyte. */
typedef struct cuda_blas {
  void *lib;
  cublasHandle_t handle;
#define CUDA_BLAS_FUNCS(X)                                                                                   \
  X(cublasCreate_v2) X(cublasDestroy_v2) X(cublasSetStream_v2) X(cublasGetVersion_v2) X(cublasDgemm_v2)      \
  X(cublasSgemm_v2) X(cublasDgemmStridedBatched) X(cublasSgemmStridedBatched) X(cublasDgemv_v2)             \
  X(cublasSgemv_v2) X(cublasDtrsm_v2) X(cublasStrsm_v2)
#define CUDA_BLAS_FIELD(f) __typeof__(&f) f;
  CUDA_BLAS_FUNCS(CUDA_BLAS_FIELD)
#undef CUDA_BLAS_FIELD
} cuda_blas;

typedef struct cuda_state {
  int device;
  cudaStream_t stream;
  cuda_blas blas;
  double *scratch; /* device: partial sums of the reductions, then dot/nrm2's result; grows, never shrinks */
  int64_t scratch_cap;
  double *result; /* pinned host: the scalar dot and nrm2 hand back */
  char description[512];
} cuda_state;

extern const npde_component_desc cuda_backend_component;

#define CUDA_STATE(be) ((cuda_state *)npde_backend_state(be))

/* A CUDA runtime error as an npde status (NPDE_ERR_DEVICE) naming what failed. */
npde_status cuda_fail(cudaError_t e, const char *what);
#define CUDA_TRY(call, what)                          \
  do {                                                \
    cudaError_t e_ = (call);                          \
    if (e_ != cudaSuccess) return cuda_fail(e_, what); \
  } while (0)
npde_status cublas_fail(cublasStatus_t e, const char *what);
#define CUBLAS_TRY(call, what)                                     \
  do {                                                             \
    cublasStatus_t e_ = (call);                                    \
    if (e_ != CUBLAS_STATUS_SUCCESS) return cublas_fail(e_, what); \
  } while (0)

/* Device scratch of at least n doubles (grown outside the hot path: the
 * sizes a run needs are reached on its first step). */
npde_status cuda_scratch(cuda_state *s, int64_t n);

/* blas.c */
npde_status cuda_copy(npde_backend *be, const npde_mat *src, npde_mat *dst);
npde_status cuda_fill(npde_backend *be, npde_mat *dst, double value);
npde_status cuda_convert(npde_backend *be, const npde_mat *src, npde_mat *dst);
npde_status cuda_gemm(npde_backend *be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                      const npde_mat *B, double beta, npde_mat *C);
npde_status cuda_gemm_batched(npde_backend *be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                              int64_t stride_a, const npde_mat *B, int64_t stride_b, double beta, npde_mat *C,
                              int64_t stride_c, int64_t batch);
npde_status cuda_gemv(npde_backend *be, npde_trans ta, double alpha, const npde_mat *A, const npde_mat *x,
                      double beta, npde_mat *y);
npde_status cuda_axpy(npde_backend *be, double alpha, const npde_mat *x, npde_mat *y);
npde_status cuda_scal(npde_backend *be, double alpha, npde_mat *x);
npde_status cuda_dot(npde_backend *be, const npde_mat *x, const npde_mat *y, double *out);
npde_status cuda_nrm2(npde_backend *be, const npde_mat *x, double *out);
npde_status cuda_trsm(npde_backend *be, npde_side side, npde_uplo uplo, npde_trans ta, npde_diag diag, double alpha,
                      const npde_mat *A, npde_mat *B);
npde_status cuda_transpose(npde_backend *be, const npde_mat *A, npde_mat *B);

/* ops.c: the fused kernels, the sparse product and the RNG */
npde_status cuda_activation(npde_backend *be, npde_activation act, const npde_mat *Z, npde_mat *S0, npde_mat *S1,
                            npde_mat *S2);
npde_status cuda_mul_blocks(npde_backend *be, const npde_mat *S, const npde_mat *X, npde_mat *Y, int64_t m);
npde_status cuda_jet2(npde_backend *be, const npde_mat *S1, const npde_mat *S2, const npde_mat *Xa,
                      const npde_mat *Xb, const npde_mat *Xdd, npde_mat *Y, int64_t m);
npde_status cuda_sinusoidal(npde_backend *be, const npde_mat *X, int64_t nfreq, double alpha, double amp, int order,
                            int64_t dir, npde_mat *Y);
npde_status cuda_row_scale(npde_backend *be, const npde_mat *s, const npde_mat *X, npde_mat *Y, int64_t m);
npde_status cuda_col_sums(npde_backend *be, double alpha, const npde_mat *X, double beta, npde_mat *y);
npde_status cuda_csrmm(npde_backend *be, npde_trans ta, double alpha, const npde_csr *A, const npde_mat *X,
                       double beta, npde_mat *Y);
npde_status cuda_add_row(npde_backend *be, double alpha, const npde_mat *b, npde_mat *X);
npde_status cuda_adam(npde_backend *be, npde_mat *theta, const npde_mat *g, npde_mat *m, npde_mat *v, double lr,
                      double b1, double b2, double eps, int64_t step);
npde_status cuda_rng_uniform(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double lo, double hi,
                             npde_mat *out);
npde_status cuda_rng_normal(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double mean,
                            double std, npde_mat *out);

#endif
