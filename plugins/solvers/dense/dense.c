/* dense: the EDNN-style baseline (docs/methods/neural-ivp.md §4.6): form the explicit
 * n x n matrix, add the shift to its diagonal, Cholesky-factorise and solve on
 * the host (LAPACKE dpotrf + dpotrs), and upload x. The matrix comes from the
 * operator's own `form` when it has one (a network's M = J^T J / n from
 * per-point gradients and a gemm per output branch), else from applying A to
 * blocks of identity columns (n operator columns). O(n^2) memory (twice that
 * with `form`: a backend copy and the host's), kept from one solve to the next
 * of the same size, plus n^3/3 flops per solve: the cost the paper's
 * matrix-free CG avoids.
 *
 * Refuses (NPDE_ERR_INVALID_ARG, with the memory it would need) when n >
 * max_n or the matrix would exceed max_memory_mb. The warm start is ignored.
 * Reports iterations = 0, no history, and the true residual
 * ||b - (A + shift I) x|| recomputed with one more product.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lapacke.h>

#include "npde/plugin/npde_ext.h"

typedef struct dense_work {
  void *e, *ae;  /* n x c backend blocks: identity columns and their images (c = 1 with form: b and x) */
  void *dev;     /* n x n backend matrix that form writes (NULL on the column path) */
  double *m;     /* n x n host matrix */
  double *tmp;   /* n x c host block */
  int64_t n, c;  /* the sizes held */
} dense_work;

typedef struct dense_state {
  npde_backend *be;
  int64_t max_n, max_memory_mb, chunk;
  bool by_columns; /* assemble: columns, even when the operator can form itself */
  dense_work w;    /* kept across solves: an integrator's stages solve systems of one size */
} dense_state;

static npde_status dense_create(npde_linsolver *ls, const npde_config *cfg, npde_backend *be) {
  dense_state *s = npde_linsolver_state(ls);
  if (!be) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "dense: needs a backend");
  s->be = be;
  NPDE_TRY(npde_config_get_int(cfg, "max_n", &s->max_n));
  NPDE_TRY(npde_config_get_int(cfg, "max_memory_mb", &s->max_memory_mb));
  NPDE_TRY(npde_config_get_int(cfg, "chunk", &s->chunk));
  static const char *const assemble[] = {"operator", "columns"};
  int which = 0;
  NPDE_TRY(npde_config_get_enum(cfg, "assemble", assemble, 2, &which));
  s->by_columns = which == 1;
  return NPDE_OK;
}

static npde_mat as_col(const npde_mat *v) {
  if (v->cols == 1) return *v;
  npde_mat c = *v;
  c.rows = v->cols;
  c.cols = 1;
  c.ld = 1;
  return c;
}

static void work_free(dense_state *s, dense_work *w) {
  if (w->e) npde_backend_free(s->be, w->e);
  if (w->ae) npde_backend_free(s->be, w->ae);
  if (w->dev) npde_backend_free(s->be, w->dev);
  npde_free(w->m);
  npde_free(w->tmp);
  memset(w, 0, sizeof *w);
}

/* Buffers for an n x n system, c columns per block product, and the backend matrix when the operator forms itself;
 * the ones held are reused when the sizes match. */
static npde_status work_reserve(dense_state *s, int64_t n, int64_t c, bool with_dev) {
  dense_work *w = &s->w;
  if (w->m && w->n == n && w->c == c && (w->dev != NULL) == with_dev) return NPDE_OK;
  work_free(s, w);
  const size_t es = sizeof(double);
  NPDE_TRY(npde_backend_alloc(s->be, (size_t)n * (size_t)c * es, &w->e));
  NPDE_TRY(npde_backend_alloc(s->be, (size_t)n * (size_t)c * es, &w->ae));
  if (with_dev) NPDE_TRY(npde_backend_alloc(s->be, (size_t)n * (size_t)n * es, &w->dev));
  w->m = npde_alloc((size_t)n * (size_t)n * es);
  w->tmp = npde_alloc((size_t)n * (size_t)c * es);
  if (!w->m || !w->tmp) {
    work_free(s, w);
    return NPDE_ERROR(NPDE_ERR_NOMEM, "dense: cannot allocate the %lld x %lld host matrix", (long long)n, (long long)n);
  }
  w->n = n;
  w->c = c;
  return NPDE_OK;
}

static void dense_destroy(npde_linsolver *ls) {
  dense_state *s = npde_linsolver_state(ls);
  work_free(s, &s->w);
}

