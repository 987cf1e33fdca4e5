/* The fit stage through whole pipelines: accuracy on a smooth target, head
 * tuning, restarts (target: network), determinism, errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde.h"

static npde_registry *reg;

static void setup(void) {
  npde_log_set_level(NPDE_LOG_WARN);
  cr_assert_eq(npde_registry_create(&reg), NPDE_OK);
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_OK, "%s", npde_last_error());
}
static void teardown(void) { npde_registry_destroy(&reg); }
TestSuite(fit, .init = setup, .fini = teardown, .timeout = 240);

#define PIPELINE(stage)                                                                              \
  "seed: 3\n"                                                                                        \
  "pde: {type: heat, dim: 2, s: 0.25, scale: 1}\n"                                                    \
  "network:\n"                                                                                       \
  "  envelope: dirichlet\n"                                                                          \
  "  layers: [{type: sinusoidal, frequencies: 3}, {type: mlp, width: 32, depth: 2}]\n"              \
  "stages:\n" stage

/* Run a pipeline; store the n named figures in values. */
static void run_metrics(const char *yaml, int n, const char *const *metrics, double *values) {
  npde_config *cfg;
  cr_assert_eq(npde_config_load_string(yaml, "fit.yaml", &cfg), NPDE_OK, "%s", npde_last_error());
  npde_pipeline *pl;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pipeline_run(pl), NPDE_OK, "%s", npde_last_error());
  for (int i = 0; i < n; ++i) {
    values[i] = NAN;
    cr_assert_eq(npde_pipeline_metric(pl, metrics[i], &values[i]), NPDE_OK, "%s", npde_last_error());
  }
  npde_pipeline_destroy(&pl);
  npde_config_destroy(&cfg);
}

/* Run a pipeline; return the named figure. */
static double run(const char *yaml, const char *metric) {
  double v;
  run_metrics(yaml, 1, &metric, &v);
  return v;
}

Test(fit, test_fit_smooth_target_and_head_tuning_lowers_the_error) {
  const char *yaml = PIPELINE("  - fit: {epochs: 3000, lr: 1e-2, batch: 500, decay: cosine, head_points: 20000, "
                              "head_lambda: 0, eval_points: 4000}\n");
  double before = run(yaml, "fit.rel_error_before_head"), after = run(yaml, "fit.rel_error");
  cr_log_info("fit: before head tuning %g, after %g", before, after);
  cr_expect_lt(after, before, "head tuning must lower the error: %g -> %g", before, after);
  cr_expect_lt(after, 2.5e-3, "relative L2 error %g after 3000 epochs", after);
  /* an untrained network is far off: the test can fail */
  double untrained = run(PIPELINE("  - fit: {epochs: 0, head_tuning: false, eval_points: 4000}\n"), "fit.rel_error");
  cr_expect_gt(untrained, 0.5, "untrained error %g", untrained);
}

Test(fit, test_fit_reaches_1e_3_on_a_smooth_target) {
  /* s = 0.2: the Gaussian is ~1e-5 of its peak on the boundary, so the
   * Dirichlet envelope costs nothing (s = 0.3 plateaus near 1.3e-3) */
  const char *yaml = "seed: 3\n"
                     "pde: {type: heat, dim: 2, s: 0.2, scale: 1}\n"
                     "network:\n"
                     "  envelope: dirichlet\n"
                     "  layers: [{type: sinusoidal, frequencies: 3}, {type: mlp, width: 32, depth: 2}]\n"
                     "stages:\n"
                     "  - fit: {epochs: 8000, lr: 1e-2, batch: 500, decay: cosine, head_points: 20000, "
                     "eval_points: 4000}\n";
  double err = run(yaml, "fit.rel_error");
  cr_log_info("fit: relative L2 error %g after 8000 epochs", err);
  cr_expect_lt(err, 1e-3, "relative L2 error %g after 8000 epochs", err);
}

