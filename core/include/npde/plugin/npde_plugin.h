/**
 * What a plugin author implements: the ABI version, the plugin and component
 * descriptors, parameter schemas, and the host table through which a plugin
 * calls the core.
 *
 * A plugin is a shared object exporting one symbol, `npde_plugin_entry`
 * (write it with NPDE_PLUGIN_DEFINE). The loader accepts it when
 * abi_major == NPDE_ABI_MAJOR and abi_minor <= NPDE_ABI_MINOR. Structs only
 * grow at the end; struct_size fields tell the core which fields exist.
 */
#ifndef NPDE_PLUGIN_H
#define NPDE_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../npde_backend.h"
#include "../npde_config.h"
#include "../npde_error.h"
#include "../npde_expr.h"
#include "../npde_npy.h"
#include "../npde_export.h"
#include "../npde_log.h"
#include "../npde_mat.h"
#include "../npde_linop.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NPDE_ABI_MAJOR 1
#define NPDE_ABI_MINOR 5

/** Name of the one symbol every plugin exports. */
#define NPDE_PLUGIN_ENTRY_SYMBOL "npde_plugin_entry"

#define NPDE_KIND_LIST(X)                                                       \
  X(BACKEND, backend) X(LAYER, layer) X(PDE, pde) X(LINSOLVER, linsolver)       \
  X(PRECOND, precond) X(INTEGRATOR, integrator)

typedef enum npde_kind {
#define NPDE__KIND_ENUM(ID, name) NPDE_KIND_##ID,
  NPDE_KIND_LIST(NPDE__KIND_ENUM)
#undef NPDE__KIND_ENUM
  NPDE_KIND_COUNT
} npde_kind;

/** "backend", "layer", ...; "?" when out of range. */
NPDE_API const char *npde_kind_name(npde_kind kind);

typedef enum npde_param_type {
  NPDE_PARAM_REAL = 0,      /* a number */
  NPDE_PARAM_INT = 1,       /* an integer */
  NPDE_PARAM_BOOL = 2,      /* true / false */
  NPDE_PARAM_STRING = 3,    /* any text */
  NPDE_PARAM_ENUM = 4,      /* one of `choices` */
  NPDE_PARAM_REAL_LIST = 5, /* sequence of numbers */
  NPDE_PARAM_INT_LIST = 6,  /* sequence of integers */
  NPDE_PARAM_ANY = 7        /* any node; the component checks it */
} npde_param_type;

/** Flags of a parameter. */
#define NPDE_PARAM_HAS_MIN 0x1u  /* value >= min */
#define NPDE_PARAM_HAS_MAX 0x2u  /* value <= max */
#define NPDE_PARAM_OPTIONAL 0x4u /* no default and may be absent */

/**
 * One parameter of a component. The table is terminated by an entry with
 * name == NULL. A NULL default (without NPDE_PARAM_OPTIONAL) makes the key
 * required. Layout frozen for a major version (arrays of it are strided).
 */
typedef struct npde_param_spec {
  const char *name;
  npde_param_type type;
  const char *default_value; /* YAML text, e.g. "1e-8", "[1, 2]" */
  const char *doc;           /* one line */
  double min, max;           /* with NPDE_PARAM_HAS_MIN / HAS_MAX */
  uint32_t flags;
  const char *choices; /* NPDE_PARAM_ENUM: "a|b|c" */
} npde_param_spec;

/** A component: one implementation of one kind. */
typedef struct npde_component_desc {
  uint32_t struct_size; /* sizeof(npde_component_desc) as compiled */
  npde_kind kind;
  const char *name;    /* the value of `type:` in YAML */
  const char *summary; /* one line */
  const void *ops;     /* const npde_<kind>_ops *, starting with NPDE_OPS_COMMON */
  size_t state_size;   /* bytes the core allocates (zero-filled) per instance */
  const npde_param_spec *params; /* {0}-terminated; may be NULL for none */
} npde_component_desc;

typedef struct npde_host_api npde_host_api;
typedef struct npde_precond npde_precond;

typedef struct npde_plugin_desc {
  uint32_t struct_size; /* sizeof(npde_plugin_desc) as compiled */
  uint16_t abi_major, abi_minor;
  const char *name, *version, *license, *description;
  int (*score)(const npde_host_api *host);         /* optional; 0 = unusable here */
  npde_status (*init)(const npde_host_api *host);  /* optional */
  void (*fini)(void);                              /* optional */
  size_t n_components;
  const npde_component_desc *const *components; /* pointers: an element may grow */
} npde_plugin_desc;

/** Signature of the exported entry point. */
typedef const npde_plugin_desc *(*npde_plugin_entry_fn)(const npde_host_api *host);

/**
 * The first fields of every ops table. create() receives the instance, its
 * validated config node (defaults filled; NULL for none) and the pipeline's
 * backend (NULL for backends and PDEs). If create fails, destroy is still
 * called on the partly built state. get_proc is an optional escape hatch for
 * implementation-specific extensions.
 */
