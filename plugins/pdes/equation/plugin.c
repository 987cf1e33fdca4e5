/* The equation plugin: a time-dependent PDE written in YAML. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc equation_pde_component;

static const npde_component_desc *const components[] = {&equation_pde_component};

NPDE_PLUGIN_DEFINE(.name = "equation", .version = "1.0.0", .license = "MIT",
                   .description = "u_t = F(x, t, u, grad u, second derivatives) with F written as expressions "
                                  "(docs/problems.md)",
                   .n_components = 1, .components = components)
