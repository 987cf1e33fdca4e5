/* The benchmark problems of docs/methods/nbm.md §1.3-1.5 and level sets sampled on grids (§2.2). */
#ifndef NBM_BENCHMARKS_H
#define NBM_BENCHMARKS_H

#include <stddef.h>

#include "nbm.h"

typedef enum nbm_problem_id { NBM_SPHERE = 0, NBM_STAR = 1, NBM_NO_INTERFACE = 2 } nbm_problem_id;

typedef enum nbm_interp {
  NBM_INTERP_MINMOD = 0,   /* Min & Gibou's non-oscillatory quadratic, signed minmod of second differences */
  NBM_INTERP_ABSMIN = 1,   /* the same with min |D2| (always subtractive), as JAX-DIPS */
  NBM_INTERP_TRILINEAR = 2
} nbm_interp;

/* A level set sampled at the nodes of a grid: value[(i n1 + j) n2 + k] at lo + (i, j, k) spacing. */
typedef struct nbm_grid_levelset {
  int64_t n[3];
  double lo[3], spacing[3];
  const double *value; /* borrowed */
  nbm_interp interp;
} nbm_grid_levelset;

double nbm_grid_levelset_eval(const nbm_grid_levelset *ls, const double x[3]);

/* What the benchmark functions read through nbm_problem.user. */
typedef struct nbm_setup {
  nbm_problem_id id;
  const nbm_grid_levelset *grid; /* NULL: the problem's analytic level set */
  /* a Helmholtz term k u on each side (nbm_pde.c): the problem's f and u without it */
  nbm_scalar_fn f0[2], u0[2];
  void *parsed; /* the plugin's expressions (k, a level set; parsed.h) */
} nbm_setup;

/* Fill pb for the benchmark (box [-1, 1]^3, or the grid's extent with a grid level set). setup must outlive pb. */
void nbm_benchmark(const nbm_setup *setup, nbm_problem *pb);

#endif
