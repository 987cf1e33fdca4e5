/* The YAML configuration tree (core/src/config.c), parameter schemas
 * (core/src/params.c) and pipeline validation (core/src/pipeline.c).
 *
 * Fixture files live in tests/config/data (NPDE_CONFIG_DATA_DIR). Every
 * error test checks the exact "file:line:column:" prefix and the words of
 * npde_last_error().
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npde/npde_config.h"
#include "npde/npde_error.h"
#include "npde/npde_pipeline.h"
#include "npde/npde_registry.h"
#include "test_files.h"

#ifndef NPDE_CONFIG_DATA_DIR
#error "NPDE_CONFIG_DATA_DIR must name tests/config/data"
#endif
#define DATA(name) NPDE_CONFIG_DATA_DIR "/" name

/* ------------------------------------------------------------------ helpers */

static npde_config *load_file(const char *path) {
  npde_config *cfg = NULL;
  npde_status st = npde_config_load_file(path, &cfg);
  cr_assert_eq(st, NPDE_OK, "loading %s failed: %s", path, npde_last_error());
  cr_assert_not_null(cfg);
  return cfg;
}

static npde_config *load_text(const char *text) {
  npde_config *cfg = NULL;
  npde_status st = npde_config_load_string(text, "cfg.yaml", &cfg);
  cr_assert_eq(st, NPDE_OK, "parsing failed: %s\n---\n%s", npde_last_error(), text);
  cr_assert_not_null(cfg);
  return cfg;
}

/* The last error must contain `part`. */
static void assert_msg(const char *part) {
  const char *msg = npde_last_error();
  cr_assert(strstr(msg, part) != NULL, "expected \"%s\" in the error message, got:\n%s", part, msg);
}

static void assert_fails(npde_status st, npde_status expected) {
  cr_assert_eq(st, expected, "expected status %d (%s), got %d; message: %s", expected, npde_status_str(expected),
               st, npde_last_error());
}

/* Node at a dotted path, asserted present. */
static const npde_config *at(const npde_config *root, const char *path) {
  const npde_config *n = npde_config_find(root, path);
  cr_assert_not_null(n, "no node at '%s'", path);
  return n;
}

static void assert_scalar(const npde_config *root, const char *path, const char *text) {
  const npde_config *n = at(root, path);
  cr_assert_eq(npde_config_node_type(n), NPDE_CONFIG_SCALAR, "'%s' is not a scalar", path);
  cr_assert_str_eq(npde_config_scalar(n), text, "'%s'", path);
}

/* Location of the node at path: file (suffix), line and column. */
static void assert_loc(const npde_config *root, const char *path, const char *file_suffix, int line, int col) {
  const npde_config *n = at(root, path);
  const char *file = npde_config_file(n);
  size_t lf = strlen(file), ls = strlen(file_suffix);
  cr_assert(lf >= ls && strcmp(file + lf - ls, file_suffix) == 0, "'%s' is in %s, expected %s", path, file,
            file_suffix);
  cr_assert_eq(npde_config_line(n), line, "'%s' line %d, expected %d", path, npde_config_line(n), line);
  cr_assert_eq(npde_config_column(n), col, "'%s' column %d, expected %d", path, npde_config_column(n), col);
}

/* Same shape, keys (in order) and scalar texts. */
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

/* ---------------------------------------------------------------- locations */

Test(config_locations, scalars_maps_sequences_are_one_based) {
  npde_config *cfg = load_file(DATA("locations.yaml"));
  cr_assert_eq(npde_config_node_type(cfg), NPDE_CONFIG_MAP);
  assert_loc(cfg, "", "data/locations.yaml", 2, 1); /* root map starts at its first key */
  assert_loc(cfg, "name", "data/locations.yaml", 2, 7);
  assert_loc(cfg, "solver", "data/locations.yaml", 4, 3);
  assert_loc(cfg, "solver.tol", "data/locations.yaml", 4, 8);
  assert_loc(cfg, "solver.steps", "data/locations.yaml", 5, 10);
  assert_loc(cfg, "list", "data/locations.yaml", 7, 3);
  assert_loc(cfg, "list.0", "data/locations.yaml", 7, 5);
  assert_loc(cfg, "list.1", "data/locations.yaml", 8, 5);
  assert_loc(cfg, "flow", "data/locations.yaml", 9, 7);
  assert_loc(cfg, "flow.1", "data/locations.yaml", 9, 11);
  assert_loc(cfg, "flow.1.k", "data/locations.yaml", 9, 15);
  cr_assert_eq(npde_config_node_type(at(cfg, "list")), NPDE_CONFIG_SEQUENCE);
  cr_assert_eq(npde_config_node_type(at(cfg, "flow.1")), NPDE_CONFIG_MAP);
  npde_config_destroy(&cfg);
  cr_assert_null(cfg);
}

Test(config_locations, accessors_on_maps_and_sequences) {
  npde_config *cfg = load_text("b: 1\na: [x, y, z]\nc: {d: e}\n");
  cr_assert_eq(npde_config_size(cfg), 3);
  cr_assert_str_eq(npde_config_key_at(cfg, 0), "b"); /* file order, not sorted */
  cr_assert_str_eq(npde_config_key_at(cfg, 1), "a");
  cr_assert_str_eq(npde_config_key_at(cfg, 2), "c");
  cr_assert_null(npde_config_key_at(cfg, 3));
  cr_assert_null(npde_config_at(cfg, 3));
  const npde_config *a = npde_config_get(cfg, "a");
  cr_assert_eq(npde_config_at(cfg, 1), a);
  cr_assert_eq(npde_config_size(a), 3);
  cr_assert_null(npde_config_key_at(a, 0));
  cr_assert_null(npde_config_scalar(a));
  cr_assert_str_eq(npde_config_scalar(npde_config_at(a, 2)), "z");
  cr_assert_eq(npde_config_size(npde_config_at(a, 0)), 0);
  cr_assert_null(npde_config_get(cfg, "nosuch"));
  cr_assert_null(npde_config_get(a, "x")); /* not a map */
  cr_assert_null(npde_config_find(cfg, "a.3"));
  cr_assert_null(npde_config_find(cfg, "c.d.e"));
  assert_scalar(cfg, "c.d", "e");
  assert_scalar(cfg, "a.0", "x");
  assert_loc(cfg, "a.2", "cfg.yaml", 2, 11);
  npde_config_destroy(&cfg);
}

Test(config_locations, empty_text_is_an_empty_map) {
  npde_config *cfg = load_text("");
  cr_assert_eq(npde_config_node_type(cfg), NPDE_CONFIG_MAP);
  cr_assert_eq(npde_config_size(cfg), 0);
  npde_config_destroy(&cfg);
  npde_config_destroy(NULL); /* accepted */
}

/* ------------------------------------------------------------ typed getters */

