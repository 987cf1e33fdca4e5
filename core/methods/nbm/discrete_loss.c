/* npde_discrete.h: the NBM loss over a table of stencils.
 *
 * The table holds, per collocation point, its residual's weights over the
 * distinct samples (x, side) of all points: samples that neighbouring
 * points share are evaluated once. Positions are merged on a lattice of
 * 1e-6 h, because the kernel computes p + o h from different p and equal
 * positions may differ in their last bits. A batch gathers its rows'
 * samples, runs the network there once (both outputs; a sample reads the
 * output of its side), and pulls the cotangent W^T (m^2 r) / B back.
 *
 * The batch's rows of the table are a sparse matrix W over the batch's
 * samples (side 0's, then side 1's), kept in backend memory with its
 * transpose, so that a Gauss-Newton product J^T W^T M^2 W J v runs on the
 * backend from end to end (npde_backend_csrmm): nothing is downloaded or
 * uploaded per CG iteration. W^T is built once per batch on the host (a
 * stable counting sort of W's entries by column), not by every product:
 * the structure is fixed while CG runs. Its rows list their entries in W's
 * order, so W^T y adds them as W's transposed product would. The loss value
 * is summed on the host, from one download of the network's values per
 * eval. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde_discrete.h"
#include "npde/npde_log.h"

struct npde_discrete_loss {
  npde_backend *be;
  npde_network *net;
  int64_t p, n_points;
  double h[3], lo[3];
  /* the table */
  int64_t n_samples, crossed;
  double *sx;      /* n_samples x 3 */
  int32_t *side;   /* n_samples */
  int64_t *rowptr; /* n_points + 1 */
  int64_t *col;
  double *w, *w0;
  /* the batch of the last eval */
  const int64_t *rows; /* borrowed from the caller for the eval's duration; NULL: all */
  int64_t nrows;
  const double *mask;
  bool gathered_full;  /* the gathered samples are all of them (reusable) */
  bool linearised;
  int64_t *local, *stamp, stamp_now; /* sample -> index among its side's samples in the batch */
  /* the batch's rows as a CSR matrix W over its samples, side 0's columns first (host and backend copies) */
  int64_t *brow, *bcol;
  double *bval;
  void *d_brow, *d_bcol, *d_bval;
  npde_csr W;
  /* its transpose, samples x rows: the same entries by column, in W's order within each column */
  int64_t *trow, *tcol, *tnext;
  double *tval;
  void *d_trow, *d_tcol, *d_tval;
  npde_csr WT;
  int64_t rows_cap, nnz_cap;
  double *r, *m2;      /* host: the residuals, the squared masks of the batch's rows */
  void *y_dev, *m2_dev; /* backend: residuals (or W J v) scaled by m2, and m2 */
  /* every sample's value (side 0's, then side 1's) and the cotangent W^T m^2 y */
  double *uh;
  void *u_dev, *c_dev;
  int64_t u_cap;
  /* per side: the branch of the network that side's samples are evaluated with */
  struct side {
    npde_network *net; /* a view of the network's output branch (npde_network_branch) */
    int64_t off, count; /* its parameters in theta */
    int64_t m, m_cap, first; /* first: its first column of W */
    double *xh;
    void *x_dev;
    npde_linearization *lin;
  } sd[2];
};

/* ------------------------------------------------------------ the table */

typedef struct hash {
  int64_t cap;
  int64_t *keys; /* 4 per slot: lattice coordinates and side */
  int64_t *id;   /* -1: empty */
} hash;

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xbf58476d1ce4e5b9ull;
}

static npde_status hash_init(hash *h, int64_t expected) {
  h->cap = 1024;
  while (h->cap < 2 * expected) h->cap *= 2;
  h->keys = malloc((size_t)h->cap * 4 * sizeof *h->keys);
  h->id = malloc((size_t)h->cap * sizeof *h->id);
  if (!h->keys || !h->id) return NPDE_ERROR(NPDE_ERR_NOMEM, "discrete loss: out of memory for the sample table");
  for (int64_t i = 0; i < h->cap; ++i) h->id[i] = -1;
  return NPDE_OK;
}

static void hash_free(hash *h) {
  free(h->keys), free(h->id);
  memset(h, 0, sizeof *h);
}

