/* The pde dispatcher. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde_expr.h"
#include "npde/npde_pde.h"
#include "config_impl.h"
#include "pde_impl.h"
#include "registry_impl.h"

struct npde_pde {
  npde_object hdr;
  npde_pde_info info;
  /* initial: and exact: written as expressions in the config, in place of the plugin's own */
  npde_expr *initial, *exact;
  /* domain: the box is center + half * xi for xi in the reference cube; NULL: the cube itself */
  double *center, *half;
  /* boundary: one kind per axis (the plugin's dirichlet_zero unless stated); dirichlet: the lift g, one
   * expression per output: the network carries u - g, zero on the Dirichlet faces */
  npde_boundary_kind *kind;
  bool boundary_stated;
  npde_expr *lift;
  /* the mapped points and jets, grown to the largest call and reused (calls on one handle come from one thread) */
  double *scratch;
  int64_t scratch_cap;
  /* the lift's jets and the points its differences shift: a second scratch, used while the first maps to the box */
  double *lift_scratch;
  int64_t lift_cap;
};

#define OPS(p) NPDE__OPS(p, npde_pde_ops)
#define PLUGIN_CALL(st, pde, name, call) NPDE__TRACKED(st, &(pde)->hdr, name, call)
/* Slots appended after ABI 1.0 exist only in ops tables that were compiled with them. */
#define HAS_SLOT(p, slot) (OPS(p)->struct_size >= offsetof(npde_pde_ops, slot) + sizeof(OPS(p)->slot))

void npde_pde_destroy(npde_pde **pde) {
  if (pde && *pde) {
    npde_expr_destroy(&(*pde)->initial);
    npde_expr_destroy(&(*pde)->exact);
    npde_expr_destroy(&(*pde)->lift);
    free((*pde)->kind);
    free((*pde)->center);
    free((*pde)->scratch);
    free((*pde)->lift_scratch);
  }
  npde_object_destroy((npde_object **)pde);
}

bool npde__pde_engine_key(const char *key, const npde_config *value) {
  if (!strcmp(key, "params") || !strcmp(key, "exact") || !strcmp(key, "domain") || !strcmp(key, "boundary") ||
      !strcmp(key, "dirichlet"))
    return true;
  return !strcmp(key, "initial") && npde_config_node_type(value) == NPDE_CONFIG_SEQUENCE;
}

static bool schema_has(const npde_param_spec *schema, const char *key) {
  for (const npde_param_spec *s = schema; s && s->name; ++s)
    if (!strcmp(s->name, key)) return true;
  return false;
}

/* An engine key, unless the plugin declares it too (it may read params: for expressions of its own, or exact: as
 * a discrete PDE's per-side solutions); initial: as a list is always the engine's (a plugin's initial: names its
 * presets). */
static bool taken_out(const npde_config *node, size_t i, const npde_param_spec *schema) {
  const char *key = node->keys[i];
  return npde__pde_engine_key(key, node->items[i]) && (!strcmp(key, "initial") || !schema_has(schema, key));
}

npde_status npde__pde_plugin_node(const npde_config *node, const npde_param_spec *schema, npde_config **out) {
  *out = NULL;
  bool any = false;
  for (size_t i = 0; node && node->type == NPDE_CONFIG_MAP && i < node->n; ++i) any = any || taken_out(node, i, schema);
  if (!any) return NPDE_OK;
  npde_config *copy = npde__config_new(NPDE_CONFIG_MAP, node->file, node->line, node->column);
  npde_status st = copy ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  for (size_t i = 0; st == NPDE_OK && i < node->n; ++i) {
    if (taken_out(node, i, schema)) continue;
    npde_config *item = NULL;
    st = npde_config_clone(node->items[i], &item);
    if (st == NPDE_OK && !npde__config_append(copy, node->keys[i], item)) {
      npde__config_free(item);
      st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    }
  }
  if (st != NPDE_OK) npde__config_free(copy);
  else *out = copy;
  return st;
}

