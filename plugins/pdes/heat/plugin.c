/* The heat plugin: lists its components. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc heat_pde_component;

static const npde_component_desc *const components[] = {&heat_pde_component};

NPDE_PLUGIN_DEFINE(.name = "heat", .version = "1.0.0", .license = "MIT",
                   .description = "heat equation u_t = D lap u with a Gaussian IC (docs/methods/neural-ivp.md §7)",
                   .n_components = 1, .components = components)