Test(fit, test_fit_is_reproducible) {
  const char *yaml = PIPELINE("  - fit: {epochs: 200, batch: 200, head_points: 5000, eval_points: 2000}\n");
  double a = run(yaml, "fit.rel_error"), b = run(yaml, "fit.rel_error");
  cr_expect_eq(a, b, "same config and seed, same numbers: %.17g vs %.17g", a, b);
}

Test(fit, test_fit_to_the_network_itself_restarts_from_the_initial_parameters) {
  /* fit the IC, then refit to the network's own prediction (a restart): the
   * refit's error is measured against the network it replaces */
  double refit = run(PIPELINE("  - fit: {epochs: 600, lr: 1e-2, batch: 500, head_points: 10000, eval_points: 2000}\n"
                              "  - fit: {target: network, epochs: 600, lr: 1e-2, batch: 500, head_points: 10000, "
                              "eval_points: 2000}\n"),
                     "refit.rel_error");
  cr_expect_lt(refit, 5e-2, "refit to the current network: relative error %g", refit);
}

Test(fit, test_fit_without_network_is_a_config_error) {
  npde_config *cfg;
  cr_assert_eq(npde_config_load_string("pde: {type: heat}\nstages: [fit]\n", "f.yaml", &cfg), NPDE_OK);
  npde_pipeline *pl;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  cr_expect_eq(npde_pipeline_run(pl), NPDE_ERR_CONFIG);
  cr_expect(strstr(npde_last_error(), "no 'network:'") != NULL, "%s", npde_last_error());
  npde_pipeline_destroy(&pl);
  npde_config_destroy(&cfg);
}

Test(fit, test_fit_unknown_key_lists_the_valid_ones) {
  npde_config *cfg;
  cr_assert_eq(npde_config_load_string(PIPELINE("  - fit: {epoch: 10}\n"), "f.yaml", &cfg), NPDE_OK);
  npde_pipeline *pl = NULL;
  cr_expect_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_ERR_CONFIG);
  cr_expect(strstr(npde_last_error(), "f.yaml:7:") && strstr(npde_last_error(), "unknown key 'epoch'") &&
                strstr(npde_last_error(), "epochs, lr, batch"),
            "%s", npde_last_error());
  npde_config_destroy(&cfg);
}

/* The radial wave's IC (docs/methods/neural-ivp.md §7.1): phi peaks at 0.06, phi_t at 4. */
static const char wave_fit[] =
    "seed: 5\n"
    "pde: {type: wave, dim: 3, c: 1, initial: radial}\n"
    "network:\n"
    "  envelope: dirichlet\n"
    "  layers: [{type: sinusoidal, frequencies: 4}, {type: mlp, width: 16, depth: 2}]\n"
    "stages:\n"
    "  - fit: {epochs: 200, lr: 3e-3, batch: 400, head_points: 4000, eval_points: 4000}\n"
    "  - eval: {points: 4000, grid: [3, 3, 3]}\n";

Test(fit, test_fit_and_eval_report_each_output_alone) {
  npde_config *cfg;
  cr_assert_eq(npde_config_load_string(wave_fit, "w.yaml", &cfg), NPDE_OK, "%s", npde_last_error());
  npde_pipeline *pl;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_pipeline_run(pl), NPDE_OK, "%s", npde_last_error());
  double all, e0, e1, f0, f1;
  cr_assert_eq(npde_pipeline_metric(pl, "eval.rel_error", &all), NPDE_OK);
  cr_assert_eq(npde_pipeline_metric(pl, "eval.rel_error_output0", &e0), NPDE_OK);
  cr_assert_eq(npde_pipeline_metric(pl, "eval.rel_error_output1", &e1), NPDE_OK);
  cr_assert_eq(npde_pipeline_metric(pl, "fit.rel_error_output0", &f0), NPDE_OK);
  cr_assert_eq(npde_pipeline_metric(pl, "fit.rel_error_output1", &f1), NPDE_OK);
  cr_log_info("eval at t = 0: all %g, phi %g, phi_t %g", all, e0, e1);
  /* all^2 is the mean of the outputs' squared errors weighted by their targets' energy: between them, and
   * next to phi_t's, which holds almost all of the energy */
  cr_expect(all >= fmin(e0, e1) * (1 - 1e-12) && all <= fmax(e0, e1) * (1 + 1e-12), "%g not in [%g, %g]", all,
            e0, e1);
  cr_expect_float_eq(all, e1, 1e-3 * e1, "all %g vs phi_t %g", all, e1);
  /* the fit and eval measure on the same held-out points against the same IC (exact(0) is the IC) */
  cr_expect_float_eq(f0, e0, 1e-12 * e0, "fit %g vs eval %g", f0, e0);
  cr_expect_float_eq(f1, e1, 1e-12 * e1, "fit %g vs eval %g", f1, e1);
  npde_pipeline_destroy(&pl);
  npde_config_destroy(&cfg);
}