/* out[0..d) from a number (every axis) or a list of d numbers. */
static npde_status read_bounds(const npde_config *node, int64_t d, double *out) {
  if (npde_config_node_type(node) == NPDE_CONFIG_SCALAR) {
    NPDE_TRY(npde_config_as_real(node, &out[0]));
    for (int64_t j = 1; j < d; ++j) out[j] = out[0];
  } else if (npde_config_node_type(node) == NPDE_CONFIG_SEQUENCE && (int64_t)npde_config_size(node) == d) {
    for (int64_t j = 0; j < d; ++j) NPDE_TRY(npde_config_as_real(npde_config_at(node, (size_t)j), &out[j]));
  } else {
    return npde_config_error(node, "domain: expected a number (every axis) or a list of %lld numbers", (long long)d);
  }
  for (int64_t j = 0; j < d; ++j)
    if (!isfinite(out[j])) return npde_config_error(node, "domain: bounds must be finite");
  return NPDE_OK;
}

/* domain: {lo, hi}: the box the PDE is posed on. */
static npde_status read_domain(npde_pde *p, const npde_config *node) {
  const int64_t d = p->info.dim;
  if (p->info.sides != 0)
    return npde_config_error(node, "pde '%s' is a discrete interface PDE: its box is its own (no domain:)",
                             p->hdr.type_name);
  const npde_config *lo = npde_config_get(node, "lo"), *hi = npde_config_get(node, "hi");
  if (npde_config_node_type(node) != NPDE_CONFIG_MAP || !lo || !hi || npde_config_size(node) != 2)
    return npde_config_error(node, "domain: expected {lo: L, hi: H}, each a number or a list of %lld numbers, "
                             "e.g. {lo: [0, 0], hi: [2, 1]}", (long long)d);
  p->center = malloc((size_t)(2 * d) * sizeof *p->center);
  double *l = malloc((size_t)(2 * d) * sizeof *l);
  npde_status st = p->center && l ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) st = read_bounds(lo, d, l);
  if (st == NPDE_OK) st = read_bounds(hi, d, l + d);
  for (int64_t j = 0; st == NPDE_OK && j < d; ++j) {
    if (!(l[d + j] > l[j]))
      st = npde_config_error(hi, "domain: hi must exceed lo on every axis (axis %lld: lo %g, hi %g)", (long long)j + 1,
                             l[j], l[d + j]);
    p->center[j] = 0.5 * (l[j] + l[d + j]);
    p->center[d + j] = 0.5 * (l[d + j] - l[j]);
  }
  free(l);
  p->half = p->center ? p->center + d : NULL;
  return st;
}