/* The id of key k, inserting next_id if absent (*inserted). The load stays below 1/2. */
static int64_t hash_get(hash *h, const int64_t k[4], int64_t next_id, bool *inserted) {
  uint64_t s = 0;
  for (int i = 0; i < 4; ++i) s = mix(s, (uint64_t)k[i]);
  for (int64_t i = (int64_t)(s & (uint64_t)(h->cap - 1));; i = (i + 1) & (h->cap - 1)) {
    if (h->id[i] < 0) {
      memcpy(h->keys + 4 * i, k, 4 * sizeof *k);
      h->id[i] = next_id;
      *inserted = true;
      return next_id;
    }
    if (!memcmp(h->keys + 4 * i, k, 4 * sizeof *k)) {
      *inserted = false;
      return h->id[i];
    }
  }
}

static npde_status hash_grow(hash *h) {
  hash bigger;
  NPDE_TRY(hash_init(&bigger, h->cap));
  for (int64_t i = 0; i < h->cap; ++i)
    if (h->id[i] >= 0) {
      bool inserted;
      hash_get(&bigger, h->keys + 4 * i, h->id[i], &inserted);
    }
  hash_free(h);
  *h = bigger;
  return NPDE_OK;
}

static void *grow(void *ptr, int64_t count, size_t elem, npde_status *st) {
  void *q = realloc(ptr, (size_t)count * elem);
  if (!q) *st = NPDE_ERROR(NPDE_ERR_NOMEM, "discrete loss: out of memory for the stencil table");
  return q ? q : ptr;
}

static npde_status build_table(npde_discrete_loss *L, const npde_pde *pde, const double *points) {
  const npde_pde_info info = npde_pde_get_info(pde);
  npde_stencil_sample *smp = malloc((size_t)info.stencil_max * sizeof *smp);
  int64_t nnz_cap = L->n_points * 8 + 64, s_cap = L->n_points * 2 + 64, nnz = 0;
  L->rowptr = malloc((size_t)(L->n_points + 1) * sizeof *L->rowptr);
  L->w0 = malloc((size_t)L->n_points * sizeof *L->w0);
  L->col = malloc((size_t)nnz_cap * sizeof *L->col);
  L->w = malloc((size_t)nnz_cap * sizeof *L->w);
  L->sx = malloc((size_t)s_cap * 3 * sizeof *L->sx);
  L->side = malloc((size_t)s_cap * sizeof *L->side);
  hash hs = {0};
  npde_status st = (!smp || !L->rowptr || !L->w0 || !L->col || !L->w || !L->sx || !L->side)
                       ? NPDE_ERROR(NPDE_ERR_NOMEM, "discrete loss: out of memory for the stencil table")
                       : hash_init(&hs, s_cap);
  if (st == NPDE_OK) L->rowptr[0] = 0;
  for (int64_t i = 0; st == NPDE_OK && i < L->n_points; ++i) {
    npde_stencil s = {.struct_size = sizeof s, .capacity = info.stencil_max, .samples = smp};
    st = npde_pde_stencil(pde, points + 3 * i, L->h, &s);
    if (st != NPDE_OK) break;
    L->crossed += (s.flags & NPDE_STENCIL_CROSSED) != 0;
    if (nnz + s.n > nnz_cap) {
      nnz_cap = 2 * nnz_cap + s.n;
      L->col = grow(L->col, nnz_cap, sizeof *L->col, &st);
      L->w = grow(L->w, nnz_cap, sizeof *L->w, &st);
    }
    if (L->n_samples + s.n > s_cap) {
      s_cap = 2 * s_cap + s.n;
      L->sx = grow(L->sx, 3 * s_cap, sizeof *L->sx, &st);
      L->side = grow(L->side, s_cap, sizeof *L->side, &st);
    }
    if (st == NPDE_OK && 2 * (L->n_samples + s.n) > hs.cap) st = hash_grow(&hs);
    for (int64_t j = 0; st == NPDE_OK && j < s.n; ++j) {
      int64_t key[4];
      for (int a = 0; a < 3; ++a) key[a] = llround((smp[j].x[a] - L->lo[a]) / (1e-6 * L->h[a]));
      key[3] = smp[j].side;
      bool inserted;
      const int64_t id = hash_get(&hs, key, L->n_samples, &inserted);
      if (inserted) {
        memcpy(L->sx + 3 * id, smp[j].x, 3 * sizeof(double));
        L->side[id] = smp[j].side;
        L->n_samples++;
      }
      L->col[nnz] = id;
      L->w[nnz] = smp[j].weight;
      nnz++;
    }
    L->w0[i] = s.w0;
    L->rowptr[i + 1] = nnz;
  }
  free(smp);
  hash_free(&hs);
  if (st == NPDE_OK) {
    L->local = malloc((size_t)(L->n_samples + 1) * sizeof *L->local);
    L->stamp = calloc((size_t)(L->n_samples + 1), sizeof *L->stamp);
    if (!L->local || !L->stamp) st = NPDE_ERROR(NPDE_ERR_NOMEM, "discrete loss: out of memory");
  }
  return st;
}

