/**
 * The backend ops table. The core checks shapes and dtypes before any call,
 * so implementations may trust their arguments. Required: the common slots,
 * memtype, alloc, free, upload, download. Every other slot is optional: a
 * NULL slot makes npde_backend_<op> fail with NPDE_ERR_NOT_IMPLEMENTED
 * ("backend 'x' has no 'gemm'"), and supports() reports it as missing.
 * Each slot means exactly what the npde_backend_<slot> call of the same name
 * documents in npde_backend.h. Pointers are this backend's memory.
 */
#ifndef NPDE_BACKEND_OPS_H
#define NPDE_BACKEND_OPS_H

#include "npde_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_backend_ops {
  NPDE_OPS_COMMON(npde_backend);
  /* required */
  npde_memtype (*memtype)(const npde_backend *be);
  npde_status (*alloc)(npde_backend *be, size_t bytes, void **ptr);
  void (*free)(npde_backend *be, void *ptr);
  npde_status (*upload)(npde_backend *be, void *dst, const void *host_src, size_t bytes);
  npde_status (*download)(npde_backend *be, void *host_dst, const void *src, size_t bytes);
  /* optional */
  /** One line describing the build (libraries, kernels); borrowed, lives with be. */
  const char *(*describe)(const npde_backend *be);
  /** Whether a non-NULL op slot handles dtype; NULL means every dtype. */
  bool (*supports)(const npde_backend *be, npde_backend_op op, npde_dtype dtype);
  npde_status (*copy)(npde_backend *be, const npde_mat *src, npde_mat *dst);
  npde_status (*fill)(npde_backend *be, npde_mat *dst, double value);
  npde_status (*convert)(npde_backend *be, const npde_mat *src, npde_mat *dst);
  npde_status (*gemm)(npde_backend *be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                      const npde_mat *B, double beta, npde_mat *C);
  npde_status (*gemm_batched)(npde_backend *be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                              int64_t stride_a, const npde_mat *B, int64_t stride_b, double beta, npde_mat *C,
                              int64_t stride_c, int64_t batch);
  npde_status (*gemv)(npde_backend *be, npde_trans ta, double alpha, const npde_mat *A, const npde_mat *x,
                      double beta, npde_mat *y);
  npde_status (*axpy)(npde_backend *be, double alpha, const npde_mat *x, npde_mat *y);
  npde_status (*scal)(npde_backend *be, double alpha, npde_mat *x);
  npde_status (*dot)(npde_backend *be, const npde_mat *x, const npde_mat *y, double *out);
  npde_status (*nrm2)(npde_backend *be, const npde_mat *x, double *out);
  npde_status (*trsm)(npde_backend *be, npde_side side, npde_uplo uplo, npde_trans ta, npde_diag diag,
                      double alpha, const npde_mat *A, npde_mat *B);
  npde_status (*activation)(npde_backend *be, npde_activation act, const npde_mat *Z, npde_mat *S0,
                            npde_mat *S1, npde_mat *S2);
  npde_status (*mul_blocks)(npde_backend *be, const npde_mat *S, const npde_mat *X, npde_mat *Y, int64_t m);
  npde_status (*jet2)(npde_backend *be, const npde_mat *S1, const npde_mat *S2, const npde_mat *Xa,
                      const npde_mat *Xb, const npde_mat *Xdd, npde_mat *Y, int64_t m);
  npde_status (*sinusoidal)(npde_backend *be, const npde_mat *X, int64_t nfreq, double alpha, double amp,
                            int order, int64_t dir, npde_mat *Y);
  npde_status (*row_scale)(npde_backend *be, const npde_mat *s, const npde_mat *X, npde_mat *Y, int64_t m);
  npde_status (*col_sums)(npde_backend *be, double alpha, const npde_mat *X, double beta, npde_mat *y);
  npde_status (*add_row)(npde_backend *be, double alpha, const npde_mat *b, npde_mat *X);
  npde_status (*rng_uniform)(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double lo,
                             double hi, npde_mat *out);
  npde_status (*rng_normal)(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double mean,
                            double std, npde_mat *out);
  npde_status (*transpose)(npde_backend *be, const npde_mat *A, npde_mat *B);
  npde_status (*adam)(npde_backend *be, npde_mat *theta, const npde_mat *g, npde_mat *m, npde_mat *v, double lr,
                      double b1, double b2, double eps, int64_t step);
  npde_status (*csrmm)(npde_backend *be, npde_trans ta, double alpha, const npde_csr *A, const npde_mat *X,
                       double beta, npde_mat *Y); /* ABI 1.3 */
  /* append below this line, never reorder; each append bumps NPDE_ABI_MINOR */
} npde_backend_ops;

#ifdef __cplusplus
}
#endif
#endif
