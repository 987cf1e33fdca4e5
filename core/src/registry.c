/* Plugin loading (dlopen) and the component registry. */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "npde/npde_log.h"
#include "npde/plugin/npde_backend_ops.h"
#include "npde/plugin/npde_integrator_ops.h"
#include "npde/plugin/npde_layer_ops.h"
#include "npde/plugin/npde_linsolver_ops.h"
#include "npde/plugin/npde_pde_ops.h"
#include "npde/plugin/npde_precond_ops.h"
#include "registry_impl.h"

const char *npde_kind_name(npde_kind kind) {
  switch (kind) {
#define NPDE__KIND_CASE(ID, name) case NPDE_KIND_##ID: return #name;
    NPDE_KIND_LIST(NPDE__KIND_CASE)
#undef NPDE__KIND_CASE
    default: return "?";
  }
}

size_t npde__ops_size(npde_kind kind) {
  switch (kind) {
    case NPDE_KIND_BACKEND: return sizeof(npde_backend_ops);
    case NPDE_KIND_LAYER: return sizeof(npde_layer_ops);
    case NPDE_KIND_PDE: return sizeof(npde_pde_ops);
    case NPDE_KIND_LINSOLVER: return sizeof(npde_linsolver_ops);
    case NPDE_KIND_PRECOND: return sizeof(npde_precond_ops);
    case NPDE_KIND_INTEGRATOR: return sizeof(npde_integrator_ops);
    default: return 0;
  }
}

/* The smallest struct sizes an ABI 1.0 plugin can have. */
#define PLUGIN_DESC_MIN_SIZE (offsetof(npde_plugin_desc, components) + sizeof(void *))
#define COMPONENT_DESC_MIN_SIZE (offsetof(npde_component_desc, params) + sizeof(void *))
#define OPS_MIN_SIZE sizeof(npde_ops_common)