#define NPDE_OPS_COMMON(handle_t)                                               \
  uint32_t struct_size;                                                         \
  npde_status (*create)(handle_t * self, const npde_config *cfg, npde_backend *be); \
  void (*destroy)(handle_t * self);                                             \
  void *(*get_proc)(const char *name)

/** Any component instance (every handle starts with the core's object header). */
typedef struct npde_object npde_object;

typedef struct npde_ops_common {
  NPDE_OPS_COMMON(npde_object);
} npde_ops_common;

/**
 * The state bytes the core allocated for an instance of any kind.
 * Since: ABI 1.0
 */
NPDE_API void *npde_object_state(const void *handle);

/* The core entry points a plugin may call, in ABI order (append only). */
#define NPDE_HOST_API_LIST(X)                                                                                 \
  X(npde_status, set_error, (npde_status st, const char *file, int line, const char *fmt, ...))             \
  X(npde_status, trace_error, (npde_status st, const char *func, const char *file, int line))               \
  X(const char *, last_error, (void))                                                                       \
  X(void, log, (npde_log_level lvl, const char *fmt, ...))                                                  \
  X(void *, object_state, (const void *handle))                                                             \
  X(npde_config_type, config_node_type, (const npde_config *node))                                          \
  X(const char *, config_file, (const npde_config *node))                                                   \
  X(int, config_line, (const npde_config *node))                                                            \
  X(int, config_column, (const npde_config *node))                                                          \
  X(const char *, config_scalar, (const npde_config *node))                                                 \
  X(size_t, config_size, (const npde_config *node))                                                         \
  X(const npde_config *, config_at, (const npde_config *node, size_t i))                                    \
  X(const char *, config_key_at, (const npde_config *node, size_t i))                                       \
  X(const npde_config *, config_get, (const npde_config *node, const char *key))                            \
  X(const npde_config *, config_find, (const npde_config *node, const char *path))                          \
  X(npde_status, config_get_real, (const npde_config *map, const char *key, double *out))                   \
  X(npde_status, config_get_int, (const npde_config *map, const char *key, int64_t *out))                   \
  X(npde_status, config_get_bool, (const npde_config *map, const char *key, bool *out))                     \
  X(npde_status, config_get_string, (const npde_config *map, const char *key, const char **out))            \
  X(npde_status, config_as_real, (const npde_config *node, double *out))                                    \
  X(npde_status, config_as_int, (const npde_config *node, int64_t *out))                                    \
  X(npde_status, config_as_bool, (const npde_config *node, bool *out))                                      \
  X(npde_status, config_error, (const npde_config *node, const char *fmt, ...))                             \
  X(const char *, backend_name, (const npde_backend *be))                                                   \
  X(npde_memtype, backend_memtype, (const npde_backend *be))                                                \
  X(bool, backend_supports, (const npde_backend *be, npde_backend_op op, npde_dtype dtype))                 \
  X(npde_status, backend_alloc, (npde_backend * be, size_t bytes, void **ptr))                              \
  X(void, backend_free, (npde_backend * be, void *ptr))                                                     \
  X(npde_status, backend_upload, (npde_backend * be, void *dst, const void *host_src, size_t bytes))        \
  X(npde_status, backend_download, (npde_backend * be, void *host_dst, const void *src, size_t bytes))      \
  X(npde_status, backend_copy, (npde_backend * be, const npde_mat *src, npde_mat *dst))                     \
  X(npde_status, backend_fill, (npde_backend * be, npde_mat *dst, double value))                            \
  X(npde_status, backend_convert, (npde_backend * be, const npde_mat *src, npde_mat *dst))                  \
  X(npde_status, backend_gemm, (npde_backend * be, npde_trans ta, npde_trans tb, double alpha,              \
                                const npde_mat *A, const npde_mat *B, double beta, npde_mat *C))            \
  X(npde_status, backend_gemm_batched, (npde_backend * be, npde_trans ta, npde_trans tb, double alpha,      \
                                        const npde_mat *A, int64_t stride_a, const npde_mat *B,             \
                                        int64_t stride_b, double beta, npde_mat *C, int64_t stride_c,       \
                                        int64_t batch))                                                     \
  X(npde_status, backend_gemv, (npde_backend * be, npde_trans ta, double alpha, const npde_mat *A,          \
                                const npde_mat *x, double beta, npde_mat *y))                               \
  X(npde_status, backend_axpy, (npde_backend * be, double alpha, const npde_mat *x, npde_mat *y))           \
  X(npde_status, backend_scal, (npde_backend * be, double alpha, npde_mat *x))                              \
  X(npde_status, backend_dot, (npde_backend * be, const npde_mat *x, const npde_mat *y, double *out))       \
  X(npde_status, backend_nrm2, (npde_backend * be, const npde_mat *x, double *out))                         \
  X(npde_status, backend_trsm, (npde_backend * be, npde_side side, npde_uplo uplo, npde_trans ta,           \
                                npde_diag diag, double alpha, const npde_mat *A, npde_mat *B))              \
  X(npde_status, backend_activation, (npde_backend * be, npde_activation act, const npde_mat *Z,           \
                                      npde_mat *S0, npde_mat *S1, npde_mat *S2))                            \
  X(npde_status, backend_mul_blocks, (npde_backend * be, const npde_mat *S, const npde_mat *X, npde_mat *Y, \
                                      int64_t m))                                                           \
  X(npde_status, backend_jet2, (npde_backend * be, const npde_mat *S1, const npde_mat *S2,                   \
                                const npde_mat *Xa, const npde_mat *Xb, const npde_mat *Xdd, npde_mat *Y,   \
                                int64_t m))                                                                 \
  X(npde_status, backend_sinusoidal, (npde_backend * be, const npde_mat *X, int64_t nfreq, double alpha,    \
                                      double amp, int order, int64_t dir, npde_mat *Y))                     \
  X(npde_status, backend_row_scale, (npde_backend * be, const npde_mat *s, const npde_mat *X, npde_mat *Y,  \
                                     int64_t m))                                                            \
  X(npde_status, backend_col_sums, (npde_backend * be, double alpha, const npde_mat *X, double beta,        \
                                    npde_mat *y))                                                           \
  X(npde_status, backend_add_row, (npde_backend * be, double alpha, const npde_mat *b, npde_mat *X))        \
  X(npde_status, backend_rng_uniform, (npde_backend * be, uint64_t seed, uint64_t stream, uint64_t counter, \
                                       double lo, double hi, npde_mat *out))                                \
  X(npde_status, backend_rng_normal, (npde_backend * be, uint64_t seed, uint64_t stream, uint64_t counter,  \
                                      double mean, double std, npde_mat *out))                              \
  X(void *, alloc, (size_t bytes))                                                                          \
  X(void, free, (void *ptr))                                                                                \
  X(npde_status, linop_apply_block, (const npde_linop *A, const npde_mat *X, npde_mat *Y))                  \
  X(npde_status, precond_apply, (npde_precond * pc, const npde_mat *r, npde_mat *z))                       \
  X(npde_status, backend_transpose, (npde_backend * be, const npde_mat *A, npde_mat *B))                    \
  X(npde_status, backend_adam, (npde_backend * be, npde_mat *theta, const npde_mat *g, npde_mat *m,         \
                                npde_mat *v, double lr, double b1, double b2, double eps, int64_t step))     \
  X(npde_status, npy_load, (const char *path, npde_npy_array *out)) /* ABI 1.1 */                           \
  X(void, npy_array_free, (npde_npy_array * a))                                                            \
  X(int, comm_local_rank, (void)) /* ABI 1.2 */                                                             \
  X(int, comm_local_size, (void))                                                                           \
  X(npde_status, config_get_enum, (const npde_config *map, const char *key, const char *const *names,       \
                                   size_t n_names, int *out)) /* ABI 1.3 */                                  \
  X(npde_status, backend_csrmm, (npde_backend * be, npde_trans ta, double alpha, const npde_csr *A,         \
                                 const npde_mat *X, double beta, npde_mat *Y))                              \
  X(npde_status, expr_compile, (const npde_config *node, const npde_expr_scope *scope, npde_expr **out))   \
  X(void, expr_destroy, (npde_expr * *e))                                                                  \
  X(int64_t, expr_count, (const npde_expr *e))                                                              \
  X(bool, expr_uses, (const npde_expr *e, int64_t k, const char *name))                                     \
  X(npde_status, expr_eval, (npde_expr * e, const double *x, int64_t n, double t, const double *extra,      \
                             double *out))

