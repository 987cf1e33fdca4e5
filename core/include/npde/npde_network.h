/**
 * Networks composed from layer plugins (architecture "Networks"):
 *
 *   u_k(x) = B(x) (w_k . Phi_k(x) + b_k),  Phi_k = layers_k(x),  k < outputs
 *   B(x)   = prod over the Dirichlet axes i of (1 - x_i^2) (1 with none)
 *
 * A periodic axis i feeds 2 x_i, not x_i, to the first layer, which must be
 * the sinusoidal embedding: its features sin/cos((pi/2) 2^q 2 x_i) are then
 * all 2-periodic in x_i, and so is every output.
 *
 * Each output has its own branch of layers (the YAML lists them once) and
 * its own linear head, so J = dN/dtheta is block diagonal across outputs.
 * Parameters: one flat vector, branch by branch: [layers of branch 0, w_0,
 * b_0, layers of branch 1, ...]. Points are processed in chunks of
 * `chunk` rows; memory is O(n * width * jets + p), never O(n p).
 *
 * Conventions: X is n x d in backend memory; U is n x K. Parameter vectors
 * are p x 1 views (or 1 x p rows); blocks of m parameter vectors follow the
 * npde_linop convention: p x m, column j = vector j.
 */
#ifndef NPDE_NETWORK_H
#define NPDE_NETWORK_H

#include "npde_layer.h"
#include "npde_linop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_network npde_network;

/**
 * Build a network from a `network:` node (keys envelope, outputs, layers,
 * chunk; validated here) for points in dim dimensions. Layers are created
 * from the registry. Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_network_create(const npde_registry *reg, const npde_config *node,
                                                        npde_backend *be, int64_t dim, npde_network **out);
NPDE_API void npde_network_destroy(npde_network **net);
NPDE_API int64_t npde_network_n_params(const npde_network *net);
NPDE_API int64_t npde_network_outputs(const npde_network *net);
NPDE_API int64_t npde_network_dim(const npde_network *net);
/** The backend the network runs on (borrowed). Since: ABI 1.1 */
NPDE_API npde_backend *npde_network_backend(const npde_network *net);
/** Bytes a linearisation caches per point (every branch's activations and layer caches, envelope): the
 * memory npde_linearization_create takes for n points is about n times this. Since: ABI 1.3 */
NPDE_API int64_t npde_network_point_bytes(const npde_network *net);
/** Width of the features Phi_k feeding the head of output k. */
NPDE_API int64_t npde_network_feature_dim(const npde_network *net, int64_t k);
/** Offsets of output k's head weights w_k (feature_dim entries) and bias b_k in theta. */
NPDE_API int64_t npde_network_head_offset(const npde_network *net, int64_t k);
/** Where branch k's parameters start and how many there are (layers and head). */
NPDE_API void npde_network_branch_range(const npde_network *net, int64_t k, int64_t *offset, int64_t *count);

/**
 * Output k's branch as a network of its own (one output, its layers and
 * head): its parameters are theta[offset, offset + count) of the parent
 * (npde_network_branch_range), so a view of that slice evaluates it. It
 * shares the parent's layers: destroy it before the parent. Since: ABI 1.1
 */
NPDE_API NPDE_NODISCARD npde_status npde_network_branch(const npde_network *net, int64_t k, npde_network **out);
/**
 * Outputs first .. first + count - 1 as a network of their own that computes
 * in dtype (an f32 view of an f64 network is the same function in single
 * precision): its parameters are theta[offset of branch first, + their
 * counts) in dtype. Shares the parent's layers: destroy it before the
 * parent. Since: ABI 1.4
 */
NPDE_API NPDE_NODISCARD npde_status npde_network_view(const npde_network *net, int64_t first, int64_t count,
                                                      npde_dtype dtype, npde_network **out);

/** theta (p x 1, backend) <- the initialisation of docs/methods/neural-ivp.md §2.3, keyed by seed. */
NPDE_API NPDE_NODISCARD npde_status npde_network_init(npde_network *net, npde_mat *theta, uint64_t seed);

/** U (n x K) = N(X; theta). */
NPDE_API NPDE_NODISCARD npde_status npde_network_eval(npde_network *net, const npde_mat *theta, const npde_mat *X,
                                                      npde_mat *U);
