/* Shared pieces of the solver tests (helpers.h). */
#include "helpers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <criterion/criterion.h>
#include <lapacke.h>

#define OK(call)                                                                                            \
  do {                                                                                                      \
    npde_status st_ = (call);                                                                               \
    cr_assert_eq(st_, NPDE_OK, "%s returned %d (%s): %s", #call, (int)st_, npde_status_str(st_),            \
                 npde_last_error());                                                                        \
  } while (0)

void th_env_init(th_env *e) {
  memset(e, 0, sizeof *e);
  OK(npde_registry_create(&e->reg));
  static const char *const plugins[] = {"npde_cpu.so", "npde_cg.so", "npde_nystrom.so", "npde_dense.so"};
  for (size_t i = 0; i < sizeof plugins / sizeof plugins[0]; ++i) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", npde_registry_default_dir(), plugins[i]);
    OK(npde_registry_load_path(e->reg, path));
  }
  OK(npde_backend_create(e->reg, "cpu", NULL, &e->be));
}

void th_env_fini(th_env *e) {
  npde_backend_destroy(&e->be);
  npde_registry_destroy(&e->reg);
}

double th_uniform(th_rng *r) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  uint64_t v = r->s * 2685821657736338717ull;
  return ((double)(v >> 11) + 0.5) * 0x1.0p-53;
}

double th_normal(th_rng *r) {
  double u1 = th_uniform(r), u2 = th_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void th_normal_fill(th_rng *r, double *v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) v[i] = th_normal(r);
}

void th_random_orthogonal(th_rng *r, int64_t n, double *Q) {
  double *tau = malloc((size_t)n * sizeof *tau);
  cr_assert(tau);
  th_normal_fill(r, Q, n * n);
  cr_assert_eq(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)n, Q, (lapack_int)n, tau), 0);
  cr_assert_eq(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)n, (lapack_int)n, Q, (lapack_int)n, tau),
               0);
  free(tau);
}

void th_from_spectrum(th_rng *r, int64_t n, const double *lambda, double *A) {
  double *Q = malloc((size_t)(n * n) * sizeof *Q), *QL = malloc((size_t)(n * n) * sizeof *QL);
  cr_assert(Q && QL);
  th_random_orthogonal(r, n, Q);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) QL[i * n + j] = Q[i * n + j] * lambda[j];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)n, 1.0, QL, (int)n, Q, (int)n, 0.0, A,
              (int)n);
  for (int64_t i = 0; i < n; ++i) /* exactly symmetric */
    for (int64_t j = 0; j < i; ++j) A[i * n + j] = A[j * n + i] = 0.5 * (A[i * n + j] + A[j * n + i]);
  free(Q);
  free(QL);
}

void th_eigvals_desc(int64_t n, const double *A, double *w) {
  double *c = malloc((size_t)(n * n) * sizeof *c), *tmp = malloc((size_t)n * sizeof *tmp);
  cr_assert(c && tmp);
  memcpy(c, A, (size_t)(n * n) * sizeof *c);
  cr_assert_eq(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)n, c, (lapack_int)n, tmp), 0);
  for (int64_t i = 0; i < n; ++i) w[i] = tmp[n - 1 - i];
  free(c);
  free(tmp);
}

static npde_status op_matvec(void *ctx, const npde_mat *x, npde_mat *y) {
  th_op *o = ctx;
  o->matvecs++;
  npde_mat A = npde_mat_view(o->a, o->dtype, o->n, o->n);
  return npde_backend_gemv(o->be, NPDE_NO_TRANS, 1.0, &A, x, 0.0, y);
}

static npde_status op_matmat(void *ctx, const npde_mat *X, npde_mat *Y) {
  th_op *o = ctx;
  o->matmats++;
  o->matmat_cols += X->cols;
  npde_mat A = npde_mat_view(o->a, o->dtype, o->n, o->n);
  return npde_backend_gemm(o->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &A, X, 0.0, Y);
}