void npde_discrete_loss_destroy(npde_discrete_loss **loss) {
  if (!loss || !*loss) return;
  npde_discrete_loss *L = *loss;
  free(L->sx), free(L->side), free(L->rowptr), free(L->col), free(L->w), free(L->w0);
  free(L->local), free(L->stamp), free(L->brow), free(L->bcol), free(L->bval), free(L->r), free(L->m2), free(L->uh);
  free(L->trow), free(L->tcol), free(L->tnext), free(L->tval);
  void *const dev[] = {L->d_brow, L->d_bcol, L->d_bval, L->d_trow, L->d_tcol, L->d_tval,
                       L->y_dev, L->m2_dev, L->u_dev, L->c_dev};
  for (size_t k = 0; k < sizeof dev / sizeof *dev; ++k) npde_backend_free(L->be, dev[k]);
  for (int s = 0; s < 2; ++s) {
    struct side *d = &L->sd[s];
    free(d->xh);
    npde_backend_free(L->be, d->x_dev);
    npde_linearization_destroy(&d->lin);
    npde_network_destroy(&d->net);
  }
  free(L);
  *loss = NULL;
}

npde_status npde_discrete_loss_create(const npde_pde *pde, npde_network *net, const double *points, int64_t n,
                                      const double *h, npde_discrete_loss **out) {
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_discrete_loss_create: NULL out");
  *out = NULL;
  const npde_pde_info info = npde_pde_get_info(pde);
  if (info.sides != 2 || info.dim != 3)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_discrete_loss_create: the pde is not a 3-D discrete interface PDE");
  if (!net || npde_network_outputs(net) != 2 || npde_network_dim(net) != 3)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_discrete_loss_create: the network needs 3 inputs and 2 outputs "
                      "(inside, outside)");
  if (n < 1 || !points || !h || !(h[0] > 0 && h[1] > 0 && h[2] > 0))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_discrete_loss_create: needs points and positive cell sizes");
  npde_discrete_loss *L = calloc(1, sizeof *L);
  if (!L) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  L->be = npde_network_backend(net);
  L->net = net;
  L->p = npde_network_n_params(net);
  L->n_points = n;
  for (int a = 0; a < 3; ++a) L->h[a] = h[a], L->lo[a] = info.box_lo[a];
  npde_status st = build_table(L, pde, points);
  for (int side = 0; st == NPDE_OK && side < 2; ++side) {
    st = npde_network_branch(net, side, &L->sd[side].net);
    npde_network_branch_range(net, side, &L->sd[side].off, &L->sd[side].count);
  }
  if (st != NPDE_OK) {
    npde_discrete_loss_destroy(&L);
    return st;
  }
  *out = L;
  return NPDE_OK;
}

void npde_discrete_loss_sizes(const npde_discrete_loss *L, int64_t *samples, int64_t *crossed, int64_t *weights) {
  if (samples) *samples = L ? L->n_samples : 0;
  if (crossed) *crossed = L ? L->crossed : 0;
  if (weights) *weights = L ? L->rowptr[L->n_points] : 0;
}

/* ---------------------------------------------------------- the batch */

/* A host array and its backend twin (either may be NULL), regrown to hold n elements; contents dropped. */
static npde_status regrow(npde_backend *be, int64_t n, size_t elem, void **host, void **dev) {
  if (host) {
    free(*host);
    *host = malloc((size_t)n * elem);
    if (!*host) return NPDE_ERROR(NPDE_ERR_NOMEM, "discrete loss: out of memory");
  }
  if (dev) {
    npde_backend_free(be, *dev);
    *dev = NULL;
    NPDE_TRY(npde_backend_alloc(be, (size_t)n * elem, dev));
  }
  return NPDE_OK;
}

