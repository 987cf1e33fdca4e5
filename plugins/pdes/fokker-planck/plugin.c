/* The fokker-planck plugin: lists its components. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc fokker_planck_pde_component;

static const npde_component_desc *const components[] = {&fokker_planck_pde_component};

NPDE_PLUGIN_DEFINE(.name = "fokker-planck", .version = "1.0.0", .license = "MIT",
                   .description = "Fokker-Planck equation of a harmonic trap with coupling in d dimensions, "
                                  "u_t = D lap u - div(u h) (docs/methods/neural-ivp.md §7)",
                   .n_components = 1, .components = components)
