/* The samples of evolve and fit (docs/methods/neural-ivp.md §1.4): uniform on [-1, 1]^d, or adaptive.
 *
 * Adaptive: a mixture q = (1 - alpha) p + alpha g / Z of the uniform density
 * p and a proposal that follows the current solution, g(x) = sum_k (u_k(x)^2 +
 * |grad u_k(x)|^2) of the network at the attempt's theta, drawn by
 * sampling-importance-resampling from C x total uniform candidates. Slot j
 * of the set keeps candidate j (the uniform draw's own point j) with
 * probability 1 - alpha and otherwise takes a candidate drawn with
 * probability g_i / sum g, so Z is the candidates' mean of g and the slot's
 * density is q(x) = p(x) ((1 - alpha) + alpha g(x) / Z). Each point carries
 * the weight w = p / q = 1 / ((1 - alpha) + alpha g(x) / Z), so that
 *   M = J^T W J / n  and  F = J^T W f / n
 * estimate the same uniform-measure projection as the uniform sampler does,
 * with more of the samples where the solution lives. alpha = 0 gives the
 * uniform sampler's points with weights exactly 1. A caller may score the
 * candidates itself (the fit scores them by its target, sum_k u0_k^2).
 *
 * Every number is a function of (seed, draw, theta): the candidates, the
 * choice per slot (Philox, one counter per slot) and g are computed alike
 * on every rank, each rank keeps its rows of the whole set, so the set does
 * not depend on the number of ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde_philox.h"
#include "npde/npde_registry.h"
#include "sampler.h"

/* The candidates beyond the uniform draw, and the choices, come from streams this far past the caller's (whose
 * neighbours, stream + 1 ..., are other fits' or stages'). */
#define SAMPLER_STREAM_CANDIDATES 0x8001
#define SAMPLER_STREAM_PICKS 0x8002

static const npde_param_spec sampling_params[] = {
    {.name = "type", .type = NPDE_PARAM_ENUM, .default_value = "uniform", .choices = "uniform|adaptive",
     .doc = "uniform: uniform points; adaptive: a mixture of uniform and points where a proposal is large (evolve: "
            "u^2 + |grad u|^2 of the current network; fit: the target's sum u_k^2), each weighted by p/q"},
    {.name = "mix", .type = NPDE_PARAM_REAL, .default_value = "0.5", .min = 0, .max = 1,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX, .doc = "adaptive: the share alpha drawn from the proposal"},
    {.name = "candidates", .type = NPDE_PARAM_INT, .default_value = "4", .min = 1, .max = 1024,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX,
     .doc = "adaptive: uniform candidates per sample that the proposal resamples from"},
    {0},
};

npde_status npde__sampler_read(npde__sampler *s, const npde_config *node, const char *what) {
  npde_config *cfg = NULL;
  NPDE_TRY(npde_params_validate(sampling_params, what, node, NULL, &cfg));
  const char *type = NULL;
  npde_status st = npde_config_get_string(cfg, "type", &type);
  if (st == NPDE_OK) st = npde_config_get_real(cfg, "mix", &s->mix);
  if (st == NPDE_OK) st = npde_config_get_int(cfg, "candidates", &s->candidates);
  if (st == NPDE_OK) s->adaptive = strcmp(type, "adaptive") == 0;
  npde_config_destroy(&cfg);
  return st;
}

static npde_status grow(npde__sampler *s, npde_backend *be, int64_t m, int64_t total, int64_t d, int64_t K) {
  if (s->m == m && s->d == d && s->K == K && s->xc) return NPDE_OK;
  npde__sampler_free(s, be);
  NPDE_TRY(npde_backend_alloc(be, (size_t)(m * d) * sizeof(double), &s->xc));
  s->xh = malloc((size_t)(m * d) * sizeof(double));
  s->val = malloc((size_t)(m * K) * sizeof(double));
  s->grad = malloc((size_t)(m * K * d) * sizeof(double));
  s->cdf = malloc((size_t)m * sizeof(double));
  s->ratio = malloc((size_t)m * sizeof(double));
  s->pick = malloc((size_t)total * sizeof(int64_t));
  s->rows = malloc((size_t)(total * d) * sizeof(double));
  if (!s->xh || !s->val || !s->grad || !s->cdf || !s->ratio || !s->pick || !s->rows)
    return NPDE_ERROR(NPDE_ERR_NOMEM, "evolve: out of host memory for %lld sampling candidates", (long long)m);
  s->m = m;
  s->d = d;
  s->K = K;
  return NPDE_OK;
}

npde_status npde__sample_uniform(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t draw, int64_t total,
                                 int64_t first, npde_mat *X) {
  const int64_t d = X->cols;
  const uint64_t counter =
      draw * npde_philox_blocks((uint64_t)(total * d)) + npde_philox_blocks((uint64_t)(first * d));
  return npde_backend_rng_uniform(be, seed, stream, counter, -1.0, 1.0, X);
}

