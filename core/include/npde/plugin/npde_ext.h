/**
 * Include this (instead of npde.h) in plugin sources. It declares the host
 * table pointer set by the entry point and maps every npde_* call a plugin
 * may make to that table, so plugin code reads like core code and the
 * plugin resolves no libnpde symbols (the sqlite3ext.h pattern). A plugin
 * sees its ops tables, the types they use and the host entries: no
 * application API (creating solvers, running pipelines, writing files).
 */
#ifndef NPDE_EXT_H
#define NPDE_EXT_H

#include "npde_plugin.h"
#include "npde_backend_ops.h"
#include "npde_layer_ops.h"
#include "npde_pde_ops.h"
#include "npde_linsolver_ops.h"
#include "npde_precond_ops.h"
#include "npde_integrator_ops.h"

/* Defined by NPDE_PLUGIN_DEFINE in the plugin's plugin.c. */
extern __attribute__((visibility("hidden"))) const npde_host_api *npde_host;

/* npde_<entry> -> npde_host-><entry> for every entry of NPDE_HOST_API_LIST,
 * generated at build time from that list (core/tools/gen_host_map.c). */
#include "npde/plugin/npde_host_map.h"

/* Per-kind state accessors: the bytes the core allocated for an instance. */
#define npde_backend_state(h) npde_object_state(h)
#define npde_layer_state(h) npde_object_state(h)
#define npde_pde_state(h) npde_object_state(h)
#define npde_linsolver_state(h) npde_object_state(h)
#define npde_precond_state(h) npde_object_state(h)
#define npde_integrator_state(h) npde_object_state(h)

#endif
