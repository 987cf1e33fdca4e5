/* YAML configuration trees with locations: loading (libyaml), include:,
 * anchors, aliases, merge keys, overrides, typed getters, emitting. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "config_impl.h"

#define MAX_INCLUDE_DEPTH 16
#define MAX_NESTING 256
#define MAX_ALIAS_NODES 1000000 /* nodes copied by aliases, per text ("billion laughs") */
#define MAX_NODES 1000000       /* values in one text: a configuration, not a data set */
#define MAX_FILE_BYTES (16 << 20)

/* ------------------------------------------------------------------ nodes */

npde_config *npde__config_new(npde_config_type type, const char *file, int line, int column) {
  npde_config *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->type = type;
  n->file = strdup(file ? file : "?");
  n->line = line;
  n->column = column;
  if (!n->file) { free(n); return NULL; }
  return n;
}

npde_config *npde__config_new_scalar(const char *text, const char *file, int line, int column) {
  npde_config *n = npde__config_new(NPDE_CONFIG_SCALAR, file, line, column);
  if (!n) return NULL;
  n->scalar = strdup(text ? text : "");
  if (!n->scalar) { npde__config_free(n); return NULL; }
  return n;
}

void npde__config_free(npde_config *node) {
  if (!node) return;
  for (size_t i = 0; i < node->n; ++i) {
    if (node->keys) free(node->keys[i]);
    npde__config_free(node->items[i]);
  }
  free(node->keys);
  free(node->items);
  free(node->scalar);
  free(node->file);
  free(node);
}

bool npde__config_append(npde_config *node, const char *key, npde_config *value) {
  if (node->n == node->cap) {
    size_t cap = node->cap ? 2 * node->cap : 4;
    npde_config **items = realloc(node->items, cap * sizeof *items);
    if (!items) return false;
    node->items = items;
    if (node->type == NPDE_CONFIG_MAP) {
      char **keys = realloc(node->keys, cap * sizeof *keys);
      if (!keys) return false;
      node->keys = keys;
    }
    node->cap = cap;
  }
  if (node->type == NPDE_CONFIG_MAP) {
    node->keys[node->n] = strdup(key);
    if (!node->keys[node->n]) return false;
  }
  node->items[node->n++] = value;
  return true;
}

static ptrdiff_t map_index(const npde_config *map, const char *key) {
  if (!map || map->type != NPDE_CONFIG_MAP) return -1;
  for (size_t i = 0; i < map->n; ++i)
    if (strcmp(map->keys[i], key) == 0) return (ptrdiff_t)i;
  return -1;
}

bool npde__config_set(npde_config *map, const char *key, npde_config *value) {
  ptrdiff_t i = map_index(map, key);
  if (i >= 0) {
    npde__config_free(map->items[i]);
    map->items[i] = value;
    return true;
  }
  return npde__config_append(map, key, value);
}

static void map_remove(npde_config *map, size_t i) {
  free(map->keys[i]);
  npde__config_free(map->items[i]);
  memmove(map->keys + i, map->keys + i + 1, (map->n - i - 1) * sizeof *map->keys);
  memmove(map->items + i, map->items + i + 1, (map->n - i - 1) * sizeof *map->items);
  map->n--;
}

static npde_config *clone_node(const npde_config *src) {
  npde_config *c = npde__config_new(src->type, src->file, src->line, src->column);
  if (!c) return NULL;
  c->quoted = src->quoted;
  c->key_line = src->key_line, c->key_column = src->key_column;
  if (src->scalar && !(c->scalar = strdup(src->scalar))) goto fail;
  for (size_t i = 0; i < src->n; ++i) {
    npde_config *item = clone_node(src->items[i]);
    if (!item) goto fail;
    if (!npde__config_append(c, src->keys ? src->keys[i] : NULL, item)) { npde__config_free(item); goto fail; }
  }
  return c;
fail:
  npde__config_free(c);
  return NULL;
}

bool npde__config_is_null(const npde_config *node) {
  if (!node || node->type != NPDE_CONFIG_SCALAR || node->quoted) return false;
  return node->scalar[0] == '\0' || strcmp(node->scalar, "~") == 0 || strcmp(node->scalar, "null") == 0 ||
         strcmp(node->scalar, "Null") == 0 || strcmp(node->scalar, "NULL") == 0;
}

const char *npde__config_where(const npde_config *node, char *buf, size_t size) {
  if (!node) snprintf(buf, size, "?");
  else snprintf(buf, size, "%s:%d:%d", node->file, node->line, node->column);
  return buf;
}

