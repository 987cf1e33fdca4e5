/* The sinusoidal embedding layer: the conformance harness over frequencies,
 * decay exponents and dimensions, alone and followed by an mlp (jets,
 * tangents and cotangents chained by hand); the golden values of
 * docs/methods/neural-ivp.md §10.1; its first-layer requirement and YAML errors. */
#include <math.h>

#include "layer_fixture.h"

TestSuite(layer_sinusoidal, .init = lf_setup, .fini = lf_teardown, .timeout = 60);

Test(layer_sinusoidal, test_layer_sinusoidal_conformance) {
  static const int64_t Ls[] = {1, 3, 5}, ds[] = {1, 2, 3};
  static const double alphas[] = {0.0, 0.5, 1.0};
  lc_report worst = {0};
  uint64_t seed = 100;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 3; ++c) {
        char yaml[128], label[192];
        snprintf(yaml, sizeof yaml, "{type: sinusoidal, frequencies: %lld, alpha: %g}", (long long)Ls[a], alphas[b]);
        snprintf(label, sizeof label, "%s on %lld inputs", yaml, (long long)ds[c]);
        npde_layer *l = lf_make(yaml, ds[c]);
        cr_expect_eq(npde_layer_out_dim(l), 2 * Ls[a] * ds[c]);
        cr_expect_eq(npde_layer_n_params(l), 0);
        lc_options o = {.be = g_be, .seed = seed++, .label = label};
        lc_check_layer(&o, l, &worst);
        npde_layer_destroy(&l);
      }
  lf_report("sinusoidal", &worst);
}

Test(layer_sinusoidal, test_layer_sinusoidal_then_mlp) {
  static const struct { int64_t d, L; double alpha; const char *mlp; } cases[] = {
      {1, 1, 1.0, "{type: mlp, width: 5, depth: 1, activation: tanh}"},
      {2, 3, 1.0, "{type: mlp, width: 16, depth: 2, activation: swish}"},
      {3, 5, 1.0, "{type: mlp, width: 32, depth: 3, activation: swish}"},
      {2, 5, 0.5, "{type: mlp, width: 12, depth: 3, activation: sin}"},
      {3, 3, 0.0, "{type: mlp, width: 8, depth: 2, activation: identity}"},
  };
  lc_report worst = {0};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    char yaml[128], label[320];
    snprintf(yaml, sizeof yaml, "{type: sinusoidal, frequencies: %lld, alpha: %g}", (long long)cases[i].L,
             cases[i].alpha);
    npde_layer *chain[2];
    chain[0] = lf_make(yaml, cases[i].d);
    chain[1] = lf_make(cases[i].mlp, npde_layer_out_dim(chain[0]));
    snprintf(label, sizeof label, "%s on %lld inputs, then %s", yaml, (long long)cases[i].d, cases[i].mlp);
    lc_options o = {.be = g_be, .seed = 40 + i, .label = label};
    lc_check_chain(&o, chain, 2, &worst);
    if (i == 2) lc_check_f32(&o, chain, 2, 1e-4);
    npde_layer_destroy(&chain[1]);
    npde_layer_destroy(&chain[0]);
  }
  lf_report("sinusoidal then mlp", &worst);
}

Test(layer_sinusoidal, test_layer_sinusoidal_f32_matches_f64) {
  npde_layer *l = lf_make("{type: sinusoidal, frequencies: 4, alpha: 0.5}", 3);
  lc_options o = {.be = g_be, .seed = 9, .label = "sinusoidal L 4 alpha 0.5 d 3"};
  lc_check_f32(&o, &l, 1, 1e-5);
  npde_layer_destroy(&l);
}

/* docs/methods/neural-ivp.md §10.1: L = 3, alpha = 1, A = 6 at x = (0.3, -0.5). */
Test(layer_sinusoidal, test_layer_sinusoidal_golden) {
  static const double want[12] = {1.734115971607, -2.700948948471, 1.545108644401, -1.909859317103,
                                  0.908192074369, 0.0,             3.403394223641, 2.700948948471,
                                  1.122587140546, 0.0,             -0.295089492925, -0.954929658551};
  npde_layer *l = lf_make("{type: sinusoidal, frequencies: 3, alpha: 1, amplitude: 6}", 2);
  cr_assert_eq(npde_layer_out_dim(l), 12);
  double x[2] = {0.3, -0.5}, y[12] = {0};
  void *dx = lf_upload(x, 2), *dy = lf_upload(y, 12);
  npde_mat X = npde_mat_view(dx, NPDE_F64, 1, 2), Y = npde_mat_view(dy, NPDE_F64, 1, 12);
  cr_assert_eq(npde_layer_forward(l, NULL, &X, &Y, NULL, NULL), NPDE_OK, "%s", npde_last_error());
  lf_download(y, dy, 12);
  for (int i = 0; i < 12; ++i)
    cr_expect(fabs(y[i] - want[i]) <= 1e-12, "feature %d = %.12f, golden %.12f", i, y[i], want[i]);
  npde_backend_free(g_be, dx);
  npde_backend_free(g_be, dy);
  /* the defaults are the paper's: L = 5, alpha = 1, A = 6 */
  npde_layer_destroy(&l);
  l = lf_make("{type: sinusoidal}", 2);
  cr_expect_eq(npde_layer_out_dim(l), 20);
  npde_layer_destroy(&l);
}

/* It takes raw coordinates: a jet that is not the identity jet is refused. */
Test(layer_sinusoidal, test_layer_sinusoidal_must_be_first) {
  npde_layer *l = lf_make("{type: sinusoidal, frequencies: 2}", 2);
  double h[64] = {0};
  void *a = lf_upload(h, 64), *b = lf_upload(h, 64);
  npde_jet in = {.n = 2, .d = 2, .order = NPDE_JET_GRAD, .identity = false,
                 .value = npde_mat_view(a, NPDE_F64, 2, 2), .grad = npde_mat_view(a, NPDE_F64, 4, 2)};
  npde_jet out = {.n = 2, .d = 2, .order = NPDE_JET_GRAD, .value = npde_mat_view(b, NPDE_F64, 2, 8),
                  .grad = npde_mat_view(b, NPDE_F64, 4, 8)};
  npde_status st = npde_layer_jet(l, NULL, &in, &out, NULL);
  cr_expect_eq(st, NPDE_ERR_INVALID_ARG, "status %s", npde_status_str(st));
  cr_expect(strstr(npde_last_error(), "sinusoidal must be the first layer of a branch") != NULL, "message: %s",
            npde_last_error());
  in.identity = true;
  cr_expect_eq(npde_layer_jet(l, NULL, &in, &out, NULL), NPDE_OK, "%s", npde_last_error());
  npde_backend_free(g_be, a);
  npde_backend_free(g_be, b);
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

Test(layer_sinusoidal, test_layer_sinusoidal_yaml_errors) {
  expect_config_error("{type: sinusoidal, freqs: 3}",
                      (const char *[]){"freqs", "frequencies", "alpha", "amplitude", NULL});
  expect_config_error("{type: sinusoidal, frequencies: 0}", (const char *[]){"frequencies", NULL});
  expect_config_error("{type: sinusoidal, alpha: high}", (const char *[]){"alpha", NULL});
}
