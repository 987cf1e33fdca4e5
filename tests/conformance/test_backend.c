/* Backend conformance suite.
 *
 * Every test runs against every backend component the registry loads
 * (npde_registry_load_defaults: the build tree's plugins, then
 * NPDE_PLUGIN_PATH), and, for each op, in every dtype the backend says it
 * supports. Results are compared with the plain C references of
 * reference.c, computed in double on the host. Data only moves through
 * npde_backend_alloc/upload/download, so device-memory backends are tested
 * the same way as the CPU.
 *
 * Each operand lives in a buffer of (rows + 2) x ld elements: a guard row
 * above and below the view and ld - cols padding columns, all filled with a
 * sentinel that must survive the op unchanged.
 *
 * NPDE_CONFORMANCE_BACKEND=<name> restricts the run to one backend (for
 * out-of-tree plugins: put their .so on NPDE_PLUGIN_PATH). A backend that
 * fails to create with NPDE_ERR_DEVICE (no GPU) is skipped with a message.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "npde/npde.h"
#include "reference.h"

/* Padding sentinels differ between buffers and along each buffer, so a
 * copy of one buffer's padding into another's, or a shifted write, shows;
 * all are exact in f32. */
static unsigned g_sentinel_id;
static double sentinel(unsigned id, size_t k) { return -(1000.5 + 64.0 * (id % 1024u) + (double)(k % 61u)); }

/* ------------------------------------------------------------- harness */

typedef struct bctx {
  npde_backend *be;
  const char *name;
  npde_dtype dt;
  double tol; /* base relative tolerance of the dtype */
  ref_rng rng;
  char what[320]; /* the case being run, for failure messages */
} bctx;

static const char *dt_name(npde_dtype t) { return t == NPDE_F32 ? "f32" : "f64"; }

static void set_what(bctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_what(bctx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->what, sizeof c->what, fmt, ap);
  va_end(ap);
}

#define CHECK_OK(c, call)                                                                                  \
  do {                                                                                                     \
    npde_status st_ = (call);                                                                              \
    cr_assert_eq(st_, NPDE_OK, "backend %s [%s] %s: %s returned %d (%s): %s", (c)->name, dt_name((c)->dt), \
                 (c)->what, #call, (int)st_, npde_status_str(st_), npde_last_error());                     \
  } while (0)

/* Tolerance for a sum of k terms (relative to the sum of magnitudes). */
static double tol_k(const bctx *c, int64_t k) { return c->tol * (1.0 + (double)(k > 0 ? k : 0) / 256.0); }

/* Round a value to the dtype under test, so the reference sees what the backend sees. */
static double rnd(npde_dtype dt, double v) { return dt == NPDE_F32 ? (double)(float)v : v; }

static const int64_t DIMS[] = {0, 1, 3, 7, 17, 33, 65};
#define NDIMS ((int64_t)(sizeof DIMS / sizeof DIMS[0]))

/* Mostly the edge sizes above, sometimes a random one in [2, 31]. */
static int64_t pick_dim(bctx *c) {
  int64_t r = ref_rng_int(&c->rng, NDIMS + 3);
  return r < NDIMS ? DIMS[r] : 2 + ref_rng_int(&c->rng, 30);
}
static int64_t pick_pad(bctx *c) { return ref_rng_int(&c->rng, 4); }

typedef void (*case_fn)(bctx *c);

static size_t g_tested; /* backend x dtype combinations run by the current test */

/* Run fn on every backend and every dtype that supports op. */
static void for_each_backend(npde_backend_op op, case_fn fn) {
  npde_registry *reg = NULL;
  cr_assert_eq(npde_registry_create(&reg), NPDE_OK, "registry: %s", npde_last_error());
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_OK, "loading plugins: %s", npde_last_error());
  const char *only = getenv("NPDE_CONFORMANCE_BACKEND");
  if (only && !*only) only = NULL;
  size_t found = 0;
  g_tested = 0;
  for (size_t i = 0; i < npde_registry_count(reg); ++i) {
    const npde_component_info *info = npde_registry_at(reg, i);
    cr_assert_not_null(info);
    if (info->desc->kind != NPDE_KIND_BACKEND) continue;
    const char *name = info->desc->name;
    if (only && strcmp(only, name) != 0) continue;
    ++found;
    npde_backend *be = NULL;
    npde_status st = npde_backend_create(reg, name, NULL, &be);
    if (st == NPDE_ERR_DEVICE) {
      printf("SKIP backend %s: %s\n", name, npde_last_error());
      fflush(stdout);
      /* info, not warn: Criterion turns any warning into a failing exit status */
      cr_log_info("SKIP backend %s: %s", name, npde_last_error());
      continue;
    }
    cr_assert_eq(st, NPDE_OK, "backend %s (%s): create failed: %s", name, info->file, npde_last_error());
    cr_assert_not_null(be);
    for (int d = 0; d < 2; ++d) {
      npde_dtype dt = d ? NPDE_F32 : NPDE_F64;
      if (!npde_backend_supports(be, op, dt)) {
        cr_log_info("backend %s: no %s in %s; not tested", name, npde_backend_op_name(op), dt_name(dt));
        continue;
      }
      bctx c = {.be = be, .name = name, .dt = dt, .tol = dt == NPDE_F32 ? 1e-4 : 1e-12,
                .rng = {0x5EEDull * 1000003u + (uint64_t)op * 7919u + (uint64_t)d}};
      fn(&c);
      ++g_tested;
    }
    npde_backend_destroy(&be);
  }
  cr_assert(found > 0, "no backend component found in the registry (plugins from %s%s%s)",
            npde_registry_default_dir(), only ? " named " : "", only ? only : "");
  if (g_tested == 0)
    cr_log_info("op %s was not tested on any backend (none created or none supports it)", npde_backend_op_name(op));
  npde_registry_destroy(&reg);
}

/* ------------------------------------------------- device matrices */

typedef struct dmat {
  bctx *c;
  npde_dtype dt;
  int64_t rows, cols, ld;
  size_t n;  /* elements in the buffer: (rows + 2) * ld */
  void *dev; /* backend memory */
  double *h; /* host shadow of the whole buffer, as last uploaded */
  npde_mat v;
} dmat;

static size_t IX(const dmat *m, int64_t i, int64_t j) { return (size_t)((i + 1) * m->ld + j); }
#define H(m, i, j) ((m)->h[IX((m), (i), (j))])

static dmat dm_new_dt(bctx *c, npde_dtype dt, int64_t rows, int64_t cols, int64_t pad) {
  dmat m = {.c = c, .dt = dt, .rows = rows, .cols = cols};
  m.ld = cols + pad > 0 ? cols + pad : 1;
  m.n = (size_t)((rows + 2) * m.ld);
  m.h = malloc(m.n * sizeof *m.h);
  cr_assert_not_null(m.h);
  unsigned id = g_sentinel_id++;
  for (size_t k = 0; k < m.n; ++k) m.h[k] = sentinel(id, k);
  CHECK_OK(c, npde_backend_alloc(c->be, m.n * npde_dtype_size(dt), &m.dev));
  cr_assert_not_null(m.dev, "backend %s: alloc returned NULL", c->name);
  m.v.data = (char *)m.dev + (size_t)m.ld * npde_dtype_size(dt);
  m.v.rows = rows;
  m.v.cols = cols;
  m.v.ld = m.ld;
  m.v.dtype = dt;
  return m;
}
static dmat dm_new(bctx *c, int64_t rows, int64_t cols, int64_t pad) { return dm_new_dt(c, c->dt, rows, cols, pad); }

static void dm_free(dmat *m) {
  npde_backend_free(m->c->be, m->dev);
  free(m->h);
  m->dev = NULL;
  m->h = NULL;
}

static void dm_rand(dmat *m, double lo, double hi) {
  for (int64_t i = 0; i < m->rows; ++i)
    for (int64_t j = 0; j < m->cols; ++j) H(m, i, j) = rnd(m->dt, ref_rng_uniform(&m->c->rng, lo, hi));
}
static void dm_set_all(dmat *m, double v) {
  for (int64_t i = 0; i < m->rows; ++i)
    for (int64_t j = 0; j < m->cols; ++j) H(m, i, j) = v;
}

static void dm_upload(dmat *m) {
  size_t es = npde_dtype_size(m->dt);
  void *tmp = malloc(m->n * es);
  cr_assert_not_null(tmp);
  for (size_t k = 0; k < m->n; ++k) {
    if (m->dt == NPDE_F32) ((float *)tmp)[k] = (float)m->h[k];
    else ((double *)tmp)[k] = m->h[k];
  }
  npde_status st = npde_backend_upload(m->c->be, m->dev, tmp, m->n * es);
  free(tmp);
  CHECK_OK(m->c, st);
}

static void dm_fetch(const dmat *m, double *out) {
  size_t es = npde_dtype_size(m->dt);
  void *tmp = malloc(m->n * es);
  cr_assert_not_null(tmp);
  npde_status st = npde_backend_download(m->c->be, tmp, m->dev, m->n * es);
  if (st == NPDE_OK)
    for (size_t k = 0; k < m->n; ++k) out[k] = m->dt == NPDE_F32 ? (double)((float *)tmp)[k] : ((double *)tmp)[k];
  free(tmp);
  CHECK_OK(m->c, st);
}

/* A copy of the host shadow, to write the expected result into. */
static double *dm_expect(const dmat *m) {
  double *e = malloc(m->n * sizeof *e);
  cr_assert_not_null(e);
  memcpy(e, m->h, m->n * sizeof *e);
  return e;
}
static double *zeros(size_t n) {
  double *z = calloc(n ? n : 1, sizeof *z);
  cr_assert_not_null(z);
  return z;
}

/*
 * Download m and compare: each view element with exp[k] to
 * tol * max(|exp|, scale[k] (if given), floor); every padding and guard
 * element must still hold what was uploaded, bit for bit.
 */
static void dm_check(const dmat *m, const double *exp, const double *scale, double floor, double tol,
                     const char *label) {
  double *got = malloc(m->n * sizeof *got);
  cr_assert_not_null(got);
  dm_fetch(m, got);
  const bctx *c = m->c;
  for (size_t k = 0; k < m->n; ++k) {
    int64_t i = (int64_t)(k / (size_t)m->ld) - 1, j = (int64_t)(k % (size_t)m->ld);
    bool in_view = i >= 0 && i < m->rows && j < m->cols;
    double g = got[k];
    if (in_view) {
      double s = fmax(fabs(exp[k]), floor);
      if (scale) s = fmax(s, scale[k]);
      double err = fabs(g - exp[k]);
      if (!(err <= tol * s)) {
        free(got);
        cr_assert_fail("backend %s [%s] %s: %s(%lld, %lld) = %.17g, expected %.17g (|err| %.3g > %.3g)", c->name,
                       dt_name(m->dt), c->what, label, (long long)i, (long long)j, g, exp[k], err, tol * s);
      }
    } else if (!(g == m->h[k])) {
      free(got);
      cr_assert_fail("backend %s [%s] %s: %s %s element (%lld, %lld) of a %lld x %lld view with ld %lld was "
                     "overwritten: %.17g (was %.17g)", c->name, dt_name(m->dt), c->what, label,
                     (i < 0 || i >= m->rows) ? "guard-row" : "padding", (long long)i, (long long)j,
                     (long long)m->rows, (long long)m->cols, (long long)m->ld, g, m->h[k]);
    }
  }
  free(got);
}

/* The op must not have modified m (an input). */
static void dm_check_same(const dmat *m, const char *label) { dm_check(m, m->h, NULL, 0.0, 0.0, label); }

/* Vectors: kind 0 contiguous column (ld 1), 1 strided column (ld 2..4), 2 row vector. */
static dmat dm_vec(bctx *c, int64_t len, int kind) {
  if (kind == 2) return dm_new(c, 1, len, pick_pad(c));
  return dm_new(c, len, 1, kind == 0 ? 0 : 1 + ref_rng_int(&c->rng, 3));
}
static const char *const VEC_KIND[] = {"column", "strided column", "row"};
static int64_t vinc(const dmat *m) { return m->cols == 1 ? m->ld : 1; }
static size_t VX(const dmat *m, int64_t p) { return m->cols == 1 ? IX(m, p, 0) : IX(m, 0, p); }

/* ---------------------------------------------------- registry / memory */

static void registry_case(bctx *c) {
  set_what(c, "handle");
  cr_assert_str_eq(npde_backend_name(c->be), c->name);
  const char *desc = npde_backend_describe(c->be);
  cr_assert(desc && *desc, "backend %s: empty describe()", c->name);
  npde_memtype mt = npde_backend_memtype(c->be);
  cr_assert(mt >= NPDE_MEM_HOST && mt <= NPDE_MEM_MANAGED, "backend %s: memtype %d", c->name, (int)mt);
  static const npde_backend_op required[] = {NPDE_OP_ALLOC, NPDE_OP_FREE, NPDE_OP_UPLOAD, NPDE_OP_DOWNLOAD};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; ++i)
    cr_assert(npde_backend_supports(c->be, required[i], NPDE_F64), "backend %s lacks required op %s", c->name,
              npde_backend_op_name(required[i]));
  cr_assert_not(npde_backend_supports(c->be, NPDE_OP_COUNT, c->dt));
  cr_assert_not(npde_backend_supports(c->be, (npde_backend_op)-1, c->dt));
  for (int op = 0; op < NPDE_OP_COUNT; ++op)
    if (!npde_backend_supports(c->be, (npde_backend_op)op, c->dt))
      cr_log_info("backend %s: %s not supported in %s", c->name, npde_backend_op_name((npde_backend_op)op),
                  dt_name(c->dt));
}