npde_status npde_config_error(const npde_config *node, const char *fmt, ...) {
  char msg[2048], where[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return npde_set_error(NPDE_ERR_CONFIG, __FILE__, __LINE__, "%s: %s", npde__config_where(node, where, sizeof where),
                        msg);
}

/* ---------------------------------------------------------------- parsing */

typedef struct anchor {
  char *name;
  npde_config *node; /* borrowed from the tree being built */
} anchor;

typedef struct parse_ctx {
  yaml_parser_t parser;
  const char *file;
  anchor *anchors;
  size_t n_anchors, cap_anchors;
  npde_config **retired; /* merge sources, kept alive for the anchors inside them */
  size_t n_retired, cap_retired;
  size_t alias_nodes; /* nodes copied by aliases so far */
  size_t nodes;       /* nodes parsed so far */
  const char *text;   /* the input, to place reader errors (libyaml gives only their byte offset) */
  size_t len;
  npde_status st;
} parse_ctx;

static npde_status parse_fail_at(parse_ctx *c, yaml_mark_t mark, const char *fmt, ...) NPDE_PRINTF(3, 4);
static npde_status parse_fail_at(parse_ctx *c, yaml_mark_t mark, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->st = npde_set_error(NPDE_ERR_CONFIG, __FILE__, __LINE__, "%s:%d:%d: %s", c->file, (int)mark.line + 1,
                         (int)mark.column + 1, msg);
  return c->st;
}

static npde_status syntax_error(parse_ctx *c) {
  yaml_parser_t *p = &c->parser;
  if (p->error == YAML_MEMORY_ERROR) return c->st = npde_set_error(NPDE_ERR_NOMEM, __FILE__, __LINE__,
                                                                   "%s: out of memory while parsing", c->file);
  if (p->error == YAML_READER_ERROR && c->text) { /* bad UTF-8 and the like: count lines up to the offset */
    yaml_mark_t at = {0};
    for (size_t i = 0; i < p->problem_offset && i < c->len; ++i) {
      if (c->text[i] == '\n') ++at.line, at.column = 0;
      else if (((unsigned char)c->text[i] & 0xC0) != 0x80) ++at.column;
    }
    return parse_fail_at(c, at, "YAML syntax error: %s (byte %zu)", p->problem ? p->problem : "?", p->problem_offset);
  }
  if (p->context)
    return parse_fail_at(c, p->problem_mark, "YAML syntax error: %s (%s at line %d, column %d)",
                         p->problem ? p->problem : "?", p->context, (int)p->context_mark.line + 1,
                         (int)p->context_mark.column + 1);
  return parse_fail_at(c, p->problem_mark, "YAML syntax error: %s", p->problem ? p->problem : "?");
}

static bool next_event(parse_ctx *c, yaml_event_t *ev) {
  if (!yaml_parser_parse(&c->parser, ev)) {
    syntax_error(c);
    return false;
  }
  return true;
}

static bool add_anchor(parse_ctx *c, const char *name, npde_config *node) {
  if (c->n_anchors == c->cap_anchors) {
    size_t cap = c->cap_anchors ? 2 * c->cap_anchors : 8;
    anchor *a = realloc(c->anchors, cap * sizeof *a);
    if (!a) return false;
    c->anchors = a;
    c->cap_anchors = cap;
  }
  c->anchors[c->n_anchors].name = strdup(name);
  if (!c->anchors[c->n_anchors].name) return false;
  c->anchors[c->n_anchors++].node = node;
  return true;
}

/* Nodes in a tree, counting at most up to limit + 1. */
static size_t tree_size(const npde_config *node, size_t limit) {
  size_t total = 1;
  for (size_t i = 0; i < node->n && total <= limit; ++i) total += tree_size(node->items[i], limit - total);
  return total;
}

static npde_config *find_anchor(parse_ctx *c, const char *name) {
  for (size_t i = c->n_anchors; i-- > 0;) /* latest definition wins */
    if (strcmp(c->anchors[i].name, name) == 0) return c->anchors[i].node;
  return NULL;
}

/* A merge source leaves the tree, but anchors defined inside it must stay
 * valid for later aliases: keep it until the parse ends. */
static bool retire(parse_ctx *c, npde_config *node) {
  if (c->n_retired == c->cap_retired) {
    size_t cap = c->cap_retired ? 2 * c->cap_retired : 8;
    npde_config **r = realloc(c->retired, cap * sizeof *r);
    if (!r) return false;
    c->retired = r;
    c->cap_retired = cap;
  }
  c->retired[c->n_retired++] = node;
  return true;
}

/* Apply YAML merge keys ("<<: *base" or "<<: [*a, *b]"): keys written in the
 * map itself win over merged ones; earlier merge sources win over later. */
static npde_status apply_merges(parse_ctx *c, npde_config *map) {
  for (size_t i = 0; i < map->n;) {
    if (strcmp(map->keys[i], "<<") != 0) { ++i; continue; }
    npde_config *src = map->items[i];
    map->items[i] = NULL;
    map_remove(map, i);
    size_t nsrc = src->type == NPDE_CONFIG_SEQUENCE ? src->n : 1;
    for (size_t s = 0; s < nsrc; ++s) {
      npde_config *from = src->type == NPDE_CONFIG_SEQUENCE ? src->items[s] : src;
      if (from->type != NPDE_CONFIG_MAP) {
        npde_config_error(from, "the merge key '<<' takes a mapping or a list of mappings");
        npde__config_free(src);
        return c->st = NPDE_ERR_CONFIG;
      }
      for (size_t k = 0; k < from->n; ++k) {
        if (map_index(map, from->keys[k]) >= 0) continue;
        npde_config *copy = clone_node(from->items[k]);
        if (!copy || !npde__config_append(map, from->keys[k], copy)) {
          npde__config_free(copy);
          npde__config_free(src);
          return c->st = NPDE_ERR_NOMEM;
        }
      }
    }
    if (!retire(c, src)) {
      npde__config_free(src);
      return c->st = NPDE_ERR_NOMEM;
    }
  }
  return NPDE_OK;
}

/* Parse the node whose first event is *ev (consumed). */
static npde_config *parse_node(parse_ctx *c, yaml_event_t *ev, int depth) {
  yaml_mark_t mark = ev->start_mark;
  int line = (int)mark.line + 1, col = (int)mark.column + 1;
  const char *anchor_name = NULL;
  npde_config *node = NULL;

  if (depth > MAX_NESTING) {
    parse_fail_at(c, mark, "nesting deeper than %d levels", MAX_NESTING);
    goto fail;
  }
  if (++c->nodes > MAX_NODES) {
    parse_fail_at(c, mark, "more than %d values in one file: a configuration is limited to that (large data belong "
                  "in .npy files, which a configuration names)", MAX_NODES);
    goto fail;
  }
  switch (ev->type) {
    case YAML_ALIAS_EVENT: {
      npde_config *target = find_anchor(c, (const char *)ev->data.alias.anchor);
      if (!target) {
        parse_fail_at(c, mark, "alias '*%s' names no anchor defined before it", ev->data.alias.anchor);
        goto fail;
      }
      if (tree_size(target, MAX_ALIAS_NODES - c->alias_nodes) > MAX_ALIAS_NODES - c->alias_nodes) {
        parse_fail_at(c, mark, "aliases expand to more than %d nodes (at '*%s')", MAX_ALIAS_NODES,
                      ev->data.alias.anchor);
        goto fail;
      }
      c->alias_nodes += tree_size(target, MAX_ALIAS_NODES);
      node = clone_node(target);
      if (!node) { c->st = NPDE_ERR_NOMEM; goto fail; }
      yaml_event_delete(ev);
      return node;
    }
    case YAML_SCALAR_EVENT:
      node = npde__config_new_scalar((const char *)ev->data.scalar.value, c->file, line, col);
      if (!node) { c->st = NPDE_ERR_NOMEM; goto fail; }
      node->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                     ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE ||
                     ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
                     ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
      anchor_name = (const char *)ev->data.scalar.anchor;
      break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
      bool is_map = ev->type == YAML_MAPPING_START_EVENT;
      anchor_name = is_map ? (const char *)ev->data.mapping_start.anchor : (const char *)ev->data.sequence_start.anchor;
      node = npde__config_new(is_map ? NPDE_CONFIG_MAP : NPDE_CONFIG_SEQUENCE, c->file, line, col);
      if (!node) { c->st = NPDE_ERR_NOMEM; goto fail; }
      yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
      for (;;) {
        yaml_event_t item;
        if (!next_event(c, &item)) goto fail;
        if (item.type == end) { yaml_event_delete(&item); break; }
        char *key = NULL;
        yaml_mark_t key_mark = item.start_mark;
        if (is_map) {
          if (item.type != YAML_SCALAR_EVENT) {
            parse_fail_at(c, key_mark, "mapping keys must be plain scalars");
            yaml_event_delete(&item);
            goto fail;
          }
          key = strdup((const char *)item.data.scalar.value);
          yaml_event_delete(&item);
          if (!key) { c->st = NPDE_ERR_NOMEM; goto fail; }
          if (strcmp(key, "<<") != 0 && map_index(node, key) >= 0) {
            char where[1200];
            parse_fail_at(c, key_mark, "duplicate key '%s' (first at %s)", key,
                          npde__config_where(node->items[map_index(node, key)], where, sizeof where));
            free(key);
            goto fail;
          }
          if (!next_event(c, &item)) { free(key); goto fail; }
        }
        npde_config *child = parse_node(c, &item, depth + 1);
        if (!child) { free(key); goto fail; }
        if (is_map) child->key_line = (int)key_mark.line + 1, child->key_column = (int)key_mark.column + 1;
        bool ok = npde__config_append(node, key, child);
        free(key);
        if (!ok) { npde__config_free(child); c->st = NPDE_ERR_NOMEM; goto fail; }
      }
      if (is_map && apply_merges(c, node) != NPDE_OK) goto fail;
      break;
    }
    default:
      parse_fail_at(c, mark, "unexpected YAML event");
      goto fail;
  }
  /* anchor_name points into *ev: register it before the event is freed */
  if (anchor_name && !add_anchor(c, anchor_name, node)) {
    c->st = NPDE_ERR_NOMEM;
    goto fail;
  }
  yaml_event_delete(ev);
  return node;
fail:
  yaml_event_delete(ev);
  npde__config_free(node);
  return NULL;
}

