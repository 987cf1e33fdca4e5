/* npde_expr.h: parsed functions on muparser's C interface.
 *
 * muparser's bulk mode reads every variable at the same offset from its
 * address, so each name gets a column of CHUNK values (t, r and the
 * coordinates included) and points are evaluated CHUNK at a time. The
 * parser's own OpenMP threads split each chunk. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muParserDLL.h>

#include "npde/npde_expr.h"
#include "config_impl.h"

#define FEW 32 /* up to this many points: mupEval per point, not the bulk call */
#define CHUNK 4096
#define MAX_DIM 64

struct npde_expr {
  int64_t m, dim, n_extra, n_vars;
  bool time;
  muParserHandle_t *h;  /* one parser per expression */
  char **text;          /* the expressions, for messages */
  char **where;         /* file:line:column of each, for messages (the config tree may be gone by then) */
  char (*var)[24];      /* variable names, in column order: coordinates, x1..xd, t, r, extras */
  double *cols;         /* a column of CHUNK values per name, x, y, z sharing x1, x2, x3's */
  double *res;          /* CHUNK results */
  int64_t x_alias;      /* how many of the names are x, y, z (listed first; 0 for dim > 3) */
  int64_t *used_extra, n_used_extra; /* the extra names some expression reads: only those are copied */
  bool uses_r;
};

/* Built-in names a params: key may not take. */
static const char *const builtin_names[] = {"x", "y", "z", "t", "r", "pi", "_pi", "_e"};

static bool is_builtin(const char *name, int64_t dim) {
  for (size_t i = 0; i < sizeof builtin_names / sizeof *builtin_names; ++i)
    if (strcmp(name, builtin_names[i]) == 0) return true;
  if (name[0] == 'x' && isdigit((unsigned char)name[1])) {
    char *end;
    long j = strtol(name + 1, &end, 10);
    return *end == '\0' && j >= 1 && j <= dim;
  }
  return false;
}

void npde_expr_destroy(npde_expr **ep) {
  if (!ep || !*ep) return;
  npde_expr *e = *ep;
  for (int64_t k = 0; k < e->m; ++k) {
    if (e->h && e->h[k]) mupRelease(e->h[k]);
    if (e->text) free(e->text[k]);
    if (e->where) free(e->where[k]);
  }
  free(e->used_extra);
  free(e->h), free(e->text), free(e->where), free(e->var), free(e->cols), free(e->res);
  free(e);
  *ep = NULL;
}

int64_t npde_expr_count(const npde_expr *e) { return e ? e->m : 0; }

/* The values of name v: x, y, z read x1, x2, x3's, so column c holds x1..xd, t, r and the extras in order. */
static double *column(const npde_expr *e, int64_t v) {
  return e->cols + (v < e->x_alias ? v : v - e->x_alias) * CHUNK;
}

/* "x, y, t, kappa" into buf: the names an expression could have meant. */
static void known_names(const npde_expr *e, const npde_config *params, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = '\0';
  for (int64_t v = 0; v < e->n_vars && len < size; ++v)
    len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", e->var[v]);
  for (size_t i = 0; params && i < npde_config_size(params) && len < size; ++i)
    len += (size_t)snprintf(buf + len, size - len, ", %s", npde_config_key_at(params, i));
  if (len < size) snprintf(buf + len, size - len, ", pi");
}

/* The parser's error as a configuration error at node. */
static npde_status parse_error(const npde_expr *e, muParserHandle_t h, const npde_config *node, const char *text,
                               const npde_config *params) {
  const int code = (int)mupGetErrorCode(h);
  const long pos = (long)mupGetErrorPos(h);
  const char *token = mupGetErrorToken(h);
  char known[1024];
  known_names(e, params, known, sizeof known);
  /* muparser's ecUNASSIGNABLE_TOKEN (1): a name it does not know */
  if (code == 1 && token && (isalpha((unsigned char)token[0]) || token[0] == '_'))
    return npde_config_error(node, "unknown name '%s' at position %ld of '%s'; known: %s (and muparser's "
                             "functions: sin, cos, tan, exp, log, sqrt, abs, tanh, min, max, ...)",
                             token, pos + 1, text, known);
  return npde_config_error(node, "cannot parse '%s': %s (position %ld); names it may use: %s", text,
                           mupGetErrorMsg(h), pos + 1, known);
}

