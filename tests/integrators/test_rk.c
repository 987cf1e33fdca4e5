/* The rk plugin's integrators through the public API (npde_integrator_*):
 * observed orders of convergence (docs/methods/neural-ivp.md V15), the embedded
 * estimates, the reference controller (§5.2, V16), output times, rejections,
 * NaN/Inf and rhs failures, hooks, statistics and configuration errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde.h"
#include "rk_tableau.h"

static npde_registry *reg;
static npde_backend *be;

static void setup(void) {
  cr_assert_eq(npde_registry_create(&reg), NPDE_OK);
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_backend_create(reg, "cpu", NULL, &be), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_backend_memtype(be), NPDE_MEM_HOST); /* the rhs below reads vectors in place */
}
static void teardown(void) {
  npde_backend_destroy(&be);
  npde_registry_destroy(&reg);
}
TestSuite(rk, .init = setup, .fini = teardown, .timeout = 30);

/* ------------------------------------------------------------ test ODEs */

typedef enum problem { DECAY, COSINE, ROTATION, LOTKA, ZERO } problem;
typedef enum fault { NONE, FAULT_NAN, FAULT_INF, FAULT_REJECT, FAULT_NUMERIC, FAULT_FATAL } fault;

#define MAXREC 4096

typedef struct ode_ctx {
  problem p;
  npde_dtype dtype;
  int64_t n, calls;
  /* fault injection: `fault` on calls with t >= fault_t and calls > fault_after, fault_left times (-1: always) */
  fault fault;
  double fault_t;
  int64_t fault_after, fault_left, faults;
  /* hooks */
  bool hooks;
  double after_add;       /* after_step adds this to y[0] */
  int64_t after_fail_at;  /* after_step returns NPDE_ERR_CONFIG on this call (1-based; 0 = never) */
  int64_t begins, afters;
  /* recordings */
  bool stage1_pending, stage1_mismatch;
  double acc_t, acc_y[2]; /* last accepted state (from after_step; initially y0) */
  int64_t n_att;
  double att_t[MAXREC], att_h[MAXREC];
  int64_t att_idx[MAXREC];
  double after_t[MAXREC], after_h[MAXREC];
} ode_ctx;

static double vget(const npde_mat *v, int64_t e) {
  int64_t k = v->cols == 1 ? e * v->ld : e;
  return v->dtype == NPDE_F32 ? (double)((const float *)v->data)[k] : ((const double *)v->data)[k];
}
static void vset(npde_mat *v, int64_t e, double x) {
  int64_t k = v->cols == 1 ? e * v->ld : e;
  if (v->dtype == NPDE_F32) ((float *)v->data)[k] = (float)x;
  else ((double *)v->data)[k] = x;
}

static npde_status rhs(void *vctx, double t, const npde_mat *y, npde_mat *dydt) {
  ode_ctx *c = vctx;
  c->calls++;
  double u[2] = {vget(y, 0), c->n > 1 ? vget(y, 1) : 0.0}, f[2] = {0, 0};
  if (c->stage1_pending) { /* the first call of an attempt sees the last accepted state */
    c->stage1_pending = false;
    for (int64_t i = 0; i < c->n; ++i)
      if (u[i] != c->acc_y[i]) c->stage1_mismatch = true;
    if (t != c->acc_t) c->stage1_mismatch = true;
  }
  switch (c->p) {
    case DECAY: f[0] = -u[0]; break;
    case COSINE: f[0] = cos(t) * u[0]; break; /* non-autonomous: stage times matter */
    case ROTATION: f[0] = -u[1]; f[1] = u[0]; break;
    case LOTKA: f[0] = u[0] * (1.0 - u[1]); f[1] = u[1] * (u[0] - 1.0); break;
    case ZERO: break;
  }
  for (int64_t i = 0; i < c->n; ++i) vset(dydt, i, f[i]);
  if (c->fault != NONE && t >= c->fault_t && c->calls > c->fault_after && c->fault_left != 0) {
    if (c->fault_left > 0) c->fault_left--;
    c->faults++;
    switch (c->fault) {
      case FAULT_NAN: vset(dydt, c->n - 1, NAN); break;
      case FAULT_INF: vset(dydt, 0, -INFINITY); break;
      case FAULT_REJECT: return NPDE_STEP_REJECTED;
      case FAULT_NUMERIC: return NPDE_ERROR(NPDE_ERR_NUMERIC, "test rhs: CG broke down");
      case FAULT_FATAL: return NPDE_ERROR(NPDE_ERR_DEVICE, "test rhs: device lost");
      case NONE: break;
    }
  }
  return NPDE_OK;
}

static npde_status begin_attempt(void *vctx, double t, double h, int64_t attempt) {
  ode_ctx *c = vctx;
  if (c->n_att < MAXREC) {
    c->att_t[c->n_att] = t;
    c->att_h[c->n_att] = h;
    c->att_idx[c->n_att] = attempt;
  }
  c->n_att++;
  c->begins++;
  c->stage1_pending = true;
  return NPDE_OK;
}

static npde_status after_step(void *vctx, const npde_step_state *state, npde_mat *y) {
  ode_ctx *c = vctx;
  double t = state->t, h_next = state->h;
  if (c->afters < MAXREC) {
    c->after_t[c->afters] = t;
    c->after_h[c->afters] = h_next;
  }
  c->afters++;
  if (c->after_fail_at && c->afters == c->after_fail_at) return NPDE_ERROR(NPDE_ERR_CONFIG, "test hook: stop");
  if (c->after_add != 0.0) vset(y, 0, vget(y, 0) + c->after_add);
  c->acc_t = t;
  for (int64_t i = 0; i < c->n; ++i) c->acc_y[i] = vget(y, i);
  return NPDE_OK;
}

static ode_ctx make_ctx(problem p) {
  ode_ctx c = {.p = p, .dtype = NPDE_F64, .n = (p == DECAY || p == COSINE || p == ZERO) ? 1 : 2, .hooks = true};
  return c;
}