Test(config_getters, reals) {
  npde_config *cfg = load_file(DATA("types.yaml"));
  double r = 0;
  cr_assert_eq(npde_config_get_real(cfg, "tol", &r), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(r, 1e-8);
  cr_assert_eq(npde_config_get_real(cfg, "big", &r), NPDE_OK, "%s", npde_last_error());
  cr_assert(isinf(r) && r > 0);
  cr_assert_eq(npde_config_get_real(cfg, "neg", &r), NPDE_OK, "%s", npde_last_error());
  cr_assert(isinf(r) && r < 0);
  cr_assert_eq(npde_config_get_real(cfg, "count", &r), NPDE_OK);
  cr_assert_eq(r, 42.0);
  cr_assert_eq(npde_config_get_real(cfg, "frac", &r), NPDE_OK);
  cr_assert_eq(r, 1.5);
  npde_config_destroy(&cfg);
}

Test(config_getters, enum_by_name) {
  npde_config *cfg = load_text("initial: radial\nother: cone\n");
  static const char *const names[] = {"gaussian", "radial", "packet"};
  int k = -1;
  cr_assert_eq(npde_config_get_enum(cfg, "initial", names, 3, &k), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(k, 1);
  assert_fails(npde_config_get_enum(cfg, "other", names, 3, &k), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:8: unknown other 'cone'; valid: gaussian, radial, packet");
  cr_assert_eq(k, 1, "a refused value must leave *out alone");
  assert_fails(npde_config_get_enum(cfg, "missing", names, 3, &k), NPDE_ERR_CONFIG);
  assert_msg("missing value for 'missing'");
  npde_config_destroy(&cfg);
}

Test(config_getters, ints) {
  npde_config *cfg = load_file(DATA("types.yaml"));
  int64_t i = 0;
  cr_assert_eq(npde_config_get_int(cfg, "count", &i), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(i, 42);
  cr_assert_eq(npde_config_get_int(cfg, "count_e", &i), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(i, 10000); /* "1e4" is an integer */
  cr_assert_eq(npde_config_get_int(cfg, "q", &i), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(i, 42);
  npde_config *neg = load_text("n: -17\nbig: 9007199254740993\n");
  cr_assert_eq(npde_config_get_int(neg, "n", &i), NPDE_OK);
  cr_assert_eq(i, -17);
  cr_assert_eq(npde_config_get_int(neg, "big", &i), NPDE_OK);
  cr_assert_eq(i, INT64_C(9007199254740993)); /* parsed as an integer, not through a double */
  npde_config_destroy(&neg);
  npde_config_destroy(&cfg);
}

Test(config_getters, bools) {
  npde_config *cfg = load_file(DATA("types.yaml"));
  bool b = false;
  cr_assert_eq(npde_config_get_bool(cfg, "on_yes", &b), NPDE_OK, "%s", npde_last_error());
  cr_assert(b);
  cr_assert_eq(npde_config_get_bool(cfg, "on_no", &b), NPDE_OK, "%s", npde_last_error());
  cr_assert(!b);
  cr_assert_eq(npde_config_get_bool(cfg, "t", &b), NPDE_OK);
  cr_assert(b);
  cr_assert_eq(npde_config_get_bool(cfg, "f", &b), NPDE_OK);
  cr_assert(!b);
  npde_config_destroy(&cfg);
}

Test(config_getters, strings) {
  npde_config *cfg = load_file(DATA("types.yaml"));
  const char *s = NULL;
  cr_assert_eq(npde_config_get_string(cfg, "s", &s), NPDE_OK, "%s", npde_last_error());
  cr_assert_str_eq(s, "hello world");
  cr_assert_eq(npde_config_get_string(cfg, "q", &s), NPDE_OK);
  cr_assert_str_eq(s, "42");
  cr_assert_eq(npde_config_get_string(cfg, "count", &s), NPDE_OK); /* any scalar is text */
  cr_assert_str_eq(s, "42");
  npde_config_destroy(&cfg);
}

Test(config_getters, wrong_type_names_the_value) {
  npde_config *cfg = load_file(DATA("types.yaml"));
  double r;
  int64_t i;
  bool b;
  const char *s;
  assert_fails(npde_config_get_real(cfg, "word", &r), NPDE_ERR_CONFIG);
  assert_msg("data/types.yaml:13:7: expected a number, found 'abc'");
  assert_fails(npde_config_get_real(cfg, "map", &r), NPDE_ERR_CONFIG);
  assert_msg("data/types.yaml:15:6: expected a number, found a mapping");
  assert_fails(npde_config_get_int(cfg, "frac", &i), NPDE_ERR_CONFIG);
  assert_msg("data/types.yaml:12:7: expected an integer, found '1.5'");
  assert_fails(npde_config_get_int(cfg, "lst", &i), NPDE_ERR_CONFIG);
  assert_msg("data/types.yaml:14:6: expected an integer, found a list");
  assert_fails(npde_config_get_bool(cfg, "word", &b), NPDE_ERR_CONFIG);
  assert_msg("data/types.yaml:13:7: expected true or false, found 'abc'");
  assert_fails(npde_config_get_bool(cfg, "count", &b), NPDE_ERR_CONFIG);
  assert_msg("data/types.yaml:4:8: expected true or false, found '42'");
  assert_fails(npde_config_get_string(cfg, "lst", &s), NPDE_ERR_CONFIG);
  assert_msg("data/types.yaml:14:6: expected text for 'lst', found a list");
  assert_fails(npde_config_get_string(cfg, "map", &s), NPDE_ERR_CONFIG);
  assert_msg("data/types.yaml:15:6: expected text for 'map', found a mapping");
  npde_config_destroy(&cfg);
}

Test(config_getters, missing_key_names_the_map) {
  npde_config *cfg = load_file(DATA("types.yaml"));
  double r;
  assert_fails(npde_config_get_real(cfg, "nosuch", &r), NPDE_ERR_CONFIG);
  assert_msg("data/types.yaml:1:1: missing value for 'nosuch'");
  /* an empty value counts as missing and names the value */
  assert_fails(npde_config_get_real(cfg, "empty", &r), NPDE_ERR_CONFIG);
  assert_msg("data/types.yaml:16:7: missing value for 'empty'");
  /* asking a non-map for a key */
  assert_fails(npde_config_get_real(at(cfg, "lst"), "a", &r), NPDE_ERR_CONFIG);
  assert_msg("data/types.yaml:14:6: expected a mapping with key 'a'");
  npde_config_destroy(&cfg);
}

Test(config_getters, bad_numbers) {
  npde_config *cfg = load_text("nan: .nan\nhuge: 1e400\nint_inf: .inf\ntrail: 12abc\nempty_q: ''\n");
  double r;
  int64_t i;
  assert_fails(npde_config_get_real(cfg, "nan", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:1:6: expected a number, found '.nan'");
  assert_fails(npde_config_get_real(cfg, "huge", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:7: expected a number, found '1e400'");
  assert_fails(npde_config_get_int(cfg, "int_inf", &i), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:3:10: expected an integer, found '.inf'");
  assert_fails(npde_config_get_int(cfg, "trail", &i), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:4:8: expected an integer, found '12abc'");
  assert_fails(npde_config_get_real(cfg, "empty_q", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:5:10: expected a number, found ''");
  npde_config_destroy(&cfg);
}

Test(config_getters, config_error_prefixes_the_location) {
  npde_config *cfg = load_file(DATA("types.yaml"));
  assert_fails(npde_config_error(at(cfg, "frac"), "bad %s %d", "value", 7), NPDE_ERR_CONFIG);
  assert_msg("data/types.yaml:12:7: bad value 7");
  npde_config_destroy(&cfg);
}

/* ------------------------------------------------------------ syntax errors */

Test(config_syntax, unclosed_flow_sequence_in_file) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_file(DATA("syntax.yaml"), &cfg), NPDE_ERR_CONFIG);
  cr_assert_null(cfg);
  assert_msg("data/syntax.yaml:3:2: YAML syntax error: did not find expected ',' or ']'");
  assert_msg("(while parsing a flow sequence at line 2, column 4)");
}

Test(config_syntax, unterminated_quote) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_string("a: 1\nb: 'x\n", "cfg.yaml", &cfg), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:3:1: YAML syntax error: found unexpected end of stream");
  assert_msg("while scanning a quoted scalar at line 2, column 4");
}

Test(config_syntax, bad_indentation) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_string("- a\nb: 1\n", "cfg.yaml", &cfg), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:1: YAML syntax error: did not find expected '-' indicator");
}

Test(config_syntax, two_documents) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_string("a: 1\n---\nb: 2\n", "cfg.yaml", &cfg), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:1: a configuration file holds one YAML document, this is a second one");
}

Test(config_syntax, collection_as_key) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_string("a: 1\n[1, 2]: x\n", "cfg.yaml", &cfg), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:1: mapping keys must be plain scalars");
}

Test(config_syntax, missing_file) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_file(DATA("no_such_file.yaml"), &cfg), NPDE_ERR_IO);
  assert_msg("cannot open '");
  assert_msg("data/no_such_file.yaml': No such file or directory");
}

Test(config_syntax, top_level_must_be_a_map_in_files) {
  char path[] = "/tmp/npde_test_config_XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs("- 1\n- 2\n", f);
  fclose(f);
  npde_config *cfg = NULL;
  npde_status st = npde_config_load_file(path, &cfg);
  remove(path);
  assert_fails(st, NPDE_ERR_CONFIG);
  assert_msg(":1:1: a configuration file must be a mapping of keys to values");
  assert_msg(path);
}

Test(config_syntax, nesting_limit) {
  char text[2048];
  size_t n = 0;
  for (int i = 0; i < 300; ++i) text[n++] = '[';
  for (int i = 0; i < 300; ++i) text[n++] = ']';
  text[n] = '\0';
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_string(text, "deep.yaml", &cfg), NPDE_ERR_CONFIG);
  assert_msg("deep.yaml:1:258: nesting deeper than 256 levels");
}

/* ---------------------------------------------------------- duplicate keys */

Test(config_duplicates, rejected_with_both_locations) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_file(DATA("duplicate.yaml"), &cfg), NPDE_ERR_CONFIG);
  cr_assert_null(cfg);
  assert_msg("data/duplicate.yaml:4:3: duplicate key 'tol' (first at ");
  assert_msg("data/duplicate.yaml:2:8)");
}

Test(config_duplicates, in_flow_maps_and_quoted) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_string("{a: 1, a: 2}", "cfg.yaml", &cfg), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:1:8: duplicate key 'a' (first at cfg.yaml:1:5)");
  assert_fails(npde_config_load_string("a: 1\n'a': 2\n", "cfg.yaml", &cfg), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:1: duplicate key 'a'");
  /* the same key in different maps is fine */
  cfg = load_text("x: {a: 1}\ny: {a: 2}\n");
  npde_config_destroy(&cfg);
}

/* ---------------------------------------------------- anchors and aliases */

Test(config_anchors, aliases_copy_and_merge_keys_merge) {
  npde_config *cfg = load_file(DATA("anchors.yaml"));
  /* *base copies the whole map */
  assert_scalar(cfg, "copy.a", "1");
  assert_scalar(cfg, "copy.b", "2");
  cr_assert_eq(npde_config_size(at(cfg, "copy")), 2);
  /* a copy is independent of the anchored node, and keeps its locations */
  cr_assert_neq(at(cfg, "copy"), at(cfg, "base"));
  assert_loc(cfg, "copy.a", "data/anchors.yaml", 2, 6);
  /* <<: *base, explicit keys win wherever they are written */
  assert_scalar(cfg, "derived.a", "1");
  assert_scalar(cfg, "derived.b", "3");
  assert_scalar(cfg, "derived.c", "4");
  cr_assert_eq(npde_config_size(at(cfg, "derived")), 3);
  cr_assert_null(npde_config_get(at(cfg, "derived"), "<<"));
  assert_scalar(cfg, "first.b", "5");
  assert_scalar(cfg, "first.a", "1");
  /* sequences too */
  cr_assert_eq(npde_config_size(at(cfg, "lst2")), 2);
  assert_scalar(cfg, "lst2.1", "2");
  /* <<: [*one, *two]: earlier sources win over later, explicit over both */
  assert_scalar(cfg, "both.x", "1");
  assert_scalar(cfg, "both.y", "1");
  assert_scalar(cfg, "both.z", "3");
  npde_config_destroy(&cfg);
}

Test(config_anchors, undefined_alias) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_file(DATA("undefined_alias.yaml"), &cfg), NPDE_ERR_CONFIG);
  assert_msg("data/undefined_alias.yaml:2:4: alias '*nope' names no anchor defined before it");
}

Test(config_anchors, alias_before_its_anchor) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_string("a: *x\nb: &x 1\n", "cfg.yaml", &cfg), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:1:4: alias '*x' names no anchor defined before it");
}

