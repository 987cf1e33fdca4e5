/* The wave-maps plugin: lists its components. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc wave_maps_pde_component;

static const npde_component_desc *const components[] = {&wave_maps_pde_component};

NPDE_PLUGIN_DEFINE(.name = "wave-maps", .version = "1.0.0", .license = "MIT",
                   .description = "scalar wave equation on the Schwarzschild metric (the paper's wave maps) as "
                                  "u = [phi, phi_t], wave-packet or Gaussian IC (docs/methods/neural-ivp.md §7.3)",
                   .n_components = 1, .components = components)