Test(backend, test_registry_backends_create) {
  for_each_backend(NPDE_OP_ALLOC, registry_case);
  cr_assert(g_tested > 0 || getenv("NPDE_CONFORMANCE_BACKEND"), "no backend could be created");
}

static void memory_case(bctx *c) {
  static const size_t sizes[] = {1, 8, 13, 1000, 65536 + 3};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s) {
    size_t n = sizes[s];
    set_what(c, "upload/download of %zu bytes", n);
    unsigned char *src = malloc(n), *back = malloc(n);
    cr_assert(src && back);
    for (size_t i = 0; i < n; ++i) src[i] = (unsigned char)(ref_rng_next(&c->rng) & 0xFF);
    void *d = NULL;
    CHECK_OK(c, npde_backend_alloc(c->be, n, &d));
    cr_assert_not_null(d);
    CHECK_OK(c, npde_backend_upload(c->be, d, src, n));
    memset(back, 0, n);
    CHECK_OK(c, npde_backend_download(c->be, back, d, n));
    cr_assert(memcmp(src, back, n) == 0, "backend %s: %s does not round-trip", c->name, c->what);
    if (n > 4) { /* partial transfer at an offset */
      unsigned char patch[3] = {0xA5, 0x5A, 0xC3};
      CHECK_OK(c, npde_backend_upload(c->be, (char *)d + 1, patch, 3));
      memcpy(src + 1, patch, 3);
      CHECK_OK(c, npde_backend_download(c->be, back, d, n));
      cr_assert(memcmp(src, back, n) == 0, "backend %s: %s: upload at an offset clobbered other bytes", c->name,
                c->what);
      unsigned char mid[3];
      CHECK_OK(c, npde_backend_download(c->be, mid, (char *)d + 1, 3));
      cr_assert(memcmp(mid, patch, 3) == 0, "backend %s: download at an offset", c->name);
    }
    CHECK_OK(c, npde_backend_upload(c->be, d, src, 0));
    CHECK_OK(c, npde_backend_download(c->be, back, d, 0));
    npde_backend_free(c->be, d);
    free(src);
    free(back);
  }
  npde_backend_free(c->be, NULL); /* accepted */
}

Test(backend, test_memory_upload_download_roundtrip) { for_each_backend(NPDE_OP_UPLOAD, memory_case); }

/* ------------------------------------------------------- copy, fill, convert */

static void copy_case(bctx *c) {
  for (int64_t t = 0; t < NDIMS * NDIMS; ++t) {
    int64_t r = DIMS[t % NDIMS], w = DIMS[(t / NDIMS + t) % NDIMS];
    dmat s = dm_new(c, r, w, pick_pad(c)), d = dm_new(c, r, w, pick_pad(c));
    set_what(c, "copy %lld x %lld (ld %lld -> %lld)", (long long)r, (long long)w, (long long)s.ld, (long long)d.ld);
    dm_rand(&s, -1, 1);
    dm_rand(&d, -1, 1);
    dm_upload(&s);
    dm_upload(&d);
    CHECK_OK(c, npde_backend_copy(c->be, &s.v, &d.v));
    double *e = dm_expect(&d);
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < w; ++j) e[IX(&d, i, j)] = H(&s, i, j);
    dm_check(&d, e, NULL, 0.0, 0.0, "dst");
    dm_check_same(&s, "src");
    free(e);
    dm_free(&s);
    dm_free(&d);
  }
}

Test(backend, test_copy_strided_views) { for_each_backend(NPDE_OP_COPY, copy_case); }

static void fill_case(bctx *c) {
  static const double values[] = {0.0, 2.5, -0.1, 1e10};
  for (int64_t t = 0; t < NDIMS * NDIMS; ++t) {
    int64_t r = DIMS[t % NDIMS], w = DIMS[(t / NDIMS + t) % NDIMS];
    double val = values[t % 4];
    dmat d = dm_new(c, r, w, pick_pad(c));
    set_what(c, "fill %lld x %lld (ld %lld) with %g", (long long)r, (long long)w, (long long)d.ld, val);
    dm_set_all(&d, NAN);
    dm_upload(&d);
    CHECK_OK(c, npde_backend_fill(c->be, &d.v, val));
    double *e = dm_expect(&d);
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < w; ++j) e[IX(&d, i, j)] = rnd(c->dt, val);
    dm_check(&d, e, NULL, 0.0, 0.0, "dst");
    free(e);
    dm_free(&d);
  }
}

Test(backend, test_fill_views) { for_each_backend(NPDE_OP_FILL, fill_case); }

static void convert_case(bctx *c) {
  npde_dtype other = c->dt == NPDE_F64 ? NPDE_F32 : NPDE_F64;
  for (int64_t t = 0; t < NDIMS * NDIMS; ++t) {
    int64_t r = DIMS[t % NDIMS], w = DIMS[(t / NDIMS + t) % NDIMS];
    for (int same = 0; same < 2; ++same) {
      npde_dtype to = same ? c->dt : other;
      dmat s = dm_new(c, r, w, pick_pad(c)), d = dm_new_dt(c, to, r, w, pick_pad(c));
      set_what(c, "convert %lld x %lld %s -> %s (ld %lld -> %lld)", (long long)r, (long long)w, dt_name(c->dt),
               dt_name(to), (long long)s.ld, (long long)d.ld);
      /* values that do not fit f32 exactly, to check the rounding */
      for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < w; ++j) H(&s, i, j) = rnd(c->dt, ref_rng_uniform(&c->rng, -1, 1) * 1e3);
      dm_rand(&d, -1, 1);
      dm_upload(&s);
      dm_upload(&d);
      CHECK_OK(c, npde_backend_convert(c->be, &s.v, &d.v));
      double *e = dm_expect(&d);
      for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < w; ++j) e[IX(&d, i, j)] = rnd(to, H(&s, i, j));
      dm_check(&d, e, NULL, 0.0, 0.0, "dst");
      dm_check_same(&s, "src");
      free(e);
      dm_free(&s);
      dm_free(&d);
    }
  }
}

Test(backend, test_convert_f64_f32) { for_each_backend(NPDE_OP_CONVERT, convert_case); }

/* ---------------------------------------------------------------- gemm */

static const char *tr(npde_trans t) { return t ? "T" : "N"; }

static void gemm_run(bctx *c, npde_trans ta, npde_trans tb, int64_t m, int64_t n, int64_t k, double alpha,
                     double beta, bool nan_c) {
  dmat A = ta ? dm_new(c, k, m, pick_pad(c)) : dm_new(c, m, k, pick_pad(c));
  dmat B = tb ? dm_new(c, n, k, pick_pad(c)) : dm_new(c, k, n, pick_pad(c));
  dmat C = dm_new(c, m, n, pick_pad(c));
  set_what(c, "gemm %s%s m=%lld n=%lld k=%lld alpha=%g beta=%g%s (ld A %lld, B %lld, C %lld)", tr(ta), tr(tb),
           (long long)m, (long long)n, (long long)k, alpha, beta, nan_c ? " C=NaN" : "", (long long)A.ld,
           (long long)B.ld, (long long)C.ld);
  dm_rand(&A, -1, 1);
  dm_rand(&B, -1, 1);
  if (nan_c) dm_set_all(&C, NAN);
  else dm_rand(&C, -1, 1);
  dm_upload(&A);
  dm_upload(&B);
  dm_upload(&C);
  CHECK_OK(c, npde_backend_gemm(c->be, ta, tb, alpha, &A.v, &B.v, beta, &C.v));
  double *e = dm_expect(&C), *sc = zeros(C.n);
  ref_gemm(ta, tb, m, n, k, alpha, &H(&A, 0, 0), A.ld, &H(&B, 0, 0), B.ld, beta, &e[IX(&C, 0, 0)], C.ld,
           &sc[IX(&C, 0, 0)]);
  dm_check(&C, e, sc, 0.0, tol_k(c, k), "C");
  dm_check_same(&A, "A");
  dm_check_same(&B, "B");
  free(e);
  free(sc);
  dm_free(&A);
  dm_free(&B);
  dm_free(&C);
}

static void gemm_trans_case(bctx *c) {
  static const int64_t edge[][3] = {{0, 0, 0}, {0, 3, 5}, {3, 0, 5}, {3, 5, 0}, {1, 1, 1},
                                    {1, 7, 1}, {7, 1, 3}, {65, 1, 33}, {1, 65, 17}, {33, 17, 65}};
  for (int t = 0; t < 4; ++t) {
    npde_trans ta = (npde_trans)(t & 1), tb = (npde_trans)(t >> 1);
    for (size_t e = 0; e < sizeof edge / sizeof edge[0]; ++e)
      gemm_run(c, ta, tb, edge[e][0], edge[e][1], edge[e][2], 1.0, 0.0, false);
    for (int r = 0; r < 24; ++r) gemm_run(c, ta, tb, pick_dim(c), pick_dim(c), pick_dim(c), 1.0, 0.0, false);
  }
}

Test(backend, test_gemm_transpose_combos) { for_each_backend(NPDE_OP_GEMM, gemm_trans_case); }

static void gemm_alpha_beta_case(bctx *c) {
  static const double ab[][2] = {{-0.75, 0.5}, {2.5, 1.0}, {0.0, -1.5}, {1.0, -1.0}, {0.5, 0.0}};
  for (int t = 0; t < 4; ++t)
    for (size_t i = 0; i < sizeof ab / sizeof ab[0]; ++i) {
      npde_trans ta = (npde_trans)(t & 1), tb = (npde_trans)(t >> 1);
      gemm_run(c, ta, tb, 7, 17, 3, ab[i][0], ab[i][1], false);
      gemm_run(c, ta, tb, 4, 3, 0, ab[i][0], ab[i][1], false); /* k = 0: C = beta C */
      for (int r = 0; r < 4; ++r) gemm_run(c, ta, tb, pick_dim(c), pick_dim(c), pick_dim(c), ab[i][0], ab[i][1], false);
    }
}

Test(backend, test_gemm_alpha_beta) { for_each_backend(NPDE_OP_GEMM, gemm_alpha_beta_case); }

static void gemm_nan_case(bctx *c) {
  for (int t = 0; t < 4; ++t) {
    npde_trans ta = (npde_trans)(t & 1), tb = (npde_trans)(t >> 1);
    gemm_run(c, ta, tb, 5, 3, 7, 1.0, 0.0, true);
    gemm_run(c, ta, tb, 3, 4, 0, 1.0, 0.0, true); /* k = 0 and beta = 0: C = 0 */
    gemm_run(c, ta, tb, 33, 17, 65, -2.0, 0.0, true);
    gemm_run(c, ta, tb, 1, 1, 1, 0.0, 0.0, true);
    for (int r = 0; r < 6; ++r) gemm_run(c, ta, tb, pick_dim(c), pick_dim(c), pick_dim(c), 0.5, 0.0, true);
  }
}

Test(backend, test_gemm_beta_zero_ignores_nan) { for_each_backend(NPDE_OP_GEMM, gemm_nan_case); }

/* ------------------------------------------------------- gemm_batched */

static void batched_run(bctx *c, npde_trans ta, npde_trans tb, int64_t m, int64_t n, int64_t k, int64_t batch,
                        bool share_a, double alpha, double beta) {
  int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  /* blocks are rows of a taller buffer, with gap rows between them */
  int64_t ga = ref_rng_int(&c->rng, 3), gb = ref_rng_int(&c->rng, 3), gc = ref_rng_int(&c->rng, 3);
  int64_t nb = batch > 0 ? batch : 1;
  dmat A = dm_new(c, (share_a ? 1 : nb) * (ar + ga), ac, pick_pad(c));
  dmat B = dm_new(c, nb * (br + gb), bc, pick_pad(c));
  dmat C = dm_new(c, nb * (m + gc), n, pick_pad(c));
  int64_t sa = share_a ? 0 : (ar + ga) * A.ld, sb = (br + gb) * B.ld, scs = (m + gc) * C.ld;
  set_what(c, "gemm_batched %s%s m=%lld n=%lld k=%lld batch=%lld strides %lld %lld %lld alpha=%g beta=%g", tr(ta),
           tr(tb), (long long)m, (long long)n, (long long)k, (long long)batch, (long long)sa, (long long)sb,
           (long long)scs, alpha, beta);
  dm_rand(&A, -1, 1);
  dm_rand(&B, -1, 1);
  dm_rand(&C, -1, 1);
  dm_upload(&A);
  dm_upload(&B);
  dm_upload(&C);
  npde_mat av = A.v, bv = B.v, cv = C.v;
  av.rows = ar;
  bv.rows = br;
  cv.rows = m;
  CHECK_OK(c, npde_backend_gemm_batched(c->be, ta, tb, alpha, &av, sa, &bv, sb, beta, &cv, scs, batch));
  double *e = dm_expect(&C), *sc = zeros(C.n);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t a0 = share_a ? 0 : b * (ar + ga);
    ref_gemm(ta, tb, m, n, k, alpha, &H(&A, a0, 0), A.ld, &H(&B, b * (br + gb), 0), B.ld, beta,
             &e[IX(&C, b * (m + gc), 0)], C.ld, &sc[IX(&C, b * (m + gc), 0)]);
  }
  dm_check(&C, e, sc, 0.0, tol_k(c, k), "C");
  dm_check_same(&A, "A");
  dm_check_same(&B, "B");
  free(e);
  free(sc);
  dm_free(&A);
  dm_free(&B);
  dm_free(&C);
}