static npde_status ensure_positions(npde_discrete_loss *L, struct side *d, int64_t m) {
  if (m <= d->m_cap) return NPDE_OK;
  const int64_t cap = m + m / 4;
  npde_linearization_destroy(&d->lin);
  d->m_cap = 0;
  NPDE_TRY(regrow(L->be, 3 * cap, sizeof(double), (void **)&d->xh, &d->x_dev));
  d->m_cap = cap;
  return NPDE_OK;
}

/* Room for nrows rows, nnz entries and m samples in the batch buffers. */
static npde_status ensure_batch(npde_discrete_loss *L, int64_t nrows, int64_t nnz, int64_t m) {
  if (nrows > L->rows_cap) {
    const int64_t cap = nrows + nrows / 4;
    L->rows_cap = 0;
    NPDE_TRY(regrow(L->be, cap + 1, sizeof(int64_t), (void **)&L->brow, &L->d_brow));
    NPDE_TRY(regrow(L->be, cap, sizeof(double), (void **)&L->r, &L->y_dev));
    NPDE_TRY(regrow(L->be, cap, sizeof(double), (void **)&L->m2, &L->m2_dev));
    L->rows_cap = cap;
  }
  if (nnz > L->nnz_cap) {
    const int64_t cap = nnz + nnz / 4;
    L->nnz_cap = 0;
    NPDE_TRY(regrow(L->be, cap, sizeof(int64_t), (void **)&L->bcol, &L->d_bcol));
    NPDE_TRY(regrow(L->be, cap, sizeof(double), (void **)&L->bval, &L->d_bval));
    NPDE_TRY(regrow(L->be, cap, sizeof(int64_t), (void **)&L->tcol, &L->d_tcol));
    NPDE_TRY(regrow(L->be, cap, sizeof(double), (void **)&L->tval, &L->d_tval));
    L->nnz_cap = cap;
  }
  if (m > L->u_cap) {
    const int64_t cap = m + m / 4;
    L->u_cap = 0;
    NPDE_TRY(regrow(L->be, cap, sizeof(double), (void **)&L->uh, &L->u_dev));
    NPDE_TRY(regrow(L->be, cap, sizeof(double), NULL, &L->c_dev));
    NPDE_TRY(regrow(L->be, cap + 1, sizeof(int64_t), (void **)&L->trow, &L->d_trow));
    NPDE_TRY(regrow(L->be, cap, sizeof(int64_t), (void **)&L->tnext, NULL));
    L->u_cap = cap;
  }
  return NPDE_OK;
}

#define ROW(L, q) ((L)->rows ? (L)->rows[q] : (q))

/* Number the rows' distinct samples per side, upload their positions, and
 * write the batch's rows of the table as W over those samples. */
