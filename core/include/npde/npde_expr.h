/**
 * Parsed functions: expressions from YAML, compiled with muparser and
 * evaluated over many points at once.
 *
 * An expression may use the coordinates (x, y, z for dim <= 3, and x1 .. xd
 * always), t when the scope has time, r = |x|, the named constants of a
 * `params:` map, pi, muparser's _pi and _e, its functions (sin, exp, sqrt,
 * abs, min, max, ...) and operators (+ - * / ^, comparisons, a ? b : c), and
 * the scope's extra names (values given per point, such as the fields of an
 * equation PDE). A name not among these, a syntax error, or a `params:` key
 * that shadows a built-in name is a configuration error at the expression's
 * file:line:column that gives the position in the expression and the names
 * it could have meant.
 *
 * Threads: one thread per handle (evaluation uses the handle's buffers);
 * muparser itself may split a bulk evaluation over OpenMP threads.
 */
#ifndef NPDE_EXPR_H
#define NPDE_EXPR_H

#include <stdbool.h>
#include <stdint.h>

#include "npde_config.h"
#include "npde_error.h"
#include "npde_export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_expr npde_expr;

/** What the expressions of one setting may name. */
typedef struct npde_expr_scope {
  int64_t dim;                /* coordinates x1..xd (and x, y, z when dim <= 3); 1 <= dim <= 64 */
  bool time;                  /* t */
  const npde_config *params;  /* a map of named numbers, or NULL */
  const char *const *extra;   /* further per-point names, NULL-terminated; NULL for none */
} npde_expr_scope;

/**
 * Compile node: one expression (a scalar) or a sequence of m of them.
 * Numbers are expressions too ("0", "1e-3"). *out is the caller's.
 * Since: ABI 1.3
 */
NPDE_API NPDE_NODISCARD npde_status npde_expr_compile(const npde_config *node, const npde_expr_scope *scope,
                                                      npde_expr **out);
NPDE_API void npde_expr_destroy(npde_expr **e);
/** Number of expressions (outputs). */
NPDE_API int64_t npde_expr_count(const npde_expr *e);
/** Whether expression k (or any, for k < 0) names `name`. */
NPDE_API bool npde_expr_uses(const npde_expr *e, int64_t k, const char *name);
/**
 * out[i m + k] = expression k at point i, for i < n: x is n x dim
 * (row-major), extra is n x (number of extra names) or NULL when the scope
 * has none. A non-finite value is a configuration error at the
 * expression's location that names the point.
 */
NPDE_API NPDE_NODISCARD npde_status npde_expr_eval(npde_expr *e, const double *x, int64_t n, double t,
                                                   const double *extra, double *out);

#ifdef __cplusplus
}
#endif
#endif