static void batched_case(bctx *c) {
  for (int t = 0; t < 4; ++t) {
    npde_trans ta = (npde_trans)(t & 1), tb = (npde_trans)(t >> 1);
    batched_run(c, ta, tb, 3, 5, 7, 0, false, 1.0, 0.0);
    batched_run(c, ta, tb, 3, 5, 7, 1, false, 1.0, 0.0);
    batched_run(c, ta, tb, 7, 3, 17, 3, false, -0.5, 1.5);
    batched_run(c, ta, tb, 17, 1, 3, 4, true, 1.0, 0.0);
    batched_run(c, ta, tb, 0, 3, 3, 2, false, 1.0, 0.0);
    batched_run(c, ta, tb, 3, 3, 0, 2, false, 2.0, -1.0);
    for (int r = 0; r < 4; ++r)
      batched_run(c, ta, tb, pick_dim(c) % 20, pick_dim(c) % 20, pick_dim(c) % 20, 1 + ref_rng_int(&c->rng, 5),
                  r & 1, 0.75, (r & 2) ? 0.0 : 0.25);
  }
}

Test(backend, test_gemm_batched_strides) { for_each_backend(NPDE_OP_GEMM_BATCHED, batched_case); }

/* ---------------------------------------------------------------- gemv */

static void gemv_run(bctx *c, npde_trans ta, int64_t rows, int64_t cols, int xk, int yk, double alpha, double beta,
                     bool nan_y) {
  int64_t m = ta ? cols : rows, k = ta ? rows : cols;
  dmat A = dm_new(c, rows, cols, pick_pad(c)), x = dm_vec(c, k, xk), y = dm_vec(c, m, yk);
  set_what(c, "gemv %s %lld x %lld (ld %lld) x %s (ld %lld) y %s (ld %lld) alpha=%g beta=%g%s", tr(ta),
           (long long)rows, (long long)cols, (long long)A.ld, VEC_KIND[xk], (long long)x.ld, VEC_KIND[yk],
           (long long)y.ld, alpha, beta, nan_y ? " y=NaN" : "");
  dm_rand(&A, -1, 1);
  dm_rand(&x, -1, 1);
  if (nan_y) dm_set_all(&y, NAN);
  else dm_rand(&y, -1, 1);
  dm_upload(&A);
  dm_upload(&x);
  dm_upload(&y);
  CHECK_OK(c, npde_backend_gemv(c->be, ta, alpha, &A.v, &x.v, beta, &y.v));
  double *e = dm_expect(&y), *sc = zeros(y.n);
  ref_gemv(ta, rows, cols, alpha, &H(&A, 0, 0), A.ld, &x.h[VX(&x, 0)], vinc(&x), beta, &e[VX(&y, 0)], vinc(&y),
           &sc[VX(&y, 0)]);
  dm_check(&y, e, sc, 0.0, tol_k(c, k), "y");
  dm_check_same(&A, "A");
  dm_check_same(&x, "x");
  free(e);
  free(sc);
  dm_free(&A);
  dm_free(&x);
  dm_free(&y);
}

static void gemv_case(bctx *c) {
  static const double ab[][2] = {{1.0, 0.0}, {-0.5, 2.0}, {2.0, 1.0}};
  for (int ta = 0; ta < 2; ++ta)
    for (int xk = 0; xk < 3; ++xk)
      for (int yk = 0; yk < 3; ++yk) {
        for (int e = 0; e < 3; ++e) gemv_run(c, (npde_trans)ta, 7, 17, xk, yk, ab[e][0], ab[e][1], false);
        gemv_run(c, (npde_trans)ta, 1, 1, xk, yk, 1.5, 0.5, false);
        gemv_run(c, (npde_trans)ta, 0, 3, xk, yk, 1.0, 0.5, false);
        gemv_run(c, (npde_trans)ta, 3, 0, xk, yk, 1.0, 0.5, false);
        for (int r = 0; r < 4; ++r)
          gemv_run(c, (npde_trans)ta, pick_dim(c), pick_dim(c), xk, yk, ab[r % 3][0], ab[r % 3][1], false);
      }
}

Test(backend, test_gemv_column_and_row_vectors) { for_each_backend(NPDE_OP_GEMV, gemv_case); }

static void gemv_nan_case(bctx *c) {
  for (int ta = 0; ta < 2; ++ta)
    for (int yk = 0; yk < 3; ++yk) {
      gemv_run(c, (npde_trans)ta, 17, 33, 1, yk, 1.0, 0.0, true);
      gemv_run(c, (npde_trans)ta, 3, 0, 0, yk, 1.0, 0.0, true);
      gemv_run(c, (npde_trans)ta, 0, 3, 0, yk, 1.0, 0.0, true);
      gemv_run(c, (npde_trans)ta, 7, 7, 2, yk, 0.0, 0.0, true);
    }
}

Test(backend, test_gemv_beta_zero_ignores_nan) { for_each_backend(NPDE_OP_GEMV, gemv_nan_case); }

/* ------------------------------------------------- axpy, scal, dot, nrm2 */

/* A pair of equally shaped operands: general views (with or without
 * padding), strided column vectors or row vectors. */
typedef struct shape {
  int64_t rows, cols, pad_x, pad_y;
} shape;

static shape pick_shape(bctx *c, int64_t t) {
  shape s;
  switch (t % 4) {
    case 0: /* matrix, contiguous or padded */
      s.rows = DIMS[t / 4 % NDIMS];
      s.cols = DIMS[(t / 4 / NDIMS + t) % NDIMS];
      s.pad_x = (t / 4) % 2 ? 0 : pick_pad(c);
      s.pad_y = pick_pad(c);
      break;
    case 1: /* strided column vectors */
      s.rows = pick_dim(c);
      s.cols = 1;
      s.pad_x = 1 + ref_rng_int(&c->rng, 3);
      s.pad_y = ref_rng_int(&c->rng, 3);
      break;
    case 2: /* row vectors */
      s.rows = 1;
      s.cols = pick_dim(c);
      s.pad_x = pick_pad(c);
      s.pad_y = pick_pad(c);
      break;
    default: /* contiguous matrices (one BLAS-1 call) */
      s.rows = pick_dim(c);
      s.cols = pick_dim(c);
      s.pad_x = 0;
      s.pad_y = 0;
      break;
  }
  return s;
}

#define N_SHAPES 112

static void axpy_case(bctx *c) {
  static const double alphas[] = {1.0, -0.5, 2.25, 0.0};
  for (int64_t t = 0; t < N_SHAPES; ++t) {
    shape s = pick_shape(c, t);
    double alpha = alphas[t % 4];
    dmat x = dm_new(c, s.rows, s.cols, s.pad_x), y = dm_new(c, s.rows, s.cols, s.pad_y);
    set_what(c, "axpy %lld x %lld (ld %lld, %lld) alpha=%g", (long long)s.rows, (long long)s.cols, (long long)x.ld,
             (long long)y.ld, alpha);
    dm_rand(&x, -1, 1);
    dm_rand(&y, -1, 1);
    dm_upload(&x);
    dm_upload(&y);
    CHECK_OK(c, npde_backend_axpy(c->be, alpha, &x.v, &y.v));
    double *e = dm_expect(&y), *sc = zeros(y.n);
    for (int64_t i = 0; i < s.rows; ++i)
      for (int64_t j = 0; j < s.cols; ++j) {
        e[IX(&y, i, j)] = H(&y, i, j) + alpha * H(&x, i, j);
        sc[IX(&y, i, j)] = fabs(H(&y, i, j)) + fabs(alpha * H(&x, i, j));
      }
    dm_check(&y, e, sc, 0.0, c->tol, "y");
    dm_check_same(&x, "x");
    free(e);
    free(sc);
    dm_free(&x);
    dm_free(&y);
  }
}

Test(backend, test_axpy_views) { for_each_backend(NPDE_OP_AXPY, axpy_case); }

static void scal_case(bctx *c) {
  static const double alphas[] = {0.5, -3.0, 0.0, 1.0};
  for (int64_t t = 0; t < N_SHAPES; ++t) {
    shape s = pick_shape(c, t);
    double alpha = alphas[t % 4];
    dmat x = dm_new(c, s.rows, s.cols, s.pad_x);
    set_what(c, "scal %lld x %lld (ld %lld) alpha=%g", (long long)s.rows, (long long)s.cols, (long long)x.ld, alpha);
    dm_rand(&x, -1, 1);
    dm_upload(&x);
    CHECK_OK(c, npde_backend_scal(c->be, alpha, &x.v));
    double *e = dm_expect(&x);
    for (int64_t i = 0; i < s.rows; ++i)
      for (int64_t j = 0; j < s.cols; ++j) e[IX(&x, i, j)] = alpha * H(&x, i, j);
    dm_check(&x, e, NULL, 0.0, c->tol, "x");
    free(e);
    dm_free(&x);
  }
}

Test(backend, test_scal_views) { for_each_backend(NPDE_OP_SCAL, scal_case); }

static void dot_case(bctx *c) {
  for (int64_t t = 0; t < N_SHAPES; ++t) {
    shape s = pick_shape(c, t);
    dmat x = dm_new(c, s.rows, s.cols, s.pad_x), y = dm_new(c, s.rows, s.cols, s.pad_y);
    set_what(c, "dot %lld x %lld (ld %lld, %lld)", (long long)s.rows, (long long)s.cols, (long long)x.ld,
             (long long)y.ld);
    dm_rand(&x, -1, 1);
    dm_rand(&y, -1, 1);
    dm_upload(&x);
    dm_upload(&y);
    double got = NAN, exp = 0.0, sa = 0.0;
    CHECK_OK(c, npde_backend_dot(c->be, &x.v, &y.v, &got));
    for (int64_t i = 0; i < s.rows; ++i)
      for (int64_t j = 0; j < s.cols; ++j) {
        exp += H(&x, i, j) * H(&y, i, j);
        sa += fabs(H(&x, i, j) * H(&y, i, j));
      }
    double bound = tol_k(c, s.rows * s.cols) * sa;
    cr_assert(fabs(got - exp) <= bound, "backend %s [%s] %s: got %.17g, expected %.17g (bound %.3g)", c->name,
              dt_name(c->dt), c->what, got, exp, bound);
    dm_check_same(&x, "x");
    dm_check_same(&y, "y");
    dm_free(&x);
    dm_free(&y);
  }
}

Test(backend, test_dot_views) { for_each_backend(NPDE_OP_DOT, dot_case); }

/* f32 data whose sum is lost in f32 arithmetic: 2^24, then ones, then -2^24.
 * A double accumulator gets the count of ones exactly. */
static void cancel_fill(dmat *m, int64_t ones) {
  for (int64_t i = 0; i < m->rows; ++i)
    for (int64_t j = 0; j < m->cols; ++j) {
      int64_t e = m->cols == 1 ? i : j;
      H(m, i, j) = e == 0 ? 0x1.0p24 : e == ones + 1 ? -0x1.0p24 : 1.0;
    }
}

static void dot_double_case(bctx *c) {
  if (c->dt != NPDE_F32) return; /* the contract matters for f32 inputs */
  for (int kind = 0; kind < 3; ++kind) {
    int64_t ones = 101;
    dmat x = dm_vec(c, ones + 2, kind), y = dm_vec(c, ones + 2, kind);
    set_what(c, "dot of 2^24, %lld ones, -2^24 (%s vectors, ld %lld, %lld)", (long long)ones, VEC_KIND[kind],
             (long long)x.ld, (long long)y.ld);
    cancel_fill(&x, ones);
    for (int64_t p = 0; p < ones + 2; ++p) y.h[VX(&y, p)] = 1.0;
    dm_upload(&x);
    dm_upload(&y);
    double got = NAN;
    CHECK_OK(c, npde_backend_dot(c->be, &x.v, &y.v, &got));
    cr_expect(got == (double)ones, "backend %s [f32] %s: got %.17g, expected %lld (accumulate in double)", c->name,
              c->what, got, (long long)ones);
    dm_free(&x);
    dm_free(&y);
  }
}

Test(backend, test_dot_accumulates_in_double) { for_each_backend(NPDE_OP_DOT, dot_double_case); }

