/* The mlp layer plugin: lists its components. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc mlp_layer_component;

static const npde_component_desc *const components[] = {&mlp_layer_component};

NPDE_PLUGIN_DEFINE(.name = "mlp", .version = "1.0.0", .license = "MIT",
                   .description = "dense layers with swish, tanh, sin or identity activations "
                                  "(docs/methods/neural-ivp.md §2.2)",
                   .n_components = 1, .components = components)
