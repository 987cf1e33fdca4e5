/* The vlasov plugin: lists its components. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc vlasov_pde_component;

static const npde_component_desc *const components[] = {&vlasov_pde_component};

NPDE_PLUGIN_DEFINE(.name = "vlasov", .version = "1.0.0", .license = "MIT",
                   .description = "Vlasov equation in 3 + 3 dimensional phase space with the force field of "
                                  "exp(-|x|^2) and a Gaussian IC; reference by backward characteristics "
                                  "(docs/methods/neural-ivp.md §7)",
                   .n_components = 1, .components = components)