bool npde_pde_domain(const npde_pde *pde, double *lo, double *hi) {
  if (npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_domain") != NPDE_OK) return false;
  for (int64_t j = 0; j < pde->info.dim; ++j) {
    if (lo) lo[j] = pde->center ? pde->center[j] - pde->half[j] : -1.0;
    if (hi) hi[j] = pde->center ? pde->center[j] + pde->half[j] : 1.0;
  }
  return pde->center != NULL;
}

void npde_pde_to_reference(const npde_pde *pde, const double *x, int64_t n, double *xi) {
  if (npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_to_reference") != NPDE_OK) return;
  const int64_t d = pde->info.dim;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      xi[i * d + j] = pde->center ? (x[i * d + j] - pde->center[j]) / pde->half[j] : x[i * d + j];
}

/* count doubles of the handle's scratch, grown outside the steady state (the sizes recur every step); the
 * handle is const to its callers but the scratch is its own. NULL when out of memory. */
static double *grown(double **buf, int64_t *cap, int64_t count) {
  if (count > *cap) {
    free(*buf);
    *buf = malloc((size_t)count * sizeof **buf);
    *cap = *buf ? count : 0;
  }
  return *buf;
}

static double *scratch(const npde_pde *pde, int64_t count) {
  npde_pde *p = (npde_pde *)pde;
  return grown(&p->scratch, &p->scratch_cap, count);
}

static double *lift_scratch(const npde_pde *pde, int64_t count) {
  npde_pde *p = (npde_pde *)pde;
  return grown(&p->lift_scratch, &p->lift_cap, count);
}

/* Points of the reference cube on the box, into x (n x dim). */
static void to_box(const npde_pde *pde, const double *xi, int64_t n, double *x) {
  const int64_t d = pde->info.dim;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) x[i * d + j] = pde->center[j] + pde->half[j] * xi[i * d + j];
}

/* The points a plugin or an expression sees: xi itself, or xi mapped onto the box (in the scratch). */
static const double *box_points(const npde_pde *pde, const double *xi, int64_t n) {
  if (!pde->center || n == 0) return xi;
  double *x = scratch(pde, n * pde->info.dim);
  if (x) to_box(pde, xi, n, x);
  return x;
}

/* boundary: a kind for every axis, or a list of one per axis. */
static npde_status read_boundary(npde_pde *p, const npde_config *node) {
  static const char *const kinds[] = {"none", "dirichlet", "periodic"};
  const int64_t d = p->info.dim;
  p->kind = malloc((size_t)d * sizeof *p->kind);
  if (!p->kind) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  for (int64_t j = 0; j < d; ++j) p->kind[j] = p->info.dirichlet_zero ? NPDE_BOUNDARY_DIRICHLET : NPDE_BOUNDARY_NONE;
  if (!node) return NPDE_OK;
  if (p->info.sides != 0)
    return npde_config_error(node, "pde '%s' is a discrete interface PDE: its boundary values are its own (no "
                             "boundary:)", p->hdr.type_name);
  const bool list = npde_config_node_type(node) == NPDE_CONFIG_SEQUENCE;
  if (!(list ? (int64_t)npde_config_size(node) == d : npde_config_node_type(node) == NPDE_CONFIG_SCALAR))
    return npde_config_error(node, "boundary: expected one of none, dirichlet, periodic (every axis) or a list of "
                             "%lld of them (one per axis), e.g. [periodic, dirichlet]", (long long)d);
  for (int64_t j = 0; j < d; ++j) {
    const npde_config *item = list ? npde_config_at(node, (size_t)j) : node;
    const char *v = npde_config_scalar(item);
    int k = 0;
    while (k < 3 && !(v && !strcmp(v, kinds[k]))) ++k;
    if (k == 3)
      return npde_config_error(item, "boundary: unknown kind '%s'; valid: none, dirichlet, periodic", v ? v : "");
    p->kind[j] = (npde_boundary_kind)k;
  }
  p->boundary_stated = true;
  bool all = true;
  for (int64_t j = 0; j < d; ++j) all = all && p->kind[j] == NPDE_BOUNDARY_DIRICHLET;
  p->info.dirichlet_zero = all;
  return NPDE_OK;
}

/* domain:, boundary:, and initial:, exact: and dirichlet: as expressions, one per output. */
static npde_status compile_engine_keys(npde_pde *p, const npde_config *node) {
  const npde_config *domain = npde_config_get(node, "domain");
  if (domain) NPDE_TRY(read_domain(p, domain));
  NPDE_TRY(read_boundary(p, npde_config_get(node, "boundary")));
  const npde_config *lift = npde_config_get(node, "dirichlet");
  bool any_dirichlet = false;
  for (int64_t j = 0; j < p->info.dim; ++j) any_dirichlet = any_dirichlet || p->kind[j] == NPDE_BOUNDARY_DIRICHLET;
  if (lift && (p->info.sides != 0 || !any_dirichlet))
    return npde_config_error(lift, "dirichlet: gives the values on the Dirichlet faces, and pde '%s' has none (set "
                             "boundary: dirichlet on some axis)", p->hdr.type_name);
  const npde_param_spec *schema = p->hdr.impl->info.desc->params;
  const npde_config *params = npde_config_get(node, "params"), *initial = npde_config_get(node, "initial"),
                    *exact = schema_has(schema, "exact") ? NULL : npde_config_get(node, "exact");
  if (initial && npde_config_node_type(initial) != NPDE_CONFIG_SEQUENCE) initial = NULL; /* the plugin's preset */
  if (!initial && !exact && !lift) {
    if (params && !schema_has(schema, "params"))
      return npde_config_error(params, "params: are used by expressions (initial:, exact:, dirichlet:), and there "
                               "are none");
    return NPDE_OK;
  }
  if (p->info.sides != 0)
    return npde_config_error(initial ? initial : exact ? exact : lift, "pde '%s' is a discrete interface PDE: "
                             "initial:, exact: and dirichlet: "
                             "expressions are for time-dependent PDEs", p->hdr.type_name);
  npde_expr_scope scope = {.dim = p->info.dim, .params = params};
  const struct { const npde_config *node; npde_expr **out; bool time; const char *what; } keys[] = {
      {initial, &p->initial, false, "initial"}, {exact, &p->exact, true, "exact"}, {lift, &p->lift, true, "dirichlet"}};
  for (int k = 0; k < 3; ++k) {
    if (!keys[k].node) continue;
    scope.time = keys[k].time;
    NPDE_TRY(npde_expr_compile(keys[k].node, &scope, keys[k].out));
    if (npde_expr_count(*keys[k].out) != p->info.outputs)
      return npde_config_error(keys[k].node, "%s: %lld expression%s for pde '%s', which has %lld output%s; give one "
                               "per output", keys[k].what, (long long)npde_expr_count(*keys[k].out),
                               npde_expr_count(*keys[k].out) == 1 ? "" : "s", p->hdr.type_name,
                               (long long)p->info.outputs, p->info.outputs == 1 ? "" : "s");
  }
  if (p->exact) p->info.has_exact = true;
  else if (p->initial) p->info.has_exact = false; /* the plugin's solution starts from its own initial condition */
  return NPDE_OK;
}

npde_status npde_pde_create(const npde_registry *reg, const char *name, const npde_config *node, npde_pde **out) {
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_create: NULL out");
  *out = NULL;
  npde_pde *p = NULL;
  npde_config *plugin_node = NULL;
  const npde_config *type = npde_config_get(node, "type");
  const npde_component_info *info = npde_registry_find(reg, NPDE_KIND_PDE, name ? name : npde_config_scalar(type));
  NPDE_TRY(npde__pde_plugin_node(node, info ? info->desc->params : NULL, &plugin_node));
  npde_status st = npde__object_create_sized(reg, NPDE_KIND_PDE, name, plugin_node ? plugin_node : node, NULL,
                                             sizeof *p, (npde_object **)&p);
  npde__config_free(plugin_node);
  if (st != NPDE_OK) return st;
  if (!OPS(p)->info)
    st = NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "pde '%s' lacks 'info'", p->hdr.type_name);
  if (st == NPDE_OK) {
    p->info.struct_size = sizeof p->info;
    st = OPS(p)->info(p, &p->info);
  }
  if (st == NPDE_OK) st = compile_engine_keys(p, node);
  if (st == NPDE_OK && p->info.sides == 0 && !OPS(p)->rhs)
    st = NPDE_ERROR(NPDE_ERR_PLUGIN, "pde '%s' (plugin %s) is time-dependent (0 sides) but has no 'rhs'",
                    p->hdr.type_name, p->hdr.impl->info.file ? p->hdr.impl->info.file : "?");
  if (st == NPDE_OK && p->info.sides == 0 && !OPS(p)->initial && !p->initial)
    st = npde_config_error(node, "pde '%s' has no initial condition of its own: give initial: with one expression "
                           "per output (docs/problems.md)", p->hdr.type_name);
  if (st == NPDE_OK && p->info.sides != 0 &&
      (p->info.sides != 2 || p->info.dim > 3 || p->info.stencil_max < 1 || !HAS_SLOT(p, level_set) ||
       !OPS(p)->stencil || !OPS(p)->level_set))
    st = NPDE_ERROR(NPDE_ERR_INVALID_ARG,
                    "pde '%s' reports %lld sides: a discrete PDE needs 2 sides, dim <= 3, stencil_max >= 1 and the "
                    "'stencil' and 'level_set' calls (ABI 1.1)", p->hdr.type_name, (long long)p->info.sides);
  if (st == NPDE_OK && (p->info.dim < 1 || p->info.outputs < 1 || (unsigned)p->info.order > NPDE_JET_HESSIAN))
    st = NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde '%s' reports dim %lld, outputs %lld, order %d", p->hdr.type_name,
                    (long long)p->info.dim, (long long)p->info.outputs, (int)p->info.order);
  if (st == NPDE_OK && p->info.has_exact && !OPS(p)->exact && !p->exact)
    st = NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde '%s' says it has an exact solution but has no 'exact'",
                    p->hdr.type_name);
  if (st != NPDE_OK) {
    npde_pde_destroy(&p);
    return st;
  }
  *out = p;
  return NPDE_OK;
}

