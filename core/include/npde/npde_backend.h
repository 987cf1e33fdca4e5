/**
 * Compute backends: memory, BLAS, the fused element-wise kernels networks
 * need, and the counter-based RNG.
 *
 * One pipeline has one backend. Networks, solvers and integrators do all
 * their array work through these calls, so switching `backend: cpu` to
 * `backend: cuda` changes nothing else. The core checks shapes and dtypes
 * here before calling the plugin, so a backend can trust its arguments.
 *
 * Ops run in issue order; download, dot and nrm2 synchronise. All operands of
 * one op share a dtype; reductions accumulate in double.
 */
#ifndef NPDE_BACKEND_H
#define NPDE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "npde_config.h"
#include "npde_error.h"
#include "npde_mat.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_backend npde_backend;
typedef struct npde_registry npde_registry;

/** The closed op set. The name is the ops slot (npde_backend_<name>). */
#define NPDE_BACKEND_OP_LIST(X)                                                 \
  X(ALLOC, alloc) X(FREE, free) X(UPLOAD, upload) X(DOWNLOAD, download)         \
  X(COPY, copy) X(FILL, fill) X(CONVERT, convert)                               \
  X(GEMM, gemm) X(GEMM_BATCHED, gemm_batched) X(GEMV, gemv) X(AXPY, axpy)       \
  X(SCAL, scal) X(DOT, dot) X(NRM2, nrm2) X(TRSM, trsm)                         \
  X(ACTIVATION, activation) X(MUL_BLOCKS, mul_blocks) X(JET2, jet2)             \
  X(SINUSOIDAL, sinusoidal) X(ROW_SCALE, row_scale) X(COL_SUMS, col_sums)       \
  X(ADD_ROW, add_row) X(RNG_UNIFORM, rng_uniform) X(RNG_NORMAL, rng_normal)        \
  X(TRANSPOSE, transpose) X(ADAM, adam) X(CSRMM, csrmm)

typedef enum npde_backend_op {
#define NPDE__OP_ENUM(ID, name) NPDE_OP_##ID,
  NPDE_BACKEND_OP_LIST(NPDE__OP_ENUM)
#undef NPDE__OP_ENUM
  NPDE_OP_COUNT
} npde_backend_op;

typedef enum npde_trans { NPDE_NO_TRANS = 0, NPDE_TRANS = 1 } npde_trans;
typedef enum npde_side { NPDE_LEFT = 0, NPDE_RIGHT = 1 } npde_side;
typedef enum npde_uplo { NPDE_UPPER = 0, NPDE_LOWER = 1 } npde_uplo;
typedef enum npde_diag { NPDE_NON_UNIT = 0, NPDE_UNIT = 1 } npde_diag;

/** Activations with their first and second derivatives. */
#define NPDE_ACTIVATION_LIST(X) X(IDENTITY, identity) X(SWISH, swish) X(TANH, tanh) X(SIN, sin)
typedef enum npde_activation {
#define NPDE__ACT_ENUM(ID, name) NPDE_ACT_##ID,
  NPDE_ACTIVATION_LIST(NPDE__ACT_ENUM)
#undef NPDE__ACT_ENUM
  NPDE_ACT_COUNT
} npde_activation;

/** Name of an op ("gemm"), of an activation ("swish"); "?" when out of range. */
NPDE_API const char *npde_backend_op_name(npde_backend_op op);
NPDE_API const char *npde_activation_name(npde_activation act);
/** Activation by name; NPDE_ERR_NOT_FOUND when unknown. */
NPDE_API NPDE_NODISCARD npde_status npde_activation_from_name(const char *name, npde_activation *out);
/**
 * Activation by name, inline: true and *out set when name is one of
 * NPDE_ACTIVATION_LIST, false (no error set, *out untouched) otherwise or
 * for NULL. Plugins use this instead of npde_activation_from_name, which is
 * not in the host table: a plugin resolves no libnpde symbol (npde_ext.h).
 */
static inline bool npde_activation_lookup(const char *name, npde_activation *out) {
  static const char *const names[] = {
#define NPDE__ACT_STR(ID, str) #str,
      NPDE_ACTIVATION_LIST(NPDE__ACT_STR)
#undef NPDE__ACT_STR
  };
  for (int i = 0; name && i < NPDE_ACT_COUNT; ++i)
    if (strcmp(name, names[i]) == 0) {
      *out = (npde_activation)i;
      return true;
    }
  return false;
}

