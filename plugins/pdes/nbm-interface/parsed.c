/* NBM problems written in YAML (docs/problems.md): the level set, k and mu
 * on each side, the sources f, the jumps alpha and beta, the box values g and
 * the exact solutions, each an expression in x, y, z and params:. Given the
 * exact solutions, whatever of f, alpha, beta and g is left out is derived
 * from them (a manufactured solution): alpha = u+ - u-, beta = mu+ du+/dn -
 * mu- du-/dn and g = u by the kernel (problem.c) from u and grad u, and
 * f = k u - mu lap u - grad mu . grad u here, the derivatives by
 * differences of fourth order with step DIFF_STEP (about 1e-10 relative for
 * smooth data, far below the discretisation's error). The callbacks
 * evaluate one point at a time on the handles of one thread (the kernel
 * builds stencils on one thread). */
#include <math.h>
#include <string.h>

#include "npde/plugin/npde_ext.h"

#include "parsed.h"

#define DIFF_STEP 2e-3
#define PARSED(user) ((nbm_parsed *)((const nbm_setup *)(user))->parsed)

static double one(npde_expr *e, const double x[3]) {
  double v = NAN;
  return npde_expr_eval(e, x, 1, 0.0, NULL, &v) == NPDE_OK ? v : NAN;
}

/* e at x and at x +- h e_a, x +- 2 h e_a for a < 3: 13 values, [0] at x, [1 + 4 a + s] at offsets -2, -1, 1, 2. */
static void star_values(npde_expr *e, const double x[3], double v[13]) {
  static const double offsets[4] = {-2, -1, 1, 2};
  double pts[13 * 3];
  for (int q = 0; q < 13; ++q) memcpy(pts + 3 * q, x, 3 * sizeof *x);
  for (int a = 0; a < 3; ++a)
    for (int s = 0; s < 4; ++s) pts[3 * (1 + 4 * a + s) + a] += offsets[s] * DIFF_STEP;
  if (npde_expr_eval(e, pts, 13, 0.0, NULL, v) != NPDE_OK)
    for (int q = 0; q < 13; ++q) v[q] = NAN;
}

/* Gradient and Laplacian from star_values, fourth order. */
static void derivatives(const double v[13], double grad[3], double *lap) {
  const double h = DIFF_STEP;
  *lap = 0.0;
  for (int a = 0; a < 3; ++a) {
    const double *w = v + 1 + 4 * a; /* -2h, -h, +h, +2h */
    grad[a] = (w[0] - 8 * w[1] + 8 * w[2] - w[3]) / (12 * h);
    *lap += (-w[0] + 16 * w[1] - 30 * v[0] + 16 * w[2] - w[3]) / (12 * h * h);
  }
}

static void grad_u(int side, const double x[3], const void *user, double g[3]) {
  double v[13], lap;
  star_values(PARSED(user)->u[side], x, v);
  derivatives(v, g, &lap);
}

static double made_f(int side, const double x[3], const void *user) {
  nbm_parsed *ps = PARSED(user);
  double u[13], mu[13], gu[3], gmu[3], lap, unused;
  star_values(ps->u[side], x, u);
  star_values(ps->mu[side], x, mu);
  derivatives(u, gu, &lap);
  derivatives(mu, gmu, &unused);
  return one(ps->k[side], x) * u[0] - mu[0] * lap - (gmu[0] * gu[0] + gmu[1] * gu[1] + gmu[2] * gu[2]);
}

static double phi_fn(const double x[3], const void *user) { return one(PARSED(user)->phi, x); }
static double mu_m(const double x[3], const void *user) { return one(PARSED(user)->mu[0], x); }
static double mu_p(const double x[3], const void *user) { return one(PARSED(user)->mu[1], x); }
static double k_m(const double x[3], const void *user) { return one(PARSED(user)->k[0], x); }
static double k_p(const double x[3], const void *user) { return one(PARSED(user)->k[1], x); }
static double f_m(const double x[3], const void *user) { return one(PARSED(user)->f[0], x); }
static double f_p(const double x[3], const void *user) { return one(PARSED(user)->f[1], x); }
static double made_f_m(const double x[3], const void *user) { return made_f(0, x, user); }
static double made_f_p(const double x[3], const void *user) { return made_f(1, x, user); }
static double u_m(const double x[3], const void *user) { return one(PARSED(user)->u[0], x); }
static double u_p(const double x[3], const void *user) { return one(PARSED(user)->u[1], x); }
static void gu_m(const double x[3], const void *user, double g[3]) { grad_u(0, x, user, g); }
static void gu_p(const double x[3], const void *user, double g[3]) { grad_u(1, x, user, g); }
static double alpha_fn(const double x[3], const void *user) { return one(PARSED(user)->alpha, x); }
static double beta_fn(const double x[3], const void *user) { return one(PARSED(user)->beta, x); }
static double g_fn(const double x[3], const void *user) { return one(PARSED(user)->g, x); }