Test(config_anchors, later_anchor_of_the_same_name_wins) {
  npde_config *cfg = load_text("a: &x 1\nb: *x\nc: &x 2\nd: *x\n");
  assert_scalar(cfg, "b", "1");
  assert_scalar(cfg, "d", "2");
  npde_config_destroy(&cfg);
}

Test(config_anchors, merge_of_a_scalar_is_an_error) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_string("a: &x 1\nb: {<<: *x}\n", "cfg.yaml", &cfg), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:1:4: the merge key '<<' takes a mapping or a list of mappings");
}

/* Regression (tests/fuzz/fuzz_config under ASan): an anchor defined inside a
 * merge source was used after the source had been freed. */
Test(config_anchors, anchor_inside_merge_source_stays_valid) {
  npde_config *cfg = load_text("- {<<: &x {a: 1, b: [2, 3]}, c: 4}\n- *x\n- {<<: {k: &y v}}\n- *y\n");
  assert_scalar(cfg, "0.a", "1");
  assert_scalar(cfg, "0.c", "4");
  cr_assert_eq(npde_config_node_type(at(cfg, "1")), NPDE_CONFIG_MAP);
  cr_assert_eq(npde_config_size(at(cfg, "1")), 2);
  assert_scalar(cfg, "1.a", "1");
  assert_scalar(cfg, "1.b.1", "3");
  assert_scalar(cfg, "2.k", "v");
  assert_scalar(cfg, "3", "v");
  npde_config_destroy(&cfg);
}

/* Regression (tests/fuzz/fuzz_config, first input): the anchor name was read
 * after its YAML event had been freed, and every alias leaked its event. */
Test(config_anchors, anchors_on_every_node_kind) {
  npde_config *cfg = load_text("s: &s text\nq: &q [1, 2]\nm: &m {k: v}\na: [*s, *q, *m, *s]\n");
  assert_scalar(cfg, "a.0", "text");
  assert_scalar(cfg, "a.1.1", "2");
  assert_scalar(cfg, "a.2.k", "v");
  assert_scalar(cfg, "a.3", "text");
  npde_config_destroy(&cfg);
}

/* Regression (a hand-made input for tests/fuzz/fuzz_config, which then ran
 * out of memory): aliases of aliases grow exponentially ("billion laughs");
 * this 500-byte text used to allocate 10^9 nodes. */
