/* evolve's sampler (core/methods/ivp/sampler.c, docs/methods/neural-ivp.md §1.4): the uniform draw's
 * layout, mix 0 as the uniform sampler, the set split exactly over ranks,
 * reproducible draws, and weights p/q that make weighted means uniform means. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde.h"
#include "sampler.h"

static npde_registry *reg;
static npde_backend *be;
static npde_network *net;
static npde_config *ncfg;
static void *theta_buf;
static npde_mat theta;

static void setup(void) {
  npde_log_set_level(NPDE_LOG_WARN);
  cr_assert_eq(npde_registry_create(&reg), NPDE_OK);
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_OK, "%s", npde_last_error());
  npde_config *bc;
  cr_assert_eq(npde_config_load_string("{type: cpu, threads: 1}", "be", &bc), NPDE_OK);
  cr_assert_eq(npde_backend_create(reg, NULL, bc, &be), NPDE_OK, "%s", npde_last_error());
  npde_config_destroy(&bc);
  cr_assert_eq(npde_config_load_string("{outputs: 1, layers: [{type: sinusoidal, frequencies: 2}, {type: mlp, "
                                       "width: 12, depth: 2}]}", "net", &ncfg), NPDE_OK);
  cr_assert_eq(npde_network_create(reg, ncfg, be, 2, &net), NPDE_OK, "%s", npde_last_error());
  const int64_t p = npde_network_n_params(net);
  cr_assert_eq(npde_backend_alloc(be, (size_t)p * sizeof(double), &theta_buf), NPDE_OK);
  theta = npde_mat_view(theta_buf, NPDE_F64, p, 1);
  cr_assert_eq(npde_network_init(net, &theta, 3), NPDE_OK);
}

static void teardown(void) {
  npde_backend_free(be, theta_buf);
  npde_network_destroy(&net);
  npde_config_destroy(&ncfg);
  npde_backend_destroy(&be);
  npde_registry_destroy(&reg);
}
TestSuite(sampler, .init = setup, .fini = teardown);

static npde__sampler make(const char *yaml) {
  npde_config *c;
  cr_assert_eq(npde_config_load_string(yaml, "sampling", &c), NPDE_OK);
  npde__sampler s = {0};
  cr_assert_eq(npde__sampler_read(&s, c, "evolve.sampling"), NPDE_OK, "%s", npde_last_error());
  npde_config_destroy(&c);
  return s;
}

/* Rows [first, first + n) of draw `draw` of `total` points: host points (n x 2) and sqrt(p/q). */
static void draw(npde__sampler *s, uint64_t d, int64_t total, int64_t first, int64_t n, double *x, double *sw) {
  void *buf;
  cr_assert_eq(npde_backend_alloc(be, (size_t)(n * 2) * sizeof(double), &buf), NPDE_OK);
  npde_mat X = npde_mat_view(buf, NPDE_F64, n, 2);
  cr_assert_eq(npde__sampler_draw(s, net, &theta, NULL, NULL, 11, 0x100, d, total, first, n, &X, sw), NPDE_OK, "%s",
               npde_last_error());
  cr_assert_eq(npde_backend_download(be, x, buf, (size_t)(n * 2) * sizeof(double)), NPDE_OK);
  npde_backend_free(be, buf);
}

Test(sampler, test_sampler_mix_zero_is_the_uniform_draw) {
  const int64_t total = 300;
  double *xu = malloc(total * 2 * sizeof(double)), *xa = malloc(total * 2 * sizeof(double));
  double *wu = malloc(total * sizeof(double)), *wa = malloc(total * sizeof(double));
  npde__sampler u = make("{type: uniform}"), a = make("{type: adaptive, mix: 0, candidates: 3}");
  draw(&u, 4, total, 0, total, xu, wu);
  draw(&a, 4, total, 0, total, xa, wa);
  cr_expect_eq(memcmp(xu, xa, total * 2 * sizeof(double)), 0, "mix 0 moved the uniform points");
  for (int64_t i = 0; i < total; ++i) cr_expect_eq(wa[i], 1.0);
  for (int64_t i = 0; i < total * 2; ++i) cr_expect(xu[i] >= -1.0 && xu[i] < 1.0);
  npde__sampler_free(&u, be);
  npde__sampler_free(&a, be);
  free(xu), free(xa), free(wu), free(wa);
}

