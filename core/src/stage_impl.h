/* Private: pipeline stages (fit, evolve, train, ... join this table). */
#ifndef NPDE_STAGE_IMPL_H
#define NPDE_STAGE_IMPL_H

#include "npde/npde_backend.h"
#include "npde/npde_pipeline.h"
#include "npde/plugin/npde_plugin.h"

/* What stages share while a pipeline runs. */
typedef struct npde__run_state {
  const npde_config *cfg; /* the validated pipeline config */
  npde_backend *backend;
  npde_dtype dtype;
  uint64_t seed;
} npde__run_state;

typedef struct npde__stage {
  const char *name;
  const char *summary;
  const npde_param_spec *params;
  /* params: the stage's validated node, defaults filled */
  npde_status (*run)(npde__run_state *rs, const npde_config *params);
} npde__stage;

extern const npde__stage npde__stage_probe;

/* The schema of the `network:` node (network.c). */
const npde_param_spec *npde__network_params(void);

/* The stage of this name, or NULL. */
const npde__stage *npde__stage_find(const char *name);

#endif