npde_status npde__sampler_draw(npde__sampler *s, npde_network *net, const npde_mat *theta, npde__sampler_score score,
                               void *score_ctx, uint64_t seed, uint64_t stream, uint64_t draw, int64_t total,
                               int64_t first, int64_t n, npde_mat *X, double *sqrt_w) {
  npde_backend *be = npde_network_backend(net);
  const int64_t d = X->cols, K = npde_network_outputs(net);
  if (!s->adaptive) {
    for (int64_t i = 0; i < n; ++i) sqrt_w[i] = 1.0;
    s->ess = 1.0;
    s->w_min = s->w_max = 1.0;
    return npde__sample_uniform(be, seed, stream, draw, total, first, X);
  }
  const int64_t C = s->candidates, m = C * total;
  NPDE_TRY(grow(s, be, m, total, d, K));
  /* candidates: the uniform draw's whole set, then (C - 1) total more from the next stream */
  npde_mat head = npde_mat_view(s->xc, NPDE_F64, total, d);
  NPDE_TRY(npde__sample_uniform(be, seed, stream, draw, total, 0, &head));
  if (C > 1) {
    npde_mat rest = npde_mat_view((double *)s->xc + total * d, NPDE_F64, m - total, d);
    NPDE_TRY(npde__sample_uniform(be, seed, stream + SAMPLER_STREAM_CANDIDATES, draw, m - total, 0, &rest));
  }
  npde_mat Xc = npde_mat_view(s->xc, NPDE_F64, m, d);
  NPDE_TRY(npde_backend_download(be, s->xh, s->xc, (size_t)(m * d) * sizeof(double)));
  if (score) {
    NPDE_TRY(score(score_ctx, &Xc, s->xh, s->ratio));
  } else {
    NPDE_TRY(npde_network_jet(net, theta, &Xc, NPDE_JET_GRAD, s->val, s->grad, NULL));
    for (int64_t i = 0; i < m; ++i) {
      double g = 0.0;
      for (int64_t k = 0; k < K; ++k) g += s->val[i * K + k] * s->val[i * K + k];
      for (int64_t e = 0; e < K * d; ++e) g += s->grad[i * K * d + e] * s->grad[i * K * d + e];
      s->ratio[i] = g;
    }
  }
  /* the running sum of g (the resampling's CDF) and its mean */
  double sum = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    if (!isfinite(s->ratio[i]) || s->ratio[i] < 0.0) s->ratio[i] = 0.0;
    sum += s->ratio[i];
    s->cdf[i] = sum;
  }
  const double alpha = sum > 0.0 ? s->mix : 0.0, mean = sum / (double)m;
  for (int64_t i = 0; i < m; ++i) s->ratio[i] = alpha > 0.0 ? s->ratio[i] / mean : 1.0; /* g / Z */
  /* one choice per slot, each from its own Philox counter */
  const uint64_t base = draw * npde_philox_blocks((uint64_t)(2 * total));
  double sw = 0.0, sw2 = 0.0;
  s->w_min = INFINITY;
  s->w_max = 0.0;
  for (int64_t j = 0; j < total; ++j) {
    int64_t c = j;
    if (alpha > 0.0 && npde_philox_uniform_at(seed, stream + SAMPLER_STREAM_PICKS, base, (uint64_t)(2 * j)) < alpha) {
      const double u = npde_philox_uniform_at(seed, stream + SAMPLER_STREAM_PICKS, base, (uint64_t)(2 * j + 1)) * sum;
      int64_t lo = 0, hi = m - 1; /* the first candidate whose running sum exceeds u */
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (s->cdf[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      c = lo;
    }
    s->pick[j] = c;
    const double w = 1.0 / ((1.0 - alpha) + alpha * s->ratio[c]);
    sw += w;
    sw2 += w * w;
    if (w < s->w_min) s->w_min = w;
    if (w > s->w_max) s->w_max = w;
  }
  s->ess = sw * sw / (sw2 * (double)total);
  /* this rank's rows, through the host copy of the candidates */
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = s->pick[first + i];
    memcpy(s->rows + i * d, s->xh + c * d, (size_t)d * sizeof(double));
    sqrt_w[i] = sqrt(1.0 / ((1.0 - alpha) + alpha * s->ratio[c]));
  }
  return npde_backend_upload(be, X->data, s->rows, (size_t)(n * d) * sizeof(double));
}

void npde__sampler_free(npde__sampler *s, npde_backend *be) {
  if (s->xc) npde_backend_free(be, s->xc);
  free(s->xh);
  free(s->val);
  free(s->grad);
  free(s->cdf);
  free(s->ratio);
  free(s->pick);
  free(s->rows);
  s->rows = NULL;
  s->xc = NULL;
  s->xh = s->val = s->grad = s->cdf = s->ratio = NULL;
  s->pick = NULL;
  s->m = 0;
}