/**
 * Create a backend from a validated config node (`{type: cpu, ...}`), or
 * with defaults when node is NULL and name is given. Ownership: *out is the
 * caller's, free with npde_backend_destroy. Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_backend_create(const npde_registry *reg, const char *name,
                                                        const npde_config *node, npde_backend **out);
/** Accepts NULL; sets *be to NULL. */
NPDE_API void npde_backend_destroy(npde_backend **be);
/** Implementation name ("cpu"). Borrowed, lives as long as the registry. */
NPDE_API const char *npde_backend_name(const npde_backend *be);
/** Where this backend's pointers live. */
NPDE_API npde_memtype npde_backend_memtype(const npde_backend *be);
/** Whether op is available in dtype. */
NPDE_API bool npde_backend_supports(const npde_backend *be, npde_backend_op op, npde_dtype dtype);
/** One line describing the backend build (e.g. OpenBLAS config); borrowed. */
NPDE_API const char *npde_backend_describe(const npde_backend *be);

/* ---- memory ---- */
NPDE_API NPDE_NODISCARD npde_status npde_backend_alloc(npde_backend *be, size_t bytes, void **ptr);
NPDE_API void npde_backend_free(npde_backend *be, void *ptr);
NPDE_API NPDE_NODISCARD npde_status npde_backend_upload(npde_backend *be, void *dst, const void *host_src, size_t bytes);
NPDE_API NPDE_NODISCARD npde_status npde_backend_download(npde_backend *be, void *host_dst, const void *src, size_t bytes);
/** dst = src (same shape and dtype; any leading dimensions). */
NPDE_API NPDE_NODISCARD npde_status npde_backend_copy(npde_backend *be, const npde_mat *src, npde_mat *dst);
NPDE_API NPDE_NODISCARD npde_status npde_backend_fill(npde_backend *be, npde_mat *dst, double value);
/** dst = src with a change of dtype (same shape). */
NPDE_API NPDE_NODISCARD npde_status npde_backend_convert(npde_backend *be, const npde_mat *src, npde_mat *dst);

/* ---- BLAS ---- (vector ops act on every element of a view; a vector is a
 * one-column view whose stride is ld, or a one-row view) */
/** C = alpha op(A) op(B) + beta C. */
NPDE_API NPDE_NODISCARD npde_status npde_backend_gemm(npde_backend *be, npde_trans ta, npde_trans tb, double alpha,
                                                      const npde_mat *A, const npde_mat *B, double beta, npde_mat *C);
/**
 * batch products C_i = alpha op(A_i) op(B_i) + beta C_i, where X_i is the view
 * X shifted by i * strideX elements.
 */
NPDE_API NPDE_NODISCARD npde_status npde_backend_gemm_batched(npde_backend *be, npde_trans ta, npde_trans tb,
                                                              double alpha, const npde_mat *A, int64_t stride_a,
                                                              const npde_mat *B, int64_t stride_b, double beta,
                                                              npde_mat *C, int64_t stride_c, int64_t batch);
/** y = alpha op(A) x + beta y. */
NPDE_API NPDE_NODISCARD npde_status npde_backend_gemv(npde_backend *be, npde_trans ta, double alpha, const npde_mat *A,
                                                      const npde_mat *x, double beta, npde_mat *y);
/** y += alpha x (same shape). */
NPDE_API NPDE_NODISCARD npde_status npde_backend_axpy(npde_backend *be, double alpha, const npde_mat *x, npde_mat *y);
/** x *= alpha. */
NPDE_API NPDE_NODISCARD npde_status npde_backend_scal(npde_backend *be, double alpha, npde_mat *x);
/** *out = sum x .* y (same shape), accumulated in double; synchronises. */
NPDE_API NPDE_NODISCARD npde_status npde_backend_dot(npde_backend *be, const npde_mat *x, const npde_mat *y, double *out);
/** *out = ||x||_2; synchronises. */
NPDE_API NPDE_NODISCARD npde_status npde_backend_nrm2(npde_backend *be, const npde_mat *x, double *out);
/** B = alpha op(A)^-1 B (side LEFT) or alpha B op(A)^-1 (RIGHT), A triangular. */
NPDE_API NPDE_NODISCARD npde_status npde_backend_trsm(npde_backend *be, npde_side side, npde_uplo uplo, npde_trans ta,
                                                      npde_diag diag, double alpha, const npde_mat *A, npde_mat *B);

/* ---- fused kernels for networks ---- */
/**
 * S0 = s(Z), S1 = s'(Z), S2 = s''(Z) element-wise; any output may be NULL.
 * An output may alias Z (each element of Z is read before its outputs are
 * written); outputs must not alias each other.
 */
NPDE_API NPDE_NODISCARD npde_status npde_backend_activation(npde_backend *be, npde_activation act, const npde_mat *Z,
                                                            npde_mat *S0, npde_mat *S1, npde_mat *S2);
/**
 * Y_k = S .* X_k for k < m, where X and Y are (m n) x w stacks of n x w
 * blocks and S is n x w. Y may be X. (First-order chain rule: tangents.)
 */