Test(sampler, test_sampler_splits_exactly_and_reproduces) {
  const int64_t total = 501, h = 200;
  double *x = malloc(total * 2 * sizeof(double)), *w = malloc(total * sizeof(double));
  double *y = malloc(total * 2 * sizeof(double)), *v = malloc(total * sizeof(double));
  npde__sampler a = make("{type: adaptive, mix: 0.6, candidates: 5}");
  draw(&a, 7, total, 0, total, x, w);
  draw(&a, 7, total, 0, h, y, v); /* two ranks' slices */
  draw(&a, 7, total, h, total - h, y + h * 2, v + h);
  cr_expect_eq(memcmp(x, y, total * 2 * sizeof(double)), 0, "the slices are not the whole set's rows");
  cr_expect_eq(memcmp(w, v, total * sizeof(double)), 0, "the slices' weights differ");
  draw(&a, 7, total, 0, total, y, v);
  cr_expect_eq(memcmp(x, y, total * 2 * sizeof(double)), 0, "the same draw differs");
  draw(&a, 8, total, 0, total, y, v);
  cr_expect_neq(memcmp(x, y, total * 2 * sizeof(double)), 0, "the next draw is the same");
  npde__sampler_free(&a, be);
  free(x), free(w), free(y), free(v);
}

/* With w = p/q the weighted mean of any h over the samples estimates its uniform mean; here h = u^2 of the
 * network, whose uniform mean comes from 200 000 uniform points. The samples crowd where g is large. */
Test(sampler, test_sampler_weights_give_uniform_means) {
  const int64_t total = 20000, big = 200000;
  double *x = malloc(big * 2 * sizeof(double)), *w = malloc(big * sizeof(double)), *u = malloc(big * sizeof(double));
  void *buf;
  cr_assert_eq(npde_backend_alloc(be, (size_t)(big * 2) * sizeof(double), &buf), NPDE_OK);
  npde__sampler uni = make("{type: uniform}"), a = make("{type: adaptive, mix: 0.8, candidates: 8}");
  /* the uniform mean of u^2 */
  draw(&uni, 1, big, 0, big, x, w);
  cr_assert_eq(npde_backend_upload(be, buf, x, (size_t)(big * 2) * sizeof(double)), NPDE_OK);
  npde_mat X = npde_mat_view(buf, NPDE_F64, big, 2);
  cr_assert_eq(npde_network_jet(net, &theta, &X, NPDE_JET_VALUE, u, NULL, NULL), NPDE_OK);
  double mean_u = 0.0;
  for (int64_t i = 0; i < big; ++i) mean_u += u[i] * u[i] / (double)big;
  /* the adaptive estimate */
  draw(&a, 2, total, 0, total, x, w);
  cr_assert_eq(npde_backend_upload(be, buf, x, (size_t)(total * 2) * sizeof(double)), NPDE_OK);
  X = npde_mat_view(buf, NPDE_F64, total, 2);
  cr_assert_eq(npde_network_jet(net, &theta, &X, NPDE_JET_VALUE, u, NULL, NULL), NPDE_OK);
  double est = 0.0, mean_w = 0.0, plain = 0.0;
  for (int64_t i = 0; i < total; ++i) {
    est += w[i] * w[i] * u[i] * u[i] / (double)total; /* w = sqrt(p/q)^2 */
    mean_w += w[i] * w[i] / (double)total;
    plain += u[i] * u[i] / (double)total;
  }
  cr_log_info("u^2: uniform mean %.5f, weighted adaptive %.5f, unweighted adaptive %.5f; mean p/q %.4f, ESS %.3f n",
              mean_u, est, plain, mean_w, a.ess);
  cr_expect(fabs(est - mean_u) < 0.03 * mean_u, "weighted mean %.5f vs uniform %.5f", est, mean_u);
  cr_expect(fabs(mean_w - 1.0) < 0.03, "mean p/q %.4f", mean_w);
  cr_expect(plain > 1.05 * mean_u, "the samples do not crowd where u is large: %.5f vs %.5f", plain, mean_u);
  cr_expect(a.ess > 0.1 && a.ess < 1.0, "ESS %.3f", a.ess);
  npde_backend_free(be, buf);
  npde__sampler_free(&uni, be);
  npde__sampler_free(&a, be);
  free(x), free(w), free(u);
}

Test(sampler, test_sampler_settings_are_checked) {
  npde_config *c;
  cr_assert_eq(npde_config_load_string("{type: adaptive, mix: 1.5}", "s.yaml", &c), NPDE_OK);
  npde__sampler s = {0};
  cr_expect_neq(npde__sampler_read(&s, c, "evolve.sampling"), NPDE_OK);
  cr_expect(strstr(npde_last_error(), "s.yaml:1:23:") && strstr(npde_last_error(), "'mix' = 1.5"), "%s",
            npde_last_error());
  npde_config_destroy(&c);
  cr_assert_eq(npde_config_load_string("{type: importance}", "s.yaml", &c), NPDE_OK);
  cr_expect_neq(npde__sampler_read(&s, c, "evolve.sampling"), NPDE_OK);
  cr_expect(strstr(npde_last_error(), "uniform") && strstr(npde_last_error(), "adaptive"), "%s", npde_last_error());
  npde_config_destroy(&c);
}