static bool uses_form(const dense_state *s, const npde_linop *A) { return A->form && !s->by_columns; }

/* y = (A + shift I) x */
static npde_status apply_op(dense_state *s, const npde_linop *A, double shift, const npde_mat *x, npde_mat *y) {
  NPDE_TRY(A->matvec(A->ctx, x, y));
  if (shift != 0.0) NPDE_TRY(npde_backend_axpy(s->be, shift, x, y));
  return NPDE_OK;
}

/* The explicit matrix, c columns at a time: A [e_j0 ... e_j0+w-1]. */
static npde_status form_by_columns(dense_state *s, dense_work *w, const npde_linop *A, int64_t n, int64_t c) {
  npde_backend *be = s->be;
  const size_t es = sizeof(double);
  npde_mat E = npde_mat_view(w->e, NPDE_F64, n, c);
  NPDE_TRY(npde_backend_fill(be, &E, 0.0));
  for (int64_t j0 = 0; j0 < n; j0 += c) {
    const int64_t wd = n - j0 < c ? n - j0 : c;
    npde_mat Ew = npde_mat_view(w->e, NPDE_F64, n, wd), AEw = npde_mat_view(w->ae, NPDE_F64, n, wd);
    /* the ones of Ew: elements (j0 + k, k), a strided vector of stride wd + 1 */
    npde_mat diag = {.data = (double *)w->e + j0 * wd, .rows = wd, .cols = 1, .ld = wd + 1, .dtype = NPDE_F64};
    NPDE_TRY(npde_backend_fill(be, &diag, 1.0));
    NPDE_TRY(npde_linop_apply_block(A, &Ew, &AEw));
    NPDE_TRY(npde_backend_fill(be, &diag, 0.0)); /* E is zero again for the next width */
    NPDE_TRY(npde_backend_download(be, w->tmp, w->ae, (size_t)(n * wd) * es));
    for (int64_t i = 0; i < n; ++i) memcpy(w->m + i * n + j0, w->tmp + i * wd, (size_t)wd * es);
  }
  return NPDE_OK;
}

static npde_status solve_with(dense_state *s, const npde_linop *A, double shift, const npde_mat *b, npde_mat *x,
                              npde_solve_stats *st) {
  npde_backend *be = s->be;
  dense_work *w = &s->w;
  const bool form = uses_form(s, A);
  const int64_t n = A->n, c = form ? 1 : s->chunk < n ? s->chunk : n;
  const size_t es = sizeof(double);
  NPDE_TRY(work_reserve(s, n, c, form));
  if (form) { /* the operator forms itself (a network's M from per-point gradients) */
    npde_mat Md = npde_mat_view(w->dev, NPDE_F64, n, n);
    NPDE_TRY(A->form(A->ctx, &Md));
    NPDE_TRY(npde_backend_download(be, w->m, w->dev, (size_t)n * (size_t)n * es));
  } else {
    NPDE_TRY(form_by_columns(s, w, A, n, c));
  }
  for (int64_t i = 0; i < n; ++i) {
    if (!isfinite(w->m[i * n + i]))
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "dense: the operator's column %lld has NaN or Inf", (long long)i);
    w->m[i * n + i] += shift;
  }
  lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, w->m, (lapack_int)n);
  if (info > 0)
    return NPDE_ERROR(NPDE_ERR_NUMERIC, "dense: A + shift I (shift %g) is not positive definite: Cholesky fails at "
                      "leading minor %d of %lld", shift, (int)info, (long long)n);
  if (info < 0) return NPDE_ERROR(NPDE_ERR_NUMERIC, "dense: dpotrf argument %d invalid", (int)-info);

  /* b -> host (through a contiguous backend vector), solve, x <- host */
  npde_mat v1 = npde_mat_view(w->e, NPDE_F64, n, 1), v2 = npde_mat_view(w->ae, NPDE_F64, n, 1);
  NPDE_TRY(npde_backend_copy(be, b, &v1));
  NPDE_TRY(npde_backend_download(be, w->tmp, w->e, (size_t)n * es));
  info = LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, 1, w->m, (lapack_int)n, w->tmp, 1);
  if (info != 0) return NPDE_ERROR(NPDE_ERR_NUMERIC, "dense: dpotrs failed (info %d)", (int)info);
  for (int64_t i = 0; i < n; ++i)
    if (!isfinite(w->tmp[i])) return NPDE_ERROR(NPDE_ERR_NUMERIC, "dense: the solution has NaN or Inf");
  NPDE_TRY(npde_backend_upload(be, w->e, w->tmp, (size_t)n * es));
  NPDE_TRY(npde_backend_copy(be, &v1, x));

  /* the true residual */
  double rn;
  NPDE_TRY(apply_op(s, A, shift, x, &v2));
  NPDE_TRY(npde_backend_copy(be, b, &v1));
  NPDE_TRY(npde_backend_axpy(be, -1.0, &v2, &v1));
  NPDE_TRY(npde_backend_nrm2(be, &v1, &rn));
  if (st) st->residual_norm = rn;
  return NPDE_OK;
}

