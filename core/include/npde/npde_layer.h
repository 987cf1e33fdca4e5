/**
 * Layer instances, for networks and for testing a layer on its own (the
 * calls check arguments, then dispatch to the plugin; see
 * plugin/npde_layer_ops.h for what each computes).
 */
#ifndef NPDE_LAYER_H
#define NPDE_LAYER_H

#include "npde_registry.h"
#include "plugin/npde_layer_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Create a layer from {type: NAME, ...} (validated here) and configure it for in_dim inputs. Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_layer_create(const npde_registry *reg, const char *name,
                                                      const npde_config *node, npde_backend *be, int64_t in_dim,
                                                      npde_layer **out);
NPDE_API void npde_layer_destroy(npde_layer **l);
NPDE_API int64_t npde_layer_in_dim(const npde_layer *l);
NPDE_API int64_t npde_layer_out_dim(const npde_layer *l);
NPDE_API int64_t npde_layer_n_params(const npde_layer *l);
NPDE_API const char *npde_layer_type(const npde_layer *l);
NPDE_API NPDE_NODISCARD npde_status npde_layer_init(npde_layer *l, npde_mat *theta, uint64_t seed, uint64_t stream);
NPDE_API NPDE_NODISCARD npde_status npde_layer_cache_size(npde_layer *l, int64_t n, int64_t *elems);
NPDE_API NPDE_NODISCARD npde_status npde_layer_work_size(npde_layer *l, int64_t n, int64_t m, npde_jet_order order,
                                                         int64_t d, int64_t *elems);
NPDE_API NPDE_NODISCARD npde_status npde_layer_forward(npde_layer *l, const npde_mat *theta, const npde_mat *X,
                                                       npde_mat *Y, void *cache, void *work);
NPDE_API NPDE_NODISCARD npde_status npde_layer_jvp(npde_layer *l, const npde_mat *theta, const npde_mat *X,
                                                   const void *cache, const npde_mat *dtheta, const npde_mat *dX,
                                                   npde_mat *dY, int64_t m, void *work);
NPDE_API NPDE_NODISCARD npde_status npde_layer_vjp(npde_layer *l, const npde_mat *theta, const npde_mat *X,
                                                   const void *cache, npde_mat *G, npde_mat *gX, npde_mat *gtheta,
                                                   int64_t m, void *work);
NPDE_API NPDE_NODISCARD npde_status npde_layer_jet(npde_layer *l, const npde_mat *theta, const npde_jet *in,
                                                   npde_jet *out, void *work);

#ifdef __cplusplus
}
#endif
#endif
