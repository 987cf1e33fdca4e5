/**
 * Data-parallel runs: the processes (ranks) of one run and the reductions
 * that join their partial sums.
 *
 * Started by `mpirun -np K npde ...` (Open MPI, in a build with MPI; see
 * npde_mpi.h), a run has K ranks: each holds the same parameters and works on its own slice of
 * the collocation samples, and the partial sums of every reduction over
 * samples (M v, F, losses, gradients) meet in MPI_Allreduce. Otherwise (no
 * MPI in the build, or not started by mpirun) there is one rank and every
 * call below is a cheap no-op, so single-process code needs no change.
 *
 * Reductions are deterministic: the same ranks and inputs give the same
 * bits on every rank and every run (MPI_Allreduce's algorithm depends on
 * the count and the number of ranks, never on timing).
 */
#ifndef NPDE_COMM_H
#define NPDE_COMM_H

#include <stdbool.h>
#include <stdint.h>

#include "npde_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum npde_comm_op { NPDE_COMM_SUM = 0, NPDE_COMM_MAX = 1 } npde_comm_op;

/**
 * How the ranks talk: the run engine installs MPI_COMM_WORLD (npde_mpi.h's
 * npde_comm_init); an embedding may install its own communicator. Until one
 * is installed there is one rank and every call below is a no-op.
 */
typedef struct npde_comm_transport {
  const char *name;
  /** buf[0..n) = the sum (or max) over ranks, in place; the same bits on every rank. */
  npde_status (*allreduce)(double *buf, int64_t n, npde_comm_op op);
  /** Stop every rank with this exit code (may be NULL: the caller exits). */
  void (*abort)(int code);
  /** Leave the ranks (may be NULL). */
  void (*finalize)(void);
} npde_comm_transport;

/** Install t (copied) as the communicator of this process's rank of size. Since: ABI 1.2 */
NPDE_API NPDE_NODISCARD npde_status npde_comm_install(const npde_comm_transport *t, int rank, int size,
                                                      int local_rank, int local_size);
/** Leave the ranks (the transport's finalize) and return to one rank. */
NPDE_API void npde_comm_finalize(void);
/** Stop every rank of the run with this exit code; exits one rank otherwise. */
NPDE_API void npde_comm_abort(int code);

/** This process's rank, 0 .. size - 1 (0 without MPI). */
NPDE_API int npde_comm_rank(void);
/** The number of ranks (1 without MPI). */
NPDE_API int npde_comm_size(void);
/** The rank among those on the same machine (selects the GPU), and their number. */
NPDE_API int npde_comm_local_rank(void);
NPDE_API int npde_comm_local_size(void);

/** buf[0..n) = the sum (or max) over ranks of each rank's buf, in place. Since: ABI 1.1 */
NPDE_API NPDE_NODISCARD npde_status npde_comm_allreduce(double *buf, int64_t n, npde_comm_op op);

/**
 * This rank's share [*begin, *begin + *count) of n items split into size
 * contiguous slices of nearly equal length whose starts are multiples of
 * align (>= 1; e.g. 2 to start on a Philox block). The slices of all ranks
 * cover 0 .. n - 1 once, in rank order.
 */
NPDE_API void npde_comm_slice(int64_t n, int64_t align, int64_t *begin, int64_t *count);

/** Allreduce calls and the doubles this rank contributed to them since init. */
NPDE_API void npde_comm_stats(int64_t *calls, int64_t *doubles);

#ifdef __cplusplus
}
#endif
#endif
