/* Kernel-internal: the keys of a `pde:` node that the engine reads for any
 * time-dependent PDE, whatever its plugin (params:, exact:, and initial:
 * when it is a list of expressions); exported for the run engine's
 * validation, never installed. */
#ifndef NPDE_PDE_IMPL_H
#define NPDE_PDE_IMPL_H

#include <stdbool.h>

#include "npde/npde_config.h"
#include "npde/npde_export.h"
#include "npde/plugin/npde_plugin.h"

/* Whether key of a pde node (with its value) is the engine's. */
NPDE_API bool npde__pde_engine_key(const char *key, const npde_config *value);
/* A copy of the map node without the engine's keys, for the plugin's schema (its `params`, when it declares
 * one, it keeps: params: serve the plugin's expressions too); NULL in *out when nothing is taken out (use node
 * as it is). */
NPDE_API npde_status npde__pde_plugin_node(const npde_config *node, const npde_param_spec *schema, npde_config **out);

#endif
