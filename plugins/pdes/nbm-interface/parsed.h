/* NBM problems from expressions (parsed.c), for nbm_pde.c. */
#ifndef NBM_PARSED_H
#define NBM_PARSED_H

#include "npde/plugin/npde_ext.h"

#include "benchmarks.h"

/* The compiled expressions; NULL where the YAML gives none. Index 0 is inside (phi < 0), 1 outside. */
typedef struct nbm_parsed {
  npde_expr *phi, *mu[2], *k[2], *f[2], *u[2], *alpha, *beta, *g;
} nbm_parsed;

/* Whether level_set: names an expression (anything but a .npy path). */
bool nbm_parsed_is_expression(const char *level_set);
/* Compile k (every problem), level_set when it is an expression, and with expressions (problem: expressions) the
 * rest; point pb's functions at them and setup->parsed at ps. */
npde_status nbm_parsed_create(nbm_parsed *ps, const npde_config *cfg, bool expressions, nbm_setup *setup,
                              nbm_problem *pb);
void nbm_parsed_destroy(nbm_parsed *ps);

#endif
