/* The nbm-interface PDE component: k u - div(mu grad u) = f on both sides
 * of a level-set interface with jumps [u] = alpha, [mu du/dn] = beta and
 * Dirichlet data on the box (docs/methods/nbm.md §1), discretised at one collocation
 * point by the cut-cell finite-volume kernel of kernel.c.
 *
 * YAML: {type: nbm-interface, problem: sphere|star|no-interface, k: [0, 0],
 *        variant: corrected|faithful, jump_mu: interface|point,
 *        delta: phi|normalised, level_set: FILE.npy, level_set_box: [...],
 *        interpolation: minmod|absmin|trilinear}
 * A level_set file replaces the problem's analytic geometry by a grid of
 * phi values spanning level_set_box (the problem's data stay). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npde/plugin/npde_ext.h"

#include "benchmarks.h"
#include "nbm.h"
#include "parsed.h"

typedef struct nbm_state {
  nbm_setup setup;
  nbm_parsed parsed;
  nbm_grid_levelset grid;
  npde_npy_array grid_values;
  nbm_problem pb;
  nbm_options opt;
} nbm_state;

static int choice(const npde_config *cfg, const char *key, const char *const *names, int n) {
  const char *v = NULL;
  if (npde_config_get_string(cfg, key, &v) != NPDE_OK || !v) return 0;
  for (int i = 0; i < n; ++i)
    if (!strcmp(v, names[i])) return i;
  return 0; /* the schema has checked the value */
}

/* A path relative to the YAML file that names it. */
static void resolve_path(const npde_config *node, const char *path, char *out, size_t size) {
  const char *file = npde_config_file(node);
  const char *slash = file ? strrchr(file, '/') : NULL;
  if (path[0] == '/' || !slash) {
    snprintf(out, size, "%s", path);
    return;
  }
  snprintf(out, size, "%.*s/%s", (int)(slash - file), file, path);
}

static npde_status read_grid(nbm_state *s, const npde_config *cfg) {
  const npde_config *node = npde_config_get(cfg, "level_set");
  const char *path = NULL;
  NPDE_TRY(npde_config_get_string(cfg, "level_set", &path));
  char full[PATH_MAX];
  resolve_path(node, path, full, sizeof full);
  npde_status st = npde_npy_load(full, &s->grid_values);
  if (st != NPDE_OK)
    return npde_config_error(node, "nbm-interface: cannot read the level set '%s': %s", full, npde_last_error());
  if (s->grid_values.type != NPDE_NPY_F64 || s->grid_values.ndim != 3 || s->grid_values.shape[0] < 2 ||
      s->grid_values.shape[1] < 2 || s->grid_values.shape[2] < 2)
    return npde_config_error(node, "nbm-interface: '%s' must hold a 3-D float64 array with at least 2 nodes per "
                                   "axis (phi at the nodes of a grid, 'ij' order)", full);
  const npde_config *box = npde_config_get(cfg, "level_set_box");
  if (!box || npde_config_size(box) != 6)
    return npde_config_error(box ? box : node, "nbm-interface: a level_set file needs level_set_box: [xlo, xhi, "
                                               "ylo, yhi, zlo, zhi], the extent of its grid");
  for (int a = 0; a < 3; ++a) {
    double lo, hi;
    NPDE_TRY(npde_config_as_real(npde_config_at(box, (size_t)(2 * a)), &lo));
    NPDE_TRY(npde_config_as_real(npde_config_at(box, (size_t)(2 * a + 1)), &hi));
    if (!(hi > lo)) return npde_config_error(box, "nbm-interface: level_set_box axis %d has hi <= lo", a);
    s->grid.n[a] = s->grid_values.shape[a];
    s->grid.lo[a] = lo;
    s->grid.spacing[a] = (hi - lo) / (double)(s->grid.n[a] - 1);
  }
  s->grid.value = s->grid_values.data;
  static const char *const interps[] = {"minmod", "absmin", "trilinear"};
  s->grid.interp = (nbm_interp)choice(cfg, "interpolation", interps, 3);
  s->setup.grid = &s->grid;
  return NPDE_OK;
}

/* k u - div(mu grad u) = f + k u_exact keeps each preset's exact solution when a Helmholtz term is added. */
static double k_at(int side, const double x[3], const void *u) {
  double v = NAN;
  nbm_parsed *ps = ((const nbm_setup *)u)->parsed;
  return npde_expr_eval(ps->k[side], x, 1, 0.0, NULL, &v) == NPDE_OK ? v : NAN;
}
static double k_minus(const double x[3], const void *u) { return k_at(0, x, u); }
static double k_plus(const double x[3], const void *u) { return k_at(1, x, u); }
static double f_minus(const double x[3], const void *u) {
  const nbm_setup *s = u;
  return s->f0[0](x, u) + k_at(0, x, u) * s->u0[0](x, u);
}
static double f_plus(const double x[3], const void *u) {
  const nbm_setup *s = u;
  return s->f0[1](x, u) + k_at(1, x, u) * s->u0[1](x, u);
}

