/**
 * A network layer: forward values, parameter and input tangents (JVP), cotangent pull-back (VJP) and x-jets, on the pipeline's backend. The network issue appends those slots (ABI 1.x).
 *
 * ABI 1.0 fixes the common slots (create, destroy, get_proc) so that
 * components of this kind can be declared, listed, validated against their
 * parameter schema and instantiated today.
 */
#ifndef NPDE_LAYER_OPS_H
#define NPDE_LAYER_OPS_H

#include "npde_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_layer npde_layer;

typedef struct npde_layer_ops {
  NPDE_OPS_COMMON(npde_layer);
  /* ABI 1.1 and later: append below this line, never reorder */
} npde_layer_ops;

#ifdef __cplusplus
}
#endif
#endif
