/* The rk plugin's shared declarations: instance state and the one driver
 * (rk_driver.c) that every method component (rk_methods.c) runs. */
#ifndef NPDE_RK_IMPL_H
#define NPDE_RK_IMPL_H

#include <stdbool.h>

#include <npde/plugin/npde_ext.h>

#include "rk_tableau.h"

/* error_norm: "reference" is docs/methods/neural-ivp.md §5.2 exactly; "mixed" the usual
 * atol/rtol weighted RMS norm. */
typedef enum rk_norm { RK_NORM_REFERENCE = 0, RK_NORM_MIXED = 1 } rk_norm;

/* One integrator instance: the method and its validated parameters. */
typedef struct rk_state {
  const rk_tableau *tab;
  npde_backend *be; /* borrowed from create; all vectors live in its memory */
  bool adaptive;    /* step-size control from the embedded estimate */
  rk_norm norm;
  double rtol, atol;
  double h0;                     /* first step; 0 = 20 (t_end - t0) rtol */
  double dt;                     /* fixed step (fixed-step methods, adaptive: false) */
  double factor_min, factor_max; /* step-factor clamps; 0 = off (reference) or 0.2 / 5 (mixed) */
  double h_min;                  /* smallest step before giving up; 0 = none */
  int64_t max_rejections;        /* consecutive rejections before NPDE_ERR_NUMERIC */
} rk_state;

/* The integrator slots shared by every method. */
npde_status rk_create(npde_integrator *in, const npde_config *cfg, npde_backend *be, const rk_tableau *tab);
void rk_destroy(npde_integrator *in);
npde_status rk_integrate(npde_integrator *in, const npde_ode *ode, double t0, npde_mat *y, const double *t_out,
                         int64_t n_out, npde_output_fn output, void *output_ctx, const npde_step_state *resume,
                         npde_integrate_stats *st);

/* One component per row of rk_tableaux.def: rk_component_EULER, ... */
#define RK_METHOD(ID, ...) extern const npde_component_desc rk_component_##ID;
#include "rk_tableaux.def"
#undef RK_METHOD

#endif
