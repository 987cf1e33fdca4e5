/* The CUDA backend plugin: lists its components. */
#include "cuda_impl.h"

static const npde_component_desc *const components[] = {&cuda_backend_component};

NPDE_PLUGIN_DEFINE(.name = "cuda", .version = "1.0.0", .license = "MIT",
                   .description = "CUDA backend: cuBLAS in f64 and f32, fused network kernels, Philox4x32-10",
                   .n_components = 1, .components = components)
