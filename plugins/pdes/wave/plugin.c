/* The wave plugin: lists its components. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc wave_pde_component;

static const npde_component_desc *const components[] = {&wave_pde_component};

NPDE_PLUGIN_DEFINE(.name = "wave", .version = "1.0.0", .license = "MIT",
                   .description = "wave equation phi_tt = c^2 lap phi as the system u = [phi, phi_t] with Gaussian, "
                                  "outgoing radial and wave-packet ICs (docs/methods/neural-ivp.md §7)",
                   .n_components = 1, .components = components)
