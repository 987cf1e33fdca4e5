/* The plugin loader: search order, and each refusal with its message. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde.h"

#define FX NPDE_TEST_FIXTURE_DIR

static npde_registry *reg;

static void setup(void) { cr_assert_eq(npde_registry_create(&reg), NPDE_OK); }
static void teardown(void) { npde_registry_destroy(&reg); }

TestSuite(loader, .init = setup, .fini = teardown);

#define assert_contains(hay, needle) \
  cr_assert(strstr((hay), (needle)) != NULL, "expected \"%s\" in: %s", (needle), (hay))

Test(loader, test_loader_default_dir_has_cpu_backend) {
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_OK, "%s", npde_last_error());
  const npde_component_info *cpu = npde_registry_find(reg, NPDE_KIND_BACKEND, "cpu");
  cr_assert_not_null(cpu);
  assert_contains(cpu->file, "/lib/npde/plugins/npde_cpu.so");
  assert_contains(npde_registry_default_dir(), "/lib/npde/plugins");
}

Test(loader, test_loader_good_plugin_registers_every_kind) {
  cr_assert_eq(npde_registry_load_path(reg, FX "/good"), NPDE_OK, "%s", npde_last_error());
  static const npde_kind kinds[] = {NPDE_KIND_LAYER, NPDE_KIND_PDE, NPDE_KIND_LINSOLVER, NPDE_KIND_PRECOND,
                                    NPDE_KIND_INTEGRATOR};
  for (size_t i = 0; i < 5; ++i) {
    char name[64];
    snprintf(name, sizeof name, "fixture-%s", npde_kind_name(kinds[i]));
    const npde_component_info *c = npde_registry_find(reg, kinds[i], name);
    cr_assert_not_null(c, "%s missing", name);
    cr_assert_str_eq(c->plugin->name, "fixture-good");
    cr_assert_eq(c->plugin->abi_major, NPDE_ABI_MAJOR);
    cr_assert_not_null(c->desc->params);
  }
  /* loading the same file twice is a no-op, not a duplicate */
  cr_assert_eq(npde_registry_load_path(reg, FX "/good"), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_registry_count(reg), 5);
}

Test(loader, test_loader_instance_gets_validated_config) {
  cr_assert_eq(npde_registry_load_path(reg, FX "/good"), NPDE_OK);
  const npde_component_info *c = npde_registry_find(reg, NPDE_KIND_PDE, "fixture-pde");
  npde_config *node, *resolved;
  cr_assert_eq(npde_config_load_string("{type: fixture-pde, scale: 2.5}", "t.yaml", &node), NPDE_OK);
  cr_assert_eq(npde_params_validate(c->desc->params, "pde", node, NULL, &resolved), NPDE_OK, "%s",
               npde_last_error());
  npde_object *obj;
  cr_assert_eq(npde_object_create(c, resolved, NULL, &obj), NPDE_OK, "%s", npde_last_error());
  const double *scale = npde_object_state(obj);
  cr_assert_float_eq(*scale, 2.5, 0.0);
  cr_assert_eq(npde_object_component(obj), c);
  npde_object_destroy(&obj);
  cr_assert_null(obj);
  npde_object_destroy(&obj); /* NULL is accepted */
  npde_config_destroy(&node);
  npde_config_destroy(&resolved);
}

Test(loader, test_loader_refuses_wrong_abi_major) {
  npde_status st = npde_registry_load_path(reg, FX "/abi_major");
  cr_assert_eq(st, NPDE_ERR_ABI, "%s", npde_last_error());
  const char *msg = npde_last_error();
  assert_contains(msg, "npde_fixture_abi_major.so");
  char built[64], ours[64];
  snprintf(built, sizeof built, "ABI %d.%d", NPDE_ABI_MAJOR + 98, NPDE_ABI_MINOR);
  snprintf(ours, sizeof ours, "ABI %d.%d", NPDE_ABI_MAJOR, NPDE_ABI_MINOR);
  assert_contains(msg, built);
  assert_contains(msg, ours);
  assert_contains(msg, "rebuild the plugin");
  cr_assert_eq(npde_registry_count(reg), 0);
}

Test(loader, test_loader_refuses_newer_abi_minor) {
  cr_assert_eq(npde_registry_load_path(reg, FX "/abi_minor"), NPDE_ERR_ABI);
  const char *msg = npde_last_error();
  assert_contains(msg, "npde_fixture_abi_minor.so");
  assert_contains(msg, "newer than this npde");
  assert_contains(msg, "upgrade npde");
  cr_assert_eq(npde_registry_count(reg), 0);
}

Test(loader, test_loader_refuses_too_small_descriptor) {
  cr_assert_eq(npde_registry_load_path(reg, FX "/small_desc"), NPDE_ERR_ABI);
  const char *msg = npde_last_error();
  assert_contains(msg, "npde_fixture_small_desc.so");
  assert_contains(msg, "descriptor is 8 bytes");
  assert_contains(msg, "NPDE_PLUGIN_DEFINE");
}

Test(loader, test_loader_refuses_missing_license) {
  cr_assert_eq(npde_registry_load_path(reg, FX "/no_license"), NPDE_ERR_PLUGIN);
  const char *msg = npde_last_error();
  assert_contains(msg, "npde_fixture_no_license.so");
  assert_contains(msg, "declares no license");
}