/* key: one expression (both sides) or [inside, outside], into out[0], out[1]. */
static npde_status compile_sides(const npde_config *node, const npde_expr_scope *scope, const char *key,
                                 npde_expr *out[2]) {
  const bool pair = npde_config_node_type(node) == NPDE_CONFIG_SEQUENCE;
  if (pair && npde_config_size(node) != 2)
    return npde_config_error(node, "nbm-interface: %s: takes one expression (both sides) or two, [inside (phi < 0), "
                             "outside]", key);
  for (int side = 0; side < 2; ++side)
    NPDE_TRY(npde_expr_compile(pair ? npde_config_at(node, (size_t)side) : node, scope, &out[side]));
  return NPDE_OK;
}

bool nbm_parsed_is_expression(const char *level_set) {
  const size_t n = level_set ? strlen(level_set) : 0;
  return n > 0 && !(n >= 4 && strcmp(level_set + n - 4, ".npy") == 0);
}

npde_status nbm_parsed_create(nbm_parsed *ps, const npde_config *cfg, bool expressions, nbm_setup *setup,
                              nbm_problem *pb) {
  npde_expr_scope scope = {.dim = 3, .params = npde_config_get(cfg, "params")};
  static const char *const own[] = {"mu", "f", "exact", "alpha", "beta", "g"};
  for (size_t i = 0; !expressions && i < sizeof own / sizeof own[0]; ++i)
    if (npde_config_get(cfg, own[i]))
      return npde_config_error(npde_config_get(cfg, own[i]), "nbm-interface: %s: is for problem: expressions (the "
                               "presets sphere, star and no-interface have their own)", own[i]);
  NPDE_TRY(compile_sides(npde_config_get(cfg, "k"), &scope, "k", ps->k));
  const char *ls = NULL;
  if (npde_config_get(cfg, "level_set")) NPDE_TRY(npde_config_get_string(cfg, "level_set", &ls));
  if (nbm_parsed_is_expression(ls)) {
    NPDE_TRY(npde_expr_compile(npde_config_get(cfg, "level_set"), &scope, &ps->phi));
    pb->phi = phi_fn;
    pb->grad_phi = NULL; /* the normal by central differences (problem.c) */
  }
  setup->parsed = ps;
  if (!expressions) return NPDE_OK;
  const npde_config *mu = npde_config_get(cfg, "mu"), *f = npde_config_get(cfg, "f"),
                    *exact = npde_config_get(cfg, "exact");
  if (!ps->phi)
    return npde_config_error(cfg, "nbm-interface: problem: expressions needs level_set: an expression in x, y, z "
                             "(phi < 0 inside) or a .npy file");
  if (!mu) return npde_config_error(cfg, "nbm-interface: problem: expressions needs mu: [inside, outside]");
  for (int side = 0; side < 2; ++side) pb->u[side] = NULL, pb->grad_u[side] = NULL; /* not the preset's */
  pb->alpha = pb->beta = pb->g = NULL;
  NPDE_TRY(compile_sides(mu, &scope, "mu", ps->mu));
  pb->mu[0] = mu_m, pb->mu[1] = mu_p;
  pb->k[0] = k_m, pb->k[1] = k_p;
  if (exact) {
    NPDE_TRY(compile_sides(exact, &scope, "exact", ps->u));
    pb->u[0] = u_m, pb->u[1] = u_p;
    pb->grad_u[0] = gu_m, pb->grad_u[1] = gu_p;
  }
  if (f) {
    NPDE_TRY(compile_sides(f, &scope, "f", ps->f));
    pb->f[0] = f_m, pb->f[1] = f_p;
  } else {
    pb->f[0] = made_f_m, pb->f[1] = made_f_p;
  }
  static const char *const single[] = {"alpha", "beta", "g"};
  npde_expr **slot[] = {&ps->alpha, &ps->beta, &ps->g};
  nbm_scalar_fn *fn[] = {&pb->alpha, &pb->beta, &pb->g};
  const nbm_scalar_fn fns[] = {alpha_fn, beta_fn, g_fn};
  char derived[64] = "";
  if (!f) strcat(derived, " f");
  for (int q = 0; q < 3; ++q) {
    const npde_config *node = npde_config_get(cfg, single[q]);
    if (node) {
      NPDE_TRY(npde_expr_compile(node, &scope, slot[q]));
      *fn[q] = fns[q];
    } else {
      strcat(derived, " "), strcat(derived, single[q]);
    }
  }
  if (!exact && derived[0])
    return npde_config_error(cfg, "nbm-interface: problem: expressions without exact: needs f, alpha, beta and g "
                             "(missing:%s); with exact: [u inside, u outside] they are derived", derived);
  if (exact && derived[0])
    npde_log(NPDE_LOG_INFO, "nbm-interface: a manufactured solution:%s derived from exact: and the coefficients "
             "(f and grad u by fourth-order differences, step %g)", derived, DIFF_STEP);
  return NPDE_OK;
}

void nbm_parsed_destroy(nbm_parsed *ps) {
  npde_expr **all[] = {&ps->phi, &ps->mu[0], &ps->mu[1], &ps->k[0], &ps->k[1], &ps->f[0], &ps->f[1],
                       &ps->u[0], &ps->u[1], &ps->alpha, &ps->beta, &ps->g};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) npde_expr_destroy(all[i]);
}