npde_pde_info npde_pde_get_info(const npde_pde *pde) {
  npde_pde_info none = {0};
  return npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_get_info") == NPDE_OK ? pde->info : none;
}

/* Values a plugin returned must be finite: NaN or Inf stops the run at once (no step size cures them), naming the
 * PDE, the call, how many points and the first. K values per point. */
static npde_status check_finite(const npde_pde *pde, const char *what, const double *v, int64_t count) {
  const int64_t K = pde->info.outputs > 0 ? pde->info.outputs : 1;
  int64_t bad = 0, first = -1, last_point = -1;
  for (int64_t i = 0; i < count; ++i)
    if (!isfinite(v[i])) {
      if (first < 0) first = i;
      if (i / K != last_point) ++bad, last_point = i / K;
    }
  if (first < 0) return NPDE_OK;
  return NPDE_ERROR(NPDE_ERR_NO_RETRY, "pde '%s': %s returned NaN or Inf at %lld of %lld points (first: point %lld, "
                    "output %lld, %g)", pde->hdr.type_name, what, (long long)bad, (long long)(count / K),
                    (long long)(first / K), (long long)(first % K), v[first]);
}

npde_status npde_pde_initial(const npde_pde *pde, const double *x, int64_t n, double *U) {
  NPDE_TRY(npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_initial"));
  if (!OPS(pde)->initial && !pde->initial)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "pde '%s' has no initial condition (it is a discrete interface PDE: "
                      "use the train stage)", pde->hdr.type_name);
  if (n < 0 || (n && (!x || !U))) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_initial: NULL arrays");
  const double *xb = box_points(pde, x, n);
  if (!xb) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  npde_status st;
  PLUGIN_CALL(st, pde, "initial",
              pde->initial ? npde_expr_eval(pde->initial, xb, n, 0.0, NULL, U) : OPS(pde)->initial(pde, xb, n, U));
  NPDE_TRY(st);
  return check_finite(pde, "initial", U, n * pde->info.outputs);
}

