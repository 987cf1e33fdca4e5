/* Layer conformance harness: see layer_conformance.h. */
#include "layer_conformance.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

/* ------------------------------------------------------------ context */

typedef struct ctx {
  const lc_options *o;
  npde_backend *be;
  npde_dtype dt;
  npde_layer *const *L;
  int count;
  int64_t w[LC_MAX_LAYERS + 1]; /* w[i]: input width of layer i; w[count]: the chain's output width */
  int64_t np[LC_MAX_LAYERS], poff[LC_MAX_LAYERS], P, m;
  uint64_t rng;
  char label[256];
  bool pad_reported;
} ctx;

#define CALL(c, call)                                                                                  \
  do {                                                                                                 \
    npde_status st_ = (call);                                                                          \
    cr_assert_eq(st_, NPDE_OK, "%s: %s returned %s: %s", (c)->label, #call, npde_status_str(st_),       \
                 npde_last_error());                                                                   \
  } while (0)

static uint64_t next_u64(ctx *c) { /* splitmix64 */
  uint64_t z = (c->rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static double unif(ctx *c, double lo, double hi) { return lo + (hi - lo) * (double)(next_u64(c) >> 11) * 0x1p-53; }
static double gauss(ctx *c) {
  double u1 = unif(c, 0, 1), u2 = unif(c, 0, 1);
  return sqrt(-2.0 * log1p(-u1)) * cos(6.283185307179586 * u2);
}

static double *hnew(int64_t n) {
  double *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
  cr_assert_not_null(p, "host allocation of %lld doubles", (long long)n);
  return p;
}
static double *hcopy(const double *a, int64_t n) {
  double *p = hnew(n);
  if (n > 0) memcpy(p, a, (size_t)n * sizeof *p);
  return p;
}
static double *hrandn(ctx *c, int64_t n) {
  double *p = hnew(n);
  for (int64_t i = 0; i < n; ++i) p[i] = gauss(c);
  return p;
}

static double nrm(const double *a, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * a[i];
  return sqrt(s);
}
static double diffnrm(const double *a, const double *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return sqrt(s);
}
static double dotp(const double *a, const double *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
static double maxd(double a, double b) { return a > b || b != b ? a : b; }

/* |got - ref| <= tol |ref| + floor; worst receives the error relative to max(|ref|, floor / tol). */
static void expect_close(ctx *c, const char *what, const double *got, const double *ref, int64_t len, double tol,
                         double floor, double *worst) {
  double err = diffnrm(got, ref, len), scale = nrm(ref, len);
  double rel = err / maxd(maxd(scale, floor / tol), DBL_MIN);
  if (worst) *worst = isnan(rel) ? NAN : maxd(*worst, rel);
  cr_expect(err <= tol * scale + floor,
            "%s: %s: |got - ref| = %.3e, |ref| = %.3e: relative %.3e > %.1e (absolute floor %.2e)", c->label, what,
            err, scale, err / maxd(scale, DBL_MIN), tol, floor);
}

/* ------------------------------------------------------------ device matrices */

typedef struct dmat {
  ctx *c;
  int64_t rows, cols, ld;
  void *dev;
  npde_mat v;
} dmat;

static void *dev_nan(ctx *c, int64_t elems) {
  size_t n = (size_t)(elems > 0 ? elems : 1), es = npde_dtype_size(c->dt);
  void *p = NULL, *h = malloc(n * es);
  cr_assert_not_null(h);
  for (size_t i = 0; i < n; ++i) {
    if (c->dt == NPDE_F64) ((double *)h)[i] = NAN;
    else ((float *)h)[i] = NAN;
  }
  CALL(c, npde_backend_alloc(c->be, n * es, &p));
  CALL(c, npde_backend_upload(c->be, p, h, n * es));
  free(h);
  return p;
}

/* A rows x cols view with two padding columns; everything NaN. */
static dmat dm_new(ctx *c, int64_t rows, int64_t cols) {
  dmat m = {.c = c, .rows = rows, .cols = cols, .ld = cols + 2};
  m.dev = dev_nan(c, rows * m.ld);
  m.v = (npde_mat){.data = m.dev, .rows = rows, .cols = cols, .ld = m.ld, .dtype = c->dt};
  return m;
}

static void dm_put(dmat *m, const double *h) {
  ctx *c = m->c;
  size_t n = (size_t)(m->rows * m->ld), es = npde_dtype_size(c->dt);
  if (!n) return;
  void *buf = malloc(n * es);
  cr_assert_not_null(buf);
  for (int64_t i = 0; i < m->rows; ++i)
    for (int64_t j = 0; j < m->ld; ++j) {
      double v = j < m->cols ? h[i * m->cols + j] : NAN;
      if (c->dt == NPDE_F64) ((double *)buf)[i * m->ld + j] = v;
      else ((float *)buf)[i * m->ld + j] = (float)v;
    }
  CALL(c, npde_backend_upload(c->be, m->dev, buf, n * es));
  free(buf);
}

static void dm_get(const dmat *m, double *h) {
  ctx *c = m->c;
  size_t n = (size_t)(m->rows * m->ld), es = npde_dtype_size(c->dt);
  if (!n) return;
  void *buf = malloc(n * es);
  cr_assert_not_null(buf);
  CALL(c, npde_backend_download(c->be, buf, m->dev, n * es));
  bool pad_ok = true;
  for (int64_t i = 0; i < m->rows; ++i)
    for (int64_t j = 0; j < m->ld; ++j) {
      double v = c->dt == NPDE_F64 ? ((double *)buf)[i * m->ld + j] : (double)((float *)buf)[i * m->ld + j];
      if (j < m->cols) h[i * m->cols + j] = v;
      else pad_ok = pad_ok && isnan(v);
    }
  free(buf);
  if (!pad_ok && !c->pad_reported) {
    c->pad_reported = true;
    cr_expect(false, "%s: a layer wrote into the padding of a %lld x %lld view (ld %lld)", c->label,
              (long long)m->rows, (long long)m->cols, (long long)m->ld);
  }
}

static void dm_free(dmat *m) {
  if (m->dev) npde_backend_free(m->c->be, m->dev);
  m->dev = NULL;
}

static npde_mat tview(ctx *c, const dmat *theta, int i) { return npde_mat_sub(theta->v, 0, c->poff[i], 1, c->np[i]); }

static void *work_for(ctx *c, int i, int64_t n, int64_t m, npde_jet_order order, int64_t d) {
  int64_t e = -1;
  CALL(c, npde_layer_work_size(c->L[i], n, m, order, d, &e));
  cr_assert_geq(e, 0, "%s: layer %d work_size < 0", c->label, i);
  return dev_nan(c, e);
}

/* ------------------------------------------------------------ chain ops */

typedef struct fwd {
  int64_t n;
  dmat a[LC_MAX_LAYERS + 1];
  void *cache[LC_MAX_LAYERS];
} fwd;

static void fwd_run(ctx *c, const dmat *theta, const double *X, int64_t n, bool keep, fwd *f) {
  f->n = n;
  f->a[0] = dm_new(c, n, c->w[0]);
  dm_put(&f->a[0], X);
  for (int i = 0; i < c->count; ++i) {
    int64_t e = -1;
    CALL(c, npde_layer_cache_size(c->L[i], n, &e));
    cr_assert_geq(e, 0);
    f->cache[i] = keep ? dev_nan(c, e) : NULL;
    f->a[i + 1] = dm_new(c, n, c->w[i + 1]);
    npde_mat th = tview(c, theta, i);
    CALL(c, npde_layer_forward(c->L[i], &th, &f->a[i].v, &f->a[i + 1].v, f->cache[i], NULL));
  }
}

static void fwd_free(ctx *c, fwd *f) {
  for (int i = 0; i <= c->count; ++i) dm_free(&f->a[i]);
  for (int i = 0; i < c->count; ++i)
    if (f->cache[i]) npde_backend_free(c->be, f->cache[i]);
}

/* Y (n x w_out) of the chain at X, with theta from the host, without caches. */
static void forward_host(ctx *c, const double *theta_h, const double *X, int64_t n, double *Y) {
  dmat th = dm_new(c, 1, c->P);
  dm_put(&th, theta_h);
  fwd f;
  fwd_run(c, &th, X, n, false, &f);
  dm_get(&f.a[c->count], Y);
  fwd_free(c, &f);
  dm_free(&th);
}

/* dY ((m n) x w_out) = J (V, dX) from the caches of f; V (m x P) or dX ((m n) x w_0) may be NULL. */
static void jvp_host(ctx *c, const dmat *theta, const fwd *f, const double *V, const double *dX, int64_t m,
                     double *dY) {
  int64_t n = f->n;
  dmat dth = {0}, t[LC_MAX_LAYERS + 1] = {{0}};
  if (V) {
    dth = dm_new(c, m, c->P);
    dm_put(&dth, V);
  }
  if (dX) {
    t[0] = dm_new(c, m * n, c->w[0]);
    dm_put(&t[0], dX);
  }
  for (int i = 0; i < c->count; ++i) {
    t[i + 1] = dm_new(c, m * n, c->w[i + 1]);
    void *work = work_for(c, i, n, m, NPDE_JET_VALUE, c->w[0]);
    npde_mat th = tview(c, theta, i), dtv = {0};
    bool has_v = V && c->np[i] > 0;
    if (has_v) dtv = npde_mat_sub(dth.v, 0, c->poff[i], m, c->np[i]);
    CALL(c, npde_layer_jvp(c->L[i], &th, &f->a[i].v, f->cache[i], has_v ? &dtv : NULL,
                           (i > 0 || dX) ? &t[i].v : NULL, &t[i + 1].v, m, work));
    npde_backend_free(c->be, work);
  }
  dm_get(&t[c->count], dY);
  for (int i = 0; i <= c->count; ++i) dm_free(&t[i]);
  dm_free(&dth);
}

/* Pull back W ((m n) x w_out): gtheta (m x P, may be NULL) += J_theta^T W, gX ((m n) x w_0, may be NULL) = J_X^T W. */
static void vjp_host(ctx *c, const dmat *theta, const fwd *f, const double *W, int64_t m, double *gtheta,
                     double *gX) {
  int64_t n = f->n;
  dmat g[LC_MAX_LAYERS + 1] = {{0}}, gth = {0};
  g[c->count] = dm_new(c, m * n, c->w[c->count]);
  dm_put(&g[c->count], W);
  if (gtheta) {
    gth = dm_new(c, m, c->P);
    dm_put(&gth, gtheta);
  }
  for (int i = c->count - 1; i >= 0; --i) {
    bool want_x = i > 0 || gX;
    if (want_x) g[i] = dm_new(c, m * n, c->w[i]);
    void *work = work_for(c, i, n, m, NPDE_JET_VALUE, c->w[0]);
    npde_mat th = tview(c, theta, i), gtv = {0};
    bool has_g = gtheta && c->np[i] > 0;
    if (has_g) gtv = npde_mat_sub(gth.v, 0, c->poff[i], m, c->np[i]);
    CALL(c, npde_layer_vjp(c->L[i], &th, &f->a[i].v, f->cache[i], &g[i + 1].v, want_x ? &g[i].v : NULL,
                           has_g ? &gtv : NULL, m, work));
    npde_backend_free(c->be, work);
  }
  if (gtheta) dm_get(&gth, gtheta);
  if (gX) dm_get(&g[0], gX);
  for (int i = 0; i <= c->count; ++i) dm_free(&g[i]);
  dm_free(&gth);
}

/* The chain's jet of the given order at X (n x d), from the identity jet of the raw input. */
static void jet_host(ctx *c, const dmat *theta, const double *X, int64_t n, npde_jet_order order, double *value,
                     double *grad, double *second) {
  int64_t d = c->w[0], s = npde_jet_second_blocks(order, d), ng = order >= NPDE_JET_GRAD ? d : 0;
  dmat jv[LC_MAX_LAYERS + 1], jg[LC_MAX_LAYERS + 1], js[LC_MAX_LAYERS + 1];
  jv[0] = dm_new(c, n, d);
  jg[0] = dm_new(c, ng * n, d);
  js[0] = dm_new(c, s * n, d);
  dm_put(&jv[0], X);
  double *h = hnew(ng * n * d);
  for (int64_t j = 0; j < ng; ++j)
    for (int64_t p = 0; p < n; ++p) h[(j * n + p) * d + j] = 1.0;
  dm_put(&jg[0], h);
  free(h);
  h = hnew(s * n * d);
  dm_put(&js[0], h);
  free(h);
  npde_jet in = {.n = n, .d = d, .order = order, .identity = true, .value = jv[0].v, .grad = jg[0].v,
                 .second = js[0].v};
  for (int i = 0; i < c->count; ++i) {
    int64_t w = c->w[i + 1];
    jv[i + 1] = dm_new(c, n, w);
    jg[i + 1] = dm_new(c, ng * n, w);
    js[i + 1] = dm_new(c, s * n, w);
    npde_jet out = {.n = n, .d = d, .order = order, .identity = true, .value = jv[i + 1].v, .grad = jg[i + 1].v,
                    .second = js[i + 1].v};
    void *work = work_for(c, i, n, 1, order, d);
    npde_mat th = tview(c, theta, i);
    CALL(c, npde_layer_jet(c->L[i], &th, &in, &out, work));
    cr_expect(!out.identity, "%s: the output jet of layer %d is marked identity", c->label, i);
    npde_backend_free(c->be, work);
    in = out;
  }
  if (value) dm_get(&jv[c->count], value);
  if (grad && ng) dm_get(&jg[c->count], grad);
  if (second && s) dm_get(&js[c->count], second);
  for (int i = 0; i <= c->count; ++i) {
    dm_free(&jv[i]);
    dm_free(&jg[i]);
    dm_free(&js[i]);
  }
}

/* ------------------------------------------------------------ setup */

static void ctx_init(ctx *c, const lc_options *o, npde_layer *const *layers, int count, npde_dtype dt) {
  memset(c, 0, sizeof *c);
  cr_assert(o && o->be && layers && count >= 1 && count <= LC_MAX_LAYERS, "lc: bad arguments");
  c->o = o;
  c->be = o->be;
  c->dt = dt;
  c->L = layers;
  c->count = count;
  c->m = o->m > 0 ? o->m : 3;
  c->rng = o->seed * 0x2545F4914F6CDD1Dull + 12345u;
  snprintf(c->label, sizeof c->label, "%s%s", o->label ? o->label : "layer", dt == NPDE_F32 ? " [f32]" : "");
  c->w[0] = npde_layer_in_dim(layers[0]);
  for (int i = 0; i < count; ++i) {
    cr_assert_eq(npde_layer_in_dim(layers[i]), c->w[i],
                 "%s: layer %d (%s) takes %lld inputs, its predecessor gives %lld",
                 c->label, i, npde_layer_type(layers[i]), (long long)npde_layer_in_dim(layers[i]), (long long)c->w[i]);
    c->w[i + 1] = npde_layer_out_dim(layers[i]);
    c->np[i] = npde_layer_n_params(layers[i]);
    c->poff[i] = c->P;
    c->P += c->np[i];
  }
}

/* theta (1 x P) initialised layer by layer (stream = layer index), then moved off the init by
 * THETA_SHIFT N(0, 1) per entry (from its own generator, the same for every dtype), so that biases and
 * other parameters an init sets to zero take generic values; also returned on the host. */
#define THETA_SHIFT 0.2
static dmat init_theta(ctx *c, double **host) {
  dmat th = dm_new(c, 1, c->P);
  for (int i = 0; i < c->count; ++i) {
    npde_mat v = tview(c, &th, i);
    CALL(c, npde_layer_init(c->L[i], &v, c->o->seed, (uint64_t)i));
  }
  *host = hnew(c->P);
  dm_get(&th, *host);
  uint64_t saved = c->rng;
  c->rng = c->o->seed ^ 0x7E7A7E7A7E7A7E7Aull;
  for (int64_t i = 0; i < c->P; ++i) (*host)[i] += THETA_SHIFT * gauss(c);
  c->rng = saved;
  dm_put(&th, *host);
  if (c->dt == NPDE_F32) dm_get(&th, *host); /* what the layer sees */
  return th;
}

/* Random points in [-1, 1]^d, then points on faces (x_j = 1, -1), near a face (x_j = 1 - 1e-6) and
 * three corners (all 1, all -1, alternating at distance 1e-9). */
static double *make_points(ctx *c, int64_t *n_out) {
  int64_t d = c->w[0], nr = c->o->n_random > 0 ? c->o->n_random : 6, n = nr + 3 * d + 3;
  double *X = hnew(n * d);
  for (int64_t i = 0; i < n * d; ++i) X[i] = unif(c, -1, 1);
  static const double face[3] = {1.0, -1.0, 1.0 - 1e-6};
  for (int64_t j = 0; j < d; ++j)
    for (int q = 0; q < 3; ++q) X[(nr + 3 * j + q) * d + j] = face[q];
  for (int64_t j = 0; j < d; ++j) {
    X[(n - 3) * d + j] = 1.0;
    X[(n - 2) * d + j] = -1.0;
    X[(n - 1) * d + j] = (j % 2 ? -1.0 : 1.0) * (1.0 - 1e-9);
  }
  *n_out = n;
  return X;
}

static void merge(lc_report *rep, const lc_report *r) {
  if (!rep) return;
  double *a = (double *)rep;
  const double *b = (const double *)r;
  for (size_t i = 0; i < sizeof *rep / sizeof(double); ++i) a[i] = isnan(b[i]) ? NAN : maxd(a[i], b[i]);
}

/* ------------------------------------------------------------ the checks */

#define TOL_FD1 1e-7     /* first derivatives vs central differences */
#define TOL_FD2 1e-5     /* second derivatives vs central differences of the gradient jet */
#define TOL_ADJ 1e-12    /* adjoint identity */
#define TOL_SAME 1e-13   /* two routes to the same numbers */
#define FD_ROUNDOFF 100.0 /* floor = FD_ROUNDOFF eps |f| / step */

void lc_check_layer(const lc_options *o, npde_layer *layer, lc_report *rep) {
  npde_layer *one[1] = {layer};
  lc_check_chain(o, one, 1, rep);
}

void lc_check_chain(const lc_options *o, npde_layer *const *layers, int count, lc_report *rep) {
  ctx cx, *c = &cx;
  ctx_init(c, o, layers, count, NPDE_F64);
  lc_report r = {0};
  int64_t m = c->m, d = c->w[0], wo = c->w[c->count], P = c->P, n;
  double *theta_h, *X = make_points(c, &n);
  dmat theta = init_theta(c, &theta_h);
  int64_t ny = n * wo, nx = n * d;
  char what[128];

  /* forward, with and without a cache */
  fwd F;
  fwd_run(c, &theta, X, n, true, &F);
  double *Y = hnew(ny), *Y2 = hnew(ny);
  dm_get(&F.a[c->count], Y);
  forward_host(c, theta_h, X, n, Y2);
  expect_close(c, "forward without a cache", Y2, Y, ny, TOL_SAME, 0, &r.forward_cache);
  double ynorm = nrm(Y, ny);

  /* pointwise: the first half of the points alone gives the first rows; no points is fine */
  {
    int64_t n1 = n / 2;
    double *Yh = hnew(n1 * wo);
    forward_host(c, theta_h, X, n1, Yh);
    expect_close(c, "forward on the first half of the points", Yh, Y, n1 * wo, TOL_SAME, 0, &r.pointwise);
    free(Yh);
    fwd F0;
    fwd_run(c, &theta, X, 0, true, &F0);
    double *g0 = hrandn(c, m * P), *g0c = hcopy(g0, m * P);
    jvp_host(c, &theta, &F0, P ? g0c : NULL, NULL, m, NULL);
    vjp_host(c, &theta, &F0, NULL, m, P ? g0 : NULL, NULL);
    expect_close(c, "vjp on no points leaves gtheta", g0, g0c, m * P, 0, 0, NULL);
    jet_host(c, &theta, X, 0, NPDE_JET_HESSIAN, NULL, NULL, NULL);
    free(g0), free(g0c);
    fwd_free(c, &F0);
  }

  /* jvp in theta vs central differences */
  double *V = hrandn(c, m * P), *dYt = hnew(m * ny), *Yp = hnew(ny), *Ym = hnew(ny), *fd = hnew(ny);
  double tnorm = nrm(theta_h, P);
  if (P > 0) {
    jvp_host(c, &theta, &F, V, NULL, m, dYt);
    double *tp = hnew(P), *tm = hnew(P);
    for (int64_t k = 0; k < m; ++k) {
      const double *v = V + k * P;
      double eps = 1e-6 * (tnorm > 0 ? tnorm : 1.0) / nrm(v, P);
      for (int64_t i = 0; i < P; ++i) {
        tp[i] = theta_h[i] + eps * v[i];
        tm[i] = theta_h[i] - eps * v[i];
      }
      forward_host(c, tp, X, n, Yp);
      forward_host(c, tm, X, n, Ym);
      for (int64_t i = 0; i < ny; ++i) fd[i] = (Yp[i] - Ym[i]) / (2 * eps);
      snprintf(what, sizeof what, "jvp in theta, block %lld, vs central differences", (long long)k);
      expect_close(c, what, dYt + k * ny, fd, ny, TOL_FD1, FD_ROUNDOFF * DBL_EPSILON * ynorm / eps, &r.jvp_theta);
    }
    free(tp);
    free(tm);
  }

  /* jvp in X vs central differences */
  double *dX = hrandn(c, m * nx), *dYx = hnew(m * ny), *Xp = hnew(nx), *Xm = hnew(nx);
  jvp_host(c, &theta, &F, NULL, dX, m, dYx);
  double xnorm = nrm(X, nx);
  for (int64_t k = 0; k < m; ++k) {
    const double *v = dX + k * nx;
    double eps = 1e-6 * xnorm / nrm(v, nx);
    for (int64_t i = 0; i < nx; ++i) {
      Xp[i] = X[i] + eps * v[i];
      Xm[i] = X[i] - eps * v[i];
    }
    forward_host(c, theta_h, Xp, n, Yp);
    forward_host(c, theta_h, Xm, n, Ym);
    for (int64_t i = 0; i < ny; ++i) fd[i] = (Yp[i] - Ym[i]) / (2 * eps);
    snprintf(what, sizeof what, "jvp in X, block %lld, vs central differences", (long long)k);
    expect_close(c, what, dYx + k * ny, fd, ny, TOL_FD1, FD_ROUNDOFF * DBL_EPSILON * ynorm / eps, &r.jvp_x);
  }

  /* linearity: both tangents at once; no tangent at all */
  double *dYb = hnew(m * ny), *sum = hnew(m * ny);
  jvp_host(c, &theta, &F, P ? V : NULL, dX, m, dYb);
  for (int64_t i = 0; i < m * ny; ++i) sum[i] = (P ? dYt[i] : 0.0) + dYx[i];
  for (int64_t k = 0; k < m; ++k) {
    double floor = TOL_SAME * (nrm(dYt + k * ny, P ? ny : 0) + nrm(dYx + k * ny, ny));
    snprintf(what, sizeof what, "jvp(v, dX) = jvp(v, 0) + jvp(0, dX), block %lld", (long long)k);
    expect_close(c, what, dYb + k * ny, sum + k * ny, ny, TOL_SAME, floor, &r.linearity);
  }
  double *zero = hnew(m * ny);
  jvp_host(c, &theta, &F, NULL, NULL, m, sum);
  expect_close(c, "jvp with no tangent is zero", sum, zero, m * ny, TOL_SAME, DBL_MIN, &r.linearity);

  /* adjoint identities, m blocks at once */
  double *Wc = hrandn(c, m * ny), *gth = hnew(m * P), *gX = hnew(m * nx);
  if (P > 0) {
    vjp_host(c, &theta, &F, Wc, m, gth, NULL);
    for (int64_t k = 0; k < m; ++k) {
      double lhs = dotp(Wc + k * ny, dYt + k * ny, ny), rhs = dotp(gth + k * P, V + k * P, P);
      double scale = nrm(Wc + k * ny, ny) * nrm(dYt + k * ny, ny), err = fabs(lhs - rhs);
      r.adjoint_theta = maxd(r.adjoint_theta, err / maxd(scale, DBL_MIN));
      cr_expect(err <= TOL_ADJ * scale, "%s: adjoint in theta, block %lld: <W, J v> = %.17g, <J^T W, v> = %.17g, "
                "|diff| = %.3e > %.0e |W| |J v| = %.3e", c->label, (long long)k, lhs, rhs, err, TOL_ADJ,
                TOL_ADJ * scale);
    }
  }
  vjp_host(c, &theta, &F, Wc, m, NULL, gX);
  for (int64_t k = 0; k < m; ++k) {
    double lhs = dotp(Wc + k * ny, dYx + k * ny, ny), rhs = dotp(gX + k * nx, dX + k * nx, nx);
    double scale = nrm(Wc + k * ny, ny) * nrm(dYx + k * ny, ny), err = fabs(lhs - rhs);
    r.adjoint_x = maxd(r.adjoint_x, err / maxd(scale, DBL_MIN));
    cr_expect(err <= TOL_ADJ * scale, "%s: adjoint in X, block %lld: <W, J dX> = %.17g, <J^T W, dX> = %.17g, "
              "|diff| = %.3e > %.0e |W| |J dX| = %.3e", c->label, (long long)k, lhs, rhs, err, TOL_ADJ,
              TOL_ADJ * scale);
  }
  /* both outputs at once = each alone */
  double *gth2 = hnew(m * P), *gX2 = hnew(m * nx);
  vjp_host(c, &theta, &F, Wc, m, P ? gth2 : NULL, gX2);
  expect_close(c, "vjp gX with gtheta = without", gX2, gX, m * nx, TOL_SAME, 0, &r.blocks);
  if (P > 0) expect_close(c, "vjp gtheta with gX = without", gth2, gth, m * P, TOL_SAME, 0, &r.blocks);

  /* m blocks = m calls with one block */
  double *one = hnew(ny), *g1 = hnew(P), *gx1 = hnew(nx);
  for (int64_t k = 0; k < m; ++k) {
    jvp_host(c, &theta, &F, P ? V + k * P : NULL, dX + k * nx, 1, one);
    snprintf(what, sizeof what, "jvp block %lld of %lld = jvp of that block alone", (long long)k, (long long)m);
    expect_close(c, what, one, dYb + k * ny, ny, TOL_SAME, 0, &r.blocks);
    memset(g1, 0, (size_t)(P > 0 ? P : 1) * sizeof *g1);
    vjp_host(c, &theta, &F, Wc + k * ny, 1, P ? g1 : NULL, gx1);
    snprintf(what, sizeof what, "vjp gX block %lld of %lld = vjp of that block alone", (long long)k, (long long)m);
    expect_close(c, what, gx1, gX + k * nx, nx, TOL_SAME, 0, &r.blocks);
    if (P > 0) {
      snprintf(what, sizeof what, "vjp gtheta row %lld of %lld = vjp of that block alone", (long long)k,
               (long long)m);
      expect_close(c, what, g1, gth + k * P, P, TOL_SAME, 0, &r.blocks);
    }
  }

  /* gtheta accumulates */
  if (P > 0) {
    double *R = hrandn(c, m * P), *acc = hcopy(R, m * P);
    vjp_host(c, &theta, &F, Wc, m, acc, NULL);
    for (int64_t i = 0; i < m * P; ++i) acc[i] -= R[i];
    expect_close(c, "vjp adds to gtheta (beta = 1)", acc, gth, m * P, TOL_SAME, TOL_SAME * nrm(R, m * P),
                 &r.accumulate);
    free(R);
    free(acc);
  }

  /* jets */
  npde_jet_order orders[4] = {NPDE_JET_VALUE, NPDE_JET_GRAD, NPDE_JET_LAPLACIAN, NPDE_JET_HESSIAN};
  int64_t sh = npde_jet_second_blocks(NPDE_JET_HESSIAN, d);
  double *val[4], *grd[4], *sec[4];
  for (int q = 0; q < 4; ++q) {
    val[q] = hnew(ny);
    grd[q] = hnew(d * ny);
    sec[q] = hnew(sh * ny);
    jet_host(c, &theta, X, n, orders[q], val[q], grd[q], sec[q]);
    snprintf(what, sizeof what, "jet value (order %d) = forward", q);
    expect_close(c, what, val[q], Y, ny, TOL_SAME, 0, &r.jet_value);
  }
  for (int q = 2; q < 4; ++q) {
    snprintf(what, sizeof what, "jet gradient of order %d = of order 1", q);
    expect_close(c, what, grd[q], grd[1], d * ny, TOL_SAME, 0, &r.jet_orders);
  }
  for (int64_t j = 0; j < d; ++j) {
    snprintf(what, sizeof what, "Laplacian block %lld = Hessian block (%lld, %lld)", (long long)j, (long long)j,
             (long long)j);
    expect_close(c, what, sec[2] + j * ny, sec[3] + npde_jet_hessian_index(j, j, d) * ny, ny, TOL_SAME, 0,
                 &r.jet_orders);
  }
  /* gradient blocks vs central differences of forward; second blocks vs those of the gradient jet */
  const double h = 1e-5;
  double *Gp = hnew(d * ny), *Gm = hnew(d * ny), *gnorm = hnew(d);
  for (int64_t j = 0; j < d; ++j) gnorm[j] = nrm(grd[1] + j * ny, ny);
  for (int64_t k = 0; k < d; ++k) {
    memcpy(Xp, X, (size_t)nx * sizeof *X);
    memcpy(Xm, X, (size_t)nx * sizeof *X);
    for (int64_t p = 0; p < n; ++p) {
      Xp[p * d + k] += h;
      Xm[p * d + k] -= h;
    }
    forward_host(c, theta_h, Xp, n, Yp);
    forward_host(c, theta_h, Xm, n, Ym);
    for (int64_t i = 0; i < ny; ++i) fd[i] = (Yp[i] - Ym[i]) / (2 * h);
    snprintf(what, sizeof what, "gradient block %lld vs central differences (h = %g)", (long long)k, h);
    expect_close(c, what, grd[1] + k * ny, fd, ny, TOL_FD1, FD_ROUNDOFF * DBL_EPSILON * ynorm / h, &r.jet_grad);
    jet_host(c, &theta, Xp, n, NPDE_JET_GRAD, NULL, Gp, NULL);
    jet_host(c, &theta, Xm, n, NPDE_JET_GRAD, NULL, Gm, NULL);
    for (int64_t j = 0; j <= k; ++j) { /* d/dx_k of d/dx_j: Hessian (j, k); j = k also the Laplacian */
      for (int64_t i = 0; i < ny; ++i) fd[i] = (Gp[j * ny + i] - Gm[j * ny + i]) / (2 * h);
      double floor = FD_ROUNDOFF * DBL_EPSILON * gnorm[j] / h;
      if (j == k) {
        snprintf(what, sizeof what, "Laplacian block %lld vs central differences of the gradient", (long long)k);
        expect_close(c, what, sec[2] + k * ny, fd, ny, TOL_FD2, floor, &r.jet_second);
      }
      snprintf(what, sizeof what, "Hessian block (%lld, %lld) vs central differences of the gradient", (long long)j,
               (long long)k);
      expect_close(c, what, sec[3] + npde_jet_hessian_index(j, k, d) * ny, fd, ny, TOL_FD2, floor, &r.jet_second);
    }
  }

  merge(rep, &r);
  for (int q = 0; q < 4; ++q) {
    free(val[q]);
    free(grd[q]);
    free(sec[q]);
  }
  free(Gp), free(Gm), free(gnorm), free(one), free(g1), free(gx1), free(gth2), free(gX2), free(Wc), free(gth);
  free(gX), free(zero), free(dYb), free(sum), free(dX), free(dYx), free(Xp), free(Xm), free(V), free(dYt);
  free(Yp), free(Ym), free(fd), free(Y), free(Y2), free(X), free(theta_h);
  fwd_free(c, &F);
  dm_free(&theta);
}

/* ------------------------------------------------------------ f32 vs f64 */

void lc_check_f32(const lc_options *o, npde_layer *const *layers, int count, double tol) {
  ctx c64, c32;
  ctx_init(&c64, o, layers, count, NPDE_F64);
  ctx_init(&c32, o, layers, count, NPDE_F32);
  int64_t m = c64.m, d = c64.w[0], wo = c64.w[count], P = c64.P, n;
  double *X = make_points(&c64, &n), *V = hrandn(&c64, m * P), *dX = hrandn(&c64, m * n * d);
  double *Wc = hrandn(&c64, m * n * wo);
  int64_t ny = n * wo, nx = n * d, sh = npde_jet_second_blocks(NPDE_JET_HESSIAN, d);
  ctx *cs[2] = {&c64, &c32};
  double *Y[2], *dY[2], *gth[2], *gX[2], *jv[2], *jg[2], *js[2];
  for (int t = 0; t < 2; ++t) {
    ctx *c = cs[t];
    double *th_h;
    dmat th = init_theta(c, &th_h);
    fwd F;
    fwd_run(c, &th, X, n, true, &F);
    Y[t] = hnew(ny);
    dm_get(&F.a[count], Y[t]);
    dY[t] = hnew(m * ny);
    jvp_host(c, &th, &F, P ? V : NULL, dX, m, dY[t]);
    gth[t] = hnew(m * P);
    gX[t] = hnew(m * nx);
    vjp_host(c, &th, &F, Wc, m, P ? gth[t] : NULL, gX[t]);
    jv[t] = hnew(ny);
    jg[t] = hnew(d * ny);
    js[t] = hnew(sh * ny);
    jet_host(c, &th, X, n, NPDE_JET_HESSIAN, jv[t], jg[t], js[t]);
    fwd_free(c, &F);
    dm_free(&th);
    free(th_h);
  }
  ctx *c = &c32;
  expect_close(c, "forward f32 vs f64", Y[1], Y[0], ny, tol, 0, NULL);
  expect_close(c, "jvp f32 vs f64", dY[1], dY[0], m * ny, tol, 0, NULL);
  expect_close(c, "vjp gX f32 vs f64", gX[1], gX[0], m * nx, tol, 0, NULL);
  if (P) expect_close(c, "vjp gtheta f32 vs f64", gth[1], gth[0], m * P, tol, 0, NULL);
  expect_close(c, "jet value f32 vs f64", jv[1], jv[0], ny, tol, 0, NULL);
  expect_close(c, "jet gradient f32 vs f64", jg[1], jg[0], d * ny, tol, 0, NULL);
  expect_close(c, "jet Hessian f32 vs f64", js[1], js[0], sh * ny, tol, 0, NULL);
  for (int t = 0; t < 2; ++t) {
    free(Y[t]), free(dY[t]), free(gth[t]), free(gX[t]), free(jv[t]), free(jg[t]), free(js[t]);
  }
  free(X), free(V), free(dX), free(Wc);
}

const char *lc_report_str(const lc_report *r, char *buf, size_t size) {
  snprintf(buf, size,
           "forward_cache %.1e pointwise %.1e jvp_theta %.1e jvp_x %.1e linearity %.1e adjoint_theta %.1e "
           "adjoint_x %.1e "
           "blocks %.1e accumulate %.1e jet_value %.1e jet_grad %.1e jet_second %.1e jet_orders %.1e",
           r->forward_cache, r->pointwise, r->jvp_theta, r->jvp_x, r->linearity, r->adjoint_theta, r->adjoint_x,
           r->blocks,
           r->accumulate, r->jet_value, r->jet_grad, r->jet_second, r->jet_orders);
  return buf;
}