/* Parse a whole stream holding at most one document. *out is NULL for an
 * empty stream. */
static npde_status parse_stream(parse_ctx *c, npde_config **out) {
  yaml_event_t ev;
  npde_config *root = NULL;
  *out = NULL;
  for (;;) {
    if (!next_event(c, &ev)) goto fail;
    yaml_event_type_t t = ev.type;
    if (t == YAML_STREAM_END_EVENT) { yaml_event_delete(&ev); break; }
    if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT) { yaml_event_delete(&ev); continue; }
    if (t == YAML_DOCUMENT_START_EVENT) {
      if (root) {
        parse_fail_at(c, ev.start_mark, "a configuration file holds one YAML document, this is a second one");
        yaml_event_delete(&ev);
        goto fail;
      }
      yaml_event_delete(&ev);
      if (!next_event(c, &ev)) goto fail;
      root = parse_node(c, &ev, 0);
      if (!root) goto fail;
      continue;
    }
    yaml_event_delete(&ev);
  }
  *out = root;
  return NPDE_OK;
fail:
  npde__config_free(root);
  return c->st ? c->st : NPDE_ERR_CONFIG;
}

static void ctx_done(parse_ctx *c) {
  for (size_t i = 0; i < c->n_anchors; ++i) free(c->anchors[i].name);
  free(c->anchors);
  for (size_t i = 0; i < c->n_retired; ++i) npde__config_free(c->retired[i]);
  free(c->retired);
  yaml_parser_delete(&c->parser);
}

