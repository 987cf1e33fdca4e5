/*
 * Plugins loaded the way an embedding loads them: libnpde opened with
 * RTLD_LOCAL (a Python or Julia binding does this), so none of its symbols
 * are global. A plugin resolves no libnpde symbol (npde_ext.h routes every
 * call through the host table), so each one must still load with
 * RTLD_NOW | RTLD_LOCAL and hand back its descriptor. A plugin that calls a
 * libnpde function directly works in the npde command and fails here.
 *
 * This program does not link libnpde: it dlopens it (NPDE_TEST_LIBNPDE) and
 * reaches it only through dlsym. Headers are used for types alone.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde.h"

#ifndef NPDE_TEST_PLUGIN_DIR
#error "NPDE_TEST_PLUGIN_DIR must name the build's plugin directory"
#endif
#ifndef NPDE_TEST_LIBNPDE
#error "NPDE_TEST_LIBNPDE must name the built libnpde"
#endif

/* RTLD_NODELETE as the core's loader uses it: a library's constructors
 * (OpenBLAS, OpenMP) leave allocations that LeakSanitizer would report as
 * leaked once dlclose unmapped the pointers to them. */
#define LOCAL_NOW (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)

/* dlsym returns an object pointer; convert it the way dlsym's manual says. */
#define SYM(handle, fn, name)                                                                 \
  do {                                                                                        \
    void *sym_ = dlsym((handle), (name));                                                     \
    cr_assert_not_null(sym_, "dlsym(%s): %s", (name), dlerror());                             \
    memcpy(&(fn), &sym_, sizeof(fn));                                                         \
  } while (0)

static void *open_libnpde(void) {
  void *lib = dlopen(NPDE_TEST_LIBNPDE, LOCAL_NOW);
  cr_assert_not_null(lib, "dlopen(%s, RTLD_NOW | RTLD_LOCAL): %s", NPDE_TEST_LIBNPDE, dlerror());
  /* RTLD_LOCAL: libnpde's symbols are not in the global scope. */
  cr_assert_null(dlsym(RTLD_DEFAULT, "npde_host_api_get"),
                 "npde_host_api_get is global: the test program must not link libnpde");
  return lib;
}

static const npde_host_api *host_of(void *lib) {
  __typeof__(&npde_host_api_get) get;
  SYM(lib, get, "npde_host_api_get");
  const npde_host_api *host = get();
  cr_assert_not_null(host);
  cr_assert_eq(host->abi_major, NPDE_ABI_MAJOR);
  cr_assert_geq(host->struct_size, sizeof(npde_host_api));
  return host;
}

static int is_plugin_file(const char *name) {
  size_t len = strlen(name);
  return len > 3 && strcmp(name + len - 3, ".so") == 0;
}

Test(rtld_local, test_rtld_local_libnpde_loads_local) {
  cr_assert_null(dlsym(RTLD_DEFAULT, "npde_host_api_get"), "the test program links libnpde");
  void *lib = open_libnpde();
  host_of(lib);
  dlclose(lib);
}

/* Each plugin on its own: dlopen(RTLD_NOW | RTLD_LOCAL) with libnpde loaded
 * locally, then its entry point with the core's host table. Every failure is
 * reported, not only the first. */
Test(rtld_local, test_rtld_local_every_plugin_loads_and_describes_itself) {
  void *lib = open_libnpde();
  const npde_host_api *host = host_of(lib);

  DIR *dp = opendir(NPDE_TEST_PLUGIN_DIR);
  cr_assert_not_null(dp, "opendir(%s)", NPDE_TEST_PLUGIN_DIR);
  int n = 0, failed = 0, saw_cpu = 0, saw_mlp = 0;
  struct dirent *e;
  while ((e = readdir(dp))) {
    if (!is_plugin_file(e->d_name)) continue;
    ++n;
    saw_cpu |= strcmp(e->d_name, "npde_cpu.so") == 0;
    saw_mlp |= strcmp(e->d_name, "npde_mlp.so") == 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", NPDE_TEST_PLUGIN_DIR, e->d_name);
    void *h = dlopen(path, LOCAL_NOW);
    if (!h) {
      cr_log_error("%s: dlopen(RTLD_NOW | RTLD_LOCAL) failed: %s", e->d_name, dlerror());
      ++failed;
      continue;
    }
    void *sym = dlsym(h, NPDE_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
      cr_log_error("%s: no %s symbol", e->d_name, NPDE_PLUGIN_ENTRY_SYMBOL);
      ++failed;
      dlclose(h);
      continue;
    }
    npde_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    const npde_plugin_desc *d = entry(host);
    if (!d || d->struct_size < offsetof(npde_plugin_desc, components) + sizeof(void *) ||
        d->abi_major != NPDE_ABI_MAJOR || !d->name || !d->name[0] || d->n_components == 0 || !d->components) {
      cr_log_error("%s: npde_plugin_entry returned %s", e->d_name, d ? "a malformed descriptor" : "NULL");
      ++failed;
    }
    dlclose(h);
  }
  closedir(dp);
  dlclose(lib);
  cr_expect(saw_cpu, "no npde_cpu.so in %s", NPDE_TEST_PLUGIN_DIR);
  cr_expect(saw_mlp, "no npde_mlp.so in %s", NPDE_TEST_PLUGIN_DIR);
  cr_assert_eq(failed, 0, "%d of %d plugins in %s failed to load RTLD_LOCAL (see the errors above)", failed, n,
               NPDE_TEST_PLUGIN_DIR);
}

/* The core's own loader, in a libnpde that was itself loaded RTLD_LOCAL: the
 * whole build plugin directory registers, mlp included. */
Test(rtld_local, test_rtld_local_registry_loads_plugin_dir) {
  void *lib = open_libnpde();
  __typeof__(&npde_registry_create) create;
  __typeof__(&npde_registry_destroy) destroy;
  __typeof__(&npde_registry_load_path) load_path;
  __typeof__(&npde_registry_find) find;
  __typeof__(&npde_last_error) last_error;
  SYM(lib, create, "npde_registry_create");
  SYM(lib, destroy, "npde_registry_destroy");
  SYM(lib, load_path, "npde_registry_load_path");
  SYM(lib, find, "npde_registry_find");
  SYM(lib, last_error, "npde_last_error");

  npde_registry *reg = NULL;
  cr_assert_eq(create(&reg), NPDE_OK);
  npde_status st = load_path(reg, NPDE_TEST_PLUGIN_DIR);
  cr_assert_eq(st, NPDE_OK, "libnpde loaded RTLD_LOCAL could not load %s: %s", NPDE_TEST_PLUGIN_DIR, last_error());
  cr_assert_not_null(find(reg, NPDE_KIND_LAYER, "mlp"), "no layer 'mlp' registered");
  cr_assert_not_null(find(reg, NPDE_KIND_BACKEND, "cpu"), "no backend 'cpu' registered");
  destroy(&reg);
  dlclose(lib);
}
