/** PDE instances: creation and the calls that dispatch to their plugins (plugin/npde_pde_ops.h). */
#ifndef NPDE_PDE_H
#define NPDE_PDE_H

#include "npde_registry.h"
#include "plugin/npde_pde_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/** YAML: pde.type and that plugin's keys. Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_pde_create(const npde_registry *reg, const char *name,
                                                    const npde_config *node, npde_pde **out);
NPDE_API void npde_pde_destroy(npde_pde **pde);
/** The PDE's description; never fails on a live handle (zeroed otherwise). */
NPDE_API npde_pde_info npde_pde_get_info(const npde_pde *pde);
NPDE_API NPDE_NODISCARD npde_status npde_pde_initial(const npde_pde *pde, const double *x, int64_t n, double *U);
NPDE_API NPDE_NODISCARD npde_status npde_pde_exact(const npde_pde *pde, double t, const double *x, int64_t n,
                                                   double *U);
NPDE_API NPDE_NODISCARD npde_status npde_pde_rhs(const npde_pde *pde, double t, const npde_pde_jets *jets, double *F);

#ifdef __cplusplus
}
#endif
#endif