/**
 * The table of core functions handed to every plugin's entry point. Plugins
 * call npde_* as usual; npde_ext.h maps each call to this table, so plugins
 * resolve no libnpde symbols. Append only.
 */
struct npde_host_api {
  uint32_t struct_size;
  uint16_t abi_major, abi_minor;
#define NPDE__HOST_FIELD(ret, name, args) ret(*name) args;
  NPDE_HOST_API_LIST(NPDE__HOST_FIELD)
#undef NPDE__HOST_FIELD
};

/** The core's host table (what the loader passes to entry points). Since: ABI 1.0 */
NPDE_API const npde_host_api *npde_host_api_get(void);

/**
 * Define the plugin's entry point and its host pointer. Use once per plugin,
 * in plugin.c, with designated initialisers:
 *   NPDE_PLUGIN_DEFINE(.name = "cpu", .version = "1.0.0", .license = "MIT",
 *                      .description = "...", .n_components = 1,
 *                      .components = components);
 */
#define NPDE_PLUGIN_DEFINE(...)                                                 \
  __attribute__((visibility("hidden"))) const npde_host_api *npde_host;         \
  NPDE_EXPORT const npde_plugin_desc *npde_plugin_entry(const npde_host_api *host); \
  NPDE_EXPORT const npde_plugin_desc *npde_plugin_entry(const npde_host_api *host) { \
    static const npde_plugin_desc npde__desc = {                                \
        .struct_size = sizeof(npde_plugin_desc),                                \
        .abi_major = NPDE_ABI_MAJOR,                                            \
        .abi_minor = NPDE_ABI_MINOR,                                            \
        __VA_ARGS__};                                                           \
    npde_host = host;                                                           \
    return &npde__desc;                                                         \
  }

#ifdef __cplusplus
}
#endif
#endif
