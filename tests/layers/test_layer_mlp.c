/* The mlp layer: the conformance harness over activations, depths, widths
 * and input dimensions; swish golden values through an identity-weight
 * layer (docs/methods/neural-ivp.md §10.1); init statistics and determinism (V5);
 * parameter counts (V6); YAML errors. */
#include <math.h>

#include "layer_fixture.h"
#include "npde/npde_philox.h"

TestSuite(layer_mlp, .init = lf_setup, .fini = lf_teardown, .timeout = 60);

static void conformance_for(const char *act, const char *extra) {
  static const int64_t depths[] = {1, 3}, widths[] = {1, 7, 32}, ins[] = {1, 2, 3, 6};
  lc_report worst = {0};
  char yaml[256], label[320];
  uint64_t seed = 11;
  for (size_t a = 0; a < 2; ++a)
    for (size_t b = 0; b < 3; ++b)
      for (size_t c = 0; c < 4; ++c) {
        snprintf(yaml, sizeof yaml, "{type: mlp, activation: %s, depth: %lld, width: %lld%s}", act,
                 (long long)depths[a], (long long)widths[b], extra);
        snprintf(label, sizeof label, "%s on %lld inputs", yaml, (long long)ins[c]);
        npde_layer *l = lf_make(yaml, ins[c]);
        lc_options o = {.be = g_be, .seed = seed++, .label = label};
        lc_check_layer(&o, l, &worst);
        npde_layer_destroy(&l);
      }
  snprintf(label, sizeof label, "mlp %s%s", act, extra);
  lf_report(label, &worst);
}

Test(layer_mlp, test_layer_mlp_conformance_swish) { conformance_for("swish", ""); }
Test(layer_mlp, test_layer_mlp_conformance_tanh) { conformance_for("tanh", ""); }
Test(layer_mlp, test_layer_mlp_conformance_sin) { conformance_for("sin", ""); }
Test(layer_mlp, test_layer_mlp_conformance_identity) { conformance_for("identity", ""); }
/* SIREN init: larger first-layer weights, so larger derivatives */
Test(layer_mlp, test_layer_mlp_conformance_sin_omega0) { conformance_for("sin", ", omega0: 3"); }

Test(layer_mlp, test_layer_mlp_f32_matches_f64) {
  static const char *acts[] = {"swish", "tanh", "sin", "identity"};
  for (int a = 0; a < 4; ++a) {
    char yaml[128];
    snprintf(yaml, sizeof yaml, "{type: mlp, activation: %s, depth: 3, width: 16}", acts[a]);
    npde_layer *l = lf_make(yaml, 3);
    lc_options o = {.be = g_be, .seed = 5, .label = yaml};
    lc_check_f32(&o, &l, 1, 1e-4);
    npde_layer_destroy(&l);
  }
}

