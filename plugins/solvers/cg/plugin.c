/* The cg linear-solver plugin: lists its components. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc cg_linsolver_component;

static const npde_component_desc *const components[] = {&cg_linsolver_component};

NPDE_PLUGIN_DEFINE(.name = "cg", .version = "1.0.0", .license = "MIT",
                   .description = "preconditioned conjugate gradients on any operator "
                                  "(docs/methods/neural-ivp.md §4.4)",
                   .n_components = 1, .components = components)
