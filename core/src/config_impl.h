/* Kernel-internal: the configuration tree node, and the calls that build
 * and edit trees; exported for the run engine and methods, never installed. */
#ifndef NPDE_CONFIG_IMPL_H
#define NPDE_CONFIG_IMPL_H

#include "npde/npde_config.h"

struct npde_config {
  npde_config_type type;
  char *file;
  int line, column; /* 1-based */
  int key_line, key_column; /* a map's value: where its key is (0: not a map value, or an override) */
  char *scalar;     /* scalars only */
  bool quoted;      /* scalar written in quotes (never null) */
  size_t n, cap;
  char **keys;          /* maps only: n keys */
  npde_config **items;  /* n values / elements */
};

NPDE_API npde_config *npde__config_new(npde_config_type type, const char *file, int line, int column);
NPDE_API npde_config *npde__config_new_scalar(const char *text, const char *file, int line, int column);
/* Append (map: key != NULL). Takes ownership of value. Returns false on OOM. */
NPDE_API bool npde__config_append(npde_config *node, const char *key, npde_config *value);
/* Replace the value of key in a map, or append. Takes ownership of value. */
NPDE_API bool npde__config_set(npde_config *map, const char *key, npde_config *value);
NPDE_API void npde__config_free(npde_config *node);
/* True for an absent value: a plain empty scalar, "~" or "null". */
NPDE_API bool npde__config_is_null(const npde_config *node);
/* The whole file at path (*text: malloc'ed, not NUL-terminated; *len bytes). */
NPDE_API npde_status npde__read_file(const char *path, char **text, size_t *len);
/* "file:line:column" of a node into buf. */
NPDE_API const char *npde__config_where(const npde_config *node, char *buf, size_t size);

#endif