static npde_status define_names(npde_expr *e, const npde_expr_scope *scope) {
  int64_t n = 0;
  const int64_t alias = scope->dim <= 3 ? scope->dim : 0;
  static const char *const xyz[] = {"x", "y", "z"};
  int64_t n_extra = 0;
  while (scope->extra && scope->extra[n_extra]) ++n_extra;
  e->n_vars = alias + scope->dim + (scope->time ? 1 : 0) + 1 + n_extra;
  e->var = calloc((size_t)e->n_vars, sizeof *e->var);
  e->cols = calloc((size_t)((e->n_vars - alias) * CHUNK), sizeof *e->cols);
  e->res = calloc(CHUNK, sizeof *e->res);
  if (!e->var || !e->cols || !e->res) return NPDE_ERROR(NPDE_ERR_NOMEM, "expressions: out of memory");
  for (int64_t j = 0; j < alias; ++j) snprintf(e->var[n++], sizeof *e->var, "%s", xyz[j]);
  for (int64_t j = 0; j < scope->dim; ++j) snprintf(e->var[n++], sizeof *e->var, "x%lld", (long long)(j + 1));
  if (scope->time) snprintf(e->var[n++], sizeof *e->var, "t");
  snprintf(e->var[n++], sizeof *e->var, "r");
  for (int64_t j = 0; j < n_extra; ++j) {
    if (strlen(scope->extra[j]) >= sizeof *e->var)
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "expressions: the name '%s' is too long", scope->extra[j]);
    snprintf(e->var[n++], sizeof *e->var, "%s", scope->extra[j]);
  }
  e->x_alias = alias;
  e->n_extra = n_extra;
  return NPDE_OK;
}

static npde_status compile_one(npde_expr *e, int64_t k, const npde_config *node, const npde_config *params) {
  if (npde_config_node_type(node) != NPDE_CONFIG_SCALAR)
    return npde_config_error(node, "expected an expression (text such as 'sin(pi*x)*exp(-t)')");
  const char *text = npde_config_scalar(node);
  char where[1200];
  e->where[k] = strdup(npde__config_where(node, where, sizeof where));
  e->text[k] = strdup(text ? text : "");
  if (!e->text[k] || !e->where[k]) return NPDE_ERROR(NPDE_ERR_NOMEM, "expressions: out of memory");
  muParserHandle_t h = e->h[k] = mupCreate(muBASETYPE_FLOAT);
  if (!h) return NPDE_ERROR(NPDE_ERR_NOMEM, "expressions: muparser could not create a parser");
  mupDefineConst(h, "pi", M_PI);
  for (size_t i = 0; params && i < npde_config_size(params); ++i) {
    double v;
    NPDE_TRY(npde_config_as_real(npde_config_at(params, i), &v));
    mupDefineConst(h, npde_config_key_at(params, i), v);
    if (mupError(h))
      return npde_config_error(npde_config_at(params, i), "params: '%s' is not a usable name: %s",
                               npde_config_key_at(params, i), mupGetErrorMsg(h));
  }
  for (int64_t v = 0; v < e->n_vars; ++v) {
    mupDefineVar(h, e->var[v], column(e, v));
  }
  mupSetExpr(h, e->text[k]);
  (void)mupEval(h); /* parses, so errors show here and not at the first evaluation */
  if (mupError(h)) return parse_error(e, h, node, e->text[k], params);
  return NPDE_OK;
}