npde_status npde_pde_exact(const npde_pde *pde, double t, const double *x, int64_t n, double *U) {
  NPDE_TRY(npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_exact"));
  if ((!OPS(pde)->exact || pde->initial) && !pde->exact)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "pde '%s' has no exact solution%s", pde->hdr.type_name,
                      pde->initial ? " for the initial: expressions given (give exact: too)" : "");
  if (n < 0 || (n && (!x || !U))) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_exact: NULL arrays");
  const double *xb = box_points(pde, x, n);
  if (!xb) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  npde_status st;
  PLUGIN_CALL(st, pde, "exact", pde->exact ? npde_expr_eval(pde->exact, xb, n, t, NULL, U) : OPS(pde)->exact(pde, t, xb, n, U));
  NPDE_TRY(st);
  return check_finite(pde, "exact", U, n * pde->info.outputs);
}

/* The plugin's rhs on the box, from jets on the reference cube. */
static npde_status rhs_on_box(const npde_pde *pde, double t, const npde_pde_jets *jets, double *F) {
  if (!pde->center || jets->n == 0) {
    npde_status st;
    PLUGIN_CALL(st, pde, "rhs", OPS(pde)->rhs(pde, t, jets, F));
    NPDE_TRY(st);
    return check_finite(pde, "rhs", F, jets->n * pde->info.outputs);
  }
  /* jets on the reference cube -> on the box: d/dx_j = (1 / half_j) d/dxi_j */
  const int64_t n = jets->n, d = jets->d, K = jets->K, nk = n * K;
  const int64_t second = npde_jet_second_width(jets->order, d);
  double *x = scratch(pde, n * d + (jets->grad ? nk * d : 0) + nk * second);
  if (!x) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  double *g = jets->grad ? x + n * d : NULL, *s2 = second ? x + n * d + (g ? nk * d : 0) : NULL;
  to_box(pde, jets->x, n, x);
  for (int64_t e = 0; g && e < nk; ++e)
    for (int64_t j = 0; j < d; ++j) g[e * d + j] = jets->grad[e * d + j] / pde->half[j];
  for (int64_t e = 0; s2 && e < nk; ++e)
    for (int64_t j = 0; j < second; ++j) {
      const int64_t a = second == d ? j : j / d, b = second == d ? j : j % d;
      s2[e * second + j] = jets->second[e * second + j] / (pde->half[a] * pde->half[b]);
    }
  npde_pde_jets box = *jets;
  box.x = x, box.grad = g, box.second = s2;
  npde_status st;
  PLUGIN_CALL(st, pde, "rhs", OPS(pde)->rhs(pde, t, &box, F));
  NPDE_TRY(st);
  return check_finite(pde, "rhs", F, jets->n * pde->info.outputs);
}


