/* The equation PDE: K named fields u_k and u_t = F_k, each F_k an
 * expression (docs/problems.md) in the coordinates, t, params: and, for
 * every field f, its value f, first derivatives f_x1 .. f_xd, pure second
 * derivatives f_x1x1 .. f_xdxd, Laplacian lap_f and mixed derivatives
 * f_xixj (i < j, d <= 8); for d <= 3 also f_x, f_y, f_z, f_xx, f_yy, f_zz,
 * f_xy, f_xz, f_yz. The jet order is the least that the names used need.
 * Jets are copied into one column per name an expression uses, a chunk of
 * points at a time, and the expressions are evaluated in bulk. */
#include <stdio.h>
#include <string.h>

#include "npde/plugin/npde_ext.h"

#define MAX_FIELDS 16
#define MAX_DIM 64
#define MAX_MIXED_DIM 8 /* mixed-derivative names (d (d - 1) / 2 per field) up to this d */
#define CHUNK 4096
#define NAME_LEN 24

/* What a name reads from the jets of field k. */
typedef enum source { VALUE, GRAD, SECOND, LAPLACIAN, MIXED } source;
typedef struct name {
  char text[NAME_LEN];
  source src;
  int field, i, j; /* GRAD: i; SECOND: i (d2/dxi2); MIXED: i < j */
} name;

typedef struct equation_state {
  int64_t d, K;
  npde_jet_order order;
  npde_expr *rhs;
  name *names;
  int64_t n_names;
  int64_t *used, n_used; /* the names the expressions use: their indices */
  double *extra;         /* CHUNK x n_names */
  double *out;           /* CHUNK x K */
} equation_state;

static void add_name(equation_state *s, source src, int field, int i, int j, const char *fmt, const char *f,
                     const char *suffix) {
  name *n = &s->names[s->n_names++];
  n->src = src, n->field = field, n->i = i, n->j = j;
  snprintf(n->text, sizeof n->text, fmt, f, suffix);
}