Test(config_anchors, alias_expansion_is_bounded) {
  char text[1024];
  size_t n = (size_t)snprintf(text, sizeof text, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
  for (int i = 1; i < 9; ++i) {
    n += (size_t)snprintf(text + n, sizeof text - n, "a%d: &a%d [", i, i);
    for (int k = 0; k < 10; ++k) n += (size_t)snprintf(text + n, sizeof text - n, "%s*a%d", k ? ", " : "", i - 1);
    n += (size_t)snprintf(text + n, sizeof text - n, "]\n");
  }
  cr_assert_lt(n, sizeof text);
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_string(text, "bomb.yaml", &cfg), NPDE_ERR_CONFIG);
  cr_assert_null(cfg);
  assert_msg("bomb.yaml:");
  assert_msg(": aliases expand to more than 1000000 nodes (at '*a");
}

/* ---------------------------------------------------------------- includes */

Test(config_include, base_file_is_deep_merged) {
  npde_config *cfg = load_file(DATA("inc/main.yaml"));
  cr_assert_null(npde_config_get(cfg, "include"));
  assert_scalar(cfg, "name", "base");        /* only in the base */
  assert_scalar(cfg, "solver.tol", "1e-6");  /* kept from the base map */
  assert_scalar(cfg, "solver.steps", "20");  /* scalar replaced */
  assert_scalar(cfg, "solver.opts.a", "1");  /* maps merge recursively */
  assert_scalar(cfg, "solver.opts.b", "3");
  cr_assert_eq(npde_config_size(at(cfg, "list")), 1); /* lists are replaced, not appended */
  assert_scalar(cfg, "list.0", "9");
  /* every node remembers the file it came from */
  assert_loc(cfg, "solver.tol", "data/inc/base.yaml", 3, 8);
  assert_loc(cfg, "solver.steps", "data/inc/main.yaml", 3, 10);
  assert_loc(cfg, "list", "data/inc/main.yaml", 5, 7);
  npde_config_destroy(&cfg);
}

Test(config_include, a_map_naming_another_type_replaces_the_included_one) {
  /* component.yaml: integrator rk4 over the base's rk23 (whose rtol rk4 does not take); linsolver cg over cg */
  npde_config *cfg = load_file(DATA("inc/component.yaml"));
  assert_scalar(cfg, "integrator.type", "rk4");
  assert_scalar(cfg, "integrator.dt", "2e-3");
  cr_assert_null(npde_config_get(at(cfg, "integrator"), "rtol"), "rk23's rtol survived the change of type");
  assert_scalar(cfg, "linsolver.tol", "1e-8"); /* the same type still merges */
  assert_scalar(cfg, "linsolver.max_iters", "50");
  npde_config_destroy(&cfg);
}

Test(config_include, list_of_files_and_nested_includes) {
  /* multi.yaml: include [base.yaml, sub/extra.yaml]; extra.yaml includes
   * leaf.yaml relative to itself (sub/leaf.yaml). Later files win. */
  npde_config *cfg = load_file(DATA("inc/multi.yaml"));
  assert_scalar(cfg, "name", "multi");        /* the including file wins */
  assert_scalar(cfg, "solver.tol", "1e-3");   /* extra over base */
  assert_scalar(cfg, "solver.steps", "5");    /* leaf (via extra) over base */
  assert_scalar(cfg, "solver.opts.b", "2");   /* base */
  assert_scalar(cfg, "leaf", "true");
  cr_assert_eq(npde_config_size(at(cfg, "list")), 2);
  assert_scalar(cfg, "list.0", "7");
  assert_loc(cfg, "leaf", "data/inc/sub/leaf.yaml", 1, 7);
  assert_loc(cfg, "solver.tol", "data/inc/sub/extra.yaml", 2, 15);
  npde_config_destroy(&cfg);
}

Test(config_include, cycle_is_detected) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_file(DATA("inc/cycle_a.yaml"), &cfg), NPDE_ERR_CONFIG);
  cr_assert_null(cfg);
  assert_msg("data/inc/cycle_b.yaml:2:10: include cycle: '");
  assert_msg("data/inc/cycle_a.yaml' includes itself");
  assert_msg("(included from ");
  assert_msg("data/inc/cycle_a.yaml:1:10)");
}

Test(config_include, missing_file_names_the_including_location) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_file(DATA("inc/missing.yaml"), &cfg), NPDE_ERR_IO);
  cr_assert_null(cfg);
  /* the first line names where (issue #21: it had no location) */
  assert_msg("data/inc/missing.yaml:2:10: include: '");
  assert_msg("data/inc/nothere.yaml': No such file or directory");
}

Test(config_include, missing_file_two_levels_down) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_file(DATA("inc/missing_nested.yaml"), &cfg), NPDE_ERR_IO);
  assert_msg("data/inc/missing.yaml:2:10: include:");
  assert_msg("data/inc/missing_nested.yaml:1:22)");
}

Test(config_include, include_must_name_files) {
  char dir[] = "/tmp/npde_test_inc_XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/bad.yaml", dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs("a: 1\ninclude: {file: x.yaml}\n", f);
  fclose(f);
  npde_config *cfg = NULL;
  npde_status st = npde_config_load_file(path, &cfg);
  remove(path);
  remove(dir);
  assert_fails(st, NPDE_ERR_CONFIG);
  assert_msg("bad.yaml:2:10: 'include' takes a file name or a list of them");
}

Test(config_include, strings_keep_include_as_a_key) {
  /* only files resolve includes */
  npde_config *cfg = load_text("include: base.yaml\n");
  assert_scalar(cfg, "include", "base.yaml");
  npde_config_destroy(&cfg);
}

/* --------------------------------------------------------------- overrides */

Test(config_override, creates_missing_maps) {
  npde_config *cfg = load_text("name: x\n");
  cr_assert_eq(npde_config_apply_override(cfg, "a.b.c=3"), NPDE_OK, "%s", npde_last_error());
  assert_scalar(cfg, "a.b.c", "3");
  cr_assert_eq(npde_config_node_type(at(cfg, "a.b")), NPDE_CONFIG_MAP);
  cr_assert_str_eq(npde_config_file(at(cfg, "a.b.c")), "<override 'a.b.c=3'>");
  cr_assert_str_eq(npde_config_file(at(cfg, "a")), "<override 'a.b.c=3'>");
  int64_t v;
  cr_assert_eq(npde_config_get_int(at(cfg, "a.b"), "c", &v), NPDE_OK);
  cr_assert_eq(v, 3);
  assert_scalar(cfg, "name", "x");
  npde_config_destroy(&cfg);
}

Test(config_override, replaces_values) {
  npde_config *cfg = load_text("solver:\n  tol: 1e-6\n  steps: 10\n");
  cr_assert_eq(npde_config_apply_override(cfg, "solver.tol=1e-9"), NPDE_OK, "%s", npde_last_error());
  assert_scalar(cfg, "solver.tol", "1e-9");
  assert_scalar(cfg, "solver.steps", "10");
  cr_assert_eq(npde_config_size(at(cfg, "solver")), 2);
  /* replace a map by a scalar and back */
  cr_assert_eq(npde_config_apply_override(cfg, "solver=none"), NPDE_OK);
  assert_scalar(cfg, "solver", "none");
  cr_assert_eq(npde_config_apply_override(cfg, "solver={tol: 1}"), NPDE_OK);
  assert_scalar(cfg, "solver.tol", "1");
  npde_config_destroy(&cfg);
}