static npde_status gather(npde_discrete_loss *L) {
  L->stamp_now++;
  int64_t m[2] = {0, 0}, nnz = 0;
  for (int64_t q = 0; q < L->nrows; ++q) {
    const int64_t i = ROW(L, q);
    nnz += L->rowptr[i + 1] - L->rowptr[i];
    for (int64_t k = L->rowptr[i]; k < L->rowptr[i + 1]; ++k) {
      const int64_t g = L->col[k];
      if (L->stamp[g] != L->stamp_now) {
        L->stamp[g] = L->stamp_now;
        L->local[g] = m[L->side[g]]++;
      }
    }
  }
  for (int s = 0; s < 2; ++s) {
    struct side *d = &L->sd[s];
    NPDE_TRY(ensure_positions(L, d, m[s] > 0 ? m[s] : 1));
    if (d->m != m[s]) npde_linearization_destroy(&d->lin);
    d->m = m[s];
  }
  L->sd[0].first = 0;
  L->sd[1].first = m[0];
  NPDE_TRY(ensure_batch(L, L->nrows, nnz > 0 ? nnz : 1, m[0] + m[1] > 0 ? m[0] + m[1] : 1));
  int64_t e = 0;
  L->brow[0] = 0;
  for (int64_t q = 0; q < L->nrows; ++q) {
    const int64_t i = ROW(L, q);
    for (int64_t k = L->rowptr[i]; k < L->rowptr[i + 1]; ++k, ++e) {
      const int64_t g = L->col[k];
      const struct side *d = &L->sd[L->side[g]];
      memcpy(d->xh + 3 * L->local[g], L->sx + 3 * g, 3 * sizeof(double));
      L->bcol[e] = d->first + L->local[g];
      L->bval[e] = L->w[k];
    }
    L->brow[q + 1] = e;
  }
  /* W^T: count each column's entries, then place them in W's order (a stable counting sort) */
  const int64_t cols = m[0] + m[1];
  memset(L->trow, 0, (size_t)(cols + 1) * sizeof *L->trow);
  for (int64_t k = 0; k < nnz; ++k) L->trow[L->bcol[k] + 1]++;
  for (int64_t j = 0; j < cols; ++j) L->trow[j + 1] += L->trow[j];
  memcpy(L->tnext, L->trow, (size_t)cols * sizeof *L->tnext);
  for (int64_t q = 0; q < L->nrows; ++q)
    for (int64_t k = L->brow[q]; k < L->brow[q + 1]; ++k) {
      const int64_t at = L->tnext[L->bcol[k]]++;
      L->tcol[at] = q;
      L->tval[at] = L->bval[k];
    }
  for (int s = 0; s < 2; ++s)
    if (L->sd[s].m > 0)
      NPDE_TRY(npde_backend_upload(L->be, L->sd[s].x_dev, L->sd[s].xh, (size_t)L->sd[s].m * 3 * sizeof(double)));
  NPDE_TRY(npde_backend_upload(L->be, L->d_brow, L->brow, (size_t)(L->nrows + 1) * sizeof(int64_t)));
  if (nnz > 0) {
    NPDE_TRY(npde_backend_upload(L->be, L->d_bcol, L->bcol, (size_t)nnz * sizeof(int64_t)));
    NPDE_TRY(npde_backend_upload(L->be, L->d_bval, L->bval, (size_t)nnz * sizeof(double)));
    NPDE_TRY(npde_backend_upload(L->be, L->d_tcol, L->tcol, (size_t)nnz * sizeof(int64_t)));
    NPDE_TRY(npde_backend_upload(L->be, L->d_tval, L->tval, (size_t)nnz * sizeof(double)));
  }
  NPDE_TRY(npde_backend_upload(L->be, L->d_trow, L->trow, (size_t)(cols + 1) * sizeof(int64_t)));
  L->W = (npde_csr){.rowptr = L->d_brow, .colind = L->d_bcol, .values = L->d_bval, .rows = L->nrows, .cols = cols,
                    .nnz = nnz, .dtype = NPDE_F64};
  L->WT = (npde_csr){.rowptr = L->d_trow, .colind = L->d_tcol, .values = L->d_tval, .rows = cols,
                     .cols = L->nrows, .nnz = nnz, .dtype = NPDE_F64};
  return NPDE_OK;
}

static double mask_of(const npde_discrete_loss *L, int64_t i) { return L->mask ? L->mask[i] : 1.0; }

/* The rows [off, off + count) of a p x 1 parameter vector. */
static npde_mat slice(const npde_mat *v, const struct side *d) { return npde_mat_sub(*v, d->off, 0, d->count, 1); }

/* A side's samples' entries of a vector over all the batch's samples. */
static npde_mat side_part(void *all, const struct side *d) {
  return npde_mat_view((double *)all + d->first, NPDE_F64, d->m, 1);
}

/* g = alpha J^T W^T (m^2 y) for y in y_dev (scaled in place), side by side. */
static npde_status pull_back(npde_discrete_loss *L, double alpha, npde_mat *g) {
  npde_mat y = npde_mat_view(L->y_dev, NPDE_F64, L->nrows, 1), c = npde_mat_view(L->c_dev, NPDE_F64, L->W.cols, 1);
  if (L->mask) {
    npde_mat m2 = npde_mat_view(L->m2_dev, NPDE_F64, L->nrows, 1);
    NPDE_TRY(npde_backend_row_scale(L->be, &m2, &y, &y, 1));
  }
  NPDE_TRY(npde_backend_csrmm(L->be, NPDE_NO_TRANS, 1.0, &L->WT, &y, 0.0, &c));
  for (int s = 0; s < 2; ++s) {
    struct side *d = &L->sd[s];
    npde_mat gs = slice(g, d);
    if (d->m == 0) { /* no sample of this side in the batch */
      NPDE_TRY(npde_backend_fill(L->be, &gs, 0.0));
      continue;
    }
    npde_mat cs = side_part(L->c_dev, d);
    NPDE_TRY(npde_linearization_vjp(d->lin, &cs, alpha, 0.0, &gs));
  }
  return NPDE_OK;
}

