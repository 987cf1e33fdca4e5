/* Private to the CUDA backend: the launchers of its kernels (kernels.cu).
 * Each enqueues on `stream` and returns the launch status; none
 * synchronises. Views are device memory, already checked by the core. */
#ifndef NPDE_CUDA_KERNELS_H
#define NPDE_CUDA_KERNELS_H

#include <stdint.h>

#include <cuda_runtime_api.h>

#include "npde/npde_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Partial sums of one reduction: dot and nrm2 use up to this many blocks,
 * one double of scratch each (two for nrm2), and leave their result in
 * scratch[CUK_SCRATCH_RESULT]. */
#define CUK_REDUCE_BLOCKS 512
#define CUK_SCRATCH_RESULT (2 * CUK_REDUCE_BLOCKS)

cudaError_t cuk_fill(cudaStream_t stream, const npde_mat *dst, double value);
cudaError_t cuk_convert(cudaStream_t stream, const npde_mat *src, const npde_mat *dst);
/* B = A^T (no aliasing) */
cudaError_t cuk_transpose(cudaStream_t stream, const npde_mat *A, const npde_mat *B);
cudaError_t cuk_axpy(cudaStream_t stream, double alpha, const npde_mat *x, const npde_mat *y);
cudaError_t cuk_scal(cudaStream_t stream, double alpha, const npde_mat *x);
/* *result (device) = sum x .* y in double, in an order fixed by the shape alone */
cudaError_t cuk_dot(cudaStream_t stream, const npde_mat *x, const npde_mat *y, double *scratch, double *result);
/* *result (device) = ||x||_2 with LAPACK-style scaling (no overflow for large f64 entries) */
cudaError_t cuk_nrm2(cudaStream_t stream, const npde_mat *x, double *scratch, double *result);
cudaError_t cuk_activation(cudaStream_t stream, npde_activation act, const npde_mat *Z, const npde_mat *S0,
                           const npde_mat *S1, const npde_mat *S2);
cudaError_t cuk_mul_blocks(cudaStream_t stream, const npde_mat *S, const npde_mat *X, const npde_mat *Y, int64_t m);
cudaError_t cuk_jet2(cudaStream_t stream, const npde_mat *S1, const npde_mat *S2, const npde_mat *Xa,
                     const npde_mat *Xb, const npde_mat *Xdd, const npde_mat *Y, int64_t m);
cudaError_t cuk_sinusoidal(cudaStream_t stream, const npde_mat *X, int64_t nfreq, double alpha, double amp, int order,
                           int64_t dir, const npde_mat *Y);
cudaError_t cuk_row_scale(cudaStream_t stream, const npde_mat *s, const npde_mat *X, const npde_mat *Y, int64_t m);
/* Doubles of scratch cuk_col_sums needs for an n x w input. */
int64_t cuk_col_sums_scratch(int64_t n, int64_t w);
cudaError_t cuk_col_sums(cudaStream_t stream, double alpha, const npde_mat *X, double beta, const npde_mat *y,
                         double *scratch);
/* Y = alpha op(A) X + beta Y, each element summed in the CPU backend's order
 * (npde_backend_csrmm). TRANS allocates its column-ordered copy of A's
 * structure stream-ordered on `stream` (cudaErrorMemoryAllocation if it
 * cannot). */
cudaError_t cuk_csrmm(cudaStream_t stream, npde_trans ta, double alpha, const npde_csr *A, const npde_mat *X,
                      double beta, const npde_mat *Y);
cudaError_t cuk_add_row(cudaStream_t stream, double alpha, const npde_mat *b, const npde_mat *X);
cudaError_t cuk_adam(cudaStream_t stream, const npde_mat *theta, const npde_mat *g, const npde_mat *m,
                     const npde_mat *v, double lr, double b1, double b2, double eps, double c1, double c2);
cudaError_t cuk_rng_uniform(cudaStream_t stream, uint64_t seed, uint64_t stream_id, uint64_t counter, double lo,
                            double hi, const npde_mat *out);
cudaError_t cuk_rng_normal(cudaStream_t stream, uint64_t seed, uint64_t stream_id, uint64_t counter, double mean,
                           double std, const npde_mat *out);

#ifdef __cplusplus
}
#endif
#endif