Test(config_override, list_index) {
  npde_config *cfg = load_text("stages:\n  - probe: {points: 5}\n  - probe: {dim: 2}\n");
  cr_assert_eq(npde_config_apply_override(cfg, "stages.0.probe.points=10"), NPDE_OK, "%s", npde_last_error());
  assert_scalar(cfg, "stages.0.probe.points", "10");
  cr_assert_eq(npde_config_apply_override(cfg, "stages.1.probe.width=8"), NPDE_OK, "%s", npde_last_error());
  assert_scalar(cfg, "stages.1.probe.width", "8");
  assert_scalar(cfg, "stages.1.probe.dim", "2");
  cr_assert_eq(npde_config_apply_override(cfg, "stages.1=probe"), NPDE_OK, "%s", npde_last_error());
  assert_scalar(cfg, "stages.1", "probe");
  cr_assert_eq(npde_config_size(at(cfg, "stages")), 2);
  npde_config_destroy(&cfg);
}

/* a name in place of an index picks the one entry with that key (or that bare word, which becomes a map) */
Test(config_override, list_entry_by_name) {
  npde_config *cfg = load_text("stages:\n  - probe\n  - fit: {epochs: 5}\n  - eval: {grid: [3]}\n  - eval\n");
  cr_assert_eq(npde_config_apply_override(cfg, "stages.fit.epochs=10"), NPDE_OK, "%s", npde_last_error());
  assert_scalar(cfg, "stages.1.fit.epochs", "10");
  cr_assert_eq(npde_config_apply_override(cfg, "stages.probe.points=7"), NPDE_OK, "%s", npde_last_error());
  assert_scalar(cfg, "stages.0.probe.points", "7");
  cr_assert_eq(npde_config_apply_override(cfg, "stages.fit={lr: 1}"), NPDE_OK, "%s", npde_last_error());
  assert_scalar(cfg, "stages.1.fit.lr", "1");
  assert_fails(npde_config_apply_override(cfg, "stages.eval.grid=[5]"), NPDE_ERR_CONFIG);
  assert_msg("override 'stages.eval.grid=[5]': more than one entry of the list at cfg.yaml:2:3 is 'eval': name it by "
             "its index");
  assert_fails(npde_config_apply_override(cfg, "stages.train.n=4"), NPDE_ERR_CONFIG);
  assert_msg("override 'stages.train.n=4': 'train' is not an index of the list at cfg.yaml:2:3 (0..3) nor the key of "
             "one of its entries");
  cr_assert_eq(npde_config_size(at(cfg, "stages")), 4);
  npde_config_destroy(&cfg);
}

Test(config_override, value_is_parsed_as_yaml) {
  npde_config *cfg = load_text("a: 1\n");
  cr_assert_eq(npde_config_apply_override(cfg, "x=[1, 2]"), NPDE_OK, "%s", npde_last_error());
  const npde_config *x = at(cfg, "x");
  cr_assert_eq(npde_config_node_type(x), NPDE_CONFIG_SEQUENCE);
  cr_assert_eq(npde_config_size(x), 2);
  assert_scalar(cfg, "x.1", "2");
  cr_assert_eq(npde_config_apply_override(cfg, "m={k: v, l: [3]}"), NPDE_OK);
  assert_scalar(cfg, "m.k", "v");
  assert_scalar(cfg, "m.l.0", "3");
  cr_assert_eq(npde_config_apply_override(cfg, "s='a=b: c'"), NPDE_OK, "%s", npde_last_error());
  assert_scalar(cfg, "s", "a=b: c");
  npde_config_destroy(&cfg);
}

Test(config_override, malformed_assignments) {
  npde_config *cfg = load_text("a: 1\n");
  assert_fails(npde_config_apply_override(cfg, "novalue"), NPDE_ERR_CONFIG);
  assert_msg("override 'novalue': expected key.path=value");
  assert_fails(npde_config_apply_override(cfg, "=3"), NPDE_ERR_CONFIG);
  assert_msg("override '=3': expected key.path=value");
  assert_fails(npde_config_apply_override(cfg, "a.b="), NPDE_ERR_CONFIG);
  assert_msg("override 'a.b=': the value is empty");
  assert_fails(npde_config_apply_override(cfg, "..=3"), NPDE_ERR_CONFIG);
  assert_msg("override '..=3': the key path is empty");
  assert_fails(npde_config_apply_override(cfg, "q=[1"), NPDE_ERR_CONFIG);
  assert_msg("override 'q=[1': the value is not valid YAML: <override 'q=[1'>:");
  assert_fails(npde_config_apply_override(cfg, "q=*nope"), NPDE_ERR_CONFIG);
  assert_msg("override 'q=*nope': the value is not valid YAML: <override 'q=*nope'>:1:1: alias '*nope'");
  /* nothing changed */
  cr_assert_eq(npde_config_size(cfg), 1);
  assert_scalar(cfg, "a", "1");
  npde_config_destroy(&cfg);
}

Test(config_override, descending_into_a_scalar) {
  npde_config *cfg = load_text("a: 1\nlist: [x]\n");
  assert_fails(npde_config_apply_override(cfg, "a.b=2"), NPDE_ERR_CONFIG);
  assert_msg("override 'a.b=2': cannot set 'b' inside the value cfg.yaml:1:4, which is not a mapping");
  assert_fails(npde_config_apply_override(cfg, "list.0.k=2"), NPDE_ERR_CONFIG);
  assert_msg("override 'list.0.k=2': cannot set 'k' inside the value cfg.yaml:2:8, which is not a mapping");
  assert_fails(npde_config_apply_override(cfg, "list.1=y"), NPDE_ERR_CONFIG);
  assert_msg("override 'list.1=y': '1' is not an index of the list at cfg.yaml:2:7 (0..0)");
  assert_fails(npde_config_apply_override(cfg, "list.first=y"), NPDE_ERR_CONFIG);
  assert_msg("override 'list.first=y': 'first' is not an index of the list at cfg.yaml:2:7");
  assert_scalar(cfg, "a", "1");
  npde_config_destroy(&cfg);
}

/* ---------------------------------------------------------------- emitting */

static void assert_round_trip(npde_config *cfg) {
  char *text = NULL;
  cr_assert_eq(npde_config_to_yaml(cfg, &text), NPDE_OK, "%s", npde_last_error());
  cr_assert_not_null(text);
  npde_config *again = NULL;
  cr_assert_eq(npde_config_load_string(text, "emitted.yaml", &again), NPDE_OK, "%s\n---\n%s", npde_last_error(),
               text);
  cr_assert(same_tree(cfg, again), "round trip changed the tree:\n%s", text);
  npde_config_destroy(&again);
  free(text);
}

Test(config_emit, round_trip_of_fixtures) {
  const char *files[] = {DATA("locations.yaml"), DATA("types.yaml"), DATA("anchors.yaml"), DATA("inc/multi.yaml")};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; ++i) {
    npde_config *cfg = load_file(files[i]);
    assert_round_trip(cfg);
    npde_config_destroy(&cfg);
  }
}

