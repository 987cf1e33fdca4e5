/* The integrator components of the rk plugin, one per row of rk_tableaux.def.
 *
 * Every method runs the same driver (rk_driver.c) on its own tableau, so a
 * component is data: its create binds the tableau, and its schema is
 * rk_adaptive_params (methods with an embedded estimate) or rk_fixed_params
 * (methods without). A new method is a new row of the .def file. */
#include "rk_impl.h"

#define RK_REAL_MIN0(...) .type = NPDE_PARAM_REAL, .min = 0, .flags = NPDE_PARAM_HAS_MIN, __VA_ARGS__

/* Keys every method takes. */
#define RK_COMMON_PARAMS                                                                                      \
  {.name = "h_min", RK_REAL_MIN0(.default_value = "0",                                                        \
                                 .doc = "fail (NPDE_ERR_NUMERIC) when a rejection needs a step below this; "  \
                                        "0 = none")},                                                         \
  {.name = "max_rejections", .type = NPDE_PARAM_INT, .default_value = "50", .min = 1,                         \
   .flags = NPDE_PARAM_HAS_MIN,                                                                               \
   .doc = "consecutive rejected attempts (estimate too large, rhs failure, NaN/Inf) before NPDE_ERR_NUMERIC"}

/* Methods with an embedded estimate. */
static const npde_param_spec rk_adaptive_params[] = {
    {.name = "error_norm", .type = NPDE_PARAM_ENUM, .default_value = "reference", .choices = "reference|mixed",
     .doc = "reference: ||y_high - y_low||_2 < rtol ||y(t0)||_2, h *= 0.97 (E/err)^(1/q) "
            "(docs/methods/neural-ivp.md §5.2); "
            "mixed: RMS of e_i / (atol + rtol max(|y_i|, |y_new_i|)) <= 1, h *= clamp(0.9 err^(-1/q), 0.2, 5)"},
    {.name = "rtol", RK_REAL_MIN0(.default_value = "1e-3", .doc = "relative tolerance (> 0)")},
    {.name = "atol", RK_REAL_MIN0(.default_value = "1e-6", .doc = "absolute tolerance (mixed norm only)")},
    {.name = "h0", RK_REAL_MIN0(.default_value = "0", .doc = "first step; 0 = 20 (t_end - t0) rtol")},
    {.name = "factor_min", .type = NPDE_PARAM_REAL, .default_value = "0", .min = 0, .max = 1,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX,
     .doc = "smallest step factor, < 1; 0 = none (reference) or 0.2 (mixed)"},
    {.name = "factor_max", RK_REAL_MIN0(.default_value = "0",
                                        .doc = "largest step factor, > 1; 0 = none (reference; 5 when the "
                                               "estimate is 0) or 5 (mixed)")},
    {.name = "adaptive", .type = NPDE_PARAM_BOOL, .default_value = "true",
     .doc = "false: fixed steps of dt, propagating the high-order solution, no estimate"},
    {.name = "dt", RK_REAL_MIN0(.default_value = "0",
                                .doc = "fixed step for adaptive: false (required there, > 0); the last step "
                                       "before an output time is shortened to land on it")},
    RK_COMMON_PARAMS,
    {0},
};

/* Methods without one (fixed step). */
static const npde_param_spec rk_fixed_params[] = {
    {.name = "dt", .type = NPDE_PARAM_REAL, .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "the step (> 0); the last step before an output time is shortened to land on it"},
    RK_COMMON_PARAMS,
    {0},
};

#define RK_METHOD(ID, NAME, S, P, PE, SUMMARY, C, A, B, BH)                                               \
  static npde_status rk_create_##ID(npde_integrator *in, const npde_config *cfg, npde_backend *be) {       \
    return rk_create(in, cfg, be, &rk_tableaux[RK_ID_##ID]);                                             \
  }                                                                                                      \
  static const npde_integrator_ops rk_ops_##ID = {                                                       \
      .struct_size = sizeof(npde_integrator_ops),                                                        \
      .create = rk_create_##ID,                                                                          \
      .destroy = rk_destroy,                                                                             \
      .integrate = rk_integrate,                                                                         \
  };                                                                                                     \
  const npde_component_desc rk_component_##ID = {                                                        \
      .struct_size = sizeof(npde_component_desc),                                                        \
      .kind = NPDE_KIND_INTEGRATOR,                                                                      \
      .name = NAME,                                                                                      \
      .summary = SUMMARY,                                                                                \
      .ops = &rk_ops_##ID,                                                                               \
      .state_size = sizeof(rk_state),                                                                    \
      .params = (PE) > 0 ? rk_adaptive_params : rk_fixed_params,                                         \
  };
#include "rk_tableaux.def"
#undef RK_METHOD
