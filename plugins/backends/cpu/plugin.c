/* The CPU backend plugin: lists its components. */
#include "cpu_impl.h"

static const npde_component_desc *const components[] = {&cpu_backend_component};

NPDE_PLUGIN_DEFINE(.name = "cpu", .version = "1.0.0", .license = "MIT",
                   .description = "CPU backend: OpenBLAS in f64 and f32, fused network kernels, Philox4x32-10",
                   .n_components = 1, .components = components)