npde_status npde_expr_compile(const npde_config *node, const npde_expr_scope *scope, npde_expr **out) {
  if (!out || !node || !scope) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_expr_compile: NULL argument");
  *out = NULL;
  if (scope->dim < 1 || scope->dim > MAX_DIM)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_expr_compile: dim %lld outside [1, %d]", (long long)scope->dim,
                      MAX_DIM);
  const npde_config *params = scope->params;
  if (params && npde_config_node_type(params) != NPDE_CONFIG_MAP)
    return npde_config_error(params, "params: expected a map of names to numbers (params: {k: 2, c: 0.5})");
  for (size_t i = 0; params && i < npde_config_size(params); ++i) {
    const char *key = npde_config_key_at(params, i);
    bool clash = is_builtin(key, scope->dim);
    for (int64_t j = 0; !clash && scope->extra && scope->extra[j]; ++j) clash = strcmp(key, scope->extra[j]) == 0;
    if (clash)
      return npde_config_error(npde_config_at(params, i), "params: '%s' is a built-in name; built-ins: x, y, z, "
                               "x1..x%lld, t, r, pi, _pi, _e%s; rename the parameter", key, (long long)scope->dim,
                               scope->extra ? " and the fields and their derivatives" : "");
  }
  const bool list = npde_config_node_type(node) == NPDE_CONFIG_SEQUENCE;
  const int64_t m = list ? (int64_t)npde_config_size(node) : 1;
  if (m < 1) return npde_config_error(node, "expected at least one expression");
  npde_expr *e = calloc(1, sizeof *e);
  if (!e) return NPDE_ERROR(NPDE_ERR_NOMEM, "expressions: out of memory");
  e->m = m;
  e->dim = scope->dim;
  e->time = scope->time;
  e->h = calloc((size_t)m, sizeof *e->h);
  e->text = calloc((size_t)m, sizeof *e->text);
  e->where = calloc((size_t)m, sizeof *e->where);
  npde_status st = e->h && e->text && e->where ? define_names(e, scope)
                                              : NPDE_ERROR(NPDE_ERR_NOMEM, "expressions: out of memory");
  for (int64_t k = 0; st == NPDE_OK && k < m; ++k)
    st = compile_one(e, k, list ? npde_config_at(node, (size_t)k) : node, params);
  /* what evaluation must fill: r, and the extra names the expressions read */
  e->used_extra = st == NPDE_OK ? malloc((size_t)(e->n_extra ? e->n_extra : 1) * sizeof *e->used_extra) : NULL;
  if (st == NPDE_OK && !e->used_extra) st = NPDE_ERROR(NPDE_ERR_NOMEM, "expressions: out of memory");
  const int64_t first_extra = e->n_vars - e->n_extra;
  for (int64_t j = 0; st == NPDE_OK && j < e->n_extra; ++j)
    if (npde_expr_uses(e, -1, e->var[first_extra + j])) e->used_extra[e->n_used_extra++] = j;
  if (st == NPDE_OK) e->uses_r = npde_expr_uses(e, -1, "r");
  if (st != NPDE_OK) {
    npde_expr_destroy(&e);
    return st;
  }
  *out = e;
  return NPDE_OK;
}

bool npde_expr_uses(const npde_expr *e, int64_t k, const char *name) {
  if (!e || !name) return false;
  for (int64_t q = k < 0 ? 0 : k; q < (k < 0 ? e->m : k + 1) && q < e->m; ++q) {
    const int nv = mupGetExprVarNum(e->h[q]);
    for (int v = 0; v < nv; ++v) {
      const muChar_t *var = NULL;
      muFloat_t *ptr = NULL;
      mupGetExprVar(e->h[q], (unsigned)v, &var, &ptr);
      if (var && strcmp(var, name) == 0) return true;
    }
  }
  return false;
}

/* Point i of x (and extra) into row `row` of the variable columns. */
static void fill_row(npde_expr *e, const double *x, int64_t i, double t, const double *extra, int64_t row) {
  const int64_t d = e->dim, first_x = e->x_alias, t_col = first_x + d, r_col = t_col + (e->time ? 1 : 0);
  const double *p = x + i * d;
  for (int64_t j = 0; j < d; ++j) column(e, first_x + j)[row] = p[j];
  if (e->time) column(e, t_col)[row] = t;
  if (e->uses_r) {
    double r2 = 0.0;
    for (int64_t j = 0; j < d; ++j) r2 += p[j] * p[j];
    column(e, r_col)[row] = sqrt(r2);
  }
  for (int64_t u = 0; u < e->n_used_extra; ++u) {
    const int64_t j = e->used_extra[u];
    column(e, r_col + 1 + j)[row] = extra[i * e->n_extra + j];
  }
}