/* Every name the fields give, in a fixed order. */
static npde_status make_names(equation_state *s, const npde_config *fields) {
  const int64_t d = s->d, mixed = d <= MAX_MIXED_DIM ? d * (d - 1) / 2 : 0, alias = d <= 3 ? 2 * d + mixed : 0;
  const int64_t per_field = 1 + 2 * d + 1 + mixed + alias;
  s->names = npde_alloc((size_t)(s->K * per_field) * sizeof *s->names);
  if (!s->names) return NPDE_ERROR(NPDE_ERR_NOMEM, "pde 'equation': out of memory");
  static const char *const xyz[] = {"x", "y", "z"};
  for (int k = 0; k < s->K; ++k) {
    const npde_config *node = npde_config_at(fields, (size_t)k);
    const char *f = npde_config_scalar(node);
    if (!f || !*f || strlen(f) > 8 || strspn(f, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(f) ||
        !strcmp(f, "x") || !strcmp(f, "y") || !strcmp(f, "z") || !strcmp(f, "t") || !strcmp(f, "r") ||
        !strcmp(f, "pi") || !strcmp(f, "lap"))
      return npde_config_error(node, "pde 'equation': a field name is 1 to 8 letters and not x, y, z, t, r, pi or "
                               "lap; found '%s'", f ? f : "");
    for (int q = 0; q < k; ++q)
      if (!strcmp(f, npde_config_scalar(npde_config_at(fields, (size_t)q))))
        return npde_config_error(node, "pde 'equation': the field '%s' is named twice", f);
    char sfx[NAME_LEN];
    add_name(s, VALUE, k, 0, 0, "%s%s", f, "");
    for (int i = 0; i < d; ++i) snprintf(sfx, sizeof sfx, "_x%d", i + 1), add_name(s, GRAD, k, i, 0, "%s%s", f, sfx);
    for (int i = 0; i < d; ++i)
      snprintf(sfx, sizeof sfx, "_x%dx%d", i + 1, i + 1), add_name(s, SECOND, k, i, i, "%s%s", f, sfx);
    add_name(s, LAPLACIAN, k, 0, 0, "lap_%s%s", f, "");
    for (int i = 0; i < d && d <= MAX_MIXED_DIM; ++i)
      for (int j = i + 1; j < d; ++j)
        snprintf(sfx, sizeof sfx, "_x%dx%d", i + 1, j + 1), add_name(s, MIXED, k, i, j, "%s%s", f, sfx);
    if (d > 3) continue;
    for (int i = 0; i < d; ++i) snprintf(sfx, sizeof sfx, "_%s", xyz[i]), add_name(s, GRAD, k, i, 0, "%s%s", f, sfx);
    for (int i = 0; i < d; ++i)
      snprintf(sfx, sizeof sfx, "_%s%s", xyz[i], xyz[i]), add_name(s, SECOND, k, i, i, "%s%s", f, sfx);
    for (int i = 0; i < d; ++i)
      for (int j = i + 1; j < d; ++j)
        snprintf(sfx, sizeof sfx, "_%s%s", xyz[i], xyz[j]), add_name(s, MIXED, k, i, j, "%s%s", f, sfx);
  }
  return NPDE_OK;
}

static npde_status equation_create(npde_pde *p, const npde_config *cfg, npde_backend *be) {
  (void)be;
  equation_state *s = npde_pde_state(p);
  NPDE_TRY(npde_config_get_int(cfg, "dim", &s->d));
  const npde_config *fields = npde_config_get(cfg, "fields"), *rhs = npde_config_get(cfg, "rhs");
  if (npde_config_node_type(fields) != NPDE_CONFIG_SEQUENCE || npde_config_size(fields) < 1 ||
      npde_config_size(fields) > MAX_FIELDS)
    return npde_config_error(fields, "pde 'equation': fields: is a list of 1 to %d names, e.g. [u] or [phi, psi]",
                             MAX_FIELDS);
  s->K = (int64_t)npde_config_size(fields);
  NPDE_TRY(make_names(s, fields));
  const char **extra = npde_alloc((size_t)(s->n_names + 1) * sizeof *extra);
  if (!extra) return NPDE_ERROR(NPDE_ERR_NOMEM, "pde 'equation': out of memory");
  for (int64_t q = 0; q < s->n_names; ++q) extra[q] = s->names[q].text;
  extra[s->n_names] = NULL;
  npde_expr_scope scope = {.dim = s->d, .time = true, .params = npde_config_get(cfg, "params"), .extra = extra};
  npde_status st = npde_expr_compile(rhs, &scope, &s->rhs);
  npde_free(extra);
  NPDE_TRY(st);
  if (npde_expr_count(s->rhs) != s->K)
    return npde_config_error(rhs, "pde 'equation': rhs: %lld expressions for %lld fields; give one per field, in "
                             "the order of fields:", (long long)npde_expr_count(s->rhs), (long long)s->K);
  s->used = npde_alloc((size_t)s->n_names * sizeof *s->used);
  s->out = npde_alloc((size_t)(CHUNK * s->K) * sizeof *s->out);
  if (!s->used || !s->out) return NPDE_ERROR(NPDE_ERR_NOMEM, "pde 'equation': out of memory");
  s->order = NPDE_JET_VALUE;
  for (int64_t q = 0; q < s->n_names; ++q) {
    if (!npde_expr_uses(s->rhs, -1, s->names[q].text)) continue;
    s->used[s->n_used++] = q;
    const source src = s->names[q].src;
    const npde_jet_order need = src == VALUE ? NPDE_JET_VALUE : src == GRAD ? NPDE_JET_GRAD
                                : src == MIXED ? NPDE_JET_HESSIAN : NPDE_JET_LAPLACIAN;
    if (need > s->order) s->order = need;
  }
  /* compiled again with only the names used: the per-point values are then a compact n x n_used block */
  extra = npde_alloc((size_t)(s->n_used + 1) * sizeof *extra);
  if (!extra) return NPDE_ERROR(NPDE_ERR_NOMEM, "pde 'equation': out of memory");
  for (int64_t u = 0; u < s->n_used; ++u) extra[u] = s->names[s->used[u]].text;
  extra[s->n_used] = NULL;
  npde_expr_destroy(&s->rhs);
  scope.extra = extra;
  st = npde_expr_compile(rhs, &scope, &s->rhs);
  npde_free(extra);
  NPDE_TRY(st);
  s->extra = npde_alloc((size_t)(CHUNK * (s->n_used ? s->n_used : 1)) * sizeof *s->extra);
  return s->extra ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "pde 'equation': out of memory");
}

