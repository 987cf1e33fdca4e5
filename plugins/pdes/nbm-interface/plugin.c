/* The nbm-interface plugin: lists its components. */
#include "npde/plugin/npde_ext.h"

extern const npde_component_desc nbm_pde_component;

static const npde_component_desc *const components[] = {&nbm_pde_component};

NPDE_PLUGIN_DEFINE(.name = "nbm-interface", .version = "1.0.0", .license = "MIT",
                   .description = "level-set interface problems and their cut-cell stencil (docs/methods/nbm.md)",
                   .n_components = 1, .components = components)
