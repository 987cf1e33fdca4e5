/**
 * Read-only view of a YAML configuration tree.
 *
 * Every node remembers the file, line and column it came from, so every
 * message about it can point there. Getters report wrong types and missing
 * keys as NPDE_ERR_CONFIG with "file:line:column: ..." in npde_last_error().
 * Components receive their node after the core has validated it against the
 * component's parameter schema and filled in defaults.
 */
#ifndef NPDE_CONFIG_H
#define NPDE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "npde_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_config npde_config;

typedef enum npde_config_type {
  NPDE_CONFIG_SCALAR = 0,
  NPDE_CONFIG_SEQUENCE = 1,
  NPDE_CONFIG_MAP = 2
} npde_config_type;

/**
 * Load a YAML file, resolving `include:` (files relative to the including
 * file, whose own keys override the included ones), anchors, aliases and
 * merge keys (`<<: *base`). Ownership: *out is the caller's; free with
 * npde_config_destroy. Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_config_load_file(const char *path, npde_config **out);

/** Parse YAML text; `name` is used as the file name in messages. Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_config_load_string(const char *text, const char *name,
                                                            npde_config **out);

/**
 * Apply a command-line override "a.b.c=value" to a mapping root. The value is
 * parsed as YAML (so `x=[1, 2]` gives a sequence). Missing intermediate maps
 * are created; nodes made here are located at "<override 'a.b.c=value'>".
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_config_apply_override(npde_config *root, const char *assignment);

/** Free a tree obtained from a load function; accepts NULL. Since: ABI 1.0 */
NPDE_API void npde_config_destroy(npde_config **cfg);

/** Deep copy. Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_config_clone(const npde_config *cfg, npde_config **out);

/** Emit the tree as YAML text (caller frees with free()). Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_config_to_yaml(const npde_config *cfg, char **text);

NPDE_API npde_config_type npde_config_node_type(const npde_config *node);
/** Where the node was written. Borrowed strings, valid while the tree lives. */
NPDE_API const char *npde_config_file(const npde_config *node);
NPDE_API int npde_config_line(const npde_config *node);
NPDE_API int npde_config_column(const npde_config *node);
/** Text of a scalar node, NULL for collections. */
NPDE_API const char *npde_config_scalar(const npde_config *node);

/** Number of entries of a map or sequence (0 for a scalar). */
NPDE_API size_t npde_config_size(const npde_config *node);
/** Entry i of a sequence, or value i of a map (in file order); NULL if out of range. */
NPDE_API const npde_config *npde_config_at(const npde_config *node, size_t i);
/** Key of entry i of a map; NULL otherwise. */
NPDE_API const char *npde_config_key_at(const npde_config *node, size_t i);
/** Value for key in a map; NULL when absent or node is not a map. */
NPDE_API const npde_config *npde_config_get(const npde_config *node, const char *key);
/** Like npde_config_get, but a dotted path "a.b.c" through nested maps. */
NPDE_API const npde_config *npde_config_find(const npde_config *node, const char *path);

/* Typed getters on a map's key. A missing key is an error that names the map's
 * location; a value of the wrong type names the value's location. */
NPDE_API NPDE_NODISCARD npde_status npde_config_get_real(const npde_config *map, const char *key, double *out);
NPDE_API NPDE_NODISCARD npde_status npde_config_get_int(const npde_config *map, const char *key, int64_t *out);
NPDE_API NPDE_NODISCARD npde_status npde_config_get_bool(const npde_config *map, const char *key, bool *out);
/** Borrowed string, valid while the tree lives. */
NPDE_API NPDE_NODISCARD npde_status npde_config_get_string(const npde_config *map, const char *key, const char **out);

/**
 * The index in names[0..n_names) of the text at key: *out = i. Any other
 * text is a configuration error at the value that lists the names. For an
 * enum parameter the schema has refused other text already; this maps the
 * validated text to the component's enum. Since: ABI 1.3
 */
NPDE_API NPDE_NODISCARD npde_status npde_config_get_enum(const npde_config *map, const char *key,
                                                         const char *const *names, size_t n_names, int *out);

/* Conversions of one scalar node, with the same messages. */
NPDE_API NPDE_NODISCARD npde_status npde_config_as_real(const npde_config *node, double *out);
NPDE_API NPDE_NODISCARD npde_status npde_config_as_int(const npde_config *node, int64_t *out);
NPDE_API NPDE_NODISCARD npde_status npde_config_as_bool(const npde_config *node, bool *out);

/**
 * Raise NPDE_ERR_CONFIG with "file:line:column: " + message, located at node.
 * Since: ABI 1.0
 */
NPDE_API npde_status npde_config_error(const npde_config *node, const char *fmt, ...) NPDE_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif
#endif
