/* Run engine, for the methods: reductions of backend memory across the ranks (comm_reduce.c). */
#ifndef NPDE_COMM_REDUCE_H
#define NPDE_COMM_REDUCE_H

#include "npde/npde_backend.h"
#include "npde/npde_linop.h"

/* Host staging for reductions of backend arrays (grown on demand). */
typedef struct npde__comm_scratch {
  double *host;
  size_t cap;
} npde__comm_scratch;

/* Sum a contiguous F64 view over the ranks, in place (no-op on one rank). */
NPDE_API npde_status npde__comm_allreduce_mat(npde_backend *be, npde_mat *m, npde__comm_scratch *s);
NPDE_API void npde__comm_scratch_free(npde__comm_scratch *s);
/* Check that every rank holds the same bits in v (the replicated parameters): a mismatch would make the ranks
 * take different decisions and deadlock, so it stops the run with NPDE_ERR_NUMERIC naming `what`. */
NPDE_API npde_status npde__comm_check_replicated(npde_backend *be, const npde_mat *v, npde__comm_scratch *s, const char *what);

/* An operator summed over the ranks: A x = sum_r scale * A_r x, A_r the
 * rank's own operator over its samples (scale re-weights a mean over the
 * rank's samples into its share of the mean over all). On one rank the
 * wrapper is the inner operator itself. d must outlive the returned op. */
typedef struct npde__dist_op {
  npde_linop inner;
  double scale;
  npde_backend *be;
  npde__comm_scratch scratch;
  int64_t products, doubles; /* operator applications (columns) reduced, and the doubles this rank sent */
} npde__dist_op;
NPDE_API npde_linop npde__dist_op_wrap(npde__dist_op *d, npde_linop inner, double scale, npde_backend *be);

#endif