/* c points of x (and extra, c x n_extra) into the columns, one column at a time. */
static void fill_columns(npde_expr *e, const double *x, int64_t c, double t, const double *extra) {
  const int64_t d = e->dim, first_x = e->x_alias, t_col = first_x + d, r_col = t_col + (e->time ? 1 : 0);
  for (int64_t j = 0; j < d; ++j) {
    double *col = column(e, first_x + j);
    for (int64_t i = 0; i < c; ++i) col[i] = x[i * d + j];
  }
  if (e->time) {
    double *col = column(e, t_col);
    for (int64_t i = 0; i < c; ++i) col[i] = t;
  }
  if (e->uses_r) {
    double *col = column(e, r_col);
    for (int64_t i = 0; i < c; ++i) {
      double r2 = 0.0;
      for (int64_t j = 0; j < d; ++j) r2 += x[i * d + j] * x[i * d + j];
      col[i] = sqrt(r2);
    }
  }
  for (int64_t u = 0; u < e->n_used_extra; ++u) {
    const int64_t j = e->used_extra[u];
    double *col = column(e, r_col + 1 + j);
    for (int64_t i = 0; i < c; ++i) col[i] = extra[i * e->n_extra + j];
  }
}

/* muparser's own evaluation error of expression k, if it reported one. */
static npde_status eval_error(const npde_expr *e, int64_t k) {
  if (mupError(e->h[k]))
    return NPDE_ERROR(NPDE_ERR_CONFIG, "%s: evaluating '%s': %s", e->where[k], e->text[k], mupGetErrorMsg(e->h[k]));
  return NPDE_OK;
}

/* Expression k is NaN or Inf somewhere among the n points: count them (one point at a time) and name the first. */
static npde_status not_finite(npde_expr *e, int64_t k, const double *x, int64_t n, double t, const double *extra) {
  int64_t bad = 0, first = -1;
  double first_value = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    fill_row(e, x, i, t, extra, 0);
    const double v = mupEval(e->h[k]);
    if (isfinite(v)) continue;
    if (first < 0) first = i, first_value = v;
    ++bad;
  }
  if (first < 0) first = 0;
  return NPDE_ERROR(NPDE_ERR_NO_RETRY, "%s: '%s' is NaN or Inf at %lld of %lld points (first: point %lld, %g at x1 "
                    "= %g%s, t = %g)", e->where[k], e->text[k], (long long)bad, (long long)n, (long long)first,
                    first_value, x[first * e->dim], e->dim > 1 ? ", ..." : "", t);
}

npde_status npde_expr_eval(npde_expr *e, const double *x, int64_t n, double t, const double *extra, double *out) {
  if (!e || n < 0 || (n > 0 && (!x || !out)) || (n > 0 && e->n_extra > 0 && !extra))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_expr_eval: NULL argument");
  if (n <= FEW) { /* one point at a time: the bulk call's thread team costs more than a few points */
    for (int64_t i = 0; i < n; ++i) {
      fill_row(e, x, i, t, extra, 0);
      for (int64_t k = 0; k < e->m; ++k) {
        const double v = mupEval(e->h[k]);
        NPDE_TRY(eval_error(e, k));
        if (!isfinite(v)) return not_finite(e, k, x, n, t, extra);
        out[i * e->m + k] = v;
      }
    }
    return NPDE_OK;
  }
  for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
    const int64_t c = n - i0 < CHUNK ? n - i0 : CHUNK;
    fill_columns(e, x + i0 * e->dim, c, t, extra ? extra + i0 * e->n_extra : NULL);
    for (int64_t k = 0; k < e->m; ++k) {
      mupEvalBulk(e->h[k], e->res, (int)c);
      bool finite = true;
      for (int64_t i = 0; i < c; ++i) finite = finite && isfinite(e->res[i]);
      NPDE_TRY(eval_error(e, k));
      if (!finite) return not_finite(e, k, x, n, t, extra);
      for (int64_t i = 0; i < c; ++i) out[(i0 + i) * e->m + k] = e->res[i];
    }
  }
  return NPDE_OK;
}
