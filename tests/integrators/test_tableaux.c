/* Every row of plugins/solvers/rk/rk_tableaux.def against the order
 * conditions of explicit Runge-Kutta methods (the 17 rooted trees up to
 * order 5): the weights b satisfy every condition up to the row's order and
 * miss at least one of the next order; likewise the embedded weights b_hat
 * up to the embedded order. Also: A is strictly lower triangular, its row
 * sums are c, nothing is set past the stage count. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rk_tableau.h"

#define S RK_MAX_STAGES
#define TOL 1e-14

/* v = A u */
static void amul(const rk_tableau *t, const double *u, double *v) {
  for (int i = 0; i < S; ++i) {
    v[i] = 0.0;
    for (int j = 0; j < S; ++j) v[i] += t->a[i][j] * u[j];
  }
}

static double wsum(const double *w, const double *u) {
  double s = 0.0;
  for (int i = 0; i < S; ++i) s += w[i] * u[i];
  return s;
}

typedef struct cond {
  int order;
  double value; /* sum w_i Phi_i(tree) - 1/gamma(tree) */
  const char *tree;
} cond;

/* The conditions sum_i w_i Phi_i(tree) = 1/gamma(tree) for all 17 trees of order <= 5. */
static int conditions(const rk_tableau *t, const double *w, cond *out) {
  double one[S], c[S], c2[S], c3[S], c4[S], Ac[S], Ac2[S], Ac3[S], AAc[S], AAc2[S], AAAc[S], cAc[S], AcAc[S];
  for (int i = 0; i < S; ++i) {
    one[i] = 1.0;
    c[i] = t->c[i];
    c2[i] = c[i] * c[i];
    c3[i] = c2[i] * c[i];
    c4[i] = c3[i] * c[i];
  }
  amul(t, c, Ac);
  amul(t, c2, Ac2);
  amul(t, c3, Ac3);
  amul(t, Ac, AAc);
  amul(t, Ac2, AAc2);
  amul(t, AAc, AAAc);
  for (int i = 0; i < S; ++i) cAc[i] = c[i] * Ac[i];
  amul(t, cAc, AcAc); /* A (c . Ac) */
  double tmp[S];
  int n = 0;
#define COND(p, expr, g, name) out[n++] = (cond){p, (expr) - 1.0 / (g), name}
  COND(1, wsum(w, one), 1, "sum b");
  COND(2, wsum(w, c), 2, "sum b c");
  COND(3, wsum(w, c2), 3, "sum b c^2");
  COND(3, wsum(w, Ac), 6, "sum b Ac");
  COND(4, wsum(w, c3), 4, "sum b c^3");
  COND(4, wsum(w, cAc), 8, "sum b c Ac");
  COND(4, wsum(w, Ac2), 12, "sum b Ac^2");
  COND(4, wsum(w, AAc), 24, "sum b AAc");
  COND(5, wsum(w, c4), 5, "sum b c^4");
  for (int i = 0; i < S; ++i) tmp[i] = c2[i] * Ac[i];
  COND(5, wsum(w, tmp), 10, "sum b c^2 Ac");
  for (int i = 0; i < S; ++i) tmp[i] = c[i] * Ac2[i];
  COND(5, wsum(w, tmp), 15, "sum b c Ac^2");
  for (int i = 0; i < S; ++i) tmp[i] = c[i] * AAc[i];
  COND(5, wsum(w, tmp), 30, "sum b c AAc");
  for (int i = 0; i < S; ++i) tmp[i] = Ac[i] * Ac[i];
  COND(5, wsum(w, tmp), 20, "sum b (Ac)^2");
  COND(5, wsum(w, Ac3), 20, "sum b Ac^3");
  COND(5, wsum(w, AcAc), 40, "sum b A(c Ac)");
  COND(5, wsum(w, AAc2), 60, "sum b AAc^2");
  COND(5, wsum(w, AAAc), 120, "sum b AAAc");
#undef COND
  return n;
}

/* Weights w satisfy every condition up to order p, and (p < 5) miss one of order p + 1. */
static void check_order(const rk_tableau *t, const double *w, int p, const char *which) {
  cond cs[17];
  int n = conditions(t, w, cs);
  cr_assert_eq(n, 17);
  bool missed_next = false;
  for (int k = 0; k < n; ++k) {
    if (cs[k].order <= p)
      cr_expect(fabs(cs[k].value) <= TOL, "%s %s: order-%d condition '%s' off by %.3g", t->name, which, cs[k].order,
                cs[k].tree, cs[k].value);
    else if (cs[k].order == p + 1 && fabs(cs[k].value) > 1e-6)
      missed_next = true;
  }
  if (p < 5) cr_expect(missed_next, "%s %s: claims order %d but meets every order-%d condition", t->name, which, p, p + 1);
}

