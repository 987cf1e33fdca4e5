/**
 * A linear solver on a matrix-free operator {n, matvec, matmat}. The solver issue appends the solve slot (ABI 1.x).
 *
 * ABI 1.0 fixes the common slots (create, destroy, get_proc) so that
 * components of this kind can be declared, listed, validated against their
 * parameter schema and instantiated today.
 */
#ifndef NPDE_LINSOLVER_OPS_H
#define NPDE_LINSOLVER_OPS_H

#include "npde_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_linsolver npde_linsolver;

typedef struct npde_linsolver_ops {
  NPDE_OPS_COMMON(npde_linsolver);
  /* ABI 1.1 and later: append below this line, never reorder */
} npde_linsolver_ops;

#ifdef __cplusplus
}
#endif
#endif