Test(loader, test_loader_refuses_missing_entry_symbol) {
  cr_assert_eq(npde_registry_load_path(reg, FX "/no_entry"), NPDE_ERR_PLUGIN);
  const char *msg = npde_last_error();
  assert_contains(msg, "npde_fixture_no_entry.so");
  assert_contains(msg, "exports no 'npde_plugin_entry' symbol");
  assert_contains(msg, "NPDE_PLUGIN_DEFINE");
}

Test(loader, test_loader_refuses_file_that_is_not_a_shared_object) {
  cr_assert_eq(npde_registry_load_path(reg, FX "/not_so"), NPDE_ERR_PLUGIN);
  const char *msg = npde_last_error();
  assert_contains(msg, "npde_text.so");
  assert_contains(msg, "is not loadable: not an ELF file");
}

/* A plugin cut short (a copy interrupted, a full disk): refused by name from its ELF headers, where dlopen would
 * map the missing pages and die of SIGBUS. */
Test(loader, test_loader_refuses_a_truncated_shared_object) {
  size_t size = 0;
  FILE *f = fopen(FX "/good/npde_fixture_good.so", "rb");
  cr_assert_not_null(f);
  char *bytes = malloc(1 << 22);
  cr_assert_not_null(bytes);
  size = fread(bytes, 1, 1 << 22, f);
  fclose(f);
  char dir[] = "/tmp/npde-truncated-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof path, "%s/npde_cut.so", dir);
  const size_t keep[] = {size / 2, size - 64, 40};
  for (int k = 0; k < 3; ++k) {
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bytes, 1, keep[k], f), keep[k]);
    fclose(f);
    cr_assert_eq(npde_registry_load_path(reg, dir), NPDE_ERR_PLUGIN, "%zu of %zu bytes loaded", keep[k], size);
    assert_contains(npde_last_error(), "npde_cut.so");
    assert_contains(npde_last_error(), "is not loadable:");
  }
  assert_contains(npde_last_error(), "truncated: shorter than an ELF header");
  remove(path);
  remove(dir);
  free(bytes);
}

Test(loader, test_loader_refuses_duplicate_component_naming_both_files) {
  cr_assert_eq(npde_registry_load_path(reg, FX "/dup"), NPDE_ERR_PLUGIN);
  const char *msg = npde_last_error();
  assert_contains(msg, "linsolver 'fixture-dup' is defined twice");
  assert_contains(msg, "npde_fixture_dup_a.so");
  assert_contains(msg, "npde_fixture_dup_b.so");
  /* the first plugin stays; the duplicate left nothing behind */
  cr_assert_eq(npde_registry_count(reg), 1);
}

Test(loader, test_loader_missing_path_is_an_error) {
  cr_assert_eq(npde_registry_load_path(reg, FX "/does-not-exist"), NPDE_ERR_PLUGIN);
  assert_contains(npde_last_error(), "does-not-exist");
}

Test(loader, test_loader_searches_npde_plugin_path_after_default_dir) {
  setenv("NPDE_PLUGIN_PATH", FX "/nowhere-empty::" FX "/good", 1);
  /* a missing entry is an error: a typo in the path must not pass silently */
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_ERR_PLUGIN);
  npde_registry_destroy(&reg);
  cr_assert_eq(npde_registry_create(&reg), NPDE_OK);
  setenv("NPDE_PLUGIN_PATH", FX "/good", 1);
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_OK, "%s", npde_last_error());
  const npde_component_info *first = npde_registry_at(reg, 0);
  const char *dir = npde_registry_default_dir();
  cr_assert(strncmp(first->file, dir, strlen(dir)) == 0, "the build's plugin directory comes first: %s", first->file);
  const npde_component_info *last = npde_registry_at(reg, npde_registry_count(reg) - 1);
  cr_assert(strstr(last->file, "/good/") != NULL, "NPDE_PLUGIN_PATH comes after it: %s", last->file);
  cr_assert_not_null(npde_registry_find(reg, NPDE_KIND_PDE, "fixture-pde"));
}

Test(loader, test_loader_plugin_path_in_yaml_comes_last) {
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_OK, "%s", npde_last_error());
  npde_config *cfg;
  cr_assert_eq(npde_config_load_string("plugin_path: " FX "/good\n"
                                       "pde: {type: fixture-pde, scale: 3}\n"
                                       "stages: [probe]\n",
                                       "p.yaml", &cfg),
               NPDE_OK);
  npde_pipeline *pl;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_OK, "%s", npde_last_error());
  cr_assert_str_eq(npde_config_scalar(npde_config_find(npde_pipeline_config(pl), "pde.mode")), "fast");
  npde_pipeline_destroy(&pl);
  npde_config_destroy(&cfg);
}

Test(loader, test_loader_unknown_component_type_lists_choices) {
  cr_assert_eq(npde_registry_load_defaults(reg), NPDE_OK);
  cr_assert_eq(npde_registry_load_path(reg, FX "/good"), NPDE_OK);
  npde_config *cfg;
  cr_assert_eq(npde_config_load_string("stages: [probe]\npde: {type: fixture-pdf}\n", "p.yaml", &cfg), NPDE_OK);
  npde_pipeline *pl = NULL;
  cr_assert_eq(npde_pipeline_create(reg, cfg, &pl), NPDE_ERR_CONFIG);
  assert_contains(npde_last_error(), "p.yaml:2:13:");
  assert_contains(npde_last_error(), "unknown pde type 'fixture-pdf'; valid types: ");
  assert_contains(npde_last_error(), "fixture-pde");
  npde_config_destroy(&cfg);
}
