/**
 * A preconditioner built from operator products, applying P^-1. The solver issue appends setup/apply (ABI 1.x).
 *
 * ABI 1.0 fixes the common slots (create, destroy, get_proc) so that
 * components of this kind can be declared, listed, validated against their
 * parameter schema and instantiated today.
 */
#ifndef NPDE_PRECOND_OPS_H
#define NPDE_PRECOND_OPS_H

#include "npde_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_precond npde_precond;

typedef struct npde_precond_ops {
  NPDE_OPS_COMMON(npde_precond);
  /* ABI 1.1 and later: append below this line, never reorder */
} npde_precond_ops;

#ifdef __cplusplus
}
#endif
#endif
