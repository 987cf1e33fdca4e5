/* The advection plugin: lists its components. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc advection_pde_component;

static const npde_component_desc *const components[] = {&advection_pde_component};

NPDE_PLUGIN_DEFINE(.name = "advection", .version = "1.0.0", .license = "MIT",
                   .description = "constant-velocity advection u_t = c . grad u with a Gaussian IC "
                                  "(docs/methods/neural-ivp.md §7)",
                   .n_components = 1, .components = components)