static void nrm2_run(bctx *c, shape s, double mag) {
  dmat x = dm_new(c, s.rows, s.cols, s.pad_x);
  set_what(c, "nrm2 %lld x %lld (ld %lld) magnitude %g", (long long)s.rows, (long long)s.cols, (long long)x.ld, mag);
  for (int64_t i = 0; i < s.rows; ++i)
    for (int64_t j = 0; j < s.cols; ++j) {
      double v = ref_rng_uniform(&c->rng, 0.5, 1.0) * mag;
      H(&x, i, j) = rnd(c->dt, ref_rng_next(&c->rng) & 1 ? -v : v);
    }
  dm_upload(&x);
  double got = NAN;
  CHECK_OK(c, npde_backend_nrm2(c->be, &x.v, &got));
  double exp = 0.0;
  { /* scaled over the whole view */
    double mx = 0.0, ss = 0.0;
    for (int64_t i = 0; i < s.rows; ++i)
      for (int64_t j = 0; j < s.cols; ++j) mx = fmax(mx, fabs(H(&x, i, j)));
    for (int64_t i = 0; i < s.rows && mx > 0; ++i)
      for (int64_t j = 0; j < s.cols; ++j) ss += (H(&x, i, j) / mx) * (H(&x, i, j) / mx);
    exp = mx * sqrt(ss);
    if (s.rows == 1 || s.cols == 1) { /* cross-check the vector reference */
      double alt = s.cols == 1 ? ref_nrm2(&H(&x, 0, 0), s.rows, x.ld) : ref_nrm2(&H(&x, 0, 0), s.cols, 1);
      cr_assert(fabs(alt - exp) <= 1e-14 * exp);
    }
  }
  double bound = tol_k(c, s.rows * s.cols) * exp;
  cr_assert(isfinite(got) && fabs(got - exp) <= bound, "backend %s [%s] %s: got %.17g, expected %.17g (bound %.3g)",
            c->name, dt_name(c->dt), c->what, got, exp, bound);
  dm_check_same(&x, "x");
  dm_free(&x);
}

static void nrm2_case(bctx *c) {
  for (int64_t t = 0; t < N_SHAPES; ++t) nrm2_run(c, pick_shape(c, t), 1.0);
}

Test(backend, test_nrm2_views) { for_each_backend(NPDE_OP_NRM2, nrm2_case); }

static void nrm2_range_case(bctx *c) {
  /* squares of these overflow (underflow) the dtype; the norm does not */
  double big = c->dt == NPDE_F64 ? 1e200 : 1e30, tiny = c->dt == NPDE_F64 ? 1e-200 : 1e-30;
  for (int64_t t = 0; t < 24; ++t) {
    shape s = pick_shape(c, t);
    if (s.rows * s.cols == 0) s.rows = s.cols = 3;
    nrm2_run(c, s, big);
    nrm2_run(c, s, tiny);
  }
}

Test(backend, test_nrm2_no_overflow) { for_each_backend(NPDE_OP_NRM2, nrm2_range_case); }

/* ---------------------------------------------------------------- trsm */

static void trsm_run(bctx *c, npde_side side, npde_uplo uplo, npde_trans ta, npde_diag diag, int64_t rows,
                     int64_t cols, double alpha) {
  int64_t n = side == NPDE_LEFT ? rows : cols;
  dmat A = dm_new(c, n, n, pick_pad(c)), B = dm_new(c, rows, cols, pick_pad(c));
  set_what(c, "trsm %s %s %s %s B %lld x %lld (ld A %lld, B %lld) alpha=%g", side == NPDE_LEFT ? "left" : "right",
           uplo == NPDE_UPPER ? "upper" : "lower", ta ? "trans" : "notrans", diag == NPDE_UNIT ? "unit" : "non-unit",
           (long long)rows, (long long)cols, (long long)A.ld, (long long)B.ld, alpha);
  /* Diagonally dominant triangle; the other triangle (and a unit diagonal)
   * must not be read, so it holds NaN. */
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      bool in_tri = uplo == NPDE_LOWER ? j <= i : j >= i;
      double v;
      if (!in_tri) v = NAN;
      else if (i == j) v = diag == NPDE_UNIT ? NAN : ref_rng_uniform(&c->rng, 1.5, 2.5);
      else v = ref_rng_uniform(&c->rng, -1, 1) / (double)n;
      H(&A, i, j) = rnd(c->dt, v);
    }
  dm_rand(&B, -1, 1);
  dm_upload(&A);
  dm_upload(&B);
  CHECK_OK(c, npde_backend_trsm(c->be, side, uplo, ta, diag, alpha, &A.v, &B.v));
  double *e = dm_expect(&B);
  ref_trsm(side, uplo, ta, diag, alpha, &H(&A, 0, 0), A.ld, &e[IX(&B, 0, 0)], rows, cols, B.ld);
  dm_check(&B, e, NULL, fabs(alpha), tol_k(c, n), "B");
  /* A holds NaN, so compare it bit for bit by hand */
  double *got = malloc(A.n * sizeof *got);
  cr_assert_not_null(got);
  dm_fetch(&A, got);
  for (size_t k = 0; k < A.n; ++k)
    cr_assert(got[k] == A.h[k] || (isnan(got[k]) && isnan(A.h[k])), "backend %s [%s] %s: A modified", c->name,
              dt_name(c->dt), c->what);
  free(got);
  free(e);
  dm_free(&A);
  dm_free(&B);
}

static void trsm_case(bctx *c) {
  for (int v = 0; v < 16; ++v) {
    npde_side side = (npde_side)(v & 1);
    npde_uplo uplo = (npde_uplo)((v >> 1) & 1);
    npde_trans ta = (npde_trans)((v >> 2) & 1);
    npde_diag diag = (npde_diag)((v >> 3) & 1);
    trsm_run(c, side, uplo, ta, diag, 7, 5, 1.0);
    trsm_run(c, side, uplo, ta, diag, 1, 1, -0.5);
    trsm_run(c, side, uplo, ta, diag, 0, 3, 1.0);
    trsm_run(c, side, uplo, ta, diag, 3, 0, 1.0);
    trsm_run(c, side, uplo, ta, diag, 33, 17, 2.0);
    for (int r = 0; r < 3; ++r) trsm_run(c, side, uplo, ta, diag, pick_dim(c), pick_dim(c), r ? 1.0 : -1.5);
  }
}

Test(backend, test_trsm_all_variants) { for_each_backend(NPDE_OP_TRSM, trsm_case); }

/* ---------------------------------------------------------- activation */

static void activation_case(bctx *c) {
  for (int act = 0; act < NPDE_ACT_COUNT; ++act)
    for (int mask = 0; mask < 8; ++mask)
      for (int t = 0; t < 4; ++t) {
        int64_t r = t ? pick_dim(c) : (mask & 1 ? 0 : 1), w = t ? pick_dim(c) : 3;
        dmat Z = dm_new(c, r, w, pick_pad(c)), S[3];
        memset(S, 0, sizeof S);
        set_what(c, "activation %s outputs%s%s%s %lld x %lld (ld %lld)", npde_activation_name((npde_activation)act),
                 mask & 1 ? " S0" : "", mask & 2 ? " S1" : "", mask & 4 ? " S2" : "", (long long)r, (long long)w,
                 (long long)Z.ld);
        dm_rand(&Z, -3, 3);
        dm_upload(&Z);
        npde_mat *outs[3] = {NULL, NULL, NULL};
        for (int o = 0; o < 3; ++o) {
          if (!(mask >> o & 1)) continue;
          S[o] = dm_new(c, r, w, pick_pad(c));
          dm_set_all(&S[o], NAN);
          dm_upload(&S[o]);
          outs[o] = &S[o].v;
        }
        CHECK_OK(c, npde_backend_activation(c->be, (npde_activation)act, &Z.v, outs[0], outs[1], outs[2]));
        for (int o = 0; o < 3; ++o) {
          if (!outs[o]) continue;
          double *e = dm_expect(&S[o]);
          for (int64_t i = 0; i < r; ++i)
            for (int64_t j = 0; j < w; ++j) {
              double s[3];
              ref_activation((npde_activation)act, H(&Z, i, j), s);
              e[IX(&S[o], i, j)] = s[o];
            }
          static const char *const labels[3] = {"S0", "S1", "S2"};
          dm_check(&S[o], e, NULL, 1.0, c->tol, labels[o]);
          free(e);
          dm_free(&S[o]);
        }
        dm_check_same(&Z, "Z");
        dm_free(&Z);
      }
}

Test(backend, test_activation_outputs_optional) { for_each_backend(NPDE_OP_ACTIVATION, activation_case); }

static void activation_inplace_case(bctx *c) {
  for (int act = 0; act < NPDE_ACT_COUNT; ++act)
    for (int o = 0; o < 3; ++o) {
      dmat Z = dm_new(c, 17, 7, 2);
      set_what(c, "activation %s with S%d aliasing Z", npde_activation_name((npde_activation)act), o);
      dm_rand(&Z, -3, 3);
      dm_upload(&Z);
      npde_mat *outs[3] = {NULL, NULL, NULL};
      outs[o] = &Z.v;
      CHECK_OK(c, npde_backend_activation(c->be, (npde_activation)act, &Z.v, outs[0], outs[1], outs[2]));
      double *e = dm_expect(&Z);
      for (int64_t i = 0; i < Z.rows; ++i)
        for (int64_t j = 0; j < Z.cols; ++j) {
          double s[3];
          ref_activation((npde_activation)act, H(&Z, i, j), s);
          e[IX(&Z, i, j)] = s[o];
        }
      dm_check(&Z, e, NULL, 1.0, c->tol, "Z");
      free(e);
      dm_free(&Z);
    }
}

Test(backend, test_activation_in_place) { for_each_backend(NPDE_OP_ACTIVATION, activation_inplace_case); }

/* S0 in place in Z while S1 and S2 go elsewhere: all three from the original Z. */
static void activation_inplace_with_derivatives_case(bctx *c) {
  for (int act = 0; act < NPDE_ACT_COUNT; ++act) {
    dmat Z = dm_new(c, 33, 9, 1), S1 = dm_new(c, 33, 9, 0), S2 = dm_new(c, 33, 9, 3);
    set_what(c, "activation %s with S0 aliasing Z and S1, S2 wanted", npde_activation_name((npde_activation)act));
    dm_rand(&Z, -3, 3);
    dm_upload(&Z);
    dm_upload(&S1);
    dm_upload(&S2);
    CHECK_OK(c, npde_backend_activation(c->be, (npde_activation)act, &Z.v, &Z.v, &S1.v, &S2.v));
    double *e0 = dm_expect(&Z), *e1 = dm_expect(&S1), *e2 = dm_expect(&S2);
    for (int64_t i = 0; i < Z.rows; ++i)
      for (int64_t j = 0; j < Z.cols; ++j) {
        double s[3];
        ref_activation((npde_activation)act, H(&Z, i, j), s);
        e0[IX(&Z, i, j)] = s[0];
        e1[IX(&S1, i, j)] = s[1];
        e2[IX(&S2, i, j)] = s[2];
      }
    dm_check(&Z, e0, NULL, 1.0, c->tol, "S0 = Z");
    dm_check(&S1, e1, NULL, 1.0, c->tol, "S1");
    dm_check(&S2, e2, NULL, 1.0, c->tol, "S2");
    free(e0); free(e1); free(e2);
    dm_free(&Z); dm_free(&S1); dm_free(&S2);
  }
}

Test(backend, test_activation_in_place_with_derivatives) {
  for_each_backend(NPDE_OP_ACTIVATION, activation_inplace_with_derivatives_case);
}

static void swish_golden_case(bctx *c) {
  set_what(c, "swish at z = 0.7");
  dmat Z = dm_new(c, 1, 1, 0), S[3];
  H(&Z, 0, 0) = rnd(c->dt, 0.7);
  dm_upload(&Z);
  for (int o = 0; o < 3; ++o) {
    S[o] = dm_new(c, 1, 1, 0);
    dm_upload(&S[o]);
  }
  CHECK_OK(c, npde_backend_activation(c->be, NPDE_ACT_SWISH, &Z.v, &S[0].v, &S[1].v, &S[2].v));
  static const double golden[3] = {0.467731440518, 0.823386783473, 0.391220594678};
  double tol = c->dt == NPDE_F64 ? 1e-11 : 1e-6;
  for (int o = 0; o < 3; ++o) {
    double buf[3]; /* the whole 1 x 1 buffer with its guard rows */
    dm_fetch(&S[o], buf);
    double got = buf[IX(&S[o], 0, 0)];
    cr_assert(fabs(got - golden[o]) <= tol, "backend %s [%s] swish derivative %d at 0.7: got %.15g, expected %.12f",
              c->name, dt_name(c->dt), o, got, golden[o]);
    dm_free(&S[o]);
  }
  dm_free(&Z);
}

Test(backend, test_activation_swish_golden) { for_each_backend(NPDE_OP_ACTIVATION, swish_golden_case); }

