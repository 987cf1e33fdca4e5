/* The sinusoidal embedding plugin: lists its components. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc sinusoidal_layer_component;

static const npde_component_desc *const components[] = {&sinusoidal_layer_component};

NPDE_PLUGIN_DEFINE(.name = "sinusoidal", .version = "1.0.0", .license = "MIT",
                   .description = "sinusoidal embedding of the raw coordinates (docs/methods/neural-ivp.md §2.1)",
                   .n_components = 1, .components = components)