/** Phi_k(X) (n x feature_dim(k)), the last layer's output of branch k (no head, no envelope). */
NPDE_API NPDE_NODISCARD npde_status npde_network_features(npde_network *net, const npde_mat *theta,
                                                          const npde_mat *X, int64_t k, npde_mat *Phi);
/** The envelope B(X) (n values, host memory). */
NPDE_API NPDE_NODISCARD npde_status npde_network_envelope(npde_network *net, const npde_mat *X, double *B);
/**
 * One boundary kind per axis (dim entries), in place of the `envelope:` key:
 * the pipeline passes the PDE's boundary: here. Periodic axes need a
 * sinusoidal first layer in every branch (an error names the layer found).
 * Since: ABI 1.3
 */
NPDE_API NPDE_NODISCARD npde_status npde_network_set_boundary(npde_network *net, const npde_boundary_kind *kinds);

/**
 * x-derivatives of every output at X, in host memory (envelope included):
 * value[i K + k]; grad[(i K + k) d + j]; second (order LAPLACIAN) [(i K + k) d + j]
 * = d2/dx_j2, or (HESSIAN) [(i K + k) d d + j d + l] the full symmetric
 * Hessian. grad/second may be NULL when order does not need them.
 */
NPDE_API NPDE_NODISCARD npde_status npde_network_jet(npde_network *net, const npde_mat *theta, const npde_mat *X,
                                                     npde_jet_order order, double *value, double *grad,
                                                     double *second);

/**
 * A linearisation of the network at one (theta, X): caches the forward pass
 * so that J V, J^T W and M V = J^T J V / n need no new forward pass.
 */
typedef struct npde_linearization npde_linearization;

/** Cache the forward pass at (theta, X) (both borrowed: keep them alive and unchanged). */
NPDE_API NPDE_NODISCARD npde_status npde_linearization_create(npde_network *net, const npde_mat *theta,
                                                              const npde_mat *X, npde_linearization **out);
/** Re-linearise at a new (theta, X) with the same number of points, reusing memory. */
NPDE_API NPDE_NODISCARD npde_status npde_linearization_update(npde_linearization *lin, const npde_mat *theta,
                                                              const npde_mat *X);
NPDE_API void npde_linearization_destroy(npde_linearization **lin);
/** U (n x K) = N(X; theta) from the cached forward pass (no new pass through the layers). */
NPDE_API NPDE_NODISCARD npde_status npde_linearization_values(npde_linearization *lin, npde_mat *U);
/** dU (n x K) = J v for one parameter vector v (p entries). */
NPDE_API NPDE_NODISCARD npde_status npde_linearization_jvp(npde_linearization *lin, const npde_mat *v,
                                                           npde_mat *dU);
/** g = alpha J^T W + beta g, W n x K (per-point cotangents), g p entries. */
NPDE_API NPDE_NODISCARD npde_status npde_linearization_vjp(npde_linearization *lin, const npde_mat *W, double alpha,
                                                           double beta, npde_mat *g);
/** Y (p x m) = M V = J^T J V / n for a block V (p x m). */
NPDE_API NPDE_NODISCARD npde_status npde_linearization_mv(npde_linearization *lin, const npde_mat *V, npde_mat *Y);
/**
 * Scale the linearisation's rows: point i's outputs by s_i (n entries, the
 * network's dtype, backend memory), so that J becomes diag(s) J in every
 * product (values, J v, J^T w, M v) until the next update. Importance
 * weights w enter as s = sqrt(w): M = J^T W J / n. Since: ABI 1.4
 */
NPDE_API NPDE_NODISCARD npde_status npde_linearization_scale_rows(npde_linearization *lin, const npde_mat *s);
/**
 * M (p x p, the network's dtype, backend memory) = J^T J / n explicitly, with
 * the row scales: per-point gradients (m one-hot cotangents per vjp) and a
 * rank-m update per branch block. About n x chunk x p of vjp work plus
 * 2 n p_o^2 of gemm per branch o, against the p products M V would take:
 * what a direct solve forms. Since: ABI 1.5
 */
NPDE_API NPDE_NODISCARD npde_status npde_linearization_gram(npde_linearization *lin, npde_mat *M);
/** M = J^T J / n as an operator (valid while lin lives). */
NPDE_API npde_linop npde_linearization_operator(npde_linearization *lin);

#ifdef __cplusplus
}
#endif
#endif
