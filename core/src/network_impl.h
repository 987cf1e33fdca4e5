/* Kernel-internal, exported for the run engine: the schema of a pipeline's `network:` node. */
#ifndef NPDE_NETWORK_IMPL_H
#define NPDE_NETWORK_IMPL_H

#include "npde/plugin/npde_plugin.h"

NPDE_API const npde_param_spec *npde__network_params(void);

#endif
