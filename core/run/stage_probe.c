/* The `probe` stage: exercises the backend end to end (RNG, reductions,
 * gemm) and checks the sample moments, so a new install or a new backend can
 * be trusted before a long run. */
#include <math.h>
#include <stdlib.h>

#include "npde/npde_log.h"
#include "run_context.h"

static const npde_param_spec probe_params[] = {
    {.name = "points", .type = NPDE_PARAM_INT, .default_value = "100000", .min = 2, .max = 1e9,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX, .doc = "uniform points drawn in [-1, 1]^dim"},
    {.name = "dim", .type = NPDE_PARAM_INT, .default_value = "3", .min = 1, .max = 64,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX, .doc = "dimension of the points"},
    {.name = "width", .type = NPDE_PARAM_INT, .default_value = "128", .min = 1, .max = 4096,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX,
     .doc = "width k of the timed (points x k) times (k x k) product"},
    {.name = "max_sigma", .type = NPDE_PARAM_REAL, .default_value = "6", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "fail when a sample moment is further than this many standard errors from its expectation"},
    {0},
};


typedef struct probe_buffers {
  npde_backend *be;
  void *x, *g, *mean, *a, *w, *c;
} probe_buffers;

static void release(probe_buffers *b) {
  void *all[] = {b->x, b->g, b->mean, b->a, b->w, b->c};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) npde_backend_free(b->be, all[i]);
}

