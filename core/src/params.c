/* Validation of a component's config node against its parameter schema. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_impl.h"
#include "npde/npde_registry.h"

static const char *param_type_word(npde_param_type t) {
  switch (t) {
    case NPDE_PARAM_REAL: return "a number";
    case NPDE_PARAM_INT: return "an integer";
    case NPDE_PARAM_BOOL: return "true or false";
    case NPDE_PARAM_STRING: return "text";
    case NPDE_PARAM_ENUM: return "one of the choices";
    case NPDE_PARAM_REAL_LIST: return "a list of numbers";
    case NPDE_PARAM_INT_LIST: return "a list of integers";
    case NPDE_PARAM_ANY: return "any value";
  }
  return "?";
}

static npde_status check_range(const npde_param_spec *p, const char *what, const npde_config *node, double v) {
  if ((p->flags & NPDE_PARAM_HAS_MIN) && v < p->min) {
    if (p->flags & NPDE_PARAM_HAS_MAX)
      return npde_config_error(node, "%s: '%s' = %s is out of range [%g, %g]", what, p->name, node->scalar, p->min,
                               p->max);
    return npde_config_error(node, "%s: '%s' = %s must be >= %g", what, p->name, node->scalar, p->min);
  }
  if ((p->flags & NPDE_PARAM_HAS_MAX) && v > p->max) {
    if (p->flags & NPDE_PARAM_HAS_MIN)
      return npde_config_error(node, "%s: '%s' = %s is out of range [%g, %g]", what, p->name, node->scalar, p->min,
                               p->max);
    return npde_config_error(node, "%s: '%s' = %s must be <= %g", what, p->name, node->scalar, p->max);
  }
  return NPDE_OK;
}

static bool choice_ok(const char *choices, const char *value) {
  size_t len = strlen(value);
  for (const char *c = choices; c && *c;) {
    const char *bar = strchr(c, '|');
    size_t n = bar ? (size_t)(bar - c) : strlen(c);
    if (n == len && strncmp(c, value, n) == 0) return true;
    c = bar ? bar + 1 : c + n;
  }
  return false;
}

static npde_status check_scalar(const npde_param_spec *p, npde_param_type type, const char *what,
                                const npde_config *node) {
  npde_status st = NPDE_OK;
  double r;
  int64_t i;
  bool b;
  switch (type) {
    case NPDE_PARAM_REAL:
      if (node->type != NPDE_CONFIG_SCALAR || npde_config_as_real(node, &r) != NPDE_OK)
        return npde_config_error(node, "%s: '%s' must be a number, found %s", what, p->name,
                                 node->type == NPDE_CONFIG_SCALAR ? node->scalar : "a collection");
      if (!isfinite(r)) return npde_config_error(node, "%s: '%s' must be a finite number, found %s", what, p->name,
                                                 node->scalar);
      return check_range(p, what, node, r);
    case NPDE_PARAM_INT:
      if (node->type != NPDE_CONFIG_SCALAR || npde_config_as_int(node, &i) != NPDE_OK)
        return npde_config_error(node, "%s: '%s' must be an integer, found %s", what, p->name,
                                 node->type == NPDE_CONFIG_SCALAR ? node->scalar : "a collection");
      return check_range(p, what, node, (double)i);
    case NPDE_PARAM_BOOL:
      if (node->type != NPDE_CONFIG_SCALAR || npde_config_as_bool(node, &b) != NPDE_OK)
        return npde_config_error(node, "%s: '%s' must be true or false, found %s", what, p->name,
                                 node->type == NPDE_CONFIG_SCALAR ? node->scalar : "a collection");
      return NPDE_OK;
    case NPDE_PARAM_STRING:
      if (node->type != NPDE_CONFIG_SCALAR)
        return npde_config_error(node, "%s: '%s' must be text, found a collection", what, p->name);
      return NPDE_OK;
    case NPDE_PARAM_ENUM:
      if (node->type != NPDE_CONFIG_SCALAR || !choice_ok(p->choices, node->scalar))
        return npde_config_error(node, "%s: '%s' must be one of %s, found %s", what, p->name, p->choices,
                                 node->type == NPDE_CONFIG_SCALAR ? node->scalar : "a collection");
      return NPDE_OK;
    default:
      return st;
  }
}

static npde_status check_value(const npde_param_spec *p, const char *what, const npde_config *node) {
  if (p->type == NPDE_PARAM_ANY) return NPDE_OK;
  if (p->type == NPDE_PARAM_REAL_LIST || p->type == NPDE_PARAM_INT_LIST) {
    npde_param_type elem = p->type == NPDE_PARAM_REAL_LIST ? NPDE_PARAM_REAL : NPDE_PARAM_INT;
    if (node->type == NPDE_CONFIG_SCALAR) return check_scalar(p, elem, what, node); /* one value = list of one */
    if (node->type != NPDE_CONFIG_SEQUENCE)
      return npde_config_error(node, "%s: '%s' must be %s, found a mapping", what, p->name, param_type_word(p->type));
    for (size_t k = 0; k < node->n; ++k) NPDE_TRY(check_scalar(p, elem, what, node->items[k]));
    return NPDE_OK;
  }
  return check_scalar(p, p->type, what, node);
}

