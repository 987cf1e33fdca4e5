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

typedef enum npde_grid_solve_method {
  NPDE_GRID_SOLVE_AUTO = 0,   /* direct up to direct_max_unknowns, iterative above */
  NPDE_GRID_SOLVE_DIRECT = 1, /* UMFPACK (SuiteSparse) */
  NPDE_GRID_SOLVE_ITERATIVE = 2 /* BiCGSTAB with ILU(0) */
} npde_grid_solve_method;

typedef struct npde_grid_solve_options {
  npde_grid_solve_method method;
  double tolerance;            /* iterative: relative residual (0: 1e-12) */
  int64_t max_iterations;      /* iterative (0: 20000) */
  int64_t direct_max_unknowns; /* auto (0: 70000) */
} npde_grid_solve_options;

typedef struct npde_grid_solve_report {
  int64_t unknowns, nonzeros, iterations;
  bool direct;
  double relative_residual; /* |A u - b| / |b| of the returned u */
  double assembly_seconds, solve_seconds;
} npde_grid_solve_report;

/**
 * The grid reference of a discrete PDE (nbm.md §7.3): the stencils at every
 * node with h = spacing, nodal unknowns in place of the networks, the sparse
 * system solved; u gets n[0] n[1] n[2] values. opt and rep may be NULL. Since: ABI 1.1
 */
NPDE_API NPDE_NODISCARD npde_status npde_pde_grid_solve(const npde_pde *pde, const npde_grid *grid,
                                                        const npde_grid_solve_options *opt, double *u,
                                                        npde_grid_solve_report *rep);

#ifdef __cplusplus
}
#endif
#endif
