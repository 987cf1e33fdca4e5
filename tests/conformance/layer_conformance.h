/* Layer conformance harness (docs/plugins.md, "Testing"; docs/methods/neural-ivp.md §10 V2-V4).
 *
 * Checks a layer, or a chain of layers where each feeds the next (e.g.
 * sinusoidal then mlp), through the public npde_layer_* API with all data
 * in backend memory (moved only by upload/download), so it runs on any
 * backend and for out-of-tree layers. Failures are Criterion expectations
 * naming the label, the check and the measured error; call it from a
 * Criterion test.
 *
 * For a chain, the parameters of all layers are one vector (layer i's in
 * columns [off_i, off_i + n_params_i)), tangents and cotangents are chained
 * by hand (dY of layer i is dX of layer i + 1; gX of layer i + 1 is G of
 * layer i) and jets likewise, starting from the identity jet of the raw
 * input. theta is each layer's init (seed, stream = layer index) shifted
 * by 0.2 N(0, 1) per entry, so that zero-initialised biases do not hide
 * errors. Every view handed to a layer has a leading dimension larger than
 * its width; the padding, fresh outputs, caches and work are filled with
 * NaN, so reading unwritten memory or ignoring ld shows up.
 *
 * Checks (defaults; relative errors are norm-wise per block):
 *   forward      with and without a cache agree; on the first half of the
 *                points alone = the first rows (1e-13); n = 0 points is a no-op
 *   jvp theta    vs central FD of forward, eps = 1e-6 |theta| / |v|   (1e-7)
 *   jvp X        vs central FD of forward, eps = 1e-6 |X| / |dX|       (1e-7)
 *   linearity    jvp(v, dX) = jvp(v, 0) + jvp(0, dX); jvp(0, 0) = 0   (1e-13)
 *   adjoint      <W, J v> = <J^T W, v> for theta and for X, m blocks  (1e-12 |W| |J v|)
 *   blocks       jvp and vjp on m blocks = m calls with one block     (1e-13)
 *   accumulate   gtheta += (beta = 1); gX overwritten                 (1e-13)
 *   jet          value = forward (1e-13); gradient blocks vs central FD of
 *                forward in x (h = 1e-5, 1e-7); Laplacian / Hessian blocks
 *                vs central FD of the gradient jet (h = 1e-5, 1e-5); lower
 *                orders agree with higher ones (1e-13)
 * at random points in [-1, 1]^d and on / near faces and corners. FD errors
 * get an absolute floor of 100 eps |f| / step (the round-off of the
 * difference quotient).
 */
#ifndef NPDE_TEST_LAYER_CONFORMANCE_H
#define NPDE_TEST_LAYER_CONFORMANCE_H

#include <stdint.h>

#include "npde/npde_backend.h"
#include "npde/npde_layer.h"

#define LC_MAX_LAYERS 8

typedef struct lc_options {
  npde_backend *be;
  uint64_t seed;    /* points, tangents, cotangents and init (stream = layer index) */
  const char *label; /* names the case in failure messages */
  int64_t n_random; /* random points (default 6); face and corner points are added */
  int64_t m;        /* tangent blocks (default 3) */
} lc_options;

/* Worst errors seen, each relative to the check's tolerance scale (see above). */
typedef struct lc_report {
  double forward_cache, pointwise, jvp_theta, jvp_x, linearity, adjoint_theta, adjoint_x, blocks, accumulate;
  double jet_value, jet_grad, jet_second, jet_orders;
} lc_report;

/* Check a chain of count layers (layer i + 1's input width = layer i's output width); rep (may be
 * NULL) receives the worst errors, merged (max) with what it holds. */
void lc_check_chain(const lc_options *o, npde_layer *const *layers, int count, lc_report *rep);

/* The same for one layer. */
void lc_check_layer(const lc_options *o, npde_layer *layer, lc_report *rep);

/* Run forward, jvp, vjp and the Hessian jet of the chain in f32 and in f64 (theta from init in each
 * dtype) and check that they agree to tol (relative, norm-wise); for backends and layers with f32. */
void lc_check_f32(const lc_options *o, npde_layer *const *layers, int count, double tol);

/* One line "jvp_theta 1.2e-10 jvp_x ..." of a report. */
const char *lc_report_str(const lc_report *rep, char *buf, size_t size);

#endif