static void equation_destroy(npde_pde *p) {
  equation_state *s = npde_pde_state(p);
  npde_expr_destroy(&s->rhs);
  npde_free(s->names), npde_free(s->used), npde_free(s->extra), npde_free(s->out);
}

static npde_status equation_info(const npde_pde *p, npde_pde_info *info) {
  const equation_state *s = npde_pde_state(p);
  info->dim = s->d;
  info->outputs = s->K;
  info->order = s->order;
  info->has_exact = false; /* exact: in the config gives one */
  info->dirichlet_zero = false; /* the engine's boundary: says */
  return NPDE_OK;
}

/* The value a name takes at point i, from jets of the order this PDE asked for (or higher). */
static double jet_value(const npde_pde_jets *jets, const name *nm, int64_t i) {
  const int64_t d = jets->d, K = jets->K, ik = i * K + nm->field;
  const bool hessian = jets->order == NPDE_JET_HESSIAN;
  switch (nm->src) {
    case VALUE: return jets->value[ik];
    case GRAD: return jets->grad[ik * d + nm->i];
    case SECOND: return jets->second[hessian ? (ik * d + nm->i) * d + nm->i : ik * d + nm->i];
    case LAPLACIAN: return npde_jets_laplacian(jets, i, nm->field);
    case MIXED: return jets->second[(ik * d + nm->i) * d + nm->j];
  }
  return 0.0;
}

static npde_status equation_rhs(const npde_pde *p, double t, const npde_pde_jets *jets, double *F) {
  const equation_state *s = npde_pde_state(p);
  const int64_t K = s->K, m = s->n_used;
  for (int64_t i0 = 0; i0 < jets->n; i0 += CHUNK) {
    const int64_t c = jets->n - i0 < CHUNK ? jets->n - i0 : CHUNK;
    for (int64_t u = 0; u < m; ++u) {
      const name *nm = &s->names[s->used[u]];
      for (int64_t i = 0; i < c; ++i) s->extra[i * m + u] = jet_value(jets, nm, i0 + i);
    }
    NPDE_TRY(npde_expr_eval(s->rhs, jets->x + i0 * s->d, c, t, s->extra, F + i0 * K));
  }
  return NPDE_OK;
}

static const npde_pde_ops equation_ops = {
    .struct_size = sizeof(npde_pde_ops),
    .create = equation_create,
    .destroy = equation_destroy,
    .info = equation_info,
    .rhs = equation_rhs,
};

static const npde_param_spec equation_params[] = {
    {.name = "dim", .type = NPDE_PARAM_INT, .default_value = "2", .min = 1,
     .doc = "d (the box is domain:, [-1, 1]^d by default; boundary: and dirichlet: are the engine's, docs/problems.md)",
     .max = MAX_DIM, .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX},
    {.name = "fields", .type = NPDE_PARAM_ANY, .default_value = "[u]", .doc = "the names of the K fields, e.g. [u]"},
    {.name = "rhs", .type = NPDE_PARAM_ANY, .doc = "u_t = rhs: one expression per field (docs/problems.md)"},
    {.name = "params", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "named numbers for rhs:, initial: and exact:"},
    {0},
};

const npde_component_desc equation_pde_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_PDE,
    .name = "equation",
    .summary = "u_t = F written in YAML: fields, rhs expressions in their derivatives, x, t and params",
    .ops = &equation_ops,
    .state_size = sizeof(equation_state),
    .params = equation_params,
};
