/* Where evolve puts its samples (sampler.c): uniform, or a mixture of uniform and a proposal that follows the
 * current solution, with the importance weights p/q that keep the objective the uniform-measure residual. */
#ifndef NPDE_SAMPLER_H
#define NPDE_SAMPLER_H

#include <stdbool.h>

#include "npde/npde_config.h"
#include "npde/npde_network.h"

typedef struct npde__sampler {
  bool adaptive;
  double mix;         /* alpha: the share of samples drawn from the proposal */
  int64_t candidates; /* C: candidates per sample */
  /* work, for m = C x total candidates */
  int64_t m, d, K;
  void *xc;                                /* backend: m x d */
  double *xh, *val, *grad, *cdf, *ratio;   /* host: m x d, m x K, m x K x d, m, m */
  int64_t *pick;                           /* host: total */
  double *rows;                            /* host: this rank's chosen points (at most total x d) */
  /* the last draw's summary */
  double ess;      /* effective sample size (sum w)^2 / sum w^2 over the whole set, as a share of total */
  double w_min, w_max;
} npde__sampler;

/* A stage's `sampling:` node (what: its name in messages): {type: uniform} or {type: adaptive, mix, candidates}. */
npde_status npde__sampler_read(npde__sampler *s, const npde_config *node, const char *what);

/* The uniform draw: this rank's rows [first, first + X->rows) of draw number `draw` of `total` points in [-1, 1]^d
 * (Philox stream `stream`, the draw's counters after those of draws 0 .. draw - 1), into X (backend). */
npde_status npde__sample_uniform(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t draw, int64_t total,
                                 int64_t first, npde_mat *X);

/* A caller's own proposal: g >= 0 at the m candidates X (backend, m x d; xh the same on the host). */
typedef npde_status (*npde__sampler_score)(void *ctx, const npde_mat *X, const double *xh, double *g);

/* Draw number `draw` of a set of `total` points in [-1, 1]^d (stream/counter layout of the uniform draw, whose
 * points are the first `total` candidates), and this rank's rows [first, first + n): X (backend, n x d) and the
 * points' sqrt(p/q) (host, n; all 1 for the uniform sampler). The proposal density is proportional to
 * score's g, or without one to sum_k (u_k^2 + |grad u_k|^2) of the network at theta. */
npde_status npde__sampler_draw(npde__sampler *s, npde_network *net, const npde_mat *theta, npde__sampler_score score,
                               void *score_ctx, uint64_t seed, uint64_t stream, uint64_t draw, int64_t total,
                               int64_t first, int64_t n, npde_mat *X, double *sqrt_w);
void npde__sampler_free(npde__sampler *s, npde_backend *be);

#endif
