/**
 * A time integrator advancing a vector state with adaptive steps. The solver issue appends the step slots (ABI 1.x).
 *
 * ABI 1.0 fixes the common slots (create, destroy, get_proc) so that
 * components of this kind can be declared, listed, validated against their
 * parameter schema and instantiated today.
 */
#ifndef NPDE_INTEGRATOR_OPS_H
#define NPDE_INTEGRATOR_OPS_H

#include "npde_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_integrator npde_integrator;

typedef struct npde_integrator_ops {
  NPDE_OPS_COMMON(npde_integrator);
  /* ABI 1.1 and later: append below this line, never reorder */
} npde_integrator_ops;

#ifdef __cplusplus
}
#endif
#endif
