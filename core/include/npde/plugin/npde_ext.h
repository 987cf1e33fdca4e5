/**
 * Include this (instead of npde.h) in plugin sources. It declares the host
 * table pointer set by the entry point and maps every npde_* call a plugin
 * may make to that table, so plugin code reads like core code and the
 * plugin resolves no libnpde symbols (the sqlite3ext.h pattern).
 */
#ifndef NPDE_EXT_H
#define NPDE_EXT_H

#include "npde_plugin.h"
#include "../npde_solvers.h"
#include "npde_backend_ops.h"
#include "npde_layer_ops.h"
#include "npde_pde_ops.h"
#include "npde_linsolver_ops.h"
#include "npde_precond_ops.h"
#include "npde_integrator_ops.h"

/* Defined by NPDE_PLUGIN_DEFINE in the plugin's plugin.c. */
extern __attribute__((visibility("hidden"))) const npde_host_api *npde_host;

#define npde_set_error npde_host->set_error
#define npde_trace_error npde_host->trace_error
#define npde_last_error npde_host->last_error
#define npde_log npde_host->log
#define npde_object_state npde_host->object_state
#define npde_config_node_type npde_host->config_node_type
#define npde_config_file npde_host->config_file
#define npde_config_line npde_host->config_line
#define npde_config_column npde_host->config_column
#define npde_config_scalar npde_host->config_scalar
#define npde_config_size npde_host->config_size
#define npde_config_at npde_host->config_at
#define npde_config_key_at npde_host->config_key_at
#define npde_config_get npde_host->config_get
#define npde_config_find npde_host->config_find
#define npde_config_get_real npde_host->config_get_real
#define npde_config_get_int npde_host->config_get_int
#define npde_config_get_bool npde_host->config_get_bool
#define npde_config_get_string npde_host->config_get_string
#define npde_config_as_real npde_host->config_as_real
#define npde_config_as_int npde_host->config_as_int
#define npde_config_as_bool npde_host->config_as_bool
#define npde_config_error npde_host->config_error
#define npde_backend_name npde_host->backend_name
#define npde_backend_memtype npde_host->backend_memtype
#define npde_backend_supports npde_host->backend_supports
#define npde_backend_alloc npde_host->backend_alloc
#define npde_backend_free npde_host->backend_free
#define npde_backend_upload npde_host->backend_upload
#define npde_backend_download npde_host->backend_download
#define npde_backend_copy npde_host->backend_copy
#define npde_backend_fill npde_host->backend_fill
#define npde_backend_convert npde_host->backend_convert
#define npde_backend_gemm npde_host->backend_gemm
#define npde_backend_gemm_batched npde_host->backend_gemm_batched
#define npde_backend_gemv npde_host->backend_gemv
#define npde_backend_axpy npde_host->backend_axpy
#define npde_backend_scal npde_host->backend_scal
#define npde_backend_dot npde_host->backend_dot
#define npde_backend_nrm2 npde_host->backend_nrm2
#define npde_backend_trsm npde_host->backend_trsm
#define npde_backend_activation npde_host->backend_activation
#define npde_backend_mul_blocks npde_host->backend_mul_blocks
#define npde_backend_jet2 npde_host->backend_jet2
#define npde_backend_sinusoidal npde_host->backend_sinusoidal
#define npde_backend_row_scale npde_host->backend_row_scale
#define npde_backend_col_sums npde_host->backend_col_sums
#define npde_backend_add_row npde_host->backend_add_row
#define npde_backend_rng_uniform npde_host->backend_rng_uniform
#define npde_backend_rng_normal npde_host->backend_rng_normal
#define npde_alloc npde_host->alloc
#define npde_free npde_host->free
#define npde_linop_apply_block npde_host->linop_apply_block
#define npde_precond_apply npde_host->precond_apply
#define npde_backend_transpose npde_host->backend_transpose
#define npde_backend_adam npde_host->backend_adam
#define npde_npy_load npde_host->npy_load
#define npde_npy_array_free npde_host->npy_array_free
#define npde_comm_local_rank npde_host->comm_local_rank
#define npde_comm_local_size npde_host->comm_local_size

/* Per-kind state accessors: the bytes the core allocated for an instance. */
#define npde_backend_state(h) npde_object_state(h)
#define npde_layer_state(h) npde_object_state(h)
#define npde_pde_state(h) npde_object_state(h)
#define npde_linsolver_state(h) npde_object_state(h)
#define npde_precond_state(h) npde_object_state(h)
#define npde_integrator_state(h) npde_object_state(h)

#endif