/* Whether k is the number 0 on both sides (a number or a pair of numbers); a k < 0 number is refused. */
static npde_status k_is_zero(const npde_config *k, bool *zero) {
  *zero = true;
  const bool pair = npde_config_node_type(k) == NPDE_CONFIG_SEQUENCE;
  for (int side = 0; side < 2; ++side) {
    const npde_config *item = pair ? npde_config_at(k, (size_t)side) : k;
    const char *text = npde_config_scalar(item);
    char *end = NULL;
    const double v = text ? strtod(text, &end) : NAN;
    const bool number = text && end != text && *end == 0;
    if (number && !(v >= 0.0))
      return npde_config_error(item, "nbm-interface: k must be >= 0 (found %g): with k < 0 the problem can lose its "
                               "unique solution", v);
    *zero = *zero && number && v == 0.0;
  }
  return NPDE_OK;
}

/* level_set_box: without a .npy grid, the problem's box ([-1, 1]^3 by default). */
static npde_status read_box(nbm_state *s, const npde_config *cfg) {
  const npde_config *box = npde_config_get(cfg, "level_set_box");
  if (!box) return NPDE_OK;
  if (npde_config_size(box) != 6)
    return npde_config_error(box, "nbm-interface: level_set_box: [xlo, xhi, ylo, yhi, zlo, zhi]");
  for (int a = 0; a < 3; ++a) {
    NPDE_TRY(npde_config_as_real(npde_config_at(box, (size_t)(2 * a)), &s->pb.lo[a]));
    NPDE_TRY(npde_config_as_real(npde_config_at(box, (size_t)(2 * a + 1)), &s->pb.hi[a]));
    if (!(s->pb.hi[a] > s->pb.lo[a])) return npde_config_error(box, "nbm-interface: level_set_box axis %d has hi <= lo", a);
  }
  return NPDE_OK;
}

static npde_status nbm_create(npde_pde *p, const npde_config *cfg, npde_backend *be) {
  (void)be;
  nbm_state *s = npde_pde_state(p);
  if (!cfg) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde 'nbm-interface': created without a config node");
  static const char *const problems[] = {"sphere", "star", "no-interface", "expressions"};
  static const char *const variants[] = {"corrected", "faithful"};
  static const char *const jump_mu[] = {"interface", "point"};
  static const char *const deltas[] = {"phi", "normalised"};
  const int problem = choice(cfg, "problem", problems, 4);
  s->setup.id = problem == 3 ? NBM_NO_INTERFACE : (nbm_problem_id)problem;
  s->opt.variant = (nbm_variant)choice(cfg, "variant", variants, 2);
  s->opt.jump_mu_at_point = choice(cfg, "jump_mu", jump_mu, 2) == 1;
  s->opt.delta_normalised = choice(cfg, "delta", deltas, 2) == 1;
  const char *ls = NULL;
  if (npde_config_get(cfg, "level_set")) NPDE_TRY(npde_config_get_string(cfg, "level_set", &ls));
  if (ls && !nbm_parsed_is_expression(ls)) NPDE_TRY(read_grid(s, cfg));
  const npde_config *k = npde_config_get(cfg, "k");
  bool k_zero = true;
  NPDE_TRY(k_is_zero(k, &k_zero));
  nbm_benchmark(&s->setup, &s->pb);
  if (!s->setup.grid) NPDE_TRY(read_box(s, cfg));
  NPDE_TRY(nbm_parsed_create(&s->parsed, cfg, problem == 3, &s->setup, &s->pb));
  if (problem != 3 && !k_zero) {
    for (int side = 0; side < 2; ++side) s->setup.f0[side] = s->pb.f[side], s->setup.u0[side] = s->pb.u[side];
    s->pb.k[0] = k_minus, s->pb.k[1] = k_plus;
    s->pb.f[0] = f_minus, s->pb.f[1] = f_plus;
  }
  return NPDE_OK;
}

static void nbm_destroy(npde_pde *p) {
  nbm_state *s = npde_pde_state(p);
  nbm_parsed_destroy(&s->parsed);
  npde_npy_array_free(&s->grid_values);
}

static npde_status nbm_info(const npde_pde *p, npde_pde_info *info) {
  const nbm_state *s = npde_pde_state(p);
  info->dim = 3;
  info->outputs = 1;
  info->order = NPDE_JET_VALUE;
  info->has_exact = s->pb.u[0] && s->pb.u[1];
  info->dirichlet_zero = false;
  info->sides = 2;
  info->stencil_max = NBM_MAX_SAMPLES;
  for (int a = 0; a < 3; ++a) info->box_lo[a] = s->pb.lo[a], info->box_hi[a] = s->pb.hi[a];
  return NPDE_OK;
}

static npde_status nbm_exact_values(const npde_pde *p, double t, const double *x, int64_t n, double *U) {
  (void)t;
  const nbm_state *s = npde_pde_state(p);
  for (int64_t i = 0; i < n; ++i) U[i] = nbm_exact(&s->pb, x + 3 * i);
  return NPDE_OK;
}

