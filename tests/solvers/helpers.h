/* Shared pieces of the solver tests: a registry with the cpu backend and the
 * solver plugins, a host RNG, random orthogonal matrices, and an explicit
 * symmetric operator (a backend gemv/gemm with a dense matrix). */
#ifndef NPDE_TEST_SOLVERS_HELPERS_H
#define NPDE_TEST_SOLVERS_HELPERS_H

#include <stdint.h>

#include "npde/npde.h"

typedef struct th_env {
  npde_registry *reg;
  npde_backend *be;
} th_env;

/* cpu, cg, nystrom and dense from the build tree's plugin directory. */
void th_env_init(th_env *e);
void th_env_fini(th_env *e);

/* Assert an npde call succeeded, with its status and message. */
#define OK(call)                                                                                            \
  do {                                                                                                      \
    npde_status st_ = (call);                                                                               \
    cr_assert_eq(st_, NPDE_OK, "%s returned %d (%s): %s", #call, (int)st_, npde_status_str(st_),            \
                 npde_last_error());                                                                        \
  } while (0)

/* A linsolver / precond from YAML text, on the environment's backend. */
npde_linsolver *th_linsolver(const th_env *e, const char *yaml);
npde_precond *th_precond(const th_env *e, const char *yaml);

/* xorshift64* with Box-Muller; deterministic per seed. */
typedef struct th_rng {
  uint64_t s;
} th_rng;
double th_uniform(th_rng *r);
double th_normal(th_rng *r);
void th_normal_fill(th_rng *r, double *v, int64_t n);

/* Q (n x n, row-major) orthogonal: QR of a Gaussian matrix (dgeqrf, dorgqr). */
void th_random_orthogonal(th_rng *r, int64_t n, double *Q);
/* A = Q diag(lambda) Q^T with a random orthogonal Q. */
void th_from_spectrum(th_rng *r, int64_t n, const double *lambda, double *A);
/* Eigenvalues of a symmetric n x n matrix, descending (dsyevd; A is kept). */
void th_eigvals_desc(int64_t n, const double *A, double *w);

/* The explicit operator: A in backend memory; counts its products. */
typedef struct th_op {
  npde_linop op;
  npde_backend *be;
  void *a;
  int64_t n;
  npde_dtype dtype;
  const double *host; /* the caller's matrix, borrowed */
  int64_t matvecs, matmats, matmat_cols;
} th_op;
void th_op_init(th_op *o, npde_backend *be, const double *A, int64_t n, npde_dtype dtype);
void th_op_fini(th_op *o);

/* Backend vectors of the operator's dtype, filled from / read into doubles. */
void *th_vec_new(npde_backend *be, const double *h, int64_t n, npde_dtype dtype);
void th_vec_get(npde_backend *be, const void *d, double *h, int64_t n, npde_dtype dtype);
npde_mat th_vec_view(void *d, int64_t n, npde_dtype dtype);

/* ||b - (A + shift I) x|| on the host, in double. */
double th_residual(int64_t n, const double *A, double shift, const double *x, const double *b);
double th_norm(int64_t n, const double *v);
/* ||x - y|| / ||y|| */
double th_rel_diff(int64_t n, const double *x, const double *y);

/* A component's get_proc (extensions), from a handle. */
void *th_get_proc(const void *handle, const char *name);

#endif