/* Evaluate S_o of act at Z + shift on the backend (f64), into host array out (view order). */
static void act_eval_dev(bctx *c, npde_activation act, const dmat *Z, double shift, int o, double *out) {
  dmat Zs = dm_new(c, Z->rows, Z->cols, 1), S = dm_new(c, Z->rows, Z->cols, 0);
  for (int64_t i = 0; i < Z->rows; ++i)
    for (int64_t j = 0; j < Z->cols; ++j) H(&Zs, i, j) = H(Z, i, j) + shift;
  dm_upload(&Zs);
  dm_upload(&S);
  npde_mat *outs[3] = {NULL, NULL, NULL};
  outs[o] = &S.v;
  CHECK_OK(c, npde_backend_activation(c->be, act, &Zs.v, outs[0], outs[1], outs[2]));
  double *got = malloc(S.n * sizeof *got);
  cr_assert_not_null(got);
  dm_fetch(&S, got);
  for (int64_t i = 0; i < Z->rows; ++i)
    for (int64_t j = 0; j < Z->cols; ++j) out[i * Z->cols + j] = got[IX(&S, i, j)];
  free(got);
  dm_free(&Zs);
  dm_free(&S);
}

static void activation_fd_case(bctx *c) {
  if (c->dt != NPDE_F64) return; /* finite differences need double */
  for (int act = 0; act < NPDE_ACT_COUNT; ++act) {
    set_what(c, "activation %s vs finite differences", npde_activation_name((npde_activation)act));
    dmat Z = dm_new(c, 9, 7, 0);
    dm_rand(&Z, -3, 3);
    int64_t n = Z.rows * Z.cols;
    double *s0 = malloc(n * sizeof(double)), *s1 = malloc(n * sizeof(double)), *s2 = malloc(n * sizeof(double));
    double *p1 = malloc(n * sizeof(double)), *m1 = malloc(n * sizeof(double));
    double *p2 = malloc(n * sizeof(double)), *m2 = malloc(n * sizeof(double));
    const double h1 = 1e-5, h2 = 1e-4;
    act_eval_dev(c, (npde_activation)act, &Z, 0.0, 0, s0);
    act_eval_dev(c, (npde_activation)act, &Z, 0.0, 1, s1);
    act_eval_dev(c, (npde_activation)act, &Z, 0.0, 2, s2);
    act_eval_dev(c, (npde_activation)act, &Z, h1, 0, p1);
    act_eval_dev(c, (npde_activation)act, &Z, -h1, 0, m1);
    act_eval_dev(c, (npde_activation)act, &Z, h2, 0, p2);
    act_eval_dev(c, (npde_activation)act, &Z, -h2, 0, m2);
    for (int64_t q = 0; q < n; ++q) {
      double z = Z.h[IX(&Z, q / Z.cols, q % Z.cols)];
      double d1 = (p1[q] - m1[q]) / ((z + h1) - (z - h1));
      double hh = 0.5 * ((z + h2) - (z - h2));
      double d2 = (p2[q] - 2.0 * s0[q] + m2[q]) / (hh * hh);
      cr_assert(fabs(s1[q] - d1) <= 1e-7 * fmax(1.0, fabs(d1)),
                "backend %s %s: S1(%.17g) = %.12g, central difference of S0 %.12g", c->name, c->what, z, s1[q], d1);
      cr_assert(fabs(s2[q] - d2) <= 1e-5 * fmax(1.0, fabs(d2)),
                "backend %s %s: S2(%.17g) = %.12g, second difference of S0 %.12g", c->name, c->what, z, s2[q], d2);
    }
    free(s0); free(s1); free(s2); free(p1); free(m1); free(p2); free(m2);
    dm_free(&Z);
  }
}

Test(backend, test_activation_derivatives_fd) { for_each_backend(NPDE_OP_ACTIVATION, activation_fd_case); }

/* ---------------------------------------------------- mul_blocks, jet2 */

static void mul_blocks_case(bctx *c) {
  for (int t = 0; t < 40; ++t) {
    int64_t n = t < 7 ? DIMS[t] : pick_dim(c), w = t < 7 ? DIMS[(t + 3) % NDIMS] : pick_dim(c);
    int64_t m = 1 + t % 4;
    bool inplace = t % 3 == 2;
    dmat S = dm_new(c, n, w, pick_pad(c)), X = dm_new(c, m * n, w, pick_pad(c));
    dmat Y = inplace ? X : dm_new(c, m * n, w, pick_pad(c));
    set_what(c, "mul_blocks n=%lld w=%lld m=%lld%s (ld S %lld, X %lld, Y %lld)", (long long)n, (long long)w,
             (long long)m, inplace ? " Y=X" : "", (long long)S.ld, (long long)X.ld, (long long)Y.ld);
    dm_rand(&S, -2, 2);
    dm_rand(&X, -2, 2);
    dm_upload(&S);
    dm_upload(&X);
    if (!inplace) {
      dm_set_all(&Y, NAN);
      dm_upload(&Y);
    }
    CHECK_OK(c, npde_backend_mul_blocks(c->be, &S.v, &X.v, &Y.v, m));
    double *e = dm_expect(&Y);
    for (int64_t k = 0; k < m; ++k)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < w; ++j) e[IX(&Y, k * n + i, j)] = H(&S, i, j) * H(&X, k * n + i, j);
    dm_check(&Y, e, NULL, 0.0, c->tol, "Y");
    dm_check_same(&S, "S");
    if (!inplace) {
      dm_check_same(&X, "X");
      dm_free(&Y);
    }
    free(e);
    dm_free(&S);
    dm_free(&X);
  }
}

Test(backend, test_mul_blocks_stacks) { for_each_backend(NPDE_OP_MUL_BLOCKS, mul_blocks_case); }

static void jet2_case(bctx *c) {
  for (int t = 0; t < 48; ++t) {
    int64_t n = t < 7 ? DIMS[t] : pick_dim(c), w = t < 7 ? DIMS[(t + 2) % NDIMS] : pick_dim(c);
    int64_t m = 1 + t % 4;
    int variant = t % 3; /* 0 distinct, 1 Xb = Xa, 2 Y = Xdd */
    dmat S1 = dm_new(c, n, w, pick_pad(c)), S2 = dm_new(c, n, w, pick_pad(c));
    dmat Xa = dm_new(c, m * n, w, pick_pad(c));
    dmat Xb = variant == 1 ? Xa : dm_new(c, m * n, w, pick_pad(c));
    dmat Xdd = dm_new(c, m * n, w, pick_pad(c));
    dmat Y = variant == 2 ? Xdd : dm_new(c, m * n, w, pick_pad(c));
    set_what(c, "jet2 n=%lld w=%lld m=%lld%s", (long long)n, (long long)w, (long long)m,
             variant == 1 ? " Xb=Xa" : variant == 2 ? " Y=Xdd" : "");
    dm_rand(&S1, -2, 2);
    dm_rand(&S2, -2, 2);
    dm_rand(&Xa, -2, 2);
    if (variant != 1) dm_rand(&Xb, -2, 2);
    dm_rand(&Xdd, -2, 2);
    dm_upload(&S1);
    dm_upload(&S2);
    dm_upload(&Xa);
    if (variant != 1) dm_upload(&Xb);
    dm_upload(&Xdd);
    if (variant != 2) {
      dm_set_all(&Y, NAN);
      dm_upload(&Y);
    }
    CHECK_OK(c, npde_backend_jet2(c->be, &S1.v, &S2.v, &Xa.v, &Xb.v, &Xdd.v, &Y.v, m));
    double *e = dm_expect(&Y), *sc = zeros(Y.n);
    for (int64_t k = 0; k < m; ++k)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < w; ++j) {
          int64_t r = k * n + i;
          double a = H(&S2, i, j) * H(&Xa, r, j) * H(&Xb, r, j), b = H(&S1, i, j) * H(&Xdd, r, j);
          e[IX(&Y, r, j)] = a + b;
          sc[IX(&Y, r, j)] = fabs(a) + fabs(b);
        }
    dm_check(&Y, e, sc, 0.0, 2 * c->tol, "Y");
    dm_check_same(&S1, "S1");
    dm_check_same(&S2, "S2");
    dm_check_same(&Xa, "Xa");
    if (variant != 1) {
      dm_check_same(&Xb, "Xb");
      dm_free(&Xb);
    }
    if (variant != 2) {
      dm_check_same(&Xdd, "Xdd");
      dm_free(&Y);
    }
    free(e);
    free(sc);
    dm_free(&S1);
    dm_free(&S2);
    dm_free(&Xa);
    dm_free(&Xdd);
  }
}

Test(backend, test_jet2_stacks) { for_each_backend(NPDE_OP_JET2, jet2_case); }

/* ---------------------------------------------------------- sinusoidal */

/* Run sinusoidal on X (uploaded) into a fresh Y; return the downloaded Y view (n x 2Ld, packed). */
static double *sinusoidal_dev_dir(bctx *c, const dmat *X, int64_t L, double alpha, double amp, int order, int64_t dir,
                                  int64_t pad) {
  int64_t n = X->rows, cols = 2 * L * X->cols;
  dmat Y = dm_new(c, n, cols, pad);
  dm_set_all(&Y, NAN);
  dm_upload(&Y);
  CHECK_OK(c, npde_backend_sinusoidal(c->be, &X->v, L, alpha, amp, order, dir, &Y.v));
  double *got = malloc(Y.n * sizeof *got), *out = malloc((size_t)(n * cols + 1) * sizeof *out);
  cr_assert(got && out);
  dm_fetch(&Y, got);
  for (size_t k = 0; k < Y.n; ++k) {
    int64_t i = (int64_t)(k / (size_t)Y.ld) - 1, j = (int64_t)(k % (size_t)Y.ld);
    if (i >= 0 && i < n && j < cols) continue;
    cr_assert(got[k] == Y.h[k], "backend %s [%s] %s: Y padding/guard element (%lld, %lld) overwritten: %.17g",
              c->name, dt_name(c->dt), c->what, (long long)i, (long long)j, got[k]);
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < cols; ++j) out[i * cols + j] = got[IX(&Y, i, j)];
  free(got);
  dm_free(&Y);
  return out;
}

static double *sinusoidal_dev(bctx *c, const dmat *X, int64_t L, double alpha, double amp, int order, int64_t pad) {
  return sinusoidal_dev_dir(c, X, L, alpha, amp, order, -1, pad);
}

static void sinusoidal_case(bctx *c) {
  for (int t = 0; t < 36; ++t) {
    int64_t n = t < 7 ? DIMS[t] : pick_dim(c), d = 1 + ref_rng_int(&c->rng, 4), L = 1 + ref_rng_int(&c->rng, 4);
    double alpha = (double[]){0.0, 1.0, 0.5}[t % 3], amp = (double[]){1.0, 6.0}[t % 2];
    int order = t % 3 == 0 ? (t / 3) % 3 : t % 3;
    dmat X = dm_new(c, n, d, pick_pad(c));
    set_what(c, "sinusoidal n=%lld d=%lld L=%lld alpha=%g amp=%g order=%d (ld X %lld)", (long long)n, (long long)d,
             (long long)L, alpha, amp, order, (long long)X.ld);
    dm_rand(&X, -1, 1);
    dm_upload(&X);
    double *y = sinusoidal_dev(c, &X, L, alpha, amp, order, pick_pad(c));
    int64_t cols = 2 * L * d;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < L; ++k)
        for (int64_t j = 0; j < d; ++j)
          for (int cs = 0; cs < 2; ++cs) {
            int64_t col = cs * L * d + k * d + j;
            double exp = ref_sinusoidal(H(&X, i, j), k, alpha, amp, order, cs);
            double w = ref_sin_freq(k), scale = amp * pow(w, (double)order - alpha);
            double got = y[i * cols + col];
            cr_assert(fabs(got - exp) <= c->tol * scale * 10,
                      "backend %s [%s] %s: Y(%lld, %lld) = %.17g, expected %.17g", c->name, dt_name(c->dt), c->what,
                      (long long)i, (long long)col, got, exp);
          }
    dm_check_same(&X, "X");
    free(y);
    dm_free(&X);
  }
}

Test(backend, test_sinusoidal_orders) { for_each_backend(NPDE_OP_SINUSOIDAL, sinusoidal_case); }

static void sinusoidal_golden_case(bctx *c) {
  set_what(c, "sinusoidal golden L=3 alpha=1 amp=6 x=(0.3, -0.5)");
  static const double golden[12] = {1.734115971607, -2.700948948471, 1.545108644401, -1.909859317103,
                                    0.908192074369, 0.0, 3.403394223641, 2.700948948471, 1.122587140546,
                                    0.0, -0.295089492925, -0.954929658551};
  dmat X = dm_new(c, 1, 2, 1);
  H(&X, 0, 0) = rnd(c->dt, 0.3);
  H(&X, 0, 1) = rnd(c->dt, -0.5);
  dm_upload(&X);
  double *y = sinusoidal_dev(c, &X, 3, 1.0, 6.0, 0, 1);
  double tol = c->dt == NPDE_F64 ? 1e-11 : 1e-5;
  for (int q = 0; q < 12; ++q)
    cr_assert(fabs(y[q] - golden[q]) <= tol, "backend %s [%s] %s: column %d = %.15g, expected %.12f", c->name,
              dt_name(c->dt), c->what, q, y[q], golden[q]);
  free(y);
  dm_free(&X);
}

