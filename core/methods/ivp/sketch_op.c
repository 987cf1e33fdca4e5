/* The operator the preconditioner is sketched from (docs/methods/neural-ivp.md §4.8):
 * M = J^T J / n of the step's samples, by two structural facts the plain
 * operator does not use.
 *
 * Precision. A preconditioner needs M's leading eigenpairs to a few digits,
 * not to f64 round-off, and the sketch's block product is a step's largest
 * cost; through a single-precision view of the network its gemms run at
 * about twice the rate. The operator presents f64 vectors (the
 * preconditioner's own algebra stays in double) and converts at its edges.
 *
 * Blocks. Each output has its own branch of layers, so output k depends on
 * branch k's parameters alone and M = diag(M_1, ..., M_K), M_k = J_k^T J_k / n
 * on branch k's parameters. The operator says so (npde_linop.n_blocks), and
 * applies one block through a view of that branch alone, at about 1/K of a
 * product: a preconditioner may sketch each block with its own columns.
 *
 * The linear solve keeps the f64 operator, so the system solved is unchanged;
 * only the preconditioner differs. */
#include <stdlib.h>
#include <string.h>

#include "sketch_op.h"

static npde_status grow(npde_backend *be, void **buf, int64_t *cap, int64_t elems, size_t es) {
  if (*cap >= elems) return NPDE_OK;
  npde_backend_free(be, *buf);
  *buf = NULL;
  *cap = 0;
  NPDE_TRY(npde_backend_alloc(be, (size_t)elems * es, buf));
  *cap = elems;
  return NPDE_OK;
}

/* Y = M_k X (k: a view's index) for a contiguous f64 block X of that view's parameters. */
static npde_status view_apply(npde__sketch_op *s, int64_t k, const npde_mat *X, npde_mat *Y) {
  if (s->dtype == NPDE_F64) return npde_linearization_mv(s->lins[k], X, Y);
  const int64_t p = X->rows, m = X->cols;
  NPDE_TRY(grow(s->be, &s->in, &s->in_cap, p * m, sizeof(float)));
  NPDE_TRY(grow(s->be, &s->out, &s->out_cap, p * m, sizeof(float)));
  npde_mat Xf = npde_mat_view(s->in, NPDE_F32, p, m), Yf = npde_mat_view(s->out, NPDE_F32, p, m);
  NPDE_TRY(npde_backend_convert(s->be, X, &Xf));
  NPDE_TRY(npde_linearization_mv(s->lins[k], &Xf, &Yf));
  return npde_backend_convert(s->be, &Yf, Y);
}

static npde_status sketch_block_matmat(void *ctx, int64_t k, const npde_mat *X, npde_mat *Y) {
  npde__sketch_op *s = ctx;
  if (k < 0 || k >= s->n_views || X->rows != s->block_start[k + 1] - s->block_start[k])
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "sketch operator: block %lld of %lld, or %lld rows for it",
                      (long long)k, (long long)s->n_views, (long long)X->rows);
  return view_apply(s, k, X, Y);
}

/* The whole operator: block by block (rows of a row-major block are contiguous). */
static npde_status sketch_matmat(void *ctx, const npde_mat *X, npde_mat *Y) {
  npde__sketch_op *s = ctx;
  for (int64_t k = 0; k < s->n_views; ++k) {
    const int64_t r0 = s->block_start[k], rows = s->block_start[k + 1] - r0;
    npde_mat Xk = npde_mat_sub(*X, r0, 0, rows, X->cols), Yk = npde_mat_sub(*Y, r0, 0, rows, Y->cols);
    if (X->cols == 1 && (X->ld != 1 || Y->ld != 1)) { /* a strided vector: through contiguous copies */
      NPDE_TRY(grow(s->be, &s->vec, &s->vec_cap, 2 * rows, sizeof(double)));
      npde_mat x = npde_mat_view(s->vec, NPDE_F64, rows, 1), y = npde_mat_view((double *)s->vec + rows, NPDE_F64, rows, 1);
      NPDE_TRY(npde_backend_copy(s->be, &Xk, &x));
      NPDE_TRY(view_apply(s, k, &x, &y));
      NPDE_TRY(npde_backend_copy(s->be, &y, &Yk));
    } else {
      NPDE_TRY(view_apply(s, k, &Xk, &Yk));
    }
  }
  return NPDE_OK;
}