static npde_status rhs_lifted(const npde_pde *pde, double t, const npde_pde_jets *jets, double *F);

npde_status npde_pde_rhs(const npde_pde *pde, double t, const npde_pde_jets *jets, double *F) {
  NPDE_TRY(npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_rhs"));
  if (!OPS(pde)->rhs) return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "pde '%s' has no 'rhs'", pde->hdr.type_name);
  if (!jets || !F || jets->d != pde->info.dim || jets->K != pde->info.outputs || jets->order < pde->info.order)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_rhs: jets must have d = %lld, K = %lld and order >= %d",
                      (long long)pde->info.dim, (long long)pde->info.outputs, (int)pde->info.order);
  if (jets->n > 0 && (!jets->x || !jets->value || (jets->order >= NPDE_JET_GRAD && !jets->grad) ||
                      (jets->order >= NPDE_JET_LAPLACIAN && !jets->second)))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_rhs: the jets lack an array their order needs");
  if (!pde->lift || jets->n == 0) return rhs_on_box(pde, t, jets, F);
  return rhs_lifted(pde, t, jets, F);
}

/* ------------------------------------------------------------ the lift */

/* Derivatives of g by differences of fourth order (pure and mixed), step LIFT_STEP on the reference cube and in
 * t: truncation about h^4 |g^(5)| / 30, rounding about 3 eps |g| / h^2 (1e-10 |g| for the second derivatives). */
#define LIFT_STEP 2e-3
static const double lift_first[5] = {1.0 / 12, -8.0 / 12, 0, 8.0 / 12, -1.0 / 12};
static const double lift_pure[5] = {-1.0 / 12, 16.0 / 12, -30.0 / 12, 16.0 / 12, -1.0 / 12};

/* g(t, x + ca h e_a + cb h e_b) at n points of the reference cube (a, b < 0: unused) into out (n x K);
 * shifted: n x dim scratch. */
static npde_status lift_at(const npde_pde *pde, double t, const double *xi, int64_t n, int a, double ca, int b,
                           double cb, double *shifted, double *out) {
  const int64_t d = pde->info.dim;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      double v = xi[i * d + j] + (j == a ? ca * LIFT_STEP : 0.0) + (j == b ? cb * LIFT_STEP : 0.0);
      shifted[i * d + j] = pde->center ? pde->center[j] + pde->half[j] * v : v;
    }
  return npde_expr_eval(pde->lift, shifted, n, t, NULL, out);
}

/* The jets of g at n reference points, to the given order (reference coordinates, the layout of npde_pde_jets),
 * and g_t when gt is not NULL; work holds n (dim + outputs) doubles. */
