/* ABI freeze: the layout of every plugin-facing struct as of ABI 1.0 on
 * LP64 (x86_64, aarch64). A failure here means a change broke binary
 * compatibility with built plugins: append fields instead, bump
 * NPDE_ABI_MINOR, and extend this table in the same commit (docs/plugins.md,
 * "ABI rules and versions"). */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "npde/plugin/npde_ext.h"

#define SIZE(t, v) cr_expect_eq(sizeof(t), (size_t)(v), "sizeof(" #t ") = %zu, frozen at %d", sizeof(t), (v))
#define OFF(t, f, v) \
  cr_expect_eq(offsetof(t, f), (size_t)(v), "offsetof(" #t ", " #f ") = %zu, frozen at %d", offsetof(t, f), (v))

Test(abi, test_abi_layout_frozen_at_1_0) {
  if (sizeof(void *) != 8 || sizeof(long) != 8) cr_skip_test("the frozen table is for LP64 targets");
  cr_expect_eq(NPDE_ABI_MAJOR, 1);
  cr_expect_geq(NPDE_ABI_MINOR, 0);

  SIZE(npde_mat, 40);
  OFF(npde_mat, data, 0); OFF(npde_mat, rows, 8); OFF(npde_mat, cols, 16); OFF(npde_mat, ld, 24);
  OFF(npde_mat, dtype, 32);

  SIZE(npde_param_spec, 64);
  OFF(npde_param_spec, name, 0); OFF(npde_param_spec, type, 8); OFF(npde_param_spec, default_value, 16);
  OFF(npde_param_spec, doc, 24); OFF(npde_param_spec, min, 32); OFF(npde_param_spec, max, 40);
  OFF(npde_param_spec, flags, 48); OFF(npde_param_spec, choices, 56);

  OFF(npde_component_desc, kind, 4); OFF(npde_component_desc, name, 8); OFF(npde_component_desc, summary, 16);
  OFF(npde_component_desc, ops, 24); OFF(npde_component_desc, state_size, 32);
  OFF(npde_component_desc, params, 40);
  cr_expect_geq(sizeof(npde_component_desc), 48);

  OFF(npde_plugin_desc, abi_major, 4); OFF(npde_plugin_desc, abi_minor, 6); OFF(npde_plugin_desc, name, 8);
  OFF(npde_plugin_desc, version, 16); OFF(npde_plugin_desc, license, 24); OFF(npde_plugin_desc, description, 32);
  OFF(npde_plugin_desc, score, 40); OFF(npde_plugin_desc, init, 48); OFF(npde_plugin_desc, fini, 56);
  OFF(npde_plugin_desc, n_components, 64); OFF(npde_plugin_desc, components, 72);
  cr_expect_geq(sizeof(npde_plugin_desc), 80);

  OFF(npde_host_api, set_error, 8); OFF(npde_host_api, config_node_type, 48); OFF(npde_host_api, backend_name, 192);
  OFF(npde_host_api, backend_gemm, 272); OFF(npde_host_api, backend_rng_normal, 400);
  OFF(npde_host_api, alloc, 408); OFF(npde_host_api, free, 416);
  OFF(npde_host_api, backend_transpose, 440); OFF(npde_host_api, backend_adam, 448);
  cr_expect_geq(sizeof(npde_host_api), 456);

  /* solvers, preconditioners, integrators (ABI 1.0) */
  OFF(npde_host_api, linop_apply_block, 424);
  OFF(npde_host_api, precond_apply, 432);
  SIZE(npde_linop, 72); /* 40 until ABI 1.4 appended the block structure, 64 until ABI 1.5 appended form */
  OFF(npde_linop, n, 0);
  OFF(npde_linop, dtype, 8);
  OFF(npde_linop, matvec, 16);
  OFF(npde_linop, matmat, 24);
  OFF(npde_linop, ctx, 32);
  OFF(npde_linop, n_blocks, 40); /* ABI 1.4 */
  OFF(npde_linop, block_start, 48);
  OFF(npde_linop, block_matmat, 56);
  OFF(npde_linop, form, 64); /* ABI 1.5 */
  SIZE(npde_ode, 48);
  OFF(npde_ode, rhs, 16);
  OFF(npde_ode, begin_attempt, 24);
  OFF(npde_ode, after_step, 32);
  OFF(npde_ode, ctx, 40);
  SIZE(npde_step_state, 80);
  OFF(npde_step_state, t, 8);
  OFF(npde_step_state, attempts, 40);
  OFF(npde_step_state, rhs_evals, 72);
  cr_expect_geq(sizeof(npde_solve_stats), 56);
  OFF(npde_solve_stats, iterations, 8);
  OFF(npde_solve_stats, rhs_norm, 16);
  OFF(npde_solve_stats, residual_norm, 24);
  OFF(npde_solve_stats, history, 32);
  OFF(npde_solve_stats, history_cap, 40);
  OFF(npde_solve_stats, history_len, 48);
  cr_expect_geq(sizeof(npde_precond_info), 48);
  OFF(npde_precond_info, shift, 8);
  OFF(npde_precond_info, lambda_max, 16);
  OFF(npde_precond_info, lambda_min, 24);
  OFF(npde_precond_info, rank, 32);
  OFF(npde_precond_info, operator_products, 40);
  cr_expect_geq(sizeof(npde_integrate_stats), 48);
  OFF(npde_integrate_stats, accepted, 8);
  OFF(npde_integrate_stats, rejected, 16);
  OFF(npde_integrate_stats, rhs_evals, 24);
  OFF(npde_integrate_stats, h_last, 32);
  OFF(npde_integrate_stats, t_reached, 40);
  OFF(npde_linsolver_ops, solve, 32);
  OFF(npde_precond_ops, setup, 32);
  OFF(npde_precond_ops, apply, 40);
  OFF(npde_integrator_ops, integrate, 32);

  SIZE(npde_ops_common, 32);
  OFF(npde_ops_common, create, 8); OFF(npde_ops_common, destroy, 16); OFF(npde_ops_common, get_proc, 24);

  OFF(npde_backend_ops, memtype, 32); OFF(npde_backend_ops, alloc, 40); OFF(npde_backend_ops, describe, 72);
  OFF(npde_backend_ops, gemm, 112); OFF(npde_backend_ops, activation, 176); OFF(npde_backend_ops, rng_uniform, 232);
  OFF(npde_backend_ops, rng_normal, 240); OFF(npde_backend_ops, transpose, 248);
  OFF(npde_backend_ops, adam, 256);
  cr_expect_geq(sizeof(npde_backend_ops), 264);

  /* layers and PDEs (ABI 1.0) */
  OFF(npde_layer_ops, configure, 32);
  OFF(npde_layer_ops, init, 40);
  OFF(npde_layer_ops, cache_size, 48);
  OFF(npde_layer_ops, work_size, 56);
  OFF(npde_layer_ops, forward, 64);
  OFF(npde_layer_ops, jvp, 72);
  OFF(npde_layer_ops, vjp, 80);
  OFF(npde_layer_ops, jet, 88);
  SIZE(npde_jet, 144);
  OFF(npde_jet, n, 0);
  OFF(npde_jet, d, 8);
  OFF(npde_jet, order, 16);
  OFF(npde_jet, identity, 20);
  OFF(npde_jet, value, 24);
  OFF(npde_jet, grad, 64);
  OFF(npde_jet, second, 104);
  OFF(npde_pde_ops, info, 32);
  OFF(npde_pde_ops, initial, 40);
  OFF(npde_pde_ops, exact, 48);
  OFF(npde_pde_ops, rhs, 56);
  OFF(npde_pde_info, dim, 8);
  OFF(npde_pde_info, outputs, 16);
  OFF(npde_pde_info, order, 24);
  OFF(npde_pde_info, has_exact, 28);
  OFF(npde_pde_info, dirichlet_zero, 29);
  /* discrete PDEs (ABI 1.1) */
  OFF(npde_pde_ops, stencil, 64);
  OFF(npde_pde_ops, level_set, 72);
  OFF(npde_pde_info, sides, 32);
  OFF(npde_pde_info, stencil_max, 40);
  OFF(npde_pde_info, box_lo, 48);
  OFF(npde_pde_info, box_hi, 72);
  SIZE(npde_stencil_sample, 40);
  OFF(npde_stencil_sample, side, 24);
  OFF(npde_stencil_sample, weight, 32);
  SIZE(npde_stencil, 48);
  OFF(npde_stencil, flags, 4);
  OFF(npde_stencil, capacity, 8);
  OFF(npde_stencil, samples, 16);
  OFF(npde_stencil, n, 24);
  OFF(npde_stencil, w0, 32);
  OFF(npde_stencil, diag, 40);
  OFF(npde_host_api, npy_load, 456);
  OFF(npde_host_api, npy_array_free, 464);
  OFF(npde_host_api, comm_local_rank, 472);
  OFF(npde_host_api, comm_local_size, 480);
  /* ABI 1.3: enum getter, sparse products */
  OFF(npde_host_api, config_get_enum, 488);
  OFF(npde_host_api, backend_csrmm, 496);
  OFF(npde_host_api, expr_compile, 504);
  OFF(npde_host_api, expr_eval, 536);
  SIZE(npde_expr_scope, 32);
  OFF(npde_expr_scope, time, 8); OFF(npde_expr_scope, params, 16); OFF(npde_expr_scope, extra, 24);
  OFF(npde_backend_ops, csrmm, 264);
  SIZE(npde_csr, 56);
  OFF(npde_csr, colind, 8); OFF(npde_csr, values, 16); OFF(npde_csr, rows, 24); OFF(npde_csr, cols, 32);
  OFF(npde_csr, nnz, 40); OFF(npde_csr, dtype, 48);
  SIZE(npde_pde_jets, 64);
  OFF(npde_pde_jets, order, 24);
  OFF(npde_pde_jets, x, 32);
  OFF(npde_pde_jets, value, 40);
  OFF(npde_pde_jets, grad, 48);
  OFF(npde_pde_jets, second, 56);
  /* every kind's table starts with the common slots */
  cr_expect_geq(sizeof(npde_layer_ops), sizeof(npde_ops_common));
  cr_expect_geq(sizeof(npde_pde_ops), sizeof(npde_ops_common));
  cr_expect_geq(sizeof(npde_linsolver_ops), sizeof(npde_ops_common));
  cr_expect_geq(sizeof(npde_precond_ops), sizeof(npde_ops_common));
  cr_expect_geq(sizeof(npde_integrator_ops), sizeof(npde_ops_common));

  /* enumerations only grow */
  cr_expect_eq(NPDE_KIND_BACKEND, 0); cr_expect_eq(NPDE_KIND_INTEGRATOR, 5);
  cr_expect_eq(NPDE_OP_ALLOC, 0); cr_expect_eq(NPDE_OP_GEMM, 7); cr_expect_eq(NPDE_OP_RNG_NORMAL, 23);
  cr_expect_eq(NPDE_OP_TRANSPOSE, 24); cr_expect_eq(NPDE_OP_ADAM, 25); cr_expect_eq(NPDE_OP_CSRMM, 26);
  cr_expect_geq(NPDE_OP_COUNT, 27);
  cr_expect_eq(NPDE_ACT_SWISH, 1); cr_expect_eq(NPDE_ACT_SIN, 3);
  cr_expect_eq(NPDE_OK, 0); cr_expect_eq(NPDE_ERR_CONFIG, -6);
}

Test(abi, test_abi_host_table_is_complete) {
  const npde_host_api *h = npde_host_api_get();
  cr_assert_eq(h->struct_size, sizeof(npde_host_api));
  cr_assert_eq(h->abi_major, NPDE_ABI_MAJOR);
  cr_assert_eq(h->abi_minor, NPDE_ABI_MINOR);
  /* every slot after the header is filled */
  const char *p = (const char *)h + offsetof(npde_host_api, set_error);
  size_t n = (sizeof(npde_host_api) - offsetof(npde_host_api, set_error)) / sizeof(void (*)(void));
  for (size_t i = 0; i < n; ++i) {
    void (*fn)(void);
    memcpy(&fn, p + i * sizeof fn, sizeof fn);
    cr_expect_not_null((void *)(uintptr_t)fn, "host table slot %zu is NULL", i);
  }
}

Test(abi, test_abi_status_strings_cover_every_code) {
#define CHECK_STATUS(name, value, text) cr_expect_str_eq(npde_status_str(name), text);
  NPDE_STATUS_LIST(CHECK_STATUS)
#undef CHECK_STATUS
  cr_expect_str_eq(npde_status_str((npde_status)12345), "unknown status");
}