NPDE_API NPDE_NODISCARD npde_status npde_backend_mul_blocks(npde_backend *be, const npde_mat *S, const npde_mat *X,
                                                            npde_mat *Y, int64_t m);
/**
 * Second-order chain rule: Y_k = S2 .* Xa_k .* Xb_k + S1 .* Xdd_k, k < m.
 * Xa = Xb for pure second derivatives. Y may be Xdd.
 */
NPDE_API NPDE_NODISCARD npde_status npde_backend_jet2(npde_backend *be, const npde_mat *S1, const npde_mat *S2,
                                                      const npde_mat *Xa, const npde_mat *Xb, const npde_mat *Xdd,
                                                      npde_mat *Y, int64_t m);
/**
 * Sinusoidal features of X (n x d): Y is n x (2 L d), column k d + j holds
 * amp sin(w_k x_j) / w_k^alpha and column L d + k d + j the cosine, with
 * w_k = (pi/2) 2^k, k < L. order 1 (2) gives each column's first (second)
 * derivative with respect to its own coordinate x_j. dir = -1 fills every
 * column; dir = j in [0, d) fills the columns of coordinate j and writes
 * zeros elsewhere (the derivative of the features along x_j).
 */
NPDE_API NPDE_NODISCARD npde_status npde_backend_sinusoidal(npde_backend *be, const npde_mat *X, int64_t nfreq,
                                                            double alpha, double amp, int order, int64_t dir,
                                                            npde_mat *Y);
/**
 * One Adam step (Kingma and Ba) on every element of theta, with gradient g
 * and moments m, v (all the same shape):
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *   theta -= lr (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps).
 * step counts from 1.
 */
NPDE_API NPDE_NODISCARD npde_status npde_backend_adam(npde_backend *be, npde_mat *theta, const npde_mat *g,
                                                      npde_mat *m, npde_mat *v, double lr, double b1, double b2,
                                                      double eps, int64_t step);
/**
 * Y = alpha op(A) X + beta Y with A sparse (npde_csr) and X, Y dense blocks:
 * op(A) is rows x cols (NO_TRANS) or cols x rows (TRANS), X has op(A)'s
 * columns as rows and Y its rows, both w columns wide. beta = 0 writes Y
 * without reading it. Every element of Y is a sum in the order of A's
 * entries (by row, then k), so a backend's result does not depend on its
 * threads: Y[i] = alpha (sum_k a_k X[colind_k]) + beta Y[i] (NO_TRANS),
 * Y[j] = beta Y[j] + sum over entries k of column j, in order, of
 * a_k (alpha X[i_k]) (TRANS). Y must not alias X. Since: ABI 1.3
 */
NPDE_API NPDE_NODISCARD npde_status npde_backend_csrmm(npde_backend *be, npde_trans ta, double alpha, const npde_csr *A,
                                                       const npde_mat *X, double beta, npde_mat *Y);
/** B = A^T (A is m x n, B is n x m; no aliasing). */
NPDE_API NPDE_NODISCARD npde_status npde_backend_transpose(npde_backend *be, const npde_mat *A, npde_mat *B);
/** Y_k[i, :] = s[i] X_k[i, :] for the m stacked n x w blocks; s has n entries. Y may be X. */
NPDE_API NPDE_NODISCARD npde_status npde_backend_row_scale(npde_backend *be, const npde_mat *s, const npde_mat *X,
                                                           npde_mat *Y, int64_t m);
/** y = alpha (column sums of X) + beta y; X is n x w, y has w entries. */
NPDE_API NPDE_NODISCARD npde_status npde_backend_col_sums(npde_backend *be, double alpha, const npde_mat *X, double beta,
                                                          npde_mat *y);
/** X[i, :] += alpha b for every row; b has w = X.cols entries. */
NPDE_API NPDE_NODISCARD npde_status npde_backend_add_row(npde_backend *be, double alpha, const npde_mat *b, npde_mat *X);

/* ---- random numbers (npde_philox.h defines the streams bit for bit) ---- */
/** out[e] = lo + (hi - lo) u_e, e = i * cols + j, from Philox (seed, stream, counter). */
NPDE_API NPDE_NODISCARD npde_status npde_backend_rng_uniform(npde_backend *be, uint64_t seed, uint64_t stream,
                                                             uint64_t counter, double lo, double hi, npde_mat *out);
/** out[e] = mean + std z_e, z by Box-Muller on the same blocks. */
NPDE_API NPDE_NODISCARD npde_status npde_backend_rng_normal(npde_backend *be, uint64_t seed, uint64_t stream,
                                                            uint64_t counter, double mean, double std, npde_mat *out);

#ifdef __cplusplus
}
#endif
#endif
