/* The Neural IVP method: its fit and evolve stages. Its PDEs (continuous,
 * one network output per component) need nothing from the run engine beyond
 * its defaults, so it registers no npde_run_method. */
#include "ivp_impl.h"
#include "npde/npde_methods.h"

npde_status npde_ivp_register(void) {
  NPDE_TRY(npde_run_register_stage(&npde__stage_fit));
  return npde_run_register_stage(&npde__stage_evolve);
}