/* phi_t of a wave at rest is identically zero: ridge regression would set its head to exactly zero, leaving that
 * output's Jacobian only the head's directions; the head keeps Adam's (small, non-zero) values instead. */
/* The largest |head value| of output 1 after a wave fit with zero_head: MODE. */
static double phi_t_head(const char *mode) {
  char dir[] = "/tmp/npde-fit-zero-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char yaml[1024];
  snprintf(yaml, sizeof yaml,
           "seed: 3\noutput: %s\nplots: false\npde: {type: wave, dim: 2, c: 1, s: 0.3}\n"
           "network: {envelope: dirichlet, layers: [{type: sinusoidal, frequencies: 2}, {type: mlp, width: 12, "
           "depth: 2}]}\nstages:\n  - fit: {epochs: 200, lr: 1e-2, batch: 400, head_points: 4000, zero_head: %s}\n",
           dir, mode);
  (void)run(yaml, "fit.rel_error");
  char path[400];
  snprintf(path, sizeof path, "%s/results.npz", dir);
  npde_npy_array th = {0};
  cr_assert_eq(npde_npz_read(path, "theta_final", &th), NPDE_OK, "%s", npde_last_error());
  npde_config *node;
  cr_assert_eq(npde_config_load_string("{envelope: dirichlet, outputs: 2, layers: [{type: sinusoidal, frequencies: "
                                       "2}, {type: mlp, width: 12, depth: 2}]}", "n.yaml", &node), NPDE_OK);
  npde_backend *be = NULL;
  npde_network *net = NULL;
  cr_assert_eq(npde_backend_create(reg, "cpu", NULL, &be), NPDE_OK);
  cr_assert_eq(npde_network_create(reg, node, be, 2, &net), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_network_n_params(net), th.count);
  const int64_t off = npde_network_head_offset(net, 1), k = npde_network_feature_dim(net, 1);
  double largest = 0;
  for (int64_t i = 0; i <= k; ++i) largest = fmax(largest, fabs(((double *)th.data)[off + i]));
  npde_network_destroy(&net);
  npde_backend_destroy(&be);
  npde_config_destroy(&node);
  npde_npy_array_free(&th);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_expect_eq(system(cmd), 0);
  return largest;
}

Test(fit, test_a_zero_target_keeps_a_non_zero_head) {
  const double kept = phi_t_head("adam"), ridge = phi_t_head("ridge");
  cr_expect_gt(kept, 0.0, "zero_head: adam left phi_t's head all zero");
  cr_expect_eq(ridge, 0.0, "zero_head: ridge (the reference code's head tuning) left %g", ridge);
}

/* R_true of the first step (rk4, dt 1e-4) of a 2D wave at rest after a fit with zero_head: MODE; the phi_t
 * output's error after the fit in *phi_t. */
