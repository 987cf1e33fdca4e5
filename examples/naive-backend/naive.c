/* naive: a backend in plain C loops, built out of tree against the installed
 * npde SDK. It shows what a third-party plugin needs (one file, the headers,
 * NPDE_PLUGIN_DEFINE) and serves as a second, independent implementation for
 * the backend conformance suite. It implements the ops the probe stage uses;
 * every other op is reported as missing (NPDE_ERR_NOT_IMPLEMENTED). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <npde/npde_philox.h>
#include <npde/plugin/npde_ext.h>

/* Element (i, j) of a view as double, whatever the dtype. */
static double get(const npde_mat *m, int64_t i, int64_t j) {
  size_t k = (size_t)(i * m->ld + j);
  return m->dtype == NPDE_F64 ? ((const double *)m->data)[k] : ((const float *)m->data)[k];
}

static void set(const npde_mat *m, int64_t i, int64_t j, double v) {
  size_t k = (size_t)(i * m->ld + j);
  if (m->dtype == NPDE_F64) ((double *)m->data)[k] = v;
  else ((float *)m->data)[k] = (float)v;
}

/* Element e of a vector view (one row or one column). */
static double vget(const npde_mat *v, int64_t e) { return v->cols == 1 ? get(v, e, 0) : get(v, 0, e); }
static void vset(const npde_mat *v, int64_t e, double x) {
  if (v->cols == 1) set(v, e, 0, x);
  else set(v, 0, e, x);
}

static npde_status naive_create(npde_backend *be, const npde_config *cfg, npde_backend *unused) {
  (void)be; (void)cfg; (void)unused;
  return NPDE_OK;
}
static void naive_destroy(npde_backend *be) { (void)be; }
static npde_memtype naive_memtype(const npde_backend *be) { (void)be; return NPDE_MEM_HOST; }
static const char *naive_describe(const npde_backend *be) { (void)be; return "naive: plain C loops (example plugin)"; }

static npde_status naive_alloc(npde_backend *be, size_t bytes, void **ptr) {
  (void)be;
  *ptr = malloc(bytes ? bytes : 1);
  return *ptr ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "naive backend: cannot allocate %zu bytes", bytes);
}
static void naive_free(npde_backend *be, void *ptr) { (void)be; free(ptr); }
static npde_status naive_move(npde_backend *be, void *dst, const void *src, size_t bytes) {
  (void)be;
  memmove(dst, src, bytes);
  return NPDE_OK;
}

static npde_status naive_copy(npde_backend *be, const npde_mat *src, npde_mat *dst) {
  (void)be;
  for (int64_t i = 0; i < src->rows; ++i)
    for (int64_t j = 0; j < src->cols; ++j) set(dst, i, j, get(src, i, j));
  return NPDE_OK;
}

static npde_status naive_fill(npde_backend *be, npde_mat *dst, double value) {
  (void)be;
  for (int64_t i = 0; i < dst->rows; ++i)
    for (int64_t j = 0; j < dst->cols; ++j) set(dst, i, j, value);
  return NPDE_OK;
}

static npde_status naive_gemm(npde_backend *be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                              const npde_mat *B, double beta, npde_mat *C) {
  (void)be;
  int64_t k = ta ? A->rows : A->cols;
  for (int64_t i = 0; i < C->rows; ++i)
    for (int64_t j = 0; j < C->cols; ++j) {
      double s = 0.0;
      for (int64_t l = 0; l < k; ++l) s += (ta ? get(A, l, i) : get(A, i, l)) * (tb ? get(B, j, l) : get(B, l, j));
      set(C, i, j, alpha * s + (beta == 0.0 ? 0.0 : beta * get(C, i, j)));
    }
  return NPDE_OK;
}

static npde_status naive_axpy(npde_backend *be, double alpha, const npde_mat *x, npde_mat *y) {
  (void)be;
  for (int64_t i = 0; i < x->rows; ++i)
    for (int64_t j = 0; j < x->cols; ++j) set(y, i, j, get(y, i, j) + alpha * get(x, i, j));
  return NPDE_OK;
}

