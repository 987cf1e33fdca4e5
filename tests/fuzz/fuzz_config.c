/* libFuzzer target for the YAML configuration tree (core/src/config.c) and
 * parameter validation (core/src/params.c).
 *
 * For each input: parse it with npde_config_load_string; if it parses, walk
 * the tree, emit it with npde_config_to_yaml and parse the text again (the
 * structure must survive), clone it, run the typed getters and
 * npde_config_find on fixed keys and paths, validate maps against a small
 * schema, and apply a fixed set of overrides to a copy. Every failing call
 * must leave a message in npde_last_error(). Crashes, leaks (ASan's leak
 * checker), undefined behaviour and broken invariants abort.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde_config.h"
#include "npde/npde_error.h"
#include "npde/npde_registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      fprintf(stderr, "fuzz_config: invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                        \
    }                                                                                 \
  } while (0)

/* A failing call must say why. */
static void check_failure_message(npde_status st) {
  if (st != NPDE_OK) CHECK(npde_last_error()[0] != '\0');
}

static const npde_param_spec schema[] = {
    {.name = "a", .type = NPDE_PARAM_REAL, .default_value = "1e-8", .min = 0, .max = 10,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX, .doc = "a real"},
    {.name = "n", .type = NPDE_PARAM_INT, .default_value = "3", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "an int"},
    {.name = "flag", .type = NPDE_PARAM_BOOL, .default_value = "false", .doc = "a bool"},
    {.name = "name", .type = NPDE_PARAM_STRING, .flags = NPDE_PARAM_OPTIONAL, .doc = "text"},
    {.name = "mode", .type = NPDE_PARAM_ENUM, .default_value = "fast", .choices = "fast|slow|exact",
     .doc = "an enum"},
    {.name = "xs", .type = NPDE_PARAM_REAL_LIST, .default_value = "[1, 2.5]", .doc = "reals"},
    {.name = "ks", .type = NPDE_PARAM_INT_LIST, .default_value = "[]", .max = 100, .flags = NPDE_PARAM_HAS_MAX,
     .doc = "ints"},
    {.name = "any", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL, .doc = "anything"},
    {.name = "req", .type = NPDE_PARAM_INT, .doc = "required"},
    {0},
};
static const char *const extra_keys[] = {"include", "stages", NULL};

static const char *const keys[] = {"a", "b", "x", "n", "flag", "name", "mode", "xs", "points", "stages",
                                   "include", "<<", "", "type", "1"};

static const char *const paths[] = {
    "a", "a.b", "a.b.c", "stages", "stages.0", "stages.0.probe.points", "x.0", "x.1.y", "0", "0.0", "1",
    "", ".", "a..b", "a.", ".a", "18446744073709551617", "stages.99999999999999999999",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
};

static const char *const overrides[] = {
    "a=1",
    "a.b.c=3",
    "a.b=",
    "=3",
    "novalue",
    "x=[1, 2]",
    "x.0=5",
    "x.1.y=2",
    "x.7=1",
    "stages.0.probe.points=10",
    "stages.18446744073709551616=1",
    "name=\"quoted: text\"",
    "m={k: v, l: [1, {z: ~}]}",
    "m.k.deep=1",
    "0=first",
    "0.0=nested",
    "..=1",
    "a=[unclosed",
    "a=&x 1",
    "a=*undefined",
    "a=--- 1\n--- 2",
    "<<=1",
    "include=other.yaml",
    "a=1=2",
    "a.b.c.d.e.f.g.h=~",
};

static size_t count_nodes(const npde_config *node, size_t limit) {
  size_t total = 1;
  for (size_t i = 0; i < npde_config_size(node) && total < limit; ++i)
    total += count_nodes(npde_config_at(node, i), limit - total);
  return total;
}

/* Walk the tree, checking what every accessor says about every node. */
static void walk(const npde_config *node, int depth) {
  CHECK(node != NULL);
  CHECK(depth < 2000);
  CHECK(npde_config_file(node) != NULL);
  CHECK(npde_config_line(node) >= 1);
  CHECK(npde_config_column(node) >= 1);
  npde_config_type t = npde_config_node_type(node);
  size_t n = npde_config_size(node);
  if (t == NPDE_CONFIG_SCALAR) {
    CHECK(npde_config_scalar(node) != NULL);
    CHECK(n == 0);
    double r;
    int64_t i;
    bool b;
    check_failure_message(npde_config_as_real(node, &r));
    check_failure_message(npde_config_as_int(node, &i));
    check_failure_message(npde_config_as_bool(node, &b));
    return;
  }
  CHECK(npde_config_scalar(node) == NULL);
  CHECK(npde_config_at(node, n) == NULL);
  for (size_t k = 0; k < n; ++k) {
    const npde_config *child = npde_config_at(node, k);
    if (t == NPDE_CONFIG_MAP) {
      const char *key = npde_config_key_at(node, k);
      CHECK(key != NULL);
      CHECK(strcmp(key, "<<") != 0 || depth < 0); /* merge keys are resolved while parsing */
      CHECK(npde_config_get(node, key) == child);   /* keys are unique */
    } else {
      CHECK(npde_config_key_at(node, k) == NULL);
    }
    walk(child, depth + 1);
  }
}