npde_status npde_discrete_loss_eval(npde_discrete_loss *L, const npde_mat *theta, const int64_t *rows, int64_t nrows,
                                    const double *mask, double *value, npde_mat *grad) {
  if (!L || !theta || !value) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_discrete_loss_eval: NULL argument");
  if (!rows) nrows = L->n_points;
  if (nrows < 1 || nrows > L->n_points)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_discrete_loss_eval: %lld rows of %lld points", (long long)nrows,
                      (long long)L->n_points);
  for (int64_t q = 0; rows && q < nrows; ++q)
    if (rows[q] < 0 || rows[q] >= L->n_points)
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_discrete_loss_eval: row %lld out of range", (long long)rows[q]);
  const bool full = rows == NULL;
  L->rows = rows;
  L->nrows = nrows;
  L->mask = mask;
  L->linearised = false;
  if (!(full && L->gathered_full)) NPDE_TRY(gather(L));
  L->gathered_full = full;
  if (mask) {
    for (int64_t q = 0; q < nrows; ++q) {
      const double m = mask[ROW(L, q)];
      L->m2[q] = m * m;
    }
    NPDE_TRY(npde_backend_upload(L->be, L->m2_dev, L->m2, (size_t)nrows * sizeof(double)));
  }
  for (int s = 0; s < 2; ++s) {
    struct side *d = &L->sd[s];
    if (d->m == 0) continue;
    npde_mat th = slice(theta, d), X = npde_mat_view(d->x_dev, NPDE_F64, d->m, 3), U = side_part(L->u_dev, d);
    if (d->lin) NPDE_TRY(npde_linearization_update(d->lin, &th, &X));
    else NPDE_TRY(npde_linearization_create(d->net, &th, &X, &d->lin));
    NPDE_TRY(npde_linearization_values(d->lin, &U));
  }
  L->linearised = true;
  /* the residuals on the host, for the loss and npde_discrete_loss_residuals */
  if (L->W.cols > 0) NPDE_TRY(npde_backend_download(L->be, L->uh, L->u_dev, (size_t)L->W.cols * sizeof(double)));
  double sum = 0.0;
  for (int64_t q = 0; q < nrows; ++q) {
    double r = L->w0[ROW(L, q)];
    for (int64_t k = L->brow[q]; k < L->brow[q + 1]; ++k) r += L->bval[k] * L->uh[L->bcol[k]];
    L->r[q] = r;
    const double mr = mask_of(L, ROW(L, q)) * r;
    sum += 0.5 * mr * mr;
  }
  *value = sum / (double)nrows;
  if (!isfinite(*value)) return NPDE_ERROR(NPDE_ERR_NUMERIC, "discrete loss: the loss is %g", *value);
  if (!grad) return NPDE_OK;
  NPDE_TRY(npde_backend_upload(L->be, L->y_dev, L->r, (size_t)nrows * sizeof(double)));
  return pull_back(L, 1.0 / (double)nrows, grad);
}

const double *npde_discrete_loss_residuals(const npde_discrete_loss *L) { return L ? L->r : NULL; }

/* (J^T W^T M^2 W J / B) x, all on the backend. */
static npde_status gauss_newton_matvec(void *ctx, const npde_mat *x, npde_mat *y) {
  npde_discrete_loss *L = ctx;
  if (!L->linearised) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "discrete loss: Gauss-Newton product before any eval");
  for (int s = 0; s < 2; ++s) {
    struct side *d = &L->sd[s];
    if (d->m == 0) continue;
    npde_mat xs = slice(x, d), dU = side_part(L->u_dev, d);
    NPDE_TRY(npde_linearization_jvp(d->lin, &xs, &dU));
  }
  npde_mat dU = npde_mat_view(L->u_dev, NPDE_F64, L->W.cols, 1), r = npde_mat_view(L->y_dev, NPDE_F64, L->nrows, 1);
  NPDE_TRY(npde_backend_csrmm(L->be, NPDE_NO_TRANS, 1.0, &L->W, &dU, 0.0, &r));
  return pull_back(L, 1.0 / (double)L->nrows, y);
}

npde_linop npde_discrete_loss_gauss_newton(npde_discrete_loss *L) {
  return (npde_linop){.n = L ? L->p : 0, .dtype = NPDE_F64, .matvec = gauss_newton_matvec, .ctx = L};
}