/* docs/methods/neural-ivp.md §10.1: swish at z = 0.7 through W = 1, b = 0: value, first and second derivative. */
Test(layer_mlp, test_layer_mlp_golden_swish) {
  npde_layer *l = lf_make("{type: mlp, activation: swish, depth: 1, width: 1}", 1);
  cr_assert_eq(npde_layer_n_params(l), 2);
  double th[2] = {1.0, 0.0}, x = 0.7, one = 1.0, zero = 0.0, out[4];
  void *dth = lf_upload(th, 2), *dx = lf_upload(&x, 1), *dg = lf_upload(&one, 1), *ds = lf_upload(&zero, 1);
  void *dv = lf_upload(&zero, 1), *dgo = lf_upload(&zero, 1), *dso = lf_upload(&zero, 1), *dy = lf_upload(&zero, 1);
  int64_t we = 0;
  cr_assert_eq(npde_layer_work_size(l, 1, 1, NPDE_JET_LAPLACIAN, 1, &we), NPDE_OK);
  void *work = NULL;
  cr_assert_eq(npde_backend_alloc(g_be, (size_t)(we ? we : 1) * sizeof(double), &work), NPDE_OK);
  npde_mat theta = npde_mat_view(dth, NPDE_F64, 1, 2);
  npde_jet in = {.n = 1, .d = 1, .order = NPDE_JET_LAPLACIAN, .identity = true,
                 .value = npde_mat_view(dx, NPDE_F64, 1, 1), .grad = npde_mat_view(dg, NPDE_F64, 1, 1),
                 .second = npde_mat_view(ds, NPDE_F64, 1, 1)};
  npde_jet jo = {.n = 1, .d = 1, .order = NPDE_JET_LAPLACIAN, .value = npde_mat_view(dv, NPDE_F64, 1, 1),
                 .grad = npde_mat_view(dgo, NPDE_F64, 1, 1), .second = npde_mat_view(dso, NPDE_F64, 1, 1)};
  cr_assert_eq(npde_layer_jet(l, &theta, &in, &jo, work), NPDE_OK, "%s", npde_last_error());
  npde_mat X = in.value, Y = npde_mat_view(dy, NPDE_F64, 1, 1);
  cr_assert_eq(npde_layer_forward(l, &theta, &X, &Y, NULL, NULL), NPDE_OK, "%s", npde_last_error());
  lf_download(&out[0], dv, 1);
  lf_download(&out[1], dgo, 1);
  lf_download(&out[2], dso, 1);
  lf_download(&out[3], dy, 1);
  cr_expect_float_eq(out[0], 0.467731440518, 1e-12, "swish(0.7) = %.15f", out[0]);
  cr_expect_float_eq(out[1], 0.823386783473, 1e-12, "swish'(0.7) = %.15f", out[1]);
  cr_expect_float_eq(out[2], 0.391220594678, 1e-12, "swish''(0.7) = %.15f", out[2]);
  cr_expect_float_eq(out[3], 0.467731440518, 1e-12, "forward swish(0.7) = %.15f", out[3]);
  void *bufs[] = {dth, dx, dg, ds, dv, dgo, dso, dy, work};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; ++i) npde_backend_free(g_be, bufs[i]);
  npde_layer_destroy(&l);
}

/* theta of a layer from npde_layer_init, on the host. */
static double *init_host(npde_layer *l, uint64_t seed, uint64_t stream) {
  int64_t p = npde_layer_n_params(l);
  double *h = calloc((size_t)p, sizeof *h);
  cr_assert_not_null(h);
  void *d = lf_upload(h, (size_t)p);
  npde_mat th = npde_mat_view(d, NPDE_F64, 1, p);
  cr_assert_eq(npde_layer_init(l, &th, seed, stream), NPDE_OK, "%s", npde_last_error());
  lf_download(h, d, (size_t)p);
  npde_backend_free(g_be, d);
  return h;
}

/* V5: weight std sqrt(fan_in) = 0.8796 (truncated normal) within 1 %, |W| sqrt(fan_in) <= 2, mean ~ 0, biases 0. */
Test(layer_mlp, test_layer_mlp_init_statistics) {
  const int64_t in = 400, w = 600;
  npde_layer *l = lf_make("{type: mlp, width: 600, depth: 2}", in);
  cr_assert_eq(npde_layer_n_params(l), in * w + w + w * w + w);
  double *th = init_host(l, 2024, 0);
  /* the exact std of N(0, 1) truncated to [-2, 2]: sqrt(1 - 4 phi(2) / (Phi(2) - Phi(-2))) */
  double phi2 = exp(-2.0) / sqrt(2 * M_PI), mass = erf(2.0 / sqrt(2.0));
  double exact = sqrt(1.0 - 4.0 * phi2 / mass);
  cr_expect_float_eq(exact, 0.8796, 1e-4, "truncated normal std %.6f", exact);
  int64_t off = 0;
  for (int layer = 0; layer < 2; ++layer) {
    int64_t fin = layer ? w : in, nw = fin * w;
    double s = sqrt((double)fin), sum = 0, sq = 0, mx = 0;
    for (int64_t i = 0; i < nw; ++i) {
      double t = th[off + i] * s;
      sum += t;
      sq += t * t;
      mx = fabs(t) > mx ? fabs(t) : mx;
    }
    double mean = sum / (double)nw, sd = sqrt(sq / (double)nw - mean * mean);
    cr_expect(fabs(sd - 0.8796) <= 0.01 * 0.8796, "layer %d: std sqrt(fan_in) = %.5f, not within 1%% of 0.8796",
              layer, sd);
    cr_expect(mx <= 2.0, "layer %d: max |W| sqrt(fan_in) = %.5f > 2", layer, mx);
    cr_expect(mx > 1.99, "layer %d: max |W| sqrt(fan_in) = %.5f: the tails look cut short", layer, mx);
    cr_expect(fabs(mean) <= 5 * 0.88 / sqrt((double)nw), "layer %d: mean %.2e", layer, mean);
    for (int64_t i = 0; i < w; ++i)
      cr_expect_eq(th[off + nw + i], 0.0, "layer %d: bias %lld = %g", layer, (long long)i, th[off + nw + i]);
    off += nw + w;
  }
  free(th);
  npde_layer_destroy(&l);
}