Test(config_emit, quoting_survives) {
  npde_config *cfg = load_text("q: \"42\"\nn: 'null'\nt: 'yes'\ne: ''\ncolon: 'a: b'\nlit: |\n  two\n  lines\n");
  char *text = NULL;
  cr_assert_eq(npde_config_to_yaml(cfg, &text), NPDE_OK);
  npde_config *again = load_text(text);
  assert_scalar(again, "q", "42");
  assert_scalar(again, "n", "null");
  assert_scalar(again, "colon", "a: b");
  assert_scalar(again, "lit", "two\nlines\n");
  /* a quoted "null" stays a value */
  const char *s = NULL;
  cr_assert_eq(npde_config_get_string(again, "n", &s), NPDE_OK, "%s\n%s", npde_last_error(), text);
  cr_assert_str_eq(s, "null");
  cr_assert(same_tree(cfg, again), "%s", text);
  npde_config_destroy(&again);
  npde_config_destroy(&cfg);
  free(text);
}

Test(config_emit, round_trip_after_overrides_and_clone) {
  npde_config *cfg = load_file(DATA("inc/main.yaml"));
  cr_assert_eq(npde_config_apply_override(cfg, "x.y=[1, {z: 2}]"), NPDE_OK);
  cr_assert_eq(npde_config_apply_override(cfg, "solver.opts.c=~"), NPDE_OK);
  npde_config *copy = NULL;
  cr_assert_eq(npde_config_clone(cfg, &copy), NPDE_OK);
  cr_assert(same_tree(cfg, copy));
  assert_loc(copy, "solver.tol", "data/inc/base.yaml", 3, 8); /* clones keep locations */
  assert_round_trip(copy);
  npde_config_destroy(&copy);
  npde_config_destroy(&cfg);
}

/* ------------------------------------------------------- parameter schemas */

static const npde_param_spec schema[] = {
    {.name = "tol", .type = NPDE_PARAM_REAL, .default_value = "1e-8", .doc = "tolerance", .min = 0, .max = 1,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX},
    {.name = "steps", .type = NPDE_PARAM_INT, .default_value = "100", .doc = "step count", .min = 1,
     .flags = NPDE_PARAM_HAS_MIN},
    {.name = "limit", .type = NPDE_PARAM_REAL, .default_value = "5", .doc = "upper bound", .max = 10,
     .flags = NPDE_PARAM_HAS_MAX},
    {.name = "verbose", .type = NPDE_PARAM_BOOL, .default_value = "false", .doc = "chatty"},
    {.name = "label", .type = NPDE_PARAM_STRING, .doc = "a label", .flags = NPDE_PARAM_OPTIONAL},
    {.name = "method", .type = NPDE_PARAM_ENUM, .default_value = "gmres", .doc = "the method",
     .choices = "gmres|cg|bicgstab"},
    {.name = "weights", .type = NPDE_PARAM_REAL_LIST, .default_value = "[1, 2.5]", .doc = "weights"},
    {.name = "sizes", .type = NPDE_PARAM_INT_LIST, .default_value = "[]", .doc = "sizes", .min = 1,
     .flags = NPDE_PARAM_HAS_MIN},
    {.name = "extra", .type = NPDE_PARAM_ANY, .doc = "anything", .flags = NPDE_PARAM_OPTIONAL},
    {.name = "n", .type = NPDE_PARAM_INT, .doc = "problem size"}, /* required */
    {0},
};

static npde_status validate_text(const char *text, npde_config **resolved) {
  npde_config *cfg = load_text(text);
  npde_status st = npde_params_validate(schema, "solver", cfg, NULL, resolved);
  npde_config_destroy(&cfg);
  return st;
}

Test(config_params, defaults_filled_optional_stays_absent) {
  npde_config *r = NULL;
  cr_assert_eq(validate_text("n: 4\nmethod: cg\n", &r), NPDE_OK, "%s", npde_last_error());
  assert_scalar(r, "n", "4");
  assert_scalar(r, "method", "cg");
  assert_scalar(r, "tol", "1e-8");
  assert_scalar(r, "steps", "100");
  assert_scalar(r, "verbose", "false");
  cr_assert_eq(npde_config_node_type(at(r, "weights")), NPDE_CONFIG_SEQUENCE);
  assert_scalar(r, "weights.1", "2.5");
  cr_assert_eq(npde_config_node_type(at(r, "sizes")), NPDE_CONFIG_SEQUENCE);
  cr_assert_eq(npde_config_size(at(r, "sizes")), 0);
  cr_assert_null(npde_config_get(r, "label"));
  cr_assert_null(npde_config_get(r, "extra"));
  double tol;
  cr_assert_eq(npde_config_get_real(r, "tol", &tol), NPDE_OK);
  cr_assert_eq(tol, 1e-8);
  cr_assert_str_eq(npde_config_file(at(r, "tol")), "<default of solver.tol>");
  npde_config_destroy(&r);
}

Test(config_params, given_values_kept_and_null_takes_default) {
  npde_config *r = NULL;
  cr_assert_eq(validate_text("n: 1e3\ntol:\nlabel: hi\nweights: 3\nsizes: [1, 2]\nextra: {a: [1]}\ntype: x\n", &r),
               NPDE_OK, "%s", npde_last_error());
  assert_scalar(r, "n", "1e3");
  assert_scalar(r, "tol", "1e-8");
  assert_scalar(r, "label", "hi");
  assert_scalar(r, "weights", "3"); /* one value stands for a list of one */
  assert_scalar(r, "sizes.1", "2");
  assert_scalar(r, "extra.a.0", "1");
  assert_scalar(r, "type", "x"); /* "type" is always accepted */
  npde_config_destroy(&r);
}

/* an unknown key is pointed at where the key is written, not at its value (here on the same line, column 12) */
Test(config_params, unknown_key_lists_valid_keys) {
  npde_config *r = NULL;
  assert_fails(validate_text("n: 1\ntolerance: 1e-3\n", &r), NPDE_ERR_CONFIG);
  cr_assert_null(r);
  assert_msg("cfg.yaml:2:1: solver: unknown key 'tolerance'; valid keys: tol, steps, limit, verbose, label, "
             "method, weights, sizes, extra, n");
}