/* dir = j: the columns of coordinate j as with dir = -1, exact zeros elsewhere. */
static void sinusoidal_dir_case(bctx *c) {
  for (int t = 0; t < 12; ++t) {
    int64_t n = 1 + ref_rng_int(&c->rng, 20), d = 1 + ref_rng_int(&c->rng, 4), L = 1 + ref_rng_int(&c->rng, 3);
    int order = t % 3;
    dmat X = dm_new(c, n, d, pick_pad(c));
    set_what(c, "sinusoidal dir n=%lld d=%lld L=%lld order=%d", (long long)n, (long long)d, (long long)L, order);
    dm_rand(&X, -1, 1);
    dm_upload(&X);
    double *all = sinusoidal_dev(c, &X, L, 1.0, 6.0, order, pick_pad(c));
    int64_t cols = 2 * L * d;
    for (int64_t dir = 0; dir < d; ++dir) {
      double *y = sinusoidal_dev_dir(c, &X, L, 1.0, 6.0, order, dir, pick_pad(c));
      for (int64_t i = 0; i < n; ++i)
        for (int64_t col = 0; col < cols; ++col) {
          double exp = col % d == dir ? all[i * cols + col] : 0.0;
          cr_assert(y[i * cols + col] == exp, "backend %s [%s] %s: dir %lld Y(%lld, %lld) = %.17g, expected %.17g",
                    c->name, dt_name(c->dt), c->what, (long long)dir, (long long)i, (long long)col,
                    y[i * cols + col], exp);
        }
      free(y);
    }
    free(all);
    dm_free(&X);
  }
}

Test(backend, test_sinusoidal_direction_masks_other_coordinates) {
  for_each_backend(NPDE_OP_SINUSOIDAL, sinusoidal_dir_case);
}

static void transpose_case(bctx *c) {
  for (int64_t t = 0; t < NDIMS * NDIMS; ++t) {
    int64_t r = DIMS[t % NDIMS], w = DIMS[(t / NDIMS + 2 * t) % NDIMS];
    dmat a = dm_new(c, r, w, pick_pad(c)), b = dm_new(c, w, r, pick_pad(c));
    set_what(c, "transpose %lld x %lld (ld %lld -> %lld)", (long long)r, (long long)w, (long long)a.ld,
             (long long)b.ld);
    dm_rand(&a, -1, 1);
    dm_rand(&b, -1, 1);
    dm_upload(&a);
    dm_upload(&b);
    CHECK_OK(c, npde_backend_transpose(c->be, &a.v, &b.v));
    double *e = dm_expect(&b);
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < w; ++j) e[IX(&b, j, i)] = H(&a, i, j);
    dm_check(&b, e, NULL, 0.0, 0.0, "B");
    dm_check_same(&a, "A");
    free(e);
    dm_free(&a);
    dm_free(&b);
  }
}

Test(backend, test_transpose_views) { for_each_backend(NPDE_OP_TRANSPOSE, transpose_case); }

static void adam_case(bctx *c) {
  for (int t = 0; t < 12; ++t) {
    int64_t r = DIMS[t % NDIMS], w = 1 + ref_rng_int(&c->rng, 9);
    int64_t step = 1 + t;
    dmat th = dm_new(c, r, w, pick_pad(c)), g = dm_new(c, r, w, pick_pad(c)), m = dm_new(c, r, w, pick_pad(c)),
         v = dm_new(c, r, w, pick_pad(c));
    set_what(c, "adam %lld x %lld step %lld", (long long)r, (long long)w, (long long)step);
    dm_rand(&th, -1, 1);
    dm_rand(&g, -1, 1);
    dm_rand(&m, -0.1, 0.1);
    dm_rand(&v, 0, 0.1);
    dm_upload(&th); dm_upload(&g); dm_upload(&m); dm_upload(&v);
    double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    CHECK_OK(c, npde_backend_adam(c->be, &th.v, &g.v, &m.v, &v.v, lr, b1, b2, eps, step));
    double *et = dm_expect(&th), *em = dm_expect(&m), *ev = dm_expect(&v);
    double c1 = 1 - pow(b1, (double)step), c2 = 1 - pow(b2, (double)step);
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < w; ++j) {
        double gj = H(&g, i, j), mj = b1 * H(&m, i, j) + (1 - b1) * gj, vj = b2 * H(&v, i, j) + (1 - b2) * gj * gj;
        em[IX(&m, i, j)] = mj;
        ev[IX(&v, i, j)] = vj;
        et[IX(&th, i, j)] = H(&th, i, j) - lr * (mj / c1) / (sqrt(vj / c2) + eps);
      }
    dm_check(&th, et, NULL, 1e-3, c->tol * 10, "theta");
    dm_check(&m, em, NULL, 1e-3, c->tol * 10, "m");
    dm_check(&v, ev, NULL, 1e-3, c->tol * 10, "v");
    dm_check_same(&g, "g");
    free(et); free(em); free(ev);
    dm_free(&th); dm_free(&g); dm_free(&m); dm_free(&v);
  }
}

Test(backend, test_adam_step_matches_reference) { for_each_backend(NPDE_OP_ADAM, adam_case); }

Test(backend, test_sinusoidal_golden) { for_each_backend(NPDE_OP_SINUSOIDAL, sinusoidal_golden_case); }

static void sinusoidal_fd_case(bctx *c) {
  if (c->dt != NPDE_F64) return;
  for (int t = 0; t < 6; ++t) {
    int64_t n = 5, d = 1 + t % 3, L = 1 + t % 4, cols = 2 * L * d;
    double alpha = t % 2 ? 1.0 : 0.5, amp = t % 2 ? 6.0 : 1.0;
    set_what(c, "sinusoidal vs finite differences d=%lld L=%lld alpha=%g amp=%g", (long long)d, (long long)L, alpha,
             amp);
    dmat X = dm_new(c, n, d, 1);
    dm_rand(&X, -1, 1);
    dm_upload(&X);
    double *y1 = sinusoidal_dev(c, &X, L, alpha, amp, 1, 0), *y2 = sinusoidal_dev(c, &X, L, alpha, amp, 2, 0);
    double *y0 = sinusoidal_dev(c, &X, L, alpha, amp, 0, 0);
    /* each column depends only on its own x_j, so shift all of X at once */
    const double hs[2] = {1e-5, 1e-4};
    double *yp[2], *ym[2];
    for (int s = 0; s < 2; ++s) {
      dmat Xs = dm_new(c, n, d, 0);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < d; ++j) H(&Xs, i, j) = H(&X, i, j) + hs[s];
      dm_upload(&Xs);
      yp[s] = sinusoidal_dev(c, &Xs, L, alpha, amp, 0, 0);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < d; ++j) H(&Xs, i, j) = H(&X, i, j) - hs[s];
      dm_upload(&Xs);
      ym[s] = sinusoidal_dev(c, &Xs, L, alpha, amp, 0, 0);
      dm_free(&Xs);
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t col = 0; col < cols; ++col) {
        int64_t j = col % d, k = (col % (L * d)) / d;
        double x = H(&X, i, j), w = ref_sin_freq(k);
        int64_t q = i * cols + col;
        double d1 = (yp[0][q] - ym[0][q]) / ((x + hs[0]) - (x - hs[0]));
        double hh = 0.5 * ((x + hs[1]) - (x - hs[1]));
        double d2 = (yp[1][q] - 2.0 * y0[q] + ym[1][q]) / (hh * hh);
        double s1 = amp * pow(w, 1.0 - alpha), s2 = amp * pow(w, 2.0 - alpha);
        cr_assert(fabs(y1[q] - d1) <= 1e-7 * s1, "backend %s %s: order 1 Y(%lld, %lld) = %.12g, difference %.12g",
                  c->name, c->what, (long long)i, (long long)col, y1[q], d1);
        cr_assert(fabs(y2[q] - d2) <= 1e-5 * s2, "backend %s %s: order 2 Y(%lld, %lld) = %.12g, difference %.12g",
                  c->name, c->what, (long long)i, (long long)col, y2[q], d2);
      }
    for (int s = 0; s < 2; ++s) {
      free(yp[s]);
      free(ym[s]);
    }
    free(y0);
    free(y1);
    free(y2);
    dm_free(&X);
  }
}

Test(backend, test_sinusoidal_derivatives_fd) { for_each_backend(NPDE_OP_SINUSOIDAL, sinusoidal_fd_case); }

/* --------------------------------------------- row_scale, col_sums, add_row */

static void row_scale_case(bctx *c) {
  for (int t = 0; t < 48; ++t) {
    int64_t n = t < 7 ? DIMS[t] : pick_dim(c), w = t < 7 ? DIMS[(t + 4) % NDIMS] : pick_dim(c), m = 1 + t % 3;
    int sk = t % 3;
    bool inplace = (t / 3) % 2;
    dmat s = dm_vec(c, n, sk), X = dm_new(c, m * n, w, pick_pad(c));
    dmat Y = inplace ? X : dm_new(c, m * n, w, pick_pad(c));
    set_what(c, "row_scale n=%lld w=%lld m=%lld s %s (ld %lld)%s", (long long)n, (long long)w, (long long)m,
             VEC_KIND[sk], (long long)s.ld, inplace ? " Y=X" : "");
    dm_rand(&s, -2, 2);
    dm_rand(&X, -2, 2);
    dm_upload(&s);
    dm_upload(&X);
    if (!inplace) {
      dm_set_all(&Y, NAN);
      dm_upload(&Y);
    }
    CHECK_OK(c, npde_backend_row_scale(c->be, &s.v, &X.v, &Y.v, m));
    double *e = dm_expect(&Y);
    for (int64_t k = 0; k < m; ++k)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < w; ++j) e[IX(&Y, k * n + i, j)] = s.h[VX(&s, i)] * H(&X, k * n + i, j);
    dm_check(&Y, e, NULL, 0.0, c->tol, "Y");
    dm_check_same(&s, "s");
    if (!inplace) {
      dm_check_same(&X, "X");
      dm_free(&Y);
    }
    free(e);
    dm_free(&s);
    dm_free(&X);
  }
}

Test(backend, test_row_scale_stacks) { for_each_backend(NPDE_OP_ROW_SCALE, row_scale_case); }

static void col_sums_case(bctx *c) {
  static const double ab[][2] = {{1.0, 0.0}, {-0.5, 2.0}, {2.0, 1.0}, {1.0, 0.0}};
  for (int t = 0; t < 60; ++t) {
    int64_t n = t < 7 ? DIMS[t] : pick_dim(c), w = t < 7 ? DIMS[(t + 1) % NDIMS] : pick_dim(c);
    int yk = t % 3;
    double alpha = ab[t % 4][0], beta = ab[t % 4][1];
    bool nan_y = t % 4 == 3;
    dmat X = dm_new(c, n, w, pick_pad(c)), y = dm_vec(c, w, yk);
    set_what(c, "col_sums %lld x %lld (ld %lld) y %s (ld %lld) alpha=%g beta=%g%s", (long long)n, (long long)w,
             (long long)X.ld, VEC_KIND[yk], (long long)y.ld, alpha, beta, nan_y ? " y=NaN" : "");
    dm_rand(&X, -1, 1);
    if (nan_y) dm_set_all(&y, NAN);
    else dm_rand(&y, -1, 1);
    dm_upload(&X);
    dm_upload(&y);
    CHECK_OK(c, npde_backend_col_sums(c->be, alpha, &X.v, beta, &y.v));
    double *e = dm_expect(&y), *sc = zeros(y.n);
    for (int64_t j = 0; j < w; ++j) {
      double s = 0.0, sa = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        s += H(&X, i, j);
        sa += fabs(H(&X, i, j));
      }
      double old = beta == 0.0 ? 0.0 : beta * y.h[VX(&y, j)];
      e[VX(&y, j)] = alpha * s + old;
      sc[VX(&y, j)] = fabs(alpha) * sa + fabs(old);
    }
    dm_check(&y, e, sc, 0.0, tol_k(c, n), "y");
    dm_check_same(&X, "X");
    free(e);
    free(sc);
    dm_free(&X);
    dm_free(&y);
  }
}

Test(backend, test_col_sums_alpha_beta) { for_each_backend(NPDE_OP_COL_SUMS, col_sums_case); }

static void col_sums_double_case(bctx *c) {
  if (c->dt != NPDE_F32) return;
  int64_t ones = 77, w = 5;
  dmat X = dm_new(c, ones + 2, w, 3), y = dm_vec(c, w, 1);
  set_what(c, "col_sums of 2^24, %lld ones, -2^24 per column", (long long)ones);
  for (int64_t i = 0; i < X.rows; ++i)
    for (int64_t j = 0; j < w; ++j) H(&X, i, j) = i == 0 ? 0x1.0p24 : i == ones + 1 ? -0x1.0p24 : 1.0;
  dm_set_all(&y, NAN);
  dm_upload(&X);
  dm_upload(&y);
  CHECK_OK(c, npde_backend_col_sums(c->be, 1.0, &X.v, 0.0, &y.v));
  double *e = dm_expect(&y);
  for (int64_t j = 0; j < w; ++j) e[VX(&y, j)] = (double)ones;
  dm_check(&y, e, NULL, 0.0, 0.0, "y");
  free(e);
  dm_free(&X);
  dm_free(&y);
}