static npde_status probe_run(npde_run_ctx *rs, const npde_config *params) {
  int64_t n, d, k;
  double max_sigma;
  NPDE_TRY(npde_config_get_int(params, "points", &n));
  NPDE_TRY(npde_config_get_int(params, "dim", &d));
  NPDE_TRY(npde_config_get_int(params, "width", &k));
  NPDE_TRY(npde_config_get_real(params, "max_sigma", &max_sigma));
  npde_backend *be = rs->backend;
  npde_dtype t = rs->dtype;
  size_t es = npde_dtype_size(t);
  probe_buffers b = {.be = be};
  npde_status st;
#define CHECK(call) do { if ((st = (call)) != NPDE_OK) goto done; } while (0)
  CHECK(npde_backend_alloc(be, (size_t)(n * d) * es, &b.x));
  CHECK(npde_backend_alloc(be, (size_t)(d * d) * es, &b.g));
  CHECK(npde_backend_alloc(be, (size_t)d * es, &b.mean));
  npde_mat X = npde_mat_view(b.x, t, n, d), G = npde_mat_view(b.g, t, d, d), mean = npde_mat_view(b.mean, t, d, 1);

  double t0 = npde__now_seconds();
  CHECK(npde_backend_rng_uniform(be, rs->seed, NPDE__STREAM_PROBE, 0, -1.0, 1.0, &X));
  CHECK(npde_backend_col_sums(be, 1.0 / (double)n, &X, 0.0, &mean));
  CHECK(npde_backend_gemm(be, NPDE_TRANS, NPDE_NO_TRANS, 1.0 / (double)n, &X, &X, 0.0, &G));
  double host_mean[64], host_g[64 * 64];
  /* download through a double copy regardless of dtype */
  if (t == NPDE_F64) {
    CHECK(npde_backend_download(be, host_mean, b.mean, (size_t)d * es));
    CHECK(npde_backend_download(be, host_g, b.g, (size_t)(d * d) * es));
  } else {
    float fm[64], fg[64 * 64];
    CHECK(npde_backend_download(be, fm, b.mean, (size_t)d * es));
    CHECK(npde_backend_download(be, fg, b.g, (size_t)(d * d) * es));
    for (int64_t i = 0; i < d; ++i) host_mean[i] = fm[i];
    for (int64_t i = 0; i < d * d; ++i) host_g[i] = fg[i];
  }
  double t_draw = npde__now_seconds() - t0;

  /* Standard errors for x ~ U(-1, 1): mean 0 (var 1/3), x_i^2 mean 1/3
   * (var 4/45), x_i x_j mean 0 (var 1/9). */
  double worst = 0.0;
  for (int64_t i = 0; i < d; ++i) {
    double z = fabs(host_mean[i]) / sqrt(1.0 / 3.0 / (double)n);
    if (z > worst) worst = z;
    for (int64_t j = 0; j < d; ++j) {
      double expect = i == j ? 1.0 / 3.0 : 0.0, var = i == j ? 4.0 / 45.0 : 1.0 / 9.0;
      z = fabs(host_g[i * d + j] - expect) / sqrt(var / (double)n);
      if (z > worst) worst = z;
    }
  }
  npde_log(NPDE_LOG_INFO, "probe: %lld points in [-1,1]^%lld drawn and reduced in %.3f s; worst moment %.2f "
           "standard errors from its expectation", (long long)n, (long long)d, t_draw, worst);
  npde__metric(rs, "probe.worst_sigma", worst);
  if (!(worst <= max_sigma)) {
    st = NPDE_ERROR(NPDE_ERR_NUMERIC, "probe: a sample moment is %.2f standard errors from its expectation "
                    "(limit %g); the backend's RNG or reductions are wrong", worst, max_sigma);
    goto done;
  }

  /* Throughput of the product shape networks use: (n x k) times (k x k). */
  CHECK(npde_backend_alloc(be, (size_t)(n * k) * es, &b.a));
  CHECK(npde_backend_alloc(be, (size_t)(k * k) * es, &b.w));
  CHECK(npde_backend_alloc(be, (size_t)(n * k) * es, &b.c));
  npde_mat A = npde_mat_view(b.a, t, n, k), W = npde_mat_view(b.w, t, k, k), C = npde_mat_view(b.c, t, n, k);
  CHECK(npde_backend_rng_normal(be, rs->seed, NPDE__STREAM_PROBE + 1, 0, 0.0, 1.0, &A));
  CHECK(npde_backend_rng_normal(be, rs->seed, NPDE__STREAM_PROBE + 2, 0, 0.0, 1.0 / sqrt((double)k), &W));
  double best = INFINITY, check = 0.0;
  for (int rep = 0; rep < 5; ++rep) {
    t0 = npde__now_seconds();
    CHECK(npde_backend_gemm(be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &A, &W, 0.0, &C));
    CHECK(npde_backend_nrm2(be, &C, &check)); /* synchronises */
    double dt = npde__now_seconds() - t0;
    if (dt < best) best = dt;
  }
  if (!isfinite(check) || check <= 0.0) {
    st = NPDE_ERROR(NPDE_ERR_NUMERIC, "probe: the gemm result has norm %g", check);
    goto done;
  }
  npde_log(NPDE_LOG_INFO, "probe: gemm (%lld x %lld) (%lld x %lld) in %s: best of 5 %.4f s, %.2f GFLOP/s",
           (long long)n, (long long)k, (long long)k, (long long)k, t == NPDE_F64 ? "f64" : "f32", best,
           2.0 * (double)n * (double)k * (double)k / best * 1e-9);
done:
#undef CHECK
  release(&b);
  return st;
}

static npde_status probe_preflight(const npde_run_ctx *rs, const npde_config *params) {
  int64_t n, d, k;
  NPDE_TRY(npde_config_get_int(params, "points", &n));
  NPDE_TRY(npde_config_get_int(params, "dim", &d));
  NPDE_TRY(npde_config_get_int(params, "width", &k));
  const double es = (double)npde_dtype_size(rs->dtype);
  return npde__memory_fits(npde_config_get(params, "points"), "probe: the points and the timed product",
                           es * (double)n * (double)(d + 2 * k));
}

const npde_stage npde__stage_probe = {
    .name = "probe",
    .summary = "check the backend: Philox sample moments and gemm throughput",
    .params = probe_params,
    .run = probe_run,
    .preflight = probe_preflight,
};