/* Same shape, keys and scalar texts (locations and quoting may differ). */
static bool same_tree(const npde_config *a, const npde_config *b) {
  if (npde_config_node_type(a) != npde_config_node_type(b)) return false;
  if (npde_config_node_type(a) == NPDE_CONFIG_SCALAR) return strcmp(npde_config_scalar(a), npde_config_scalar(b)) == 0;
  if (npde_config_size(a) != npde_config_size(b)) return false;
  for (size_t i = 0; i < npde_config_size(a); ++i) {
    const char *ka = npde_config_key_at(a, i), *kb = npde_config_key_at(b, i);
    if ((ka == NULL) != (kb == NULL) || (ka && strcmp(ka, kb) != 0)) return false;
    if (!same_tree(npde_config_at(a, i), npde_config_at(b, i))) return false;
  }
  return true;
}

static void getters(const npde_config *map) {
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; ++k) {
    double r;
    int64_t i;
    bool b;
    const char *s;
    check_failure_message(npde_config_get_real(map, keys[k], &r));
    check_failure_message(npde_config_get_int(map, keys[k], &i));
    check_failure_message(npde_config_get_bool(map, keys[k], &b));
    npde_status st = npde_config_get_string(map, keys[k], &s);
    check_failure_message(st);
    if (st == NPDE_OK) CHECK(s != NULL);
  }
}

static void validate(const npde_config *node) {
  npde_config *resolved = NULL;
  npde_status st = npde_params_validate(schema, "fuzz", node, extra_keys, &resolved);
  check_failure_message(st);
  if (st == NPDE_OK) {
    CHECK(resolved != NULL);
    walk(resolved, 0);
    CHECK(npde_config_get(resolved, "req") != NULL);
    CHECK(npde_config_get(resolved, "mode") != NULL);
  } else {
    CHECK(resolved == NULL);
  }
  npde_config_destroy(&resolved);
}

static void roundtrip(const npde_config *cfg, bool strict) {
  char *text = NULL;
  npde_status st = npde_config_to_yaml(cfg, &text);
  check_failure_message(st);
  if (st != NPDE_OK) return;
  CHECK(text != NULL);
  npde_config *again = NULL;
  st = npde_config_load_string(text, "emitted.yaml", &again);
  check_failure_message(st);
  /* Known quirk: a document holding only an empty plain scalar ("---") is
   * emitted as an empty stream, which loads as an empty mapping. */
  bool empty_root = npde_config_node_type(cfg) == NPDE_CONFIG_SCALAR && npde_config_scalar(cfg)[0] == '\0' &&
                    again && npde_config_node_type(again) == NPDE_CONFIG_MAP && npde_config_size(again) == 0;
  if (strict && !empty_root) {
    if (st != NPDE_OK || !same_tree(cfg, again)) {
      fprintf(stderr, "fuzz_config: round trip changed the tree (%s)\n--- emitted:\n%s\n---\n",
              st != NPDE_OK ? npde_last_error() : "different structure", text);
      abort();
    }
  }
  npde_config_destroy(&again);
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';

  npde_config *cfg = NULL;
  npde_status st = npde_config_load_string(text, "fuzz.yaml", &cfg);
  check_failure_message(st);
  free(text);
  if (st != NPDE_OK) {
    CHECK(cfg == NULL);
    return 0;
  }
  CHECK(cfg != NULL);
  /* Aliases copy their anchor's subtree: keep the expensive checks for
   * trees of reasonable size. */
  bool small = count_nodes(cfg, 20001) <= 20000;

  if (small) walk(cfg, 0);
  roundtrip(cfg, small);

  npde_config *copy = NULL;
  st = npde_config_clone(cfg, &copy);
  check_failure_message(st);
  if (st == NPDE_OK && small) CHECK(same_tree(cfg, copy));
  npde_config_destroy(&copy);

  getters(cfg);
  for (size_t p = 0; p < sizeof paths / sizeof paths[0]; ++p) {
    const npde_config *found = npde_config_find(cfg, paths[p]);
    if (found && npde_config_node_type(found) == NPDE_CONFIG_MAP) getters(found);
  }

  validate(cfg);
  for (size_t i = 0; i < npde_config_size(cfg) && i < 64; ++i) {
    const npde_config *child = npde_config_at(cfg, i);
    if (npde_config_node_type(child) == NPDE_CONFIG_MAP) {
      validate(child);
      getters(child);
    }
  }

  if (small) {
    npde_config *work = NULL;
    st = npde_config_clone(cfg, &work);
    check_failure_message(st);
    for (size_t o = 0; st == NPDE_OK && o < sizeof overrides / sizeof overrides[0]; ++o) {
      npde_status ost = npde_config_apply_override(work, overrides[o]);
      check_failure_message(ost);
      if (ost != NPDE_OK) CHECK(strstr(npde_last_error(), overrides[o]) != NULL || strchr(overrides[o], '\n'));
    }
    if (work) {
      walk(work, -1000000); /* "<<" may be a key set by an override */
      roundtrip(work, false);
      getters(work);
      validate(work);
    }
    npde_config_destroy(&work);
  }

  npde_config_destroy(&cfg);
  return 0;
}