Test(layer_mlp, test_layer_mlp_init_deterministic) {
  npde_layer *l = lf_make("{type: mlp, width: 20, depth: 3}", 4);
  size_t p = (size_t)npde_layer_n_params(l);
  double *a = init_host(l, 7, 0), *b = init_host(l, 7, 0), *c = init_host(l, 7, 1), *e = init_host(l, 8, 0);
  cr_expect(memcmp(a, b, p * sizeof *a) == 0, "same (seed, stream) gave different theta");
  size_t same_c = 0, same_e = 0;
  for (size_t i = 0; i < p; ++i) {
    same_c += a[i] == c[i] && a[i] != 0.0;
    same_e += a[i] == e[i] && a[i] != 0.0;
  }
  cr_expect_eq(same_c, 0, "another stream repeats %zu weights", same_c);
  cr_expect_eq(same_e, 0, "another seed repeats %zu weights", same_e);
  /* the stream: entry i of theta (a weight) is npde_philox_trunc_normal_at(seed, stream, i) / sqrt(fan_in) */
  size_t mismatch = 0;
  for (int64_t layer = 0, off = 0; layer < 3; ++layer) {
    int64_t fin = layer ? 20 : 4;
    for (int64_t i = off; i < off + fin * 20; ++i)
      mismatch += c[i] != npde_philox_trunc_normal_at(7, 1, (uint64_t)i) / sqrt((double)fin);
    off += fin * 20 + 20;
  }
  cr_expect_eq(mismatch, 0, "%zu weights differ from npde_philox_trunc_normal_at(seed, stream, index) / sqrt(fan_in)",
               mismatch);
  /* f32 init = the f64 init rounded */
  float *f = calloc(p, sizeof *f);
  void *d = NULL;
  cr_assert_eq(npde_backend_alloc(g_be, p * sizeof *f, &d), NPDE_OK);
  npde_mat th = npde_mat_view(d, NPDE_F32, 1, (int64_t)p);
  cr_assert_eq(npde_layer_init(l, &th, 7, 0), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_backend_download(g_be, f, d, p * sizeof *f), NPDE_OK);
  size_t bad = 0;
  for (size_t i = 0; i < p; ++i) bad += f[i] != (float)a[i];
  cr_expect_eq(bad, 0, "%zu f32 init values differ from the rounded f64 ones", bad);
  npde_backend_free(g_be, d);
  free(a), free(b), free(c), free(e), free(f);
  npde_layer_destroy(&l);
}

/* Root mean square (the std of a zero-mean law) and max |w| of n weights. */
static void weight_stats(const double *w, int64_t n, double *rms, double *max_abs) {
  double sq = 0, mx = 0;
  for (int64_t i = 0; i < n; ++i) {
    sq += w[i] * w[i];
    mx = fabs(w[i]) > mx ? fabs(w[i]) : mx;
  }
  *rms = sqrt(sq / (double)n);
  *max_abs = mx;
}

