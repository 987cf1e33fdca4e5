/* The rk plugin: explicit Runge-Kutta integrators, one component per row of rk_tableaux.def. */
#include "rk_impl.h"

static const npde_component_desc *const components[] = {
#define RK_METHOD(ID, ...) &rk_component_##ID,
#include "rk_tableaux.def"
#undef RK_METHOD
};

NPDE_PLUGIN_DEFINE(.name = "rk", .version = "1.0.0", .license = "MIT",
                   .description = "explicit Runge-Kutta integrators (euler, heun, rk23, rk4, rk45) with the "
                                  "Neural IVP step-size controller",
                   .n_components = sizeof components / sizeof components[0], .components = components)