static npde_status nbm_level_set(const npde_pde *p, const double *x, int64_t n, double *phi) {
  const nbm_state *s = npde_pde_state(p);
  for (int64_t i = 0; i < n; ++i) phi[i] = s->pb.phi(x + 3 * i, s->pb.user);
  return NPDE_OK;
}

static npde_status nbm_stencil_op(const npde_pde *p, const double *x, const double *h, npde_stencil *out) {
  const nbm_state *s = npde_pde_state(p);
  nbm_stencil st;
  if (nbm_stencil_at(&s->pb, &s->opt, x, h, &st) != 0)
    return NPDE_ERROR(NPDE_ERR_NUMERIC, "pde 'nbm-interface': the control cell at (%g, %g, %g) has a zero diagonal",
                      x[0], x[1], x[2]);
  if (st.n > out->capacity)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde 'nbm-interface': %d samples, room for %lld", st.n,
                      (long long)out->capacity);
  out->n = st.n;
  out->w0 = st.w0;
  out->diag = st.diag;
  out->flags = (st.crossed ? NPDE_STENCIL_CROSSED : 0u) | (st.boundary ? NPDE_STENCIL_BOUNDARY : 0u);
  for (int j = 0; j < st.n; ++j) {
    npde_stencil_sample *o = &out->samples[j];
    memcpy(o->x, st.s[j].x, sizeof o->x);
    o->side = st.s[j].side;
    o->reserved = 0;
    o->weight = st.s[j].weight;
  }
  return NPDE_OK;
}

static const npde_pde_ops nbm_ops = {
    .struct_size = sizeof(npde_pde_ops),
    .create = nbm_create,
    .destroy = nbm_destroy,
    .info = nbm_info,
    .exact = nbm_exact_values,
    .stencil = nbm_stencil_op,
    .level_set = nbm_level_set,
};

static const npde_param_spec nbm_params[] = {
    {.name = "problem", .type = NPDE_PARAM_ENUM, .default_value = "sphere",
     .choices = "sphere|star|no-interface|expressions",
     .doc = "coefficients, data and exact solution: a preset (docs/methods/nbm.md §1.3-1.5) or expressions (mu, "
            "f, exact, alpha, beta, g; docs/problems.md)"},
    {.name = "variant", .type = NPDE_PARAM_ENUM, .default_value = "corrected", .choices = "corrected|faithful",
     .doc = "ghost formulas: corrected (docs/methods/nbm.md §3.5) or faithful to JAX-DIPS (§3.6, its published "
            "numbers)"},
    {.name = "jump_mu", .type = NPDE_PARAM_ENUM, .default_value = "interface", .choices = "interface|point",
     .doc = "where beta / mu is evaluated in the ghosts: the projection x_Gamma (docs/methods/nbm.md §3.5) or the "
            "point q (§6.5)"},
    {.name = "delta", .type = NPDE_PARAM_ENUM, .default_value = "phi", .choices = "phi|normalised",
     .doc = "signed distance: phi (exact for SDFs, as JAX-DIPS) or phi / |grad_h phi| (for other level sets)"},
    {.name = "level_set", .type = NPDE_PARAM_STRING, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "phi (< 0 inside): an expression in x, y, z, or a .npy file of phi at the nodes of a grid (3-D float64, "
            "'ij' order) relative to this YAML file"},
    {.name = "level_set_box", .type = NPDE_PARAM_REAL_LIST, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "[xlo, xhi, ylo, yhi, zlo, zhi]: the problem's box (and the extent of a .npy level_set's grid); "
            "[-1, 1]^3 by default"},
    {.name = "k", .type = NPDE_PARAM_ANY, .default_value = "[0, 0]",
     .doc = "[k inside, k outside] (numbers or expressions): the Helmholtz term k u of k u - div(mu grad u) = f; a "
            "preset's f gains k u_exact, so its exact solution stays exact"},
    {.name = "params", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "named numbers for the expressions"},
    {.name = "mu", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "problem: expressions: [mu inside, mu outside] (or one for both)"},
    {.name = "exact", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "problem: expressions: [u inside, u outside]; f, alpha, beta and g left out are derived from it"},
    {.name = "f", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "problem: expressions: [f inside, f outside], the sources"},
    {.name = "alpha", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "problem: expressions: the jump [u] = u+ - u- on the interface"},
    {.name = "beta", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "problem: expressions: the flux jump [mu du/dn] (n = grad phi / |grad phi|)"},
    {.name = "g", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "problem: expressions: u on the faces of the box"},
    {.name = "interpolation", .type = NPDE_PARAM_ENUM, .default_value = "minmod",
     .choices = "minmod|absmin|trilinear",
     .doc = "level_set grid interpolant (docs/methods/nbm.md §2.2): quadratic with signed minmod, JAX-DIPS's "
            "min |D2|, or trilinear"},
    {0},
};

const npde_component_desc nbm_pde_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_PDE,
    .name = "nbm-interface",
    .summary = "elliptic interface problem, cut-cell finite-volume stencil for the Neural Bootstrapping Method",
    .ops = &nbm_ops,
    .state_size = sizeof(nbm_state),
    .params = nbm_params,
};