/* Output times as seen by the output callback. */
typedef struct outrec {
  int64_t n;
  int64_t idx[64];
  double t[64], y[64][2];
} outrec;

static npde_status on_output(void *ctx, int64_t index, double t, const npde_mat *y) {
  outrec *o = ctx;
  if (o->n < 64) {
    o->idx[o->n] = index;
    o->t[o->n] = t;
    o->y[o->n][0] = vget(y, 0);
    o->y[o->n][1] = y->rows * y->cols > 1 ? vget(y, 1) : 0.0;
  }
  o->n++;
  return NPDE_OK;
}

static npde_integrator *make(const char *name, const char *yaml) {
  npde_config *cfg = NULL;
  if (yaml) cr_assert_eq(npde_config_load_string(yaml, "test.yaml", &cfg), NPDE_OK, "%s", npde_last_error());
  npde_integrator *in = NULL;
  npde_status st = npde_integrator_create(reg, name, cfg, be, &in);
  npde_config_destroy(&cfg);
  cr_assert_eq(st, NPDE_OK, "%s %s: %s", name, yaml ? yaml : "", npde_last_error());
  return in;
}

/* Integrate c's ODE from y0 at t0 through tout with integrator `name` configured by yaml.
 * yfinal gets the state at exit; returns the status. row: y is a 1 x n view. */
typedef struct runopt {
  bool row;
  int64_t ld; /* > 1: y is a column view with this stride */
  outrec *out;
  npde_integrate_stats *st;
} runopt;

static npde_status run_opt(const char *name, const char *yaml, ode_ctx *c, const double *y0, double t0,
                           const double *tout, int64_t nout, double *yfinal, runopt o) {
  npde_integrator *in = make(name, yaml);
  size_t es = npde_dtype_size(c->dtype);
  void *d = NULL;
  int64_t ld = o.ld > 1 ? o.ld : 1;
  cr_assert_eq(npde_backend_alloc(be, (size_t)(c->n * ld) * es, &d), NPDE_OK);
  memset(d, 0x7f, (size_t)(c->n * ld) * es); /* padding between strided entries must survive */
  npde_mat y = npde_mat_view(d, c->dtype, o.row ? 1 : c->n, o.row ? c->n : 1);
  y.ld = o.row ? c->n : ld;
  for (int64_t i = 0; i < c->n; ++i) {
    vset(&y, i, y0[i]);
    c->acc_y[i] = vget(&y, i);
  }
  c->acc_t = t0;
  npde_ode ode = {.n = c->n, .dtype = c->dtype, .rhs = rhs, .ctx = c};
  if (c->hooks) {
    ode.begin_attempt = begin_attempt;
    ode.after_step = after_step;
  }
  npde_integrate_stats local = {.struct_size = sizeof local};
  npde_status st = npde_integrator_integrate(in, &ode, t0, &y, tout, nout, o.out ? on_output : NULL, o.out,
                                             o.st ? o.st : &local);
  for (int64_t i = 0; i < c->n; ++i) yfinal[i] = vget(&y, i);
  for (int64_t i = 0; i < c->n * ld; ++i)
    if (i % ld) cr_expect_eq(((unsigned char *)d)[i * (int64_t)es], 0x7f, "padding of a strided y was written");
  npde_backend_free(be, d);
  npde_integrator_destroy(&in);
  cr_assert_null(in);
  return st;
}

static npde_status run(const char *name, const char *yaml, ode_ctx *c, const double *y0, double t0,
                       const double *tout, int64_t nout, double *yfinal, npde_integrate_stats *st) {
  return run_opt(name, yaml, c, y0, t0, tout, nout, yfinal, (runopt){.st = st});
}

static bool has_estimate(const char *name) { return rk_tableau_find(name)->embedded_order > 0; }

/* Fixed steps of dt: `dt` for fixed-step methods, `adaptive: false` for the others. */
static void fixed_yaml(const char *name, double dt, char *buf, size_t size) {
  snprintf(buf, size, has_estimate(name) ? "{adaptive: false, dt: %.17g}" : "{dt: %.17g}", dt);
}

/* ------------------------------------------------- orders of convergence */

static const double LOTKA_Y0[2] = {1.5, 0.75}, LOTKA_T = 4.0;

/* A tight reference for Lotka-Volterra at LOTKA_T: rk4 with dt = 1e-4 (error ~ 1e-17 plus
 * rounding); lotka_reference_cross_check compares it with an adaptive rk45 run. */
static void lotka_reference(double ref[2]) {
  ode_ctx c = make_ctx(LOTKA);
  c.hooks = false;
  double tout = LOTKA_T;
  cr_assert_eq(run("rk4", "{dt: 1e-4}", &c, LOTKA_Y0, 0, &tout, 1, ref, NULL), NPDE_OK, "%s", npde_last_error());
}

