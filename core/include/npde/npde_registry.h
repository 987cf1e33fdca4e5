/**
 * The plugin registry: loads plugin shared objects and indexes their
 * components by (kind, name).
 *
 * Search order used by npde_registry_load_defaults(): the plugin directory of
 * this libnpde (build tree or install tree alike: <libdir>/npde/plugins),
 * then each entry of NPDE_PLUGIN_PATH (colon-separated directories or .so
 * files). Pipelines add their YAML `plugin_path:` after those. A plugin is
 * refused, with a message naming the file and the fix, when it is not a
 * shared object, lacks the entry symbol, was built for another ABI major or
 * a newer minor, has a too-small descriptor, lacks name/version/license/
 * description, or declares a (kind, name) already registered.
 *
 * Threads: load from one thread; once loaded the registry is read-only.
 */
#ifndef NPDE_REGISTRY_H
#define NPDE_REGISTRY_H

#include "npde_error.h"
#include "plugin/npde_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_registry npde_registry;

/** An empty registry. Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_registry_create(npde_registry **out);
/** Unloads every plugin; accepts NULL. Handles made from it must be gone. */
NPDE_API void npde_registry_destroy(npde_registry **reg);

/** Load the default plugin directory, then NPDE_PLUGIN_PATH. */
NPDE_API NPDE_NODISCARD npde_status npde_registry_load_defaults(npde_registry *reg);
/** Load one plugin file, or every *.so in a directory (sorted by name). */
NPDE_API NPDE_NODISCARD npde_status npde_registry_load_path(npde_registry *reg, const char *path);
/** Load each entry of a colon-separated list of paths. */
NPDE_API NPDE_NODISCARD npde_status npde_registry_load_path_list(npde_registry *reg, const char *paths);

/** The directory where this libnpde looks for its own plugins; borrowed static string. */
NPDE_API const char *npde_registry_default_dir(void);

/** Number of registered components. */
NPDE_API size_t npde_registry_count(const npde_registry *reg);

/** What the registry knows about one component. Borrowed; lives with reg. */
typedef struct npde_component_info {
  const npde_component_desc *desc;
  const npde_plugin_desc *plugin;
  const char *file; /* the shared object it came from */
} npde_component_info;

/** Component i (in load order) or NULL. */
NPDE_API const npde_component_info *npde_registry_at(const npde_registry *reg, size_t i);
/** The component of this kind and name, or NULL. */
NPDE_API const npde_component_info *npde_registry_find(const npde_registry *reg, npde_kind kind, const char *name);
/** Find by name alone (any kind); NULL if absent, first match otherwise. */
NPDE_API const npde_component_info *npde_registry_find_any(const npde_registry *reg, const char *name);

/**
 * Write into buf the names of the components of one kind, comma-separated
 * (for "valid choices" messages). Returns buf.
 */
NPDE_API const char *npde_registry_names(const npde_registry *reg, npde_kind kind, char *buf, size_t size);

/**
 * Check a component's config node against its parameter schema and return a
 * copy with defaults filled in. Unknown keys (listing the valid ones), wrong
 * types, out-of-range values and missing required values are NPDE_ERR_CONFIG
 * with file:line:column. Keys in `extra_keys` (NULL-terminated, may be NULL)
 * are accepted without checks ("type" always is). Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_params_validate(const npde_param_spec *params, const char *what,
                                                         const npde_config *node, const char *const *extra_keys,
                                                         npde_config **resolved);

/**
 * Create an instance of a component: allocates the object and its
 * state_size bytes, calls ops->create with the validated node. The handle
 * is destroyed with npde_object_destroy. be is passed to create (may be NULL).
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_object_create(const npde_component_info *info, const npde_config *node,
                                                       npde_backend *be, npde_object **out);
NPDE_API void npde_object_destroy(npde_object **obj);
/** The component an instance was made from. */
NPDE_API const npde_component_info *npde_object_component(const npde_object *obj);
/**
 * Write to fd which component call runs on this thread, if any ("linsolver
 * 'cg' from /path/npde_cg.so, in create"), as one line; for a fatal signal
 * handler (the npde command's): async-signal-safe, it only calls write.
 * Tracked: create, the PDE calls, solve, precondition, integrate.
 * Since: ABI 1.3
 */
NPDE_API void npde_write_current_operation(int fd);

/** Host heap used across the plugin boundary. */
NPDE_API void *npde_alloc(size_t bytes);
NPDE_API void npde_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
