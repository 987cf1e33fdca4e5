/* The methods built into npde, registered with the run engine once, when
 * this library loads (so a program that links it, or a language that loads
 * it, can run any pipeline), or by an explicit call. */
#include <stdbool.h>

#include "npde/npde_log.h"
#include "npde/npde_methods.h"

npde_status npde_methods_register_builtin(void) {
  static bool done;
  static npde_status status;
  if (done) return status;
  done = true;
  status = npde_ivp_register();
  if (status == NPDE_OK) status = npde_nbm_register();
  return status;
}

__attribute__((constructor)) static void register_at_load(void) {
  if (npde_methods_register_builtin() != NPDE_OK)
    npde_log(NPDE_LOG_ERROR, "registering the built-in methods: %s", npde_last_error());
}