static void format_bytes(double bytes, char *buf, size_t size) {
  snprintf(buf, size, "%.1f MiB (%.2f GiB)", bytes / (1024.0 * 1024.0), bytes / (1024.0 * 1024.0 * 1024.0));
}

static npde_status dense_solve(npde_linsolver *ls, const npde_linop *A, double shift, npde_precond *P,
                               const npde_mat *bin, npde_mat *xin, npde_solve_stats *st) {
  dense_state *s = npde_linsolver_state(ls);
  const int64_t n = A->n;
  if (st) {
    st->iterations = 0;
    st->history_len = 0;
    st->rhs_norm = 0.0;
    st->residual_norm = 0.0;
  }
  if (A->dtype != NPDE_F64)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "dense: only f64 operators are supported (the host Cholesky runs "
                      "in double); got an f32 operator");
  const double need = (double)n * (double)n * 8.0 * (uses_form(s, A) ? 2.0 : 1.0);
  const double limit = (double)s->max_memory_mb * 1024.0 * 1024.0;
  if (n > s->max_n || need > limit) {
    char nb[64];
    format_bytes(need, nb, sizeof nb);
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "dense: n = %lld needs explicit %lld x %lld matrices of %s, over the "
                      "limits max_n = %lld, max_memory_mb = %lld; use cg (with the nystrom preconditioner) instead",
                      (long long)n, (long long)n, (long long)n, nb, (long long)s->max_n, (long long)s->max_memory_mb);
  }
  if (P) npde_log(NPDE_LOG_DEBUG, "dense: the preconditioner is not used by a direct solve");
  npde_mat b = as_col(bin), x = as_col(xin);
  double bnorm;
  NPDE_TRY(npde_backend_nrm2(s->be, &b, &bnorm));
  if (!isfinite(bnorm))
    return NPDE_ERROR(NPDE_ERR_NUMERIC, "dense: ||b|| = %g: the right-hand side has NaN or Inf", bnorm);
  if (st) st->rhs_norm = bnorm;
  if (bnorm == 0.0) {
    NPDE_TRY(npde_backend_fill(s->be, &x, 0.0));
    return NPDE_OK;
  }
  npde_status res = solve_with(s, A, shift, &b, &x, st);
  if (res < 0) return npde_trace_error(res, __func__, __FILE__, __LINE__);
  return res;
}

static const npde_linsolver_ops dense_ops = {
    .struct_size = sizeof(npde_linsolver_ops),
    .create = dense_create,
    .destroy = dense_destroy,
    .solve = dense_solve,
};

static const npde_param_spec dense_params[] = {
    {.name = "max_n", .type = NPDE_PARAM_INT, .default_value = "20000",
     .doc = "refuse operators larger than this (the matrix is n x n doubles on the host)", .min = 1,
     .flags = NPDE_PARAM_HAS_MIN},
    {.name = "max_memory_mb", .type = NPDE_PARAM_INT, .default_value = "4096",
     .doc = "refuse when the n x n matrix would need more than this many MiB", .min = 1,
     .flags = NPDE_PARAM_HAS_MIN},
    {.name = "chunk", .type = NPDE_PARAM_INT, .default_value = "256",
     .doc = "identity columns per block product while forming the matrix", .min = 1,
     .flags = NPDE_PARAM_HAS_MIN},
    {.name = "assemble", .type = NPDE_PARAM_ENUM, .default_value = "operator", .choices = "operator|columns",
     .doc = "operator: the operator's own explicit form when it has one (a network's M from per-point gradients), "
            "else columns; columns: n block products of identity columns"},
    {0},
};

const npde_component_desc dense_linsolver_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_LINSOLVER,
    .name = "dense",
    .summary = "explicit matrix from operator columns, host Cholesky (EDNN-style baseline)",
    .ops = &dense_ops,
    .state_size = sizeof(dense_state),
    .params = dense_params,
};
