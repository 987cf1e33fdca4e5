/**
 * The methods built into npde (libnpde_methods): Neural IVP (stages fit and
 * evolve) and NBM (stage train, interface PDEs). Loading libnpde_methods
 * registers them with the run engine; the calls below do it explicitly and
 * are idempotent.
 */
#ifndef NPDE_METHODS_H
#define NPDE_METHODS_H

#include "npde_error.h"
#include "npde_export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Register every built-in method (once; later calls return the first result). */
NPDE_API NPDE_NODISCARD npde_status npde_methods_register_builtin(void);
/** Neural IVP: the fit and evolve stages. */
NPDE_API NPDE_NODISCARD npde_status npde_ivp_register(void);
/** NBM: the train stage and the interface PDEs' outputs, eval and model value. */
NPDE_API NPDE_NODISCARD npde_status npde_nbm_register(void);

#ifdef __cplusplus
}
#endif
#endif
