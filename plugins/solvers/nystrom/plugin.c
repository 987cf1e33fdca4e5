/* The nystrom preconditioner plugin: lists its components. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc nystrom_precond_component;

static const npde_component_desc *const components[] = {&nystrom_precond_component};

NPDE_PLUGIN_DEFINE(.name = "nystrom", .version = "1.0.0", .license = "MIT",
                   .description = "randomised Nystrom preconditioner (Frangella, Tropp, Udell; "
                                  "docs/methods/neural-ivp.md §4.2-4.3)",
                   .n_components = 1, .components = components)
