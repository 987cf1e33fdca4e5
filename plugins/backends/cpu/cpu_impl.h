/* Private to the CPU backend: its state and the op families' entry points. */
#ifndef NPDE_CPU_IMPL_H
#define NPDE_CPU_IMPL_H

#include "npde/plugin/npde_ext.h"

typedef struct cpu_state {
  int threads;
  char description[512];
} cpu_state;

extern const npde_component_desc cpu_backend_component;

/* Row i of a view, as bytes. */
static inline char *cpu_row(const npde_mat *m, int64_t i) {
  return (char *)m->data + (size_t)(i * m->ld) * npde_dtype_size(m->dtype);
}

/* Element stride of a vector view (one column: ld; one row: 1). */
static inline int64_t cpu_vec_stride(const npde_mat *v) { return v->cols == 1 ? v->ld : 1; }

/* blas.c */
npde_status cpu_copy(npde_backend *be, const npde_mat *src, npde_mat *dst);
npde_status cpu_fill(npde_backend *be, npde_mat *dst, double value);
npde_status cpu_convert(npde_backend *be, const npde_mat *src, npde_mat *dst);
npde_status cpu_gemm(npde_backend *be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                     const npde_mat *B, double beta, npde_mat *C);
npde_status cpu_gemm_batched(npde_backend *be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                             int64_t stride_a, const npde_mat *B, int64_t stride_b, double beta, npde_mat *C,
                             int64_t stride_c, int64_t batch);
npde_status cpu_gemv(npde_backend *be, npde_trans ta, double alpha, const npde_mat *A, const npde_mat *x, double beta,
                     npde_mat *y);
npde_status cpu_axpy(npde_backend *be, double alpha, const npde_mat *x, npde_mat *y);
npde_status cpu_scal(npde_backend *be, double alpha, npde_mat *x);
npde_status cpu_dot(npde_backend *be, const npde_mat *x, const npde_mat *y, double *out);
npde_status cpu_nrm2(npde_backend *be, const npde_mat *x, double *out);
npde_status cpu_transpose(npde_backend *be, const npde_mat *A, npde_mat *B);
npde_status cpu_trsm(npde_backend *be, npde_side side, npde_uplo uplo, npde_trans ta, npde_diag diag, double alpha,
                     const npde_mat *A, npde_mat *B);

/* kernels.c */
npde_status cpu_activation(npde_backend *be, npde_activation act, const npde_mat *Z, npde_mat *S0, npde_mat *S1,
                           npde_mat *S2);
npde_status cpu_mul_blocks(npde_backend *be, const npde_mat *S, const npde_mat *X, npde_mat *Y, int64_t m);
npde_status cpu_jet2(npde_backend *be, const npde_mat *S1, const npde_mat *S2, const npde_mat *Xa, const npde_mat *Xb,
                     const npde_mat *Xdd, npde_mat *Y, int64_t m);
npde_status cpu_sinusoidal(npde_backend *be, const npde_mat *X, int64_t nfreq, double alpha, double amp, int order,
                           int64_t dir, npde_mat *Y);
npde_status cpu_row_scale(npde_backend *be, const npde_mat *s, const npde_mat *X, npde_mat *Y, int64_t m);
npde_status cpu_col_sums(npde_backend *be, double alpha, const npde_mat *X, double beta, npde_mat *y);
npde_status cpu_adam(npde_backend *be, npde_mat *theta, const npde_mat *g, npde_mat *m, npde_mat *v, double lr,
                     double b1, double b2, double eps, int64_t step);
npde_status cpu_add_row(npde_backend *be, double alpha, const npde_mat *b, npde_mat *X);

/* sparse.c */
npde_status cpu_csrmm(npde_backend *be, npde_trans ta, double alpha, const npde_csr *A, const npde_mat *X, double beta,
                      npde_mat *Y);

/* rng.c */
npde_status cpu_rng_uniform(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double lo, double hi,
                            npde_mat *out);
npde_status cpu_rng_normal(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double mean, double std,
                           npde_mat *out);

/* s[i] = sin(z[i]), c[i] = cos(z[i]) for i < n (s or c may be NULL); libmvec SIMD (sincos.c). */
void cpu_sincos_row(const double *z, double *s, double *c, int64_t n);

#endif
