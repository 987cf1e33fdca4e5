/* CUDA backend: the fused network kernels, the sparse product and the RNG (kernels.cu). */
#include <math.h>

#include "cuda_impl.h"

npde_status cuda_activation(npde_backend *be, npde_activation act, const npde_mat *Z, npde_mat *S0, npde_mat *S1,
                            npde_mat *S2) {
  CUDA_TRY(cuk_activation(CUDA_STATE(be)->stream, act, Z, S0, S1, S2), "activation");
  return NPDE_OK;
}

npde_status cuda_mul_blocks(npde_backend *be, const npde_mat *S, const npde_mat *X, npde_mat *Y, int64_t m) {
  CUDA_TRY(cuk_mul_blocks(CUDA_STATE(be)->stream, S, X, Y, m), "mul_blocks");
  return NPDE_OK;
}

npde_status cuda_jet2(npde_backend *be, const npde_mat *S1, const npde_mat *S2, const npde_mat *Xa,
                      const npde_mat *Xb, const npde_mat *Xdd, npde_mat *Y, int64_t m) {
  CUDA_TRY(cuk_jet2(CUDA_STATE(be)->stream, S1, S2, Xa, Xb, Xdd, Y, m), "jet2");
  return NPDE_OK;
}

npde_status cuda_sinusoidal(npde_backend *be, const npde_mat *X, int64_t nfreq, double alpha, double amp, int order,
                            int64_t dir, npde_mat *Y) {
  CUDA_TRY(cuk_sinusoidal(CUDA_STATE(be)->stream, X, nfreq, alpha, amp, order, dir, Y), "sinusoidal");
  return NPDE_OK;
}

npde_status cuda_row_scale(npde_backend *be, const npde_mat *s, const npde_mat *X, npde_mat *Y, int64_t m) {
  CUDA_TRY(cuk_row_scale(CUDA_STATE(be)->stream, s, X, Y, m), "row_scale");
  return NPDE_OK;
}

npde_status cuda_col_sums(npde_backend *be, double alpha, const npde_mat *X, double beta, npde_mat *y) {
  cuda_state *s = CUDA_STATE(be);
  NPDE_TRY(cuda_scratch(s, cuk_col_sums_scratch(X->rows, X->cols)));
  CUDA_TRY(cuk_col_sums(s->stream, alpha, X, beta, y, s->scratch), "col_sums");
  return NPDE_OK;
}

npde_status cuda_csrmm(npde_backend *be, npde_trans ta, double alpha, const npde_csr *A, const npde_mat *X,
                       double beta, npde_mat *Y) {
  cudaError_t e = cuk_csrmm(CUDA_STATE(be)->stream, ta, alpha, A, X, beta, Y);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError(); /* as cuda_alloc: a caller may recover, the next launch must not see this */
    return NPDE_ERROR(NPDE_ERR_NOMEM, "cuda backend: csrmm: cannot allocate the transpose of a %lld-entry matrix",
                      (long long)A->nnz);
  }
  CUDA_TRY(e, "csrmm");
  return NPDE_OK;
}

npde_status cuda_add_row(npde_backend *be, double alpha, const npde_mat *b, npde_mat *X) {
  CUDA_TRY(cuk_add_row(CUDA_STATE(be)->stream, alpha, b, X), "add_row");
  return NPDE_OK;
}

npde_status cuda_adam(npde_backend *be, npde_mat *theta, const npde_mat *g, npde_mat *m, npde_mat *v, double lr,
                      double b1, double b2, double eps, int64_t step) {
  double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
  CUDA_TRY(cuk_adam(CUDA_STATE(be)->stream, theta, g, m, v, lr, b1, b2, eps, c1, c2), "adam");
  return NPDE_OK;
}

npde_status cuda_rng_uniform(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double lo, double hi,
                             npde_mat *out) {
  CUDA_TRY(cuk_rng_uniform(CUDA_STATE(be)->stream, seed, stream, counter, lo, hi, out), "rng_uniform");
  return NPDE_OK;
}

npde_status cuda_rng_normal(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double mean,
                            double std, npde_mat *out) {
  CUDA_TRY(cuk_rng_normal(CUDA_STATE(be)->stream, seed, stream, counter, mean, std, out), "rng_normal");
  return NPDE_OK;
}