/* SIREN init (omega0 folded into the weights): U(-omega0/in, omega0/in), then U(-sqrt(6/w), sqrt(6/w)). */
Test(layer_mlp, test_layer_mlp_init_siren) {
  const int64_t in = 50, w = 300;
  npde_layer *l = lf_make("{type: mlp, activation: sin, width: 300, depth: 2, omega0: 30}", in);
  double *th = init_host(l, 3, 0);
  double bounds[2] = {30.0 / (double)in, sqrt(6.0 / (double)w)};
  int64_t off = 0;
  for (int layer = 0; layer < 2; ++layer) {
    int64_t nw = (layer ? w : in) * w;
    double sd, mx;
    weight_stats(th + off, nw, &sd, &mx);
    const double want = bounds[layer] / sqrt(3.0);
    cr_expect(mx <= bounds[layer] && mx > 0.99 * bounds[layer], "layer %d: max |W| = %g, bound %g", layer, mx,
              bounds[layer]);
    cr_expect(fabs(sd - want) <= 0.01 * want, "layer %d: std %g, uniform's %g", layer, sd, want);
    for (int64_t i = 0; i < w; ++i) cr_expect_eq(th[off + nw + i], 0.0);
    off += nw + w;
  }
  free(th);
  npde_layer_destroy(&l);
}

/* init_std (haiku's default, docs/methods/nbm.md §5): W = 0.1 T in every layer, |W| <= 0.2, std of a
 * [-2, 2]-truncated normal. */
Test(layer_mlp, test_layer_mlp_init_std) {
  const int64_t in = 40, w = 200;
  npde_layer *l = lf_make("{type: mlp, activation: sin, width: 200, depth: 2, init_std: 0.1}", in);
  double *th = init_host(l, 3, 0);
  int64_t off = 0;
  for (int layer = 0; layer < 2; ++layer) {
    int64_t nw = (layer ? w : in) * w;
    double sd, mx;
    weight_stats(th + off, nw, &sd, &mx);
    const double want = 0.1 * 0.8796; /* std of N(0,1) truncated to [-2, 2] */
    cr_expect(mx <= 0.2 && mx > 0.19, "layer %d: max |W| = %g", layer, mx);
    cr_expect(fabs(sd - want) <= 0.02 * want, "layer %d: std %g, expected %g", layer, sd, want);
    off += nw + w;
  }
  free(th);
  npde_layer_destroy(&l);
}

/* V6: an mlp on the embedding's 2 L d features has 2Ldk + k + (depth - 1)(k^2 + k) parameters; with the
 * linear head (k + 1) that is docs/methods/neural-ivp.md §2.4's per-output count for depth 3. */
Test(layer_mlp, test_layer_mlp_param_count) {
  static const struct { int64_t d, L, k, p_out; } table[] = {
      {2, 3, 100, 21601}, {2, 5, 100, 22401}, {3, 5, 100, 23401}, {6, 5, 100, 26401},
      {5, 5, 100, 25401}, {8, 5, 100, 28401}, {20, 5, 100, 40401}, {3, 5, 200, 86801},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i) {
    char yaml[128];
    snprintf(yaml, sizeof yaml, "{type: sinusoidal, frequencies: %lld}", (long long)table[i].L);
    npde_layer *e = lf_make(yaml, table[i].d);
    int64_t in = npde_layer_out_dim(e), k = table[i].k;
    cr_expect_eq(in, 2 * table[i].L * table[i].d);
    cr_expect_eq(npde_layer_n_params(e), 0);
    snprintf(yaml, sizeof yaml, "{type: mlp, width: %lld}", (long long)k);
    npde_layer *l = lf_make(yaml, in);
    int64_t p = npde_layer_n_params(l);
    cr_expect_eq(p, in * k + k + 2 * (k * k + k), "d %lld L %lld k %lld: %lld parameters", (long long)table[i].d,
                 (long long)table[i].L, (long long)k, (long long)p);
    cr_expect_eq(p + k + 1, table[i].p_out, "with the head: %lld, docs/methods/neural-ivp.md §2.4 says %lld",
                 (long long)(p + k + 1),
                 (long long)table[i].p_out);
    cr_expect_eq(npde_layer_out_dim(l), k);
    npde_layer_destroy(&l);
    npde_layer_destroy(&e);
  }
  for (int64_t depth = 1; depth <= 5; ++depth) {
    char yaml[128];
    snprintf(yaml, sizeof yaml, "{type: mlp, width: 9, depth: %lld}", (long long)depth);
    npde_layer *l = lf_make(yaml, 4);
    cr_expect_eq(npde_layer_n_params(l), 4 * 9 + 9 + (depth - 1) * (81 + 9));
    npde_layer_destroy(&l);
  }
}