Test(rk_tableaux, rows_meet_their_order_conditions) {
  cr_assert_geq(RK_N_METHODS, 5);
  for (int m = 0; m < RK_N_METHODS; ++m) {
    const rk_tableau *t = &rk_tableaux[m];
    cr_assert(t->name && t->summary, "row %d has no name or summary", m);
    cr_assert(t->stages >= 1 && t->stages <= RK_MAX_STAGES, "%s: %d stages", t->name, t->stages);
    for (int i = 0; i < S; ++i) {
      double row = 0.0;
      for (int j = 0; j < S; ++j) {
        row += t->a[i][j];
        if (j >= i) cr_expect_eq(t->a[i][j], 0.0, "%s: a[%d][%d] = %g, not explicit", t->name, i, j, t->a[i][j]);
      }
      cr_expect(fabs(row - t->c[i]) <= TOL, "%s: row %d of A sums to %.17g, c = %.17g", t->name, i, row, t->c[i]);
      if (i >= t->stages)
        cr_expect(t->c[i] == 0.0 && t->b[i] == 0.0 && t->b_hat[i] == 0.0 && row == 0.0,
                  "%s: values past stage %d", t->name, t->stages);
    }
    check_order(t, t->b, t->order, "b");
    if (t->embedded_order > 0) check_order(t, t->b_hat, t->embedded_order, "b_hat");
    else
      for (int i = 0; i < S; ++i) cr_expect_eq(t->b_hat[i], 0.0, "%s: b_hat set without an embedded order", t->name);
  }
}

/* The test itself fails on a wrong row: a perturbed copy of each tableau misses its conditions. */
Test(rk_tableaux, perturbed_rows_are_caught) {
  for (int m = 0; m < RK_N_METHODS; ++m) {
    rk_tableau t = rk_tableaux[m];
    t.b[t.stages - 1] += 1e-6;
    cond cs[17];
    conditions(&t, t.b, cs);
    cr_expect(fabs(cs[0].value) > 1e-7, "%s: perturbed b still sums to 1", t.name);
  }
  rk_tableau t = rk_tableaux[RK_ID_RK45];
  t.a[4][2] += 1e-6; /* row sums no longer c and the order-5 conditions break */
  cond cs[17];
  int n = conditions(&t, t.b, cs), broken = 0;
  for (int k = 0; k < n; ++k) broken += fabs(cs[k].value) > 1e-9;
  cr_expect(broken > 0, "rk45 with a perturbed a53 still meets every condition");
}

Test(rk_tableaux, names_and_ids) {
  for (int m = 0; m < RK_N_METHODS; ++m) {
    cr_expect_eq(rk_tableau_find(rk_tableaux[m].name), &rk_tableaux[m]);
    cr_expect_str_eq(rk_method_name(m), rk_tableaux[m].name);
    for (int k = 0; k < m; ++k) cr_expect_str_neq(rk_tableaux[k].name, rk_tableaux[m].name);
  }
  cr_expect_null(rk_tableau_find("rk99"));
  cr_expect_str_eq(rk_method_name(-1), "?");
  cr_expect_str_eq(rk_method_name(RK_N_METHODS), "?");
  const char *want[] = {"euler", "heun", "rk23", "rk4", "rk45"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; ++i) cr_expect_not_null(rk_tableau_find(want[i]), "%s", want[i]);
}

/* The published facts docs/methods/neural-ivp.md §5 quotes: orders, stage counts and error weights b - b_hat. */
Test(rk_tableaux, matches_the_spec) {
  const rk_tableau *bs = rk_tableau_find("rk23"), *dp = rk_tableau_find("rk45"), *heun = rk_tableau_find("heun");
  cr_assert(bs && dp && heun);
  cr_expect(bs->stages == 4 && bs->order == 3 && bs->embedded_order == 2);
  cr_expect(dp->stages == 7 && dp->order == 5 && dp->embedded_order == 4);
  cr_expect(heun->stages == 2 && heun->order == 2 && heun->embedded_order == 1);
  cr_expect(rk_tableau_find("rk4")->embedded_order == 0 && rk_tableau_find("euler")->embedded_order == 0);
  /* 5.1: theta_low - theta_new = h (5/72 k1 - 1/12 k2 - 1/9 k3 + 1/8 k4) */
  const double bs_e[4] = {5.0 / 72, -1.0 / 12, -1.0 / 9, 1.0 / 8};
  for (int j = 0; j < 4; ++j)
    cr_expect(fabs((bs->b_hat[j] - bs->b[j]) - bs_e[j]) <= TOL, "rk23 error weight %d", j);
  /* 5.4: b - b* = (71/57600, 0, -71/16695, 71/1920, -17253/339200, 22/525, -1/40) */
  const double dp_e[7] = {71.0 / 57600, 0.0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525, -1.0 / 40};
  for (int j = 0; j < 7; ++j)
    cr_expect(fabs((dp->b[j] - dp->b_hat[j]) - dp_e[j]) <= TOL, "rk45 error weight %d", j);
  /* the last DOPRI5 stage sits at y_new (a_7j = b_j) */
  for (int j = 0; j < 7; ++j) cr_expect_eq(dp->a[6][j], dp->b[j]);
}