static npde_status parse_text(const char *text, size_t len, const char *name, npde_config **out) {
  parse_ctx c;
  memset(&c, 0, sizeof c);
  c.file = name;
  c.text = text;
  c.len = len;
  if (!yaml_parser_initialize(&c.parser)) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot initialise the YAML parser");
  yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
  npde_status st = parse_stream(&c, out);
  ctx_done(&c);
  return st;
}

npde_status npde__read_file(const char *path, char **text, size_t *len) {
  struct stat sb; /* before opening it: opening a FIFO waits for a writer */
  if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
    return NPDE_ERROR(NPDE_ERR_IO, "'%s' is not a regular file (a device, a FIFO or a directory): a configuration "
                      "is read from a file", path);
  FILE *f = fopen(path, "rb");
  if (!f) return NPDE_ERROR(NPDE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n > MAX_FILE_BYTES) {
      free(buf), fclose(f);
      return NPDE_ERROR(NPDE_ERR_IO, "'%s' is larger than %d MiB: a configuration is limited to that (large data "
                        "belong in .npy files, which a configuration names)", path, MAX_FILE_BYTES >> 20);
    }
    if (n < cap) break;
    char *bigger = realloc(buf, cap *= 2);
    if (!bigger) { free(buf); buf = NULL; }
    else buf = bigger;
  }
  int err = ferror(f);
  fclose(f);
  if (!buf) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory reading '%s'", path);
  if (err) { free(buf); return NPDE_ERROR(NPDE_ERR_IO, "cannot read '%s'", path); }
  *text = buf;
  *len = n;
  return NPDE_OK;
}

/* Maps naming different `type`s are different components: one replaces the other, keys and all. */
static bool same_component(const npde_config *a, const npde_config *b) {
  ptrdiff_t i = map_index(a, "type"), j = map_index(b, "type");
  return i < 0 || j < 0 || !a->items[i]->scalar || !b->items[j]->scalar ||
         !strcmp(a->items[i]->scalar, b->items[j]->scalar);
}

/* Deep merge: keys of `over` replace or extend those of `base`; maps merge recursively unless they name
 * different types (an rk4 integrator must not keep rk23's rtol), anything else is replaced. Consumes over. */
static bool merge_into(npde_config *base, npde_config *over) {
  for (size_t i = 0; i < over->n; ++i) {
    ptrdiff_t j = map_index(base, over->keys[i]);
    npde_config *v = over->items[i];
    if (j >= 0 && base->items[j]->type == NPDE_CONFIG_MAP && v->type == NPDE_CONFIG_MAP &&
        same_component(base->items[j], v)) {
      if (!merge_into(base->items[j], v)) return false;
      over->items[i] = NULL;
      continue;
    }
    over->items[i] = NULL;
    if (!npde__config_set(base, over->keys[i], v)) { npde__config_free(v); return false; }
  }
  npde__config_free(over);
  return true;
}

static npde_status load_file_rec(const char *path, int depth, const char **stack, npde_config **out);