static npde_status naive_scal(npde_backend *be, double alpha, npde_mat *x) {
  (void)be;
  for (int64_t i = 0; i < x->rows; ++i)
    for (int64_t j = 0; j < x->cols; ++j) set(x, i, j, alpha * get(x, i, j));
  return NPDE_OK;
}

static npde_status naive_dot(npde_backend *be, const npde_mat *x, const npde_mat *y, double *out) {
  (void)be;
  double s = 0.0;
  for (int64_t i = 0; i < x->rows; ++i)
    for (int64_t j = 0; j < x->cols; ++j) s += get(x, i, j) * get(y, i, j);
  *out = s;
  return NPDE_OK;
}

static npde_status naive_nrm2(npde_backend *be, const npde_mat *x, double *out) {
  (void)be;
  double scale = 0.0, ssq = 1.0; /* scaled sum of squares: no overflow for huge entries */
  for (int64_t i = 0; i < x->rows; ++i)
    for (int64_t j = 0; j < x->cols; ++j) {
      double a = fabs(get(x, i, j));
      if (a == 0.0) continue;
      if (scale < a) { ssq = 1.0 + ssq * (scale / a) * (scale / a); scale = a; }
      else ssq += (a / scale) * (a / scale);
    }
  *out = scale * sqrt(ssq);
  return NPDE_OK;
}

static npde_status naive_col_sums(npde_backend *be, double alpha, const npde_mat *X, double beta, npde_mat *y) {
  (void)be;
  for (int64_t j = 0; j < X->cols; ++j) {
    double s = 0.0;
    for (int64_t i = 0; i < X->rows; ++i) s += get(X, i, j);
    vset(y, j, alpha * s + (beta == 0.0 ? 0.0 : beta * vget(y, j)));
  }
  return NPDE_OK;
}

static npde_status naive_rng_uniform(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double lo,
                                     double hi, npde_mat *out) {
  (void)be;
  for (int64_t i = 0; i < out->rows; ++i)
    for (int64_t j = 0; j < out->cols; ++j)
      set(out, i, j, lo + (hi - lo) * npde_philox_uniform_at(seed, stream, counter, (uint64_t)(i * out->cols + j)));
  return NPDE_OK;
}

static npde_status naive_rng_normal(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double mean,
                                    double std, npde_mat *out) {
  (void)be;
  for (int64_t i = 0; i < out->rows; ++i)
    for (int64_t j = 0; j < out->cols; ++j) {
      uint64_t e = (uint64_t)(i * out->cols + j);
      double u1 = npde_philox_uniform_at(seed, stream, counter, e & ~(uint64_t)1);
      double u2 = npde_philox_uniform_at(seed, stream, counter, e | 1u);
      double r = sqrt(-2.0 * log1p(-u1)), angle = 2.0 * M_PI * u2;
      set(out, i, j, mean + std * r * ((e & 1u) ? sin(angle) : cos(angle)));
    }
  return NPDE_OK;
}

static const npde_backend_ops naive_ops = {
    .struct_size = sizeof(npde_backend_ops),
    .create = naive_create,
    .destroy = naive_destroy,
    .memtype = naive_memtype,
    .alloc = naive_alloc,
    .free = naive_free,
    .upload = naive_move,
    .download = naive_move,
    .describe = naive_describe,
    .copy = naive_copy,
    .fill = naive_fill,
    .gemm = naive_gemm,
    .axpy = naive_axpy,
    .scal = naive_scal,
    .dot = naive_dot,
    .nrm2 = naive_nrm2,
    .col_sums = naive_col_sums,
    .rng_uniform = naive_rng_uniform,
    .rng_normal = naive_rng_normal,
};

static const npde_component_desc naive_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_BACKEND,
    .name = "naive",
    .summary = "plain C loops on host memory (an example third-party backend)",
    .ops = &naive_ops,
    .state_size = 0,
    .params = NULL,
};

static const npde_component_desc *const components[] = {&naive_component};

NPDE_PLUGIN_DEFINE(.name = "naive", .version = "0.1.0", .license = "MIT",
                   .description = "example out-of-tree backend in plain C", .n_components = 1,
                   .components = components)
