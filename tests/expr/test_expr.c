/* Parsed functions (npde_expr.h): values against the same formula in C,
 * bulk evaluation over more points than one chunk, names and errors with
 * their locations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "npde/npde.h"
#include "npde/npde_expr.h"

static npde_config *cfg_text(const char *text) {
  npde_config *cfg = NULL;
  cr_assert_eq(npde_config_load_string(text, "p.yaml", &cfg), NPDE_OK, "%s", npde_last_error());
  return cfg;
}

static void expect_error(const char *yaml, const npde_expr_scope *scope_in, const char *part) {
  npde_config *cfg = cfg_text(yaml);
  npde_expr_scope scope = *scope_in;
  scope.params = npde_config_get(cfg, "params");
  npde_expr *e = NULL;
  npde_status st = npde_expr_compile(npde_config_get(cfg, "f"), &scope, &e);
  cr_expect_eq(st, NPDE_ERR_CONFIG, "'%s' compiled (%d)", yaml, (int)st);
  cr_expect_null(e);
  cr_expect(strstr(npde_last_error(), part) != NULL, "expected \"%s\" in:\n%s", part, npde_last_error());
  npde_config_destroy(&cfg);
}

Test(expr, values_match_the_formula_in_c) {
  npde_config *cfg = cfg_text("params: {kappa: 0.25, c: 2}\n"
                              "f: ['sin(pi*x)*exp(-kappa*t)', 'x1^2 + y*z - c*r', 'x > 0 ? x3 : -1', '1e-3']\n");
  npde_expr_scope scope = {.dim = 3, .time = true, .params = npde_config_get(cfg, "params")};
  npde_expr *e = NULL;
  cr_assert_eq(npde_expr_compile(npde_config_get(cfg, "f"), &scope, &e), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_expr_count(e), 4);
  const int64_t n = 10000; /* more than one chunk */
  double *x = malloc((size_t)n * 3 * sizeof *x), *out = malloc((size_t)n * 4 * sizeof *out);
  cr_assert(x && out);
  for (int64_t i = 0; i < 3 * n; ++i) x[i] = -1.0 + 2.0 * (double)((i * 7919) % 1000) / 999.0;
  const double t = 0.3;
  cr_assert_eq(npde_expr_eval(e, x, n, t, NULL, out), NPDE_OK, "%s", npde_last_error());
  for (int64_t i = 0; i < n; ++i) {
    const double *p = x + 3 * i, r = sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
    const double want[4] = {sin(M_PI * p[0]) * exp(-0.25 * t), p[0] * p[0] + p[1] * p[2] - 2 * r,
                            p[0] > 0 ? p[2] : -1.0, 1e-3};
    for (int k = 0; k < 4; ++k)
      cr_assert(fabs(out[4 * i + k] - want[k]) <= 1e-14 * (1 + fabs(want[k])), "point %lld, expression %d: %.17g, "
                "expected %.17g", (long long)i, k, out[4 * i + k], want[k]);
  }
  cr_expect(npde_expr_uses(e, 0, "t") && !npde_expr_uses(e, 1, "t") && npde_expr_uses(e, -1, "r"));
  free(x), free(out);
  npde_expr_destroy(&e);
  cr_expect_null(e);
  npde_config_destroy(&cfg);
}

Test(expr, high_dimensions_and_extra_names) {
  npde_config *cfg = cfg_text("f: 'x8 + 2*u_x1 - lap_u'\n");
  static const char *const extra[] = {"u_x1", "lap_u", NULL};
  npde_expr_scope scope = {.dim = 8, .extra = extra};
  npde_expr *e = NULL;
  cr_assert_eq(npde_expr_compile(npde_config_get(cfg, "f"), &scope, &e), NPDE_OK, "%s", npde_last_error());
  double x[16], ex[4] = {1, 2, 3, 4}, out[2];
  for (int i = 0; i < 16; ++i) x[i] = i;
  cr_assert_eq(npde_expr_eval(e, x, 2, 0.0, ex, out), NPDE_OK, "%s", npde_last_error());
  cr_expect_eq(out[0], 7 + 2 * 1 - 2);
  cr_expect_eq(out[1], 15 + 2 * 3 - 4);
  npde_expr_destroy(&e);
  npde_config_destroy(&cfg);
}

Test(expr, errors_name_the_place_and_the_known_names) {
  const npde_expr_scope s2t = {.dim = 2, .time = true};
  expect_error("params: {kappa: 1}\nf: 'kapa*x'\n", &s2t,
               "p.yaml:2:4: unknown name 'kapa' at position 1 of 'kapa*x'; known: x, y, x1, x2, t, r, kappa, pi");
  expect_error("f: [x, 'sin(x'] \n", &s2t, "p.yaml:1:8: cannot parse 'sin(x'");
  expect_error("f: 'z'\n", &s2t, "unknown name 'z'");
  expect_error("f: 't'\n", &(npde_expr_scope){.dim = 1}, "unknown name 't'");
  expect_error("params: {x: 1}\nf: 'x'\n", &s2t, "p.yaml:1:13: params: 'x' is a built-in name; built-ins: x, y, z");
  expect_error("params: {x2: 1}\nf: 'x'\n", &s2t, "'x2' is a built-in name");
  expect_error("params: {k: abc}\nf: 'k'\n", &s2t, "expected a number");
  expect_error("f: {a: 1}\n", &s2t, "expected an expression");
  expect_error("f: []\n", &s2t, "expected at least one expression");
}

Test(expr, a_non_finite_value_names_the_point_and_counts_them) {
  npde_config *cfg = cfg_text("f: '1/x'\n");
  npde_expr_scope scope = {.dim = 1};
  npde_expr *e = NULL;
  cr_assert_eq(npde_expr_compile(npde_config_get(cfg, "f"), &scope, &e), NPDE_OK, "%s", npde_last_error());
  double x[3] = {1, 0, 2}, out[3];
  cr_expect_eq(npde_expr_eval(e, x, 3, 0.0, NULL, out), NPDE_ERR_NO_RETRY);
  cr_expect(strstr(npde_last_error(), "p.yaml:1:4: '1/x' is NaN or Inf at 1 of 3 points (first: point 1, inf at x1 = 0")
            != NULL, "%s", npde_last_error());
  /* the bulk path (more than a few points) counts them all */
  double xs[100], outs[100];
  for (int i = 0; i < 100; ++i) xs[i] = i % 10 == 3 ? 0.0 : 1.0 + i;
  cr_expect_eq(npde_expr_eval(e, xs, 100, 0.0, NULL, outs), NPDE_ERR_NO_RETRY);
  cr_expect(strstr(npde_last_error(), "is NaN or Inf at 10 of 100 points (first: point 3,") != NULL, "%s",
            npde_last_error());
  npde_expr_destroy(&e);
  npde_config_destroy(&cfg);
}