static npde_status lift_jets(const npde_pde *pde, double t, const double *xi, int64_t n, npde_jet_order order,
                             double *value, double *grad, double *second, double *gt, double *work) {
  const int64_t d = pde->info.dim, nk = n * pde->info.outputs;
  const double step = LIFT_STEP, step2 = LIFT_STEP * LIFT_STEP;
  const int64_t sec = npde_jet_second_width(order, d);
  double *shifted = work, *tmp = work + n * d;
  npde_status st = lift_at(pde, t, xi, n, -1, 0, -1, 0, shifted, value);
  if (gt) memset(gt, 0, (size_t)nk * sizeof *gt);
  for (int s = 0; st == NPDE_OK && gt && s < 5; ++s) {
    if (s == 2) continue;
    st = lift_at(pde, t + (s - 2) * step, xi, n, -1, 0, -1, 0, shifted, tmp);
    for (int64_t e = 0; st == NPDE_OK && e < nk; ++e) gt[e] += lift_first[s] * tmp[e] / step;
  }
  if (order >= NPDE_JET_GRAD) memset(grad, 0, (size_t)(nk * d) * sizeof *grad);
  if (sec) memset(second, 0, (size_t)(nk * sec) * sizeof *second);
  for (int a = 0; st == NPDE_OK && order >= NPDE_JET_GRAD && a < d; ++a) {
    const int64_t diag = sec == d ? a : a * d + a;
    for (int64_t e = 0; sec && e < nk; ++e) second[e * sec + diag] += lift_pure[2] * value[e] / step2;
    for (int s = 0; st == NPDE_OK && s < 5; ++s) {
      if (s == 2) continue;
      st = lift_at(pde, t, xi, n, a, s - 2, -1, 0, shifted, tmp);
      for (int64_t e = 0; st == NPDE_OK && e < nk; ++e) {
        grad[e * d + a] += lift_first[s] * tmp[e] / step;
        if (sec) second[e * sec + diag] += lift_pure[s] * tmp[e] / step2;
      }
    }
    for (int b = a + 1; st == NPDE_OK && sec == d * d && b < d; ++b)
      for (int sa = 0; st == NPDE_OK && sa < 5; ++sa)
        for (int sb = 0; st == NPDE_OK && sb < 5 && sa != 2; ++sb) {
          if (sb == 2) continue;
          st = lift_at(pde, t, xi, n, a, sa - 2, b, sb - 2, shifted, tmp);
          for (int64_t e = 0; st == NPDE_OK && e < nk; ++e) {
            const double v = lift_first[sa] * lift_first[sb] * tmp[e] / step2;
            second[e * sec + a * d + b] += v;
            second[e * sec + b * d + a] += v;
          }
        }
  }
  return st;
}

/* u = g + N: the plugin sees the jets of g + N; the network's time derivative is F - g_t. */
static npde_status rhs_lifted(const npde_pde *pde, double t, const npde_pde_jets *jets, double *F) {
  const int64_t n = jets->n, d = jets->d, nk = n * jets->K;
  const int64_t sec = npde_jet_second_width(jets->order, d);
  const int64_t per = 2 + (jets->order >= NPDE_JET_GRAD ? d : 0) + sec;
  double *buf = lift_scratch(pde, nk * per + n * d + nk); /* the sizes recur every stage: grown once */
  if (!buf) return NPDE_ERROR(NPDE_ERR_NOMEM, "pde lift: out of memory");
  double *value = buf, *gt = buf + nk, *grad = buf + 2 * nk;
  double *second = grad + (jets->order >= NPDE_JET_GRAD ? nk * d : 0);
  npde_status st = lift_jets(pde, t, jets->x, n, jets->order, value, grad, second, gt, buf + nk * per);
  for (int64_t e = 0; e < nk; ++e) value[e] += jets->value[e];
  for (int64_t e = 0; jets->order >= NPDE_JET_GRAD && e < nk * d; ++e) grad[e] += jets->grad[e];
  for (int64_t e = 0; e < nk * sec; ++e) second[e] += jets->second[e];
  npde_pde_jets sum = *jets;
  sum.value = value, sum.grad = jets->order >= NPDE_JET_GRAD ? grad : NULL, sum.second = sec ? second : NULL;
  if (st == NPDE_OK) st = rhs_on_box(pde, t, &sum, F);
  for (int64_t e = 0; st == NPDE_OK && e < nk; ++e) F[e] -= gt[e];
  return st;
}