Test(layer_mlp, test_layer_mlp_defaults) {
  npde_layer *l = lf_make("{type: mlp}", 2);
  cr_expect_eq(npde_layer_out_dim(l), 100);
  cr_expect_eq(npde_layer_n_params(l), 2 * 100 + 100 + 2 * (100 * 100 + 100));
  cr_expect_str_eq(npde_layer_type(l), "mlp");
  npde_layer_destroy(&l);
}

static void expect_config_error(const char *yaml, const char *const *needles) {
  npde_layer *l = NULL;
  npde_status st = lf_try(yaml, 2, &l);
  cr_expect_eq(st, NPDE_ERR_CONFIG, "%s: status %s (%s)", yaml, npde_status_str(st), npde_last_error());
  cr_expect_null(l);
  for (const char *const *n = needles; *n; ++n)
    cr_expect(strstr(npde_last_error(), *n) != NULL, "%s: the message '%s' does not mention '%s'", yaml,
              npde_last_error(), *n);
  npde_layer_destroy(&l);
}

Test(layer_mlp, test_layer_mlp_yaml_errors) {
  expect_config_error("{type: mlp, widht: 3}",
                      (const char *[]){"widht", "width", "depth", "activation", "omega0", "<test>:1", NULL});
  expect_config_error("{type: mlp, activation: relu}", (const char *[]){"relu", "swish|tanh|sin|identity", NULL});
  expect_config_error("{type: mlp, depth: 0}", (const char *[]){"depth", NULL});
  expect_config_error("{type: mlp, width: 0}", (const char *[]){"width", NULL});
  expect_config_error("{type: mlp, width: 2.5}", (const char *[]){"width", NULL});
  expect_config_error("{type: mlp, activation: tanh, omega0: 30}", (const char *[]){"omega0", "sin", NULL});
  expect_config_error("{type: mlp, activation: sin, omega0: 3, init_std: 0.1}",
                      (const char *[]){"init_std", "omega0", NULL});
  expect_config_error("{type: mlp, activation: sin, omega0: 0}", (const char *[]){"omega0", NULL});
}

/* jvp and vjp read the forward's cache; without one they refuse rather than read garbage. */
Test(layer_mlp, test_layer_mlp_needs_cache) {
  npde_layer *l = lf_make("{type: mlp, width: 3, depth: 2}", 2);
  double h[64] = {0};
  void *th = lf_upload(h, 64), *x = lf_upload(h, 64), *y = lf_upload(h, 64), *wk = lf_upload(h, 64);
  npde_mat theta = npde_mat_view(th, NPDE_F64, 1, npde_layer_n_params(l));
  npde_mat X = npde_mat_view(x, NPDE_F64, 2, 2), dX = X, dY = npde_mat_view(y, NPDE_F64, 2, 3), G = dY, gX = X;
  cr_expect_eq(npde_layer_jvp(l, &theta, &X, NULL, NULL, &dX, &dY, 1, wk), NPDE_ERR_INVALID_ARG);
  cr_expect_eq(npde_layer_vjp(l, &theta, &X, NULL, &G, &gX, NULL, 1, wk), NPDE_ERR_INVALID_ARG);
  npde_backend_free(g_be, th), npde_backend_free(g_be, x), npde_backend_free(g_be, y), npde_backend_free(g_be, wk);
  npde_layer_destroy(&l);
}