Test(backend, test_col_sums_accumulates_in_double) { for_each_backend(NPDE_OP_COL_SUMS, col_sums_double_case); }

static void add_row_case(bctx *c) {
  static const double alphas[] = {1.0, -0.5, 2.0, 0.0};
  for (int t = 0; t < 48; ++t) {
    int64_t n = t < 7 ? DIMS[t] : pick_dim(c), w = t < 7 ? DIMS[(t + 5) % NDIMS] : pick_dim(c);
    int bk = t % 3;
    double alpha = alphas[t % 4];
    dmat X = dm_new(c, n, w, pick_pad(c)), b = dm_vec(c, w, bk);
    set_what(c, "add_row %lld x %lld (ld %lld) b %s (ld %lld) alpha=%g", (long long)n, (long long)w,
             (long long)X.ld, VEC_KIND[bk], (long long)b.ld, alpha);
    dm_rand(&X, -1, 1);
    dm_rand(&b, -1, 1);
    dm_upload(&X);
    dm_upload(&b);
    CHECK_OK(c, npde_backend_add_row(c->be, alpha, &b.v, &X.v));
    double *e = dm_expect(&X), *sc = zeros(X.n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < w; ++j) {
        e[IX(&X, i, j)] = H(&X, i, j) + alpha * b.h[VX(&b, j)];
        sc[IX(&X, i, j)] = fabs(H(&X, i, j)) + fabs(alpha * b.h[VX(&b, j)]);
      }
    dm_check(&X, e, sc, 0.0, c->tol, "X");
    dm_check_same(&b, "b");
    free(e);
    free(sc);
    dm_free(&X);
    dm_free(&b);
  }
}

Test(backend, test_add_row_vectors) { for_each_backend(NPDE_OP_ADD_ROW, add_row_case); }

/* ---------------------------------------------------------------- RNG */

typedef struct rng_key {
  uint64_t seed, stream, counter;
} rng_key;

static const rng_key RNG_KEYS[] = {
    {0, 0, 0},
    {42, 1, 7},
    {0x0123456789ABCDEFull, 0xFEDCBA9876543210ull, 0xFFFFFFFFull - 5}, /* counter carries into word 1 */
    {0xDEADBEEFull, 3, 0xFFFFFFFFFFFFFFFFull - 2},                     /* counter wraps around */
};
#define N_RNG_KEYS ((int)(sizeof RNG_KEYS / sizeof RNG_KEYS[0]))

static void rng_run(bctx *c, bool normal, int64_t rows, int64_t cols, int64_t pad, rng_key key, double a, double b) {
  dmat o = dm_new(c, rows, cols, pad);
  set_what(c, "rng_%s %lld x %lld (ld %lld) seed %llx stream %llx counter %llx (%g, %g)",
           normal ? "normal" : "uniform", (long long)rows, (long long)cols, (long long)o.ld,
           (unsigned long long)key.seed, (unsigned long long)key.stream, (unsigned long long)key.counter, a, b);
  dm_set_all(&o, NAN);
  dm_upload(&o);
  if (normal) CHECK_OK(c, npde_backend_rng_normal(c->be, key.seed, key.stream, key.counter, a, b, &o.v));
  else CHECK_OK(c, npde_backend_rng_uniform(c->be, key.seed, key.stream, key.counter, a, b, &o.v));
  double *e = dm_expect(&o);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      uint64_t el = (uint64_t)(i * cols + j);
      double pair[2];
      if (normal) ref_philox_normal_pair(key.seed, key.stream, key.counter + el / 2, pair);
      else ref_philox_uniform_pair(key.seed, key.stream, key.counter + el / 2, pair);
      /* uniform: lo + (hi - lo) u; normal: mean + std z */
      e[IX(&o, i, j)] = rnd(c->dt, normal ? a + b * pair[el & 1] : a + (b - a) * pair[el & 1]);
    }
  bool exact = !normal && a == 0.0 && b == 1.0; /* no arithmetic: bit for bit */
  double tol = exact ? 0.0 : c->dt == NPDE_F64 ? 1e-13 : 1e-6;
  double floor = normal ? fabs(a) + b : fabs(a) + fabs(b);
  dm_check(&o, e, NULL, floor, tol, "out");
  if (!normal) { /* in [lo, hi) */
    double *got = malloc(o.n * sizeof *got);
    cr_assert_not_null(got);
    dm_fetch(&o, got);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        double g = got[IX(&o, i, j)];
        /* f32 rounding may land on hi itself */
        bool ok = a == b ? g == a : g >= a && (g < b || (c->dt == NPDE_F32 && g <= b));
        cr_assert(ok, "backend %s %s: %.17g not in [%g, %g)", c->name, c->what, g, a, b);
      }
    free(got);
  }
  free(e);
  dm_free(&o);
}

static void rng_uniform_case(bctx *c) {
  for (int k = 0; k < N_RNG_KEYS; ++k)
    for (int t = 0; t < 12; ++t) {
      int64_t rows = t < 7 ? DIMS[t] : pick_dim(c), cols = t < 7 ? DIMS[(t + 2) % NDIMS] : pick_dim(c);
      rng_run(c, false, rows, cols, t % 3, RNG_KEYS[k], 0.0, 1.0);
      rng_run(c, false, rows, cols, (t + 1) % 3, RNG_KEYS[k], -2.0, 3.0);
    }
  rng_run(c, false, 3, 3, 2, RNG_KEYS[1], 1.5, 1.5); /* lo == hi */
}

Test(backend, test_rng_uniform_matches_philox) { for_each_backend(NPDE_OP_RNG_UNIFORM, rng_uniform_case); }

static void rng_normal_case(bctx *c) {
  for (int k = 0; k < N_RNG_KEYS; ++k)
    for (int t = 0; t < 12; ++t) {
      int64_t rows = t < 7 ? DIMS[t] : pick_dim(c), cols = t < 7 ? DIMS[(t + 2) % NDIMS] : pick_dim(c);
      rng_run(c, true, rows, cols, t % 3, RNG_KEYS[k], 0.0, 1.0);
      rng_run(c, true, rows, cols, (t + 1) % 3, RNG_KEYS[k], 0.5, 2.0);
    }
  rng_run(c, true, 3, 3, 1, RNG_KEYS[2], -1.0, 0.0); /* std = 0: constant */
}

Test(backend, test_rng_normal_matches_philox) { for_each_backend(NPDE_OP_RNG_NORMAL, rng_normal_case); }

/* --------------------------------------------------------- error paths */