static double first_step_residual(const char *mode, double *phi_t) {
  char yaml[1024];
  snprintf(yaml, sizeof yaml,
           "seed: 3\npde: {type: wave, dim: 2, c: 1, s: 0.1}\nnetwork: {envelope: dirichlet, layers: [{type: "
           "sinusoidal, frequencies: 3}, {type: mlp, width: 16, depth: 2}]}\nsamples: {n: 1000}\nlinsolver: {type: "
           "cg, tol: 1e-8, max_iters: 1000}\nprecond: {type: nystrom, rank: 30, mu: 1e-6, mu_mode: relative}\n"
           "integrator: {type: rk4, dt: 1e-4}\nstages:\n  - fit: {epochs: 600, lr: 1e-2, batch: 500, head_points: "
           "4000, zero_head: %s}\n  - evolve: {t_end: 1e-4}\n", mode);
  const char *const metrics[] = {"evolve.residual", "fit.rel_error_output1"};
  double values[2];
  run_metrics(yaml, 2, metrics, values);
  *phi_t = values[1];
  return values[0];
}

/* zero_head: rhs fits phi_t's branch to its first time derivative, lap phi, then zeroes its head: phi_t stays
 * exactly zero, and the first step's tangent space holds lap phi (the head's directions are those features),
 * where a branch fitted to zero leaves the projection missing nearly all of it. */
Test(fit, test_zero_head_rhs_gives_the_first_step_its_right_hand_side) {
  double phi_t_adam, phi_t_rhs;
  const double r_adam = first_step_residual("adam", &phi_t_adam), r_rhs = first_step_residual("rhs", &phi_t_rhs);
  cr_expect_eq(phi_t_rhs, 0.0, "zero_head: rhs left phi_t %g off its zero initial value", phi_t_rhs);
  cr_expect_gt(r_adam, 0.8, "the case no longer shows the failure: R_true %g with a branch fitted to zero", r_adam);
  cr_expect_lt(r_rhs, 0.25, "zero_head: rhs: R_true %g at the first step (adam: %g)", r_rhs, r_adam);
}

Test(fit, test_zero_head_rhs_without_head_tuning_is_refused) {
  npde_config *cfg;
  cr_assert_eq(npde_config_load_string(PIPELINE("  - fit: {epochs: 1, head_tuning: false, zero_head: rhs}\n"),
                                       "fit.yaml", &cfg), NPDE_OK, "%s", npde_last_error());
  npde_pipeline *pl = NULL;
  npde_status st = npde_pipeline_create(reg, cfg, &pl);
  if (st == NPDE_OK) st = npde_pipeline_check(pl);
  cr_expect_neq(st, NPDE_OK, "zero_head: rhs with head_tuning: false was accepted");
  cr_expect(strstr(npde_last_error(), "fit.yaml:") && strstr(npde_last_error(), "head_tuning"), "%s", npde_last_error());
  npde_pipeline_destroy(&pl);
  npde_config_destroy(&cfg);
}

/* Adaptive batches (docs/methods/neural-ivp.md §1.4): mix 0 is the uniform fit bit for bit (the weighted
 * loss with weights 1 changes no number); a mix > 0 fit repeats bit for bit and is a different fit. */
Test(fit, test_fit_adaptive_batches_reproduce_and_mix_zero_is_uniform) {
#define FIT(sampling) PIPELINE("  - fit: {epochs: 200, batch: 200, head_points: 5000, eval_points: 2000, sampling: " \
                               sampling "}\n")
  const double uni = run(FIT("{type: uniform}"), "fit.loss");
  const double zero = run(FIT("{type: adaptive, mix: 0, candidates: 3}"), "fit.loss");
  const double a = run(FIT("{type: adaptive, mix: 0.5, candidates: 4}"), "fit.loss");
  const double b = run(FIT("{type: adaptive, mix: 0.5, candidates: 4}"), "fit.loss");
#undef FIT
  cr_expect_eq(zero, uni, "mix 0: %.17g vs uniform %.17g", zero, uni);
  cr_expect_eq(a, b, "the same adaptive fit twice: %.17g vs %.17g", a, b);
  cr_expect_neq(a, uni);
}