void th_op_init(th_op *o, npde_backend *be, const double *A, int64_t n, npde_dtype dtype) {
  memset(o, 0, sizeof *o);
  o->be = be;
  o->n = n;
  o->dtype = dtype;
  o->host = A;
  o->a = th_vec_new(be, A, n * n, dtype);
  o->op = (npde_linop){.n = n, .dtype = dtype, .matvec = op_matvec, .matmat = op_matmat, .ctx = o};
}

void th_op_fini(th_op *o) {
  npde_backend_free(o->be, o->a);
  o->a = NULL;
}

void *th_vec_new(npde_backend *be, const double *h, int64_t n, npde_dtype dtype) {
  void *d = NULL;
  OK(npde_backend_alloc(be, (size_t)n * npde_dtype_size(dtype), &d));
  if (dtype == NPDE_F64) {
    OK(npde_backend_upload(be, d, h, (size_t)n * sizeof(double)));
  } else {
    float *f = malloc((size_t)n * sizeof *f);
    cr_assert(f);
    for (int64_t i = 0; i < n; ++i) f[i] = (float)h[i];
    OK(npde_backend_upload(be, d, f, (size_t)n * sizeof(float)));
    free(f);
  }
  return d;
}

void th_vec_get(npde_backend *be, const void *d, double *h, int64_t n, npde_dtype dtype) {
  if (dtype == NPDE_F64) {
    OK(npde_backend_download(be, h, d, (size_t)n * sizeof(double)));
  } else {
    float *f = malloc((size_t)n * sizeof *f);
    cr_assert(f);
    OK(npde_backend_download(be, f, d, (size_t)n * sizeof(float)));
    for (int64_t i = 0; i < n; ++i) h[i] = f[i];
    free(f);
  }
}

npde_mat th_vec_view(void *d, int64_t n, npde_dtype dtype) { return npde_mat_view(d, dtype, n, 1); }

double th_residual(int64_t n, const double *A, double shift, const double *x, const double *b) {
  double *r = malloc((size_t)n * sizeof *r);
  cr_assert(r);
  memcpy(r, b, (size_t)n * sizeof *r);
  cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, -1.0, A, (int)n, x, 1, 1.0, r, 1);
  cblas_daxpy((int)n, -shift, x, 1, r, 1);
  double v = cblas_dnrm2((int)n, r, 1);
  free(r);
  return v;
}

double th_norm(int64_t n, const double *v) { return cblas_dnrm2((int)n, v, 1); }

double th_rel_diff(int64_t n, const double *x, const double *y) {
  double d = 0.0, s = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    d += (x[i] - y[i]) * (x[i] - y[i]);
    s += y[i] * y[i];
  }
  return sqrt(d) / (s > 0.0 ? sqrt(s) : 1.0);
}

void *th_get_proc(const void *handle, const char *name) {
  const npde_component_info *info = npde_object_component(handle);
  cr_assert(info && info->desc && info->desc->ops);
  const npde_ops_common *ops = info->desc->ops;
  return ops->get_proc ? ops->get_proc(name) : NULL;
}

npde_linsolver *th_linsolver(const th_env *e, const char *yaml) {
  npde_config *cfg = NULL;
  npde_linsolver *ls = NULL;
  OK(npde_config_load_string(yaml, "<test>", &cfg));
  OK(npde_linsolver_create(e->reg, NULL, cfg, e->be, &ls));
  npde_config_destroy(&cfg);
  return ls;
}

npde_precond *th_precond(const th_env *e, const char *yaml) {
  npde_config *cfg = NULL;
  npde_precond *pc = NULL;
  OK(npde_config_load_string(yaml, "<test>", &cfg));
  OK(npde_precond_create(e->reg, NULL, cfg, e->be, &pc));
  npde_config_destroy(&cfg);
  return pc;
}
