/* What the NBM method's files share (core/methods/nbm): its stages, its eval,
 * and the helpers they use. */
#ifndef NPDE_NBM_IMPL_H
#define NPDE_NBM_IMPL_H

#include "npde/npde_discrete.h"
#include "run_context.h"

extern const npde_stage npde__stage_train;

/* The eval stage's work for interface PDEs (eval_discrete.c). */
npde_status npde__eval_discrete(npde_run_ctx *rs, const npde_config *params);

/* Interface PDEs: the nodes of g ('ij' order, n x 3, malloc'ed into *x); u (n values) = the output of
 * the network (rs->theta) of the side phi selects, at the n host points x; RMSE and max |a - b|. */
npde_status npde__grid_points(const npde_grid *g, double **x);
npde_status npde__side_values(npde_run_ctx *rs, const double *x, const double *phi, int64_t n, double *u);
void npde__rmse_linf(const double *a, const double *b, int64_t n, double *rmse, double *linf);
/* sum (a - b)^2 and max |a - b| over n values (the parts of RMSE and Linf that add up over ranks). */
void npde__sq_sum_max(const double *a, const double *b, int64_t n, double *sum_sq, double *max_abs);

#endif
