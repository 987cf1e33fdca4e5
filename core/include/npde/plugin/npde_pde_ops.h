/**
 * A PDE operator: continuous right-hand side with its derivative needs, initial condition and exact solution (Neural IVP), or a discrete stencil (NBM). The Neural IVP and NBM issues append those slots (ABI 1.x).
 *
 * ABI 1.0 fixes the common slots (create, destroy, get_proc) so that
 * components of this kind can be declared, listed, validated against their
 * parameter schema and instantiated today.
 */
#ifndef NPDE_PDE_OPS_H
#define NPDE_PDE_OPS_H

#include "npde_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_pde npde_pde;

typedef struct npde_pde_ops {
  NPDE_OPS_COMMON(npde_pde);
  /* ABI 1.1 and later: append below this line, never reorder */
} npde_pde_ops;

#ifdef __cplusplus
}
#endif
#endif