/* Error at the end with fixed steps dt. */
static double fixed_error(const char *name, problem p, double dt, const double *ref) {
  char yaml[128];
  fixed_yaml(name, dt, yaml, sizeof yaml);
  ode_ctx c = make_ctx(p);
  double y[2], y0[2] = {1.0, 0.0}, T = 1.0;
  const double *start = y0;
  if (p == LOTKA) { start = LOTKA_Y0; T = LOTKA_T; }
  npde_integrate_stats st = {.struct_size = sizeof st};
  cr_assert_eq(run(name, yaml, &c, start, 0, &T, 1, y, &st), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(st.rejected, 0);
  int64_t steps = (int64_t)llround(T / dt);
  cr_assert_eq(st.accepted, steps, "%s dt %g: %lld steps, expected %lld", name, dt, (long long)st.accepted,
               (long long)steps);
  if (p == DECAY) return fabs(y[0] - exp(-T));
  if (p == COSINE) return fabs(y[0] - exp(sin(T)));
  return hypot(y[0] - ref[0], y[1] - ref[1]);
}

/* Observed order log2(e(h) / e(h/2)) on y' = -y, y' = cos(t) y (both exact) and
 * Lotka-Volterra (against lotka_reference), each with its own h. */
static void check_order(const char *name, int order, double h_decay, double h_cosine, double h_lotka) {
  double ref[2];
  lotka_reference(ref);
  const problem ps[3] = {DECAY, COSINE, LOTKA};
  const char *pnames[3] = {"y' = -y", "y' = cos(t) y", "Lotka-Volterra"};
  const double hs[3] = {h_decay, h_cosine, h_lotka};
  for (int k = 0; k < 3; ++k) {
    double e1 = fixed_error(name, ps[k], hs[k], ref), e2 = fixed_error(name, ps[k], hs[k] / 2, ref);
    double observed = log2(e1 / e2);
    fprintf(stderr, "order %-5s %-14s h = %-6g: errors %.3e %.3e, ratio %.3f, observed order %.3f (expected %d)\n",
            name, pnames[k], hs[k], e1, e2, e1 / e2, observed, order);
    cr_expect(fabs(observed - order) <= 0.2, "%s on %s: observed order %.3f (errors %.3e, %.3e), expected %d",
              name, pnames[k], observed, e1, e2, order);
  }
}

Test(rk, order_euler) { check_order("euler", 1, 0.01, 0.01, 0.01); }
Test(rk, order_heun) { check_order("heun", 2, 0.02, 0.02, 0.02); }
Test(rk, order_rk23) { check_order("rk23", 3, 0.05, 0.05, 0.05); }
Test(rk, order_rk4) { check_order("rk4", 4, 0.1, 0.05, 0.05); }
Test(rk, order_rk45) { check_order("rk45", 5, 0.05, 0.05, 0.1); }

/* The Lotka-Volterra reference agrees with a tight adaptive rk45 run. */
Test(rk, lotka_reference_cross_check) {
  double ref[2], y[2];
  lotka_reference(ref);
  ode_ctx c = make_ctx(LOTKA);
  double T = LOTKA_T;
  npde_integrate_stats st = {.struct_size = sizeof st};
  cr_assert_eq(run("rk45", "{error_norm: mixed, rtol: 1e-13, atol: 1e-15}", &c, LOTKA_Y0, 0, &T, 1, y, &st), NPDE_OK,
               "%s", npde_last_error());
  double d = hypot(y[0] - ref[0], y[1] - ref[1]);
  fprintf(stderr, "lotka reference: rk4 dt 1e-4 (%.16f, %.16f), rk45 rtol 1e-13 differs by %.2e (%lld steps)\n",
          ref[0], ref[1], d, (long long)st.accepted);
  cr_expect(d < 1e-11, "rk4 (dt 1e-4) vs rk45 (rtol 1e-13): (%.15g, %.15g) vs (%.15g, %.15g)", ref[0], ref[1], y[0],
            y[1]);
}

/* ------------------------------------------------------ embedded estimates */

/* One accepted, unclipped step of size h on y' = -y, y(0) = 1, with the reference
 * controller: h_next = 0.97 h (E/err)^(1/q), so err = E (0.97 h / h_next)^q. */
static double inferred_estimate(const char *name, double h) {
  char yaml[96];
  snprintf(yaml, sizeof yaml, "{rtol: 0.5, h0: %.17g}", h);
  ode_ctx c = make_ctx(DECAY);
  double y0 = 1.0, y, tout = h;
  npde_integrate_stats st = {.struct_size = sizeof st};
  cr_assert_eq(run(name, yaml, &c, &y0, 0, &tout, 1, &y, &st), NPDE_OK, "%s", npde_last_error());
  cr_assert(st.accepted == 1 && st.rejected == 0);
  cr_assert_eq(c.att_h[0], h, "the one step must be h itself (not clipped)");
  double q = rk_tableau_find(name)->embedded_order + 1;
  return 0.5 * pow(0.97 * h / st.h_last, q);
}

/* The same estimate from the tableau, by hand, for y' = -y. */
static double direct_estimate(const char *name, double h) {
  const rk_tableau *t = rk_tableau_find(name);
  double k[RK_MAX_STAGES], e = 0.0;
  for (int i = 0; i < t->stages; ++i) {
    double yi = 1.0;
    for (int j = 0; j < i; ++j) yi += h * t->a[i][j] * k[j];
    k[i] = -yi;
    e += h * (t->b[i] - t->b_hat[i]) * k[i];
  }
  return fabs(e);
}

static void check_estimate(const char *name, double h, double ratio, double tol) {
  double e1 = inferred_estimate(name, h), e2 = inferred_estimate(name, h / 2);
  double d1 = direct_estimate(name, h), d2 = direct_estimate(name, h / 2);
  cr_expect(fabs(e1 - d1) <= 1e-9 * d1 && fabs(e2 - d2) <= 1e-9 * d2,
            "%s: controller implies estimates %.6e, %.6e; the tableau gives %.6e, %.6e", name, e1, e2, d1, d2);
  fprintf(stderr, "estimate %-5s h = %g: %.4e, h/2: %.4e, ratio %.3f (expected %g)\n", name, h, e1, e2, e1 / e2,
          ratio);
  cr_expect(fabs(e1 / e2 - ratio) <= tol, "%s: estimate ratio %.3f for h -> h/2, expected %g +- %g", name, e1 / e2,
            ratio, tol);
}

Test(rk, embedded_estimate_rk23) { check_estimate("rk23", 0.1, 8, 1); }
Test(rk, embedded_estimate_heun) { check_estimate("heun", 0.1, 4, 0.5); }
Test(rk, embedded_estimate_rk45) { check_estimate("rk45", 0.2, 32, 4); }

/* --------------------------------------------- adaptive accuracy (V16) */

static void check_rotation(const char *name, const char *yaml, double tol) {
  ode_ctx c = make_ctx(ROTATION);
  double tout[8], y0[2] = {1, 0}, y[2];
  for (int k = 0; k < 8; ++k) tout[k] = 2 * M_PI * (k + 1) / 8;
  outrec o = {0};
  npde_integrate_stats st = {.struct_size = sizeof st};
  cr_assert_eq(run_opt(name, yaml, &c, y0, 0, tout, 8, y, (runopt){.out = &o, .st = &st}), NPDE_OK, "%s",
               npde_last_error());
  cr_assert_eq(o.n, 8);
  double worst = 0;
  for (int k = 0; k < 8; ++k) worst = fmax(worst, hypot(o.y[k][0] - cos(o.t[k]), o.y[k][1] - sin(o.t[k])));
  fprintf(stderr, "rotation %-5s %s: max error %.3e, %lld accepted, %lld rejected, %lld rhs\n", name, yaml, worst,
          (long long)st.accepted, (long long)st.rejected, (long long)st.rhs_evals);
  cr_expect(worst <= tol, "%s %s: max error %.3e over one period", name, yaml, worst);
  cr_expect_eq(st.rhs_evals, (st.accepted + st.rejected) * rk_tableau_find(name)->stages);
}

Test(rk, rotation_period_rk23) { check_rotation("rk23", "{rtol: 1e-6}", 1e-4); }
Test(rk, rotation_period_rk45) { check_rotation("rk45", "{rtol: 1e-6}", 1e-4); }
Test(rk, rotation_period_heun) { check_rotation("heun", "{rtol: 1e-6}", 1e-4); }
Test(rk, rotation_period_mixed) {
  check_rotation("rk23", "{error_norm: mixed, rtol: 1e-6, atol: 1e-9}", 1e-4);
  check_rotation("rk45", "{error_norm: mixed, rtol: 1e-6, atol: 1e-9}", 1e-4);
}

/* -------------------------------------------------------------- outputs */

Test(rk, output_times_hit_exactly_once_in_order) {
  const double sorted[] = {0.0, 0.013, 0.1, 0.1000001, 1.0 / 3, 1.0 / 3 + 1e-9, 0.37, 2.0, 2.5};
  const int64_t n = 9;
  const char *names[] = {"euler", "heun", "rk23", "rk4", "rk45"};
  const char *yamls[] = {"{dt: 0.03}", "{rtol: 1e-4}", "{error_norm: mixed, rtol: 1e-5}", "{dt: 0.07}", "{}"};
  for (int m = 0; m < 5; ++m) {
    ode_ctx c = make_ctx(ROTATION);
    double y0[2] = {1, 0}, y[2];
    outrec o = {0};
    npde_integrate_stats st = {.struct_size = sizeof st};
    cr_assert_eq(run_opt(names[m], yamls[m], &c, y0, 0, sorted, n, y, (runopt){.out = &o, .st = &st}), NPDE_OK,
                 "%s: %s", names[m], npde_last_error());
    cr_assert_eq(o.n, n, "%s: %lld outputs for %lld times", names[m], (long long)o.n, (long long)n);
    for (int64_t k = 0; k < n; ++k) {
      cr_expect_eq(o.idx[k], k, "%s: output %lld has index %lld", names[m], (long long)k, (long long)o.idx[k]);
      cr_expect(fabs(o.t[k] - sorted[k]) <= 1e-12, "%s: output %lld at t = %.17g, asked %.17g", names[m],
                (long long)k, o.t[k], sorted[k]);
    }
    cr_expect_eq(o.y[0][0], 1.0, "%s: the t0 output is y0", names[m]);
    cr_expect_eq(st.t_reached, sorted[n - 1]);
    cr_expect_eq(c.afters, st.accepted);
    cr_expect_eq(c.begins, st.accepted + st.rejected);
    cr_expect(st.h_last > 0);
    for (int64_t k = 0; k < c.n_att && k < MAXREC; ++k) cr_expect_eq(c.att_idx[k], k, "attempt numbering");
  }
}

/* With t_out[0] == t0 the first output comes before any rhs call; n_out == 0 does nothing. */
Test(rk, output_at_t0_only) {
  ode_ctx c = make_ctx(DECAY);
  double y0 = 2.0, y, tout = 0.5;
  outrec o = {0};
  npde_integrate_stats st = {.struct_size = sizeof st};
  cr_assert_eq(run_opt("rk23", NULL, &c, &y0, 0.5, &tout, 1, &y, (runopt){.out = &o, .st = &st}), NPDE_OK);
  cr_expect(o.n == 1 && o.t[0] == 0.5 && o.y[0][0] == 2.0 && y == 2.0);
  cr_expect(c.calls == 0 && st.accepted == 0 && st.rhs_evals == 0 && st.t_reached == 0.5);
  cr_assert_eq(run("rk4", "{dt: 0.1}", &c, &y0, 0, NULL, 0, &y, &st), NPDE_OK);
  cr_expect(y == 2.0 && c.calls == 0);
}

/* 5.2: after an accepted step clipped to an output time, h is unchanged. */
Test(rk, clipped_step_keeps_h) {
  ode_ctx c = make_ctx(ROTATION);
  double tout[10], y0[2] = {1, 0}, y[2];
  for (int k = 0; k < 10; ++k) tout[k] = 0.1 * (k + 1);
  npde_integrate_stats st = {.struct_size = sizeof st};
  cr_assert_eq(run("rk23", "{rtol: 0.1, h0: 0.15}", &c, y0, 0, tout, 10, y, &st), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(st.rejected, 0);
  cr_assert_eq(st.accepted, 10);
  for (int k = 0; k < 10; ++k) {
    cr_expect(fabs(c.att_h[k] - 0.1) < 1e-12, "step %d: %.17g", k, c.att_h[k]);
    cr_expect_eq(c.after_h[k], 0.15, "after clipped step %d h = %.17g, expected 0.15 unchanged", k, c.after_h[k]);
  }
  cr_expect_eq(st.h_last, 0.15);
  /* a step that is not clipped does change h */
  ode_ctx d = make_ctx(ROTATION);
  double one = 0.15;
  cr_assert_eq(run("rk23", "{rtol: 0.1, h0: 0.15}", &d, y0, 0, &one, 1, y, &st), NPDE_OK);
  cr_expect(d.after_h[0] > 0.15, "unclipped accepted step with a small estimate grows h (%.17g)", d.after_h[0]);
}

/* Fixed steps are shortened only to land on output times; no sliver steps after many steps. */
Test(rk, fixed_steps_land_on_outputs) {
  ode_ctx c = make_ctx(DECAY);
  double y0 = 1, y, tout[2] = {0.25, 1.0};
  npde_integrate_stats st = {.struct_size = sizeof st};
  cr_assert_eq(run("rk4", "{dt: 0.1}", &c, &y0, 0, tout, 2, &y, &st), NPDE_OK);
  /* 0.1 0.1 0.05 | 0.1 x 7 + 0.05 */
  cr_expect_eq(st.accepted, 11, "%lld steps", (long long)st.accepted);
  cr_expect(fabs(c.att_h[2] - 0.05) < 1e-15 && fabs(c.att_h[10] - 0.05) < 1e-15);
  ode_ctx d = make_ctx(DECAY);
  double T = 10.0;
  cr_assert_eq(run("euler", "{dt: 1e-4}", &d, &y0, 0, &T, 1, &y, &st), NPDE_OK);
  cr_expect_eq(st.accepted, 100000, "%lld steps for 10 / 1e-4", (long long)st.accepted);
}

/* --------------------------------------------------------- rejections */

/* Rejected attempts leave (t, y) unchanged: each attempt starts from the last accepted state. */
Test(rk, rejected_steps_leave_state_unchanged) {
  const char *yamls[] = {"{rtol: 1e-8, h0: 1.0}", "{error_norm: mixed, rtol: 1e-8, h0: 1.0}"};
  for (int m = 0; m < 2; ++m) {
    ode_ctx c = make_ctx(ROTATION);
    double y0[2] = {1, 0}, y[2], T = 2.0;
    npde_integrate_stats st = {.struct_size = sizeof st};
    cr_assert_eq(run("rk23", yamls[m], &c, y0, 0, &T, 1, y, &st), NPDE_OK, "%s", npde_last_error());
    cr_expect_geq(st.rejected, 1, "h0 = 1 with rtol 1e-8 must be rejected");
    cr_expect_not(c.stage1_mismatch, "an attempt started from something else than the last accepted (t, y)");
    int64_t rejections = 0;
    for (int64_t k = 1; k < c.n_att && k < MAXREC; ++k)
      if (c.att_t[k] == c.att_t[k - 1]) {
        rejections++;
        cr_expect_lt(c.att_h[k], c.att_h[k - 1], "a retry must use a smaller step");
      }
    cr_expect_eq(rejections, st.rejected);
    cr_expect(hypot(y[0] - cos(T), y[1] - sin(T)) < 1e-5);
  }
}

static void check_fault_once(const char *name, const char *yaml, fault f, double tol) {
  ode_ctx c = make_ctx(DECAY);
  c.fault = f;
  c.fault_t = 0.5;
  c.fault_left = 1;
  double y0 = 1, y, T = 1;
  npde_integrate_stats st = {.struct_size = sizeof st};
  cr_assert_eq(run(name, yaml, &c, &y0, 0, &T, 1, &y, &st), NPDE_OK, "%s fault %d: %s", name, f, npde_last_error());
  cr_expect_eq(c.faults, 1);
  cr_expect_geq(st.rejected, 1, "%s: the faulty attempt must count as rejected", name);
  cr_expect_not(c.stage1_mismatch);
  cr_expect(isfinite(y) && fabs(y - exp(-1.0)) < tol, "%s fault %d: y(1) = %.17g", name, f, y);
  cr_expect_eq(st.t_reached, 1.0);
}

Test(rk, nan_in_rhs_is_rejected_and_retried) {
  check_fault_once("rk23", "{rtol: 1e-6}", FAULT_NAN, 1e-5);
  check_fault_once("rk45", "{error_norm: mixed, rtol: 1e-6}", FAULT_NAN, 1e-5);
  check_fault_once("rk4", "{dt: 0.1}", FAULT_NAN, 1e-5);
  check_fault_once("euler", "{dt: 1e-3}", FAULT_NAN, 3e-4); /* Euler: error ~ dt/2 e^-1 */
  check_fault_once("heun", "{rtol: 1e-6}", FAULT_INF, 1e-5);
  check_fault_once("rk4", "{dt: 0.1}", FAULT_INF, 1e-5);
}

Test(rk, rhs_rejection_status_is_retried) {
  check_fault_once("rk23", "{rtol: 1e-6}", FAULT_REJECT, 1e-5);
  check_fault_once("rk23", "{rtol: 1e-6}", FAULT_NUMERIC, 1e-5);
  check_fault_once("rk4", "{dt: 0.1}", FAULT_REJECT, 1e-5);
  check_fault_once("rk45", "{adaptive: false, dt: 0.1}", FAULT_NUMERIC, 1e-5);
}

/* An rhs that keeps failing ends with NPDE_ERR_NUMERIC after max_rejections, y = last accepted state. */
Test(rk, persistent_failure_gives_numeric_error) {
  const fault faults[] = {FAULT_NAN, FAULT_REJECT, FAULT_NUMERIC};
  const char *names[] = {"rk23", "rk4", "rk45"};
  const char *yamls[] = {"{rtol: 1e-3, max_rejections: 7}", "{dt: 0.01, max_rejections: 7}",
                         "{error_norm: mixed, max_rejections: 7}"};
  for (int m = 0; m < 3; ++m) {
    ode_ctx c = make_ctx(ROTATION);
    c.fault = faults[m];
    c.fault_after = 40;
    c.fault_left = -1;
    double y0[2] = {1, 0}, y[2], T = 5;
    npde_integrate_stats st = {.struct_size = sizeof st};
    npde_status s = run(names[m], yamls[m], &c, y0, 0, &T, 1, y, &st);
    cr_assert_eq(s, NPDE_ERR_NUMERIC, "%s: status %d", names[m], s);
    cr_expect(strstr(npde_last_error(), "7 consecutive rejected steps") && strstr(npde_last_error(), "t = ") &&
                  strstr(npde_last_error(), "h = "),
              "%s: message: %s", names[m], npde_last_error());
    cr_expect_geq(st.accepted, 1);
    cr_expect_eq(c.afters, st.accepted);
    cr_expect(y[0] == c.acc_y[0] && y[1] == c.acc_y[1], "%s: y must be the last accepted state", names[m]);
    cr_expect_eq(st.t_reached, c.acc_t);
    cr_expect_lt(st.t_reached, T);
    cr_expect_geq(st.rejected, 7);
    /* the last 7 attempts all started at the same time, with halving steps */
    int64_t n = c.n_att;
    cr_assert(n >= 7 && n < MAXREC);
    for (int64_t k = n - 6; k < n; ++k) {
      cr_expect_eq(c.att_t[k], c.acc_t);
      cr_expect(fabs(c.att_h[k] - 0.5 * c.att_h[k - 1]) <= 1e-15 * c.att_h[k - 1], "failures halve the step");
    }
  }
}

/* Any other negative status from the rhs is fatal at once and is returned. */
Test(rk, fatal_rhs_error_is_returned) {
  ode_ctx c = make_ctx(DECAY);
  c.fault = FAULT_FATAL;
  c.fault_after = 10;
  c.fault_left = -1;
  double y0 = 1, y, T = 1;
  npde_integrate_stats st = {.struct_size = sizeof st};
  cr_assert_eq(run("rk23", "{rtol: 1e-5}", &c, &y0, 0, &T, 1, &y, &st), NPDE_ERR_DEVICE);
  cr_expect(strstr(npde_last_error(), "device lost"), "%s", npde_last_error());
  cr_expect_eq(c.faults, 1);
  cr_expect_eq(y, c.acc_y[0]);
  cr_expect_eq(st.t_reached, c.acc_t);
}

Test(rk, h_min_stops_shrinking) {
  ode_ctx c = make_ctx(ROTATION);
  double y0[2] = {1, 0}, y[2], T = 1;
  cr_assert_eq(run("rk23", "{rtol: 1e-10, h0: 0.5, h_min: 0.1}", &c, y0, 0, &T, 1, y, NULL), NPDE_ERR_NUMERIC);
  cr_expect(strstr(npde_last_error(), "h_min"), "%s", npde_last_error());
  cr_expect(y[0] == 1 && y[1] == 0);
}

/* ---------------------------------------------------------------- hooks */

/* after_step runs once per accepted step, and what it writes into y is kept. */
Test(rk, after_step_once_per_step_and_may_modify_y) {
  const char *names[] = {"rk4", "euler", "rk23", "rk45"};
  const char *yamls[] = {"{dt: 0.1}", "{dt: 0.25}", "{rtol: 1e-3, h0: 0.1}", "{error_norm: mixed, h0: 0.1}"};
  for (int m = 0; m < 4; ++m) {
    ode_ctx c = make_ctx(ZERO);
    c.after_add = 1.0;
    double y0 = 0.5, y, T = 1;
    npde_integrate_stats st = {.struct_size = sizeof st};
    cr_assert_eq(run(names[m], yamls[m], &c, &y0, 0, &T, 1, &y, &st), NPDE_OK, "%s: %s", names[m], npde_last_error());
    cr_expect_eq(c.afters, st.accepted, "%s", names[m]);
    cr_expect_eq(y, 0.5 + (double)st.accepted, "%s: y = %g after %lld steps", names[m], y, (long long)st.accepted);
    cr_expect_not(c.stage1_mismatch, "%s: the next step starts from the modified y", names[m]);
  }
  ode_ctx c = make_ctx(ZERO);
  double y0 = 0.5, y, T = 1;
  npde_integrate_stats st = {.struct_size = sizeof st};
  cr_assert_eq(run("rk4", "{dt: 0.1}", &c, &y0, 0, &T, 1, &y, &st), NPDE_OK);
  cr_expect(st.accepted == 10 && c.afters == 10 && y == 0.5);
  cr_expect_eq(st.rhs_evals, 40);
  /* a negative status from after_step stops the run and is returned */
  ode_ctx d = make_ctx(DECAY);
  d.after_fail_at = 3;
  cr_assert_eq(run("rk4", "{dt: 0.1}", &d, &y0, 0, &T, 1, &y, &st), NPDE_ERR_CONFIG);
  cr_expect(strstr(npde_last_error(), "test hook"), "%s", npde_last_error());
  cr_expect(st.accepted == 3 && d.afters == 3);
}

/* Statistics: counts agree with the hooks, rhs evaluations with the stage counts. */
Test(rk, stats_are_consistent) {
  const char *names[] = {"euler", "heun", "rk23", "rk4", "rk45"};
  const int stages_fixed[] = {1, 2, 3, 4, 6}; /* trailing b = 0 stages skipped without an estimate */
  for (int m = 0; m < 5; ++m) {
    char yaml[64];
    fixed_yaml(names[m], 0.125, yaml, sizeof yaml);
    ode_ctx c = make_ctx(DECAY);
    double y0 = 1, y, T = 1;
    npde_integrate_stats st = {.struct_size = sizeof st};
    cr_assert_eq(run(names[m], yaml, &c, &y0, 0, &T, 1, &y, &st), NPDE_OK);
    cr_expect(st.accepted == 8 && st.rejected == 0 && st.t_reached == 1.0 && st.h_last == 0.125, "%s", names[m]);
    cr_expect_eq(st.rhs_evals, 8 * stages_fixed[m], "%s: %lld rhs evaluations", names[m], (long long)st.rhs_evals);
    cr_expect_eq(c.calls, st.rhs_evals);
  }
  /* struct_size is checked */
  ode_ctx c = make_ctx(DECAY);
  double y0 = 1, y, T = 1;
  npde_integrate_stats st = {.struct_size = 8};
  cr_expect_eq(run("rk23", NULL, &c, &y0, 0, &T, 1, &y, &st), NPDE_ERR_INVALID_ARG);
  cr_expect(strstr(npde_last_error(), "struct_size"), "%s", npde_last_error());
}

/* ------------------------------------------------ layouts and dtypes */

Test(rk, row_vector_state) {
  ode_ctx c = make_ctx(ROTATION);
  double y0[2] = {1, 0}, y[2], T = M_PI;
  cr_assert_eq(run_opt("rk45", "{error_norm: mixed, rtol: 1e-8, atol: 1e-10}", &c, y0, 0, &T, 1, y,
                       (runopt){.row = true}),
               NPDE_OK, "%s", npde_last_error());
  cr_expect(hypot(y[0] + 1, y[1]) < 1e-6);
}

Test(rk, strided_column_state) {
  const char *names[] = {"rk23", "rk45", "rk4"};
  const char *yamls[] = {"{rtol: 1e-7}", "{error_norm: mixed, rtol: 1e-8, atol: 1e-10}", "{dt: 0.01}"};
  for (int m = 0; m < 3; ++m) {
    ode_ctx c = make_ctx(ROTATION);
    double y0[2] = {1, 0}, y[2], T = M_PI;
    cr_assert_eq(run_opt(names[m], yamls[m], &c, y0, 0, &T, 1, y, (runopt){.ld = 3}), NPDE_OK, "%s",
                 npde_last_error());
    cr_expect(hypot(y[0] + 1, y[1]) < 1e-5, "%s: (%g, %g)", names[m], y[0], y[1]);
    cr_expect_not(c.stage1_mismatch);
  }
}

Test(rk, f32_state) {
  if (!npde_backend_supports(be, NPDE_OP_AXPY, NPDE_F32)) cr_skip_test("backend has no f32 axpy");
  const char *names[] = {"rk23", "rk45", "rk4"};
  const char *yamls[] = {"{rtol: 1e-5}", "{error_norm: mixed, rtol: 1e-5}", "{dt: 0.01}"};
  for (int m = 0; m < 3; ++m) {
    ode_ctx c = make_ctx(ROTATION);
    c.dtype = NPDE_F32;
    double y0[2] = {1, 0}, y[2], T = 2 * M_PI;
    cr_assert_eq(run(names[m], yamls[m], &c, y0, 0, &T, 1, y, NULL), NPDE_OK, "%s", npde_last_error());
    cr_expect(hypot(y[0] - 1, y[1]) < 1e-3, "%s f32: (%g, %g)", names[m], y[0], y[1]);
  }
}

/* The reference norm needs ||y(t0)|| > 0; the message points at the mixed norm. */
Test(rk, reference_norm_needs_nonzero_y0) {
  ode_ctx c = make_ctx(DECAY);
  double y0 = 0, y, T = 1;
  cr_assert_eq(run("rk23", NULL, &c, &y0, 0, &T, 1, &y, NULL), NPDE_ERR_INVALID_ARG);
  cr_expect(strstr(npde_last_error(), "mixed"), "%s", npde_last_error());
  cr_assert_eq(run("rk23", "{error_norm: mixed}", &c, &y0, 0, &T, 1, &y, NULL), NPDE_OK, "%s", npde_last_error());
  cr_expect_eq(y, 0.0);
}

/* --------------------------------------------------------- configuration */

static npde_status create_from(const char *yaml) {
  npde_config *cfg = NULL;
  cr_assert_eq(npde_config_load_string(yaml, "test.yaml", &cfg), NPDE_OK, "%s", npde_last_error());
  npde_integrator *in = NULL;
  npde_status st = npde_integrator_create(reg, NULL, cfg, be, &in);
  npde_integrator_destroy(&in);
  npde_config_destroy(&cfg);
  return st;
}

Test(rk, yaml_unknown_key_lists_valid_keys) {
  cr_assert_eq(create_from("{type: rk23, rtl: 1}"), NPDE_ERR_CONFIG);
  const char *msg = npde_last_error();
  cr_expect(strstr(msg, "unknown key 'rtl'") && strstr(msg, "valid keys") && strstr(msg, "rtol") &&
                strstr(msg, "error_norm") && strstr(msg, "max_rejections"),
            "%s", msg);
  cr_expect(strstr(msg, "test.yaml:1:"), "the message names the YAML location: %s", msg);
  /* fixed-step methods have no tolerance keys */
  cr_assert_eq(create_from("{type: rk4, dt: 0.1, rtol: 1e-3}"), NPDE_ERR_CONFIG);
  cr_expect(strstr(npde_last_error(), "unknown key 'rtol'"), "%s", npde_last_error());
}

Test(rk, yaml_values_are_checked) {
  const char *bad[] = {
      "{type: rk4}",                          /* dt is required */
      "{type: euler, dt: 0}",                 /* and > 0 */
      "{type: rk23, adaptive: false}",        /* fixed steps of an adaptive method need dt */
      "{type: rk23, error_norm: relative}",   /* not a choice */
      "{type: rk23, rtol: 0}",                /* rtol > 0 */
      "{type: rk23, rtol: -1}",               /* schema minimum */
      "{type: rk45, factor_max: 0.5}",        /* a growth limit below 1 */
      "{type: rk45, factor_min: 1}",          /* a shrink limit of 1 */
      "{type: heun, max_rejections: 0}",      /* at least one */
      "{type: rk23, adaptive: maybe}",        /* a bool */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    npde_status st = create_from(bad[i]);
    cr_expect_eq(st, NPDE_ERR_CONFIG, "%s: status %d (%s)", bad[i], st, npde_last_error());
  }
  cr_assert_eq(create_from("{type: rk4}"), NPDE_ERR_CONFIG);
  cr_expect(strstr(npde_last_error(), "'dt'"), "%s", npde_last_error());
  const char *good[] = {"{type: rk23}", "{type: rk45, error_norm: mixed, rtol: 1e-8, atol: 0}",
                        "{type: heun, adaptive: false, dt: 0.1}", "{type: euler, dt: 0.1, max_rejections: 3}",
                        "{type: rk23, factor_min: 0.2, factor_max: 5, h0: 1e-3, h_min: 1e-12}"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; ++i)
    cr_expect_eq(create_from(good[i]), NPDE_OK, "%s: %s", good[i], npde_last_error());
}

/* Clamps apply when set: factor_max 1.5 limits growth after an accepted step. */
Test(rk, factor_clamps) {
  ode_ctx c = make_ctx(ROTATION);
  double y0[2] = {1, 0}, y[2], T = 3;
  npde_integrate_stats st = {.struct_size = sizeof st};
  cr_assert_eq(run("rk23", "{rtol: 1e-2, h0: 1e-3, factor_max: 1.5}", &c, y0, 0, &T, 1, y, &st), NPDE_OK);
  double prev = 1e-3;
  for (int64_t k = 0; k < c.afters && k < MAXREC; ++k) {
    cr_expect_leq(c.after_h[k], 1.5 * prev * (1 + 1e-15), "step %lld grew from %g to %g", (long long)k, prev,
                  c.after_h[k]);
    prev = c.after_h[k];
  }
  cr_expect(fabs(c.after_h[0] - 1.5e-3) <= 1e-18, "a tiny first step grows by exactly factor_max: %.17g",
            c.after_h[0]);
}

/* ---------------------------------------------------------------- resume */

/* A hook that saves the state and y after its k-th accepted step (a checkpoint). */
typedef struct saver {
  ode_ctx c;
  int64_t at, seen;
  npde_step_state saved;
  double y[2];
} saver;

static npde_status saver_rhs(void *ctx, double t, const npde_mat *y, npde_mat *dydt) {
  return rhs(&((saver *)ctx)->c, t, y, dydt);
}

static npde_status saver_after(void *ctx, const npde_step_state *state, npde_mat *y) {
  saver *s = ctx;
  cr_expect_geq(state->struct_size, sizeof *state);
  if (++s->seen == s->at) {
    s->saved = *state;
    for (int64_t i = 0; i < s->c.n; ++i) s->y[i] = vget(y, i);
  }
  return NPDE_OK;
}

/* Resuming from a saved state and y ends bit for bit where the uninterrupted
 * run ends, with the same counters and without repeating earlier outputs. */
Test(rk, resume_is_bitwise_the_uninterrupted_run) {
  const char *names[] = {"rk23", "rk45", "rk4", "rk23"};
  const char *yamls[] = {"{rtol: 1e-5}", "{rtol: 1e-6, error_norm: mixed}", "{dt: 0.0625}", "{rtol: 1e-4}"};
  const int64_t at[] = {5, 3, 9, 1};
  for (int m = 0; m < 4; ++m) {
    npde_integrator *in = make(names[m], yamls[m]);
    double tout[3] = {0.7, 1.3, 2.0};
    void *d = NULL;
    cr_assert_eq(npde_backend_alloc(be, 2 * sizeof(double), &d), NPDE_OK);
    npde_mat y = npde_mat_view(d, NPDE_F64, 2, 1);
    saver s = {.c = make_ctx(m % 2 ? LOTKA : ROTATION), .at = at[m]};
    npde_ode ode = {.n = 2, .dtype = NPDE_F64, .rhs = saver_rhs, .after_step = saver_after, .ctx = &s};
    vset(&y, 0, 1.2);
    vset(&y, 1, 0.7);
    outrec full = {0}, rest = {0};
    npde_integrate_stats a = {.struct_size = sizeof a}, b = {.struct_size = sizeof b};
    cr_assert_eq(npde_integrator_integrate(in, &ode, 0.0, &y, tout, 3, on_output, &full, &a), NPDE_OK, "%s",
                 npde_last_error());
    double yend[2] = {vget(&y, 0), vget(&y, 1)};
    cr_assert_eq(s.seen, a.accepted);
    cr_assert_geq(a.accepted, at[m] + 2, "%s: too few steps (%lld) for the test", names[m], (long long)a.accepted);
    /* resume from step at[m] */
    npde_step_state saved = s.saved;
    vset(&y, 0, s.y[0]);
    vset(&y, 1, s.y[1]);
    s.at = -1;
    cr_assert_eq(npde_integrator_resume(in, &ode, &saved, &y, tout, 3, on_output, &rest, &b), NPDE_OK, "%s",
                 npde_last_error());
    cr_expect(vget(&y, 0) == yend[0] && vget(&y, 1) == yend[1], "%s: resumed %.17g %.17g vs %.17g %.17g", names[m],
              vget(&y, 0), vget(&y, 1), yend[0], yend[1]);
    cr_expect(b.accepted == a.accepted && b.rejected == a.rejected && b.rhs_evals == a.rhs_evals, "%s", names[m]);
    cr_expect_eq(rest.n, 3 - saved.next_output, "%s: outputs after the resume", names[m]);
    for (int64_t k = 0; k < rest.n; ++k) {
      cr_expect_eq(rest.idx[k], saved.next_output + k);
      cr_expect(rest.y[k][0] == full.y[saved.next_output + k][0], "%s: output %lld", names[m],
                (long long)rest.idx[k]);
    }
    /* a state that does not fit the output times is refused */
    npde_step_state bad = saved;
    bad.next_output = 7;
    cr_expect_eq(npde_integrator_resume(in, &ode, &bad, &y, tout, 3, NULL, NULL, NULL), NPDE_ERR_INVALID_ARG);
    npde_backend_free(be, d);
    npde_integrator_destroy(&in);
  }
}
