/* What the Neural IVP method's files share (core/methods/ivp). */
#ifndef NPDE_IVP_IMPL_H
#define NPDE_IVP_IMPL_H

#include "run_context.h"

/* fit: the network to the PDE's initial condition (or, for evolve's refits, to its own prediction). */
extern const npde_stage npde__stage_fit;
/* evolve: theta(t) by the Neural IVP ODE, with restarts that call the fit stage's run. */
extern const npde_stage npde__stage_evolve;

#endif