static npde_status sketch_init(npde__sketch_op *s, npde_network *net, npde_dtype dtype, bool per_output) {
  const int64_t K = npde_network_outputs(net);
  s->be = npde_network_backend(net);
  s->dtype = dtype;
  s->n_views = per_output ? K : 1;
  s->views = calloc((size_t)s->n_views, sizeof *s->views);
  s->lins = calloc((size_t)s->n_views, sizeof *s->lins);
  s->block_start = calloc((size_t)s->n_views + 1, sizeof *s->block_start);
  if (!s->views || !s->lins || !s->block_start) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  for (int64_t k = 0; k < s->n_views; ++k) {
    NPDE_TRY(npde_network_view(net, per_output ? k : 0, per_output ? 1 : K, dtype, &s->views[k]));
    s->block_start[k + 1] = s->block_start[k] + npde_network_n_params(s->views[k]);
  }
  return NPDE_OK;
}

npde_status npde__sketch_op_update(npde__sketch_op *s, npde_network *net, npde_dtype dtype, bool per_output,
                                   const npde_mat *theta, const npde_mat *X, const npde_mat *row_scale,
                                   npde_linop *out) {
  if (!s->views) NPDE_TRY(sketch_init(s, net, dtype, per_output));
  const int64_t p = npde_network_n_params(net), n = X->rows, d = X->cols;
  npde_mat th = *theta, xs = *X, sc = row_scale ? *row_scale : (npde_mat){0};
  if (row_scale && dtype == NPDE_F32) {
    NPDE_TRY(grow(s->be, &s->scale, &s->scale_cap, n, sizeof(float)));
    sc = npde_mat_view(s->scale, NPDE_F32, n, 1);
    NPDE_TRY(npde_backend_convert(s->be, row_scale, &sc));
  }
  if (dtype == NPDE_F32) { /* f32 copies, which stay put while the linearisations (holding views of them) live */
    NPDE_TRY(grow(s->be, &s->theta, &s->theta_cap, p, sizeof(float)));
    NPDE_TRY(grow(s->be, &s->x, &s->x_cap, n * d, sizeof(float)));
    th = npde_mat_view(s->theta, NPDE_F32, p, 1);
    xs = npde_mat_view(s->x, NPDE_F32, n, d);
    NPDE_TRY(npde_backend_convert(s->be, theta, &th));
    NPDE_TRY(npde_backend_convert(s->be, X, &xs));
  }
  for (int64_t k = 0; k < s->n_views; ++k) {
    const npde_mat tk = npde_mat_sub(th, s->block_start[k], 0, s->block_start[k + 1] - s->block_start[k], 1);
    NPDE_TRY(s->lins[k] ? npde_linearization_update(s->lins[k], &tk, &xs)
                        : npde_linearization_create(s->views[k], &tk, &xs, &s->lins[k]));
    if (row_scale) NPDE_TRY(npde_linearization_scale_rows(s->lins[k], &sc));
  }
  *out = (npde_linop){.n = p, .dtype = NPDE_F64, .matvec = sketch_matmat, .matmat = sketch_matmat, .ctx = s,
                      .n_blocks = per_output ? s->n_views : 0, .block_start = per_output ? s->block_start : NULL,
                      .block_matmat = per_output ? sketch_block_matmat : NULL};
  return NPDE_OK;
}

void npde__sketch_op_free(npde__sketch_op *s) {
  for (int64_t k = 0; s->lins && k < s->n_views; ++k) npde_linearization_destroy(&s->lins[k]);
  for (int64_t k = 0; s->views && k < s->n_views; ++k) npde_network_destroy(&s->views[k]);
  free(s->lins);
  free(s->views);
  free(s->block_start);
  if (s->be) {
    void *bufs[] = {s->theta, s->x, s->in, s->out, s->vec, s->scale};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; ++i) npde_backend_free(s->be, bufs[i]);
  }
  memset(s, 0, sizeof *s);
}