#define EXPECT_INVALID(c, call, opname)                                                                          \
  do {                                                                                                           \
    npde_clear_error();                                                                                          \
    npde_status st_ = (call);                                                                                    \
    cr_assert_eq(st_, NPDE_ERR_INVALID_ARG, "backend %s [%s] %s: %s returned %d, expected NPDE_ERR_INVALID_ARG", \
                 (c)->name, dt_name((c)->dt), (c)->what, #call, (int)st_);                                       \
    cr_assert(strstr(npde_last_error(), opname) != NULL, "backend %s: %s: message '%s' does not name '%s'",      \
              (c)->name, (c)->what, npde_last_error(), opname);                                                  \
  } while (0)

static void gemm_errors_case(bctx *c) {
  dmat A = dm_new(c, 3, 4, 1), B = dm_new(c, 5, 2, 0), B2 = dm_new(c, 4, 2, 0), C = dm_new(c, 3, 2, 1);
  dmat Cbad = dm_new(c, 2, 2, 0);
  dm_rand(&A, -1, 1);
  dm_rand(&B, -1, 1);
  dm_rand(&B2, -1, 1);
  dm_rand(&C, -1, 1);
  dm_upload(&A);
  dm_upload(&B);
  dm_upload(&B2);
  dm_upload(&C);
  dm_upload(&Cbad);
  set_what(c, "gemm A 3x4 B 5x2");
  EXPECT_INVALID(c, npde_backend_gemm(c->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &A.v, &B.v, 0.0, &C.v), "gemm");
  set_what(c, "gemm A^T (4x3) B 4x2");
  EXPECT_INVALID(c, npde_backend_gemm(c->be, NPDE_TRANS, NPDE_NO_TRANS, 1.0, &A.v, &B2.v, 0.0, &C.v), "gemm");
  set_what(c, "gemm C 2x2 for a 3x2 product");
  EXPECT_INVALID(c, npde_backend_gemm(c->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &A.v, &B2.v, 0.0, &Cbad.v), "gemm");
  set_what(c, "gemm with ld < cols");
  npde_mat bad = A.v;
  bad.ld = 2;
  EXPECT_INVALID(c, npde_backend_gemm(c->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &bad, &B2.v, 0.0, &C.v), "gemm");
  set_what(c, "gemm with a NULL operand");
  EXPECT_INVALID(c, npde_backend_gemm(c->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &A.v, NULL, 0.0, &C.v), "gemm");
  if (npde_backend_supports(c->be, NPDE_OP_GEMM_BATCHED, c->dt)) {
    set_what(c, "gemm_batched A 3x4 B 5x2");
    EXPECT_INVALID(c, npde_backend_gemm_batched(c->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &A.v, 0, &B.v, 0, 0.0,
                                                &C.v, 0, 2), "gemm_batched");
    set_what(c, "gemm_batched negative batch");
    EXPECT_INVALID(c, npde_backend_gemm_batched(c->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &A.v, 0, &B2.v, 0, 0.0,
                                                &C.v, 0, -1), "gemm_batched");
  }
  if (npde_backend_supports(c->be, NPDE_OP_GEMV, c->dt)) {
    dmat x = dm_new(c, 3, 1, 0), y = dm_new(c, 3, 1, 0);
    dm_upload(&x);
    dm_upload(&y);
    set_what(c, "gemv A 3x4 with x of 3");
    EXPECT_INVALID(c, npde_backend_gemv(c->be, NPDE_NO_TRANS, 1.0, &A.v, &x.v, 0.0, &y.v), "gemv");
    set_what(c, "gemv with a 3x3 matrix as x");
    npde_mat xm = A.v;
    xm.rows = 3;
    xm.cols = 3;
    EXPECT_INVALID(c, npde_backend_gemv(c->be, NPDE_TRANS, 1.0, &A.v, &xm, 0.0, &y.v), "gemv");
    dm_free(&x);
    dm_free(&y);
  }
  /* a failed call leaves its output alone */
  dm_check_same(&C, "C");
  dm_check_same(&Cbad, "C");
  dm_free(&A);
  dm_free(&B);
  dm_free(&B2);
  dm_free(&C);
  dm_free(&Cbad);
}

Test(backend, test_gemm_rejects_mismatched_shapes) { for_each_backend(NPDE_OP_GEMM, gemm_errors_case); }

static void blocks_errors_case(bctx *c) {
  dmat S = dm_new(c, 3, 2, 0), X = dm_new(c, 6, 2, 0), Y = dm_new(c, 6, 2, 0), s = dm_new(c, 3, 1, 0);
  dm_rand(&S, -1, 1);
  dm_rand(&X, -1, 1);
  dm_rand(&Y, -1, 1);
  dm_rand(&s, -1, 1);
  dm_upload(&S);
  dm_upload(&X);
  dm_upload(&Y);
  dm_upload(&s);
  for (int64_t m = 0; m >= -1; --m) {
    set_what(c, "m = %lld", (long long)m);
    EXPECT_INVALID(c, npde_backend_mul_blocks(c->be, &S.v, &X.v, &Y.v, m), "mul_blocks");
    if (npde_backend_supports(c->be, NPDE_OP_JET2, c->dt))
      EXPECT_INVALID(c, npde_backend_jet2(c->be, &S.v, &S.v, &X.v, &X.v, &X.v, &Y.v, m), "jet2");
    if (npde_backend_supports(c->be, NPDE_OP_ROW_SCALE, c->dt))
      EXPECT_INVALID(c, npde_backend_row_scale(c->be, &s.v, &X.v, &Y.v, m), "row_scale");
  }
  set_what(c, "mul_blocks with X of the wrong height for m = 3");
  EXPECT_INVALID(c, npde_backend_mul_blocks(c->be, &S.v, &X.v, &Y.v, 3), "mul_blocks");
  if (npde_backend_supports(c->be, NPDE_OP_ROW_SCALE, c->dt)) {
    set_what(c, "row_scale with 6 rows and m = 4");
    EXPECT_INVALID(c, npde_backend_row_scale(c->be, &s.v, &X.v, &Y.v, 4), "row_scale");
  }
  dm_check_same(&Y, "Y");
  dm_free(&S);
  dm_free(&X);
  dm_free(&Y);
  dm_free(&s);
}

Test(backend, test_blocks_reject_zero_m) { for_each_backend(NPDE_OP_MUL_BLOCKS, blocks_errors_case); }

static void dispatch_errors_case(bctx *c) {
  dmat Z = dm_new(c, 3, 4, 0), S = dm_new(c, 3, 4, 0), W = dm_new(c, 4, 3, 0);
  dm_rand(&Z, -1, 1);
  dm_upload(&Z);
  dm_upload(&S);
  dm_upload(&W);
  set_what(c, "activation with S0 and S1 the same buffer");
  EXPECT_INVALID(c, npde_backend_activation(c->be, NPDE_ACT_TANH, &Z.v, &S.v, &S.v, NULL), "activation");
  set_what(c, "activation with S1 of another shape");
  EXPECT_INVALID(c, npde_backend_activation(c->be, NPDE_ACT_TANH, &Z.v, NULL, &W.v, NULL), "activation");
  set_what(c, "activation out of range");
  EXPECT_INVALID(c, npde_backend_activation(c->be, NPDE_ACT_COUNT, &Z.v, &S.v, NULL, NULL), "activation");
  npde_mat neg = Z.v;
  neg.rows = -1;
  set_what(c, "activation with negative rows");
  EXPECT_INVALID(c, npde_backend_activation(c->be, NPDE_ACT_TANH, &neg, &S.v, NULL, NULL), "activation");
  if (npde_backend_supports(c->be, NPDE_OP_SINUSOIDAL, c->dt)) {
    dmat Y = dm_new(c, 3, 2 * 2 * 4, 0);
    dm_upload(&Y);
    set_what(c, "sinusoidal order 3");
    EXPECT_INVALID(c, npde_backend_sinusoidal(c->be, &Z.v, 2, 1.0, 1.0, 3, -1, &Y.v), "sinusoidal");
    set_what(c, "sinusoidal nfreq 0");
    EXPECT_INVALID(c, npde_backend_sinusoidal(c->be, &Z.v, 0, 1.0, 1.0, 0, -1, &Y.v), "sinusoidal");
    set_what(c, "sinusoidal Y of the wrong width");
    EXPECT_INVALID(c, npde_backend_sinusoidal(c->be, &Z.v, 3, 1.0, 1.0, 0, -1, &Y.v), "sinusoidal");
    dm_free(&Y);
  }
  if (npde_backend_supports(c->be, NPDE_OP_AXPY, c->dt)) {
    set_what(c, "axpy with transposed shapes");
    EXPECT_INVALID(c, npde_backend_axpy(c->be, 1.0, &Z.v, &W.v), "axpy");
  }
  if (npde_backend_supports(c->be, NPDE_OP_COPY, c->dt)) {
    npde_dtype other = c->dt == NPDE_F64 ? NPDE_F32 : NPDE_F64;
    dmat O = dm_new_dt(c, other, 3, 4, 0);
    dm_upload(&O);
    set_what(c, "copy between dtypes");
    EXPECT_INVALID(c, npde_backend_copy(c->be, &Z.v, &O.v), "copy");
    dm_free(&O);
  }
  if (npde_backend_supports(c->be, NPDE_OP_RNG_UNIFORM, c->dt)) {
    set_what(c, "rng_uniform with hi < lo");
    EXPECT_INVALID(c, npde_backend_rng_uniform(c->be, 1, 2, 3, 1.0, 0.0, &S.v), "rng_uniform");
  }
  if (npde_backend_supports(c->be, NPDE_OP_RNG_NORMAL, c->dt)) {
    set_what(c, "rng_normal with std < 0");
    EXPECT_INVALID(c, npde_backend_rng_normal(c->be, 1, 2, 3, 0.0, -1.0, &S.v), "rng_normal");
  }
  dm_check_same(&Z, "Z");
  dm_check_same(&W, "W");
  dm_free(&Z);
  dm_free(&S);
  dm_free(&W);
}

Test(backend, test_dispatch_rejects_invalid_arguments) {
  for_each_backend(NPDE_OP_ACTIVATION, dispatch_errors_case);
}

/* ------------------------------------------------------------------ csrmm */

/* A random CSR matrix in backend memory (with its host copy): empty rows,
 * repeated columns within a row and a row of many entries all occur. */
typedef struct dcsr {
  int64_t *rowptr, *colind;
  double *val; /* host, rounded to the dtype */
  void *d_rowptr, *d_colind, *d_val;
  npde_csr A;
} dcsr;

static dcsr csr_new(bctx *c, int64_t rows, int64_t cols) {
  dcsr s = {0};
  s.rowptr = malloc((size_t)(rows + 1) * sizeof *s.rowptr);
  cr_assert_not_null(s.rowptr);
  int64_t cap = rows * 8 + 1, nnz = 0;
  s.colind = malloc((size_t)cap * sizeof *s.colind);
  s.val = malloc((size_t)cap * sizeof *s.val);
  cr_assert(s.colind && s.val);
  s.rowptr[0] = 0;
  for (int64_t i = 0; i < rows; ++i) {
    int64_t len = cols == 0 ? 0 : ref_rng_int(&c->rng, 4) == 0 ? 0 : 1 + ref_rng_int(&c->rng, 7);
    for (int64_t k = 0; k < len; ++k, ++nnz) {
      s.colind[nnz] = k > 0 && ref_rng_int(&c->rng, 5) == 0 ? s.colind[nnz - 1] : ref_rng_int(&c->rng, cols);
      s.val[nnz] = rnd(c->dt, ref_rng_uniform(&c->rng, -2, 2));
    }
    s.rowptr[i + 1] = nnz;
  }
  const size_t es = npde_dtype_size(c->dt);
  CHECK_OK(c, npde_backend_alloc(c->be, (size_t)(rows + 1) * sizeof(int64_t), &s.d_rowptr));
  CHECK_OK(c, npde_backend_alloc(c->be, (size_t)(nnz ? nnz : 1) * sizeof(int64_t), &s.d_colind));
  CHECK_OK(c, npde_backend_alloc(c->be, (size_t)(nnz ? nnz : 1) * es, &s.d_val));
  void *tmp = malloc((size_t)(nnz ? nnz : 1) * es);
  cr_assert_not_null(tmp);
  for (int64_t k = 0; k < nnz; ++k) {
    if (c->dt == NPDE_F32) ((float *)tmp)[k] = (float)s.val[k];
    else ((double *)tmp)[k] = s.val[k];
  }
  CHECK_OK(c, npde_backend_upload(c->be, s.d_rowptr, s.rowptr, (size_t)(rows + 1) * sizeof(int64_t)));
  if (nnz) CHECK_OK(c, npde_backend_upload(c->be, s.d_colind, s.colind, (size_t)nnz * sizeof(int64_t)));
  if (nnz) CHECK_OK(c, npde_backend_upload(c->be, s.d_val, tmp, (size_t)nnz * es));
  free(tmp);
  s.A = (npde_csr){.rowptr = s.d_rowptr, .colind = s.d_colind, .values = s.d_val, .rows = rows, .cols = cols,
                   .nnz = nnz, .dtype = c->dt};
  return s;
}

static void csr_free(bctx *c, dcsr *s) {
  npde_backend_free(c->be, s->d_rowptr), npde_backend_free(c->be, s->d_colind), npde_backend_free(c->be, s->d_val);
  free(s->rowptr), free(s->colind), free(s->val);
}

/* The result the contract in npde_backend.h fixes bit for bit: sums in entry order, in double, rounded to the
 * dtype at each store. */
static void csrmm_reference(npde_dtype dt, npde_trans ta, double alpha, const dcsr *s, const dmat *X, double beta,
                            const dmat *Y, double *e) {
  const npde_csr *A = &s->A;
  if (ta == NPDE_NO_TRANS) {
    for (int64_t i = 0; i < A->rows; ++i)
      for (int64_t c = 0; c < X->cols; ++c) {
        double acc = 0.0;
        for (int64_t k = s->rowptr[i]; k < s->rowptr[i + 1]; ++k) acc += s->val[k] * H(X, s->colind[k], c);
        e[IX(Y, i, c)] = rnd(dt, beta == 0.0 ? alpha * acc : alpha * acc + beta * H(Y, i, c));
      }
    return;
  }
  for (int64_t j = 0; j < A->cols; ++j)
    for (int64_t c = 0; c < X->cols; ++c) e[IX(Y, j, c)] = beta == 0.0 ? 0.0 : rnd(dt, beta * H(Y, j, c));
  for (int64_t i = 0; i < A->rows; ++i)
    for (int64_t k = s->rowptr[i]; k < s->rowptr[i + 1]; ++k)
      for (int64_t c = 0; c < X->cols; ++c) {
        double *y = &e[IX(Y, s->colind[k], c)];
        *y = rnd(dt, *y + s->val[k] * (alpha * H(X, i, c)));
      }
}

static void csrmm_run(bctx *c, npde_trans ta, int64_t rows, int64_t cols, int64_t w, double alpha, double beta,
                      bool nan_y) {
  dcsr s = csr_new(c, rows, cols);
  const int64_t in = ta ? rows : cols, out = ta ? cols : rows;
  dmat X = dm_new(c, in, w, pick_pad(c)), Y = dm_new(c, out, w, pick_pad(c));
  set_what(c, "csrmm %s %lld x %lld (%lld entries) w=%lld alpha=%g beta=%g%s (ld X %lld, Y %lld)", tr(ta),
           (long long)rows, (long long)cols, (long long)s.A.nnz, (long long)w, alpha, beta, nan_y ? " Y=NaN" : "",
           (long long)X.ld, (long long)Y.ld);
  dm_rand(&X, -1, 1);
  if (nan_y) dm_set_all(&Y, NAN);
  else dm_rand(&Y, -1, 1);
  dm_upload(&X);
  dm_upload(&Y);
  CHECK_OK(c, npde_backend_csrmm(c->be, ta, alpha, &s.A, &X.v, beta, &Y.v));
  double *e = dm_expect(&Y);
  csrmm_reference(c->dt, ta, alpha, &s, &X, beta, &Y, e);
  dm_check(&Y, e, NULL, 0.0, 0.0, "Y"); /* bit for bit: the order of every sum is part of the contract */
  dm_check_same(&X, "X");
  free(e);
  dm_free(&X);
  dm_free(&Y);
  csr_free(c, &s);
}

static void csrmm_case(bctx *c) {
  static const double ab[][2] = {{1.0, 0.0}, {-0.75, 0.5}, {2.5, 1.0}, {0.0, -1.5}};
  for (int t = 0; t < 2; ++t) {
    const npde_trans ta = (npde_trans)t;
    for (size_t i = 0; i < sizeof ab / sizeof ab[0]; ++i) {
      csrmm_run(c, ta, 0, 5, 3, ab[i][0], ab[i][1], false);
      csrmm_run(c, ta, 6, 0, 2, ab[i][0], ab[i][1], false);
      csrmm_run(c, ta, 9, 7, 0, ab[i][0], ab[i][1], false);
      for (int r = 0; r < 6; ++r)
        csrmm_run(c, ta, pick_dim(c), 1 + pick_dim(c), 1 + ref_rng_int(&c->rng, 4), ab[i][0], ab[i][1], false);
    }
    csrmm_run(c, ta, 65, 33, 1, 1.0, 0.0, true); /* beta = 0 never reads Y */
    csrmm_run(c, ta, 4000, 1500, 1, 1.0, 0.0, false); /* enough work for threads */
    csrmm_run(c, ta, 700, 300, 5, -1.0, 0.25, false);
  }
}

Test(backend, test_csrmm_and_transpose_bitwise) { for_each_backend(NPDE_OP_CSRMM, csrmm_case); }

static void csrmm_errors_case(bctx *c) {
  dcsr s = csr_new(c, 5, 4);
  dmat X = dm_new(c, 4, 2, 0), Y = dm_new(c, 5, 2, 0), Z = dm_new(c, 5, 3, 0);
  set_what(c, "csrmm with mismatched shapes");
  cr_expect_eq(npde_backend_csrmm(c->be, NPDE_NO_TRANS, 1.0, &s.A, &X.v, 0.0, &Z.v), NPDE_ERR_INVALID_ARG,
               "backend %s: a Y of the wrong width was accepted", c->name);
  cr_expect_eq(npde_backend_csrmm(c->be, NPDE_TRANS, 1.0, &s.A, &X.v, 0.0, &Y.v), NPDE_ERR_INVALID_ARG,
               "backend %s: NO_TRANS shapes were accepted for TRANS", c->name);
  npde_csr bad = s.A;
  bad.nnz = -1;
  cr_expect_eq(npde_backend_csrmm(c->be, NPDE_NO_TRANS, 1.0, &bad, &X.v, 0.0, &Y.v), NPDE_ERR_INVALID_ARG,
               "backend %s: a negative entry count was accepted", c->name);
  CHECK_OK(c, npde_backend_csrmm(c->be, NPDE_NO_TRANS, 1.0, &s.A, &X.v, 0.0, &Y.v));
  dm_free(&X), dm_free(&Y), dm_free(&Z);
  csr_free(c, &s);
}

Test(backend, test_csrmm_rejects_invalid_arguments) { for_each_backend(NPDE_OP_CSRMM, csrmm_errors_case); }
