/**
 * Matrix-free linear operators and ODE right-hand sides: what solvers,
 * preconditioners and integrators work on. All vectors are views in the
 * backend's memory.
 */
#ifndef NPDE_LINOP_H
#define NPDE_LINOP_H

#include <stdint.h>

#include "npde_backend.h"
#include "npde_error.h"
#include "npde_mat.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A symmetric n x n operator. matvec computes y = A x for one vector (n x 1
 * views, possibly strided); matmat computes Y = A X for a block (n x m,
 * row-major) and may be NULL, in which case callers loop over columns.
 * Both must be deterministic: the same input gives the same output while a
 * solve runs. ctx is passed back unchanged.
 */
typedef struct npde_linop {
  int64_t n;
  npde_dtype dtype;
  npde_status (*matvec)(void *ctx, const npde_mat *x, npde_mat *y);
  npde_status (*matmat)(void *ctx, const npde_mat *X, npde_mat *Y);
  void *ctx;
  /* Since ABI 1.4; zero (a designated initialiser's default) when A has no
   * known structure. A is block diagonal: n_blocks diagonal blocks, block k
   * on the indices [block_start[k], block_start[k + 1]) (block_start[0] = 0,
   * block_start[n_blocks] = n), and block_matmat computes Y = A_k X for a
   * contiguous (n_k x m) block X of block k alone, at about n_k / n of a
   * product's cost. Preconditioners may sketch the blocks separately. */
  int64_t n_blocks;
  const int64_t *block_start;
  npde_status (*block_matmat)(void *ctx, int64_t k, const npde_mat *X, npde_mat *Y);
  /* Since ABI 1.5; NULL when A has no cheaper way. Writes A explicitly into M
   * (n x n, row-major, the backend's memory, A's dtype) at far less than the
   * n products a direct solver would otherwise apply. */
  npde_status (*form)(void *ctx, npde_mat *M);
} npde_linop;

/** Y = A X through matmat, or column by column through matvec. Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_linop_apply_block(const npde_linop *A, const npde_mat *X, npde_mat *Y);

/**
 * An initial value problem y' = G(t, y) on a vector of n entries.
 * rhs may return NPDE_STEP_REJECTED (or any error) to make the integrator
 * reject the attempt; a NaN or Inf in dydt is rejected too.
 * begin_attempt (optional) runs before each step attempt (fresh samples).
 * after_step (optional) runs after each accepted step, once the output at
 * that time (if any) has been emitted; it may change y (restarts) and may
 * save *state with y to continue the integration later (checkpoints); a
 * negative status stops the integration.
 */
typedef struct npde_step_state npde_step_state;
typedef struct npde_ode {
  int64_t n;
  npde_dtype dtype;
  npde_status (*rhs)(void *ctx, double t, const npde_mat *y, npde_mat *dydt);
  npde_status (*begin_attempt)(void *ctx, double t, double h, int64_t attempt);
  npde_status (*after_step)(void *ctx, const npde_step_state *state, npde_mat *y);
  void *ctx;
} npde_ode;

/**
 * Where an integration stands after an accepted step: with y, everything an
 * integrator needs to continue it bit for bit (a checkpoint). Integrators
 * fill it for after_step and accept it back to resume. The integrator sets
 * struct_size; readers check it.
 */
struct npde_step_state {
  uint32_t struct_size;
  double t;            /* the time reached */
  double t_comp;       /* compensation of the summed time (0 after landing on an output time) */
  double h;            /* the step size the controller proposes next */
  double err_target;   /* an error target fixed at the start of the run (0 when the method has none) */
  int64_t attempts;    /* step attempts so far: the next attempt's index */
  int64_t next_output; /* index in t_out of the next output time */
  int64_t accepted, rejected, rhs_evals;
};

#ifdef __cplusplus
}
#endif
#endif
