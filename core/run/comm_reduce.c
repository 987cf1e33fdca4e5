/* Reductions of backend memory over the ranks (comm_reduce.h): host staging
 * where the backend's memory is not the host's, the replicated-parameter
 * check, and operators summed over ranks. */
#include <stdlib.h>

#include "comm_reduce.h"
#include "npde/npde_comm.h"


/* The n doubles of a contiguous F64 view where the host can read them: the view itself when the backend's
 * memory is the host's (no copy: reductions sit inside CG), else s's staging copy (*copied). */
static npde_status host_view(npde_backend *be, const npde_mat *m, npde__comm_scratch *s, double **out, bool *copied) {
  if (m->dtype != NPDE_F64 || (m->ld != m->cols && m->rows > 1))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "allreduce: the view must be contiguous double precision");
  const int64_t n = m->rows * m->cols;
  *copied = npde_backend_memtype(be) != NPDE_MEM_HOST;
  if (!*copied) {
    *out = m->data;
    return NPDE_OK;
  }
  if ((size_t)n > s->cap) {
    double *h = realloc(s->host, (size_t)n * sizeof *h);
    if (!h) return NPDE_ERROR(NPDE_ERR_NOMEM, "allreduce: out of memory for %lld values", (long long)n);
    s->host = h;
    s->cap = (size_t)n;
  }
  *out = s->host;
  return npde_backend_download(be, s->host, m->data, (size_t)n * sizeof(double));
}

npde_status npde__comm_allreduce_mat(npde_backend *be, npde_mat *m, npde__comm_scratch *s) {
  if (npde_comm_size() == 1) return NPDE_OK;
  double *h = NULL;
  bool copied = false;
  NPDE_TRY(host_view(be, m, s, &h, &copied));
  const int64_t n = m->rows * m->cols;
  NPDE_TRY(npde_comm_allreduce(h, n, NPDE_COMM_SUM));
  return copied ? npde_backend_upload(be, m->data, h, (size_t)n * sizeof(double)) : NPDE_OK;
}

npde_status npde__comm_check_replicated(npde_backend *be, const npde_mat *v, npde__comm_scratch *s, const char *what) {
  if (npde_comm_size() == 1) return NPDE_OK;
  double *host = NULL;
  bool copied = false;
  NPDE_TRY(host_view(be, v, s, &host, &copied));
  const int64_t n = v->rows * v->cols;
  uint64_t h = 1469598103934665603ull; /* FNV-1a over the bytes */
  const unsigned char *b = (const unsigned char *)host;
  for (size_t i = 0; i < (size_t)n * sizeof(double); ++i) h = (h ^ b[i]) * 1099511628211ull;
  double m[4] = {(double)(h >> 32), (double)(h & 0xffffffffu)}; /* exact in a double */
  m[2] = -m[0];
  m[3] = -m[1];
  NPDE_TRY(npde_comm_allreduce(m, 4, NPDE_COMM_MAX));
  if (m[0] != -m[2] || m[1] != -m[3])
    return NPDE_ERROR(NPDE_ERR_NUMERIC, "data-parallel: the ranks no longer hold the same %s (rank %d's differ); "
                      "this is a bug or ranks on different hardware: rerun with fewer ranks", what, npde_comm_rank());
  return NPDE_OK;
}

void npde__comm_scratch_free(npde__comm_scratch *s) {
  free(s->host);
  s->host = NULL;
  s->cap = 0;
}

/* Y = scale * sum over ranks of inner(X): each rank's operator sums over its own samples. */
static npde_status dist_reduce(npde__dist_op *d, npde_mat *Y) {
  if (npde_comm_size() == 1) return NPDE_OK;
  if (d->scale != 1.0) NPDE_TRY(npde_backend_scal(d->be, d->scale, Y));
  d->products += Y->cols;
  d->doubles += Y->rows * Y->cols;
  return npde__comm_allreduce_mat(d->be, Y, &d->scratch);
}

static npde_status dist_apply(npde__dist_op *d, const npde_mat *X, npde_mat *Y, bool block) {
  NPDE_TRY(block ? npde_linop_apply_block(&d->inner, X, Y) : d->inner.matvec(d->inner.ctx, X, Y));
  return dist_reduce(d, Y);
}

static npde_status dist_matvec(void *ctx, const npde_mat *x, npde_mat *y) { return dist_apply(ctx, x, y, false); }
static npde_status dist_matmat(void *ctx, const npde_mat *X, npde_mat *Y) { return dist_apply(ctx, X, Y, true); }
static npde_status dist_block_matmat(void *ctx, int64_t k, const npde_mat *X, npde_mat *Y) {
  npde__dist_op *d = ctx;
  NPDE_TRY(d->inner.block_matmat(d->inner.ctx, k, X, Y));
  return dist_reduce(d, Y);
}

static npde_status dist_form(void *ctx, npde_mat *M) {
  npde__dist_op *d = ctx;
  NPDE_TRY(d->inner.form(d->inner.ctx, M));
  return dist_reduce(d, M);
}

npde_linop npde__dist_op_wrap(npde__dist_op *d, npde_linop inner, double scale, npde_backend *be) {
  d->inner = inner;
  d->scale = scale;
  d->be = be;
  if (npde_comm_size() == 1) return inner; /* one rank: the operator itself, bit for bit */
  return (npde_linop){.n = inner.n, .dtype = inner.dtype, .matvec = dist_matvec, .matmat = dist_matmat, .ctx = d,
                      .n_blocks = inner.n_blocks, .block_start = inner.block_start,
                      .block_matmat = inner.block_matmat ? dist_block_matmat : NULL,
                      .form = inner.form ? dist_form : NULL};
}