/* Resolve the `include:` key of a root map loaded from `path`. */
static npde_status resolve_includes(npde_config **rootp, const char *path, int depth, const char **stack) {
  npde_config *root = *rootp;
  ptrdiff_t idx = map_index(root, "include");
  if (idx < 0) return NPDE_OK;
  npde_config *inc = root->items[idx];
  root->items[idx] = NULL; /* now owned by inc */
  map_remove(root, (size_t)idx);

  npde_config *merged = NULL;
  npde_status st = NPDE_OK;
  size_t n = inc->type == NPDE_CONFIG_SEQUENCE ? inc->n : 1;
  if (inc->type == NPDE_CONFIG_MAP) { st = npde_config_error(inc, "'include' takes a file name or a list of them"); goto done; }
  for (size_t i = 0; i < n; ++i) {
    const npde_config *item = inc->type == NPDE_CONFIG_SEQUENCE ? inc->items[i] : inc;
    if (item->type != NPDE_CONFIG_SCALAR || npde__config_is_null(item)) {
      st = npde_config_error(item, "'include' takes a file name or a list of them");
      goto done;
    }
    char full[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (item->scalar[0] == '/' || !slash) snprintf(full, sizeof full, "%s", item->scalar);
    else snprintf(full, sizeof full, "%.*s/%s", (int)(slash - path), path, item->scalar);
    char real[PATH_MAX], real_d[PATH_MAX];
    bool have_real = realpath(full, real) != NULL;
    for (int d = 0; d <= depth; ++d) {
      if (strcmp(stack[d], full) == 0 || (have_real && realpath(stack[d], real_d) && strcmp(real, real_d) == 0)) {
        st = npde_config_error(item, "include cycle: '%s' includes itself", full);
        goto done;
      }
    }
    struct stat sb; /* the include's own trouble, at its place in the including file */
    const int missing = stat(full, &sb) != 0 ? errno : 0;
    if (missing || !S_ISREG(sb.st_mode)) {
      char where[1200];
      st = npde_set_error(NPDE_ERR_IO, __FILE__, __LINE__, "%s: include: '%s': %s",
                          npde__config_where(item, where, sizeof where), full,
                          missing ? strerror(missing) : "not a regular file (a device, a FIFO or a directory)");
      goto done;
    }
    npde_config *sub = NULL;
    st = load_file_rec(full, depth + 1, stack, &sub);
    if (st != NPDE_OK) {
      char first[4096];
      snprintf(first, sizeof first, "%s", npde_last_error());
      char where[1200];
      st = npde_set_error(st, __FILE__, __LINE__, "%s\n  (included from %s)", first,
                          npde__config_where(item, where, sizeof where));
      goto done;
    }
    if (!merged) merged = sub;
    else if (!merge_into(merged, sub)) { st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory"); goto done; }
  }
  if (merged) {
    /* the merged map is this file's: a key missing from it is reported here, not in an included file */
    char *file = strdup(root->file);
    if (!file) { st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory"); goto done; }
    free(merged->file);
    merged->file = file;
    merged->line = root->line;
    merged->column = root->column;
    if (!merge_into(merged, root)) { *rootp = NULL; st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory"); goto done; }
    *rootp = merged;
    merged = NULL;
  }
done:
  npde__config_free(merged);
  npde__config_free(inc);
  return st;
}

static npde_status load_file_rec(const char *path, int depth, const char **stack, npde_config **out) {
  if (depth >= MAX_INCLUDE_DEPTH)
    return NPDE_ERROR(NPDE_ERR_CONFIG, "%s: includes nested deeper than %d files", path, MAX_INCLUDE_DEPTH);
  char *text = NULL;
  size_t len = 0;
  NPDE_TRY(npde__read_file(path, &text, &len));
  npde_config *root = NULL;
  npde_status st = parse_text(text, len, path, &root);
  free(text);
  if (st != NPDE_OK) return st;
  if (root && npde__config_is_null(root)) { /* a file holding only "---" is empty, like an empty file */
    npde__config_free(root);
    root = NULL;
  }
  if (!root) {
    root = npde__config_new(NPDE_CONFIG_MAP, path, 1, 1);
    if (!root) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  }
  if (root->type != NPDE_CONFIG_MAP) {
    st = npde_config_error(root, "a configuration file must be a mapping of keys to values");
    npde__config_free(root);
    return st;
  }
  stack[depth] = path;
  st = resolve_includes(&root, path, depth, stack);
  if (st != NPDE_OK) { npde__config_free(root); return st; }
  *out = root;
  return NPDE_OK;
}

npde_status npde_config_load_file(const char *path, npde_config **out) {
  if (!path || !out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_config_load_file: NULL argument");
  const char *stack[MAX_INCLUDE_DEPTH];
  *out = NULL;
  return load_file_rec(path, 0, stack, out);
}

npde_status npde_config_load_string(const char *text, const char *name, npde_config **out) {
  if (!text || !out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_config_load_string: NULL argument");
  *out = NULL;
  npde_config *root = NULL;
  NPDE_TRY(parse_text(text, strlen(text), name ? name : "<string>", &root));
  if (!root) root = npde__config_new(NPDE_CONFIG_MAP, name ? name : "<string>", 1, 1);
  if (!root) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  *out = root;
  return NPDE_OK;
}

void npde_config_destroy(npde_config **cfg) {
  if (!cfg) return;
  npde__config_free(*cfg);
  *cfg = NULL;
}

npde_status npde_config_clone(const npde_config *cfg, npde_config **out) {
  if (!cfg || !out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_config_clone: NULL argument");
  *out = clone_node(cfg);
  return *out ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
}

/* -------------------------------------------------------------- overrides */

static bool is_index(const char *s, size_t *out) {
  if (!*s) return false;
  size_t v = 0;
  for (const char *p = s; *p; ++p) {
    if (*p < '0' || *p > '9' || p - s >= 15) return false; /* no list is that long; no wrap-around */
    v = v * 10 + (size_t)(*p - '0');
  }
  *out = v;
  return true;
}

npde_status npde_config_apply_override(npde_config *root, const char *assignment) {
  if (!root || !assignment) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_config_apply_override: NULL argument");
  const char *eq = strchr(assignment, '=');
  if (!eq || eq == assignment)
    return NPDE_ERROR(NPDE_ERR_CONFIG, "override '%s': expected key.path=value", assignment);
  if (!eq[1]) return NPDE_ERROR(NPDE_ERR_CONFIG, "override '%s': the value is empty", assignment);
  char where[1100];
  snprintf(where, sizeof where, "<override '%s'>", assignment);

  npde_config *value = NULL;
  npde_status st = parse_text(eq + 1, strlen(eq + 1), where, &value);
  if (st != NPDE_OK) {
    char first[4096];
    snprintf(first, sizeof first, "%s", npde_last_error());
    return npde_set_error(st, __FILE__, __LINE__, "override '%s': the value is not valid YAML: %s", assignment, first);
  }
  if (!value) return NPDE_ERROR(NPDE_ERR_CONFIG, "override '%s': the value is empty", assignment);

  size_t keylen = (size_t)(eq - assignment);
  char *path = strndup(assignment, keylen);
  if (!path) { npde__config_free(value); return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory"); }
  npde_config *node = root;
  char *save = NULL;
  char *part = strtok_r(path, ".", &save);
  st = NPDE_OK;
  while (part) {
    char *next = strtok_r(NULL, ".", &save);
    size_t idx;
    if (node->type == NPDE_CONFIG_SEQUENCE && part[strspn(part, "0123456789")]) {
      /* a name picks the one entry that is a map with that key, or that bare word (stages.evolve.t_end) */
      size_t found = 0, count = 0;
      for (size_t i = 0; i < node->n; ++i)
        if (map_index(node->items[i], part) >= 0 || (node->items[i]->scalar && !strcmp(node->items[i]->scalar, part)))
          found = i, ++count;
      npde_config *entry = count == 1 ? npde__config_new(NPDE_CONFIG_MAP, where, 1, 1) : NULL, *empty = NULL;
      if (count == 1 && node->items[found]->scalar && (!entry || !(empty = npde__config_new(NPDE_CONFIG_MAP, where, 1, 1)) ||
                                                       !npde__config_append(entry, part, empty))) {
        npde__config_free(empty), st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
        break;
      }
      if (count == 1 && node->items[found]->scalar) npde__config_free(node->items[found]), node->items[found] = entry;
      else npde__config_free(entry);
      char w[1200];
      if (count != 1) {
        if (count) st = NPDE_ERROR(NPDE_ERR_CONFIG, "override '%s': more than one entry of the list at %s is '%s': "
                                   "name it by its index", assignment, npde__config_where(node, w, sizeof w), part);
        else st = NPDE_ERROR(NPDE_ERR_CONFIG, "override '%s': '%s' is not an index of the list at %s (0..%zu) nor "
                             "the key of one of its entries", assignment, part, npde__config_where(node, w, sizeof w),
                             node->n ? node->n - 1 : 0);
        break;
      }
      npde_config *named = node->items[found]; /* the same name, now the entry's key */
      if (!next) {
        if (!npde__config_set(named, part, value)) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
        value = NULL;
        break;
      }
      node = named->items[map_index(named, part)];
    } else if (node->type == NPDE_CONFIG_SEQUENCE) {
      if (!is_index(part, &idx) || idx >= node->n) {
        char w[1200];
        st = NPDE_ERROR(NPDE_ERR_CONFIG, "override '%s': '%s' is not an index of the list at %s (0..%zu)", assignment,
                        part, npde__config_where(node, w, sizeof w), node->n ? node->n - 1 : 0);
        break;
      }
      if (!next) { npde__config_free(node->items[idx]); node->items[idx] = value; value = NULL; break; }
      node = node->items[idx];
    } else if (node->type == NPDE_CONFIG_MAP) {
      if (!next) {
        if (!npde__config_set(node, part, value)) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
        value = NULL;
        break;
      }
      ptrdiff_t i = map_index(node, part);
      if (i < 0) {
        npde_config *child = npde__config_new(NPDE_CONFIG_MAP, where, 1, 1);
        if (!child || !npde__config_append(node, part, child)) {
          npde__config_free(child);
          st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
          break;
        }
        node = child;
      } else {
        node = node->items[i];
      }
    } else {
      char w[1200];
      st = NPDE_ERROR(NPDE_ERR_CONFIG, "override '%s': cannot set '%s' inside the value %s, which is not a mapping",
                      assignment, part, npde__config_where(node, w, sizeof w));
      break;
    }
    part = next;
  }
  if (!part && st == NPDE_OK && value)
    st = NPDE_ERROR(NPDE_ERR_CONFIG, "override '%s': the key path is empty", assignment);
  npde__config_free(value);
  free(path);
  return st;
}

/* ---------------------------------------------------------------- access */

npde_config_type npde_config_node_type(const npde_config *node) { return node ? node->type : NPDE_CONFIG_SCALAR; }
const char *npde_config_file(const npde_config *node) { return node ? node->file : "?"; }
int npde_config_line(const npde_config *node) { return node ? node->line : 0; }
int npde_config_column(const npde_config *node) { return node ? node->column : 0; }
const char *npde_config_scalar(const npde_config *node) {
  return node && node->type == NPDE_CONFIG_SCALAR ? node->scalar : NULL;
}
size_t npde_config_size(const npde_config *node) { return node && node->type != NPDE_CONFIG_SCALAR ? node->n : 0; }
const npde_config *npde_config_at(const npde_config *node, size_t i) {
  return node && node->type != NPDE_CONFIG_SCALAR && i < node->n ? node->items[i] : NULL;
}
const char *npde_config_key_at(const npde_config *node, size_t i) {
  return node && node->type == NPDE_CONFIG_MAP && i < node->n ? node->keys[i] : NULL;
}
const npde_config *npde_config_get(const npde_config *node, const char *key) {
  ptrdiff_t i = key ? map_index(node, key) : -1;
  return i >= 0 ? node->items[i] : NULL;
}
const npde_config *npde_config_find(const npde_config *node, const char *path) {
  if (!node || !path) return NULL;
  char part[256];
  while (node && *path) {
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    if (len >= sizeof part) return NULL;
    memcpy(part, path, len);
    part[len] = '\0';
    size_t idx;
    if (node->type == NPDE_CONFIG_SEQUENCE && is_index(part, &idx)) node = npde_config_at(node, idx);
    else node = npde_config_get(node, part);
    path = dot ? dot + 1 : path + len;
  }
  return node;
}

static const char *type_word(const npde_config *node) {
  return node->type == NPDE_CONFIG_MAP ? "a mapping" : node->type == NPDE_CONFIG_SEQUENCE ? "a list" : "a scalar";
}

npde_status npde_config_as_real(const npde_config *node, double *out) {
  if (!node) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_config_as_real: NULL node");
  if (node->type != NPDE_CONFIG_SCALAR) return npde_config_error(node, "expected a number, found %s", type_word(node));
  const char *s = node->scalar;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (!strcasecmp(s, ".inf") || !strcasecmp(s, "+.inf")) v = INFINITY, end = (char *)s + strlen(s);
  else if (!strcasecmp(s, "-.inf")) v = -INFINITY, end = (char *)s + strlen(s);
  if (end == s || *end != '\0' || isnan(v) || (errno == ERANGE && isinf(v)) || strpbrk(s, "xX"))
    return npde_config_error(node, "expected a number, found '%s'", s);
  *out = v;
  return NPDE_OK;
}

npde_status npde_config_as_int(const npde_config *node, int64_t *out) {
  if (!node) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_config_as_int: NULL node");
  if (node->type != NPDE_CONFIG_SCALAR)
    return npde_config_error(node, "expected an integer, found %s", type_word(node));
  const char *s = node->scalar;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end != '\0' || errno == ERANGE) {
    /* accept integral reals written as 1e4 */
    errno = 0;
    double d = strtod(s, &end);
    if (end != s && *end == '\0' && errno != ERANGE && !strpbrk(s, "xX") && d == floor(d) &&
        fabs(d) < 9.007199254740992e15) {
      *out = (int64_t)d;
      return NPDE_OK;
    }
    return npde_config_error(node, "expected an integer, found '%s'", s);
  }
  *out = (int64_t)v;
  return NPDE_OK;
}

npde_status npde_config_as_bool(const npde_config *node, bool *out) {
  if (!node) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_config_as_bool: NULL node");
  if (node->type == NPDE_CONFIG_SCALAR) {
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; ++i) {
      if (!strcasecmp(node->scalar, yes[i])) { *out = true; return NPDE_OK; }
      if (!strcasecmp(node->scalar, no[i])) { *out = false; return NPDE_OK; }
    }
    return npde_config_error(node, "expected true or false, found '%s'", node->scalar);
  }
  return npde_config_error(node, "expected true or false, found %s", type_word(node));
}

static npde_status get_checked(const npde_config *map, const char *key, const npde_config **out) {
  if (!map || !key) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "config getter: NULL argument");
  if (map->type != NPDE_CONFIG_MAP) return npde_config_error(map, "expected a mapping with key '%s'", key);
  const npde_config *v = npde_config_get(map, key);
  if (!v || npde__config_is_null(v)) return npde_config_error(v ? v : map, "missing value for '%s'", key);
  *out = v;
  return NPDE_OK;
}

#define TYPED_GETTER(getter, type, convert)                                  \
  npde_status getter(const npde_config *map, const char *key, type *out) { \
    const npde_config *v = NULL;                                           \
    NPDE_TRY(get_checked(map, key, &v));                                   \
    return convert(v, out);                                                \
  }
TYPED_GETTER(npde_config_get_real, double, npde_config_as_real)
TYPED_GETTER(npde_config_get_int, int64_t, npde_config_as_int)
TYPED_GETTER(npde_config_get_bool, bool, npde_config_as_bool)
#undef TYPED_GETTER
npde_status npde_config_get_string(const npde_config *map, const char *key, const char **out) {
  const npde_config *v = NULL;
  NPDE_TRY(get_checked(map, key, &v));
  if (v->type != NPDE_CONFIG_SCALAR) return npde_config_error(v, "expected text for '%s', found %s", key, type_word(v));
  *out = v->scalar;
  return NPDE_OK;
}

npde_status npde_config_get_enum(const npde_config *map, const char *key, const char *const *names, size_t n_names,
                                 int *out) {
  const char *text;
  NPDE_TRY(npde_config_get_string(map, key, &text));
  if (!names || !out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_config_get_enum: NULL argument");
  for (size_t i = 0; i < n_names; ++i)
    if (names[i] && strcmp(text, names[i]) == 0) {
      *out = (int)i;
      return NPDE_OK;
    }
  char valid[512] = "";
  for (size_t i = 0, len = 0; i < n_names && len < sizeof valid; ++i)
    len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "", names[i] ? names[i] : "?");
  return npde_config_error(npde_config_get(map, key), "unknown %s '%s'; valid: %s", key, text, valid);
}

/* ---------------------------------------------------------------- emitting */

typedef struct strbuf {
  char *data;
  size_t len, cap;
  bool oom;
} strbuf;

static int write_handler(void *ctx, unsigned char *buf, size_t size) {
  strbuf *sb = ctx;
  if (sb->len + size + 1 > sb->cap) {
    size_t cap = sb->cap ? sb->cap : 1024;
    while (cap < sb->len + size + 1) cap *= 2;
    char *d = realloc(sb->data, cap);
    if (!d) { sb->oom = true; return 0; }
    sb->data = d;
    sb->cap = cap;
  }
  memcpy(sb->data + sb->len, buf, size);
  sb->len += size;
  sb->data[sb->len] = '\0';
  return 1;
}

static bool emit_scalar(yaml_emitter_t *em, const char *text, bool quoted) {
  yaml_event_t ev;
  yaml_scalar_style_t style = quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
  if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, -1, 1, 1, style)) return false;
  return yaml_emitter_emit(em, &ev);
}

static bool emit_node(yaml_emitter_t *em, const npde_config *node) {
  yaml_event_t ev;
  if (node->type == NPDE_CONFIG_SCALAR) return emit_scalar(em, node->scalar, node->quoted);
  bool is_map = node->type == NPDE_CONFIG_MAP;
  bool flow = !is_map && node->n <= 16;
  for (size_t i = 0; flow && i < node->n; ++i) flow = node->items[i]->type == NPDE_CONFIG_SCALAR;
  if (is_map) {
    if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE)) return false;
  } else if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                   flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE)) {
    return false;
  }
  if (!yaml_emitter_emit(em, &ev)) return false;
  for (size_t i = 0; i < node->n; ++i) {
    if (is_map && !emit_scalar(em, node->keys[i], false)) return false;
    if (!emit_node(em, node->items[i])) return false;
  }
  if (is_map ? !yaml_mapping_end_event_initialize(&ev) : !yaml_sequence_end_event_initialize(&ev)) return false;
  return yaml_emitter_emit(em, &ev);
}

npde_status npde_config_to_yaml(const npde_config *cfg, char **text) {
  if (!cfg || !text) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_config_to_yaml: NULL argument");
  yaml_emitter_t em;
  yaml_event_t ev;
  strbuf sb = {0};
  if (!yaml_emitter_initialize(&em)) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot initialise the YAML emitter");
  yaml_emitter_set_output(&em, write_handler, &sb);
  yaml_emitter_set_unicode(&em, 1);
  bool ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&em, &ev) &&
            yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&em, &ev) &&
            emit_node(&em, cfg) && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
            yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) && yaml_emitter_flush(&em);
  const char *problem = em.problem;
  yaml_emitter_delete(&em);
  if (!ok || sb.oom) {
    free(sb.data);
    return NPDE_ERROR(sb.oom ? NPDE_ERR_NOMEM : NPDE_ERR_CONFIG, "cannot write YAML: %s",
                      problem ? problem : "out of memory");
  }
  *text = sb.data;
  return NPDE_OK;
}