Test(config_params, extra_keys_are_accepted_and_listed) {
  static const char *const extra[] = {"plugin", "type", NULL};
  npde_config *cfg = load_text("n: 1\nplugin: foo\n");
  npde_config *r = NULL;
  cr_assert_eq(npde_params_validate(schema, "solver", cfg, extra, &r), NPDE_OK, "%s", npde_last_error());
  assert_scalar(r, "plugin", "foo");
  npde_config_destroy(&r);
  npde_config_destroy(&cfg);
  cfg = load_text("n: 1\nplugins: foo\n");
  assert_fails(npde_params_validate(schema, "solver", cfg, extra, &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:1: solver: unknown key 'plugins'; valid keys: tol, steps, limit, verbose, label, method, "
             "weights, sizes, extra, n, plugin");
  npde_config_destroy(&cfg);
}

Test(config_params, wrong_types) {
  npde_config *r = NULL;
  assert_fails(validate_text("n: 1\nsteps: many\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:8: solver: 'steps' must be an integer, found many");
  assert_fails(validate_text("n: 1\ntol: [1]\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:6: solver: 'tol' must be a number, found a collection");
  assert_fails(validate_text("n: 1\nverbose: maybe\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:10: solver: 'verbose' must be true or false, found maybe");
  assert_fails(validate_text("n: 1\nlabel: {a: 1}\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:8: solver: 'label' must be text, found a collection");
  assert_fails(validate_text("n: 1\nweights: [1, x, 3]\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:14: solver: 'weights' must be a number, found x");
  assert_fails(validate_text("n: 1\nweights: {a: 1}\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:10: solver: 'weights' must be a list of numbers, found a mapping");
  assert_fails(validate_text("n: 1\nsizes: [1, 2.5]\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:12: solver: 'sizes' must be an integer, found 2.5");
  cr_assert_null(r);
}

Test(config_params, out_of_range) {
  npde_config *r = NULL;
  assert_fails(validate_text("n: 1\ntol: 2\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:6: solver: 'tol' = 2 is out of range [0, 1]");
  assert_fails(validate_text("n: 1\ntol: -1e-3\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:6: solver: 'tol' = -1e-3 is out of range [0, 1]");
  assert_fails(validate_text("n: 1\nsteps: 0\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:8: solver: 'steps' = 0 must be >= 1");
  assert_fails(validate_text("n: 1\nlimit: .inf\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:8: solver: 'limit' must be a finite number, found .inf");
  assert_fails(validate_text("n: 1\nsizes: [3, 0]\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:12: solver: 'sizes' = 0 must be >= 1");
  /* the bounds themselves are in range */
  cr_assert_eq(validate_text("n: 1\ntol: 1\nsteps: 1\nlimit: 10\n", &r), NPDE_OK, "%s", npde_last_error());
  npde_config_destroy(&r);
}

Test(config_params, enum_lists_choices) {
  npde_config *r = NULL;
  assert_fails(validate_text("n: 1\nmethod: lu\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:2:9: solver: 'method' must be one of gmres|cg|bicgstab, found lu");
  assert_fails(validate_text("n: 1\nmethod: gmre\n", &r), NPDE_ERR_CONFIG); /* no prefix matches */
  assert_msg("found gmre");
  cr_assert_eq(validate_text("n: 1\nmethod: bicgstab\n", &r), NPDE_OK);
  npde_config_destroy(&r);
}

Test(config_params, required_missing) {
  npde_config *r = NULL;
  assert_fails(validate_text("tol: 0.5\nsteps: 3\n", &r), NPDE_ERR_CONFIG);
  cr_assert_null(r);
  assert_msg("cfg.yaml:1:1: solver: missing required key 'n' (an integer: problem size)");
  assert_fails(validate_text("n:\n", &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:1:3: solver: 'n' needs a value (problem size)");
}

Test(config_params, node_must_be_a_map) {
  npde_config *cfg = load_text("s: [1, 2]\n");
  npde_config *r = NULL;
  assert_fails(npde_params_validate(schema, "solver", at(cfg, "s"), NULL, &r), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:1:4: solver: expected a mapping of parameters");
  npde_config_destroy(&cfg);
}

/* ---------------------------------------------------------------- pipeline */

static npde_registry *registry(void) {
  npde_registry *reg = NULL;
  cr_assert_eq(npde_registry_create(&reg), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_OK, "%s", npde_last_error());
  cr_assert_not_null(npde_registry_find(reg, NPDE_KIND_BACKEND, "cpu"), "the cpu backend is not built (%s)",
                     npde_registry_default_dir());
  return reg;
}

static npde_status create_pipeline(const char *path) {
  npde_registry *reg = registry();
  npde_config *cfg = load_file(path);
  npde_pipeline *pl = NULL;
  npde_status st = npde_pipeline_create(reg, cfg, &pl);
  if (st != NPDE_OK) cr_assert_null(pl);
  npde_pipeline_destroy(&pl);
  npde_config_destroy(&cfg);
  npde_registry_destroy(&reg);
  return st;
}

Test(config_pipeline, valid_file_gets_defaults) {
  npde_registry *reg = registry();
  npde_config *cfg = load_file(DATA("pipe_ok.yaml"));
  npde_pipeline *pl = NULL;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  const npde_config *r = npde_pipeline_config(pl);
  assert_scalar(r, "backend.type", "cpu");
  assert_scalar(r, "backend.threads", "0");
  assert_scalar(r, "seed", "0");
  assert_scalar(r, "dtype", "f64");
  assert_scalar(r, "stages.0.probe.points", "1000");
  assert_scalar(r, "stages.0.probe.dim", "3");
  assert_scalar(r, "stages.1.probe.points", "100000"); /* "- probe" means "- probe: {}" */
  assert_scalar(r, "stages.1.probe.max_sigma", "6");
  /* the input tree is not changed */
  assert_scalar(cfg, "backend", "cpu");
  npde_pipeline_destroy(&pl);
  cr_assert_null(pl);
  npde_config_destroy(&cfg);
  npde_registry_destroy(&reg);
}

Test(config_pipeline, unknown_top_level_key_lists_valid_keys) {
  assert_fails(create_pipeline(DATA("pipe_unknown_key.yaml")), NPDE_ERR_CONFIG);
  assert_msg("data/pipe_unknown_key.yaml:2:1: pipeline: unknown key 'stagez'; valid keys: name, seed, dtype, "
             "backend, plugin_path, pde, network, samples, linsolver, precond, integrator, stages");
}

Test(config_pipeline, samples_accepts_only_what_the_stages_read) {
  /* kind and batch were once accepted and ignored: a grid or chunked draw that silently stayed uniform */
  assert_fails(create_pipeline(DATA("pipe_samples_kind.yaml")), NPDE_ERR_CONFIG);
  assert_msg("data/pipe_samples_kind.yaml:2:19: samples: unknown key 'kind'; valid keys: n");
}

Test(config_pipeline, unknown_backend_lists_valid_types) {
  assert_fails(create_pipeline(DATA("pipe_bad_backend.yaml")), NPDE_ERR_CONFIG);
  assert_msg("data/pipe_bad_backend.yaml:2:10: backend: unknown backend type 'nosuch'; valid types: cpu");
}

Test(config_pipeline, unknown_stage_lists_probe) {
  assert_fails(create_pipeline(DATA("pipe_bad_stage.yaml")), NPDE_ERR_CONFIG);
  assert_msg("data/pipe_bad_stage.yaml:4:5: unknown stage 'solve'; valid stages: probe");
}

Test(config_pipeline, bad_stage_param_names_its_location) {
  assert_fails(create_pipeline(DATA("pipe_bad_param.yaml")), NPDE_ERR_CONFIG);
  assert_msg("data/pipe_bad_param.yaml:5:7: stage 'probe': unknown key 'pointz'; valid keys: points, dim, width, "
             "max_sigma");
}

Test(config_pipeline, stage_param_out_of_range) {
  assert_fails(create_pipeline(DATA("pipe_bad_range.yaml")), NPDE_ERR_CONFIG);
  assert_msg("data/pipe_bad_range.yaml:4:12: stage 'probe': 'dim' = 65 is out of range [1, 64]");
}

Test(config_pipeline, missing_stages_and_backend_params) {
  npde_registry *reg = registry();
  npde_pipeline *pl = NULL;
  npde_config *cfg = load_text("backend: cpu\n");
  assert_fails(npde_pipeline_create(reg, cfg, &pl), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:1:1: pipeline: missing required key 'stages'");
  npde_config_destroy(&cfg);
  cfg = load_text("backend: {type: cpu, threads: -1}\nstages: [probe]\n");
  assert_fails(npde_pipeline_create(reg, cfg, &pl), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:1:31: backend (backend 'cpu'): 'threads' = -1 is out of range [0, 1024]");
  npde_config_destroy(&cfg);
  cfg = load_text("stages: []\n");
  assert_fails(npde_pipeline_create(reg, cfg, &pl), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:1:9: 'stages' must be a non-empty list");
  npde_config_destroy(&cfg);
  cfg = load_text("dtype: f16\nstages: [probe]\n");
  assert_fails(npde_pipeline_create(reg, cfg, &pl), NPDE_ERR_CONFIG);
  assert_msg("cfg.yaml:1:8: pipeline: 'dtype' must be one of f64|f32, found f16");
  npde_config_destroy(&cfg);
  cr_assert_null(pl);
  npde_registry_destroy(&reg);
}

Test(config_pipeline, override_then_validate) {
  npde_registry *reg = registry();
  npde_config *cfg = load_file(DATA("pipe_bad_param.yaml"));
  /* an override can't remove a key, but can replace the stage's map */
  cr_assert_eq(npde_config_apply_override(cfg, "stages.0.probe={points: 50}"), NPDE_OK, "%s", npde_last_error());
  npde_pipeline *pl = NULL;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  assert_scalar(npde_pipeline_config(pl), "stages.0.probe.points", "50");
  npde_pipeline_destroy(&pl);
  cr_assert_eq(npde_config_apply_override(cfg, "stages.0.probe.points=1"), NPDE_OK);
  assert_fails(npde_pipeline_create(reg, cfg, &pl), NPDE_ERR_CONFIG);
  assert_msg("<override 'stages.0.probe.points=1'>:1:1: stage 'probe': 'points' = 1 is out of range [2, 1e+09]");
  npde_config_destroy(&cfg);
  npde_registry_destroy(&reg);
}

/* ---------------------------------------------------------- edge cases */

Test(config_include, cycle_through_another_spelling_is_detected) {
  char dir[] = "/tmp/npde-cycle.XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char a[256], b[256];
  snprintf(a, sizeof a, "%s/a.yaml", dir);
  snprintf(b, sizeof b, "%s/b.yaml", dir);
  FILE *f = fopen(a, "w");
  fputs("include: ./b.yaml\nx: 1\n", f);
  fclose(f);
  f = fopen(b, "w");
  fputs("include: ././a.yaml\n", f);
  fclose(f);
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_file(a, &cfg), NPDE_ERR_CONFIG);
  assert_msg("include cycle");
  cr_assert(strstr(npde_last_error(), "nested deeper") == NULL, "caught by the cycle check, not the depth limit");
  remove(a);
  remove(b);
  rmdir(dir);
}

Test(config_override, huge_index_is_not_wrapped_around) {
  npde_config *cfg = load_text("stages: [a, b]\n");
  assert_fails(npde_config_apply_override(cfg, "stages.18446744073709551616=X"), NPDE_ERR_CONFIG);
  assert_msg("is not an index of the list");
  assert_scalar(cfg, "stages.0", "a");
  cr_assert_null(npde_config_find(cfg, "stages.18446744073709551617"));
  npde_config_destroy(&cfg);
}

Test(config_getters, denormals_accepted_hex_rejected) {
  npde_config *cfg = load_text("tiny: 1e-310\nhuge: 1e999\nhex: 0x10\nhexf: 0x1p3\n");
  double r;
  cr_assert_eq(npde_config_get_real(cfg, "tiny", &r), NPDE_OK, "%s", npde_last_error());
  cr_assert(r > 0 && r < 1e-300);
  assert_fails(npde_config_get_real(cfg, "huge", &r), NPDE_ERR_CONFIG);
  int64_t i;
  assert_fails(npde_config_get_int(cfg, "hex", &i), NPDE_ERR_CONFIG);
  assert_fails(npde_config_get_real(cfg, "hexf", &r), NPDE_ERR_CONFIG);
  npde_config_destroy(&cfg);
}

Test(config_syntax, document_marker_only_is_an_empty_file) {
  char path[] = "/tmp/npde-empty.XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, "---\n", 4), 4);
  close(fd);
  npde_config *cfg = load_file(path);
  cr_assert_eq(npde_config_node_type(cfg), NPDE_CONFIG_MAP);
  cr_assert_eq(npde_config_size(cfg), 0);
  npde_config_destroy(&cfg);
  remove(path);
}

/* Inputs that would hang or exhaust the machine are refused by name: an include that is not a regular file (a
 * device reads forever, a FIFO waits for a writer), a file over 16 MiB, a text of more than a million values. */
Test(config, test_inputs_that_would_hang_or_exhaust_memory_are_refused) {
  char dir[] = "/tmp/npde-inputs-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char fifo[96], top[96], big[96];
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  snprintf(top, sizeof top, "%s/main.yaml", dir);
  snprintf(big, sizeof big, "%s/big.yaml", dir);
  cr_assert_eq(mkfifo(fifo, 0600), 0);
  const char *includes[] = {"/dev/zero", fifo};
  for (int i = 0; i < 2; ++i) {
    char text[128];
    snprintf(text, sizeof text, "include: %s\n", includes[i]);
    test_write_file(top, text);
    npde_config *cfg = NULL;
    assert_fails(npde_config_load_file(top, &cfg), NPDE_ERR_IO);
    assert_msg("main.yaml:1:10: include: '");
    assert_msg(includes[i]);
    assert_msg("not a regular file");
  }
  FILE *f = fopen(big, "w");
  cr_assert_not_null(f);
  fputs("a: '", f);
  for (int i = 0; i < (17 << 20) / 64; ++i) fputs("0123456789012345678901234567890123456789012345678901234567890123", f);
  fputs("'\n", f);
  fclose(f);
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_file(big, &cfg), NPDE_ERR_IO);
  assert_msg("larger than 16 MiB");
  const size_t n = 1000001;
  char *text = malloc(2 * n + 8);
  cr_assert_not_null(text);
  size_t used = (size_t)sprintf(text, "a: [");
  for (size_t i = 0; i < n; ++i) text[used++] = '1', text[used++] = ',';
  text[used - 1] = ']';
  text[used] = 0;
  assert_fails(npde_config_load_string(text, "many.yaml", &cfg), NPDE_ERR_CONFIG);
  assert_msg("more than 1000000 values in one file");
  free(text);
  remove(fifo), remove(top), remove(big), remove(dir);
}

/* Locations point at the trouble: bad UTF-8 on line 2 (libyaml gives only a byte offset), a key missing from a
 * file whose includes supply the rest (the including file, not an included one). */
Test(config, test_locations_of_bad_bytes_and_of_keys_missing_after_an_include) {
  npde_config *cfg = NULL;
  assert_fails(npde_config_load_string("name: a\nseed: 1\xff\xfe\n", "utf.yaml", &cfg), NPDE_ERR_CONFIG);
  assert_msg("utf.yaml:2:8: YAML syntax error: invalid leading UTF-8 octet");
  char dir[] = "/tmp/npde-locations-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char base[96], top[96];
  snprintf(base, sizeof base, "%s/base.yaml", dir);
  snprintf(top, sizeof top, "%s/top.yaml", dir);
  test_write_file(base, "seed: 3\nbackend: cpu\n");
  test_write_file(top, "include: base.yaml\nname: x\n");
  cr_assert_eq(npde_config_load_file(top, &cfg), NPDE_OK, "%s", npde_last_error());
  cr_expect(strstr(npde_config_file(cfg), "top.yaml") != NULL, "the merged map is placed in %s", npde_config_file(cfg));
  npde_config_destroy(&cfg);
  remove(base), remove(top), remove(dir);
}
