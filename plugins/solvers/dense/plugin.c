/* The dense linear-solver plugin: lists its components. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc dense_linsolver_component;

static const npde_component_desc *const components[] = {&dense_linsolver_component};

NPDE_PLUGIN_DEFINE(.name = "dense", .version = "1.0.0", .license = "MIT",
                   .description = "dense Cholesky baseline: explicit matrix from operator columns "
                                  "(docs/methods/neural-ivp.md §4.6)",
                   .n_components = 1, .components = components)