bool npde_pde_boundary(const npde_pde *pde, npde_boundary_kind *kinds) {
  if (npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_boundary") != NPDE_OK) return false;
  for (int64_t j = 0; kinds && j < pde->info.dim; ++j) kinds[j] = pde->kind[j];
  return pde->boundary_stated;
}

bool npde_pde_lifted(const npde_pde *pde) {
  return npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_lifted") == NPDE_OK && pde->lift;
}

npde_status npde_pde_add_lift(const npde_pde *pde, double t, const double *x, int64_t n, double sign, double *U,
                              double *grad) {
  NPDE_TRY(npde__object_check(pde, NPDE_KIND_PDE, "npde_pde_add_lift"));
  if (!pde->lift || n == 0) return NPDE_OK;
  if (n < 0 || !x || !U) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_add_lift: NULL arrays");
  const int64_t nk = n * pde->info.outputs, d = pde->info.dim;
  const int64_t values = nk * (1 + (grad ? d : 0));
  double *g = lift_scratch(pde, values + n * d + nk);
  if (!g) return NPDE_ERROR(NPDE_ERR_NOMEM, "pde lift: out of memory");
  npde_status st = lift_jets(pde, t, x, n, grad ? NPDE_JET_GRAD : NPDE_JET_VALUE, g, g + nk, NULL, NULL, g + values);
  for (int64_t e = 0; st == NPDE_OK && e < nk; ++e) U[e] += sign * g[e];
  for (int64_t e = 0; st == NPDE_OK && grad && e < nk * d; ++e) grad[e] += sign * g[nk + e];
  return st;
}

static npde_status check_discrete(const npde_pde *pde, const char *call) {
  NPDE_TRY(npde__object_check(pde, NPDE_KIND_PDE, call));
  if (pde->info.sides == 0)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "%s: pde '%s' is not a discrete (interface) PDE", call,
                      pde->hdr.type_name);
  return NPDE_OK;
}

npde_status npde_pde_stencil(const npde_pde *pde, const double *p, const double *h, npde_stencil *st) {
  NPDE_TRY(check_discrete(pde, "npde_pde_stencil"));
  if (!p || !h || !st || st->struct_size < sizeof *st || !st->samples || st->capacity < pde->info.stencil_max)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_stencil: needs p, h and a stencil with room for %lld samples",
                      (long long)pde->info.stencil_max);
  npde_status status;
  PLUGIN_CALL(status, pde, "stencil", OPS(pde)->stencil(pde, p, h, st));
  NPDE_TRY(status);
  if (st->n < 1 || st->n > st->capacity || !isfinite(st->w0) || !isfinite(st->diag))
    return NPDE_ERROR(NPDE_ERR_NUMERIC, "pde '%s': stencil at (%g, %g, %g) is degenerate (%lld samples, w0 %g)",
                      pde->hdr.type_name, p[0], pde->info.dim > 1 ? p[1] : 0.0, pde->info.dim > 2 ? p[2] : 0.0,
                      (long long)st->n, st->w0);
  for (int64_t j = 0; j < st->n; ++j)
    if (!isfinite(st->samples[j].weight) || (unsigned)st->samples[j].side > 1u)
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "pde '%s': stencil at (%g, ...) has a bad sample %lld", pde->hdr.type_name,
                        p[0], (long long)j);
  return NPDE_OK;
}

npde_status npde_pde_level_set(const npde_pde *pde, const double *x, int64_t n, double *phi) {
  NPDE_TRY(check_discrete(pde, "npde_pde_level_set"));
  if (n < 0 || (n && (!x || !phi))) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_level_set: NULL arrays");
  npde_status st;
  PLUGIN_CALL(st, pde, "level_set", OPS(pde)->level_set(pde, x, n, phi));
  NPDE_TRY(st);
  return check_finite(pde, "level_set", phi, n);
}

npde_grid npde_pde_box_grid(const npde_pde *pde, int64_t N) {
  npde_grid g;
  memset(&g, 0, sizeof g);
  const npde_pde_info info = npde_pde_get_info(pde);
  for (int a = 0; a < 3; ++a) {
    g.n[a] = N;
    g.lo[a] = info.box_lo[a];
    g.spacing[a] = N > 1 ? (info.box_hi[a] - info.box_lo[a]) / (double)(N - 1) : 0.0;
  }
  return g;
}
