/* npde_discrete.h: the NBM loss over a table of stencils.
 *
 * The table holds, per collocation point, its residual's weights over the
 * distinct samples (x, side) of all points: samples that neighbouring
 * points share are evaluated once. Positions are merged on a lattice of
 * 1e-6 h, because the kernel computes p + o h from different p and equal
 * positions may differ in their last bits. A batch gathers its rows'
 * samples, runs the network there once (both outputs; a sample reads the
 * output of its side), and pulls the cotangent W^T (m^2 r) / B back. */
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
  double *r, *y;
  int64_t r_cap;
  /* per side: the branch of the network that side's samples are evaluated with */
  struct side {
    npde_network *net; /* a view of the network's output branch (npde_network_branch) */
    int64_t off, count; /* its parameters in theta */
    int64_t m, m_cap;
    double *xh, *uh, *wh;
    void *x_dev, *u_dev, *w_dev;
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
  free(L->local), free(L->stamp), free(L->r), free(L->y);
  for (int s = 0; s < 2; ++s) {
    struct side *d = &L->sd[s];
    free(d->xh), free(d->uh), free(d->wh);
    npde_backend_free(L->be, d->x_dev), npde_backend_free(L->be, d->u_dev), npde_backend_free(L->be, d->w_dev);
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

static npde_status ensure_capacity(npde_discrete_loss *L, struct side *d, int64_t m) {
  if (m <= d->m_cap) return NPDE_OK;
  const int64_t cap = m + m / 4;
  free(d->xh), free(d->uh), free(d->wh);
  npde_backend_free(L->be, d->x_dev), npde_backend_free(L->be, d->u_dev), npde_backend_free(L->be, d->w_dev);
  d->x_dev = d->u_dev = d->w_dev = NULL;
  npde_linearization_destroy(&d->lin);
  d->m_cap = 0;
  d->xh = malloc((size_t)cap * 3 * sizeof *d->xh);
  d->uh = malloc((size_t)cap * sizeof *d->uh);
  d->wh = malloc((size_t)cap * sizeof *d->wh);
  if (!d->xh || !d->uh || !d->wh) return NPDE_ERROR(NPDE_ERR_NOMEM, "discrete loss: out of memory");
  NPDE_TRY(npde_backend_alloc(L->be, (size_t)cap * 3 * sizeof(double), &d->x_dev));
  NPDE_TRY(npde_backend_alloc(L->be, (size_t)cap * sizeof(double), &d->u_dev));
  NPDE_TRY(npde_backend_alloc(L->be, (size_t)cap * sizeof(double), &d->w_dev));
  d->m_cap = cap;
  return NPDE_OK;
}

#define ROW(L, q) ((L)->rows ? (L)->rows[q] : (q))

/* Gather the rows' distinct samples, numbered per side, and upload their positions. */
static npde_status gather(npde_discrete_loss *L) {
  L->stamp_now++;
  int64_t m[2] = {0, 0};
  for (int64_t q = 0; q < L->nrows; ++q) {
    const int64_t i = ROW(L, q);
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
    NPDE_TRY(ensure_capacity(L, d, m[s] > 0 ? m[s] : 1));
    if (d->m != m[s]) npde_linearization_destroy(&d->lin);
    d->m = m[s];
  }
  for (int64_t q = 0; q < L->nrows; ++q) {
    const int64_t i = ROW(L, q);
    for (int64_t k = L->rowptr[i]; k < L->rowptr[i + 1]; ++k) {
      const int64_t g = L->col[k];
      memcpy(L->sd[L->side[g]].xh + 3 * L->local[g], L->sx + 3 * g, 3 * sizeof(double));
    }
  }
  for (int s = 0; s < 2; ++s)
    if (L->sd[s].m > 0)
      NPDE_TRY(npde_backend_upload(L->be, L->sd[s].x_dev, L->sd[s].xh, (size_t)L->sd[s].m * 3 * sizeof(double)));
  return NPDE_OK;
}

static double mask_of(const npde_discrete_loss *L, int64_t i) { return L->mask ? L->mask[i] : 1.0; }

/* out[q] = sum_k w_qk U_side(k)[local(k)] over the rows (per-side host values U[side]). */
static void apply_weights(const npde_discrete_loss *L, double *const U[2], bool affine, double *out) {
  for (int64_t q = 0; q < L->nrows; ++q) {
    const int64_t i = ROW(L, q);
    double s = affine ? L->w0[i] : 0.0;
    for (int64_t k = L->rowptr[i]; k < L->rowptr[i + 1]; ++k) {
      const int64_t g = L->col[k];
      s += L->w[k] * U[L->side[g]][L->local[g]];
    }
    out[q] = s;
  }
}

/* The rows [off, off + count) of a p x 1 parameter vector. */
static npde_mat slice(const npde_mat *v, const struct side *d) { return npde_mat_sub(*v, d->off, 0, d->count, 1); }

/* g = alpha J^T (W^T (m^2 y)) over the rows, side by side. */
static npde_status pull_back(npde_discrete_loss *L, const double *y, double alpha, npde_mat *g) {
  for (int s = 0; s < 2; ++s) memset(L->sd[s].wh, 0, (size_t)L->sd[s].m * sizeof(double));
  for (int64_t q = 0; q < L->nrows; ++q) {
    const int64_t i = ROW(L, q);
    const double m = mask_of(L, i), yi = m * m * y[q];
    if (yi == 0.0) continue;
    for (int64_t k = L->rowptr[i]; k < L->rowptr[i + 1]; ++k) {
      const int64_t gid = L->col[k];
      L->sd[L->side[gid]].wh[L->local[gid]] += L->w[k] * yi;
    }
  }
  for (int s = 0; s < 2; ++s) {
    struct side *d = &L->sd[s];
    npde_mat gs = slice(g, d);
    if (d->m == 0) { /* no sample of this side in the batch */
      NPDE_TRY(npde_backend_fill(L->be, &gs, 0.0));
      continue;
    }
    NPDE_TRY(npde_backend_upload(L->be, d->w_dev, d->wh, (size_t)d->m * sizeof(double)));
    npde_mat W = npde_mat_view(d->w_dev, NPDE_F64, d->m, 1);
    NPDE_TRY(npde_linearization_vjp(d->lin, &W, alpha, 0.0, &gs));
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
  if (nrows > L->r_cap) {
    free(L->r), free(L->y);
    L->r = malloc((size_t)nrows * sizeof *L->r);
    L->y = malloc((size_t)nrows * sizeof *L->y);
    L->r_cap = L->r && L->y ? nrows : 0;
    if (!L->r_cap) return NPDE_ERROR(NPDE_ERR_NOMEM, "discrete loss: out of memory");
  }
  const bool full = rows == NULL;
  L->rows = rows;
  L->nrows = nrows;
  L->mask = mask;
  L->linearised = false;
  if (!(full && L->gathered_full)) NPDE_TRY(gather(L));
  L->gathered_full = full;
  for (int s = 0; s < 2; ++s) {
    struct side *d = &L->sd[s];
    if (d->m == 0) continue;
    npde_mat th = slice(theta, d), X = npde_mat_view(d->x_dev, NPDE_F64, d->m, 3),
             U = npde_mat_view(d->u_dev, NPDE_F64, d->m, 1);
    if (d->lin) NPDE_TRY(npde_linearization_update(d->lin, &th, &X));
    else NPDE_TRY(npde_linearization_create(d->net, &th, &X, &d->lin));
    NPDE_TRY(npde_linearization_values(d->lin, &U));
    NPDE_TRY(npde_backend_download(L->be, d->uh, d->u_dev, (size_t)d->m * sizeof(double)));
  }
  L->linearised = true;
  double *const U[2] = {L->sd[0].uh, L->sd[1].uh};
  apply_weights(L, U, true, L->r);
  double sum = 0.0;
  for (int64_t q = 0; q < nrows; ++q) {
    const double mr = mask_of(L, ROW(L, q)) * L->r[q];
    sum += 0.5 * mr * mr;
  }
  *value = sum / (double)nrows;
  if (!isfinite(*value)) return NPDE_ERROR(NPDE_ERR_NUMERIC, "discrete loss: the loss is %g", *value);
  if (grad) NPDE_TRY(pull_back(L, L->r, 1.0 / (double)nrows, grad));
  return NPDE_OK;
}

const double *npde_discrete_loss_residuals(const npde_discrete_loss *L) { return L ? L->r : NULL; }

static npde_status gauss_newton_matvec(void *ctx, const npde_mat *x, npde_mat *y) {
  npde_discrete_loss *L = ctx;
  if (!L->linearised) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "discrete loss: Gauss-Newton product before any eval");
  for (int s = 0; s < 2; ++s) {
    struct side *d = &L->sd[s];
    if (d->m == 0) continue;
    npde_mat xs = slice(x, d), dU = npde_mat_view(d->u_dev, NPDE_F64, d->m, 1);
    NPDE_TRY(npde_linearization_jvp(d->lin, &xs, &dU));
    NPDE_TRY(npde_backend_download(L->be, d->uh, d->u_dev, (size_t)d->m * sizeof(double)));
  }
  double *const U[2] = {L->sd[0].uh, L->sd[1].uh};
  apply_weights(L, U, false, L->y);
  return pull_back(L, L->y, 1.0 / (double)L->nrows, y);
}

npde_linop npde_discrete_loss_gauss_newton(npde_discrete_loss *L) {
  return (npde_linop){.n = L ? L->p : 0, .dtype = NPDE_F64, .matvec = gauss_newton_matvec, .ctx = L};
}