const char *npde_registry_default_dir(void) {
  static char dir[PATH_MAX];
  if (dir[0]) return dir;
  Dl_info info;
  if (dladdr((void *)&npde_registry_default_dir, &info) && info.dli_fname) {
    char real[PATH_MAX];
    const char *lib = realpath(info.dli_fname, real) ? real : info.dli_fname;
    const char *slash = strrchr(lib, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s/npde/plugins", (int)(slash - lib), lib);
  }
  if (!dir[0]) snprintf(dir, sizeof dir, "%s", NPDE_PLUGIN_INSTALL_DIR);
  return dir;
}

npde_status npde_registry_create(npde_registry **out) {
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_registry_create: NULL argument");
  *out = calloc(1, sizeof **out);
  return *out ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
}

void npde_registry_destroy(npde_registry **regp) {
  if (!regp || !*regp) return;
  npde_registry *reg = *regp;
  for (size_t i = 0; i < reg->n_components; ++i) free(reg->components[i].ops);
  for (size_t i = reg->n_plugins; i-- > 0;) {
    loaded_plugin *p = &reg->plugins[i];
    if (p->desc && p->desc->fini) p->desc->fini();
    if (p->handle) dlclose(p->handle);
    free(p->file);
  }
  free(reg->components);
  free(reg->plugins);
  free(reg);
  *regp = NULL;
}

size_t npde_registry_count(const npde_registry *reg) { return reg ? reg->n_components : 0; }

const npde_component_info *npde_registry_at(const npde_registry *reg, size_t i) {
  return reg && i < reg->n_components ? &reg->components[i].info : NULL;
}

const npde_component_info *npde_registry_find(const npde_registry *reg, npde_kind kind, const char *name) {
  if (!reg || !name) return NULL;
  for (size_t i = 0; i < reg->n_components; ++i) {
    const npde_component_info *c = &reg->components[i].info;
    if (c->desc->kind == kind && strcmp(c->desc->name, name) == 0) return c;
  }
  return NULL;
}

const npde_component_info *npde_registry_find_any(const npde_registry *reg, const char *name) {
  if (!reg || !name) return NULL;
  for (size_t i = 0; i < reg->n_components; ++i)
    if (strcmp(reg->components[i].info.desc->name, name) == 0) return &reg->components[i].info;
  return NULL;
}

const char *npde_registry_names(const npde_registry *reg, npde_kind kind, char *buf, size_t size) {
  size_t used = 0;
  if (size) buf[0] = '\0';
  for (size_t i = 0; reg && i < reg->n_components; ++i) {
    const npde_component_desc *d = reg->components[i].info.desc;
    if (d->kind != kind) continue;
    used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s", used ? ", " : "", d->name);
  }
  if (!used) snprintf(buf, size, "(none loaded)");
  return buf;
}

const void *npde__component_ops(const npde_component_info *info) {
  return ((const registered_component *)info)->ops;
}

static const char *plugin_display(const npde_plugin_desc *d) { return d && d->name ? d->name : "?"; }

/* Check a plugin descriptor and register its components; on refusal nothing
 * of it stays registered. */
static npde_status register_plugin(npde_registry *reg, const char *file, const npde_plugin_desc *d) {
  if (!d) return NPDE_ERROR(NPDE_ERR_PLUGIN, "plugin '%s': npde_plugin_entry returned NULL", file);
  if (d->abi_major != NPDE_ABI_MAJOR)
    return NPDE_ERROR(NPDE_ERR_ABI, "plugin '%s' was built for npde ABI %u.%u, but this npde has ABI %d.%d (a "
                      "different major version); rebuild the plugin against this npde's headers, or remove it from the "
                      "plugin path", file, d->abi_major, d->abi_minor, NPDE_ABI_MAJOR, NPDE_ABI_MINOR);
  if (d->abi_minor > NPDE_ABI_MINOR)
    return NPDE_ERROR(NPDE_ERR_ABI, "plugin '%s' was built for npde ABI %u.%u, newer than this npde's ABI %d.%d; it "
                      "may call functions this npde lacks: upgrade npde, or rebuild the plugin against these headers",
                      file, d->abi_major, d->abi_minor, NPDE_ABI_MAJOR, NPDE_ABI_MINOR);
  if (d->struct_size < PLUGIN_DESC_MIN_SIZE)
    return NPDE_ERROR(NPDE_ERR_ABI, "plugin '%s': its descriptor is %u bytes, smaller than the %zu bytes of ABI %d.0; "
                      "the plugin was not built with NPDE_PLUGIN_DEFINE from these headers; rebuild it", file,
                      d->struct_size, (size_t)PLUGIN_DESC_MIN_SIZE, NPDE_ABI_MAJOR);
  const char *missing = !d->name ? "name" : !d->version ? "version" : !d->license ? "license"
                        : !d->description ? "description" : NULL;
  if (missing)
    return NPDE_ERROR(NPDE_ERR_PLUGIN, "plugin '%s' declares no %s; set .%s in NPDE_PLUGIN_DEFINE and rebuild", file,
                      missing, missing);
  if (d->score && d->score(npde_host_api_get()) == 0)
    npde_log(NPDE_LOG_DEBUG, "plugin '%s' (%s) reports it cannot run here (score 0)", d->name, file);
  if (d->n_components && !d->components)
    return NPDE_ERROR(NPDE_ERR_PLUGIN, "plugin '%s' (%s): n_components = %zu but no component array", d->name, file,
                      d->n_components);

  size_t first = reg->n_components;
  npde_status st = NPDE_OK;
  for (size_t i = 0; i < d->n_components && st == NPDE_OK; ++i) {
    const npde_component_desc *c = d->components[i];
    if (!c || c->struct_size < COMPONENT_DESC_MIN_SIZE || !c->name || !c->ops || c->kind >= NPDE_KIND_COUNT ||
        (int)c->kind < 0) {
      st = NPDE_ERROR(NPDE_ERR_ABI, "plugin '%s' (%s): component %zu is malformed (NULL, too small, no name, no ops "
                      "or unknown kind); rebuild it against these headers", d->name, file, i);
      break;
    }
    const npde_ops_common *ops = c->ops;
    if (ops->struct_size < OPS_MIN_SIZE || !ops->create || !ops->destroy) {
      st = NPDE_ERROR(NPDE_ERR_ABI, "plugin '%s' (%s): %s '%s' has an ops table without create/destroy (or "
                      "struct_size %u too small); rebuild it against these headers",
                      d->name, file, npde_kind_name(c->kind), c->name, ops->struct_size);
      break;
    }
    const npde_component_info *dup = npde_registry_find(reg, c->kind, c->name);
    if (dup) {
      st = NPDE_ERROR(NPDE_ERR_PLUGIN, "%s '%s' is defined twice: by plugin '%s' (%s) and by plugin '%s' (%s); "
                      "remove one of the two files from the plugin path",
                      npde_kind_name(c->kind), c->name, plugin_display(dup->plugin), dup->file, d->name, file);
      break;
    }
    if (reg->n_components == reg->cap_components) {
      size_t cap = reg->cap_components ? 2 * reg->cap_components : 16;
      registered_component *rc = realloc(reg->components, cap * sizeof *rc);
      if (!rc) { st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory"); break; }
      reg->components = rc;
      reg->cap_components = cap;
    }
    size_t core_size = npde__ops_size(c->kind);
    void *copy = calloc(1, core_size);
    if (!copy) { st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory"); break; }
    memcpy(copy, ops, ops->struct_size < core_size ? ops->struct_size : core_size);
    registered_component *rc = &reg->components[reg->n_components++];
    rc->info.desc = c;
    rc->info.plugin = d;
    rc->info.file = NULL; /* set by the caller once the plugin entry exists */
    rc->ops = copy;
  }
  if (st != NPDE_OK) {
    while (reg->n_components > first) free(reg->components[--reg->n_components].ops);
  }
  return st;
}

static bool already_loaded(const npde_registry *reg, const char *real) {
  for (size_t i = 0; i < reg->n_plugins; ++i)
    if (strcmp(reg->plugins[i].file, real) == 0) return true;
  return false;
}

/* dlopen maps a shared object's segments as its headers describe them: a truncated file (a copy cut short, a full
 * disk) then faults with SIGBUS inside dlopen, past any message. So the ELF headers are read first, and every
 * header and loadable segment must lie within the file. */
static npde_status check_elf(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NPDE_ERROR(NPDE_ERR_PLUGIN, "plugin '%s': %s", path, strerror(errno));
  Elf64_Ehdr eh;
  struct stat sb;
  npde_status st = NPDE_OK;
  const char *why = NULL;
  const size_t got = fstat(fileno(f), &sb) == 0 ? fread(&eh, 1, sizeof eh, f) : 0;
  if (got < SELFMAG || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) why = "not an ELF file";
  else if (got < sizeof eh) why = "truncated: shorter than an ELF header";
  else if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_type != ET_DYN) why = "not a 64-bit shared object";
  else if (eh.e_phentsize != sizeof(Elf64_Phdr) ||
           eh.e_phoff + (uint64_t)eh.e_phnum * eh.e_phentsize > (uint64_t)sb.st_size ||
           eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize > (uint64_t)sb.st_size)
    why = "truncated: its headers reach past the end of the file";
  for (unsigned i = 0; !why && i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (fseek(f, (long)(eh.e_phoff + (uint64_t)i * eh.e_phentsize), SEEK_SET) != 0 || fread(&ph, sizeof ph, 1, f) != 1)
      why = "truncated: a program header cannot be read";
    else if (ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz > (uint64_t)sb.st_size)
      why = "truncated: a loadable segment reaches past the end of the file";
  }
  if (why)
    st = NPDE_ERROR(NPDE_ERR_PLUGIN, "plugin '%s' (%lld bytes) is not loadable: %s; rebuild or reinstall it, or remove "
                    "it from the plugin path", path, (long long)sb.st_size, why);
  fclose(f);
  return st;
}

static npde_status load_file(npde_registry *reg, const char *path) {
  char real[PATH_MAX];
  if (!realpath(path, real)) return NPDE_ERROR(NPDE_ERR_PLUGIN, "plugin '%s': %s", path, strerror(errno));
  if (already_loaded(reg, real)) return NPDE_OK;
  if (reg->n_plugins == reg->cap_plugins) {
    size_t cap = reg->cap_plugins ? 2 * reg->cap_plugins : 8;
    loaded_plugin *p = realloc(reg->plugins, cap * sizeof *p);
    if (!p) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    reg->plugins = p;
    reg->cap_plugins = cap;
  }
  NPDE_TRY(check_elf(real));
  dlerror();
  /* RTLD_NODELETE: a plugin's code stays mapped after the registry closes it,
   * because threads it started (OpenMP, OpenBLAS, CUDA) may outlive it
   * (docs/plugins.md, "Loading": unloading is unsafe). */
  void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!h) {
    const char *why = dlerror();
    return NPDE_ERROR(NPDE_ERR_PLUGIN, "plugin '%s' could not be loaded: %s; it must be a shared object (.so) built "
                      "for this machine with its libraries installed; remove it from the plugin path or rebuild it",
                      real, why ? why : "unknown dlopen error");
  }
  dlerror();
  void *sym = dlsym(h, NPDE_PLUGIN_ENTRY_SYMBOL);
  if (!sym) {
    dlclose(h);
    return NPDE_ERROR(NPDE_ERR_PLUGIN, "'%s' is a shared object but not an npde plugin: it exports no '%s' symbol; "
                      "define one with NPDE_PLUGIN_DEFINE (npde/plugin/npde_plugin.h), or remove the file from the "
                      "plugin path", real, NPDE_PLUGIN_ENTRY_SYMBOL);
  }
  npde_plugin_entry_fn entry;
  memcpy(&entry, &sym, sizeof entry); /* object pointer to function pointer, as dlsym requires */
  const npde_plugin_desc *d = entry(npde_host_api_get());
  size_t first = reg->n_components;
  npde_status st = register_plugin(reg, real, d);
  if (st == NPDE_OK && d->init) {
    st = d->init(npde_host_api_get());
    if (st != NPDE_OK) {
      char why[2048];
      snprintf(why, sizeof why, "%s", npde_last_error());
      st = NPDE_ERROR(NPDE_ERR_PLUGIN, "plugin '%s' (%s) failed to initialise: %s", d->name, real, why);
      while (reg->n_components > first) free(reg->components[--reg->n_components].ops);
    }
  }
  if (st != NPDE_OK) {
    dlclose(h);
    return st;
  }
  loaded_plugin *p = &reg->plugins[reg->n_plugins];
  p->file = strdup(real);
  if (!p->file) {
    while (reg->n_components > first) free(reg->components[--reg->n_components].ops);
    dlclose(h);
    return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  }
  p->handle = h;
  p->desc = d;
  reg->n_plugins++;
  for (size_t i = first; i < reg->n_components; ++i) reg->components[i].info.file = p->file;
  npde_log(NPDE_LOG_DEBUG, "loaded plugin '%s' %s from %s (%zu components)", d->name, d->version, real,
           d->n_components);
  return NPDE_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static npde_status load_dir(npde_registry *reg, const char *dir) {
  DIR *dp = opendir(dir);
  if (!dp) return NPDE_ERROR(NPDE_ERR_PLUGIN, "plugin directory '%s': %s", dir, strerror(errno));
  char **names = NULL;
  size_t n = 0, cap = 0;
  npde_status st = NPDE_OK;
  struct dirent *e;
  while ((e = readdir(dp))) {
    size_t len = strlen(e->d_name);
    if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      char **nn = realloc(names, cap * sizeof *nn);
      if (!nn) { st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory"); break; }
      names = nn;
    }
    if (!(names[n] = strdup(e->d_name))) { st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory"); break; }
    ++n;
  }
  closedir(dp);
  if (st == NPDE_OK && n) qsort(names, n, sizeof *names, cmp_str); /* load order independent of the file system */
  for (size_t i = 0; i < n && st == NPDE_OK; ++i) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    st = load_file(reg, path);
  }
  for (size_t i = 0; i < n; ++i) free(names[i]);
  free(names);
  return st;
}

npde_status npde_registry_load_path(npde_registry *reg, const char *path) {
  if (!reg || !path) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_registry_load_path: NULL argument");
  struct stat sb;
  if (stat(path, &sb) != 0)
    return NPDE_ERROR(NPDE_ERR_PLUGIN, "plugin path '%s': %s", path, strerror(errno));
  return S_ISDIR(sb.st_mode) ? load_dir(reg, path) : load_file(reg, path);
}

npde_status npde_registry_load_path_list(npde_registry *reg, const char *paths) {
  if (!reg) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_registry_load_path_list: NULL registry");
  if (!paths) return NPDE_OK;
  char *copy = strdup(paths);
  if (!copy) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  npde_status st = NPDE_OK;
  char *save = NULL;
  for (char *p = strtok_r(copy, ":", &save); p && st == NPDE_OK; p = strtok_r(NULL, ":", &save))
    if (*p) st = npde_registry_load_path(reg, p);
  free(copy);
  return st;
}

npde_status npde_registry_load_defaults(npde_registry *reg) {
  if (!reg) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_registry_load_defaults: NULL registry");
  const char *dir = npde_registry_default_dir();
  struct stat sb;
  if (stat(dir, &sb) == 0) NPDE_TRY(load_dir(reg, dir));
  else npde_log(NPDE_LOG_WARN, "npde's plugin directory '%s' does not exist; only NPDE_PLUGIN_PATH is searched", dir);
  NPDE_TRY(npde_registry_load_path_list(reg, getenv("NPDE_PLUGIN_PATH")));
  return NPDE_OK;
}
