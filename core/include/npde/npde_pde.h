/** PDE instances: creation and the calls that dispatch to their plugins (plugin/npde_pde_ops.h). */
#ifndef NPDE_PDE_H
#define NPDE_PDE_H

#include "npde_registry.h"
#include "plugin/npde_pde_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/** YAML: pde.type and that plugin's keys. Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_pde_create(const npde_registry *reg, const char *name,
                                                    const npde_config *node, npde_pde **out);
NPDE_API void npde_pde_destroy(npde_pde **pde);
/** The PDE's description; never fails on a live handle (zeroed otherwise). */
NPDE_API npde_pde_info npde_pde_get_info(const npde_pde *pde);
NPDE_API NPDE_NODISCARD npde_status npde_pde_initial(const npde_pde *pde, const double *x, int64_t n, double *U);
NPDE_API NPDE_NODISCARD npde_status npde_pde_exact(const npde_pde *pde, double t, const double *x, int64_t n,
                                                   double *U);
NPDE_API NPDE_NODISCARD npde_status npde_pde_rhs(const npde_pde *pde, double t, const npde_pde_jets *jets, double *F);
/**
 * The box of a time-dependent PDE: lo[j], hi[j] for j < dim; [-1, 1]^d unless
 * its config has `domain: {lo: ..., hi: ...}` (docs/problems.md). Networks
 * and samplers work on the reference cube [-1, 1]^d: npde_pde_initial,
 * _exact and _rhs take points and jets there, and map them to the box (x =
 * (lo + hi)/2 + (hi - lo)/2 xi, derivatives scaled by 2 / (hi - lo)) before
 * the plugin or the expressions see them. Returns whether the box differs
 * from the reference cube. Since: ABI 1.3
 */
NPDE_API bool npde_pde_domain(const npde_pde *pde, double *lo, double *hi);
/** n points of the box (n x dim) on the reference cube, xi = (x - center) / half; xi may be x. Since: ABI 1.3 */
NPDE_API void npde_pde_to_reference(const npde_pde *pde, const double *x, int64_t n, double *xi);
/**
 * The boundary kind of each axis (dim entries; none, dirichlet or periodic):
 * the config's `boundary:` or, without one, dirichlet on every axis when the
 * plugin reports dirichlet_zero, else none. Returns whether the config
 * states it (the pipeline then sets the network's envelope from it).
 * Since: ABI 1.3
 */
NPDE_API bool npde_pde_boundary(const npde_pde *pde, npde_boundary_kind *kinds);
/**
 * Non-zero Dirichlet values (`dirichlet:` in the config, docs/problems.md):
 * the solution is u = g + N with g the lift, N the network, zero on the
 * Dirichlet faces. npde_pde_rhs takes N's jets and returns N's time
 * derivative, F(g + N) - g_t; npde_pde_initial and _exact stay u's.
 * npde_pde_add_lift adds sign * g (and its gradient on the reference cube
 * when grad is not NULL) at n points of the reference cube; it does nothing
 * when there is no lift. Since: ABI 1.3
 */
NPDE_API bool npde_pde_lifted(const npde_pde *pde);
NPDE_API NPDE_NODISCARD npde_status npde_pde_add_lift(const npde_pde *pde, double t, const double *x, int64_t n,
                                                      double sign, double *U, double *grad);

/** Discrete PDEs (info.sides = 2): the residual at p for cell sizes h. st->capacity >= info.stencil_max. Since: ABI 1.1 */
NPDE_API NPDE_NODISCARD npde_status npde_pde_stencil(const npde_pde *pde, const double *p, const double *h,
                                                     npde_stencil *st);
/** Discrete PDEs: the level set at n points. Since: ABI 1.1 */
NPDE_API NPDE_NODISCARD npde_status npde_pde_level_set(const npde_pde *pde, const double *x, int64_t n, double *phi);

/** A grid of nodes lo + (i, j, k) spacing, i < n[0], ...; node values in 'ij' order (k fastest). */
typedef struct npde_grid {
  int64_t n[3];
  double lo[3], spacing[3];
} npde_grid;

/** N nodes per axis spanning the discrete PDE's box (linspace(lo, hi, N), boundary nodes included). */
NPDE_API npde_grid npde_pde_box_grid(const npde_pde *pde, int64_t N);

#ifdef __cplusplus
}
#endif
#endif