static void list_valid(const npde_param_spec *params, const char *const *extra, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (const npde_param_spec *p = params; p && p->name && used < size; ++p)
    used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", p->name);
  for (const char *const *e = extra; e && *e && used < size; ++e)
    if (strcmp(*e, "type") != 0) used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", *e);
  if (!used) snprintf(buf, size, "(none)");
}

npde_status npde_params_validate(const npde_param_spec *params, const char *what, const npde_config *node,
                                 const char *const *extra_keys, npde_config **resolved) {
  if (!what || !node || !resolved) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_params_validate: NULL argument");
  *resolved = NULL;
  if (node->type != NPDE_CONFIG_MAP) return npde_config_error(node, "%s: expected a mapping of parameters", what);
  for (size_t k = 0; k < node->n; ++k) {
    const char *key = node->keys[k];
    bool extra = false;
    for (const char *const *e = extra_keys; e && *e && !extra; ++e) extra = strcmp(*e, key) == 0;
    if (extra) continue;
    const npde_param_spec *p = params;
    while (p && p->name && strcmp(p->name, key) != 0) ++p;
    if ((!p || !p->name) && strcmp(key, "type") == 0) continue; /* names the component, unless the schema has it */
    if (!p || !p->name) {
      char valid[2048];
      list_valid(params, extra_keys, valid, sizeof valid);
      npde_config at = *node->items[k]; /* the key's place, not its value's */
      if (at.key_line > 0) at.line = at.key_line, at.column = at.key_column;
      return npde_config_error(&at, "%s: unknown key '%s'; valid keys: %s", what, key, valid);
    }
    if (npde__config_is_null(node->items[k])) {
      if (p->default_value || (p->flags & NPDE_PARAM_OPTIONAL)) continue; /* falls back to the default */
      return npde_config_error(node->items[k], "%s: '%s' needs a value (%s)", what, key, p->doc ? p->doc : "");
    }
    NPDE_TRY(check_value(p, what, node->items[k]));
  }
  npde_config *out;
  NPDE_TRY(npde_config_clone(node, &out));
  for (const npde_param_spec *p = params; p && p->name; ++p) {
    const npde_config *have = npde_config_get(out, p->name);
    if (have && !npde__config_is_null(have)) continue;
    if (!p->default_value) {
      if (p->flags & NPDE_PARAM_OPTIONAL) continue;
      npde__config_free(out);
      return npde_config_error(node, "%s: missing required key '%s' (%s%s%s)", what, p->name,
                               p->type == NPDE_PARAM_ANY ? "" : param_type_word(p->type),
                               p->type == NPDE_PARAM_ANY || !p->doc ? "" : ": ", p->doc ? p->doc : "");
    }
    char where[512];
    snprintf(where, sizeof where, "<default of %s.%s>", what, p->name);
    npde_config *def = NULL;
    npde_status st = npde_config_load_string(p->default_value, where, &def);
    if (st == NPDE_OK && def && def->type == NPDE_CONFIG_MAP && def->n == 0 && p->default_value[0] != '{') {
      npde__config_free(def); /* an empty text parses to an empty document */
      def = npde__config_new_scalar("", where, 1, 1);
    }
    if (st != NPDE_OK || !def || !npde__config_set(out, p->name, def)) {
      npde__config_free(def);
      npde__config_free(out);
      return st != NPDE_OK ? st : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    }
  }
  *resolved = out;
  return NPDE_OK;
}
